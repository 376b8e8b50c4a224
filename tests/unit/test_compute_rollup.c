/*  Compute: how one report moves its cell and every aggregate (docs/indicators.md). */

#include "test_compute_util.h"

#include "ps_rollup.h"

static int s_setup (void **state)
{
    *state = ps_engine_new (NULL, 1);
    return *state ? 0 : -1;
}

static int s_teardown (void **state)
{
    ps_engine_t *e = *state;
    ps_engine_destroy (&e);
    return 0;
}

static void test_time_rollup (void **state)
{
    ps_engine_t *e = *state;
    t_add (e, "CMI", "2012-07-15", NULL, 3, 300);
    for (const char *const *p =
             (const char *const[]){"2012-07-15", "2012-07", "2012-Q3", "2012", NULL};
         *p; p++) {
        const ps_cell_t *c = t_cell (e, "CMI", *p, NULL);
        assert_non_null (c);
        assert_int_equal (c->count, 3);
        assert_int_equal (c->amount, 300);
    }
    /* A month rolls into its quarter and year, not into any day. */
    t_add (e, "CMI", "2012-08", NULL, 10, NONE);
    assert_int_equal (t_cell (e, "CMI", "2012-Q3", NULL)->count, 13);
    assert_int_equal (t_cell (e, "CMI", "2012", NULL)->count, 13);
    assert_int_equal (t_cell (e, "CMI", "2012-07", NULL)->count, 3);
    /* A quarter rolls into its year only; a year into nothing. */
    t_add (e, "CMI", "2012-Q1", NULL, 100, NONE);
    t_add (e, "CMI", "2012", NULL, 1000, NONE);
    assert_int_equal (t_cell (e, "CMI", "2012", NULL)->count, 1113);
    assert_int_equal (t_cell (e, "CMI", "2012-Q3", NULL)->count, 13);
    assert_null (t_cell (e, "CMI", "2012-01", NULL));
    assert_null (t_cell (e, "CMI", "2011", NULL));
    /* The year's own reported value stays apart from what rolls into it. */
    const ps_cell_t *year = t_cell (e, "CMI", "2012", NULL);
    assert_int_equal (year->rep_count, 1000);
    assert_int_equal (year->nleaves, 4);
}

static void test_dim_rollup (void **state)
{
    ps_engine_t *e = *state;
    t_add (e, "CMI", "2012", "card=domestic,channel=web", 1, 10);
    t_add (e, "CMI", "2012", "card=foreign,channel=web", 2, 20);
    t_add (e, "CMI", "2012", "card=domestic,channel=shop", 4, 40);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*,channel=web")->count, 3);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=domestic,channel=*")->count, 5);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=foreign,channel=*")->count, 2);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*,channel=shop")->amount, 40);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*,channel=*")->count, 7);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*,channel=*")->nleaves, 3);
    /* 3 leaves + card=* x 2 + channel=* x 2 + both rolled up */
    assert_int_equal (ps_cells_count (ps_engine_cells (e)), 8);
}

static void test_cells_per_report (void **state)
{
    ps_engine_t *e = *state;
    /* A day with 4 dims: 4 periods x 2^4 dim subsets. */
    t_add (e, "S", "2012-02-29", "a=1,b=2,c=3,d=4", 1, NONE);
    assert_int_equal (ps_cells_count (ps_engine_cells (e)), PS_ROLLUP_MAX_CELLS);
    assert_int_equal (t_cell (e, "S", "2012", "a=*,b=*,c=*,d=*")->count, 1);
    assert_int_equal (t_cell (e, "S", "2012-Q1", "a=1,b=*,c=3,d=*")->count, 1);
    assert_int_equal (t_cell (e, "S", "2012-02", "a=*,b=2,c=*,d=4")->count, 1);
}

static void test_lacking_dim_is_another_series (void **state)
{
    ps_engine_t *e = *state;
    t_add (e, "CMI", "2012", NULL, 100, NONE);
    t_add (e, "CMI", "2012", "card=domestic", 7, NONE);
    assert_int_equal (t_cell (e, "CMI", "2012", NULL)->count, 100);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->count, 7);
    /* A different set of dimension names is a different family too. */
    t_add (e, "CMI", "2012", "channel=web", 5, NONE);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->count, 7);
    assert_int_equal (t_cell (e, "CMI", "2012", "channel=*")->count, 5);
}

