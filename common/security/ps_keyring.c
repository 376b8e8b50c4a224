/*  ps_keyring: allowed public keys by name; see ps_keyring.h. */

#include "ps_keyring.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

typedef struct {
    unsigned char key[32];
    char name[PS_CURVE_NAME_MAX + 1];
} s_entry_t;

struct ps_keyring_t {
    s_entry_t *entries;
    size_t size, cap;
};

static int s_add (ps_keyring_t *self, const char *name, const char *z85, const char *where,
                  char *err, size_t errlen)
{
    if (!ps_curve_name_valid (name)) {
        snprintf (err, errlen, "%s: key name '%s' must be 1 to %d of A-Z a-z 0-9 _ . -", where,
                  name, PS_CURVE_NAME_MAX);
        return -1;
    }
    unsigned char key[32];
    if (strlen (z85) != PS_CURVE_KEY_LEN || !zmq_z85_decode (key, z85)) {
        snprintf (err, errlen, "%s: key of '%s' is not a 40-character Z85 key", where, name);
        return -1;
    }
    for (size_t i = 0; i < self->size; i++)
        if (strcmp (self->entries[i].name, name) == 0 ||
            memcmp (self->entries[i].key, key, 32) == 0) {
            snprintf (err, errlen, "%s: '%s' repeats the name or the key of '%s'", where, name,
                      self->entries[i].name);
            return -1;
        }
    if (self->size == PS_KEYRING_MAX) {
        snprintf (err, errlen, "%s: more than %d keys", where, PS_KEYRING_MAX);
        return -1;
    }
    if (self->size == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        s_entry_t *grown = realloc (self->entries, cap * sizeof *grown);
        if (!grown) {
            snprintf (err, errlen, "%s: out of memory", where);
            return -1;
        }
        self->entries = grown;
        self->cap = cap;
    }
    s_entry_t *e = &self->entries[self->size++];
    memcpy (e->key, key, 32);
    snprintf (e->name, sizeof e->name, "%s", name);
    return 0;
}

static int s_load_dir (ps_keyring_t *self, const char *path, char *err, size_t errlen)
{
    DIR *dir = opendir (path);
    if (!dir) {
        snprintf (err, errlen, "cannot read key directory %s: %s", path, strerror (errno));
        return -1;
    }
    int rc = 0;
    struct dirent *d;
    while (rc == 0 && (d = readdir (dir))) {
        size_t len = strlen (d->d_name);
        /* NAME.key only: secrets, dot files and anything else stay out. */
        if (d->d_name[0] == '.' || len <= 4 || strcmp (d->d_name + len - 4, ".key") != 0)
            continue;
        char file[4096], name[PS_CURVE_NAME_MAX + 8], key[PS_CURVE_KEY_LEN + 1];
        snprintf (file, sizeof file, "%s/%s", path, d->d_name);
        snprintf (name, sizeof name, "%.*s", (int) (len - 4), d->d_name);
        rc = ps_curve_load_public (file, key, err, errlen);
        if (rc == 0)
            rc = s_add (self, name, key, file, err, errlen);
    }
    closedir (dir);
    return rc;
}

static int s_load_file (ps_keyring_t *self, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        snprintf (err, errlen, "cannot read key list %s: %s", path, strerror (errno));
        return -1;
    }
    char line[512], where[4200];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets (line, sizeof line, f)) {
        lineno++;
        snprintf (where, sizeof where, "%s:%d", path, lineno);
        /* '#' is a Z85 digit: a comment starts a line or follows a blank. */
        line[strcspn (line, "\r\n")] = '\0';
        for (char *c = line; *c; c++)
            if (*c == '#' && (c == line || *(c - 1) == ' ' || *(c - 1) == '\t')) {
                *c = '\0';
                break;
            }
        char name[PS_CURVE_NAME_MAX + 2], key[PS_CURVE_KEY_LEN + 2], extra[2];
        int n = sscanf (line, "%65s %41s %1s", name, key, extra);
        if (n <= 0)
            continue;
        if (n != 2) {
            snprintf (err, errlen, "%s: expected \"NAME KEY\"", where);
            rc = -1;
        } else
            rc = s_add (self, name, key, where, err, errlen);
    }
    fclose (f);
    return rc;
}

ps_keyring_t *ps_keyring_load (const char *path, char *err, size_t errlen)
{
    ps_keyring_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    struct stat st;
    int rc;
    if (stat (path, &st) != 0) {
        snprintf (err, errlen, "cannot read keys at %s: %s", path, strerror (errno));
        rc = -1;
    } else if (S_ISDIR (st.st_mode))
        rc = s_load_dir (self, path, err, errlen);
    else
        rc = s_load_file (self, path, err, errlen);
    if (rc != 0)
        ps_keyring_destroy (&self);
    return self;
}

void ps_keyring_destroy (ps_keyring_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->entries);
        free (*self_p);
        *self_p = NULL;
    }
}

const char *ps_keyring_name (const ps_keyring_t *self, const unsigned char key[32])
{
    for (size_t i = 0; i < self->size; i++)
        if (memcmp (self->entries[i].key, key, 32) == 0)
            return self->entries[i].name;
    return NULL;
}

const char *ps_keyring_name_z85 (const ps_keyring_t *self, const char *text)
{
    unsigned char key[32];
    if (strlen (text) != PS_CURVE_KEY_LEN || !zmq_z85_decode (key, text))
        return NULL;
    return ps_keyring_name (self, key);
}

size_t ps_keyring_size (const ps_keyring_t *self)
{
    return self->size;
}
