/*  ps_numbering: the feed's numbering and one update's burst; see
    ps_numbering.h. */

#include "ps_numbering.h"

#include <inttypes.h>
#include <stdlib.h>

#include "ps_body.h"
#include "ps_log.h"

/* Where one item's body lies in the burst; LEN 0: not sent. */
typedef struct {
    size_t offset;
    size_t len;
} s_span_t;

struct ps_numbering_t {
    ps_lvc_t *lvc;       /* not owned */
    ps_ring_t *ring;     /* not owned */
    ps_digest_t *digest; /* not owned */
    uint64_t epoch;
    uint64_t seq; /* last seq published in this epoch */
    msgpack_sbuffer body;
    msgpack_sbuffer removed; /* fields of a removal message */
    msgpack_sbuffer burst;   /* the bodies of one update's messages, back to back */
    s_span_t *spans;         /* each body's place, in item order */
    size_t burst_n;          /* items in the last burst */
    size_t burst_cap;
    uint64_t refused[PS_BODY__COUNT]; /* update items refused, by reason */
};

ps_numbering_t *ps_numbering_new (uint64_t epoch, ps_lvc_t *lvc, ps_ring_t *ring,
                                  ps_digest_t *digest)
{
    ps_numbering_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->lvc = lvc;
    self->ring = ring;
    self->digest = digest;
    self->epoch = epoch;
    msgpack_sbuffer_init (&self->body);
    msgpack_sbuffer_init (&self->removed);
    msgpack_sbuffer_init (&self->burst);
    ps_body_removed_encode (&self->removed);
    if (!self->removed.data)
        ps_numbering_destroy (&self);
    return self;
}

void ps_numbering_destroy (ps_numbering_t **self_p)
{
    ps_numbering_t *self = *self_p;
    if (!self)
        return;
    msgpack_sbuffer_destroy (&self->body);
    msgpack_sbuffer_destroy (&self->removed);
    msgpack_sbuffer_destroy (&self->burst);
    free (self->spans);
    free (self);
    *self_p = NULL;
}

uint64_t ps_numbering_epoch (const ps_numbering_t *self)
{
    return self->epoch;
}

uint64_t ps_numbering_seq (const ps_numbering_t *self)
{
    return self->seq;
}

size_t ps_numbering_keep_valid (ps_numbering_t *self, ps_update_item_t *items, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        ps_body_fault_t fault;
        if (items[i].body_len > 0 &&
            ps_body_check (items[i].topic, items[i].topic_len, items[i].body, items[i].body_len,
                           &fault) != 0) {
            self->refused[fault.reason]++;
            ps_log_every (PS_LOG_WARN, 10, "refused an update item its subscribers could not read",
                          "topic=\"%.*s\" field=%s reason=%s why=\"%s\"", (int) items[i].topic_len,
                          items[i].topic, fault.error.field, ps_body_reason_name (fault.reason),
                          fault.error.reason);
            continue;
        }
        items[kept++] = items[i];
    }
    return kept;
}

uint64_t ps_numbering_refused (const ps_numbering_t *self, ps_body_reason_t reason)
{
    return reason < PS_BODY__COUNT ? self->refused[reason] : 0;
}

/*  Numbers ITEM, caches it and keeps it for replay, and appends its feed
    body to the burst; SPAN is set to where it lies, its length 0 when it
    is not to be sent (out of memory, logged). */
static void s_number_item (ps_numbering_t *self, const ps_update_item_t *item, s_span_t *span)
{
    span->offset = self->burst.size;
    span->len = 0;
    const uint8_t *fields = item->body;
    size_t fields_len = item->body_len;
    if (fields_len == 0) {
        fields = (const uint8_t *) self->removed.data;
        fields_len = self->removed.size;
    }
    uint64_t seq = self->seq + 1;
    long index =
        ps_lvc_slot (self->lvc, item->topic, item->topic_len, fields_len + PS_FEED_NUMBERING_MAX);
    uint64_t prev = index < 0 ? 0 : ps_lvc_seq (self->lvc, (size_t) index);
    if (index < 0 || ps_feed_body (seq, prev, self->epoch, fields, fields_len, &self->body) != 0 ||
        ps_lvc_store (self->lvc, (size_t) index, seq, self->body.data, self->body.size) != 0) {
        ps_error ("out of memory numbering or caching a message", "topic=%.*s",
                  (int) item->topic_len, item->topic);
        return;
    }
    self->seq = seq;
    ps_digest_update (self->digest, item->topic, item->topic_len, prev, seq);
    ps_feed_msg_t msg = {item->topic, item->topic_len, seq, self->body.data, self->body.size};
    if (ps_ring_push (self->ring, &msg) != 0)
        ps_warn ("out of memory keeping a message for replay; replays restart from here", NULL);
    if (msgpack_sbuffer_write (&self->burst, self->body.data, self->body.size) != 0) {
        ps_error ("out of memory sending a message; subscribers will see a gap",
                  "topic=%.*s seq=%" PRIu64, (int) item->topic_len, item->topic, seq);
        return;
    }
    span->len = self->body.size;
}

int ps_numbering_burst (ps_numbering_t *self, const ps_update_item_t *items, size_t n)
{
    self->burst_n = 0;
    if (n > self->burst_cap) {
        s_span_t *grown = realloc (self->spans, n * sizeof *grown);
        if (!grown) {
            ps_error ("out of memory publishing an update; subscribers will see a gap", "items=%zu",
                      n);
            return -1;
        }
        self->spans = grown;
        self->burst_cap = n;
    }
    msgpack_sbuffer_clear (&self->burst);
    for (size_t i = 0; i < n; i++)
        s_number_item (self, &items[i], &self->spans[i]);
    self->burst_n = n;
    return 0;
}

size_t ps_numbering_body (const ps_numbering_t *self, size_t i, const void **body)
{
    if (i >= self->burst_n || self->spans[i].len == 0)
        return 0;
    *body = self->burst.data + self->spans[i].offset;
    return self->spans[i].len;
}