static void test_no_rollup_across_sources (void **state)
{
    ps_engine_t *e = *state;
    t_add (e, "CMI", "2012", "card=domestic", 1, 10);
    t_add (e, "MTC", "2012", "card=domestic", 2, 20);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->count, 1);
    assert_int_equal (t_cell (e, "MTC", "2012", "card=*")->count, 2);
}

static void test_set_after_add (void **state)
{
    ps_engine_t *e = *state;
    t_add (e, "CMI", "2012-01", "card=domestic", 5, 50);
    t_add (e, "CMI", "2012-01", "card=domestic", 3, 30);
    t_add (e, "CMI", "2012-02", "card=foreign", 7, 70);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->count, 15);
    /* set replaces the cell's reported value; aggregates move by the difference */
    t_set (e, "CMI", "2012-01", "card=domestic", 10, 100);
    assert_int_equal (t_cell (e, "CMI", "2012-01", "card=domestic")->count, 10);
    assert_int_equal (t_cell (e, "CMI", "2012-Q1", "card=domestic")->amount, 100);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->count, 17);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->amount, 170);
    /* add after set adds to the set value */
    t_add (e, "CMI", "2012-01", "card=domestic", 2, 20);
    assert_int_equal (t_cell (e, "CMI", "2012-01", "card=domestic")->count, 12);
    /* a lower set lowers every aggregate; set is idempotent */
    t_set (e, "CMI", "2012-01", "card=domestic", 1, 1);
    t_set (e, "CMI", "2012-01", "card=domestic", 1, 1);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->count, 8);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->amount, 71);
    /* set on a finer cell leaves what was reported on a coarser one */
    t_set (e, "CMI", "2012", "card=domestic", 1000, NONE);
    t_set (e, "CMI", "2012-01", "card=domestic", 0, 0);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=domestic")->count, 1000);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->count, 1007);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->nleaves, 3);
}

static void test_missing_measures (void **state)
{
    ps_engine_t *e = *state;
    /* Only the count: the amount is absent in the cell and all aggregates. */
    t_add (e, "CMI", "2012-01", "card=domestic", 5, NONE);
    const ps_cell_t *c = t_cell (e, "CMI", "2012", "card=*");
    assert_true (ps_cell_has_count (c));
    assert_false (ps_cell_has_amount (c));
    /* Another contributor with both: the aggregate amount stays absent
       (never a partial sum), its own cell has both. */
    t_add (e, "CMI", "2012-01", "card=foreign", 1, 10);
    c = t_cell (e, "CMI", "2012", "card=*");
    assert_false (ps_cell_has_amount (c));
    assert_int_equal (c->nmiss_amount, 1);
    assert_true (ps_cell_has_amount (t_cell (e, "CMI", "2012", "card=foreign")));
    /* Every add since the last set must carry the measure. */
    t_add (e, "CMI", "2012-01", "card=foreign", 1, NONE);
    assert_false (ps_cell_has_amount (t_cell (e, "CMI", "2012-01", "card=foreign")));
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->nmiss_amount, 2);
    t_add (e, "CMI", "2012-01", "card=foreign", 1, 10);
    assert_false (ps_cell_has_amount (t_cell (e, "CMI", "2012-01", "card=foreign")));
    /* A set carrying the measure makes it present again. */
    t_set (e, "CMI", "2012-01", "card=foreign", 3, 30);
    assert_true (ps_cell_has_amount (t_cell (e, "CMI", "2012-01", "card=foreign")));
    t_set (e, "CMI", "2012-01", "card=domestic", 5, 50);
    c = t_cell (e, "CMI", "2012", "card=*");
    assert_true (ps_cell_has_amount (c));
    assert_true (ps_cell_has_count (c));
    assert_int_equal (c->amount, 80);
    assert_int_equal (c->count, 8);
    /* A set without the measure makes it absent, even if adds carry it later. */
    t_set (e, "CMI", "2012-01", "card=domestic", 5, NONE);
    t_add (e, "CMI", "2012-01", "card=domestic", 1, 1);
    assert_false (ps_cell_has_amount (t_cell (e, "CMI", "2012-01", "card=domestic")));
    assert_false (ps_cell_has_amount (t_cell (e, "CMI", "2012", "card=*")));
    assert_int_equal (t_cell (e, "CMI", "2012-01", "card=domestic")->rep_amount, 1);
    /* Only the amount: the count goes absent the same way. */
    t_set (e, "CMI", "2012-01", "card=foreign", NONE, 30);
    assert_false (ps_cell_has_count (t_cell (e, "CMI", "2012", "card=*")));
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->nmiss_count, 1);
}

