/*  Compute: which topics a report makes republish, conflation, and frames. */

#include "test_compute_util.h"

#include "ps_log.h"
#include "ps_ratios.h"

static int s_cmp_str (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Asserts the flush published exactly the NULL-terminated WANT topics, once each. */
static void s_expect (const t_capture_t *cap, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    const char **got = calloc (cap->n + 1, sizeof *got);
    for (size_t i = 0; i < cap->n; i++)
        got[i] = cap->items[i].topic;
    qsort (got, cap->n, sizeof *got, s_cmp_str);
    const char **sorted = calloc (n + 1, sizeof *sorted);
    memcpy (sorted, want, n * sizeof *sorted);
    qsort (sorted, n, sizeof *sorted, s_cmp_str);
    for (size_t i = 0; i < cap->n || i < n; i++) {
        const char *g = i < cap->n ? got[i] : "(none)";
        const char *w = i < n ? sorted[i] : "(none)";
        if (strcmp (g, w) != 0) {
            for (size_t j = 0; j < cap->n; j++)
                print_message ("published: %s\n", got[j]);
            fail_msg ("published %s where %s was expected", g, w);
        }
    }
    free (got);
    free (sorted);
}

static void test_changed_cells_at_every_level (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "CMI", "2012-07-15", "card=a", 1, 10);
    t_flush (f->e, &f->cap);
    s_expect (&f->cap, (const char *const[]){"CMI/2012-07-15/card=a", "CMI/2012-07-15/card=*",
                                             "CMI/2012-07/card=a", "CMI/2012-07/card=*",
                                             "CMI/2012-Q3/card=a", "CMI/2012-Q3/card=*",
                                             "CMI/2012/card=a", "CMI/2012/card=*", NULL});
    assert_int_equal (f->cap.epoch, T_ENGINE_EPOCH);
    /* nothing changed since: nothing to publish */
    assert_false (ps_engine_pending (f->e));
    t_flush (f->e, &f->cap);
    assert_int_equal (f->cap.n, 0);
    assert_int_equal (f->cap.frames, 0);
}

static void test_next_period_and_next_year (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "S", "2012-02-29", NULL, 1, NONE);
    t_add (f->e, "S", "2012-03-01", NULL, 1, NONE);
    t_add (f->e, "S", "2013-02-28", NULL, 1, NONE);
    t_add (f->e, "S", "2013-03-01", NULL, 1, NONE);
    t_add (f->e, "S", "2011-12-31", NULL, 1, NONE);
    t_flush (f->e, &f->cap);
    t_add (f->e, "S", "2012-02-29", NULL, 1, NONE);
    t_flush (f->e, &f->cap);
    /* Feb 29 and what it rolls into; the next day (pop); February's next
       month (pop) and next year's February (yoy), and 2013-03 (ytd yoy:
       its base is 2012-01..03); Q1's and 2012's next year. Not
       2013-02-28: Feb 29 has no next-year day. No 2012-Q2: no such cell. */
    s_expect (&f->cap, (const char *const[]){"S/2012-02-29/", "S/2012-02/", "S/2012-Q1/", "S/2012/",
                                             "S/2012-03-01/", "S/2012-03/", "S/2013-02/",
                                             "S/2013-03/", "S/2013-Q1/", "S/2013/", NULL});
}

