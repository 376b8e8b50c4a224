/*  ps_sender: windowed, acknowledged batch sending; see ps_sender.h. */

#include "ps_sender.h"
#include "ps_clock.h"
#include "ps_log.h"
#include "ps_monitor.h"
#include "ps_signal.h"
#include "ps_sock.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* Shortest pause after a retry_later, as a fraction of the ack timeout;
   it doubles with each retry_later in a row up to the ack timeout. */
#define S_BACKOFF_DIVISOR   10
#define S_BACKOFF_MIN_MS    50
#define S_BACKOFF_DOUBLINGS 16

typedef enum {
    S_FREE = 0,
    S_INFLIGHT, /* sent, ack awaited until DUE */
    S_BACKOFF   /* ingest said retry_later: resend at DUE */
} s_state_t;

typedef struct {
    s_state_t state;
    uint64_t seq;
    uint32_t n;            /* reports in the batch */
    uint64_t *lines;       /* input line of each report, batch_size entries */
    msgpack_sbuffer frame; /* the encoded batch, resent verbatim */
    int64_t due;           /* ms, ps_clock_ms */
    bool retry_later;      /* ingest refused it once with retry_later */
} s_slot_t;

struct ps_sender_t {
    ps_sender_config_t config;
    void *ctx;
    void *sock;
    ps_monitor_t *monitor; /* sock's handshakes */
    ps_sender_reject_fn *on_reject;
    void *arg;
    ps_batch_t *build; /* the batch being filled */
    size_t build_bytes; /* its reports' packed size */
    uint64_t *build_lines;
    uint64_t next_seq;
    s_slot_t *slots;   /* config.window entries */
    int silent_rounds; /* timeouts in a row without any ack */
    int busy_rounds;   /* retry_later answers in a row */
    ps_sender_stats_t stats;
    char error[256];
};

static int s_set_error (ps_sender_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static int s_set_error (ps_sender_t *self, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, args);
    va_end (args);
    return -1;
}

static int s_connect (ps_sender_t *self)
{
    /* Linger 0: a closed socket must not keep resending behind our back. */
    ps_sock_opts_t opts = {.hwm = 0, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    if (self->config.curve) {
        opts.curve = self->config.curve->curve;
        memcpy (opts.curve_server, self->config.curve->curve_server, sizeof opts.curve_server);
    }
    self->sock = ps_sock_new (self->ctx, ZMQ_DEALER, self->config.endpoint, false, &opts);
    if (!self->sock)
        return s_set_error (self, "cannot connect to %s", self->config.endpoint);
    /* A refused handshake is otherwise silent: ingest never answers. */
    self->monitor =
        ps_monitor_new (self->ctx, self->sock,
                        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    if (!self->monitor)
        return s_set_error (self, "cannot monitor the connection to %s: %s", self->config.endpoint,
                            zmq_strerror (errno));
    return 0;
}

static void s_disconnect (ps_sender_t *self)
{
    ps_monitor_destroy (&self->monitor);
    ps_sock_destroy (&self->sock);
}

/*  Fails with the reason when ingest refused the handshake: a key it does
    not know, or a security mechanism it does not speak. Returns 0 while
    nothing of the kind happened. */
static int s_check_handshake (ps_sender_t *self)
{
    uint16_t event;
    uint32_t value;
    while (ps_monitor_next (self->monitor, &event, &value)) {
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            return s_set_error (self,
                                "ingest at %s refused this key at the CURVE handshake (status "
                                "%u): is it among ingest's --producer-keys?",
                                self->config.endpoint, (unsigned) value);
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
            value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            return s_set_error (self,
                                self->config.curve
                                    ? "ingest at %s does not use CURVE: drop --curve-secret "
                                      "and --ingest-key"
                                    : "ingest at %s requires CURVE: give --curve-secret (this "
                                      "producer's key pair) and --ingest-key",
                                self->config.endpoint);
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            return s_set_error (self,
                                "the handshake with ingest at %s failed (ZMTP protocol error "
                                "0x%x): is --ingest-key ingest's public key?",
                                self->config.endpoint, (unsigned) value);
    }
    return 0;
}

ps_sender_t *ps_sender_new (void *ctx, const ps_sender_config_t *config,
                            ps_sender_reject_fn *on_reject, void *arg)
{
    assert (config->batch_size >= 1 && config->batch_size <= PS_MAX_REPORTS);
    assert (config->window >= 1 && config->first_seq >= 1 && config->timeout_ms >= 1);
    assert (strlen (config->producer) <= PS_ID_MAX);
    ps_sender_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->ctx = ctx;
    self->on_reject = on_reject;
    self->arg = arg;
    self->next_seq = config->first_seq;
    self->build = ps_batch_new ();
    self->build_lines = calloc (config->batch_size, sizeof *self->build_lines);
    self->slots = calloc (config->window, sizeof *self->slots);
    if (!self->build || !self->build_lines || !self->slots)
        goto err;
    for (uint32_t i = 0; i < config->window; i++) {
        msgpack_sbuffer_init (&self->slots[i].frame);
        self->slots[i].lines = calloc (config->batch_size, sizeof (uint64_t));
        if (!self->slots[i].lines)
            goto err;
    }
    if (s_connect (self) != 0)
        goto err;
    return self;
err:
    ps_sender_destroy (&self);
    return NULL;
}

void ps_sender_destroy (ps_sender_t **self_p)
{
    ps_sender_t *self = *self_p;
    if (!self)
        return;
    s_disconnect (self);
    if (self->slots)
        for (uint32_t i = 0; i < self->config.window; i++) {
            msgpack_sbuffer_destroy (&self->slots[i].frame);
            free (self->slots[i].lines);
        }
    free (self->slots);
    free (self->build_lines);
    ps_batch_destroy (&self->build);
    free (self);
    *self_p = NULL;
}

const ps_sender_stats_t *ps_sender_stats (const ps_sender_t *self)
{
    return &self->stats;
}

const char *ps_sender_error (const ps_sender_t *self)
{
    return self->error;
}

/* ---- Slots -------------------------------------------------------------- */

static uint32_t s_count (const ps_sender_t *self, s_state_t state)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < self->config.window; i++)
        n += self->slots[i].state == state;
    return n;
}

