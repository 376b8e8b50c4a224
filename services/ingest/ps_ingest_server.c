/*  ps_ingest_server: paystat-ingest's sockets and loop; see
    ps_ingest_server.h. */

#include "ps_ingest_server.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ps_access.h"
#include "ps_ackq.h"
#include "ps_clock.h"
#include "ps_forward.h"
#include "ps_group.h"
#include "ps_ingest.h"
#include "ps_journal.h"
#include "ps_log.h"
#include "ps_proto.h"

/* Routing frames a peer may put before the body; the ROUTER adds one
   more in front (the peer's identity), hence the + 2 slots below. */
#define MAX_ENVELOPE 8
/* Producer messages read in one go at most, so positions and commits
   keep their pace under load. */
#define S_FRONT_MAX 256

static ps_option_t s_options[] = {
    {"bind", "PAYSTAT_INGEST_BIND", "tcp://127.0.0.1:7401", "producers' endpoint (ROUTER, bound)",
     false, NULL},
    {"compute", "PAYSTAT_COMPUTE_CONNECT", "tcp://127.0.0.1:7402",
     "compute's endpoint (DEALER, connected)", false, NULL},
    {"id", "PAYSTAT_INGEST_ID", "ingest-1", "instance id stamped on forwarded batches", false,
     NULL},
    {"data-dir", "PAYSTAT_INGEST_DATA", "ingest-data",
     "directory of the journal (created if missing)", false, NULL},
    {"journal-max-mb", "PAYSTAT_JOURNAL_MAX_MB", "1024",
     "journal entries kept for compute, in MiB; past it producers get retry_later", false, NULL},
    {"commit-ms", "PAYSTAT_COMMIT_MS", "2",
     "group commit: longest wait, in ms, before accepted batches are made durable and acked", false,
     NULL},
    {"commit-batches", "PAYSTAT_COMMIT_BATCHES", "256",
     "group commit: batches that make a commit due at once", false, NULL},
    {"window", "PAYSTAT_FORWARD_WINDOW", "256",
     "journal entries sent to compute beyond the last one it confirmed", false, NULL},
    {"sync-ms", "PAYSTAT_SYNC_MS", "500",
     "silence from compute, in ms, after which ingest says hello again", false, NULL},
    {"max-producers", "PAYSTAT_MAX_PRODUCERS", "100000",
     "producers whose last batch is remembered for deduplication", false, NULL},
    {"max-series", "PAYSTAT_MAX_SERIES", "200000", "series whose currency ingest remembers", false,
     NULL},
    {"drain-ms", "PAYSTAT_DRAIN_MS", "5000",
     "at shutdown, how long to wait for compute to apply the journal's last entries", false, NULL},
    {"producer-keys", "PAYSTAT_PRODUCER_KEYS", NULL,
     "producers allowed in: a directory of NAME.key files or a \"NAME KEY\" list file", false,
     NULL},
    {"access", "PAYSTAT_ACCESS", NULL,
     "sources each producer key may write: lines \"NAME SOURCE...\" (\"*\" = all)", false, NULL},
    {"compute-key", "PAYSTAT_COMPUTE_KEY", NULL,
     "compute's public key file: CURVE on the link to compute", false, NULL},
    PS_SERVICE_OPTIONS ("PAYSTAT_INGEST", "127.0.0.1:9101",
                        "ingest's secret key file (paystat keygen): CURVE on every socket it binds"),
    PS_OPTION_END};

static const ps_service_def_t s_def = {
    "ingest", "paystat-ingest",
    "Receives report batches from producers, validates every report, writes the accepted ones "
    "to\nits journal and acknowledges each batch once it is durable; compute pulls the journal.\n"
    "SIGINT/SIGTERM: stop taking batches, ack those already received, wait (--drain-ms)\nfor "
    "compute to apply the journal, exit 0.\nSIGHUP: re-read --producer-keys and --access (all or "
    "nothing; connections stay).",
    s_options};

