/*  paystat-ingest: the front door. Producers send report batches to a
    ROUTER; each is validated (ps_ingest) and, when accepted, written to
    the journal (ps_journal); acks go out once their group of batches is
    committed (ps_ackq). Compute pulls the journal's entries over a DEALER
    (ps_delivery). With CURVE on (--curve-secret), only producers whose
    keys are listed get through the handshake (ps_security), each sends
    as its key's producer id only and writes the sources --access grants
    it (ps_ingest); SIGHUP re-reads both lists. */

#include "ps_ackq.h"
#include "ps_config.h"
#include "ps_delivery.h"
#include "ps_ingest.h"
#include "ps_journal.h"
#include "ps_log.h"
#include "ps_ops.h"
#include "ps_proto.h"
#include "ps_security.h"
#include "ps_sock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <zmq.h>

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
    {"http", "PAYSTAT_INGEST_HTTP", "127.0.0.1:9101",
     "address of /metrics, /healthz and /readyz (\"off\" for none)", false, NULL},
    {"curve-secret", "PAYSTAT_INGEST_CURVE_SECRET", NULL,
     "ingest's secret key file (paystat keygen): CURVE on every socket it binds", false, NULL},
    {"producer-keys", "PAYSTAT_PRODUCER_KEYS", NULL,
     "producers allowed in: a directory of NAME.key files or a \"NAME KEY\" list file", false,
     NULL},
    {"access", "PAYSTAT_ACCESS", NULL,
     "sources each producer key may write: lines \"NAME SOURCE...\" (\"*\" = all)", false, NULL},
    {"compute-key", "PAYSTAT_COMPUTE_KEY", NULL,
     "compute's public key file: CURVE on the link to compute", false, NULL},
    {"log-level", "PAYSTAT_LOG_LEVEL", "info", "debug, info, warn or error", false, NULL},
    PS_OPTION_END};

typedef struct {
    void *front;
    void *compute;
    const char *id;
    ps_journal_t *journal;
    ps_ingest_t *ingest;
    ps_delivery_t *delivery;
    ps_ackq_t *acks;
    long commit_ms;
    long commit_batches;
    int64_t group_since; /* ms when the pending commit became due, -1 when none is */
    long group_batches;  /* acks held for it */
    bool blocked;        /* compute's socket is full: wait until it is writable */
    msgpack_sbuffer out;
    ps_ops_t *ops;
    ps_security_t *security;
    ps_access_t *access; /* --access, NULL without */
    const char *access_path;
    uint64_t commits;
    int64_t last_commit_us;
    zmq_msg_t parts[MAX_ENVELOPE + 2];
    char ready_why[400]; /* /readyz's reason while delivery is stuck */
} s_server_t;

/* ---- Towards compute ------------------------------------------------------ */

static void s_hello (s_server_t *server, int64_t now)
{
    ps_hello_t hello = {"", ps_journal_id (server->journal), ps_journal_first (server->journal),
                        ps_journal_durable (server->journal)};
    snprintf (hello.ingest, sizeof hello.ingest, "%s", server->id);
    msgpack_sbuffer_clear (&server->out);
    if (ps_hello_encode (&hello, &server->out) == 0 &&
        zmq_send (server->compute, server->out.data, server->out.size, ZMQ_DONTWAIT) >= 0)
        ps_debug ("hello", "first=%" PRIu64 " head=%" PRIu64, hello.first, hello.head);
    ps_delivery_hello_sent (server->delivery, now);
}

/*  Says loudly that delivery is stuck at JSEQ: a new refusal as an
    error, its repeats (one per resend) throttled. */
static void s_log_stuck (s_server_t *server, bool news)
{
    const char *why;
    uint64_t jseq = ps_delivery_stuck (server->delivery, &why);
    if (news)
        ps_error ("journal entry refused; compute gets nothing after it until it is fixed "
                  "(docs/durability.md)",
                  "ingest=%s jseq=%" PRIu64 " reason=\"%s\"", server->id, jseq, why);
    else
        ps_log_every (PS_LOG_ERROR, 10, "journal entry still refused; compute is stuck",
                      "ingest=%s jseq=%" PRIu64 " reason=\"%s\"", server->id, jseq, why);
}

