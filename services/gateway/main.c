/*  paystat-gateway: serves the indicators over HTTP — a JSON API, a
    Server-Sent Events stream and a live dashboard — from a view of the
    feed kept exact by libpaystat-client (docs/gateway.md).

    Two threads. The feed client waits in its own poll on the feed and
    snapshot sockets (ps_client_next) and the HTTP server needs a poll on
    its epoll descriptor (ps_http); neither hands its descriptors to the
    other's loop. So the main thread follows the feed and a second thread
    runs the HTTP server, and one mutex serialises every call into the
    gateway and its server: a request sees the view between two feed
    events, never in the middle of one. The HTTP thread sleeps in poll()
    until a request, a timeout of libmicrohttpd's, or the stop pipe; when
    it wants the lock, the feed thread lets it have it first, or a busy
    feed would take the lock back again and again and the event streams
    would fall behind. */

#include "ps_client.h"
#include "ps_clock.h"
#include "ps_config.h"
#include "ps_gateway.h"
#include "ps_log.h"
#include "ps_signal.h"
#include "ps_sock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* Feed events applied per lock, so HTTP requests wait at most that long. */
#define S_EVENT_BATCH 1000

static ps_option_t s_options[] = {
    {"feed", "PAYSTAT_FEED", "tcp://127.0.0.1:7404", "publish's feed (SUB, connected)", false,
     NULL},
    {"snapshot", "PAYSTAT_SNAPSHOT", "tcp://127.0.0.1:7405",
     "publish's snapshot endpoint (DEALER, connected)", false, NULL},
    {"curve-secret", "PAYSTAT_GATEWAY_CURVE_SECRET", NULL,
     "the gateway's CURVE key pair (NAME.key_secret), for a secured publish", false, NULL},
    {"publish-key", "PAYSTAT_PUBLISH_KEY", NULL,
     "publish's public key (NAME.key): CURVE on the feed and snapshot, needs --curve-secret", false,
     NULL},
    {"listen", "PAYSTAT_GATEWAY_LISTEN", "127.0.0.1:8080",
     "HTTP address A.B.C.D:PORT (port 0: any free one)", false, NULL},
    {"stream-queue", "PAYSTAT_GATEWAY_STREAM_QUEUE", "1048576",
     "bytes queued per event-stream client before it is dropped as too slow", false, NULL},
    {"max-connections", "PAYSTAT_GATEWAY_MAX_CONNECTIONS", "128",
     "HTTP connections at once; past it, one waiting for headers is dropped, else 503", false,
     NULL},
    {"max-streams", "PAYSTAT_GATEWAY_MAX_STREAMS", "64",
     "event streams at once (below --max-connections); more are answered 503", false, NULL},
    {"header-timeout-ms", "PAYSTAT_GATEWAY_HEADER_TIMEOUT_MS", "5000",
     "time a connection has to send a request's headers before it is dropped", false, NULL},
    {"idle-timeout-ms", "PAYSTAT_GATEWAY_IDLE_TIMEOUT_MS", "10000",
     "a connection making no progress for this long is closed (whole seconds)", false, NULL},
    {"keepalive-ms", "PAYSTAT_GATEWAY_KEEPALIVE_MS", "5000",
     "interval between keep-alive comments on event streams", false, NULL},
    {"log-level", "PAYSTAT_LOG_LEVEL", "info", "debug, info, warn or error", false, NULL},
    PS_OPTION_END};

typedef struct {
    pthread_mutex_t lock;
    atomic_bool http_waiting; /* the HTTP thread wants the lock: let it in first */
    ps_gateway_t *gateway;
    int stop[2]; /* pipe: the main thread writes one byte to stop the HTTP thread */
} s_shared_t;

/*  The feed thread's side of the lock: after the HTTP thread's turn. */
static void s_lock_feed (s_shared_t *shared)
{
    while (atomic_load (&shared->http_waiting))
        sched_yield ();
    pthread_mutex_lock (&shared->lock);
}

static void s_lock_http (s_shared_t *shared)
{
    atomic_store (&shared->http_waiting, true);
    pthread_mutex_lock (&shared->lock);
    atomic_store (&shared->http_waiting, false);
}

static void *s_http_thread (void *arg)
{
    s_shared_t *shared = arg;
    ps_http_t *http = ps_gateway_http (shared->gateway);
    for (;;) {
        s_lock_http (shared);
        long timeout = ps_http_timeout_ms (http);
        int fd = ps_http_fd (http);
        pthread_mutex_unlock (&shared->lock);
        struct pollfd pfds[2] = {{fd, POLLIN, 0}, {shared->stop[0], POLLIN, 0}};
        if (poll (pfds, 2, (int) timeout) < 0 && errno != EINTR) {
            ps_error ("cannot poll the HTTP server", "error=\"%s\"", strerror (errno));
            return NULL;
        }
        if (pfds[1].revents)
            return NULL;
        s_lock_http (shared);
        ps_http_run (http);
        pthread_mutex_unlock (&shared->lock);
    }
}

