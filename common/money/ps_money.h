/*  ps_money: ISO 4217 currencies and exact decimal <-> minor-unit conversion.

    Amounts travel as int64 counts of the currency's minor unit (centimes
    for MAD). Text in major units ("752.30", "7000000000") converts exactly,
    without floating point; anything that would lose a digit or overflow
    is an error, never a rounded value. */

#ifndef PS_MONEY_H_INCLUDED
#define PS_MONEY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

/*  Returns the minor-unit exponent (0..4) of the ISO 4217 alphabetic code
    CODE (exactly 3 uppercase letters, NUL-terminated or not: LEN bytes),
    or -1 when the code is not an active ISO 4217 currency with a defined
    minor unit (e.g. "XAU", "ABC", "mad"). */
int ps_currency_exponent (const char *code, size_t len);

/*  Parses LEN bytes of decimal TEXT in major units ("123", "123.4",
    "-0.05" is rejected: amounts are >= 0) into minor units of a currency
    with EXPONENT, storing the result in *MINOR. Accepts digits with at most
    one '.', no sign, no exponent, no thousands separators, at most EXPONENT
    fraction digits (trailing zeros beyond it are accepted: "1.500" for
    exponent 2). Returns 0, or -1 with *WHY set to a static reason
    ("not a decimal number", "more than 2 decimal places", "out of range"). */
int ps_money_parse (const char *text, size_t len, int exponent, int64_t *minor, const char **why);

/*  Formats MINOR (>= 0 or < 0) as major units with exactly EXPONENT
    decimals ("752.30") into BUF of SIZE bytes. Returns the length written
    (as snprintf). */
int ps_money_format (int64_t minor, int exponent, char *buf, size_t size);

/*  Checked int64 arithmetic: store A+B (A-B) in *OUT and return 0, or
    return -1 on overflow leaving *OUT untouched. */
int ps_add_i64 (int64_t a, int64_t b, int64_t *out);
int ps_sub_i64 (int64_t a, int64_t b, int64_t *out);

#endif
