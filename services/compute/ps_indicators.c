/*  ps_indicators: the figures of cells and ratios; see ps_indicators.h.
    proto's ps_body packs them. */

#include "ps_indicators.h"
#include "ps_money.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

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

/* The three growth figures of NOW over THEN (count, amount, average ticket). */
static ps_body_growth_t s_growths (const s_meas_t *now, const s_meas_t *then)
{
    ps_body_growth_t out = {{false, 0}, {false, 0}, {false, 0}};
    double a, b;
    if (now->has_count && then->has_count)
        out.count.has = s_growth ((double) now->count, (double) then->count, &out.count.value);
    if (now->has_amount && then->has_amount)
        out.amount.has = s_growth ((double) now->amount, (double) then->amount, &out.amount.value);
    if (s_ticket (now, &a) && s_ticket (then, &b))
        out.avg_ticket.has = s_growth (a, b, &out.avg_ticket.value);
    return out;
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
   periods of the same series, into BODY. CURRENCY holds the series'
   currency. */
static void s_time_fields (const ps_cells_t *cells, const s_reads_t *r, const s_plan_t *plan,
                           const s_meas_t *m, const char currency[PS_CURRENCY_LEN + 1],
                           ps_body_cell_t *body)
{
    body->has_count = m->has_count;
    body->count = m->count;
    body->has_amount = m->has_amount;
    body->amount = m->amount;
    if (m->has_amount) {
        body->currency = currency;
        body->exp = ps_currency_exponent (currency, PS_CURRENCY_LEN);
    }
    body->avg_ticket.has = s_ticket (m, &body->avg_ticket.value);
    s_meas_t then;
    if (s_meas_id (cells, s_id (r, plan->year_ago), &then))
        body->yoy = s_growths (m, &then);
    if (s_meas_id (cells, s_id (r, plan->prev), &then))
        body->pop = s_growths (m, &then);
    if (plan->ytd < 0)
        return;
    s_meas_t ytd;
    s_ytd (cells, r->ids + plan->ytd, plan->nytd, &ytd);
    body->has_ytd_count = ytd.has_count;
    body->ytd_count = ytd.count;
    body->has_ytd_amount = ytd.has_amount;
    body->ytd_amount = ytd.amount;
    body->ytd_avg_ticket.has = s_ticket (&ytd, &body->ytd_avg_ticket.value);
    if (plan->ytd_then >= 0 && s_ytd (cells, r->ids + plan->ytd_then, plan->nytd, &then))
        body->ytd_yoy = s_growths (&ytd, &then);
}

/* Each concrete dimension's share of its `*`, into BODY. */
static void s_shares (const ps_cells_t *cells, const s_reads_t *r, const s_plan_t *plan, int ndims,
                      const s_meas_t *m, ps_body_cell_t *body)
{
    int n = 0;
    for (int i = 0; i < ndims; i++) {
        s_meas_t pm;
        if (!s_meas_id (cells, s_id (r, plan->share[i]), &pm))
            continue;
        ps_body_share_t sh = {i, {false, 0}, {false, 0}};
        if (m->has_count && pm.has_count && pm.count > 0) {
            sh.count_pct.has = true;
            sh.count_pct.value = (double) m->count / (double) pm.count * 100.0;
        }
        if (m->has_amount && pm.has_amount && pm.amount > 0) {
            sh.amount_pct.has = true;
            sh.amount_pct.value = (double) m->amount / (double) pm.amount * 100.0;
        }
        if (sh.count_pct.has || sh.amount_pct.has)
            body->shares[n++] = sh;
    }
    body->nshares = n;
}

void ps_indicators_cell (const ps_cells_t *cells, uint32_t id, msgpack_packer *pk)
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
    ps_period_t p = ps_period_unpack (key.period);
    char period[PS_PERIOD_STRLEN];
    ps_period_format (&p, period);
    ps_body_cell_t body;
    /* Only the flags need clearing: a value is read when its flag is set. */
    body.yoy = body.pop = body.ytd_yoy = (ps_body_growth_t){{false, 0}, {false, 0}, {false, 0}};
    body.has_ytd_count = body.has_ytd_amount = body.ytd_avg_ticket.has = false;
    body.source = ps_cells_source_name (cells, key.source);
    body.period = period;
    body.gran = (ps_gran_t) p.gran;
    s_time_fields (cells, &reads, &plan, &m, currency, &body);
    s_shares (cells, &reads, &plan, key.ndims, &m, &body);
    body.ndims = ps_cells_dims (cells, &key, body.dims);
    ps_body_cell_pack (&body, pk);
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

/* Fills SIDE, read from cell ID. */
static void s_side (const ps_cells_t *cells, const ps_ratio_side_t *ratio_side, uint32_t id,
                    bool has, int64_t value, ps_body_side_t *side)
{
    ps_cells_topic (cells, &ps_cells_at (cells, id)->key, side->topic);
    side->measure = ps_measure_name (ratio_side->measure);
    side->has_value = has;
    side->value = value;
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
    char text[PS_PERIOD_STRLEN];
    ps_period_format (period, text);
    ps_body_ratio_t body;
    body.name = ratio->name;
    body.period = text;
    body.value.has = has_num && has_den && dv != 0;
    body.value.value = body.value.has ? (double) nv / (double) dv : 0;
    s_side (cells, &ratio->num, num, has_num, nv, &body.num);
    s_side (cells, &ratio->den, den, has_den, dv, &body.den);
    ps_body_ratio_pack (&body, pk);
    return 0;
}

size_t ps_indicators_ratio_topic (const ps_ratio_t *ratio, const ps_period_t *period, char *buf)
{
    char text[PS_PERIOD_STRLEN];
    ps_period_format (period, text);
    int n = snprintf (buf, PS_TOPIC_MAX + 1, "%s%s/%s", PS_TOPIC_RATIO_PREFIX, ratio->name, text);
    return (size_t) n;
}
