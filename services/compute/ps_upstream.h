/*  ps_upstream: how far compute is in each ingest's journal.

    Per ingest id: the journal instance it is reading, the last jseq
    applied (every entry up to it, exactly once, in order), the last jseq
    a written checkpoint covers, and the routing identity to answer on.
    A forwarded batch is applied only if it is the next entry; an older
    one was applied already (a resend), a later one means entries were
    lost on the way, and compute asks the ingest to resend from the
    first missing one, once per gap: the rest of the gap's frames are
    dropped quietly while the resend is on its way. These positions are
    saved in the checkpoint with the cells, so after a restart compute
    asks each ingest for what followed the checkpoint.

    Any peer can reach compute's socket and name any ingest id, so the
    table holds at most PS_UPSTREAM_MAX ingests. An ingest is established
    once compute applied one of its entries or read it from a checkpoint;
    only one that is not (it said hello or sent an entry out of order, and
    nothing more) makes room for a new id, so an invented id never pushes
    out a real ingest's position. With every record established, frames
    of new ids are dropped, logged at most once per second.

    One journal per ingest id: once compute has applied an entry of an
    ingest's journal instance (or read it from a checkpoint), a hello or
    an entry naming that id with another instance is refused, never
    applied: re-reading a journal from its start would count again what
    compute already has (a stray hello, or two ingests started with one
    --id). Before anything is applied, another instance is refused too
    while the connection that named the first one is live (two ingests
    with one id at once); past that it replaces it, since nothing of it
    was counted. An operator who replaced an ingest's journal on purpose
    names the new instance (ps_upstream_accept, compute's
    --accept-journal): that one instance, and no other, then replaces
    the known one, once. */

#ifndef PS_UPSTREAM_H_INCLUDED
#define PS_UPSTREAM_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_proto.h"

typedef struct ps_upstream_t ps_upstream_t;

/* Ingest instances compute follows at once; far above any deployment. */
#define PS_UPSTREAM_MAX 64

typedef enum {
    PS_UPSTREAM_APPLY, /* the next entry: apply it, then ps_upstream_applied */
    PS_UPSTREAM_OLD,   /* applied already: ignore it */
    PS_UPSTREAM_GAP,   /* entries are missing before it: ignore it */
    PS_UPSTREAM_DROP,  /* no room for a new ingest, or out of memory: ignore it */
    PS_UPSTREAM_REFUSED /* another journal instance than the one compute follows for this
                           ingest: ignore it (ps_upstream_refusal says why) */
} ps_upstream_verdict_t;

/* Why a journal instance was refused (the reason label of the metric). */
typedef enum {
    PS_UPSTREAM_REFUSED_JOURNAL,   /* "journal": compute applied entries of another instance */
    PS_UPSTREAM_REFUSED_DUPLICATE, /* "duplicate": nothing applied yet, but another live
                                      connection speaks for the id with another instance */
    PS_UPSTREAM_REFUSED__N
} ps_upstream_reason_t;

/* The latest refusal. */
typedef struct {
    char ingest[PS_ID_MAX + 1];
    uint64_t known;   /* the instance compute follows */
    uint64_t offered; /* the instance refused */
    ps_upstream_reason_t reason;
    char text[200]; /* one line naming all of it, for /readyz and the refused peer */
} ps_upstream_refusal_t;

/* How long a connection counts as live after its last frame, by default. */
#define PS_UPSTREAM_LIVE_MS 5000
/* How long /readyz reports a refusal after the last one. */
#define PS_UPSTREAM_REFUSAL_READY_MS 30000

/*  Creates an empty table. Returns NULL when out of memory. */
ps_upstream_t *ps_upstream_new (void);

/*  Destroys it and sets *SELF_P to NULL; NULL-safe. */
void ps_upstream_destroy (ps_upstream_t **self_p);

/*  Lets journal instance JOURNAL replace the one compute follows for
    INGEST, read from its start (the operator recreated that ingest's
    journal on purpose). Only the latest instance named for an id is
    accepted; once it is the known one, this changes nothing. Returns 0,
    or -1 when out of memory. */
int ps_upstream_accept (ps_upstream_t *self, const char *ingest, uint64_t journal);

