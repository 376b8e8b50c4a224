/*  ps_outbox: frames a socket would not take wait in order and go when it
    takes them again; nothing is sent twice or out of order. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ps_outbox.h"

typedef struct {
    int room;    /* frames it takes before it would block */
    bool broken; /* fails for good */
    char got[64];
    size_t ngot;
} s_sink_t;

static int s_send (void *arg, const void *data, size_t size)
{
    s_sink_t *sink = arg;
    if (sink->broken)
        return -1;
    if (sink->room == 0)
        return 1;
    sink->room--;
    memcpy (sink->got + sink->ngot, data, size);
    sink->ngot += size;
    return 0;
}

static void test_waits_in_order (void **state)
{
    (void) state;
    ps_outbox_t *box = ps_outbox_new ();
    assert_non_null (box);
    s_sink_t sink = {.room = 1};
    assert_int_equal (ps_outbox_send (box, s_send, &sink, "a", 1), 0);
    assert_int_equal (ps_outbox_count (box), 0);
    assert_int_equal (ps_outbox_send (box, s_send, &sink, "bb", 2), 0);
    assert_int_equal (ps_outbox_send (box, s_send, &sink, "c", 1), 0);
    assert_int_equal (ps_outbox_count (box), 2);
    assert_int_equal (ps_outbox_bytes (box), 3);
    /* Room again: a new frame must not jump the queue. */
    sink.room = 1;
    assert_int_equal (ps_outbox_send (box, s_send, &sink, "d", 1), 0);
    assert_int_equal (sink.ngot, 1);
    assert_int_equal (ps_outbox_flush (box, s_send, &sink), 2);
    sink.room = 10;
    assert_int_equal (ps_outbox_flush (box, s_send, &sink), 0);
    assert_int_equal (ps_outbox_bytes (box), 0);
    assert_memory_equal (sink.got, "abbcd", 5);
    assert_int_equal (sink.ngot, 5);
    ps_outbox_destroy (&box);
    assert_null (box);
    ps_outbox_destroy (&box);
}

static void test_broken_socket_drops (void **state)
{
    (void) state;
    ps_outbox_t *box = ps_outbox_new ();
    s_sink_t sink = {.room = 0};
    assert_int_equal (ps_outbox_send (box, s_send, &sink, "a", 1), 0);
    assert_int_equal (ps_outbox_send (box, s_send, &sink, "b", 1), 0);
    sink.broken = true;
    assert_int_equal (ps_outbox_flush (box, s_send, &sink), 0);
    assert_int_equal (ps_outbox_dropped (box), 2);
    assert_int_equal (ps_outbox_send (box, s_send, &sink, "c", 1), -1);
    ps_outbox_destroy (&box);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_waits_in_order),
        cmocka_unit_test (test_broken_socket_drops),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