struct ps_ingest_server_t {
    ps_service_t *service;
    const char *id;
    long drain_ms;
    ps_journal_t *journal;
    ps_ingest_t *ingest;
    ps_ackq_t *acks;
    ps_group_t *group;
    ps_forward_t *forward;
    void *front;   /* producers' ROUTER, NULL once stopping */
    void *compute; /* DEALER to compute */
    ps_access_t *access; /* --access, NULL without */
    const char *access_path;
    zmq_msg_t parts[MAX_ENVELOPE + 2];
    char ready_why[400]; /* /readyz's reason while delivery is stuck */
};

const ps_service_def_t *ps_ingest_server_def (void)
{
    return &s_def;
}

/* ---- Group commit ---------------------------------------------------------- */

/*  Sends the acks the group held. With REFUSE_REASON the group was
    dropped: the state in memory goes back to the journal's and every ack
    becomes retry_later with that reason. */
static void s_end_group (ps_ingest_server_t *self, const char *refuse_reason)
{
    if (refuse_reason)
        ps_ingest_reload (self->ingest);
    if (self->front)
        ps_ackq_flush (self->acks, self->front, self->ingest, refuse_reason);
    ps_group_closed (self->group);
}

/*  Commits the journal's group and sends the acks it held. */
static void s_commit (ps_ingest_server_t *self)
{
    int64_t start = ps_clock_us ();
    int rc = ps_journal_commit (self->journal);
    ps_group_committed (self->group, ps_clock_us () - start);
    if (rc == 0) {
        s_end_group (self, NULL);
        return;
    }
    ps_error ("journal commit failed; refusing its batches", "batches=%zu reason=\"%s\"",
              ps_ackq_size (self->acks), ps_journal_error (self->journal));
    s_end_group (self, "ingest could not make this batch durable; retry later");
}

/* ---- Towards compute ------------------------------------------------------- */

/*  ps_forward's link: never waits (a full link is polled for POLLOUT). */
static int s_send_compute (void *arg, const void *data, size_t size)
{
    ps_ingest_server_t *self = arg;
    return zmq_send (self->compute, data, size, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

static void s_dropped (void *arg, const char *reason)
{
    s_end_group (arg, reason);
}

static void s_read_compute (ps_ingest_server_t *self)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, self->compute, ZMQ_DONTWAIT) >= 0)
        ps_forward_receive (self->forward, zmq_msg_data (&msg), zmq_msg_size (&msg),
                            zmq_msg_more (&msg), ps_clock_ms ());
    zmq_msg_close (&msg);
}

/* ---- Producers ------------------------------------------------------------- */

/*  Sends the envelope (all frames but the last) back with ACK as body. A
    ROUTER never waits: it drops a reply to a peer that has gone or does
    not read, and that producer resends. */
static void s_reply (ps_ingest_server_t *self, int nparts, const msgpack_sbuffer *ack)
{
    for (int i = 0; i < nparts - 1; i++)
        if (ps_sock_send (self->front, zmq_msg_data (&self->parts[i]),
                          zmq_msg_size (&self->parts[i]), ZMQ_SNDMORE | ZMQ_DONTWAIT) != 0)
            return;
    ps_sock_send (self->front, ack->data, ack->size, ZMQ_DONTWAIT);
}

/*  Handles one producer message. Returns -1 when none was waiting. */
static int s_handle (ps_ingest_server_t *self)
{
    int n = ps_sock_recv_parts (self->front, self->parts, MAX_ENVELOPE + 2);
    if (n <= 0) {
        if (n == 0)
            ps_log_every (PS_LOG_WARN, 10, "discarded a message with too many frames", NULL);
        return n;
    }
    /* A REQ peer puts an empty delimiter before the body; a DEALER need not. */
    zmq_msg_t *body = &self->parts[n - 1];
    /* A key revoked since its handshake has its batches refused from now on. */
    ps_security_t *security = ps_service_security (self->service);
    char name[PS_CURVE_NAME_MAX + 1];
    bool allowed = ps_security_peer (security, PS_DOMAIN_PRODUCERS, body, name);
    const char *key = !ps_security_on (security) ? NULL : allowed ? name : "";
    ps_ingest_receive (self->ingest, key, zmq_msg_data (body), zmq_msg_size (body));
    const msgpack_sbuffer *ack = ps_ingest_ack (self->ingest);
    if (!ps_journal_pending (self->journal)) {
        s_reply (self, n, ack);
        return 0;
    }
    if (ps_ackq_push (self->acks, self->parts, n - 1, ps_ingest_producer (self->ingest),
                      ps_ingest_seq (self->ingest), ack->data, ack->size) != 0)
        ps_error ("out of memory holding an ack; the producer will resend", NULL);
    ps_group_hold (self->group);
    return 0;
}

