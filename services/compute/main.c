/*  paystat-compute: pulls the batches ingest journaled (ROUTER: hellos
    and journal entries in, positions out; ps_upstream keeps each
    entry applied exactly once), aggregates their reports into cells at
    every rollup level, and sends publish the complete indicator messages
    of every topic that changed, conflated to at most one per topic per
    flush interval. Its state is checkpointed (ps_checkpoint) with the
    journal positions it reflects; after a restart it resumes from the
    checkpoint and asks each ingest for what followed.

    With CURVE on (--curve-secret), only the ingests whose keys are in
    --ingest-keys get through the handshake, and each may speak only for
    the ingest id its key is named after: a compromised ingest cannot move
    another's position or inject entries in its name. SIGHUP re-reads the
    keys. */

#include "ps_checkpoint.h"
#include "ps_config.h"
#include "ps_datadir.h"
#include "ps_engine.h"
#include "ps_log.h"
#include "ps_ops.h"
#include "ps_outbox.h"
#include "ps_proto.h"
#include "ps_ratios.h"
#include "ps_security.h"
#include "ps_sock.h"
#include "ps_stall.h"
#include "ps_upstream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

/* Frames read per poll round at most, so flushes stay on schedule. */
#define S_DRAIN_MAX 256
/* How long shutdown may wait for publish to take the last updates. */
#define S_SHUTDOWN_MS 5000
/* How long a flush waits for publish to confirm the previous one before
   it goes anyway (a confirmation can be lost with a reconnection). */
#define S_CONFIRM_WAIT_MS 1000
/* Update frames (each up to PS_ENGINE_FRAME_BYTES) queued in libzmq towards
   publish. A flush waits for publish to confirm the previous one, so more
   would only hold memory in front of a publish that stopped reading; past
   it frames wait in the outbox, and no new flush starts. */
#define S_PUBLISH_HWM 16
/* Messages refused for their key are logged at most this often. */
#define S_REFUSED_LOG_MS 1000

/* Sends one update frame to publish without waiting (ps_outbox_send_fn):
   a publish that stops reading must not hold compute in a send. */
static int s_send_update (void *sock, const void *frame, size_t size)
{
    if (zmq_send (sock, frame, size, ZMQ_DONTWAIT) >= 0)
        return 0;
    if (errno == EAGAIN || errno == EINTR)
        return 1;
    ps_error ("cannot send update", "bytes=%zu error=\"%s\"", size, zmq_strerror (errno));
    return -1;
}

/* Frames accepted in one message from ingest: its routing identity and
   the batch (a DEALER sends no empty delimiter, a REQ-style one would). */
#define S_MAX_PARTS 3

typedef struct {
    void *in;           /* ROUTER: journal entries and hellos in, positions out */
    void *out;          /* DEALER: updates to publish, progress back */
    uint64_t confirmed; /* last useq publish has confirmed */
    int64_t flushed_ms; /* when the last flush was sent */
    ps_engine_t *engine;
    ps_upstream_t *upstream;
    ps_datadir_t *datadir;
    long checkpoint_ms;
    int64_t next_checkpoint; /* ms */
    ps_batch_t *batch;
    msgpack_sbuffer reply;
    ps_ops_t *ops;
    int64_t last_checkpoint_wall_us; /* 0 before the first */
    int64_t last_checkpoint_us;      /* how long it took */
    size_t last_checkpoint_bytes;
    uint64_t checkpoints;
    uint64_t flushes;
    zmq_msg_t parts[S_MAX_PARTS];
    ps_security_t *security;
    uint64_t refused;          /* messages whose key may not speak for their ingest id */
    uint64_t refused_unlogged; /* of those, not logged yet */
    int64_t refused_logged_ms; /* when one was last logged */
    ps_outbox_t *outbox;       /* updates publish could not take yet */
    size_t max_entry;          /* --max-entry-bytes */
    ps_stall_t *stall;         /* entries refused: the ingests stuck on them */
} s_server_t;

/* Hands one update frame to publish, or to the outbox when publish is not
   taking any (ps_engine_emit_fn). */
static int s_emit (void *arg, const void *frame, size_t size)
{
    s_server_t *server = arg;
    if (ps_outbox_send (server->outbox, s_send_update, server->out, frame, size) == 0)
        return 0;
    ps_error ("update lost: publish gets every topic again when it restarts", "bytes=%zu", size);
    return -1;
}

