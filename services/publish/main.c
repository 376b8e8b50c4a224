/*  paystat-publish: numbers compute's indicator updates and broadcasts
    them on the feed (XPUB, topic frame first) with heartbeats, keeps the
    latest message of every topic and the most recent messages, and serves
    snapshots and replays of them, so that a subscriber that joins late,
    falls behind or loses its connection can rebuild exactly the current
    state (PROTOCOL.md, sections 5.3 to 5.6). */

#include "ps_body.h"
#include "ps_clock.h"
#include "ps_config.h"
#include "ps_digest.h"
#include "ps_log.h"
#include "ps_lvc.h"
#include "ps_monitor.h"
#include "ps_ops.h"
#include "ps_proto.h"
#include "ps_ring.h"
#include "ps_security.h"
#include "ps_signal.h"
#include "ps_snapshot.h"
#include "ps_sock.h"
#include "ps_subs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Snapshots served at once; more are refused with retry_later. */
#define S_MAX_SESSIONS 64
/* Messages queued towards one snapshot client before its session waits. */
#define S_SNAPSHOT_HWM 1000
/* How long to wait before retrying sessions whose clients are not reading. */
#define S_BLOCKED_WAIT_MS 5
/* How often condemned feed connections are looked at. */
#define S_REAP_WAIT_MS 50
/* Snapshot requests read per loop turn. */
#define S_ACCEPT_MAX 16
/* Subscription changes read per loop turn: a storm of them (a crowd of
   SUBs reconnecting, each sending all it ever subscribed) must not keep
   the loop from its heartbeats, snapshots and updates. */
#define S_SUBSCRIPTIONS_MAX 1024

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
     "subscriptions one feed connection may send ('$hb/' too); past it it is closed", false,
     NULL},
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

typedef struct {
    void *input;
    void *feed;
    void *snap;
    ps_lvc_t *lvc;
    ps_ring_t *ring;
    ps_digest_t *digest;
    ps_subs_t *subs;
    ps_subs_guard_t *guard;     /* NULL when the feed is not on TCP */
    ps_monitor_t *feed_monitor; /* the feed's connections come and go */
    size_t subscribers;         /* feed connections open */
    ps_snapshot_t *snapshots;
    uint64_t epoch;
    uint64_t seq; /* last seq published in this epoch */
    uint32_t heartbeat_ms;
    ps_update_item_t *items;
    size_t capacity;
    msgpack_sbuffer body;
    msgpack_sbuffer removed; /* fields of a removal message */
    msgpack_sbuffer burst;   /* the bodies of one update's messages, back to back */
    size_t *burst_len;       /* each body's length, in item order; 0: not sent */
    size_t burst_cap;
    msgpack_sbuffer reply;
    uint64_t updates, messages, bad_frames;
    uint64_t rate_closed; /* the guard's closings logged so far */
    uint64_t refused[PS_BODY__COUNT]; /* update items refused, by reason */
    ps_ops_t *ops;
    ps_security_t *security;
} s_server_t;

/*  Numbers ITEM, caches it and keeps it for replay, and appends its feed
    body to the burst; *LEN is set to the body's length, or 0 when it is
    not to be sent. */
static void s_number_item (s_server_t *server, const ps_update_item_t *item, size_t *len)
{
    *len = 0;
    const uint8_t *fields = item->body;
    size_t fields_len = item->body_len;
    if (fields_len == 0) {
        fields = (const uint8_t *) server->removed.data;
        fields_len = server->removed.size;
    }
    uint64_t seq = server->seq + 1;
    long index =
        ps_lvc_slot (server->lvc, item->topic, item->topic_len, fields_len + PS_FEED_NUMBERING_MAX);
    uint64_t prev = index < 0 ? 0 : ps_lvc_seq (server->lvc, (size_t) index);
    if (index < 0 ||
        ps_feed_body (seq, prev, server->epoch, fields, fields_len, &server->body) != 0 ||
        ps_lvc_store (server->lvc, (size_t) index, seq, server->body.data, server->body.size) !=
            0) {
        ps_error ("out of memory numbering or caching a message", "topic=%.*s",
                  (int) item->topic_len, item->topic);
        return;
    }
    server->seq = seq;
    ps_digest_update (server->digest, item->topic, item->topic_len, prev, seq);
    ps_feed_msg_t msg = {item->topic, item->topic_len, seq, server->body.data, server->body.size};
    if (ps_ring_push (server->ring, &msg) != 0)
        ps_warn ("out of memory keeping a message for replay; replays restart from here", NULL);
    if (msgpack_sbuffer_write (&server->burst, server->body.data, server->body.size) != 0) {
        ps_error ("out of memory sending a message; subscribers will see a gap",
                  "topic=%.*s seq=%" PRIu64, (int) item->topic_len, item->topic, seq);
        return;
    }
    *len = server->body.size;
}

