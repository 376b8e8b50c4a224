/*  ps_delivery: ingest's side of the journal replay; see ps_delivery.h. */

#include "ps_delivery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ps_delivery_t {
    ps_delivery_config_t config;
    bool synced;        /* compute has said where to start */
    uint64_t next;      /* jseq to send next */
    uint64_t applied;   /* compute's last applied jseq */
    uint64_t ckpt;      /* compute's last checkpointed jseq */
    int64_t last_heard; /* ms of compute's last position */
    int64_t last_hello; /* ms of the last hello */
    bool heard, helloed;
    uint64_t stuck;             /* jseq refused, 0 for none */
    char reason[PS_REASON_MAX]; /* why */
    uint64_t refusals;
};

ps_delivery_t *ps_delivery_new (const ps_delivery_config_t *config)
{
    ps_delivery_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->next = 1;
    return self;
}

void ps_delivery_destroy (ps_delivery_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

bool ps_delivery_position (ps_delivery_t *self, const ps_position_t *pos, int64_t now_ms)
{
    if (pos->journal != self->config.journal)
        return false;
    self->heard = true;
    self->last_heard = now_ms;
    if (pos->resend) {
        /* May go back: a restarted compute resumes from its checkpoint. */
        self->synced = true;
        self->applied = pos->applied;
        self->next = pos->applied + 1;
    } else if (pos->applied > self->applied)
        self->applied = pos->applied;
    if (pos->ckpt > self->ckpt)
        self->ckpt = pos->ckpt;
    if (self->stuck && self->applied >= self->stuck)
        self->stuck = 0; /* compute took it after all */
    return true;
}

bool ps_delivery_refused (ps_delivery_t *self, uint64_t jseq, const char *reason)
{
    self->refusals++;
    bool news = jseq != self->stuck || strncmp (reason, self->reason, sizeof self->reason - 1);
    self->stuck = jseq;
    snprintf (self->reason, sizeof self->reason, "%s", reason);
    return news;
}

uint64_t ps_delivery_stuck (const ps_delivery_t *self, const char **reason)
{
    if (reason)
        *reason = self->stuck ? self->reason : NULL;
    return self->stuck;
}

uint64_t ps_delivery_refusals (const ps_delivery_t *self)
{
    return self->refusals;
}

uint64_t ps_delivery_next (ps_delivery_t *self, uint64_t first, uint64_t durable)
{
    if (!self->synced)
        return 0;
    /* Entries before FIRST are gone: compute learnt so from the hello. */
    if (self->next < first)
        self->next = first;
    if (self->next > durable || self->next - self->applied > self->config.window)
        return 0;
    /* Past a refused entry nothing goes: compute could not apply it. */
    if (self->stuck && self->next > self->stuck)
        return 0;
    return self->next;
}

void ps_delivery_sent (ps_delivery_t *self, uint64_t jseq)
{
    self->next = jseq + 1;
}

int64_t ps_delivery_hello_wait (const ps_delivery_t *self, int64_t now_ms)
{
    int64_t due = 0;
    if (self->heard)
        due = self->last_heard + self->config.sync_ms;
    if (self->helloed && self->last_hello + self->config.sync_ms > due)
        due = self->last_hello + self->config.sync_ms;
    return due > now_ms ? due - now_ms : 0;
}

bool ps_delivery_hello_due (const ps_delivery_t *self, int64_t now_ms)
{
    return ps_delivery_hello_wait (self, now_ms) == 0;
}

void ps_delivery_hello_sent (ps_delivery_t *self, int64_t now_ms)
{
    self->helloed = true;
    self->last_hello = now_ms;
}

uint64_t ps_delivery_applied (const ps_delivery_t *self)
{
    return self->applied;
}

uint64_t ps_delivery_ckpt (const ps_delivery_t *self)
{
    return self->ckpt;
}

bool ps_delivery_synced (const ps_delivery_t *self)
{
    return self->synced;
}
