/*  ps_ops: /healthz, /readyz and /metrics on ps_http; see ps_ops.h. */

#include "ps_ops.h"

#include "ps_clock.h"
#include "ps_http.h"
#include "ps_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ps_ops_t {
    ps_http_t *http;
    ps_metrics_t *metrics;
    ps_ops_collect_fn *collect;
    ps_ops_ready_fn *ready;
    void *arg;
    int64_t start_wall_us;
};

static const char *s_text = "text/plain; charset=utf-8";

static void s_healthz (void *arg, ps_http_request_t *request)
{
    (void) arg;
    ps_http_reply (request, 200, s_text, "ok\n", 3);
}

static void s_readyz (void *arg, ps_http_request_t *request)
{
    ps_ops_t *self = arg;
    const char *why = self->ready ? self->ready (self->arg) : NULL;
    if (!why) {
        ps_http_reply (request, 200, s_text, "ready\n", 6);
        return;
    }
    char body[512];
    int n = snprintf (body, sizeof body, "not ready: %s\n", why);
    ps_http_reply (request, 503, s_text, body,
                   n < (int) sizeof body ? (size_t) n : sizeof body - 1);
}

static void s_metrics (void *arg, ps_http_request_t *request)
{
    ps_ops_t *self = arg;
    ps_metrics_reset (self->metrics);
    if (self->collect)
        self->collect (self->arg, self->metrics);
    ps_http_metrics (self->http, self->metrics);
    ps_metrics_process (self->metrics, self->start_wall_us);
    ps_http_reply (request, 200, "text/plain; version=0.0.4; charset=utf-8",
                   ps_metrics_text (self->metrics), ps_metrics_len (self->metrics));
}

bool ps_ops_enabled (const char *listen)
{
    return listen && *listen && strcmp (listen, "off") != 0;
}

ps_ops_t *ps_ops_new (const char *listen, ps_ops_collect_fn *collect, ps_ops_ready_fn *ready,
                      void *arg)
{
    ps_ops_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->collect = collect;
    self->ready = ready;
    self->arg = arg;
    self->start_wall_us = ps_wall_us ();
    self->metrics = ps_metrics_new ();
    self->http = ps_http_new (listen, NULL);
    if (!self->metrics || !self->http || ps_http_route (self->http, "/healthz", s_healthz, self) ||
        ps_http_route (self->http, "/readyz", s_readyz, self) ||
        ps_http_route (self->http, "/metrics", s_metrics, self))
        goto err;
    return self;
err:
    ps_ops_destroy (&self);
    return NULL;
}

void ps_ops_destroy (ps_ops_t **self_p)
{
    ps_ops_t *self = *self_p;
    if (!self)
        return;
    ps_http_destroy (&self->http);
    ps_metrics_destroy (&self->metrics);
    free (self);
    *self_p = NULL;
}

int ps_ops_fd (const ps_ops_t *self)
{
    return self ? ps_http_fd (self->http) : -1;
}

long ps_ops_timeout_ms (ps_ops_t *self, long cap)
{
    if (!self)
        return cap;
    long t = ps_http_timeout_ms (self->http);
    return (t >= 0 && (cap < 0 || t < cap)) ? t : cap;
}

void ps_ops_run (ps_ops_t *self)
{
    ps_log_limits_flush ();
    if (self)
        ps_http_run (self->http);
}

int ps_ops_port (const ps_ops_t *self)
{
    return self ? ps_http_port (self->http) : 0;
}
