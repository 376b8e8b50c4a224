/*  ps_period: calendar periods and their arithmetic; see ps_period.h. */

#include "ps_period.h"

#include <assert.h>

/* Bit layout of ps_period_pack: year:14 | gran:2 | sub:4 | day:5. */
#define S_DAY_BITS  5
#define S_SUB_BITS  4
#define S_GRAN_BITS 2

static const char *s_gran_names[PS_GRAN_COUNT] = {"year", "quarter", "month", "day"};

static int s_is_leap (int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int ps_days_in_month (int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    assert (month >= 1 && month <= 12);
    return (month == 2 && s_is_leap (year)) ? 29 : days[month - 1];
}

/* Reads N ASCII digits; returns -1 if any byte is not a digit. */
static int s_digits (const char *text, int n)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

/* The reason for a day that is in 1..31 but past the end of its month.
   Kept static (no formatted buffer) so callers may hold the pointer. */
static const char *s_bad_day_reason (int month, int day)
{
    if (month == 2 && day == 29)
        return "day 29 does not exist in February of a non-leap year";
    if (month == 2)
        return day == 30 ? "day 30 does not exist in February"
                         : "day 31 does not exist in February";
    switch (month) {
    case 4:
        return "day 31 does not exist in April";
    case 6:
        return "day 31 does not exist in June";
    case 9:
        return "day 31 does not exist in September";
    default:
        return "day 31 does not exist in November";
    }
}

static int s_fail (const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

int ps_period_parse (const char *text, size_t len, ps_period_t *period, const char **why)
{
    assert (period);
    if (len == 0)
        return s_fail (why, "period is empty");
    if (len != 4 && len != 7 && len != 10)
        return s_fail (why, "period must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD");
    assert (text);
    int year = s_digits (text, 4);
    if (year < 0)
        return s_fail (why, "year must be 4 digits");
    if (year == 0)
        return s_fail (why, "year 0000 does not exist (years are 0001..9999)");
    ps_period_t p = {(uint16_t) year, PS_GRAN_YEAR, 0, 0};
    if (len == 4) {
        *period = p;
        return 0;
    }
    if (text[4] != '-')
        return s_fail (why, "expected '-' after the year");
    if (len == 7 && text[5] == 'Q') {
        if (text[6] < '1' || text[6] > '4')
            return s_fail (why, "quarter must be Q1, Q2, Q3 or Q4");
        p.gran = PS_GRAN_QUARTER;
        p.sub = (uint8_t) (text[6] - '0');
        *period = p;
        return 0;
    }
    int month = s_digits (text + 5, 2);
    if (month < 0)
        return s_fail (why, "month must be 2 digits (or Qn for a quarter)");
    if (month < 1 || month > 12)
        return s_fail (why, "month must be 01..12");
    p.gran = PS_GRAN_MONTH;
    p.sub = (uint8_t) month;
    if (len == 7) {
        *period = p;
        return 0;
    }
    if (text[7] != '-')
        return s_fail (why, "expected '-' after the month");
    int day = s_digits (text + 8, 2);
    if (day < 0)
        return s_fail (why, "day must be 2 digits");
    if (day < 1 || day > 31)
        return s_fail (why, "day must be 01..31");
    if (day > ps_days_in_month (year, month))
        return s_fail (why, s_bad_day_reason (month, day));
    p.gran = PS_GRAN_DAY;
    p.day = (uint8_t) day;
    *period = p;
    return 0;
}

static char *s_put_digits (char *out, int value, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char) ('0' + value % 10);
        value /= 10;
    }
    return out + n;
}

size_t ps_period_format (const ps_period_t *period, char *buf)
{
    char *p = s_put_digits (buf, period->year, 4);
    if (period->gran == PS_GRAN_QUARTER) {
        *p++ = '-';
        *p++ = 'Q';
        p = s_put_digits (p, period->sub, 1);
    } else if (period->gran >= PS_GRAN_MONTH) {
        *p++ = '-';
        p = s_put_digits (p, period->sub, 2);
        if (period->gran == PS_GRAN_DAY) {
            *p++ = '-';
            p = s_put_digits (p, period->day, 2);
        }
    }
    *p = '\0';
    return (size_t) (p - buf);
}

const char *ps_gran_name (ps_gran_t gran)
{
    assert ((unsigned) gran < PS_GRAN_COUNT);
    return s_gran_names[gran];
}