/* Sends INGEST's position (asking for a resend when RESEND) to ROUTE. */
static void s_position (s_server_t *server, const char *ingest, bool resend, const void *route,
                        size_t route_len)
{
    ps_position_t pos;
    msgpack_sbuffer_clear (&server->reply);
    if (ps_upstream_position (server->upstream, ingest, resend, &pos) != 0)
        return;
    ps_refusal_t refusal;
    const char *why;
    if ((refusal.jseq = ps_stall_jseq (server->stall, ingest, pos.journal, &why)))
        snprintf (refusal.reason, sizeof refusal.reason, "%s", why);
    if (ps_position_encode_refusal (&pos, &refusal, &server->reply) != 0)
        return;
    /* A ROUTER drops a reply to a peer that has gone: ingest says hello
       again when it hears nothing. */
    if (ps_sock_send (server->in, route, route_len, ZMQ_SNDMORE) == 0)
        ps_sock_send (server->in, server->reply.data, server->reply.size, 0);
}

/* True when BODY's sender may speak for ingest id INGEST: with CURVE on,
   its key must still be allowed and be named INGEST. Refusals are counted
   and logged at most once per S_REFUSED_LOG_MS, since a peer could send
   them as fast as it likes. */
static bool s_admit (s_server_t *server, zmq_msg_t *body, const char *ingest)
{
    char name[PS_CURVE_NAME_MAX + 1];
    bool known = ps_security_peer (server->security, PS_DOMAIN_INGEST, body, name);
    if (known && (!ps_security_on (server->security) || strcmp (name, ingest) == 0))
        return true;
    server->refused++;
    server->refused_unlogged++;
    int64_t now = ps_clock_ms ();
    if (server->refused_logged_ms == 0 || now - server->refused_logged_ms >= S_REFUSED_LOG_MS) {
        ps_log_every (PS_LOG_WARN, 10, known ? "message ignored: an ingest's key may only speak for the ingest id "
                         "it is named after"
                       : "message ignored: its key is no longer allowed",
                 "key=%s ingest=%s refused_since_last_log=%" PRIu64, known ? name : "?", ingest,
                 server->refused_unlogged);
        server->refused_logged_ms = now;
        server->refused_unlogged = 0;
    }
    return false;
}

/* A hello: ingest asks where to resume; every entry after the last one
   applied is asked for again. */
static void s_hello (s_server_t *server, const zmq_msg_t *route, zmq_msg_t *body)
{
    ps_hello_t hello;
    ps_error_t err;
    if (ps_hello_decode (zmq_msg_data (body), zmq_msg_size (body), &hello, &err) != 0) {
        ps_log_every (PS_LOG_WARN, 10, "bad frame from ingest dropped", "code=%s field=%s reason=\"%s\"",
                 ps_err_name (err.code), err.field ? err.field : "", err.reason);
        return;
    }
    if (!s_admit (server, body, hello.ingest))
        return;
    const void *id = zmq_msg_data ((zmq_msg_t *) route);
    size_t id_len = zmq_msg_size ((zmq_msg_t *) route);
    int rc = ps_upstream_hello (server->upstream, &hello, id, id_len);
    if (rc == 1) {
        /* Logged and counted by ps_upstream; the peer is told why. */
        ps_error_t refusal = {PS_E_PERMISSION, "journal", ""};
        const char *text = ps_upstream_refusal (server->upstream)->text;
        size_t len = strnlen (text, sizeof refusal.reason - 1); /* ASCII: any cut is whole */
        memcpy (refusal.reason, text, len);
        refusal.reason[len] = '\0';
        msgpack_sbuffer_clear (&server->reply);
        if (ps_refusal_encode (&refusal, &server->reply) == 0 &&
            ps_sock_send (server->in, id, id_len, ZMQ_SNDMORE) == 0)
            ps_sock_send (server->in, server->reply.data, server->reply.size, 0);
    }
    if (rc != 0)
        return; /* logged by ps_upstream */
    ps_debug ("hello", "ingest=%s first=%" PRIu64 " head=%" PRIu64, hello.ingest, hello.first,
              hello.head);
    s_position (server, hello.ingest, true, id, id_len);
}

/* Applies journal entry BATCH when it is the next one of its ingest and
   tells the ingest (by its routing identity ROUTE) how far it is; an
   entry past a gap gets a resend request instead, once per gap. */
