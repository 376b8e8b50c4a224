/*  ps_rollup: applies one report to the cell it targets and to every
    aggregate it rolls into, atomically.

    A report for (source, period, k dims) moves up to 4 x 2^k cells: its
    period and each coarser one (day -> month, quarter, year), times each
    subset of its dims replaced by "*". Before anything changes, every one
    of them is checked: a total that would leave int64, or an amount in a
    currency other than one of the 2^k series already uses, rejects the
    whole report and leaves the cells as they were.

    A retraction (op retract) takes the value reported for its cell back
    out of the cell and of every aggregate: the cell stops counting as a
    contributor, and a cell left with no contributor keeps its record but
    has no value (nleaves 0), as if it had never been reported. */

#ifndef PS_ROLLUP_H_INCLUDED
#define PS_ROLLUP_H_INCLUDED

#include <stdint.h>

#include "ps_cells.h"
#include "ps_proto.h"

#define PS_ROLLUP_MAX_LEVELS PS_GRAN_COUNT
#define PS_ROLLUP_MAX_SERIES (1 << PS_MAX_DIMS)
#define PS_ROLLUP_MAX_CELLS  (PS_ROLLUP_MAX_LEVELS * PS_ROLLUP_MAX_SERIES)

/*  What one report touched: cell[level * nseries + mask] is the cell at
    periods[level] (0 = the report's own) of series[mask], whose dims are
    the report's with those whose bit is set in mask rolled up. */
typedef struct {
    uint32_t nlevels;
    uint32_t nseries;
    ps_period_t periods[PS_ROLLUP_MAX_LEVELS];
    uint32_t series[PS_ROLLUP_MAX_SERIES];
    uint32_t cells[PS_ROLLUP_MAX_CELLS];
} ps_rollup_t;

/*  Applies REPORT (already valid as decoded) to CELLS and describes the
    touched cells in *OUT. Returns 0, or -1 with *ERR when the report is
    refused (PS_E_OVERFLOW on count or amount, PS_E_CURRENCY_MISMATCH,
    PS_E_LIMIT past 65535 sources or out of memory); a refused report
    changes no total (only interned names may remain). A retraction of a
    cell that has no reported value returns 1 and changes nothing. */
int ps_rollup_apply (ps_cells_t *cells, const ps_report_t *report, ps_rollup_t *out,
                     ps_error_t *err);

#endif
