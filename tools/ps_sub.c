/*  ps_sub: feed subscriber and "paystat sub"; see ps_sub.h. */

#include "ps_sub.h"
#include "ps_cli.h"
#include "ps_clock.h"
#include "ps_log.h"
#include "ps_msgjson.h"
#include "ps_proto.h"
#include "ps_send.h"
#include "ps_signal.h"
#include "ps_sock.h"
#include "ps_table.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* A live table is redrawn at most this often. */
#define S_REDRAW_MS 250

struct ps_sub_t {
    ps_client_t *client;
};

ps_sub_t *ps_sub_new (void *ctx, const char *feed, const char *snapshot, char **prefixes,
                      int nprefixes, int rcvhwm, const ps_client_curve_t *curve)
{
    ps_sub_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    ps_client_opts_t opts = {.feed = feed, .snapshot = snapshot, .rcvhwm = rcvhwm, .curve = curve};
    self->client = ps_client_new (ctx, &opts);
    if (!self->client)
        goto err;
    for (int i = 0; i < nprefixes; i++)
        if (ps_client_subscribe (self->client, prefixes[i]) != 0) {
            ps_error ("prefix longer than a topic", "prefix=\"%.40s...\"", prefixes[i]);
            goto err;
        }
    if (ps_client_connect (self->client) != 0)
        goto err;
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
    ps_client_destroy (&self->client);
    free (self);
    *self_p = NULL;
}

ps_client_t *ps_sub_client (ps_sub_t *self)
{
    return self->client;
}

/* {"topic": TOPIC} plus the given fields; NULL when out of memory. */
static json_t *s_object (const char *topic, size_t topic_len)
{
    json_t *obj = json_object ();
    if (obj && json_object_set_new (obj, "topic", json_stringn (topic, topic_len)) != 0) {
        json_decref (obj);
        return NULL;
    }
    return obj;
}

/* The JSON object of event EV, or NULL (logged) when its body is unreadable. */
static json_t *s_json (const ps_client_event_t *ev)
{
    ps_error_t err;
    json_t *obj = NULL;
    switch (ev->type) {
    case PS_CLIENT_UPDATE:
    case PS_CLIENT_HEARTBEAT:
        obj = ps_msgjson_feed (ev->topic, ev->topic_len, ev->body, ev->body_len, &err);
        if (!obj)
            ps_warn ("skipped an unreadable message", "topic=\"%.*s\" reason=\"%s\"",
                     (int) (ev->topic_len > 200 ? 200 : ev->topic_len), ev->topic, err.reason);
        return obj;
    case PS_CLIENT_REMOVED:
        obj = s_object (ev->topic, ev->topic_len);
        json_object_set_new (obj, "type", json_string ("removed"));
        return obj;
    case PS_CLIENT_RESYNC:
        obj = s_object ("$resync", 7);
        json_object_set_new (obj, "reason", json_string (ev->reason));
        return obj;
    case PS_CLIENT_SYNCED:
        obj = s_object ("$synced", 7);
        json_object_set_new (obj, "epoch", json_integer ((json_int_t) ev->epoch));
        json_object_set_new (obj, "seq", json_integer ((json_int_t) ev->seq));
        json_object_set_new (obj, "topics", json_integer ((json_int_t) ev->topics));
        return obj;
    case PS_CLIENT_HEARTBEAT_LOST:
        return s_object ("$heartbeat_lost", 15);
    case PS_CLIENT_REFUSED: {
        /* The client library has logged it too (stderr). */
        size_t skip = strlen (PS_TOPIC_HB_PREFIX);
        obj = s_object ("$refused", 8);
        json_object_set_new (obj, "prefix", json_stringn (ev->topic + skip, ev->topic_len - skip));
        json_object_set_new (obj, "reason", json_string (ev->reason));
        return obj;
    }
    }
    return NULL;
}

int ps_sub_recv (ps_sub_t *self, int timeout_ms, ps_client_event_type_t *type, json_t **msg)
{
    int64_t deadline = timeout_ms < 0 ? -1 : ps_clock_ms () + timeout_ms;
    for (;;) {
        if (ps_signal_stop ())
            return -1;
        long wait = deadline < 0 ? -1 : (long) (deadline - ps_clock_ms ());
        if (deadline >= 0 && wait < 0)
            wait = 0;
        ps_client_event_t ev;
        int rc = ps_client_next (self->client, (int) wait, &ev);
        if (rc < 0 && errno == EINTR)
            continue; /* a signal other than a stop, or a stop seen above */
        if (rc <= 0)
            return rc;
        *type = ev.type;
        *msg = s_json (&ev);
        if (*msg)
            return 1;
    }
}

/* ---- Command line ------------------------------------------------------- */

static ps_option_t s_options[] = {
    {"feed", "PAYSTAT_FEED", "tcp://127.0.0.1:7404", "publish's feed endpoint (SUB, connected)",
     false, NULL},
    {"snapshot", "PAYSTAT_SNAPSHOT", "tcp://127.0.0.1:7405",
     "publish's snapshot endpoint (DEALER, connected)", false, NULL},
    {"count", NULL, "0", "exit after this many topic messages (0: no limit)", false, NULL},
    {"timeout-ms", NULL, "0", "exit after this long without a topic message (0: never)", false,
     NULL},
    {"table", NULL, NULL, "latest values per topic as a table (live on a terminal)", true, NULL},
    {"heartbeats", NULL, NULL, "also print the prefix heartbeats that confirm the view", true,
     NULL},
    {"rcvhwm", NULL, "100000", "feed messages queued in this client before publish drops some",
     false, NULL},
    {"curve-secret", "PAYSTAT_CURVE_SECRET", NULL,
     "this subscriber's CURVE key pair (NAME.key_secret), for a secured publish", false, NULL},
    {"publish-key", "PAYSTAT_PUBLISH_KEY", NULL,
     "publish's public key (NAME.key): CURVE on the feed and snapshot, needs --curve-secret", false,
     NULL},
    PS_CLI_LOG_OPTION,
    PS_OPTION_END};

