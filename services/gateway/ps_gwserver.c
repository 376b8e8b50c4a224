/*  ps_gwserver: the gateway's one loop; see ps_gwserver.h. */

#include "ps_gwserver.h"

#include "ps_clock.h"
#include "ps_exit.h"
#include "ps_log.h"
#include "ps_signal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <zmq.h>

/* Feed events applied per turn of the loop, so HTTP requests wait at most that long. */
#define S_EVENT_BATCH 1000

/*  Waits for the HTTP server, the feed client or the next keep-alive.
    Returns 1 when the server is due (its descriptor is readable or its
    timeout ran out), 0 when not, -1 on an error (logged). A signal ends
    the wait early (0: the caller looks at ps_signal_stop). */
static int s_wait (ps_http_t *http, ps_client_t *client, int64_t next_keepalive)
{
    struct pollfd pfds[1 + PS_CLIENT_FDS] = {{ps_http_fd (http), POLLIN, 0}};
    int fds[PS_CLIENT_FDS];
    int nfds = ps_client_fds (client, fds);
    if (nfds < 0)
        return -1;
    for (int i = 0; i < nfds; i++)
        pfds[1 + i] = (struct pollfd){fds[i], POLLIN, 0};
    int64_t start = ps_clock_ms ();
    long http_ms = ps_http_timeout_ms (http);
    long timeout = next_keepalive > start ? (long) (next_keepalive - start) : 0;
    if (http_ms >= 0 && http_ms < timeout)
        timeout = http_ms;
    /* Last before poll: the client's descriptors signal only what comes after. */
    int feed_ms = ps_client_timeout_ms (client);
    if (feed_ms >= 0 && feed_ms < timeout)
        timeout = feed_ms;
    if (poll (pfds, (nfds_t) (1 + nfds), (int) timeout) < 0 && errno != EINTR) {
        ps_error ("cannot poll", "error=\"%s\"", strerror (errno));
        return -1;
    }
    return pfds[0].revents || (http_ms >= 0 && ps_clock_ms () - start >= http_ms);
}

/* Returns the exit status. */
static int s_loop (ps_gateway_t *gateway, ps_client_t *client, long keepalive_ms)
{
    ps_http_t *http = ps_gateway_http (gateway);
    int64_t next_keepalive = ps_clock_ms () + keepalive_ms;
    while (!ps_signal_stop ()) {
        int due = s_wait (http, client, next_keepalive);
        if (due < 0)
            return PS_EXIT_FAIL;
        if (due)
            ps_http_run (http);
        ps_client_event_t ev;
        int rc = 0;
        for (int n = 0; n < S_EVENT_BATCH && (rc = ps_client_next (client, 0, &ev)) > 0; n++)
            ps_gateway_event (gateway, &ev);
        if (rc < 0)
            return PS_EXIT_FAIL;
        if (ps_clock_ms () >= next_keepalive) {
            ps_gateway_keepalive (gateway);
            next_keepalive = ps_clock_ms () + keepalive_ms;
        }
    }
    return PS_EXIT_OK;
}

int ps_gwserver_run (const ps_gwserver_opts_t *opts, ps_client_curve_t *curve)
{
    int status = PS_EXIT_FAIL;
    ps_client_opts_t client_opts = opts->client;
    client_opts.curve = curve;
    void *ctx = zmq_ctx_new ();
    ps_client_t *client = ctx ? ps_client_new (ctx, &client_opts) : NULL;
    if (curve)
        memset (curve, 0, sizeof *curve);
    ps_gateway_t *gateway = ps_gateway_new (opts->listen, &opts->gateway);
    if (client && gateway && ps_client_connect (client) == 0) {
        status = s_loop (gateway, client, opts->keepalive_ms);
        ps_info ("stopping", NULL);
    }
    ps_gateway_destroy (&gateway);
    ps_client_destroy (&client);
    if (ctx)
        zmq_ctx_term (ctx);
    return status;
}