static void test_ytd_dependents (void **state)
{
    t_engine_fixture_t *f = *state;
    char period[16];
    for (int y = 2011; y <= 2013; y++)
        for (int m = 1; m <= 12; m++) {
            snprintf (period, sizeof period, "%d-%02d", y, m);
            t_add (f->e, "S", period, NULL, 1, NONE);
        }
    t_flush (f->e, &f->cap);
    t_add (f->e, "S", "2012-10", NULL, 1, NONE);
    t_flush (f->e, &f->cap);
    /* 2012-10 and what rolls up; 2012-11, -12 (ytd; 11 also pop); 2013-10..12
       (yoy, ytd yoy); Q4 2012's next quarter Q1 2013 (pop) and Q4 2013 (yoy);
       2013 (yoy of 2012). Not earlier months, not 2011, not other quarters. */
    s_expect (&f->cap, (const char *const[]){"S/2012-10/", "S/2012-Q4/", "S/2012/", "S/2012-11/",
                                             "S/2012-12/", "S/2013-10/", "S/2013-11/", "S/2013-12/",
                                             "S/2013-Q1/", "S/2013-Q4/", "S/2013/", NULL});
    t_add (f->e, "S", "2012-Q2", NULL, 1, NONE);
    t_flush (f->e, &f->cap);
    s_expect (&f->cap,
              (const char *const[]){"S/2012-Q2/", "S/2012/", "S/2012-Q3/", "S/2012-Q4/",
                                    "S/2013-Q2/", "S/2013-Q3/", "S/2013-Q4/", "S/2013/", NULL});
}

static void test_sibling_shares (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "CMI", "2012", "card=a,channel=web", 1, NONE);
    t_add (f->e, "CMI", "2012", "card=b,channel=web", 1, NONE);
    t_add (f->e, "CMI", "2012", "card=c,channel=shop", 1, NONE);
    t_add (f->e, "MTC", "2012", "card=d,channel=web", 1, NONE);
    t_flush (f->e, &f->cap);
    t_add (f->e, "CMI", "2012", "card=a,channel=web", 1, NONE);
    t_flush (f->e, &f->cap);
    /* The changed cells, and every cell whose share denominator is one of
       them: card=b under (card=*,channel=web) and (card=*,channel=*);
       card=c,channel=* under (card=*,channel=*); channel=shop under
       (card=*,channel=*) too. Not MTC, not (card=c,channel=shop) whose
       denominators (card=*,channel=shop) and (card=c,channel=*) did not move. */
    s_expect (&f->cap, (const char *const[]){
                           "CMI/2012/card=a,channel=web", "CMI/2012/card=*,channel=web",
                           "CMI/2012/card=a,channel=*", "CMI/2012/card=*,channel=*",
                           "CMI/2012/card=b,channel=web", "CMI/2012/card=b,channel=*",
                           "CMI/2012/card=c,channel=*", "CMI/2012/card=*,channel=shop", NULL});
}

static void test_ratios_follow_their_cells (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "OC", "2012", "channel=abroad", NONE, 7000);
    t_flush (f->e, &f->cap);
    assert_int_equal (t_count (&f->cap, "$ratio/r/2012"), 0);
    t_add (f->e, "OC", "2012", "channel=domestic", NONE, 753);
    t_flush (f->e, &f->cap);
    assert_int_equal (t_count (&f->cap, "$ratio/r/2012"), 1);
    /* a cell the ratio does not read */
    t_add (f->e, "OC", "2012", "channel=other", NONE, 1);
    t_flush (f->e, &f->cap);
    assert_int_equal (t_count (&f->cap, "$ratio/r/2012"), 0);
    /* both sides change in one interval: one message */
    t_add (f->e, "OC", "2012", "channel=abroad", NONE, 1);
    t_add (f->e, "OC", "2012", "channel=domestic", NONE, 1);
    t_add (f->e, "OC", "2012", "channel=abroad", NONE, 1);
    t_flush (f->e, &f->cap);
    assert_int_equal (t_count (&f->cap, "$ratio/r/2012"), 1);
    assert_close (t_double (t_must (&f->cap, "$ratio/r/2012"), "value"), 7002.0 / 754.0);
}

