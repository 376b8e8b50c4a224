/*  Compute: retractions (op retract) and the resend of every topic that a
    restarted publish asks for (docs/indicators.md, "Retractions"). */

#include "test_compute_util.h"

#include "ps_log.h"
#include "ps_ratios.h"

static void s_retract (ps_engine_t *e, const char *source, const char *period, const char *dims)
{
    ps_report_t r = t_report (source, period, dims, NONE, NONE, NULL, PS_OP_RETRACT);
    ps_error_t err;
    assert_int_equal (ps_engine_apply (e, &r, &err), 0);
}

/* True when a flush published TOPIC as removed (an empty body). */
static bool s_removed (const t_capture_t *cap, const char *topic)
{
    const msgpack_object *body = t_body (cap, topic);
    return body && body->type == MSGPACK_OBJECT_NIL;
}

static void test_retract_takes_the_value_out_of_every_aggregate (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "S", "2012-05", "card=a", 10, 1000);
    t_add (f->e, "S", "2012-06", "card=b", 5, 700);
    t_add (f->e, "S", "2012-06", "card=b", 1, 1);
    t_flush (f->e, &f->cap);
    s_retract (f->e, "S", "2012-06", "card=b");
    t_flush (f->e, &f->cap);
    /* The cell and the aggregates only it fed are removed ... */
    const char *gone[] = {"S/2012-06/card=b", "S/2012-06/card=*", "S/2012-Q2/card=b",
                          "S/2012/card=b"};
    for (size_t i = 0; i < sizeof gone / sizeof *gone; i++)
        assert_true (s_removed (&f->cap, gone[i]));
    assert_int_equal (t_cell (f->e, "S", "2012-06", "card=b")->nleaves, 0);
    /* ... the others lose its contribution, and are published again. */
    const msgpack_object *year = t_must (&f->cap, "S/2012/card=*");
    assert_int_equal (t_int (year, "count"), 10);
    assert_int_equal (t_int (year, "amount"), 1000);
    assert_int_equal (t_int (t_must (&f->cap, "S/2012-Q2/card=*"), "count"), 10);
    assert_int_equal (t_cell (f->e, "S", "2012", "card=*")->nleaves, 1);
    /* The share of card=a is now the whole. */
    const msgpack_object *share =
        t_get (t_get (t_must (&f->cap, "S/2012/card=a"), "share"), "card");
    assert_close (t_double (share, "count_pct"), 100.0);
}

static void test_retracted_cells_read_as_absent (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "S", "2011-03", "", 50, 5000);
    t_add (f->e, "S", "2012-03", "", 100, 20000);
    t_add (f->e, "S", "2012-02", "", 10, NONE);
    t_flush (f->e, &f->cap);
    const msgpack_object *march = t_must (&f->cap, "S/2012-03/");
    assert_close (t_double (march, "yoy_count_pct"), 100.0);
    assert_true (t_get (march, "ytd_amount") == NULL); /* February has no amount */
    s_retract (f->e, "S", "2011-03", "");
    s_retract (f->e, "S", "2012-02", "");
    t_flush (f->e, &f->cap);
    /* No year-ago base, and February no longer takes the amount away from
       the year to date: as if they had never been reported. */
    march = t_must (&f->cap, "S/2012-03/");
    assert_null (t_get (march, "yoy_count_pct"));
    assert_null (t_get (march, "pop_count_pct"));
    assert_int_equal (t_int (march, "ytd_count"), 100);
    assert_int_equal (t_int (march, "ytd_amount"), 20000);
    assert_true (s_removed (&f->cap, "S/2011/"));
}

static void test_retracted_cell_can_be_reported_again (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "S", "2012", "card=a", 3, NONE);
    s_retract (f->e, "S", "2012", "card=a");
    t_add (f->e, "S", "2012", "card=a", 4, 40);
    t_flush (f->e, &f->cap);
    const msgpack_object *cell = t_must (&f->cap, "S/2012/card=a");
    assert_int_equal (t_int (cell, "count"), 4);
    assert_int_equal (t_int (cell, "amount"), 40); /* the count-only report left with it */
    assert_int_equal (t_cell (f->e, "S", "2012", "card=*")->nleaves, 1);
}

static void test_retracting_nothing_changes_nothing (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "S", "2012-01", "card=a", 1, 1);
    t_flush (f->e, &f->cap);
    s_retract (f->e, "S", "2012", "card=a");     /* an aggregate, never reported itself */
    s_retract (f->e, "S", "2012-01", "card=zz"); /* an unknown value */
    s_retract (f->e, "T", "2012-01", "");        /* an unknown source */
    assert_false (ps_engine_pending (f->e));
    assert_int_equal (t_cell (f->e, "S", "2012", "card=a")->count, 1);
}

static void test_retracting_a_ratio_side_removes_the_ratio (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "OC", "2012", "channel=abroad", NONE, 300);
    t_add (f->e, "OC", "2012", "channel=domestic", NONE, 600);
    t_flush (f->e, &f->cap);
    assert_close (t_double (t_must (&f->cap, "$ratio/r/2012"), "value"), 0.5);
    s_retract (f->e, "OC", "2012", "channel=abroad");
    t_flush (f->e, &f->cap);
    assert_true (s_removed (&f->cap, "$ratio/r/2012"));
    assert_true (s_removed (&f->cap, "OC/2012/channel=abroad"));
    assert_int_equal (t_int (t_must (&f->cap, "OC/2012/channel=*"), "amount"), 600);
}

static void test_dirty_all_republishes_every_topic_with_a_value (void **state)
{
    t_engine_fixture_t *f = *state;
    t_add (f->e, "OC", "2012", "channel=abroad", NONE, 300);
    t_add (f->e, "OC", "2012", "channel=domestic", NONE, 600);
    t_add (f->e, "S", "2012-01", "", 1, NONE);
    t_add (f->e, "S", "2012-02", "", 1, NONE);
    t_flush (f->e, &f->cap);
    size_t all = f->cap.n;
    s_retract (f->e, "S", "2012-02", "");
    t_flush (f->e, &f->cap);
    assert_int_equal (ps_engine_dirty_all (f->e), 0);
    t_flush (f->e, &f->cap);
    /* Everything once, and the retracted month not at all: its last word
       was "removed". */
    assert_int_equal (f->cap.n, all - 1);
    for (size_t i = 0; i < f->cap.n; i++)
        assert_int_equal (t_count (&f->cap, f->cap.items[i].topic), 1);
    assert_int_equal (t_count (&f->cap, "S/2012-02/"), 0);
    assert_int_equal (t_count (&f->cap, "$ratio/r/2012"), 1);
    assert_int_equal (t_int (t_must (&f->cap, "S/2012/"), "count"), 1);
}

int main (void)
{
    ps_log_init ("test", PS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_retract_takes_the_value_out_of_every_aggregate,
                                         t_engine_setup, t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_retracted_cells_read_as_absent, t_engine_setup,
                                         t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_retracted_cell_can_be_reported_again, t_engine_setup,
                                         t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_retracting_nothing_changes_nothing, t_engine_setup,
                                         t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_retracting_a_ratio_side_removes_the_ratio,
                                         t_engine_setup, t_engine_teardown),
        cmocka_unit_test_setup_teardown (test_dirty_all_republishes_every_topic_with_a_value,
                                         t_engine_setup, t_engine_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
