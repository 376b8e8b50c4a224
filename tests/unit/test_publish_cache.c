/*  Publish's memory of the feed: the last-value cache (stable entry
    numbers, tombstones), the prefix digests and the replay ring. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ps_digest.h"
#include "ps_lvc.h"
#include "ps_proto.h"
#include "ps_ring.h"

static void s_store (ps_lvc_t *lvc, ps_digest_t *digest, const char *topic, uint64_t seq,
                     const char *body)
{
    long index = ps_lvc_slot (lvc, topic, strlen (topic), strlen (body));
    assert_true (index >= 0);
    uint64_t prev = ps_lvc_seq (lvc, (size_t) index);
    assert_int_equal (ps_lvc_store (lvc, (size_t) index, seq, body, strlen (body)), 0);
    if (digest)
        ps_digest_update (digest, topic, strlen (topic), prev, seq);
}

static uint64_t s_sum (ps_digest_t *digest, const char *prefix)
{
    uint64_t sum = 0;
    assert_true (ps_digest_get (digest, prefix, strlen (prefix), &sum));
    return sum;
}

static void test_lvc_entries_keep_their_number (void **state)
{
    (void) state;
    ps_lvc_t *lvc = ps_lvc_new ();
    char topic[32];
    for (int i = 0; i < 3000; i++) {
        snprintf (topic, sizeof topic, "T/2012/k=%d", i);
        s_store (lvc, NULL, topic, (uint64_t) i + 1, "small");
    }
    /* Growing a body moves it, but not its entry number. */
    s_store (lvc, NULL, "T/2012/k=7", 3001, "a body much longer than the first one was");
    ps_feed_msg_t msg;
    ps_lvc_at (lvc, 7, &msg);
    assert_int_equal (msg.topic_len, strlen ("T/2012/k=7"));
    assert_memory_equal (msg.topic, "T/2012/k=7", msg.topic_len);
    assert_int_equal (msg.seq, 3001);
    assert_int_equal (msg.body_len, strlen ("a body much longer than the first one was"));
    assert_int_equal (ps_lvc_size (lvc), 3000);
    assert_int_equal (ps_lvc_slot (lvc, "T/2012/k=2999", 13, 0), 2999);
    assert_int_equal (ps_lvc_seq (lvc, 2999), 3000);
    /* A new topic gets an empty entry: seq 0, no body. */
    assert_int_equal (ps_lvc_slot (lvc, "nope", 4, 8), 3000);
    assert_int_equal (ps_lvc_seq (lvc, 3000), 0);
    ps_lvc_at (lvc, 3000, &msg);
    assert_int_equal (msg.body_len, 0);
    assert_int_equal (ps_lvc_size (lvc), 3001);
    ps_lvc_destroy (&lvc);
    assert_null (lvc);
}

