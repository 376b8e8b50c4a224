/*  ps_proto: every vector of proto/vectors decoded and compared with its
    hand-written expectation, then round-tripped (decode -> encode -> decode,
    and byte for byte where the vector is canonical); then targeted tests of
    the strict reader's limits, the feed splice and batch bookkeeping. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_proto.h"
#include "test_hex.h"

#define S_VECTOR_DIR PS_SOURCE_DIR "/proto/vectors"

static bool s_streq (const char *a, const char *b)
{
    return a && b && strcmp (a, b) == 0;
}

static const char *s_jstr (const json_t *obj, const char *key)
{
    const json_t *v = json_object_get (obj, key);
    assert_non_null (v);
    return json_string_value (v);
}

static long long s_jint (const json_t *obj, const char *key)
{
    const json_t *v = json_object_get (obj, key);
    assert_true (json_is_integer (v));
    return json_integer_value (v);
}

/*  Converts a decoded MessagePack object into JSON so indicator maps can be
    compared with the vectors' expectations. */
static json_t *s_to_json (const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null ();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean (o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        assert_true (o->via.u64 <= INT64_MAX);
        return json_integer ((json_int_t) o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer (o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real (o->via.f64);
    case MSGPACK_OBJECT_STR:
        return json_stringn (o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array ();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new (a, s_to_json (&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object ();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            assert_int_equal (kv->key.type, MSGPACK_OBJECT_STR);
            char key[256];
            snprintf (key, sizeof key, "%.*s", (int) kv->key.via.str.size, kv->key.via.str.ptr);
            json_object_set_new (m, key, s_to_json (&kv->val));
        }
        return m;
    }
    default:
        fail_msg ("unexpected MessagePack type %d", o->type);
    }
    return NULL;
}

/*  Asserts that DATA (one MessagePack object) means EXPECT. */
static void s_assert_means (const void *data, size_t size, const json_t *expect)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, data, size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (off, size);
    json_t *got = s_to_json (&u.data);
    if (!json_equal (got, (json_t *) expect)) {
        char *a = json_dumps (got, JSON_SORT_KEYS), *b = json_dumps (expect, JSON_SORT_KEYS);
        print_error ("got      %s\nexpected %s\n", a, b);
        free (a);
        free (b);
        fail ();
    }
    json_decref (got);
    msgpack_unpacked_destroy (&u);
}

static void s_assert_error (const json_t *expect, const ps_error_t *err)
{
    if (!s_streq (ps_error_code_name (err->code), s_jstr (expect, "code")) ||
        !s_streq (err->field, s_jstr (expect, "field")))
        fail_msg ("got %s/%s (%s), expected %s/%s", ps_error_code_name (err->code), err->field,
                  err->reason, s_jstr (expect, "code"), s_jstr (expect, "field"));
    assert_true (strlen (err->reason) > 0);
}

/* ---- Batches -------------------------------------------------------------- */

static void s_assert_report (const json_t *e, const ps_report_t *r, uint32_t index)
{
    char period[PS_PERIOD_STRLEN];
    assert_int_equal (index, s_jint (e, "index"));
    assert_string_equal (r->source, s_jstr (e, "source"));
    ps_period_format (&r->period, period);
    assert_string_equal (period, s_jstr (e, "period"));
    assert_string_equal (ps_gran_name ((ps_gran_t) r->period.gran), s_jstr (e, "gran"));
    const json_t *dims = json_object_get (e, "dims");
    assert_int_equal (r->ndims, json_array_size (dims));
    for (size_t i = 0; i < r->ndims; i++) {
        char dim[PS_DIM_NAME_MAX + PS_DIM_VALUE_MAX + 2];
        snprintf (dim, sizeof dim, "%s=%s", r->dims[i].name, r->dims[i].value);
        assert_string_equal (dim, json_string_value (json_array_get (dims, i)));
    }
    assert_int_equal (r->has_count, json_object_get (e, "count") != NULL);
    if (r->has_count)
        assert_true (r->count == s_jint (e, "count"));
    assert_int_equal (r->has_amount, json_object_get (e, "amount") != NULL);
    if (r->has_amount) {
        assert_true (r->amount == s_jint (e, "amount"));
        assert_string_equal (r->currency, s_jstr (e, "currency"));
    } else
        assert_string_equal (r->currency, "");
    assert_string_equal (ps_grammar_op_name (r->op), s_jstr (e, "op"));
}

static void s_assert_batch (const json_t *e, const ps_batch_t *b, bool forwarded)
{
    assert_string_equal (b->producer, s_jstr (e, "producer"));
    assert_true (b->seq == (uint64_t) s_jint (e, "seq"));
    if (forwarded) {
        assert_string_equal (b->ingest, s_jstr (e, "ingest"));
        assert_true (b->jseq == (uint64_t) s_jint (e, "jseq"));
        const json_t *journal = json_object_get (e, "journal");
        assert_true (b->journal == (journal ? (uint64_t) json_integer_value (journal) : 0));
    }
    assert_int_equal (b->total, s_jint (e, "total"));
    const json_t *reports = json_object_get (e, "reports");
    assert_int_equal (b->nreports, json_array_size (reports));
    for (uint32_t i = 0; i < b->nreports; i++)
        s_assert_report (json_array_get (reports, i), &b->reports[i], b->index[i]);
    const json_t *rejects = json_object_get (e, "rejects");
    if (b->nrejects != json_array_size (rejects))
        for (uint32_t i = 0; i < b->nrejects; i++)
            print_error ("reject %u: %s\n", b->rejects[i].index, b->rejects[i].error.reason);
    assert_int_equal (b->nrejects, json_array_size (rejects));
    for (uint32_t i = 0; i < b->nrejects; i++) {
        const json_t *r = json_array_get (rejects, i);
        assert_int_equal (b->rejects[i].index, s_jint (r, "index"));
        s_assert_error (r, &b->rejects[i].error);
    }
}

static void s_assert_same_report (const ps_report_t *a, const ps_report_t *b)
{
    assert_string_equal (a->source, b->source);
    assert_int_equal (ps_period_cmp (&a->period, &b->period), 0);
    assert_int_equal (a->period.gran, b->period.gran);
    assert_int_equal (a->ndims, b->ndims);
    for (int i = 0; i < a->ndims; i++) {
        assert_string_equal (a->dims[i].name, b->dims[i].name);
        assert_string_equal (a->dims[i].value, b->dims[i].value);
    }
    assert_int_equal (a->has_count, b->has_count);
    assert_true (a->count == b->count);
    assert_int_equal (a->has_amount, b->has_amount);
    assert_true (a->amount == b->amount);
    assert_string_equal (a->currency, b->currency);
    assert_int_equal (a->op, b->op);
}

/*  Encodes B (in the forwarded form when FORWARDED), decodes the result and
    checks that the meaning survived. Returns the encoding's bytes in OUT. */
static void s_round_trip (const ps_batch_t *b, bool forwarded, msgpack_sbuffer *out)
{
    msgpack_sbuffer_clear (out);
    assert_int_equal (ps_batch_encode (b, forwarded, out), 0);
    ps_batch_t *again = ps_batch_new ();
    ps_error_t err;
    assert_int_equal (ps_batch_decode (again, out->data, out->size, forwarded, &err), 0);
    assert_string_equal (again->producer, b->producer);
    assert_true (again->seq == b->seq);
    assert_int_equal (again->nrejects, 0);
    assert_int_equal (again->nreports, b->nreports);
    for (uint32_t i = 0; i < b->nreports; i++) {
        s_assert_same_report (&again->reports[i], &b->reports[i]);
        /* The producer's form carries no index: it is the position. */
        assert_int_equal (again->index[i], forwarded ? b->index[i] : i);
    }
    if (forwarded) {
        assert_string_equal (again->ingest, b->ingest);
        assert_true (again->jseq == b->jseq);
    }
    ps_batch_destroy (&again);
}

static void s_batch_vector (const uint8_t *data, size_t size, bool forwarded, const json_t *expect,
                            bool canonical)
{
    ps_batch_t *b = ps_batch_new ();
    assert_non_null (b);
    ps_error_t err;
    int rc = ps_batch_decode (b, data, size, forwarded, &err);
    const json_t *error = json_object_get (expect, "error");
    if (error) {
        assert_int_equal (rc, -1);
        s_assert_error (error, &err);
        ps_batch_destroy (&b);
        return;
    }
    if (rc != 0)
        fail_msg ("refused: %s/%s: %s", ps_error_code_name (err.code), err.field, err.reason);
    s_assert_batch (expect, b, forwarded);

    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_round_trip (b, forwarded, &buf);
    if (canonical) {
        assert_int_equal (buf.size, size);
        assert_memory_equal (buf.data, data, size);
    }
    if (!forwarded) {
        snprintf (b->ingest, sizeof b->ingest, "ingest-rt");
        b->jseq = 1;
        s_round_trip (b, true, &buf);
    }
    msgpack_sbuffer_destroy (&buf);
    ps_batch_destroy (&b);
}

/* ---- Acks ----------------------------------------------------------------- */

static void s_assert_ack (const json_t *e, const ps_ack_t *ack)
{
    assert_string_equal (ack->producer, s_jstr (e, "producer"));
    assert_true (ack->seq == (uint64_t) s_jint (e, "seq"));
    assert_string_equal (ps_ack_status_name (ack->status), s_jstr (e, "status"));
    assert_int_equal (ack->accepted, s_jint (e, "accepted"));
    const json_t *rejected = json_object_get (e, "rejected");
    assert_int_equal (ack->nrejects, json_array_size (rejected));
    for (uint32_t i = 0; i < ack->nrejects; i++) {
        const json_t *r = json_array_get (rejected, i);
        assert_int_equal (ack->rejects[i].index, s_jint (r, "index"));
        s_assert_error (r, &ack->rejects[i].error);
        assert_string_equal (ack->rejects[i].error.reason, s_jstr (r, "reason"));
    }
    const json_t *error = json_object_get (e, "error");
    assert_int_equal (ack->has_error, error != NULL);
    if (error) {
        s_assert_error (error, &ack->error);
        assert_string_equal (ack->error.reason, s_jstr (error, "reason"));
    }
}

static void s_ack_vector (const uint8_t *data, size_t size, const json_t *expect, bool canonical)
{
    ps_ack_t ack = {0};
    ps_error_t err;
    int rc = ps_ack_decode (&ack, data, size, &err);
    const json_t *error = json_object_get (expect, "error");
    if (error && !json_object_get (expect, "status")) {
        assert_int_equal (rc, -1);
        s_assert_error (error, &err);
        assert_null (ack.rejects);
        return;
    }
    if (rc != 0)
        fail_msg ("refused: %s/%s: %s", ps_error_code_name (err.code), err.field, err.reason);
    s_assert_ack (expect, &ack);

    /* Rebuild the batch the ack speaks of, and encode it again. */
    ps_batch_t *b = ps_batch_new ();
    snprintf (b->producer, sizeof b->producer, "%s", ack.producer);
    b->seq = ack.seq;
    ps_report_t dummy = {.source = "X", .has_count = true};
    for (uint32_t i = 0; i < ack.accepted; i++)
        assert_int_equal (ps_batch_append (b, &dummy, i), 0);
    for (uint32_t i = 0; i < ack.nrejects; i++)
        assert_int_equal (ps_batch_add_reject (b, ack.rejects[i].index, &ack.rejects[i].error), 0);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    assert_int_equal (ps_ack_encode (b, ack.status, ack.has_error ? &ack.error : NULL, &buf), 0);
    if (canonical) {
        assert_int_equal (buf.size, size);
        assert_memory_equal (buf.data, data, size);
    }
    ps_ack_t again = {0};
    assert_int_equal (ps_ack_decode (&again, buf.data, buf.size, &err), 0);
    s_assert_ack (expect, &again);
    ps_ack_clear (&again);
    ps_ack_clear (&ack);
    msgpack_sbuffer_destroy (&buf);
    ps_batch_destroy (&b);
}

/* ---- Updates, feed bodies, heartbeats ------------------------------------- */

static void s_assert_items (const json_t *items, const ps_update_item_t *got, size_t n)
{
    assert_int_equal (n, json_array_size (items));
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get (items, i);
        const char *topic = s_jstr (item, "topic");
        assert_int_equal (got[i].topic_len, strlen (topic));
        assert_memory_equal (got[i].topic, topic, got[i].topic_len);
        const json_t *body = json_object_get (item, "body");
        if (json_is_null (body))
            assert_int_equal (got[i].body_len, 0);
        else
            s_assert_means (got[i].body, got[i].body_len, body);
    }
}

static void s_update_vector (const uint8_t *data, size_t size, const json_t *expect, bool canonical)
{
    ps_update_item_t *items = NULL;
    size_t n, capacity = 0;
    uint64_t epoch, useq;
    ps_error_t err;
    int rc = ps_feed_update_decode (data, size, &epoch, &useq, &items, &n, &capacity, &err);
    const json_t *error = json_object_get (expect, "error");
    if (error) {
        assert_int_equal (rc, -1);
        s_assert_error (error, &err);
        free (items);
        return;
    }
    if (rc != 0)
        fail_msg ("refused: %s/%s: %s", ps_error_code_name (err.code), err.field, err.reason);
    assert_true (epoch == (uint64_t) s_jint (expect, "epoch"));
    assert_true (useq == (uint64_t) s_jint (expect, "useq"));
    s_assert_items (json_object_get (expect, "items"), items, n);

    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    assert_int_equal (ps_feed_update_encode (epoch, useq, items, n, &buf), 0);
    if (canonical) {
        assert_int_equal (buf.size, size);
        assert_memory_equal (buf.data, data, size);
    }
    ps_update_item_t *again = NULL;
    size_t m, cap2 = 0;
    uint64_t epoch2, useq2;
    assert_int_equal (
        ps_feed_update_decode (buf.data, buf.size, &epoch2, &useq2, &again, &m, &cap2, &err), 0);
    assert_true (epoch2 == epoch);
    assert_true (useq2 == useq);
    s_assert_items (json_object_get (expect, "items"), again, m);
    free (again);
    free (items);
    msgpack_sbuffer_destroy (&buf);
}

static void s_feed_vector (const json_t *v, const uint8_t *data, size_t size, const json_t *expect,
                           bool heartbeat)
{
    const json_t *input = json_object_get (v, "input");
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    if (heartbeat)
        assert_int_equal (ps_feed_heartbeat_body ((uint64_t) s_jint (input, "epoch"),
                                                  (uint64_t) s_jint (input, "seq"),
                                                  (uint32_t) s_jint (input, "interval_ms"), &buf),
                          0);
    else {
        size_t len;
        uint8_t *fields = test_unhex (s_jstr (input, "fields_hex"), &len);
        assert_int_equal (ps_feed_body ((uint64_t) s_jint (input, "seq"),
                                        (uint64_t) s_jint (input, "prev"),
                                        (uint64_t) s_jint (input, "epoch"), fields, len, &buf),
                          0);
        free (fields);
    }
    assert_int_equal (buf.size, size);
    assert_memory_equal (buf.data, data, size);
    s_assert_means (data, size, expect);
    ps_error_t err;
    assert_int_equal (ps_msgpack_check (buf.data, buf.size, &err), 0);
    msgpack_sbuffer_destroy (&buf);
}

/* ---- Journal replay ------------------------------------------------------ */

static void s_hello_vector (const uint8_t *data, size_t size, const json_t *expect, bool canonical)
{
    ps_hello_t hello;
    ps_error_t err;
    int rc = ps_control_hello_decode (data, size, &hello, &err);
    const json_t *error = json_object_get (expect, "error");
    if (error) {
        assert_int_equal (rc, -1);
        s_assert_error (error, &err);
        return;
    }
    if (rc != 0)
        fail_msg ("refused: %s/%s: %s", ps_error_code_name (err.code), err.field, err.reason);
    assert_string_equal (hello.ingest, s_jstr (expect, "ingest"));
    assert_true (hello.journal == (uint64_t) s_jint (expect, "journal"));
    assert_true (hello.first == (uint64_t) s_jint (expect, "first"));
    assert_true (hello.head == (uint64_t) s_jint (expect, "head"));
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    assert_int_equal (ps_control_hello_encode (&hello, &buf), 0);
    if (canonical) {
        assert_int_equal (buf.size, size);
        assert_memory_equal (buf.data, data, size);
    }
    ps_hello_t again;
    assert_int_equal (ps_control_hello_decode (buf.data, buf.size, &again, &err), 0);
    assert_string_equal (again.ingest, hello.ingest);
    assert_true (again.journal == hello.journal && again.first == hello.first &&
                 again.head == hello.head);
    msgpack_sbuffer_destroy (&buf);
}

static void s_position_vector (const uint8_t *data, size_t size, const json_t *expect,
                               bool canonical)
{
    ps_position_t pos;
    ps_error_t err;
    int rc = ps_control_position_decode (data, size, &pos, &err);
    const json_t *error = json_object_get (expect, "error");
    if (error) {
        assert_int_equal (rc, -1);
        s_assert_error (error, &err);
        return;
    }
    if (rc != 0)
        fail_msg ("refused: %s/%s: %s", ps_error_code_name (err.code), err.field, err.reason);
    assert_true (pos.journal == (uint64_t) s_jint (expect, "journal"));
    assert_true (pos.applied == (uint64_t) s_jint (expect, "applied"));
    assert_true (pos.ckpt == (uint64_t) s_jint (expect, "ckpt"));
    assert_int_equal (pos.resend, json_is_true (json_object_get (expect, "resend")));
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    assert_int_equal (ps_control_position_encode (&pos, &buf), 0);
    if (canonical) {
        assert_int_equal (buf.size, size);
        assert_memory_equal (buf.data, data, size);
    }
    ps_position_t again;
    assert_int_equal (ps_control_position_decode (buf.data, buf.size, &again, &err), 0);
    assert_true (again.applied == pos.applied && again.ckpt == pos.ckpt &&
                 again.journal == pos.journal && again.resend == pos.resend);
    msgpack_sbuffer_destroy (&buf);
}

static void test_vector (void **state)
{
    const json_t *v = *state;
    const char *message = s_jstr (v, "message");
    const json_t *expect = json_object_get (v, "expect");
    bool canonical = json_is_true (json_object_get (v, "canonical"));
    size_t size;
    uint8_t *data = test_unhex (s_jstr (v, "hex"), &size);
    if (s_streq (message, "batch") || s_streq (message, "batch_forwarded"))
        s_batch_vector (data, size, s_streq (message, "batch_forwarded"), expect, canonical);
    else if (s_streq (message, "ack"))
        s_ack_vector (data, size, expect, canonical);
    else if (s_streq (message, "update"))
        s_update_vector (data, size, expect, canonical);
    else if (s_streq (message, "feed") || s_streq (message, "heartbeat"))
        s_feed_vector (v, data, size, expect, s_streq (message, "heartbeat"));
    else if (s_streq (message, "hello"))
        s_hello_vector (data, size, expect, canonical);
    else if (s_streq (message, "position"))
        s_position_vector (data, size, expect, canonical);
    else
        fail_msg ("unknown message kind '%s'", message);
    free (data);
}

/* ---- Targeted tests -------------------------------------------------------- */

static int s_check (const char *bytes, size_t size, ps_err_t *code)
{
    ps_error_t err;
    int rc = ps_msgpack_check (bytes, size, &err);
    *code = rc == 0 ? PS_OK : err.code;
    return rc;
}

#define CHECK_OK(lit)                                                                              \
    do {                                                                                           \
        ps_err_t c_;                                                                               \
        assert_int_equal (s_check (lit, sizeof lit - 1, &c_), 0);                                  \
    } while (0)
#define CHECK_FAILS(lit, want)                                                                     \
    do {                                                                                           \
        ps_err_t c_;                                                                               \
        assert_int_equal (s_check (lit, sizeof lit - 1, &c_), -1);                                 \
        assert_int_equal (c_, want);                                                               \
    } while (0)

static void test_check_scalars_and_headers (void **state)
{
    (void) state;
    CHECK_OK ("\xc0");
    CHECK_OK ("\xc3");
    CHECK_OK ("\x7f");
    CHECK_OK ("\xe0");
    CHECK_OK ("\xcc\xff");
    CHECK_OK ("\xd3\x80\x00\x00\x00\x00\x00\x00\x00");
    CHECK_OK ("\xcb\x40\x09\x21\xfb\x54\x44\x2d\x18");
    CHECK_OK ("\xca\x3f\x80\x00\x00");
    CHECK_OK ("\xd4\x01\x00");
    CHECK_OK ("\xd8\x01"
              "0123456789abcdef");
    CHECK_OK ("\xc7\x02\x05\xaa\xbb");
    CHECK_OK ("\xc4\x02\xff\xfe");
    CHECK_OK ("\x82\x01\x02\x03\x04");
    CHECK_OK ("\x90");
    CHECK_OK ("\x80");
    CHECK_FAILS ("", PS_E_DECODE);
    CHECK_FAILS ("\xc1", PS_E_DECODE);
    CHECK_FAILS ("\xc0\xc0", PS_E_DECODE);
    CHECK_FAILS ("\xcd\x01", PS_E_DECODE);
    CHECK_FAILS ("\xd8\x01"
                 "0123",
                 PS_E_DECODE);
    CHECK_FAILS ("\xc7\x02\x05\xaa", PS_E_DECODE);
    /* A map of N needs 2N bytes, an array of N needs N: refused on the header. */
    CHECK_FAILS ("\x82\x01\x02\x03", PS_E_DECODE);
    CHECK_FAILS ("\x93\x01\x02", PS_E_DECODE);
    CHECK_FAILS ("\xdc\xff\xff", PS_E_DECODE);
    CHECK_FAILS ("\xdd\xff\xff\xff\xff", PS_E_DECODE);
    CHECK_FAILS ("\xde\xff\xff", PS_E_DECODE);
    CHECK_FAILS ("\xdf\xff\xff\xff\xff", PS_E_DECODE);
    CHECK_FAILS ("\xdb\xff\xff\xff\xff", PS_E_DECODE);
    CHECK_FAILS ("\xc6\xff\xff\xff\xff", PS_E_DECODE);
    CHECK_FAILS ("\xc9\xff\xff\xff\xff\x01", PS_E_DECODE);
    CHECK_FAILS ("\xdd\x00\x00", PS_E_DECODE);
}

static void test_check_depth (void **state)
{
    (void) state;
    char buf[64];
    ps_err_t code;
    /* PS_MAX_DEPTH nested arrays (innermost holds nil) pass; one more fails. */
    for (int depth = 1; depth <= PS_MAX_DEPTH + 2; depth++) {
        memset (buf, 0x91, (size_t) depth);
        buf[depth] = (char) 0xc0;
        int rc = s_check (buf, (size_t) depth + 1, &code);
        assert_int_equal (rc, depth <= PS_MAX_DEPTH ? 0 : -1);
        if (rc)
            assert_int_equal (code, PS_E_LIMIT);
    }
    /* Maps count as levels too: map -> map -> ... */
    size_t n = 0;
    for (int i = 0; i < PS_MAX_DEPTH; i++) {
        buf[n++] = (char) 0x81;
        buf[n++] = (char) 0xa1;
        buf[n++] = 'k';
    }
    buf[n++] = (char) 0xc0;
    assert_int_equal (s_check (buf, n, &code), 0);
    buf[n - 1] = (char) 0x90;
    assert_int_equal (s_check (buf, n, &code), -1);
    assert_int_equal (code, PS_E_LIMIT);
}

static void test_check_frame_size (void **state)
{
    (void) state;
    size_t size = PS_MAX_FRAME;
    char *buf = calloc (1, size + 1);
    assert_non_null (buf);
    /* One bin32 filling the frame exactly is accepted... */
    uint32_t len = (uint32_t) (size - 5);
    buf[0] = (char) 0xc6;
    buf[1] = (char) (len >> 24);
    buf[2] = (char) (len >> 16);
    buf[3] = (char) (len >> 8);
    buf[4] = (char) len;
    ps_err_t code;
    assert_int_equal (s_check (buf, size, &code), 0);
    /* ...one byte more is over the limit, whatever it holds. */
    assert_int_equal (s_check (buf, size + 1, &code), -1);
    assert_int_equal (code, PS_E_LIMIT);
    free (buf);
}

static void test_check_utf8 (void **state)
{
    (void) state;
    static const char *const good[] = {"",
                                       "abc",
                                       "\xc2\x80",
                                       "\xdf\xbf",
                                       "\xe2\x82\xac",
                                       "\xe0\xa0\x80",
                                       "\xed\x9f\xbf",
                                       "\xee\x80\x80",
                                       "\xef\xbf\xbf",
                                       "\xf0\x90\x80\x80",
                                       "\xf0\x9d\x84\x9e",
                                       "\xf4\x8f\xbf\xbf",
                                       "caf\xc3\xa9"};
    static const char *const bad[] = {"\x80",
                                      "\xbf",
                                      "\xc0\x80",
                                      "\xc0\xaf",
                                      "\xc1\xbf",
                                      "\xc2",
                                      "\xc2\x41",
                                      "\xe0\x80\x80",
                                      "\xe0\x9f\xbf",
                                      "\xed\xa0\x80",
                                      "\xed\xbf\xbf",
                                      "\xe2\x82",
                                      "\xe2\x28\xa1",
                                      "\xf0\x80\x80\x80",
                                      "\xf0\x8f\xbf\xbf",
                                      "\xf4\x90\x80\x80",
                                      "\xf5\x80\x80\x80",
                                      "\xf8\x88\x80\x80\x80",
                                      "\xfe",
                                      "\xff",
                                      "ok\xe2\x82\xac\xe2"};
    char buf[32];
    ps_err_t code;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        size_t len = strlen (good[i]);
        buf[0] = (char) (0xa0 | len);
        memcpy (buf + 1, good[i], len);
        assert_int_equal (s_check (buf, len + 1, &code), 0);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t len = strlen (bad[i]);
        buf[0] = (char) (0xa0 | len);
        memcpy (buf + 1, bad[i], len);
        if (s_check (buf, len + 1, &code) != -1 || code != PS_E_UTF8)
            fail_msg ("bad UTF-8 #%zu accepted", i);
    }
}