/*  As ps_upstream_accept for each "ID=JOURNAL" of comma-separated LIST
    (NULL or "" for none). Returns 0, or -1 with the reason in ERR (ERRLEN
    bytes): which item, and why (id grammar, journal 1 .. 2^63-1, an id
    named twice). */
int ps_upstream_accept_parse (ps_upstream_t *self, const char *list, char *err, size_t errlen);

/*  Sets how long a connection counts as live after its last frame
    (PS_UPSTREAM_LIVE_MS by default). */
void ps_upstream_set_live_ms (ps_upstream_t *self, int64_t live_ms);

/*  Sets the position of INGEST in journal JOURNAL to APPLIED, as read
    from a checkpoint (so APPLIED is checkpointed too); INGEST is
    established when APPLIED > 0 (an id that only said hello binds
    nothing). Not bounded by PS_UPSTREAM_MAX: a checkpoint holds what
    a bounded table held. Returns 0, or -1 when out of memory. */
int ps_upstream_restore (ps_upstream_t *self, const char *ingest, uint64_t journal,
                         uint64_t applied);

/*  Judges entry JSEQ of journal JOURNAL from INGEST, which arrived from
    routing identity ROUTE (ROUTE_LEN bytes). A journal instance other than
    the one known is refused (PS_UPSTREAM_REFUSED, logged, counted) unless
    it may replace it (see above): then the ingest starts over from 0.
    Returns PS_UPSTREAM_DROP when INGEST is new and the table is full of
    established ingests, or out of memory. */
ps_upstream_verdict_t ps_upstream_check (ps_upstream_t *self, const char *ingest, uint64_t journal,
                                         uint64_t jseq, const void *route, size_t route_len);

/*  Entry JSEQ of INGEST (judged APPLY) has been applied: INGEST is
    established. */
void ps_upstream_applied (ps_upstream_t *self, const char *ingest, uint64_t jseq);

/*  After a GAP verdict: true when a resend should be asked for (the
    first time for this gap). */
bool ps_upstream_want_resend (ps_upstream_t *self, const char *ingest);

/*  Takes a hello from ROUTE: checks its journal against what compute has
    (another instance is refused or replaces the known one, as in
    ps_upstream_check; entries gone from it before compute applied them are
    skipped, logged as an error). Returns 0; 1 when refused (logged,
    counted; ps_upstream_refusal says why); -1 when the hello is a new
    ingest's and the table is full of established ingests (logged here),
    or out of memory. */
int ps_upstream_hello (ps_upstream_t *self, const ps_hello_t *hello, const void *route,
                       size_t route_len);

/*  Fills *POS with INGEST's position (RESEND as given). Returns 0, or -1
    when INGEST is unknown. */
int ps_upstream_position (const ps_upstream_t *self, const char *ingest, bool resend,
                          ps_position_t *pos);

/*  True when an entry was applied since the last checkpoint. */
bool ps_upstream_changed (const ps_upstream_t *self);

/*  A checkpoint of the current positions is written: they are now the
    checkpointed ones. */
void ps_upstream_checkpointed (ps_upstream_t *self);

/*  Walks the ingests: start with *CURSOR = 0; returns false at the end.
    Sets the id, journal instance, applied jseq and routing identity
    (ROUTE_LEN 0 when compute has not heard from it since start). */
bool ps_upstream_next (const ps_upstream_t *self, size_t *cursor, const char **ingest,
                       uint64_t *journal, uint64_t *applied, const void **route, size_t *route_len);

/*  The latest refusal, or NULL when there was none. */
const ps_upstream_refusal_t *ps_upstream_refusal (const ps_upstream_t *self);

/*  Frames (hellos and entries) refused for REASON since start. */
uint64_t ps_upstream_refused (const ps_upstream_t *self, ps_upstream_reason_t reason);

/*  The wire name of REASON: "journal", "duplicate". */
const char *ps_upstream_reason_name (ps_upstream_reason_t reason);

/*  NULL once compute has caught up with every ingest that said hello (it
    applied everything their journals held at their latest hello), else
    why not ("waiting for an ingest's hello", "replaying the journal");
    first of all, for PS_UPSTREAM_REFUSAL_READY_MS after the latest
    refusal, the refusal's text. */
const char *ps_upstream_ready (const ps_upstream_t *self);

#endif
