/*  ps_stall: the journal entries compute refused, per ingest.

    Ingest journals only entries it encoded itself within PS_MAX_ENTRY,
    so an entry compute cannot take (over its --max-entry-bytes, or one
    that does not decode) means a bug or a misconfiguration. Such an entry
    is never skipped (its reports were acknowledged): the ingest stays
    stuck there, loudly. Compute records the position and the reason,
    reports them on /readyz and in every position it sends that ingest
    (so ingest's /readyz says so too), and forgets them once the entry is
    applied (the operator's fix: docs/durability.md). Socket-free. */

#ifndef PS_STALL_H_INCLUDED
#define PS_STALL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_proto.h"

typedef struct ps_stall_t ps_stall_t;

/* Stuck ingests tracked at once; more are counted, not named. */
#define PS_STALL_MAX 64

/*  Creates an empty table. Returns NULL when out of memory. */
ps_stall_t *ps_stall_new (void);

/*  Destroys it and sets *SELF_P to NULL; NULL-safe. */
void ps_stall_destroy (ps_stall_t **self_p);

/*  Entry JSEQ of journal JOURNAL of INGEST was refused for REASON.
    Returns true when that is news (another entry or reason than the one
    recorded for INGEST), false for a repeat or when the table is full. */
bool ps_stall_refused (ps_stall_t *self, const char *ingest, uint64_t journal, uint64_t jseq,
                       const char *reason);

/*  Entry JSEQ of INGEST was applied: a refusal at or before it is over. */
void ps_stall_applied (ps_stall_t *self, const char *ingest, uint64_t jseq);

/*  The entry of INGEST in journal JOURNAL that is refused (0: none), and
    through *REASON (when not NULL) why. */
uint64_t ps_stall_jseq (const ps_stall_t *self, const char *ingest, uint64_t journal,
                        const char **reason);

/*  NULL when no ingest is stuck, else a sentence naming the first stuck
    position and why, valid until the next call. */
const char *ps_stall_ready (ps_stall_t *self);

/*  Ingests stuck now, and refusals since start (every resend counts). */
size_t ps_stall_count (const ps_stall_t *self);
uint64_t ps_stall_refusals (const ps_stall_t *self);

#endif
