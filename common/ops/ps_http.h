/*  ps_http: a small HTTP server for operational endpoints, run inside a
    service's own ZeroMQ poll loop.

    libmicrohttpd in "external event loop + epoll" mode: the daemon exposes
    one epoll descriptor that goes into zmq_poll beside the sockets, and
    handlers run on the service's thread, so they read its state without
    locks. Only GET (and HEAD) are served; other methods get 405, unknown
    paths 404.

    A handler answers once (ps_http_reply) or opens a stream
    (ps_http_reply_stream) that the service writes to later from its loop,
    e.g. Server-Sent Events. An idle stream's connection is suspended, so
    it costs no polling, and resumed when something is written; its queue
    is bounded, and a client that does not keep up is dropped.

    Connection slots cannot be held (docs/bounds.md): the server accepts
    connections itself and hands them to libmicrohttpd, which would
    otherwise stop accepting at its limit and leave new clients hanging in
    the listen backlog. A connection that has not finished sending a
    request's headers within the header timeout (counted from its connect,
    or from the end of its previous response) is dropped, whether it
    trickles bytes or not. At the connection cap, a new connection takes
    the slot of the oldest one still waiting for headers (idle keep-alive
    connections included); when every slot is answering a request or
    streaming, the new one is answered "503 too many connections" at once
    and closed. Refusals and drops are counted (ps_http_stats) and
    logged, throttled. */

#ifndef PS_HTTP_H_INCLUDED
#define PS_HTTP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ps_metrics.h"

typedef struct ps_http_t ps_http_t;
typedef struct ps_http_request_t ps_http_request_t;
typedef struct ps_http_stream_t ps_http_stream_t;

/*  Handles one request: must call ps_http_reply exactly once. */
typedef void (ps_http_handler_fn) (void *arg, ps_http_request_t *request);

/* Defaults of ps_http_limits_t. */
#define PS_HTTP_MAX_CONNECTIONS   64
#define PS_HTTP_HEADER_TIMEOUT_MS 5000
#define PS_HTTP_IDLE_TIMEOUT_MS   10000

typedef struct {
    int max_connections;    /* connections served at once; 0: PS_HTTP_MAX_CONNECTIONS */
    long header_timeout_ms; /* to send a request's headers; 0: PS_HTTP_HEADER_TIMEOUT_MS */
    long idle_timeout_ms;   /* a connection (other than an idle stream) making no progress for
                               this long is closed (libmicrohttpd's timeout, whole seconds
                               rounded up); 0: PS_HTTP_IDLE_TIMEOUT_MS */
} ps_http_limits_t;

typedef struct {
    size_t connections;       /* open now */
    uint64_t refused;         /* new connections answered 503: every slot busy */
    uint64_t header_timeouts; /* dropped: headers not sent within the header timeout */
    uint64_t evicted;         /* dropped while waiting for headers, to make room for a new one */
} ps_http_stats_t;

/*  Starts a server listening on LISTEN ("127.0.0.1:9101", "0.0.0.0:9101";
    port 0 picks a free one) with LIMITS (copied; NULL: the defaults).
    Returns NULL after logging why (bad address, port in use). */
ps_http_t *ps_http_new (const char *listen, const ps_http_limits_t *limits);

/*  Stops the server and sets *SELF_P to NULL; every open stream ends
    first (its end callback runs). NULL-safe. */
void ps_http_destroy (ps_http_t **self_p);

/*  Serves PATH (exact match) with HANDLER. Returns 0, or -1 when the route
    table is full (a programming error, logged). */
int ps_http_route (ps_http_t *self, const char *path, ps_http_handler_fn *handler, void *arg);

/*  Writes the connection counters into *STATS. */
void ps_http_stats (const ps_http_t *self, ps_http_stats_t *stats);

/*  Writes the connection metrics (docs/metrics.md) into METRICS:
    paystat_http_connections, paystat_http_connections_refused_total and
    paystat_http_connections_dropped_total{reason="header_timeout"|"evicted"}. */
void ps_http_metrics (const ps_http_t *self, ps_metrics_t *metrics);

/*  Fills LIMITS with the defaults. */
void ps_http_limits_default (ps_http_limits_t *limits);

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

/*  Called once when STREAM ends: the client went away, was dropped for
    falling behind, the stream was closed, or the server stopped. STREAM is
    freed right after: forget it. */
typedef void (ps_http_stream_end_fn) (void *arg, ps_http_stream_t *stream);

/*  Answers REQUEST with status 200, CONTENT_TYPE, "Cache-Control: no-cache"
    and an open-ended body (chunked) written later with
    ps_http_stream_write. At most MAX_QUEUED bytes may wait for the client.
    END (with ARG) is called when the stream ends, from ps_http_run or
    ps_http_destroy, never from here. Returns the stream, or NULL when out
    of memory or the connection is gone (no reply was sent then; the
    handler may still call ps_http_reply). */
ps_http_stream_t *ps_http_reply_stream (ps_http_request_t *request, const char *content_type,
                                        size_t max_queued, ps_http_stream_end_fn *end, void *arg);

/*  Queues LEN bytes of DATA for the client. Returns 0; or -1 when the
    stream is closing, or when the bytes do not fit in its queue: the
    client is not keeping up, so it is dropped (its queue is freed now, its
    connection closed and END called on a later ps_http_run). */
int ps_http_stream_write (ps_http_stream_t *stream, const void *data, size_t len);

/*  Ends STREAM once what is queued has been sent. */
void ps_http_stream_close (ps_http_stream_t *stream);

/*  Bytes waiting for the client. */
size_t ps_http_stream_queued (const ps_http_stream_t *stream);

#endif
