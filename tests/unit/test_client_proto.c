/*  ps_proto's messages for subscribers that keep a view (PROTOCOL.md 5.3
    to 5.7): feed numbering, heartbeats with prefix digests, snapshot
    requests, end markers and refusals, and publish's resend request. Each
    decoder takes untrusted bytes: every way to get one wrong is refused
    with its own code and field. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ps_proto.h"

/* A map built with a packer, for hand-made (possibly wrong) messages. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} s_msg_t;

static void s_begin (s_msg_t *m, size_t pairs)
{
    msgpack_sbuffer_init (&m->buf);
    msgpack_packer_init (&m->pk, &m->buf, msgpack_sbuffer_write);
    msgpack_pack_map (&m->pk, pairs);
}

static void s_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body (pk, s, strlen (s));
}

static void s_kv_str (s_msg_t *m, const char *key, const char *value)
{
    s_str (&m->pk, key);
    s_str (&m->pk, value);
}

static void s_kv_int (s_msg_t *m, const char *key, int64_t value)
{
    s_str (&m->pk, key);
    msgpack_pack_int64 (&m->pk, value);
}

/* ---- Feed numbering ------------------------------------------------------ */

static void test_feed_header_reads_the_numbering (void **state)
{
    (void) state;
    msgpack_sbuffer fields, body;
    msgpack_sbuffer_init (&fields);
    msgpack_sbuffer_init (&body);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &fields, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    s_str (&pk, "type");
    s_str (&pk, "removed");
    assert_int_equal (ps_feed_body (9, 4, 77, (const uint8_t *) fields.data, fields.size, &body),
                      0);
    ps_feed_header_t hdr;
    ps_error_t err;
    assert_int_equal (ps_feed_header_decode (&hdr, body.data, body.size, &err), 0);
    assert_int_equal (hdr.seq, 9);
    assert_int_equal (hdr.prev, 4);
    assert_int_equal (hdr.epoch, 77);
    assert_true (hdr.removed);
    msgpack_sbuffer_destroy (&fields);
    msgpack_sbuffer_destroy (&body);
}

static void s_header_fails (int64_t seq, int64_t prev, bool with_type, ps_err_t code,
                            const char *field)
{
    s_msg_t m;
    s_begin (&m, 4 + with_type);
    s_kv_int (&m, "v", 1);
    s_kv_int (&m, "seq", seq);
    s_kv_int (&m, "prev", prev);
    s_kv_int (&m, "epoch", 1);
    if (with_type)
        s_kv_str (&m, "type", "cell");
    ps_feed_header_t hdr;
    ps_error_t err;
    assert_int_equal (ps_feed_header_decode (&hdr, m.buf.data, m.buf.size, &err), -1);
    assert_int_equal (err.code, code);
    assert_string_equal (err.field, field);
    msgpack_sbuffer_destroy (&m.buf);
}

static void test_feed_header_refuses_bad_numbering (void **state)
{
    (void) state;
    s_header_fails (0, 0, true, PS_E_RANGE, "seq");
    s_header_fails (5, 5, true, PS_E_RANGE, "prev"); /* prev is always an earlier seq */
    s_header_fails (5, -1, true, PS_E_RANGE, "prev");
    s_header_fails (5, 1, false, PS_E_MISSING, "type");
    ps_feed_header_t hdr;
    ps_error_t err;
    assert_int_equal (ps_feed_header_decode (&hdr, "\x91\x01", 2, &err), -1);
    assert_int_equal (err.code, PS_E_TYPE);
}

/* ---- Heartbeats ---------------------------------------------------------- */

static void test_heartbeats_round_trip (void **state)
{
    (void) state;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    ps_heartbeat_t hb = {5, 42, 1000, true, "CMI/2012/", 9, UINT64_MAX};
    assert_int_equal (ps_feed_heartbeat_encode (&hb, &out), 0);
    ps_heartbeat_t got;
    ps_error_t err;
    assert_int_equal (ps_feed_heartbeat_decode (&got, out.data, out.size, &err), 0);
    assert_true (got.has_prefix);
    assert_int_equal (got.prefix_len, 9);
    assert_memory_equal (got.prefix, "CMI/2012/", 9);
    /* sums are modulo 2^63, so they stay valid wire integers */
    assert_int_equal (got.sum, UINT64_MAX & PS_DIGEST_MASK);
    assert_int_equal (got.seq, 42);
    /* The global heartbeat has neither prefix nor sum, and ps_feed_heartbeat_body
       writes exactly that. */
    assert_int_equal (ps_feed_heartbeat_body (5, 42, 1000, &out), 0);
    assert_int_equal (ps_feed_heartbeat_decode (&got, out.data, out.size, &err), 0);
    assert_false (got.has_prefix);
    assert_int_equal (got.interval_ms, 1000);
    msgpack_sbuffer_destroy (&out);
}

