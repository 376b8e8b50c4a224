/*  Compute: the indicator messages of cells and ratios (docs/indicators.md). */

#include "test_compute_util.h"

#include <math.h>

#include "ps_log.h"
#include "ps_ratios.h"

typedef struct {
    ps_engine_t *e;
    t_capture_t cap;
} s_fixture_t;

static int s_setup (void **state)
{
    s_fixture_t *f = calloc (1, sizeof *f);
    f->e = ps_engine_new (NULL, 42);
    *state = f;
    return f->e ? 0 : -1;
}

static int s_teardown (void **state)
{
    s_fixture_t *f = *state;
    ps_engine_destroy (&f->e);
    t_capture_clear (&f->cap);
    free (f);
    return 0;
}

static void test_fixed_fields (void **state)
{
    s_fixture_t *f = *state;
    t_add (f->e, "CMI", "2012-07-15", "card=domestic,channel=web", 4, 1000);
    t_flush (f->e, &f->cap);
    const msgpack_object *m = t_must (&f->cap, "CMI/2012-Q3/card=*,channel=web");
    assert_true (t_str_is (m, "type", "cell"));
    assert_true (t_str_is (m, "source", "CMI"));
    assert_true (t_str_is (m, "period", "2012-Q3"));
    assert_true (t_str_is (m, "gran", "quarter"));
    const msgpack_object *dims = t_get (m, "dims");
    assert_non_null (dims);
    assert_int_equal (dims->via.map.size, 2);
    assert_true (t_str_is (dims, "card", "*"));
    assert_true (t_str_is (dims, "channel", "web"));
    assert_int_equal (t_int (m, "count"), 4);
    assert_int_equal (t_int (m, "amount"), 1000);
    assert_true (t_str_is (m, "currency", "MAD"));
    assert_int_equal (t_int (m, "exp"), 2);
    assert_close (t_double (m, "avg_ticket"), 250.0);
    assert_true (
        t_str_is (t_must (&f->cap, "CMI/2012-07-15/card=domestic,channel=web"), "gran", "day"));
    /* a cell without dims has an empty dims map and a topic ending in '/' */
    t_add (f->e, "MTC", "2012", NULL, 1, NONE);
    t_flush (f->e, &f->cap);
    m = t_must (&f->cap, "MTC/2012/");
    assert_int_equal (t_get (m, "dims")->via.map.size, 0);
    assert_true (t_str_is (m, "gran", "year"));
    assert_null (t_get (m, "amount"));
    assert_null (t_get (m, "currency"));
    assert_null (t_get (m, "exp"));
    assert_null (t_get (m, "avg_ticket"));
    assert_null (t_get (m, "share"));
}

static void test_currency_exponent (void **state)
{
    s_fixture_t *f = *state;
    ps_report_t r = t_report ("JP", "2012", NULL, 2, 1000, "JPY", PS_OP_ADD);
    ps_error_t err;
    assert_int_equal (ps_engine_apply (f->e, &r, &err), 0);
    r = t_report ("BH", "2012", NULL, 2, 1000, "BHD", PS_OP_ADD);
    assert_int_equal (ps_engine_apply (f->e, &r, &err), 0);
    t_flush (f->e, &f->cap);
    assert_int_equal (t_int (t_must (&f->cap, "JP/2012/"), "exp"), 0);
    assert_true (t_str_is (t_must (&f->cap, "BH/2012/"), "currency", "BHD"));
    assert_int_equal (t_int (t_must (&f->cap, "BH/2012/"), "exp"), 3);
}

