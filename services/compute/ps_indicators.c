/*  ps_indicators: message bodies of cells, ratios and rejects; see ps_indicators.h. */

#include "ps_indicators.h"
#include "ps_money.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* For the functions that pack a cell message: inlined into
   ps_indicators_cell, where the packer's write function is known, each of
   msgpack-c's writes of a few bytes becomes a few stores. */
#define S_INLINE static inline __attribute__ ((always_inline))

_Static_assert(PS_RATIO_NAME_MAX + PS_PERIOD_STRLEN + 8 <= PS_TOPIC_MAX,
               "ratio topics must fit a topic buffer");

/* A cell's two measures, each with its presence. */
typedef struct {
    bool has_count;
    bool has_amount;
    int64_t count;
    int64_t amount;
} s_meas_t;

static s_meas_t s_meas (const ps_cell_t *c)
{
    return (s_meas_t){ps_cell_has_count (c), ps_cell_has_amount (c), c->count, c->amount};
}

/* Measures of cell ID; false when the cell does not exist (ID 0) or every
   contribution to it was retracted, which reads the same. */
static bool s_meas_id (const ps_cells_t *cells, uint32_t id, s_meas_t *m)
{
    if (!id || !ps_cells_at (cells, id)->nleaves)
        return false;
    *m = s_meas (ps_cells_at (cells, id));
    return true;
}

/* Every cell a message reads, looked up in one batch so that their cache
   misses overlap: year ago, previous period, both years' ytd periods and
   the share denominators. */
#define S_MAX_READS (2 + 2 * 12 + PS_MAX_DIMS)

typedef struct {
    uint32_t n;
    ps_key_t keys[S_MAX_READS];
    uint32_t ids[S_MAX_READS];
} s_reads_t;

/* Queues KEY at PERIOD; returns its index in the batch. */
static int s_read (s_reads_t *r, const ps_key_t *key, const ps_period_t *period)
{
    assert (r->n < S_MAX_READS);
    r->keys[r->n] = *key;
    r->keys[r->n].period = ps_period_pack (period);
    return (int) r->n++;
}

static bool s_ticket (const s_meas_t *m, double *out)
{
    if (!m->has_count || !m->has_amount || m->count <= 0)
        return false;
    *out = (double) m->amount / (double) m->count;
    return true;
}

/* Growth in % of NOW over THEN; false when THEN is not a usable base. */
static bool s_growth (double now, double then, double *out)
{
    if (!(then > 0))
        return false;
    *out = (now / then - 1.0) * 100.0;
    return true;
}

/* The map fields beyond the fixed ones, collected first because a
   MessagePack map states its size up front. */
typedef struct {
    const char *key;
    enum { S_INT, S_DOUBLE, S_STR } kind;
    int64_t i;
    double d;
    const char *s;
} s_field_t;

typedef struct {
    int n;
    s_field_t f[24];
} s_fields_t;

static void s_int (s_fields_t *fs, const char *key, int64_t value)
{
    assert (fs->n < (int) (sizeof fs->f / sizeof fs->f[0]));
    fs->f[fs->n++] = (s_field_t){key, S_INT, value, 0, NULL};
}

static void s_double (s_fields_t *fs, const char *key, double value)
{
    assert (fs->n < (int) (sizeof fs->f / sizeof fs->f[0]));
    fs->f[fs->n++] = (s_field_t){key, S_DOUBLE, 0, value, NULL};
}

static void s_str (s_fields_t *fs, const char *key, const char *value)
{
    assert (fs->n < (int) (sizeof fs->f / sizeof fs->f[0]));
    fs->f[fs->n++] = (s_field_t){key, S_STR, 0, 0, value};
}

S_INLINE void s_pack_str (msgpack_packer *pk, const char *text)
{
    size_t len = strlen (text);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, text, len);
}

S_INLINE void s_pack_fields (msgpack_packer *pk, const s_fields_t *fs)
{
    for (int i = 0; i < fs->n; i++) {
        s_pack_str (pk, fs->f[i].key);
        if (fs->f[i].kind == S_INT)
            msgpack_pack_int64 (pk, fs->f[i].i);
        else if (fs->f[i].kind == S_DOUBLE)
            msgpack_pack_double (pk, fs->f[i].d);
        else
            s_pack_str (pk, fs->f[i].s);
    }
}

/* Adds the three growth figures of NOW over THEN under KEYS (count,
   amount, average ticket). */
