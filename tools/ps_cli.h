/*  ps_cli: what every "paystat" subcommand shares. */

#ifndef PS_CLI_H_INCLUDED
#define PS_CLI_H_INCLUDED

#include "ps_config.h"

/* The log-level option of every subcommand: a command-line tool is quiet
   unless something goes wrong. */
#define PS_CLI_LOG_OPTION                                                                          \
    {                                                                                              \
        "log-level", "PAYSTAT_LOG_LEVEL", "warn", "debug, info, warn or error (logs on stderr)",   \
            false, NULL                                                                            \
    }

/*  Starts logging (svc=paystat) at the level of option "log-level"
    of OPTS. Returns 0, or -1 after printing an error (prefixed with
    PROGRAM) to stderr. */
int ps_cli_log_init (ps_option_t *opts, const char *program);

#endif
