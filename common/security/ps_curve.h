/*  ps_curve: CURVE key pairs and the files that hold them.

    The files are CZMQ's certificate format, so keys made by zcert or by
    `paystat keygen` are interchangeable: NAME.key holds the public key
    (give it to the other side), NAME.key_secret the public and the secret
    key (mode 0600, never leaves its host). Keys are Z85 text, 40
    characters, as libzmq's ZMQ_CURVE_* options take them. */

#ifndef PS_CURVE_H_INCLUDED
#define PS_CURVE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define PS_CURVE_KEY_LEN  40 /* Z85 characters of one key */
#define PS_CURVE_NAME_MAX 64

typedef struct {
    char public_key[PS_CURVE_KEY_LEN + 1];
    char secret_key[PS_CURVE_KEY_LEN + 1];
} ps_curve_pair_t;

/*  True when NAME may name a key: 1..64 of A-Z a-z 0-9 _ . - */
bool ps_curve_name_valid (const char *name);

/*  True when TEXT is exactly one Z85-encoded 32-byte key. */
bool ps_curve_key_valid (const char *text);

/*  Makes a new key pair and writes DIR/NAME.key and DIR/NAME.key_secret
    (mode 0600), refusing to replace an existing file. Returns 0, or -1
    with the reason in ERR. */
int ps_curve_keygen (const char *dir, const char *name, ps_curve_pair_t *pair, char *err,
                     size_t errlen);

/*  Reads a secret key file (NAME.key_secret) into PAIR; the public key is
    derived from the secret one and checked against the file's. Returns 0,
    or -1 with the reason (which file, what is wrong) in ERR. */
int ps_curve_load_secret (const char *path, ps_curve_pair_t *pair, char *err, size_t errlen);

/*  Reads the public key of a key file (NAME.key or NAME.key_secret) into
    KEY. Returns 0, or -1 with the reason in ERR. */
int ps_curve_load_public (const char *path, char key[PS_CURVE_KEY_LEN + 1], char *err,
                          size_t errlen);

#endif
