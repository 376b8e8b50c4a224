/*  ps_numbering: every item of an update gets the next seq of the epoch
    and its topic's previous seq as prev, is cached, kept for replay and
    counted in the digests before the burst is read; a removal gets the
    {type: "removed"} body; items a subscriber could not read are refused
    by reason and the others kept in order. No socket. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_digest.h"
#include "ps_lvc.h"
#include "ps_numbering.h"
#include "ps_ring.h"

#define S_EPOCH 1700000000000000ULL

typedef struct {
    ps_lvc_t *lvc;
    ps_ring_t *ring;
    ps_digest_t *digest;
    ps_numbering_t *numbering;
    msgpack_sbuffer cell; /* a readable cell body */
    msgpack_sbuffer bad;  /* a cell body that carries "seq" */
} s_fixture_t;

static void s_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str_with_body (pk, text, strlen (text));
}

/* A cell body with the keys every cell needs, and "seq" too when BAD. */
static void s_cell (msgpack_sbuffer *out, bool bad)
{
    msgpack_sbuffer_init (out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, bad ? 6 : 5);
    const char *kv[] = {"type", "cell", "source", "CMI", "period", "2012", "gran", "year"};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        s_str (&pk, kv[i]);
    s_str (&pk, "dims");
    msgpack_pack_map (&pk, 1);
    s_str (&pk, "card");
    s_str (&pk, "domestic");
    if (bad) {
        s_str (&pk, "seq");
        msgpack_pack_uint64 (&pk, 7);
    }
}

static int s_setup (void **state)
{
    s_fixture_t *f = calloc (1, sizeof *f);
    f->lvc = ps_lvc_new ();
    f->ring = ps_ring_new (100);
    f->digest = ps_digest_new (10);
    f->numbering = ps_numbering_new (S_EPOCH, f->lvc, f->ring, f->digest);
    assert_non_null (f->numbering);
    s_cell (&f->cell, false);
    s_cell (&f->bad, true);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    s_fixture_t *f = *state;
    ps_numbering_destroy (&f->numbering);
    assert_null (f->numbering);
    ps_numbering_destroy (&f->numbering);
    ps_digest_destroy (&f->digest);
    ps_ring_destroy (&f->ring);
    ps_lvc_destroy (&f->lvc);
    msgpack_sbuffer_destroy (&f->cell);
    msgpack_sbuffer_destroy (&f->bad);
    free (f);
    return 0;
}

static ps_update_item_t s_item (const char *topic, const msgpack_sbuffer *body)
{
    return (ps_update_item_t){topic, strlen (topic), body ? (const uint8_t *) body->data : NULL,
                              body ? body->size : 0};
}

/* The numbering of item I of the last burst, which must be sent. */
static ps_feed_header_t s_header (s_fixture_t *f, size_t i)
{
    const void *body = NULL;
    size_t len = ps_numbering_body (f->numbering, i, &body);
    assert_true (len > 0);
    ps_feed_header_t hdr;
    ps_error_t err;
    assert_int_equal (ps_feed_header_decode (&hdr, body, len, &err), 0);
    assert_int_equal (hdr.epoch, S_EPOCH);
    return hdr;
}

static void test_seq_and_prev_per_topic (void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal (ps_numbering_epoch (f->numbering), S_EPOCH);
    assert_int_equal (ps_numbering_seq (f->numbering), 0);
    ps_update_item_t first[] = {s_item ("CMI/2012/a", &f->cell), s_item ("CMI/2012/b", &f->cell)};
    assert_int_equal (ps_numbering_burst (f->numbering, first, 2), 0);
    ps_feed_header_t h = s_header (f, 0);
    assert_int_equal (h.seq, 1);
    assert_int_equal (h.prev, 0);
    h = s_header (f, 1);
    assert_int_equal (h.seq, 2);
    assert_int_equal (h.prev, 0);
    assert_int_equal (ps_numbering_seq (f->numbering), 2);
    /* The next update: seq goes on, prev is the topic's own last one. */
    ps_update_item_t second[] = {s_item ("CMI/2012/b", &f->cell), s_item ("CMI/2012/c", &f->cell),
                                 s_item ("CMI/2012/a", &f->cell)};
    assert_int_equal (ps_numbering_burst (f->numbering, second, 3), 0);
    h = s_header (f, 0);
    assert_int_equal (h.seq, 3);
    assert_int_equal (h.prev, 2);
    h = s_header (f, 1);
    assert_int_equal (h.seq, 4);
    assert_int_equal (h.prev, 0);
    h = s_header (f, 2);
    assert_int_equal (h.seq, 5);
    assert_int_equal (h.prev, 1);
    const void *body;
    assert_int_equal (ps_numbering_body (f->numbering, 3, &body), 0); /* past the burst */
    assert_int_equal (ps_numbering_seq (f->numbering), 5);
}

