/*  ps_feedsub: one benchmark subscriber, reading the whole feed in a
    thread of its own.

    It counts every message and its bytes, counts gaps in the feed's
    numbering, and watches three kinds of marker the load generator plants:
    - WARM t: the subscription is live (or a barrier has been passed);
    - END t:  the final state is on the feed; the run is over;
    - LAT v:  a latency probe whose value is the producer's send time.
    On paystat's feed the markers are day cells "WARM<nonce>/<day>/",
    "END<nonce>/<day>/" and "LAT/2000-01-01/" whose count carries the
    token (the wall clock) or the send time; on the ceiling's feed they are
    ps_ceiling headers. */

#ifndef PS_FEEDSUB_H_INCLUDED
#define PS_FEEDSUB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exact topic of paystat's latency probe cell, and its source. */
#define PS_FEEDSUB_LAT_TOPIC  "LAT/2000-01-01/"
#define PS_FEEDSUB_LAT_SOURCE "LAT"
/* Marker cells' sources start with these (then a run's nonce). */
#define PS_FEEDSUB_WARM_SOURCE "WARM"
#define PS_FEEDSUB_END_SOURCE  "END"

/* One receipt of a latency probe: when, and the send time it carried. */
typedef struct {
    int64_t recv_us;
    int64_t sent_us;
} ps_feedsub_sample_t;

typedef struct {
    uint64_t messages;    /* feed messages, heartbeats excluded */
    uint64_t topic_bytes; /* their topic frames */
    uint64_t body_bytes;  /* their body frames */
    uint64_t gaps;        /* messages missing from the numbering */
} ps_feedsub_stats_t;

typedef struct ps_feedsub_t ps_feedsub_t;

/*  Connects a SUB socket in CTX to ENDPOINT, subscribed to everything, and
    starts reading in a new thread. CEILING selects the ceiling's feed;
    RECORD keeps every latency probe received. Returns NULL when the socket
    or the thread cannot be created. */
ps_feedsub_t *ps_feedsub_new (void *ctx, const char *endpoint, bool ceiling, bool record);

/*  Stops the thread, closes the socket, frees everything and sets *SELF_P
    to NULL; NULL-safe. */
void ps_feedsub_destroy (ps_feedsub_t **self_p);

/*  Highest WARM token seen (0 for none). */
uint64_t ps_feedsub_warm (const ps_feedsub_t *self);

/*  Highest END token seen (0 for none); *WHEN_US receives ps_clock_us at
    its receipt. */
uint64_t ps_feedsub_end (const ps_feedsub_t *self, int64_t *when_us);

/*  Send time carried by the latest latency probe seen (0 for none). */
int64_t ps_feedsub_latest (const ps_feedsub_t *self);

/*  Stops reading (the thread ends); counters and samples stay readable. */
void ps_feedsub_stop (ps_feedsub_t *self);

/*  Counters; call after ps_feedsub_stop. */
void ps_feedsub_stats (const ps_feedsub_t *self, ps_feedsub_stats_t *stats);

/*  The probes received, in order of receipt; call after ps_feedsub_stop. */
const ps_feedsub_sample_t *ps_feedsub_samples (const ps_feedsub_t *self, size_t *n);

#endif
