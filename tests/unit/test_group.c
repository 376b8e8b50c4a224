/*  ps_group: when ingest's group commit closes. A commit is due once
    --commit-ms have passed since something became pending, or at once
    when --commit-batches acks are held; nothing pending is never due; a
    commit or a dropped group starts the next one empty. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ps_group.h"

static ps_group_t *s_new (long commit_ms, long commit_batches)
{
    ps_group_config_t config = {commit_ms, commit_batches};
    ps_group_t *g = ps_group_new (&config);
    assert_non_null (g);
    return g;
}

/*  Nothing to commit: never due, and the poll may wait for ever. */
static void test_nothing_pending (void **state)
{
    (void) state;
    ps_group_t *g = s_new (0, 1);
    assert_false (ps_group_due (g, false, 1000));
    assert_int_equal (ps_group_wait (g, false, 1000), -1);
    assert_false (ps_group_full (g));
    ps_group_destroy (&g);
    assert_null (g);
    ps_group_destroy (&g); /* NULL-safe */
}

/*  --commit-ms counts from the first time the commit was seen due, not
    from the last batch: a steady stream cannot put it off. */
static void test_due_after_commit_ms (void **state)
{
    (void) state;
    ps_group_t *g = s_new (10, 256);
    /* Pending, never seen: the loop must look at once. */
    assert_int_equal (ps_group_wait (g, true, 100), 0);
    assert_false (ps_group_due (g, true, 100));
    assert_int_equal (ps_group_wait (g, true, 100), 10);
    ps_group_hold (g);
    assert_false (ps_group_due (g, true, 104));
    assert_int_equal (ps_group_wait (g, true, 104), 6);
    ps_group_hold (g);
    assert_false (ps_group_due (g, true, 109));
    assert_true (ps_group_due (g, true, 110));
    assert_int_equal (ps_group_wait (g, true, 130), 0); /* late: now, never negative */
    assert_int_equal (ps_group_held (g), 2);
    ps_group_destroy (&g);
}

/*  --commit-batches held acks make it due at once and stop the front
    door from reading more. */
static void test_due_at_commit_batches (void **state)
{
    (void) state;
    ps_group_t *g = s_new (10000, 3);
    assert_false (ps_group_due (g, true, 0));
    ps_group_hold (g);
    ps_group_hold (g);
    assert_false (ps_group_full (g));
    assert_false (ps_group_due (g, true, 1));
    ps_group_hold (g);
    assert_true (ps_group_full (g));
    assert_int_equal (ps_group_wait (g, true, 1), 0);
    assert_true (ps_group_due (g, true, 1));
    ps_group_destroy (&g);
}

/*  --commit-ms 0: every round commits what it has. */
static void test_commit_ms_zero (void **state)
{
    (void) state;
    ps_group_t *g = s_new (0, 256);
    assert_true (ps_group_due (g, true, 5));
    ps_group_destroy (&g);
}

/*  A commit counts, takes its duration and restarts the clock and the
    count; a dropped group restarts them without counting a commit. */
static void test_commit_and_drop_start_afresh (void **state)
{
    (void) state;
    ps_group_t *g = s_new (10, 2);
    assert_false (ps_group_due (g, true, 0));
    ps_group_hold (g);
    ps_group_hold (g);
    assert_true (ps_group_due (g, true, 1));
    ps_group_committed (g, 1234);
    assert_int_equal (ps_group_commits (g), 1);
    assert_int_equal (ps_group_last_commit_us (g), 1234);
    assert_int_equal (ps_group_held (g), 0);
    assert_false (ps_group_full (g));
    /* The clock starts again when the next commit becomes due. */
    assert_false (ps_group_due (g, true, 50));
    assert_false (ps_group_due (g, true, 59));
    assert_true (ps_group_due (g, true, 60));

    ps_group_hold (g);
    ps_group_closed (g);
    assert_int_equal (ps_group_commits (g), 1);
    assert_int_equal (ps_group_held (g), 0);
    assert_false (ps_group_due (g, true, 100));
    ps_group_destroy (&g);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_nothing_pending),
        cmocka_unit_test (test_due_after_commit_ms),
        cmocka_unit_test (test_due_at_commit_batches),
        cmocka_unit_test (test_commit_ms_zero),
        cmocka_unit_test (test_commit_and_drop_start_afresh),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
