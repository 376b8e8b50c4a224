/*  ps_ingest: front-door rules for report batches; see ps_ingest.h. */

#include "ps_ingest.h"

#include "ps_log.h"
#include "ps_proto.h"
#include "ps_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t last_seq; /* highest seq accepted */
    char *ack;         /* the ack sent for it, resent verbatim on a retry */
    size_t ack_len;
} s_producer_t;

struct ps_ingest_t {
    char id[PS_ID_MAX + 1];
    size_t max_producers;
    size_t max_series;
    ps_strmap_t *producers; /* producer id -> s_producer_t */
    size_t evict_cursor;
    ps_strmap_t *series; /* "source\x1fdims" -> currency packed in the pointer */
    bool series_full_logged;
    ps_batch_t *batch;
    uint32_t *pending; /* reports of this batch that registered a new series */
    uint32_t *mismatched;
    size_t scratch_cap;
    msgpack_sbuffer forward;
    msgpack_sbuffer ack;
    size_t npending; /* entries of pending used by the current batch */
    uint64_t jseq;
    ps_ingest_stats_t stats;
};

ps_ingest_t *ps_ingest_new (const ps_ingest_config_t *config)
{
    ps_ingest_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->id, sizeof self->id, "%s", config->id);
    self->max_producers = config->max_producers;
    self->max_series = config->max_series;
    msgpack_sbuffer_init (&self->forward);
    msgpack_sbuffer_init (&self->ack);
    self->producers = ps_strmap_new ();
    self->series = ps_strmap_new ();
    self->batch = ps_batch_new ();
    if (!self->producers || !self->series || !self->batch)
        goto err;
    return self;
err:
    ps_ingest_destroy (&self);
    return NULL;
}

static void s_free_producers (ps_strmap_t *producers)
{
    size_t cursor = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (producers, &cursor, &key, &len, &value)) {
        s_producer_t *p = value;
        free (p->ack);
        free (p);
    }
}

void ps_ingest_destroy (ps_ingest_t **self_p)
{
    ps_ingest_t *self = *self_p;
    if (!self)
        return;
    if (self->producers)
        s_free_producers (self->producers);
    ps_strmap_destroy (&self->producers);
    ps_strmap_destroy (&self->series);
    ps_batch_destroy (&self->batch);
    free (self->pending);
    free (self->mismatched);
    msgpack_sbuffer_destroy (&self->forward);
    msgpack_sbuffer_destroy (&self->ack);
    free (self);
    *self_p = NULL;
}

/*  Writes the series key of REPORT (source and dims, not period) into BUF
    and returns its length. */
static size_t s_series_key (const ps_report_t *r, char *buf, size_t size)
{
    int n = snprintf (buf, size, "%s\x1f", r->source);
    for (int d = 0; d < r->ndims && n < (int) size; d++)
        n += snprintf (buf + n, size - n, "%s%s=%s", d ? "," : "", r->dims[d].name,
                       r->dims[d].value);
    return (size_t) n < size ? (size_t) n : size - 1;
}

static uintptr_t s_currency_code (const char *currency)
{
    return (uintptr_t) (unsigned char) currency[0] << 16 |
           (uintptr_t) (unsigned char) currency[1] << 8 | (unsigned char) currency[2];
}

static int s_reject_cmp (const void *a, const void *b)
{
    uint32_t x = ((const ps_reject_t *) a)->index, y = ((const ps_reject_t *) b)->index;
    return (x > y) - (x < y);
}

static void s_encode_ack (ps_ingest_t *self, ps_ack_status_t status, const ps_error_t *error)
{
    msgpack_sbuffer_clear (&self->ack);
    if (self->batch->nrejects > 1)
        qsort (self->batch->rejects, self->batch->nrejects, sizeof (ps_reject_t), s_reject_cmp);
    if (ps_ack_encode (self->batch, status, error, &self->ack) != 0)
        ps_error ("out of memory encoding an ack", NULL);
}

