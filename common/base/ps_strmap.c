/*  ps_strmap: open-addressing hash map of byte strings; see ps_strmap.h. */

#include "ps_strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    void *value;
    size_t len;
    char key[]; /* LEN bytes, then a NUL for convenience */
} s_entry_t;

struct ps_strmap_t {
    s_entry_t **slots; /* NULL = empty */
    size_t mask;       /* capacity - 1, capacity a power of two */
    size_t size;
};

/* FNV-1a, 64 bit: keys here are short text, where it is fast enough and
   spreads well under linear probing once mixed by the final avalanche. */
static uint64_t s_hash (const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

ps_strmap_t *ps_strmap_new (void)
{
    ps_strmap_t *self = calloc (1, sizeof *self);
    if (!self)
        goto err;
    self->mask = 15;
    self->slots = calloc (self->mask + 1, sizeof *self->slots);
    if (!self->slots)
        goto err;
    return self;
err:
    free (self);
    return NULL;
}

void ps_strmap_destroy (ps_strmap_t **self_p)
{
    ps_strmap_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i <= self->mask; i++)
        free (self->slots[i]);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

static size_t s_find (const ps_strmap_t *self, const void *key, size_t len, uint64_t hash)
{
    size_t i = hash & self->mask;
    for (;;) {
        s_entry_t *e = self->slots[i];
        if (!e || (e->hash == hash && e->len == len && memcmp (e->key, key, len) == 0))
            return i;
        i = (i + 1) & self->mask;
    }
}

/*  Doubles the table. Returns -1 when out of memory (the map is unchanged). */
static int s_grow (ps_strmap_t *self)
{
    size_t capacity = (self->mask + 1) * 2;
    s_entry_t **slots = calloc (capacity, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i <= self->mask; i++) {
        s_entry_t *e = self->slots[i];
        if (!e)
            continue;
        size_t j = e->hash & (capacity - 1);
        while (slots[j])
            j = (j + 1) & (capacity - 1);
        slots[j] = e;
    }
    free (self->slots);
    self->slots = slots;
    self->mask = capacity - 1;
    return 0;
}

void **ps_strmap_get (ps_strmap_t *self, const void *key, size_t len)
{
    s_entry_t *e = self->slots[s_find (self, key, len, s_hash (key, len))];
    return e ? &e->value : NULL;
}

void **ps_strmap_put (ps_strmap_t *self, const void *key, size_t len, bool *inserted)
{
    uint64_t hash = s_hash (key, len);
    size_t i = s_find (self, key, len, hash);
    *inserted = false;
    if (self->slots[i])
        return &self->slots[i]->value;
    /* Keep the load factor under 3/4 so probes stay short. */
    if ((self->size + 1) * 4 > (self->mask + 1) * 3) {
        if (s_grow (self) != 0)
            return NULL;
        i = s_find (self, key, len, hash);
    }
    s_entry_t *e = malloc (sizeof *e + len + 1);
    if (!e)
        return NULL;
    e->hash = hash;
    e->value = NULL;
    e->len = len;
    memcpy (e->key, key, len);
    e->key[len] = '\0';
    self->slots[i] = e;
    self->size++;
    *inserted = true;
    return &e->value;
}

void *ps_strmap_remove (ps_strmap_t *self, const void *key, size_t len)
{
    size_t i = s_find (self, key, len, s_hash (key, len));
    s_entry_t *e = self->slots[i];
    if (!e)
        return NULL;
    void *value = e->value;
    free (e);
    self->slots[i] = NULL;
    self->size--;
    /* Backward-shift: move later members of the probe run into the hole so
       lookups never stop early at it. */
    size_t hole = i;
    for (size_t j = (i + 1) & self->mask; self->slots[j]; j = (j + 1) & self->mask) {
        size_t home = self->slots[j]->hash & self->mask;
        /* Entry at j may move to the hole if its home is not in (hole, j]. */
        bool between = (hole <= j) ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            self->slots[hole] = self->slots[j];
            self->slots[j] = NULL;
            hole = j;
        }
    }
    return value;
}

size_t ps_strmap_size (const ps_strmap_t *self)
{
    return self->size;
}

bool ps_strmap_next (const ps_strmap_t *self, size_t *cursor, const char **key, size_t *len,
                     void **value)
{
    for (size_t i = *cursor; i <= self->mask; i++) {
        s_entry_t *e = self->slots[i];
        if (e) {
            *key = e->key;
            *len = e->len;
            *value = e->value;
            *cursor = i + 1;
            return true;
        }
    }
    *cursor = self->mask + 1;
    return false;
}