/*  The slot in STATE with the lowest seq, or NULL. */
static s_slot_t *s_oldest (ps_sender_t *self, s_state_t state)
{
    s_slot_t *best = NULL;
    for (uint32_t i = 0; i < self->config.window; i++) {
        s_slot_t *slot = &self->slots[i];
        if (slot->state == state && (!best || slot->seq < best->seq))
            best = slot;
    }
    return best;
}

static int s_transmit (ps_sender_t *self, s_slot_t *slot)
{
    if (ps_sock_send (self->sock, slot->frame.data, slot->frame.size, 0) != 0)
        return s_set_error (self, "cannot send to %s: %s", self->config.endpoint,
                            zmq_strerror (errno));
    slot->state = S_INFLIGHT;
    slot->due = ps_clock_ms () + self->config.timeout_ms;
    return 0;
}

/*  Sends again every slot waiting for a resend (S_BACKOFF), or with ALL
    every unacknowledged one, oldest first: ingest must see the producer's
    seqs in increasing order, or a later one accepted first would turn an
    earlier one into a "duplicate" that is never applied. */
static int s_resend_all (ps_sender_t *self, bool all)
{
    uint64_t after = 0;
    for (;;) {
        /* The next slot by seq; sent ones become S_INFLIGHT. */
        s_slot_t *next = NULL;
        for (uint32_t i = 0; i < self->config.window; i++) {
            s_slot_t *slot = &self->slots[i];
            bool wanted = all ? slot->state != S_FREE : slot->state == S_BACKOFF;
            if (wanted && slot->seq > after && (!next || slot->seq < next->seq))
                next = slot;
        }
        if (!next)
            return 0;
        if (s_transmit (self, next) != 0)
            return -1;
        self->stats.retries++;
        after = next->seq;
    }
}

static void s_reject_rows (ps_sender_t *self, s_slot_t *slot, const ps_error_t *error)
{
    for (uint32_t i = 0; i < slot->n; i++)
        self->on_reject (self->arg, slot->lines[i], error);
    self->stats.rejected += slot->n;
}

/* ---- Acks ----------------------------------------------------------------- */

static void s_apply_verdict (ps_sender_t *self, s_slot_t *slot, const ps_ack_t *ack)
{
    if (ack->has_error) {
        s_reject_rows (self, slot, &ack->error);
        return;
    }
    uint32_t rejected = 0;
    for (uint32_t i = 0; i < ack->nrejects; i++) {
        const ps_reject_t *r = &ack->rejects[i];
        if (r->index >= slot->n) {
            ps_warn ("ack names a report the batch does not have", "seq=%" PRIu64 " index=%u",
                     slot->seq, r->index);
            continue;
        }
        self->on_reject (self->arg, slot->lines[r->index], &r->error);
        rejected++;
    }
    self->stats.rejected += rejected;
    self->stats.accepted += slot->n - rejected;
}

