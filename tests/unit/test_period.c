/*  Unit tests for ps_period: parsing, formatting, calendar arithmetic. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_period.h"

static ps_period_t s_parse (const char *text)
{
    ps_period_t p;
    const char *why = NULL;
    int rc = ps_period_parse (text, strlen (text), &p, &why);
    if (rc != 0)
        fail_msg ("'%s' refused: %s", text, why);
    return p;
}

static void s_assert_text (const ps_period_t *p, const char *expected)
{
    char buf[PS_PERIOD_STRLEN];
    size_t n = ps_period_format (p, buf);
    assert_string_equal (buf, expected);
    assert_int_equal (n, strlen (expected));
}

/* Field by field: the struct has a padding byte. */
static void s_assert_same (const ps_period_t *a, const ps_period_t *b)
{
    assert_int_equal (a->year, b->year);
    assert_int_equal (a->gran, b->gran);
    assert_int_equal (a->sub, b->sub);
    assert_int_equal (a->day, b->day);
}

static void test_parse_canonical_forms (void **state)
{
    (void) state;
    const char *good[] = {"2012",       "0001",       "9999",       "2012-Q1",    "2012-Q4",
                          "2012-01",    "2012-12",    "2012-07-15", "2012-02-29", "2000-02-29",
                          "1999-12-31", "0001-01-01", "9999-12-31"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ps_period_t p = s_parse (good[i]);
        s_assert_text (&p, good[i]);
    }
    ps_period_t p = s_parse ("2012-Q3");
    assert_int_equal (p.gran, PS_GRAN_QUARTER);
    assert_int_equal (p.year, 2012);
    assert_int_equal (p.sub, 3);
    assert_int_equal (p.day, 0);
    p = s_parse ("2012-07-15");
    assert_int_equal (p.gran, PS_GRAN_DAY);
    assert_int_equal (p.sub, 7);
    assert_int_equal (p.day, 15);
    p = s_parse ("2012");
    assert_int_equal (p.gran, PS_GRAN_YEAR);
    assert_int_equal (p.sub, 0);
}

static void test_parse_uses_len_not_nul (void **state)
{
    (void) state;
    ps_period_t p;
    assert_int_equal (ps_period_parse ("2012-07-15", 7, &p, NULL), 0);
    s_assert_text (&p, "2012-07");
    assert_int_equal (ps_period_parse ("2012-07-15", 4, &p, NULL), 0);
    s_assert_text (&p, "2012");
    /* An embedded NUL is just a bad byte. */
    assert_int_equal (ps_period_parse ("2012\0", 5, &p, NULL), -1);
}

typedef struct {
    const char *text;
    const char *why;
} s_bad_t;

