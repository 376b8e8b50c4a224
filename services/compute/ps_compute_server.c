/*  ps_compute_server: compute's sockets and poll loop; see
    ps_compute_server.h. */

#include "ps_compute_server.h"

#include "ps_checkpoint.h"
#include "ps_clock.h"
#include "ps_datadir.h"
#include "ps_engine.h"
#include "ps_log.h"
#include "ps_outbox.h"
#include "ps_pacing.h"
#include "ps_proto.h"
#include "ps_ratios.h"
#include "ps_schedule.h"
#include "ps_stall.h"
#include "ps_upstream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frames read per poll round at most, so flushes stay on schedule. */
#define S_DRAIN_MAX 256
/* How long shutdown may wait for publish to take the last updates. */
#define S_SHUTDOWN_MS 5000
/* Update frames (each up to PS_ENGINE_FRAME_BYTES) queued in libzmq towards
   publish. A flush waits for publish to confirm the previous one, so more
   would only hold memory in front of a publish that stopped reading; past
   it frames wait in the outbox, and no new flush starts. */
#define S_PUBLISH_HWM 16
/* Messages refused for their key are logged at most this often. */
#define S_REFUSED_LOG_MS 1000
/* Frames accepted in one message from ingest: its routing identity and
   the batch (a DEALER sends no empty delimiter, a REQ-style one would). */
#define S_MAX_PARTS 3

struct ps_compute_server_t {
    ps_service_t *service;   /* not owned */
    ps_security_t *security; /* the service's */
    void *in;                /* ROUTER: journal entries and hellos in, positions out */
    void *out;               /* DEALER: updates to publish, progress back */
    ps_engine_t *engine;
    ps_upstream_t *upstream; /* each ingest's journal position */
    ps_stall_t *stall;       /* entries refused: the ingests stuck on them */
    ps_outbox_t *outbox;     /* updates publish could not take yet */
    ps_pacing_t *pacing;     /* when a flush may go */
    ps_schedule_t *schedule; /* when a checkpoint is due */
    ps_datadir_t *datadir;
    size_t max_entry; /* --max-entry-bytes */
    ps_batch_t *batch;
    msgpack_sbuffer reply;
    zmq_msg_t parts[S_MAX_PARTS];
    uint64_t refused;          /* messages whose key may not speak for their ingest id */
    uint64_t refused_unlogged; /* of those, not logged yet */
    int64_t refused_logged_ms; /* when one was last logged */
};

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

/* Hands one update frame to publish, or to the outbox when publish is not
   taking any (ps_engine_emit_fn). */
static int s_emit (void *arg, const void *frame, size_t size)
{
    ps_compute_server_t *self = arg;
    if (ps_outbox_send (self->outbox, s_send_update, self->out, frame, size) == 0)
        return 0;
    ps_error ("update lost: publish gets every topic again when it restarts", "bytes=%zu", size);
    return -1;
}

/* Sends the reply encoded in self->reply to the ingest at ROUTE. A ROUTER
   never waits in a send: it drops a reply to a peer that has gone (or
   whose queue is full), and ingest says hello again when it hears nothing. */
