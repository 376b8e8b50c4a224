/*  ps_gwview: the gateway's JSON view of the feed. */

#include "test_gateway_util.h"

#include "ps_gwview.h"

/*  Applies FIELDS as the next feed message of TOPIC; returns the change
    and frees the event (its fields are checked through the view). */
static int s_apply (ps_gwview_t *view, const char *topic, const char *fields)
{
    static uint64_t seq = 0;
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    t_feed_body (&body, ++seq, fields);
    json_t *event = NULL;
    ps_error_t err;
    int rc = ps_gwview_apply (view, topic, strlen (topic), body.data, body.size, &event, &err);
    assert_true (rc < 0 || (rc == PS_GWVIEW_IGNORED) == (event == NULL));
    json_decref (event);
    msgpack_sbuffer_destroy (&body);
    return rc;
}

static json_t *s_select (ps_gwview_t *view, const char *prefix, long limit, long *matched)
{
    json_t *list = json_array ();
    *matched = ps_gwview_select (view, prefix, limit, list);
    /* The text the gateway answers with says the same. */
    char *text;
    size_t len;
    assert_int_equal (ps_gwview_select_text (view, prefix, limit, &text, &len), *matched);
    assert_int_equal (strlen (text), len);
    json_t *parsed = json_loads (text, 0, NULL);
    assert_non_null (parsed);
    assert_true (json_equal (parsed, list));
    json_decref (parsed);
    free (text);
    return list;
}

static const char *s_topic_at (json_t *list, size_t i)
{
    return json_string_value (json_object_get (json_array_get (list, i), "topic"));
}

static void test_cells_as_json (void **state)
{
    (void) state;
    ps_gwview_t *view = ps_gwview_new ();
    assert_int_equal (ps_gwview_vseq (view), 0);
    assert_int_equal (s_apply (view, "CMI/2012/card=*",
                               T_CELL ("CMI", "2012", "year", 1200000, 75230000000,
                                       ", \"yoy_amount_pct\": 48.2657")),
                      PS_GWVIEW_SET);
    assert_int_equal (
        s_apply (view, "CMI/2011/card=*", T_CELL ("CMI", "2011", "year", 670000, 50740000000, "")),
        PS_GWVIEW_SET);
    assert_int_equal (ps_gwview_vseq (view), 2);
    assert_int_equal (ps_gwview_size (view), 2);

    long matched;
    json_t *list = s_select (view, "CMI/", 100, &matched);
    assert_int_equal (matched, 2);
    assert_string_equal (s_topic_at (list, 0), "CMI/2011/card=*");
    assert_string_equal (s_topic_at (list, 1), "CMI/2012/card=*");
    json_t *cell = json_array_get (list, 1);
    /* The feed's numbering is publish's business, not the indicator's. */
    assert_null (json_object_get (cell, "v"));
    assert_null (json_object_get (cell, "seq"));
    assert_null (json_object_get (cell, "prev"));
    assert_null (json_object_get (cell, "epoch"));
    assert_int_equal (json_integer_value (json_object_get (cell, "vseq")), 1);
    assert_int_equal (json_integer_value (json_object_get (cell, "amount")), 75230000000);
    assert_string_equal (json_string_value (json_object_get (cell, "amount_major")),
                         "752300000.00");
    assert_true (json_real_value (json_object_get (cell, "yoy_amount_pct")) > 48.26);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (cell, "dims"), "card")), "*");
    json_decref (list);

    list = s_select (view, "CMI/2011", 100, &matched);
    assert_int_equal (matched, 1);
    json_decref (list);
    list = s_select (view, "OC/", 100, &matched);
    assert_int_equal (matched, 0);
    assert_int_equal (json_array_size (list), 0);
    json_decref (list);
    ps_gwview_destroy (&view);
    assert_null (view);
}

/*  A later message replaces the topic's indicator; ytd amounts get their
    major-unit text too, in the currency's own exponent. */
