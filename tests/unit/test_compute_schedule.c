/*  ps_schedule: a checkpoint is due every interval and written only when
    something changed; a slow one pushes the next to ten times what it
    took. Times are made up: nothing here sleeps. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ps_schedule.h"

#define T0 100000

static void test_due_every_interval_when_changed (void **state)
{
    (void) state;
    ps_schedule_t *s = ps_schedule_new (1000, T0);
    assert_non_null (s);
    assert_int_equal (ps_schedule_next (s), T0 + 1000);
    assert_false (ps_schedule_due (s, T0 + 999, true));
    assert_true (ps_schedule_due (s, T0 + 1000, true));
    ps_schedule_done (s, T0 + 1000, T0 + 1020);
    assert_int_equal (ps_schedule_next (s), T0 + 2000);
    assert_false (ps_schedule_due (s, T0 + 1999, true));
    assert_true (ps_schedule_due (s, T0 + 2000, true));
    ps_schedule_destroy (&s);
    assert_null (s);
    ps_schedule_destroy (&s);
}

static void test_only_when_something_changed (void **state)
{
    (void) state;
    ps_schedule_t *s = ps_schedule_new (1000, T0);
    /* Nothing changed: none written, the next one an interval on. */
    assert_false (ps_schedule_due (s, T0 + 1500, false));
    assert_int_equal (ps_schedule_next (s), T0 + 2500);
    assert_false (ps_schedule_due (s, T0 + 2000, true));
    assert_true (ps_schedule_due (s, T0 + 2500, true));
    ps_schedule_destroy (&s);
}

static void test_slow_checkpoint_stretches_the_interval (void **state)
{
    (void) state;
    ps_schedule_t *s = ps_schedule_new (1000, T0);
    assert_true (ps_schedule_due (s, T0 + 1000, true));
    /* It took 400 ms: the next is 4 s after it began, so checkpoints
       never take more than a tenth of compute's time. */
    ps_schedule_done (s, T0 + 1000, T0 + 1400);
    assert_int_equal (ps_schedule_next (s), T0 + 5000);
    assert_false (ps_schedule_due (s, T0 + 4999, true));
    assert_true (ps_schedule_due (s, T0 + 5000, true));
    /* A fast one again: back to the interval. */
    ps_schedule_done (s, T0 + 5000, T0 + 5010);
    assert_int_equal (ps_schedule_next (s), T0 + 6000);
    ps_schedule_destroy (&s);
}

static void test_stats (void **state)
{
    (void) state;
    ps_schedule_t *s = ps_schedule_new (10, T0);
    const ps_schedule_stats_t *st = ps_schedule_stats (s);
    assert_int_equal (st->written, 0);
    assert_int_equal (st->last_wall_us, 0); /* the age metric says -1 then */
    ps_schedule_written (s, 2000, 4096, 1700000000000000);
    ps_schedule_written (s, 3000, 8192, 1700000001000000);
    assert_int_equal (st->written, 2);
    assert_int_equal (st->last_us, 3000);
    assert_int_equal (st->last_bytes, 8192);
    assert_int_equal (st->last_wall_us, 1700000001000000);
    ps_schedule_destroy (&s);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_due_every_interval_when_changed),
        cmocka_unit_test (test_only_when_something_changed),
        cmocka_unit_test (test_slow_checkpoint_stretches_the_interval),
        cmocka_unit_test (test_stats),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
