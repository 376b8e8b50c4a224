/*  ps_intern: a table of distinct strings, each named by a small integer.

    Compute keys its cells by ids instead of strings, so a cell key is a
    few fixed-size integers and comparing two keys is a memcmp. Ids are
    dense, start at 1 (0 means "no string") and never change; strings
    live in one growing arena, so interning costs no allocation per
    string once the arena has grown. */

#ifndef PS_INTERN_H_INCLUDED
#define PS_INTERN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct ps_intern_t ps_intern_t;

/*  Creates an empty table. Returns NULL when out of memory. */
ps_intern_t *ps_intern_new (void);

/*  Destroys a table and sets *SELF_P to NULL; NULL-safe. */
void ps_intern_destroy (ps_intern_t **self_p);

/*  Returns the id of the LEN bytes at TEXT, adding them if new.
    Returns 0 when out of memory or when the table already holds
    MAX_IDS strings (the caller's id width, e.g. UINT16_MAX). */
uint32_t ps_intern_add (ps_intern_t *self, const char *text, size_t len, uint32_t max_ids);

/*  Returns the id of the LEN bytes at TEXT, or 0 when not interned. */
uint32_t ps_intern_find (const ps_intern_t *self, const char *text, size_t len);

/*  Returns the NUL-terminated string of ID (which must exist) and stores
    its length in *LEN when LEN is not NULL. The pointer is valid until
    the next ps_intern_add. */
const char *ps_intern_str (const ps_intern_t *self, uint32_t id, size_t *len);

/*  Number of strings held. */
uint32_t ps_intern_count (const ps_intern_t *self);

/*  Bytes of heap the table holds. */
size_t ps_intern_memory (const ps_intern_t *self);

#endif