/* ---- Keys and permissions -------------------------------------------------- */

/*  Sets CURVE up as the options say: on the producers' socket (FRONT),
    on the link to compute (COMPUTE), and the access file. Returns 0, or
    -1 after printing the reason, naming the option. */
static int s_secure (ps_ingest_server_t *self, ps_sock_opts_t *front, ps_sock_opts_t *compute)
{
    if (ps_service_secure_bind (self->service, PS_DOMAIN_PRODUCERS, "producer-keys", "bind",
                                front) != 0 ||
        ps_service_secure_connect (self->service, "compute-key", compute) != 0)
        return -1;
    const char *access = ps_service_opt (self->service, "access");
    if (!access || !*access)
        return 0;
    if (!ps_security_on (ps_service_security (self->service))) {
        ps_service_usage (self->service, "--access needs --curve-secret: permissions belong to "
                                         "authenticated keys");
        return -1;
    }
    char why[448], err[480];
    if (!(self->access = ps_access_load (access, why, sizeof why))) {
        snprintf (err, sizeof err, "--access: %s", why);
        ps_service_usage (self->service, err);
        return -1;
    }
    self->access_path = access;
    ps_info ("access loaded", "access=%s keys=%zu", access, ps_access_size (self->access));
    return 0;
}

/*  SIGHUP: re-reads the producers' keys and the access file, all or
    nothing, so that a file caught half-edited never leaves half a policy
    in force. Connections stay; a revoked key's next batch is refused. */
static void s_reload (void *arg)
{
    ps_ingest_server_t *self = arg;
    ps_security_t *security = ps_service_security (self->service);
    if (!ps_security_on (security)) {
        ps_info ("SIGHUP: CURVE is off, nothing to reload", NULL);
        return;
    }
    char err[512];
    ps_access_t *access = NULL;
    if (self->access_path && !(access = ps_access_load (self->access_path, err, sizeof err))) {
        ps_error ("reload failed; the keys and permissions in force stay",
                  "option=--access reason=\"%s\"", err);
        return;
    }
    if (ps_security_reload (security, err, sizeof err) != 0) {
        ps_access_destroy (&access);
        ps_error ("reload failed; the keys and permissions in force stay",
                  "option=--producer-keys reason=\"%s\"", err);
        return;
    }
    if (access) {
        ps_ingest_set_access (self->ingest, access);
        ps_access_destroy (&self->access);
        self->access = access;
        ps_info ("access reloaded", "access=%s keys=%zu", self->access_path,
                 ps_access_size (access));
    }
}

/* ---- Loop ------------------------------------------------------------------ */

/*  One round at most until DEADLINE_MS (-1: none): commit when due, send
    what compute may take, then wait for input up to the next deadline.
    Without a producers' socket (stopping) only compute is served. */