static void test_heartbeat_decoder_refuses_bad_ones (void **state)
{
    (void) state;
    s_msg_t m;
    s_begin (&m, 6);
    s_kv_int (&m, "v", 1);
    s_kv_str (&m, "type", "hb");
    s_kv_int (&m, "epoch", 1);
    s_kv_int (&m, "seq", 1);
    s_kv_int (&m, "interval_ms", 1000);
    s_kv_str (&m, "prefix", "A/");
    ps_heartbeat_t hb;
    ps_error_t err;
    assert_int_equal (ps_feed_heartbeat_decode (&hb, m.buf.data, m.buf.size, &err), -1);
    assert_int_equal (err.code, PS_E_MISSING);
    assert_string_equal (err.field, "sum");
    msgpack_sbuffer_destroy (&m.buf);
    s_begin (&m, 4);
    s_kv_int (&m, "v", 1);
    s_kv_str (&m, "type", "hb");
    s_kv_int (&m, "epoch", 1);
    s_kv_int (&m, "seq", 1);
    assert_int_equal (ps_feed_heartbeat_decode (&hb, m.buf.data, m.buf.size, &err), -1);
    assert_string_equal (err.field, "interval_ms");
    msgpack_sbuffer_destroy (&m.buf);
}

/* ---- Snapshot requests --------------------------------------------------- */

static void test_snapshot_request_round_trip (void **state)
{
    (void) state;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    ps_snapshot_req_t req = {"CMI/", 4, true, 17, 99}, got;
    assert_int_equal (ps_sync_req_encode (&req, &out), 0);
    ps_error_t err;
    assert_int_equal (ps_sync_req_decode (&got, out.data, out.size, &err), 0);
    assert_int_equal (got.prefix_len, 4);
    assert_string_equal (got.prefix, "CMI/");
    assert_true (got.has_since);
    assert_int_equal (got.since, 17);
    assert_int_equal (got.epoch, 99);
    msgpack_sbuffer_clear (&out);
    ps_snapshot_req_t plain = {"", 0, false, 0, 0};
    assert_int_equal (ps_sync_req_encode (&plain, &out), 0);
    assert_int_equal (ps_sync_req_decode (&got, out.data, out.size, &err), 0);
    assert_false (got.has_since);
    assert_int_equal (got.prefix_len, 0);
    msgpack_sbuffer_destroy (&out);
}

/* A request {v, type, prefix (NULL: none), since, epoch (< 0: none)}. */
static void s_request_fails (int64_t v, const char *prefix, int64_t since, int64_t epoch,
                             ps_err_t code, const char *field)
{
    s_msg_t m;
    s_begin (&m, 2 + (prefix != NULL) + (since >= -1) + (epoch >= 0));
    s_kv_int (&m, "v", v);
    s_kv_str (&m, "type", "snapshot");
    if (prefix)
        s_kv_str (&m, "prefix", prefix);
    if (since >= -1)
        s_kv_int (&m, "since", since);
    if (epoch >= 0)
        s_kv_int (&m, "epoch", epoch);
    ps_snapshot_req_t req;
    ps_error_t err;
    assert_int_equal (ps_sync_req_decode (&req, m.buf.data, m.buf.size, &err), -1);
    assert_int_equal (err.code, code);
    assert_string_equal (err.field, field);
    msgpack_sbuffer_destroy (&m.buf);
}

