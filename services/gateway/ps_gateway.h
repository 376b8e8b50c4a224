/*  ps_gateway: paystat's HTTP face. Holds a JSON view of the indicators,
    fed by the events of a feed client (libpaystat-client: snapshot, stream
    and resync), and serves it: the JSON API, the Server-Sent Events
    stream, the dashboard, health and metrics (docs/gateway.md).

    Not thread-safe: one thread makes every call, including the ps_http
    calls on its server (ps_gwserver's loop). An event stream with nothing
    to send has its connection suspended, and writing an event resumes it. */

#ifndef PS_GATEWAY_H_INCLUDED
#define PS_GATEWAY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "ps_client.h"
#include "ps_http.h"

typedef struct ps_gateway_t ps_gateway_t;

typedef struct {
    size_t stream_queue;    /* bytes an event-stream client may have waiting before it is dropped */
    size_t max_streams;     /* event streams open at once; more are answered 503 */
    ps_http_limits_t http;  /* HTTP connections (max_streams must stay below their cap) */
} ps_gateway_opts_t;

/*  Starts serving HTTP on LISTEN ("127.0.0.1:8080") with OPTS (copied).
    Returns NULL after logging why (bad address, port in use, memory). */
ps_gateway_t *ps_gateway_new (const char *listen, const ps_gateway_opts_t *opts);

/*  Stops serving (every stream ends) and sets *SELF_P to NULL. NULL-safe. */
void ps_gateway_destroy (ps_gateway_t **self_p);

/*  The HTTP server, for the caller's poll loop (ps_http_fd, ps_http_run). */
ps_http_t *ps_gateway_http (ps_gateway_t *self);

/*  Applies one event of the feed client: an indicator changed or removed
    (the view changes and stream clients are told), or a resync started
    or ended (the gateway is not ready, then ready: GET /readyz). Returns
    0, or -1 when an indicator's message was unreadable (logged and
    counted). */
int ps_gateway_event (ps_gateway_t *self, const ps_client_event_t *event);

/*  Sends a keep-alive comment to every stream client. */
void ps_gateway_keepalive (ps_gateway_t *self);

#endif
