/*  ps_pacing: when compute may send publish a flush, and how long it
    waits for publish at shutdown. Socket-free: the caller says what time
    it is, how many update frames it sent (the engine's useq) and how many
    still wait in its outbox, and hands on publish's confirmations.

    A flush goes at most once per --flush-ms, stretched to twice what the
    last one took when it took longer, so that reading reports always
    gets at least half of compute's time. It also waits until publish
    confirmed the previous flush (PS_PACING_CONFIRM_MS at most, since a
    confirmation can be lost with a reconnection): when publish is the
    slower, changes conflate in the engine instead of queueing in front of
    it, and the feed falls behind by one flush at most. Nothing new goes
    while a frame waits in the outbox, which bounds it to one flush.

    At shutdown compute waits up to a bound for publish to take and
    confirm every update; ps_pacing_stop_wait says for how long still. */

#ifndef PS_PACING_H_INCLUDED
#define PS_PACING_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long a flush waits for publish to confirm the previous one, in ms. */
#define PS_PACING_CONFIRM_MS 1000

typedef struct ps_pacing_t ps_pacing_t;

/*  Creates the pacing of flushes FLUSH_MS (> 0) apart, the first one free
    to go at once. Returns NULL when out of memory. */
ps_pacing_t *ps_pacing_new (long flush_ms);

/*  Destroys it and sets *SELF_P to NULL; NULL-safe. */
void ps_pacing_destroy (ps_pacing_t **self_p);

/*  Publish confirmed every update frame up to USEQ (older confirmations,
    which can arrive late, change nothing). */
void ps_pacing_confirm (ps_pacing_t *self, uint64_t useq);

/*  A new publish asked for every topic: what the old one did not confirm
    is resent whole at the next flush, which need not wait for it, so
    every frame up to SENT counts as confirmed. */
void ps_pacing_restart (ps_pacing_t *self, uint64_t sent);

/*  The last update frame publish confirmed. */
uint64_t ps_pacing_confirmed (const ps_pacing_t *self);

/*  When (ms, caller's clock) the next flush may go, SENT frames being
    sent so far: after the flush interval, and while the last flush is not
    confirmed, PS_PACING_CONFIRM_MS after it. */
int64_t ps_pacing_due (const ps_pacing_t *self, uint64_t sent);

/*  True when a flush may go at NOW: changes are PENDING, it is due, and
    no frame is QUEUED in the outbox. */
bool ps_pacing_may_flush (const ps_pacing_t *self, int64_t now, uint64_t sent, bool pending,
                          size_t queued);

/*  Records a flush that began at START and ended at END (ms). */
void ps_pacing_flushed (ps_pacing_t *self, int64_t start, int64_t end);

/*  Flushes recorded since creation. */
uint64_t ps_pacing_flushes (const ps_pacing_t *self);

/*  Shutdown begins at NOW: publish gets BOUND_MS to take and confirm
    what compute sent. */
void ps_pacing_stop (ps_pacing_t *self, int64_t now, long bound_ms);

/*  True when publish confirmed every one of the SENT frames and none is
    QUEUED in the outbox. */
bool ps_pacing_settled (const ps_pacing_t *self, uint64_t sent, size_t queued);

/*  After ps_pacing_stop: how many ms compute may still wait at NOW for
    publish, or -1 when it is done waiting (settled, or the bound passed). */
long ps_pacing_stop_wait (const ps_pacing_t *self, int64_t now, uint64_t sent, size_t queued);

#endif
