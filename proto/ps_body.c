/*  ps_body: the encoders and the check of an update item's body; see
    ps_body.h.

    The check reads the body as raw MessagePack headers, as
    ps_msgpack_check does: msgpack-c would build an object tree (and
    allocate) for every body of the hot path only to look at its top-level
    keys. */

#include "ps_body.h"
#include "ps_msgpack.h"
#include "ps_wire.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Bytes of a key quoted back in a reason. */
#define S_QUOTE_MAX 40

static const char *const s_reason_names[PS_BODY__COUNT] = {
    [PS_BODY_RESERVED] = "reserved", [PS_BODY_DUPLICATE] = "duplicate",
    [PS_BODY_MISSING] = "missing",   [PS_BODY_TYPE] = "type",
    [PS_BODY_DIMS] = "dims",         [PS_BODY_LIMIT] = "limit",
    [PS_BODY_DECODE] = "decode",
};

const char *ps_body_reason_name (ps_body_reason_t reason)
{
    return reason < PS_BODY__COUNT ? s_reason_names[reason] : "unknown";
}

/* ---- Encoding ------------------------------------------------------------- */

/* For the functions that pack a cell message: inlined into
   ps_body_cell_pack, where the packer's write function is known, each of
   msgpack-c's writes of a few bytes becomes a few stores. */
#define S_INLINE static inline __attribute__ ((always_inline))

/* Packs KEY and V. */
S_INLINE void s_pack_int (msgpack_packer *pk, const char *key, int64_t v)
{
    ps_msgpack_pack_cstr (pk, key);
    msgpack_pack_int64 (pk, v);
}

/* Packs KEY and F when F is present. */
S_INLINE void s_pack_figure (msgpack_packer *pk, const char *key, const ps_body_figure_t *f)
{
    if (f->has) {
        ps_msgpack_pack_cstr (pk, key);
        msgpack_pack_double (pk, f->value);
    }
}

/* Packs the present figures of G under KEYS (count, amount, average ticket). */
S_INLINE void s_pack_growth (msgpack_packer *pk, const char *const keys[3],
                             const ps_body_growth_t *g)
{
    s_pack_figure (pk, keys[0], &g->count);
    s_pack_figure (pk, keys[1], &g->amount);
    s_pack_figure (pk, keys[2], &g->avg_ticket);
}

/* Pairs a growth packs. */
S_INLINE int s_growth_n (const ps_body_growth_t *g)
{
    return g->count.has + g->amount.has + g->avg_ticket.has;
}

static const char *const s_yoy_keys[3] = {"yoy_count_pct", "yoy_amount_pct", "yoy_avg_ticket_pct"};
static const char *const s_pop_keys[3] = {"pop_count_pct", "pop_amount_pct", "pop_avg_ticket_pct"};
static const char *const s_ytd_yoy_keys[3] = {"ytd_yoy_count_pct", "ytd_yoy_amount_pct",
                                              "ytd_yoy_avg_ticket_pct"};

