/*  Compute property test: thousands of random reports (mixed add/set,
    every granularity, 0-3 dims, random measure presence, the odd foreign
    currency), flushed at random moments into a subscriber's view. At the
    end every cell of the engine, and every topic of the view, must equal
    what a straightforward computation over the list of reported leaves
    gives: sums by brute force, presence by "every contributor has it",
    growth, ytd and shares from those sums. A stale topic in the view
    means a dependent was not republished. */

#include "test_compute_util.h"

#include "ps_log.h"
#include "ps_ratios.h"
#include "ps_strmap.h"

#define S_REPORTS 6000
#define S_STAR    3

static const char *const s_sources[] = {"A", "B"};
static const char *const s_names[] = {"card", "channel", "region"};
static const char *const s_values[] = {"x", "y", "z"};

/* A cell as the oracle sees it: small integers, zero-padded, memcmp-able. */
typedef struct {
    uint8_t src;
    uint8_t ndims;
    uint8_t name[3];
    uint8_t value[3]; /* S_STAR for a rolled-up dimension */
    uint16_t year;
    uint8_t gran;
    uint8_t sub;
    uint8_t day;
    uint8_t pad;
} s_okey_t;

typedef struct {
    s_okey_t key; /* the leaf's cell */
    bool has_count;
    bool has_amount;
    int64_t count;
    int64_t amount;
} s_leaf_t;

typedef struct {
    bool exists;
    bool has_count;
    bool has_amount;
    int64_t count;
    int64_t amount;
} s_agg_t;

typedef struct {
    s_leaf_t *leaves;
    size_t nleaves;
    /* series currency: key with period zeroed -> currency letter ('M' or 'E') */
    ps_strmap_t *currency;
    ps_strmap_t *memo; /* okey -> s_agg_t*, valid until the next report */
} s_oracle_t;

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint32_t s_rand (uint32_t n)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (uint32_t) (s_rng % n);
}

static bool s_within (const s_okey_t *leaf, const s_okey_t *cell)
{
    if (leaf->gran < cell->gran || leaf->year != cell->year)
        return false;
    switch (cell->gran) {
    case PS_GRAN_YEAR:
        return true;
    case PS_GRAN_QUARTER:
        return (leaf->gran == PS_GRAN_QUARTER ? leaf->sub : (leaf->sub - 1) / 3 + 1) == cell->sub;
    case PS_GRAN_MONTH:
        return leaf->sub == cell->sub;
    default:
        return leaf->sub == cell->sub && leaf->day == cell->day;
    }
}

static bool s_contributes (const s_okey_t *leaf, const s_okey_t *cell)
{
    if (leaf->src != cell->src || leaf->ndims != cell->ndims)
        return false;
    for (int i = 0; i < leaf->ndims; i++)
        if (leaf->name[i] != cell->name[i] ||
            (cell->value[i] != S_STAR && cell->value[i] != leaf->value[i]))
            return false;
    return s_within (leaf, cell);
}

static void s_memo_clear (s_oracle_t *o)
{
    size_t cursor = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (o->memo, &cursor, &key, &len, &value))
        free (value);
    ps_strmap_destroy (&o->memo);
    o->memo = ps_strmap_new ();
}

/* The aggregate of CELL by brute force over every leaf. */
static s_agg_t s_agg (s_oracle_t *o, const s_okey_t *cell)
{
    bool inserted;
    void **slot = ps_strmap_put (o->memo, cell, sizeof *cell, &inserted);
    if (!inserted)
        return *(s_agg_t *) *slot;
    s_agg_t a = {false, true, true, 0, 0};
    for (size_t i = 0; i < o->nleaves; i++) {
        const s_leaf_t *l = &o->leaves[i];
        if (!s_contributes (&l->key, cell))
            continue;
        a.exists = true;
        a.count += l->count;
        a.amount += l->amount;
        a.has_count = a.has_count && l->has_count;
        a.has_amount = a.has_amount && l->has_amount;
    }
    if (!a.exists)
        a.has_count = a.has_amount = false;
    s_agg_t *copy = malloc (sizeof *copy);
    *copy = a;
    *slot = copy;
    return a;
}

