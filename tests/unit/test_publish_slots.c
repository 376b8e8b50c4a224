/*  Who may hold one of publish's snapshot sessions, and when a session
    whose client does not read loses its slot (ps_slots). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ps_slots.h"

static const ps_slots_limits_t s_limits = {.max = 4, .per_peer = 2, .timeout_ms = 1000,
                                           .progress = 512};

/* Admits a request of client ID at PEER into SLOTS (*N in use) at NOW. */
static ps_slots_verdict_t s_ask (ps_slot_t *slots, size_t *n, const char *id, const char *peer)
{
    size_t index = 99;
    ps_slots_verdict_t verdict =
        ps_slots_admit (slots, *n, &s_limits, (const uint8_t *) id, strlen (id), peer, &index);
    if (verdict == PS_SLOTS_NEW) {
        assert_int_equal (index, *n);
        ps_slot_start (&slots[(*n)++], (const uint8_t *) id, strlen (id), peer, 0);
    } else if (verdict == PS_SLOTS_REPLACE)
        assert_true (index < *n);
    else
        assert_int_equal (index, 99);
    return verdict;
}

static void test_one_session_per_client_and_a_few_per_address (void **state)
{
    (void) state;
    ps_slot_t slots[4];
    size_t n = 0;
    assert_int_equal (s_ask (slots, &n, "a", "10.0.0.1"), PS_SLOTS_NEW);
    assert_int_equal (s_ask (slots, &n, "b", "10.0.0.1"), PS_SLOTS_NEW);
    /* A third client of the same host waits; the client itself may ask
       again, which replaces its session and takes nothing more. */
    assert_int_equal (s_ask (slots, &n, "c", "10.0.0.1"), PS_SLOTS_PEER);
    assert_int_equal (s_ask (slots, &n, "a", "10.0.0.1"), PS_SLOTS_REPLACE);
    assert_int_equal (n, 2);
    /* Other hosts have the rest, until every slot is taken. */
    assert_int_equal (s_ask (slots, &n, "d", "10.0.0.2"), PS_SLOTS_NEW);
    assert_int_equal (s_ask (slots, &n, "e", ""), PS_SLOTS_NEW);
    assert_int_equal (s_ask (slots, &n, "f", "10.0.0.3"), PS_SLOTS_BUSY);
    assert_int_equal (s_ask (slots, &n, "d", "10.0.0.2"), PS_SLOTS_REPLACE);
    assert_string_equal (ps_slots_reason (PS_SLOTS_PEER),
                         "too many snapshots in progress from this address; ask again later");
    assert_string_equal (ps_slots_reason (PS_SLOTS_BUSY),
                         "too many snapshots in progress; ask again later");
}

static void test_an_unknown_address_is_not_limited_per_address (void **state)
{
    (void) state;
    ps_slot_t slots[4];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        char id[2] = {(char) ('a' + i), 0};
        assert_int_equal (s_ask (slots, &n, id, ""), PS_SLOTS_NEW);
    }
    assert_int_equal (s_ask (slots, &n, "z", ""), PS_SLOTS_BUSY);
}

static void test_a_session_that_does_not_get_on_is_stalled (void **state)
{
    (void) state;
    ps_slot_t slot;
    ps_slot_start (&slot, (const uint8_t *) "a", 1, "10.0.0.1", 1000);
    /* Progress moves the mark: a slow but steady reader is never stalled. */
    assert_false (ps_slot_stalled (&slot, 600, 1900, &s_limits));
    assert_false (ps_slot_stalled (&slot, 700, 2800, &s_limits));
    assert_false (ps_slot_stalled (&slot, 1200, 2899, &s_limits));
    /* A trickle below PROGRESS steps per TIMEOUT does not count. */
    assert_false (ps_slot_stalled (&slot, 1300, 3800, &s_limits));
    assert_true (ps_slot_stalled (&slot, 1400, 3899, &s_limits));
}

static void test_a_long_address_is_cut_and_terminated (void **state)
{
    (void) state;
    char peer[200];
    memset (peer, 'x', sizeof peer - 1);
    peer[sizeof peer - 1] = '\0';
    ps_slot_t slot;
    uint8_t id[PS_SLOT_ID_MAX];
    memset (id, 7, sizeof id);
    ps_slot_start (&slot, id, sizeof id, peer, 0);
    assert_int_equal (strlen (slot.peer), PS_SLOT_PEER_MAX - 1);
    assert_int_equal (slot.id_len, PS_SLOT_ID_MAX);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_one_session_per_client_and_a_few_per_address),
        cmocka_unit_test (test_an_unknown_address_is_not_limited_per_address),
        cmocka_unit_test (test_a_session_that_does_not_get_on_is_stalled),
        cmocka_unit_test (test_a_long_address_is_cut_and_terminated),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