static const char *s_description =
    "Keeps an exact view of the topics that start with one of the PREFIXes (none:\n"
    "every topic) and prints each change as one JSON object per line:\n"
    "{\"topic\": ..., <every field of the MessagePack body>}, or {\"topic\": ...,\n"
    "\"type\": \"removed\"}. Topics are <source>/<period>/<dim>=<value>,... (CMI/2012/\n"
    "is the year 2012 only, CMI/2012- its quarters, months and days),\n"
    "$ratio/<name>/<period> and $reject.\n"
    "It starts from a snapshot of the current state, then follows the feed. When it\n"
    "cannot prove its view exact (a missed message, a publish restart, silence) it\n"
    "resyncs by itself and says so: {\"topic\": \"$resync\", \"reason\": ...} (gap,\n"
    "digest, epoch, silence), then the topics that changed or left, then\n"
    "{\"topic\": \"$synced\", \"epoch\", \"seq\", \"topics\"}. Applying every line in\n"
    "order gives the current view.\n"
    "Runs until SIGINT unless --count or --timeout-ms says otherwise.\n"
    "--table shows one row per topic instead (count, amount, average ticket, growth\n"
    "on a year, shares), redrawn in place on a terminal; when stdout is not a\n"
    "terminal the table is printed once, at exit.\n"
    "\n"
    "Exit status: 0 (also after SIGINT), 2 usage, 3 feed socket error.";

static void s_draw (ps_table_t *table, ps_sub_t *sub, const char *feed, uint64_t count)
{
    ps_client_stats_t stats;
    ps_client_stats (ps_sub_client (sub), &stats);
    fputs ("\033[H\033[2J", stdout);
    printf ("paystat sub: %s, %llu messages, %llu resyncs%s (Ctrl-C to quit)\n\n", feed,
            (unsigned long long) count, (unsigned long long) stats.resyncs,
            ps_client_synced (ps_sub_client (sub)) ? "" : ", resyncing");
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
    long count_max, timeout_ms, rcvhwm;
    if (ps_cli_log_init (s_options, program) != 0 ||
        ps_config_long (s_options, "count", 0, LONG_MAX, &count_max) != 0 ||
        ps_config_long (s_options, "timeout-ms", 0, INT32_MAX, &timeout_ms) != 0 ||
        ps_config_long (s_options, "rcvhwm", 1, 100000000, &rcvhwm) != 0)
        return PS_EXIT_USAGE;
    bool heartbeats = ps_config_flag (s_options, "heartbeats");
    bool as_table = ps_config_flag (s_options, "table");
    bool live = as_table && isatty (fileno (stdout));
    const char *feed = ps_config_get (s_options, "feed")->value;
    const char *snapshot = ps_config_get (s_options, "snapshot")->value;
    ps_client_curve_t curve;
    char err[600];
    int curve_rc =
        ps_client_curve_load (&curve, ps_config_get (s_options, "curve-secret")->value,
                              ps_config_get (s_options, "publish-key")->value, err, sizeof err);
    if (curve_rc < 0) {
        fprintf (stderr, "%s: %s\n", program, err);
        return PS_EXIT_USAGE;
    }

    ps_signal_install ();
    void *ctx = zmq_ctx_new ();
    ps_sub_t *sub = ctx ? ps_sub_new (ctx, feed, snapshot, argv + first, argc - first, (int) rcvhwm,
                                      curve_rc == 0 ? &curve : NULL)
                        : NULL;
    memset (&curve, 0, sizeof curve);
    ps_table_t *table = as_table ? ps_table_new () : NULL;
    int status = PS_EXIT_OK;
    if (!sub || (as_table && !table)) {
        fprintf (stderr, "%s: cannot subscribe to %s and %s\n", program, feed, snapshot);
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
        ps_client_event_type_t type = 0;
        rc = ps_sub_recv (sub, (int) wait, &type, &msg);
        if (rc < 0) {
            status = ps_signal_stop () ? PS_EXIT_OK : PS_EXIT_UNREACHABLE;
            break;
        }
        now = ps_clock_ms ();
        bool data = rc > 0 && (type == PS_CLIENT_UPDATE || type == PS_CLIENT_REMOVED);
        if (data) {
            last_msg = now;
            count++;
        }
        if (data && table) {
            ps_table_update (table, msg);
            dirty = live;
        } else if (rc > 0 && !table && (heartbeats || type != PS_CLIENT_HEARTBEAT)) {
            json_dumpf (msg, stdout, JSON_COMPACT);
            fputc ('\n', stdout);
            fflush (stdout);
        }
        json_decref (msg);
        if (ferror (stdout))
            break; /* the reader went away */
        if (dirty && now - last_draw >= S_REDRAW_MS) {
            s_draw (table, sub, feed, count);
            last_draw = now;
            dirty = false;
        }
        if (rc == 0 && timeout_ms > 0 && now - last_msg >= timeout_ms)
            break;
    }
    if (live)
        s_draw (table, sub, feed, count);
    else if (table)
        ps_table_print (table, stdout);
done:
    ps_table_destroy (&table);
    ps_sub_destroy (&sub);
    if (ctx)
        zmq_ctx_term (ctx);
    return status;
}