static void test_update_replaces (void **state)
{
    (void) state;
    ps_gwview_t *view = ps_gwview_new ();
    s_apply (view, "CMI/2012-07/card=*", T_CELL ("CMI", "2012-07", "month", 1, 100, ""));
    s_apply (view, "CMI/2012-07/card=*",
             T_CELL ("CMI", "2012-07", "month", 2, 250, ", \"ytd_amount\": 12345"));
    assert_int_equal (ps_gwview_size (view), 1);
    long matched;
    json_t *list = s_select (view, "", 10, &matched);
    json_t *cell = json_array_get (list, 0);
    assert_int_equal (json_integer_value (json_object_get (cell, "count")), 2);
    assert_string_equal (json_string_value (json_object_get (cell, "amount_major")), "2.50");
    assert_string_equal (json_string_value (json_object_get (cell, "ytd_amount_major")), "123.45");
    assert_int_equal (json_integer_value (json_object_get (cell, "vseq")), 2);
    json_decref (list);
    /* A currency with another exponent, and a count-only cell. */
    s_apply (view, "K/2012/",
             "{\"type\":\"cell\",\"source\":\"K\",\"period\":\"2012\",\"gran\":\"year\","
             "\"dims\":{},\"count\":3,\"amount\":1234567,\"currency\":\"BHD\",\"exp\":3}");
    s_apply (view, "N/2012/",
             "{\"type\":\"cell\",\"source\":\"N\",\"period\":\"2012\",\"gran\":\"year\","
             "\"dims\":{},\"count\":3}");
    list = s_select (view, "K/", 10, &matched);
    assert_string_equal (
        json_string_value (json_object_get (json_array_get (list, 0), "amount_major")), "1234.567");
    json_decref (list);
    list = s_select (view, "N/", 10, &matched);
    assert_null (json_object_get (json_array_get (list, 0), "amount_major"));
    json_decref (list);
    ps_gwview_destroy (&view);
}

static void test_series_in_period_order (void **state)
{
    (void) state;
    ps_gwview_t *view = ps_gwview_new ();
    s_apply (view, "CMI/2012-Q2/card=*", T_CELL ("CMI", "2012-Q2", "quarter", 1, 1, ""));
    s_apply (view, "CMI/2012/card=*", T_CELL ("CMI", "2012", "year", 1, 1, ""));
    s_apply (view, "CMI/2012-Q1/card=*", T_CELL ("CMI", "2012-Q1", "quarter", 1, 1, ""));
    s_apply (view, "CMI/2011-Q4/card=*", T_CELL ("CMI", "2011-Q4", "quarter", 1, 1, ""));
    s_apply (view, "CMI/2012-Q1/card=domestic", T_CELL ("CMI", "2012-Q1", "quarter", 1, 1, ""));
    s_apply (view, "CMI/2012-Q1/", T_CELL ("CMI", "2012-Q1", "quarter", 1, 1, ""));

    json_t *points = json_array ();
    assert_int_equal (ps_gwview_series (view, "CMI", "card=*", PS_GRAN_QUARTER, points), 3);
    assert_string_equal (s_topic_at (points, 0), "CMI/2011-Q4/card=*");
    assert_string_equal (s_topic_at (points, 1), "CMI/2012-Q1/card=*");
    assert_string_equal (s_topic_at (points, 2), "CMI/2012-Q2/card=*");
    json_array_clear (points);
    assert_int_equal (ps_gwview_series (view, "CMI", "card=*", PS_GRAN_YEAR, points), 1);
    json_array_clear (points);
    assert_int_equal (ps_gwview_series (view, "CMI", "", PS_GRAN_QUARTER, points), 1);
    assert_string_equal (s_topic_at (points, 0), "CMI/2012-Q1/");
    json_array_clear (points);
    assert_int_equal (ps_gwview_series (view, "CMI", "card=*", PS_GRAN_MONTH, points), 0);
    assert_int_equal (ps_gwview_series (view, "OC", "card=*", PS_GRAN_QUARTER, points), 0);
    assert_int_equal (ps_gwview_series (view, "CM", "I/card=*", PS_GRAN_QUARTER, points), 0);
    json_decref (points);
    ps_gwview_destroy (&view);
}

static void test_removed (void **state)
{
    (void) state;
    ps_gwview_t *view = ps_gwview_new ();
    s_apply (view, "CMI/2012-Q1/card=*", T_CELL ("CMI", "2012-Q1", "quarter", 1, 1, ""));
    s_apply (view, "CMI/2012-Q2/card=*", T_CELL ("CMI", "2012-Q2", "quarter", 1, 1, ""));
    json_t *event;
    const char *topic = "CMI/2012-Q1/card=*";
    assert_int_equal (ps_gwview_remove (view, topic, strlen (topic), &event), 1);
    assert_string_equal (json_string_value (json_object_get (event, "topic")), topic);
    assert_int_equal (json_integer_value (json_object_get (event, "vseq")), 3);
    json_decref (event);
    assert_int_equal (ps_gwview_size (view), 1);
    json_t *points = json_array ();
    assert_int_equal (ps_gwview_series (view, "CMI", "card=*", PS_GRAN_QUARTER, points), 1);
    assert_string_equal (s_topic_at (points, 0), "CMI/2012-Q2/card=*");
    json_decref (points);
    /* Removing what is not there changes nothing. */
    assert_int_equal (ps_gwview_remove (view, topic, strlen (topic), &event), 0);
    assert_null (event);
    assert_int_equal (ps_gwview_vseq (view), 3);
    /* The last cell of a series goes, and the series with it; a new cell
       starts it again. */
    topic = "CMI/2012-Q2/card=*";
    assert_int_equal (ps_gwview_remove (view, topic, strlen (topic), &event), 1);
    json_decref (event);
    points = json_array ();
    assert_int_equal (ps_gwview_series (view, "CMI", "card=*", PS_GRAN_QUARTER, points), 0);
    s_apply (view, "CMI/2012-Q3/card=*", T_CELL ("CMI", "2012-Q3", "quarter", 1, 1, ""));
    assert_int_equal (ps_gwview_series (view, "CMI", "card=*", PS_GRAN_QUARTER, points), 1);
    json_decref (points);
    ps_gwview_destroy (&view);
}

