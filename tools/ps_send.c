/*  ps_send: "paystat send"; see ps_send.h. */

#include "ps_send.h"
#include "ps_cli.h"
#include "ps_clock.h"
#include "ps_security.h"
#include "ps_signal.h"
#include "ps_sock.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* The progress bar appears past this many rows, and redraws this often. */
#define S_PROGRESS_ROWS 10000
#define S_PROGRESS_MS   200
#define S_BAR_WIDTH     30

typedef struct {
    const char *name; /* file name in messages */
    FILE *err;
    bool progress;  /* stderr is a terminal and the caller wants a bar */
    bool bar_shown; /* a bar is on the current stderr line */
    int64_t last_draw;
    uint64_t size; /* input bytes when known, else 0 */
    uint64_t rejected;
} s_reporter_t;

static void s_clear_bar (s_reporter_t *r)
{
    if (r->bar_shown) {
        fputs ("\r\033[K", r->err);
        r->bar_shown = false;
    }
}

static void s_print_reject (s_reporter_t *r, uint64_t line, const char *field, const char *reason,
                            const char *code)
{
    s_clear_bar (r);
    fprintf (r->err, "%s:%" PRIu64 ": %s: %s (%s)\n", r->name, line,
             field && *field ? field : "batch", reason, code);
    r->rejected++;
}

static void s_on_reject (void *arg, uint64_t line, const ps_error_t *error)
{
    s_print_reject (arg, line, error->field, error->reason, ps_error_code_name (error->code));
}

static void s_draw_bar (s_reporter_t *r, uint64_t rows, uint64_t offset)
{
    if (!r->progress || rows <= S_PROGRESS_ROWS)
        return;
    int64_t now = ps_clock_ms ();
    if (now - r->last_draw < S_PROGRESS_MS)
        return;
    r->last_draw = now;
    if (r->size > 0) {
        int pct = (int) (offset * 100 / r->size);
        int fill = pct * S_BAR_WIDTH / 100;
        fprintf (r->err, "\r[%.*s%*s] %3d%%  %" PRIu64 " rows", fill,
                 "##############################", S_BAR_WIDTH - fill, "", pct, rows);
    } else
        fprintf (r->err, "\r%" PRIu64 " rows", rows);
    fflush (r->err);
    r->bar_shown = true;
}

static FILE *s_open (const char *path, const char *program, uint64_t *size)
{
    FILE *file = strcmp (path, "-") == 0 ? stdin : fopen (path, "r");
    if (!file) {
        fprintf (stderr, "%s: cannot open '%s': %s\n", program, path, strerror (errno));
        return NULL;
    }
    struct stat st;
    *size = (fstat (fileno (file), &st) == 0 && S_ISREG (st.st_mode)) ? (uint64_t) st.st_size : 0;
    return file;
}