/*  Packs the head of a producer batch by hand; NREPORTS report maps follow. */
static void s_pack_head (msgpack_packer *pk, uint32_t nreports)
{
    msgpack_pack_map (pk, 5);
    msgpack_pack_str_with_body (pk, "v", 1);
    msgpack_pack_uint8 (pk, 1);
    msgpack_pack_str_with_body (pk, "type", 4);
    msgpack_pack_str_with_body (pk, "batch", 5);
    msgpack_pack_str_with_body (pk, "producer", 8);
    msgpack_pack_str_with_body (pk, "p1", 2);
    msgpack_pack_str_with_body (pk, "seq", 3);
    msgpack_pack_uint8 (pk, 1);
    msgpack_pack_str_with_body (pk, "reports", 7);
    msgpack_pack_array (pk, nreports);
}

static void s_kv_str (msgpack_packer *pk, const char *key, const char *value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_str_with_body (pk, value, strlen (value));
}

/*  Decodes a one-report batch whose report is {source: CMI, period: 2012}
    plus the NEXTRA pairs EXTRA packs, and checks the reject's REASON. */
static void s_assert_reason (void (*extra) (msgpack_packer *), uint32_t nextra, const char *reason)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    s_pack_head (&pk, 1);
    msgpack_pack_map (&pk, 2 + nextra);
    s_kv_str (&pk, "source", "CMI");
    s_kv_str (&pk, "period", "2012");
    extra (&pk);
    ps_batch_t *b = ps_batch_new ();
    ps_error_t err;
    assert_int_equal (ps_batch_decode (b, buf.data, buf.size, false, &err), 0);
    assert_int_equal (b->nrejects, 1);
    assert_string_equal (b->rejects[0].error.reason, reason);
    ps_batch_destroy (&b);
    msgpack_sbuffer_destroy (&buf);
}