static int s_on_ack (ps_sender_t *self, const void *data, size_t size)
{
    ps_ack_t ack;
    ps_error_t err;
    memset (&ack, 0, sizeof ack);
    if (ps_ack_decode (&ack, data, size, &err) != 0) {
        ps_warn ("ignored a malformed ack", "field=%s reason=\"%s\"", err.field ? err.field : "",
                 err.reason);
        return 0;
    }
    s_slot_t *slot = NULL;
    if (ack.seq == 0 && ack.has_error)
        /* Ingest could not read the batch at all; one connection keeps
           order, so the answer is for the oldest batch in flight. */
        slot = s_oldest (self, S_INFLIGHT);
    else if (strcmp (ack.producer, self->config.producer) == 0)
        for (uint32_t i = 0; i < self->config.window && !slot; i++)
            if (self->slots[i].state == S_INFLIGHT && self->slots[i].seq == ack.seq)
                slot = &self->slots[i];
    int rc = 0;
    if (slot)
        self->silent_rounds = 0;
    if (!slot)
        ps_debug ("ignored an ack for no batch in flight", "seq=%" PRIu64, ack.seq);
    else if (ack.status == PS_ACK_RETRY) {
        /* Ingest answers, so it is not gone: resend until it accepts (the
           user can interrupt), growing the pause so as not to hammer it. */
        slot->retry_later = true;
        slot->state = S_BACKOFF;
        int64_t pause = self->config.timeout_ms / S_BACKOFF_DIVISOR;
        pause = (pause < S_BACKOFF_MIN_MS ? S_BACKOFF_MIN_MS : pause) << self->busy_rounds;
        slot->due =
            ps_clock_ms () + (pause > self->config.timeout_ms ? self->config.timeout_ms : pause);
        if (self->busy_rounds == 0)
            ps_warn ("ingest asks to retry later; resending in order until accepted",
                     "seq=%" PRIu64 " reason=\"%s\"", slot->seq,
                     ack.has_error ? ack.error.reason : "");
        if (self->busy_rounds < S_BACKOFF_DOUBLINGS)
            self->busy_rounds++;
    } else {
        self->busy_rounds = 0;
        if (ack.status != PS_ACK_DUPLICATE)
            s_apply_verdict (self, slot, &ack);
        else if (slot->retry_later) {
            /* Ingest accepted a later batch while this one waited: it can
               no longer be applied under its seq, and resending it under a
               new one would reorder "set" reports. */
            ps_error_t e = {PS_E_RETRY, "", ""};
            snprintf (e.reason, sizeof e.reason,
                      "not applied: ingest asked to retry this batch later and accepted a "
                      "later one meanwhile");
            s_reject_rows (self, slot, &e);
        } else {
            /* Applied by an earlier attempt whose ack was lost. */
            self->stats.accepted += slot->n;
            self->stats.duplicate_rows += slot->n;
        }
        slot->state = S_FREE;
    }
    ps_ack_clear (&ack);
    return rc;
}

/*  Reads every frame waiting on the socket. A reply may come with routing
    or delimiter frames in front: the last frame is the ack. */
static int s_read_acks (ps_sender_t *self)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    int rc = 0;
    while (rc == 0 && zmq_msg_recv (&msg, self->sock, ZMQ_DONTWAIT) >= 0) {
        if (!zmq_msg_more (&msg))
            rc = s_on_ack (self, zmq_msg_data (&msg), zmq_msg_size (&msg));
    }
    zmq_msg_close (&msg);
    return rc;
}

/*  Lazy Pirate: a fresh socket and every unacknowledged batch again. */
static int s_recover (ps_sender_t *self)
{
    uint32_t lost = s_count (self, S_INFLIGHT) + s_count (self, S_BACKOFF);
    if (++self->silent_rounds > self->config.retries)
        return s_set_error (
            self,
            "no answer from ingest at %s after %d attempts of %d ms; "
            "%u batches unacknowledged%s",
            self->config.endpoint, self->silent_rounds, self->config.timeout_ms, lost,
            self->config.curve ? " (with CURVE, an ingest that cannot decrypt the handshake "
                                 "does not answer: is --ingest-key ingest's public key?)"
                               : "");
    ps_warn ("no ack in time; reconnecting and resending", "endpoint=%s attempt=%d batches=%u",
             self->config.endpoint, self->silent_rounds + 1, lost);
    s_disconnect (self);
    if (s_connect (self) != 0)
        return -1;
    return s_resend_all (self, true);
}

/*  Waits for acks until the window can take a new batch (ALL false) or
    until every batch has been answered (ALL true). */
