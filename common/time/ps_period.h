/*  ps_period: calendar periods of four granularities and their arithmetic.

    A period is a year ("2012"), a quarter ("2012-Q3"), a month ("2012-07")
    or a day ("2012-07-15"), years 1..9999, proleptic Gregorian calendar.
    The value type is small and copyable; periods compare with ps_period_cmp
    and pack into one uint32_t for hashing (ps_period_pack). */

#ifndef PS_PERIOD_H_INCLUDED
#define PS_PERIOD_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PS_GRAN_YEAR = 0,
    PS_GRAN_QUARTER = 1,
    PS_GRAN_MONTH = 2,
    PS_GRAN_DAY = 3
} ps_gran_t;

#define PS_GRAN_COUNT 4

typedef struct {
    uint16_t year; /* 1..9999 */
    uint8_t gran;  /* ps_gran_t */
    uint8_t sub;   /* quarter 1..4, month 1..12; 0 for a year */
    uint8_t day;   /* 1..31 for a day; 0 otherwise */
} ps_period_t;

/* Longest formatted period plus NUL: "9999-12-31". */
#define PS_PERIOD_STRLEN 11

/*  Parses exactly LEN bytes of TEXT (no NUL needed) into *PERIOD.
    Accepts only the four canonical forms, with zero-padded fields:
    YYYY, YYYY-Qn, YYYY-MM, YYYY-MM-DD. Returns 0 on success; on error
    returns -1 and, when WHY is not NULL, sets *WHY to a static English
    sentence naming the problem (e.g. "day 30 does not exist in 2011-02"). */
int ps_period_parse (const char *text, size_t len, ps_period_t *period, const char **why);

/*  Writes the canonical text of PERIOD into BUF (at least PS_PERIOD_STRLEN
    bytes) and returns its length. */
size_t ps_period_format (const ps_period_t *period, char *buf);

/*  Returns the lowercase name of a granularity: "year", "quarter", "month", "day". */
const char *ps_gran_name (ps_gran_t gran);

/*  Fills OUT with the coarser periods PERIOD rolls up into, finest first
    (a day: its month, quarter, year; a month: its quarter, year; a quarter:
    its year; a year: none). Returns how many (0..3). */
int ps_period_parents (const ps_period_t *period, ps_period_t out[3]);

/*  Sets *OUT to the same period one year earlier. Returns -1 when there is
    none (year 1, or Feb 29 whose previous year has no Feb 29), else 0. */
int ps_period_year_ago (const ps_period_t *period, ps_period_t *out);

/*  Sets *OUT to the period of the same granularity just before PERIOD
    (previous day / month / quarter / year). Returns -1 before 0001-01-01. */
int ps_period_prev (const ps_period_t *period, ps_period_t *out);

/*  Sets *OUT to the period of the same granularity just after PERIOD.
    Returns -1 after 9999-12-31. */
int ps_period_next (const ps_period_t *period, ps_period_t *out);

/*  Number of days in MONTH (1..12) of YEAR. */
int ps_days_in_month (int year, int month);

/*  Total order: by start date, then coarser before finer on the same start.
    Returns <0, 0 or >0. */
int ps_period_cmp (const ps_period_t *a, const ps_period_t *b);

/*  A unique 32-bit code for a valid period; ps_period_unpack inverts it. */
uint32_t ps_period_pack (const ps_period_t *period);
ps_period_t ps_period_unpack (uint32_t code);

#endif
