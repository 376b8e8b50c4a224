/*  ps_loadgen: drives paystat (or the ceiling chain) with the benchmark's
    key mix and prints what it measured, one key=value per line.

    Batches are encoded before the clock starts (the producer should cost
    the pipeline as little CPU as possible, since all share two cores);
    sending only patches each batch's seq and its latency probe, the
    batch's last report, which sets cell LAT/2000-01-01 to the send time.
    Up to --window batches are in flight; acks are awaited; retry_later
    answers are resent in order after a pause.

    A run: subscribers connect and a WARM marker proves the feed reaches
    them; an optional prefill pass reports every leaf of the key mix once
    (with a WARM barrier every --barrier batches, so compute never holds a
    deep queue), then waits for a line on stdin when --pause is given (the
    driver samples memory then); the timed pass sends --reports reports at
    --rate (0: as fast as acks allow); a final END marker, sent once every
    timed batch is acknowledged, ends the run when every subscriber has
    seen it. */

#include "ps_ceiling.h"
#include "ps_clock.h"
#include "ps_config.h"
#include "ps_feedsub.h"
#include "ps_keymix.h"
#include "ps_log.h"
#include "ps_proto.h"
#include "ps_signal.h"
#include "ps_sock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* Distinct timed batches encoded at most; a longer run cycles through them. */
#define S_POOL_REPORTS 600000
#define S_MAX_SUBS     64
/* How long a marker may take to reach every subscriber before it is sent
   again, and before the run is declared failed. */
#define S_MARKER_RESEND_MS 2000
#define S_MARKER_GIVEUP_MS 30000
/* How long batches may wait for any ack before the run is declared failed. */
#define S_ACK_GIVEUP_MS 60000

/* A batch frame and where its seq and probe value sit (0: none). */
typedef struct {
    char *data;
    size_t size;
    size_t seq_at;
    size_t probe_at;
    uint32_t n;
    ps_ceiling_kind_t kind;
    uint64_t token; /* WARM and END: their marker */
} s_frame_t;

typedef enum { S_FREE = 0, S_INFLIGHT, S_BACKOFF } s_state_t;

typedef struct {
    s_state_t state;
    s_frame_t *frame;
    uint64_t seq;
    int64_t due_us;
} s_slot_t;

typedef struct {
    bool ceiling;
    char producer[PS_ID_MAX + 1];
    uint32_t window;
    void *sock;
    s_slot_t *slots;
    uint64_t next_seq;
    int busy_rounds; /* retry_later answers in a row */
    ps_feedsub_t *subs[S_MAX_SUBS];
    int nsubs;
    /* Counters of the timed pass. */
    bool timing;
    uint64_t sent, accepted, rejected, lost, retries, acks, ack_bytes;
    int64_t last_ack_us;
    int64_t heard_us; /* when ingest last answered anything */
    int64_t *probes;  /* send time of each timed batch */
    size_t nprobes;
    size_t reflected; /* timed batches every subscriber has seen the effect of */
    uint32_t lag;     /* timed batches sent but not reflected, at most (0: no bound) */
    /* Markers: their sources are new for each run ("WARM<nonce>"), their
       tokens the wall clock, so that no cell of an earlier run on the
       same pipeline can pass for one of this run. */
    char warm_source[PS_SOURCE_MAX + 1];
    char end_source[PS_SOURCE_MAX + 1];
    uint64_t token;
    uint32_t markers;
} s_gen_t;

/* ---- Encoding ----------------------------------------------------------- */

static void s_pack_cstr (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body (pk, s, strlen (s));
}

static void s_patch_u64 (char *at, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        at[1 + i] = (char) (v >> (56 - 8 * i));
}

/* Writes V as a uint64 in its 9-byte form, so that it can be patched in
   place; returns its offset. */
static size_t s_pack_u64_fixed (msgpack_sbuffer *sb, uint64_t v)
{
    size_t at = sb->size;
    char raw[9] = {(char) 0xcf};
    msgpack_sbuffer_write (sb, raw, 9);
    s_patch_u64 (sb->data + at, v);
    return at;
}

