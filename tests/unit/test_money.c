/*  Unit tests for ps_money: ISO 4217 minor units, exact decimal parsing,
    formatting and checked arithmetic. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ps_money.h"

static int s_exp (const char *code)
{
    return ps_currency_exponent (code, strlen (code));
}

static void test_currency_exponents (void **state)
{
    (void) state;
    const struct {
        const char *code;
        int exponent;
    } known[] = {
        {"MAD", 2}, {"EUR", 2}, {"USD", 2}, {"GBP", 2}, {"CHF", 2}, {"XOF", 0}, {"XAF", 0},
        {"XPF", 0}, {"XCD", 2}, {"XCG", 2}, {"JPY", 0}, {"KRW", 0}, {"ISK", 0}, {"VND", 0},
        {"CLP", 0}, {"UYI", 0}, {"BHD", 3}, {"KWD", 3}, {"TND", 3}, {"JOD", 3}, {"OMR", 3},
        {"LYD", 3}, {"IQD", 3}, {"CLF", 4}, {"UYW", 4}, {"AED", 2}, {"ZWG", 2}, {"ZMW", 2},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (s_exp (known[i].code) != known[i].exponent)
            fail_msg ("%s: expected %d, got %d", known[i].code, known[i].exponent,
                      s_exp (known[i].code));
}

static void test_currency_refusals (void **state)
{
    (void) state;
    /* No minor unit, not a currency, withdrawn, wrong case or length. */
    const char *bad[] = {"XAU", "XAG",  "XPD", "XPT", "XDR", "XXX", "XTS", "XSU",
                         "XUA", "XBA",  "ABC", "AAA", "ZZZ", "HRK", "mad", "Mad",
                         "MA",  "MADD", "",    "M D", "MA1", "EUR "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (s_exp (bad[i]) != -1)
            fail_msg ("'%s' accepted", bad[i]);
    /* LEN, not the NUL, delimits the code. */
    assert_int_equal (ps_currency_exponent ("MADX", 3), 2);
    assert_int_equal (ps_currency_exponent ("MAD", 2), -1);
}

/* Exhaustive over AAA..ZZZ: the table's size and that each lookup of it
   works (a mis-sorted table would lose codes to the binary search). */
static void test_currency_table (void **state)
{
    (void) state;
    int found = 0, per_exp[5] = {0};
    char code[3];
    for (code[0] = 'A'; code[0] <= 'Z'; code[0]++)
        for (code[1] = 'A'; code[1] <= 'Z'; code[1]++)
            for (code[2] = 'A'; code[2] <= 'Z'; code[2]++) {
                int e = ps_currency_exponent (code, 3);
                if (e < 0)
                    continue;
                assert_true (e <= 4);
                found++;
                per_exp[e]++;
            }
    assert_int_equal (found, 165);
    assert_int_equal (per_exp[1], 0);
    assert_int_equal (per_exp[3], 7); /* BHD IQD JOD KWD LYD OMR TND */
    assert_int_equal (per_exp[4], 2); /* CLF UYW */
}

static void s_assert_parses (const char *text, int exponent, int64_t expected)
{
    int64_t minor = -1;
    const char *why = NULL;
    if (ps_money_parse (text, strlen (text), exponent, &minor, &why) != 0)
        fail_msg ("'%s' (exp %d) refused: %s", text, exponent, why);
    if (minor != expected)
        fail_msg ("'%s' (exp %d): expected %lld, got %lld", text, exponent, (long long) expected,
                  (long long) minor);
}

static void s_assert_refused (const char *text, int exponent, const char *reason)
{
    int64_t minor = 12345;
    const char *why = NULL;
    if (ps_money_parse (text, strlen (text), exponent, &minor, &why) != -1)
        fail_msg ("'%s' (exp %d) accepted as %lld", text, exponent, (long long) minor);
    if (why == NULL || strcmp (why, reason) != 0)
        fail_msg ("'%s' (exp %d): expected \"%s\", got \"%s\"", text, exponent, reason,
                  why ? why : "(null)");
    assert_int_equal (minor, 12345);
    assert_int_equal (ps_money_parse (text, strlen (text), exponent, &minor, NULL), -1);
}

