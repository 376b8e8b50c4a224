/*  ps_http: a small HTTP server for operational endpoints, run inside a
    service's own ZeroMQ poll loop.

    libmicrohttpd in "external event loop + epoll" mode: the daemon exposes
    one epoll descriptor that goes into zmq_poll beside the sockets, and
    handlers run on the service's thread, so they read its state without
    locks. Only GET (and HEAD) are served; other methods get 405, unknown
    paths 404. */

#ifndef PS_HTTP_H_INCLUDED
#define PS_HTTP_H_INCLUDED

#include <stddef.h>

typedef struct ps_http_t ps_http_t;
typedef struct ps_http_request_t ps_http_request_t;

/*  Handles one request: must call ps_http_reply exactly once. */
typedef void (ps_http_handler_fn) (void *arg, ps_http_request_t *request);

/*  Starts a server listening on LISTEN ("127.0.0.1:9101", "0.0.0.0:9101";
    port 0 picks a free one). Returns NULL after logging why (bad address,
    port in use). */
ps_http_t *ps_http_new (const char *listen);

/*  Stops the server and sets *SELF_P to NULL. NULL-safe. */
void ps_http_destroy (ps_http_t **self_p);

/*  Serves PATH (exact match) with HANDLER. Returns 0, or -1 when the route
    table is full (a programming error, logged). */
int ps_http_route (ps_http_t *self, const char *path, ps_http_handler_fn *handler, void *arg);

/*  The port actually bound (useful with port 0). */
int ps_http_port (const ps_http_t *self);

/*  The descriptor to poll for POLLIN (zmq_pollitem_t.fd). */
int ps_http_fd (const ps_http_t *self);

/*  How long the caller's poll may block before ps_http_run is due, in ms
    (-1: no deadline). */
long ps_http_timeout_ms (ps_http_t *self);

/*  Serves whatever is ready. Call when the descriptor is readable and
    when the timeout expires. */
void ps_http_run (ps_http_t *self);

/*  Returns the value of query argument KEY of REQUEST, or NULL. */
const char *ps_http_query (ps_http_request_t *request, const char *key);

/*  Sends the response: STATUS, CONTENT_TYPE and LEN bytes of BODY (copied). */
void ps_http_reply (ps_http_request_t *request, int status, const char *content_type,
                    const char *body, size_t len);

#endif
