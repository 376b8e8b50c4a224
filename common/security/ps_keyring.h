/*  ps_keyring: the named public keys allowed to connect to a socket.

    Loaded from a directory of public key files (NAME.key, CZMQ's
    certificate format, as `paystat keygen` writes them; *_secret files
    and dot files are skipped) or from one text file of "NAME KEY" lines
    ('#' at the start of a line or after a blank starts a comment: it is
    also a Z85 digit). A name or key given twice is an error, so
    that a typo cannot silently shadow an entry. */

#ifndef PS_KEYRING_H_INCLUDED
#define PS_KEYRING_H_INCLUDED

#include <stddef.h>

#include "ps_curve.h"

#define PS_KEYRING_MAX 10000 /* keys in one ring */

typedef struct ps_keyring_t ps_keyring_t;

/*  Loads the ring at PATH (a directory or a file). Returns it, or NULL
    with the reason (which file, which line, why) in ERR. */
ps_keyring_t *ps_keyring_load (const char *path, char *err, size_t errlen);

/*  Destroys it and sets *SELF_P to NULL. NULL-safe. */
void ps_keyring_destroy (ps_keyring_t **self_p);

/*  The name of the 32-byte binary public key KEY, or NULL if absent. */
const char *ps_keyring_name (const ps_keyring_t *self, const unsigned char key[32]);

/*  The name of Z85 public key TEXT, or NULL if absent. */
const char *ps_keyring_name_z85 (const ps_keyring_t *self, const char *text);

/*  Keys held. */
size_t ps_keyring_size (const ps_keyring_t *self);

#endif
