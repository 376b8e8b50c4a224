/*  ps_keygen: "paystat keygen"; see ps_keygen.h. */

#include "ps_keygen.h"
#include "ps_config.h"
#include "ps_curve.h"
#include "ps_send.h"

#include <stdio.h>

#define S_EXIT_NOT_WRITTEN 1

static ps_option_t s_options[] = {
    {"dir", NULL, ".", "directory to write NAME.key and NAME.key_secret into (must exist)", false,
     NULL},
    PS_OPTION_END};

static const char *s_description =
    "Makes a CURVE key pair named NAME (1 to 64 of A-Z a-z 0-9 _ . -) and writes\n"
    "DIR/NAME.key, the public key, to give to the side that must let NAME in (copy\n"
    "it into that side's keys directory, e.g. ingest's --producer-keys), and\n"
    "DIR/NAME.key_secret, the secret key (mode 0600), that NAME's own process\n"
    "reads (--curve-secret) and that never leaves its host. Existing files are\n"
    "never replaced. The files are ZeroMQ certificates (CZMQ's zcert format).\n"
    "\n"
    "Prints the two paths, then the line \"NAME PUBLIC-KEY\", which is also the\n"
    "format of a key list file (an alternative to a keys directory).\n"
    "\n"
    "Exit status: 0 written, 1 not written (a file exists, the directory is\n"
    "missing or not writable), 2 usage (a bad name).";

int ps_keygen_main (int argc, char **argv)
{
    const char *program = "paystat keygen";
    /* Options come before arguments for the parser; "keygen NAME --dir D"
       reads naturally too, so a leading NAME is set aside first. */
    int shift = argc >= 2 && argv[1][0] != '-' ? 1 : 0;
    int first;
    int rc = ps_config_parse (s_options, argc - shift, argv + shift, program, "NAME [--dir DIR]",
                              s_description, &first);
    if (rc != 0)
        return rc > 0 ? PS_EXIT_OK : PS_EXIT_USAGE;
    first += shift;
    const char *name = shift ? argv[1] : first < argc ? argv[first++] : NULL;
    if (!name || first < argc) {
        fprintf (stderr, "%s: expected one NAME, see --help\n", program);
        return PS_EXIT_USAGE;
    }
    if (!ps_curve_name_valid (name)) {
        fprintf (stderr, "%s: invalid NAME '%s': 1 to %d of A-Z a-z 0-9 _ . -\n", program, name,
                 PS_CURVE_NAME_MAX);
        return PS_EXIT_USAGE;
    }
    const char *dir = ps_config_get (s_options, "dir")->value;
    ps_curve_pair_t pair;
    char err[512];
    if (ps_curve_keygen (dir, name, &pair, err, sizeof err) != 0) {
        fprintf (stderr, "%s: %s\n", program, err);
        return S_EXIT_NOT_WRITTEN;
    }
    printf ("wrote %s/%s.key (public key: give it to the side that must let %s in)\n", dir, name,
            name);
    printf ("wrote %s/%s.key_secret (secret key, mode 0600: keep it on this host)\n", dir, name);
    printf ("%s %s\n", name, pair.public_key);
    return PS_EXIT_OK;
}
