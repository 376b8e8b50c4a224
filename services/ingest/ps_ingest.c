/*  ps_ingest: front-door rules for report batches; see ps_ingest.h. */

#include "ps_ingest.h"

#include "ps_log.h"
#include "ps_proto.h"
#include "ps_strmap.h"

#include <inttypes.h>
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
    ps_journal_t *journal;
    const ps_access_t *access; /* NULL: every key may write every source */
    ps_strmap_t *producers;    /* producer id -> s_producer_t */
    size_t evict_cursor;
    ps_strmap_t *series; /* "source\x1fdims" -> currency packed in the pointer */
    bool series_full_logged;
    /* producer id -> lowest seq answered retry_later and not accepted since */
    ps_strmap_t *refused;
    bool refused_full_logged;
    ps_batch_t *batch;
    uint32_t *pending; /* reports of this batch that registered a new series */
    uint32_t *mismatched;
    size_t scratch_cap;
    msgpack_sbuffer forward;
    msgpack_sbuffer ack;
    ps_ingest_stats_t stats;
};

static int s_load (ps_ingest_t *self);

ps_ingest_t *ps_ingest_new (const ps_ingest_config_t *config, ps_journal_t *journal)
{
    ps_ingest_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->id, sizeof self->id, "%s", config->id);
    self->max_producers = config->max_producers;
    self->max_series = config->max_series;
    self->journal = journal;
    msgpack_sbuffer_init (&self->forward);
    msgpack_sbuffer_init (&self->ack);
    self->producers = ps_strmap_new ();
    self->series = ps_strmap_new ();
    self->refused = ps_strmap_new ();
    self->batch = ps_batch_new ();
    if (!self->producers || !self->series || !self->refused || !self->batch || s_load (self) != 0)
        goto err;
    return self;
err:
    ps_ingest_destroy (&self);
    return NULL;
}

static void s_free_producer (s_producer_t *p);

static void s_free_producers (ps_strmap_t *producers)
{
    size_t cursor = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (producers, &cursor, &key, &len, &value))
        s_free_producer (value);
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
    ps_strmap_destroy (&self->refused);
    ps_batch_destroy (&self->batch);
    free (self->pending);
    free (self->mismatched);
    msgpack_sbuffer_destroy (&self->forward);
    msgpack_sbuffer_destroy (&self->ack);
    free (self);
    *self_p = NULL;
}

/* Appends LEN bytes of TEXT to BUF (SIZE bytes, *N used), as many as fit
   with the terminating NUL. */
static void s_put (char *buf, size_t size, size_t *n, const char *text, size_t len)
{
    if (len > size - 1 - *n)
        len = size - 1 - *n;
    memcpy (buf + *n, text, len);
    *n += len;
    buf[*n] = 0;
}

/*  Writes the series key of REPORT (source and dims, not period) into BUF
    and returns its length. Built by hand rather than with snprintf: it
    runs for every report, and formatting was ingest's hottest code. */
