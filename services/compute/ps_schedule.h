/*  ps_schedule: when compute writes its next checkpoint. Socket-free;
    the caller says what time it is and whether anything was applied
    since the last checkpoint.

    A checkpoint is due every --checkpoint-ms, and written only when
    something changed (ingest keeps its journal until one covers it, so
    an unchanged state needs none). A large store stretches the interval
    to ten times what the last checkpoint took, so that writing them never
    takes more than a tenth of compute's time. */

#ifndef PS_SCHEDULE_H_INCLUDED
#define PS_SCHEDULE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ps_schedule_t ps_schedule_t;

typedef struct {
    uint64_t written;     /* checkpoints written */
    int64_t last_wall_us; /* when the last one was written (wall clock; 0 before the first) */
    int64_t last_us;      /* how long it took */
    size_t last_bytes;    /* its size */
} ps_schedule_stats_t;

/*  Creates the schedule of checkpoints INTERVAL_MS (> 0) apart, the first
    one due INTERVAL_MS after NOW. Returns NULL when out of memory. */
ps_schedule_t *ps_schedule_new (long interval_ms, int64_t now);

/*  Destroys it and sets *SELF_P to NULL; NULL-safe. */
void ps_schedule_destroy (ps_schedule_t **self_p);

/*  True when a checkpoint is to be written at NOW: its time came and
    something CHANGED. When its time came with nothing changed, the next
    one is due an interval later. */
bool ps_schedule_due (ps_schedule_t *self, int64_t now, bool changed);

/*  When (ms, caller's clock) the next checkpoint is due. */
int64_t ps_schedule_next (const ps_schedule_t *self);

/*  Records a checkpoint due at START that ended at END (ms), written or
    not: the next one is due an interval after START, or ten times what it
    took when that is longer. */
void ps_schedule_done (ps_schedule_t *self, int64_t start, int64_t end);

/*  Counts a checkpoint of BYTES written at wall clock WALL_US that took
    TOOK_US, for the metrics. */
void ps_schedule_written (ps_schedule_t *self, int64_t took_us, size_t bytes, int64_t wall_us);

/*  What ps_schedule_written recorded. */
const ps_schedule_stats_t *ps_schedule_stats (const ps_schedule_t *self);

#endif