static void s_entry (s_server_t *server, const ps_batch_t *batch, const zmq_msg_t *route)
{
    const void *id = zmq_msg_data ((zmq_msg_t *) route);
    size_t id_len = zmq_msg_size ((zmq_msg_t *) route);
    switch (ps_upstream_check (server->upstream, batch->ingest, batch->journal, batch->jseq, id,
                               id_len)) {
    case PS_UPSTREAM_APPLY:
        ps_engine_apply_batch (server->engine, batch);
        ps_upstream_applied (server->upstream, batch->ingest, batch->jseq);
        ps_stall_applied (server->stall, batch->ingest, batch->jseq);
        s_position (server, batch->ingest, false, id, id_len);
        break;
    case PS_UPSTREAM_GAP:
        if (ps_upstream_want_resend (server->upstream, batch->ingest)) {
            ps_debug ("entries missing before this one; asking for a resend",
                      "ingest=%s jseq=%" PRIu64, batch->ingest, batch->jseq);
            s_position (server, batch->ingest, true, id, id_len);
        }
        break;
    case PS_UPSTREAM_OLD:
    case PS_UPSTREAM_DROP:
    case PS_UPSTREAM_REFUSED: /* logged and counted by ps_upstream */
        break;
    }
}

/* Entry BATCH (only its header was read) cannot be applied, for ERR.
   When it is the next entry of a known ingest's journal, that ingest is
   stuck: recorded for /readyz and the positions, logged, never skipped
   (ps_stall). Moves no position: any peer can send such a frame. */
static void s_refuse (s_server_t *server, const ps_batch_t *batch, const ps_error_t *err,
                      const zmq_msg_t *route)
{
    const void *id = zmq_msg_data ((zmq_msg_t *) route);
    size_t id_len = zmq_msg_size ((zmq_msg_t *) route);
    ps_position_t pos;
    if (ps_upstream_position (server->upstream, batch->ingest, false, &pos) != 0 ||
        batch->journal != pos.journal || batch->jseq != pos.applied + 1)
        return;
    if (ps_stall_refused (server->stall, batch->ingest, pos.journal, batch->jseq, err->reason))
        ps_error ("journal entry refused; its ingest is stuck until it is fixed "
                  "(docs/durability.md)",
                  "ingest=%s jseq=%" PRIu64 " code=%s reason=\"%s\"", batch->ingest, batch->jseq,
                  ps_err_name (err->code), err->reason);
    else
        ps_log_every (PS_LOG_ERROR, 10, "journal entry still refused; its ingest is stuck",
                      "ingest=%s jseq=%" PRIu64 " reason=\"%s\"", batch->ingest, batch->jseq,
                      err->reason);
    s_position (server, batch->ingest, false, id, id_len);
}

/* Handles one message from an ingest: a journal entry or a hello. */
static void s_handle (s_server_t *server, int nparts)
{
    zmq_msg_t *body = &server->parts[nparts - 1];
    ps_error_t err;
    if (nparts < 2) {
        ps_log_every (PS_LOG_WARN, 10, "message without routing identity dropped", "frames=%d", nparts);
        return;
    }
    ps_batch_t *b = server->batch;
    /* Only a frame decoded whole says which ingest, journal and jseq it is:
       any peer can reach this socket, so one that does not decode moves no
       position, even when the fields read before the error name a real
       ingest. Ingest journals only what it encoded itself, so a real entry
       decodes; one that did not would be refused again on every resend,
       holding its ingest back loudly rather than being skipped. */
    size_t size = zmq_msg_size (body);
    int rc = ps_batch_decode (b, zmq_msg_data (body), size, true, &err);
    if (rc == 0 && size > server->max_entry)
        rc = ps_limit_error (&err, "entry", size, server->max_entry);
    if (rc == 0) {
        if (s_admit (server, body, b->ingest))
            s_entry (server, b, &server->parts[0]);
    } else if (err.code == PS_E_TYPE && err.field && strcmp (err.field, "type") == 0)
        s_hello (server, &server->parts[0], body);
    else if (b->jseq && s_admit (server, body, b->ingest))
        s_refuse (server, b, &err, &server->parts[0]);
    else
        ps_warn ("bad frame from ingest dropped", "bytes=%zu code=%s field=%s reason=\"%s\"",
                 zmq_msg_size (body), ps_err_name (err.code), err.field ? err.field : "",
                 err.reason);
}

/* Writes a checkpoint when something was applied since the last one, and
   tells every ingest heard from how far it reaches, so they can reclaim
   their journal. Returns 0, or -1 when it could not be written. */
