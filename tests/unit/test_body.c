/*  ps_body: what publish accepts as an update item's body. Every body
    compute emits (cells of every granularity with every indicator, ratios,
    rejects) and every body of the update vectors passes; every malformed
    variant that would make the feed unreadable (issue #14: publish's
    numbering keys, a missing, non-string, repeated or wrong type, {}, a
    repeated key, ...) is refused with its reason and field, without reading
    outside the body. */

#include "test_compute_util.h"

#include <jansson.h>

#include "ps_body.h"
#include "test_hex.h"

#define S_CELL_TOPIC   "CMI/2012/card=domestic"
#define S_RATIO_TOPIC  "$ratio/abroad_vs_domestic/2012"
#define S_REJECT_TOPIC "$reject"

/* ---- Building bodies ---------------------------------------------------- */

typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} s_body_t;

static void s_begin (s_body_t *b, size_t pairs)
{
    msgpack_sbuffer_init (&b->buf);
    msgpack_packer_init (&b->pk, &b->buf, msgpack_sbuffer_write);
    msgpack_pack_map (&b->pk, pairs);
}

static void s_str (s_body_t *b, const char *text)
{
    msgpack_pack_str_with_body (&b->pk, text, strlen (text));
}

static void s_kv (s_body_t *b, const char *key, const char *value)
{
    s_str (b, key);
    s_str (b, value);
}

static void s_kint (s_body_t *b, const char *key, int64_t value)
{
    s_str (b, key);
    msgpack_pack_int64 (&b->pk, value);
}

/* The keys every cell needs (5 pairs), with one dim. */
static void s_cell_core (s_body_t *b)
{
    s_kv (b, "type", "cell");
    s_kv (b, "source", "CMI");
    s_kv (b, "period", "2012");
    s_kv (b, "gran", "year");
    s_str (b, "dims");
    msgpack_pack_map (&b->pk, 1);
    s_kv (b, "card", "domestic");
}

/*  Checks BODY on TOPIC from a buffer of exactly its size (so that a read
    past it is caught by ASan and valgrind). Returns ps_body_check's. */
static int s_check (const char *topic, const void *body, size_t size, ps_body_fault_t *fault)
{
    uint8_t *copy = malloc (size ? size : 1);
    memcpy (copy, body, size);
    int rc = ps_body_check (topic, strlen (topic), copy, size, fault);
    free (copy);
    return rc;
}

static void s_expect_ok (const char *topic, s_body_t *b)
{
    ps_body_fault_t fault;
    if (s_check (topic, b->buf.data, b->buf.size, &fault) != 0)
        fail_msg ("refused on %s: %s (field %s)", topic, fault.error.reason, fault.error.field);
    msgpack_sbuffer_destroy (&b->buf);
}

static void s_expect (const char *topic, s_body_t *b, ps_body_reason_t reason, const char *field)
{
    ps_body_fault_t fault;
    if (s_check (topic, b->buf.data, b->buf.size, &fault) == 0)
        fail_msg ("accepted on %s, want %s of '%s'", topic, ps_body_reason_name (reason), field);
    if (fault.reason != reason || strcmp (fault.error.field, field) != 0)
        fail_msg ("refused as %s of '%s' (%s), want %s of '%s'", ps_body_reason_name (fault.reason),
                  fault.error.field, fault.error.reason, ps_body_reason_name (reason), field);
    assert_true (strlen (fault.error.reason) > 0);
    msgpack_sbuffer_destroy (&b->buf);
}

/* ---- What compute emits ----------------------------------------------- */

typedef struct {
    size_t checked[3]; /* cells, ratios, rejects */
    size_t removals;
} s_tally_t;

/* A flush's emit: every item body of the update frame must pass. */
static int s_check_frame (void *arg, const void *frame, size_t size)
{
    s_tally_t *tally = arg;
    uint64_t epoch, useq;
    ps_update_item_t *items = NULL;
    size_t n = 0, capacity = 0;
    ps_error_t err;
    if (ps_feed_update_decode (frame, size, &epoch, &useq, &items, &n, &capacity, &err) != 0)
        fail_msg ("update frame does not decode: %s", err.reason);
    for (size_t i = 0; i < n; i++) {
        if (items[i].body_len == 0) {
            tally->removals++;
            continue;
        }
        ps_body_fault_t fault;
        if (ps_body_check (items[i].topic, items[i].topic_len, items[i].body, items[i].body_len,
                           &fault) != 0)
            fail_msg ("compute's body on %.*s refused: %s (field %s)", (int) items[i].topic_len,
                      items[i].topic, fault.error.reason, fault.error.field);
        bool ratio = items[i].topic_len > 2 && memcmp (items[i].topic, "$ra", 3) == 0;
        tally->checked[items[i].topic[0] != '$' ? 0 : ratio ? 1 : 2]++;
    }
    free (items);
    return 0;
}