static void s_growths (s_fields_t *fs, const char *const keys[3], const s_meas_t *now,
                       const s_meas_t *then)
{
    double g, a, b;
    if (now->has_count && then->has_count &&
        s_growth ((double) now->count, (double) then->count, &g))
        s_double (fs, keys[0], g);
    if (now->has_amount && then->has_amount &&
        s_growth ((double) now->amount, (double) then->amount, &g))
        s_double (fs, keys[1], g);
    if (s_ticket (now, &a) && s_ticket (then, &b) && s_growth (a, b, &g))
        s_double (fs, keys[2], g);
}

/* Year to date: the sum of the N cells IDS (the periods of one
   granularity from the first of the year to the one at hand). Periods
   without a cell contribute nothing (as to any aggregate); one lacking a
   measure makes that measure absent. False when no such cell exists. */
static bool s_ytd (const ps_cells_t *cells, const uint32_t *ids, int n, s_meas_t *out)
{
    *out = (s_meas_t){true, true, 0, 0};
    bool any = false;
    for (int i = 0; i < n; i++) {
        s_meas_t m;
        if (!s_meas_id (cells, ids[i], &m))
            continue;
        any = true;
        /* No overflow: each term is part of the year's aggregate, an int64. */
        out->count += m.count;
        out->amount += m.amount;
        out->has_count = out->has_count && m.has_count;
        out->has_amount = out->has_amount && m.has_amount;
    }
    return any;
}

static const char *const s_yoy_keys[3] = {"yoy_count_pct", "yoy_amount_pct", "yoy_avg_ticket_pct"};
static const char *const s_pop_keys[3] = {"pop_count_pct", "pop_amount_pct", "pop_avg_ticket_pct"};
static const char *const s_ytd_yoy_keys[3] = {"ytd_yoy_count_pct", "ytd_yoy_amount_pct",
                                              "ytd_yoy_avg_ticket_pct"};

/* Where each read of a cell message sits in its batch (-1: none). */
typedef struct {
    int year_ago;
    int prev;
    int ytd;      /* first of NYTD periods this year */
    int ytd_then; /* first of NYTD periods a year earlier, or -1 */
    int nytd;
    int share[PS_MAX_DIMS];
} s_plan_t;

static void s_plan (const ps_cells_t *cells, const ps_key_t *key, s_reads_t *r, s_plan_t *plan)
{
    ps_period_t p = ps_period_unpack (key->period), other;
    r->n = 0;
    plan->year_ago = ps_period_year_ago (&p, &other) == 0 ? s_read (r, key, &other) : -1;
    plan->prev =
        p.gran != PS_GRAN_YEAR && ps_period_prev (&p, &other) == 0 ? s_read (r, key, &other) : -1;
    plan->ytd = plan->ytd_then = -1;
    plan->nytd = 0;
    if (p.gran == PS_GRAN_MONTH || p.gran == PS_GRAN_QUARTER) {
        plan->nytd = p.sub;
        for (int year = p.year; year >= p.year - 1 && year >= 1; year--)
            for (int sub = 1; sub <= p.sub; sub++) {
                ps_period_t q = {(uint16_t) year, p.gran, (uint8_t) sub, 0};
                int at = s_read (r, key, &q);
                if (sub == 1)
                    *(year == p.year ? &plan->ytd : &plan->ytd_then) = at;
            }
    }
    for (int i = 0; i < key->ndims; i++) {
        ps_key_t parent = *key;
        parent.tok[i] = ps_cells_star (cells, key->tok[i]);
        plan->share[i] = parent.tok[i] == key->tok[i] ? -1 : s_read (r, &parent, &p);
    }
    ps_cells_find_many (cells, r->keys, r->n, r->ids);
}

/* The id read at index AT of the batch, or 0 for none. */
static uint32_t s_id (const s_reads_t *r, int at)
{
    return at < 0 ? 0 : r->ids[at];
}

/* Count and amount, and the indicators that compare them with other
   periods of the same series. CURRENCY holds the series' currency. */
static void s_time_fields (const ps_cells_t *cells, const s_reads_t *r, const s_plan_t *plan,
                           s_meas_t *m, char currency[PS_CURRENCY_LEN + 1], s_fields_t *fs)
{
    if (m->has_count)
        s_int (fs, "count", m->count);
    if (m->has_amount) {
        s_int (fs, "amount", m->amount);
        s_str (fs, "currency", currency);
        s_int (fs, "exp", ps_currency_exponent (currency, PS_CURRENCY_LEN));
    }
    double ticket;
    if (s_ticket (m, &ticket))
        s_double (fs, "avg_ticket", ticket);
    s_meas_t then;
    if (s_meas_id (cells, s_id (r, plan->year_ago), &then))
        s_growths (fs, s_yoy_keys, m, &then);
    if (s_meas_id (cells, s_id (r, plan->prev), &then))
        s_growths (fs, s_pop_keys, m, &then);
    if (plan->ytd < 0)
        return;
    s_meas_t ytd;
    s_ytd (cells, r->ids + plan->ytd, plan->nytd, &ytd);
    if (ytd.has_count)
        s_int (fs, "ytd_count", ytd.count);
    if (ytd.has_amount)
        s_int (fs, "ytd_amount", ytd.amount);
    if (s_ticket (&ytd, &ticket))
        s_double (fs, "ytd_avg_ticket", ticket);
    if (plan->ytd_then >= 0 && s_ytd (cells, r->ids + plan->ytd_then, plan->nytd, &then))
        s_growths (fs, s_ytd_yoy_keys, &ytd, &then);
}

