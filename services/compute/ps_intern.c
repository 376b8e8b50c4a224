/*  ps_intern: distinct strings named by small integers; see ps_intern.h. */

#include "ps_intern.h"
#include "ps_strmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct ps_intern_t {
    ps_strmap_t *ids;  /* string -> id (stored as the value pointer) */
    char *arena;       /* strings back to back, each NUL-terminated */
    size_t arena_size; /* bytes used */
    size_t arena_cap;
    uint32_t *offset; /* offset[id] in arena; offset[count + 1] = arena_size */
    uint32_t count;   /* ids 1..count are in use */
    uint32_t offset_cap;
};

ps_intern_t *ps_intern_new (void)
{
    ps_intern_t *self = calloc (1, sizeof *self);
    if (!self)
        goto err;
    self->ids = ps_strmap_new ();
    self->arena_cap = 4096;
    self->arena = malloc (self->arena_cap);
    self->offset_cap = 256;
    self->offset = malloc (self->offset_cap * sizeof *self->offset);
    if (!self->ids || !self->arena || !self->offset)
        goto err;
    self->offset[0] = 0;
    self->offset[1] = 0;
    return self;
err:
    ps_intern_destroy (&self);
    return NULL;
}

void ps_intern_destroy (ps_intern_t **self_p)
{
    ps_intern_t *self = *self_p;
    if (!self)
        return;
    ps_strmap_destroy (&self->ids);
    free (self->arena);
    free (self->offset);
    free (self);
    *self_p = NULL;
}

const char *ps_intern_str (const ps_intern_t *self, uint32_t id, size_t *len)
{
    assert (id >= 1 && id <= self->count);
    if (len)
        *len = self->offset[id + 1] - self->offset[id] - 1;
    return self->arena + self->offset[id];
}

uint32_t ps_intern_find (const ps_intern_t *self, const char *text, size_t len)
{
    void **slot = ps_strmap_get (self->ids, text, len);
    return slot ? (uint32_t) (uintptr_t) *slot : 0;
}

/* Makes room in the arena and the offsets for one more string of LEN bytes. */
static int s_reserve (ps_intern_t *self, size_t len)
{
    if (self->arena_size + len + 1 > UINT32_MAX)
        return -1;
    while (self->arena_size + len + 1 > self->arena_cap) {
        char *arena = realloc (self->arena, self->arena_cap * 2);
        if (!arena)
            return -1;
        self->arena = arena;
        self->arena_cap *= 2;
    }
    if (self->count + 2 >= self->offset_cap) {
        uint32_t *offset = realloc (self->offset, self->offset_cap * 2 * sizeof *offset);
        if (!offset)
            return -1;
        self->offset = offset;
        self->offset_cap *= 2;
    }
    return 0;
}

uint32_t ps_intern_add (ps_intern_t *self, const char *text, size_t len, uint32_t max_ids)
{
    uint32_t id = ps_intern_find (self, text, len);
    if (id)
        return id;
    if (self->count >= max_ids || s_reserve (self, len) != 0)
        return 0;
    bool inserted;
    void **slot = ps_strmap_put (self->ids, text, len, &inserted);
    if (!slot)
        return 0;
    memcpy (self->arena + self->arena_size, text, len);
    self->arena[self->arena_size + len] = '\0';
    self->arena_size += len + 1;
    self->count++;
    self->offset[self->count + 1] = (uint32_t) self->arena_size;
    *slot = (void *) (uintptr_t) self->count;
    return self->count;
}

uint32_t ps_intern_count (const ps_intern_t *self)
{
    return self->count;
}

size_t ps_intern_memory (const ps_intern_t *self)
{
    /* The map's entries: a 32-byte header and the key each, plus a slot. */
    return self->arena_cap + self->offset_cap * sizeof (uint32_t) +
           ps_strmap_size (self->ids) * (32 + 2 * sizeof (void *)) + self->arena_size;
}