/*  Publishes the N items of one update: every item is numbered and cached
    first, then all are sent in one tight loop. Sending each as it is
    built lets libzmq's I/O thread catch up between messages, so every
    message would cost it a wake-up and a send(2) of its own; sent back to
    back, they leave in batches (bench/NOTES.md). */
static void s_publish_items (s_server_t *server, const ps_update_item_t *items, size_t n)
{
    if (n > server->burst_cap) {
        size_t *grown = realloc (server->burst_len, n * sizeof *grown);
        if (!grown) {
            ps_error ("out of memory publishing an update; subscribers will see a gap", "items=%zu",
                      n);
            return;
        }
        server->burst_len = grown;
        server->burst_cap = n;
    }
    msgpack_sbuffer_clear (&server->burst);
    for (size_t i = 0; i < n; i++)
        s_number_item (server, &items[i], &server->burst_len[i]);
    const char *body = server->burst.data;
    for (size_t i = 0; i < n; i++) {
        size_t len = server->burst_len[i];
        if (len == 0)
            continue;
        if (ps_sock_send (server->feed, items[i].topic, items[i].topic_len, ZMQ_SNDMORE) == 0)
            ps_sock_send (server->feed, body, len, 0);
        body += len;
        server->messages++;
    }
}

/*  Drops from the N ITEMS of one update those whose body a subscriber
    could not read (ps_body_check), counting and logging each, and returns
    how many are left, in order. The others are published all the same. */
static size_t s_keep_valid (s_server_t *server, ps_update_item_t *items, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        ps_body_fault_t fault;
        if (items[i].body_len > 0 && ps_body_check (items[i].topic, items[i].topic_len,
                                                    items[i].body, items[i].body_len, &fault) != 0) {
            server->refused[fault.reason]++;
            ps_log_every (PS_LOG_WARN, 10, "refused an update item its subscribers could not read",
                          "topic=\"%.*s\" field=%s reason=%s why=\"%s\"",
                          (int) items[i].topic_len, items[i].topic, fault.error.field,
                          ps_body_reason_name (fault.reason), fault.error.reason);
            continue;
        }
        items[kept++] = items[i];
    }
    return kept;
}

/* Sends FRAME to compute's routing identity ID. */
static void s_reply (s_server_t *server, zmq_msg_t *id, const msgpack_sbuffer *frame)
{
    if (ps_sock_send (server->input, zmq_msg_data (id), zmq_msg_size (id), ZMQ_SNDMORE) == 0)
        ps_sock_send (server->input, frame->data, frame->size, 0);
}

/*  Compute announces each (re)connection with an empty frame
    (ZMQ_PROBE_ROUTER). With an empty cache, publish has just started: it
    asks compute for the complete current message of every topic. */
static void s_on_probe (s_server_t *server, zmq_msg_t *id)
{
    if (ps_lvc_size (server->lvc) > 0)
        return;
    msgpack_sbuffer_clear (&server->reply);
    if (ps_sync_resend_encode (server->epoch, &server->reply) != 0)
        return;
    s_reply (server, id, &server->reply);
    ps_info ("asked compute to resend every topic", "epoch=%" PRIu64, server->epoch);
}

/*  Receives one message [identity, update] from compute, publishes its
    items and confirms its useq to the sender. Returns 0, or -1 when
    nothing was waiting (FLAGS ZMQ_DONTWAIT) or the call was interrupted. */
