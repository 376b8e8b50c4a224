/*  ps_checkpoint: compute's state on disk, written atomically.

    A checkpoint holds what compute's state is made of, not how it is
    indexed: every reported cell's own value (the aggregates, rollups and
    sibling links are derived from those), every series' currency, and
    the position in each ingest's journal that the values reflect. Loading
    applies the cells again through the engine, so the derived state is
    rebuilt by the same code that built it, and every topic is marked for
    publishing: subscribers converge on the recovered state.

    File "checkpoint" in the data directory:
      bytes 0-7    "PSCKPT\0\n"
      bytes 8-11   format version (big-endian), 1
      bytes 12-15  CRC-32 (IEEE) of the payload
      bytes 16-23  payload length in bytes
      payload      MessagePack objects, one after the other:
                   {"v": 1, "saved_us": int, "series": M, "cells": N,
                    "ingests": [[id, journal, applied], ...]}
                   M x [source, [dim, ...], currency]
                   N x [source, period, [dim, ...], has, count, amount, currency]
                   (has: 1 = count present, 2 = amount present; currency
                   "" when the cell's series has none)
    It is written to "checkpoint.tmp", flushed to disk, renamed over
    "checkpoint" and the directory flushed, so a crash at any moment
    leaves either the old checkpoint or the new one, whole. */

#ifndef PS_CHECKPOINT_H_INCLUDED
#define PS_CHECKPOINT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ps_datadir.h"
#include "ps_engine.h"
#include "ps_upstream.h"

typedef struct {
    uint32_t cells;  /* reported cells */
    uint32_t series; /* series with a currency */
    size_t bytes;    /* file size */
} ps_checkpoint_stats_t;

/*  Writes ENGINE's reported cells and series currencies and UPSTREAM's
    positions to DIR's checkpoint. Returns 0 and fills *STATS (may be
    NULL), or -1 with a sentence in ERR (ERRLEN bytes); the previous
    checkpoint is then untouched. */
int ps_checkpoint_save (const ps_datadir_t *dir, const ps_engine_t *engine,
                        const ps_upstream_t *upstream, ps_checkpoint_stats_t *stats, char *err,
                        size_t errlen);

/*  Loads DIR's checkpoint into ENGINE and UPSTREAM, both fresh. Returns 0
    and fills *STATS (may be NULL); 1 when there is no checkpoint; -1 with
    a sentence in ERR when it cannot be read, is truncated, corrupted or
    of an unknown format (ENGINE and UPSTREAM are then partly filled:
    destroy them). */
int ps_checkpoint_load (const ps_datadir_t *dir, ps_engine_t *engine, ps_upstream_t *upstream,
                        ps_checkpoint_stats_t *stats, char *err, size_t errlen);

#endif