static void test_digest_sums_the_latest_seqs_under_each_prefix (void **state)
{
    (void) state;
    ps_lvc_t *lvc = ps_lvc_new ();
    ps_digest_t *digest = ps_digest_new (3);
    s_store (lvc, digest, "A/2012/", 1, "x");
    s_store (lvc, digest, "A/2013/", 2, "x");
    /* Watching starts from the cache as it is. */
    assert_int_equal (ps_digest_watch (digest, "A/", 2, lvc), 0);
    assert_int_equal (ps_digest_watch (digest, "A/2012", 6, lvc), 0);
    assert_int_equal (ps_digest_watch (digest, "", 0, lvc), 0);
    assert_int_equal (ps_digest_watch (digest, "A/", 2, lvc), 1);  /* already */
    assert_int_equal (ps_digest_watch (digest, "B/", 2, lvc), -1); /* at most 3 */
    char longest[PS_TOPIC_MAX + 1];
    memset (longest, 'x', sizeof longest);
    ps_digest_unwatch (digest, "", 0);
    assert_int_equal (ps_digest_watch (digest, longest, sizeof longest, lvc), -1);
    assert_int_equal (ps_digest_watch (digest, longest, PS_TOPIC_MAX, lvc), 0);
    ps_digest_unwatch (digest, longest, PS_TOPIC_MAX);
    assert_int_equal (ps_digest_watch (digest, "", 0, lvc), 0);
    assert_int_equal (s_sum (digest, "A/"), 3);
    assert_int_equal (s_sum (digest, "A/2012"), 1);
    /* Each message moves every watched prefix of its topic, and no other. */
    s_store (lvc, digest, "A/2012/", 3, "y");
    s_store (lvc, digest, "B/2012/", 4, "removed");
    assert_int_equal (s_sum (digest, "A/"), 5);
    assert_int_equal (s_sum (digest, "A/2012"), 3);
    assert_int_equal (s_sum (digest, ""), 9);
    ps_digest_unwatch (digest, "A/2012", 6);
    assert_false (ps_digest_get (digest, "A/2012", 6, &(uint64_t){0}));
    assert_int_equal (ps_digest_size (digest), 2);
    s_store (lvc, digest, "A/2012/", 5, "z");
    assert_int_equal (s_sum (digest, "A/"), 7);
    size_t cursor = 0, len, seen = 0;
    const char *prefix;
    uint64_t sum;
    while (ps_digest_next (digest, &cursor, &prefix, &len, &sum))
        seen++;
    assert_int_equal (seen, 2);
    ps_digest_destroy (&digest);
    ps_lvc_destroy (&lvc);
}

static void test_digest_is_modulo_2_63 (void **state)
{
    (void) state;
    ps_lvc_t *lvc = ps_lvc_new ();
    ps_digest_t *digest = ps_digest_new (1);
    assert_int_equal (ps_digest_watch (digest, "", 0, lvc), 0);
    s_store (lvc, digest, "A/2012/", (uint64_t) INT64_MAX, "x");
    s_store (lvc, digest, "B/2012/", 5, "x");
    assert_int_equal (s_sum (digest, ""), 4); /* (2^63 - 1 + 5) mod 2^63 */
    ps_digest_destroy (&digest);
    ps_lvc_destroy (&lvc);
}

static void s_push (ps_ring_t *ring, uint64_t seq)
{
    char topic[16];
    snprintf (topic, sizeof topic, "R/2012/k=%d", (int) (seq % 7));
    ps_feed_msg_t msg = {topic, strlen (topic), seq, "body", 4};
    assert_int_equal (ps_ring_push (ring, &msg), 0);
}

static void test_ring_holds_the_last_messages (void **state)
{
    (void) state;
    ps_ring_t *ring = ps_ring_new (10);
    ps_feed_msg_t msg;
    assert_int_equal (ps_ring_first (ring), 0);
    assert_int_equal (ps_ring_get (ring, 1, &msg), -1);
    for (uint64_t seq = 1; seq <= 25; seq++)
        s_push (ring, seq);
    assert_int_equal (ps_ring_first (ring), 16);
    assert_int_equal (ps_ring_get (ring, 15, &msg), -1);
    assert_int_equal (ps_ring_get (ring, 26, &msg), -1);
    assert_int_equal (ps_ring_get (ring, 16, &msg), 0);
    assert_int_equal (msg.seq, 16);
    assert_memory_equal (msg.topic, "R/2012/k=2", msg.topic_len);
    /* A hole in the numbering (a message it could not keep) starts it over. */
    s_push (ring, 27);
    assert_int_equal (ps_ring_first (ring), 27);
    ps_ring_destroy (&ring);
    /* Replay off: nothing is held. */
    ring = ps_ring_new (0);
    s_push (ring, 1);
    assert_int_equal (ps_ring_first (ring), 0);
    ps_ring_destroy (&ring);
    assert_null (ring);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_lvc_entries_keep_their_number),
        cmocka_unit_test (test_digest_sums_the_latest_seqs_under_each_prefix),
        cmocka_unit_test (test_digest_is_modulo_2_63),
        cmocka_unit_test (test_ring_holds_the_last_messages),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