static void test_every_body_compute_emits_passes (void **state)
{
    (void) state;
    const char *conf = "abroad_vs_domestic = OC/channel=abroad:amount / OC/channel=domestic:amount\n"
                       "per_op = OC/channel=abroad:amount / OC/channel=abroad:count\n";
    char why[256];
    ps_ratios_t *ratios = ps_ratios_parse (conf, strlen (conf), "t.conf", why, sizeof why);
    assert_non_null (ratios);
    ps_engine_t *e = ps_engine_new (&ratios, 7);
    assert_non_null (e);
    s_tally_t tally = {{0}, 0};
    /* Two years of days, months and quarters, with and without amounts and
       dims (year-over-year, period-over-period, YTD and shares all present). */
    static const char *const periods[] = {"2011-03-05", "2011-07", "2011-Q3", "2011",
                                          "2012-03-05", "2012-03-06", "2012-07", "2012-Q3",
                                          "2012"};
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
        t_add (e, "CMI", periods[i], "card=domestic,channel=ecommerce", 10 + (int64_t) i, 7530);
        t_add (e, "CMI", periods[i], "card=foreign,channel=pos", 3, 100000);
        t_add (e, "CMI", periods[i], "card=foreign,channel=ecommerce,region=north,scheme=visa", 1,
               NONE);
        t_add (e, "MTC", periods[i], NULL, 4, NONE);
        t_add (e, "OC", periods[i], "channel=abroad", 2, 900);
        t_add (e, "OC", periods[i], "channel=domestic", 5, 0);
    }
    assert_true (ps_engine_flush (e, s_check_frame, &tally) > 0);
    /* A compute-side reject (overflow), and retractions (removals). */
    ps_batch_t *batch = ps_batch_new ();
    snprintf (batch->producer, sizeof batch->producer, "bank-7");
    batch->seq = 12;
    ps_report_t r = t_report ("MTC", "2012", NULL, INT64_MAX, NONE, NULL, PS_OP_ADD);
    assert_int_equal (ps_batch_append (batch, &r, 0), 0);
    assert_int_equal (ps_engine_apply_batch (e, batch), 1);
    ps_batch_destroy (&batch);
    r = t_report ("OC", "2012-03-05", "channel=abroad", NONE, NONE, NULL, PS_OP_RETRACT);
    ps_error_t err;
    assert_int_equal (ps_engine_apply (e, &r, &err), 0);
    assert_true (ps_engine_flush (e, s_check_frame, &tally) > 0);
    /* A resend of every topic (what a restarted publish asks for). */
    assert_int_equal (ps_engine_dirty_all (e), 0);
    assert_true (ps_engine_flush (e, s_check_frame, &tally) > 0);
    ps_engine_destroy (&e);
    assert_true (tally.checked[0] > 100);
    assert_true (tally.checked[1] > 0);
    assert_int_equal (tally.checked[2], 1);
    assert_true (tally.removals > 0);
}

/* The update vectors that decode: every body of theirs passes. */
static void test_vector_bodies_pass (void **state)
{
    (void) state;
    static const char *const names[] = {"update_cells", "update_special_topics"};
    for (size_t v = 0; v < sizeof names / sizeof names[0]; v++) {
        char path[512];
        snprintf (path, sizeof path, "%s/proto/vectors/%s.json", PS_SOURCE_DIR, names[v]);
        json_t *vec = json_load_file (path, 0, NULL);
        assert_non_null (vec);
        size_t size;
        char *frame = test_unhex (json_string_value (json_object_get (vec, "hex")), &size);
        s_tally_t tally = {{0}, 0};
        s_check_frame (&tally, frame, size);
        assert_true (tally.checked[0] + tally.checked[1] + tally.checked[2] > 0);
        free (frame);
        json_decref (vec);
    }
}