/* The number of cells and the totals of a few, to prove a refusal changed nothing. */
static void s_snapshot (ps_engine_t *e, int64_t out[4])
{
    out[0] = ps_cells_count (ps_engine_cells (e));
    out[1] = t_cell (e, "CMI", "2012", "card=*")->count;
    out[2] = t_cell (e, "CMI", "2012", "card=*")->amount;
    out[3] = t_cell (e, "CMI", "2012-01-01", "card=a")->count;
}

static void s_refused (ps_engine_t *e, ps_report_t r, ps_err_t code, const char *field)
{
    int64_t before[4], after[4];
    s_snapshot (e, before);
    ps_error_t err;
    assert_int_equal (ps_engine_apply (e, &r, &err), -1);
    assert_int_equal (err.code, code);
    assert_string_equal (err.field, field);
    assert_true (strlen (err.reason) > 0);
    s_snapshot (e, after);
    assert_memory_equal (before, after, sizeof before);
}

static void test_overflow_in_cell (void **state)
{
    ps_engine_t *e = *state;
    t_add (e, "CMI", "2012-01-01", "card=a", INT64_MAX, 1);
    s_refused (e, t_report ("CMI", "2012-01-01", "card=a", 1, 1, "MAD", PS_OP_ADD), PS_E_OVERFLOW,
               "count");
    /* set replaces, so the same value set again is fine */
    t_set (e, "CMI", "2012-01-01", "card=a", INT64_MAX, 1);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->count, INT64_MAX);
}

static void test_overflow_in_aggregate (void **state)
{
    ps_engine_t *e = *state;
    t_add (e, "CMI", "2012-01-01", "card=a", 1, INT64_MAX - 5);
    /* Another day and card: its own cells are fine, the month/year and
       card=* aggregates would overflow. Nothing may be applied, no cell created. */
    s_refused (e, t_report ("CMI", "2012-03-02", "card=b", 1, 6, "MAD", PS_OP_ADD), PS_E_OVERFLOW,
               "amount");
    assert_null (t_cell (e, "CMI", "2012-03-02", "card=b"));
    assert_null (t_cell (e, "CMI", "2012-03", "card=*"));
    /* Only the year with card=* is shared with this one. */
    s_refused (e, t_report ("CMI", "2012", "card=c", NONE, 6, "MAD", PS_OP_SET), PS_E_OVERFLOW,
               "amount");
    t_add (e, "CMI", "2012-03-02", "card=b", 1, 5);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->amount, INT64_MAX);
    /* A set that lowers a value frees room again. */
    t_set (e, "CMI", "2012-01-01", "card=a", 1, 0);
    t_add (e, "CMI", "2012", "card=c", NONE, INT64_MAX - 5);
    assert_int_equal (t_cell (e, "CMI", "2012", "card=*")->amount, INT64_MAX);
}

