/*  ps_access: per-key write permissions; see ps_access.h. */

#include "ps_access.h"

#include "ps_curve.h"
#include "ps_proto.h"
#include "ps_strmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SEPARATORS " \t\r\n"

/* A listed key's value in names: the line it was listed on, shifted left
   once, with the low bit set for "every source". */
#define S_ALL ((uintptr_t) 1)

struct ps_access_t {
    ps_strmap_t *names;  /* key name -> line << 1 | S_ALL */
    ps_strmap_t *grants; /* "name\x1fsource" -> (void *) 1 */
};

void ps_access_destroy (ps_access_t **self_p)
{
    ps_access_t *self = *self_p;
    if (!self)
        return;
    ps_strmap_destroy (&self->names);
    ps_strmap_destroy (&self->grants);
    free (self);
    *self_p = NULL;
}

/*  Writes "NAME\x1fSOURCE" into BUF; returns its length. */
static size_t s_grant_key (char *buf, size_t size, const char *name, const char *source)
{
    return (size_t) snprintf (buf, size, "%s\x1f%s", name, source);
}

/*  Adds the grants of one line (TEXT, comment stripped) read at LINE.
    Returns 0, or -1 with the reason in ERR. */
static int s_parse_line (ps_access_t *self, char *text, unsigned line, char *err, size_t errlen)
{
    char *save = NULL;
    const char *name = strtok_r (text, S_SEPARATORS, &save);
    if (!name)
        return 0;
    if (!ps_curve_name_valid (name)) {
        snprintf (err, errlen, "'%.80s' is not a key name (1 to %d of A-Z a-z 0-9 _ . -)", name,
                  PS_CURVE_NAME_MAX);
        return -1;
    }
    bool inserted;
    void **slot = ps_strmap_put (self->names, name, strlen (name), &inserted);
    if (!slot) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    if (!inserted) {
        snprintf (err, errlen, "key %s is listed twice (first on line %u)", name,
                  (unsigned) ((uintptr_t) *slot >> 1));
        return -1;
    }
    uintptr_t value = (uintptr_t) line << 1;
    int sources = 0;
    for (const char *source; (source = strtok_r (NULL, S_SEPARATORS, &save)); sources++) {
        if (strcmp (source, "*") == 0) {
            value |= S_ALL;
            continue;
        }
        if (!ps_grammar_source_valid (source, strlen (source))) {
            snprintf (err, errlen,
                      "'%.80s' is neither a source name ([A-Za-z0-9][A-Za-z0-9_.-]*, at most "
                      "%d bytes) nor '*'",
                      source, PS_SOURCE_MAX);
            return -1;
        }
        char key[PS_CURVE_NAME_MAX + 1 + PS_SOURCE_MAX + 1];
        size_t len = s_grant_key (key, sizeof key, name, source);
        void **grant = ps_strmap_put (self->grants, key, len, &inserted);
        if (!grant) {
            snprintf (err, errlen, "out of memory");
            return -1;
        }
        *grant = (void *) S_ALL;
    }
    if (sources == 0) {
        snprintf (err, errlen, "key %s has no sources (list them, or '*' for every source)", name);
        return -1;
    }
    *slot = (void *) value;
    return 0;
}

ps_access_t *ps_access_load (const char *path, char *err, size_t errlen)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        snprintf (err, errlen, "cannot read access file %s: %s", path, strerror (errno));
        return NULL;
    }
    ps_access_t *self = calloc (1, sizeof *self);
    if (self) {
        self->names = ps_strmap_new ();
        self->grants = ps_strmap_new ();
    }
    if (!self || !self->names || !self->grants) {
        snprintf (err, errlen, "out of memory reading %s", path);
        goto fail;
    }
    char *text = NULL;
    size_t cap = 0;
    unsigned line = 0;
    while (getline (&text, &cap, f) >= 0) {
        line++;
        text[strcspn (text, "#")] = '\0';
        char why[256];
        if (s_parse_line (self, text, line, why, sizeof why) != 0) {
            snprintf (err, errlen, "%s:%u: %s", path, line, why);
            free (text);
            goto fail;
        }
    }
    free (text);
    if (ferror (f)) {
        snprintf (err, errlen, "cannot read access file %s: %s", path, strerror (errno));
        goto fail;
    }
    fclose (f);
    return self;
fail:
    fclose (f);
    ps_access_destroy (&self);
    return NULL;
}

bool ps_access_allows (const ps_access_t *self, const char *name, const char *source)
{
    void **slot = ps_strmap_get (self->names, name, strlen (name));
    if (!slot)
        return false;
    if ((uintptr_t) *slot & S_ALL)
        return true;
    char key[PS_CURVE_NAME_MAX + 1 + PS_SOURCE_MAX + 2];
    size_t len = s_grant_key (key, sizeof key, name, source);
    return len < sizeof key && ps_strmap_get (self->grants, key, len) != NULL;
}

size_t ps_access_size (const ps_access_t *self)
{
    return ps_strmap_size (self->names);
}
