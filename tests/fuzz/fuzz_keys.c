/*  The security files an operator writes: the input becomes a file (mode
    0600, as a secret key file must be) read as a key list
    (ps_keyring_load), a public key file, a secret key file (ps_curve_*)
    and ingest's access file (ps_access_load). Properties: each either
    succeeds or fails with a reason; a loaded key is valid Z85 and a
    loaded secret matches its public key; an access table grants nothing
    to a name it does not list. */

#include "fuzz.h"
#include "ps_access.h"
#include "ps_curve.h"
#include "ps_keyring.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf (path, sizeof path, "/tmp/paystat-fuzz-keys-%d", (int) getpid ());
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK (fd >= 0);
    FUZZ_CHECK (write (fd, data, size) == (ssize_t) size);
    close (fd);

    char err[512] = "";
    ps_keyring_t *ring = ps_keyring_load (path, err, sizeof err);
    if (ring) {
        FUZZ_CHECK (ps_keyring_size (ring) <= PS_KEYRING_MAX);
        ps_keyring_destroy (&ring);
        FUZZ_CHECK (ring == NULL);
    } else
        FUZZ_CHECK (err[0] != '\0');

    char key[PS_CURVE_KEY_LEN + 1];
    err[0] = '\0';
    if (ps_curve_load_public (path, key, err, sizeof err) == 0)
        FUZZ_CHECK (ps_curve_key_valid (key));
    else
        FUZZ_CHECK (err[0] != '\0');

    ps_curve_pair_t pair;
    err[0] = '\0';
    if (ps_curve_load_secret (path, &pair, err, sizeof err) == 0) {
        char derived[PS_CURVE_KEY_LEN + 1];
        FUZZ_CHECK (zmq_curve_public (derived, pair.secret_key) == 0);
        FUZZ_CHECK (strcmp (derived, pair.public_key) == 0);
    } else
        FUZZ_CHECK (err[0] != '\0');
    err[0] = '\0';
    ps_access_t *access = ps_access_load (path, err, sizeof err);
    if (access) {
        /* Key names cannot hold a blank, so no line can grant this one. */
        FUZZ_CHECK (!ps_access_allows (access, "not listed", "CMI"));
        ps_access_destroy (&access);
        FUZZ_CHECK (access == NULL);
    } else
        FUZZ_CHECK (err[0] != '\0');
    unlink (path);
    return 0;
}
