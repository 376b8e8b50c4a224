/*  ps_enginebench: paystat-compute's work alone, without sockets, and
    the protocol work paystat-publish does on its output.

    Forwarded batch frames of the benchmark's key mix are encoded first;
    then, timed in CPU time of this process, each is decoded (as compute
    does), applied to the engine, and every --flush-every reports the
    engine is flushed into update frames, which are decoded and turned into
    feed bodies (as publish does). It prints each phase's CPU time per
    report, the items published and the memory of the cell store: the
    figures to profile (perf, callgrind) when the pipeline's are noisy. */

#include "ps_config.h"
#include "ps_engine.h"
#include "ps_keymix.h"
#include "ps_log.h"
#include "ps_proto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double s_cpu (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

typedef struct {
    ps_update_item_t *items;
    size_t capacity;
    msgpack_sbuffer body;
    uint64_t seq;
    uint64_t frames;
    uint64_t bytes;
    double seconds; /* CPU time in publish's share of the work */
} s_publish_t;

/* Publish's protocol work on one update frame: decode it, build each
   feed body. */
static int s_emit (void *arg, const void *frame, size_t size)
{
    s_publish_t *pub = arg;
    double t = s_cpu ();
    uint64_t epoch, useq;
    size_t n;
    ps_error_t err;
    if (ps_feed_update_decode (frame, size, &epoch, &useq, &pub->items, &n, &pub->capacity, &err) !=
        0) {
        fprintf (stderr, "ps_enginebench: bad update frame: %s\n", err.reason);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        pub->seq++;
        if (pub->items[i].body_len &&
            ps_feed_body (pub->seq, pub->seq - 1, epoch, pub->items[i].body, pub->items[i].body_len,
                          &pub->body) == 0)
            pub->bytes += pub->body.size;
    }
    pub->frames++;
    pub->seconds += s_cpu () - t;
    return 0;
}

/* Encodes the forwarded frames of reports [FIRST, FIRST + N) of MIX. */
static msgpack_sbuffer *s_frames (const ps_keymix_t *mix, uint64_t first, uint64_t n,
                                  uint32_t batch, size_t *nframes)
{
    size_t count = (size_t) ((n + batch - 1) / batch);
    msgpack_sbuffer *frames = calloc (count ? count : 1, sizeof *frames);
    ps_batch_t *b = ps_batch_new ();
    if (!frames || !b)
        return NULL;
    for (size_t f = 0; f < count; f++) {
        ps_batch_reset (b);
        snprintf (b->producer, sizeof b->producer, "bench");
        b->seq = f + 1;
        snprintf (b->ingest, sizeof b->ingest, "ingest-1");
        b->jseq = f + 1;
        for (uint64_t i = f * (uint64_t) batch; i < n && i < (f + 1) * (uint64_t) batch; i++) {
            ps_report_t r;
            ps_keymix_report (mix, first + i, &r);
            if (ps_batch_append (b, &r, (uint32_t) (i - f * batch)) != 0)
                return NULL;
        }
        msgpack_sbuffer_init (&frames[f]);
        if (ps_batch_encode (b, true, &frames[f]) != 0)
            return NULL;
    }
    ps_batch_destroy (&b);
    *nframes = count;
    return frames;
}

