/*  ps_cli: shared subcommand set-up; see ps_cli.h. */

#include "ps_cli.h"
#include "ps_log.h"

#include <stdio.h>

int ps_cli_log_init (ps_option_t *opts, const char *program)
{
    const char *text = ps_config_get (opts, "log-level")->value;
    ps_log_level_t level;
    if (!text || ps_log_level_parse (text, &level) != 0) {
        fprintf (stderr, "%s: invalid --log-level '%s': must be debug, info, warn or error\n",
                 program, text ? text : "");
        return -1;
    }
    ps_log_init ("paystat", level);
    return 0;
}
