/*  ps_feed: what carries indicators towards subscribers: compute's update
    frames to publish, the numbered feed message body publish sends on each
    topic, its heartbeats (global and per prefix) and the subscriber's
    reading of a body's numbering (PROTOCOL.md, "Update", "Feed"). */

#ifndef PS_FEED_H_INCLUDED
#define PS_FEED_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ps_error.h"
#include "ps_limits.h"

/*  One changed topic in an update: TOPIC and BODY point into the decoded
    frame (valid while the frame is). BODY is one complete MessagePack map
    of indicator fields (PROTOCOL.md, "Cell message"); BODY_LEN 0 means the
    topic was removed. */
typedef struct {
    const char *topic;
    size_t topic_len;
    const uint8_t *body;
    size_t body_len;
} ps_update_item_t;

/*  Appends an update frame {v, type:"update", epoch, useq, items:[[topic,
    body]...]} holding N items to OUT. EPOCH names the compute instance,
    USEQ numbers its update frames 1, 2, 3, ... so publish can confirm how
    far it got. Returns 0 or -1 when out of memory. */
int ps_feed_update_encode (uint64_t epoch, uint64_t useq, const ps_update_item_t *items, size_t n,
                           msgpack_sbuffer *out);

/*  Strictly decodes an update frame. On success returns 0, sets *EPOCH and
    *N, and points *ITEMS at an array (grown in *ITEMS / *CAPACITY with
    realloc; the caller frees it) whose pointers refer into DATA. Every item's
    topic is checked against the topic grammar and every body must be one
    well-formed map. Also sets *USEQ. Returns -1 with *ERR otherwise. */
int ps_feed_update_decode (const void *data, size_t size, uint64_t *epoch, uint64_t *useq,
                           ps_update_item_t **items, size_t *n, size_t *capacity, ps_error_t *err);

/* Most bytes ps_feed_body adds to FIELDS: a map header grown to map32 and
   the four numbering fields with 64-bit values. */
#define PS_FEED_NUMBERING_MAX 56

/*  Builds a feed message body into OUT (cleared first): the map FIELDS
    (one complete MessagePack map, e.g. an update item's body) with "v",
    "seq", "prev" and "epoch" added in front. Returns 0, or -1 when FIELDS
    is not a map or out of memory. */
int ps_feed_body (uint64_t seq, uint64_t prev, uint64_t epoch, const uint8_t *fields,
                  size_t fields_len, msgpack_sbuffer *out);

/*  Builds a heartbeat body {v, type:"hb", epoch, seq, interval_ms} into OUT
    (cleared first). Returns 0 or -1. */
int ps_feed_heartbeat_body (uint64_t epoch, uint64_t seq, uint32_t interval_ms,
                            msgpack_sbuffer *out);

/* Topic of heartbeats; no cell topic can start with '$'. */
#define PS_TOPIC_HEARTBEAT "$hb"

/*  Reads the numbering of a feed message BODY (SIZE bytes; untrusted):
    seq (>= 1), prev (< seq), epoch and whether it is a removal
    ({"type": "removed"}). Returns 0, or -1 with *ERR. */
typedef struct {
    uint64_t seq;
    uint64_t prev;
    uint64_t epoch;
    bool removed;
} ps_feed_header_t;
int ps_feed_header_decode (ps_feed_header_t *hdr, const void *body, size_t size, ps_error_t *err);

/*  A heartbeat: the global one on "$hb", or the one of a topic prefix on
    "$hb/<prefix>", sent to whoever subscribes to that topic. A prefix
    heartbeat carries the prefix's digest SUM: the sum, modulo 2^63, of
    the seq of the latest message of every topic starting with the prefix
    (removed topics included), so that a subscriber holding the same
    latest messages computes the same sum (PROTOCOL.md, "Gap detection"). */
typedef struct {
    uint64_t epoch;
    uint64_t seq; /* latest seq published */
    uint32_t interval_ms;
    bool has_prefix;
    char prefix[PS_TOPIC_MAX + 1];
    size_t prefix_len;
    uint64_t sum;
} ps_heartbeat_t;

/* Topic prefix of prefix heartbeats. */
#define PS_TOPIC_HB_PREFIX "$hb/"
/* Digests are sums modulo 2^63, so that they stay valid wire integers. */
#define PS_DIGEST_MASK ((uint64_t) INT64_MAX)

/*  Builds HB's body into OUT (cleared first): {v, type:"hb", epoch, seq,
    interval_ms} and, for a prefix heartbeat, prefix and sum. Returns 0
    or -1 when out of memory. */
int ps_feed_heartbeat_encode (const ps_heartbeat_t *hb, msgpack_sbuffer *out);

/*  Strictly decodes a heartbeat body. Returns 0, or -1 with *ERR. */
int ps_feed_heartbeat_decode (ps_heartbeat_t *hb, const void *body, size_t size, ps_error_t *err);

#endif
