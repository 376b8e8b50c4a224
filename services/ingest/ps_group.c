/*  ps_group: the group commit policy; see ps_group.h. */

#include "ps_group.h"

#include <stdlib.h>

struct ps_group_t {
    ps_group_config_t config;
    int64_t since; /* ms when the pending commit became due, -1 when none is */
    long held;     /* acks held for it */
    uint64_t commits;
    int64_t last_commit_us;
};

ps_group_t *ps_group_new (const ps_group_config_t *config)
{
    ps_group_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->since = -1;
    return self;
}

void ps_group_destroy (ps_group_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

void ps_group_hold (ps_group_t *self)
{
    self->held++;
}

long ps_group_held (const ps_group_t *self)
{
    return self->held;
}

bool ps_group_full (const ps_group_t *self)
{
    return self->held >= self->config.commit_batches;
}

bool ps_group_due (ps_group_t *self, bool pending, int64_t now_ms)
{
    if (!pending)
        return false;
    if (self->since < 0)
        self->since = now_ms;
    return now_ms - self->since >= self->config.commit_ms || ps_group_full (self);
}

int64_t ps_group_wait (const ps_group_t *self, bool pending, int64_t now_ms)
{
    if (!pending)
        return -1;
    /* Not seen pending yet: ps_group_due has to run first. */
    if (self->since < 0 || ps_group_full (self))
        return 0;
    int64_t wait = self->since + self->config.commit_ms - now_ms;
    return wait > 0 ? wait : 0;
}

void ps_group_committed (ps_group_t *self, int64_t duration_us)
{
    self->commits++;
    self->last_commit_us = duration_us;
    ps_group_closed (self);
}

void ps_group_closed (ps_group_t *self)
{
    self->since = -1;
    self->held = 0;
}

uint64_t ps_group_commits (const ps_group_t *self)
{
    return self->commits;
}

int64_t ps_group_last_commit_us (const ps_group_t *self)
{
    return self->last_commit_us;
}