S_INLINE void s_pack_cell (const ps_body_cell_t *c, msgpack_packer *pk)
{
    int n = 5 + c->has_count + 3 * c->has_amount + c->avg_ticket.has + s_growth_n (&c->yoy) +
            s_growth_n (&c->pop) + c->has_ytd_count + c->has_ytd_amount + c->ytd_avg_ticket.has +
            s_growth_n (&c->ytd_yoy) + (c->nshares > 0);
    msgpack_pack_map (pk, (size_t) n);
    ps_msgpack_pack_cstr (pk, "type");
    ps_msgpack_pack_cstr (pk, "cell");
    ps_msgpack_pack_cstr (pk, "source");
    ps_msgpack_pack_cstr (pk, c->source);
    ps_msgpack_pack_cstr (pk, "period");
    ps_msgpack_pack_cstr (pk, c->period);
    ps_msgpack_pack_cstr (pk, "gran");
    ps_msgpack_pack_cstr (pk, ps_gran_name (c->gran));
    ps_msgpack_pack_cstr (pk, "dims");
    msgpack_pack_map (pk, (size_t) c->ndims);
    for (int i = 0; i < c->ndims; i++) {
        ps_msgpack_pack_cstr (pk, c->dims[i].name);
        ps_msgpack_pack_cstr (pk, c->dims[i].value);
    }
    if (c->has_count)
        s_pack_int (pk, "count", c->count);
    if (c->has_amount) {
        s_pack_int (pk, "amount", c->amount);
        ps_msgpack_pack_cstr (pk, "currency");
        ps_msgpack_pack_cstr (pk, c->currency);
        s_pack_int (pk, "exp", c->exp);
    }
    s_pack_figure (pk, "avg_ticket", &c->avg_ticket);
    s_pack_growth (pk, s_yoy_keys, &c->yoy);
    s_pack_growth (pk, s_pop_keys, &c->pop);
    if (c->has_ytd_count)
        s_pack_int (pk, "ytd_count", c->ytd_count);
    if (c->has_ytd_amount)
        s_pack_int (pk, "ytd_amount", c->ytd_amount);
    s_pack_figure (pk, "ytd_avg_ticket", &c->ytd_avg_ticket);
    s_pack_growth (pk, s_ytd_yoy_keys, &c->ytd_yoy);
    if (c->nshares == 0)
        return;
    ps_msgpack_pack_cstr (pk, "share");
    msgpack_pack_map (pk, (size_t) c->nshares);
    for (int i = 0; i < c->nshares; i++) {
        const ps_body_share_t *sh = &c->shares[i];
        ps_msgpack_pack_cstr (pk, c->dims[sh->dim].name);
        msgpack_pack_map (pk, (size_t) (sh->count_pct.has + sh->amount_pct.has));
        s_pack_figure (pk, "count_pct", &sh->count_pct);
        s_pack_figure (pk, "amount_pct", &sh->amount_pct);
    }
}

void ps_body_cell_pack (const ps_body_cell_t *cell, msgpack_packer *out)
{
    /* msgpack-c's packing functions are inline and call the packer's
       write function for every few bytes: with a local packer whose
       function the compiler knows, those calls become plain stores, and
       the caller's packer is called once per message, not ~60 times. */
    /* The longest message (4 dims, every indicator, 4 shares) takes about
       1.6 KB. */
    char bytes[4096];
    ps_wire_stack_t buf = {0, sizeof bytes, bytes};
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, ps_wire_stack_write);
    s_pack_cell (cell, &pk);
    out->callback (out->data, buf.data, buf.len);
}

/* Packs one side of a ratio. Returns non-zero when a write failed. */
static int s_pack_side (msgpack_packer *pk, const ps_body_side_t *side)
{
    int rc = msgpack_pack_map (pk, side->has_value ? 3 : 2);
    rc |= ps_msgpack_pack_cstr (pk, "topic");
    rc |= ps_msgpack_pack_cstr (pk, side->topic);
    rc |= ps_msgpack_pack_cstr (pk, "measure");
    rc |= ps_msgpack_pack_cstr (pk, side->measure);
    if (side->has_value) {
        rc |= ps_msgpack_pack_cstr (pk, "value");
        rc |= msgpack_pack_int64 (pk, side->value);
    }
    return rc;
}