static void s_neg_count (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "count", 5);
    msgpack_pack_int8 (pk, -5);
}

static void s_dup_dims (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "dims", 4);
    msgpack_pack_array (pk, 2);
    msgpack_pack_str_with_body (pk, "card=a", 6);
    msgpack_pack_str_with_body (pk, "card=b", 6);
    msgpack_pack_str_with_body (pk, "count", 5);
    msgpack_pack_uint8 (pk, 1);
}

static void s_five_dims (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "dims", 4);
    msgpack_pack_array (pk, 5);
    for (int i = 0; i < 5; i++) {
        char dim[4] = {(char) ('a' + i), '=', '1', 0};
        msgpack_pack_str_with_body (pk, dim, 3);
    }
    msgpack_pack_str_with_body (pk, "count", 5);
    msgpack_pack_uint8 (pk, 1);
}

static void s_bad_currency (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "amount", 6);
    msgpack_pack_uint8 (pk, 1);
    s_kv_str (pk, "currency", "XYZ");
}

static void s_no_currency (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "amount", 6);
    msgpack_pack_uint8 (pk, 1);
}

static void s_bad_op (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "count", 5);
    msgpack_pack_uint8 (pk, 1);
    s_kv_str (pk, "op", "mul");
}

static void test_reject_reasons (void **state)
{
    (void) state;
    s_assert_reason (s_neg_count, 1, "count must be >= 0, got -5");
    s_assert_reason (s_dup_dims, 2, "dimension 'card' appears twice");
    s_assert_reason (s_five_dims, 2, "5 dimensions, at most 4");
    s_assert_reason (s_bad_currency, 2, "currency 'XYZ' is not an ISO 4217 code");
    s_assert_reason (s_no_currency, 1, "amount needs a currency");
    s_assert_reason (s_bad_op, 2, "op must be \"add\", \"set\" or \"retract\", got \"mul\"");
}