/* ---- Valid bodies built by hand ---------------------------------------- */

static void test_valid_bodies (void **state)
{
    (void) state;
    s_body_t b;
    /* The core of a cell, with an unknown key (passed on, PROTOCOL.md 11). */
    s_begin (&b, 6);
    s_cell_core (&b);
    s_kv (&b, "future_key", "x");
    s_expect_ok (S_CELL_TOPIC, &b);
    /* Rolled-up dims ("*"), several of them, and a cell without any. */
    s_begin (&b, 5);
    s_kv (&b, "type", "cell");
    s_kv (&b, "source", "CMI");
    s_kv (&b, "period", "2012");
    s_kv (&b, "gran", "year");
    s_str (&b, "dims");
    msgpack_pack_map (&b.pk, 4);
    s_kv (&b, "card", "*");
    s_kv (&b, "channel", "web");
    s_kv (&b, "region", "north");
    s_kv (&b, "scheme", "visa");
    s_expect_ok ("CMI/2012/card=*,channel=web,region=north,scheme=visa", &b);
    /* Key order does not matter. */
    s_begin (&b, 5);
    s_str (&b, "dims");
    msgpack_pack_map (&b.pk, 0);
    s_kv (&b, "gran", "year");
    s_kv (&b, "period", "2012");
    s_kv (&b, "source", "MTC");
    s_kv (&b, "type", "cell");
    s_expect_ok ("MTC/2012/", &b);
    /* A removal, on a cell topic and on a ratio topic. */
    s_begin (&b, 1);
    s_kv (&b, "type", "removed");
    s_expect_ok (S_CELL_TOPIC, &b);
    s_begin (&b, 1);
    s_kv (&b, "type", "removed");
    s_expect_ok (S_RATIO_TOPIC, &b);
}

/* ---- Malformed bodies --------------------------------------------------- */

/* Issue #14: what used to poison every subscriber of the topic. */
static void test_publish_numbering_refused (void **state)
{
    (void) state;
    static const char *const reserved[] = {"seq", "v", "prev", "epoch"};
    for (size_t i = 0; i < 4; i++) {
        s_body_t b;
        s_begin (&b, 6);
        s_cell_core (&b);
        s_kint (&b, reserved[i], 5);
        s_expect (S_CELL_TOPIC, &b, PS_BODY_RESERVED, reserved[i]);
        /* first, and on every kind of topic */
        s_begin (&b, 2);
        s_kint (&b, reserved[i], 5);
        s_kv (&b, "type", "removed");
        s_expect (S_RATIO_TOPIC, &b, PS_BODY_RESERVED, reserved[i]);
    }
    s_body_t b;
    s_begin (&b, 2); /* the probe's very body */
    s_kv (&b, "type", "cell");
    s_kint (&b, "seq", 5);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_RESERVED, "seq");
}

static void test_bad_type_refused (void **state)
{
    (void) state;
    s_body_t b;
    s_begin (&b, 0); /* {} */
    s_expect (S_CELL_TOPIC, &b, PS_BODY_MISSING, "type");
    s_begin (&b, 4); /* no type */
    s_kv (&b, "source", "CMI");
    s_kv (&b, "period", "2012");
    s_kv (&b, "gran", "year");
    s_str (&b, "dims");
    msgpack_pack_map (&b.pk, 0);
    s_expect ("CMI/2012/", &b, PS_BODY_MISSING, "type");
    s_begin (&b, 1); /* not a string */
    s_kint (&b, "type", 5);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_TYPE, "type");
    s_begin (&b, 1);
    s_str (&b, "type");
    msgpack_pack_bin (&b.pk, 4);
    msgpack_pack_bin_body (&b.pk, "cell", 4);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_TYPE, "type");
    s_begin (&b, 6); /* repeated */
    s_cell_core (&b);
    s_kv (&b, "type", "cell");
    s_expect (S_CELL_TOPIC, &b, PS_BODY_DUPLICATE, "type");
    s_begin (&b, 1); /* unknown */
    s_kv (&b, "type", "celll");
    s_expect (S_CELL_TOPIC, &b, PS_BODY_TYPE, "type");
    /* the type of another topic */
    s_begin (&b, 5);
    s_cell_core (&b);
    s_expect (S_RATIO_TOPIC, &b, PS_BODY_TYPE, "type");
    s_begin (&b, 5);
    s_cell_core (&b);
    s_expect (S_REJECT_TOPIC, &b, PS_BODY_TYPE, "type");
    s_begin (&b, 1);
    s_kv (&b, "type", "removed");
    s_expect (S_REJECT_TOPIC, &b, PS_BODY_TYPE, "type");
    s_begin (&b, 1);
    s_kv (&b, "type", "ratio");
    s_expect (S_CELL_TOPIC, &b, PS_BODY_TYPE, "type");
}

