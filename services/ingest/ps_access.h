/*  ps_access: which sources each producer key may write (ingest --access).

    The access file has one line per key, `NAME SOURCE [SOURCE ...]`: NAME
    is a key's name in the producers' keyring (the NAME of NAME.key, or the
    first word of a key list's line), SOURCE a source name or `*` for
    every source; '#' starts a comment. A key not listed may write
    nothing. A name listed twice, a token that is neither a source nor `*`
    or a line without sources is an error naming the file and the line,
    so that a typo can neither widen nor silently drop a grant. */

#ifndef PS_ACCESS_H_INCLUDED
#define PS_ACCESS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct ps_access_t ps_access_t;

/*  Reads the access file at PATH. Returns it, or NULL with the reason
    ("FILE:LINE: ..." for a bad line) in ERR. */
ps_access_t *ps_access_load (const char *path, char *err, size_t errlen);

/*  Destroys it and sets *SELF_P to NULL. NULL-safe. */
void ps_access_destroy (ps_access_t **self_p);

/*  True when key NAME may write reports for SOURCE. */
bool ps_access_allows (const ps_access_t *self, const char *name, const char *source);

/*  Keys listed. */
size_t ps_access_size (const ps_access_t *self);

#endif