static void s_round (ps_ingest_server_t *self, int64_t deadline_ms)
{
    int64_t now = ps_clock_ms ();
    if (ps_group_due (self->group, ps_journal_pending (self->journal), now))
        s_commit (self);
    ps_forward_pump (self->forward, now);
    int64_t timeout = ps_forward_wait (self->forward, now);
    int64_t due = ps_group_wait (self->group, ps_journal_pending (self->journal), now);
    if (due >= 0 && due < timeout)
        timeout = due;
    /* A hello may be due only after --sync-ms: a drain must not wait so long. */
    if (deadline_ms >= 0 && deadline_ms - now < timeout)
        timeout = deadline_ms > now ? deadline_ms - now : 0;
    short compute_events = ZMQ_POLLIN | (ps_forward_blocked (self->forward) ? ZMQ_POLLOUT : 0);
    zmq_pollitem_t items[2] = {{self->compute, 0, compute_events, 0},
                               {self->front, 0, ZMQ_POLLIN, 0}};
    if (ps_service_poll (self->service, items, self->front ? 2 : 1, (long) timeout) <= 0)
        return;
    if (items[0].revents & ZMQ_POLLOUT)
        ps_forward_writable (self->forward);
    if (items[0].revents & ZMQ_POLLIN)
        s_read_compute (self);
    if (self->front && (items[1].revents & ZMQ_POLLIN))
        for (int i = 0; i < S_FRONT_MAX && !ps_group_full (self->group); i++)
            if (s_handle (self) < 0)
                break;
}

/*  Waits up to --drain-ms for compute to apply every committed entry.
    They are safe in the journal either way; this only spares a replay. */
static void s_drain (ps_ingest_server_t *self)
{
    int64_t deadline = ps_clock_ms () + self->drain_ms;
    while (!ps_forward_drained (self->forward) && ps_clock_ms () < deadline)
        s_round (self, deadline);
    const ps_delivery_t *delivery = ps_forward_delivery (self->forward);
    if (!ps_forward_drained (self->forward))
        ps_info ("compute has not applied every entry yet; they stay in the journal",
                 "head=%" PRIu64 " applied=%" PRIu64, ps_journal_durable (self->journal),
                 ps_delivery_applied (delivery));
    if (ps_journal_commit (self->journal) != 0)
        ps_warn ("last journal commit failed", "reason=\"%s\"", ps_journal_error (self->journal));
}

int ps_ingest_server_run (ps_ingest_server_t *self)
{
    ps_info ("ready",
             "id=%s data_dir=%s journal=%" PRIu64 " first=%" PRIu64 " head=%" PRIu64
             " confirmed=%" PRIu64 " journal_bytes=%zu",
             self->id, ps_service_opt (self->service, "data-dir"), ps_journal_id (self->journal),
             ps_journal_first (self->journal), ps_journal_durable (self->journal),
             ps_journal_confirmed (self->journal), ps_journal_bytes (self->journal));
    while (!ps_service_stopping (self->service))
        s_round (self, -1);
    /* Stop taking batches; those received get their acks once durable. */
    s_commit (self);
    ps_sock_destroy (&self->front);
    s_drain (self);
    const ps_ingest_stats_t *st = ps_ingest_stats (self->ingest);
    const ps_delivery_t *delivery = ps_forward_delivery (self->forward);
    ps_info ("stopped",
             "batches=%" PRIu64 " journaled=%" PRIu64 " accepted=%" PRIu64 " rejected=%" PRIu64
             " duplicates=%" PRIu64 " retries=%" PRIu64 " head=%" PRIu64 " applied=%" PRIu64
             " checkpointed=%" PRIu64,
             st->batches, st->journaled, st->reports_accepted, st->reports_rejected, st->duplicates,
             st->retries, ps_journal_durable (self->journal), ps_delivery_applied (delivery),
             ps_delivery_ckpt (delivery));
    return PS_EXIT_OK;
}

/* ---- Operations endpoints -------------------------------------------------- */

