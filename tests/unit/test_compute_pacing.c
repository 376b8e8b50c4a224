/*  ps_pacing: a flush goes once per interval (stretched to twice a slow
    flush), waits for publish's confirmation of the previous one for
    PS_PACING_CONFIRM_MS at most, never while the outbox holds a frame;
    the shutdown's wait ends when publish confirmed everything or at its
    bound. Times are made up: nothing here sleeps. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ps_pacing.h"

#define T0 100000 /* an arbitrary monotonic clock's "now" */

static void test_first_flush_goes_at_once (void **state)
{
    (void) state;
    ps_pacing_t *p = ps_pacing_new (100);
    assert_non_null (p);
    assert_true (ps_pacing_may_flush (p, T0, 0, true, 0));
    /* Nothing pending: nothing to flush. */
    assert_false (ps_pacing_may_flush (p, T0, 0, false, 0));
    assert_int_equal (ps_pacing_flushes (p), 0);
    ps_pacing_destroy (&p);
    assert_null (p);
    ps_pacing_destroy (&p);
}

static void test_interval (void **state)
{
    (void) state;
    ps_pacing_t *p = ps_pacing_new (100);
    ps_pacing_flushed (p, T0, T0 + 3); /* sent frames 1..5 */
    ps_pacing_confirm (p, 5);
    assert_int_equal (ps_pacing_flushes (p), 1);
    assert_int_equal (ps_pacing_due (p, 5), T0 + 100);
    assert_false (ps_pacing_may_flush (p, T0 + 99, 5, true, 0));
    assert_true (ps_pacing_may_flush (p, T0 + 100, 5, true, 0));
    ps_pacing_destroy (&p);
}

static void test_slow_flush_stretches_the_interval (void **state)
{
    (void) state;
    ps_pacing_t *p = ps_pacing_new (100);
    /* A flush that took 300 ms: reading gets as long before the next. */
    ps_pacing_flushed (p, T0, T0 + 300);
    ps_pacing_confirm (p, 1);
    assert_int_equal (ps_pacing_due (p, 1), T0 + 600);
    assert_false (ps_pacing_may_flush (p, T0 + 599, 1, true, 0));
    assert_true (ps_pacing_may_flush (p, T0 + 600, 1, true, 0));
    /* Exactly the interval does not stretch it. */
    ps_pacing_flushed (p, T0 + 600, T0 + 700);
    assert_int_equal (ps_pacing_due (p, 1), T0 + 700);
    ps_pacing_destroy (&p);
}

static void test_waits_for_confirmation_one_second_at_most (void **state)
{
    (void) state;
    ps_pacing_t *p = ps_pacing_new (100);
    ps_pacing_flushed (p, T0, T0 + 1); /* frames 1..8 sent */
    /* Unconfirmed: the interval alone does not let the next one go ... */
    assert_false (ps_pacing_may_flush (p, T0 + 100, 8, true, 0));
    assert_int_equal (ps_pacing_due (p, 8), T0 + PS_PACING_CONFIRM_MS);
    /* ... a partial confirmation neither ... */
    ps_pacing_confirm (p, 7);
    assert_false (ps_pacing_may_flush (p, T0 + 500, 8, true, 0));
    /* ... the cap does (a confirmation can be lost with a reconnection). */
    assert_true (ps_pacing_may_flush (p, T0 + PS_PACING_CONFIRM_MS, 8, true, 0));
    /* Confirmed whole: the interval again. */
    ps_pacing_confirm (p, 8);
    assert_true (ps_pacing_may_flush (p, T0 + 100, 8, true, 0));
    assert_int_equal (ps_pacing_confirmed (p), 8);
    ps_pacing_destroy (&p);
}

static void test_late_confirmation_does_not_go_back (void **state)
{
    (void) state;
    ps_pacing_t *p = ps_pacing_new (100);
    ps_pacing_confirm (p, 9);
    ps_pacing_confirm (p, 4);
    assert_int_equal (ps_pacing_confirmed (p), 9);
    ps_pacing_destroy (&p);
}

static void test_new_publish_needs_no_confirmation (void **state)
{
    (void) state;
    ps_pacing_t *p = ps_pacing_new (100);
    ps_pacing_flushed (p, T0, T0 + 1);
    assert_false (ps_pacing_may_flush (p, T0 + 100, 8, true, 0));
    /* A restarted publish asked for everything: it never confirms what
       the old one was sent, and the next flush resends it all. */
    ps_pacing_restart (p, 8);
    assert_int_equal (ps_pacing_confirmed (p), 8);
    assert_true (ps_pacing_may_flush (p, T0 + 100, 8, true, 0));
    ps_pacing_destroy (&p);
}

static void test_nothing_new_while_the_outbox_holds_frames (void **state)
{
    (void) state;
    ps_pacing_t *p = ps_pacing_new (100);
    ps_pacing_flushed (p, T0, T0 + 1);
    ps_pacing_confirm (p, 3);
    assert_false (ps_pacing_may_flush (p, T0 + 5000, 3, true, 1));
    assert_true (ps_pacing_may_flush (p, T0 + 5000, 3, true, 0));
    ps_pacing_destroy (&p);
}

static void test_shutdown_ends_when_settled (void **state)
{
    (void) state;
    ps_pacing_t *p = ps_pacing_new (100);
    ps_pacing_confirm (p, 2);
    ps_pacing_stop (p, T0, 5000);
    assert_int_equal (ps_pacing_stop_wait (p, T0, 5, 0), 5000);
    assert_int_equal (ps_pacing_stop_wait (p, T0 + 1200, 5, 0), 3800);
    assert_false (ps_pacing_settled (p, 5, 0));
    ps_pacing_confirm (p, 5);
    /* Confirmed, but a frame publish has not taken yet: still waiting. */
    assert_false (ps_pacing_settled (p, 5, 1));
    assert_int_equal (ps_pacing_stop_wait (p, T0 + 1300, 5, 1), 3700);
    assert_true (ps_pacing_settled (p, 5, 0));
    assert_int_equal (ps_pacing_stop_wait (p, T0 + 1300, 5, 0), -1);
    ps_pacing_destroy (&p);
}

static void test_shutdown_ends_at_its_bound (void **state)
{
    (void) state;
    ps_pacing_t *p = ps_pacing_new (100);
    ps_pacing_stop (p, T0, 5000);
    /* Publish never answers (stopped, gone): the bound ends the wait. */
    assert_int_equal (ps_pacing_stop_wait (p, T0 + 4999, 3, 2), 1);
    assert_int_equal (ps_pacing_stop_wait (p, T0 + 5000, 3, 2), -1);
    assert_int_equal (ps_pacing_stop_wait (p, T0 + 9000, 3, 2), -1);
    /* Nothing sent: nothing to wait for. */
    ps_pacing_stop (p, T0, 5000);
    assert_int_equal (ps_pacing_stop_wait (p, T0, 0, 0), -1);
    ps_pacing_destroy (&p);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_first_flush_goes_at_once),
        cmocka_unit_test (test_interval),
        cmocka_unit_test (test_slow_flush_stretches_the_interval),
        cmocka_unit_test (test_waits_for_confirmation_one_second_at_most),
        cmocka_unit_test (test_late_confirmation_does_not_go_back),
        cmocka_unit_test (test_new_publish_needs_no_confirmation),
        cmocka_unit_test (test_nothing_new_while_the_outbox_holds_frames),
        cmocka_unit_test (test_shutdown_ends_when_settled),
        cmocka_unit_test (test_shutdown_ends_at_its_bound),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