int ps_body_ratio_pack (const ps_body_ratio_t *ratio, msgpack_packer *pk)
{
    int rc = msgpack_pack_map (pk, ratio->value.has ? 6 : 5);
    rc |= ps_msgpack_pack_cstr (pk, "type");
    rc |= ps_msgpack_pack_cstr (pk, "ratio");
    rc |= ps_msgpack_pack_cstr (pk, "name");
    rc |= ps_msgpack_pack_cstr (pk, ratio->name);
    rc |= ps_msgpack_pack_cstr (pk, "period");
    rc |= ps_msgpack_pack_cstr (pk, ratio->period);
    if (ratio->value.has) {
        rc |= ps_msgpack_pack_cstr (pk, "value");
        rc |= msgpack_pack_double (pk, ratio->value.value);
    }
    rc |= ps_msgpack_pack_cstr (pk, "numerator");
    rc |= s_pack_side (pk, &ratio->num);
    rc |= ps_msgpack_pack_cstr (pk, "denominator");
    rc |= s_pack_side (pk, &ratio->den);
    return rc;
}

int ps_body_reject_pack (const char *producer, uint64_t seq, uint32_t index,
                         const ps_error_t *error, msgpack_packer *pk)
{
    int rc = msgpack_pack_map (pk, 7);
    rc |= ps_msgpack_pack_cstr (pk, "type");
    rc |= ps_msgpack_pack_cstr (pk, "reject");
    rc |= ps_msgpack_pack_cstr (pk, "producer");
    rc |= ps_msgpack_pack_cstr (pk, producer);
    rc |= ps_msgpack_pack_cstr (pk, "batch_seq");
    rc |= msgpack_pack_uint64 (pk, seq);
    rc |= ps_msgpack_pack_cstr (pk, "index");
    rc |= msgpack_pack_uint32 (pk, index);
    rc |= ps_msgpack_pack_cstr (pk, "code");
    rc |= ps_msgpack_pack_cstr (pk, ps_error_code_name (error->code));
    rc |= ps_msgpack_pack_cstr (pk, "field");
    rc |= ps_msgpack_pack_cstr (pk, error->field ? error->field : "");
    rc |= ps_msgpack_pack_cstr (pk, "reason");
    rc |= ps_msgpack_pack_cstr (pk, error->reason);
    return rc;
}

int ps_body_removed_encode (msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, 1);
    rc |= ps_msgpack_pack_cstr (&pk, "type");
    rc |= ps_msgpack_pack_cstr (&pk, "removed");
    return rc ? -1 : 0;
}

/* ---- What each message holds ------------------------------------------------ */

/* W_DIMS: a map whose entries are checked too (s_dims). */
typedef enum { W_STR, W_INT, W_FLOAT, W_MAP, W_DIMS } s_want_t;

typedef struct {
    const char *name;
    uint8_t len;
    uint8_t want;     /* s_want_t */
    uint8_t required; /* unless the type is "removed" */
} s_key_t;

#define S_KEY(name, want, required) {name, sizeof name - 1, want, required}

/* "type" comes first in every table: its index is 0. PROTOCOL.md 5.4. */
static const s_key_t s_cell_keys[] = {
    S_KEY ("type", W_STR, 1),
    S_KEY ("source", W_STR, 1),
    S_KEY ("period", W_STR, 1),
    S_KEY ("gran", W_STR, 1),
    S_KEY ("dims", W_DIMS, 1),
    S_KEY ("count", W_INT, 0),
    S_KEY ("amount", W_INT, 0),
    S_KEY ("currency", W_STR, 0),
    S_KEY ("exp", W_INT, 0),
    S_KEY ("avg_ticket", W_FLOAT, 0),
    S_KEY ("yoy_count_pct", W_FLOAT, 0),
    S_KEY ("yoy_amount_pct", W_FLOAT, 0),
    S_KEY ("yoy_avg_ticket_pct", W_FLOAT, 0),
    S_KEY ("pop_count_pct", W_FLOAT, 0),
    S_KEY ("pop_amount_pct", W_FLOAT, 0),
    S_KEY ("pop_avg_ticket_pct", W_FLOAT, 0),
    S_KEY ("ytd_count", W_INT, 0),
    S_KEY ("ytd_amount", W_INT, 0),
    S_KEY ("ytd_avg_ticket", W_FLOAT, 0),
    S_KEY ("ytd_yoy_count_pct", W_FLOAT, 0),
    S_KEY ("ytd_yoy_amount_pct", W_FLOAT, 0),
    S_KEY ("ytd_yoy_avg_ticket_pct", W_FLOAT, 0),
    S_KEY ("share", W_MAP, 0),
};