/*  Client text quoted in a reason is cut on a character boundary, so an ack
    carrying it is still valid UTF-8. */
static void test_reason_quotes_stay_utf8 (void **state)
{
    (void) state;
    char period[128] = "";
    for (int i = 0; i < 30; i++)
        strcat (period, "\xc3\xa9"); /* 60 bytes of 'é' */
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    s_pack_head (&pk, 1);
    msgpack_pack_map (&pk, 3);
    s_kv_str (&pk, "source", "CMI");
    s_kv_str (&pk, "period", period + 1); /* starts mid-character: invalid... */
    msgpack_pack_str_with_body (&pk, "count", 5);
    msgpack_pack_uint8 (&pk, 1);
    ps_batch_t *b = ps_batch_new ();
    ps_error_t err;
    /* ...so the frame is refused as a whole, */
    assert_int_equal (ps_batch_decode (b, buf.data, buf.size, false, &err), -1);
    assert_int_equal (err.code, PS_E_UTF8);
    /* while valid text of any length is quoted safely. */
    msgpack_sbuffer_clear (&buf);
    s_pack_head (&pk, 1);
    msgpack_pack_map (&pk, 3);
    s_kv_str (&pk, "source", "CMI");
    s_kv_str (&pk, "period", period);
    msgpack_pack_str_with_body (&pk, "count", 5);
    msgpack_pack_uint8 (&pk, 1);
    assert_int_equal (ps_batch_decode (b, buf.data, buf.size, false, &err), 0);
    assert_int_equal (b->nrejects, 1);
    assert_int_equal (b->rejects[0].error.code, PS_E_PERIOD);
    assert_non_null (strstr (b->rejects[0].error.reason, "..."));
    msgpack_sbuffer_clear (&buf);
    assert_int_equal (ps_ack_encode (b, PS_ACK_REJECTED, NULL, &buf), 0);
    assert_int_equal (ps_msgpack_check (buf.data, buf.size, &err), 0);
    ps_batch_destroy (&b);
    msgpack_sbuffer_destroy (&buf);
}

