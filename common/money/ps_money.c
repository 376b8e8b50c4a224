/*  ps_money: ISO 4217 minor units and exact decimal conversion; see ps_money.h. */

#include "ps_money.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_MAX_EXPONENT 4

typedef struct {
    char code[4];
    int8_t exponent;
} s_currency_t;

/* ISO 4217 List One as published 2026-01-01 (SIX, the maintenance agency):
   every code with a numeric minor unit, sorted for binary search. Codes whose
   minor unit is "N.A." (XAU, XAG, XPD, XPT, XDR, XBA..XBD, XSU, XUA, XTS,
   XXX) are not amounts of money and are refused; so are withdrawn codes
   (ANG, BGN, CUC, HRK, SLL, ZWL). */
static const s_currency_t s_currencies[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2}, {"AWG", 2},
    {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BHD", 3}, {"BIF", 0}, {"BMD", 2}, {"BND", 2},
    {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2}, {"BYN", 2}, {"BZD", 2},
    {"CAD", 2}, {"CDF", 2}, {"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2},
    {"COP", 2}, {"COU", 2}, {"CRC", 2}, {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0}, {"DKK", 2},
    {"DOP", 2}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2}, {"ETB", 2}, {"EUR", 2}, {"FJD", 2}, {"FKP", 2},
    {"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2}, {"GMD", 2}, {"GNF", 0}, {"GTQ", 2}, {"GYD", 2},
    {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"IQD", 3},
    {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0}, {"KES", 2}, {"KGS", 2}, {"KHR", 2},
    {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3}, {"KYD", 2}, {"KZT", 2}, {"LAK", 2}, {"LBP", 2},
    {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 2}, {"MKD", 2},
    {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2},
    {"MXV", 2}, {"MYR", 2}, {"MZN", 2}, {"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2},
    {"NZD", 2}, {"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2}, {"PLN", 2},
    {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2}, {"RUB", 2}, {"RWF", 0}, {"SAR", 2}, {"SBD", 2},
    {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2}, {"SHP", 2}, {"SLE", 2}, {"SOS", 2}, {"SRD", 2},
    {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2}, {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2},
    {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2}, {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0},
    {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2}, {"UYW", 4}, {"UZS", 2}, {"VED", 2}, {"VES", 2},
    {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAD", 2}, {"XAF", 0}, {"XCD", 2}, {"XCG", 2}, {"XOF", 0},
    {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
};

#define S_NCURRENCIES (sizeof s_currencies / sizeof s_currencies[0])

int ps_currency_exponent (const char *code, size_t len)
{
    if (len != 3)
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return -1;
    size_t lo = 0, hi = S_NCURRENCIES;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp (code, s_currencies[mid].code, 3);
        if (c == 0)
            return s_currencies[mid].exponent;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

static int s_fail (const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

int ps_money_parse (const char *text, size_t len, int exponent, int64_t *minor, const char **why)
{
    /* One static sentence per exponent, so callers may keep the pointer. */
    static const char *too_precise[S_MAX_EXPONENT + 1] = {
        "no decimal places allowed for this currency", "more than 1 decimal place",
        "more than 2 decimal places", "more than 3 decimal places", "more than 4 decimal places"};
    assert (exponent >= 0 && exponent <= S_MAX_EXPONENT);
    assert (minor);
    size_t int_len = 0;
    while (int_len < len && text[int_len] >= '0' && text[int_len] <= '9')
        int_len++;
    if (int_len == 0)
        return s_fail (why, "not a decimal number");
    size_t frac_len = 0;
    if (int_len < len) {
        if (text[int_len] != '.')
            return s_fail (why, "not a decimal number");
        const char *frac = text + int_len + 1;
        frac_len = len - int_len - 1;
        if (frac_len == 0)
            return s_fail (why, "not a decimal number");
        for (size_t i = 0; i < frac_len; i++)
            if (frac[i] < '0' || frac[i] > '9')
                return s_fail (why, "not a decimal number");
    }
    /* Accumulate integer digits then exactly EXPONENT fraction digits
       (padding with zeros); any digit past that must be a zero. */
    int64_t value = 0;
    size_t ndigits = int_len + (size_t) exponent;
    for (size_t i = 0; i < ndigits; i++) {
        int digit = 0;
        if (i < int_len)
            digit = text[i] - '0';
        else if (i - int_len < frac_len)
            digit = text[i + 1] - '0';
        if (__builtin_mul_overflow (value, 10, &value) ||
            __builtin_add_overflow (value, digit, &value))
            return s_fail (why, "out of range");
    }
    for (size_t i = (size_t) exponent; i < frac_len; i++)
        if (text[int_len + 1 + i] != '0')
            return s_fail (why, too_precise[exponent]);
    *minor = value;
    return 0;
}

int ps_money_format (int64_t minor, int exponent, char *buf, size_t size)
{
    static const uint64_t scale[S_MAX_EXPONENT + 1] = {1, 10, 100, 1000, 10000};
    assert (exponent >= 0 && exponent <= S_MAX_EXPONENT);
    /* Magnitude in unsigned arithmetic so that INT64_MIN does not overflow. */
    uint64_t mag = minor < 0 ? 0 - (uint64_t) minor : (uint64_t) minor;
    const char *sign = minor < 0 ? "-" : "";
    if (exponent == 0)
        return snprintf (buf, size, "%s%" PRIu64, sign, mag);
    return snprintf (buf, size, "%s%" PRIu64 ".%0*" PRIu64, sign, mag / scale[exponent], exponent,
                     mag % scale[exponent]);
}

int ps_add_i64 (int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow (a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int ps_sub_i64 (int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_sub_overflow (a, b, &r))
        return -1;
    *out = r;
    return 0;
}