static void test_required_keys_and_types (void **state)
{
    (void) state;
    s_body_t b;
    s_begin (&b, 4); /* a cell without dims */
    s_kv (&b, "type", "cell");
    s_kv (&b, "source", "CMI");
    s_kv (&b, "period", "2012");
    s_kv (&b, "gran", "year");
    s_expect (S_CELL_TOPIC, &b, PS_BODY_MISSING, "dims");
    s_begin (&b, 6); /* a count that is a string */
    s_cell_core (&b);
    s_kv (&b, "count", "12");
    s_expect (S_CELL_TOPIC, &b, PS_BODY_TYPE, "count");
    s_begin (&b, 6); /* a float where an integer belongs, and the reverse */
    s_cell_core (&b);
    s_str (&b, "amount");
    msgpack_pack_double (&b.pk, 1.5);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_TYPE, "amount");
    s_begin (&b, 6);
    s_cell_core (&b);
    s_kint (&b, "avg_ticket", 3);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_TYPE, "avg_ticket");
    s_begin (&b, 5); /* dims that is not a map */
    s_kv (&b, "type", "cell");
    s_kv (&b, "source", "CMI");
    s_kv (&b, "period", "2012");
    s_kv (&b, "gran", "year");
    s_kv (&b, "dims", "card=domestic");
    s_expect (S_CELL_TOPIC, &b, PS_BODY_TYPE, "dims");
    s_begin (&b, 3); /* a ratio without its sides */
    s_kv (&b, "type", "ratio");
    s_kv (&b, "name", "abroad_vs_domestic");
    s_kv (&b, "period", "2012");
    s_expect (S_RATIO_TOPIC, &b, PS_BODY_MISSING, "numerator");
    s_begin (&b, 6); /* a reject without its reason */
    s_kv (&b, "type", "reject");
    s_kv (&b, "producer", "p1");
    s_kint (&b, "batch_seq", 1);
    s_kint (&b, "index", 0);
    s_kv (&b, "code", "overflow");
    s_kv (&b, "field", "count");
    s_expect (S_REJECT_TOPIC, &b, PS_BODY_MISSING, "reason");
}

/* Packs a cell core whose dims map holds N entries NAMES[i] = VALUES[i]. */
static void s_cell_dims (s_body_t *b, int n, const char *const *names, const char *const *values)
{
    s_begin (b, 5);
    s_kv (b, "type", "cell");
    s_kv (b, "source", "CMI");
    s_kv (b, "period", "2012");
    s_kv (b, "gran", "year");
    s_str (b, "dims");
    msgpack_pack_map (&b->pk, (size_t) n);
    for (int i = 0; i < n; i++)
        s_kv (b, names[i], values[i]);
}

static void test_bad_dims (void **state)
{
    (void) state;
    static const char *const five[] = {"a", "b", "c", "d", "e"};
    static const char *const twice[] = {"card", "card"};
    static const char *const bad_name[] = {"Card"};
    static const char *const bad_value[] = {"a b"};
    static const char *const ok[] = {"x", "y", "z", "w", "v"};
    s_body_t b;
    s_cell_dims (&b, 5, five, ok);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_DIMS, "dims");
    s_cell_dims (&b, 2, twice, ok);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_DIMS, "dims");
    s_cell_dims (&b, 1, bad_name, ok);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_DIMS, "dims");
    s_cell_dims (&b, 1, ok, bad_value);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_DIMS, "dims");
    s_begin (&b, 5); /* a value that is not a string */
    s_kv (&b, "type", "cell");
    s_kv (&b, "source", "CMI");
    s_kv (&b, "period", "2012");
    s_kv (&b, "gran", "year");
    s_str (&b, "dims");
    msgpack_pack_map (&b.pk, 1);
    s_kint (&b, "card", 1);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_DIMS, "dims");
}

