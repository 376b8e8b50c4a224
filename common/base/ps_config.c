/*  ps_config: option tables for flags and environment; see ps_config.h. */

#include "ps_config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PAYSTAT_VERSION
#define PAYSTAT_VERSION "0.1.0"
#endif

static void s_print_help (const ps_option_t *opts, const char *program, const char *synopsis,
                          const char *description)
{
    printf ("Usage: %s %s\n\n%s\n\nOptions (flag, environment variable, default):\n", program,
            synopsis, description);
    for (const ps_option_t *o = opts; o->name; o++) {
        char flag[64];
        snprintf (flag, sizeof flag, "--%s%s", o->name, o->is_flag ? "" : "=VALUE");
        printf ("  %-26s %s\n", flag, o->help);
        if (o->env || o->defval)
            printf ("  %-26s %s%s%s%s%s\n", "", o->env ? "env " : "", o->env ? o->env : "",
                    (o->env && o->defval) ? ", " : "", o->defval ? "default " : "",
                    o->defval ? o->defval : "");
    }
    printf ("  %-26s %s\n  %-26s %s\n", "--help", "print this help and exit", "--version",
            "print the version and exit");
}

static ps_option_t *s_find (ps_option_t *opts, const char *name, size_t len)
{
    for (ps_option_t *o = opts; o->name; o++)
        if (strlen (o->name) == len && memcmp (o->name, name, len) == 0)
            return o;
    return NULL;
}

int ps_config_parse (ps_option_t *opts, int argc, char **argv, const char *program,
                     const char *synopsis, const char *description, int *first_arg)
{
    for (ps_option_t *o = opts; o->name; o++) {
        const char *env = o->env ? getenv (o->env) : NULL;
        o->value = (env && *env) ? env : o->defval;
    }
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp (arg, "--") == 0) {
            i++;
            break;
        }
        if (strncmp (arg, "--", 2) != 0 || arg[2] == '\0')
            break;
        if (strcmp (arg, "--help") == 0) {
            s_print_help (opts, program, synopsis, description);
            return 1;
        }
        if (strcmp (arg, "--version") == 0) {
            printf ("%s %s\n", program, PAYSTAT_VERSION);
            return 1;
        }
        const char *name = arg + 2;
        const char *eq = strchr (name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen (name);
        ps_option_t *o = s_find (opts, name, len);
        if (!o) {
            fprintf (stderr, "%s: unknown option '--%.*s' (see --help)\n", program, (int) len,
                     name);
            return -1;
        }
        if (o->is_flag) {
            if (eq) {
                fprintf (stderr, "%s: option '--%s' takes no value\n", program, o->name);
                return -1;
            }
            o->value = "1";
        } else if (eq)
            o->value = eq + 1;
        else if (i + 1 < argc)
            o->value = argv[++i];
        else {
            fprintf (stderr, "%s: option '--%s' needs a value\n", program, o->name);
            return -1;
        }
    }
    *first_arg = i;
    return 0;
}

ps_option_t *ps_config_get (ps_option_t *opts, const char *name)
{
    ps_option_t *o = s_find (opts, name, strlen (name));
    assert (o);
    return o;
}

int ps_config_long (ps_option_t *opts, const char *name, long min, long max, long *out)
{
    ps_option_t *o = ps_config_get (opts, name);
    const char *text = o->value ? o->value : "";
    char *end;
    errno = 0;
    long v = strtol (text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max) {
        fprintf (stderr, "invalid --%s '%s': must be an integer between %ld and %ld\n", name, text,
                 min, max);
        return -1;
    }
    *out = v;
    return 0;
}

bool ps_config_flag (ps_option_t *opts, const char *name)
{
    const char *v = ps_config_get (opts, name)->value;
    return v && (strcmp (v, "1") == 0 || strcmp (v, "true") == 0 || strcmp (v, "yes") == 0);
}