/* Encodes a batch of the N reports [FIRST, FIRST + N) of MIX (none when
   MIX is NULL), then, for DATA batches, the probe; for WARM/END, the
   marker report: SOURCE's cell at day DAY (from 2001-01-01) set to TOKEN. */
static int s_encode (s_frame_t *f, const char *producer, const ps_keymix_t *mix, uint64_t first,
                     uint32_t n, ps_ceiling_kind_t kind, const char *source, uint32_t day_index,
                     uint64_t token)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    s_pack_cstr (&pk, "v");
    msgpack_pack_uint8 (&pk, 1);
    s_pack_cstr (&pk, "type");
    s_pack_cstr (&pk, "batch");
    s_pack_cstr (&pk, "producer");
    s_pack_cstr (&pk, producer);
    s_pack_cstr (&pk, "seq");
    f->seq_at = s_pack_u64_fixed (&sb, 1);
    s_pack_cstr (&pk, "reports");
    msgpack_pack_array (&pk, n + 1);
    for (uint32_t i = 0; i < n; i++) {
        ps_report_t r;
        ps_keymix_report (mix, first + i, &r);
        ps_batch_report_pack (&pk, &r);
    }
    /* The probe or marker: a day cell whose count is set to a time or
       token. A marker is a new cell each time, so compute publishes it
       last in its flush (days last, newest cells last). */
    ps_period_t day = {2000, PS_GRAN_DAY, 1, 1};
    if (kind != PS_CEILING_DATA) {
        day.year = 2001;
        for (uint32_t t = 0; t < day_index; t++)
            ps_period_next (&day, &day);
    }
    char period[PS_PERIOD_STRLEN];
    msgpack_pack_map (&pk, 4);
    s_pack_cstr (&pk, "source");
    s_pack_cstr (&pk, kind == PS_CEILING_DATA ? PS_FEEDSUB_LAT_SOURCE : source);
    s_pack_cstr (&pk, "period");
    msgpack_pack_str_with_body (&pk, period, ps_period_format (&day, period));
    s_pack_cstr (&pk, "count");
    f->probe_at = s_pack_u64_fixed (&sb, token);
    s_pack_cstr (&pk, "op");
    s_pack_cstr (&pk, "set");
    f->n = n + 1;
    f->kind = kind;
    f->token = token;
    f->size = sb.size;
    f->data = msgpack_sbuffer_release (&sb);
    return f->data && f->size >= PS_CEILING_HDR ? 0 : -1;
}

/*  Encodes NBATCHES batches of BATCH reports (the probe included) from
    report FIRST on. Returns the array, or NULL when out of memory. */
static s_frame_t *s_encode_stream (const char *producer, const ps_keymix_t *mix, uint64_t first,
                                   uint64_t nreports, uint32_t batch, size_t *nbatches)
{
    size_t n = (size_t) ((nreports + batch - 2) / (batch - 1));
    s_frame_t *frames = calloc (n ? n : 1, sizeof *frames);
    if (!frames)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t at = first + i * (batch - 1);
        uint64_t left = first + nreports - at;
        uint32_t size = left < batch - 1 ? (uint32_t) left : batch - 1;
        if (s_encode (&frames[i], producer, mix, at, size, PS_CEILING_DATA, NULL, 0, 0) != 0)
            return NULL;
    }
    *nbatches = n;
    return frames;
}

/*  What ingest would forward and answer for a typical batch FRAME: sizes
    for the ceiling's hops, computed with paystat's own encoders. */
