/*  paystat-compute: receives the batches ingest accepted (ROUTER; each is
    answered with a progress frame naming the last jseq applied),
    aggregates their reports into cells at every rollup level, and sends
    publish the complete indicator messages of every topic that changed,
    conflated to at most one per topic per flush interval. */

#include "ps_config.h"
#include "ps_engine.h"
#include "ps_log.h"
#include "ps_proto.h"
#include "ps_ratios.h"
#include "ps_sock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <zmq.h>

/* Frames read per poll round at most, so flushes stay on schedule. */
#define S_DRAIN_MAX 256
/* How long shutdown may wait for publish to take the last updates. */
#define S_SHUTDOWN_MS 5000

static int s_emit (void *sock, const void *frame, size_t size)
{
    if (ps_sock_send (sock, frame, size, 0) == 0)
        return 0;
    ps_error ("cannot send update", "bytes=%zu error=\"%s\"", size, zmq_strerror (errno));
    return -1;
}

/* Frames accepted in one message from ingest: its routing identity and
   the batch (a DEALER sends no empty delimiter, a REQ-style one would). */
#define S_MAX_PARTS 3

typedef struct {
    void *in;           /* ROUTER: forwarded batches in, progress out */
    void *out;          /* DEALER: updates to publish, progress back */
    uint64_t confirmed; /* last useq publish has confirmed */
    ps_engine_t *engine;
    ps_batch_t *batch;
    msgpack_sbuffer progress;
    zmq_msg_t parts[S_MAX_PARTS];
} s_server_t;

/* Receives one whole message into server->parts. Returns the number of
   frames, 0 for a message with too many frames (drained and dropped),
   or -1 when nothing was waiting or on a socket error (errno). */
static int s_recv (s_server_t *server)
{
    int n = 0;
    bool overflow = false;
    for (;;) {
        zmq_msg_t *part = &server->parts[n];
        if (zmq_msg_recv (part, server->in, n == 0 ? ZMQ_DONTWAIT : 0) < 0)
            return -1;
        if (!zmq_msg_more (part))
            return overflow ? 0 : n + 1;
        if (n < S_MAX_PARTS - 1)
            n++;
        else
            overflow = true;
    }
}

/* Decodes and applies one forwarded batch, then tells its ingest (by its
   routing identity, frame 0) how far it has been applied, so that ingest
   can drain before closing. A bad frame is logged and dropped. */
static void s_handle (s_server_t *server, int nparts)
{
    zmq_msg_t *body = &server->parts[nparts - 1];
    ps_error_t err;
    if (nparts < 2) {
        ps_warn ("message without routing identity dropped", "frames=%d", nparts);
        return;
    }
    if (ps_batch_decode (server->batch, zmq_msg_data (body), zmq_msg_size (body), true, &err) !=
        0) {
        ps_warn ("bad batch frame dropped", "bytes=%zu code=%s field=%s reason=\"%s\"",
                 zmq_msg_size (body), ps_err_name (err.code), err.field ? err.field : "",
                 err.reason);
        return;
    }
    ps_engine_apply_batch (server->engine, server->batch);
    msgpack_sbuffer_clear (&server->progress);
    if (ps_progress_encode (server->batch->jseq, &server->progress) != 0)
        return;
    /* A ROUTER drops a reply to a peer that has gone: ingest resends then. */
    if (ps_sock_send (server->in, zmq_msg_data (&server->parts[0]),
                      zmq_msg_size (&server->parts[0]), ZMQ_SNDMORE) == 0)
        ps_sock_send (server->in, server->progress.data, server->progress.size, 0);
}

/* Reads publish's progress frames waiting on the output socket. */
static void s_read_progress (s_server_t *server)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, server->out, ZMQ_DONTWAIT) >= 0) {
        uint64_t pos;
        ps_error_t err;
        if (zmq_msg_more (&msg))
            ps_warn ("ignored a multipart frame from publish", NULL);
        else if (ps_progress_decode (zmq_msg_data (&msg), zmq_msg_size (&msg), &pos, &err) != 0)
            ps_warn ("ignored a malformed progress frame", "reason=\"%s\"", err.reason);
        else if (pos > server->confirmed)
            server->confirmed = pos;
    }
    zmq_msg_close (&msg);
}

