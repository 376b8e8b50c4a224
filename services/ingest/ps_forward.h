/*  ps_forward: the pump from ingest's journal towards compute, without
    sockets.

    It says hello when ps_delivery says one is due, streams the committed
    entries ps_delivery lets through (the window beyond compute's
    position), and takes compute's answers: positions (which move the
    window, let the journal delete checkpointed entries, and may ask for a
    resend or report a refused entry) and refusals of the whole journal.
    Sending goes through the caller's SEND function, which must never
    wait: when it reports the link full (EAGAIN) the pump stops until the
    caller, having polled for writability, calls ps_forward_writable.
    An entry too large for compute to take (written by a build that
    accepted more) is never sent: delivery is stuck there, loudly. */

#ifndef PS_FORWARD_H_INCLUDED
#define PS_FORWARD_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_delivery.h"
#include "ps_journal.h"

typedef struct ps_forward_t ps_forward_t;

/*  Hands one frame of SIZE bytes to compute without waiting. Returns 0,
    or -1 with errno set (EAGAIN: the link is full). */
typedef int (ps_forward_send_fn) (void *arg, const void *data, size_t size);

/*  The journal's open group was just aborted (compute knows entries
    this journal lost, so uncommitted ones must be renumbered): the caller
    must answer the batches it held with REASON (retry_later). */
typedef void (ps_forward_dropped_fn) (void *arg, const char *reason);

typedef struct {
    const char *ingest; /* instance id, in hellos and logs */
    uint32_t window;    /* entries in flight beyond compute's applied, >= 1 */
    int sync_ms;        /* silence from compute before the next hello, >= 1 */
    size_t max_entry;   /* largest entry compute takes (PS_MAX_ENTRY) */
} ps_forward_config_t;

/*  Creates the pump over JOURNAL (not owned), sending with SEND and
    reporting dropped groups to DROPPED, both called with ARG. A hello is
    due at once. Returns NULL when out of memory. */
ps_forward_t *ps_forward_new (const ps_forward_config_t *config, ps_journal_t *journal,
                              ps_forward_send_fn *send, ps_forward_dropped_fn *dropped, void *arg);

/*  Destroys it and sets *SELF_P to NULL; NULL-safe. */
void ps_forward_destroy (ps_forward_t **self_p);

/*  At NOW_MS: says hello when one is due, then sends the committed
    entries compute may take now, until the window is full, every
    committed entry is sent or the link is full. Journal read errors are
    logged; they are retried at the next call. */
void ps_forward_pump (ps_forward_t *self, int64_t now_ms);

/*  Milliseconds from NOW_MS until ps_forward_pump has work of its own
    (the next hello); new commits and answers from compute aside. */
int64_t ps_forward_wait (const ps_forward_t *self, int64_t now_ms);

/*  True while the link is full: poll it for writability, then call
    ps_forward_writable. */
bool ps_forward_blocked (const ps_forward_t *self);
void ps_forward_writable (ps_forward_t *self);

/*  Takes one frame of SIZE bytes from compute at NOW_MS; MORE says it
    was part of a multipart message (ignored, throttled warning). A
    malformed frame or another journal's position is logged and changes
    nothing. Never fails. */
void ps_forward_receive (ps_forward_t *self, const void *data, size_t size, bool more,
                         int64_t now_ms);

/*  True when compute has applied every committed entry: nothing is left
    for a drain to wait for. */
bool ps_forward_drained (const ps_forward_t *self);

/*  Where compute stands (positions, refusals), for metrics and
    readiness. */
const ps_delivery_t *ps_forward_delivery (const ps_forward_t *self);

#endif
