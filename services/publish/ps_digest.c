/*  ps_digest: per-prefix digests of the latest seqs; see ps_digest.h. */

#include "ps_digest.h"

#include "ps_proto.h"
#include "ps_strmap.h"

#include <stdlib.h>
#include <string.h>

/* Sums live in the map's value pointers. */
_Static_assert(sizeof (void *) >= sizeof (uint64_t), "64-bit pointers needed");

struct ps_digest_t {
    ps_strmap_t *sums; /* prefix -> sum (the pointer holds the integer) */
    size_t max;
    uint32_t per_len[PS_TOPIC_MAX + 1]; /* watched prefixes of each length */
    uint16_t lens[PS_TOPIC_MAX + 1];    /* the lengths in use, increasing */
    size_t nlens;
};

ps_digest_t *ps_digest_new (size_t max)
{
    ps_digest_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max = max;
    self->sums = ps_strmap_new ();
    if (!self->sums) {
        free (self);
        return NULL;
    }
    return self;
}

void ps_digest_destroy (ps_digest_t **self_p)
{
    ps_digest_t *self = *self_p;
    if (!self)
        return;
    ps_strmap_destroy (&self->sums);
    free (self);
    *self_p = NULL;
}

static void s_lens_rebuild (ps_digest_t *self)
{
    self->nlens = 0;
    for (size_t len = 0; len <= PS_TOPIC_MAX; len++)
        if (self->per_len[len])
            self->lens[self->nlens++] = (uint16_t) len;
}

int ps_digest_watch (ps_digest_t *self, const char *prefix, size_t len, const ps_lvc_t *lvc)
{
    if (len > PS_TOPIC_MAX)
        return -1;
    if (ps_strmap_get (self->sums, prefix, len))
        return 1;
    if (ps_strmap_size (self->sums) >= self->max)
        return -1;
    uint64_t sum = 0;
    size_t n = ps_lvc_size (lvc);
    for (size_t i = 0; i < n; i++) {
        ps_feed_msg_t msg;
        ps_lvc_at (lvc, i, &msg);
        if (msg.topic_len >= len && memcmp (msg.topic, prefix, len) == 0)
            sum += msg.seq;
    }
    bool inserted;
    void **slot = ps_strmap_put (self->sums, prefix, len, &inserted);
    if (!slot)
        return -1;
    *slot = (void *) (uintptr_t) (sum & PS_DIGEST_MASK);
    if (self->per_len[len]++ == 0)
        s_lens_rebuild (self);
    return 0;
}

void ps_digest_unwatch (ps_digest_t *self, const char *prefix, size_t len)
{
    if (len > PS_TOPIC_MAX || !ps_strmap_get (self->sums, prefix, len))
        return;
    ps_strmap_remove (self->sums, prefix, len);
    if (--self->per_len[len] == 0)
        s_lens_rebuild (self);
}

void ps_digest_update (ps_digest_t *self, const char *topic, size_t topic_len, uint64_t old_seq,
                       uint64_t new_seq)
{
    for (size_t i = 0; i < self->nlens && self->lens[i] <= topic_len; i++) {
        void **slot = ps_strmap_get (self->sums, topic, self->lens[i]);
        if (slot)
            *slot = (void *) (uintptr_t) (((uintptr_t) *slot + new_seq - old_seq) & PS_DIGEST_MASK);
    }
}

bool ps_digest_get (ps_digest_t *self, const char *prefix, size_t len, uint64_t *sum)
{
    void **slot = len <= PS_TOPIC_MAX ? ps_strmap_get (self->sums, prefix, len) : NULL;
    if (slot)
        *sum = (uintptr_t) *slot;
    return slot != NULL;
}

bool ps_digest_next (const ps_digest_t *self, size_t *cursor, const char **prefix, size_t *len,
                     uint64_t *sum)
{
    void *value;
    if (!ps_strmap_next (self->sums, cursor, prefix, len, &value))
        return false;
    *sum = (uintptr_t) value;
    return true;
}

size_t ps_digest_size (const ps_digest_t *self)
{
    return ps_strmap_size (self->sums);
}
