/*  ps_feedsub: a benchmark subscriber in its own thread; see ps_feedsub.h. */

#include "ps_feedsub.h"
#include "ps_ceiling.h"
#include "ps_clock.h"
#include "ps_proto.h"
#include "ps_sock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* As deep as paystat's feed queue, so the subscriber side drops no earlier. */
#define S_RCVHWM 100000

struct ps_feedsub_t {
    void *sock;
    bool ceiling;
    bool record;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    _Atomic uint64_t warm;
    _Atomic uint64_t end;
    _Atomic int64_t end_us;
    _Atomic int64_t latest; /* probe value seen last */
    ps_feedsub_stats_t stats;
    uint64_t last_seq; /* feed numbering seen last */
    ps_feedsub_sample_t *samples;
    size_t nsamples;
    size_t samples_cap;
    int64_t last_probe; /* value of the probe recorded last */
    msgpack_zone *zone;
};

static void s_probe (ps_feedsub_t *self, int64_t sent_us, int64_t now)
{
    if (sent_us > atomic_load (&self->latest))
        atomic_store (&self->latest, sent_us);
    if (!self->record || sent_us == self->last_probe)
        return;
    if (self->nsamples == self->samples_cap) {
        size_t cap = self->samples_cap ? self->samples_cap * 2 : 4096;
        ps_feedsub_sample_t *grown = realloc (self->samples, cap * sizeof *grown);
        if (!grown)
            return;
        self->samples = grown;
        self->samples_cap = cap;
    }
    self->samples[self->nsamples++] = (ps_feedsub_sample_t){now, sent_us};
    self->last_probe = sent_us;
}

static void s_numbered (ps_feedsub_t *self, uint64_t seq)
{
    if (self->last_seq && seq > self->last_seq + 1)
        self->stats.gaps += seq - self->last_seq - 1;
    self->last_seq = seq;
}

static void s_raise (_Atomic uint64_t *value, uint64_t seen)
{
    if (seen > atomic_load (value))
        atomic_store (value, seen);
}

static void s_on_ceiling (ps_feedsub_t *self, const void *body, size_t size, int64_t now)
{
    ps_ceiling_hdr_t hdr;
    if (ps_ceiling_read (body, size, &hdr) != 0)
        return;
    s_numbered (self, hdr.msgseq);
    if (hdr.kind == PS_CEILING_DATA)
        s_probe (self, hdr.sent_us, now);
    else if (hdr.kind == PS_CEILING_WARM)
        s_raise (&self->warm, hdr.token);
    else if (hdr.kind == PS_CEILING_END && hdr.token > atomic_load (&self->end)) {
        atomic_store (&self->end_us, now);
        atomic_store (&self->end, hdr.token);
    }
}

/*  Reads the feed's "seq", which publish splices in right after "v" (and
    which this reads without decoding the body). Returns 0 when absent. */
static uint64_t s_feed_seq (const uint8_t *p, size_t size)
{
    size_t at = p[0] >= 0x80 && p[0] <= 0x8f ? 1 : p[0] == 0xde ? 3 : p[0] == 0xdf ? 5 : size;
    if (at + 7 > size || memcmp (p + at, "\xa1v\x01\xa3seq", 7) != 0)
        return 0;
    at += 7;
    uint8_t b = p[at];
    int len = b < 0x80 ? 0 : b == 0xcc ? 1 : b == 0xcd ? 2 : b == 0xce ? 4 : b == 0xcf ? 8 : -1;
    if (len < 0 || at + 1 + (size_t) len > size)
        return 0;
    if (len == 0)
        return b;
    uint64_t v = 0;
    for (int i = 1; i <= len; i++)
        v = v << 8 | p[at + i];
    return v;
}

