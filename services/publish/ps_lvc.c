/*  ps_lvc: last-value cache of feed messages; see ps_lvc.h. */

#include "ps_lvc.h"

#include "ps_strmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* A topic and its latest body in one allocation: topic bytes, then body. */
typedef struct {
    uint64_t seq;
    size_t topic_len;
    size_t len;
    size_t capacity; /* bytes for the body */
    unsigned char data[];
} s_value_t;

/* Room for a body of LEN bytes, rounded up so that a message that grows
   by a field does not realloc each time. */
static size_t s_room (size_t len)
{
    return len + len / 4 + 16;
}

struct ps_lvc_t {
    ps_strmap_t *topics; /* topic -> entry index + 1 */
    s_value_t **entries;
    size_t nentries;
    size_t cap;
    size_t bytes;
};

ps_lvc_t *ps_lvc_new (void)
{
    ps_lvc_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->topics = ps_strmap_new ();
    if (!self->topics) {
        free (self);
        return NULL;
    }
    return self;
}

void ps_lvc_destroy (ps_lvc_t **self_p)
{
    ps_lvc_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nentries; i++)
        free (self->entries[i]);
    free (self->entries);
    ps_strmap_destroy (&self->topics);
    free (self);
    *self_p = NULL;
}

/* Appends a new, empty entry for TOPIC with room for HINT body bytes;
   returns its index or -1. */
static long s_append (ps_lvc_t *self, const char *topic, size_t topic_len, size_t hint)
{
    if (self->nentries == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 1024;
        s_value_t **grown = realloc (self->entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->entries = grown;
        self->cap = cap;
    }
    size_t capacity = s_room (hint);
    s_value_t *v = malloc (sizeof *v + topic_len + capacity);
    if (!v)
        return -1;
    *v = (s_value_t){0, topic_len, 0, capacity};
    memcpy (v->data, topic, topic_len);
    bool inserted;
    void **slot = ps_strmap_put (self->topics, topic, topic_len, &inserted);
    if (!slot) {
        free (v);
        return -1;
    }
    self->entries[self->nentries] = v;
    *slot = (void *) (uintptr_t) (self->nentries + 1);
    return (long) self->nentries++;
}

long ps_lvc_slot (ps_lvc_t *self, const char *topic, size_t topic_len, size_t hint)
{
    void **slot = ps_strmap_get (self->topics, topic, topic_len);
    return slot ? (long) (uintptr_t) *slot - 1 : s_append (self, topic, topic_len, hint);
}

uint64_t ps_lvc_seq (const ps_lvc_t *self, size_t index)
{
    assert (index < self->nentries);
    return self->entries[index]->seq;
}

int ps_lvc_store (ps_lvc_t *self, size_t index, uint64_t seq, const void *body, size_t len)
{
    assert (index < self->nentries);
    s_value_t *v = self->entries[index];
    if (v->capacity < len) {
        size_t capacity = s_room (len);
        s_value_t *grown = realloc (v, sizeof *grown + v->topic_len + capacity);
        if (!grown)
            return -1;
        grown->capacity = capacity;
        self->entries[index] = v = grown;
    }
    self->bytes = self->bytes - v->len + len;
    v->seq = seq;
    v->len = len;
    memcpy (v->data + v->topic_len, body, len);
    return 0;
}

void ps_lvc_at (const ps_lvc_t *self, size_t index, ps_feed_msg_t *msg)
{
    const s_value_t *v = self->entries[index];
    *msg = (ps_feed_msg_t){(const char *) v->data, v->topic_len, v->seq, v->data + v->topic_len,
                           v->len};
}

size_t ps_lvc_size (const ps_lvc_t *self)
{
    return self->nentries;
}

size_t ps_lvc_bytes (const ps_lvc_t *self)
{
    return self->bytes;
}