static void s_paystat_sizes (const s_frame_t *frame, size_t *fwd, size_t *ack)
{
    ps_batch_t *b = ps_batch_new ();
    ps_error_t err;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    *fwd = *ack = 0;
    if (b && ps_batch_decode (b, frame->data, frame->size, false, &err) == 0) {
        snprintf (b->ingest, sizeof b->ingest, "ingest-1");
        b->jseq = 100000;
        if (ps_batch_encode (b, true, &sb) == 0)
            *fwd = sb.size;
        msgpack_sbuffer_clear (&sb);
        if (ps_ack_encode (b, PS_ACK_OK, NULL, &sb) == 0)
            *ack = sb.size;
    }
    msgpack_sbuffer_destroy (&sb);
    ps_batch_destroy (&b);
}

/* ---- Sending and acks --------------------------------------------------- */

static int s_transmit (s_gen_t *self, s_slot_t *slot)
{
    s_frame_t *f = slot->frame;
    int64_t now = ps_clock_us ();
    if (self->ceiling) {
        ps_ceiling_hdr_t hdr = {f->kind, f->n, f->kind == PS_CEILING_DATA ? slot->seq : f->token,
                                now, 0};
        ps_ceiling_write (f->data, f->size, &hdr);
    } else {
        s_patch_u64 (f->data + f->seq_at, slot->seq);
        if (f->kind == PS_CEILING_DATA && slot->state == S_FREE)
            s_patch_u64 (f->data + f->probe_at, (uint64_t) now);
    }
    if (f->kind == PS_CEILING_DATA && slot->state == S_FREE && self->timing) {
        self->probes[self->nprobes++] = now;
        self->sent += f->n;
    }
    if (ps_sock_send (self->sock, f->data, f->size, 0) != 0) {
        fprintf (stderr, "ps_loadgen: cannot send: %s\n", zmq_strerror (errno));
        return -1;
    }
    slot->state = S_INFLIGHT;
    return 0;
}

static s_slot_t *s_slot_of (s_gen_t *self, uint64_t seq)
{
    for (uint32_t i = 0; i < self->window; i++)
        if (self->slots[i].state == S_INFLIGHT && self->slots[i].seq == seq)
            return &self->slots[i];
    return NULL;
}

static void s_settle (s_gen_t *self, s_slot_t *slot, uint32_t accepted, uint32_t rejected,
                      bool lost)
{
    if (self->timing && slot->frame->kind == PS_CEILING_DATA) {
        self->accepted += accepted;
        self->rejected += rejected;
        self->lost += lost ? slot->frame->n : 0;
        self->last_ack_us = ps_clock_us ();
    }
    self->busy_rounds = 0;
    slot->state = S_FREE;
}

static void s_on_ack (s_gen_t *self, const void *data, size_t size)
{
    self->heard_us = ps_clock_us ();
    self->acks++;
    self->ack_bytes += size;
    if (self->ceiling) {
        ps_ceiling_hdr_t hdr;
        if (ps_ceiling_read (data, size, &hdr) != 0) {
            fprintf (stderr, "ps_loadgen: ack without a ceiling header\n");
            return;
        }
        s_slot_t *slot = s_slot_of (self, hdr.kind == PS_CEILING_DATA ? hdr.token : 0);
        /* Markers travel alone (window drained first): the one in flight. */
        for (uint32_t i = 0; !slot && i < self->window; i++)
            if (self->slots[i].state == S_INFLIGHT && self->slots[i].frame->kind == hdr.kind &&
                self->slots[i].frame->token == hdr.token)
                slot = &self->slots[i];
        if (slot)
            s_settle (self, slot, slot->frame->n, 0, false);
        return;
    }
    ps_ack_t ack;
    ps_error_t err;
    if (ps_ack_decode (&ack, data, size, &err) != 0) {
        fprintf (stderr, "ps_loadgen: bad ack: %s\n", err.reason);
        return;
    }
    s_slot_t *slot = strcmp (ack.producer, self->producer) == 0 ? s_slot_of (self, ack.seq) : NULL;
    if (!slot)
        fprintf (stderr, "ps_loadgen: ack for no batch in flight (seq %" PRIu64 ", %s)\n", ack.seq,
                 ps_ack_status_name (ack.status));
    else if (ack.status == PS_ACK_RETRY) {
        /* Ingest cannot take it now: pause, longer each time in a row. */
        int shift = self->busy_rounds < 6 ? self->busy_rounds : 6;
        self->busy_rounds++;
        slot->state = S_BACKOFF;
        slot->due_us = ps_clock_us () + (2000 << shift);
    } else {
        if (ack.nrejects)
            fprintf (stderr, "ps_loadgen: seq %" PRIu64 ": %u reports rejected, first: %s\n",
                     ack.seq, ack.nrejects, ack.rejects[0].error.reason);
        s_settle (self, slot, ack.accepted, ack.nrejects, ack.status == PS_ACK_DUPLICATE);
    }
    ps_ack_clear (&ack);
}

