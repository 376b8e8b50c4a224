/*  ps_keymix: the benchmark's report stream, a realistic key mix.

    SOURCES reporting bodies (SRC0, SRC1, ...) each send daily totals for
    DAYS days from January 1 of START_YEAR, broken down by card (domestic,
    foreign) and channel (web, pos, atm); every other source also by
    scheme (visa, mastercard, cmi, amex), so half the sources have two
    dimensions and half three. Even sources report in MAD, odd ones in EUR.

    A leaf is one (source, day, dims) cell a report can target; leaves are
    numbered day by day. The first LEAVES reports reach every leaf once,
    then the stream starts over, in one of two orders:
    - PS_KEYMIX_DAILY: leaf i mod LEAVES, so every series of a day is
      reported together, day after day, as producers report their daily
      totals (and as a history is loaded);
    - PS_KEYMIX_SCATTERED: leaf (i * STRIDE) mod LEAVES with STRIDE coprime
      to LEAVES, jumping all over the years: corrections arriving at
      random, the worst case for conflation. */

#ifndef PS_KEYMIX_H_INCLUDED
#define PS_KEYMIX_H_INCLUDED

#include <stdint.h>

#include "ps_proto.h"

typedef enum { PS_KEYMIX_DAILY = 0, PS_KEYMIX_SCATTERED = 1 } ps_keymix_order_t;

typedef struct ps_keymix_t ps_keymix_t;

/*  Creates the mix. Returns NULL when an argument is out of range
    (SOURCES 1..1000, DAYS 1..36500, START_YEAR 1900..2100) or out of memory. */
ps_keymix_t *ps_keymix_new (uint32_t sources, uint32_t days, int start_year,
                            ps_keymix_order_t order);

/*  Destroys a mix and sets *SELF_P to NULL; NULL-safe. */
void ps_keymix_destroy (ps_keymix_t **self_p);

/*  Number of distinct leaves. */
uint64_t ps_keymix_leaves (const ps_keymix_t *self);

/*  Number of distinct cells compute holds once every leaf was reported:
    each leaf's day, month, quarter and year, times every subset of its
    dims rolled up to "*". */
uint64_t ps_keymix_cells (const ps_keymix_t *self);

/*  Fills *REPORT with report number I of the stream (an "add" with a
    count and an amount). */
void ps_keymix_report (const ps_keymix_t *self, uint64_t i, ps_report_t *report);

#endif
