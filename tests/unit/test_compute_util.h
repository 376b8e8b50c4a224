/*  Helpers shared by the compute unit tests: building reports, reading
    cells, and capturing what a flush publishes. */

#ifndef TEST_COMPUTE_UTIL_H_INCLUDED
#define TEST_COMPUTE_UTIL_H_INCLUDED

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "ps_cells.h"
#include "ps_engine.h"
#include "ps_proto.h"
#include "ps_ratios.h"

/* A measure left out of a report. */
#define NONE (-1)

/* Parses "a=1,b=2" (sorted by name) into DIMS; returns how many. */
static inline int t_dims (const char *text, ps_dim_t *dims)
{
    int n = 0;
    const char *p = text ? text : "";
    while (*p) {
        const char *eq = strchr (p, '=');
        assert_non_null (eq);
        const char *end = strchr (eq, ',');
        if (!end)
            end = eq + strlen (eq);
        assert_true (n < PS_MAX_DIMS);
        snprintf (dims[n].name, sizeof dims[n].name, "%.*s", (int) (eq - p), p);
        snprintf (dims[n].value, sizeof dims[n].value, "%.*s", (int) (end - eq - 1), eq + 1);
        n++;
        p = *end ? end + 1 : end;
    }
    return n;
}

static inline ps_period_t t_period (const char *text)
{
    ps_period_t p;
    assert_int_equal (ps_period_parse (text, strlen (text), &p, NULL), 0);
    return p;
}

/* A report; COUNT or AMOUNT NONE leaves the measure out. */
static inline ps_report_t t_report (const char *source, const char *period, const char *dims,
                                    int64_t count, int64_t amount, const char *currency, ps_op_t op)
{
    ps_report_t r;
    memset (&r, 0, sizeof r);
    snprintf (r.source, sizeof r.source, "%s", source);
    r.period = t_period (period);
    r.ndims = (uint8_t) t_dims (dims, r.dims);
    r.has_count = count != NONE;
    r.count = count == NONE ? 0 : count;
    r.has_amount = amount != NONE;
    r.amount = amount == NONE ? 0 : amount;
    if (r.has_amount)
        snprintf (r.currency, sizeof r.currency, "%s", currency ? currency : "MAD");
    r.op = op;
    return r;
}

static inline void t_add (ps_engine_t *e, const char *source, const char *period, const char *dims,
                          int64_t count, int64_t amount)
{
    ps_report_t r = t_report (source, period, dims, count, amount, "MAD", PS_OP_ADD);
    ps_error_t err;
    int rc = ps_engine_apply (e, &r, &err);
    if (rc != 0)
        fail_msg ("report refused: %s", err.reason);
}

static inline void t_set (ps_engine_t *e, const char *source, const char *period, const char *dims,
                          int64_t count, int64_t amount)
{
    ps_report_t r = t_report (source, period, dims, count, amount, "MAD", PS_OP_SET);
    ps_error_t err;
    int rc = ps_engine_apply (e, &r, &err);
    if (rc != 0)
        fail_msg ("report refused: %s", err.reason);
}

/* The cell (SOURCE, PERIOD, DIMS), or NULL when it does not exist. */
static inline const ps_cell_t *t_cell (const ps_engine_t *e, const char *source, const char *period,
                                       const char *dims)
{
    const ps_cells_t *cells = ps_engine_cells (e);
    ps_dim_t d[PS_MAX_DIMS];
    int n = t_dims (dims, d);
    ps_period_t p = t_period (period);
    ps_key_t key;
    if (ps_cells_lookup_key (cells, source, &p, d, n, &key) != 0)
        return NULL;
    uint32_t id = ps_cells_find (cells, &key);
    return id ? ps_cells_at (cells, id) : NULL;
}

/* ---- What a flush published ------------------------------------------- */

typedef struct {
    char topic[PS_TOPIC_MAX + 1];
    msgpack_unpacked body;
} t_item_t;

typedef struct {
    size_t n;
    size_t cap;
    t_item_t *items;
    size_t frames;
    size_t max_frame;
    uint64_t epoch;
} t_capture_t;

