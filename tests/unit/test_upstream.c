/*  ps_upstream: the table of ingests is bounded, and ids invented by any
    peer never push out an ingest compute applied entries of; one journal
    instance per ingest id, replaced only as the operator says. */

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


static ps_hello_t s_hello_of (const char *id, uint64_t journal, uint64_t first, uint64_t head)
{
    ps_hello_t hello = {.journal = journal, .first = first, .head = head};
    snprintf (hello.ingest, sizeof hello.ingest, "%s", id);
    return hello;
}

/* Another journal instance of an ingest compute applied entries of is
   refused, hello and entries alike, and changes nothing. */
static void test_another_journal_is_refused (void **state)
{
    (void) state;
    ps_upstream_t *up = ps_upstream_new ();
    assert_non_null (up);
    s_apply_first (up, "ingest-%d", 1);
    ps_hello_t fake = s_hello_of ("ingest-1", 99, 1, 1);
    assert_int_equal (ps_upstream_hello (up, &fake, "x", 1), 1);
    assert_int_equal (ps_upstream_check (up, "ingest-1", 99, 1, "x", 1), PS_UPSTREAM_REFUSED);
    /* From the real ingest's own route too: the instance decides. */
    assert_int_equal (ps_upstream_check (up, "ingest-1", 99, 2, s_route, 1), PS_UPSTREAM_REFUSED);
    assert_int_equal (ps_upstream_refused (up, PS_UPSTREAM_REFUSED_JOURNAL), 3);
    assert_int_equal (ps_upstream_refused (up, PS_UPSTREAM_REFUSED_DUPLICATE), 0);
    const ps_upstream_refusal_t *r = ps_upstream_refusal (up);
    assert_non_null (r);
    assert_string_equal (r->ingest, "ingest-1");
    assert_int_equal (r->known, 7);
    assert_int_equal (r->offered, 99);
    assert_string_equal (ps_upstream_reason_name (r->reason), "journal");
    const char *why = ps_upstream_ready (up);
    assert_non_null (why);
    assert_non_null (strstr (why, "ingest-1"));
    assert_non_null (strstr (why, "99"));
    assert_non_null (strstr (why, "7"));
    ps_position_t pos;
    assert_int_equal (ps_upstream_position (up, "ingest-1", false, &pos), 0);
    assert_int_equal (pos.journal, 7);
    assert_int_equal (pos.applied, 1);
    /* The real journal goes on where it was. */
    assert_int_equal (ps_upstream_check (up, "ingest-1", 7, 1, s_route, 1), PS_UPSTREAM_OLD);
    assert_int_equal (ps_upstream_check (up, "ingest-1", 7, 2, s_route, 1), PS_UPSTREAM_APPLY);
    ps_upstream_destroy (&up);
}

/* Known from a checkpoint is known: the binding survives a restart. */
static void test_checkpointed_journal_is_bound (void **state)
{
    (void) state;
    ps_upstream_t *up = ps_upstream_new ();
    assert_non_null (up);
    assert_int_equal (ps_upstream_restore (up, "ingest-1", 7, 5), 0);
    ps_hello_t fake = s_hello_of ("ingest-1", 8, 1, 0);
    assert_int_equal (ps_upstream_hello (up, &fake, "x", 1), 1);
    /* An id that only said hello before the checkpoint binds nothing. */
    assert_int_equal (ps_upstream_restore (up, "hello-only", 7, 0), 0);
    ps_hello_t other = s_hello_of ("hello-only", 8, 1, 0);
    assert_int_equal (ps_upstream_hello (up, &other, "x", 1), 0);
    ps_position_t pos;
    assert_int_equal (ps_upstream_position (up, "hello-only", false, &pos), 0);
    assert_int_equal (pos.journal, 8);
    ps_upstream_destroy (&up);
}

/* Before anything is applied, a second live connection with another
   instance is refused; once the first is silent, the new one replaces it. */