static void s_read_acks (s_gen_t *self)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, self->sock, ZMQ_DONTWAIT) >= 0)
        if (!zmq_msg_more (&msg))
            s_on_ack (self, zmq_msg_data (&msg), zmq_msg_size (&msg));
    zmq_msg_close (&msg);
}

static uint32_t s_count (const s_gen_t *self, s_state_t state)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < self->window; i++)
        n += self->slots[i].state == state;
    return n;
}

/*  Resends the batches ingest asked to retry later, oldest first, once
    none is in flight any more (so ingest sees seqs in order) and the
    pause has passed. */
static int s_resend_due (s_gen_t *self)
{
    if (s_count (self, S_INFLIGHT) > 0)
        return 0;
    int64_t now = ps_clock_us ();
    for (;;) {
        s_slot_t *next = NULL;
        for (uint32_t i = 0; i < self->window; i++) {
            s_slot_t *s = &self->slots[i];
            if (s->state == S_BACKOFF && (!next || s->seq < next->seq))
                next = s;
        }
        if (!next || next->due_us > now)
            return 0;
        self->retries++;
        if (s_transmit (self, next) != 0)
            return -1;
    }
}

/*  Waits up to TIMEOUT_US for acks, then resends what is due. Returns -1
    on a socket error or when batches in flight got no answer at all for
    S_ACK_GIVEUP_MS. */
static int s_pump (s_gen_t *self, int64_t timeout_us)
{
    if (s_count (self, S_INFLIGHT) && ps_clock_us () - self->heard_us > S_ACK_GIVEUP_MS * 1000LL) {
        fprintf (stderr, "ps_loadgen: no ack for %d s\n", S_ACK_GIVEUP_MS / 1000);
        return -1;
    }
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    long ms = timeout_us <= 0 ? 0 : (long) ((timeout_us + 999) / 1000);
    if (zmq_poll (&item, 1, ms) < 0 && errno != EINTR)
        return -1;
    if (item.revents & ZMQ_POLLIN)
        s_read_acks (self);
    return s_resend_due (self);
}

/*  True while the timed batches sent run more than the lag budget ahead
    of what the slowest subscriber has seen. */
static bool s_lagging (s_gen_t *self)
{
    if (!self->timing || !self->lag || self->nprobes - self->reflected < self->lag)
        return false;
    int64_t seen = INT64_MAX;
    for (int i = 0; i < self->nsubs; i++) {
        int64_t latest = ps_feedsub_latest (self->subs[i]);
        seen = latest < seen ? latest : seen;
    }
    while (self->reflected < self->nprobes && self->probes[self->reflected] <= seen)
        self->reflected++;
    return self->nprobes - self->reflected >= self->lag;
}

/*  Sends FRAME in a free slot, first waiting until one is free, no batch
    awaits a resend, the lag budget allows it and NOT_BEFORE_US has come. */