static int s_checkpoint (s_server_t *server)
{
    if (!ps_upstream_changed (server->upstream))
        return 0;
    int64_t start = ps_clock_ms ();
    ps_checkpoint_stats_t st;
    char err[512];
    if (ps_checkpoint_save (server->datadir, server->engine, server->upstream, &st, err,
                            sizeof err) != 0) {
        ps_error ("cannot write a checkpoint", "reason=\"%s\"", err);
        return -1;
    }
    ps_upstream_checkpointed (server->upstream);
    server->last_checkpoint_wall_us = ps_wall_us ();
    server->last_checkpoint_us = (ps_clock_ms () - start) * 1000;
    server->last_checkpoint_bytes = st.bytes;
    server->checkpoints++;
    ps_debug ("checkpoint written", "cells=%" PRIu32 " series=%" PRIu32 " bytes=%zu ms=%" PRId64,
              st.cells, st.series, st.bytes, ps_clock_ms () - start);
    if (!server->in)
        return 0;
    size_t cursor = 0;
    const char *ingest;
    uint64_t journal, applied;
    const void *route;
    size_t route_len;
    while (ps_upstream_next (server->upstream, &cursor, &ingest, &journal, &applied, &route,
                             &route_len))
        if (route_len)
            s_position (server, ingest, false, route, route_len);
    return 0;
}

/* Reads publish's progress frames waiting on the output socket, and its
   requests to resend every topic (it started with an empty cache). */
static void s_read_progress (s_server_t *server)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, server->out, ZMQ_DONTWAIT) >= 0) {
        uint64_t pos;
        ps_error_t err;
        if (zmq_msg_more (&msg))
            ps_log_every (PS_LOG_WARN, 10, "ignored a multipart frame from publish", NULL);
        else if (ps_resend_decode (zmq_msg_data (&msg), zmq_msg_size (&msg), &pos, &err) == 0) {
            ps_engine_dirty_all (server->engine);
            /* A new publish: what the old one did not confirm is resent
               whole at the next flush, which need not wait for it. */
            server->confirmed = ps_engine_useq (server->engine);
            ps_info ("publish asked for every topic again", "publish_epoch=%" PRIu64, pos);
        } else if (ps_progress_decode (zmq_msg_data (&msg), zmq_msg_size (&msg), &pos, &err) != 0)
            ps_log_every (PS_LOG_WARN, 10, "ignored a malformed progress frame", "reason=\"%s\"", err.reason);
        else if (pos > server->confirmed)
            server->confirmed = pos;
    }
    zmq_msg_close (&msg);
}

/* At shutdown: waits up to S_SHUTDOWN_MS for publish to take what the
   outbox holds and confirm every update, since libzmq 4.3.4 may drop what
   is queued at close. What it did not take is in the checkpoint, and a
   restarted compute publishes every topic again. */
static void s_wait_confirmed (s_server_t *server)
{
    uint64_t sent = ps_engine_useq (server->engine);
    int64_t deadline = ps_clock_ms () + S_SHUTDOWN_MS;
    while ((server->confirmed < sent || ps_outbox_count (server->outbox)) &&
           ps_clock_ms () < deadline) {
        bool queued = ps_outbox_flush (server->outbox, s_send_update, server->out) > 0;
        zmq_pollitem_t item = {server->out, 0, (short) (ZMQ_POLLIN | (queued ? ZMQ_POLLOUT : 0)),
                               0};
        if (zmq_poll (&item, 1, (long) (deadline - ps_clock_ms ())) > 0 &&
            (item.revents & ZMQ_POLLIN))
            s_read_progress (server);
    }
    if (server->confirmed < sent || ps_outbox_count (server->outbox))
        ps_warn ("publish did not take and confirm every update before shutdown",
                 "sent=%" PRIu64 " confirmed=%" PRIu64 " not_taken=%zu", sent, server->confirmed,
                 ps_outbox_count (server->outbox));
}

/* Reads the messages waiting: at most S_DRAIN_MAX, and once changes are
   pending, not past DEADLINE_MS, when they are due. Returns -1 on a
   socket error. */
