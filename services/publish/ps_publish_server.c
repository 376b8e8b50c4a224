/*  ps_publish_server: publish's sockets and poll loop; see
    ps_publish_server.h. */

#include "ps_publish_server.h"

#include "ps_clock.h"
#include "ps_digest.h"
#include "ps_heartbeats.h"
#include "ps_log.h"
#include "ps_lvc.h"
#include "ps_monitor.h"
#include "ps_numbering.h"
#include "ps_proto.h"
#include "ps_ring.h"
#include "ps_signal.h"
#include "ps_snapshot.h"
#include "ps_subs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct ps_publish_server_t {
    ps_service_t *service;   /* not owned */
    ps_security_t *security; /* the service's */
    void *input;
    void *feed;
    void *snap;
    ps_lvc_t *lvc;
    ps_ring_t *ring;
    ps_digest_t *digest;
    ps_numbering_t *numbering;
    ps_heartbeats_t *heartbeats;
    ps_subs_t *subs;
    ps_subs_guard_t *guard;     /* NULL when the feed is not on TCP */
    ps_monitor_t *feed_monitor; /* the feed's connections come and go */
    size_t subscribers;         /* feed connections open */
    ps_snapshot_t *snapshots;
    ps_update_item_t *items;
    size_t capacity;
    msgpack_sbuffer body;
    msgpack_sbuffer reply;
    uint64_t updates, messages, bad_frames;
    uint64_t rate_closed; /* the guard's closings logged so far */
};

/* Sends one feed message [TOPIC, BODY]. The feed never waits: it drops
   for a subscriber whose queue is full (--feed-hwm). */
