/*  ps_engine: compute's core. Applies decoded batches to the cell store,
    tracks which published topics their changes affect, and on each flush
    encodes one complete message per affected topic into update frames.

    Liveness: when a report changes a cell (at any rollup level), the
    engine marks for republishing the cell itself, the next period's cell
    (its period-over-period base moved), next year's cell (year over
    year), later months or quarters of the same year and of the next year
    (year to date and its year over year), every sibling whose share
    denominator is this cell (found through the store's sibling index, not
    by scanning), and each ratio reading the cell. A cell's dependents are
    marked once per flush interval however many reports change it, and
    each topic appears at most once per flush: changes are conflated. */

#ifndef PS_ENGINE_H_INCLUDED
#define PS_ENGINE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_cells.h"
#include "ps_proto.h"
#include "ps_ratios.h"

/* Rejects published per flush; more are logged and counted, not published. */
#define PS_ENGINE_MAX_REJECTS 1000

/* Update frames are cut at about this many bytes (well under PS_MAX_FRAME). */
#define PS_ENGINE_FRAME_BYTES (256u << 10)

typedef struct ps_engine_t ps_engine_t;

typedef struct {
    uint64_t batches;  /* batches applied */
    uint64_t reports;  /* reports applied */
    uint64_t rejected; /* reports refused by compute */
    uint64_t items;    /* topics published */
    uint32_t cells;    /* cells held */
    size_t memory;     /* bytes of heap held by the cell store */
} ps_engine_stats_t;

/*  Sends one encoded update frame; returns 0, or -1 on failure. */
typedef int (ps_engine_emit_fn) (void *arg, const void *frame, size_t size);

/*  Creates an engine publishing under EPOCH. Takes ownership of *RATIOS_P
    (may be NULL or point to NULL: no ratios) and sets it to NULL. Returns
    NULL when out of memory. */
ps_engine_t *ps_engine_new (ps_ratios_t **ratios_p, uint64_t epoch);

/*  Destroys an engine and sets *SELF_P to NULL; NULL-safe. */
void ps_engine_destroy (ps_engine_t **self_p);

/*  Applies one report. Returns 0, or -1 with *ERR when compute refuses it
    (PS_E_OVERFLOW, PS_E_CURRENCY_MISMATCH, PS_E_LIMIT); a refused report
    changes nothing. */
int ps_engine_apply (ps_engine_t *self, const ps_report_t *report, ps_error_t *err);

/*  Applies every report of decoded BATCH. Each refused report (by compute,
    or found invalid by compute's decoder) is logged with its producer,
    seq and index and queued as a $reject item. Returns how many were
    refused. */
uint32_t ps_engine_apply_batch (ps_engine_t *self, const ps_batch_t *batch);

/*  Queues a $reject item for report INDEX of batch (PRODUCER, SEQ). */
void ps_engine_reject (ps_engine_t *self, const char *producer, uint64_t seq, uint32_t index,
                       const ps_error_t *err);

/*  True when a flush would publish something. */
bool ps_engine_pending (const ps_engine_t *self);

/*  Encodes every pending topic with its complete current message into
    update frames of at most about PS_ENGINE_FRAME_BYTES, hands each to
    EMIT, and clears the pending set. Returns the number of items
    published, or -1 when EMIT failed (the pending set is cleared all the
    same). */
int ps_engine_flush (ps_engine_t *self, ps_engine_emit_fn *emit, void *arg);

/*  Marks every topic for republishing: each cell that has a value and
    each ratio of each period such a cell reads, so the next flush sends
    publish the complete current state (publish restarted with an empty
    cache). Returns 0, or -1 when out of memory (some topics are marked). */
int ps_engine_dirty_all (ps_engine_t *self);

/*  Gives series SOURCE + DIMS (NDIMS, sorted by name; a value may be
    "*") the currency CODE, as a checkpoint recorded it. Restored before
    the cells, it keeps the one-currency rule as it was before the
    restart even where no cell holds an amount any more. Returns 0, or -1
    when out of memory or past 65535 sources. */
int ps_engine_restore_series (ps_engine_t *self, const char *source, const ps_dim_t *dims,
                              int ndims, const char code[PS_CURRENCY_LEN + 1]);

/*  The cell store, for inspection (tests, statistics). */
const ps_cells_t *ps_engine_cells (const ps_engine_t *self);

/*  Fills *STATS. */
void ps_engine_stats (const ps_engine_t *self, ps_engine_stats_t *stats);

/*  Number of the last update frame emitted (useq; 0 before the first). */
uint64_t ps_engine_useq (const ps_engine_t *self);

#endif