int ps_send_run (void *ctx, const ps_send_job_t *job, FILE *out)
{
    const char *program = "paystat send";
    s_reporter_t r = {strcmp (job->path, "-") == 0 ? "stdin" : job->path,
                      stderr,
                      job->progress && isatty (fileno (stderr)),
                      false,
                      0,
                      0,
                      0};
    FILE *file = s_open (job->path, program, &r.size);
    if (!file)
        return PS_EXIT_USAGE;
    int status = PS_EXIT_OK;
    ps_input_t *input = ps_input_new (file, job->format);
    ps_sender_t *sender = input ? ps_sender_new (ctx, &job->sender, s_on_reject, &r) : NULL;
    if (!sender) {
        fprintf (stderr, "%s: cannot start sending to %s\n", program, job->sender.endpoint);
        status = PS_EXIT_USAGE;
        goto done;
    }
    uint64_t rows = 0;
    ps_report_t report;
    ps_input_error_t err;
    uint64_t line;
    bool reading = true, sending = true;
    while (reading && sending) {
        switch (ps_input_next (input, &report, &line, &err)) {
        case PS_INPUT_ROW:
            rows++;
            sending = ps_sender_add (sender, &report, line) == 0;
            break;
        case PS_INPUT_BAD_ROW:
            rows++;
            s_print_reject (&r, err.line, err.field, err.reason, ps_error_code_name (err.code));
            break;
        case PS_INPUT_FATAL:
            s_clear_bar (&r);
            if (ps_signal_stop ())
                status = PS_EXIT_INTERRUPTED;
            else {
                fprintf (stderr, "%s:%" PRIu64 ": %s: %s (%s)\n", r.name, err.line, err.field,
                         err.reason, ps_error_code_name (err.code));
                status = PS_EXIT_USAGE;
            }
            reading = false;
            break;
        case PS_INPUT_END:
            reading = false;
            break;
        }
        s_draw_bar (&r, rows, ps_input_offset (input));
    }
    /* What was read is still sent and accounted for after a read error. */
    if (sending)
        sending = ps_sender_flush (sender) == 0;
    s_clear_bar (&r);
    const ps_sender_stats_t *st = ps_sender_stats (sender);
    if (!sending) {
        fprintf (stderr, "%s: %s\n", program, ps_sender_error (sender));
        if (status == PS_EXIT_OK)
            status = ps_signal_stop () ? PS_EXIT_INTERRUPTED : PS_EXIT_UNREACHABLE;
    }
    if (st->duplicate_rows > 0)
        fprintf (stderr,
                 "%s: note: %" PRIu64 " rows were in batches ingest had already applied "
                 "(producer %s, same seq): counted as accepted, their per-row results are "
                 "those of the earlier attempt\n",
                 program, st->duplicate_rows, job->sender.producer);
    /* A file refused outright (unreadable header) has nothing to sum up. */
    if (status == PS_EXIT_USAGE && rows == 0)
        goto done;
    fprintf (out,
             "sent %" PRIu64 ", accepted %" PRIu64 ", rejected %" PRIu64 " (batches %" PRIu64
             ", retries %" PRIu64 ")\n",
             rows, st->accepted, r.rejected, st->batches, st->retries);
    fflush (out);
    if (status == PS_EXIT_OK && r.rejected > 0)
        status = PS_EXIT_REJECTED;
done:
    ps_sender_destroy (&sender);
    ps_input_destroy (&input);
    if (file != stdin)
        fclose (file);
    return status;
}

/* ---- Command line ------------------------------------------------------- */

static ps_option_t s_options[] = {
    {"ingest", "PAYSTAT_INGEST", "tcp://127.0.0.1:7401", "ingest endpoint (DEALER, connected)",
     false, NULL},
    {"format", NULL, NULL, "csv or jsonl (default: from the file name, see above)", false, NULL},
    {"batch-size", NULL, "500",
     "reports per batch (1..10000; cut shorter rather than let a batch exceed 4 MiB)", false,
     NULL},
    {"window", NULL, "4", "batches in flight before waiting for acks (1..64)", false, NULL},
    {"timeout-ms", NULL, "3000", "wait this long for an ack, then reconnect and resend", false,
     NULL},
    {"retries", NULL, "5", "reconnections in a row without an answer before giving up", false,
     NULL},
    {"producer", NULL, NULL,
     "producer id [A-Za-z0-9_.:-]{1,64} (default <host>-<pid>-<ms>; with a key NAME.key_secret, "
     "NAME:<host>-<pid>-<ms>)",
     false, NULL},
    {"first-seq", NULL, "1", "sequence number of the first batch", false, NULL},
    {"no-progress", NULL, NULL, "no progress bar even when stderr is a terminal", true, NULL},
    {"curve-secret", "PAYSTAT_CURVE_SECRET", NULL,
     "this producer's secret key file (paystat keygen): CURVE to ingest", false, NULL},
    {"ingest-key", "PAYSTAT_INGEST_KEY", NULL, "ingest's public key file (with --curve-secret)",
     false, NULL},
    PS_CLI_LOG_OPTION,
    PS_OPTION_END};