static void test_parse_rejections (void **state)
{
    (void) state;
    const s_bad_t bad[] = {
        {"", "period is empty"},
        {"12", "period must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD"},
        {"201", "period must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD"},
        {"20120", "period must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD"},
        {"2012-7", "period must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD"},
        {"2012-7-15", "period must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD"},
        {"2012-07-5", "period must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD"},
        {"2012-07-015", "period must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD"},
        {" 2012", "period must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD"},
        {"2012 ", "period must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD"},
        {"201a", "year must be 4 digits"},
        {"+012", "year must be 4 digits"},
        {"-012-01", "year must be 4 digits"},
        {"0000", "year 0000 does not exist (years are 0001..9999)"},
        {"0000-01-01", "year 0000 does not exist (years are 0001..9999)"},
        {"2012/07", "expected '-' after the year"},
        {"2012Q3x", "expected '-' after the year"},
        {"2012-Q0", "quarter must be Q1, Q2, Q3 or Q4"},
        {"2012-Q5", "quarter must be Q1, Q2, Q3 or Q4"},
        {"2012-QX", "quarter must be Q1, Q2, Q3 or Q4"},
        {"2012-q3", "month must be 2 digits (or Qn for a quarter)"},
        {"2012-Q3-01", "month must be 2 digits (or Qn for a quarter)"},
        {"2012- 7", "month must be 2 digits (or Qn for a quarter)"},
        {"2012-00", "month must be 01..12"},
        {"2012-13", "month must be 01..12"},
        {"2012-99-01", "month must be 01..12"},
        {"2012-07/15", "expected '-' after the month"},
        {"2012-07-1a", "day must be 2 digits"},
        {"2012-07- 1", "day must be 2 digits"},
        {"2012-07-00", "day must be 01..31"},
        {"2012-07-32", "day must be 01..31"},
        {"2011-02-29", "day 29 does not exist in February of a non-leap year"},
        {"1900-02-29", "day 29 does not exist in February of a non-leap year"},
        {"2100-02-29", "day 29 does not exist in February of a non-leap year"},
        {"2012-02-30", "day 30 does not exist in February"},
        {"2012-02-31", "day 31 does not exist in February"},
        {"2012-04-31", "day 31 does not exist in April"},
        {"2012-06-31", "day 31 does not exist in June"},
        {"2012-09-31", "day 31 does not exist in September"},
        {"2012-11-31", "day 31 does not exist in November"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ps_period_t p = {7, 7, 7, 7};
        const char *why = NULL;
        int rc = ps_period_parse (bad[i].text, strlen (bad[i].text), &p, &why);
        if (rc != -1)
            fail_msg ("'%s' accepted", bad[i].text);
        if (why == NULL || strcmp (why, bad[i].why) != 0)
            fail_msg ("'%s': expected \"%s\", got \"%s\"", bad[i].text, bad[i].why,
                      why ? why : "(null)");
        /* A refused period leaves the output untouched. */
        assert_int_equal (p.year, 7);
        /* WHY may be NULL. */
        assert_int_equal (ps_period_parse (bad[i].text, strlen (bad[i].text), &p, NULL), -1);
    }
}

static void test_leap_years (void **state)
{
    (void) state;
    assert_int_equal (ps_days_in_month (1900, 2), 28);
    assert_int_equal (ps_days_in_month (2000, 2), 29);
    assert_int_equal (ps_days_in_month (2012, 2), 29);
    assert_int_equal (ps_days_in_month (2011, 2), 28);
    assert_int_equal (ps_days_in_month (2100, 2), 28);
    assert_int_equal (ps_days_in_month (2400, 2), 29);
    assert_int_equal (ps_days_in_month (2012, 1), 31);
    assert_int_equal (ps_days_in_month (2012, 4), 30);
    assert_int_equal (ps_days_in_month (2012, 12), 31);
    s_parse ("2000-02-29");
    s_parse ("2012-02-29");
    s_parse ("2400-02-29");
    /* 366 days in 2012, 365 in 2011. */
    int days2012 = 0, days2011 = 0;
    for (int m = 1; m <= 12; m++) {
        days2012 += ps_days_in_month (2012, m);
        days2011 += ps_days_in_month (2011, m);
    }
    assert_int_equal (days2012, 366);
    assert_int_equal (days2011, 365);
}

static void s_assert_parents (const char *text, int n, const char *p0, const char *p1,
                              const char *p2)
{
    ps_period_t p = s_parse (text);
    ps_period_t out[3];
    assert_int_equal (ps_period_parents (&p, out), n);
    const char *expected[3] = {p0, p1, p2};
    for (int i = 0; i < n; i++)
        s_assert_text (&out[i], expected[i]);
}

static void test_parents (void **state)
{
    (void) state;
    s_assert_parents ("2012-07-15", 3, "2012-07", "2012-Q3", "2012");
    s_assert_parents ("2012-01-01", 3, "2012-01", "2012-Q1", "2012");
    s_assert_parents ("2012-03-31", 3, "2012-03", "2012-Q1", "2012");
    s_assert_parents ("2012-04-01", 3, "2012-04", "2012-Q2", "2012");
    s_assert_parents ("2012-12-31", 3, "2012-12", "2012-Q4", "2012");
    s_assert_parents ("2012-06", 2, "2012-Q2", "2012", NULL);
    s_assert_parents ("2012-09", 2, "2012-Q3", "2012", NULL);
    s_assert_parents ("2012-10", 2, "2012-Q4", "2012", NULL);
    s_assert_parents ("2012-Q4", 1, "2012", NULL, NULL);
    s_assert_parents ("2012", 0, NULL, NULL, NULL);
    /* Every month lands in quarter (m + 2) / 3. */
    for (int m = 1; m <= 12; m++) {
        ps_period_t p = {2012, PS_GRAN_MONTH, (uint8_t) m, 0}, out[3];
        assert_int_equal (ps_period_parents (&p, out), 2);
        assert_int_equal (out[0].gran, PS_GRAN_QUARTER);
        assert_int_equal (out[0].sub, (m + 2) / 3);
    }
}

static void s_assert_step (const char *from, const char *prev, const char *next)
{
    ps_period_t p = s_parse (from), out;
    if (prev) {
        assert_int_equal (ps_period_prev (&p, &out), 0);
        s_assert_text (&out, prev);
    } else
        assert_int_equal (ps_period_prev (&p, &out), -1);
    if (next) {
        assert_int_equal (ps_period_next (&p, &out), 0);
        s_assert_text (&out, next);
    } else
        assert_int_equal (ps_period_next (&p, &out), -1);
}

static void test_prev_next (void **state)
{
    (void) state;
    s_assert_step ("2012", "2011", "2013");
    s_assert_step ("2012-Q1", "2011-Q4", "2012-Q2");
    s_assert_step ("2012-Q4", "2012-Q3", "2013-Q1");
    s_assert_step ("2012-01", "2011-12", "2012-02");
    s_assert_step ("2012-12", "2012-11", "2013-01");
    s_assert_step ("2012-01-01", "2011-12-31", "2012-01-02");
    s_assert_step ("2011-12-31", "2011-12-30", "2012-01-01");
    s_assert_step ("2012-03-01", "2012-02-29", "2012-03-02");
    s_assert_step ("2011-03-01", "2011-02-28", "2011-03-02");
    s_assert_step ("1900-03-01", "1900-02-28", "1900-03-02");
    s_assert_step ("2000-03-01", "2000-02-29", "2000-03-02");
    s_assert_step ("2012-02-29", "2012-02-28", "2012-03-01");
    s_assert_step ("2012-04-30", "2012-04-29", "2012-05-01");
    s_assert_step ("2012-05-01", "2012-04-30", "2012-05-02");
    /* The ends of the calendar. */
    s_assert_step ("0001", NULL, "0002");
    s_assert_step ("9999", "9998", NULL);
    s_assert_step ("0001-Q1", NULL, "0001-Q2");
    s_assert_step ("9999-Q4", "9999-Q3", NULL);
    s_assert_step ("0001-01", NULL, "0001-02");
    s_assert_step ("9999-12", "9999-11", NULL);
    s_assert_step ("0001-01-01", NULL, "0001-01-02");
    s_assert_step ("9999-12-31", "9999-12-30", NULL);
}

static void s_assert_year_ago (const char *from, const char *expected)
{
    ps_period_t p = s_parse (from), out = {7, 7, 7, 7};
    if (expected) {
        assert_int_equal (ps_period_year_ago (&p, &out), 0);
        s_assert_text (&out, expected);
    } else {
        assert_int_equal (ps_period_year_ago (&p, &out), -1);
        assert_int_equal (out.year, 7);
    }
}

static void test_year_ago (void **state)
{
    (void) state;
    s_assert_year_ago ("2012", "2011");
    s_assert_year_ago ("2012-Q3", "2011-Q3");
    s_assert_year_ago ("2012-09", "2011-09");
    s_assert_year_ago ("2012-07-15", "2011-07-15");
    s_assert_year_ago ("2012-02-28", "2011-02-28");
    s_assert_year_ago ("2013-02-28", "2012-02-28");
    s_assert_year_ago ("2012-02-29", NULL);
    s_assert_year_ago ("2000-02-29", NULL);
    s_assert_year_ago ("0002-01-01", "0001-01-01");
    s_assert_year_ago ("0001", NULL);
    s_assert_year_ago ("0001-Q1", NULL);
    s_assert_year_ago ("0001-12-31", NULL);
}

static void test_gran_names (void **state)
{
    (void) state;
    assert_string_equal (ps_gran_name (PS_GRAN_YEAR), "year");
    assert_string_equal (ps_gran_name (PS_GRAN_QUARTER), "quarter");
    assert_string_equal (ps_gran_name (PS_GRAN_MONTH), "month");
    assert_string_equal (ps_gran_name (PS_GRAN_DAY), "day");
}

static int s_cmp (const char *a, const char *b)
{
    ps_period_t pa = s_parse (a), pb = s_parse (b);
    int c = ps_period_cmp (&pa, &pb);
    /* Antisymmetry. */
    int r = ps_period_cmp (&pb, &pa);
    assert_true ((c < 0 && r > 0) || (c > 0 && r < 0) || (c == 0 && r == 0));
    return c;
}

static void test_cmp_order (void **state)
{
    (void) state;
    /* Sorted by start date, coarser first on the same start. */
    const char *sorted[] = {"2011",       "2011-Q4",    "2011-12",    "2011-12-31", "2012",
                            "2012-Q1",    "2012-01",    "2012-01-01", "2012-01-02", "2012-02",
                            "2012-02-29", "2012-03",    "2012-03-31", "2012-Q2",    "2012-04",
                            "2012-04-01", "2012-12-31", "2013"};
    size_t n = sizeof sorted / sizeof sorted[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = s_cmp (sorted[i], sorted[j]);
            if ((i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0))
                fail_msg ("cmp(%s, %s) = %d", sorted[i], sorted[j], c);
        }
}

static int s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return (x > y) - (x < y);
}