static void test_feed_body (void **state)
{
    (void) state;
    msgpack_sbuffer fields, out;
    msgpack_sbuffer_init (&fields);
    msgpack_sbuffer_init (&out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &fields, msgpack_sbuffer_write);
    ps_error_t err;
    /* 0..20 entries: from 12 on, a fixmap's grown header becomes a map16;
       every size keeps all entries after the four new ones. */
    for (uint32_t n = 0; n <= 20; n++) {
        msgpack_sbuffer_clear (&fields);
        msgpack_pack_map (&pk, n);
        for (uint32_t i = 0; i < n; i++) {
            char key[8];
            int len = snprintf (key, sizeof key, "k%u", i);
            msgpack_pack_str_with_body (&pk, key, (size_t) len);
            msgpack_pack_uint32 (&pk, i);
        }
        assert_int_equal (ps_feed_body (9, 8, 7, (const uint8_t *) fields.data, fields.size, &out),
                          0);
        assert_int_equal (ps_msgpack_check (out.data, out.size, &err), 0);
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        assert_int_equal (msgpack_unpack_next (&u, out.data, out.size, NULL),
                          MSGPACK_UNPACK_SUCCESS);
        assert_int_equal (u.data.via.map.size, n + 4);
        assert_int_equal (ps_msgpack_map_get (&u.data, "seq")->via.u64, 9);
        assert_int_equal (ps_msgpack_map_get (&u.data, "prev")->via.u64, 8);
        assert_int_equal (ps_msgpack_map_get (&u.data, "epoch")->via.u64, 7);
        assert_int_equal (ps_msgpack_map_get (&u.data, "v")->via.u64, 1);
        static const char *const front[] = {"v", "seq", "prev", "epoch"};
        for (int k = 0; k < 4; k++) {
            const msgpack_object_str *key = &u.data.via.map.ptr[k].key.via.str;
            assert_int_equal (key->size, strlen (front[k]));
            assert_memory_equal (key->ptr, front[k], key->size);
        }
        if (n > 0)
            assert_int_equal (ps_msgpack_map_get (&u.data, "k0")->via.u64, 0);
        msgpack_unpacked_destroy (&u);
    }
    /* A map32 header is accepted as input too. */
    const uint8_t map32[] = {0xdf, 0, 0, 0, 1, 0xa1, 'a', 0x05};
    assert_int_equal (ps_feed_body (1, 0, 1, map32, sizeof map32, &out), 0);
    assert_int_equal (ps_msgpack_check (out.data, out.size, &err), 0);
    assert_int_equal ((uint8_t) out.data[0], 0x85);
    /* Not a map, empty, or a cut header: refused, OUT left empty. */
    const uint8_t array[] = {0x91, 0x01}, cut[] = {0xde, 0x00};
    assert_int_equal (ps_feed_body (1, 0, 1, array, sizeof array, &out), -1);
    assert_int_equal (out.size, 0);
    assert_int_equal (ps_feed_body (1, 0, 1, array, 0, &out), -1);
    assert_int_equal (ps_feed_body (1, 0, 1, cut, sizeof cut, &out), -1);
    msgpack_sbuffer_destroy (&fields);
    msgpack_sbuffer_destroy (&out);
}