static void test_snapshot_request_refusals (void **state)
{
    (void) state;
    char longest[PS_TOPIC_MAX + 2];
    memset (longest, 'x', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    s_request_fails (2, "", -2, -1, PS_E_VERSION, "v");
    s_request_fails (1, NULL, -2, -1, PS_E_MISSING, "prefix");
    s_request_fails (1, longest, -2, -1, PS_E_LIMIT, "prefix");
    s_request_fails (1, "", -1, 5, PS_E_RANGE, "since");
    s_request_fails (1, "", 3, -1, PS_E_MISSING, "epoch");
    s_request_fails (1, "", -2, 5, PS_E_MISSING, "since");
    ps_snapshot_req_t req;
    ps_error_t err;
    assert_int_equal (ps_sync_req_decode (&req, "\xc1", 1, &err), -1);
    assert_int_equal (err.code, PS_E_DECODE);
}

/* ---- End markers and refusals --------------------------------------------- */

static void test_end_marker_and_refusal (void **state)
{
    (void) state;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    ps_snapshot_end_t end = {PS_SYNC_REPLAY, 3, 1000, 12}, got;
    ps_error_t refusal, err;
    assert_int_equal (ps_sync_end_encode (&end, &out), 0);
    assert_int_equal (ps_sync_end_decode (&got, &refusal, out.data, out.size, &err), 0);
    assert_int_equal (got.mode, PS_SYNC_REPLAY);
    assert_int_equal (got.seq, 1000);
    assert_int_equal (got.count, 12);
    msgpack_sbuffer_clear (&out);
    ps_error_t why = {PS_E_RETRY, "", "too many snapshots in progress; ask again later"};
    assert_int_equal (ps_error_refusal_encode (&why, &out), 0);
    assert_int_equal (ps_sync_end_decode (&got, &refusal, out.data, out.size, &err), 1);
    assert_int_equal (refusal.code, PS_E_RETRY);
    assert_string_equal (refusal.reason, why.reason);
    msgpack_sbuffer_destroy (&out);
    /* An unknown mode is refused rather than guessed. */
    s_msg_t m;
    s_begin (&m, 6);
    s_kv_int (&m, "v", 1);
    s_kv_str (&m, "type", "end");
    s_kv_str (&m, "mode", "partial");
    s_kv_int (&m, "epoch", 1);
    s_kv_int (&m, "seq", 1);
    s_kv_int (&m, "count", 0);
    assert_int_equal (ps_sync_end_decode (&got, &refusal, m.buf.data, m.buf.size, &err), -1);
    assert_int_equal (err.code, PS_E_SYNTAX);
    assert_string_equal (err.field, "mode");
    msgpack_sbuffer_destroy (&m.buf);
}

static void test_a_subscription_refusal_notice_is_told_from_a_heartbeat (void **state)
{
    (void) state;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    ps_error_t why = {PS_E_LIMIT, "prefix", "more than 128 subscriptions on one connection"};
    ps_error_t got, err;
    assert_int_equal (ps_error_refusal_encode (&why, &out), 0);
    assert_int_equal (ps_error_refusal_decode (out.data, out.size, &got, &err), 0);
    assert_int_equal (got.code, PS_E_LIMIT);
    assert_string_equal (got.field, "prefix");
    assert_string_equal (got.reason, why.reason);
    /* A heartbeat is not a refusal. */
    msgpack_sbuffer_clear (&out);
    ps_heartbeat_t hb = {1, 2, 1000, true, "P/", 2, 7};
    assert_int_equal (ps_feed_heartbeat_encode (&hb, &out), 0);
    assert_int_equal (ps_error_refusal_decode (out.data, out.size, &got, &err), -1);
    assert_int_equal (err.code, PS_E_TYPE);
    assert_string_equal (err.field, "type");
    /* Nor is garbage. */
    assert_int_equal (ps_error_refusal_decode ("\xc1", 1, &got, &err), -1);
    msgpack_sbuffer_destroy (&out);
}

/* ---- Resend --------------------------------------------------------------- */

static void test_resend_round_trip (void **state)
{
    (void) state;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    assert_int_equal (ps_sync_resend_encode (123, &out), 0);
    uint64_t epoch;
    ps_error_t err;
    assert_int_equal (ps_sync_resend_decode (out.data, out.size, &epoch, &err), 0);
    assert_int_equal (epoch, 123);
    /* A progress frame is not a resend request. */
    msgpack_sbuffer_clear (&out);
    assert_int_equal (ps_control_progress_encode (5, &out), 0);
    assert_int_equal (ps_sync_resend_decode (out.data, out.size, &epoch, &err), -1);
    assert_int_equal (err.code, PS_E_TYPE);
    msgpack_sbuffer_destroy (&out);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_a_subscription_refusal_notice_is_told_from_a_heartbeat),
        cmocka_unit_test (test_feed_header_reads_the_numbering),
        cmocka_unit_test (test_feed_header_refuses_bad_numbering),
        cmocka_unit_test (test_heartbeats_round_trip),
        cmocka_unit_test (test_heartbeat_decoder_refuses_bad_ones),
        cmocka_unit_test (test_snapshot_request_round_trip),
        cmocka_unit_test (test_snapshot_request_refusals),
        cmocka_unit_test (test_end_marker_and_refusal),
        cmocka_unit_test (test_resend_round_trip),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