static void test_yoy (void **state)
{
    s_fixture_t *f = *state;
    t_set (f->e, "MTC", "2011", "channel=online", 707705, 51300000000);
    t_set (f->e, "MTC", "2012", "channel=online", 1250000, 74300000000);
    t_flush (f->e, &f->cap);
    const msgpack_object *m = t_must (&f->cap, "MTC/2012/channel=online");
    assert_close (t_double (m, "yoy_count_pct"), (1250000.0 / 707705.0 - 1) * 100);
    assert_close (t_double (m, "yoy_amount_pct"), (743.0 / 513.0 - 1) * 100);
    assert_close (t_double (m, "avg_ticket"), 59440.0);
    double then = 51300000000.0 / 707705.0;
    assert_close (t_double (m, "yoy_avg_ticket_pct"), (59440.0 / then - 1) * 100);
    /* the article's rounding: +76.6 % count, +45 % amount, -18 % basket */
    assert_int_equal ((int) lround (t_double (m, "yoy_count_pct") * 10), 766);
    assert_int_equal ((int) lround (t_double (m, "yoy_amount_pct")), 45);
    assert_int_equal ((int) lround (t_double (m, "yoy_avg_ticket_pct")), -18);
    /* no earlier year: no yoy at all; years have no pop or ytd */
    m = t_must (&f->cap, "MTC/2011/channel=online");
    assert_null (t_get (m, "yoy_count_pct"));
    assert_null (t_get (m, "yoy_amount_pct"));
    assert_null (t_get (m, "yoy_avg_ticket_pct"));
    assert_null (t_get (m, "pop_count_pct"));
    assert_null (t_get (m, "ytd_count"));
}

static void test_yoy_of_finer_periods (void **state)
{
    s_fixture_t *f = *state;
    t_add (f->e, "S", "2011-02-28", NULL, 10, NONE);
    t_add (f->e, "S", "2012-02-28", NULL, 15, NONE);
    t_add (f->e, "S", "2012-02-29", NULL, 1, NONE);
    t_flush (f->e, &f->cap);
    assert_close (t_double (t_must (&f->cap, "S/2012-02-28/"), "yoy_count_pct"), 50.0);
    assert_null (t_get (t_must (&f->cap, "S/2012-02-29/"), "yoy_count_pct"));
    assert_close (t_double (t_must (&f->cap, "S/2012-02/"), "yoy_count_pct"), 60.0);
    assert_close (t_double (t_must (&f->cap, "S/2012-Q1/"), "yoy_count_pct"), 60.0);
    /* pop of a day: the previous day, across a leap day */
    assert_close (t_double (t_must (&f->cap, "S/2012-02-29/"), "pop_count_pct"),
                  1.0 / 15 * 100 - 100);
}

static void test_pop (void **state)
{
    s_fixture_t *f = *state;
    t_add (f->e, "S", "2011-Q4", NULL, 100, 1000);
    t_add (f->e, "S", "2012-Q1", NULL, 110, 990);
    t_add (f->e, "S", "2012-01", NULL, 40, 400);
    t_add (f->e, "S", "2012-02", NULL, 30, 300);
    t_flush (f->e, &f->cap);
    const msgpack_object *m = t_must (&f->cap, "S/2012-Q1/");
    /* Q1 got its own 110 plus the months' 70 */
    assert_int_equal (t_int (m, "count"), 180);
    assert_close (t_double (m, "pop_count_pct"), 80.0);
    assert_close (t_double (m, "pop_amount_pct"), (1690.0 / 1000 - 1) * 100);
    assert_close (t_double (m, "pop_avg_ticket_pct"), ((1690.0 / 180) / 10.0 - 1) * 100);
    m = t_must (&f->cap, "S/2012-02/");
    assert_close (t_double (m, "pop_count_pct"), -25.0);
    /* no previous month cell: no pop */
    assert_null (t_get (t_must (&f->cap, "S/2012-01/"), "pop_count_pct"));
}

