/*  ps_checkpoint: a store saved and loaded into a fresh engine is the same
    store, cell for cell (aggregates, presence counters, currencies,
    journal positions), and every topic is published again; a missing
    checkpoint is "none", a damaged one a clear error. */

#include "test_tmpdir.h"

#include "test_compute_util.h"

#include <inttypes.h>
#include <sys/stat.h>

#include "ps_checkpoint.h"
#include "ps_datadir.h"
#include "ps_upstream.h"

typedef struct {
    char dir[64];
    ps_datadir_t *datadir;
    ps_engine_t *engine;
    ps_upstream_t *upstream;
    char path[128];
} s_fixture_t;

static int s_setup (void **state)
{
    static s_fixture_t f;
    memset (&f, 0, sizeof f);
    t_tmpdir_new (f.dir, "checkpoint");
    char err[256];
    f.datadir = ps_datadir_open (f.dir, err, sizeof err);
    assert_non_null (f.datadir);
    f.engine = ps_engine_new (NULL, 1);
    f.upstream = ps_upstream_new ();
    assert_non_null (f.engine);
    assert_non_null (f.upstream);
    snprintf (f.path, sizeof f.path, "%s/checkpoint", f.dir);
    *state = &f;
    return 0;
}

static int s_teardown (void **state)
{
    s_fixture_t *f = *state;
    ps_engine_destroy (&f->engine);
    ps_upstream_destroy (&f->upstream);
    ps_datadir_destroy (&f->datadir);
    t_tmpdir_remove (f->dir);
    return 0;
}