/* Every day, month, quarter and year from 1999 to 2030 packs to a distinct
   code that unpacks to itself; walking with next visits each day once. */
static void test_pack_round_trip (void **state)
{
    (void) state;
    enum { FIRST = 1999, LAST = 2030 };
    static uint32_t codes[(LAST - FIRST + 1) * (366 + 12 + 4 + 1)];
    size_t n = 0;
    ps_period_t day = s_parse ("1999-01-01");
    ps_period_t prev_day = day;
    int ndays = 0;
    while (day.year <= LAST) {
        if (ndays > 0)
            assert_true (ps_period_cmp (&prev_day, &day) < 0);
        codes[n++] = ps_period_pack (&day);
        ps_period_t back = ps_period_unpack (codes[n - 1]);
        s_assert_same (&back, &day);
        /* The text form round-trips too. */
        char buf[PS_PERIOD_STRLEN];
        size_t len = ps_period_format (&day, buf);
        ps_period_t reparsed;
        assert_int_equal (ps_period_parse (buf, len, &reparsed, NULL), 0);
        s_assert_same (&reparsed, &day);
        /* Its parents are consistent with it. */
        ps_period_t parents[3];
        assert_int_equal (ps_period_parents (&day, parents), 3);
        for (int i = 0; i < 3; i++)
            assert_true (ps_period_cmp (&parents[i], &day) <= 0);
        ps_period_t again;
        assert_int_equal (ps_period_prev (&day, &again), 0);
        if (ndays > 0)
            s_assert_same (&again, &prev_day);
        prev_day = day;
        assert_int_equal (ps_period_next (&prev_day, &day), 0);
        ndays++;
    }
    s_assert_text (&day, "2031-01-01");
    /* 32 years, 8 of them leap (2000, 2004, ..., 2028). */
    assert_int_equal (ndays, 32 * 365 + 8);
    for (int y = FIRST; y <= LAST; y++) {
        ps_period_t year = {(uint16_t) y, PS_GRAN_YEAR, 0, 0};
        codes[n++] = ps_period_pack (&year);
        for (int q = 1; q <= 4; q++) {
            ps_period_t p = {(uint16_t) y, PS_GRAN_QUARTER, (uint8_t) q, 0};
            codes[n++] = ps_period_pack (&p);
        }
        for (int m = 1; m <= 12; m++) {
            ps_period_t p = {(uint16_t) y, PS_GRAN_MONTH, (uint8_t) m, 0};
            codes[n++] = ps_period_pack (&p);
        }
    }
    for (size_t i = (size_t) ndays; i < n; i++) {
        ps_period_t back = ps_period_unpack (codes[i]);
        assert_int_equal (ps_period_pack (&back), codes[i]);
    }
    /* All distinct: sort and look for neighbours. */
    qsort (codes, n, sizeof codes[0], s_cmp_u32);
    for (size_t i = 1; i < n; i++)
        assert_true (codes[i - 1] != codes[i]);
    /* The extremes survive too. */
    const char *extremes[] = {"0001", "9999-12-31", "9999-Q4", "0001-01-01"};
    for (size_t i = 0; i < 4; i++) {
        ps_period_t p = s_parse (extremes[i]);
        ps_period_t back = ps_period_unpack (ps_period_pack (&p));
        s_assert_same (&back, &p);
    }
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_parse_canonical_forms),
        cmocka_unit_test (test_parse_uses_len_not_nul),
        cmocka_unit_test (test_parse_rejections),
        cmocka_unit_test (test_leap_years),
        cmocka_unit_test (test_parents),
        cmocka_unit_test (test_prev_next),
        cmocka_unit_test (test_year_ago),
        cmocka_unit_test (test_gran_names),
        cmocka_unit_test (test_cmp_order),
        cmocka_unit_test (test_pack_round_trip),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
