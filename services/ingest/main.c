/*  paystat-ingest: the front door. Producers send report batches to a
    ROUTER; each is validated (ps_ingest), forwarded to compute and
    answered with an ack. */

#include "ps_config.h"
#include "ps_ingest.h"
#include "ps_log.h"
#include "ps_proto.h"
#include "ps_sock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_ENVELOPE 8 /* routing frames accepted before the body */

static ps_option_t s_options[] = {
    {"bind", "PAYSTAT_INGEST_BIND", "tcp://127.0.0.1:7401", "producers' endpoint (ROUTER, bound)",
     false, NULL},
    {"compute", "PAYSTAT_COMPUTE_CONNECT", "tcp://127.0.0.1:7402",
     "compute's endpoint (DEALER, connected)", false, NULL},
    {"id", "PAYSTAT_INGEST_ID", "ingest-1", "instance id stamped on forwarded batches", false,
     NULL},
    {"queue", "PAYSTAT_INGEST_QUEUE", "1000",
     "batches queued towards compute before producers are told to retry", false, NULL},
    {"max-producers", "PAYSTAT_MAX_PRODUCERS", "100000",
     "producers whose last batch is remembered for deduplication", false, NULL},
    {"max-series", "PAYSTAT_MAX_SERIES", "200000", "series whose currency ingest remembers", false,
     NULL},
    {"drain-ms", "PAYSTAT_DRAIN_MS", "5000",
     "at shutdown, how long to wait for compute to confirm forwarded batches", false, NULL},
    {"log-level", "PAYSTAT_LOG_LEVEL", "info", "debug, info, warn or error", false, NULL},
    PS_OPTION_END};

typedef struct {
    void *front;
    void *compute;
    ps_ingest_t *ingest;
    uint64_t confirmed; /* last jseq compute has confirmed */
    zmq_msg_t parts[MAX_ENVELOPE + 1];
} s_server_t;

/*  Reads one progress frame from compute. Returns 0, or -1 when nothing
    was waiting or the call was interrupted. */
static int s_read_progress (s_server_t *server, int flags)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    int rc = zmq_msg_recv (&msg, server->compute, flags);
    if (rc >= 0) {
        uint64_t pos;
        ps_error_t err;
        if (zmq_msg_more (&msg))
            ps_warn ("ignored a multipart frame from compute", NULL);
        else if (ps_progress_decode (zmq_msg_data (&msg), zmq_msg_size (&msg), &pos, &err) != 0)
            ps_warn ("ignored a malformed progress frame", "reason=\"%s\"", err.reason);
        else if (pos > server->confirmed)
            server->confirmed = pos;
    }
    zmq_msg_close (&msg);
    return rc >= 0 ? 0 : -1;
}

/*  Waits up to DRAIN_MS for compute to confirm every forwarded batch, since
    libzmq 4.3.4 may drop what is still queued when a socket closes. */
static void s_drain (s_server_t *server, long drain_ms)
{
    uint64_t forwarded = ps_ingest_stats (server->ingest)->forwarded;
    int64_t deadline = ps_clock_ms () + drain_ms;
    while (server->confirmed < forwarded) {
        int64_t left = deadline - ps_clock_ms ();
        if (left <= 0)
            break;
        zmq_pollitem_t items[] = {{server->compute, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 1, (long) left) > 0)
            s_read_progress (server, ZMQ_DONTWAIT);
    }
    if (server->confirmed < forwarded)
        ps_warn ("compute did not confirm every forwarded batch before shutdown",
                 "forwarded=%llu confirmed=%llu", (unsigned long long) forwarded,
                 (unsigned long long) server->confirmed);
}

/*  Receives one whole multipart message into server->parts. Returns the
    number of frames, 0 when the message had too many frames (discarded:
    nothing sensible can be answered), or -1 on interruption. */
static int s_recv_message (s_server_t *server)
{
    int n = 0;
    bool overflow = false;
    for (;;) {
        zmq_msg_t *part = &server->parts[n];
        if (zmq_msg_recv (part, server->front, 0) < 0)
            return -1;
        if (!zmq_msg_more (part))
            return overflow ? 0 : n + 1;
        /* Past the limit, keep reading into the last slot to drain the message. */
        if (n < MAX_ENVELOPE)
            n++;
        else
            overflow = true;
    }
}

/*  Sends the envelope (all frames but the last) back with ACK as body. */
static void s_reply (s_server_t *server, int nparts, const msgpack_sbuffer *ack)
{
    for (int i = 0; i < nparts - 1; i++)
        if (ps_sock_send (server->front, zmq_msg_data (&server->parts[i]),
                          zmq_msg_size (&server->parts[i]), ZMQ_SNDMORE) != 0)
            return;
    /* A ROUTER drops replies to peers that have gone: nothing to do then. */
    ps_sock_send (server->front, ack->data, ack->size, 0);
}

