/*  ps_sub: feed subscriber and "paystat sub"; see ps_sub.h. */

#include "ps_sub.h"
#include "ps_cli.h"
#include "ps_log.h"
#include "ps_msgjson.h"
#include "ps_proto.h"
#include "ps_send.h"
#include "ps_sock.h"
#include "ps_strmap.h"
#include "ps_table.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* Feed messages a subscriber may queue before publish drops them for it. */
#define S_SUB_HWM 100000
/* A live table is redrawn at most this often. */
#define S_REDRAW_MS 250

struct ps_sub_t {
    void *sock;
    ps_strmap_t *last_seq; /* topic -> seq of its latest message, for holes */
    int64_t epoch;         /* publish epoch the seqs belong to, -1 before any */
};

ps_sub_t *ps_sub_new (void *ctx, const char *endpoint, char **prefixes, int nprefixes,
                      bool heartbeats)
{
    ps_sub_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->epoch = -1;
    ps_sock_opts_t opts = {S_SUB_HWM, PS_MAX_FRAME, 0};
    self->last_seq = ps_strmap_new ();
    self->sock = ps_sock_new (ctx, ZMQ_SUB, endpoint, false, &opts);
    if (!self->last_seq || !self->sock)
        goto err;
    for (int i = 0; i < nprefixes; i++)
        zmq_setsockopt (self->sock, ZMQ_SUBSCRIBE, prefixes[i], strlen (prefixes[i]));
    if (nprefixes == 0)
        zmq_setsockopt (self->sock, ZMQ_SUBSCRIBE, "", 0);
    else if (heartbeats)
        zmq_setsockopt (self->sock, ZMQ_SUBSCRIBE, PS_TOPIC_HEARTBEAT, strlen (PS_TOPIC_HEARTBEAT));
    return self;
err:
    ps_sub_destroy (&self);
    return NULL;
}

void ps_sub_destroy (ps_sub_t **self_p)
{
    ps_sub_t *self = *self_p;
    if (!self)
        return;
    ps_sock_destroy (&self->sock);
    ps_strmap_destroy (&self->last_seq);
    free (self);
    *self_p = NULL;
}

bool ps_sub_is_heartbeat (const json_t *msg)
{
    const char *topic = json_string_value (json_object_get (msg, "topic"));
    return topic && strcmp (topic, PS_TOPIC_HEARTBEAT) == 0;
}

/*  Warns when MSG's "prev" is not the seq of the last message seen on its
    topic: publish sent one we did not get (dropped at a high-water mark). */
static void s_track (ps_sub_t *self, json_t *msg)
{
    json_t *seq = json_object_get (msg, "seq"), *prev = json_object_get (msg, "prev");
    json_t *epoch = json_object_get (msg, "epoch");
    const char *topic = json_string_value (json_object_get (msg, "topic"));
    if (!json_is_integer (seq) || !json_is_integer (prev) || !json_is_integer (epoch) || !topic)
        return;
    if (json_integer_value (epoch) != self->epoch) {
        /* A restarted publish numbers from 1 again. */
        ps_strmap_t *fresh = ps_strmap_new ();
        if (!fresh)
            return;
        ps_strmap_destroy (&self->last_seq);
        self->last_seq = fresh;
        self->epoch = json_integer_value (epoch);
    }
    size_t len = strlen (topic);
    bool inserted;
    void **slot = ps_strmap_put (self->last_seq, topic, len, &inserted);
    if (!slot)
        return;
    uintptr_t last = (uintptr_t) *slot;
    if (!inserted && (json_int_t) last != json_integer_value (prev))
        ps_warn ("missed feed messages on a topic", "topic=%s last_seen=%ju prev=%jd", topic,
                 (uintmax_t) last, (intmax_t) json_integer_value (prev));
    *slot = (void *) (uintptr_t) json_integer_value (seq);
}

