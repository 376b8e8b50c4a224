/*  ps_slots: who may hold one of publish's snapshot sessions, and for how
    long. Socket-free: ps_snapshot keeps one ps_slot_t in each session and
    asks these functions what to do.

    A session is the reply to one client (a ROUTER routing identity) in
    progress. Without limits, 64 clients that ask for a big snapshot and
    never read hold every session forever (the reply waits for them at
    the socket's high-water mark), and every later request is answered
    retry_later. So:

    - one session per routing identity: a new request replaces it;
    - at most PER_PEER sessions per peer address (ZeroMQ's "Peer-Address"
      message property: the peer's IP address), so one host opening many
      connections leaves room for the others;
    - a session that has not got on by PROGRESS steps (cache entries or
      ring messages looked at) within TIMEOUT_MS is stalled: ps_snapshot
      drops it, and its slot serves someone else. A client reading at all
      goes thousands of steps a second. */

#ifndef PS_SLOTS_H_INCLUDED
#define PS_SLOTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PS_SLOT_ID_MAX   255 /* ZeroMQ routing ids are at most 255 bytes */
#define PS_SLOT_PEER_MAX 64  /* an IPv6 address and then some */

typedef struct {
    size_t max;         /* sessions at once */
    size_t per_peer;    /* sessions of one peer address at once */
    int64_t timeout_ms; /* longest time without PROGRESS steps */
    uint64_t progress;  /* steps that count as getting on */
} ps_slots_limits_t;

/* One session's holder and its progress. */
typedef struct {
    uint8_t id[PS_SLOT_ID_MAX];
    size_t id_len;
    char peer[PS_SLOT_PEER_MAX]; /* "" when unknown (not TCP) */
    int64_t mark_ms;             /* when it last got on */
    uint64_t mark_steps;         /* its steps then */
} ps_slot_t;

typedef enum {
    PS_SLOTS_NEW = 0, /* a free slot: *INDEX is N, the caller adds it */
    PS_SLOTS_REPLACE, /* the client's own session, to be restarted */
    PS_SLOTS_BUSY,    /* every slot is taken */
    PS_SLOTS_PEER     /* its address holds PER_PEER slots already */
} ps_slots_verdict_t;

/*  Where a request from routing identity ID (ID_LEN bytes, at most
    PS_SLOT_ID_MAX) at address PEER goes among the N slots in use of
    SLOTS: PS_SLOTS_REPLACE or PS_SLOTS_NEW with *INDEX set, or a refusal
    (PS_SLOTS_BUSY, PS_SLOTS_PEER) with *INDEX untouched. An empty PEER is
    never limited per address. */
ps_slots_verdict_t ps_slots_admit (const ps_slot_t *slots, size_t n, const ps_slots_limits_t *limits,
                                   const uint8_t *id, size_t id_len, const char *peer,
                                   size_t *index);

/*  Fills SLOT for a session of ID at PEER starting at NOW_MS (PEER is
    cut to PS_SLOT_PEER_MAX - 1 bytes; ID_LEN at most PS_SLOT_ID_MAX). */
void ps_slot_start (ps_slot_t *slot, const uint8_t *id, size_t id_len, const char *peer,
                    int64_t now_ms);

/*  After a turn at NOW_MS that left the session at STEPS in all: true when
    it has not gone PROGRESS steps further within TIMEOUT_MS of its last
    mark (stalled: drop it). Moves the mark when it has. */
bool ps_slot_stalled (ps_slot_t *slot, uint64_t steps, int64_t now_ms,
                      const ps_slots_limits_t *limits);

/*  A refusal's reason, for the client: what to do about it. */
const char *ps_slots_reason (ps_slots_verdict_t verdict);

#endif