static int s_handle (s_server_t *server, int flags)
{
    zmq_msg_t id, msg;
    zmq_msg_init (&id);
    zmq_msg_init (&msg);
    int rc = -1;
    if (zmq_msg_recv (&id, server->input, flags) < 0)
        goto done;
    rc = 0;
    if (!zmq_msg_more (&id) || zmq_msg_recv (&msg, server->input, 0) < 0 || zmq_msg_more (&msg)) {
        /* Updates are [identity, frame]; drain anything else and drop it. */
        server->bad_frames++;
        while (zmq_msg_more (&msg) && zmq_msg_recv (&msg, server->input, 0) >= 0)
            ;
        goto done;
    }
    if (zmq_msg_size (&msg) == 0) {
        s_on_probe (server, &id);
        goto done;
    }
    uint64_t epoch, useq;
    size_t n;
    ps_error_t err;
    if (ps_feed_update_decode (zmq_msg_data (&msg), zmq_msg_size (&msg), &epoch, &useq,
                               &server->items, &n, &server->capacity, &err) != 0) {
        server->bad_frames++;
        ps_log_every (PS_LOG_WARN, 10, "dropped a malformed update",
                      "code=%s field=%s reason=\"%s\"", ps_error_code_name (err.code), err.field,
                      err.reason);
        goto done;
    }
    server->updates++;
    n = s_keep_valid (server, server->items, n);
    s_publish_items (server, server->items, n);
    msgpack_sbuffer_clear (&server->reply);
    if (ps_control_progress_encode (useq, &server->reply) == 0)
        s_reply (server, &id, &server->reply);
done:
    zmq_msg_close (&id);
    zmq_msg_close (&msg);
    return rc;
}

/* Sends the heartbeat of PREFIX (has_prefix) or the global one. */
static void s_send_heartbeat (s_server_t *server, const ps_heartbeat_t *hb)
{
    char topic[sizeof PS_TOPIC_HB_PREFIX + PS_TOPIC_MAX];
    size_t len = strlen (PS_TOPIC_HEARTBEAT);
    memcpy (topic, PS_TOPIC_HEARTBEAT, len);
    if (hb->has_prefix) {
        len = strlen (PS_TOPIC_HB_PREFIX);
        memcpy (topic, PS_TOPIC_HB_PREFIX, len);
        memcpy (topic + len, hb->prefix, hb->prefix_len);
        len += hb->prefix_len;
    }
    if (ps_feed_heartbeat_encode (hb, &server->body) == 0 &&
        ps_sock_send (server->feed, topic, len, ZMQ_SNDMORE) == 0)
        ps_sock_send (server->feed, server->body.data, server->body.size, 0);
}

static void s_prefix_heartbeat (s_server_t *server, const char *prefix, size_t len, uint64_t sum)
{
    ps_heartbeat_t hb = {server->epoch, server->seq, server->heartbeat_ms, true, "", len, sum};
    memcpy (hb.prefix, prefix, len);
    s_send_heartbeat (server, &hb);
}

/* Prefix heartbeats go first: to a subscriber whose queue is nearly full,
   they matter more than the global one, which proves nothing about a view. */
static void s_heartbeats (s_server_t *server)
{
    size_t cursor = 0, len;
    const char *prefix;
    uint64_t sum;
    while (ps_digest_next (server->digest, &cursor, &prefix, &len, &sum))
        s_prefix_heartbeat (server, prefix, len, sum);
    ps_heartbeat_t hb = {
        .epoch = server->epoch, .seq = server->seq, .interval_ms = server->heartbeat_ms};
    s_send_heartbeat (server, &hb);
}

/*  Follows the feed's connections: accepted ones, minus those gone (a
    refused handshake included). Never below zero, should the monitor
    have dropped an event. Each connection's share of the subscriptions
    starts again with it. */
static void s_count_subscribers (s_server_t *server)
{
    uint16_t event;
    uint32_t value;
    while (ps_monitor_next (server->feed_monitor, &event, &value)) {
        /* The descriptor's subscriptions are another connection's now. */
        ps_subs_reset (server->subs, (int) value);
        if (event == ZMQ_EVENT_ACCEPTED)
            server->subscribers++;
        else if (event == ZMQ_EVENT_DISCONNECTED && server->subscribers > 0)
            server->subscribers--;
    }
}

/*  A subscription to PREFIX the bounds refused (counted by ps_subs). The
    subscriber is told why on "$hb/<prefix>", the topic it waits on, when
    PREFIX is one (its data prefix comes first and goes with it). A new
    prefix beyond the bound without a known sender closes the connection
    still sending the most (ps_subs_evict): only its departure gives back
    what libzmq holds for it. */