static s_okey_t s_at (const s_okey_t *k, int year, int gran, int sub, int day)
{
    s_okey_t r = *k;
    r.year = (uint16_t) year;
    r.gran = (uint8_t) gran;
    r.sub = (uint8_t) sub;
    r.day = (uint8_t) day;
    return r;
}

/* ---- The random workload --------------------------------------------- */

static void s_random_period (s_okey_t *k)
{
    static const int months[] = {1, 2, 3, 12};
    static const int days[] = {1, 2, 28, 29, 31};
    k->year = (uint16_t) (2011 + s_rand (3));
    k->gran = (uint8_t) s_rand (4);
    k->sub = k->day = 0;
    if (k->gran == PS_GRAN_QUARTER)
        k->sub = (uint8_t) (1 + s_rand (4));
    if (k->gran >= PS_GRAN_MONTH)
        k->sub = (uint8_t) months[s_rand (4)];
    if (k->gran == PS_GRAN_DAY) {
        do
            k->day = (uint8_t) days[s_rand (5)];
        while (k->day > ps_days_in_month (k->year, k->sub));
    }
}

static ps_report_t s_random_report (s_okey_t *k, char *currency)
{
    memset (k, 0, sizeof *k);
    k->src = (uint8_t) s_rand (2);
    uint32_t family = s_rand (8);
    for (int n = 0; n < 3; n++)
        if (family >> n & 1) {
            k->name[k->ndims] = (uint8_t) n;
            k->value[k->ndims] = (uint8_t) s_rand (3);
            k->ndims++;
        }
    s_random_period (k);
    ps_report_t r;
    memset (&r, 0, sizeof r);
    strcpy (r.source, s_sources[k->src]);
    r.period = (ps_period_t){k->year, k->gran, k->sub, k->day};
    r.ndims = k->ndims;
    for (int i = 0; i < k->ndims; i++) {
        strcpy (r.dims[i].name, s_names[k->name[i]]);
        strcpy (r.dims[i].value, s_values[k->value[i]]);
    }
    uint32_t which = s_rand (10);
    r.has_count = which != 0;
    r.has_amount = which != 1;
    r.count = s_rand (1000);
    r.amount = s_rand (100000);
    *currency = s_rand (40) == 0 ? 'E' : 'M';
    if (r.has_amount)
        strcpy (r.currency, *currency == 'E' ? "EUR" : "MAD");
    r.op = s_rand (10) < 3 ? PS_OP_SET : PS_OP_ADD;
    return r;
}

/* Applies the report to the oracle; returns false when the rules refuse it. */
static bool s_oracle_apply (s_oracle_t *o, const s_okey_t *k, const ps_report_t *r, char currency)
{
    uint32_t nmasks = 1u << k->ndims;
    if (r->has_amount) {
        for (uint32_t mask = 0; mask < nmasks; mask++) {
            s_okey_t series = s_at (k, 0, 0, 0, 0);
            for (int i = 0; i < k->ndims; i++)
                if (mask >> i & 1)
                    series.value[i] = S_STAR;
            void **slot = ps_strmap_get (o->currency, &series, sizeof series);
            if (slot && (char) (uintptr_t) *slot != currency)
                return false;
        }
        for (uint32_t mask = 0; mask < nmasks; mask++) {
            s_okey_t series = s_at (k, 0, 0, 0, 0);
            for (int i = 0; i < k->ndims; i++)
                if (mask >> i & 1)
                    series.value[i] = S_STAR;
            bool inserted;
            void **slot = ps_strmap_put (o->currency, &series, sizeof series, &inserted);
            if (inserted)
                *slot = (void *) (uintptr_t) currency;
        }
    }
    s_leaf_t *leaf = NULL;
    for (size_t i = 0; i < o->nleaves && !leaf; i++)
        if (memcmp (&o->leaves[i].key, k, sizeof *k) == 0)
            leaf = &o->leaves[i];
    if (!leaf) {
        leaf = &o->leaves[o->nleaves++];
        *leaf = (s_leaf_t){*k, true, true, 0, 0};
    }
    if (r->op == PS_OP_SET) {
        leaf->has_count = r->has_count;
        leaf->has_amount = r->has_amount;
        leaf->count = r->has_count ? r->count : 0;
        leaf->amount = r->has_amount ? r->amount : 0;
    } else {
        leaf->has_count = leaf->has_count && r->has_count;
        leaf->has_amount = leaf->has_amount && r->has_amount;
        leaf->count += r->has_count ? r->count : 0;
        leaf->amount += r->has_amount ? r->amount : 0;
    }
    s_memo_clear (o);
    return true;
}