static void test_batch_bookkeeping (void **state)
{
    (void) state;
    ps_batch_t *b = ps_batch_new ();
    ps_report_t r = {.source = "CMI", .has_count = true, .count = 1};
    assert_int_equal (ps_period_parse ("2012", 4, &r.period, NULL), 0);
    for (uint32_t i = 0; i < 5; i++) {
        r.count = i;
        assert_int_equal (ps_batch_append (b, &r, i), 0);
    }
    ps_error_t e = {PS_E_OVERFLOW, "count", "would overflow"};
    ps_batch_reject (b, 3, &e); /* index 3 */
    ps_batch_reject (b, 0, &e); /* index 0 */
    assert_int_equal (b->nreports, 3);
    assert_int_equal (b->nrejects, 2);
    assert_int_equal (b->rejects[0].index, 0);
    assert_int_equal (b->rejects[1].index, 3);
    assert_int_equal (b->index[0], 1);
    assert_int_equal (b->index[1], 2);
    assert_int_equal (b->index[2], 4);
    assert_true (b->reports[2].count == 4);
    assert_int_equal (ps_batch_add_reject (b, 2, &e), 0);
    assert_int_equal (b->rejects[1].index, 2);
    assert_int_equal (b->total, 5);

    /* Forwarded encoding keeps each report's original index. */
    snprintf (b->producer, sizeof b->producer, "p1");
    b->seq = 1;
    snprintf (b->ingest, sizeof b->ingest, "i1");
    b->jseq = 9;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    assert_int_equal (ps_batch_encode (b, true, &buf), 0);
    ps_batch_t *fw = ps_batch_new ();
    ps_error_t err;
    assert_int_equal (ps_batch_decode (fw, buf.data, buf.size, true, &err), 0);
    assert_int_equal (fw->nreports, 3);
    assert_int_equal (fw->index[2], 4);
    assert_true (fw->jseq == 9);

    /* Decoding reuses memory: a second batch of the same size does not grow it. */
    ps_batch_reset (b);
    snprintf (b->producer, sizeof b->producer, "p1");
    b->seq = 2;
    for (uint32_t i = 0; i < 3000; i++)
        assert_int_equal (ps_batch_append (b, &r, i), 0);
    msgpack_sbuffer_clear (&buf);
    assert_int_equal (ps_batch_encode (b, false, &buf), 0);
    assert_int_equal (ps_batch_decode (fw, buf.data, buf.size, false, &err), 0);
    uint32_t capacity = fw->capacity;
    ps_report_t *reports = fw->reports;
    assert_int_equal (ps_batch_decode (fw, buf.data, buf.size, false, &err), 0);
    assert_int_equal (fw->capacity, capacity);
    assert_ptr_equal (fw->reports, reports);
    assert_int_equal (fw->nreports, 3000);

    /* PS_MAX_REPORTS is the most a batch holds. */
    ps_batch_reset (b);
    for (uint32_t i = 0; i < PS_MAX_REPORTS; i++)
        assert_int_equal (ps_batch_append (b, &r, i), 0);
    assert_int_equal (ps_batch_append (b, &r, PS_MAX_REPORTS), -1);
    assert_true (b->capacity <= PS_MAX_REPORTS);
    ps_batch_destroy (&b);
    assert_null (b);
    ps_batch_destroy (&b); /* NULL-safe */
    ps_batch_destroy (&fw);
    msgpack_sbuffer_destroy (&buf);
}