static int s_drain (s_server_t *server, int64_t deadline_ms)
{
    for (int i = 0; i < S_DRAIN_MAX; i++) {
        for (int p = 0; p < S_MAX_PARTS; p++)
            zmq_msg_init (&server->parts[p]);
        int n = ps_sock_recv_parts (server->in, server->parts, S_MAX_PARTS);
        int err = errno;
        if (n > 0)
            s_handle (server, n);
        else if (n == 0)
            ps_log_every (PS_LOG_WARN, 10, "message with too many frames dropped", NULL);
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
        char err[512];
        if (ps_signal_reload () && ps_security_reload (server->security, err, sizeof err) != 0)
            ps_error ("cannot reload the keys; the previous ones stay in force", "reason=\"%s\"",
                      err);
        int64_t now = ps_clock_ms ();
        if (now >= server->next_checkpoint) {
            s_checkpoint (server);
            /* A large store stretches the interval to ten times what the
               checkpoint took, so writing them never takes more than a
               tenth of compute's time. */
            int64_t took = ps_clock_ms () - now;
            server->next_checkpoint =
                now + (10 * took > server->checkpoint_ms ? 10 * took : server->checkpoint_ms);
        }
        bool pending = ps_engine_pending (server->engine);
        /* A flush waits until publish has confirmed the previous one: when
           publish is the slower, changes conflate here instead of queueing
           in front of it, so each flush carries more reports and the feed
           falls behind by one flush at most. */
        int64_t due = next_flush;
        if (server->confirmed < ps_engine_useq (server->engine) &&
            due < server->flushed_ms + S_CONFIRM_WAIT_MS)
            due = server->flushed_ms + S_CONFIRM_WAIT_MS;
        /* Nothing new while publish has not taken the last flush: that
           bounds the outbox, and the changes conflate in the engine. */
        bool queued = ps_outbox_count (server->outbox) > 0;
        if (pending && now >= due && !queued) {
            ps_engine_flush (server->engine, s_emit, server);
            server->flushed_ms = now;
            server->flushes++;
            /* Under load the interval stretches to what the flush took, so
               reading reports always gets at least half of the time and
               more changes conflate into the next flush. */
            int64_t took = ps_clock_ms () - now;
            next_flush = now + (took > flush_ms ? 2 * took : flush_ms);
            continue;
        }
        int64_t until = server->next_checkpoint;
        if (pending && due < until)
            until = due;
        long timeout = until > now ? (long) (until - now) : 0;
        short out_events = (short) (ZMQ_POLLIN | (queued ? ZMQ_POLLOUT : 0));
        zmq_pollitem_t items[] = {{server->in, 0, ZMQ_POLLIN, 0},
                                  {server->out, 0, out_events, 0},
                                  {NULL, ps_ops_fd (server->ops), ZMQ_POLLIN, 0}};
        int n = zmq_poll (items, server->ops ? 3 : 2, ps_ops_timeout_ms (server->ops, timeout));
        int poll_errno = errno;
        ps_ops_run (server->ops);
        errno = poll_errno;
        if (n < 0 && errno != EINTR) {
            ps_error ("poll failed", "error=\"%s\"", zmq_strerror (errno));
            return -1;
        }
        if (n > 0 && (items[1].revents & ZMQ_POLLIN))
            s_read_progress (server);
        if (n > 0 && (items[1].revents & ZMQ_POLLOUT))
            ps_outbox_flush (server->outbox, s_send_update, server->out);
        if (n > 0 && (items[0].revents & ZMQ_POLLIN) && s_drain (server, due) != 0) {
            ps_error ("receive failed", "error=\"%s\"", zmq_strerror (errno));
            return -1;
        }
    }
    return 0;
}