static const s_key_t s_ratio_keys[] = {
    S_KEY ("type", W_STR, 1),      S_KEY ("name", W_STR, 1),      S_KEY ("period", W_STR, 1),
    S_KEY ("value", W_FLOAT, 0),   S_KEY ("numerator", W_MAP, 1), S_KEY ("denominator", W_MAP, 1),
};

static const s_key_t s_reject_keys[] = {
    S_KEY ("type", W_STR, 1),  S_KEY ("producer", W_STR, 1), S_KEY ("batch_seq", W_INT, 1),
    S_KEY ("index", W_INT, 1), S_KEY ("code", W_STR, 1),     S_KEY ("field", W_STR, 1),
    S_KEY ("reason", W_STR, 1),
};

/* The numbering publish puts in front of every body (PROTOCOL.md 5.4). */
static const s_key_t s_reserved_keys[] = {
    S_KEY ("v", W_INT, 0),
    S_KEY ("seq", W_INT, 0),
    S_KEY ("prev", W_INT, 0),
    S_KEY ("epoch", W_INT, 0),
};

#define S_COUNT(a) (int) (sizeof (a) / sizeof (a)[0])

/* What a topic's items are: the key table, and the message type. */
typedef struct {
    const s_key_t *keys;
    int nkeys;
    const char *type; /* "cell", "ratio" or "reject" */
    bool removable;   /* may also be {"type": "removed"} */
} s_message_t;

static const s_message_t s_cell = {s_cell_keys, S_COUNT (s_cell_keys), "cell", true};
static const s_message_t s_ratio = {s_ratio_keys, S_COUNT (s_ratio_keys), "ratio", true};
static const s_message_t s_reject = {s_reject_keys, S_COUNT (s_reject_keys), "reject", false};

static const char *const s_want_names[] = {"a string", "an integer", "a float", "a map",
                                           "a map"};

static const char *s_kind_name (ps_wire_kind_t kind)
{
    static const char *const names[] = {"nil", "bool", "int", "float", "str",
                                        "bin", "ext",  "array", "map"};
    return names[kind];
}

static bool s_is (const ps_wire_obj_t *o, const char *text, size_t len)
{
    return o->kind == PS_WIRE_STR && o->n == len && memcmp (o->str, text, len) == 0;
}

/* Returns the index of string O in KEYS, or -1. */
static int s_find (const s_key_t *keys, int n, const ps_wire_obj_t *o)
{
    for (int i = 0; i < n; i++)
        if (keys[i].len == o->n && memcmp (keys[i].name, o->str, o->n) == 0)
            return i;
    return -1;
}

/*  Fills *FAULT; returns -1. */
static int s_fault (ps_body_fault_t *fault, ps_body_reason_t reason, ps_err_t code,
                    const char *field, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));
static int s_fault (ps_body_fault_t *fault, ps_body_reason_t reason, ps_err_t code,
                    const char *field, const char *fmt, ...)
{
    fault->reason = reason;
    fault->error.code = code;
    fault->error.field = field;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (fault->error.reason, sizeof fault->error.reason, fmt, ap);
    va_end (ap);
    return -1;
}

/*  The length of a key quoted back: at most S_QUOTE_MAX bytes, not ending
    inside a UTF-8 sequence. */
static int s_quote_len (const ps_wire_obj_t *key)
{
    size_t len = key->n;
    if (len <= S_QUOTE_MAX)
        return (int) len;
    len = S_QUOTE_MAX;
    while (len > 0 && (key->str[len] & 0xc0) == 0x80)
        len--;
    return (int) len;
}