static inline int t_capture_emit (void *arg, const void *frame, size_t size)
{
    t_capture_t *cap = arg;
    uint64_t epoch, useq;
    ps_update_item_t *items = NULL;
    size_t n = 0, capacity = 0;
    ps_error_t err;
    if (ps_feed_update_decode (frame, size, &epoch, &useq, &items, &n, &capacity, &err) != 0)
        fail_msg ("update frame does not decode: %s", err.reason);
    cap->frames++;
    cap->epoch = epoch;
    if (size > cap->max_frame)
        cap->max_frame = size;
    for (size_t i = 0; i < n; i++) {
        if (cap->n == cap->cap) {
            cap->cap = cap->cap ? cap->cap * 2 : 64;
            cap->items = realloc (cap->items, cap->cap * sizeof *cap->items);
            assert_non_null (cap->items);
        }
        t_item_t *it = &cap->items[cap->n++];
        assert_true (items[i].topic_len <= PS_TOPIC_MAX);
        memcpy (it->topic, items[i].topic, items[i].topic_len);
        it->topic[items[i].topic_len] = '\0';
        msgpack_unpacked_init (&it->body);
        if (items[i].body_len == 0)
            continue; /* a removal: the body stays nil */
        size_t off = 0;
        assert_int_equal (
            msgpack_unpack_next (&it->body, (const char *) items[i].body, items[i].body_len, &off),
            MSGPACK_UNPACK_SUCCESS);
        assert_int_equal (off, items[i].body_len);
        assert_int_equal (it->body.data.type, MSGPACK_OBJECT_MAP);
    }
    free (items);
    return 0;
}

static inline void t_capture_clear (t_capture_t *cap)
{
    for (size_t i = 0; i < cap->n; i++)
        msgpack_unpacked_destroy (&cap->items[i].body);
    free (cap->items);
    memset (cap, 0, sizeof *cap);
}

/* Flushes E into a fresh capture (cleared first). */
static inline void t_flush (ps_engine_t *e, t_capture_t *cap)
{
    t_capture_clear (cap);
    int n = ps_engine_flush (e, t_capture_emit, cap);
    assert_int_equal ((size_t) n, cap->n);
}

/* How many items were published on TOPIC. */
static inline int t_count (const t_capture_t *cap, const char *topic)
{
    int n = 0;
    for (size_t i = 0; i < cap->n; i++)
        n += strcmp (cap->items[i].topic, topic) == 0;
    return n;
}

/* The body published on TOPIC (the last one), or NULL. */
static inline const msgpack_object *t_body (const t_capture_t *cap, const char *topic)
{
    const msgpack_object *found = NULL;
    for (size_t i = 0; i < cap->n; i++)
        if (strcmp (cap->items[i].topic, topic) == 0)
            found = &cap->items[i].body.data;
    return found;
}

static inline const msgpack_object *t_must (const t_capture_t *cap, const char *topic)
{
    const msgpack_object *o = t_body (cap, topic);
    if (!o)
        fail_msg ("nothing published on %s", topic);
    return o;
}

static inline const msgpack_object *t_get (const msgpack_object *map, const char *key)
{
    return ps_msgpack_map_get (map, key);
}

static inline int64_t t_int (const msgpack_object *map, const char *key)
{
    const msgpack_object *o = ps_msgpack_map_get (map, key);
    if (!o)
        fail_msg ("no key %s", key);
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t) o->via.u64;
    assert_int_equal (o->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    return o->via.i64;
}

static inline double t_double (const msgpack_object *map, const char *key)
{
    const msgpack_object *o = ps_msgpack_map_get (map, key);
    if (!o)
        fail_msg ("no key %s", key);
    assert_int_equal (o->type, MSGPACK_OBJECT_FLOAT64);
    return o->via.f64;
}

static inline int t_str_is (const msgpack_object *map, const char *key, const char *want)
{
    const msgpack_object *o = ps_msgpack_map_get (map, key);
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen (want) &&
           memcmp (o->via.str.ptr, want, o->via.str.size) == 0;
}

/* Asserts VALUE is within 1e-9 (relative) of WANT. */
#define assert_close(value, want)                                                                  \
    do {                                                                                           \
        double v_ = (value), w_ = (want);                                                          \
        double d_ = v_ - w_;                                                                       \
        if (d_ < 0)                                                                                \
            d_ = -d_;                                                                              \
        if (d_ > 1e-9 * (w_ < 0 ? -w_ : w_) + 1e-12)                                               \
            fail_msg ("%s = %.12g, want %.12g", #value, v_, w_);                                   \
    } while (0)

/* Epoch of the fixture's engine, carried by every update it emits. */
#define T_ENGINE_EPOCH 99

/*  A fixture of an engine with one ratio (OC abroad / domestic amount) and
    a capture of what it emits, for cmocka's setup and teardown. */
typedef struct {
    ps_engine_t *e;
    t_capture_t cap;
} t_engine_fixture_t;

static inline int t_engine_setup (void **state)
{
    t_engine_fixture_t *f = calloc (1, sizeof *f);
    const char *conf = "r = OC/channel=abroad:amount / OC/channel=domestic:amount\n";
    char err[128];
    ps_ratios_t *ratios = ps_ratios_parse (conf, strlen (conf), "t", err, sizeof err);
    f->e = ps_engine_new (&ratios, T_ENGINE_EPOCH);
    *state = f;
    return f->e ? 0 : -1;
}

static inline int t_engine_teardown (void **state)
{
    t_engine_fixture_t *f = *state;
    t_capture_clear (&f->cap);
    ps_engine_destroy (&f->e);
    free (f);
    return 0;
}

#endif
