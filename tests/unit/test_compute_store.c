/*  Compute: the string interner, the keyed record table and the cell store. */

#include "test_compute_util.h"

#include "ps_intern.h"
#include "ps_keytab.h"

static void test_intern (void **state)
{
    (void) state;
    ps_intern_t *in = ps_intern_new ();
    assert_int_equal (ps_intern_find (in, "a", 1), 0);
    assert_int_equal (ps_intern_add (in, "card=x", 6, 100), 1);
    assert_int_equal (ps_intern_add (in, "card=*", 6, 100), 2);
    assert_int_equal (ps_intern_add (in, "card=x", 6, 100), 1);
    assert_int_equal (ps_intern_find (in, "card=xy", 6), 1); /* LEN bytes only */
    size_t len;
    assert_string_equal (ps_intern_str (in, 2, &len), "card=*");
    assert_int_equal (len, 6);
    /* the id width limit: known strings still resolve */
    assert_int_equal (ps_intern_add (in, "new", 3, 2), 0);
    assert_int_equal (ps_intern_add (in, "card=x", 6, 2), 1);
    /* many strings: ids are dense and strings survive the arena's growth */
    char text[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf (text, sizeof text, "merchant=m%d", i);
        assert_int_equal (ps_intern_add (in, text, (size_t) n, UINT32_MAX), (uint32_t) i + 3);
    }
    assert_int_equal (ps_intern_count (in), 100002);
    assert_string_equal (ps_intern_str (in, 3, NULL), "merchant=m0");
    assert_string_equal (ps_intern_str (in, 100002, NULL), "merchant=m99999");
    assert_int_equal (ps_intern_find (in, "merchant=m5000", 14), 5003);
    assert_true (ps_intern_memory (in) > 100000 * 12);
    ps_intern_destroy (&in);
    assert_null (in);
}

typedef struct {
    ps_key_t key;
    uint64_t payload;
} s_rec_t;

static ps_key_t s_key (uint32_t i)
{
    ps_key_t k;
    memset (&k, 0, sizeof k);
    k.period = 1u << 11 | (i % 4096);
    k.source = (uint16_t) (i % 7 + 1);
    k.ndims = 2;
    k.tok[0] = i / 4096 + 1;
    k.tok[1] = 5;
    return k;
}

static void test_keytab (void **state)
{
    (void) state;
    ps_keytab_t *t = ps_keytab_new (sizeof (s_rec_t));
    const uint32_t n = 300000;
    for (uint32_t i = 0; i < n; i++) {
        ps_key_t k = s_key (i);
        assert_int_equal (ps_keytab_find (t, &k), 0);
        uint32_t id = ps_keytab_insert (t, &k);
        assert_int_equal (id, i + 1);
        s_rec_t *r = ps_keytab_at (t, id);
        assert_int_equal (r->payload, 0); /* zero-filled */
        r->payload = i;
    }
    assert_int_equal (ps_keytab_count (t), n);
    for (uint32_t i = 0; i < n; i += 7) {
        ps_key_t k = s_key (i);
        uint32_t id = ps_keytab_find (t, &k);
        assert_int_equal (id, i + 1);
        assert_int_equal (((s_rec_t *) ps_keytab_at (t, id))->payload, i);
        assert_memory_equal (ps_keytab_at (t, id), &k, sizeof k);
    }
    ps_key_t absent = s_key (n + 1);
    assert_int_equal (ps_keytab_find (t, &absent), 0);
    /* records plus at most 4 x 4 bytes of index each (load >= 1/4 after growth) */
    size_t mem = ps_keytab_memory (t);
    assert_true (mem >= n * sizeof (s_rec_t));
    assert_true (mem <= n * (sizeof (s_rec_t) + 16) + 65536);
    assert_int_equal (ps_keytab_reserve (t, 100000), 0);
    ps_keytab_destroy (&t);
    assert_null (t);
}