/*  Follows the feed until SIGINT/SIGTERM. Returns the exit status. */
static int s_follow (s_shared_t *shared, ps_client_t *client, long keepalive_ms)
{
    int64_t next_keepalive = ps_clock_ms () + keepalive_ms;
    while (!ps_signal_stop ()) {
        int64_t now = ps_clock_ms ();
        ps_client_event_t ev;
        int rc =
            ps_client_next (client, now < next_keepalive ? (int) (next_keepalive - now) : 0, &ev);
        if (rc < 0)
            return ps_signal_stop () ? 0 : 1;
        s_lock_feed (shared);
        for (int n = 0; rc > 0 && n < S_EVENT_BATCH; n++) {
            ps_gateway_event (shared->gateway, &ev);
            rc = n + 1 < S_EVENT_BATCH ? ps_client_next (client, 0, &ev) : 0;
        }
        if (ps_clock_ms () >= next_keepalive) {
            ps_gateway_keepalive (shared->gateway);
            next_keepalive = ps_clock_ms () + keepalive_ms;
        }
        pthread_mutex_unlock (&shared->lock);
        if (rc < 0)
            return ps_signal_stop () ? 0 : 1;
    }
    return 0;
}

int main (int argc, char **argv)
{
    int first;
    int rc = ps_config_parse (
        s_options, argc, argv, "paystat-gateway", "[options]",
        "Follows paystat-publish's feed (snapshot, stream and resync, through\n"
        "libpaystat-client) and serves the indicators over HTTP:\n"
        "  GET /api/v1/indicators?prefix=P    current indicators (JSON)\n"
        "  GET /api/v1/series?source=S&dims=D&granularity=year|quarter|month\n"
        "  GET /api/v1/stream?prefix=P        Server-Sent Events, one per change\n"
        "  GET /                              the live dashboard\n"
        "  GET /healthz /readyz /metrics      health, readiness, Prometheus metrics\n"
        "See docs/gateway.md.",
        &first);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (first < argc) {
        fprintf (stderr, "paystat-gateway: unexpected argument '%s' (see --help)\n", argv[first]);
        return 2;
    }
    long stream_queue, keepalive_ms, max_connections, max_streams, header_ms, idle_ms;
    ps_log_level_t level;
    if (ps_config_long (s_options, "stream-queue", 4096, 1L << 30, &stream_queue) != 0 ||
        ps_config_long (s_options, "max-connections", 2, 10000, &max_connections) != 0 ||
        ps_config_long (s_options, "max-streams", 1, 10000, &max_streams) != 0 ||
        ps_config_long (s_options, "header-timeout-ms", 100, 600000, &header_ms) != 0 ||
        ps_config_long (s_options, "idle-timeout-ms", 1000, 3600000, &idle_ms) != 0 ||
        ps_config_long (s_options, "keepalive-ms", 100, 3600000, &keepalive_ms) != 0)
        return 2;
    /* Streams never give their slot back: some must stay for /healthz. */
    if (max_streams >= max_connections) {
        fprintf (stderr, "paystat-gateway: --max-streams must be less than --max-connections\n");
        return 2;
    }
    ps_gateway_opts_t gateway_opts = {(size_t) stream_queue, (size_t) max_streams,
                                      {(int) max_connections, header_ms, idle_ms}};
    if (ps_log_level_parse (ps_config_get (s_options, "log-level")->value, &level) != 0) {
        fprintf (stderr, "invalid --log-level: must be debug, info, warn or error\n");
        return 2;
    }
    ps_client_curve_t curve;
    char err[600];
    int curve_rc =
        ps_client_curve_load (&curve, ps_config_get (s_options, "curve-secret")->value,
                              ps_config_get (s_options, "publish-key")->value, err, sizeof err);
    if (curve_rc < 0) {
        fprintf (stderr, "paystat-gateway: %s\n", err);
        return 2;
    }
    ps_log_init ("gateway", level);
    ps_signal_install ();

    int exit_code = 1;
    s_shared_t shared = {PTHREAD_MUTEX_INITIALIZER, false, NULL, {-1, -1}};
    bool threaded = false;
    pthread_t http_thread;
    void *ctx = zmq_ctx_new ();
    ps_client_opts_t opts = {.feed = ps_config_get (s_options, "feed")->value,
                             .snapshot = ps_config_get (s_options, "snapshot")->value,
                             .curve = curve_rc == 0 ? &curve : NULL};
    ps_client_t *client = ctx ? ps_client_new (ctx, &opts) : NULL;
    memset (&curve, 0, sizeof curve);
    shared.gateway = ps_gateway_new (ps_config_get (s_options, "listen")->value, &gateway_opts);
    if (!client || !shared.gateway || ps_client_connect (client) != 0)
        goto done;
    if (pipe (shared.stop) != 0) {
        ps_error ("cannot create a pipe", "error=\"%s\"", strerror (errno));
        goto done;
    }
    /* Signals go to the main thread, whose blocking calls they interrupt. */
    sigset_t block, old;
    sigemptyset (&block);
    sigaddset (&block, SIGINT);
    sigaddset (&block, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &block, &old);
    threaded = pthread_create (&http_thread, NULL, s_http_thread, &shared) == 0;
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (!threaded) {
        ps_error ("cannot start the HTTP thread", NULL);
        goto done;
    }
    exit_code = s_follow (&shared, client, keepalive_ms);
    ps_info ("stopping", NULL);
done:
    if (threaded) {
        ssize_t n = write (shared.stop[1], "x", 1);
        (void) n;
        pthread_join (http_thread, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (shared.stop[i] >= 0)
            close (shared.stop[i]);
    ps_gateway_destroy (&shared.gateway);
    ps_client_destroy (&client);
    if (ctx)
        zmq_ctx_term (ctx);
    return exit_code;
}
