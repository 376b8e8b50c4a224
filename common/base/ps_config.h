/*  ps_config: command-line flags and environment variables, one table per
    binary, so --help, the README and the parser cannot disagree.

    Precedence: flag > environment variable > default. Flags are
    "--name=value" or "--name value"; a boolean option is "--name".
    Every binary gets --help and --version from here. */

#ifndef PS_CONFIG_H_INCLUDED
#define PS_CONFIG_H_INCLUDED

#include <stdbool.h>

typedef struct {
    const char *name;   /* long flag without "--" */
    const char *env;    /* environment variable, or NULL */
    const char *defval; /* default text, or NULL for none */
    const char *help;   /* one line */
    bool is_flag;       /* takes no value; value becomes "1" when given */
    const char *value;  /* out: resulting text (default, env or flag), or NULL */
} ps_option_t;

/* Ends an option table. */
#define PS_OPTION_END                                                                              \
    {                                                                                              \
        NULL, NULL, NULL, NULL, false, NULL                                                        \
    }

/*  Resolves every option of OPTS from ARGV and the environment. Arguments
    that are not options are left in ARGV order: *FIRST_ARG receives the
    index of the first one (argc when none); options must precede them.
    PROGRAM and SYNOPSIS ("[options] FILE") and DESCRIPTION feed --help.
    Returns 0 to go on; 1 when --help or --version was printed (exit 0);
    -1 after printing a specific error to stderr (exit 2). */
int ps_config_parse (ps_option_t *opts, int argc, char **argv, const char *program,
                     const char *synopsis, const char *description, int *first_arg);

/*  Returns the option named NAME (programming error if absent). */
ps_option_t *ps_config_get (ps_option_t *opts, const char *name);

/*  Converts option NAME to an integer within [MIN, MAX] into *OUT.
    Returns 0, or -1 after printing "invalid --NAME 'x': must be an integer
    between MIN and MAX" to stderr. */
int ps_config_long (ps_option_t *opts, const char *name, long min, long max, long *out);

/*  True when boolean option NAME is set (flag given, or env "1"/"true"/"yes"). */
bool ps_config_flag (ps_option_t *opts, const char *name);

#endif