static void test_topic_format (void **state)
{
    (void) state;
    char buf[PS_TOPIC_MAX + 1];
    ps_period_t p;
    assert_int_equal (ps_period_parse ("2012-Q3", 7, &p, NULL), 0);
    ps_dim_t dims[PS_MAX_DIMS] = {{"card", "domestic"}, {"channel", "ecommerce"}};
    const char *want = "CMI/2012-Q3/card=domestic,channel=ecommerce";
    assert_int_equal (ps_grammar_topic_format ("CMI", &p, dims, 2, buf), strlen (want));
    assert_string_equal (buf, want);
    assert_int_equal (ps_period_parse ("2012", 4, &p, NULL), 0);
    ps_grammar_topic_format ("MTC", &p, NULL, 0, buf);
    assert_string_equal (buf, "MTC/2012/");
    /* The longest topic fits PS_TOPIC_MAX. */
    char source[PS_SOURCE_MAX + 1];
    memset (source, 'S', PS_SOURCE_MAX);
    source[PS_SOURCE_MAX] = '\0';
    assert_int_equal (ps_period_parse ("2012-07-15", 10, &p, NULL), 0);
    for (int i = 0; i < PS_MAX_DIMS; i++) {
        memset (dims[i].name, 'a' + i, PS_DIM_NAME_MAX);
        dims[i].name[PS_DIM_NAME_MAX] = '\0';
        memset (dims[i].value, 'v', PS_DIM_VALUE_MAX);
        dims[i].value[PS_DIM_VALUE_MAX] = '\0';
    }
    size_t len = ps_grammar_topic_format (source, &p, dims, PS_MAX_DIMS, buf);
    assert_true (len <= PS_TOPIC_MAX);
    assert_int_equal (strlen (buf), len);
}

static void test_names (void **state)
{
    (void) state;
    for (int c = PS_E_DECODE; c < PS_E__COUNT; c++) {
        const char *name = ps_error_code_name ((ps_err_t) c);
        assert_int_equal (ps_error_code_from_name (name, strlen (name)), c);
    }
    assert_string_equal (ps_error_code_name (PS_E_CURRENCY_MISMATCH), "currency_mismatch");
    assert_string_equal (ps_error_code_name (PS_E_RETRY), "retry_later");
    assert_string_equal (ps_error_code_name (PS_E_PERMISSION), "not_permitted");
    assert_string_equal (ps_error_code_name (PS_E__COUNT), "unknown");
    assert_int_equal (ps_error_code_from_name ("nope", 4), PS_E__COUNT);
    assert_int_equal (ps_error_code_from_name ("decodex", 6), PS_E_DECODE);
    assert_string_equal (ps_ack_status_name (PS_ACK_RETRY), "retry_later");
    assert_string_equal (ps_grammar_op_name (PS_OP_SET), "set");
}

static void test_ack_unreadable_batch (void **state)
{
    (void) state;
    ps_error_t e = {PS_E_DECODE, "", "empty frame"};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    assert_int_equal (ps_ack_encode (NULL, PS_ACK_REJECTED, &e, &buf), 0);
    ps_ack_t ack = {0};
    ps_error_t err;
    assert_int_equal (ps_ack_decode (&ack, buf.data, buf.size, &err), 0);
    assert_string_equal (ack.producer, "");
    assert_true (ack.seq == 0);
    assert_int_equal (ack.status, PS_ACK_REJECTED);
    assert_true (ack.has_error);
    assert_int_equal (ack.error.code, PS_E_DECODE);
    assert_string_equal (ack.error.reason, "empty frame");
    ps_ack_clear (&ack);
    msgpack_sbuffer_destroy (&buf);
}