static void s_refused (s_server_t *server, ps_subs_verdict_t verdict, const char *prefix,
                       size_t len, bool hb, int fd)
{
    char why[PS_REASON_MAX];
    ps_subs_reason (server->subs, verdict, why, sizeof why);
    ps_subs_peer_t peer;
    if (verdict == PS_SUBS_FULL && fd < 0 && ps_subs_evict (server->subs, ps_clock_ms (), &peer))
        ps_log_every (PS_LOG_WARN, 10, "closed a feed connection subscribing beyond the bound",
                      "peer=%s bytes=%" PRIu64 " evicted_total=%" PRIu64, peer.peer, peer.bytes,
                      ps_subs_evicted (server->subs, PS_SUBS_FULL));
    if (hb && len <= PS_SUBS_PREFIX_MAX) {
        ps_error_t notice = {PS_E_LIMIT, "prefix", ""};
        snprintf (notice.reason, sizeof notice.reason, "%s", why);
        msgpack_sbuffer_clear (&server->body);
        if (ps_error_refusal_encode (&notice, &server->body) == 0 &&
            ps_sock_send (server->feed, prefix, len, ZMQ_SNDMORE) == 0)
            ps_sock_send (server->feed, server->body.data, server->body.size, 0);
    }
    ps_log_every (PS_LOG_WARN, 10, "feed subscription refused",
                  "reason=\"%s\" fd=%d prefixes=%zu refused_total=%" PRIu64, why, fd,
                  ps_subs_size (server->subs), ps_subs_refused (server->subs, verdict));
}

/*  Closes the connections condemned for their subscriptions once their
    notice has left, and logs what the guard closed since the last turn. */
static void s_evictions (s_server_t *server)
{
    ps_subs_peer_t peer;
    ps_subs_verdict_t verdict;
    while (ps_subs_reap (server->subs, ps_clock_ms (), &peer, &verdict)) {
        char why[PS_REASON_MAX];
        ps_log_every (PS_LOG_WARN, 10, "closed a feed connection for its subscriptions",
                      "peer=%s reason=\"%s\" evicted_total=%" PRIu64, peer.peer,
                      ps_subs_reason (server->subs, verdict, why, sizeof why),
                      ps_subs_evicted (server->subs, verdict));
    }
    uint64_t closed = server->guard ? ps_subs_guard_closed (server->guard) : 0;
    if (closed != server->rate_closed)
        ps_log_every (PS_LOG_WARN, 10, "closed feed connections sending subscriptions too fast",
                      "closed=%" PRIu64 " evicted_total=%" PRIu64, closed - server->rate_closed,
                      closed);
    server->rate_closed = closed;
}

/*  Reads the subscription changes the feed (XPUB_VERBOSE) reports: every
    subscription, and the departure of each prefix's last subscriber. The
    bounds judge each (ps_subs). An accepted subscription to
    "$hb/<prefix>" asks for that prefix's digest heartbeats, and gets one
    at once so the subscriber knows its subscriptions are live; the last
    unsubscription of it ends them. */
static void s_subscriptions (s_server_t *server)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    size_t skip = strlen (PS_TOPIC_HB_PREFIX);
    for (int n = 0; n < S_SUBSCRIPTIONS_MAX && zmq_msg_recv (&msg, server->feed, ZMQ_DONTWAIT) >= 0;
         n++) {
        /* A subscription's descriptor is counted for the connection the
           monitor last announced on it: read the announcements first, for
           each one, as a connection accepted while this loop runs (on a
           descriptor just freed by another) sends its subscriptions after
           its announcement but before the loop would end. */
        s_count_subscribers (server);
        const char *data = zmq_msg_data (&msg);
        size_t size = zmq_msg_size (&msg);
        /* Anything else is an XSUB's message upstream: nothing for publish. */
        if (size == 0 || (data[0] != 0 && data[0] != 1))
            continue;
        const char *prefix = data + 1;
        size_t len = size - 1;
        bool hb = len >= skip && memcmp (prefix, PS_TOPIC_HB_PREFIX, skip) == 0;
        if (data[0] == 0) {
            if (ps_subs_unsubscribe (server->subs, prefix, len) && hb)
                ps_digest_unwatch (server->digest, prefix + skip, len - skip);
            continue;
        }
        int fd = zmq_msg_get (&msg, ZMQ_SRCFD), condemned;
        ps_subs_verdict_t verdict =
            ps_subs_subscribe_from (server->subs, fd, prefix, len, &condemned);
        uint64_t sum;
        if (verdict != PS_SUBS_ACCEPTED)
            s_refused (server, verdict, prefix, len, hb, fd);
        else if (!hb)
            continue;
        else if (ps_digest_watch (server->digest, prefix + skip, len - skip, server->lvc) < 0)
            ps_warn ("prefix heartbeat refused: out of memory", "prefixes=%zu",
                     ps_digest_size (server->digest));
        else if (ps_digest_get (server->digest, prefix + skip, len - skip, &sum))
            s_prefix_heartbeat (server, prefix + skip, len - skip, sum);
    }
    zmq_msg_close (&msg);
}

