/*  ps_keytab: records found by a compact binary key; see ps_keytab.h. */

#include "ps_keytab.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof (ps_key_t) == 24, "ps_key_t must have no padding");

/*  A slot holds a record id and 16 more bits of its key's hash, so a
    probe passes over other keys without reading their records (each a
    cache miss of its own): a lookup costs the slot's cache line, plus the
    record when the key is there. Six bytes a slot keep the index within
    the store's memory budget. */
typedef struct __attribute__ ((packed)) {
    uint32_t id; /* 0 = empty */
    uint16_t check;
} s_slot_t;

struct ps_keytab_t {
    size_t rec_size;
    char *recs; /* record id lives at recs + id * rec_size; id 0 unused */
    uint32_t count;
    uint32_t cap;    /* records allocated, including the unused id 0 */
    s_slot_t *slots; /* linear probing */
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

/* Low bits choose the home slot; the top 16 are the slot's check. */
static uint64_t s_hash (const ps_key_t *key)
{
    uint64_t w[3];
    memcpy (w, key, sizeof w);
    return s_mix (w[0] * 0x9e3779b97f4a7c15ULL ^ s_mix (w[1] + 0x632be59bd9b4e019ULL) ^
                  (w[2] * 0xbf58476d1ce4e5b9ULL));
}

static uint16_t s_check (uint64_t hash)
{
    return (uint16_t) (hash >> 48);
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

static const void *s_rec (const ps_keytab_t *self, uint32_t id)
{
    return self->recs + (size_t) id * self->rec_size;
}

/* The slot holding KEY (with hash H), or the empty slot where it would
   go, probing from slot I. */
static uint32_t s_probe (const ps_keytab_t *self, const ps_key_t *key, uint64_t h, uint32_t i)
{
    uint16_t check = s_check (h);
    for (const s_slot_t *sl; (sl = &self->slots[i])->id; i = (i + 1) & self->mask)
        if (sl->check == check && memcmp (s_rec (self, sl->id), key, sizeof *key) == 0)
            break;
    return i;
}

uint32_t ps_keytab_find (const ps_keytab_t *self, const ps_key_t *key)
{
    uint64_t h = s_hash (key);
    return self->slots[s_probe (self, key, h, (uint32_t) h & self->mask)].id;
}

#define S_CHUNK 32

void ps_keytab_find_many (const ps_keytab_t *self, const ps_key_t *keys, uint32_t n, uint32_t *ids)
{
    /* In chunks, so the prefetched lines are still in cache when read:
       each key's home slot, then the record of the first slot whose check
       matches (or none, when an empty slot ends the probe). */
    uint64_t h[S_CHUNK];
    uint32_t at[S_CHUNK];
    for (uint32_t base = 0; base < n; base += S_CHUNK) {
        uint32_t m = n - base < S_CHUNK ? n - base : S_CHUNK;
        const ps_key_t *k = keys + base;
        for (uint32_t i = 0; i < m; i++) {
            h[i] = s_hash (&k[i]);
            at[i] = (uint32_t) h[i] & self->mask;
            __builtin_prefetch (&self->slots[at[i]]);
        }
        for (uint32_t i = 0; i < m; i++) {
            uint32_t j = at[i];
            uint16_t check = s_check (h[i]);
            while (self->slots[j].id && self->slots[j].check != check)
                j = (j + 1) & self->mask;
            at[i] = j;
            if (self->slots[j].id)
                __builtin_prefetch (s_rec (self, self->slots[j].id));
        }
        for (uint32_t i = 0; i < m; i++) {
            uint32_t j = at[i];
            uint32_t id = self->slots[j].id;
            if (id && memcmp (s_rec (self, id), &k[i], sizeof *k) != 0)
                j = s_probe (self, &k[i], h[i], (j + 1) & self->mask);
            ids[base + i] = self->slots[j].id;
        }
    }
}

static int s_grow_slots (ps_keytab_t *self)
{
    uint32_t mask = self->mask * 2 + 1;
    s_slot_t *slots = calloc ((size_t) mask + 1, sizeof *slots);
    if (!slots)
        return -1;
    for (uint32_t id = 1; id <= self->count; id++) {
        uint64_t h = s_hash (ps_keytab_at (self, id));
        uint32_t i = (uint32_t) h & mask;
        while (slots[i].id)
            i = (i + 1) & mask;
        slots[i] = (s_slot_t){id, s_check (h)};
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
    uint64_t h = s_hash (key);
    uint32_t slot = s_probe (self, key, h, (uint32_t) h & self->mask);
    assert (self->slots[slot].id == 0);
    uint32_t id = ++self->count;
    char *rec = self->recs + (size_t) id * self->rec_size;
    memset (rec, 0, self->rec_size);
    memcpy (rec, key, sizeof *key);
    self->slots[slot] = (s_slot_t){id, s_check (h)};
    return id;
}

uint32_t ps_keytab_count (const ps_keytab_t *self)
{
    return self->count;
}

size_t ps_keytab_memory (const ps_keytab_t *self)
{
    return ((size_t) self->count + 1) * self->rec_size +
           ((size_t) self->mask + 1) * sizeof *self->slots;
}