/*  Reads one whole feed message. Returns 1 with *MSG, 0 when it was
    unreadable (logged), -1 when nothing could be read. */
static int s_read (ps_sub_t *self, json_t **msg)
{
    zmq_msg_t parts[2];
    zmq_msg_init (&parts[0]);
    zmq_msg_init (&parts[1]);
    int nparts = 0;
    int rc = -1;
    bool more = true;
    /* Every part is consumed, even beyond the two of a feed message. */
    while (more) {
        zmq_msg_t *part = &parts[nparts < 2 ? nparts : 1];
        if (zmq_msg_recv (part, self->sock, ZMQ_DONTWAIT) < 0)
            break;
        nparts++;
        more = zmq_msg_more (part);
    }
    if (nparts == 0)
        goto done;
    rc = 0;
    if (nparts != 2 || more) {
        ps_warn ("skipped a feed message that is not [topic, body]", "parts=%d", nparts);
        goto done;
    }
    ps_error_t err;
    const char *topic = zmq_msg_data (&parts[0]);
    size_t topic_len = zmq_msg_size (&parts[0]);
    *msg = ps_msgjson_feed (topic, topic_len, zmq_msg_data (&parts[1]), zmq_msg_size (&parts[1]),
                            &err);
    if (!*msg) {
        ps_warn ("skipped an unreadable feed message", "topic=\"%.*s\" code=%s reason=\"%s\"",
                 (int) (topic_len > 200 ? 200 : topic_len), topic, ps_err_name (err.code),
                 err.reason);
        goto done;
    }
    s_track (self, *msg);
    rc = 1;
done:
    zmq_msg_close (&parts[0]);
    zmq_msg_close (&parts[1]);
    return rc;
}

int ps_sub_recv (ps_sub_t *self, int timeout_ms, json_t **msg)
{
    int64_t deadline = timeout_ms < 0 ? -1 : ps_clock_ms () + timeout_ms;
    for (;;) {
        if (ps_signal_stop ())
            return -1;
        int rc = s_read (self, msg);
        if (rc == 1)
            return 1;
        if (rc == 0)
            continue;
        long wait = -1;
        if (deadline >= 0) {
            wait = (long) (deadline - ps_clock_ms ());
            if (wait <= 0)
                return 0;
        }
        zmq_pollitem_t items[] = {{self->sock, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 1, wait) < 0 && errno != EINTR) {
            ps_error ("cannot poll the feed", "error=\"%s\"", zmq_strerror (errno));
            return -1;
        }
    }
}

/* ---- Command line ------------------------------------------------------- */

static ps_option_t s_options[] = {
    {"feed", "PAYSTAT_FEED", "tcp://127.0.0.1:7404", "publish's feed endpoint (SUB, connected)",
     false, NULL},
    {"count", NULL, "0", "exit after this many messages (0: no limit)", false, NULL},
    {"timeout-ms", NULL, "0", "exit after this long with no message but heartbeats (0: never)",
     false, NULL},
    {"table", NULL, NULL, "latest values per topic as a table (live on a terminal)", true, NULL},
    {"heartbeats", NULL, NULL, "also print heartbeats ($hb)", true, NULL},
    PS_CLI_LOG_OPTION,
    PS_OPTION_END};

static const char *s_description =
    "Subscribes to the paystat feed and prints every message whose topic starts\n"
    "with one of the PREFIXes (none: every topic) as one JSON object per line:\n"
    "{\"topic\": ..., <every field of the MessagePack body>}. Topics are\n"
    "<source>/<period>/<dim>=<value>,... (CMI/2012/ is the year 2012 only, CMI/2012-\n"
    "its quarters, months and days), $ratio/<name>/<period> and $reject.\n"
    "Runs until SIGINT unless --count or --timeout-ms says otherwise.\n"
    "--table shows one row per topic instead (count, amount, average ticket, growth\n"
    "on a year, shares), redrawn in place on a terminal; when stdout is not a\n"
    "terminal the table is printed once, at exit.\n"
    "\n"
    "Exit status: 0 (also after SIGINT), 2 usage, 3 feed socket error.";