static void test_coarser_periods_first (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "S", "2012-01-01", "card=a", 1, NONE);
    t_add (f->e, "S", "2011-12-31", "card=b", 1, NONE);
    t_flush (f->e, &f->cap);
    t_add (f->e, "S", "2012-01-01", "card=a", 1, NONE); /* existing cells, none new */
    t_add (f->e, "S", "2011-12-31", "card=b", 1, NONE);
    t_flush (f->e, &f->cap);
    assert_int_equal (f->cap.n, 16); /* 2 reports x 4 periods x 2 dim subsets */
    int last = PS_GRAN_YEAR;
    for (size_t i = 0; i < f->cap.n; i++) {
        const msgpack_object *gran = t_get (&f->cap.items[i].body.data, "gran");
        /* "year", "quarter", "month", "day" differ in length */
        int g = gran->via.str.size == 4   ? PS_GRAN_YEAR
                : gran->via.str.size == 7 ? PS_GRAN_QUARTER
                : gran->via.str.size == 5 ? PS_GRAN_MONTH
                                          : PS_GRAN_DAY;
        assert_true (g >= last);
        last = g;
    }
    assert_int_equal (last, PS_GRAN_DAY);
}

static void test_conflation (void **state)
{
    t_engine_fixture_t *f = *state;
    for (int i = 0; i < 1000; i++)
        t_add (f->e, "CMI", "2012-01-01", (i % 2) ? "card=a" : "card=b", 1, 2);
    t_flush (f->e, &f->cap);
    assert_int_equal (f->cap.n, 12); /* 2 leaves + card=* at 4 levels, once each */
    assert_int_equal (t_count (&f->cap, "CMI/2012/card=*"), 1);
    const msgpack_object *m = t_must (&f->cap, "CMI/2012/card=*");
    assert_int_equal (t_int (m, "count"), 1000);
    assert_int_equal (t_int (m, "amount"), 2000);
    assert_close (t_double (t_get (t_get (t_must (&f->cap, "CMI/2012/card=a"), "share"), "card"),
                            "count_pct"),
                  50.0);
}

static void test_frames_are_split (void **state)
{
    t_engine_fixture_t *f = *state;
    char dims[32];
    for (int i = 0; i < 20000; i++) {
        snprintf (dims, sizeof dims, "merchant=m%d", i);
        t_add (f->e, "S", "2012", dims, 1, 1);
    }
    t_flush (f->e, &f->cap);
    assert_int_equal (f->cap.n, 20001);
    assert_true (f->cap.frames > 1);
    assert_true (f->cap.max_frame < PS_ENGINE_FRAME_BYTES + 4096);
    assert_int_equal (t_count (&f->cap, "S/2012/merchant=m19999"), 1);
}

static void test_rejects_are_bounded (void **state)
{
    t_engine_fixture_t *f = *state;
    ps_error_t err = {PS_E_OVERFLOW, "count", "too big"};
    for (int i = 0; i < PS_ENGINE_MAX_REJECTS + 10; i++)
        ps_engine_reject (f->e, "p", 1, (uint32_t) i, &err);
    assert_true (ps_engine_pending (f->e));
    t_flush (f->e, &f->cap);
    assert_int_equal (t_count (&f->cap, "$reject"), PS_ENGINE_MAX_REJECTS);
    t_flush (f->e, &f->cap);
    assert_int_equal (f->cap.n, 0);
}

static int s_failing_emit (void *arg, const void *frame, size_t size)
{
    (void) arg;
    (void) frame;
    (void) size;
    return -1;
}

static void test_emit_failure (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "S", "2012", NULL, 1, NONE);
    assert_int_equal (ps_engine_flush (f->e, s_failing_emit, NULL), -1);
    assert_false (ps_engine_pending (f->e));
    /* the next change publishes normally */
    t_add (f->e, "S", "2012", NULL, 1, NONE);
    t_flush (f->e, &f->cap);
    assert_int_equal (t_int (t_must (&f->cap, "S/2012/"), "count"), 2);
}

int main (void)
{
    ps_log_init ("test", PS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_changed_cells_at_every_level, t_engine_setup,
                                         t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_next_period_and_next_year, t_engine_setup,
                                         t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_ytd_dependents, t_engine_setup, t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_sibling_shares, t_engine_setup, t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_ratios_follow_their_cells, t_engine_setup,
                                         t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_coarser_periods_first, t_engine_setup,
                                         t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_conflation, t_engine_setup, t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_frames_are_split, t_engine_setup, t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_rejects_are_bounded, t_engine_setup,
                                         t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_emit_failure, t_engine_setup, t_engine_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