/* ---- The subscriber's view: the last message of every topic ------------ */

typedef struct {
    msgpack_unpacked body;
    msgpack_sbuffer raw;
} s_view_entry_t;

static int s_view_emit (void *arg, const void *frame, size_t size)
{
    ps_strmap_t *view = arg;
    uint64_t epoch, useq;
    ps_update_item_t *items = NULL;
    size_t n = 0, capacity = 0;
    ps_error_t err;
    assert_int_equal (
        ps_feed_update_decode (frame, size, &epoch, &useq, &items, &n, &capacity, &err), 0);
    for (size_t i = 0; i < n; i++) {
        bool inserted;
        void **slot = ps_strmap_put (view, items[i].topic, items[i].topic_len, &inserted);
        assert_non_null (slot);
        s_view_entry_t *e = *slot;
        if (e) {
            msgpack_unpacked_destroy (&e->body);
            msgpack_sbuffer_destroy (&e->raw);
        } else {
            e = *slot = calloc (1, sizeof *e);
        }
        msgpack_sbuffer_init (&e->raw);
        msgpack_sbuffer_write (&e->raw, (const char *) items[i].body, items[i].body_len);
        msgpack_unpacked_init (&e->body);
        size_t off = 0;
        assert_int_equal (msgpack_unpack_next (&e->body, e->raw.data, e->raw.size, &off),
                          MSGPACK_UNPACK_SUCCESS);
    }
    free (items);
    return 0;
}

static const msgpack_object *s_view_get (ps_strmap_t *view, const char *topic)
{
    void **slot = ps_strmap_get (view, topic, strlen (topic));
    return slot ? &((s_view_entry_t *) *slot)->body.data : NULL;
}

static void s_view_destroy (ps_strmap_t **view)
{
    size_t cursor = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (*view, &cursor, &key, &len, &value)) {
        s_view_entry_t *e = value;
        msgpack_unpacked_destroy (&e->body);
        msgpack_sbuffer_destroy (&e->raw);
        free (e);
    }
    ps_strmap_destroy (view);
}

/* ---- Comparison ------------------------------------------------------- */

/* Asserts MAP's KEY holds WANT (an int) when HAS, and is absent otherwise. */
static void s_check_int (const char *topic, const msgpack_object *map, const char *key, bool has,
                         int64_t want)
{
    const msgpack_object *o = ps_msgpack_map_get (map, key);
    if (!has) {
        if (o)
            fail_msg ("%s: %s should be absent", topic, key);
        return;
    }
    if (!o)
        fail_msg ("%s: %s missing, want %lld", topic, key, (long long) want);
    if (t_int (map, key) != want)
        fail_msg ("%s: %s = %lld, want %lld", topic, key, (long long) t_int (map, key),
                  (long long) want);
}