static void s_draw (ps_table_t *table, const char *feed, uint64_t count)
{
    fputs ("\033[H\033[2J", stdout);
    printf ("paystat sub: %s, %llu messages (Ctrl-C to quit)\n\n", feed,
            (unsigned long long) count);
    ps_table_print (table, stdout);
    fflush (stdout);
}

int ps_sub_main (int argc, char **argv)
{
    const char *program = "paystat sub";
    int first;
    int rc = ps_config_parse (s_options, argc, argv, program, "[options] [PREFIX...]",
                              s_description, &first);
    if (rc != 0)
        return rc > 0 ? PS_EXIT_OK : PS_EXIT_USAGE;
    long count_max, timeout_ms;
    if (ps_cli_log_init (s_options, program) != 0 ||
        ps_config_long (s_options, "count", 0, LONG_MAX, &count_max) != 0 ||
        ps_config_long (s_options, "timeout-ms", 0, INT32_MAX, &timeout_ms) != 0)
        return PS_EXIT_USAGE;
    bool heartbeats = ps_config_flag (s_options, "heartbeats");
    bool as_table = ps_config_flag (s_options, "table");
    bool live = as_table && isatty (fileno (stdout));
    const char *feed = ps_config_get (s_options, "feed")->value;

    ps_signal_install ();
    void *ctx = zmq_ctx_new ();
    ps_sub_t *sub = ctx ? ps_sub_new (ctx, feed, argv + first, argc - first, heartbeats) : NULL;
    ps_table_t *table = as_table ? ps_table_new () : NULL;
    int status = PS_EXIT_OK;
    if (!sub || (as_table && !table)) {
        fprintf (stderr, "%s: cannot subscribe to %s\n", program, feed);
        status = PS_EXIT_USAGE;
        goto done;
    }
    uint64_t count = 0;
    int64_t last_msg = ps_clock_ms (), last_draw = 0;
    bool dirty = live;
    while (count_max == 0 || count < (uint64_t) count_max) {
        int64_t now = ps_clock_ms ();
        long wait = -1;
        if (timeout_ms > 0)
            wait = (long) (last_msg + timeout_ms - now > 0 ? last_msg + timeout_ms - now : 0);
        if (dirty && (wait < 0 || wait > S_REDRAW_MS))
            wait = S_REDRAW_MS;
        json_t *msg = NULL;
        rc = ps_sub_recv (sub, (int) wait, &msg);
        if (rc < 0) {
            status = ps_signal_stop () ? PS_EXIT_OK : PS_EXIT_UNREACHABLE;
            break;
        }
        now = ps_clock_ms ();
        bool heartbeat = rc > 0 && ps_sub_is_heartbeat (msg);
        if (rc > 0 && !heartbeat)
            last_msg = now;
        if (rc > 0 && (heartbeats || !heartbeat)) {
            count++;
            if (table) {
                ps_table_update (table, msg);
                dirty = live;
            } else {
                json_dumpf (msg, stdout, JSON_COMPACT);
                fputc ('\n', stdout);
                fflush (stdout);
            }
        }
        json_decref (msg);
        if (ferror (stdout))
            break; /* the reader went away */
        if (dirty && now - last_draw >= S_REDRAW_MS) {
            s_draw (table, feed, count);
            last_draw = now;
            dirty = false;
        }
        if (rc == 0 && timeout_ms > 0 && now - last_msg >= timeout_ms)
            break;
    }
    if (live)
        s_draw (table, feed, count);
    else if (table)
        ps_table_print (table, stdout);
done:
    ps_table_destroy (&table);
    ps_sub_destroy (&sub);
    if (ctx)
        zmq_ctx_term (ctx);
    return status;
}