/* At shutdown: waits up to S_SHUTDOWN_MS for publish to confirm every
   update sent, since libzmq 4.3.4 may drop what is queued at close. */
static void s_wait_confirmed (s_server_t *server)
{
    uint64_t sent = ps_engine_useq (server->engine);
    int64_t deadline = ps_clock_ms () + S_SHUTDOWN_MS;
    while (server->confirmed < sent && ps_clock_ms () < deadline) {
        zmq_pollitem_t item = {server->out, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, (long) (deadline - ps_clock_ms ())) > 0)
            s_read_progress (server);
    }
    if (server->confirmed < sent)
        ps_warn ("publish did not confirm every update before shutdown",
                 "sent=%" PRIu64 " confirmed=%" PRIu64, sent, server->confirmed);
}

/* Reads the messages waiting: at most S_DRAIN_MAX, and once changes are
   pending, not past DEADLINE_MS, when they are due. Returns -1 on a
   socket error. */
static int s_drain (s_server_t *server, int64_t deadline_ms)
{
    for (int i = 0; i < S_DRAIN_MAX; i++) {
        for (int p = 0; p < S_MAX_PARTS; p++)
            zmq_msg_init (&server->parts[p]);
        int n = s_recv (server);
        int err = errno;
        if (n > 0)
            s_handle (server, n);
        else if (n == 0)
            ps_warn ("message with too many frames dropped", NULL);
        for (int p = 0; p < S_MAX_PARTS; p++)
            zmq_msg_close (&server->parts[p]);
        if (n < 0)
            return err == EAGAIN || err == EINTR ? 0 : -1;
        if (ps_engine_pending (server->engine) && ps_clock_ms () >= deadline_ms)
            break;
    }
    return 0;
}