static void s_collect (void *arg, ps_metrics_t *m)
{
    ps_ingest_server_t *self = arg;
    const ps_ingest_stats_t *st = ps_ingest_stats (self->ingest);
    const ps_delivery_t *delivery = ps_forward_delivery (self->forward);
    ps_metrics_counter (m, "paystat_ingest_batches_total", "Report batches received.", NULL,
                        st->batches);
    ps_metrics_counter (m, "paystat_ingest_batches_rejected_total",
                        "Batches refused as a whole (unreadable frame, bad header).", NULL,
                        st->batches_rejected);
    ps_metrics_counter (m, "paystat_ingest_batches_duplicate_total",
                        "Batches answered as already accepted (resends).", NULL, st->duplicates);
    ps_metrics_counter (m, "paystat_ingest_batches_retry_total",
                        "Batches answered retry_later (journal full, earlier seq refused).", NULL,
                        st->retries);
    ps_metrics_counter (m, "paystat_ingest_reports_received_total", "Reports in readable batches.",
                        NULL, st->reports_accepted + st->reports_rejected);
    ps_metrics_counter (m, "paystat_ingest_reports_accepted_total",
                        "Reports accepted and journaled.", NULL, st->reports_accepted);
    for (int code = 1; code < PS_E__COUNT; code++)
        ps_metrics_counter_reason (m, "paystat_ingest_reports_rejected_total",
                                   "Reports rejected, by error code.",
                                   ps_error_code_name ((ps_err_t) code),
                                   st->rejected_by_code[code]);
    ps_metrics_gauge (m, "paystat_ingest_journal_bytes", "Bytes of journal entries retained.", NULL,
                      (double) ps_journal_bytes (self->journal));
    ps_metrics_gauge (m, "paystat_ingest_journal_max_bytes", "Bound on the retained journal.", NULL,
                      (double) ps_journal_max_bytes (self->journal));
    ps_metrics_gauge (m, "paystat_ingest_journal_head", "Last journal position made durable.", NULL,
                      (double) ps_journal_durable (self->journal));
    ps_metrics_gauge (m, "paystat_ingest_compute_applied",
                      "Last journal position compute has applied.", NULL,
                      (double) ps_delivery_applied (delivery));
    ps_metrics_gauge (m, "paystat_ingest_compute_checkpointed",
                      "Last journal position covered by compute's checkpoint.", NULL,
                      (double) ps_delivery_ckpt (delivery));
    ps_metrics_gauge (m, "paystat_ingest_commit_last_seconds",
                      "Duration of the last journal group commit.", NULL,
                      ps_group_last_commit_us (self->group) / 1e6);
    ps_metrics_counter (m, "paystat_ingest_commits_total", "Journal group commits.", NULL,
                        ps_group_commits (self->group));
    ps_metrics_counter (m, "paystat_ingest_batches_oversize_total",
                        "Batches refused for their size (over PS_MAX_BATCH, answered \"limit\").",
                        NULL, st->oversize);
    ps_metrics_counter (m, "paystat_ingest_entries_refused_total",
                        "Times a journal entry was refused on its way to compute (each resend).",
                        NULL, ps_delivery_refusals (delivery));
    ps_metrics_gauge (m, "paystat_ingest_delivery_stuck_jseq",
                      "Journal position delivery is stuck at (0: not stuck).", NULL,
                      (double) ps_delivery_stuck (delivery, NULL));
    ps_security_t *security = ps_service_security (self->service);
    if (ps_security_on (security)) {
        const char *help = "CURVE handshakes on the producers' socket, by result.";
        ps_metrics_counter (m, "paystat_ingest_curve_handshakes_total", help, "result=\"admitted\"",
                            ps_security_admitted (security));
        ps_metrics_counter (m, "paystat_ingest_curve_handshakes_total", help, "result=\"refused\"",
                            ps_security_refused (security));
    }
}

static const char *s_ready (void *arg)
{
    ps_ingest_server_t *self = arg;
    /* The journal is open and the front door bound before the loop runs:
       only a refused entry makes ingest unready. */
    const char *why;
    uint64_t jseq = ps_delivery_stuck (ps_forward_delivery (self->forward), &why);
    if (!jseq)
        return NULL;
    snprintf (self->ready_why, sizeof self->ready_why,
              "journal entry refused, nothing after it reaches compute: ingest=%s jseq=%" PRIu64
              ": %s",
              self->id, jseq, why);
    return self->ready_why;
}

/* ---- Set-up and teardown --------------------------------------------------- */