static bool s_want_ok (s_want_t want, ps_wire_kind_t kind)
{
    switch (want) {
    case W_STR:
        return kind == PS_WIRE_STR;
    case W_INT:
        return kind == PS_WIRE_INT;
    case W_FLOAT:
        return kind == PS_WIRE_FLOAT;
    default: /* W_MAP, W_DIMS */
        return kind == PS_WIRE_MAP;
    }
}

/*  Checks the dims map whose header O was just read and moves *P past
    it: at most PS_MAX_DIMS entries name -> value, names valid and
    distinct, values valid or "*" (a rolled-up dimension). */
static int s_dims (const uint8_t **p, const uint8_t *end, const ps_wire_obj_t *o,
                   ps_body_fault_t *fault)
{
    if (o->n > PS_MAX_DIMS)
        return s_fault (fault, PS_BODY_DIMS, PS_E_DIMS, "dims", "dims has %llu entries, at most %d",
                        (unsigned long long) o->n, PS_MAX_DIMS);
    ps_wire_obj_t names[PS_MAX_DIMS];
    for (uint64_t i = 0; i < o->n; i++) {
        ps_wire_obj_t name, value;
        if (ps_wire_next (p, end, &name) != 0 || ps_wire_next (p, end, &value) != 0)
            return s_fault (fault, PS_BODY_DECODE, PS_E_DECODE, "dims", "dims is truncated");
        if (name.kind != PS_WIRE_STR || value.kind != PS_WIRE_STR)
            return s_fault (fault, PS_BODY_DIMS, PS_E_DIMS, "dims",
                            "dims must map strings to strings, got %s -> %s",
                            s_kind_name (name.kind), s_kind_name (value.kind));
        if (!ps_grammar_dim_name_valid ((const char *) name.str, name.n) ||
            !(s_is (&value, "*", 1) ||
              ps_grammar_dim_value_valid ((const char *) value.str, value.n)))
            return s_fault (fault, PS_BODY_DIMS, PS_E_DIMS, "dims",
                            "dims entry '%.*s' is not a valid name and value", s_quote_len (&name),
                            (const char *) name.str);
        for (uint64_t k = 0; k < i; k++)
            if (s_is (&names[k], (const char *) name.str, name.n))
                return s_fault (fault, PS_BODY_DIMS, PS_E_DIMS, "dims",
                                "dimension '%.*s' appears twice", s_quote_len (&name),
                                (const char *) name.str);
        names[i] = name;
    }
    return 0;
}

