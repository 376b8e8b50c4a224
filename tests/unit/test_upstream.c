/*  ps_upstream: the table of ingests is bounded, and ids invented by any
    peer never push out an ingest compute applied entries of. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ps_log.h"
#include "ps_upstream.h"

static const char s_route[] = "r";

static size_t s_count (const ps_upstream_t *up)
{
    size_t cursor = 0, n = 0, route_len;
    const char *id;
    uint64_t journal, applied;
    const void *route;
    while (ps_upstream_next (up, &cursor, &id, &journal, &applied, &route, &route_len))
        n++;
    return n;
}

static int s_hello (ps_upstream_t *up, const char *fmt, int i)
{
    ps_hello_t hello = {.journal = 7, .first = 1, .head = 0};
    snprintf (hello.ingest, sizeof hello.ingest, fmt, i);
    return ps_upstream_hello (up, &hello, s_route, 1);
}

/* Applies entry 1 of journal 7 of the ingest named FMT, I. */
static void s_apply_first (ps_upstream_t *up, const char *fmt, int i)
{
    char id[PS_ID_MAX + 1];
    snprintf (id, sizeof id, fmt, i);
    assert_int_equal (ps_upstream_check (up, id, 7, 1, s_route, 1), PS_UPSTREAM_APPLY);
    ps_upstream_applied (up, id, 1);
}

static void test_invented_ids_keep_real_ingests (void **state)
{
    (void) state;
    ps_upstream_t *up = ps_upstream_new ();
    assert_non_null (up);
    assert_int_equal (ps_upstream_restore (up, "from-checkpoint", 3, 40), 0);
    s_apply_first (up, "ingest-%d", 1);
    for (int i = 0; i < 10 * PS_UPSTREAM_MAX; i++) {
        assert_int_equal (s_hello (up, "invented-%d", i), 0);
        char id[PS_ID_MAX + 1];
        snprintf (id, sizeof id, "entry-%d", i);
        assert_int_equal (ps_upstream_check (up, id, 9, 5, s_route, 1), PS_UPSTREAM_GAP);
        assert_true (s_count (up) <= PS_UPSTREAM_MAX);
    }
    ps_position_t pos;
    assert_int_equal (ps_upstream_position (up, "from-checkpoint", false, &pos), 0);
    assert_int_equal (pos.journal, 3);
    assert_int_equal (pos.applied, 40);
    assert_int_equal (ps_upstream_position (up, "ingest-1", false, &pos), 0);
    assert_int_equal (pos.journal, 7);
    assert_int_equal (pos.applied, 1);
    /* The least recently heard invented id made room first. */
    assert_int_equal (ps_upstream_position (up, "invented-0", false, &pos), -1);
    char last[PS_ID_MAX + 1];
    snprintf (last, sizeof last, "entry-%d", 10 * PS_UPSTREAM_MAX - 1);
    assert_int_equal (ps_upstream_position (up, last, false, &pos), 0);
    ps_upstream_destroy (&up);
    assert_null (up);
}

static void test_full_of_established_drops_new_ids (void **state)
{
    (void) state;
    ps_upstream_t *up = ps_upstream_new ();
    assert_non_null (up);
    for (int i = 0; i < PS_UPSTREAM_MAX; i++)
        s_apply_first (up, "ingest-%d", i);
    assert_int_equal (ps_upstream_check (up, "new", 7, 1, s_route, 1), PS_UPSTREAM_DROP);
    assert_int_equal (s_hello (up, "new-%d", 0), -1);
    ps_position_t pos;
    assert_int_equal (ps_upstream_position (up, "new", false, &pos), -1);
    assert_int_equal (s_count (up), PS_UPSTREAM_MAX);
    /* The ingests known go on. */
    assert_int_equal (ps_upstream_check (up, "ingest-0", 7, 2, s_route, 1), PS_UPSTREAM_APPLY);
    assert_int_equal (s_hello (up, "ingest-%d", 1), 0);
    ps_upstream_destroy (&up);
}

int main (void)
{
    ps_log_init ("test", PS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_invented_ids_keep_real_ingests),
        cmocka_unit_test (test_full_of_established_drops_new_ids),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
