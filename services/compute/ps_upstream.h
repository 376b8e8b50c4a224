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
    of new ids are dropped, logged at most once per second. */

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
    PS_UPSTREAM_DROP   /* no room for a new ingest, or out of memory: ignore it */
} ps_upstream_verdict_t;

/*  Creates an empty table. Returns NULL when out of memory. */
ps_upstream_t *ps_upstream_new (void);

/*  Destroys it and sets *SELF_P to NULL; NULL-safe. */
void ps_upstream_destroy (ps_upstream_t **self_p);

/*  Sets the position of INGEST in journal JOURNAL to APPLIED, as read
    from a checkpoint (so APPLIED is checkpointed too), and makes INGEST
    established. Not bounded by PS_UPSTREAM_MAX: a checkpoint holds what
    a bounded table held. Returns 0, or -1 when out of memory. */
int ps_upstream_restore (ps_upstream_t *self, const char *ingest, uint64_t journal,
                         uint64_t applied);

/*  Judges entry JSEQ of journal JOURNAL from INGEST, which arrived from
    routing identity ROUTE (ROUTE_LEN bytes). A journal instance other than
    the one known starts the ingest over from 0 (its journal was
    recreated: its numbering restarted). Returns PS_UPSTREAM_DROP when
    INGEST is new and the table is full of established ingests, or out of
    memory. */
ps_upstream_verdict_t ps_upstream_check (ps_upstream_t *self, const char *ingest, uint64_t journal,
                                         uint64_t jseq, const void *route, size_t route_len);

/*  Entry JSEQ of INGEST (judged APPLY) has been applied: INGEST is
    established. */
void ps_upstream_applied (ps_upstream_t *self, const char *ingest, uint64_t jseq);

/*  After a GAP verdict: true when a resend should be asked for (the
    first time for this gap). */
bool ps_upstream_want_resend (ps_upstream_t *self, const char *ingest);

/*  Takes a hello from ROUTE: checks its journal against what compute has
    (a recreated journal starts over; entries gone from it before compute
    applied them are skipped, logged as an error). Returns 0, or -1 when
    the hello is a new ingest's and the table is full of established
    ingests (logged here), or out of memory. */
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

/*  NULL once compute has caught up with every ingest that said hello (it
    applied everything their journals held at their latest hello), else
    why not ("waiting for an ingest's hello", "replaying the journal"). */
const char *ps_upstream_ready (const ps_upstream_t *self);

#endif