ps_ingest_server_t *ps_ingest_server_new (ps_service_t *service, int *exit_code)
{
    long max_mb, commit_ms, commit_batches, window, sync_ms, max_producers, max_series, drain_ms;
    *exit_code = PS_EXIT_USAGE;
    if (ps_service_long (service, "journal-max-mb", 8, 1L << 30, &max_mb) != 0 ||
        ps_service_long (service, "commit-ms", 0, 10000, &commit_ms) != 0 ||
        ps_service_long (service, "commit-batches", 1, 100000, &commit_batches) != 0 ||
        ps_service_long (service, "window", 1, 100000, &window) != 0 ||
        ps_service_long (service, "sync-ms", 1, 3600000, &sync_ms) != 0 ||
        ps_service_long (service, "max-producers", 1, 100000000, &max_producers) != 0 ||
        ps_service_long (service, "max-series", 1, 100000000, &max_series) != 0 ||
        ps_service_long (service, "drain-ms", 0, 3600000, &drain_ms) != 0)
        return NULL;
    ps_ingest_server_t *self = calloc (1, sizeof *self);
    if (!self) {
        *exit_code = PS_EXIT_FAIL;
        return NULL;
    }
    self->service = service;
    self->id = ps_service_opt (service, "id");
    self->drain_ms = drain_ms;
    for (int i = 0; i < MAX_ENVELOPE + 2; i++)
        zmq_msg_init (&self->parts[i]);
    /* Read past the batch limit, to answer an oversize batch "limit". */
    ps_sock_opts_t front_opts = {.hwm = 0, .maxmsgsize = PS_MAX_INPUT, .linger_ms = 0};
    /* Room for the window and the hellos beside it. */
    ps_sock_opts_t compute_opts = {
        .hwm = (int) window + 16, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    if (s_secure (self, &front_opts, &compute_opts) != 0)
        goto fail;
    *exit_code = PS_EXIT_FAIL;
    const char *data_dir = ps_service_opt (service, "data-dir");
    char err[512];
    ps_journal_config_t jconfig = {data_dir, self->id, (size_t) max_mb << 20};
    if (!(self->journal = ps_journal_open (&jconfig, err, sizeof err))) {
        ps_error ("cannot open the journal", "dir=%s reason=\"%s\"", data_dir, err);
        goto fail;
    }
    ps_ingest_config_t config = {self->id, (size_t) max_producers, (size_t) max_series};
    ps_group_config_t gconfig = {commit_ms, commit_batches};
    ps_forward_config_t fconfig = {self->id, (uint32_t) window, (int) sync_ms, PS_MAX_ENTRY};
    self->ingest = ps_ingest_new (&config, self->journal);
    self->acks = ps_ackq_new ();
    self->group = ps_group_new (&gconfig);
    self->forward = ps_forward_new (&fconfig, self->journal, s_send_compute, s_dropped, self);
    if (!self->ingest || !self->acks || !self->group || !self->forward)
        goto fail;
    ps_ingest_set_access (self->ingest, self->access);
    void *ctx = ps_service_ctx (service);
    self->front = ps_sock_new (ctx, ZMQ_ROUTER, ps_service_opt (service, "bind"), true, &front_opts);
    self->compute =
        ps_sock_new (ctx, ZMQ_DEALER, ps_service_opt (service, "compute"), false, &compute_opts);
    if (!self->front || !self->compute || ps_service_ops (service, s_collect, s_ready, self) != 0)
        goto fail;
    ps_service_on_reload (service, s_reload, self);
    return self;
fail:
    ps_ingest_server_destroy (&self);
    return NULL;
}

void ps_ingest_server_destroy (ps_ingest_server_t **self_p)
{
    ps_ingest_server_t *self = *self_p;
    if (!self)
        return;
    ps_sock_destroy (&self->front);
    ps_sock_destroy (&self->compute);
    for (int i = 0; i < MAX_ENVELOPE + 2; i++)
        zmq_msg_close (&self->parts[i]);
    ps_forward_destroy (&self->forward);
    ps_group_destroy (&self->group);
    ps_ackq_destroy (&self->acks);
    ps_ingest_destroy (&self->ingest);
    ps_journal_destroy (&self->journal);
    ps_access_destroy (&self->access);
    free (self);
    *self_p = NULL;
}