static int s_send (s_gen_t *self, s_frame_t *frame, int64_t not_before_us)
{
    for (;;) {
        if (ps_signal_stop ())
            return -1;
        int64_t now = ps_clock_us ();
        uint32_t busy = s_count (self, S_INFLIGHT) + s_count (self, S_BACKOFF);
        bool blocked = busy >= self->window || s_count (self, S_BACKOFF) > 0 || s_lagging (self);
        if (!blocked && now >= not_before_us)
            break;
        /* Acks wake the poll at once; the feed's progress is checked each ms. */
        int64_t wait = blocked ? 1000 : not_before_us - now;
        if (s_pump (self, wait > 1000 ? 1000 : wait) != 0)
            return -1;
    }
    s_slot_t *slot = NULL;
    for (uint32_t i = 0; !slot; i++)
        if (self->slots[i].state == S_FREE)
            slot = &self->slots[i];
    if (s_count (self, S_INFLIGHT) == 0)
        self->heard_us = ps_clock_us (); /* the wait for an answer starts now */
    slot->frame = frame;
    slot->seq = self->next_seq++;
    return s_transmit (self, slot);
}

/* Waits until every batch sent has been acknowledged. */
static int s_drain (s_gen_t *self)
{
    while (s_count (self, S_FREE) < self->window) {
        if (ps_signal_stop () || s_pump (self, 1000) != 0)
            return -1;
    }
    return 0;
}

/* ---- Markers -------------------------------------------------------------- */

/* Highest WARM (or END) token every subscriber has seen; *WHEN_US the
   latest receipt among them (END only). */
static uint64_t s_seen (s_gen_t *self, ps_ceiling_kind_t kind, int64_t *when_us)
{
    uint64_t low = UINT64_MAX;
    *when_us = 0;
    for (int i = 0; i < self->nsubs; i++) {
        int64_t when = 0;
        uint64_t t = kind == PS_CEILING_WARM ? ps_feedsub_warm (self->subs[i])
                                             : ps_feedsub_end (self->subs[i], &when);
        low = t < low ? t : low;
        *when_us = when > *when_us ? when : *when_us;
    }
    return low;
}

/*  Sends a WARM (or END) marker alone and waits until every subscriber has
    seen it, sending a new one every S_MARKER_RESEND_MS (a subscriber that
    joined late, or a feed that dropped, misses one). Returns 0 and sets
    *WHEN_US to the time the last subscriber saw it, or -1 on timeout. */
static int s_marker (s_gen_t *self, ps_ceiling_kind_t kind, int64_t *when_us)
{
    int64_t giveup = ps_clock_us () + S_MARKER_GIVEUP_MS * 1000LL;
    while (ps_clock_us () < giveup && !ps_signal_stop ()) {
        uint64_t now = (uint64_t) ps_wall_us ();
        uint64_t token = self->token = now > self->token ? now : self->token + 1;
        s_frame_t f = {0};
        if (s_encode (&f, self->producer, NULL, 0, 0, kind,
                      kind == PS_CEILING_WARM ? self->warm_source : self->end_source,
                      self->markers++, token) != 0 ||
            s_drain (self) != 0 || s_send (self, &f, 0) != 0 || s_drain (self) != 0) {
            free (f.data);
            return -1;
        }
        free (f.data);
        int64_t resend = ps_clock_us () + S_MARKER_RESEND_MS * 1000LL;
        while (ps_clock_us () < resend && !ps_signal_stop ()) {
            if (s_seen (self, kind, when_us) >= token)
                return 0;
            usleep (200);
        }
    }
    return -1;
}

/*  Sends the N frames, the I-th not before START_US + I * INTERVAL_US, with
    a WARM barrier every BARRIER frames (0: none). */
static int s_stream (s_gen_t *self, s_frame_t *frames, size_t nframes, uint64_t total,
                     int64_t interval_us, size_t barrier)
{
    int64_t start = ps_clock_us (), when;
    for (uint64_t i = 0; i < total; i++) {
        if (s_send (self, &frames[i % nframes], start + (int64_t) i * interval_us) != 0)
            return -1;
        if (barrier && (i + 1) % barrier == 0 && s_marker (self, PS_CEILING_WARM, &when) != 0)
            return -1;
    }
    return s_drain (self);
}