/*  The TCP port the feed is bound to, for closing a connection
    (ps_subs_evict); -1 on another transport. */
static int s_feed_port (void *feed)
{
    char endpoint[256];
    size_t size = sizeof endpoint;
    if (zmq_getsockopt (feed, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0)
        return -1;
    int port = ps_subs_tcp_port (endpoint);
    if (port < 0)
        ps_info ("feed not on TCP: a connection subscribing beyond --max-subscriptions is not "
                 "closed",
                 "endpoint=%s", endpoint);
    return port;
}

static void s_run (s_server_t *server)
{
    int64_t next_heartbeat = ps_clock_ms ();
    while (!ps_signal_stop ()) {
        char err[512];
        if (ps_signal_reload () && ps_security_reload (server->security, err, sizeof err) != 0)
            ps_error ("cannot reload the keys; the previous ones stay in force", "reason=\"%s\"",
                      err);
        int64_t now = ps_clock_ms ();
        if (now >= next_heartbeat) {
            s_heartbeats (server);
            next_heartbeat = now + server->heartbeat_ms;
        }
        ps_snapshot_src_t src = {server->lvc, server->ring, server->epoch, server->seq};
        bool blocked;
        long timeout = (long) (next_heartbeat - now);
        if (ps_snapshot_serve (server->snapshots, &src, now, &blocked) > 0 &&
            timeout > (blocked ? S_BLOCKED_WAIT_MS : 0))
            timeout = blocked ? S_BLOCKED_WAIT_MS : 0;
        zmq_pollitem_t items[] = {{server->input, 0, ZMQ_POLLIN, 0},
                                  {server->feed, 0, ZMQ_POLLIN, 0},
                                  {server->snap, 0, ZMQ_POLLIN, 0},
                                  {ps_monitor_socket (server->feed_monitor), 0, ZMQ_POLLIN, 0},
                                  {NULL, ps_ops_fd (server->ops), ZMQ_POLLIN, 0}};
        if (ps_subs_reaping (server->subs) && timeout > S_REAP_WAIT_MS)
            timeout = S_REAP_WAIT_MS;
        int n = zmq_poll (items, server->ops ? 5 : 4, ps_ops_timeout_ms (server->ops, timeout));
        ps_ops_run (server->ops);
        s_evictions (server);
        if (n <= 0)
            continue;
        if (items[3].revents & ZMQ_POLLIN)
            s_count_subscribers (server);
        if (items[0].revents & ZMQ_POLLIN)
            s_handle (server, ZMQ_DONTWAIT);
        if (items[1].revents & ZMQ_POLLIN)
            s_subscriptions (server);
        src.seq = server->seq;
        for (int i = 0; i < S_ACCEPT_MAX && (items[2].revents & ZMQ_POLLIN); i++)
            if (ps_snapshot_accept (server->snapshots, &src) != 0)
                break;
    }
}

static void s_collect (void *arg, ps_metrics_t *m)
{
    s_server_t *server = arg;
    ps_metrics_counter (m, "paystat_publish_updates_total", "Update frames received from compute.",
                        NULL, server->updates);
    ps_metrics_counter (m, "paystat_publish_messages_total", "Messages published on the feed.",
                        NULL, server->messages);
    ps_metrics_counter (m, "paystat_publish_bad_frames_total",
                        "Frames from compute dropped as malformed.", NULL, server->bad_frames);
    for (int r = 0; r < PS_BODY__COUNT; r++) {
        char label[48];
        snprintf (label, sizeof label, "reason=\"%s\"", ps_body_reason_name ((ps_body_reason_t) r));
        ps_metrics_counter (m, "paystat_publish_items_refused_total",
                            "Update items refused as unreadable to subscribers, by reason.", label,
                            server->refused[r]);
    }
    ps_metrics_counter (m, "paystat_publish_snapshots_total",
                        "Snapshot and replay requests served.", NULL,
                        ps_snapshot_served (server->snapshots));
    const char *refused = "Snapshot and replay requests refused: every session taken, or the "
                          "sessions of the client's address.";
    ps_metrics_counter (m, "paystat_publish_snapshots_refused_total", refused, "reason=\"busy\"",
                        ps_snapshot_refused (server->snapshots, PS_SLOTS_BUSY));
    ps_metrics_counter (m, "paystat_publish_snapshots_refused_total", refused,
                        "reason=\"address\"",
                        ps_snapshot_refused (server->snapshots, PS_SLOTS_PEER));
    ps_metrics_counter (m, "paystat_publish_snapshots_dropped_total",
                        "Snapshots and replays dropped because their client did not read.", NULL,
                        ps_snapshot_stalled (server->snapshots));
    ps_metrics_gauge (m, "paystat_publish_topics", "Topics in the last-value cache.", NULL,
                      (double) ps_lvc_size (server->lvc));
    ps_metrics_gauge (m, "paystat_publish_cache_bytes",
                      "Bytes of messages in the last-value cache.", NULL,
                      (double) ps_lvc_bytes (server->lvc));
    ps_metrics_gauge (m, "paystat_publish_seq", "Last sequence number published in this epoch.",
                      NULL, (double) server->seq);
    /* Read here too: events wait in the monitor while the loop is busy. */
    s_count_subscribers (server);
    ps_metrics_gauge (m, "paystat_publish_subscribers",
                      "Connections open on the feed (subscribers, handshakes included).", NULL,
                      (double) server->subscribers);
    ps_metrics_gauge (m, "paystat_publish_subscriptions",
                      "Distinct prefixes subscribed on the feed and accepted.", NULL,
                      (double) ps_subs_accepted (server->subs));
    ps_metrics_gauge (m, "paystat_publish_subscriptions_held",
                      "Distinct prefixes libzmq holds for the feed, refused ones included.", NULL,
                      (double) ps_subs_size (server->subs));
    const char *refused_help = "Feed subscriptions refused, by reason.";
    ps_metrics_counter (m, "paystat_publish_subscriptions_refused_total", refused_help,
                        "reason=\"too_long\"", ps_subs_refused (server->subs, PS_SUBS_TOO_LONG));
    ps_metrics_counter (m, "paystat_publish_subscriptions_refused_total", refused_help,
                        "reason=\"full\"", ps_subs_refused (server->subs, PS_SUBS_FULL));
    ps_metrics_counter (m, "paystat_publish_subscriptions_refused_total", refused_help,
                        "reason=\"connection\"", ps_subs_refused (server->subs, PS_SUBS_CONN));
    const char *evicted_help = "Feed connections closed, by reason: holding the most when a new "
                               "prefix was beyond --max-subscriptions, subscribing beyond "
                               "--max-subscriptions-per-connection, or subscribing too fast.";
    ps_metrics_counter (m, "paystat_publish_subscribers_evicted_total", evicted_help,
                        "reason=\"full\"", ps_subs_evicted (server->subs, PS_SUBS_FULL));
    ps_metrics_counter (m, "paystat_publish_subscribers_evicted_total", evicted_help,
                        "reason=\"connection\"", ps_subs_evicted (server->subs, PS_SUBS_CONN));
    ps_metrics_counter (m, "paystat_publish_subscribers_evicted_total", evicted_help,
                        "reason=\"rate\"",
                        server->guard ? ps_subs_guard_closed (server->guard) : 0);
    if (ps_security_on (server->security)) {
        ps_metrics_counter (m, "paystat_publish_curve_handshakes_total",
                            "CURVE handshakes on every bound socket, by result.",
                            "result=\"admitted\"", ps_security_admitted (server->security));
        ps_metrics_counter (m, "paystat_publish_curve_handshakes_total",
                            "CURVE handshakes on every bound socket, by result.",
                            "result=\"refused\"", ps_security_refused (server->security));
    }
}

static const char *s_ready (void *arg)
{
    (void) arg;
    return NULL;
}

int main (int argc, char **argv)
{
    int first;
    int rc = ps_config_parse (s_options, argc, argv, "paystat-publish", "[options]",
                              "Receives indicator updates from paystat-compute, numbers them and "
                              "broadcasts them to\nsubscribers: frames [topic, body], topic = "
                              "cell key, body = MessagePack (proto/PROTOCOL.md).\n"
                              "Serves snapshots of the latest message of every topic and replays "
                              "of the most\nrecent messages on --snapshot.\n"
                              "SIGHUP: re-read --compute-keys and --subscriber-keys (for new "
                              "connections;\nthose already made are kept).",
                              &first);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (first < argc) {
        fprintf (stderr, "paystat-publish: unexpected argument '%s' (see --help)\n", argv[first]);
        return 2;
    }
    long heartbeat_ms, hwm, replay_max, max_subscriptions, snapshot_timeout_ms, per_address,
        per_connection;
    ps_log_level_t level;
    if (ps_config_long (s_options, "heartbeat-ms", 10, 3600000, &heartbeat_ms) != 0 ||
        ps_config_long (s_options, "feed-hwm", 1, 100000000, &hwm) != 0 ||
        ps_config_long (s_options, "replay-max", 0, 100000000, &replay_max) != 0 ||
        ps_config_long (s_options, "snapshot-timeout-ms", 100, 3600000, &snapshot_timeout_ms) !=
            0 ||
        ps_config_long (s_options, "snapshot-per-address", 1, S_MAX_SESSIONS, &per_address) != 0 ||
        ps_config_long (s_options, "max-subscriptions", 1, 10000000, &max_subscriptions) != 0 ||
        ps_config_long (s_options, "max-subscriptions-per-connection", 2, 10000000,
                        &per_connection) != 0)
        return 2;
    if (ps_log_level_parse (ps_config_get (s_options, "log-level")->value, &level) != 0) {
        fprintf (stderr, "invalid --log-level: must be debug, info, warn or error\n");
        return 2;
    }
    ps_log_init ("publish", level);
    ps_signal_install ();
    ps_signal_catch_reload ();

    s_server_t server = {0};
    msgpack_sbuffer_init (&server.body);
    msgpack_sbuffer_init (&server.removed);
    msgpack_sbuffer_init (&server.reply);
    msgpack_sbuffer_init (&server.burst);
    ps_body_removed_encode (&server.removed);
    server.epoch = (uint64_t) ps_wall_us ();
    server.heartbeat_ms = (uint32_t) heartbeat_ms;
    server.lvc = ps_lvc_new ();
    server.ring = ps_ring_new ((size_t) replay_max);
    server.digest = ps_digest_new ((size_t) max_subscriptions);
    void *ctx = zmq_ctx_new ();
    ps_sock_opts_t input_opts = {.hwm = 0, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    ps_sock_opts_t feed_opts = {.hwm = (int) hwm,
                                .maxmsgsize = PS_SUBS_FRAME_MAX,
                                .linger_ms = 1000,
                                .rcvhwm = PS_SUBS_RCVHWM};
    ps_sock_opts_t snap_opts = {.hwm = S_SNAPSHOT_HWM, .maxmsgsize = 64 * 1024, .linger_ms = 0};
    int exit_code = 1;
    char err[512];
    char why[400];
    server.security =
        ps_security_new (ctx, ps_config_get (s_options, "curve-secret")->value, why, sizeof why);
    if (!server.security)
        snprintf (err, sizeof err, "--curve-secret: %s", why);
    if (!server.security ||
        ps_security_server (server.security, PS_DOMAIN_COMPUTE, "compute-keys",
                            ps_config_get (s_options, "compute-keys")->value, &input_opts, err,
                            sizeof err) != 0 ||
        ps_security_server (server.security, PS_DOMAIN_SUBSCRIBERS, "subscriber-keys",
                            ps_config_get (s_options, "subscriber-keys")->value, &feed_opts, err,
                            sizeof err) != 0) {
        fprintf (stderr, "paystat-publish: %s\n", err);
        exit_code = 2;
        goto done;
    }
    /* One domain for both: a subscriber needs the feed and the snapshots. */
    snap_opts.curve = feed_opts.curve;
    snap_opts.zap_domain = feed_opts.zap_domain;
    ps_security_check_bind (server.security, "bind", ps_config_get (s_options, "bind")->value);
    ps_security_check_bind (server.security, "feed", ps_config_get (s_options, "feed")->value);
    ps_security_check_bind (server.security, "snapshot",
                            ps_config_get (s_options, "snapshot")->value);
    server.input =
        ps_sock_new (ctx, ZMQ_ROUTER, ps_config_get (s_options, "bind")->value, true, &input_opts);
    server.feed =
        ps_sock_new (ctx, ZMQ_XPUB, ps_config_get (s_options, "feed")->value, true, &feed_opts);
    server.snap = ps_sock_new (ctx, ZMQ_ROUTER, ps_config_get (s_options, "snapshot")->value, true,
                               &snap_opts);
    ps_slots_limits_t slots = {S_MAX_SESSIONS, (size_t) per_address, snapshot_timeout_ms,
                               PS_SNAPSHOT_CHUNK};
    server.snapshots = server.snap ? ps_snapshot_new (server.snap, &slots) : NULL;
    int verbose = 1;
    if (!server.lvc || !server.ring || !server.digest || !server.input || !server.feed ||
        !server.snapshots ||
        zmq_setsockopt (server.feed, ZMQ_XPUB_VERBOSE, &verbose, sizeof verbose) != 0)
        goto done;
    server.feed_monitor =
        ps_monitor_new (ctx, server.feed, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
    if (!server.feed_monitor) {
        ps_error ("cannot monitor the feed's connections", "error=\"%s\"", zmq_strerror (errno));
        goto done;
    }
    int feed_port = s_feed_port (server.feed);
    server.subs = ps_subs_new ((size_t) max_subscriptions, (size_t) per_connection, feed_port);
    if (feed_port >= 0)
        server.guard = ps_subs_guard_new (
            feed_port, &(ps_subs_limits_t){PS_SUBS_BURST, PS_SUBS_RATE, PS_SUBS_TOTAL_BURST,
                                           PS_SUBS_TOTAL_RATE});
    if (!server.subs || (feed_port >= 0 && !server.guard))
        goto done;
    const char *http = ps_config_get (s_options, "http")->value;
    if (ps_ops_enabled (http) && !(server.ops = ps_ops_new (http, s_collect, s_ready, &server)))
        goto done;
    ps_info ("ready", "epoch=%" PRIu64 " replay_max=%ld max_subscriptions=%ld", server.epoch,
             replay_max, max_subscriptions);
    s_run (&server);
    /* Publish whatever compute already handed over before leaving. */
    while (s_handle (&server, ZMQ_DONTWAIT) == 0)
        ;
    exit_code = 0;
    ps_info ("stopping",
             "updates=%" PRIu64 " messages=%" PRIu64 " topics=%zu bad_frames=%" PRIu64
             " snapshots=%" PRIu64,
             server.updates, server.messages, ps_lvc_size (server.lvc), server.bad_frames,
             ps_snapshot_served (server.snapshots));
done:
    /* Before the sockets close: the guard acts on their connections. */
    ps_subs_guard_destroy (&server.guard);
    ps_ops_destroy (&server.ops);
    ps_snapshot_destroy (&server.snapshots);
    ps_monitor_destroy (&server.feed_monitor);
    ps_sock_destroy (&server.input);
    ps_sock_destroy (&server.feed);
    ps_sock_destroy (&server.snap);
    ps_security_destroy (&server.security);
    zmq_ctx_term (ctx);
    ps_lvc_destroy (&server.lvc);
    ps_ring_destroy (&server.ring);
    ps_digest_destroy (&server.digest);
    ps_subs_destroy (&server.subs);
    free (server.items);
    msgpack_sbuffer_destroy (&server.body);
    msgpack_sbuffer_destroy (&server.removed);
    msgpack_sbuffer_destroy (&server.reply);
    msgpack_sbuffer_destroy (&server.burst);
    free (server.burst_len);
    return exit_code;
}