static void test_two_live_ingests_with_one_id (void **state)
{
    (void) state;
    ps_upstream_t *up = ps_upstream_new ();
    assert_non_null (up);
    ps_hello_t first = s_hello_of ("ingest-1", 7, 1, 0);
    ps_hello_t second = s_hello_of ("ingest-1", 8, 1, 0);
    assert_int_equal (ps_upstream_hello (up, &first, "a", 1), 0);
    assert_int_equal (ps_upstream_hello (up, &second, "b", 1), 1);
    assert_int_equal (ps_upstream_check (up, "ingest-1", 8, 1, "b", 1), PS_UPSTREAM_REFUSED);
    assert_int_equal (ps_upstream_refused (up, PS_UPSTREAM_REFUSED_DUPLICATE), 2);
    assert_string_equal (ps_upstream_reason_name (ps_upstream_refusal (up)->reason), "duplicate");
    /* The same connection naming another instance: its ingest restarted
       with a new journal before anything of the old one was applied. */
    ps_hello_t again = s_hello_of ("ingest-1", 9, 1, 0);
    assert_int_equal (ps_upstream_hello (up, &again, "a", 1), 0);
    /* The first connection silent past the window: the second may take over. */
    ps_upstream_set_live_ms (up, 0);
    assert_int_equal (ps_upstream_hello (up, &second, "b", 1), 0);
    ps_position_t pos;
    assert_int_equal (ps_upstream_position (up, "ingest-1", false, &pos), 0);
    assert_int_equal (pos.journal, 8);
    ps_upstream_destroy (&up);
}

/* --accept-journal: the instance named replaces the known one once, from
   its start; no other does, and naming it again changes nothing. */
static void test_accepted_journal_replaces_once (void **state)
{
    (void) state;
    ps_upstream_t *up = ps_upstream_new ();
    assert_non_null (up);
    char err[256];
    assert_int_equal (ps_upstream_accept_parse (up, "ingest-1=8,other=3", err, sizeof err), 0);
    assert_int_equal (ps_upstream_restore (up, "ingest-1", 7, 5), 0);
    assert_int_equal (ps_upstream_check (up, "ingest-1", 9, 1, "x", 1), PS_UPSTREAM_REFUSED);
    ps_hello_t renewed = s_hello_of ("ingest-1", 8, 1, 2);
    assert_int_equal (ps_upstream_hello (up, &renewed, "x", 1), 0);
    ps_position_t pos;
    assert_int_equal (ps_upstream_position (up, "ingest-1", true, &pos), 0);
    assert_int_equal (pos.journal, 8);
    assert_int_equal (pos.applied, 0);
    assert_int_equal (ps_upstream_check (up, "ingest-1", 8, 1, "x", 1), PS_UPSTREAM_APPLY);
    ps_upstream_applied (up, "ingest-1", 1);
    /* The old instance is now the stranger. */
    assert_int_equal (ps_upstream_check (up, "ingest-1", 7, 6, s_route, 1), PS_UPSTREAM_REFUSED);
    /* A hello of the accepted one again keeps its position. */
    assert_int_equal (ps_upstream_hello (up, &renewed, "x", 1), 0);
    assert_int_equal (ps_upstream_position (up, "ingest-1", false, &pos), 0);
    assert_int_equal (pos.applied, 1);
    ps_upstream_destroy (&up);
}

static void test_accept_parse_errors (void **state)
{
    (void) state;
    ps_upstream_t *up = ps_upstream_new ();
    assert_non_null (up);
    char err[256];
    assert_int_equal (ps_upstream_accept_parse (up, NULL, err, sizeof err), 0);
    assert_int_equal (ps_upstream_accept_parse (up, "", err, sizeof err), 0);
    const char *bad[] = {"ingest-1",   "=5",         "ingest 1=5",        "ingest-1=",
                         "ingest-1=0", "ingest-1=x", "ingest-1=5x",       "ingest-1=-5",
                         "a=1,,b=2",   "a=1,a=2",    "a=9223372036854775808"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ps_upstream_t *fresh = ps_upstream_new ();
        err[0] = '\0';
        assert_int_equal (ps_upstream_accept_parse (fresh, bad[i], err, sizeof err), -1);
        assert_true (strlen (err) > 0);
        ps_upstream_destroy (&fresh);
    }
    assert_int_equal (ps_upstream_accept_parse (up, "a=9223372036854775807", err, sizeof err), 0);
    ps_upstream_destroy (&up);
}

int main (void)
{
    ps_log_init ("test", PS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_invented_ids_keep_real_ingests),
        cmocka_unit_test (test_full_of_established_drops_new_ids),
        cmocka_unit_test (test_another_journal_is_refused),
        cmocka_unit_test (test_checkpointed_journal_is_bound),
        cmocka_unit_test (test_two_live_ingests_with_one_id),
        cmocka_unit_test (test_accepted_journal_replaces_once),
        cmocka_unit_test (test_accept_parse_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