/* One entry of the share map: a concrete dimension's share of its `*`. */
typedef struct {
    int dim;
    bool has_count;
    bool has_amount;
    double count_pct;
    double amount_pct;
} s_share_t;

static int s_shares (const ps_cells_t *cells, const s_reads_t *r, const s_plan_t *plan, int ndims,
                     const s_meas_t *m, s_share_t shares[PS_MAX_DIMS])
{
    int n = 0;
    for (int i = 0; i < ndims; i++) {
        s_meas_t pm;
        if (!s_meas_id (cells, s_id (r, plan->share[i]), &pm))
            continue;
        s_share_t sh = {i, false, false, 0, 0};
        if (m->has_count && pm.has_count && pm.count > 0) {
            sh.has_count = true;
            sh.count_pct = (double) m->count / (double) pm.count * 100.0;
        }
        if (m->has_amount && pm.has_amount && pm.amount > 0) {
            sh.has_amount = true;
            sh.amount_pct = (double) m->amount / (double) pm.amount * 100.0;
        }
        if (sh.has_count || sh.has_amount)
            shares[n++] = sh;
    }
    return n;
}

S_INLINE void s_cell (const ps_cells_t *cells, uint32_t id, msgpack_packer *pk)
{
    const ps_cell_t *c = ps_cells_at (cells, id);
    ps_key_t key = c->key;
    s_meas_t m = s_meas (c);
    char currency[PS_CURRENCY_LEN + 1];
    if (m.has_amount && !ps_cells_series_currency (cells, &key, currency))
        m.has_amount = false; /* unreachable: an amount always comes with its currency */
    s_reads_t reads;
    s_plan_t plan;
    s_plan (cells, &key, &reads, &plan);
    s_fields_t fs = {0};
    s_time_fields (cells, &reads, &plan, &m, currency, &fs);
    s_share_t shares[PS_MAX_DIMS];
    int nshares = s_shares (cells, &reads, &plan, key.ndims, &m, shares);
    ps_dim_t dims[PS_MAX_DIMS];
    int ndims = ps_cells_dims (cells, &key, dims);
    ps_period_t p = ps_period_unpack (key.period);
    char period[PS_PERIOD_STRLEN];
    ps_period_format (&p, period);

    msgpack_pack_map (pk, (size_t) (5 + fs.n + (nshares > 0)));
    s_pack_str (pk, "type");
    s_pack_str (pk, "cell");
    s_pack_str (pk, "source");
    s_pack_str (pk, ps_cells_source_name (cells, key.source));
    s_pack_str (pk, "period");
    s_pack_str (pk, period);
    s_pack_str (pk, "gran");
    s_pack_str (pk, ps_gran_name ((ps_gran_t) p.gran));
    s_pack_str (pk, "dims");
    msgpack_pack_map (pk, (size_t) ndims);
    for (int i = 0; i < ndims; i++) {
        s_pack_str (pk, dims[i].name);
        s_pack_str (pk, dims[i].value);
    }
    s_pack_fields (pk, &fs);
    if (nshares == 0)
        return;
    s_pack_str (pk, "share");
    msgpack_pack_map (pk, (size_t) nshares);
    for (int i = 0; i < nshares; i++) {
        s_pack_str (pk, dims[shares[i].dim].name);
        msgpack_pack_map (pk, (size_t) (shares[i].has_count + shares[i].has_amount));
        if (shares[i].has_count) {
            s_pack_str (pk, "count_pct");
            msgpack_pack_double (pk, shares[i].count_pct);
        }
        if (shares[i].has_amount) {
            s_pack_str (pk, "amount_pct");
            msgpack_pack_double (pk, shares[i].amount_pct);
        }
    }
}

/* A cell message's bytes, collected before they reach the caller's
   packer. The longest message (4 dims, every indicator, 4 shares) takes
   about 1.6 KB. */
typedef struct {
    size_t len;
    char data[4096];
} s_body_t;

