/*  ps_service: what every paystat service does around its own work.
    Options (--help, --version, the service's table plus the three every
    service has: --curve-secret, --http, --log-level), logging, signals
    (SIGINT/SIGTERM stop, SIGHUP reloads), the ZeroMQ context, CURVE
    set-up, the operational HTTP endpoints in the service's poll loop, and
    teardown in the one order that works (ops, security, then the context).
    A service's main.c declares its options, calls ps_service_new, builds
    its own modules and sockets, loops on ps_service_poll until
    ps_service_stopping, and calls ps_service_destroy.

    Exit codes are those of every paystat binary (ps_exit.h). */

#ifndef PS_SERVICE_H_INCLUDED
#define PS_SERVICE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

#include "ps_config.h"
#include "ps_exit.h"
#include "ps_ops.h"
#include "ps_security.h"
#include "ps_sock.h"

/*  The options every service has, for the end of its table (before
    PS_OPTION_END): ENV_PREFIX names its variables (PAYSTAT_COMPUTE gives
    PAYSTAT_COMPUTE_CURVE_SECRET and PAYSTAT_COMPUTE_HTTP), HTTP_DEFAULT is
    its ops address, CURVE_HELP says which sockets its key secures. */
#define PS_SERVICE_OPTIONS(env_prefix, http_default, curve_help)                                   \
    {"curve-secret", env_prefix "_CURVE_SECRET", NULL, curve_help, false, NULL},                   \
        {"http", env_prefix "_HTTP", http_default,                                                 \
         "address of /metrics, /healthz and /readyz (\"off\" for none)", false, NULL},             \
        {"log-level", "PAYSTAT_LOG_LEVEL", "info", "debug, info, warn or error", false, NULL}

typedef struct {
    const char *name;        /* svc= in the logs: "compute" */
    const char *program;     /* "paystat-compute", for --help and errors */
    const char *description; /* --help's text */
    ps_option_t *options;    /* ends with PS_SERVICE_OPTIONS (...), PS_OPTION_END */
} ps_service_def_t;

typedef struct ps_service_t ps_service_t;

/*  Runs a reload (SIGHUP) for the service. */
typedef void (ps_service_reload_fn) (void *arg);

/*  Parses ARGV and the environment against DEF's options (no positional
    argument is allowed), sets up logging, the signals, a ZeroMQ context
    and CURVE from --curve-secret. Returns the service, or NULL with
    *EXIT_CODE set: PS_EXIT_OK after --help or --version, PS_EXIT_USAGE
    after printing which option is wrong and why, PS_EXIT_FAIL when out of
    memory. */
ps_service_t *ps_service_new (const ps_service_def_t *def, int argc, char **argv, int *exit_code);

/*  Stops the ops endpoints and CURVE's handler, terminates the context
    (every socket of the service must be closed by then) and sets *SELF_P
    to NULL. NULL-safe. */
void ps_service_destroy (ps_service_t **self_p);

/*  The value of option NAME (a programming error if DEF has none). */
const char *ps_service_opt (ps_service_t *self, const char *name);

/*  Option NAME as an integer in [MIN, MAX] into *OUT. Returns 0, or -1
    after printing the option, its value and the range to stderr. */
int ps_service_long (ps_service_t *self, const char *name, long min, long max, long *out);

/*  Prints "PROGRAM: REASON" to stderr and returns PS_EXIT_USAGE: for a
    main that found its options inconsistent. */
int ps_service_usage (ps_service_t *self, const char *reason);

/*  The ZeroMQ context every socket of the service must be made in. */
void *ps_service_ctx (ps_service_t *self);

/*  CURVE for the service's sockets (off unless --curve-secret). */
ps_security_t *ps_service_security (ps_service_t *self);

/*  Makes OPTS secure a socket bound for ZAP DOMAIN with the keys named by
    option KEYS_OPTION, and warns when option BIND_OPTION binds every
    interface without CURVE. Returns 0, or -1 after printing why (a usage
    error: exit PS_EXIT_USAGE). */
int ps_service_secure_bind (ps_service_t *self, const char *domain, const char *keys_option,
                            const char *bind_option, ps_sock_opts_t *opts);

/*  Makes OPTS secure a connection to the server whose public key option
    KEY_OPTION names (none: plain). Returns 0, or -1 after printing why. */
int ps_service_secure_connect (ps_service_t *self, const char *key_option, ps_sock_opts_t *opts);

/*  Serves /metrics, /healthz and /readyz on --http (unless "off"), with
    COLLECT and READY called from ps_service_poll. Returns 0, or -1 after
    logging why (the address is taken, say). */
int ps_service_ops (ps_service_t *self, ps_ops_collect_fn *collect, ps_ops_ready_fn *ready,
                    void *arg);

/*  The port the ops endpoints listen on (0 when they are off). */
int ps_service_ops_port (const ps_service_t *self);

/*  Calls FN (ARG) from ps_service_poll after each SIGHUP; without one,
    SIGHUP stops the service like SIGTERM. */
void ps_service_on_reload (ps_service_t *self, ps_service_reload_fn *fn, void *arg);

/*  Waits up to TIMEOUT_MS (-1: until something happens) for the N ITEMS,
    the ops endpoints and the signals, then serves the ops endpoints,
    logs the counts of repeated events, and runs a pending reload. The
    wait is cut short when the ops endpoints have work due. Returns how
    many of ITEMS are ready (their revents set), 0 after a signal or a
    timeout, or -1 after logging why zmq_poll failed. N is at most 15. */
int ps_service_poll (ps_service_t *self, zmq_pollitem_t *items, int n, long timeout_ms);

/*  True once SIGINT or SIGTERM arrived (or SIGHUP without a reload). */
bool ps_service_stopping (const ps_service_t *self);

#endif