static void s_check_double (const char *topic, const msgpack_object *map, const char *key, bool has,
                            double want)
{
    const msgpack_object *o = ps_msgpack_map_get (map, key);
    if (!has) {
        if (o)
            fail_msg ("%s: %s should be absent", topic, key);
        return;
    }
    if (!o)
        fail_msg ("%s: %s missing, want %g", topic, key, want);
    double got = t_double (map, key), d = got - want;
    if ((d < 0 ? -d : d) > 1e-9 * (want < 0 ? -want : want) + 1e-9)
        fail_msg ("%s: %s = %.15g, want %.15g", topic, key, got, want);
}

static bool s_growth (bool has_now, int64_t now, bool has_then, int64_t then, double *out)
{
    if (!has_now || !has_then || then <= 0)
        return false;
    *out = ((double) now / (double) then - 1.0) * 100.0;
    return true;
}

static void s_check_growth (const char *topic, const msgpack_object *m, const char *const keys[3],
                            const s_agg_t *now, const s_agg_t *then)
{
    double g = 0;
    bool has =
        then->exists && s_growth (now->has_count, now->count, then->has_count, then->count, &g);
    s_check_double (topic, m, keys[0], has, g);
    has =
        then->exists && s_growth (now->has_amount, now->amount, then->has_amount, then->amount, &g);
    s_check_double (topic, m, keys[1], has, g);
    bool tn = now->has_count && now->has_amount && now->count > 0;
    bool tt = then->exists && then->has_count && then->has_amount && then->count > 0;
    double a = tn ? (double) now->amount / (double) now->count : 0;
    double b = tt ? (double) then->amount / (double) then->count : 0;
    has = tn && tt && b > 0;
    s_check_double (topic, m, keys[2], has, has ? (a / b - 1.0) * 100.0 : 0);
}

static s_agg_t s_ytd (s_oracle_t *o, const s_okey_t *k, int year)
{
    s_agg_t y = {false, true, true, 0, 0};
    for (int sub = 1; sub <= k->sub; sub++) {
        s_okey_t p = s_at (k, year, k->gran, sub, 0);
        s_agg_t a = s_agg (o, &p);
        if (!a.exists)
            continue;
        y.exists = true;
        y.count += a.count;
        y.amount += a.amount;
        y.has_count = y.has_count && a.has_count;
        y.has_amount = y.has_amount && a.has_amount;
    }
    return y;
}

static const char *const s_yoy[3] = {"yoy_count_pct", "yoy_amount_pct", "yoy_avg_ticket_pct"};
static const char *const s_pop[3] = {"pop_count_pct", "pop_amount_pct", "pop_avg_ticket_pct"};
static const char *const s_ytd_yoy[3] = {"ytd_yoy_count_pct", "ytd_yoy_amount_pct",
                                         "ytd_yoy_avg_ticket_pct"};