static void s_feed_send (ps_publish_server_t *self, const void *topic, size_t topic_len,
                         const void *body, size_t body_len)
{
    if (ps_sock_send (self->feed, topic, topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0)
        ps_sock_send (self->feed, body, body_len, ZMQ_DONTWAIT);
}

/*  Publishes the N items of one update: every item is numbered and cached
    first, then all are sent in one tight loop. Sending each as it is
    built lets libzmq's I/O thread catch up between messages, so every
    message would cost it a wake-up and a send(2) of its own; sent back to
    back, they leave in batches (bench/NOTES.md). */
static void s_publish_items (ps_publish_server_t *self, const ps_update_item_t *items, size_t n)
{
    if (ps_numbering_burst (self->numbering, items, n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const void *body;
        size_t len = ps_numbering_body (self->numbering, i, &body);
        if (len == 0)
            continue;
        s_feed_send (self, items[i].topic, items[i].topic_len, body, len);
        self->messages++;
    }
}

/* Sends FRAME to compute's routing identity ID. A ROUTER never waits in
   a send: it drops what is for a peer that has gone. */
static void s_reply (ps_publish_server_t *self, zmq_msg_t *id, const msgpack_sbuffer *frame)
{
    if (ps_sock_send (self->input, zmq_msg_data (id), zmq_msg_size (id),
                      ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0)
        ps_sock_send (self->input, frame->data, frame->size, ZMQ_DONTWAIT);
}

/*  Compute announces each (re)connection with an empty frame
    (ZMQ_PROBE_ROUTER). With an empty cache, publish has just started: it
    asks compute for the complete current message of every topic. */
static void s_on_probe (ps_publish_server_t *self, zmq_msg_t *id)
{
    if (ps_lvc_size (self->lvc) > 0)
        return;
    uint64_t epoch = ps_numbering_epoch (self->numbering);
    msgpack_sbuffer_clear (&self->reply);
    if (ps_sync_resend_encode (epoch, &self->reply) != 0)
        return;
    s_reply (self, id, &self->reply);
    ps_info ("asked compute to resend every topic", "epoch=%" PRIu64, epoch);
}

/*  Receives one message [identity, update] from compute, publishes its
    items and confirms its useq to the sender. Returns 0, or -1 when
    nothing was waiting or the call was interrupted. */
static int s_handle (ps_publish_server_t *self)
{
    zmq_msg_t id, msg;
    zmq_msg_init (&id);
    zmq_msg_init (&msg);
    int rc = -1;
    if (zmq_msg_recv (&id, self->input, ZMQ_DONTWAIT) < 0)
        goto done;
    rc = 0;
    /* Once the first frame is in, the others are too: a message is atomic. */
    if (!zmq_msg_more (&id) || zmq_msg_recv (&msg, self->input, 0) < 0 || zmq_msg_more (&msg)) {
        /* Updates are [identity, frame]; drain anything else and drop it. */
        self->bad_frames++;
        while (zmq_msg_more (&msg) && zmq_msg_recv (&msg, self->input, 0) >= 0)
            ;
        goto done;
    }
    if (zmq_msg_size (&msg) == 0) {
        s_on_probe (self, &id);
        goto done;
    }
    uint64_t epoch, useq;
    size_t n;
    ps_error_t err;
    if (ps_feed_update_decode (zmq_msg_data (&msg), zmq_msg_size (&msg), &epoch, &useq,
                               &self->items, &n, &self->capacity, &err) != 0) {
        self->bad_frames++;
        ps_log_every (PS_LOG_WARN, 10, "dropped a malformed update",
                      "code=%s field=%s reason=\"%s\"", ps_error_code_name (err.code), err.field,
                      err.reason);
        goto done;
    }
    self->updates++;
    n = ps_numbering_keep_valid (self->numbering, self->items, n);
    s_publish_items (self, self->items, n);
    msgpack_sbuffer_clear (&self->reply);
    if (ps_control_progress_encode (useq, &self->reply) == 0)
        s_reply (self, &id, &self->reply);
done:
    zmq_msg_close (&id);
    zmq_msg_close (&msg);
    return rc;
}

/* Sends the heartbeat of PREFIX (LEN bytes, digest SUM), or the global
   one when PREFIX is NULL. */
static void s_heartbeat (ps_publish_server_t *self, const char *prefix, size_t len, uint64_t sum)
{
    char topic[PS_HEARTBEATS_TOPIC_MAX];
    size_t topic_len;
    if (ps_heartbeats_build (self->heartbeats, ps_numbering_epoch (self->numbering),
                             ps_numbering_seq (self->numbering), prefix, len, sum, topic,
                             &topic_len, &self->body) == 0)
        s_feed_send (self, topic, topic_len, self->body.data, self->body.size);
}

/* Prefix heartbeats go first: to a subscriber whose queue is nearly full,
   they matter more than the global one, which proves nothing about a view. */
static void s_heartbeats (ps_publish_server_t *self)
{
    size_t cursor = 0, len;
    const char *prefix;
    uint64_t sum;
    while (ps_digest_next (self->digest, &cursor, &prefix, &len, &sum))
        s_heartbeat (self, prefix, len, sum);
    s_heartbeat (self, NULL, 0, 0);
}

/*  Follows the feed's connections: accepted ones, minus those gone (a
    refused handshake included). Never below zero, should the monitor
    have dropped an event. Each connection's share of the subscriptions
    starts again with it. */
static void s_count_subscribers (ps_publish_server_t *self)
{
    uint16_t event;
    uint32_t value;
    while (ps_monitor_next (self->feed_monitor, &event, &value)) {
        /* The descriptor's subscriptions are another connection's now. */
        ps_subs_reset (self->subs, (int) value);
        if (event == ZMQ_EVENT_ACCEPTED)
            self->subscribers++;
        else if (event == ZMQ_EVENT_DISCONNECTED && self->subscribers > 0)
            self->subscribers--;
    }
}

/*  A subscription to PREFIX the bounds refused (counted by ps_subs). The
    subscriber is told why on "$hb/<prefix>", the topic it waits on, when
    PREFIX is one (its data prefix comes first and goes with it). A new
    prefix beyond the bound without a known sender closes the connection
    still sending the most (ps_subs_evict): only its departure gives back
    what libzmq holds for it. */
static void s_refused (ps_publish_server_t *self, ps_subs_verdict_t verdict, const char *prefix,
                       size_t len, bool hb, int fd)
{
    char why[PS_REASON_MAX];
    ps_subs_reason (self->subs, verdict, why, sizeof why);
    ps_subs_peer_t peer;
    if (verdict == PS_SUBS_FULL && fd < 0 && ps_subs_evict (self->subs, ps_clock_ms (), &peer))
        ps_log_every (PS_LOG_WARN, 10, "closed a feed connection subscribing beyond the bound",
                      "peer=%s bytes=%" PRIu64 " evicted_total=%" PRIu64, peer.peer, peer.bytes,
                      ps_subs_evicted (self->subs, PS_SUBS_FULL));
    if (hb && len <= PS_SUBS_PREFIX_MAX) {
        ps_error_t notice = {PS_E_LIMIT, "prefix", ""};
        snprintf (notice.reason, sizeof notice.reason, "%s", why);
        msgpack_sbuffer_clear (&self->body);
        if (ps_error_refusal_encode (&notice, &self->body) == 0)
            s_feed_send (self, prefix, len, self->body.data, self->body.size);
    }
    ps_log_every (PS_LOG_WARN, 10, "feed subscription refused",
                  "reason=\"%s\" fd=%d prefixes=%zu refused_total=%" PRIu64, why, fd,
                  ps_subs_size (self->subs), ps_subs_refused (self->subs, verdict));
}

/*  Closes the connections condemned for their subscriptions once their
    notice has left, and logs what the guard closed since the last turn. */
static void s_evictions (ps_publish_server_t *self)
{
    ps_subs_peer_t peer;
    ps_subs_verdict_t verdict;
    while (ps_subs_reap (self->subs, ps_clock_ms (), &peer, &verdict)) {
        char why[PS_REASON_MAX];
        ps_log_every (PS_LOG_WARN, 10, "closed a feed connection for its subscriptions",
                      "peer=%s reason=\"%s\" evicted_total=%" PRIu64, peer.peer,
                      ps_subs_reason (self->subs, verdict, why, sizeof why),
                      ps_subs_evicted (self->subs, verdict));
    }
    uint64_t closed = self->guard ? ps_subs_guard_closed (self->guard) : 0;
    if (closed != self->rate_closed)
        ps_log_every (PS_LOG_WARN, 10, "closed feed connections sending subscriptions too fast",
                      "closed=%" PRIu64 " evicted_total=%" PRIu64, closed - self->rate_closed,
                      closed);
    self->rate_closed = closed;
}

/*  Reads the subscription changes the feed (XPUB_VERBOSE) reports: every
    subscription, and the departure of each prefix's last subscriber. The
    bounds judge each (ps_subs). An accepted subscription to
    "$hb/<prefix>" asks for that prefix's digest heartbeats, and gets one
    at once so the subscriber knows its subscriptions are live; the last
    unsubscription of it ends them. */
static void s_subscriptions (ps_publish_server_t *self)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    size_t skip = strlen (PS_TOPIC_HB_PREFIX);
    for (int n = 0; n < S_SUBSCRIPTIONS_MAX && zmq_msg_recv (&msg, self->feed, ZMQ_DONTWAIT) >= 0;
         n++) {
        /* A subscription's descriptor is counted for the connection the
           monitor last announced on it: read the announcements first, for
           each one, as a connection accepted while this loop runs (on a
           descriptor just freed by another) sends its subscriptions after
           its announcement but before the loop would end. */
        s_count_subscribers (self);
        const char *data = zmq_msg_data (&msg);
        size_t size = zmq_msg_size (&msg);
        /* Anything else is an XSUB's message upstream: nothing for publish. */
        if (size == 0 || (data[0] != 0 && data[0] != 1))
            continue;
        const char *prefix = data + 1;
        size_t len = size - 1;
        bool hb = len >= skip && memcmp (prefix, PS_TOPIC_HB_PREFIX, skip) == 0;
        if (data[0] == 0) {
            if (ps_subs_unsubscribe (self->subs, prefix, len) && hb)
                ps_digest_unwatch (self->digest, prefix + skip, len - skip);
            continue;
        }
        int fd = zmq_msg_get (&msg, ZMQ_SRCFD), condemned;
        ps_subs_verdict_t verdict =
            ps_subs_subscribe_from (self->subs, fd, prefix, len, &condemned);
        uint64_t sum;
        if (verdict != PS_SUBS_ACCEPTED)
            s_refused (self, verdict, prefix, len, hb, fd);
        else if (!hb)
            continue;
        else if (ps_digest_watch (self->digest, prefix + skip, len - skip, self->lvc) < 0)
            ps_warn ("prefix heartbeat refused: out of memory", "prefixes=%zu",
                     ps_digest_size (self->digest));
        else if (ps_digest_get (self->digest, prefix + skip, len - skip, &sum))
            s_heartbeat (self, prefix + skip, len - skip, sum);
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

/* One turn of the loop: heartbeats when due, snapshot sessions served,
   then one wait in the poll and what it found. */
static void s_turn (ps_publish_server_t *self)
{
    int64_t now = ps_clock_ms ();
    if (ps_heartbeats_due (self->heartbeats, now))
        s_heartbeats (self);
    ps_snapshot_src_t src = {self->lvc, self->ring, ps_numbering_epoch (self->numbering),
                             ps_numbering_seq (self->numbering)};
    bool blocked;
    long timeout = ps_heartbeats_wait_ms (self->heartbeats, now);
    if (ps_snapshot_serve (self->snapshots, &src, now, &blocked) > 0 &&
        timeout > (blocked ? S_BLOCKED_WAIT_MS : 0))
        timeout = blocked ? S_BLOCKED_WAIT_MS : 0;
    zmq_pollitem_t items[] = {{self->input, 0, ZMQ_POLLIN, 0},
                              {self->feed, 0, ZMQ_POLLIN, 0},
                              {self->snap, 0, ZMQ_POLLIN, 0},
                              {ps_monitor_socket (self->feed_monitor), 0, ZMQ_POLLIN, 0}};
    if (ps_subs_reaping (self->subs) && timeout > S_REAP_WAIT_MS)
        timeout = S_REAP_WAIT_MS;
    int n = ps_service_poll (self->service, items, 4, timeout);
    s_evictions (self);
    if (n <= 0)
        return; /* a signal, a timeout, or a poll error (logged): the loop goes on */
    if (items[3].revents & ZMQ_POLLIN)
        s_count_subscribers (self);
    if (items[0].revents & ZMQ_POLLIN)
        s_handle (self);
    if (items[1].revents & ZMQ_POLLIN)
        s_subscriptions (self);
    src.seq = ps_numbering_seq (self->numbering);
    for (int i = 0; i < S_ACCEPT_MAX && (items[2].revents & ZMQ_POLLIN); i++)
        if (ps_snapshot_accept (self->snapshots, &src) != 0)
            break;
}

int ps_publish_server_run (ps_publish_server_t *self)
{
    while (!ps_service_stopping (self->service))
        s_turn (self);
    /* Publish whatever compute already handed over before leaving. */
    while (s_handle (self) == 0)
        ;
    ps_info ("stopping",
             "updates=%" PRIu64 " messages=%" PRIu64 " topics=%zu bad_frames=%" PRIu64
             " snapshots=%" PRIu64,
             self->updates, self->messages, ps_lvc_size (self->lvc), self->bad_frames,
             ps_snapshot_served (self->snapshots));
    return PS_EXIT_OK;
}
static void s_collect (void *arg, ps_metrics_t *m)
{
    ps_publish_server_t *self = arg;
    ps_metrics_counter (m, "paystat_publish_updates_total", "Update frames received from compute.",
                        NULL, self->updates);
    ps_metrics_counter (m, "paystat_publish_messages_total", "Messages published on the feed.",
                        NULL, self->messages);
    ps_metrics_counter (m, "paystat_publish_bad_frames_total",
                        "Frames from compute dropped as malformed.", NULL, self->bad_frames);
    for (int r = 0; r < PS_BODY__COUNT; r++)
        ps_metrics_counter_reason (m, "paystat_publish_items_refused_total",
                                   "Update items refused as unreadable to subscribers, by reason.",
                                   ps_body_reason_name ((ps_body_reason_t) r),
                                   ps_numbering_refused (self->numbering, (ps_body_reason_t) r));
    ps_metrics_counter (m, "paystat_publish_snapshots_total",
                        "Snapshot and replay requests served.", NULL,
                        ps_snapshot_served (self->snapshots));
    const char *refused = "Snapshot and replay requests refused: every session taken, or the "
                          "sessions of the client's address.";
    ps_metrics_counter (m, "paystat_publish_snapshots_refused_total", refused, "reason=\"busy\"",
                        ps_snapshot_refused (self->snapshots, PS_SLOTS_BUSY));
    ps_metrics_counter (m, "paystat_publish_snapshots_refused_total", refused, "reason=\"address\"",
                        ps_snapshot_refused (self->snapshots, PS_SLOTS_PEER));
    ps_metrics_counter (m, "paystat_publish_snapshots_dropped_total",
                        "Snapshots and replays dropped because their client did not read.", NULL,
                        ps_snapshot_stalled (self->snapshots));
    ps_metrics_gauge (m, "paystat_publish_topics", "Topics in the last-value cache.", NULL,
                      (double) ps_lvc_size (self->lvc));
    ps_metrics_gauge (m, "paystat_publish_cache_bytes",
                      "Bytes of messages in the last-value cache.", NULL,
                      (double) ps_lvc_bytes (self->lvc));
    ps_metrics_gauge (m, "paystat_publish_seq", "Last sequence number published in this epoch.",
                      NULL, (double) ps_numbering_seq (self->numbering));
    /* Read here too: events wait in the monitor while the loop is busy. */
    s_count_subscribers (self);
    ps_metrics_gauge (m, "paystat_publish_subscribers",
                      "Connections open on the feed (subscribers, handshakes included).", NULL,
                      (double) self->subscribers);
    ps_metrics_gauge (m, "paystat_publish_subscriptions",
                      "Distinct prefixes subscribed on the feed and accepted.", NULL,
                      (double) ps_subs_accepted (self->subs));
    ps_metrics_gauge (m, "paystat_publish_subscriptions_held",
                      "Distinct prefixes libzmq holds for the feed, refused ones included.", NULL,
                      (double) ps_subs_size (self->subs));
    const char *refused_help = "Feed subscriptions refused, by reason.";
    ps_metrics_counter (m, "paystat_publish_subscriptions_refused_total", refused_help,
                        "reason=\"too_long\"", ps_subs_refused (self->subs, PS_SUBS_TOO_LONG));
    ps_metrics_counter (m, "paystat_publish_subscriptions_refused_total", refused_help,
                        "reason=\"full\"", ps_subs_refused (self->subs, PS_SUBS_FULL));
    ps_metrics_counter (m, "paystat_publish_subscriptions_refused_total", refused_help,
                        "reason=\"connection\"", ps_subs_refused (self->subs, PS_SUBS_CONN));
    const char *evicted_help = "Feed connections closed, by reason: holding the most when a new "
                               "prefix was beyond --max-subscriptions, subscribing beyond "
                               "--max-subscriptions-per-connection, or subscribing too fast.";
    ps_metrics_counter (m, "paystat_publish_subscribers_evicted_total", evicted_help,
                        "reason=\"full\"", ps_subs_evicted (self->subs, PS_SUBS_FULL));
    ps_metrics_counter (m, "paystat_publish_subscribers_evicted_total", evicted_help,
                        "reason=\"connection\"", ps_subs_evicted (self->subs, PS_SUBS_CONN));
    ps_metrics_counter (m, "paystat_publish_subscribers_evicted_total", evicted_help,
                        "reason=\"rate\"", self->guard ? ps_subs_guard_closed (self->guard) : 0);
    if (ps_security_on (self->security)) {
        ps_metrics_counter (m, "paystat_publish_curve_handshakes_total",
                            "CURVE handshakes on every bound socket, by result.",
                            "result=\"admitted\"", ps_security_admitted (self->security));
        ps_metrics_counter (m, "paystat_publish_curve_handshakes_total",
                            "CURVE handshakes on every bound socket, by result.",
                            "result=\"refused\"", ps_security_refused (self->security));
    }
}

static const char *s_ready (void *arg)
{
    (void) arg;
    return NULL;
}

/* SIGHUP: re-reads --compute-keys and --subscriber-keys (ps_service_reload_fn). */
static void s_reload (void *arg)
{
    ps_publish_server_t *self = arg;
    char err[512];
    if (ps_security_reload (self->security, err, sizeof err) != 0)
        ps_error ("cannot reload the keys; the previous ones stay in force", "reason=\"%s\"", err);
}

/*  Binds the three sockets with OPTS: compute's (INPUT), the feed and the
    snapshots'. Returns 0, or -1 when one cannot be set up (logged). */
static int s_bind (ps_publish_server_t *self, const ps_sock_opts_t *input_opts,
                   const ps_sock_opts_t *feed_opts, const ps_sock_opts_t *snap_opts)
{
    void *ctx = ps_service_ctx (self->service);
    self->input =
        ps_sock_new (ctx, ZMQ_ROUTER, ps_service_opt (self->service, "bind"), true, input_opts);
    self->feed =
        ps_sock_new (ctx, ZMQ_XPUB, ps_service_opt (self->service, "feed"), true, feed_opts);
    self->snap =
        ps_sock_new (ctx, ZMQ_ROUTER, ps_service_opt (self->service, "snapshot"), true, snap_opts);
    int verbose = 1;
    if (!self->input || !self->feed || !self->snap ||
        zmq_setsockopt (self->feed, ZMQ_XPUB_VERBOSE, &verbose, sizeof verbose) != 0)
        return -1;
    self->feed_monitor =
        ps_monitor_new (ctx, self->feed, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
    if (!self->feed_monitor) {
        ps_error ("cannot monitor the feed's connections", "error=\"%s\"", zmq_strerror (errno));
        return -1;
    }
    return 0;
}

ps_publish_server_t *ps_publish_server_new (ps_service_t *service, int *exit_code)
{
    *exit_code = PS_EXIT_USAGE;
    long heartbeat_ms, hwm, replay_max, max_subscriptions, snapshot_timeout_ms, per_address,
        per_connection;
    if (ps_service_long (service, "heartbeat-ms", 10, 3600000, &heartbeat_ms) != 0 ||
        ps_service_long (service, "feed-hwm", 1, 100000000, &hwm) != 0 ||
        ps_service_long (service, "replay-max", 0, 100000000, &replay_max) != 0 ||
        ps_service_long (service, "snapshot-timeout-ms", 100, 3600000, &snapshot_timeout_ms) != 0 ||
        ps_service_long (service, "snapshot-per-address", 1, S_MAX_SESSIONS, &per_address) != 0 ||
        ps_service_long (service, "max-subscriptions", 1, 10000000, &max_subscriptions) != 0 ||
        ps_service_long (service, "max-subscriptions-per-connection", 2, 10000000,
                         &per_connection) != 0)
        return NULL;
    ps_sock_opts_t input_opts = {.hwm = 0, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    ps_sock_opts_t feed_opts = {.hwm = (int) hwm,
                                .maxmsgsize = PS_SUBS_FRAME_MAX,
                                .linger_ms = 1000,
                                .rcvhwm = PS_SUBS_RCVHWM};
    ps_sock_opts_t snap_opts = {.hwm = S_SNAPSHOT_HWM, .maxmsgsize = 64 * 1024, .linger_ms = 0};
    /* Keys are read before any work, so that a bad one stops the start. */
    if (ps_service_secure_bind (service, PS_DOMAIN_COMPUTE, "compute-keys", "bind", &input_opts) !=
            0 ||
        ps_service_secure_bind (service, PS_DOMAIN_SUBSCRIBERS, "subscriber-keys", "feed",
                                &feed_opts) != 0)
        return NULL;
    /* One domain for both: a subscriber needs the feed and the snapshots. */
    snap_opts.curve = feed_opts.curve;
    snap_opts.zap_domain = feed_opts.zap_domain;
    ps_security_check_bind (ps_service_security (service), "snapshot",
                            ps_service_opt (service, "snapshot"));
    *exit_code = PS_EXIT_FAIL;
    ps_publish_server_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->service = service;
    self->security = ps_service_security (service);
    msgpack_sbuffer_init (&self->body);
    msgpack_sbuffer_init (&self->reply);
    uint64_t epoch = (uint64_t) ps_wall_us ();
    self->lvc = ps_lvc_new ();
    self->ring = ps_ring_new ((size_t) replay_max);
    self->digest = ps_digest_new ((size_t) max_subscriptions);
    self->numbering = ps_numbering_new (epoch, self->lvc, self->ring, self->digest);
    if (s_bind (self, &input_opts, &feed_opts, &snap_opts) != 0)
        goto err;
    ps_slots_limits_t slots = {S_MAX_SESSIONS, (size_t) per_address, snapshot_timeout_ms,
                               PS_SNAPSHOT_CHUNK};
    self->snapshots = ps_snapshot_new (self->snap, &slots);
    int feed_port = s_feed_port (self->feed);
    self->subs = ps_subs_new ((size_t) max_subscriptions, (size_t) per_connection, feed_port);
    if (feed_port >= 0)
        self->guard = ps_subs_guard_new (feed_port, &(ps_subs_limits_t){PS_SUBS_BURST, PS_SUBS_RATE,
                                                                        PS_SUBS_TOTAL_BURST,
                                                                        PS_SUBS_TOTAL_RATE});
    if (!self->lvc || !self->ring || !self->digest || !self->numbering || !self->snapshots ||
        !self->subs || (feed_port >= 0 && !self->guard) ||
        ps_service_ops (service, s_collect, s_ready, self) != 0)
        goto err;
    ps_service_on_reload (service, s_reload, self);
    self->heartbeats = ps_heartbeats_new ((uint32_t) heartbeat_ms, ps_clock_ms ());
    if (!self->heartbeats)
        goto err;
    ps_info ("ready", "epoch=%" PRIu64 " replay_max=%ld max_subscriptions=%ld", epoch, replay_max,
             max_subscriptions);
    return self;
err:
    ps_publish_server_destroy (&self);
    return NULL;
}

void ps_publish_server_destroy (ps_publish_server_t **self_p)
{
    ps_publish_server_t *self = *self_p;
    if (!self)
        return;
    /* Before the sockets close: the guard acts on their connections. */
    ps_subs_guard_destroy (&self->guard);
    ps_snapshot_destroy (&self->snapshots);
    ps_monitor_destroy (&self->feed_monitor);
    ps_sock_destroy (&self->input);
    ps_sock_destroy (&self->feed);
    ps_sock_destroy (&self->snap);
    ps_heartbeats_destroy (&self->heartbeats);
    ps_numbering_destroy (&self->numbering);
    ps_lvc_destroy (&self->lvc);
    ps_ring_destroy (&self->ring);
    ps_digest_destroy (&self->digest);
    ps_subs_destroy (&self->subs);
    free (self->items);
    msgpack_sbuffer_destroy (&self->body);
    msgpack_sbuffer_destroy (&self->reply);
    free (self);
    *self_p = NULL;
}