S_INLINE int s_body_write (void *data, const char *buf, size_t len)
{
    s_body_t *body = data;
    assert (len <= sizeof body->data - body->len);
    memcpy (body->data + body->len, buf, len);
    body->len += len;
    return 0;
}

void ps_indicators_cell (const ps_cells_t *cells, uint32_t id, msgpack_packer *out)
{
    /* msgpack-c's packing functions are inline and call the packer's
       write function for every few bytes: with a local packer whose
       function the compiler knows, those calls become plain stores, and
       the caller's packer is called once per message, not ~60 times. */
    s_body_t body;
    body.len = 0;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &body, s_body_write);
    s_cell (cells, id, &pk);
    out->callback (out->data, body.data, body.len);
}

/* Reads one side's measure; false when the cell or its measure is absent. */
static bool s_side_value (const ps_cells_t *cells, const ps_ratio_side_t *side, uint32_t id,
                          int64_t *value)
{
    s_meas_t m = s_meas (ps_cells_at (cells, id));
    bool has = side->measure == PS_MEASURE_AMOUNT ? m.has_amount : m.has_count;
    *value = side->measure == PS_MEASURE_AMOUNT ? m.amount : m.count;
    return has;
}

static void s_pack_side (msgpack_packer *pk, const ps_cells_t *cells, const ps_ratio_side_t *side,
                         uint32_t id, bool has, int64_t value)
{
    char topic[PS_TOPIC_MAX + 1];
    ps_cells_topic (cells, &ps_cells_at (cells, id)->key, topic);
    msgpack_pack_map (pk, has ? 3 : 2);
    s_pack_str (pk, "topic");
    s_pack_str (pk, topic);
    s_pack_str (pk, "measure");
    s_pack_str (pk, ps_measure_name (side->measure));
    if (has) {
        s_pack_str (pk, "value");
        msgpack_pack_int64 (pk, value);
    }
}

int ps_indicators_ratio (const ps_cells_t *cells, const ps_ratio_t *ratio,
                         const ps_period_t *period, msgpack_packer *pk)
{
    uint32_t num = ps_cells_find_at (cells, &ratio->num.key, period);
    uint32_t den = ps_cells_find_at (cells, &ratio->den.key, period);
    if (!num || !den)
        return -1;
    if (!ps_cells_at (cells, num)->nleaves || !ps_cells_at (cells, den)->nleaves)
        return 1;
    int64_t nv, dv;
    bool has_num = s_side_value (cells, &ratio->num, num, &nv);
    bool has_den = s_side_value (cells, &ratio->den, den, &dv);
    bool has_value = has_num && has_den && dv != 0;
    char text[PS_PERIOD_STRLEN];
    ps_period_format (period, text);
    msgpack_pack_map (pk, has_value ? 6 : 5);
    s_pack_str (pk, "type");
    s_pack_str (pk, "ratio");
    s_pack_str (pk, "name");
    s_pack_str (pk, ratio->name);
    s_pack_str (pk, "period");
    s_pack_str (pk, text);
    if (has_value) {
        s_pack_str (pk, "value");
        msgpack_pack_double (pk, (double) nv / (double) dv);
    }
    s_pack_str (pk, "numerator");
    s_pack_side (pk, cells, &ratio->num, num, has_num, nv);
    s_pack_str (pk, "denominator");
    s_pack_side (pk, cells, &ratio->den, den, has_den, dv);
    return 0;
}

size_t ps_indicators_ratio_topic (const ps_ratio_t *ratio, const ps_period_t *period, char *buf)
{
    char text[PS_PERIOD_STRLEN];
    ps_period_format (period, text);
    int n = snprintf (buf, PS_TOPIC_MAX + 1, "%s%s/%s", PS_TOPIC_RATIO_PREFIX, ratio->name, text);
    return (size_t) n;
}

void ps_indicators_reject (const char *producer, uint64_t seq, uint32_t index,
                           const ps_error_t *error, msgpack_packer *pk)
{
    msgpack_pack_map (pk, 7);
    s_pack_str (pk, "type");
    s_pack_str (pk, "reject");
    s_pack_str (pk, "producer");
    s_pack_str (pk, producer);
    s_pack_str (pk, "batch_seq");
    msgpack_pack_uint64 (pk, seq);
    s_pack_str (pk, "index");
    msgpack_pack_uint32 (pk, index);
    s_pack_str (pk, "code");
    s_pack_str (pk, ps_error_code_name (error->code));
    s_pack_str (pk, "field");
    s_pack_str (pk, error->field ? error->field : "");
    s_pack_str (pk, "reason");
    s_pack_str (pk, error->reason);
}