static void test_cells_keys (void **state)
{
    (void) state;
    ps_cells_t *cells = ps_cells_new ();
    ps_dim_t dims[2];
    int n = t_dims ("card=x,channel=*", dims);
    ps_key_t key, again, star_key;
    uint32_t star[PS_MAX_DIMS];
    assert_int_equal (ps_cells_series_key (cells, "CMI", dims, n, &key, star), 0);
    assert_int_equal (key.period, 0);
    assert_int_equal (key.ndims, 2);
    assert_int_not_equal (key.tok[0], star[0]);
    assert_int_equal (key.tok[1], star[1]); /* a rolled-up token is its own star */
    assert_int_equal (ps_cells_star (cells, key.tok[0]), star[0]);
    n = t_dims ("card=*,channel=*", dims);
    assert_int_equal (ps_cells_series_key (cells, "CMI", dims, n, &star_key, star), 0);
    assert_int_equal (star_key.tok[0], ps_cells_star (cells, key.tok[0]));
    n = t_dims ("card=x,channel=*", dims);
    assert_int_equal (ps_cells_series_key (cells, "CMI", dims, n, &again, star), 0);
    assert_memory_equal (&key, &again, sizeof key);
    /* lookups intern nothing */
    ps_period_t p = t_period ("2012-Q3");
    assert_int_equal (ps_cells_lookup_key (cells, "CMI", &p, dims, n, &again), 0);
    assert_int_equal (again.period, ps_period_pack (&p));
    assert_int_equal (ps_cells_lookup_key (cells, "XYZ", &p, dims, n, &again), -1);
    n = t_dims ("card=q", dims);
    assert_int_equal (ps_cells_lookup_key (cells, "CMI", &p, dims, n, &again), -1);
    /* topics and dims come back from a key */
    key.period = ps_period_pack (&p);
    char topic[PS_TOPIC_MAX + 1];
    assert_int_equal (ps_cells_topic (cells, &key, topic), strlen ("CMI/2012-Q3/card=x,channel=*"));
    assert_string_equal (topic, "CMI/2012-Q3/card=x,channel=*");
    ps_dim_t out[PS_MAX_DIMS];
    assert_int_equal (ps_cells_dims (cells, &key, out), 2);
    assert_string_equal (out[1].name, "channel");
    assert_string_equal (out[1].value, "*");
    ps_cells_destroy (&cells);
    assert_null (cells);
}

static void test_currency_codes (void **state)
{
    (void) state;
    char code[4] = "AAA", back[4];
    for (int a = 0; a < 26; a++)
        for (int b = 0; b < 26; b++)
            for (int c = 0; c < 26; c++) {
                code[0] = (char) ('A' + a);
                code[1] = (char) ('A' + b);
                code[2] = (char) ('A' + c);
                uint16_t packed = ps_currency_pack (code);
                assert_true (packed > 0 && packed < 1u << 15);
                ps_currency_unpack (packed, back);
                assert_string_equal (back, code);
            }
}

static void test_cell_budget (void **state)
{
    (void) state;
    /* A realistic mix (daily periods, 3 dims): what the store holds per
       cell, index and strings included, stays far below 128 bytes. */
    ps_engine_t *e = ps_engine_new (NULL, 1);
    char dims[64], period[16];
    for (int i = 0; i < 40000; i++) {
        snprintf (dims, sizeof dims, "card=c%d,channel=h%d,merchant=m%d", i % 3, i % 5, i % 997);
        snprintf (period, sizeof period, "2012-%02d-%02d", 1 + i % 12, 1 + i % 28);
        t_add (e, i % 2 ? "CMI" : "MTC", period, dims, 1, 100);
    }
    ps_engine_stats_t stats;
    ps_engine_stats (e, &stats);
    print_message ("%u cells, %zu bytes of store, %.1f bytes per cell\n", stats.cells, stats.memory,
                   (double) stats.memory / stats.cells);
    assert_true (stats.cells > 100000);
    assert_true (stats.memory / stats.cells <= 110);
    ps_engine_destroy (&e);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_intern),      cmocka_unit_test (test_keytab),
        cmocka_unit_test (test_cells_keys),  cmocka_unit_test (test_currency_codes),
        cmocka_unit_test (test_cell_budget),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