/* ---- Report --------------------------------------------------------------- */

static int s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

/*  Latency of each timed probe: from its send to the first receipt of a
    probe value at least as recent (a conflated message carries the latest
    probe and so answers every earlier one too). */
static void s_latency (s_gen_t *self)
{
    size_t n;
    const ps_feedsub_sample_t *got = ps_feedsub_samples (self->subs[0], &n);
    int64_t *lat = malloc ((self->nprobes ? self->nprobes : 1) * sizeof *lat);
    size_t nlat = 0, j = 0;
    for (size_t i = 0; lat && i < self->nprobes; i++) {
        while (j < n && got[j].sent_us < self->probes[i])
            j++;
        if (j == n)
            break;
        lat[nlat++] = got[j].recv_us - self->probes[i];
    }
    printf ("lat_n=%zu\n", nlat);
    if (nlat) {
        qsort (lat, nlat, sizeof *lat, s_cmp_i64);
        printf ("lat_p50_us=%" PRId64 "\nlat_p99_us=%" PRId64 "\nlat_p999_us=%" PRId64
                "\nlat_max_us=%" PRId64 "\n",
                lat[nlat / 2], lat[nlat * 99 / 100], lat[nlat * 999 / 1000], lat[nlat - 1]);
    }
    free (lat);
}

static void s_report_feed (s_gen_t *self, uint64_t reports)
{
    uint64_t min_msgs = UINT64_MAX, gaps = 0, topic = 0, body = 0, msgs = 0;
    for (int i = 0; i < self->nsubs; i++) {
        ps_feedsub_stats_t st;
        ps_feedsub_stop (self->subs[i]);
        ps_feedsub_stats (self->subs[i], &st);
        min_msgs = st.messages < min_msgs ? st.messages : min_msgs;
        gaps += st.gaps;
        topic += st.topic_bytes;
        body += st.body_bytes;
        msgs += st.messages;
    }
    printf ("feed_msgs=%" PRIu64 "\nmsgs_per_report=%.3f\nfeed_gaps=%" PRIu64 "\n", min_msgs,
            reports ? (double) min_msgs / (double) reports : 0.0, gaps);
    printf ("topic_bytes=%.1f\nbody_bytes=%.1f\n", msgs ? (double) topic / (double) msgs : 0.0,
            msgs ? (double) body / (double) msgs : 0.0);
}

/* ---- Main ----------------------------------------------------------------- */

static ps_option_t s_options[] = {
    {"target", NULL, "paystat", "paystat, or ceiling (the raw ZeroMQ chain)", false, NULL},
    {"ingest", NULL, "tcp://127.0.0.1:7401", "where batches go (DEALER, connect)", false, NULL},
    {"feed", NULL, "tcp://127.0.0.1:7404", "the feed (SUB, connect)", false, NULL},
    {"reports", NULL, "1000000", "reports in the timed pass (probes included)", false, NULL},
    {"batch", NULL, "500", "reports per batch, the probe included", false, NULL},
    {"window", NULL, "8", "batches in flight", false, NULL},
    {"rate", NULL, "0", "reports per second in the timed pass; 0: as fast as acks allow", false,
     NULL},
    {"lag", NULL, "0",
     "timed batches sent but not yet seen by every subscriber, at most (0: no bound)", false, NULL},
    {"subscribers", NULL, "1", "subscribers reading the whole feed", false, NULL},
    {"sources", NULL, "4", "reporting bodies in the key mix", false, NULL},
    {"days", NULL, "1826", "days of daily totals in the key mix", false, NULL},
    {"start-year", NULL, "2015", "first year of the key mix", false, NULL},
    {"order", NULL, "daily",
     "daily (every series of a day together, day after day) or scattered (at random)", false, NULL},
    {"prefill", NULL, NULL, "report every leaf once before the timed pass", true, NULL},
    {"barrier", NULL, "100", "prefill: batches between two WARM barriers", false, NULL},
    {"pause", NULL, NULL, "after the prefill, print 'prefilled' and wait for a line on stdin", true,
     NULL},
    PS_OPTION_END};

