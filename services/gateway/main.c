/*  paystat-gateway: serves the indicators over HTTP — a JSON API, a
    Server-Sent Events stream and a live dashboard — from a view of the
    feed kept exact by libpaystat-client (docs/gateway.md). Options here;
    the loop (feed client and HTTP server on one thread) is ps_gwserver. */

#include "ps_config.h"
#include "ps_exit.h"
#include "ps_gwserver.h"
#include "ps_log.h"
#include "ps_signal.h"

#include <stdio.h>

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
        return rc > 0 ? PS_EXIT_OK : PS_EXIT_USAGE;
    if (first < argc) {
        fprintf (stderr, "paystat-gateway: unexpected argument '%s' (see --help)\n", argv[first]);
        return PS_EXIT_USAGE;
    }
    long stream_queue, keepalive_ms, max_connections, max_streams, header_ms, idle_ms;
    ps_log_level_t level;
    if (ps_config_long (s_options, "stream-queue", 4096, 1L << 30, &stream_queue) != 0 ||
        ps_config_long (s_options, "max-connections", 2, 10000, &max_connections) != 0 ||
        ps_config_long (s_options, "max-streams", 1, 10000, &max_streams) != 0 ||
        ps_config_long (s_options, "header-timeout-ms", 100, 600000, &header_ms) != 0 ||
        ps_config_long (s_options, "idle-timeout-ms", 1000, 3600000, &idle_ms) != 0 ||
        ps_config_long (s_options, "keepalive-ms", 100, 3600000, &keepalive_ms) != 0)
        return PS_EXIT_USAGE;
    /* Streams never give their slot back: some must stay for /healthz. */
    if (max_streams >= max_connections) {
        fprintf (stderr, "paystat-gateway: --max-streams must be less than --max-connections\n");
        return PS_EXIT_USAGE;
    }
    ps_gateway_opts_t gateway_opts = {(size_t) stream_queue, (size_t) max_streams,
                                      {(int) max_connections, header_ms, idle_ms}};
    if (ps_log_level_parse (ps_config_get (s_options, "log-level")->value, &level) != 0) {
        fprintf (stderr, "invalid --log-level: must be debug, info, warn or error\n");
        return PS_EXIT_USAGE;
    }
    ps_client_curve_t curve;
    char err[600];
    int curve_rc =
        ps_client_curve_load (&curve, ps_config_get (s_options, "curve-secret")->value,
                              ps_config_get (s_options, "publish-key")->value, err, sizeof err);
    if (curve_rc < 0) {
        fprintf (stderr, "paystat-gateway: %s\n", err);
        return PS_EXIT_USAGE;
    }
    ps_log_init ("gateway", level);
    ps_signal_install ();
    ps_gwserver_opts_t opts = {{.feed = ps_config_get (s_options, "feed")->value,
                                .snapshot = ps_config_get (s_options, "snapshot")->value},
                               ps_config_get (s_options, "listen")->value,
                               gateway_opts,
                               keepalive_ms};
    return ps_gwserver_run (&opts, curve_rc == 0 ? &curve : NULL);
}
