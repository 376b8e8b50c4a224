/*  ps_keytab: records found by a compact binary key; see ps_keytab.h. */

#include "ps_keytab.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof (ps_key_t) == 24, "ps_key_t must have no padding");

struct ps_keytab_t {
    size_t rec_size;
    char *recs; /* record id lives at recs + id * rec_size; id 0 unused */
    uint32_t count;
    uint32_t cap;    /* records allocated, including the unused id 0 */
    uint32_t *slots; /* record ids, 0 = empty; linear probing */
    uint32_t mask;   /* slot count - 1 (a power of two) */
};

static uint64_t s_mix (uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint32_t s_hash (const ps_key_t *key)
{
    uint64_t w[3];
    memcpy (w, key, sizeof w);
    return (uint32_t) s_mix (w[0] * 0x9e3779b97f4a7c15ULL ^ s_mix (w[1] + 0x632be59bd9b4e019ULL) ^
                             (w[2] * 0xbf58476d1ce4e5b9ULL));
}

ps_keytab_t *ps_keytab_new (size_t rec_size)
{
    assert (rec_size >= sizeof (ps_key_t));
    ps_keytab_t *self = calloc (1, sizeof *self);
    if (!self)
        goto err;
    self->rec_size = rec_size;
    self->cap = 1024;
    self->recs = malloc (self->cap * rec_size);
    self->mask = 2047;
    self->slots = calloc (self->mask + 1, sizeof *self->slots);
    if (!self->recs || !self->slots)
        goto err;
    return self;
err:
    ps_keytab_destroy (&self);
    return NULL;
}

void ps_keytab_destroy (ps_keytab_t **self_p)
{
    ps_keytab_t *self = *self_p;
    if (!self)
        return;
    free (self->recs);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

void *ps_keytab_at (const ps_keytab_t *self, uint32_t id)
{
    assert (id >= 1 && id <= self->count);
    return self->recs + (size_t) id * self->rec_size;
}

/* The slot holding KEY, or the empty slot where it would go, probing
   from slot I. */
static uint32_t s_probe (const ps_keytab_t *self, const ps_key_t *key, uint32_t i)
{
    while (self->slots[i] && memcmp (ps_keytab_at (self, self->slots[i]), key, sizeof *key) != 0)
        i = (i + 1) & self->mask;
    return i;
}

static uint32_t s_slot (const ps_keytab_t *self, const ps_key_t *key)
{
    return s_probe (self, key, s_hash (key) & self->mask);
}

uint32_t ps_keytab_find (const ps_keytab_t *self, const ps_key_t *key)
{
    return self->slots[s_slot (self, key)];
}

void ps_keytab_find_many (const ps_keytab_t *self, const ps_key_t *keys, uint32_t n, uint32_t *ids)
{
    /* In chunks, so the prefetched lines are still in cache when compared.
       IDS holds each key's home slot until the last pass. */
    for (uint32_t at = 0; at < n; at += 32) {
        uint32_t end = n - at < 32 ? n : at + 32;
        for (uint32_t i = at; i < end; i++) {
            ids[i] = s_hash (&keys[i]) & self->mask;
            __builtin_prefetch (&self->slots[ids[i]]);
        }
        for (uint32_t i = at; i < end; i++)
            if (self->slots[ids[i]])
                __builtin_prefetch (self->recs + (size_t) self->slots[ids[i]] * self->rec_size);
        for (uint32_t i = at; i < end; i++)
            ids[i] = self->slots[s_probe (self, &keys[i], ids[i])];
    }
}

static int s_grow_slots (ps_keytab_t *self)
{
    uint32_t mask = self->mask * 2 + 1;
    uint32_t *slots = calloc ((size_t) mask + 1, sizeof *slots);
    if (!slots)
        return -1;
    for (uint32_t id = 1; id <= self->count; id++) {
        uint32_t i = s_hash (ps_keytab_at (self, id)) & mask;
        while (slots[i])
            i = (i + 1) & mask;
        slots[i] = id;
    }
    free (self->slots);
    self->slots = slots;
    self->mask = mask;
    return 0;
}

int ps_keytab_reserve (ps_keytab_t *self, uint32_t n)
{
    uint64_t need = (uint64_t) self->count + n + 1;
    if (need > UINT32_MAX / 2)
        return -1;
    if (need > self->cap) {
        uint32_t cap = self->cap;
        while (cap < need)
            cap *= 2;
        char *recs = realloc (self->recs, (size_t) cap * self->rec_size);
        if (!recs)
            return -1;
        self->recs = recs;
        self->cap = cap;
    }
    while ((need - 1) * 4 > ((uint64_t) self->mask + 1) * 3)
        if (s_grow_slots (self) != 0)
            return -1;
    return 0;
}

uint32_t ps_keytab_insert (ps_keytab_t *self, const ps_key_t *key)
{
    assert (key->zero == 0);
    if (ps_keytab_reserve (self, 1) != 0)
        return 0;
    uint32_t slot = s_slot (self, key);
    assert (self->slots[slot] == 0);
    uint32_t id = ++self->count;
    char *rec = self->recs + (size_t) id * self->rec_size;
    memset (rec, 0, self->rec_size);
    memcpy (rec, key, sizeof *key);
    self->slots[slot] = id;
    return id;
}

uint32_t ps_keytab_count (const ps_keytab_t *self)
{
    return self->count;
}

size_t ps_keytab_memory (const ps_keytab_t *self)
{
    return ((size_t) self->count + 1) * self->rec_size +
           ((size_t) self->mask + 1) * sizeof (uint32_t);
}