static long s_rss_kb (void)
{
    FILE *f = fopen ("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets (line, sizeof line, f))
        if (sscanf (line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose (f);
    return kb;
}

/* Decodes and applies FRAMES, flushing every FLUSH_EVERY reports. */
static int s_run (ps_engine_t *engine, ps_batch_t *batch, msgpack_sbuffer *frames, size_t n,
                  uint32_t flush_every, s_publish_t *pub, double *decode_s, double *apply_s)
{
    uint64_t since = 0;
    for (size_t f = 0; f < n; f++) {
        ps_error_t err;
        double t0 = s_cpu ();
        if (ps_batch_decode (batch, frames[f].data, frames[f].size, true, &err) != 0) {
            fprintf (stderr, "ps_enginebench: %s\n", err.reason);
            return -1;
        }
        double t1 = s_cpu ();
        ps_engine_apply_batch (engine, batch);
        *decode_s += t1 - t0;
        *apply_s += s_cpu () - t1;
        since += batch->nreports;
        if (since >= flush_every || f + 1 == n) {
            if (ps_engine_flush (engine, s_emit, pub) < 0)
                return -1;
            since = 0;
        }
    }
    return 0;
}

int main (int argc, char **argv)
{
    ps_option_t opts[] = {
        {"reports", NULL, "300000", "reports in the timed pass", false, NULL},
        {"batch", NULL, "500", "reports per forwarded batch", false, NULL},
        {"flush-every", NULL, "5000", "reports applied between two flushes", false, NULL},
        {"sources", NULL, "4", "reporting bodies in the key mix", false, NULL},
        {"days", NULL, "1826", "days of daily totals in the key mix", false, NULL},
        {"order", NULL, "daily", "key mix order: daily or scattered (see ps_keymix.h)", false,
         NULL},
        {"prefill", NULL, NULL, "apply every leaf once (untimed) before the timed pass", true,
         NULL},
        PS_OPTION_END};
    int first;
    int rc = ps_config_parse (opts, argc, argv, "ps_enginebench", "[options]",
                              "paystat-compute's engine alone, and publish's protocol work on its "
                              "output, in CPU time per report.",
                              &first);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    long reports, batch, flush_every, sources, days;
    if (ps_config_long (opts, "reports", 1, 100000000, &reports) ||
        ps_config_long (opts, "batch", 1, PS_MAX_REPORTS, &batch) ||
        ps_config_long (opts, "flush-every", 1, 100000000, &flush_every) ||
        ps_config_long (opts, "sources", 1, 1000, &sources) ||
        ps_config_long (opts, "days", 1, 36500, &days))
        return 2;
    ps_log_init ("enginebench", PS_LOG_WARN);
    const char *order = ps_config_get (opts, "order")->value;
    if (strcmp (order, "daily") != 0 && strcmp (order, "scattered") != 0) {
        fprintf (stderr, "ps_enginebench: --order must be daily or scattered\n");
        return 2;
    }
    ps_keymix_t *mix =
        ps_keymix_new ((uint32_t) sources, (uint32_t) days, 2015,
                       strcmp (order, "daily") ? PS_KEYMIX_SCATTERED : PS_KEYMIX_DAILY);
    bool prefill = ps_config_flag (opts, "prefill");
    uint64_t leaves = mix ? ps_keymix_leaves (mix) : 0;
    size_t npre = 0, ntimed = 0;
    msgpack_sbuffer *pre =
        prefill && mix ? s_frames (mix, 0, leaves, (uint32_t) batch, &npre) : NULL;
    msgpack_sbuffer *timed =
        mix ? s_frames (mix, prefill ? leaves : 0, (uint64_t) reports, (uint32_t) batch, &ntimed)
            : NULL;
    ps_engine_t *engine = ps_engine_new (NULL, 1);
    ps_batch_t *b = ps_batch_new ();
    s_publish_t pub = {0};
    msgpack_sbuffer_init (&pub.body);
    if (!mix || (prefill && !pre) || !timed || !engine || !b) {
        fprintf (stderr, "ps_enginebench: out of memory or key mix out of range\n");
        return 1;
    }
    double decode_s = 0, apply_s = 0;
    long rss0 = s_rss_kb ();
    if (prefill &&
        s_run (engine, b, pre, npre, (uint32_t) flush_every, &pub, &decode_s, &apply_s) != 0)
        return 1;
    long rss1 = s_rss_kb ();
    ps_engine_stats_t before;
    ps_engine_stats (engine, &before);
    pub.seconds = decode_s = apply_s = 0;
    double t0 = s_cpu ();
    if (s_run (engine, b, timed, ntimed, (uint32_t) flush_every, &pub, &decode_s, &apply_s) != 0)
        return 1;
    double total = s_cpu () - t0;
    ps_engine_stats_t st;
    ps_engine_stats (engine, &st);
    double n = (double) reports;
    double flush_s = total - decode_s - apply_s - pub.seconds;
    printf ("reports=%ld\nflush_every=%ld\n", reports, flush_every);
    printf ("compute_us_per_report=%.3f\ndecode_us=%.3f\napply_us=%.3f\nflush_us=%.3f\n",
            (total - pub.seconds) / n * 1e6, decode_s / n * 1e6, apply_s / n * 1e6,
            flush_s / n * 1e6);
    printf ("publish_proto_us_per_report=%.3f\ncompute_reports_per_s=%.0f\n", pub.seconds / n * 1e6,
            n / (total - pub.seconds));
    printf ("items=%" PRIu64 "\nitems_per_report=%.3f\nbody_bytes=%.1f\n", st.items - before.items,
            (double) (st.items - before.items) / n,
            pub.seq ? (double) pub.bytes / (double) pub.seq : 0.0);
    printf ("cells=%" PRIu32 "\nstore_bytes_per_cell=%.1f\nrss_bytes_per_cell=%.1f\n", st.cells,
            st.cells ? (double) st.memory / st.cells : 0.0,
            prefill && st.cells ? (double) (rss1 - rss0) * 1024 / before.cells : 0.0);
    for (size_t i = 0; i < npre; i++)
        msgpack_sbuffer_destroy (&pre[i]);
    for (size_t i = 0; i < ntimed; i++)
        msgpack_sbuffer_destroy (&timed[i]);
    free (pre);
    free (timed);
    free (pub.items);
    msgpack_sbuffer_destroy (&pub.body);
    ps_batch_destroy (&b);
    ps_engine_destroy (&engine);
    ps_keymix_destroy (&mix);
    return 0;
}