static void test_update_capacity (void **state)
{
    (void) state;
    enum { N = 100 };
    ps_update_item_t items[N];
    char topics[N][16];
    const uint8_t body[] = {0x81, 0xa1, 'n', 0x01};
    for (int i = 0; i < N; i++) {
        items[i].topic = topics[i];
        items[i].topic_len = (size_t) snprintf (topics[i], sizeof topics[i], "S%d/2012/", i);
        items[i].body = body;
        items[i].body_len = sizeof body;
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    ps_update_item_t *got = NULL;
    size_t n, capacity = 0;
    uint64_t epoch, useq;
    ps_error_t err;
    for (size_t count = 1; count <= N; count *= 3) {
        msgpack_sbuffer_clear (&buf);
        assert_int_equal (ps_feed_update_encode (42, count, items, count, &buf), 0);
        assert_int_equal (
            ps_feed_update_decode (buf.data, buf.size, &epoch, &useq, &got, &n, &capacity, &err),
            0);
        assert_int_equal (useq, count);
        assert_int_equal (n, count);
        assert_true (capacity >= count);
        assert_memory_equal (got[count - 1].topic, topics[count - 1], got[count - 1].topic_len);
    }
    free (got);
    msgpack_sbuffer_destroy (&buf);
}

/*  Hostile bytes: random frames and mutations of valid ones must come back
    as 0 or -1 with a reason, never a crash (the sanitizer build watches). */
static void test_mutations (void **state)
{
    (void) state;
    DIR *dir = opendir (S_VECTOR_DIR);
    assert_non_null (dir);
    uint64_t rng = 0x9e3779b97f4a7c15u;
    ps_batch_t *b = ps_batch_new ();
    ps_update_item_t *items = NULL;
    size_t capacity = 0;
    struct dirent *ent;
    while ((ent = readdir (dir))) {
        size_t len = strlen (ent->d_name);
        if (len < 5 || strcmp (ent->d_name + len - 5, ".json") != 0)
            continue;
        char path[512];
        snprintf (path, sizeof path, "%s/%s", S_VECTOR_DIR, ent->d_name);
        json_t *v = json_load_file (path, 0, NULL);
        assert_non_null (v);
        size_t size;
        uint8_t *orig = test_unhex (s_jstr (v, "hex"), &size);
        uint8_t *data = malloc (size + 8);
        for (int round = 0; round < 300 && size > 0; round++) {
            memcpy (data, orig, size);
            size_t n = size;
            for (int k = 0; k < 1 + round % 4; k++) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                size_t at = (size_t) (rng % n);
                switch ((rng >> 32) % 4) {
                case 0:
                    data[at] = (uint8_t) (rng >> 40);
                    break;
                case 1:
                    data[at] ^= (uint8_t) (1u << ((rng >> 48) % 8));
                    break;
                case 2:
                    n = at + 1; /* truncate */
                    break;
                default:
                    data[at] = (uint8_t) (0xc0 + (rng >> 52) % 32); /* a header byte */
                    break;
                }
            }
            ps_error_t err;
            uint64_t epoch, useq;
            size_t count;
            ps_ack_t ack = {0};
            if (ps_batch_decode (b, data, n, false, &err) != 0 ||
                ps_batch_decode (b, data, n, true, &err) != 0)
                assert_true (err.reason[0] != '\0');
            if (ps_ack_decode (&ack, data, n, &err) == 0)
                ps_ack_clear (&ack);
            ps_feed_update_decode (data, n, &epoch, &useq, &items, &count, &capacity, &err);
        }
        free (data);
        free (orig);
        json_decref (v);
    }
    closedir (dir);
    free (items);
    ps_batch_destroy (&b);
}

/* ---- Runner ------------------------------------------------------------------ */

static int s_name_cmp (const void *a, const void *b)
{
    return strcmp (((const struct CMUnitTest *) a)->name, ((const struct CMUnitTest *) b)->name);
}

/* Compute's answer to a refused hello decodes alone, and nothing else
   passes for one. */
static void test_refusal_alone (void **state)
{
    (void) state;
    ps_error_t why = {PS_E_PERMISSION, "journal", "refused journal 8 of ingest ingest-1"};
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    assert_int_equal (ps_error_refusal_encode (&why, &out), 0);
    ps_error_t got, err;
    assert_int_equal (ps_error_refusal_decode (out.data, out.size, &got, &err), 0);
    assert_int_equal (got.code, PS_E_PERMISSION);
    assert_string_equal (got.field, "journal");
    assert_string_equal (got.reason, why.reason);
    msgpack_sbuffer_clear (&out);
    ps_position_t pos = {7, 1, 0, true};
    assert_int_equal (ps_control_position_encode (&pos, &out), 0);
    assert_int_equal (ps_error_refusal_decode (out.data, out.size, &got, &err), -1);
    assert_int_equal (err.code, PS_E_TYPE);
    assert_int_equal (ps_error_refusal_decode ("\xc1", 1, &got, &err), -1);
    msgpack_sbuffer_destroy (&out);
}

int main (void)
{
    DIR *dir = opendir (S_VECTOR_DIR);
    if (!dir) {
        perror (S_VECTOR_DIR);
        return 1;
    }
    size_t n = 0, cap = 64;
    struct CMUnitTest *tests = malloc (cap * sizeof *tests);
    json_t **vectors = malloc (cap * sizeof *vectors);
    struct dirent *ent;
    while ((ent = readdir (dir))) {
        size_t len = strlen (ent->d_name);
        if (len < 5 || strcmp (ent->d_name + len - 5, ".json") != 0)
            continue;
        char path[512];
        snprintf (path, sizeof path, "%s/%s", S_VECTOR_DIR, ent->d_name);
        json_error_t jerr;
        json_t *v = json_load_file (path, 0, &jerr);
        if (!v) {
            fprintf (stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
            return 1;
        }
        if (n == cap) {
            cap *= 2;
            tests = realloc (tests, cap * sizeof *tests);
            vectors = realloc (vectors, cap * sizeof *vectors);
        }
        vectors[n] = v;
        tests[n] = (struct CMUnitTest){json_string_value (json_object_get (v, "name")), test_vector,
                                       NULL, NULL, v};
        n++;
    }
    closedir (dir);
    if (n < 25) {
        fprintf (stderr, "only %zu vectors in %s\n", n, S_VECTOR_DIR);
        return 1;
    }
    qsort (tests, n, sizeof *tests, s_name_cmp);
    int failed = _cmocka_run_group_tests ("vectors", tests, n, NULL, NULL);

    const struct CMUnitTest unit[] = {
        cmocka_unit_test (test_check_scalars_and_headers),
        cmocka_unit_test (test_check_depth),
        cmocka_unit_test (test_check_frame_size),
        cmocka_unit_test (test_check_utf8),
        cmocka_unit_test (test_reject_reasons),
        cmocka_unit_test (test_reason_quotes_stay_utf8),
        cmocka_unit_test (test_feed_body),
        cmocka_unit_test (test_batch_bookkeeping),
        cmocka_unit_test (test_topic_format),
        cmocka_unit_test (test_names),
        cmocka_unit_test (test_ack_unreadable_batch),
        cmocka_unit_test (test_update_capacity),
        cmocka_unit_test (test_mutations),
        cmocka_unit_test (test_refusal_alone),
    };
    failed += cmocka_run_group_tests_name ("proto", unit, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        json_decref (vectors[i]);
    free (vectors);
    free (tests);
    return failed;
}
