/*  ps_lvc: last-value cache of feed messages; see ps_lvc.h. */

#include "ps_lvc.h"

#include "ps_strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t seq;
    size_t len;
    size_t capacity;
    unsigned char body[];
} s_value_t;

struct ps_lvc_t {
    ps_strmap_t *topics; /* topic -> s_value_t */
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
    size_t cursor = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (self->topics, &cursor, &key, &len, &value))
        free (value);
    ps_strmap_destroy (&self->topics);
    free (self);
    *self_p = NULL;
}

uint64_t ps_lvc_last_seq (ps_lvc_t *self, const char *topic, size_t topic_len)
{
    void **slot = ps_strmap_get (self->topics, topic, topic_len);
    return slot ? ((s_value_t *) *slot)->seq : 0;
}

int ps_lvc_store (ps_lvc_t *self, const char *topic, size_t topic_len, uint64_t seq,
                  const void *body, size_t len)
{
    bool inserted;
    void **slot = ps_strmap_put (self->topics, topic, topic_len, &inserted);
    if (!slot)
        return -1;
    s_value_t *v = *slot;
    if (!v || v->capacity < len) {
        /* Round up so a message that grows by a field does not realloc each time. */
        size_t capacity = len + len / 4 + 16;
        s_value_t *grown = realloc (v, sizeof *grown + capacity);
        if (!grown) {
            if (inserted)
                ps_strmap_remove (self->topics, topic, topic_len);
            return -1;
        }
        if (!v) {
            grown->seq = 0;
            grown->len = 0;
        }
        grown->capacity = capacity;
        *slot = v = grown;
    }
    self->bytes = self->bytes - v->len + len;
    v->seq = seq;
    v->len = len;
    memcpy (v->body, body, len);
    return 0;
}

size_t ps_lvc_size (const ps_lvc_t *self)
{
    return ps_strmap_size (self->topics);
}

size_t ps_lvc_bytes (const ps_lvc_t *self)
{
    return self->bytes;
}