static void test_ytd (void **state)
{
    s_fixture_t *f = *state;
    t_add (f->e, "S", "2011-01", NULL, 10, 100);
    t_add (f->e, "S", "2011-02", NULL, 10, 100);
    t_add (f->e, "S", "2011-03", NULL, 20, 200);
    t_add (f->e, "S", "2012-01", NULL, 15, 300);
    t_add (f->e, "S", "2012-03-05", NULL, 45, 900);
    t_add (f->e, "S", "2012-12", NULL, 1, 1);
    t_flush (f->e, &f->cap);
    /* ytd at March 2012: January + March (no February cell) */
    const msgpack_object *m = t_must (&f->cap, "S/2012-03/");
    assert_int_equal (t_int (m, "ytd_count"), 60);
    assert_int_equal (t_int (m, "ytd_amount"), 1200);
    assert_close (t_double (m, "ytd_avg_ticket"), 20.0);
    assert_close (t_double (m, "ytd_yoy_count_pct"), 50.0);
    assert_close (t_double (m, "ytd_yoy_amount_pct"), 200.0);
    assert_close (t_double (m, "ytd_yoy_avg_ticket_pct"), 100.0);
    /* ytd of January is January */
    m = t_must (&f->cap, "S/2012-01/");
    assert_int_equal (t_int (m, "ytd_count"), 15);
    assert_close (t_double (m, "ytd_yoy_count_pct"), 50.0);
    /* ytd of December equals the year when the data is monthly or finer */
    m = t_must (&f->cap, "S/2012-12/");
    assert_int_equal (t_int (m, "ytd_count"), t_int (t_must (&f->cap, "S/2012/"), "count"));
    /* quarters: Q1 only so far */
    m = t_must (&f->cap, "S/2012-Q1/");
    assert_int_equal (t_int (m, "ytd_count"), 60);
    assert_close (t_double (m, "ytd_yoy_count_pct"), 50.0);
    m = t_must (&f->cap, "S/2012-Q4/");
    assert_int_equal (t_int (m, "ytd_count"), 61);
    /* days and years carry no ytd */
    assert_null (t_get (t_must (&f->cap, "S/2012-03-05/"), "ytd_count"));
    assert_null (t_get (t_must (&f->cap, "S/2012/"), "ytd_count"));
    /* a month lacking the amount makes every later ytd amount absent */
    t_add (f->e, "S", "2012-02", NULL, 5, NONE);
    t_flush (f->e, &f->cap);
    m = t_must (&f->cap, "S/2012-03/");
    assert_int_equal (t_int (m, "ytd_count"), 65);
    assert_null (t_get (m, "ytd_amount"));
    assert_null (t_get (m, "ytd_avg_ticket"));
    assert_null (t_get (m, "ytd_yoy_amount_pct"));
    assert_close (t_double (m, "ytd_yoy_count_pct"), 62.5);
    /* January's ytd does not read February: not republished */
    assert_int_equal (t_count (&f->cap, "S/2012-01/"), 0);
}

static void test_shares (void **state)
{
    s_fixture_t *f = *state;
    t_set (f->e, "CMI", "2012", "activity=ecommerce,card=domestic", NONE, 71183000000);
    t_set (f->e, "CMI", "2012", "activity=ecommerce,card=foreign", NONE, 4047000000);
    t_set (f->e, "CMI", "2012", "activity=abroad,card=domestic", 389000, 68270000000);
    t_flush (f->e, &f->cap);
    const msgpack_object *m = t_must (&f->cap, "CMI/2012/activity=ecommerce,card=domestic");
    const msgpack_object *share = t_get (m, "share");
    assert_non_null (share);
    /* activity=ecommerce of card=domestic's total, card=domestic of ecommerce's */
    assert_int_equal (share->via.map.size, 2);
    const msgpack_object *card = t_get (share, "card");
    assert_close (t_double (card, "amount_pct"), 711.83 / 752.3 * 100);
    assert_int_equal ((int) lround (t_double (card, "amount_pct") * 10), 946);
    assert_null (t_get (card, "count_pct")); /* no count reported */
    const msgpack_object *activity = t_get (share, "activity");
    assert_close (t_double (activity, "amount_pct"), 711.83 / (711.83 + 682.7) * 100);
    /* rolled-up dims have no share of their own */
    m = t_must (&f->cap, "CMI/2012/activity=ecommerce,card=*");
    assert_int_equal (t_get (m, "share")->via.map.size, 1);
    assert_non_null (t_get (t_get (m, "share"), "activity"));
    assert_null (t_get (t_must (&f->cap, "CMI/2012/activity=*,card=*"), "share"));
    /* a count-only sibling: count share of card=domestic in abroad is 100 % */
    m = t_must (&f->cap, "CMI/2012/activity=abroad,card=domestic");
    assert_close (t_double (t_get (t_get (m, "share"), "card"), "count_pct"), 100.0);
}

