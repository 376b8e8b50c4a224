/*  ps_curve: CURVE key pairs and their files; see ps_curve.h. */

#include "ps_curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_LINE_MAX 256

bool ps_curve_name_valid (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > PS_CURVE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

bool ps_curve_key_valid (const char *text)
{
    uint8_t bin[32];
    return strlen (text) == PS_CURVE_KEY_LEN && zmq_z85_decode (bin, text) != NULL;
}

/*  Writes one certificate file at PATH with MODE, refusing to replace
    one. SECRET NULL writes the public certificate. */
static int s_write (const char *path, const char *name, const ps_curve_pair_t *pair, bool secret,
                    char *err, size_t errlen)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, secret ? 0600 : 0644);
    if (fd < 0) {
        snprintf (err, errlen, "cannot create %s: %s", path, strerror (errno));
        return -1;
    }
    /* open() honours the umask; the secret must be 0600 whatever it is. */
    if (secret)
        fchmod (fd, 0600);
    FILE *f = fdopen (fd, "w");
    if (!f) {
        close (fd);
        snprintf (err, errlen, "cannot write %s: %s", path, strerror (errno));
        return -1;
    }
    char when[32];
    time_t now = time (NULL);
    strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime (&now));
    fprintf (f, "#   ****  Generated on %s by paystat keygen  ****\n", when);
    if (secret)
        fprintf (f, "#   ZeroMQ CURVE **Secret** Certificate\n"
                    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n");
    else
        fprintf (f,
                 "#   ZeroMQ CURVE Public Certificate\n"
                 "#   Give this file to the side that must recognise \"%s\".\n",
                 name);
    fprintf (f, "\nmetadata\n    name = \"%s\"\ncurve\n    public-key = \"%s\"\n", name,
             pair->public_key);
    if (secret)
        fprintf (f, "    secret-key = \"%s\"\n", pair->secret_key);
    int failed = ferror (f);
    if (fclose (f) != 0 || failed) {
        snprintf (err, errlen, "cannot write %s: %s", path, strerror (errno));
        unlink (path);
        return -1;
    }
    return 0;
}

int ps_curve_keygen (const char *dir, const char *name, ps_curve_pair_t *pair, char *err,
                     size_t errlen)
{
    if (!ps_curve_name_valid (name)) {
        snprintf (err, errlen, "key name '%s' must be 1 to %d of A-Z a-z 0-9 _ . -", name,
                  PS_CURVE_NAME_MAX);
        return -1;
    }
    if (zmq_curve_keypair (pair->public_key, pair->secret_key) != 0) {
        snprintf (err, errlen, "cannot make a key pair: %s", zmq_strerror (errno));
        return -1;
    }
    char pub[4096], sec[4096];
    snprintf (pub, sizeof pub, "%s/%s.key", dir, name);
    snprintf (sec, sizeof sec, "%s/%s.key_secret", dir, name);
    /* Both or neither: check the secret's name is free before writing. */
    if (access (sec, F_OK) == 0) {
        snprintf (err, errlen, "%s exists; not replacing a key", sec);
        return -1;
    }
    if (s_write (pub, name, pair, false, err, errlen) != 0)
        return -1;
    if (s_write (sec, name, pair, true, err, errlen) != 0) {
        unlink (pub);
        return -1;
    }
    return 0;
}

/*  Finds `KEY = "VALUE"` in file F (any indentation; '#' starts a
    comment line) and copies VALUE into OUT. Returns 0 when found. */
static int s_find (FILE *f, const char *key, char *out, size_t outlen)
{
    char line[S_LINE_MAX];
    rewind (f);
    size_t klen = strlen (key);
    while (fgets (line, sizeof line, f)) {
        char *p = line + strspn (line, " \t");
        if (strncmp (p, key, klen) != 0)
            continue;
        p += klen;
        p += strspn (p, " \t");
        if (*p++ != '=')
            continue;
        p += strspn (p, " \t");
        char quote = *p == '"' || *p == '\'' ? *p++ : 0;
        size_t len = quote ? strcspn (p, quote == '"' ? "\"" : "'") : strcspn (p, " \t\r\n");
        if (len >= outlen)
            return -1;
        memcpy (out, p, len);
        out[len] = '\0';
        return 0;
    }
    return -1;
}

/*  Reads KEY's value of the certificate at PATH into OUT (a valid Z85
    key). Returns 0, or -1 with the reason in ERR. */
static int s_load_key (const char *path, const char *key, char out[PS_CURVE_KEY_LEN + 1], char *err,
                       size_t errlen)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        snprintf (err, errlen, "cannot read key file %s: %s", path, strerror (errno));
        return -1;
    }
    char value[S_LINE_MAX];
    int rc = s_find (f, key, value, sizeof value);
    fclose (f);
    if (rc != 0) {
        snprintf (err, errlen, "key file %s has no %s", path, key);
        return -1;
    }
    if (!ps_curve_key_valid (value)) {
        snprintf (err, errlen, "key file %s: %s is not a 40-character Z85 key", path, key);
        return -1;
    }
    memcpy (out, value, PS_CURVE_KEY_LEN + 1);
    return 0;
}

int ps_curve_load_secret (const char *path, ps_curve_pair_t *pair, char *err, size_t errlen)
{
    struct stat st;
    if (stat (path, &st) == 0 && (st.st_mode & 077)) {
        snprintf (err, errlen, "secret key file %s is readable by others (mode %03o); chmod 600 it",
                  path, (unsigned) (st.st_mode & 0777));
        return -1;
    }
    char derived[PS_CURVE_KEY_LEN + 1];
    if (s_load_key (path, "secret-key", pair->secret_key, err, errlen) != 0 ||
        s_load_key (path, "public-key", pair->public_key, err, errlen) != 0)
        return -1;
    if (zmq_curve_public (derived, pair->secret_key) != 0 ||
        strcmp (derived, pair->public_key) != 0) {
        snprintf (err, errlen, "key file %s: its public key does not belong to its secret key",
                  path);
        return -1;
    }
    return 0;
}

int ps_curve_load_public (const char *path, char key[PS_CURVE_KEY_LEN + 1], char *err,
                          size_t errlen)
{
    return s_load_key (path, "public-key", key, err, errlen);
}
