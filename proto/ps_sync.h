/*  ps_sync: the messages that bring a receiver's copy of the indicators up
    to date: a subscriber's, over publish's snapshot socket (the request,
    the end marker of a snapshot or replay, a refusal), and publish's own
    cache, which it asks compute to fill again (resend). */

#ifndef PS_SYNC_H_INCLUDED
#define PS_SYNC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ps_error.h"
#include "ps_limits.h"

/* ---- Snapshots and replay (subscriber <-> publish's snapshot socket) ---- */

/* Topic frame of publish's own replies: the end marker and refusals. */
#define PS_TOPIC_SNAPSHOT "$snapshot"

/*  A request: the latest message of every topic starting with PREFIX, or,
    with HAS_SINCE, every message after seq SINCE of epoch EPOCH on those
    topics when publish still retains them all (else a snapshot). */
typedef struct {
    char prefix[PS_TOPIC_MAX + 1];
    size_t prefix_len;
    bool has_since;
    uint64_t since;
    uint64_t epoch;
} ps_snapshot_req_t;

/*  Appends the request frame {v, type:"snapshot", prefix, [since, epoch]}
    to OUT. Returns 0 or -1 when out of memory. */
int ps_sync_req_encode (const ps_snapshot_req_t *req, msgpack_sbuffer *out);

/*  Strictly decodes a request. Returns 0, or -1 with *ERR (field "prefix",
    "since", "epoch" or a header field). */
int ps_sync_req_decode (ps_snapshot_req_t *req, const void *data, size_t size, ps_error_t *err);

typedef enum { PS_SYNC_SNAPSHOT = 0, PS_SYNC_REPLAY = 1 } ps_sync_mode_t;
/* Returns the wire name of MODE; any value that is not replay reads as "snapshot". */
const char *ps_sync_mode_name (ps_sync_mode_t mode);

/*  The marker that ends a reply: what the messages before it were (MODE),
    the EPOCH and the SEQ they reflect, and how many there were. */
typedef struct {
    ps_sync_mode_t mode;
    uint64_t epoch;
    uint64_t seq;
    uint64_t count;
} ps_snapshot_end_t;

/*  Appends {v, type:"end", mode, epoch, seq, count} to OUT. 0 or -1. */
int ps_sync_end_encode (const ps_snapshot_end_t *end, msgpack_sbuffer *out);

/*  Strictly decodes a body on topic PS_TOPIC_SNAPSHOT. Returns 0 with the
    marker in *END, 1 with *REFUSAL (the request was refused), or -1 with
    *ERR. */
int ps_sync_end_decode (ps_snapshot_end_t *end, ps_error_t *refusal, const void *data, size_t size,
                        ps_error_t *err);

/* ---- Resend (publish -> compute) ---------------------------------------- */

/*  Publish asks compute for the complete current message of every topic
    (it has just started and its cache is empty): {"v":1, "type":"resend",
    "epoch": publish's epoch}. Appends to OUT; returns 0 or -1. */
int ps_sync_resend_encode (uint64_t epoch, msgpack_sbuffer *out);

/*  Strictly decodes a resend frame into *EPOCH. Returns 0, or -1 with *ERR. */
int ps_sync_resend_decode (const void *data, size_t size, uint64_t *epoch, ps_error_t *err);

#endif