static const char *s_description =
    "Sends the reports of FILE (- for standard input) to paystat-ingest and waits\n"
    "for every acknowledgement.\n"
    "\n"
    "CSV: a header row source,period,<dimension columns...>,count,amount,currency,op\n"
    "(any order; every other column is a dimension; an empty cell means no such\n"
    "dimension, no count, no amount; an empty op means add). Lines starting with #\n"
    "and blank lines are skipped.\n"
    "The format is --format, else JSON lines for names ending in .jsonl, .ndjson or\n"
    ".json, else CSV (also for -).\n"
    "JSON lines: one object per line, e.g. {\"source\":\"CMI\",\"period\":\"2012\",\n"
    "\"dims\":{\"card\":\"domestic\"},\"count\":670000,\"amount\":\"507.40\",\"currency\":\"MAD\","
    "\n"
    "\"op\":\"set\"}; dims may also be [\"card=domestic\"].\n"
    "Amounts are in MAJOR units (752.30 MAD) and are converted exactly; a JSON\n"
    "amount must be a string or an integer, never a real.\n"
    "\n"
    "Each rejected row is printed on stderr as FILE:LINE: field: reason (code), then\n"
    "a summary on stdout: sent N, accepted A, rejected R (batches B, retries T).\n"
    "Batches that get no ack within --timeout-ms are sent again on a new connection\n"
    "with the same producer and seq, which ingest deduplicates.\n"
    "\n"
    "CURVE: with --curve-secret and --ingest-key the connection is encrypted and\n"
    "authenticated; ingest lets only listed keys in, and takes batches from a key\n"
    "only under its own name as producer (NAME or NAME:anything): the default\n"
    "producer id starts with the name of the key file (NAME.key_secret). A key\n"
    "ingest refuses, or a CURVE setting that does not match ingest's, ends the\n"
    "send at once with the reason; a wrong --ingest-key gets no answer at all.\n"
    "\n"
    "Exit status: 0 all accepted, 1 some rows rejected, 2 usage or unreadable input,\n"
    "3 ingest unreachable or refusing the handshake, 130 interrupted.";

