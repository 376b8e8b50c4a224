/*  ps_gwserver: paystat-gateway at run time: the feed client
    (libpaystat-client) and the HTTP server (ps_gateway over ps_http) in
    one poll loop on one thread.

    Both hand their descriptors and timeouts to the loop (ps_client_fds
    and ps_client_timeout_ms; ps_http_fd and ps_http_timeout_ms), so no
    lock is needed: a request always sees the view between two feed
    events. At most S_EVENT_BATCH feed events are applied per turn, so a
    busy feed delays a request by that much at most; an event written to
    a suspended event stream resumes it, and the server's descriptor
    wakes the loop to send it at once. */

#ifndef PS_GWSERVER_H_INCLUDED
#define PS_GWSERVER_H_INCLUDED

#include "ps_client.h"
#include "ps_gateway.h"

typedef struct {
    ps_client_opts_t client;   /* the feed; its curve is ignored (see ps_gwserver_run) */
    const char *listen;        /* HTTP address, "127.0.0.1:8080" */
    ps_gateway_opts_t gateway; /* streams and connections */
    long keepalive_ms;         /* between keep-alive comments on event streams */
} ps_gwserver_opts_t;

/*  Follows the feed and serves HTTP as OPTS says, with CURVE on the feed
    when not NULL (wiped once the client holds a copy), until SIGINT or
    SIGTERM (ps_signal_install). Returns the exit status: PS_EXIT_OK after
    a signal, PS_EXIT_FAIL when it could not start (bad endpoint or
    address, port in use) or on a socket error (logged). */
int ps_gwserver_run (const ps_gwserver_opts_t *opts, ps_client_curve_t *curve);

#endif