static void test_keys_refused (void **state)
{
    (void) state;
    s_body_t b;
    s_begin (&b, 7); /* an unknown key twice */
    s_cell_core (&b);
    s_kv (&b, "extra", "1");
    s_kv (&b, "extra", "2");
    s_expect (S_CELL_TOPIC, &b, PS_BODY_DUPLICATE, "");
    s_begin (&b, 7); /* a known optional key twice */
    s_cell_core (&b);
    s_kint (&b, "count", 1);
    s_kint (&b, "count", 2);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_DUPLICATE, "count");
    s_begin (&b, 6); /* a key that is not a string */
    s_cell_core (&b);
    msgpack_pack_int (&b.pk, 7);
    msgpack_pack_int (&b.pk, 7);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_TYPE, "");
    s_begin (&b, PS_BODY_KEYS_MAX + 1); /* too many keys */
    s_cell_core (&b);
    for (int i = 5; i < PS_BODY_KEYS_MAX + 1; i++) {
        char key[16];
        snprintf (key, sizeof key, "k%d", i);
        s_kint (&b, key, i);
    }
    s_expect (S_CELL_TOPIC, &b, PS_BODY_LIMIT, "");
    /* exactly at the bound: accepted */
    s_begin (&b, PS_BODY_KEYS_MAX);
    s_cell_core (&b);
    for (int i = 5; i < PS_BODY_KEYS_MAX; i++) {
        char key[16];
        snprintf (key, sizeof key, "k%d", i);
        s_kint (&b, key, i);
    }
    s_expect_ok (S_CELL_TOPIC, &b);
}

static void test_not_one_map (void **state)
{
    (void) state;
    ps_body_fault_t fault;
    static const uint8_t array[] = {0x92, 0x01, 0x02};
    assert_int_equal (s_check (S_CELL_TOPIC, array, sizeof array, &fault), -1);
    assert_int_equal (fault.reason, PS_BODY_TYPE);
    static const uint8_t giant[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal (s_check (S_CELL_TOPIC, giant, sizeof giant, &fault), -1);
    assert_int_equal (fault.reason, PS_BODY_LIMIT);
    static const uint8_t unused[] = {0xc1};
    assert_int_equal (s_check (S_CELL_TOPIC, unused, sizeof unused, &fault), -1);
    assert_int_equal (fault.reason, PS_BODY_DECODE);
    /* A value announcing more elements than there are bytes. */
    s_body_t b;
    s_begin (&b, 6);
    s_cell_core (&b);
    s_str (&b, "share");
    static const uint8_t huge_map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01};
    msgpack_sbuffer_write (&b.buf, (const char *) huge_map, sizeof huge_map);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_DECODE, "share");
    /* Trailing bytes; and every truncation of a valid body. */
    s_begin (&b, 6);
    s_cell_core (&b);
    s_kint (&b, "count", 1100000);
    msgpack_pack_nil (&b.pk);
    s_expect (S_CELL_TOPIC, &b, PS_BODY_DECODE, "");
    s_begin (&b, 7);
    s_cell_core (&b);
    s_kint (&b, "count", 1100000);
    s_str (&b, "share");
    msgpack_pack_map (&b.pk, 1);
    s_str (&b, "card");
    msgpack_pack_map (&b.pk, 1);
    s_str (&b, "count_pct");
    msgpack_pack_double (&b.pk, 94.6);
    for (size_t len = 1; len < b.buf.size; len++)
        assert_int_equal (s_check (S_CELL_TOPIC, b.buf.data, len, &fault), -1);
    assert_int_equal (s_check (S_CELL_TOPIC, b.buf.data, b.buf.size, &fault), 0);
    msgpack_sbuffer_destroy (&b.buf);
}

static void test_reason_names (void **state)
{
    (void) state;
    assert_string_equal (ps_body_reason_name (PS_BODY_RESERVED), "reserved");
    assert_string_equal (ps_body_reason_name (PS_BODY_DECODE), "decode");
    assert_string_equal (ps_body_reason_name (PS_BODY__COUNT), "unknown");
    for (int r = 0; r < PS_BODY__COUNT; r++)
        assert_non_null (ps_body_reason_name ((ps_body_reason_t) r));
}