/* The count of a marker cell's message, or -1. */
static int64_t s_count (ps_feedsub_t *self, const void *body, size_t size)
{
    msgpack_object obj;
    size_t off = 0;
    msgpack_zone_clear (self->zone);
    if (msgpack_unpack (body, size, &off, self->zone, &obj) != MSGPACK_UNPACK_SUCCESS)
        return -1;
    const msgpack_object *count = ps_msgpack_map_get (&obj, "count");
    if (!count || count->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    return (int64_t) count->via.u64;
}

/* True for a day cell "<PREFIX><nonce>/YYYY-MM-DD/" (no dims). */
static bool s_is_day_marker (const char *topic, size_t len, const char *prefix)
{
    size_t n = strlen (prefix);
    const char *slash = memchr (topic, '/', len);
    return len > n && memcmp (topic, prefix, n) == 0 && slash && topic + len - slash == 12;
}

static void s_on_paystat (ps_feedsub_t *self, const char *topic, size_t topic_len, const void *body,
                          size_t size, int64_t now)
{
    s_numbered (self, s_feed_seq (body, size));
    if (topic_len < 4 || !memchr ("LEW", topic[0], 3))
        return;
    int64_t v;
    if (topic_len == strlen (PS_FEEDSUB_LAT_TOPIC) &&
        memcmp (topic, PS_FEEDSUB_LAT_TOPIC, topic_len) == 0) {
        if ((v = s_count (self, body, size)) >= 0)
            s_probe (self, v, now);
    } else if (s_is_day_marker (topic, topic_len, PS_FEEDSUB_WARM_SOURCE)) {
        if ((v = s_count (self, body, size)) > 0)
            s_raise (&self->warm, (uint64_t) v);
    } else if (s_is_day_marker (topic, topic_len, PS_FEEDSUB_END_SOURCE)) {
        if ((v = s_count (self, body, size)) > 0 && (uint64_t) v > atomic_load (&self->end)) {
            atomic_store (&self->end_us, now);
            atomic_store (&self->end, (uint64_t) v);
        }
    }
}

static void *s_run (void *arg)
{
    ps_feedsub_t *self = arg;
    zmq_msg_t topic, body;
    zmq_msg_init (&topic);
    zmq_msg_init (&body);
    while (!atomic_load (&self->stop)) {
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 50) <= 0)
            continue;
        while (zmq_msg_recv (&topic, self->sock, ZMQ_DONTWAIT) >= 0) {
            if (!zmq_msg_more (&topic) || zmq_msg_recv (&body, self->sock, 0) < 0)
                continue;
            const char *t = zmq_msg_data (&topic);
            size_t tlen = zmq_msg_size (&topic);
            if (tlen == 3 && memcmp (t, PS_TOPIC_HEARTBEAT, 3) == 0)
                continue;
            int64_t now = ps_clock_us ();
            self->stats.messages++;
            self->stats.topic_bytes += tlen;
            self->stats.body_bytes += zmq_msg_size (&body);
            if (self->ceiling)
                s_on_ceiling (self, zmq_msg_data (&body), zmq_msg_size (&body), now);
            else if (zmq_msg_size (&body) > 0)
                s_on_paystat (self, t, tlen, zmq_msg_data (&body), zmq_msg_size (&body), now);
        }
    }
    zmq_msg_close (&topic);
    zmq_msg_close (&body);
    return NULL;
}

ps_feedsub_t *ps_feedsub_new (void *ctx, const char *endpoint, bool ceiling, bool record)
{
    ps_feedsub_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ceiling = ceiling;
    self->record = record;
    self->last_probe = -1;
    self->zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE);
    ps_sock_opts_t opts = {.hwm = S_RCVHWM, .maxmsgsize = -1, .linger_ms = 0};
    self->sock = ps_sock_new (ctx, ZMQ_SUB, endpoint, false, &opts);
    if (!self->zone || !self->sock || zmq_setsockopt (self->sock, ZMQ_SUBSCRIBE, "", 0) != 0 ||
        pthread_create (&self->thread, NULL, s_run, self) != 0)
        goto err;
    self->started = true;
    return self;
err:
    ps_feedsub_destroy (&self);
    return NULL;
}

void ps_feedsub_stop (ps_feedsub_t *self)
{
    if (!self->started)
        return;
    atomic_store (&self->stop, true);
    pthread_join (self->thread, NULL);
    self->started = false;
}

void ps_feedsub_destroy (ps_feedsub_t **self_p)
{
    ps_feedsub_t *self = *self_p;
    if (!self)
        return;
    ps_feedsub_stop (self);
    ps_sock_destroy (&self->sock);
    if (self->zone)
        msgpack_zone_free (self->zone);
    free (self->samples);
    free (self);
    *self_p = NULL;
}

uint64_t ps_feedsub_warm (const ps_feedsub_t *self)
{
    return atomic_load (&self->warm);
}

uint64_t ps_feedsub_end (const ps_feedsub_t *self, int64_t *when_us)
{
    uint64_t end = atomic_load (&self->end);
    *when_us = atomic_load (&self->end_us);
    return end;
}

int64_t ps_feedsub_latest (const ps_feedsub_t *self)
{
    return atomic_load (&self->latest);
}

void ps_feedsub_stats (const ps_feedsub_t *self, ps_feedsub_stats_t *stats)
{
    *stats = self->stats;
}

const ps_feedsub_sample_t *ps_feedsub_samples (const ps_feedsub_t *self, size_t *n)
{
    *n = self->nsamples;
    return self->samples;
}
