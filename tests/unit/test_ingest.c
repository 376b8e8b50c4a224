/*  ps_ingest: the front door's rules, driven with hand-packed frames. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ps_ingest.h"
#include "ps_proto.h"

typedef struct {
    const char *source;
    const char *period;
    const char *dim;  /* "name=value" or NULL */
    long long count;  /* < 0: absent */
    long long amount; /* < 0: absent */
    const char *currency;
} s_row_t;

static void s_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body (pk, s, strlen (s));
}

/*  Packs a batch by hand from the wire spec, independently of ps_batch_encode. */
static void s_pack_batch (msgpack_sbuffer *buf, const char *producer, uint64_t seq,
                          const s_row_t *rows, int n)
{
    msgpack_sbuffer_clear (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    s_str (&pk, "v");
    msgpack_pack_uint8 (&pk, 1);
    s_str (&pk, "type");
    s_str (&pk, "batch");
    s_str (&pk, "producer");
    s_str (&pk, producer);
    s_str (&pk, "seq");
    msgpack_pack_uint64 (&pk, seq);
    s_str (&pk, "reports");
    msgpack_pack_array (&pk, n);
    for (int i = 0; i < n; i++) {
        const s_row_t *r = &rows[i];
        int fields = 3 + (r->count >= 0) + (r->amount >= 0 ? 2 : 0);
        msgpack_pack_map (&pk, fields);
        s_str (&pk, "source");
        s_str (&pk, r->source);
        s_str (&pk, "period");
        s_str (&pk, r->period);
        s_str (&pk, "dims");
        msgpack_pack_array (&pk, r->dim ? 1 : 0);
        if (r->dim)
            s_str (&pk, r->dim);
        if (r->count >= 0) {
            s_str (&pk, "count");
            msgpack_pack_int64 (&pk, r->count);
        }
        if (r->amount >= 0) {
            s_str (&pk, "amount");
            msgpack_pack_int64 (&pk, r->amount);
            s_str (&pk, "currency");
            s_str (&pk, r->currency);
        }
    }
}

typedef struct {
    ps_ingest_t *ingest;
    msgpack_sbuffer frame;
    ps_ack_t ack;
} s_fixture_t;

static int s_setup (void **state)
{
    static s_fixture_t f;
    memset (&f, 0, sizeof f);
    ps_ingest_config_t config = {"ingest-test", 2, 1000};
    f.ingest = ps_ingest_new (&config);
    msgpack_sbuffer_init (&f.frame);
    *state = &f;
    return f.ingest ? 0 : -1;
}

static int s_teardown (void **state)
{
    s_fixture_t *f = *state;
    ps_ingest_destroy (&f->ingest);
    assert_null (f->ingest);
    msgpack_sbuffer_destroy (&f->frame);
    ps_ack_clear (&f->ack);
    return 0;
}

/*  Sends rows as a batch; forwards it when asked to with outcome SENT;
    decodes the ack into f->ack. Returns the action taken. */
static ps_ingest_action_t s_send (s_fixture_t *f, const char *producer, uint64_t seq,
                                  const s_row_t *rows, int n, bool sent)
{
    s_pack_batch (&f->frame, producer, seq, rows, n);
    ps_ingest_action_t action = ps_ingest_receive (f->ingest, f->frame.data, f->frame.size);
    if (action == PS_INGEST_FORWARD)
        ps_ingest_forwarded (f->ingest, sent);
    const msgpack_sbuffer *ack = ps_ingest_ack (f->ingest);
    ps_error_t err;
    ps_ack_clear (&f->ack);
    assert_int_equal (ps_ack_decode (&f->ack, ack->data, ack->size, &err), 0);
    return action;
}

static const s_row_t s_good[] = {
    {"CMI", "2012", "card=domestic", 10, 71183, "MAD"},
    {"CMI", "2012", "card=foreign", 2, 4047, "MAD"},
};

static void test_accept_and_forward (void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal (s_send (f, "p1", 1, s_good, 2, true), PS_INGEST_FORWARD);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    assert_int_equal (f->ack.accepted, 2);
    assert_int_equal (f->ack.seq, 1);
    assert_string_equal (f->ack.producer, "p1");

    /* The forwarded frame is the strict forwarded form, stamped with jseq. */
    ps_batch_t *b = ps_batch_new ();
    ps_error_t err;
    const msgpack_sbuffer *fwd = ps_ingest_forward_frame (f->ingest);
    assert_int_equal (ps_batch_decode (b, fwd->data, fwd->size, true, &err), 0);
    assert_string_equal (b->ingest, "ingest-test");
    assert_int_equal (b->jseq, 1);
    assert_int_equal (b->nreports, 2);
    assert_int_equal (b->reports[1].amount, 4047);
    ps_batch_destroy (&b);
}

/*  A resend of the latest batch gets its original ack; an older one is a
    duplicate; neither is forwarded again. */
static void test_duplicates (void **state)
{
    s_fixture_t *f = *state;
    s_send (f, "p1", 5, s_good, 2, true);
    msgpack_sbuffer first;
    msgpack_sbuffer_init (&first);
    const msgpack_sbuffer *ack = ps_ingest_ack (f->ingest);
    msgpack_sbuffer_write (&first, ack->data, ack->size);

    assert_int_equal (s_send (f, "p1", 5, s_good, 2, true), PS_INGEST_REPLY);
    ack = ps_ingest_ack (f->ingest);
    assert_int_equal (ack->size, first.size);
    assert_memory_equal (ack->data, first.data, first.size);

    assert_int_equal (s_send (f, "p1", 4, s_good, 2, true), PS_INGEST_REPLY);
    assert_int_equal (f->ack.status, PS_ACK_DUPLICATE);
    assert_int_equal (f->ack.seq, 4);
    assert_int_equal (ps_ingest_stats (f->ingest)->forwarded, 1);
    assert_int_equal (ps_ingest_stats (f->ingest)->duplicates, 2);
    msgpack_sbuffer_destroy (&first);
}

/*  One currency per series: the first report wins, later ones in another
    currency are rejected by index while the rest of the batch goes on. */
static void test_currency_per_series (void **state)
{
    s_fixture_t *f = *state;
    const s_row_t rows[] = {
        {"OC", "2012", "channel=abroad", -1, 700000000000, "MAD"},
        {"OC", "2012", "channel=domestic", -1, 75300000000, "MAD"},
        {"OC", "2013", "channel=abroad", -1, 100, "EUR"},
        {"OC", "2013", NULL, -1, 100, "EUR"},
    };
    assert_int_equal (s_send (f, "p2", 1, rows, 4, true), PS_INGEST_FORWARD);
    assert_int_equal (f->ack.status, PS_ACK_PARTIAL);
    assert_int_equal (f->ack.accepted, 3);
    assert_int_equal (f->ack.nrejects, 1);
    assert_int_equal (f->ack.rejects[0].index, 2);
    assert_int_equal (f->ack.rejects[0].error.code, PS_E_CURRENCY_MISMATCH);
    assert_string_equal (f->ack.rejects[0].error.field, "currency");
    assert_non_null (strstr (f->ack.rejects[0].error.reason, "MAD"));
}

/*  When compute's queue is full nothing of the batch is kept: the producer
    is told to retry, the same seq is then accepted, and a series first
    seen in the refused batch is not bound to its currency. */
static void test_retry_later (void **state)
{
    s_fixture_t *f = *state;
    const s_row_t eur[] = {{"X", "2012", NULL, 1, 100, "EUR"}};
    const s_row_t mad[] = {{"X", "2012", NULL, 1, 100, "MAD"}};
    assert_int_equal (s_send (f, "p3", 1, eur, 1, false), PS_INGEST_FORWARD);
    assert_int_equal (f->ack.status, PS_ACK_RETRY);
    assert_true (f->ack.has_error);
    assert_int_equal (f->ack.error.code, PS_E_RETRY);
    assert_int_equal (s_send (f, "p3", 1, mad, 1, true), PS_INGEST_FORWARD);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    assert_int_equal (ps_ingest_stats (f->ingest)->forwarded, 1);
}

static void test_malformed_frame (void **state)
{
    s_fixture_t *f = *state;
    const char junk[] = "\x93\x01\x02"; /* array of 3 with one element missing */
    assert_int_equal (ps_ingest_receive (f->ingest, junk, 3), PS_INGEST_REPLY);
    const msgpack_sbuffer *ack = ps_ingest_ack (f->ingest);
    ps_error_t err;
    ps_ack_clear (&f->ack);
    assert_int_equal (ps_ack_decode (&f->ack, ack->data, ack->size, &err), 0);
    assert_int_equal (f->ack.status, PS_ACK_REJECTED);
    assert_true (f->ack.has_error);
    assert_int_equal (f->ack.error.code, PS_E_DECODE);
    assert_int_equal (ps_ingest_stats (f->ingest)->batches_rejected, 1);
}

/*  All reports invalid: rejected, nothing forwarded, seq still consumed. */
static void test_all_rejected (void **state)
{
    s_fixture_t *f = *state;
    const s_row_t rows[] = {{"CMI", "2012-13", NULL, 1, -1, NULL},
                            {"CMI", "2012", NULL, -1, -1, NULL}};
    assert_int_equal (s_send (f, "p4", 1, rows, 2, true), PS_INGEST_REPLY);
    assert_int_equal (f->ack.status, PS_ACK_REJECTED);
    assert_int_equal (f->ack.nrejects, 2);
    assert_int_equal (f->ack.rejects[0].error.code, PS_E_PERIOD);
    assert_int_equal (f->ack.rejects[1].error.code, PS_E_MISSING);
    assert_int_equal (ps_ingest_stats (f->ingest)->forwarded, 0);
}

/*  The producer table is bounded (2 here): after a, b and c, the newest (c)
    is remembered, and of a and b only one can be, so resending both forwards
    at least one of them again. */
static void test_producer_bound (void **state)
{
    s_fixture_t *f = *state;
    s_send (f, "a", 1, s_good, 1, true);
    s_send (f, "b", 1, s_good, 1, true);
    s_send (f, "c", 1, s_good, 1, true);
    assert_int_equal (ps_ingest_stats (f->ingest)->forwarded, 3);
    assert_int_equal (s_send (f, "c", 1, s_good, 1, true), PS_INGEST_REPLY);
    assert_int_equal (ps_ingest_stats (f->ingest)->duplicates, 1);
    s_send (f, "a", 1, s_good, 1, true);
    s_send (f, "b", 1, s_good, 1, true);
    assert_true (ps_ingest_stats (f->ingest)->forwarded >= 4);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_accept_and_forward, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_duplicates, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_currency_per_series, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_retry_later, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_frame, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_all_rejected, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_producer_bound, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
