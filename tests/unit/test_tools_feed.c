/*  Tests for the subscriber side: ps_msgjson (client/, MessagePack feed
    bodies to JSON), ps_table (latest value per topic, rendering) and
    ps_article (the article check). */

#define _GNU_SOURCE /* open_memstream */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_article.h"
#include "ps_msgjson.h"
#include "ps_msgpack.h"
#include "ps_table.h"

static void test_msgjson_types (void **state)
{
    (void) state;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 9);
    ps_msgpack_pack_cstr (&pk, "seq");
    msgpack_pack_uint64 (&pk, 5);
    ps_msgpack_pack_cstr (&pk, "neg");
    msgpack_pack_int64 (&pk, -3);
    ps_msgpack_pack_cstr (&pk, "pct");
    msgpack_pack_double (&pk, 48.25);
    ps_msgpack_pack_cstr (&pk, "nan");
    msgpack_pack_double (&pk, NAN);
    ps_msgpack_pack_cstr (&pk, "bin");
    msgpack_pack_bin (&pk, 4);
    msgpack_pack_bin_body (&pk, "\x00\xff\x10\x41", 4);
    ps_msgpack_pack_cstr (&pk, "list");
    msgpack_pack_array (&pk, 3);
    msgpack_pack_nil (&pk);
    msgpack_pack_true (&pk);
    ps_msgpack_pack_cstr (&pk, "é");
    ps_msgpack_pack_cstr (&pk, "dims");
    msgpack_pack_map (&pk, 1);
    ps_msgpack_pack_cstr (&pk, "card");
    ps_msgpack_pack_cstr (&pk, "*");
    ps_msgpack_pack_cstr (&pk, "big");
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    msgpack_pack_uint8 (&pk, 7); /* a non-string key */
    ps_msgpack_pack_cstr (&pk, "seven");

    ps_error_t err;
    json_t *msg = ps_msgjson_feed ("CMI/2012/", 9, buf.data, buf.size, &err);
    assert_non_null (msg);
    /* The topic comes first, then the body's fields in their order. */
    const char *first = json_object_iter_key (json_object_iter (msg));
    assert_string_equal (first, "topic");
    assert_string_equal (json_string_value (json_object_get (msg, "topic")), "CMI/2012/");
    assert_true (json_is_integer (json_object_get (msg, "seq")));
    assert_int_equal (json_integer_value (json_object_get (msg, "seq")), 5);
    assert_int_equal (json_integer_value (json_object_get (msg, "neg")), -3);
    assert_true (json_is_real (json_object_get (msg, "pct")));
    assert_true (json_real_value (json_object_get (msg, "pct")) == 48.25);
    assert_true (json_is_null (json_object_get (msg, "nan")));
    assert_string_equal (json_string_value (json_object_get (msg, "bin")), "AP8QQQ==");
    json_t *list = json_object_get (msg, "list");
    assert_int_equal (json_array_size (list), 3);
    assert_true (json_is_null (json_array_get (list, 0)));
    assert_true (json_is_true (json_array_get (list, 1)));
    assert_string_equal (json_string_value (json_array_get (list, 2)), "é");
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (msg, "dims"), "card")), "*");
    assert_true (json_is_real (json_object_get (msg, "big")));
    assert_string_equal (json_string_value (json_object_get (msg, "7")), "seven");
    json_decref (msg);
    msgpack_sbuffer_destroy (&buf);
}

static void test_msgjson_bad_bodies (void **state)
{
    (void) state;
    ps_error_t err;
    /* An array, not a map. */
    assert_null (ps_msgjson_feed ("t", 1, "\x91\x01", 2, &err));
    assert_int_equal (err.code, PS_E_TYPE);
    /* A map announcing more entries than there are bytes. */
    assert_null (ps_msgjson_feed ("t", 1, "\xdf\xff\xff\xff\xff", 5, &err));
    assert_int_not_equal (err.code, PS_OK);
    /* Trailing bytes after the map. */
    assert_null (ps_msgjson_feed ("t", 1, "\x80\x80", 2, &err));
    assert_int_not_equal (err.code, PS_OK);
    /* A string that is not UTF-8. */
    assert_null (ps_msgjson_feed ("t", 1, "\x81\xa1k\xa1\xff", 5, &err));
    assert_int_not_equal (err.code, PS_OK);
    /* Nor the topic. */
    assert_null (ps_msgjson_feed ("\xff", 1, "\x80", 1, &err));
    assert_int_equal (err.code, PS_E_UTF8);
    /* An empty map is fine. */
    json_t *msg = ps_msgjson_feed ("t", 1, "\x80", 1, &err);
    assert_non_null (msg);
    assert_int_equal (json_object_size (msg), 1);
    json_decref (msg);
}

static double s_growth (double now, double then)
{
    return (now / then - 1) * 100;
}

/*  The messages the feed carries for the bundled dataset, with the values
    computed from its raw totals. */