static void test_ratios_and_ignored (void **state)
{
    (void) state;
    ps_gwview_t *view = ps_gwview_new ();
    assert_int_equal (s_apply (view, "$ratio/abroad_vs_domestic/2012",
                               "{\"type\":\"ratio\",\"name\":\"abroad_vs_domestic\","
                               "\"period\":\"2012\",\"value\":9.296}"),
                      PS_GWVIEW_SET);
    assert_int_equal (s_apply (view, "$reject",
                               "{\"type\":\"reject\",\"producer\":\"p\",\"batch_seq\":1,"
                               "\"index\":0,\"code\":\"overflow\",\"field\":\"count\"}"),
                      PS_GWVIEW_IGNORED);
    assert_int_equal (s_apply (view, "$hb", "{\"type\":\"hb\",\"interval_ms\":1000}"),
                      PS_GWVIEW_IGNORED);
    assert_int_equal (s_apply (view, "X/2012/", "{\"type\":\"future\"}"), PS_GWVIEW_IGNORED);
    assert_int_equal (ps_gwview_size (view), 1);
    long matched;
    json_t *list = s_select (view, "$ratio/", 10, &matched);
    assert_int_equal (matched, 1);
    assert_true (json_real_value (json_object_get (json_array_get (list, 0), "value")) > 9.29);
    json_decref (list);
    ps_gwview_destroy (&view);
}

/*  Untrusted input: each problem is refused with a reason, the view
    unchanged. */
static void test_unreadable (void **state)
{
    (void) state;
    ps_gwview_t *view = ps_gwview_new ();
    json_t *event;
    ps_error_t err;
    const char *topic = "CMI/2012/";
    assert_int_equal (ps_gwview_apply (view, topic, strlen (topic), "\xc1", 1, &event, &err), -1);
    assert_int_equal (
        ps_gwview_apply (view, topic, strlen (topic), "\x93\x01\x02\x03", 4, &event, &err), -1);
    assert_int_equal (err.code, PS_E_TYPE);
    assert_int_equal (ps_gwview_apply (view, "", 0, "\x80", 1, &event, &err), -1);
    assert_int_equal (s_apply (view, "CMI/2012-13/", T_CELL ("CMI", "2012", "year", 1, 1, "")), -1);
    assert_int_equal (s_apply (view, "CMI", T_CELL ("CMI", "2012", "year", 1, 1, "")), -1);
    assert_int_equal (s_apply (view, "/2012/", T_CELL ("CMI", "2012", "year", 1, 1, "")), -1);
    assert_int_equal (ps_gwview_apply (view, "CMI/2012/\xff", 10, "\x80", 1, &event, &err), -1);
    assert_int_equal (ps_gwview_size (view), 0);
    assert_int_equal (ps_gwview_vseq (view), 0);
    ps_gwview_destroy (&view);
}

static void test_limit (void **state)
{
    (void) state;
    ps_gwview_t *view = ps_gwview_new ();
    s_apply (view, "B/2012/", T_CELL ("B", "2012", "year", 1, 1, ""));
    s_apply (view, "A/2012/", T_CELL ("A", "2012", "year", 1, 1, ""));
    s_apply (view, "C/2012/", T_CELL ("C", "2012", "year", 1, 1, ""));
    long matched;
    json_t *list = s_select (view, "", 2, &matched);
    assert_int_equal (matched, 3);
    assert_int_equal (json_array_size (list), 2);
    assert_string_equal (s_topic_at (list, 0), "A/2012/");
    assert_string_equal (s_topic_at (list, 1), "B/2012/");
    json_decref (list);
    ps_gwview_destroy (&view);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_cells_as_json),
        cmocka_unit_test (test_update_replaces),
        cmocka_unit_test (test_series_in_period_order),
        cmocka_unit_test (test_removed),
        cmocka_unit_test (test_ratios_and_ignored),
        cmocka_unit_test (test_unreadable),
        cmocka_unit_test (test_limit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