static void test_share_of_zero_total (void **state)
{
    s_fixture_t *f = *state;
    t_set (f->e, "S", "2012", "card=a", 0, 0);
    t_set (f->e, "S", "2012", "card=b", 0, 0);
    t_flush (f->e, &f->cap);
    assert_null (t_get (t_must (&f->cap, "S/2012/card=a"), "share"));
}

/* Every float in every published map is finite. */
static void s_check_finite (const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        assert_true (isfinite (o->via.f64));
    if (o->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o->via.map.size; i++)
            s_check_finite (&o->via.map.ptr[i].val);
}

static void test_absent_not_nan (void **state)
{
    s_fixture_t *f = *state;
    /* zero bases everywhere: every quotient would be 0/0 or x/0 */
    t_set (f->e, "Z", "2011-01-01", "card=a", 0, 0);
    t_set (f->e, "Z", "2012-01-01", "card=a", 5, 10);
    t_set (f->e, "Z", "2012-01-02", "card=a", 0, 0);
    t_set (f->e, "Z", "2011-02", "card=a", 0, 0);
    t_set (f->e, "Z", "2012-02", "card=a", 3, 0);
    t_flush (f->e, &f->cap);
    for (size_t i = 0; i < f->cap.n; i++)
        s_check_finite (&f->cap.items[i].body.data);
    const msgpack_object *m = t_must (&f->cap, "Z/2012-01-01/card=a");
    assert_null (t_get (m, "yoy_count_pct"));
    assert_null (t_get (m, "yoy_amount_pct"));
    assert_null (t_get (m, "yoy_avg_ticket_pct"));
    m = t_must (&f->cap, "Z/2012-01-02/card=a");
    assert_null (t_get (m, "avg_ticket"));
    assert_int_equal (t_int (m, "count"), 0);
    assert_close (t_double (m, "pop_count_pct"), -100.0);
    assert_null (t_get (m, "pop_avg_ticket_pct"));
    /* an avg ticket of 0 is a value, but not a base */
    m = t_must (&f->cap, "Z/2012-02/card=a");
    assert_close (t_double (m, "avg_ticket"), 0.0);
    assert_close (t_double (m, "pop_avg_ticket_pct"), -100.0);
    assert_null (t_get (m, "yoy_avg_ticket_pct"));
    assert_null (t_get (m, "yoy_count_pct"));
}

