/*  ps_strmap: a hash map from byte-string keys to pointers.

    Open addressing with linear probing and backward-shift deletion (no
    tombstones), so a map that churns keeps its probe lengths short. Keys
    are copied into one allocation with the entry; values are the caller's.
    Used for per-producer state, series currencies and the last-value cache. */

#ifndef PS_STRMAP_H_INCLUDED
#define PS_STRMAP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ps_strmap_t ps_strmap_t;

/*  Creates an empty map. Returns NULL when out of memory. */
ps_strmap_t *ps_strmap_new (void);

/*  Destroys the map and sets *SELF_P to NULL; values are not freed (walk the
    map with ps_strmap_next first if they own memory). NULL-safe. */
void ps_strmap_destroy (ps_strmap_t **self_p);

/*  Returns the value slot for KEY (LEN bytes), or NULL when absent. */
void **ps_strmap_get (ps_strmap_t *self, const void *key, size_t len);

/*  Returns the value slot for KEY, inserting it with value NULL when absent
    (then *INSERTED is true). Returns NULL when out of memory. */
void **ps_strmap_put (ps_strmap_t *self, const void *key, size_t len, bool *inserted);

/*  Removes KEY and returns its value, or NULL when absent. */
void *ps_strmap_remove (ps_strmap_t *self, const void *key, size_t len);

/*  Number of keys. */
size_t ps_strmap_size (const ps_strmap_t *self);

/*  Iterates: start with *CURSOR = 0; returns false at the end. Sets *KEY,
 *LEN and *VALUE. The map must not change during the walk. */
bool ps_strmap_next (const ps_strmap_t *self, size_t *cursor, const char **key, size_t *len,
                     void **value);

#endif