static int s_wait (ps_sender_t *self, bool all)
{
    for (;;) {
        uint32_t inflight = s_count (self, S_INFLIGHT);
        uint32_t backoff = s_count (self, S_BACKOFF);
        /* New batches wait while a refused one is pending, to keep order. */
        if (all ? inflight + backoff == 0
                : inflight + backoff < self->config.window && backoff == 0)
            return 0;
        if (ps_signal_stop ())
            return s_set_error (self, "interrupted with %u batches unacknowledged",
                                inflight + backoff);
        int64_t now = ps_clock_ms ();
        /* Refused batches go again only once nothing is in flight. */
        s_slot_t *next = inflight ? s_oldest (self, S_INFLIGHT) : s_oldest (self, S_BACKOFF);
        for (uint32_t i = 0; i < self->config.window; i++)
            if (self->slots[i].state == S_INFLIGHT && self->slots[i].due < next->due)
                next = &self->slots[i];
        if (next->due <= now) {
            int rc = inflight ? s_recover (self) : s_resend_all (self, false);
            if (rc != 0)
                return -1;
            continue;
        }
        zmq_pollitem_t items[] = {{self->sock, 0, ZMQ_POLLIN, 0},
                                  {ps_monitor_socket (self->monitor), 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll (items, 2, (long) (next->due - now));
        if (rc < 0 && errno != EINTR)
            return s_set_error (self, "cannot poll: %s", zmq_strerror (errno));
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN) && s_read_acks (self) != 0)
            return -1;
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN) && s_check_handshake (self) != 0)
            return -1;
    }
}

/*  Moves the batch being built into a free slot and sends it. */
static int s_send_build (ps_sender_t *self)
{
    if (self->build->nreports == 0)
        return 0;
    if (s_wait (self, false) != 0)
        return -1;
    s_slot_t *slot = NULL;
    for (uint32_t i = 0; i < self->config.window && !slot; i++)
        if (self->slots[i].state == S_FREE)
            slot = &self->slots[i];
    assert (slot);
    ps_batch_t *b = self->build;
    snprintf (b->producer, sizeof b->producer, "%s", self->config.producer);
    b->seq = self->next_seq;
    msgpack_sbuffer_clear (&slot->frame);
    if (ps_batch_encode (b, false, &slot->frame) != 0)
        return s_set_error (self, "out of memory encoding a batch");
    /* The lines travel with the slot; the slot's old array becomes the
       next batch's. */
    uint64_t *lines = slot->lines;
    slot->lines = self->build_lines;
    self->build_lines = lines;
    slot->n = b->nreports;
    slot->seq = self->next_seq++;
    slot->retry_later = false;
    ps_batch_reset (b);
    self->build_bytes = 0;
    if (s_transmit (self, slot) != 0)
        return -1;
    self->stats.sent += slot->n;
    self->stats.batches++;
    return 0;
}

static int s_count_write (void *data, const char *buf, size_t len)
{
    (void) buf;
    *(size_t *) data += len;
    return 0;
}

/*  Bytes REPORT takes in a batch frame. */
static size_t s_packed_size (const ps_report_t *report)
{
    size_t n = 0;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &n, s_count_write);
    ps_batch_report_pack (&pk, report);
    return n;
}

int ps_sender_add (ps_sender_t *self, const ps_report_t *report, uint64_t line)
{
    /* A batch is cut short rather than let over PS_MAX_BATCH, which
       ingest would refuse whole. */
    size_t bytes = s_packed_size (report);
    if (self->build->nreports > 0 &&
        self->build_bytes + bytes > PS_MAX_BATCH - PS_ENTRY_HEADER_MAX && s_send_build (self) != 0)
        return -1;
    self->build_bytes += bytes;
    uint32_t i = self->build->nreports;
    if (ps_batch_append (self->build, report, i) != 0)
        return s_set_error (self, "out of memory building a batch");
    self->build_lines[i] = line;
    if (self->build->nreports < self->config.batch_size)
        return 0;
    return s_send_build (self);
}

int ps_sender_flush (ps_sender_t *self)
{
    if (s_send_build (self) != 0)
        return -1;
    return s_wait (self, true);
}

void ps_sender_default_producer (char *buf)
{
    char host[256] = "paystat";
    if (gethostname (host, sizeof host) != 0)
        snprintf (host, sizeof host, "paystat");
    host[sizeof host - 1] = '\0';
    /* 30 + 1 + 10 + 1 + 20 characters at most: always within PS_ID_MAX. */
    snprintf (buf, PS_ID_MAX + 1, "%.30s-%u-%" PRIu64, host, (unsigned) getpid (),
              (uint64_t) (ps_wall_us () / 1000));
    for (char *p = buf; *p; p++)
        if (!strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-", *p))
            *p = '-';
}