static void test_ratio (void **state)
{
    s_fixture_t *f = *state;
    ps_engine_destroy (&f->e);
    const char *conf =
        "abroad_vs_domestic = OC/channel=abroad:amount / OC/channel=domestic:amount\n"
        "per_op = OC/channel=abroad:amount / OC/channel=abroad:count\n";
    char err[256];
    ps_ratios_t *ratios = ps_ratios_parse (conf, strlen (conf), "t.conf", err, sizeof err);
    assert_non_null (ratios);
    f->e = ps_engine_new (&ratios, 7);
    assert_null (ratios);
    t_set (f->e, "OC", "2012", "channel=abroad", NONE, 700000000000);
    t_flush (f->e, &f->cap);
    /* only one side exists in 2012: no ratio yet; per_op's count is absent */
    assert_int_equal (t_count (&f->cap, "$ratio/abroad_vs_domestic/2012"), 0);
    const msgpack_object *m = t_must (&f->cap, "$ratio/per_op/2012");
    assert_null (t_get (m, "value"));
    assert_null (t_get (t_get (m, "denominator"), "value"));
    assert_int_equal (t_int (t_get (m, "numerator"), "value"), 700000000000);
    t_set (f->e, "OC", "2012", "channel=domestic", NONE, 75300000000);
    t_flush (f->e, &f->cap);
    m = t_must (&f->cap, "$ratio/abroad_vs_domestic/2012");
    assert_true (t_str_is (m, "type", "ratio"));
    assert_true (t_str_is (m, "name", "abroad_vs_domestic"));
    assert_true (t_str_is (m, "period", "2012"));
    assert_close (t_double (m, "value"), 7000.0 / 753.0);
    assert_int_equal ((int) lround (t_double (m, "value") * 100), 930);
    const msgpack_object *num = t_get (m, "numerator");
    assert_true (t_str_is (num, "topic", "OC/2012/channel=abroad"));
    assert_true (t_str_is (num, "measure", "amount"));
    assert_int_equal (t_int (num, "value"), 700000000000);
    assert_true (t_str_is (t_get (m, "denominator"), "topic", "OC/2012/channel=domestic"));
    assert_int_equal (t_count (&f->cap, "$ratio/per_op/2012"), 0); /* it did not change */
    /* a zero denominator: the value is absent, both sides are there */
    t_set (f->e, "OC", "2012", "channel=domestic", NONE, 0);
    t_flush (f->e, &f->cap);
    m = t_must (&f->cap, "$ratio/abroad_vs_domestic/2012");
    assert_null (t_get (m, "value"));
    assert_int_equal (t_int (t_get (m, "denominator"), "value"), 0);
    /* every period where both exist, at every granularity */
    t_add (f->e, "OC", "2013-05-02", "channel=abroad", 1, 30);
    t_add (f->e, "OC", "2013-05-03", "channel=domestic", 1, 10);
    t_flush (f->e, &f->cap);
    assert_close (t_double (t_must (&f->cap, "$ratio/abroad_vs_domestic/2013-05"), "value"), 3.0);
    assert_close (t_double (t_must (&f->cap, "$ratio/abroad_vs_domestic/2013-Q2"), "value"), 3.0);
    assert_close (t_double (t_must (&f->cap, "$ratio/abroad_vs_domestic/2013"), "value"), 3.0);
    assert_int_equal (t_count (&f->cap, "$ratio/abroad_vs_domestic/2013-05-02"), 0);
    assert_close (t_double (t_must (&f->cap, "$ratio/per_op/2013-05-02"), "value"), 30.0);
}

static void test_reject_message (void **state)
{
    s_fixture_t *f = *state;
    ps_batch_t *batch = ps_batch_new ();
    snprintf (batch->producer, sizeof batch->producer, "bank-7");
    batch->seq = 12;
    ps_report_t r = t_report ("CMI", "2012", NULL, INT64_MAX, NONE, NULL, PS_OP_ADD);
    assert_int_equal (ps_batch_append (batch, &r, 0), 0);
    r = t_report ("CMI", "2012", NULL, 1, NONE, NULL, PS_OP_ADD);
    assert_int_equal (ps_batch_append (batch, &r, 3), 0);
    assert_int_equal (ps_engine_apply_batch (f->e, batch), 1);
    t_flush (f->e, &f->cap);
    const msgpack_object *m = t_must (&f->cap, "$reject");
    assert_true (t_str_is (m, "type", "reject"));
    assert_true (t_str_is (m, "producer", "bank-7"));
    assert_int_equal (t_int (m, "batch_seq"), 12);
    assert_int_equal (t_int (m, "index"), 3);
    assert_true (t_str_is (m, "code", "overflow"));
    assert_true (t_str_is (m, "field", "count"));
    assert_non_null (t_get (m, "reason"));
    assert_int_equal (t_int (t_must (&f->cap, "CMI/2012/"), "count"), INT64_MAX);
    ps_engine_stats_t stats;
    ps_engine_stats (f->e, &stats);
    assert_int_equal (stats.batches, 1);
    assert_int_equal (stats.reports, 1);
    assert_int_equal (stats.rejected, 1);
    ps_batch_destroy (&batch);
}

int main (void)
{
    ps_log_init ("test", PS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_fixed_fields, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_currency_exponent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_yoy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_yoy_of_finer_periods, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pop, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ytd, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_shares, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_share_of_zero_total, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_absent_not_nan, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ratio, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reject_message, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