static void s_handle (s_server_t *server)
{
    int n = s_recv_message (server);
    if (n <= 0) {
        if (n == 0)
            ps_warn ("discarded a message with too many frames", NULL);
        return;
    }
    /* A REQ peer puts an empty delimiter before the body; a DEALER need not. */
    zmq_msg_t *body = &server->parts[n - 1];
    ps_ingest_action_t action =
        ps_ingest_receive (server->ingest, zmq_msg_data (body), zmq_msg_size (body));
    if (action == PS_INGEST_FORWARD) {
        const msgpack_sbuffer *frame = ps_ingest_forward_frame (server->ingest);
        bool sent = zmq_send (server->compute, frame->data, frame->size, ZMQ_DONTWAIT) >= 0;
        if (!sent && errno != EAGAIN)
            ps_error ("cannot forward to compute", "error=\"%s\"", zmq_strerror (errno));
        ps_ingest_forwarded (server->ingest, sent);
    }
    s_reply (server, n, ps_ingest_ack (server->ingest));
}

int main (int argc, char **argv)
{
    int first;
    int rc = ps_config_parse (s_options, argc, argv, "paystat-ingest", "[options]",
                              "Receives report batches from producers, validates every report, "
                              "acknowledges each batch\nand forwards the accepted reports to "
                              "paystat-compute. SIGINT/SIGTERM: stop taking batches,\nwait "
                              "(--drain-ms) until compute has confirmed every forwarded one, "
                              "exit 0.",
                              &first);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (first < argc) {
        fprintf (stderr, "paystat-ingest: unexpected argument '%s' (see --help)\n", argv[first]);
        return 2;
    }
    long queue, max_producers, max_series, drain_ms;
    ps_log_level_t level;
    if (ps_config_long (s_options, "queue", 1, 10000000, &queue) != 0 ||
        ps_config_long (s_options, "max-producers", 1, 100000000, &max_producers) != 0 ||
        ps_config_long (s_options, "max-series", 1, 100000000, &max_series) != 0 ||
        ps_config_long (s_options, "drain-ms", 0, 3600000, &drain_ms) != 0)
        return 2;
    if (ps_log_level_parse (ps_config_get (s_options, "log-level")->value, &level) != 0) {
        fprintf (stderr, "invalid --log-level: must be debug, info, warn or error\n");
        return 2;
    }
    const char *id = ps_config_get (s_options, "id")->value;
    ps_log_init ("ingest", level);
    ps_signal_install ();

    s_server_t server = {0};
    for (int i = 0; i <= MAX_ENVELOPE; i++)
        zmq_msg_init (&server.parts[i]);
    ps_ingest_config_t config = {id, (size_t) max_producers, (size_t) max_series};
    void *ctx = zmq_ctx_new ();
    ps_sock_opts_t front_opts = {0, PS_MAX_FRAME, 0};
    ps_sock_opts_t compute_opts = {(int) queue, PS_MAX_FRAME, 0};
    server.ingest = ps_ingest_new (&config);
    server.front =
        ps_sock_new (ctx, ZMQ_ROUTER, ps_config_get (s_options, "bind")->value, true, &front_opts);
    server.compute = ps_sock_new (ctx, ZMQ_DEALER, ps_config_get (s_options, "compute")->value,
                                  false, &compute_opts);
    int exit_code = 1;
    if (!server.ingest || !server.front || !server.compute)
        goto done;
    ps_info ("ready", "id=%s", id);
    while (!ps_signal_stop ()) {
        zmq_pollitem_t items[] = {{server.front, 0, ZMQ_POLLIN, 0},
                                  {server.compute, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 2, 1000) <= 0)
            continue;
        if (items[1].revents & ZMQ_POLLIN)
            s_read_progress (&server, ZMQ_DONTWAIT);
        if (items[0].revents & ZMQ_POLLIN)
            s_handle (&server);
    }
    /* Producers get no more acks from here on; what was acked must reach compute. */
    ps_sock_destroy (&server.front);
    s_drain (&server, drain_ms);
    exit_code = 0;
    const ps_ingest_stats_t *st = ps_ingest_stats (server.ingest);
    ps_info ("stopped",
             "batches=%llu forwarded=%llu accepted=%llu rejected=%llu "
             "duplicates=%llu retries=%llu",
             (unsigned long long) st->batches, (unsigned long long) st->forwarded,
             (unsigned long long) st->reports_accepted, (unsigned long long) st->reports_rejected,
             (unsigned long long) st->duplicates, (unsigned long long) st->retries);
done:
    ps_sock_destroy (&server.front);
    ps_sock_destroy (&server.compute);
    for (int i = 0; i <= MAX_ENVELOPE; i++)
        zmq_msg_close (&server.parts[i]);
    ps_ingest_destroy (&server.ingest);
    zmq_ctx_term (ctx);
    return exit_code;
}