/* ---- Encoders ------------------------------------------------------------ */

/* The keys of map body DATA, in order, joined by ','. */
static void s_keys (const char *data, size_t size, char *out, size_t cap)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    assert_int_equal (msgpack_unpack_next (&u, data, size, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (u.data.type, MSGPACK_OBJECT_MAP);
    out[0] = '\0';
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        const msgpack_object *k = &u.data.via.map.ptr[i].key;
        snprintf (out + strlen (out), cap - strlen (out), "%s%.*s", i ? "," : "",
                  (int) k->via.str.size, k->via.str.ptr);
    }
    msgpack_unpacked_destroy (&u);
}

static void test_encoders (void **state)
{
    (void) state;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    assert_int_equal (ps_body_removed_encode (&buf), 0);
    assert_int_equal (buf.size, 14);
    assert_memory_equal (buf.data, "\x81\xa4type\xa7removed", 14);
    msgpack_sbuffer_clear (&buf);

    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    ps_error_t e = {PS_E_RANGE, "count", "count must be >= 0"};
    assert_int_equal (ps_body_reject_pack ("p1", 7, 3, &e, &pk), 0);
    char keys[512];
    s_keys (buf.data, buf.size, keys, sizeof keys);
    assert_string_equal (keys, "type,producer,batch_seq,index,code,field,reason");
    ps_body_fault_t fault;
    assert_int_equal (ps_body_check (S_REJECT_TOPIC, strlen (S_REJECT_TOPIC),
                                     (const uint8_t *) buf.data, buf.size, &fault),
                      0);
    msgpack_sbuffer_clear (&buf);

    ps_body_ratio_t ratio = {"abroad_vs_domestic",
                             "2012",
                             {true, 0.5},
                             {"CMI/2012/card=abroad", "count", true, 1},
                             {"CMI/2012/card=domestic", "count", true, 2}};
    assert_int_equal (ps_body_ratio_pack (&ratio, &pk), 0);
    s_keys (buf.data, buf.size, keys, sizeof keys);
    assert_string_equal (keys, "type,name,period,value,numerator,denominator");
    assert_int_equal (ps_body_check (S_RATIO_TOPIC, strlen (S_RATIO_TOPIC),
                                     (const uint8_t *) buf.data, buf.size, &fault),
                      0);
    msgpack_sbuffer_clear (&buf);

    /* Absent figures are left out; present ones keep the documented order. */
    ps_body_cell_t cell = {0};
    cell.source = "CMI";
    cell.period = "2012";
    cell.gran = PS_GRAN_YEAR;
    cell.ndims = 1;
    strcpy (cell.dims[0].name, "card");
    strcpy (cell.dims[0].value, "domestic");
    cell.has_count = true;
    cell.count = 5;
    cell.has_amount = true;
    cell.amount = 500;
    cell.currency = "EUR";
    cell.exp = 2;
    cell.avg_ticket = (ps_body_figure_t){true, 100};
    cell.yoy.amount = (ps_body_figure_t){true, 10};
    cell.nshares = 1;
    cell.shares[0] = (ps_body_share_t){0, {true, 50}, {false, 0}};
    ps_body_cell_pack (&cell, &pk);
    s_keys (buf.data, buf.size, keys, sizeof keys);
    assert_string_equal (
        keys,
        "type,source,period,gran,dims,count,amount,currency,exp,avg_ticket,yoy_amount_pct,share");
    assert_int_equal (ps_body_check (S_CELL_TOPIC, strlen (S_CELL_TOPIC),
                                     (const uint8_t *) buf.data, buf.size, &fault),
                      0);
    msgpack_sbuffer_destroy (&buf);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_every_body_compute_emits_passes),
        cmocka_unit_test (test_vector_bodies_pass),
        cmocka_unit_test (test_valid_bodies),
        cmocka_unit_test (test_publish_numbering_refused),
        cmocka_unit_test (test_bad_type_refused),
        cmocka_unit_test (test_required_keys_and_types),
        cmocka_unit_test (test_bad_dims),
        cmocka_unit_test (test_keys_refused),
        cmocka_unit_test (test_not_one_map),
        cmocka_unit_test (test_reason_names),
        cmocka_unit_test (test_encoders),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