static int s_send_entry (void *arg, uint64_t jseq, const void *frame, size_t size)
{
    s_server_t *server = arg;
    if (ps_delivery_next (server->delivery, ps_journal_first (server->journal),
                          ps_journal_durable (server->journal)) == 0)
        return 1;
    if (size > PS_MAX_ENTRY) {
        /* Written by a build that accepted more: compute would refuse it. */
        ps_error_t e;
        ps_limit_error (&e, "entry", size, PS_MAX_ENTRY);
        s_log_stuck (server, ps_delivery_refused (server->delivery, jseq, e.reason));
        ps_delivery_sent (server->delivery, jseq);
        return 1;
    }
    if (zmq_send (server->compute, frame, size, ZMQ_DONTWAIT) < 0) {
        server->blocked = errno == EAGAIN;
        if (!server->blocked)
            ps_error ("cannot send to compute", "error=\"%s\"", zmq_strerror (errno));
        return 1;
    }
    ps_delivery_sent (server->delivery, jseq);
    return 0;
}

/*  Sends the committed entries compute may take now. */
static void s_pump (s_server_t *server)
{
    if (server->blocked)
        return;
    uint64_t next = ps_delivery_next (server->delivery, ps_journal_first (server->journal),
                                      ps_journal_durable (server->journal));
    if (next && ps_journal_read (server->journal, next, s_send_entry, server) < 0)
        ps_error ("cannot read the journal", "reason=\"%s\"", ps_journal_error (server->journal));
}

static void s_end_group (s_server_t *server, const char *refuse_reason);

static void s_on_position (s_server_t *server, const ps_position_t *pos,
                           const ps_refusal_t *refusal)
{
    if (!ps_delivery_position (server->delivery, pos, ps_clock_ms ())) {
        ps_debug ("ignored a position about another journal", "journal=%" PRIu64, pos->journal);
        return;
    }
    uint64_t durable = ps_journal_durable (server->journal);
    if (pos->resend && pos->applied > durable) {
        /* The journal lost its tail (restored from an old copy?): number
           new entries after what compute has, or it would skip them. */
        ps_error ("compute has applied entries this journal does not hold",
                  "applied=%" PRIu64 " head=%" PRIu64, pos->applied, durable);
        /* Uncommitted entries got numbers compute has: take them back. */
        if (ps_journal_head (server->journal) > durable) {
            ps_journal_abort (server->journal);
            s_end_group (server, "ingest renumbers its journal; retry later");
        }
        ps_journal_skip (server->journal, pos->applied);
    }
    if (pos->resend)
        ps_debug ("compute asks to resend", "from=%" PRIu64, pos->applied + 1);
    if (refusal->jseq)
        s_log_stuck (server,
                     ps_delivery_refused (server->delivery, refusal->jseq, refusal->reason));
    ps_journal_confirm (server->journal, ps_delivery_ckpt (server->delivery));
}

static void s_read_positions (s_server_t *server)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, server->compute, ZMQ_DONTWAIT) >= 0) {
        ps_position_t pos;
        ps_refusal_t refusal;
        ps_error_t err, answer, aerr;
        if (zmq_msg_more (&msg))
            ps_log_every (PS_LOG_WARN, 10, "ignored a multipart frame from compute", NULL);
        else if (ps_position_decode_refusal (zmq_msg_data (&msg), zmq_msg_size (&msg), &pos,
                                             &refusal, &err) == 0)
            s_on_position (server, &pos, &refusal);
        else if (ps_refusal_decode (zmq_msg_data (&msg), zmq_msg_size (&msg), &answer, &aerr) == 0)
            ps_log_every (PS_LOG_ERROR, 10,
                          "compute refuses this ingest's journal: nothing of it is applied",
                          "journal=%" PRIu64 " code=%s reason=\"%s\"",
                          ps_journal_id (server->journal), ps_err_name (answer.code),
                          answer.reason);
        else
            ps_log_every (PS_LOG_WARN, 10, "ignored a malformed position", "reason=\"%s\"",
                          err.reason);
    }
    zmq_msg_close (&msg);
}

/* ---- Producers -------------------------------------------------------------- */

/*  Sends the acks the group held. With REFUSE_REASON the group was
    dropped: the state in memory goes back to the journal's and every ack
    becomes retry_later with that reason. */
static void s_end_group (s_server_t *server, const char *refuse_reason)
{
    if (refuse_reason)
        ps_ingest_reload (server->ingest);
    if (server->front)
        ps_ackq_flush (server->acks, server->front, server->ingest, refuse_reason);
    server->group_since = -1;
    server->group_batches = 0;
}