/*  Makes room for per-report scratch indexes. Returns -1 when out of memory. */
static int s_reserve_scratch (ps_ingest_t *self, size_t n)
{
    if (n <= self->scratch_cap)
        return 0;
    uint32_t *pending = realloc (self->pending, n * sizeof *pending);
    if (pending)
        self->pending = pending;
    uint32_t *mismatched = realloc (self->mismatched, n * sizeof *mismatched);
    if (mismatched)
        self->mismatched = mismatched;
    if (!pending || !mismatched)
        return -1;
    self->scratch_cap = n;
    return 0;
}

/*  Applies "one currency per series, first report wins" to the batch's
    valid reports. New series are remembered at once (a later report of the
    same batch must agree with them) and listed in pending, so a batch
    that is not forwarded after all can take them back. Returns how many
    new series were registered. */
static size_t s_check_currencies (ps_ingest_t *self)
{
    ps_batch_t *b = self->batch;
    size_t npending = 0, nmismatched = 0;
    char key[PS_TOPIC_MAX + 1];
    for (uint32_t i = 0; i < b->nreports; i++) {
        const ps_report_t *r = &b->reports[i];
        if (!r->has_amount)
            continue;
        size_t len = s_series_key (r, key, sizeof key);
        uintptr_t code = s_currency_code (r->currency);
        void **slot = ps_strmap_get (self->series, key, len);
        if (slot) {
            if ((uintptr_t) *slot != code)
                self->mismatched[nmismatched++] = i;
            continue;
        }
        if (ps_strmap_size (self->series) >= self->max_series) {
            /* Compute enforces the rule too, so a full map only delays the error. */
            if (!self->series_full_logged)
                ps_warn ("series currency map full; compute alone checks new series",
                         "max_series=%zu", self->max_series);
            self->series_full_logged = true;
            continue;
        }
        bool inserted;
        slot = ps_strmap_put (self->series, key, len, &inserted);
        if (slot) {
            *slot = (void *) code;
            self->pending[npending++] = i;
        }
    }
    /* Highest index first, so earlier positions stay valid while reports move. */
    for (size_t k = nmismatched; k-- > 0;) {
        uint32_t i = self->mismatched[k];
        const ps_report_t *r = &b->reports[i];
        char series[PS_TOPIC_MAX + 1];
        s_series_key (r, series, sizeof series);
        void **slot = ps_strmap_get (self->series, series, strlen (series));
        uintptr_t have = slot ? (uintptr_t) *slot : 0;
        ps_error_t e = {PS_E_CURRENCY_MISMATCH, "currency", ""};
        snprintf (e.reason, sizeof e.reason, "series already reported in %c%c%c, not %s",
                  (char) (have >> 16), (char) (have >> 8), (char) have, r->currency);
        ps_batch_reject (b, i, &e);
    }
    return npending;
}

static void s_forget_series (ps_ingest_t *self, size_t npending)
{
    char key[PS_TOPIC_MAX + 1];
    for (size_t k = 0; k < npending; k++) {
        size_t len = s_series_key (&self->batch->reports[self->pending[k]], key, sizeof key);
        ps_strmap_remove (self->series, key, len);
    }
}

/*  Remembers the batch as the producer's latest, with its ack. When the
    table is full, one other producer (round robin over the slots) is
    forgotten: its next resend of an old batch would then be applied again,
    which is why the bound is a setting. */
static void s_record (ps_ingest_t *self)
{
    const ps_batch_t *b = self->batch;
    size_t len = strlen (b->producer);
    bool inserted;
    if (!ps_strmap_get (self->producers, b->producer, len) &&
        ps_strmap_size (self->producers) >= self->max_producers) {
        const char *key;
        size_t key_len;
        void *value;
        if (!ps_strmap_next (self->producers, &self->evict_cursor, &key, &key_len, &value)) {
            self->evict_cursor = 0;
            ps_strmap_next (self->producers, &self->evict_cursor, &key, &key_len, &value);
        }
        char victim[PS_ID_MAX + 1];
        snprintf (victim, sizeof victim, "%.*s", (int) key_len, key);
        s_producer_t *old = ps_strmap_remove (self->producers, victim, key_len);
        free (old->ack);
        free (old);
    }
    void **slot = ps_strmap_put (self->producers, b->producer, len, &inserted);
    if (!slot)
        return;
    s_producer_t *p = *slot;
    if (!p) {
        p = calloc (1, sizeof *p);
        if (!p) {
            ps_strmap_remove (self->producers, b->producer, len);
            return;
        }
        *slot = p;
    }
    char *copy = realloc (p->ack, self->ack.size);
    if (copy) {
        memcpy (copy, self->ack.data, self->ack.size);
        p->ack = copy;
        p->ack_len = self->ack.size;
    }
    p->last_seq = b->seq;
}

