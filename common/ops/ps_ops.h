/*  ps_ops: the operational HTTP endpoints every paystat service serves.

      GET /healthz  200 "ok" while the process runs its loop
      GET /readyz   200 "ready" or 503 "not ready: <reason>"
      GET /metrics  Prometheus text: the service's own metrics, then the
                    process metrics (resident memory, start time, uptime)

    Built on ps_http, so it runs in the service's poll loop: add the
    descriptor of ps_ops_fd to zmq_poll, bound the wait by
    ps_ops_timeout_ms, and call ps_ops_run after every poll. */

#ifndef PS_OPS_H_INCLUDED
#define PS_OPS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "ps_metrics.h"

typedef struct ps_ops_t ps_ops_t;

/*  Writes the service's metrics into METRICS. */
typedef void (ps_ops_collect_fn) (void *arg, ps_metrics_t *metrics);

/*  Returns NULL when ready, else a short reason ("replaying the journal"). */
typedef const char *(ps_ops_ready_fn) (void *arg);

/*  True unless LISTEN is NULL, empty or "off": the endpoints can be turned off. */
bool ps_ops_enabled (const char *listen);

/*  Serves the endpoints on LISTEN ("127.0.0.1:9101"). COLLECT and READY
    are called on the caller's thread, from ps_ops_run. Returns NULL after
    logging why (see ps_http_new). */
ps_ops_t *ps_ops_new (const char *listen, ps_ops_collect_fn *collect, ps_ops_ready_fn *ready,
                      void *arg);

/*  Stops serving and sets *SELF_P to NULL. NULL-safe. */
void ps_ops_destroy (ps_ops_t **self_p);

/*  Descriptor to poll for input; -1 for a NULL SELF (endpoints off). */
int ps_ops_fd (const ps_ops_t *self);

/*  Longest wait before ps_ops_run is due, in ms, capped at CAP (CAP for a
    NULL SELF). */
long ps_ops_timeout_ms (ps_ops_t *self, long cap);

/*  Serves what is ready. NULL-safe. */
void ps_ops_run (ps_ops_t *self);

/*  The port bound (0 for a NULL SELF). */
int ps_ops_port (const ps_ops_t *self);

#endif
