/*  ps_ring: recent feed messages for replay; see ps_ring.h. */

#include "ps_ring.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t seq;
    size_t topic_len;
    size_t len;
    size_t capacity;
    unsigned char *data; /* topic, then body */
} s_slot_t;

struct ps_ring_t {
    s_slot_t *slots;
    size_t capacity;
    uint64_t first; /* oldest seq held, 0 when empty */
    uint64_t last;
    size_t bytes;
};

ps_ring_t *ps_ring_new (size_t capacity)
{
    ps_ring_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = capacity;
    self->slots = capacity ? calloc (capacity, sizeof *self->slots) : NULL;
    if (capacity && !self->slots) {
        free (self);
        return NULL;
    }
    return self;
}

void ps_ring_destroy (ps_ring_t **self_p)
{
    ps_ring_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->capacity; i++)
        free (self->slots[i].data);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

int ps_ring_push (ps_ring_t *self, const ps_feed_msg_t *msg)
{
    if (!self->capacity)
        return 0;
    s_slot_t *slot = &self->slots[msg->seq % self->capacity];
    size_t need = msg->topic_len + msg->body_len;
    if (slot->capacity < need) {
        unsigned char *grown = realloc (slot->data, need);
        if (!grown) {
            self->first = self->last = 0;
            return -1;
        }
        self->bytes += need - slot->capacity;
        slot->data = grown;
        slot->capacity = need;
    }
    slot->seq = msg->seq;
    slot->topic_len = msg->topic_len;
    slot->len = msg->body_len;
    memcpy (slot->data, msg->topic, msg->topic_len);
    memcpy (slot->data + msg->topic_len, msg->body, msg->body_len);
    if (!self->first || msg->seq != self->last + 1)
        self->first = msg->seq;
    else if (msg->seq - self->first >= self->capacity)
        self->first = msg->seq - self->capacity + 1;
    self->last = msg->seq;
    return 0;
}

uint64_t ps_ring_first (const ps_ring_t *self)
{
    return self->first;
}

int ps_ring_get (const ps_ring_t *self, uint64_t seq, ps_feed_msg_t *msg)
{
    if (!self->first || seq < self->first || seq > self->last)
        return -1;
    const s_slot_t *slot = &self->slots[seq % self->capacity];
    *msg = (ps_feed_msg_t){(const char *) slot->data, slot->topic_len, slot->seq,
                           slot->data + slot->topic_len, slot->len};
    return 0;
}

size_t ps_ring_bytes (const ps_ring_t *self)
{
    return self->bytes;
}
