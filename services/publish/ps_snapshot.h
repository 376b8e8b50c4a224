/*  ps_snapshot: publish's snapshot socket (ROUTER), which lets a
    subscriber that joins late, fell behind or lost its connection rebuild
    exactly the current state (the Clone pattern of the ZeroMQ Guide).

    A DEALER sends one request frame (PROTOCOL.md, "Snapshots"); the reply
    is a stream of ordinary feed messages [topic, body] followed by an end
    marker [PS_TOPIC_SNAPSHOT, end]: either the latest message of every
    topic starting with the prefix (a snapshot: tombstones of removed
    topics included) or every message after a given seq (a replay, from
    ps_ring). The end marker carries the seq the reply reflects.

    Replies are served a chunk per session per loop turn, so a huge
    snapshot neither blocks publish nor buffers without bound: the socket
    is ZMQ_ROUTER_MANDATORY, a session whose peer's queue is full (its
    high-water mark) waits for the next turn, and one whose peer has gone
    is dropped. A new request from the same peer replaces its session.
    Who may hold a session, and for how long, is ps_slots': one per client,
    a few per peer address, and a session whose client has not read for a
    while is dropped so that its slot serves someone else. */

#ifndef PS_SNAPSHOT_H_INCLUDED
#define PS_SNAPSHOT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_lvc.h"
#include "ps_ring.h"
#include "ps_slots.h"

/* Messages sent per session per turn, and cache entries looked at. */
#define PS_SNAPSHOT_CHUNK 512
#define PS_SNAPSHOT_SCAN  65536

/* What replies are served from: publish's state at the time of the call. */
typedef struct {
    const ps_lvc_t *lvc;
    const ps_ring_t *ring;
    uint64_t epoch;
    uint64_t seq; /* latest seq published */
} ps_snapshot_src_t;

typedef struct ps_snapshot_t ps_snapshot_t;

/*  Serves requests arriving on SOCK (a bound ROUTER, not owned) within
    LIMITS (ps_slots: more are refused with retry_later, stalled ones
    dropped). Returns NULL when out of memory or when SOCK refuses
    ZMQ_ROUTER_MANDATORY. */
ps_snapshot_t *ps_snapshot_new (void *sock, const ps_slots_limits_t *limits);

/*  Destroys the server and sets *SELF_P to NULL; NULL-safe. Sessions in
    progress are abandoned. */
void ps_snapshot_destroy (ps_snapshot_t **self_p);

/*  Reads one request waiting on the socket and starts its session, or
    answers it with a refusal when it is malformed (logged). Returns 0 when
    a message was read, -1 when none was waiting. */
int ps_snapshot_accept (ps_snapshot_t *self, const ps_snapshot_src_t *src);

/*  Sends the next chunk of every session, ends those that are done and
    drops those stalled at NOW_MS (a monotonic clock; logged, counted).
    Returns the number of sessions still in progress; *BLOCKED is true when
    every one of them is waiting for its peer to read. */
size_t ps_snapshot_serve (ps_snapshot_t *self, const ps_snapshot_src_t *src, int64_t now_ms,
                          bool *blocked);

/*  Requests served to the end so far. */
uint64_t ps_snapshot_served (const ps_snapshot_t *self);

/*  Sessions dropped because their client did not read. */
uint64_t ps_snapshot_stalled (const ps_snapshot_t *self);

/*  Requests refused for VERDICT (PS_SLOTS_BUSY or PS_SLOTS_PEER). */
uint64_t ps_snapshot_refused (const ps_snapshot_t *self, ps_slots_verdict_t verdict);

#endif
