/*  paystat-publish: numbers compute's indicator updates and broadcasts
    them on a PUB socket, topic frame first, with heartbeats. */

#include "ps_config.h"
#include "ps_log.h"
#include "ps_lvc.h"
#include "ps_proto.h"
#include "ps_sock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static ps_option_t s_options[] = {
    {"bind", "PAYSTAT_PUBLISH_BIND", "tcp://127.0.0.1:7403",
     "compute's updates arrive here (ROUTER, bound)", false, NULL},
    {"feed", "PAYSTAT_FEED_BIND", "tcp://127.0.0.1:7404", "subscribers' feed (PUB, bound)", false,
     NULL},
    {"heartbeat-ms", "PAYSTAT_HEARTBEAT_MS", "1000", "interval between heartbeats on '$hb'", false,
     NULL},
    {"feed-hwm", "PAYSTAT_FEED_HWM", "100000",
     "messages queued per subscriber before the feed drops for it", false, NULL},
    {"log-level", "PAYSTAT_LOG_LEVEL", "info", "debug, info, warn or error", false, NULL},
    PS_OPTION_END};

typedef struct {
    void *input;
    void *feed;
    ps_lvc_t *lvc;
    uint64_t epoch;
    uint64_t seq; /* last seq published in this epoch */
    ps_update_item_t *items;
    size_t capacity;
    msgpack_sbuffer body;
    msgpack_sbuffer removed; /* fields of a removal message */
    msgpack_sbuffer progress;
    uint64_t updates, messages, bad_frames;
} s_server_t;

static void s_publish_item (s_server_t *server, const ps_update_item_t *item)
{
    const uint8_t *fields = item->body;
    size_t fields_len = item->body_len;
    if (fields_len == 0) {
        fields = (const uint8_t *) server->removed.data;
        fields_len = server->removed.size;
    }
    uint64_t seq = server->seq + 1;
    uint64_t prev = ps_lvc_last_seq (server->lvc, item->topic, item->topic_len);
    if (ps_feed_body (seq, prev, server->epoch, fields, fields_len, &server->body) != 0)
        return;
    if (ps_lvc_store (server->lvc, item->topic, item->topic_len, seq, server->body.data,
                      server->body.size) != 0) {
        ps_error ("out of memory caching a message", "topic=%.*s", (int) item->topic_len,
                  item->topic);
        return;
    }
    server->seq = seq;
    if (ps_sock_send (server->feed, item->topic, item->topic_len, ZMQ_SNDMORE) == 0)
        ps_sock_send (server->feed, server->body.data, server->body.size, 0);
    server->messages++;
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
    uint64_t epoch, useq;
    size_t n;
    ps_error_t err;
    if (ps_update_decode (zmq_msg_data (&msg), zmq_msg_size (&msg), &epoch, &useq, &server->items,
                          &n, &server->capacity, &err) != 0) {
        server->bad_frames++;
        ps_warn ("dropped a malformed update", "code=%s field=%s reason=\"%s\"",
                 ps_err_name (err.code), err.field, err.reason);
        goto done;
    }
    server->updates++;
    for (size_t i = 0; i < n; i++)
        s_publish_item (server, &server->items[i]);
    msgpack_sbuffer_clear (&server->progress);
    if (ps_progress_encode (useq, &server->progress) == 0 &&
        ps_sock_send (server->input, zmq_msg_data (&id), zmq_msg_size (&id), ZMQ_SNDMORE) == 0)
        ps_sock_send (server->input, server->progress.data, server->progress.size, 0);
done:
    zmq_msg_close (&id);
    zmq_msg_close (&msg);
    return rc;
}

static void s_heartbeat (s_server_t *server, uint32_t interval_ms)
{
    if (ps_heartbeat_body (server->epoch, server->seq, interval_ms, &server->body) != 0)
        return;
    if (ps_sock_send (server->feed, PS_TOPIC_HEARTBEAT, strlen (PS_TOPIC_HEARTBEAT), ZMQ_SNDMORE) ==
        0)
        ps_sock_send (server->feed, server->body.data, server->body.size, 0);
}

int main (int argc, char **argv)
{
    int first;
    int rc = ps_config_parse (s_options, argc, argv, "paystat-publish", "[options]",
                              "Receives indicator updates from paystat-compute, numbers them and "
                              "broadcasts them to\nsubscribers: frames [topic, body], topic = "
                              "cell key, body = MessagePack (proto/PROTOCOL.md).",
                              &first);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (first < argc) {
        fprintf (stderr, "paystat-publish: unexpected argument '%s' (see --help)\n", argv[first]);
        return 2;
    }
    long heartbeat_ms, hwm;
    ps_log_level_t level;
    if (ps_config_long (s_options, "heartbeat-ms", 10, 3600000, &heartbeat_ms) != 0 ||
        ps_config_long (s_options, "feed-hwm", 1, 100000000, &hwm) != 0)
        return 2;
    if (ps_log_level_parse (ps_config_get (s_options, "log-level")->value, &level) != 0) {
        fprintf (stderr, "invalid --log-level: must be debug, info, warn or error\n");
        return 2;
    }
    ps_log_init ("publish", level);
    ps_signal_install ();

    s_server_t server = {0};
    msgpack_sbuffer_init (&server.body);
    msgpack_sbuffer_init (&server.removed);
    msgpack_sbuffer_init (&server.progress);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &server.removed, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "type", 4);
    msgpack_pack_str_with_body (&pk, "removed", 7);
    server.epoch = (uint64_t) ps_wall_us ();
    server.lvc = ps_lvc_new ();
    void *ctx = zmq_ctx_new ();
    ps_sock_opts_t input_opts = {0, PS_MAX_FRAME, 0};
    ps_sock_opts_t feed_opts = {(int) hwm, -1, 1000};
    server.input =
        ps_sock_new (ctx, ZMQ_ROUTER, ps_config_get (s_options, "bind")->value, true, &input_opts);
    server.feed =
        ps_sock_new (ctx, ZMQ_PUB, ps_config_get (s_options, "feed")->value, true, &feed_opts);
    int exit_code = 1;
    if (!server.lvc || !server.input || !server.feed)
        goto done;
    ps_info ("ready", "epoch=%llu", (unsigned long long) server.epoch);
    int64_t next_heartbeat = ps_clock_ms ();
    while (!ps_signal_stop ()) {
        int64_t now = ps_clock_ms ();
        if (now >= next_heartbeat) {
            s_heartbeat (&server, (uint32_t) heartbeat_ms);
            next_heartbeat = now + heartbeat_ms;
        }
        zmq_pollitem_t items[] = {{server.input, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 1, (long) (next_heartbeat - now)) > 0)
            s_handle (&server, ZMQ_DONTWAIT);
    }
    /* Publish whatever compute already handed over before leaving. */
    while (s_handle (&server, ZMQ_DONTWAIT) == 0)
        ;
    exit_code = 0;
    ps_info ("stopping", "updates=%llu messages=%llu topics=%zu bad_frames=%llu",
             (unsigned long long) server.updates, (unsigned long long) server.messages,
             ps_lvc_size (server.lvc), (unsigned long long) server.bad_frames);
done:
    ps_sock_destroy (&server.input);
    ps_sock_destroy (&server.feed);
    zmq_ctx_term (ctx);
    ps_lvc_destroy (&server.lvc);
    free (server.items);
    msgpack_sbuffer_destroy (&server.body);
    msgpack_sbuffer_destroy (&server.removed);
    msgpack_sbuffer_destroy (&server.progress);
    return exit_code;
}
