/*  ps_pacing: when a flush may go, and the shutdown's wait for publish;
    see ps_pacing.h. */

#include "ps_pacing.h"

#include <assert.h>
#include <stdlib.h>

struct ps_pacing_t {
    long flush_ms;
    uint64_t confirmed; /* last useq publish has confirmed */
    int64_t flushed;    /* when the last flush began (0: none yet) */
    int64_t next;       /* when the flush interval lets the next one go */
    uint64_t flushes;
    int64_t deadline; /* of the shutdown's wait */
};

ps_pacing_t *ps_pacing_new (long flush_ms)
{
    assert (flush_ms > 0);
    ps_pacing_t *self = calloc (1, sizeof *self);
    if (self)
        self->flush_ms = flush_ms;
    return self;
}

void ps_pacing_destroy (ps_pacing_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

void ps_pacing_confirm (ps_pacing_t *self, uint64_t useq)
{
    if (useq > self->confirmed)
        self->confirmed = useq;
}

void ps_pacing_restart (ps_pacing_t *self, uint64_t sent)
{
    self->confirmed = sent;
}

uint64_t ps_pacing_confirmed (const ps_pacing_t *self)
{
    return self->confirmed;
}

int64_t ps_pacing_due (const ps_pacing_t *self, uint64_t sent)
{
    int64_t due = self->next;
    if (self->confirmed < sent && due < self->flushed + PS_PACING_CONFIRM_MS)
        due = self->flushed + PS_PACING_CONFIRM_MS;
    return due;
}

bool ps_pacing_may_flush (const ps_pacing_t *self, int64_t now, uint64_t sent, bool pending,
                          size_t queued)
{
    return pending && queued == 0 && now >= ps_pacing_due (self, sent);
}

void ps_pacing_flushed (ps_pacing_t *self, int64_t start, int64_t end)
{
    int64_t took = end - start;
    self->flushed = start;
    self->next = start + (took > self->flush_ms ? 2 * took : self->flush_ms);
    self->flushes++;
}

uint64_t ps_pacing_flushes (const ps_pacing_t *self)
{
    return self->flushes;
}

void ps_pacing_stop (ps_pacing_t *self, int64_t now, long bound_ms)
{
    self->deadline = now + bound_ms;
}

bool ps_pacing_settled (const ps_pacing_t *self, uint64_t sent, size_t queued)
{
    return self->confirmed >= sent && queued == 0;
}

long ps_pacing_stop_wait (const ps_pacing_t *self, int64_t now, uint64_t sent, size_t queued)
{
    if (ps_pacing_settled (self, sent, queued) || now >= self->deadline)
        return -1;
    return (long) (self->deadline - now);
}