static void s_reply (ps_compute_server_t *self, const void *route, size_t route_len)
{
    if (ps_sock_send (self->in, route, route_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0)
        ps_sock_send (self->in, self->reply.data, self->reply.size, ZMQ_DONTWAIT);
}

/* Sends INGEST's position (asking for a resend when RESEND) to ROUTE. */
static void s_position (ps_compute_server_t *self, const char *ingest, bool resend,
                        const void *route, size_t route_len)
{
    ps_position_t pos;
    msgpack_sbuffer_clear (&self->reply);
    if (ps_upstream_position (self->upstream, ingest, resend, &pos) != 0)
        return;
    ps_refusal_t refusal;
    const char *why;
    if ((refusal.jseq = ps_stall_jseq (self->stall, ingest, pos.journal, &why)))
        snprintf (refusal.reason, sizeof refusal.reason, "%s", why);
    if (ps_control_position_encode_refusal (&pos, &refusal, &self->reply) == 0)
        s_reply (self, route, route_len);
}
/* True when BODY's sender may speak for ingest id INGEST: with CURVE on,
   its key must still be allowed and be named INGEST. Refusals are counted
   and logged at most once per S_REFUSED_LOG_MS, since a peer could send
   them as fast as it likes. */
static bool s_admit (ps_compute_server_t *self, zmq_msg_t *body, const char *ingest)
{
    char name[PS_CURVE_NAME_MAX + 1];
    bool known = ps_security_peer (self->security, PS_DOMAIN_INGEST, body, name);
    if (known && (!ps_security_on (self->security) || strcmp (name, ingest) == 0))
        return true;
    self->refused++;
    self->refused_unlogged++;
    int64_t now = ps_clock_ms ();
    if (self->refused_logged_ms == 0 || now - self->refused_logged_ms >= S_REFUSED_LOG_MS) {
        ps_log_every (PS_LOG_WARN, 10,
                      known ? "message ignored: an ingest's key may only speak for the ingest id "
                              "it is named after"
                            : "message ignored: its key is no longer allowed",
                      "key=%s ingest=%s refused_since_last_log=%" PRIu64, known ? name : "?",
                      ingest, self->refused_unlogged);
        self->refused_logged_ms = now;
        self->refused_unlogged = 0;
    }
    return false;
}

/* A hello: ingest asks where to resume; every entry after the last one
   applied is asked for again. */
static void s_hello (ps_compute_server_t *self, const void *id, size_t id_len, zmq_msg_t *body)
{
    ps_hello_t hello;
    ps_error_t err;
    if (ps_control_hello_decode (zmq_msg_data (body), zmq_msg_size (body), &hello, &err) != 0) {
        ps_log_every (PS_LOG_WARN, 10, "bad frame from ingest dropped",
                      "code=%s field=%s reason=\"%s\"", ps_error_code_name (err.code),
                      err.field ? err.field : "", err.reason);
        return;
    }
    if (!s_admit (self, body, hello.ingest))
        return;
    int rc = ps_upstream_hello (self->upstream, &hello, id, id_len);
    if (rc == 1) {
        /* Logged and counted by ps_upstream; the peer is told why. */
        ps_error_t refusal = {PS_E_PERMISSION, "journal", ""};
        const char *text = ps_upstream_refusal (self->upstream)->text;
        size_t len = strnlen (text, sizeof refusal.reason - 1); /* ASCII: any cut is whole */
        memcpy (refusal.reason, text, len);
        refusal.reason[len] = '\0';
        msgpack_sbuffer_clear (&self->reply);
        if (ps_error_refusal_encode (&refusal, &self->reply) == 0)
            s_reply (self, id, id_len);
    }
    if (rc != 0)
        return; /* logged by ps_upstream */
    ps_debug ("hello", "ingest=%s first=%" PRIu64 " head=%" PRIu64, hello.ingest, hello.first,
              hello.head);
    s_position (self, hello.ingest, true, id, id_len);
}

/* Applies journal entry BATCH when it is the next one of its ingest and
   tells the ingest (by its routing identity ID) how far it is; an
   entry past a gap gets a resend request instead, once per gap. */
static void s_entry (ps_compute_server_t *self, const ps_batch_t *batch, const void *id,
                     size_t id_len)
{
    switch (ps_upstream_check (self->upstream, batch->ingest, batch->journal, batch->jseq, id,
                               id_len)) {
    case PS_UPSTREAM_APPLY:
        ps_engine_apply_batch (self->engine, batch);
        ps_upstream_applied (self->upstream, batch->ingest, batch->jseq);
        ps_stall_applied (self->stall, batch->ingest, batch->jseq);
        s_position (self, batch->ingest, false, id, id_len);
        break;
    case PS_UPSTREAM_GAP:
        if (ps_upstream_want_resend (self->upstream, batch->ingest)) {
            ps_debug ("entries missing before this one; asking for a resend",
                      "ingest=%s jseq=%" PRIu64, batch->ingest, batch->jseq);
            s_position (self, batch->ingest, true, id, id_len);
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
static void s_refuse (ps_compute_server_t *self, const ps_batch_t *batch, const ps_error_t *err,
                      const void *id, size_t id_len)
{
    ps_position_t pos;
    if (ps_upstream_position (self->upstream, batch->ingest, false, &pos) != 0 ||
        batch->journal != pos.journal || batch->jseq != pos.applied + 1)
        return;
    if (ps_stall_refused (self->stall, batch->ingest, pos.journal, batch->jseq, err->reason))
        ps_error ("journal entry refused; its ingest is stuck until it is fixed "
                  "(docs/durability.md)",
                  "ingest=%s jseq=%" PRIu64 " code=%s reason=\"%s\"", batch->ingest, batch->jseq,
                  ps_error_code_name (err->code), err->reason);
    else
        ps_log_every (PS_LOG_ERROR, 10, "journal entry still refused; its ingest is stuck",
                      "ingest=%s jseq=%" PRIu64 " reason=\"%s\"", batch->ingest, batch->jseq,
                      err->reason);
    s_position (self, batch->ingest, false, id, id_len);
}

/* What a message from an ingest is, once s_kind read it. */
typedef enum {
    S_ENTRY,   /* a journal entry, decoded whole into self->batch */
    S_HELLO,   /* a hello (not decoded yet) */
    S_REFUSED, /* an entry whose header names its ingest and jseq, refused for ERR */
    S_BAD      /* neither: dropped */
} s_kind_t;

/* Tells which kind of message BODY is, decoding it into self->batch.
   Only a frame decoded whole says which ingest, journal and jseq it is:
   any peer can reach this socket, so one that does not decode moves no
   position, even when the fields read before the error name a real
   ingest. Ingest journals only what it encoded itself, so a real entry
   decodes; one that did not would be refused again on every resend,
   holding its ingest back loudly rather than being skipped.
   A hello is told apart by its type (ps_peek_type); everything else is
   decoded as an entry, so a frame of another type is dropped with the
   entry decoder's reason. */
static s_kind_t s_kind (ps_compute_server_t *self, const zmq_msg_t *body, ps_error_t *err)
{
    size_t size = zmq_msg_size ((zmq_msg_t *) body);
    const void *data = zmq_msg_data ((zmq_msg_t *) body);
    if (ps_peek_type (data, size) == PS_PEEK_HELLO)
        return S_HELLO;
    int rc = ps_batch_decode (self->batch, data, size, true, err);
    if (rc == 0 && size > self->max_entry)
        rc = ps_error_limit (err, "entry", size, self->max_entry);
    if (rc == 0)
        return S_ENTRY;
    return self->batch->jseq ? S_REFUSED : S_BAD;
}

/* Handles one message from an ingest of NPARTS frames in self->parts: a
   journal entry or a hello. */
static void s_handle (ps_compute_server_t *self, int nparts)
{
    if (nparts < 2) {
        ps_log_every (PS_LOG_WARN, 10, "message without routing identity dropped", "frames=%d",
                      nparts);
        return;
    }
    zmq_msg_t *body = &self->parts[nparts - 1];
    const void *id = zmq_msg_data (&self->parts[0]);
    size_t id_len = zmq_msg_size (&self->parts[0]);
    ps_batch_t *b = self->batch;
    ps_error_t err;
    switch (s_kind (self, body, &err)) {
    case S_ENTRY:
        if (s_admit (self, body, b->ingest))
            s_entry (self, b, id, id_len);
        return;
    case S_HELLO:
        s_hello (self, id, id_len, body);
        return;
    case S_REFUSED:
        if (s_admit (self, body, b->ingest)) {
            s_refuse (self, b, &err, id, id_len);
            return;
        }
        break;
    case S_BAD:
        break;
    }
    ps_log_every (PS_LOG_WARN, 10, "bad frame from ingest dropped",
                  "bytes=%zu code=%s field=%s reason=\"%s\"", zmq_msg_size (body),
                  ps_error_code_name (err.code), err.field ? err.field : "", err.reason);
}

/* Writes a checkpoint when something was applied since the last one, and
   tells every ingest heard from how far it reaches, so they can reclaim
   their journal. Returns 0, or -1 when it could not be written. */
static int s_checkpoint (ps_compute_server_t *self)
{
    if (!ps_upstream_changed (self->upstream))
        return 0;
    int64_t start = ps_clock_ms ();
    ps_checkpoint_stats_t st;
    char err[512];
    if (ps_checkpoint_save (self->datadir, self->engine, self->upstream, &st, err, sizeof err) !=
        0) {
        ps_error ("cannot write a checkpoint", "reason=\"%s\"", err);
        return -1;
    }
    ps_upstream_checkpointed (self->upstream);
    int64_t took = ps_clock_ms () - start;
    ps_schedule_written (self->schedule, took * 1000, st.bytes, ps_wall_us ());
    ps_debug ("checkpoint written", "cells=%" PRIu32 " series=%" PRIu32 " bytes=%zu ms=%" PRId64,
              st.cells, st.series, st.bytes, took);
    size_t cursor = 0;
    const char *ingest;
    uint64_t journal, applied;
    const void *route;
    size_t route_len;
    while (ps_upstream_next (self->upstream, &cursor, &ingest, &journal, &applied, &route,
                             &route_len))
        if (route_len)
            s_position (self, ingest, false, route, route_len);
    return 0;
}

/* Reads publish's progress frames waiting on the output socket, and its
   requests to resend every topic (it started with an empty cache). */
static void s_read_progress (ps_compute_server_t *self)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    int n;
    while ((n = ps_sock_recv_parts (self->out, &msg, 1)) >= 0) {
        uint64_t pos;
        ps_error_t err;
        bool resend = ps_peek_type (zmq_msg_data (&msg), zmq_msg_size (&msg)) == PS_PEEK_RESEND;
        if (n == 0)
            ps_log_every (PS_LOG_WARN, 10, "ignored a multipart frame from publish", NULL);
        else if (resend && ps_sync_resend_decode (zmq_msg_data (&msg), zmq_msg_size (&msg), &pos,
                                                  &err) == 0) {
            ps_engine_dirty_all (self->engine);
            ps_pacing_restart (self->pacing, ps_engine_useq (self->engine));
            ps_info ("publish asked for every topic again", "publish_epoch=%" PRIu64, pos);
        } else if (resend || ps_control_progress_decode (zmq_msg_data (&msg), zmq_msg_size (&msg),
                                                         &pos, &err) != 0)
            ps_log_every (PS_LOG_WARN, 10, "ignored a malformed progress frame", "reason=\"%s\"",
                          err.reason);
        else
            ps_pacing_confirm (self->pacing, pos);
    }
    zmq_msg_close (&msg);
}

/* Reads the messages waiting: at most S_DRAIN_MAX, and once changes are
   pending, not past DEADLINE, when they are due. Returns -1 on a socket
   error. */
static int s_drain (ps_compute_server_t *self, int64_t deadline)
{
    for (int i = 0; i < S_DRAIN_MAX; i++) {
        for (int p = 0; p < S_MAX_PARTS; p++)
            zmq_msg_init (&self->parts[p]);
        int n = ps_sock_recv_parts (self->in, self->parts, S_MAX_PARTS);
        int err = errno;
        if (n > 0)
            s_handle (self, n);
        else if (n == 0)
            ps_log_every (PS_LOG_WARN, 10, "message with too many frames dropped", NULL);
        for (int p = 0; p < S_MAX_PARTS; p++)
            zmq_msg_close (&self->parts[p]);
        if (n < 0) {
            errno = err;
            return err == EAGAIN || err == EINTR ? 0 : -1;
        }
        if (ps_engine_pending (self->engine) && ps_clock_ms () >= deadline)
            break;
    }
    return 0;
}

/* One round of the loop: a checkpoint or a flush when due, else a wait
   for the sockets until the next is due. Returns -1 on a socket error. */
static int s_round (ps_compute_server_t *self)
{
    int64_t now = ps_clock_ms ();
    if (ps_schedule_due (self->schedule, now, ps_upstream_changed (self->upstream))) {
        s_checkpoint (self);
        ps_schedule_done (self->schedule, now, ps_clock_ms ());
    }
    uint64_t sent = ps_engine_useq (self->engine);
    bool pending = ps_engine_pending (self->engine);
    size_t queued = ps_outbox_count (self->outbox);
    if (ps_pacing_may_flush (self->pacing, now, sent, pending, queued)) {
        ps_engine_flush (self->engine, s_emit, self);
        ps_pacing_flushed (self->pacing, now, ps_clock_ms ());
        return 0;
    }
    int64_t due = ps_pacing_due (self->pacing, sent);
    int64_t until = ps_schedule_next (self->schedule);
    if (pending && due < until)
        until = due;
    short out_events = (short) (ZMQ_POLLIN | (queued ? ZMQ_POLLOUT : 0));
    zmq_pollitem_t items[] = {{self->in, 0, ZMQ_POLLIN, 0}, {self->out, 0, out_events, 0}};
    if (ps_service_poll (self->service, items, 2, until > now ? (long) (until - now) : 0) < 0)
        return -1;
    if (items[1].revents & ZMQ_POLLIN)
        s_read_progress (self);
    if (items[1].revents & ZMQ_POLLOUT)
        ps_outbox_flush (self->outbox, s_send_update, self->out);
    if ((items[0].revents & ZMQ_POLLIN) && s_drain (self, due) != 0) {
        ps_error ("receive failed", "error=\"%s\"", zmq_strerror (errno));
        return -1;
    }
    return 0;
}

/* At shutdown: waits up to S_SHUTDOWN_MS for publish to take what the
   outbox holds and confirm every update, since libzmq 4.3.4 may drop what
   is queued at close. What it did not take is in the checkpoint, and a
   restarted compute publishes every topic again. */
static void s_wait_confirmed (ps_compute_server_t *self)
{
    uint64_t sent = ps_engine_useq (self->engine);
    ps_pacing_stop (self->pacing, ps_clock_ms (), S_SHUTDOWN_MS);
    long wait;
    while ((wait = ps_pacing_stop_wait (self->pacing, ps_clock_ms (), sent,
                                        ps_outbox_count (self->outbox))) >= 0) {
        bool queued = ps_outbox_flush (self->outbox, s_send_update, self->out) > 0;
        zmq_pollitem_t item = {self->out, 0, (short) (ZMQ_POLLIN | (queued ? ZMQ_POLLOUT : 0)),
                               0};
        if (ps_service_poll (self->service, &item, 1, wait) > 0 && (item.revents & ZMQ_POLLIN))
            s_read_progress (self);
    }
    if (!ps_pacing_settled (self->pacing, sent, ps_outbox_count (self->outbox)))
        ps_warn ("publish did not take and confirm every update before shutdown",
                 "sent=%" PRIu64 " confirmed=%" PRIu64 " not_taken=%zu", sent,
                 ps_pacing_confirmed (self->pacing), ps_outbox_count (self->outbox));
}

int ps_compute_server_run (ps_compute_server_t *self)
{
    int rc = PS_EXIT_OK;
    while (!ps_service_stopping (self->service))
        if (s_round (self) != 0) {
            rc = PS_EXIT_FAIL;
            break;
        }
    /* Stop reading and checkpoint what was applied (the ingests keep the
       rest), publish everything still pending, and give publish a bounded
       time to confirm it rather than hang on a dead peer. */
    if (s_checkpoint (self) != 0)
        rc = PS_EXIT_FAIL;
    ps_sock_destroy (&self->in);
    if (ps_engine_pending (self->engine) && ps_engine_flush (self->engine, s_emit, self) < 0)
        rc = PS_EXIT_FAIL;
    s_wait_confirmed (self);
    ps_engine_stats_t stats;
    ps_engine_stats (self->engine, &stats);
    ps_info ("stopped",
             "batches=%" PRIu64 " reports=%" PRIu64 " rejected=%" PRIu64 " cells=%" PRIu32
             " items=%" PRIu64 " cell_bytes=%zu",
             stats.batches, stats.reports, stats.rejected, stats.cells, stats.items, stats.memory);
    return rc;
}

static void s_collect (void *arg, ps_metrics_t *m)
{
    ps_compute_server_t *self = arg;
    const ps_schedule_stats_t *cp = ps_schedule_stats (self->schedule);
    ps_engine_stats_t st;
    ps_engine_stats (self->engine, &st);
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
                      NULL, ps_engine_pending (self->engine) ? 1 : 0);
    ps_metrics_counter (m, "paystat_compute_checkpoints_total", "Checkpoints written.", NULL,
                        cp->written);
    ps_metrics_counter (m, "paystat_compute_flushes_total",
                        "Flushes: changed topics sent to publish.", NULL,
                        ps_pacing_flushes (self->pacing));
    ps_metrics_gauge (m, "paystat_compute_checkpoint_age_seconds",
                      "Seconds since the last checkpoint was written (-1: none yet).", NULL,
                      cp->last_wall_us ? (double) (ps_wall_us () - cp->last_wall_us) / 1e6
                          : -1.0);
    ps_metrics_gauge (m, "paystat_compute_checkpoint_last_seconds",
                      "Duration of the last checkpoint.", NULL, cp->last_us / 1e6);
    ps_metrics_gauge (m, "paystat_compute_checkpoint_bytes", "Size of the last checkpoint.", NULL,
                      (double) cp->last_bytes);
    ps_metrics_gauge (m, "paystat_compute_publish_unconfirmed",
                      "Update frames sent to publish and not yet confirmed.", NULL,
                      (double) (ps_engine_useq (self->engine) -
                                ps_pacing_confirmed (self->pacing)));
    ps_metrics_gauge (m, "paystat_compute_publish_queued_bytes",
                      "Bytes of update frames waiting in compute for publish to take them.", NULL,
                      (double) ps_outbox_bytes (self->outbox));
    for (int r = 0; r < PS_UPSTREAM_REFUSED__N; r++)
        ps_metrics_counter_reason (m, "paystat_compute_journal_frames_refused_total",
                                   "Hellos and journal entries refused because they name another "
                                   "journal instance than the one compute follows for their "
                                   "ingest id.",
                                   ps_upstream_reason_name (r),
                                   ps_upstream_refused (self->upstream, r));
    ps_metrics_counter (m, "paystat_compute_entries_refused_total",
                        "Journal entries refused (too large, undecodable), each resend counted.",
                        NULL, ps_stall_refusals (self->stall));
    ps_metrics_gauge (m, "paystat_compute_ingests_stuck",
                      "Ingests whose next journal entry compute refuses.", NULL,
                      (double) ps_stall_count (self->stall));
    if (!ps_security_on (self->security))
        return;
    ps_metrics_counter (m, "paystat_compute_curve_handshakes_total",
                        "CURVE handshakes on the ingests' socket, by result.",
                        "result=\"admitted\"", ps_security_admitted (self->security));
    ps_metrics_counter (m, "paystat_compute_curve_handshakes_total",
                        "CURVE handshakes on the ingests' socket, by result.", "result=\"refused\"",
                        ps_security_refused (self->security));
    ps_metrics_counter (m, "paystat_compute_ingest_frames_refused_total",
                        "Messages ignored because their key may not speak for their ingest id "
                        "(or is no longer allowed).",
                        NULL, self->refused);
}

static const char *s_ready (void *arg)
{
    ps_compute_server_t *self = arg;
    const char *stuck = ps_stall_ready (self->stall);
    return stuck ? stuck : ps_upstream_ready (self->upstream);
}


/* SIGHUP: re-reads --ingest-keys (ps_service_reload_fn). */
static void s_reload (void *arg)
{
    ps_compute_server_t *self = arg;
    char err[512];
    if (ps_security_reload (self->security, err, sizeof err) != 0)
        ps_error ("cannot reload the keys; the previous ones stay in force", "reason=\"%s\"", err);
}

/* Builds the engine with --ratios and recovers the checkpoint of
   --data-dir into it, with the journal positions it reflects. Returns 0,
   or -1 with *EXIT_CODE set after saying why. */
static int s_recover (ps_compute_server_t *self, size_t *nratios, uint64_t epoch, int *exit_code)
{
    ps_ratios_t *ratios = NULL;
    const char *ratios_path = ps_service_opt (self->service, "ratios");
    char err[512];
    if (ratios_path && *ratios_path) {
        ratios = ps_ratios_load (ratios_path, err, sizeof err);
        if (!ratios) {
            *exit_code = ps_service_usage (self->service, err);
            return -1;
        }
    }
    *nratios = ratios ? ps_ratios_count (ratios) : 0;
    self->engine = ps_engine_new (&ratios, epoch);
    ps_ratios_destroy (&ratios);
    if (!self->engine) {
        ps_error ("out of memory", NULL);
        return -1;
    }
    char why[400];
    if (ps_upstream_accept_parse (self->upstream, ps_service_opt (self->service, "accept-journal"),
                                  why, sizeof why) != 0) {
        snprintf (err, sizeof err, "--accept-journal: %s", why);
        *exit_code = ps_service_usage (self->service, err);
        return -1;
    }
    const char *data_dir = ps_service_opt (self->service, "data-dir");
    ps_checkpoint_stats_t loaded = {0};
    self->datadir = ps_datadir_open (data_dir, err, sizeof err);
    int rc = self->datadir ? ps_checkpoint_load (self->datadir, self->engine, self->upstream,
                                                 &loaded, err, sizeof err)
                           : -1;
    if (rc < 0) {
        /* Starting empty would drop what the ingests already reclaimed. */
        ps_error ("cannot recover; move the checkpoint away to start empty",
                  "data_dir=%s reason=\"%s\"", data_dir, err);
        return -1;
    }
    if (rc == 0)
        ps_info ("recovered from checkpoint", "cells=%" PRIu32 " series=%" PRIu32 " bytes=%zu",
                 loaded.cells, loaded.series, loaded.bytes);
    return 0;
}

ps_compute_server_t *ps_compute_server_new (ps_service_t *service, int *exit_code)
{
    *exit_code = PS_EXIT_USAGE;
    long flush_ms, checkpoint_ms, max_entry = PS_MAX_ENTRY;
    if (ps_service_long (service, "flush-ms", 1, 60000, &flush_ms) != 0 ||
        ps_service_long (service, "checkpoint-ms", 10, 3600000, &checkpoint_ms) != 0 ||
        (ps_service_opt (service, "max-entry-bytes") &&
         ps_service_long (service, "max-entry-bytes", 1, PS_MAX_ENTRY, &max_entry) != 0))
        return NULL;
    /* Past PS_MAX_ENTRY, so that an entry over the limit is read and
       refused loudly rather than dropping the ingest's connection. */
    ps_sock_opts_t in_opts = {.hwm = 0, .maxmsgsize = PS_MAX_INPUT, .linger_ms = 0};
    ps_sock_opts_t out_opts = {
        .hwm = S_PUBLISH_HWM, .rcvhwm = 1000, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    /* Keys are read before any work, so that a bad one stops the start. */
    if (ps_service_secure_bind (service, PS_DOMAIN_INGEST, "ingest-keys", "bind", &in_opts) != 0 ||
        ps_service_secure_connect (service, "publish-key", &out_opts) != 0)
        return NULL;
    *exit_code = PS_EXIT_FAIL;
    ps_compute_server_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->service = service;
    self->security = ps_service_security (service);
    self->max_entry = (size_t) max_entry;
    msgpack_sbuffer_init (&self->reply);
    self->upstream = ps_upstream_new ();
    self->stall = ps_stall_new ();
    self->outbox = ps_outbox_new ();
    self->pacing = ps_pacing_new (flush_ms);
    self->batch = ps_batch_new ();
    size_t nratios;
    uint64_t epoch = (uint64_t) ps_wall_us ();
    if (!self->upstream || !self->stall || !self->outbox || !self->pacing || !self->batch) {
        ps_error ("out of memory", NULL);
        goto err;
    }
    if (s_recover (self, &nratios, epoch, exit_code) != 0)
        goto err;
    *exit_code = PS_EXIT_FAIL;
    void *ctx = ps_service_ctx (service);
    const char *bind = ps_service_opt (service, "bind");
    const char *publish = ps_service_opt (service, "publish");
    self->in = ps_sock_new (ctx, ZMQ_ROUTER, bind, true, &in_opts);
    /* Announced: a restarted publish learns at once that compute is there,
       and asks it to resend everything. */
    self->out = self->in ? ps_sock_new_announced (ctx, publish, &out_opts) : NULL;
    if (!self->out || ps_service_ops (service, s_collect, s_ready, self) != 0)
        goto err;
    ps_service_on_reload (service, s_reload, self);
    ps_info ("started",
             "bind=%s publish=%s flush_ms=%ld ratios=%zu epoch=%" PRIu64
             " data_dir=%s checkpoint_ms=%ld",
             bind, publish, flush_ms, nratios, epoch, ps_service_opt (service, "data-dir"),
             checkpoint_ms);
    self->schedule = ps_schedule_new (checkpoint_ms, ps_clock_ms ());
    if (self->schedule)
        return self;
    ps_error ("out of memory", NULL);
err:
    ps_compute_server_destroy (&self);
    return NULL;
}

void ps_compute_server_destroy (ps_compute_server_t **self_p)
{
    ps_compute_server_t *self = *self_p;
    if (!self)
        return;
    ps_sock_destroy (&self->in);
    ps_sock_destroy (&self->out);
    ps_batch_destroy (&self->batch);
    msgpack_sbuffer_destroy (&self->reply);
    ps_schedule_destroy (&self->schedule);
    ps_pacing_destroy (&self->pacing);
    ps_upstream_destroy (&self->upstream);
    ps_outbox_destroy (&self->outbox);
    ps_stall_destroy (&self->stall);
    ps_datadir_destroy (&self->datadir);
    ps_engine_destroy (&self->engine);
    free (self);
    *self_p = NULL;
}
