/*  ps_datadir: a service's data directory, created on demand and held
    exclusively.

    Two processes writing one journal or one checkpoint would corrupt each
    other's view of what is durable, so opening takes an flock on the file
    LOCK inside the directory; the kernel drops it when the process dies,
    even by kill -9, so a restart never finds a stale lock. */

#ifndef PS_DATADIR_H_INCLUDED
#define PS_DATADIR_H_INCLUDED

#include <stddef.h>

typedef struct ps_datadir_t ps_datadir_t;

/*  Creates PATH (and missing parents, mode 0755) and locks it. Returns the
    handle, or NULL with a sentence in ERR (ERRLEN bytes): cannot create,
    not a directory, or locked by another process. */
ps_datadir_t *ps_datadir_open (const char *path, char *err, size_t errlen);

/*  Releases the lock and sets *SELF_P to NULL; NULL-safe. */
void ps_datadir_destroy (ps_datadir_t **self_p);

/*  The directory's path as given. */
const char *ps_datadir_path (const ps_datadir_t *self);

/*  Writes "<dir>/NAME" into BUF of SIZE bytes. Returns 0, or -1 when it
    does not fit. */
int ps_datadir_file (const ps_datadir_t *self, const char *name, char *buf, size_t size);

/*  Flushes the directory itself (a rename or a new file in it becomes
    durable only then). Returns 0, or -1 with errno. */
int ps_datadir_sync (const ps_datadir_t *self);

#endif