static void s_accept (ps_ingest_t *self)
{
    ps_batch_t *b = self->batch;
    ps_ack_status_t status = b->nrejects == 0   ? PS_ACK_OK
                             : b->nreports == 0 ? PS_ACK_REJECTED
                                                : PS_ACK_PARTIAL;
    s_encode_ack (self, status, NULL);
    s_record (self);
    self->stats.reports_accepted += b->nreports;
    self->stats.reports_rejected += b->nrejects;
}

/*  Answers retry_later: nothing of the batch was kept. */
static void s_retry (ps_ingest_t *self, const char *reason)
{
    ps_error_t e = {PS_E_RETRY, "", ""};
    snprintf (e.reason, sizeof e.reason, "%s", reason);
    self->stats.retries++;
    s_encode_ack (self, PS_ACK_RETRY, &e);
}

/*  Answers a batch whose seq the producer has had accepted already: the
    latest one gets its original ack again (the producer missed it), an
    older one a bare "duplicate". */
static void s_duplicate (ps_ingest_t *self, const s_producer_t *p)
{
    ps_batch_t *b = self->batch;
    self->stats.duplicates++;
    msgpack_sbuffer_clear (&self->ack);
    if (b->seq == p->last_seq && p->ack) {
        msgpack_sbuffer_write (&self->ack, p->ack, p->ack_len);
        return;
    }
    char producer[PS_ID_MAX + 1];
    uint64_t seq = b->seq;
    memcpy (producer, b->producer, sizeof producer);
    ps_batch_reset (b);
    memcpy (b->producer, producer, sizeof producer);
    b->seq = seq;
    ps_ack_encode (b, PS_ACK_DUPLICATE, NULL, &self->ack);
}

ps_ingest_action_t ps_ingest_receive (ps_ingest_t *self, const void *frame, size_t size)
{
    ps_batch_t *b = self->batch;
    ps_error_t err;
    self->stats.batches++;
    self->npending = 0;
    if (ps_batch_decode (b, frame, size, false, &err) != 0) {
        self->stats.batches_rejected++;
        s_encode_ack (self, PS_ACK_REJECTED, &err);
        return PS_INGEST_REPLY;
    }
    void **slot = ps_strmap_get (self->producers, b->producer, strlen (b->producer));
    const s_producer_t *p = slot ? *slot : NULL;
    if (p && b->seq <= p->last_seq) {
        s_duplicate (self, p);
        return PS_INGEST_REPLY;
    }
    if (s_reserve_scratch (self, b->nreports) != 0) {
        s_retry (self, "ingest is out of memory; resend this batch later");
        return PS_INGEST_REPLY;
    }
    self->npending = s_check_currencies (self);
    if (b->nreports == 0) {
        s_accept (self);
        return PS_INGEST_REPLY;
    }
    snprintf (b->ingest, sizeof b->ingest, "%s", self->id);
    b->jseq = self->jseq + 1;
    msgpack_sbuffer_clear (&self->forward);
    if (ps_batch_encode (b, true, &self->forward) != 0) {
        s_forget_series (self, self->npending);
        s_retry (self, "ingest is out of memory; resend this batch later");
        return PS_INGEST_REPLY;
    }
    return PS_INGEST_FORWARD;
}

const msgpack_sbuffer *ps_ingest_forward_frame (const ps_ingest_t *self)
{
    return &self->forward;
}

void ps_ingest_forwarded (ps_ingest_t *self, bool sent)
{
    if (!sent) {
        s_forget_series (self, self->npending);
        s_retry (self, "compute is not keeping up; resend this batch later");
        return;
    }
    self->jseq++;
    self->stats.forwarded = self->jseq;
    s_accept (self);
}

const msgpack_sbuffer *ps_ingest_ack (const ps_ingest_t *self)
{
    return &self->ack;
}

const ps_ingest_stats_t *ps_ingest_stats (const ps_ingest_t *self)
{
    return &self->stats;
}
