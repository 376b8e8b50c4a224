/*  paystat-publish: numbers compute's indicator updates and broadcasts
    them on the feed (XPUB, topic frame first) with heartbeats, keeps the
    latest message of every topic and the most recent messages, and serves
    snapshots and replays of them, so that a subscriber that joins late,
    falls behind or loses its connection can rebuild exactly the current
    state (PROTOCOL.md, sections 5.3 to 5.6).

    This file only declares the options and wires ps_service (start-up,
    signals, ops endpoints, teardown) to ps_publish_server (the loop and
    its sockets); docs/architecture.md maps the modules. */

#include "ps_publish_server.h"
#include "ps_service.h"

/* --curve-secret, --http and --log-level are ps_service's; they are
   spelled out here (as PS_SERVICE_OPTIONS has them) to keep --help's
   order, with --curve-secret before the keys it goes with. */
static ps_option_t s_options[] = {
    {"bind", "PAYSTAT_PUBLISH_BIND", "tcp://127.0.0.1:7403",
     "compute's updates arrive here (ROUTER, bound)", false, NULL},
    {"feed", "PAYSTAT_FEED_BIND", "tcp://127.0.0.1:7404", "subscribers' feed (XPUB, bound)", false,
     NULL},
    {"snapshot", "PAYSTAT_SNAPSHOT_BIND", "tcp://127.0.0.1:7405",
     "snapshot and replay requests (ROUTER, bound)", false, NULL},
    {"heartbeat-ms", "PAYSTAT_HEARTBEAT_MS", "1000", "interval between heartbeats on '$hb'", false,
     NULL},
    {"feed-hwm", "PAYSTAT_FEED_HWM", "100000",
     "messages queued per subscriber before the feed drops for it", false, NULL},
    {"max-subscriptions", "PAYSTAT_MAX_SUBSCRIPTIONS", "10000",
     "distinct prefixes subscribed on the feed ('$hb/' too); past it the subscriber is cut off",
     false, NULL},
    {"max-subscriptions-per-connection", "PAYSTAT_MAX_SUBSCRIPTIONS_PER_CONNECTION", "128",
     "subscriptions one feed connection may send ('$hb/' too); past it it is closed", false, NULL},
    {"snapshot-timeout-ms", "PAYSTAT_SNAPSHOT_TIMEOUT_MS", "10000",
     "a snapshot whose client reads under 512 messages in this long is dropped", false, NULL},
    {"snapshot-per-address", "PAYSTAT_SNAPSHOT_PER_ADDRESS", "16",
     "snapshots in progress at once for one peer IP address (of 64 in all)", false, NULL},
    {"replay-max", "PAYSTAT_REPLAY_MAX", "100000", "most recent messages kept for replay (0: none)",
     false, NULL},
    {"curve-secret", "PAYSTAT_PUBLISH_CURVE_SECRET", NULL,
     "publish's CURVE key pair (NAME.key_secret): CURVE on every bound socket", false, NULL},
    {"compute-keys", "PAYSTAT_COMPUTE_KEYS", NULL,
     "computes allowed on --bind: directory of NAME.key or \"NAME KEY\" list (SIGHUP re-reads)",
     false, NULL},
    {"subscriber-keys", "PAYSTAT_SUBSCRIBER_KEYS", NULL,
     "subscribers allowed on --feed and --snapshot, as --compute-keys (SIGHUP re-reads)", false,
     NULL},
    {"http", "PAYSTAT_PUBLISH_HTTP", "127.0.0.1:9103",
     "address of /metrics, /healthz and /readyz (\"off\" for none)", false, NULL},
    {"log-level", "PAYSTAT_LOG_LEVEL", "info", "debug, info, warn or error", false, NULL},
    PS_OPTION_END};

static const ps_service_def_t s_def = {
    "publish", "paystat-publish",
    "Receives indicator updates from paystat-compute, numbers them and "
    "broadcasts them to\nsubscribers: frames [topic, body], topic = "
    "cell key, body = MessagePack (proto/PROTOCOL.md).\n"
    "Serves snapshots of the latest message of every topic and replays "
    "of the most\nrecent messages on --snapshot.\n"
    "SIGHUP: re-read --compute-keys and --subscriber-keys (for new "
    "connections;\nthose already made are kept).",
    s_options};

int main (int argc, char **argv)
{
    int rc;
    ps_service_t *service = ps_service_new (&s_def, argc, argv, &rc);
    if (!service)
        return rc;
    ps_publish_server_t *server = ps_publish_server_new (service, &rc);
    if (server)
        rc = ps_publish_server_run (server);
    ps_publish_server_destroy (&server);
    ps_service_destroy (&service);
    return rc;
}