static ps_table_t *s_article_table (void)
{
    ps_table_t *table = ps_table_new ();
    assert_non_null (table);
    json_t *msgs[] = {
        json_pack ("{s:s, s:s, s:I, s:s, s:i, s:f}", "topic", "CMI/2012/activity=ecommerce,card=*",
                   "type", "cell", "amount", (json_int_t) 75230000000, "currency", "MAD", "exp", 2,
                   "yoy_amount_pct", s_growth (752.30, 507.40)),
        json_pack ("{s:s, s:s, s:I, s:s, s:i, s:f, s:{s:{s:f}}}", "topic",
                   "CMI/2012/activity=ecommerce,card=domestic", "type", "cell", "amount",
                   (json_int_t) 71183000000, "currency", "MAD", "exp", 2, "yoy_amount_pct",
                   s_growth (711.83, 486.22), "share", "card", "amount_pct", 711.83 / 752.30 * 100),
        json_pack ("{s:s, s:s, s:f}", "topic", "CMI/2012/activity=ecommerce,card=foreign", "type",
                   "cell", "yoy_amount_pct", s_growth (40.47, 21.18)),
        json_pack ("{s:s, s:s, s:i}", "topic", "CMI/2011/activity=ecommerce", "type", "cell",
                   "count", 670000),
        json_pack ("{s:s, s:s, s:i}", "topic", "CMI/2012/activity=ecommerce", "type", "cell",
                   "count", 1200000),
        json_pack ("{s:s, s:s, s:f, s:f}", "topic", "CMI/2012/activity=abroad,card=domestic",
                   "type", "cell", "yoy_count_pct", s_growth (389000, 271269), "yoy_amount_pct",
                   s_growth (682.70, 533.36)),
        json_pack ("{s:s, s:s, s:i, s:I, s:s, s:i, s:f, s:f, s:f, s:f}", "topic",
                   "MTC/2012/channel=online", "type", "cell", "count", 1250000, "amount",
                   (json_int_t) 74300000000, "currency", "MAD", "exp", 2, "avg_ticket", 59440.0,
                   "yoy_count_pct", s_growth (1250000, 707705), "yoy_amount_pct",
                   s_growth (743, 513), "yoy_avg_ticket_pct",
                   s_growth (743e6 / 1250000, 513e6 / 707705)),
        json_pack ("{s:s, s:s, s:s, s:s, s:f, s:{s:s, s:s}, s:{s:s, s:s}}", "topic",
                   "$ratio/abroad_vs_domestic/2012", "type", "ratio", "name", "abroad_vs_domestic",
                   "period", "2012", "value", 7000.0 / 753, "numerator", "topic",
                   "OC/2012/channel=abroad", "measure", "amount", "denominator", "topic",
                   "OC/2012/channel=domestic", "measure", "amount"),
        json_pack ("{s:s, s:s}", "topic", "$hb", "type", "hb"),
    };
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        assert_non_null (msgs[i]);
        assert_int_equal (ps_table_update (table, msgs[i]), 0);
        json_decref (msgs[i]);
    }
    return table;
}

/*  Runs PRINT on TABLE into a string (freed by the caller). */
static char *s_render (const ps_table_t *table, int (*print) (const ps_table_t *, FILE *), int *rc)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert_non_null (out);
    *rc = print (table, out);
    fclose (out);
    return text;
}

static void test_table_render (void **state)
{
    (void) state;
    ps_table_t *table = s_article_table ();
    assert_int_equal (ps_table_size (table), 8); /* the heartbeat is not kept */
    int rc;
    char *text = s_render (table, ps_table_print, &rc);
    assert_int_equal (rc, 0);
    assert_non_null (strstr (text, "TOPIC"));
    assert_non_null (strstr (text, "752300000.00 MAD"));
    assert_non_null (strstr (text, "+48.3%"));
    assert_non_null (strstr (text, "card 94.6%"));
    assert_non_null (strstr (text, "594.40"));
    assert_non_null (strstr (text, "-18.0%"));
    assert_non_null (strstr (text, "abroad_vs_domestic"));
    assert_non_null (strstr (text, "9.2961"));
    assert_non_null (strstr (text, "OC/2012/channel=abroad amount"));
    /* Sorted by topic: 2011 before 2012. */
    assert_true (strstr (text, "CMI/2011/") < strstr (text, "CMI/2012/"));
    free (text);

    /* A removed topic leaves the table. */
    json_t *removed =
        json_pack ("{s:s, s:s}", "topic", "CMI/2011/activity=ecommerce", "type", "removed");
    assert_int_equal (ps_table_update (table, removed), 0);
    json_decref (removed);
    assert_null (ps_table_get (table, "CMI/2011/activity=ecommerce"));
    assert_int_equal (ps_table_size (table), 7);
    /* A message without a topic is refused. */
    json_t *bad = json_pack ("{s:s}", "type", "cell");
    assert_int_equal (ps_table_update (table, bad), -1);
    json_decref (bad);
    ps_table_destroy (&table);
    assert_null (table);
}

static void test_article_check (void **state)
{
    (void) state;
    ps_table_t *table = s_article_table ();
    int rc;
    char *text = s_render (table, ps_article_check, &rc);
    assert_int_equal (rc, 0);
    assert_non_null (strstr (text, "13 of 13 figures match the article"));
    assert_null (strstr (text, "DIFFERS"));
    assert_non_null (strstr (text, "+48.3 %"));
    assert_non_null (strstr (text, "9.30"));
    free (text);

    /* A wrong figure and a missing one. */
    json_t *wrong =
        json_pack ("{s:s, s:s, s:f}", "topic", "CMI/2012/activity=ecommerce,card=foreign", "type",
                   "cell", "yoy_amount_pct", 91.04);
    json_t *gone =
        json_pack ("{s:s, s:s}", "topic", "$ratio/abroad_vs_domestic/2012", "type", "removed");
    ps_table_update (table, wrong);
    ps_table_update (table, gone);
    json_decref (wrong);
    json_decref (gone);
    text = s_render (table, ps_article_check, &rc);
    assert_int_equal (rc, 2);
    assert_non_null (strstr (text, "DIFFERS"));
    assert_non_null (strstr (text, "MISSING"));
    assert_non_null (strstr (text, "11 of 13 figures"));
    free (text);
    ps_table_destroy (&table);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_msgjson_types),
        cmocka_unit_test (test_msgjson_bad_bodies),
        cmocka_unit_test (test_table_render),
        cmocka_unit_test (test_article_check),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