static void test_bodies_are_cached_kept_and_digested (void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal (ps_digest_watch (f->digest, "CMI/", 4, f->lvc), 0);
    ps_update_item_t items[] = {s_item ("CMI/2012/a", &f->cell), s_item ("XYZ/2012/a", &f->cell),
                                s_item ("CMI/2012/b", &f->cell)};
    assert_int_equal (ps_numbering_burst (f->numbering, items, 3), 0);
    assert_int_equal (ps_lvc_size (f->lvc), 3);
    for (size_t i = 0; i < 3; i++) {
        const void *body;
        size_t len = ps_numbering_body (f->numbering, i, &body);
        /* The item's fields, byte for byte, behind publish's numbering. */
        assert_true (len > f->cell.size);
        assert_memory_equal ((const char *) body + len - (f->cell.size - 1), f->cell.data + 1,
                             f->cell.size - 1);
        ps_feed_msg_t cached, kept;
        ps_lvc_at (f->lvc, i, &cached);
        assert_int_equal (cached.seq, i + 1);
        assert_int_equal (cached.body_len, len);
        assert_memory_equal (cached.body, body, len);
        assert_int_equal (ps_ring_get (f->ring, i + 1, &kept), 0);
        assert_int_equal (kept.body_len, len);
        assert_memory_equal (kept.body, body, len);
        assert_int_equal (kept.topic_len, items[i].topic_len);
    }
    uint64_t sum;
    assert_true (ps_digest_get (f->digest, "CMI/", 4, &sum));
    assert_int_equal (sum, 1 + 3);
    /* A topic's new message replaces its old seq in the sum. */
    assert_int_equal (ps_numbering_burst (f->numbering, items, 1), 0);
    assert_true (ps_digest_get (f->digest, "CMI/", 4, &sum));
    assert_int_equal (sum, 4 + 3);
}

static void test_removal_gets_the_removed_body (void **state)
{
    s_fixture_t *f = *state;
    ps_update_item_t items[] = {s_item ("CMI/2012/a", &f->cell), s_item ("CMI/2012/a", NULL)};
    assert_int_equal (ps_numbering_burst (f->numbering, items, 2), 0);
    ps_feed_header_t h = s_header (f, 0);
    assert_false (h.removed);
    h = s_header (f, 1);
    assert_true (h.removed);
    assert_int_equal (h.seq, 2);
    assert_int_equal (h.prev, 1);
    /* The tombstone stays in the cache. */
    assert_int_equal (ps_lvc_size (f->lvc), 1);
    assert_int_equal (ps_lvc_seq (f->lvc, 0), 2);
}

static void test_unreadable_items_are_refused_by_reason (void **state)
{
    s_fixture_t *f = *state;
    ps_update_item_t items[] = {s_item ("CMI/2012/a", &f->bad), s_item ("CMI/2012/b", &f->cell),
                                s_item ("CMI/2012/c", NULL), s_item ("CMI/2012/d", &f->bad),
                                s_item ("CMI/2012/e", &f->cell)};
    size_t n = ps_numbering_keep_valid (f->numbering, items, 5);
    assert_int_equal (n, 3);
    assert_string_equal (items[0].topic, "CMI/2012/b");
    assert_string_equal (items[1].topic, "CMI/2012/c"); /* a removal is always kept */
    assert_string_equal (items[2].topic, "CMI/2012/e");
    assert_int_equal (ps_numbering_refused (f->numbering, PS_BODY_RESERVED), 2);
    for (int r = PS_BODY_RESERVED + 1; r < PS_BODY__COUNT; r++)
        assert_int_equal (ps_numbering_refused (f->numbering, (ps_body_reason_t) r), 0);
    /* Refusing numbers nothing. */
    assert_int_equal (ps_numbering_seq (f->numbering), 0);
    assert_int_equal (ps_lvc_size (f->lvc), 0);
}

static void test_empty_update (void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal (ps_numbering_keep_valid (f->numbering, NULL, 0), 0);
    assert_int_equal (ps_numbering_burst (f->numbering, NULL, 0), 0);
    const void *body;
    assert_int_equal (ps_numbering_body (f->numbering, 0, &body), 0);
    assert_int_equal (ps_numbering_seq (f->numbering), 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_seq_and_prev_per_topic, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bodies_are_cached_kept_and_digested, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_removal_gets_the_removed_body, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unreadable_items_are_refused_by_reason, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_empty_update, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