static void test_parse_exact (void **state)
{
    (void) state;
    s_assert_parses ("752.30", 2, 75230);
    s_assert_parses ("752.3", 2, 75230);
    s_assert_parses ("752", 2, 75200);
    s_assert_parses ("0.1", 2, 10);
    s_assert_parses ("0.01", 2, 1);
    s_assert_parses ("0", 2, 0);
    s_assert_parses ("0.00", 2, 0);
    s_assert_parses ("1.500", 2, 150);
    s_assert_parses ("1.50000000000000000000000", 2, 150);
    s_assert_parses ("007", 2, 700);
    s_assert_parses ("513000000.00", 2, 51300000000);
    s_assert_parses ("7000000000", 2, 700000000000);
    s_assert_parses ("486220000.00", 2, 48622000000);
    s_assert_parses ("1234", 0, 1234);
    s_assert_parses ("1234.0", 0, 1234);
    s_assert_parses ("1.234", 3, 1234);
    s_assert_parses ("1.2345", 4, 12345);
    s_assert_parses ("0.0001", 4, 1);
    /* Values that binary floating point would get wrong. */
    s_assert_parses ("0.29", 2, 29);
    s_assert_parses ("1.15", 2, 115);
    s_assert_parses ("4.35", 2, 435);
    s_assert_parses ("90071992547409.93", 2, 9007199254740993);
}

static void test_parse_limits (void **state)
{
    (void) state;
    s_assert_parses ("9223372036854775807", 0, INT64_MAX);
    s_assert_refused ("9223372036854775808", 0, "out of range");
    s_assert_parses ("92233720368547758.07", 2, INT64_MAX);
    s_assert_refused ("92233720368547758.08", 2, "out of range");
    s_assert_refused ("92233720368547759", 2, "out of range");
    s_assert_refused ("99999999999999999999999", 0, "out of range");
    s_assert_parses ("922337203685477.5807", 4, INT64_MAX);
    s_assert_refused ("922337203685477.5808", 4, "out of range");
    s_assert_parses ("000000000000000000000000001", 0, 1);
}

static void test_parse_rejections (void **state)
{
    (void) state;
    const char *not_decimal[] = {"",     ".",   "1.",   ".5",    "-1",    "+1",
                                 "1e5",  " 1",  "1 ",   "1,5",   "1..",   "1.2.",
                                 "1.-2", "abc", "0x10", "1_000", "1'000", "\xd9\xa1"};
    for (size_t i = 0; i < sizeof not_decimal / sizeof not_decimal[0]; i++)
        s_assert_refused (not_decimal[i], 2, "not a decimal number");
    s_assert_refused ("1.234", 2, "more than 2 decimal places");
    s_assert_refused ("1.001", 2, "more than 2 decimal places");
    s_assert_refused ("752.301", 2, "more than 2 decimal places");
    s_assert_refused ("1.5", 0, "no decimal places allowed for this currency");
    s_assert_refused ("1.01", 1, "more than 1 decimal place");
    s_assert_refused ("1.0001", 3, "more than 3 decimal places");
    s_assert_refused ("1.00001", 4, "more than 4 decimal places");
    /* LEN delimits the text: a NUL inside it is a bad character. */
    int64_t minor;
    assert_int_equal (ps_money_parse ("12\0", 3, 2, &minor, NULL), -1);
    assert_int_equal (ps_money_parse ("12.345", 4, 2, &minor, NULL), 0);
    assert_int_equal (minor, 1230);
}

static void s_assert_format (int64_t minor, int exponent, const char *expected)
{
    char buf[32];
    int n = ps_money_format (minor, exponent, buf, sizeof buf);
    assert_string_equal (buf, expected);
    assert_int_equal (n, (int) strlen (expected));
}

