/*  ps_service: a service's options, logging, signals, context, CURVE and
    ops endpoints; see ps_service.h. */

#include "ps_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_log.h"
#include "ps_signal.h"

#define S_MAX_ITEMS 15

struct ps_service_t {
    const ps_service_def_t *def;
    void *ctx;
    ps_security_t *security;
    ps_ops_t *ops;
    ps_service_reload_fn *reload;
    void *reload_arg;
};

ps_service_t *ps_service_new (const ps_service_def_t *def, int argc, char **argv, int *exit_code)
{
    int first;
    int rc = ps_config_parse (def->options, argc, argv, def->program, "[options]",
                              def->description, &first);
    if (rc != 0) {
        *exit_code = rc > 0 ? PS_EXIT_OK : PS_EXIT_USAGE;
        return NULL;
    }
    if (first < argc) {
        fprintf (stderr, "%s: unexpected argument '%s' (see --help)\n", def->program, argv[first]);
        *exit_code = PS_EXIT_USAGE;
        return NULL;
    }
    const char *level_text = ps_config_get (def->options, "log-level")->value;
    ps_log_level_t level;
    if (ps_log_level_parse (level_text, &level) != 0) {
        fprintf (stderr, "%s: invalid --log-level '%s': must be debug, info, warn or error\n",
                 def->program, level_text);
        *exit_code = PS_EXIT_USAGE;
        return NULL;
    }
    ps_log_init (def->name, level);
    *exit_code = PS_EXIT_FAIL;
    ps_service_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->def = def;
    self->ctx = zmq_ctx_new ();
    if (!self->ctx)
        goto err;
    char why[400];
    self->security = ps_security_new (
        self->ctx, ps_config_get (def->options, "curve-secret")->value, why, sizeof why);
    if (!self->security) {
        fprintf (stderr, "%s: --curve-secret: %s\n", def->program, why);
        *exit_code = PS_EXIT_USAGE;
        goto err;
    }
    ps_signal_install ();
    return self;
err:
    ps_service_destroy (&self);
    return NULL;
}

void ps_service_destroy (ps_service_t **self_p)
{
    ps_service_t *self = *self_p;
    if (!self)
        return;
    ps_ops_destroy (&self->ops);
    /* Before the context: the ZAP handler's socket lives in it. */
    ps_security_destroy (&self->security);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    free (self);
    *self_p = NULL;
}

const char *ps_service_opt (ps_service_t *self, const char *name)
{
    return ps_config_get (self->def->options, name)->value;
}

int ps_service_long (ps_service_t *self, const char *name, long min, long max, long *out)
{
    return ps_config_long (self->def->options, name, min, max, out);
}

int ps_service_usage (ps_service_t *self, const char *reason)
{
    fprintf (stderr, "%s: %s\n", self->def->program, reason);
    return PS_EXIT_USAGE;
}

void *ps_service_ctx (ps_service_t *self)
{
    return self->ctx;
}

ps_security_t *ps_service_security (ps_service_t *self)
{
    return self->security;
}

int ps_service_secure_bind (ps_service_t *self, const char *domain, const char *keys_option,
                            const char *bind_option, ps_sock_opts_t *opts)
{
    char err[512];
    if (ps_security_server (self->security, domain, keys_option,
                            ps_service_opt (self, keys_option), opts, err, sizeof err) != 0) {
        fprintf (stderr, "%s: %s\n", self->def->program, err);
        return -1;
    }
    ps_security_check_bind (self->security, bind_option, ps_service_opt (self, bind_option));
    return 0;
}

int ps_service_secure_connect (ps_service_t *self, const char *key_option, ps_sock_opts_t *opts)
{
    char err[512];
    if (ps_security_client (self->security, key_option, ps_service_opt (self, key_option), opts,
                            err, sizeof err) != 0) {
        fprintf (stderr, "%s: %s\n", self->def->program, err);
        return -1;
    }
    return 0;
}

int ps_service_ops (ps_service_t *self, ps_ops_collect_fn *collect, ps_ops_ready_fn *ready,
                    void *arg)
{
    const char *http = ps_service_opt (self, "http");
    if (!ps_ops_enabled (http))
        return 0;
    self->ops = ps_ops_new (http, collect, ready, arg);
    return self->ops ? 0 : -1;
}

int ps_service_ops_port (const ps_service_t *self)
{
    return ps_ops_port (self->ops);
}

void ps_service_on_reload (ps_service_t *self, ps_service_reload_fn *fn, void *arg)
{
    self->reload = fn;
    self->reload_arg = arg;
    ps_signal_catch_reload ();
}

int ps_service_poll (ps_service_t *self, zmq_pollitem_t *items, int n, long timeout_ms)
{
    if (n < 0 || n > S_MAX_ITEMS) {
        errno = EINVAL;
        return -1;
    }
    zmq_pollitem_t all[S_MAX_ITEMS + 1];
    memcpy (all, items, (size_t) n * sizeof *items);
    int nall = n;
    if (self->ops)
        all[nall++] = (zmq_pollitem_t){NULL, ps_ops_fd (self->ops), ZMQ_POLLIN, 0};
    int rc = zmq_poll (all, nall, ps_ops_timeout_ms (self->ops, timeout_ms));
    if (rc < 0 && errno != EINTR) {
        ps_error ("poll failed", "error=\"%s\"", zmq_strerror (errno));
        return -1;
    }
    ps_ops_run (self->ops);
    if (self->reload && ps_signal_reload ())
        self->reload (self->reload_arg);
    if (rc <= 0)
        return 0;
    int ready = 0;
    for (int i = 0; i < n; i++) {
        items[i].revents = all[i].revents;
        ready += all[i].revents != 0;
    }
    return ready;
}

bool ps_service_stopping (const ps_service_t *self)
{
    (void) self;
    return ps_signal_stop ();
}