static void s_check_message (s_oracle_t *o, const s_okey_t *k, const char *topic,
                             const msgpack_object *m, const s_agg_t *a)
{
    s_check_int (topic, m, "count", a->has_count, a->count);
    s_check_int (topic, m, "amount", a->has_amount, a->amount);
    bool ticket = a->has_count && a->has_amount && a->count > 0;
    s_check_double (topic, m, "avg_ticket", ticket,
                    ticket ? (double) a->amount / (double) a->count : 0);
    s_okey_t other = s_at (k, k->year - 1, k->gran, k->sub, k->day);
    s_agg_t none = {false, false, false, 0, 0};
    s_agg_t then = (k->gran == PS_GRAN_DAY && k->day > ps_days_in_month (k->year - 1, k->sub))
                       ? none
                       : s_agg (o, &other);
    s_check_growth (topic, m, s_yoy, a, &then);
    ps_period_t p = {k->year, k->gran, k->sub, k->day}, prev;
    then = none;
    if (k->gran != PS_GRAN_YEAR && ps_period_prev (&p, &prev) == 0) {
        other = s_at (k, prev.year, prev.gran, prev.sub, prev.day);
        then = s_agg (o, &other);
    }
    s_check_growth (topic, m, s_pop, a, &then);
    if (k->gran == PS_GRAN_MONTH || k->gran == PS_GRAN_QUARTER) {
        s_agg_t y = s_ytd (o, k, k->year), y0 = s_ytd (o, k, k->year - 1);
        s_check_int (topic, m, "ytd_count", y.has_count, y.count);
        s_check_int (topic, m, "ytd_amount", y.has_amount, y.amount);
        s_check_growth (topic, m, s_ytd_yoy, &y, &y0);
    } else {
        assert_null (ps_msgpack_map_get (m, "ytd_count"));
    }
    const msgpack_object *share = ps_msgpack_map_get (m, "share");
    int nshares = 0;
    for (int i = 0; i < k->ndims; i++) {
        if (k->value[i] == S_STAR)
            continue;
        s_okey_t parent = *k;
        parent.value[i] = S_STAR;
        s_agg_t pa = s_agg (o, &parent);
        bool hc = a->has_count && pa.has_count && pa.count > 0;
        bool ha = a->has_amount && pa.has_amount && pa.amount > 0;
        const msgpack_object *entry =
            share ? ps_msgpack_map_get (share, s_names[k->name[i]]) : NULL;
        if (!hc && !ha) {
            assert_null (entry);
            continue;
        }
        nshares++;
        if (!entry)
            fail_msg ("%s: no share for %s", topic, s_names[k->name[i]]);
        s_check_double (topic, entry, "count_pct", hc,
                        hc ? (double) a->count / (double) pa.count * 100.0 : 0);
        s_check_double (topic, entry, "amount_pct", ha,
                        ha ? (double) a->amount / (double) pa.amount * 100.0 : 0);
    }
    assert_int_equal (share ? (int) share->via.map.size : 0, nshares);
}

static s_okey_t s_engine_key (const ps_cells_t *cells, const ps_cell_t *c)
{
    s_okey_t k;
    memset (&k, 0, sizeof k);
    const char *src = ps_cells_source_name (cells, c->key.source);
    k.src = (uint8_t) (strcmp (src, "A") == 0 ? 0 : 1);
    ps_dim_t dims[PS_MAX_DIMS];
    k.ndims = (uint8_t) ps_cells_dims (cells, &c->key, dims);
    for (int i = 0; i < k.ndims; i++) {
        for (uint8_t n = 0; n < 3; n++)
            if (strcmp (dims[i].name, s_names[n]) == 0)
                k.name[i] = n;
        k.value[i] = S_STAR;
        for (uint8_t v = 0; v < 3; v++)
            if (strcmp (dims[i].value, s_values[v]) == 0)
                k.value[i] = v;
    }
    ps_period_t p = ps_period_unpack (c->key.period);
    return s_at (&k, p.year, p.gran, p.sub, p.day);
}

/* Every cell the oracle's leaves imply, to compare with the engine's count. */
static size_t s_oracle_cells (const s_oracle_t *o)
{
    ps_strmap_t *set = ps_strmap_new ();
    for (size_t i = 0; i < o->nleaves; i++) {
        const s_okey_t *k = &o->leaves[i].key;
        ps_period_t p = {k->year, k->gran, k->sub, k->day}, up[4];
        up[0] = p;
        int nlev = 1 + ps_period_parents (&p, up + 1);
        for (int lev = 0; lev < nlev; lev++)
            for (uint32_t mask = 0; mask < 1u << k->ndims; mask++) {
                s_okey_t c = s_at (k, up[lev].year, up[lev].gran, up[lev].sub, up[lev].day);
                /* ndims is at most 3; the bound says so to gcc -O3's range analysis too. */
                for (int d = 0; d < k->ndims && d < 3; d++)
                    if (mask >> d & 1)
                        c.value[d] = S_STAR;
                bool inserted;
                ps_strmap_put (set, &c, sizeof c, &inserted);
            }
    }
    size_t n = ps_strmap_size (set);
    ps_strmap_destroy (&set);
    return n;
}