static void s_collect (void *arg, ps_metrics_t *m)
{
    s_server_t *server = arg;
    ps_engine_stats_t st;
    ps_engine_stats (server->engine, &st);
    ps_metrics_counter (m, "paystat_compute_batches_applied_total",
                        "Journal entries (batches) applied.", NULL, st.batches);
    ps_metrics_counter (m, "paystat_compute_reports_applied_total", "Reports applied.", NULL,
                        st.reports);
    ps_metrics_counter (m, "paystat_compute_reports_rejected_total",
                        "Reports refused by compute (overflow, currency of a rolled-up series).",
                        NULL, st.rejected);
    ps_metrics_counter (m, "paystat_compute_items_published_total",
                        "Indicator messages handed to publish.", NULL, st.items);
    ps_metrics_gauge (m, "paystat_compute_cells", "Cells held, every rollup level included.", NULL,
                      (double) st.cells);
    ps_metrics_gauge (m, "paystat_compute_cell_store_bytes", "Heap held by the cell store.", NULL,
                      (double) st.memory);
    ps_metrics_gauge (m, "paystat_compute_pending", "1 while changes wait for the next flush.",
                      NULL, ps_engine_pending (server->engine) ? 1 : 0);
    ps_metrics_counter (m, "paystat_compute_checkpoints_total", "Checkpoints written.", NULL,
                        server->checkpoints);
    ps_metrics_counter (m, "paystat_compute_flushes_total",
                        "Flushes: changed topics sent to publish.", NULL, server->flushes);
    ps_metrics_gauge (m, "paystat_compute_checkpoint_age_seconds",
                      "Seconds since the last checkpoint was written (-1: none yet).", NULL,
                      server->last_checkpoint_wall_us
                          ? (double) (ps_wall_us () - server->last_checkpoint_wall_us) / 1e6
                          : -1.0);
    ps_metrics_gauge (m, "paystat_compute_checkpoint_last_seconds",
                      "Duration of the last checkpoint.", NULL, server->last_checkpoint_us / 1e6);
    ps_metrics_gauge (m, "paystat_compute_checkpoint_bytes", "Size of the last checkpoint.", NULL,
                      (double) server->last_checkpoint_bytes);
    ps_metrics_gauge (m, "paystat_compute_publish_unconfirmed",
                      "Update frames sent to publish and not yet confirmed.", NULL,
                      (double) (ps_engine_useq (server->engine) - server->confirmed));
    ps_metrics_gauge (m, "paystat_compute_publish_queued_bytes",
                      "Bytes of update frames waiting in compute for publish to take them.", NULL,
                      (double) ps_outbox_bytes (server->outbox));
    for (int r = 0; r < PS_UPSTREAM_REFUSED__N; r++) {
        char label[32];
        snprintf (label, sizeof label, "reason=\"%s\"", ps_upstream_reason_name (r));
        ps_metrics_counter (m, "paystat_compute_journal_frames_refused_total",
                            "Hellos and journal entries refused because they name another journal "
                            "instance than the one compute follows for their ingest id.",
                            label, ps_upstream_refused (server->upstream, r));
    }
    ps_metrics_counter (m, "paystat_compute_entries_refused_total",
                        "Journal entries refused (too large, undecodable), each resend counted.",
                        NULL, ps_stall_refusals (server->stall));
    ps_metrics_gauge (m, "paystat_compute_ingests_stuck",
                      "Ingests whose next journal entry compute refuses.", NULL,
                      (double) ps_stall_count (server->stall));
    if (!ps_security_on (server->security))
        return;
    ps_metrics_counter (m, "paystat_compute_curve_handshakes_total",
                        "CURVE handshakes on the ingests' socket, by result.",
                        "result=\"admitted\"", ps_security_admitted (server->security));
    ps_metrics_counter (m, "paystat_compute_curve_handshakes_total",
                        "CURVE handshakes on the ingests' socket, by result.", "result=\"refused\"",
                        ps_security_refused (server->security));
    ps_metrics_counter (m, "paystat_compute_ingest_frames_refused_total",
                        "Messages ignored because their key may not speak for their ingest id "
                        "(or is no longer allowed).",
                        NULL, server->refused);
}

static const char *s_ready (void *arg)
{
    s_server_t *server = arg;
    const char *stuck = ps_stall_ready (server->stall);
    return stuck ? stuck : ps_upstream_ready (server->upstream);
}