static int s_cmp_str (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

/*  One line per cell, sorted: its topic and everything a report changed. */
static char *s_describe (const ps_engine_t *engine)
{
    const ps_cells_t *cells = ps_engine_cells (engine);
    uint32_t n = ps_cells_count (cells);
    char **lines = calloc (n + 1, sizeof *lines);
    assert_non_null (lines);
    size_t total = 1;
    for (uint32_t id = 1; id <= n; id++) {
        const ps_cell_t *c = ps_cells_at (cells, id);
        char topic[PS_TOPIC_MAX + 1];
        ps_cells_topic (cells, &c->key, topic);
        ps_key_t series = c->key;
        series.period = 0;
        uint32_t sid = ps_cells_series_find (cells, &series);
        assert_true (sid > 0);
        char line[PS_TOPIC_MAX + 200];
        snprintf (line, sizeof line,
                  "%s rep=%" PRId64 "/%" PRId64 " agg=%" PRId64 "/%" PRId64
                  " leaves=%u miss=%u/%u flags=%u cur=%u\n",
                  topic, c->rep_count, c->rep_amount, c->count, c->amount, c->nleaves,
                  c->nmiss_count, c->nmiss_amount,
                  c->flags & (PS_CELL_REPORTED | PS_CELL_HAS_COUNT | PS_CELL_HAS_AMOUNT),
                  ps_cells_series_at (cells, sid)->currency);
        lines[id - 1] = strdup (line);
        total += strlen (line);
    }
    qsort (lines, n, sizeof *lines, s_cmp_str);
    char *out = calloc (1, total);
    for (uint32_t i = 0; i < n; i++) {
        strcat (out, lines[i]);
        free (lines[i]);
    }
    free (lines);
    return out;
}

/*  Saves, loads into a fresh engine and upstream, and checks both are
    what was saved. */
static void s_round_trip (s_fixture_t *f)
{
    char err[512];
    ps_checkpoint_stats_t saved, loaded;
    assert_int_equal (
        ps_checkpoint_save (f->datadir, f->engine, f->upstream, &saved, err, sizeof err), 0);
    ps_engine_t *engine = ps_engine_new (NULL, 2);
    ps_upstream_t *upstream = ps_upstream_new ();
    int rc = ps_checkpoint_load (f->datadir, engine, upstream, &loaded, err, sizeof err);
    if (rc != 0)
        fail_msg ("load: %s", err);
    assert_int_equal (loaded.cells, saved.cells);
    assert_int_equal (loaded.series, saved.series);
    assert_int_equal (loaded.bytes, saved.bytes);

    char *want = s_describe (f->engine), *got = s_describe (engine);
    assert_string_equal (got, want);
    free (want);
    free (got);

    size_t cursor = 0;
    const char *ingest;
    uint64_t journal, applied;
    const void *route;
    size_t route_len;
    while (
        ps_upstream_next (f->upstream, &cursor, &ingest, &journal, &applied, &route, &route_len)) {
        ps_position_t pos;
        assert_int_equal (ps_upstream_position (upstream, ingest, false, &pos), 0);
        assert_true (pos.journal == journal && pos.applied == applied && pos.ckpt == applied);
    }
    assert_false (ps_upstream_changed (upstream));

    /* Every topic is published again after the load. */
    t_capture_t before = {0}, after = {0};
    ps_engine_dirty_all (f->engine);
    t_flush (f->engine, &before);
    t_flush (engine, &after);
    assert_int_equal (after.n, before.n);
    char **a = calloc (before.n + 1, sizeof *a), **b = calloc (after.n + 1, sizeof *b);
    for (size_t i = 0; i < before.n; i++) {
        a[i] = before.items[i].topic;
        b[i] = after.items[i].topic;
    }
    qsort (a, before.n, sizeof *a, s_cmp_str);
    qsort (b, after.n, sizeof *b, s_cmp_str);
    for (size_t i = 0; i < before.n; i++)
        assert_string_equal (a[i], b[i]);
    free (a);
    free (b);
    t_capture_clear (&before);
    t_capture_clear (&after);
    ps_engine_destroy (&engine);
    ps_upstream_destroy (&upstream);
}

static void test_none (void **state)
{
    s_fixture_t *f = *state;
    char err[256];
    assert_int_equal (
        ps_checkpoint_load (f->datadir, f->engine, f->upstream, NULL, err, sizeof err), 1);
}

/*  Adds, sets, measures dropped by an add that lacked them, several
    currencies, dims and rollups: all come back exactly. */
static void test_round_trip (void **state)
{
    s_fixture_t *f = *state;
    t_add (f->engine, "CMI", "2012-07-15", "card=domestic,channel=web", 10, 1000);
    t_add (f->engine, "CMI", "2012-07-15", "card=domestic,channel=web", 5, 500);
    t_add (f->engine, "CMI", "2012-08", "card=foreign,channel=web", 3, 300);
    t_set (f->engine, "CMI", "2012-08", "card=foreign,channel=web", 7, 900);
    t_add (f->engine, "CMI", "2012", NULL, 1, NONE);
    t_add (f->engine, "OC", "2013-Q2", "channel=abroad", NONE, 250);
    /* A count-only add to a cell with both measures drops the amount, and
       an amount-only add to another drops the count: values stay. */
    t_add (f->engine, "GW", "2011", "shop=a", 4, 40);
    t_add (f->engine, "GW", "2011", "shop=a", 1, NONE);
    t_add (f->engine, "GW", "2011", "shop=b", 4, 40);
    t_add (f->engine, "GW", "2011", "shop=b", NONE, 5);
    ps_report_t eur = t_report ("EU", "2012", "k=v", 2, 20, "EUR", PS_OP_ADD);
    ps_error_t err;
    assert_int_equal (ps_engine_apply (f->engine, &eur, &err), 0);
    /* A series that had an amount keeps its currency after a set without. */
    t_add (f->engine, "ST", "2012", NULL, 1, 10);
    t_set (f->engine, "ST", "2012", NULL, 3, NONE);
    ps_upstream_check (f->upstream, "ingest-1", 77, 1, "r", 1);
    ps_upstream_applied (f->upstream, "ingest-1", 1);
    ps_upstream_restore (f->upstream, "ingest-2", 99, 12345);
    s_round_trip (f);

    /* The currency rule survived: ST/2012 is MAD, an EUR report is refused. */
    ps_engine_t *engine = ps_engine_new (NULL, 3);
    ps_upstream_t *upstream = ps_upstream_new ();
    char why[256];
    assert_int_equal (ps_checkpoint_load (f->datadir, engine, upstream, NULL, why, sizeof why), 0);
    ps_report_t st = t_report ("ST", "2013", NULL, 1, 1, "EUR", PS_OP_ADD);
    assert_int_equal (ps_engine_apply (engine, &st, &err), -1);
    assert_int_equal (err.code, PS_E_CURRENCY_MISMATCH);
    ps_engine_destroy (&engine);
    ps_upstream_destroy (&upstream);
}

static void test_empty_round_trip (void **state)
{
    s_fixture_t *f = *state;
    s_round_trip (f);
}

/*  Writes the checkpoint of a small store and returns its bytes. */
static uint8_t *s_saved (s_fixture_t *f, size_t *len)
{
    t_add (f->engine, "CMI", "2012-07", "card=domestic", 10, 1000);
    t_add (f->engine, "CMI", "2012-08", "card=foreign", 3, 300);
    ps_upstream_restore (f->upstream, "ingest-1", 5, 42);
    char err[256];
    assert_int_equal (
        ps_checkpoint_save (f->datadir, f->engine, f->upstream, NULL, err, sizeof err), 0);
    FILE *fp = fopen (f->path, "rb");
    assert_non_null (fp);
    struct stat st;
    assert_int_equal (fstat (fileno (fp), &st), 0);
    *len = (size_t) st.st_size;
    uint8_t *data = malloc (*len);
    assert_int_equal (fread (data, 1, *len, fp), *len);
    fclose (fp);
    return data;
}

static void s_write_file (const char *path, const uint8_t *data, size_t len)
{
    FILE *fp = fopen (path, "wb");
    assert_non_null (fp);
    assert_int_equal (fwrite (data, 1, len, fp), len);
    fclose (fp);
}

/*  Loads the file as it is now into a fresh engine; expects an error
    containing WANT. */
static void s_expect_error (s_fixture_t *f, const char *want)
{
    ps_engine_t *engine = ps_engine_new (NULL, 2);
    ps_upstream_t *upstream = ps_upstream_new ();
    char err[512] = "";
    assert_int_equal (ps_checkpoint_load (f->datadir, engine, upstream, NULL, err, sizeof err), -1);
    if (!strstr (err, want))
        fail_msg ("error '%s' does not say '%s'", err, want);
    assert_non_null (strstr (err, f->path));
    ps_engine_destroy (&engine);
    ps_upstream_destroy (&upstream);
}

static void test_damaged (void **state)
{
    s_fixture_t *f = *state;
    size_t len;
    uint8_t *data = s_saved (f, &len);
    uint8_t *copy = malloc (len + 1);

    /* Cut at every length short of whole: never loaded, never a crash. */
    for (size_t cut = 0; cut < len; cut++) {
        s_write_file (f->path, data, cut);
        s_expect_error (f, cut < 24 ? "truncated" : "truncated: ");
    }
    /* Any single flipped byte of the payload fails the checksum. */
    for (size_t at = 24; at < len; at++) {
        memcpy (copy, data, len);
        copy[at] ^= 0x20;
        s_write_file (f->path, copy, len);
        s_expect_error (f, "checksum mismatch");
    }
    memcpy (copy, data, len);
    copy[len] = 0;
    s_write_file (f->path, copy, len + 1);
    s_expect_error (f, "1 bytes after its data");
    memcpy (copy, data, len);
    copy[0] = 'X';
    s_write_file (f->path, copy, len);
    s_expect_error (f, "is not a paystat checkpoint");
    memcpy (copy, data, len);
    copy[11] = 9;
    s_write_file (f->path, copy, len);
    s_expect_error (f, "format version 9; this compute reads version 1");

    /* The intact file still loads. */
    s_write_file (f->path, data, len);
    char err[256];
    ps_engine_t *engine = ps_engine_new (NULL, 2);
    ps_upstream_t *upstream = ps_upstream_new ();
    assert_int_equal (ps_checkpoint_load (f->datadir, engine, upstream, NULL, err, sizeof err), 0);
    ps_engine_destroy (&engine);
    ps_upstream_destroy (&upstream);
    free (copy);
    free (data);
}

/*  A failed save leaves the previous checkpoint in place. */
static void test_failed_save_keeps_previous (void **state)
{
    s_fixture_t *f = *state;
    size_t len;
    uint8_t *data = s_saved (f, &len);
    char tmp[128];
    snprintf (tmp, sizeof tmp, "%s/checkpoint.tmp", f->dir);
    assert_int_equal (mkdir (tmp, 0755), 0); /* the temporary file cannot be created */
    t_add (f->engine, "NEW", "2012", NULL, 1, 1);
    char err[256];
    assert_int_equal (
        ps_checkpoint_save (f->datadir, f->engine, f->upstream, NULL, err, sizeof err), -1);
    assert_non_null (strstr (err, "checkpoint.tmp"));
    rmdir (tmp);
    ps_engine_t *engine = ps_engine_new (NULL, 2);
    ps_upstream_t *upstream = ps_upstream_new ();
    assert_int_equal (ps_checkpoint_load (f->datadir, engine, upstream, NULL, err, sizeof err), 0);
    assert_non_null (t_cell (engine, "CMI", "2012", "card=*"));
    assert_null (t_cell (engine, "NEW", "2012", NULL));
    ps_engine_destroy (&engine);
    ps_upstream_destroy (&upstream);
    free (data);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_none, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_empty_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_save_keeps_previous, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
