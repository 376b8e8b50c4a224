/*  ps_schedule: when the next checkpoint is due; see ps_schedule.h. */

#include "ps_schedule.h"

#include <assert.h>
#include <stdlib.h>

struct ps_schedule_t {
    long interval_ms;
    int64_t next;
    ps_schedule_stats_t stats;
};

ps_schedule_t *ps_schedule_new (long interval_ms, int64_t now)
{
    assert (interval_ms > 0);
    ps_schedule_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->interval_ms = interval_ms;
    self->next = now + interval_ms;
    return self;
}

void ps_schedule_destroy (ps_schedule_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

bool ps_schedule_due (ps_schedule_t *self, int64_t now, bool changed)
{
    if (now < self->next)
        return false;
    if (!changed)
        ps_schedule_done (self, now, now);
    return changed;
}

int64_t ps_schedule_next (const ps_schedule_t *self)
{
    return self->next;
}

void ps_schedule_done (ps_schedule_t *self, int64_t start, int64_t end)
{
    int64_t stretched = 10 * (end - start);
    self->next = start + (stretched > self->interval_ms ? stretched : self->interval_ms);
}

void ps_schedule_written (ps_schedule_t *self, int64_t took_us, size_t bytes, int64_t wall_us)
{
    self->stats.written++;
    self->stats.last_wall_us = wall_us;
    self->stats.last_us = took_us;
    self->stats.last_bytes = bytes;
}

const ps_schedule_stats_t *ps_schedule_stats (const ps_schedule_t *self)
{
    return &self->stats;
}