static void test_random_reports_match_brute_force (void **state)
{
    (void) state;
    const char *seed = getenv ("PAYSTAT_TEST_SEED");
    if (seed)
        s_rng = strtoull (seed, NULL, 0) | 1;
    print_message ("seed 0x%llx\n", (unsigned long long) s_rng);
    const char *conf = "r = A/card=x:amount / A/card=*:amount\n";
    char err[128];
    ps_ratios_t *ratios = ps_ratios_parse (conf, strlen (conf), "t", err, sizeof err);
    ps_engine_t *e = ps_engine_new (&ratios, 1);
    s_oracle_t o = {calloc (S_REPORTS, sizeof (s_leaf_t)), 0, ps_strmap_new (), ps_strmap_new ()};
    ps_strmap_t *view = ps_strmap_new ();
    int refused = 0;
    for (int i = 0; i < S_REPORTS; i++) {
        s_okey_t k;
        char currency;
        ps_report_t r = s_random_report (&k, &currency);
        bool ok = s_oracle_apply (&o, &k, &r, currency);
        ps_error_t perr;
        int rc = ps_engine_apply (e, &r, &perr);
        if (rc != (ok ? 0 : -1))
            fail_msg ("report %d: engine says %d, oracle %s", i, rc, ok ? "ok" : "refuse");
        if (!ok) {
            assert_int_equal (perr.code, PS_E_CURRENCY_MISMATCH);
            refused++;
        }
        if (s_rand (200) == 0)
            assert_true (ps_engine_flush (e, s_view_emit, view) >= 0);
    }
    assert_true (ps_engine_flush (e, s_view_emit, view) >= 0);
    assert_true (refused > 0);

    /* Every engine cell: its totals and its last published message. */
    const ps_cells_t *cells = ps_engine_cells (e);
    uint32_t ncells = ps_cells_count (cells);
    assert_int_equal (ncells, s_oracle_cells (&o));
    for (uint32_t id = 1; id <= ncells; id++) {
        const ps_cell_t *c = ps_cells_at (cells, id);
        s_okey_t k = s_engine_key (cells, c);
        s_agg_t a = s_agg (&o, &k);
        char topic[PS_TOPIC_MAX + 1];
        ps_cells_topic (cells, &c->key, topic);
        assert_true (a.exists);
        assert_int_equal (ps_cell_has_count (c), a.has_count);
        assert_int_equal (ps_cell_has_amount (c), a.has_amount);
        assert_int_equal (c->count, a.count);
        assert_int_equal (c->amount, a.amount);
        const msgpack_object *m = s_view_get (view, topic);
        if (!m)
            fail_msg ("%s never published", topic);
        s_check_message (&o, &k, topic, m, &a);
        /* The ratio at this cell's period, when both sides exist. */
        if (k.src == 0 && k.ndims == 1 && k.name[0] == 0 && k.value[0] == 0) {
            s_okey_t den = k;
            den.value[0] = S_STAR;
            s_agg_t d = s_agg (&o, &den);
            char rt[PS_TOPIC_MAX + 1], period[PS_PERIOD_STRLEN];
            ps_period_t p = ps_period_unpack (c->key.period);
            ps_period_format (&p, period);
            snprintf (rt, sizeof rt, "$ratio/r/%s", period);
            const msgpack_object *rm = s_view_get (view, rt);
            if (!rm)
                fail_msg ("%s never published", rt);
            bool has = a.has_amount && d.has_amount && d.amount != 0;
            s_check_double (rt, rm, "value", has, has ? (double) a.amount / (double) d.amount : 0);
        }
    }
    print_message ("%d reports (%d refused), %zu leaves, %u cells, %zu topics\n", S_REPORTS,
                   refused, o.nleaves, ncells, ps_strmap_size (view));
    s_view_destroy (&view);
    s_memo_clear (&o);
    ps_strmap_destroy (&o.memo);
    ps_strmap_destroy (&o.currency);
    free (o.leaves);
    ps_engine_destroy (&e);
}

int main (void)
{
    ps_log_init ("test", PS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_random_reports_match_brute_force),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
