/*  ps_heartbeats: when publish sends its heartbeats, and what they say.
    Every --heartbeat-ms, the feed gets the heartbeat of every prefix a
    subscriber watches (on "$hb/<prefix>", with the prefix's digest) and
    then the global one (on "$hb"), each with the epoch and the last seq
    published, so that a subscriber learns of a gap or a new epoch even
    when nothing else comes (PROTOCOL.md, "Heartbeats"). Socket-free: the
    caller says what time it is and sends the messages built here. */

#ifndef PS_HEARTBEATS_H_INCLUDED
#define PS_HEARTBEATS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_proto.h"

/* Bytes of the longest heartbeat topic: "$hb/" and a prefix. */
#define PS_HEARTBEATS_TOPIC_MAX (sizeof PS_TOPIC_HB_PREFIX + PS_TOPIC_MAX)

typedef struct ps_heartbeats_t ps_heartbeats_t;

/*  Creates the schedule of heartbeats INTERVAL_MS (> 0) apart, the first
    due at NOW (ms, ps_clock_ms). Returns NULL when out of memory. */
ps_heartbeats_t *ps_heartbeats_new (uint32_t interval_ms, int64_t now);

/*  Destroys it and sets *SELF_P to NULL; NULL-safe. */
void ps_heartbeats_destroy (ps_heartbeats_t **self_p);

/*  True when heartbeats are due at NOW; the next ones are then due one
    interval after NOW (a late round does not make the next one early). */
bool ps_heartbeats_due (ps_heartbeats_t *self, int64_t now);

/*  Milliseconds from NOW until heartbeats are due, 0 when they are. */
long ps_heartbeats_wait_ms (const ps_heartbeats_t *self, int64_t now);

/*  Builds the heartbeat of PREFIX (LEN bytes; NULL:
    the global one) whose digest is SUM, at EPOCH and SEQ: its topic into
    TOPIC (PS_HEARTBEATS_TOPIC_MAX bytes at least; *TOPIC_LEN set) and its
    body into BODY (cleared first). Returns 0, or -1 when LEN is over
    PS_TOPIC_MAX or out of memory. */
int ps_heartbeats_build (const ps_heartbeats_t *self, uint64_t epoch, uint64_t seq,
                         const char *prefix, size_t len, uint64_t sum, char *topic,
                         size_t *topic_len, msgpack_sbuffer *body);

#endif