int main (int argc, char **argv)
{
    ps_option_t opts[] = {
        {"bind", "PAYSTAT_COMPUTE_BIND", "tcp://127.0.0.1:7402",
         "where ingest's forwarded batches arrive (ROUTER, bind)", false, NULL},
        {"publish", "PAYSTAT_PUBLISH_CONNECT", "tcp://127.0.0.1:7403",
         "publish's endpoint for indicator updates (DEALER, connect)", false, NULL},
        {"flush-ms", "PAYSTAT_FLUSH_MS", "100",
         "conflation interval in ms: at most one message per topic per interval (a flush also "
         "waits, 1 s at most, until publish confirmed the previous one)",
         false, NULL},
        {"ratios", "PAYSTAT_RATIOS", NULL, "file of derived ratios (format: data/ratios.conf)",
         false, NULL},
        {"data-dir", "PAYSTAT_COMPUTE_DATA", "compute-data",
         "directory of the checkpoint (created if missing)", false, NULL},
        {"checkpoint-ms", "PAYSTAT_CHECKPOINT_MS", "1000",
         "interval in ms between checkpoints (when something changed; at least 10 times what "
         "the last one took); ingest keeps its journal until one covers it",
         false, NULL},
        {"curve-secret", "PAYSTAT_COMPUTE_CURVE_SECRET", NULL,
         "compute's CURVE key pair (NAME.key_secret): CURVE on --bind, needs --ingest-keys", false,
         NULL},
        {"ingest-keys", "PAYSTAT_INGEST_KEYS", NULL,
         "ingests allowed on --bind: directory of NAME.key or \"NAME KEY\" list; NAME must be "
         "the ingest's --id (SIGHUP re-reads)",
         false, NULL},
        {"publish-key", "PAYSTAT_PUBLISH_KEY", NULL,
         "publish's public key (NAME.key): CURVE on the link to --publish, needs --curve-secret",
         false, NULL},
        {"accept-journal", "PAYSTAT_ACCEPT_JOURNAL", NULL,
         "ID=JOURNAL[,...]: the journal instance that replaces, read from its start, the one "
         "compute follows for ingest ID (its journal was recreated on purpose; once read, "
         "leaving it set changes nothing)",
         false, NULL},
        {"http", "PAYSTAT_COMPUTE_HTTP", "127.0.0.1:9102",
         "address of /metrics, /healthz and /readyz (\"off\" for none)", false, NULL},
        {"max-entry-bytes", "PAYSTAT_MAX_ENTRY_BYTES", NULL,
         "refuse journal entries larger than this (default and most: the largest one ingest "
         "can write); for tests: an ingest stuck on a refused entry",
         false, NULL},
        {"log-level", "PAYSTAT_LOG_LEVEL", "info", "debug, info, warn or error", false, NULL},
        PS_OPTION_END};
    int first_arg;
    int rc =
        ps_config_parse (opts, argc, argv, "paystat-compute", "[options]",
                         "Aggregates accepted reports into cells at every rollup level and "
                         "publishes their indicators.\nSIGINT/SIGTERM: stop reading, "
                         "write a checkpoint, publish what is pending, exit 0.\n"
                         "SIGHUP: re-read --ingest-keys (connections are kept, but what an ingest "
                         "whose key was\nremoved sends is ignored).",
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
    long flush_ms, checkpoint_ms, max_entry = PS_MAX_ENTRY;
    if (ps_config_long (opts, "flush-ms", 1, 60000, &flush_ms) != 0 ||
        ps_config_long (opts, "checkpoint-ms", 10, 3600000, &checkpoint_ms) != 0 ||
        (ps_config_get (opts, "max-entry-bytes")->value &&
         ps_config_long (opts, "max-entry-bytes", 1, PS_MAX_ENTRY, &max_entry) != 0))
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

    /* Keys are read before any work, so that a bad one stops the start. */
    void *ctx = zmq_ctx_new ();
    /* Past PS_MAX_ENTRY, so that an entry over the limit is read and
       refused loudly rather than dropping the ingest's connection. */
    ps_sock_opts_t in_opts = {.hwm = 0, .maxmsgsize = PS_MAX_INPUT, .linger_ms = 0};
    ps_sock_opts_t out_opts = {
        .hwm = S_PUBLISH_HWM, .rcvhwm = 1000, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    char err[512];
    char why[400];
    ps_security_t *security =
        ps_security_new (ctx, ps_config_get (opts, "curve-secret")->value, why, sizeof why);
    if (!security)
        snprintf (err, sizeof err, "--curve-secret: %s", why);
    if (!security ||
        ps_security_server (security, PS_DOMAIN_INGEST, "ingest-keys",
                            ps_config_get (opts, "ingest-keys")->value, &in_opts, err,
                            sizeof err) != 0 ||
        ps_security_client (security, "publish-key", ps_config_get (opts, "publish-key")->value,
                            &out_opts, err, sizeof err) != 0) {
        fprintf (stderr, "paystat-compute: %s\n", err);
        ps_security_destroy (&security);
        ps_ratios_destroy (&ratios);
        zmq_ctx_term (ctx);
        return 2;
    }
    ps_security_check_bind (security, "bind", ps_config_get (opts, "bind")->value);
    uint64_t epoch = (uint64_t) ps_wall_us ();
    ps_engine_t *engine = ps_engine_new (&ratios, epoch);
    ps_ratios_destroy (&ratios);
    if (!engine) {
        ps_error ("out of memory", NULL);
        ps_security_destroy (&security);
        zmq_ctx_term (ctx);
        return 1;
    }

    s_server_t server = {0};
    server.engine = engine;
    server.security = security;
    server.checkpoint_ms = checkpoint_ms;
    server.max_entry = (size_t) max_entry;
    server.stall = ps_stall_new ();
    msgpack_sbuffer_init (&server.reply);
    const char *data_dir = ps_config_get (opts, "data-dir")->value;
    ps_checkpoint_stats_t loaded = {0};
    server.upstream = ps_upstream_new ();
    server.outbox = ps_outbox_new ();
    if (server.upstream &&
        ps_upstream_accept_parse (server.upstream, ps_config_get (opts, "accept-journal")->value,
                                  why, sizeof why) != 0) {
        fprintf (stderr, "paystat-compute: --accept-journal: %s\n", why);
        ps_upstream_destroy (&server.upstream);
        ps_outbox_destroy (&server.outbox);
        ps_engine_destroy (&engine);
        ps_security_destroy (&security);
        zmq_ctx_term (ctx);
        return 2;
    }
    server.datadir = ps_datadir_open (data_dir, err, sizeof err);
    int loaded_rc =
        server.datadir && server.upstream && server.outbox
            ? ps_checkpoint_load (server.datadir, engine, server.upstream, &loaded, err, sizeof err)
            : -1;
    if (loaded_rc < 0) {
        /* Starting empty would drop what the ingests already reclaimed. */
        ps_error ("cannot recover; move the checkpoint away to start empty",
                  "data_dir=%s reason=\"%s\"", data_dir, server.upstream ? err : "out of memory");
        ps_upstream_destroy (&server.upstream);
        ps_outbox_destroy (&server.outbox);
        ps_datadir_destroy (&server.datadir);
        ps_engine_destroy (&engine);
        ps_security_destroy (&security);
        zmq_ctx_term (ctx);
        return 1;
    }
    if (loaded_rc == 0)
        ps_info ("recovered from checkpoint", "cells=%" PRIu32 " series=%" PRIu32 " bytes=%zu",
                 loaded.cells, loaded.series, loaded.bytes);

    ps_signal_install ();
    ps_signal_catch_reload ();
    server.batch = ps_batch_new ();
    server.in = ps_sock_new (ctx, ZMQ_ROUTER, ps_config_get (opts, "bind")->value, true, &in_opts);
    /* Announced: a restarted publish learns at once that compute is there,
       and asks it to resend everything. */
    server.out =
        server.in ? ps_sock_new_announced (ctx, ps_config_get (opts, "publish")->value, &out_opts)
                  : NULL;
    rc = 1;
    const char *http = ps_config_get (opts, "http")->value;
    bool ops_ok = !ps_ops_enabled (http) ||
                  (server.ops = ps_ops_new (http, s_collect, s_ready, &server)) != NULL;
    if (server.in && server.out && server.batch && server.stall && ops_ok) {
        ps_info ("started",
                 "bind=%s publish=%s flush_ms=%ld ratios=%zu epoch=%" PRIu64
                 " data_dir=%s checkpoint_ms=%ld",
                 ps_config_get (opts, "bind")->value, ps_config_get (opts, "publish")->value,
                 flush_ms, nratios, epoch, data_dir, checkpoint_ms);
        server.next_checkpoint = ps_clock_ms () + checkpoint_ms;
        rc = s_run (&server, flush_ms) == 0 ? 0 : 1;
        /* Stop reading and checkpoint what was applied (the ingests keep
           the rest), publish everything still pending, and give publish a
           bounded time to confirm it rather than hang on a dead peer. */
        if (s_checkpoint (&server) != 0)
            rc = 1;
        ps_sock_destroy (&server.in);
        if (ps_engine_pending (engine) && ps_engine_flush (engine, s_emit, &server) < 0)
            rc = 1;
        s_wait_confirmed (&server);
    }
    ps_engine_stats_t stats;
    ps_engine_stats (engine, &stats);
    ps_info ("stopped",
             "batches=%" PRIu64 " reports=%" PRIu64 " rejected=%" PRIu64 " cells=%" PRIu32
             " items=%" PRIu64 " cell_bytes=%zu",
             stats.batches, stats.reports, stats.rejected, stats.cells, stats.items, stats.memory);
    ps_ops_destroy (&server.ops);
    ps_sock_destroy (&server.in);
    ps_sock_destroy (&server.out);
    ps_security_destroy (&server.security);
    zmq_ctx_term (ctx);
    ps_batch_destroy (&server.batch);
    msgpack_sbuffer_destroy (&server.reply);
    ps_upstream_destroy (&server.upstream);
    ps_outbox_destroy (&server.outbox);
    ps_stall_destroy (&server.stall);
    ps_datadir_destroy (&server.datadir);
    ps_engine_destroy (&engine);
    return rc;
}