static int s_run (s_server_t *server, long flush_ms)
{
    int64_t next_flush = 0;
    while (!ps_signal_stop ()) {
        int64_t now = ps_clock_ms ();
        bool pending = ps_engine_pending (server->engine);
        if (pending && now >= next_flush) {
            ps_engine_flush (server->engine, s_emit, server->out);
            /* Under load the interval stretches to what the flush took, so
               reading reports always gets at least half of the time and
               more changes conflate into the next flush. */
            int64_t took = ps_clock_ms () - now;
            next_flush = now + (took > flush_ms ? 2 * took : flush_ms);
            continue;
        }
        long timeout = pending ? (long) (next_flush - now) : -1;
        zmq_pollitem_t items[] = {{server->in, 0, ZMQ_POLLIN, 0}, {server->out, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll (items, 2, timeout);
        if (n < 0 && errno != EINTR) {
            ps_error ("poll failed", "error=\"%s\"", zmq_strerror (errno));
            return -1;
        }
        if (n > 0 && (items[1].revents & ZMQ_POLLIN))
            s_read_progress (server);
        if (n > 0 && (items[0].revents & ZMQ_POLLIN) && s_drain (server, next_flush) != 0) {
            ps_error ("receive failed", "error=\"%s\"", zmq_strerror (errno));
            return -1;
        }
    }
    return 0;
}

int main (int argc, char **argv)
{
    ps_option_t opts[] = {
        {"bind", "PAYSTAT_COMPUTE_BIND", "tcp://127.0.0.1:7402",
         "where ingest's forwarded batches arrive (ROUTER, bind)", false, NULL},
        {"publish", "PAYSTAT_PUBLISH_CONNECT", "tcp://127.0.0.1:7403",
         "publish's endpoint for indicator updates (DEALER, connect)", false, NULL},
        {"flush-ms", "PAYSTAT_FLUSH_MS", "100",
         "conflation interval in ms: at most one message per topic per interval", false, NULL},
        {"ratios", "PAYSTAT_RATIOS", NULL, "file of derived ratios (format: data/ratios.conf)",
         false, NULL},
        {"log-level", "PAYSTAT_LOG_LEVEL", "info", "debug, info, warn or error", false, NULL},
        PS_OPTION_END};
    int first_arg;
    int rc = ps_config_parse (opts, argc, argv, "paystat-compute", "[options]",
                              "Aggregates accepted reports into cells at every rollup level and "
                              "publishes their indicators.",
                              &first_arg);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (first_arg < argc) {
        fprintf (stderr, "paystat-compute: unexpected argument '%s' (see --help)\n",
                 argv[first_arg]);
        return 2;
    }
    ps_log_level_t level;
    const char *level_text = ps_config_get (opts, "log-level")->value;
    if (ps_log_level_parse (level_text, &level) != 0) {
        fprintf (stderr, "invalid --log-level '%s': must be debug, info, warn or error\n",
                 level_text);
        return 2;
    }
    long flush_ms;
    if (ps_config_long (opts, "flush-ms", 1, 60000, &flush_ms) != 0)
        return 2;
    ps_log_init ("compute", level);

    ps_ratios_t *ratios = NULL;
    const char *ratios_path = ps_config_get (opts, "ratios")->value;
    if (ratios_path && *ratios_path) {
        char err[256];
        ratios = ps_ratios_load (ratios_path, err, sizeof err);
        if (!ratios) {
            fprintf (stderr, "paystat-compute: %s\n", err);
            return 2;
        }
    }
    size_t nratios = ratios ? ps_ratios_count (ratios) : 0;
    uint64_t epoch = (uint64_t) ps_wall_us ();
    ps_engine_t *engine = ps_engine_new (&ratios, epoch);
    ps_ratios_destroy (&ratios);
    if (!engine) {
        ps_error ("out of memory", NULL);
        return 1;
    }

    ps_signal_install ();
    void *ctx = zmq_ctx_new ();
    ps_sock_opts_t in_opts = {0, PS_MAX_FRAME, 0};
    ps_sock_opts_t out_opts = {0, PS_MAX_FRAME, 0};
    s_server_t server = {0};
    server.engine = engine;
    server.batch = ps_batch_new ();
    msgpack_sbuffer_init (&server.progress);
    server.in = ps_sock_new (ctx, ZMQ_ROUTER, ps_config_get (opts, "bind")->value, true, &in_opts);
    server.out = server.in ? ps_sock_new (ctx, ZMQ_DEALER, ps_config_get (opts, "publish")->value,
                                          false, &out_opts)
                           : NULL;
    rc = 1;
    if (server.in && server.out && server.batch) {
        ps_info ("started", "bind=%s publish=%s flush_ms=%ld ratios=%zu epoch=%" PRIu64,
                 ps_config_get (opts, "bind")->value, ps_config_get (opts, "publish")->value,
                 flush_ms, nratios, epoch);
        rc = s_run (&server, flush_ms) == 0 ? 0 : 1;
        /* Stop reading, publish everything still pending, and give publish
           a bounded time to confirm it rather than hang on a dead peer. */
        ps_sock_destroy (&server.in);
        int timeout = S_SHUTDOWN_MS;
        zmq_setsockopt (server.out, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
        if (ps_engine_pending (engine) && ps_engine_flush (engine, s_emit, server.out) < 0)
            rc = 1;
        s_wait_confirmed (&server);
    }
    ps_engine_stats_t stats;
    ps_engine_stats (engine, &stats);
    ps_info ("stopped",
             "batches=%" PRIu64 " reports=%" PRIu64 " rejected=%" PRIu64 " cells=%" PRIu32
             " items=%" PRIu64 " cell_bytes=%zu",
             stats.batches, stats.reports, stats.rejected, stats.cells, stats.items, stats.memory);
    ps_sock_destroy (&server.in);
    ps_sock_destroy (&server.out);
    zmq_ctx_term (ctx);
    ps_batch_destroy (&server.batch);
    msgpack_sbuffer_destroy (&server.progress);
    ps_engine_destroy (&engine);
    return rc;
}