int ps_body_check (const char *topic, size_t topic_len, const uint8_t *body, size_t size,
                   ps_body_fault_t *fault)
{
    const s_message_t *m = &s_cell;
    size_t ratio = strlen (PS_TOPIC_RATIO_PREFIX);
    if (topic_len == 7 && memcmp (topic, "$reject", 7) == 0)
        m = &s_reject;
    else if (topic_len >= ratio && memcmp (topic, PS_TOPIC_RATIO_PREFIX, ratio) == 0)
        m = &s_ratio;

    const uint8_t *p = body, *end = body + size;
    ps_wire_obj_t map;
    if (ps_wire_next (&p, end, &map) != 0)
        return s_fault (fault, PS_BODY_DECODE, PS_E_DECODE, "", "the body is not MessagePack");
    if (map.kind != PS_WIRE_MAP)
        return s_fault (fault, PS_BODY_TYPE, PS_E_TYPE, "", "the body must be a map, got %s",
                        s_kind_name (map.kind));
    if (map.n > PS_BODY_KEYS_MAX)
        return s_fault (fault, PS_BODY_LIMIT, PS_E_LIMIT, "", "%llu keys, at most %d per body",
                        (unsigned long long) map.n, PS_BODY_KEYS_MAX);
    uint32_t seen = 0; /* bit I: m->keys[I] was given */
    ps_wire_obj_t type = {PS_WIRE_NIL, NULL, 0};
    ps_wire_obj_t unknown[PS_BODY_KEYS_MAX];
    size_t nunknown = 0;
    for (uint64_t k = 0; k < map.n; k++) {
        ps_wire_obj_t key, value;
        if (ps_wire_next (&p, end, &key) != 0)
            return s_fault (fault, PS_BODY_DECODE, PS_E_DECODE, "", "the body is truncated");
        if (key.kind != PS_WIRE_STR)
            return s_fault (fault, PS_BODY_TYPE, PS_E_TYPE, "",
                            "key %llu of the body is %s, not a string", (unsigned long long) k,
                            s_kind_name (key.kind));
        int r = s_find (s_reserved_keys, S_COUNT (s_reserved_keys), &key);
        if (r >= 0)
            return s_fault (fault, PS_BODY_RESERVED, PS_E_SYNTAX, s_reserved_keys[r].name,
                            "key \"%s\" is publish's numbering, not the body's",
                            s_reserved_keys[r].name);
        int i = s_find (m->keys, m->nkeys, &key);
        if (i < 0) {
            /* Unknown keys are passed on (PROTOCOL.md 11), but only once each. */
            for (size_t u = 0; u < nunknown; u++)
                if (s_is (&unknown[u], (const char *) key.str, key.n))
                    return s_fault (fault, PS_BODY_DUPLICATE, PS_E_SYNTAX, "",
                                    "key \"%.*s\" appears twice", s_quote_len (&key),
                                    (const char *) key.str);
            unknown[nunknown++] = key;
        } else if (seen & (1u << i))
            return s_fault (fault, PS_BODY_DUPLICATE, PS_E_SYNTAX, m->keys[i].name,
                            "key \"%s\" appears twice", m->keys[i].name);
        if (i >= 0)
            seen |= 1u << i;
        if (ps_wire_next (&p, end, &value) != 0)
            return s_fault (fault, PS_BODY_DECODE, PS_E_DECODE, i < 0 ? "" : m->keys[i].name,
                            "the body is truncated");
        if (i >= 0 && !s_want_ok ((s_want_t) m->keys[i].want, value.kind))
            return s_fault (fault, PS_BODY_TYPE, PS_E_TYPE, m->keys[i].name,
                            "%s must be %s, got %s", m->keys[i].name,
                            s_want_names[m->keys[i].want], s_kind_name (value.kind));
        if (i == 0)
            type = value;
        if (i >= 0 && m->keys[i].want == W_DIMS) {
            if (s_dims (&p, end, &value, fault) != 0)
                return -1;
        } else if (ps_wire_skip (&p, end, &value) != 0)
            return s_fault (fault, PS_BODY_DECODE, PS_E_DECODE, i < 0 ? "" : m->keys[i].name,
                            "the body is truncated");
    }
    if (p != end)
        return s_fault (fault, PS_BODY_DECODE, PS_E_DECODE, "", "%zu trailing bytes after the body",
                        (size_t) (end - p));
    if (!(seen & 1u))
        return s_fault (fault, PS_BODY_MISSING, PS_E_MISSING, "type", "type is missing");
    bool removed = m->removable && s_is (&type, "removed", 7);
    if (!removed && !s_is (&type, m->type, strlen (m->type)))
        return s_fault (fault, PS_BODY_TYPE, PS_E_TYPE, "type",
                        "type \"%.*s\" on topic '%.*s', which carries \"%s\"%s",
                        s_quote_len (&type), (const char *) type.str,
                        (int) (topic_len > S_QUOTE_MAX ? S_QUOTE_MAX : topic_len), topic, m->type,
                        m->removable ? " or \"removed\"" : "");
    for (int i = 1; i < m->nkeys && !removed; i++)
        if (m->keys[i].required && !(seen & (1u << i)))
            return s_fault (fault, PS_BODY_MISSING, PS_E_MISSING, m->keys[i].name,
                            "a %s needs %s", m->type, m->keys[i].name);
    return 0;
}