static size_t s_series_key (const ps_report_t *r, char *buf, size_t size)
{
    size_t n = 0;
    s_put (buf, size, &n, r->source, strlen (r->source));
    s_put (buf, size, &n, "\x1f", 1);
    for (int d = 0; d < r->ndims; d++) {
        if (d)
            s_put (buf, size, &n, ",", 1);
        s_put (buf, size, &n, r->dims[d].name, strlen (r->dims[d].name));
        s_put (buf, size, &n, "=", 1);
        s_put (buf, size, &n, r->dims[d].value, strlen (r->dims[d].value));
    }
    return n;
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
    same batch must agree with them) and listed in pending (by position
    among the reports left), to be journaled with the batch or taken back
    when it is refused after all. Returns how many new series were
    registered. */
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
    /* Rejecting shifted the reports after each mismatch down by one. */
    for (size_t k = 0, m = 0; k < npending; k++) {
        while (m < nmismatched && self->mismatched[m] < self->pending[k])
            m++;
        self->pending[k] -= (uint32_t) m;
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

/*  Writes the series this batch introduced into the journal's group. */
static int s_journal_series (ps_ingest_t *self, size_t npending)
{
    char key[PS_TOPIC_MAX + 1];
    for (size_t k = 0; k < npending; k++) {
        const ps_report_t *r = &self->batch->reports[self->pending[k]];
        size_t len = s_series_key (r, key, sizeof key);
        if (ps_journal_put_series (self->journal, key, len, r->currency) != 0)
            return -1;
    }
    return 0;
}

static void s_free_producer (s_producer_t *p)
{
    free (p->ack);
    free (p);
}

/*  Makes room for one more producer when the table is full by forgetting
    another (round robin over the slots), in memory and in the journal:
    its next resend of an old batch would then be applied again, which is
    why the bound is a setting. */
static void s_evict (ps_ingest_t *self)
{
    const char *key;
    size_t key_len;
    void *value;
    if (!ps_strmap_next (self->producers, &self->evict_cursor, &key, &key_len, &value)) {
        self->evict_cursor = 0;
        ps_strmap_next (self->producers, &self->evict_cursor, &key, &key_len, &value);
    }
    char victim[PS_ID_MAX + 1];
    snprintf (victim, sizeof victim, "%.*s", (int) key_len, key);
    s_free_producer (ps_strmap_remove (self->producers, victim, key_len));
    ps_journal_del_producer (self->journal, victim, key_len);
}

/*  Remembers SEQ as PRODUCER's latest accepted batch, answered with ACK.
    Returns 0, or -1 when out of memory. */
static int s_remember (ps_ingest_t *self, const char *producer, size_t len, uint64_t seq,
                       const void *ack, size_t ack_len)
{
    bool inserted;
    void **slot = ps_strmap_put (self->producers, producer, len, &inserted);
    if (!slot)
        return -1;
    s_producer_t *p = *slot;
    if (!p) {
        p = calloc (1, sizeof *p);
        if (!p) {
            ps_strmap_remove (self->producers, producer, len);
            return -1;
        }
        *slot = p;
    }
    char *copy = realloc (p->ack, ack_len ? ack_len : 1);
    if (!copy)
        return -1;
    memcpy (copy, ack, ack_len);
    p->ack = copy;
    p->ack_len = ack_len;
    p->last_seq = seq;
    return 0;
}

/*  Records the batch as the producer's latest, with its ack, in memory
    and in the journal's group. */
static void s_record (ps_ingest_t *self)
{
    const ps_batch_t *b = self->batch;
    size_t len = strlen (b->producer);
    if (!ps_strmap_get (self->producers, b->producer, len) &&
        ps_strmap_size (self->producers) >= self->max_producers)
        s_evict (self);
    if (s_remember (self, b->producer, len, b->seq, self->ack.data, self->ack.size) != 0)
        ps_error ("out of memory recording a producer", "producer=%s", b->producer);
    /* A failed write breaks the group: its commit fails and every batch of
       it is refused then, this one included. */
    ps_journal_put_producer (self->journal, b->producer, len, b->seq, self->ack.data,
                             self->ack.size);
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
    for (uint32_t i = 0; i < b->nrejects; i++)
        self->stats.rejected_by_code[b->rejects[i].error.code]++;
}

/*  Notes that SEQ of PRODUCER was refused: its later seqs wait for it. */
static void s_mark_refused (ps_ingest_t *self, const char *producer, uint64_t seq)
{
    size_t len = strlen (producer);
    void **slot = ps_strmap_get (self->refused, producer, len);
    if (slot) {
        if (seq < (uintptr_t) *slot)
            *slot = (void *) (uintptr_t) seq;
        return;
    }
    if (ps_strmap_size (self->refused) >= self->max_producers) {
        if (!self->refused_full_logged)
            ps_warn ("too many producers with a refused batch; not tracking more",
                     "max_producers=%zu", self->max_producers);
        self->refused_full_logged = true;
        return;
    }
    bool inserted;
    slot = ps_strmap_put (self->refused, producer, len, &inserted);
    if (slot)
        *slot = (void *) (uintptr_t) seq;
}

/*  Answers the current batch retry_later: nothing of it was kept. */
static void s_retry (ps_ingest_t *self, const char *reason)
{
    ps_error_t e = {PS_E_RETRY, "", ""};
    snprintf (e.reason, sizeof e.reason, "%s", reason);
    self->stats.retries++;
    s_encode_ack (self, PS_ACK_RETRY, &e);
    s_mark_refused (self, self->batch->producer, self->batch->seq);
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

/*  The refused seq that holds the current batch back, or 0 when none
    does. A final answer to the refused seq itself lifts the hold. */
static uint64_t s_held_back (ps_ingest_t *self)
{
    const ps_batch_t *b = self->batch;
    void **slot = ps_strmap_get (self->refused, b->producer, strlen (b->producer));
    if (!slot)
        return 0;
    uint64_t refused = (uintptr_t) *slot;
    if (b->seq > refused)
        return refused;
    if (b->seq == refused)
        ps_strmap_remove (self->refused, b->producer, strlen (b->producer));
    return 0;
}

/*  Writes the accepted reports of the current batch to the journal and
    accepts it, or answers retry_later when the journal cannot take it. */
static void s_journal_batch (ps_ingest_t *self, size_t npending)
{
    ps_batch_t *b = self->batch;
    snprintf (b->ingest, sizeof b->ingest, "%s", self->id);
    b->jseq = ps_journal_head (self->journal) + 1;
    b->journal = ps_journal_id (self->journal);
    msgpack_sbuffer_clear (&self->forward);
    if (ps_batch_encode (b, true, &self->forward) != 0) {
        s_forget_series (self, npending);
        s_retry (self, "ingest is out of memory; retry later");
        return;
    }
    if (self->forward.size > PS_MAX_ENTRY) {
        /* PS_MAX_ENTRY bounds every entry by construction (ps_limits.h), so
           this is a bug; still, an entry compute would refuse is never
           acknowledged. */
        ps_error_t e;
        ps_error_limit (&e, "journal entry", self->forward.size, PS_MAX_ENTRY);
        ps_error ("refused a batch whose journal entry compute could not take",
                  "producer=%s seq=%" PRIu64 " reason=\"%s\"", b->producer, b->seq, e.reason);
        s_forget_series (self, npending);
        self->stats.batches_rejected++;
        s_encode_ack (self, PS_ACK_REJECTED, &e);
        return;
    }
    int rc = ps_journal_append (self->journal, self->forward.data, self->forward.size);
    if (rc == 0 && s_journal_series (self, npending) == 0) {
        self->stats.journaled++;
        s_accept (self);
        return;
    }
    s_forget_series (self, npending);
    if (rc == 1) {
        char reason[PS_REASON_MAX];
        snprintf (reason, sizeof reason,
                  "journal full (%zu MB; compute has checkpointed up to jseq %" PRIu64
                  "); retry later",
                  ps_journal_max_bytes (self->journal) >> 20, ps_journal_confirmed (self->journal));
        s_retry (self, reason);
    } else {
        ps_error ("journal write failed", "reason=\"%s\"", ps_journal_error (self->journal));
        s_retry (self, "ingest cannot write its journal; retry later");
    }
}

/* ---- Keys and permissions ------------------------------------------------ */

void ps_ingest_set_access (ps_ingest_t *self, const ps_access_t *access)
{
    self->access = access;
}

/*  True when KEY (NULL: no CURVE) may send as PRODUCER: its own name, or
    the name followed by ':' and anything, so that one key can run several
    numbered producers without one being able to take another's seqs. */
static bool s_bound (const char *key, const char *producer)
{
    if (!key)
        return true;
    size_t len = strlen (key);
    return len > 0 && strncmp (producer, key, len) == 0 &&
           (producer[len] == '\0' || producer[len] == ':');
}

/*  Refuses the current batch as a whole: KEY may not send as its
    producer, or ("") is no longer allowed. */
static void s_refuse_key (ps_ingest_t *self, const char *key)
{
    ps_batch_t *b = self->batch;
    ps_error_t e = {PS_E_PERMISSION, "producer", ""};
    if (*key)
        snprintf (e.reason, sizeof e.reason,
                  "key %s may not send as producer %s (only %s or %s:...)", key, b->producer, key,
                  key);
    else
        snprintf (e.reason, sizeof e.reason,
                  "the key this connection authenticated with is no longer allowed");
    self->stats.batches_rejected++;
    s_encode_ack (self, PS_ACK_REJECTED, &e);
    ps_warn (*key ? "refused a batch: producer id not bound to its key"
                  : "refused a batch: its key is no longer allowed",
             "key=%s producer=%s seq=%" PRIu64, *key ? key : "-", b->producer, b->seq);
}

/*  Rejects the current batch's reports for sources KEY may not write,
    with one log line for the batch. */
static void s_check_access (ps_ingest_t *self, const char *key)
{
    if (!self->access || !key)
        return;
    ps_batch_t *b = self->batch;
    uint32_t refused = 0;
    char first[PS_SOURCE_MAX + 1] = "";
    /* From the end, so that rejecting leaves the positions ahead as they were. */
    for (uint32_t i = b->nreports; i-- > 0;) {
        const ps_report_t *r = &b->reports[i];
        if (ps_access_allows (self->access, key, r->source))
            continue;
        ps_error_t e = {PS_E_PERMISSION, "source", ""};
        snprintf (e.reason, sizeof e.reason, "key %s may not write source %s", key, r->source);
        memcpy (first, r->source, sizeof first);
        ps_batch_reject (b, i, &e);
        refused++;
    }
    if (refused)
        ps_warn ("refused reports for sources the key may not write",
                 "key=%s producer=%s seq=%" PRIu64 " source=%s refused=%" PRIu32, key, b->producer,
                 b->seq, first, refused);
}

/* ---- Receiving ------------------------------------------------------------ */

void ps_ingest_receive (ps_ingest_t *self, const char *key, const void *frame, size_t size)
{
    ps_batch_t *b = self->batch;
    ps_error_t err;
    self->stats.batches++;
    if (ps_batch_decode (b, frame, size, false, &err) != 0) {
        self->stats.batches_rejected++;
        if (size > PS_MAX_BATCH) {
            self->stats.oversize++;
            ps_log_every (PS_LOG_WARN, 10, "refused a batch over the size limit",
                          "producer=%s seq=%" PRIu64 " reason=\"%s\"", b->producer, b->seq,
                          err.reason);
        }
        s_encode_ack (self, PS_ACK_REJECTED, &err);
        /* Another key's batch must not touch this producer's state. */
        if (b->seq && s_bound (key, b->producer))
            s_held_back (self);
        return;
    }
    if (!s_bound (key, b->producer)) {
        s_refuse_key (self, key);
        return;
    }
    uint64_t held = s_held_back (self);
    if (held) {
        char reason[PS_REASON_MAX];
        snprintf (reason, sizeof reason,
                  "batch %" PRIu64 " of this producer was refused; resend it before later ones",
                  held);
        s_retry (self, reason);
        return;
    }
    void **slot = ps_strmap_get (self->producers, b->producer, strlen (b->producer));
    const s_producer_t *p = slot ? *slot : NULL;
    if (p && b->seq <= p->last_seq) {
        s_duplicate (self, p);
        return;
    }
    s_check_access (self, key);
    if (s_reserve_scratch (self, b->nreports) != 0) {
        s_retry (self, "ingest is out of memory; retry later");
        return;
    }
    size_t npending = s_check_currencies (self);
    if (b->nreports == 0)
        s_accept (self);
    else
        s_journal_batch (self, npending);
}

const char *ps_ingest_producer (const ps_ingest_t *self)
{
    return self->batch->producer;
}

uint64_t ps_ingest_seq (const ps_ingest_t *self)
{
    return self->batch->seq;
}

const msgpack_sbuffer *ps_ingest_ack (const ps_ingest_t *self)
{
    return &self->ack;
}

void ps_ingest_refuse (ps_ingest_t *self, const char *producer, uint64_t seq, const char *reason)
{
    ps_batch_t *b = self->batch;
    ps_batch_reset (b);
    snprintf (b->producer, sizeof b->producer, "%s", producer);
    b->seq = seq;
    void **slot = ps_strmap_get (self->producers, producer, strlen (producer));
    if (slot && seq <= ((const s_producer_t *) *slot)->last_seq)
        s_duplicate (self, *slot); /* durable before the failed group: say so again */
    else
        s_retry (self, reason);
}

/* ---- Loading ------------------------------------------------------------ */

static int s_load_producer (void *arg, const char *producer, size_t len, uint64_t seq,
                            const void *ack, size_t ack_len)
{
    ps_ingest_t *self = arg;
    if (len == 0 || len > PS_ID_MAX)
        return 0; /* not a producer id: nothing to remember */
    return s_remember (self, producer, len, seq, ack, ack_len);
}

static int s_load_series (void *arg, const char *key, size_t len, const char *currency)
{
    ps_ingest_t *self = arg;
    if (len > PS_TOPIC_MAX || ps_strmap_size (self->series) >= self->max_series)
        return 0;
    bool inserted;
    void **slot = ps_strmap_put (self->series, key, len, &inserted);
    if (!slot)
        return -1;
    *slot = (void *) s_currency_code (currency);
    return 0;
}

/*  Fills the producer and series tables from the journal. */
static int s_load (ps_ingest_t *self)
{
    if (ps_journal_load (self->journal, s_load_producer, s_load_series, self) != 0) {
        ps_error ("cannot load the journal", "reason=\"%s\"", ps_journal_error (self->journal));
        return -1;
    }
    return 0;
}

int ps_ingest_reload (ps_ingest_t *self)
{
    s_free_producers (self->producers);
    ps_strmap_destroy (&self->producers);
    ps_strmap_destroy (&self->series);
    self->producers = ps_strmap_new ();
    self->series = ps_strmap_new ();
    self->evict_cursor = 0;
    if (!self->producers || !self->series) {
        ps_error ("out of memory reloading the journal", NULL);
        return -1;
    }
    return s_load (self);
}

const ps_ingest_stats_t *ps_ingest_stats (const ps_ingest_t *self)
{
    return &self->stats;
}
