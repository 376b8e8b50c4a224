/*  ps_stall: refused journal entries; see ps_stall.h. */

#include "ps_stall.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char ingest[PS_ID_MAX + 1];
    uint64_t journal;
    uint64_t jseq; /* 0: free slot */
    char reason[PS_REASON_MAX];
} s_entry_t;

struct ps_stall_t {
    s_entry_t entries[PS_STALL_MAX];
    uint64_t refusals;
    char ready[PS_ID_MAX + PS_REASON_MAX + 96];
};

ps_stall_t *ps_stall_new (void)
{
    return calloc (1, sizeof (ps_stall_t));
}

void ps_stall_destroy (ps_stall_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

/*  The slot of INGEST, or NULL. */
static s_entry_t *s_find (const ps_stall_t *self, const char *ingest)
{
    for (int i = 0; i < PS_STALL_MAX; i++)
        if (self->entries[i].jseq && strcmp (self->entries[i].ingest, ingest) == 0)
            return (s_entry_t *) &self->entries[i];
    return NULL;
}

bool ps_stall_refused (ps_stall_t *self, const char *ingest, uint64_t journal, uint64_t jseq,
                       const char *reason)
{
    self->refusals++;
    s_entry_t *e = s_find (self, ingest);
    if (e && e->journal == journal && e->jseq == jseq && strcmp (e->reason, reason) == 0)
        return false;
    for (int i = 0; i < PS_STALL_MAX && !e; i++)
        if (self->entries[i].jseq == 0)
            e = &self->entries[i];
    if (!e)
        return false;
    snprintf (e->ingest, sizeof e->ingest, "%s", ingest);
    snprintf (e->reason, sizeof e->reason, "%s", reason);
    e->journal = journal;
    e->jseq = jseq;
    return true;
}

void ps_stall_applied (ps_stall_t *self, const char *ingest, uint64_t jseq)
{
    s_entry_t *e = s_find (self, ingest);
    if (e && e->jseq <= jseq)
        e->jseq = 0;
}

uint64_t ps_stall_jseq (const ps_stall_t *self, const char *ingest, uint64_t journal,
                        const char **reason)
{
    const s_entry_t *e = s_find (self, ingest);
    bool stuck = e && e->journal == journal;
    if (reason)
        *reason = stuck ? e->reason : NULL;
    return stuck ? e->jseq : 0;
}

const char *ps_stall_ready (ps_stall_t *self)
{
    for (int i = 0; i < PS_STALL_MAX; i++) {
        const s_entry_t *e = &self->entries[i];
        if (!e->jseq)
            continue;
        snprintf (self->ready, sizeof self->ready,
                  "journal entry refused, its ingest is stuck: ingest=%s jseq=%" PRIu64 ": %s",
                  e->ingest, e->jseq, e->reason);
        return self->ready;
    }
    return NULL;
}

size_t ps_stall_count (const ps_stall_t *self)
{
    size_t n = 0;
    for (int i = 0; i < PS_STALL_MAX; i++)
        n += self->entries[i].jseq != 0;
    return n;
}

uint64_t ps_stall_refusals (const ps_stall_t *self)
{
    return self->refusals;
}