static void test_currency_mismatch (void **state)
{
    ps_engine_t *e = *state;
    t_add (e, "CMI", "2012-01-01", "card=a", 1, 100);
    /* Same series, other currency. */
    s_refused (e, t_report ("CMI", "2012-05", "card=a", 1, 1, "EUR", PS_OP_ADD),
               PS_E_CURRENCY_MISMATCH, "currency");
    /* Another series that rolls into card=*, which is in MAD: refused too,
       or card=* would sum dirhams and euros. */
    s_refused (e, t_report ("CMI", "2013", "card=b", 1, 1, "EUR", PS_OP_SET),
               PS_E_CURRENCY_MISMATCH, "currency");
    ps_error_t err;
    ps_report_t r = t_report ("CMI", "2013", "card=b", 1, 1, "EUR", PS_OP_SET);
    ps_engine_apply (e, &r, &err);
    assert_non_null (strstr (err.reason, "CMI/2013/card=*"));
    assert_non_null (strstr (err.reason, "MAD"));
    /* Without an amount there is no currency to check. */
    t_add (e, "CMI", "2012-05", "card=a", 1, NONE);
    /* Other series families and sources pick their own currency. */
    r = t_report ("CMI", "2012", NULL, 1, 1, "EUR", PS_OP_ADD);
    assert_int_equal (ps_engine_apply (e, &r, &err), 0);
    r = t_report ("OC", "2012", "card=a", 1, 1, "JPY", PS_OP_ADD);
    assert_int_equal (ps_engine_apply (e, &r, &err), 0);
}

/* The concrete children of the rolled-up position POS of a cell. */
static int s_children (ps_engine_t *e, const ps_cell_t *parent, int pos)
{
    const ps_cells_t *cells = ps_engine_cells (e);
    int n = 0;
    for (uint32_t id = parent->link[pos]; id; id = ps_cells_at (cells, id)->link[pos]) {
        const ps_cell_t *c = ps_cells_at (cells, id);
        /* same key but for that position, which is concrete */
        ps_key_t k = c->key;
        k.tok[pos] = parent->key.tok[pos];
        assert_memory_equal (&k, &parent->key, sizeof k);
        assert_int_not_equal (c->key.tok[pos], parent->key.tok[pos]);
        n++;
    }
    return n;
}

static void test_sibling_index (void **state)
{
    ps_engine_t *e = *state;
    t_add (e, "CMI", "2012-01", "card=a,channel=web", 1, NONE);
    t_add (e, "CMI", "2012-01", "card=b,channel=web", 1, NONE);
    t_add (e, "CMI", "2012-02", "card=c,channel=web", 1, NONE);
    t_add (e, "CMI", "2012-02", "card=a,channel=shop", 1, NONE);
    t_add (e, "CMI", "2012-01", "card=a,channel=web", 1, NONE); /* no duplicate links */
    assert_int_equal (s_children (e, t_cell (e, "CMI", "2012", "card=*,channel=web"), 0), 3);
    assert_int_equal (s_children (e, t_cell (e, "CMI", "2012", "card=*,channel=*"), 0), 3);
    assert_int_equal (s_children (e, t_cell (e, "CMI", "2012", "card=*,channel=*"), 1), 2);
    assert_int_equal (s_children (e, t_cell (e, "CMI", "2012-01", "card=*,channel=web"), 0), 2);
    assert_int_equal (s_children (e, t_cell (e, "CMI", "2012-Q1", "card=a,channel=*"), 1), 2);
    assert_int_equal (s_children (e, t_cell (e, "CMI", "2012-02", "card=*,channel=shop"), 0), 1);
}

static void test_source_limit (void **state)
{
    ps_engine_t *e = *state;
    char name[16];
    for (int i = 0; i < UINT16_MAX; i++) {
        snprintf (name, sizeof name, "S%d", i);
        t_add (e, name, "2012", NULL, 1, NONE);
    }
    ps_report_t r = t_report ("ONEMORE", "2012", NULL, 1, NONE, NULL, PS_OP_ADD);
    ps_error_t err;
    assert_int_equal (ps_engine_apply (e, &r, &err), -1);
    assert_int_equal (err.code, PS_E_LIMIT);
    t_add (e, "S7", "2012", NULL, 1, NONE);
    assert_int_equal (t_cell (e, "S7", "2012", NULL)->count, 2);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_time_rollup, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_dim_rollup, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cells_per_report, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_lacking_dim_is_another_series, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_no_rollup_across_sources, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_set_after_add, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_missing_measures, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_overflow_in_cell, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_overflow_in_aggregate, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_currency_mismatch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sibling_index, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_source_limit, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