static int s_check_producer (const char *id)
{
    size_t len = strlen (id);
    if (len == 0 || len > PS_ID_MAX ||
        strspn (id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") != len) {
        fprintf (stderr,
                 "paystat send: invalid --producer '%s': 1 to %d characters of "
                 "[A-Za-z0-9_.:-]\n",
                 id, PS_ID_MAX);
        return -1;
    }
    return 0;
}

/*  Sets CURVE up in OPTS from --curve-secret and --ingest-key (both or
    neither). Returns the keys' holder, or NULL after printing why. */
static ps_security_t *s_secure (void *ctx, ps_sock_opts_t *opts)
{
    const char *program = "paystat send";
    const char *secret = ps_config_get (s_options, "curve-secret")->value;
    const char *ingest_key = ps_config_get (s_options, "ingest-key")->value;
    char err[512];
    ps_security_t *security = ps_security_new (ctx, secret, err, sizeof err);
    if (!security)
        fprintf (stderr, "%s: --curve-secret: %s\n", program, err);
    else if (ps_security_client (security, "ingest-key", ingest_key, opts, err, sizeof err) != 0)
        fprintf (stderr, "%s: %s\n", program, err);
    else if (ps_security_on (security) && !opts->curve)
        fprintf (stderr, "%s: --curve-secret needs --ingest-key: ingest's public key\n", program);
    else
        return security;
    ps_security_destroy (&security);
    return NULL;
}

/*  The producer id when none is given: <host>-<pid>-<ms>, unique per run
    since each run numbers its batches from 1; with a key, prefixed by the
    key's name (NAME.key_secret), the only producer ids ingest takes from it. */
static void s_default_producer (char *buf)
{
    char suffix[PS_ID_MAX + 1];
    ps_sender_default_producer (suffix);
    const char *secret = ps_config_get (s_options, "curve-secret")->value;
    const char *base = secret ? strrchr (secret, '/') : NULL;
    base = base ? base + 1 : secret;
    size_t len = base ? strlen (base) : 0;
    const char *ext = ".key_secret";
    size_t name =
        len > strlen (ext) && strcmp (base + len - strlen (ext), ext) == 0 ? len - strlen (ext) : 0;
    if (name == 0 || name > PS_ID_MAX - 16) {
        memcpy (buf, suffix, strlen (suffix) + 1);
        return;
    }
    /* Short of room, the suffix keeps its end, -<pid>-<ms>, what makes it unique. */
    size_t keep = strlen (suffix), room = PS_ID_MAX - name - 1;
    const char *tail = suffix + (keep > room ? keep - room : 0);
    memcpy (buf, base, name);
    buf[name] = ':';
    memcpy (buf + name + 1, tail, strlen (tail) + 1);
}

int ps_send_main (int argc, char **argv)
{
    const char *program = "paystat send";
    int first;
    int rc =
        ps_config_parse (s_options, argc, argv, program, "[options] FILE|-", s_description, &first);
    if (rc != 0)
        return rc > 0 ? PS_EXIT_OK : PS_EXIT_USAGE;
    if (ps_cli_log_init (s_options, program) != 0)
        return PS_EXIT_USAGE;
    if (argc - first != 1) {
        fprintf (stderr, "%s: expected one FILE (or - for standard input), see --help\n", program);
        return PS_EXIT_USAGE;
    }
    ps_send_job_t job;
    memset (&job, 0, sizeof job);
    job.path = argv[first];
    job.progress = !ps_config_flag (s_options, "no-progress");
    const char *format = ps_config_get (s_options, "format")->value;
    if (!format)
        job.format = ps_input_format_guess (job.path);
    else if (ps_input_format_parse (format, &job.format) != 0) {
        fprintf (stderr, "%s: invalid --format '%s': must be csv or jsonl\n", program, format);
        return PS_EXIT_USAGE;
    }
    long batch_size, window, timeout_ms, retries, first_seq;
    if (ps_config_long (s_options, "batch-size", 1, PS_MAX_REPORTS, &batch_size) != 0 ||
        ps_config_long (s_options, "window", 1, 64, &window) != 0 ||
        ps_config_long (s_options, "timeout-ms", 1, 3600000, &timeout_ms) != 0 ||
        ps_config_long (s_options, "retries", 0, 1000, &retries) != 0 ||
        ps_config_long (s_options, "first-seq", 1, LONG_MAX, &first_seq) != 0)
        return PS_EXIT_USAGE;
    char producer[PS_ID_MAX + 1];
    const char *id = ps_config_get (s_options, "producer")->value;
    if (!id) {
        s_default_producer (producer);
        id = producer;
    }
    if (s_check_producer (id) != 0)
        return PS_EXIT_USAGE;
    job.sender = (ps_sender_config_t){ps_config_get (s_options, "ingest")->value,
                                      id,
                                      (uint64_t) first_seq,
                                      (uint32_t) batch_size,
                                      (uint32_t) window,
                                      (int) timeout_ms,
                                      (int) retries,
                                      NULL};
    ps_signal_install ();
    void *ctx = zmq_ctx_new ();
    if (!ctx) {
        fprintf (stderr, "%s: cannot create a ZeroMQ context: %s\n", program, zmq_strerror (errno));
        return PS_EXIT_USAGE;
    }
    ps_sock_opts_t curve = {.linger_ms = 0};
    ps_security_t *security = s_secure (ctx, &curve);
    int status = PS_EXIT_USAGE;
    if (security) {
        job.sender.curve = curve.curve ? &curve : NULL;
        status = ps_send_run (ctx, &job, stdout);
    }
    ps_security_destroy (&security);
    zmq_ctx_term (ctx);
    return status;
}