int ps_period_parents (const ps_period_t *period, ps_period_t out[3])
{
    int n = 0;
    int month = period->sub;
    if (period->gran == PS_GRAN_DAY)
        out[n++] = (ps_period_t){period->year, PS_GRAN_MONTH, (uint8_t) month, 0};
    if (period->gran >= PS_GRAN_MONTH)
        out[n++] = (ps_period_t){period->year, PS_GRAN_QUARTER, (uint8_t) ((month - 1) / 3 + 1), 0};
    if (period->gran >= PS_GRAN_QUARTER)
        out[n++] = (ps_period_t){period->year, PS_GRAN_YEAR, 0, 0};
    return n;
}

int ps_period_year_ago (const ps_period_t *period, ps_period_t *out)
{
    if (period->year <= 1)
        return -1;
    ps_period_t p = *period;
    p.year--;
    if (p.gran == PS_GRAN_DAY && p.day > ps_days_in_month (p.year, p.sub))
        return -1;
    *out = p;
    return 0;
}

/* Number of sub-periods in a year for the granularities that step by SUB. */
static int s_subs_per_year (int gran)
{
    return gran == PS_GRAN_QUARTER ? 4 : 12;
}

int ps_period_prev (const ps_period_t *period, ps_period_t *out)
{
    ps_period_t p = *period;
    if (p.gran == PS_GRAN_DAY && p.day > 1) {
        p.day--;
        *out = p;
        return 0;
    }
    if (p.gran != PS_GRAN_YEAR && p.sub > 1) {
        p.sub--;
    } else {
        if (p.year <= 1)
            return -1;
        p.year--;
        if (p.gran != PS_GRAN_YEAR)
            p.sub = (uint8_t) s_subs_per_year (p.gran);
    }
    if (p.gran == PS_GRAN_DAY)
        p.day = (uint8_t) ps_days_in_month (p.year, p.sub);
    *out = p;
    return 0;
}

int ps_period_next (const ps_period_t *period, ps_period_t *out)
{
    ps_period_t p = *period;
    if (p.gran == PS_GRAN_DAY && p.day < ps_days_in_month (p.year, p.sub)) {
        p.day++;
        *out = p;
        return 0;
    }
    if (p.gran != PS_GRAN_YEAR && p.sub < s_subs_per_year (p.gran)) {
        p.sub++;
    } else {
        if (p.year >= 9999)
            return -1;
        p.year++;
        if (p.gran != PS_GRAN_YEAR)
            p.sub = 1;
    }
    if (p.gran == PS_GRAN_DAY)
        p.day = 1;
    *out = p;
    return 0;
}

/* First day of PERIOD as a single comparable integer (yyyymmdd). */
static long s_start_key (const ps_period_t *p)
{
    int month = 1;
    if (p->gran == PS_GRAN_QUARTER)
        month = (p->sub - 1) * 3 + 1;
    else if (p->gran >= PS_GRAN_MONTH)
        month = p->sub;
    int day = p->gran == PS_GRAN_DAY ? p->day : 1;
    return (long) p->year * 10000 + month * 100 + day;
}

int ps_period_cmp (const ps_period_t *a, const ps_period_t *b)
{
    long ka = s_start_key (a), kb = s_start_key (b);
    if (ka != kb)
        return ka < kb ? -1 : 1;
    return (a->gran > b->gran) - (a->gran < b->gran);
}

uint32_t ps_period_pack (const ps_period_t *period)
{
    return (uint32_t) period->year << (S_GRAN_BITS + S_SUB_BITS + S_DAY_BITS) |
           (uint32_t) period->gran << (S_SUB_BITS + S_DAY_BITS) |
           (uint32_t) period->sub << S_DAY_BITS | (uint32_t) period->day;
}

ps_period_t ps_period_unpack (uint32_t code)
{
    ps_period_t p;
    p.day = (uint8_t) (code & ((1u << S_DAY_BITS) - 1));
    p.sub = (uint8_t) ((code >> S_DAY_BITS) & ((1u << S_SUB_BITS) - 1));
    p.gran = (uint8_t) ((code >> (S_SUB_BITS + S_DAY_BITS)) & ((1u << S_GRAN_BITS) - 1));
    p.year = (uint16_t) (code >> (S_GRAN_BITS + S_SUB_BITS + S_DAY_BITS));
    return p;
}
