/*  ps_heartbeats: the first round is due at once, the next one an
    interval after each round (a late round does not make the next one
    early); the global heartbeat goes on "$hb", a prefix's on
    "$hb/<prefix>" with its digest. Times are made up: nothing sleeps. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ps_heartbeats.h"

#define T0 100000

static void test_due_at_once_then_every_interval (void **state)
{
    (void) state;
    ps_heartbeats_t *hb = ps_heartbeats_new (1000, T0);
    assert_non_null (hb);
    assert_int_equal (ps_heartbeats_wait_ms (hb, T0), 0);
    assert_true (ps_heartbeats_due (hb, T0));
    assert_false (ps_heartbeats_due (hb, T0));
    assert_int_equal (ps_heartbeats_wait_ms (hb, T0), 1000);
    assert_int_equal (ps_heartbeats_wait_ms (hb, T0 + 400), 600);
    assert_false (ps_heartbeats_due (hb, T0 + 999));
    assert_true (ps_heartbeats_due (hb, T0 + 1000));
    /* A round 2.5 s late: the next one is an interval after it. */
    assert_true (ps_heartbeats_due (hb, T0 + 4500));
    assert_int_equal (ps_heartbeats_wait_ms (hb, T0 + 4500), 1000);
    assert_false (ps_heartbeats_due (hb, T0 + 5499));
    assert_int_equal (ps_heartbeats_wait_ms (hb, T0 + 9000), 0);
    ps_heartbeats_destroy (&hb);
    assert_null (hb);
    ps_heartbeats_destroy (&hb);
}

static void test_global_and_prefix_messages (void **state)
{
    (void) state;
    ps_heartbeats_t *hb = ps_heartbeats_new (250, T0);
    char topic[PS_HEARTBEATS_TOPIC_MAX];
    size_t len;
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    ps_heartbeat_t got;
    ps_error_t err;

    assert_int_equal (ps_heartbeats_build (hb, 7, 42, NULL, 0, 0, topic, &len, &body), 0);
    assert_int_equal (len, strlen (PS_TOPIC_HEARTBEAT));
    assert_memory_equal (topic, PS_TOPIC_HEARTBEAT, len);
    assert_int_equal (ps_feed_heartbeat_decode (&got, body.data, body.size, &err), 0);
    assert_false (got.has_prefix);
    assert_int_equal (got.epoch, 7);
    assert_int_equal (got.seq, 42);
    assert_int_equal (got.interval_ms, 250);

    assert_int_equal (ps_heartbeats_build (hb, 7, 43, "CMI/", 4, 99, topic, &len, &body), 0);
    assert_int_equal (len, strlen ("$hb/CMI/"));
    assert_memory_equal (topic, "$hb/CMI/", len);
    assert_int_equal (ps_feed_heartbeat_decode (&got, body.data, body.size, &err), 0);
    assert_true (got.has_prefix);
    assert_int_equal (got.prefix_len, 4);
    assert_memory_equal (got.prefix, "CMI/", 4);
    assert_int_equal (got.sum, 99);
    assert_int_equal (got.seq, 43);

    /* The longest prefix fits; one byte more is refused, not overrun. */
    char prefix[PS_TOPIC_MAX + 1];
    memset (prefix, 'p', sizeof prefix);
    assert_int_equal (ps_heartbeats_build (hb, 7, 43, prefix, PS_TOPIC_MAX, 1, topic, &len, &body),
                      0);
    assert_int_equal (len, strlen (PS_TOPIC_HB_PREFIX) + PS_TOPIC_MAX);
    assert_int_equal (
        ps_heartbeats_build (hb, 7, 43, prefix, PS_TOPIC_MAX + 1, 1, topic, &len, &body), -1);
    msgpack_sbuffer_destroy (&body);
    ps_heartbeats_destroy (&hb);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_due_at_once_then_every_interval),
        cmocka_unit_test (test_global_and_prefix_messages),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
