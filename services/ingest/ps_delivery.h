/*  ps_delivery: which journal entries ingest sends compute, and when.

    Nothing acknowledged may depend on a ZeroMQ pipe surviving, so compute
    pulls from the journal: ingest says hello (where its journal stands),
    compute answers with a position asking for a resend from the entry
    after the last one it applied, and ingest streams committed entries
    from there, at most WINDOW beyond the last one compute confirmed.
    An entry compute refuses (too large, does not decode) is never
    skipped: delivery stops there, loudly (ps_delivery_stuck), until
    compute applies it.
    Whenever compute has been silent for SYNC_MS, ingest says hello again:
    that finds a restarted compute (which resumes from its checkpoint), a
    lost entry or a lost position alike. Compute ignores entries it has
    applied already, so a resend costs bandwidth, never correctness. */

#ifndef PS_DELIVERY_H_INCLUDED
#define PS_DELIVERY_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "ps_proto.h"

typedef struct ps_delivery_t ps_delivery_t;

typedef struct {
    uint64_t journal; /* the journal instance whose entries are sent */
    uint32_t window;  /* entries in flight beyond compute's applied, >= 1 */
    int sync_ms;      /* silence from compute before the next hello, >= 1 */
} ps_delivery_config_t;

/*  Creates the link state; a hello is due at once. Returns NULL when out
    of memory. */
ps_delivery_t *ps_delivery_new (const ps_delivery_config_t *config);

/*  Destroys it and sets *SELF_P to NULL; NULL-safe. */
void ps_delivery_destroy (ps_delivery_t **self_p);

/*  Takes a position from compute received at NOW_MS; an APPLIED at or
    past the entry delivery is stuck at unsticks it (a refusal it carries
    is for the caller to pass to ps_delivery_refused). Returns false (and
    changes nothing) when it is about another journal instance. */
bool ps_delivery_position (ps_delivery_t *self, const ps_position_t *pos, int64_t now_ms);

/*  The jseq to send next when entries up to DURABLE are committed and
    the oldest one held is FIRST; 0 when nothing may go now (compute has
    not said where to start, the window is full, or all is sent). */
uint64_t ps_delivery_next (ps_delivery_t *self, uint64_t first, uint64_t durable);

/*  Entry JSEQ has been handed to the socket. */
void ps_delivery_sent (ps_delivery_t *self, uint64_t jseq);

/*  True when a hello should go out at NOW_MS; then call
    ps_delivery_hello_sent. */
bool ps_delivery_hello_due (const ps_delivery_t *self, int64_t now_ms);
void ps_delivery_hello_sent (ps_delivery_t *self, int64_t now_ms);

/*  Milliseconds from NOW_MS until the next hello may be due (>= 0). */
int64_t ps_delivery_hello_wait (const ps_delivery_t *self, int64_t now_ms);

/*  Last jseq compute said it applied and checkpointed (0 before it has). */
uint64_t ps_delivery_applied (const ps_delivery_t *self);
uint64_t ps_delivery_ckpt (const ps_delivery_t *self);

/*  True once compute has said where to start since ingest started. */
bool ps_delivery_synced (const ps_delivery_t *self);

/*  Entry JSEQ cannot go to compute: compute refused it (its position
    said so), or ingest itself found it too large to send. Nothing after
    it is sent until compute has applied it (an operator's fix); it is
    sent again, once, at every resend compute asks for. Keeps REASON.
    Returns true when this is news (another jseq or reason than before),
    so the caller logs it loudly rather than on every repeat. */
bool ps_delivery_refused (ps_delivery_t *self, uint64_t jseq, const char *reason);

/*  The jseq the delivery is stuck at (0: none) and, through *REASON
    when not NULL, why. */
uint64_t ps_delivery_stuck (const ps_delivery_t *self, const char **reason);

/*  Refusals seen since start (every repeat counts). */
uint64_t ps_delivery_refusals (const ps_delivery_t *self);

#endif