static void test_format (void **state)
{
    (void) state;
    s_assert_format (75230, 2, "752.30");
    s_assert_format (10, 2, "0.10");
    s_assert_format (1, 2, "0.01");
    s_assert_format (0, 2, "0.00");
    s_assert_format (0, 0, "0");
    s_assert_format (1234, 0, "1234");
    s_assert_format (1234, 3, "1.234");
    s_assert_format (5, 4, "0.0005");
    s_assert_format (-5, 2, "-0.05");
    s_assert_format (-75230, 2, "-752.30");
    s_assert_format (INT64_MAX, 2, "92233720368547758.07");
    s_assert_format (INT64_MIN, 2, "-92233720368547758.08");
    s_assert_format (INT64_MIN, 0, "-9223372036854775808");
    /* Truncated like snprintf: the return value is the full length. */
    char small[4];
    assert_int_equal (ps_money_format (75230, 2, small, sizeof small), 6);
    assert_string_equal (small, "752");
}

/* format(parse(x)) is the canonical text, and parse(format(m)) == m. */
static void test_round_trip (void **state)
{
    (void) state;
    const int64_t samples[] = {0,           1,
                               9,           10,
                               99,          100,
                               101,         75230,
                               50740000000, 700000000000,
                               INT64_MAX,   INT64_MAX - 1,
                               1000000007,  123456789012345};
    for (int e = 0; e <= 4; e++)
        for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
            char buf[32];
            int n = ps_money_format (samples[i], e, buf, sizeof buf);
            int64_t back = -1;
            assert_int_equal (ps_money_parse (buf, (size_t) n, e, &back, NULL), 0);
            assert_true (back == samples[i]);
        }
    for (int64_t m = 0; m < 100000; m += 7) {
        char buf[32];
        int n = ps_money_format (m, 2, buf, sizeof buf);
        int64_t back = -1;
        assert_int_equal (ps_money_parse (buf, (size_t) n, 2, &back, NULL), 0);
        assert_true (back == m);
    }
}

static void test_checked_arithmetic (void **state)
{
    (void) state;
    int64_t out = 42;
    assert_int_equal (ps_add_i64 (1, 2, &out), 0);
    assert_true (out == 3);
    assert_int_equal (ps_add_i64 (INT64_MAX - 1, 1, &out), 0);
    assert_true (out == INT64_MAX);
    out = 42;
    assert_int_equal (ps_add_i64 (INT64_MAX, 1, &out), -1);
    assert_true (out == 42);
    assert_int_equal (ps_add_i64 (INT64_MIN, -1, &out), -1);
    assert_true (out == 42);
    assert_int_equal (ps_add_i64 (INT64_MAX, INT64_MIN, &out), 0);
    assert_true (out == -1);
    assert_int_equal (ps_sub_i64 (5, 7, &out), 0);
    assert_true (out == -2);
    assert_int_equal (ps_sub_i64 (INT64_MIN + 1, 1, &out), 0);
    assert_true (out == INT64_MIN);
    out = 42;
    assert_int_equal (ps_sub_i64 (INT64_MIN, 1, &out), -1);
    assert_true (out == 42);
    assert_int_equal (ps_sub_i64 (0, INT64_MIN, &out), -1);
    assert_int_equal (ps_sub_i64 (INT64_MAX, -1, &out), -1);
    assert_true (out == 42);
    assert_int_equal (ps_sub_i64 (-1, INT64_MIN, &out), 0);
    assert_true (out == INT64_MAX);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_currency_exponents),
        cmocka_unit_test (test_currency_refusals),
        cmocka_unit_test (test_currency_table),
        cmocka_unit_test (test_parse_exact),
        cmocka_unit_test (test_parse_limits),
        cmocka_unit_test (test_parse_rejections),
        cmocka_unit_test (test_format),
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_checked_arithmetic),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
