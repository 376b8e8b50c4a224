/*  ps_keytab: fixed-size records found by a compact binary key.

    Compute holds up to millions of cells, so each costs one record in a
    dense array (no allocation per record) plus one 6-byte slot (the id
    and 16 bits of the key's hash) of an open-addressing index kept at most
    3/4 full. A record is named by its
    id (1, 2, 3, ... in order of insertion; 0 means none), which stays
    valid when the table grows; record pointers do not, so callers keep
    ids across inserts. Records are never removed. */

#ifndef PS_KEYTAB_H_INCLUDED
#define PS_KEYTAB_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ps_proto.h"

/*  A series (source + dims) or a cell (series + period). Every byte is
    significant, so keys compare and hash as plain memory. */
typedef struct {
    uint32_t period;           /* ps_period_pack; 0 in a series key */
    uint16_t source;           /* interned source name */
    uint8_t ndims;             /* dims used in tok */
    uint8_t zero;              /* always 0 */
    uint32_t tok[PS_MAX_DIMS]; /* interned "name=value" ids sorted by name, 0 past ndims */
} ps_key_t;

typedef struct ps_keytab_t ps_keytab_t;

/*  Creates an empty table of records of REC_SIZE bytes, each starting
    with its ps_key_t. Returns NULL when out of memory. */
ps_keytab_t *ps_keytab_new (size_t rec_size);

/*  Destroys a table and sets *SELF_P to NULL; NULL-safe. */
void ps_keytab_destroy (ps_keytab_t **self_p);

/*  Returns the id of the record with KEY, or 0 when there is none. */
uint32_t ps_keytab_find (const ps_keytab_t *self, const ps_key_t *key);

/*  Looks up N keys at once, storing each id (or 0) in IDS[i]. Faster than
    N calls on a large table: every slot and record is prefetched before
    any is compared, so the cache misses overlap instead of queueing. */
void ps_keytab_find_many (const ps_keytab_t *self, const ps_key_t *keys, uint32_t n, uint32_t *ids);

/*  Adds a zero-filled record holding KEY (which must not be present yet)
    and returns its id, or 0 when out of memory. */
uint32_t ps_keytab_insert (ps_keytab_t *self, const ps_key_t *key);

/*  Makes sure the next N inserts cannot fail. Returns 0, or -1 when out
    of memory. */
int ps_keytab_reserve (ps_keytab_t *self, uint32_t n);

/*  Returns the record with ID (1..count). Valid until the next insert. */
void *ps_keytab_at (const ps_keytab_t *self, uint32_t id);

/*  Number of records. */
uint32_t ps_keytab_count (const ps_keytab_t *self);

/*  Bytes of heap in use: records actually stored plus the index. (The
    record array's unused tail is reserved address space, not touched.) */
size_t ps_keytab_memory (const ps_keytab_t *self);

#endif