int main (int argc, char **argv)
{
    int first;
    int rc = ps_config_parse (s_options, argc, argv, "ps_loadgen", "[options]",
                              "Drives paystat or the ceiling chain with the benchmark's key mix "
                              "and prints what it measured.",
                              &first);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    long reports, batch, window, rate, nsubs, sources, days, start_year, barrier, lag;
    const char *target = ps_config_get (s_options, "target")->value;
    if (ps_config_long (s_options, "reports", 1, 1000000000, &reports) ||
        ps_config_long (s_options, "batch", 2, PS_MAX_REPORTS, &batch) ||
        ps_config_long (s_options, "window", 1, 1000, &window) ||
        ps_config_long (s_options, "rate", 0, 100000000, &rate) ||
        ps_config_long (s_options, "subscribers", 1, S_MAX_SUBS, &nsubs) ||
        ps_config_long (s_options, "sources", 1, 1000, &sources) ||
        ps_config_long (s_options, "days", 1, 36500, &days) ||
        ps_config_long (s_options, "start-year", 1900, 2100, &start_year) ||
        ps_config_long (s_options, "barrier", 1, 1000000, &barrier) ||
        ps_config_long (s_options, "lag", 0, 1000000, &lag))
        return 2;
    if (strcmp (target, "paystat") != 0 && strcmp (target, "ceiling") != 0) {
        fprintf (stderr, "ps_loadgen: --target must be paystat or ceiling\n");
        return 2;
    }
    ps_log_init ("loadgen", PS_LOG_WARN);
    ps_signal_install ();

    s_gen_t self = {0};
    self.ceiling = strcmp (target, "ceiling") == 0;
    self.window = (uint32_t) window;
    self.lag = (uint32_t) lag;
    self.next_seq = 1;
    snprintf (self.producer, sizeof self.producer, "bench-%ld-%ld", (long) getpid (),
              (long) ps_wall_us ());
    unsigned nonce = (unsigned) (getpid () ^ ps_wall_us ());
    snprintf (self.warm_source, sizeof self.warm_source, "%s%08x", PS_FEEDSUB_WARM_SOURCE, nonce);
    snprintf (self.end_source, sizeof self.end_source, "%s%08x", PS_FEEDSUB_END_SOURCE, nonce);
    const char *order = ps_config_get (s_options, "order")->value;
    if (strcmp (order, "daily") != 0 && strcmp (order, "scattered") != 0) {
        fprintf (stderr, "ps_loadgen: --order must be daily or scattered\n");
        return 2;
    }
    ps_keymix_t *mix =
        ps_keymix_new ((uint32_t) sources, (uint32_t) days, (int) start_year,
                       strcmp (order, "daily") ? PS_KEYMIX_SCATTERED : PS_KEYMIX_DAILY);
    if (!mix) {
        fprintf (stderr, "ps_loadgen: key mix out of range\n");
        return 2;
    }
    uint64_t leaves = ps_keymix_leaves (mix);
    bool prefill = ps_config_flag (s_options, "prefill");
    size_t nprefill = 0, npool = 0;
    uint64_t pool = (uint64_t) reports < S_POOL_REPORTS ? (uint64_t) reports : S_POOL_REPORTS;
    s_frame_t *pre =
        prefill ? s_encode_stream (self.producer, mix, 0, leaves, (uint32_t) batch, &nprefill)
                : NULL;
    s_frame_t *timed = s_encode_stream (self.producer, mix, prefill ? leaves : 0,
                                        pool - pool / (uint64_t) batch, (uint32_t) batch, &npool);
    uint64_t nbatches = ((uint64_t) reports + (uint64_t) batch - 1) / (uint64_t) batch;
    self.slots = calloc ((size_t) window, sizeof *self.slots);
    self.probes = malloc (nbatches * sizeof *self.probes);
    if ((prefill && !pre) || !timed || !self.slots || !self.probes) {
        fprintf (stderr, "ps_loadgen: out of memory\n");
        return 1;
    }
    size_t fwd_bytes, ack_bytes;
    s_paystat_sizes (&timed[0], &fwd_bytes, &ack_bytes);

    void *ctx = zmq_ctx_new ();
    const char *feed = ps_config_get (s_options, "feed")->value;
    for (int i = 0; i < nsubs; i++)
        if ((self.subs[self.nsubs++] = ps_feedsub_new (ctx, feed, self.ceiling, i == 0)) == NULL)
            return 1;
    ps_sock_opts_t opts = {.hwm = 0, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    self.sock =
        ps_sock_new (ctx, ZMQ_DEALER, ps_config_get (s_options, "ingest")->value, false, &opts);
    if (!self.sock)
        return 1;

    int64_t t_end = 0;
    rc = 1;
    if (s_marker (&self, PS_CEILING_WARM, &t_end) != 0) {
        fprintf (stderr, "ps_loadgen: the feed never showed the WARM marker\n");
        goto done;
    }
    if (prefill && s_stream (&self, pre, nprefill, nprefill, 0, (size_t) barrier) != 0)
        goto done;
    if (prefill && s_marker (&self, PS_CEILING_WARM, &t_end) != 0)
        goto done;
    if (ps_config_flag (s_options, "pause")) {
        printf ("prefilled\n");
        fflush (stdout);
        char line[64];
        if (!fgets (line, sizeof line, stdin))
            goto done;
    }
    self.timing = true;
    int64_t t0 = ps_clock_us ();
    int64_t interval = rate ? (int64_t) (1e6 * (double) batch / (double) rate) : 0;
    if (s_stream (&self, timed, npool, nbatches, interval, 0) != 0)
        goto done;
    self.timing = false;
    if (s_marker (&self, PS_CEILING_END, &t_end) != 0) {
        fprintf (stderr, "ps_loadgen: the final state never reached every subscriber\n");
        goto done;
    }
    rc = 0;
    uint64_t sent = self.sent;
    double ack_s = (double) (self.last_ack_us - t0) / 1e6;
    double feed_s = (double) (t_end - t0) / 1e6;
    printf ("target=%s\nreports=%" PRIu64 "\nbatches=%" PRIu64 "\naccepted=%" PRIu64
            "\nrejected=%" PRIu64 "\nlost=%" PRIu64 "\nretries=%" PRIu64 "\n",
            target, sent, nbatches, self.accepted, self.rejected, self.lost, self.retries);
    printf ("ack_s=%.3f\nack_rate=%.0f\nfeed_s=%.3f\nfeed_rate=%.0f\n", ack_s,
            (double) self.accepted / ack_s, feed_s, (double) self.accepted / feed_s);
    printf ("subscribers=%ld\nleaves=%" PRIu64 "\ncells=%" PRIu64 "\n", nsubs, leaves,
            ps_keymix_cells (mix));
    printf ("batch_bytes=%zu\nfwd_bytes=%zu\nack_bytes=%zu\nack_bytes_seen=%.1f\n", timed[0].size,
            fwd_bytes, ack_bytes, self.acks ? (double) self.ack_bytes / (double) self.acks : 0.0);
    s_report_feed (&self, sent);
    s_latency (&self);
    printf ("final_seen=1\n");
done:
    for (int i = 0; i < self.nsubs; i++)
        ps_feedsub_destroy (&self.subs[i]);
    ps_sock_destroy (&self.sock);
    zmq_ctx_term (ctx);
    for (size_t i = 0; i < nprefill; i++)
        free (pre[i].data);
    for (size_t i = 0; i < npool; i++)
        free (timed[i].data);
    free (pre);
    free (timed);
    free (self.slots);
    free (self.probes);
    ps_keymix_destroy (&mix);
    return rc;
}