/*  Commits the journal's group and sends the acks it held. */
static void s_commit (s_server_t *server)
{
    int64_t start = ps_clock_us ();
    int rc = ps_journal_commit (server->journal);
    server->last_commit_us = ps_clock_us () - start;
    server->commits++;
    if (rc == 0) {
        s_end_group (server, NULL);
        return;
    }
    ps_error ("journal commit failed; refusing its batches", "batches=%zu reason=\"%s\"",
              ps_ackq_size (server->acks), ps_journal_error (server->journal));
    s_end_group (server, "ingest could not make this batch durable; retry later");
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

/*  Handles one producer message. Returns -1 when none was waiting. */
static int s_handle (s_server_t *server)
{
    int n = ps_sock_recv_parts (server->front, server->parts, MAX_ENVELOPE + 2);
    if (n <= 0) {
        if (n == 0)
            ps_log_every (PS_LOG_WARN, 10, "discarded a message with too many frames", NULL);
        return n;
    }
    /* A REQ peer puts an empty delimiter before the body; a DEALER need not. */
    zmq_msg_t *body = &server->parts[n - 1];
    /* A key revoked since its handshake has its batches refused from now on. */
    char name[PS_CURVE_NAME_MAX + 1];
    bool allowed = ps_security_peer (server->security, PS_DOMAIN_PRODUCERS, body, name);
    const char *key = !ps_security_on (server->security) ? NULL : allowed ? name : "";
    ps_ingest_receive (server->ingest, key, zmq_msg_data (body), zmq_msg_size (body));
    const msgpack_sbuffer *ack = ps_ingest_ack (server->ingest);
    if (!ps_journal_pending (server->journal)) {
        s_reply (server, n, ack);
        return 0;
    }
    if (ps_ackq_push (server->acks, server->parts, n - 1, ps_ingest_producer (server->ingest),
                      ps_ingest_seq (server->ingest), ack->data, ack->size) != 0)
        ps_error ("out of memory holding an ack; the producer will resend", NULL);
    server->group_batches++;
    return 0;
}

/* ---- Keys and permissions -------------------------------------------------- */

/*  Sets CURVE up as the options say: on the producers' socket (FRONT),
    on the link to compute (COMPUTE), and the access file. Returns 0, or
    -1 with the reason, naming the option, in ERR. */
static int s_secure (s_server_t *server, void *ctx, ps_sock_opts_t *front, ps_sock_opts_t *compute,
                     char *err, size_t errlen)
{
    char why[448];
    const char *secret = ps_config_get (s_options, "curve-secret")->value;
    if (!(server->security = ps_security_new (ctx, secret, why, sizeof why))) {
        snprintf (err, errlen, "--curve-secret: %s", why);
        return -1;
    }
    if (ps_security_server (server->security, PS_DOMAIN_PRODUCERS, "producer-keys",
                            ps_config_get (s_options, "producer-keys")->value, front, err,
                            errlen) != 0 ||
        ps_security_client (server->security, "compute-key",
                            ps_config_get (s_options, "compute-key")->value, compute, err,
                            errlen) != 0)
        return -1;
    const char *access = ps_config_get (s_options, "access")->value;
    if (access && *access) {
        if (!ps_security_on (server->security)) {
            snprintf (err, errlen,
                      "--access needs --curve-secret: permissions belong to authenticated keys");
            return -1;
        }
        if (!(server->access = ps_access_load (access, why, sizeof why))) {
            snprintf (err, errlen, "--access: %s", why);
            return -1;
        }
        server->access_path = access;
        ps_info ("access loaded", "access=%s keys=%zu", access, ps_access_size (server->access));
    }
    ps_security_check_bind (server->security, "bind", ps_config_get (s_options, "bind")->value);
    return 0;
}

/*  SIGHUP: re-reads the producers' keys and the access file, all or
    nothing, so that a file caught half-edited never leaves half a policy
    in force. Connections stay; a revoked key's next batch is refused. */
static void s_reload (s_server_t *server)
{
    if (!ps_security_on (server->security)) {
        ps_info ("SIGHUP: CURVE is off, nothing to reload", NULL);
        return;
    }
    char err[512];
    ps_access_t *access = NULL;
    if (server->access_path && !(access = ps_access_load (server->access_path, err, sizeof err))) {
        ps_error ("reload failed; the keys and permissions in force stay",
                  "option=--access reason=\"%s\"", err);
        return;
    }
    if (ps_security_reload (server->security, err, sizeof err) != 0) {
        ps_access_destroy (&access);
        ps_error ("reload failed; the keys and permissions in force stay",
                  "option=--producer-keys reason=\"%s\"", err);
        return;
    }
    if (access) {
        ps_ingest_set_access (server->ingest, access);
        ps_access_destroy (&server->access);
        server->access = access;
        ps_info ("access reloaded", "access=%s keys=%zu", server->access_path,
                 ps_access_size (access));
    }
}

/* ---- Loop ---------------------------------------------------------------- */

/*  Commits when the group is due. */
static void s_maybe_commit (s_server_t *server, int64_t now)
{
    if (!ps_journal_pending (server->journal))
        return;
    if (server->group_since < 0)
        server->group_since = now;
    if (now - server->group_since >= server->commit_ms ||
        server->group_batches >= server->commit_batches)
        s_commit (server);
}

/*  One round: commit, send, hello, then wait for input up to the next
    deadline. FRONT false leaves the producers' socket alone. */
static void s_round (s_server_t *server, bool front)
{
    int64_t now = ps_clock_ms ();
    s_maybe_commit (server, now);
    s_pump (server);
    if (ps_delivery_hello_due (server->delivery, now))
        s_hello (server, now);
    int64_t timeout = ps_delivery_hello_wait (server->delivery, now);
    if (ps_journal_pending (server->journal)) {
        int64_t due = server->group_since < 0 ? 0 : server->group_since + server->commit_ms - now;
        timeout = due < timeout ? due : timeout;
    }
    zmq_pollitem_t items[3] = {
        {server->compute, 0, (short) (ZMQ_POLLIN | (server->blocked ? ZMQ_POLLOUT : 0)), 0}};
    int nitems = 1, ifront = -1;
    if (front) {
        ifront = nitems;
        items[nitems++] = (zmq_pollitem_t){server->front, 0, ZMQ_POLLIN, 0};
    }
    if (server->ops)
        items[nitems++] = (zmq_pollitem_t){NULL, ps_ops_fd (server->ops), ZMQ_POLLIN, 0};
    long wait = ps_ops_timeout_ms (server->ops, timeout < 0 ? 0 : (long) timeout);
    int n = zmq_poll (items, nitems, wait);
    ps_ops_run (server->ops);
    if (n <= 0)
        return;
    if (items[0].revents & ZMQ_POLLOUT)
        server->blocked = false;
    if (items[0].revents & ZMQ_POLLIN)
        s_read_positions (server);
    if (ifront >= 0 && (items[ifront].revents & ZMQ_POLLIN))
        for (int i = 0; i < S_FRONT_MAX && server->group_batches < server->commit_batches; i++)
            if (s_handle (server) < 0)
                break;
}

/* ---- Operations endpoints ------------------------------------------------ */

static void s_collect (void *arg, ps_metrics_t *m)
{
    s_server_t *server = arg;
    const ps_ingest_stats_t *st = ps_ingest_stats (server->ingest);
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
    for (int code = 1; code < PS_E__COUNT; code++) {
        char labels[64];
        snprintf (labels, sizeof labels, "reason=\"%s\"", ps_err_name ((ps_err_t) code));
        ps_metrics_counter (m, "paystat_ingest_reports_rejected_total",
                            "Reports rejected, by error code.", labels, st->rejected_by_code[code]);
    }
    ps_metrics_gauge (m, "paystat_ingest_journal_bytes", "Bytes of journal entries retained.", NULL,
                      (double) ps_journal_bytes (server->journal));
    ps_metrics_gauge (m, "paystat_ingest_journal_max_bytes", "Bound on the retained journal.", NULL,
                      (double) ps_journal_max_bytes (server->journal));
    ps_metrics_gauge (m, "paystat_ingest_journal_head", "Last journal position made durable.", NULL,
                      (double) ps_journal_durable (server->journal));
    ps_metrics_gauge (m, "paystat_ingest_compute_applied",
                      "Last journal position compute has applied.", NULL,
                      (double) ps_delivery_applied (server->delivery));
    ps_metrics_gauge (m, "paystat_ingest_compute_checkpointed",
                      "Last journal position covered by compute's checkpoint.", NULL,
                      (double) ps_delivery_ckpt (server->delivery));
    ps_metrics_gauge (m, "paystat_ingest_commit_last_seconds",
                      "Duration of the last journal group commit.", NULL,
                      server->last_commit_us / 1e6);
    ps_metrics_counter (m, "paystat_ingest_commits_total", "Journal group commits.", NULL,
                        server->commits);
    ps_metrics_counter (m, "paystat_ingest_batches_oversize_total",
                        "Batches refused for their size (over PS_MAX_BATCH, answered \"limit\").",
                        NULL, st->oversize);
    ps_metrics_counter (m, "paystat_ingest_entries_refused_total",
                        "Times a journal entry was refused on its way to compute (each resend).",
                        NULL, ps_delivery_refusals (server->delivery));
    ps_metrics_gauge (m, "paystat_ingest_delivery_stuck_jseq",
                      "Journal position delivery is stuck at (0: not stuck).", NULL,
                      (double) ps_delivery_stuck (server->delivery, NULL));
    if (ps_security_on (server->security)) {
        const char *help = "CURVE handshakes on the producers' socket, by result.";
        ps_metrics_counter (m, "paystat_ingest_curve_handshakes_total", help, "result=\"admitted\"",
                            ps_security_admitted (server->security));
        ps_metrics_counter (m, "paystat_ingest_curve_handshakes_total", help, "result=\"refused\"",
                            ps_security_refused (server->security));
    }
}

static const char *s_ready (void *arg)
{
    s_server_t *server = arg;
    /* The journal is open and the front door bound before the loop runs:
       only a refused entry makes ingest unready. */
    const char *why;
    uint64_t jseq = ps_delivery_stuck (server->delivery, &why);
    if (!jseq)
        return NULL;
    snprintf (server->ready_why, sizeof server->ready_why,
              "journal entry refused, nothing after it reaches compute: ingest=%s jseq=%" PRIu64
              ": %s",
              server->id, jseq, why);
    return server->ready_why;
}

/*  Waits up to DRAIN_MS for compute to apply every committed entry. They
    are safe in the journal either way; this only spares a replay. */
static void s_drain (s_server_t *server, long drain_ms)
{
    int64_t deadline = ps_clock_ms () + drain_ms;
    while (ps_delivery_applied (server->delivery) < ps_journal_durable (server->journal) &&
           ps_clock_ms () < deadline)
        s_round (server, false);
    if (ps_delivery_applied (server->delivery) < ps_journal_durable (server->journal))
        ps_info ("compute has not applied every entry yet; they stay in the journal",
                 "head=%" PRIu64 " applied=%" PRIu64, ps_journal_durable (server->journal),
                 ps_delivery_applied (server->delivery));
    if (ps_journal_commit (server->journal) != 0)
        ps_warn ("last journal commit failed", "reason=\"%s\"", ps_journal_error (server->journal));
}

int main (int argc, char **argv)
{
    int first;
    int rc = ps_config_parse (s_options, argc, argv, "paystat-ingest", "[options]",
                              "Receives report batches from producers, validates every report, "
                              "writes the accepted ones to\nits journal and acknowledges each "
                              "batch once it is durable; compute pulls the journal.\n"
                              "SIGINT/SIGTERM: stop taking batches, ack those already "
                              "received, wait (--drain-ms)\nfor compute to apply the journal, "
                              "exit 0.\nSIGHUP: re-read --producer-keys and --access (all or "
                              "nothing; connections stay).",
                              &first);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (first < argc) {
        fprintf (stderr, "paystat-ingest: unexpected argument '%s' (see --help)\n", argv[first]);
        return 2;
    }
    long max_mb, commit_ms, commit_batches, window, sync_ms, max_producers, max_series, drain_ms;
    ps_log_level_t level;
    if (ps_config_long (s_options, "journal-max-mb", 8, 1L << 30, &max_mb) != 0 ||
        ps_config_long (s_options, "commit-ms", 0, 10000, &commit_ms) != 0 ||
        ps_config_long (s_options, "commit-batches", 1, 100000, &commit_batches) != 0 ||
        ps_config_long (s_options, "window", 1, 100000, &window) != 0 ||
        ps_config_long (s_options, "sync-ms", 1, 3600000, &sync_ms) != 0 ||
        ps_config_long (s_options, "max-producers", 1, 100000000, &max_producers) != 0 ||
        ps_config_long (s_options, "max-series", 1, 100000000, &max_series) != 0 ||
        ps_config_long (s_options, "drain-ms", 0, 3600000, &drain_ms) != 0)
        return 2;
    if (ps_log_level_parse (ps_config_get (s_options, "log-level")->value, &level) != 0) {
        fprintf (stderr, "invalid --log-level: must be debug, info, warn or error\n");
        return 2;
    }
    const char *id = ps_config_get (s_options, "id")->value;
    const char *data_dir = ps_config_get (s_options, "data-dir")->value;
    ps_log_init ("ingest", level);
    ps_signal_install ();
    ps_signal_catch_reload ();

    s_server_t server = {0};
    server.id = id;
    server.commit_ms = commit_ms;
    server.commit_batches = commit_batches;
    server.group_since = -1;
    msgpack_sbuffer_init (&server.out);
    for (int i = 0; i < MAX_ENVELOPE + 2; i++)
        zmq_msg_init (&server.parts[i]);
    void *ctx = zmq_ctx_new ();
    int exit_code = 1;
    char err[512];
    /* Read past the batch limit, to answer an oversize batch "limit". */
    ps_sock_opts_t front_opts = {.hwm = 0, .maxmsgsize = PS_MAX_INPUT, .linger_ms = 0};
    /* Room for the window and the hellos beside it. */
    ps_sock_opts_t compute_opts = {
        .hwm = (int) window + 16, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    if (s_secure (&server, ctx, &front_opts, &compute_opts, err, sizeof err) != 0) {
        fprintf (stderr, "paystat-ingest: %s\n", err);
        exit_code = 2;
        goto done;
    }
    ps_journal_config_t jconfig = {data_dir, id, (size_t) max_mb << 20};
    server.journal = ps_journal_open (&jconfig, err, sizeof err);
    if (!server.journal) {
        ps_error ("cannot open the journal", "dir=%s reason=\"%s\"", data_dir, err);
        goto done;
    }
    ps_ingest_config_t config = {id, (size_t) max_producers, (size_t) max_series};
    ps_delivery_config_t dconfig = {ps_journal_id (server.journal), (uint32_t) window,
                                    (int) sync_ms};
    server.ingest = ps_ingest_new (&config, server.journal);
    server.delivery = ps_delivery_new (&dconfig);
    server.acks = ps_ackq_new ();
    if (server.ingest)
        ps_ingest_set_access (server.ingest, server.access);
    server.front =
        ps_sock_new (ctx, ZMQ_ROUTER, ps_config_get (s_options, "bind")->value, true, &front_opts);
    server.compute = ps_sock_new (ctx, ZMQ_DEALER, ps_config_get (s_options, "compute")->value,
                                  false, &compute_opts);
    if (!server.ingest || !server.delivery || !server.acks || !server.front || !server.compute)
        goto done;
    const char *http = ps_config_get (s_options, "http")->value;
    if (ps_ops_enabled (http) && !(server.ops = ps_ops_new (http, s_collect, s_ready, &server)))
        goto done;
    ps_info ("ready",
             "id=%s data_dir=%s journal=%" PRIu64 " first=%" PRIu64 " head=%" PRIu64
             " confirmed=%" PRIu64 " journal_bytes=%zu",
             id, data_dir, ps_journal_id (server.journal), ps_journal_first (server.journal),
             ps_journal_durable (server.journal), ps_journal_confirmed (server.journal),
             ps_journal_bytes (server.journal));
    while (!ps_signal_stop ()) {
        if (ps_signal_reload ())
            s_reload (&server);
        s_round (&server, true);
    }
    /* Stop taking batches; those received get their acks once durable. */
    s_commit (&server);
    ps_sock_destroy (&server.front);
    s_drain (&server, drain_ms);
    exit_code = 0;
    const ps_ingest_stats_t *st = ps_ingest_stats (server.ingest);
    ps_info ("stopped",
             "batches=%" PRIu64 " journaled=%" PRIu64 " accepted=%" PRIu64 " rejected=%" PRIu64
             " duplicates=%" PRIu64 " retries=%" PRIu64 " head=%" PRIu64 " applied=%" PRIu64
             " checkpointed=%" PRIu64,
             st->batches, st->journaled, st->reports_accepted, st->reports_rejected, st->duplicates,
             st->retries, ps_journal_durable (server.journal),
             ps_delivery_applied (server.delivery), ps_delivery_ckpt (server.delivery));
done:
    ps_ops_destroy (&server.ops);
    ps_sock_destroy (&server.front);
    ps_sock_destroy (&server.compute);
    ps_security_destroy (&server.security);
    ps_access_destroy (&server.access);
    for (int i = 0; i < MAX_ENVELOPE + 2; i++)
        zmq_msg_close (&server.parts[i]);
    ps_ackq_destroy (&server.acks);
    ps_delivery_destroy (&server.delivery);
    ps_ingest_destroy (&server.ingest);
    ps_journal_destroy (&server.journal);
    msgpack_sbuffer_destroy (&server.out);
    zmq_ctx_term (ctx);
    return exit_code;
}
