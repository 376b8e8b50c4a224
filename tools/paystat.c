/*  paystat: the command-line client. Each subcommand lives in its own
    module (ps_send, ps_sub, ps_demo, ps_keygen); this file only dispatches. */

#include "ps_demo.h"
#include "ps_keygen.h"
#include "ps_send.h"
#include "ps_sub.h"

#include <stdio.h>
#include <string.h>

#ifndef PAYSTAT_VERSION
#define PAYSTAT_VERSION "0.1.0"
#endif

typedef struct {
    const char *name;
    int (*main) (int argc, char **argv);
    const char *synopsis;
} s_command_t;

static const s_command_t s_commands[] = {
    {"send", ps_send_main, "send FILE|-       send reports (CSV or JSON lines) to ingest"},
    {"sub", ps_sub_main, "sub [PREFIX...]   print feed messages as JSON lines or a table"},
    {"demo", ps_demo_main, "demo              run the services on the bundled dataset"},
    {"keygen", ps_keygen_main,
     "keygen NAME       write a CURVE key pair (NAME.key, NAME.key_secret)"},
};

static void s_usage (FILE *out)
{
    fprintf (out, "Usage: paystat COMMAND [options] [arguments]\n\n"
                  "Client of the paystat streaming payment-statistics services.\n\n"
                  "Commands:\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof *s_commands; i++)
        fprintf (out, "  %s\n", s_commands[i].synopsis);
    fprintf (out, "\n'paystat COMMAND --help' describes each command's options.\n");
}

int main (int argc, char **argv)
{
    if (argc < 2) {
        s_usage (stderr);
        return PS_EXIT_USAGE;
    }
    if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "help") == 0) {
        s_usage (stdout);
        return PS_EXIT_OK;
    }
    if (strcmp (argv[1], "--version") == 0) {
        printf ("paystat %s\n", PAYSTAT_VERSION);
        return PS_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof *s_commands; i++)
        if (strcmp (argv[1], s_commands[i].name) == 0)
            return s_commands[i].main (argc - 1, argv + 1);
    fprintf (stderr, "paystat: unknown command '%s'\n\n", argv[1]);
    s_usage (stderr);
    return PS_EXIT_USAGE;
}
