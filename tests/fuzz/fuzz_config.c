/*  ps_config_parse with an argv built from the input (one argument per
    line), over a table shaped like the services' (valued options, a
    boolean flag, environment names), then the typed getters. Properties:
    the result is 0, 1 (help/version) or -1; the first argument index lies
    within argv; every value is a default or points into argv. */

#include "fuzz.h"
#include "ps_config.h"

#include <string.h>

#define S_MAX_ARGS 64

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        /* --help and --version print to stdout; libFuzzer reports on stderr. */
        quiet = freopen ("/dev/null", "w", stdout) != NULL;
    }
    char *text = malloc (size + 1);
    FUZZ_CHECK (text);
    memcpy (text, data, size);
    text[size] = '\0';
    char *argv[S_MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = "paystat-fuzz";
    for (char *p = text; argc < S_MAX_ARGS;) {
        argv[argc++] = p;
        char *nl = memchr (p, '\n', (size_t) (text + size - p));
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;
    ps_option_t opts[] = {
        {"bind", "PAYSTAT_FUZZ_BIND", "tcp://127.0.0.1:7401", "endpoint", false, NULL},
        {"queue", "PAYSTAT_FUZZ_QUEUE", "1000", "queue", false, NULL},
        {"ratios", "PAYSTAT_FUZZ_RATIOS", NULL, "file", false, NULL},
        {"table", NULL, NULL, "a flag", true, NULL},
        PS_OPTION_END};
    int first = -1;
    int rc =
        ps_config_parse (opts, argc, argv, "paystat-fuzz", "[options] FILE", "Fuzzing.", &first);
    FUZZ_CHECK (rc == 0 || rc == 1 || rc == -1);
    if (rc == 0) {
        FUZZ_CHECK (first >= 1 && first <= argc);
        for (const ps_option_t *o = opts; o->name; o++) {
            bool from_argv = false;
            for (int i = 1; i < argc; i++)
                from_argv |= o->value >= argv[i] && o->value <= argv[i] + strlen (argv[i]);
            FUZZ_CHECK (o->value == o->defval || from_argv || strcmp (o->value, "1") == 0);
        }
        long queue;
        if (ps_config_long (opts, "queue", 1, 10000000, &queue) == 0)
            FUZZ_CHECK (queue >= 1 && queue <= 10000000);
        (void) ps_config_flag (opts, "table");
    }
    free (text);
    return 0;
}
