/*  ps_journal: the LMDB journal, in a real directory: groups commit or
    abort whole, everything survives reopening, the entries table is
    bounded and shrinks when compute confirms, and a directory is never
    opened by two processes or under another ingest id. */

#include "test_tmpdir.h"

#include <stdint.h>

#include "ps_journal.h"

#define MB (1u << 20)

typedef struct {
    char dir[64];
    ps_journal_t *journal;
} s_fixture_t;

static ps_journal_t *s_open (const char *dir, const char *ingest, size_t max_bytes)
{
    char err[512];
    ps_journal_config_t config = {dir, ingest, max_bytes};
    ps_journal_t *j = ps_journal_open (&config, err, sizeof err);
    if (!j)
        fail_msg ("cannot open the journal: %s", err);
    return j;
}

static int s_setup (void **state)
{
    static s_fixture_t f;
    t_tmpdir_new (f.dir, "journal");
    f.journal = s_open (f.dir, "ingest-t", 8 * MB);
    *state = &f;
    return 0;
}

static int s_teardown (void **state)
{
    s_fixture_t *f = *state;
    ps_journal_destroy (&f->journal);
    assert_null (f->journal);
    t_tmpdir_remove (f->dir);
    return 0;
}

typedef struct {
    int n;
    uint64_t jseqs[64];
    char frames[64][32];
    int stop_after; /* 0: never */
} s_seen_t;

static int s_collect (void *arg, uint64_t jseq, const void *frame, size_t size)
{
    s_seen_t *seen = arg;
    if (seen->stop_after && seen->n == seen->stop_after)
        return 1;
    assert_true (seen->n < 64 && size < 32);
    seen->jseqs[seen->n] = jseq;
    memcpy (seen->frames[seen->n], frame, size);
    seen->frames[seen->n][size] = '\0';
    seen->n++;
    return 0;
}

static void s_append (ps_journal_t *j, const char *text)
{
    assert_int_equal (ps_journal_append (j, text, strlen (text)), 0);
}

/*  A group is invisible to readers until committed, and gone when
    aborted; jseqs run on from the last committed one. */
static void test_group_commit_and_abort (void **state)
{
    s_fixture_t *f = *state;
    ps_journal_t *j = f->journal;
    assert_true (ps_journal_id (j) > 0);
    assert_int_equal (ps_journal_head (j), 0);
    assert_int_equal (ps_journal_first (j), 1);
    assert_false (ps_journal_pending (j));

    s_append (j, "one");
    s_append (j, "two");
    assert_true (ps_journal_pending (j));
    assert_int_equal (ps_journal_head (j), 2);
    assert_int_equal (ps_journal_durable (j), 0);
    s_seen_t seen = {0};
    assert_int_equal (ps_journal_read (j, 1, s_collect, &seen), 0);

    assert_int_equal (ps_journal_commit (j), 0);
    assert_false (ps_journal_pending (j));
    assert_int_equal (ps_journal_durable (j), 2);
    assert_int_equal (ps_journal_read (j, 1, s_collect, &seen), 2);
    assert_int_equal (seen.jseqs[1], 2);
    assert_string_equal (seen.frames[1], "two");

    s_append (j, "lost");
    ps_journal_abort (j);
    assert_int_equal (ps_journal_head (j), 2);
    s_append (j, "three");
    assert_int_equal (ps_journal_commit (j), 0);
    memset (&seen, 0, sizeof seen);
    assert_int_equal (ps_journal_read (j, 2, s_collect, &seen), 2);
    assert_int_equal (seen.jseqs[1], 3);
    assert_string_equal (seen.frames[1], "three");

    /* A reader may stop early. */
    memset (&seen, 0, sizeof seen);
    seen.stop_after = 1;
    assert_int_equal (ps_journal_read (j, 1, s_collect, &seen), 1);
}

typedef struct {
    int producers;
    uint64_t seq;
    char ack[16];
    int series;
    char currency[4];
} s_loaded_t;

static int s_on_producer (void *arg, const char *producer, size_t len, uint64_t seq,
                          const void *ack, size_t ack_len)
{
    s_loaded_t *l = arg;
    assert_memory_equal (producer, "p1", len);
    l->producers++;
    l->seq = seq;
    assert_true (ack_len < sizeof l->ack);
    memcpy (l->ack, ack, ack_len);
    l->ack[ack_len] = '\0';
    return 0;
}

static int s_on_series (void *arg, const char *key, size_t len, const char *currency)
{
    s_loaded_t *l = arg;
    assert_memory_equal (key,
                         "CMI\x1f"
                         "card=x",
                         len);
    l->series++;
    memcpy (l->currency, currency, 3);
    return 0;
}

/*  Entries, producers, series and the journal's identity survive a
    reopen; only committed writes do. */
static void test_reopen_keeps_what_was_committed (void **state)
{
    s_fixture_t *f = *state;
    ps_journal_t *j = f->journal;
    uint64_t id = ps_journal_id (j);
    s_append (j, "a");
    assert_int_equal (ps_journal_put_producer (j, "p1", 2, 7, "ack7", 4), 0);
    assert_int_equal (ps_journal_put_series (j,
                                             "CMI\x1f"
                                             "card=x",
                                             10, "MAD"),
                      0);
    assert_int_equal (ps_journal_commit (j), 0);
    s_append (j, "uncommitted");
    assert_int_equal (ps_journal_put_producer (j, "p1", 2, 8, "ack8", 4), 0);
    ps_journal_destroy (&f->journal);

    f->journal = j = s_open (f->dir, "ingest-t", 8 * MB);
    assert_true (ps_journal_id (j) == id);
    assert_int_equal (ps_journal_durable (j), 1);
    assert_int_equal (ps_journal_first (j), 1);
    s_loaded_t l = {0};
    assert_int_equal (ps_journal_load (j, s_on_producer, s_on_series, &l), 0);
    assert_int_equal (l.producers, 1);
    assert_int_equal (l.seq, 7);
    assert_string_equal (l.ack, "ack7");
    assert_int_equal (l.series, 1);
    assert_memory_equal (l.currency, "MAD", 3);

    assert_int_equal (ps_journal_del_producer (j, "p1", 2), 0);
    assert_int_equal (ps_journal_commit (j), 0);
    memset (&l, 0, sizeof l);
    assert_int_equal (ps_journal_load (j, s_on_producer, s_on_series, &l), 0);
    assert_int_equal (l.producers, 0);
}

/*  A journal belongs to one ingest id and one process at a time. */
static void test_refuses_other_ingest_and_second_opener (void **state)
{
    s_fixture_t *f = *state;
    char err[512];
    ps_journal_config_t config = {f->dir, "ingest-t", 8 * MB};
    assert_null (ps_journal_open (&config, err, sizeof err));
    assert_non_null (strstr (err, "in use by another process"));

    ps_journal_destroy (&f->journal);
    config.ingest = "ingest-other";
    assert_null (ps_journal_open (&config, err, sizeof err));
    assert_non_null (strstr (err, "belongs to ingest 'ingest-t', not 'ingest-other'"));
    f->journal = s_open (f->dir, "ingest-t", 8 * MB);
}

/*  Past max_bytes of entries appends are refused (the group stays
    usable); compute's confirmation deletes what it covers and makes
    room, and it is remembered across a reopen. */
static void test_bounded_and_reclaimed (void **state)
{
    s_fixture_t *f = *state;
    char frame[64 * 1024];
    memset (frame, 'x', sizeof frame);
    ps_journal_t *j = f->journal;
    int appended = 0, rc;
    while ((rc = ps_journal_append (j, frame, sizeof frame)) == 0) {
        appended++;
        if (appended % 16 == 0)
            assert_int_equal (ps_journal_commit (j), 0);
    }
    assert_int_equal (rc, 1);
    assert_int_equal (ps_journal_commit (j), 0);
    assert_true (appended > 100 && appended < 128);
    assert_true (ps_journal_bytes (j) <= ps_journal_max_bytes (j));
    assert_int_equal (ps_journal_durable (j), (uint64_t) appended);

    size_t full = ps_journal_bytes (j);
    ps_journal_confirm (j, 50);
    assert_true (ps_journal_pending (j));
    assert_int_equal (ps_journal_commit (j), 0);
    assert_false (ps_journal_pending (j));
    assert_int_equal (ps_journal_first (j), 51);
    assert_true (ps_journal_bytes (j) < full);
    assert_int_equal (ps_journal_append (j, frame, sizeof frame), 0);
    assert_int_equal (ps_journal_commit (j), 0);

    ps_journal_destroy (&f->journal);
    f->journal = j = s_open (f->dir, "ingest-t", 8 * MB);
    assert_int_equal (ps_journal_confirmed (j), 50);
    assert_int_equal (ps_journal_first (j), 51);
    assert_int_equal (ps_journal_durable (j), (uint64_t) appended + 1);

    /* Everything confirmed: empty, and numbering goes on. */
    ps_journal_confirm (j, ps_journal_durable (j));
    assert_int_equal (ps_journal_commit (j), 0);
    assert_int_equal (ps_journal_first (j), ps_journal_durable (j) + 1);
    s_append (j, "next");
    assert_int_equal (ps_journal_commit (j), 0);
    assert_int_equal (ps_journal_durable (j), (uint64_t) appended + 2);
}

/*  Skipping moves the numbering past what compute already has. */
static void test_skip (void **state)
{
    s_fixture_t *f = *state;
    ps_journal_t *j = f->journal;
    s_append (j, "a");
    assert_int_equal (ps_journal_commit (j), 0);
    assert_int_equal (ps_journal_skip (j, 40), 0);
    s_append (j, "b");
    assert_int_equal (ps_journal_commit (j), 0);
    s_seen_t seen = {0};
    assert_int_equal (ps_journal_read (j, 2, s_collect, &seen), 1);
    assert_int_equal (seen.jseqs[0], 41);
    assert_int_equal (ps_journal_skip (j, 3), 0);
    assert_int_equal (ps_journal_head (j), 41);
}

/*  A data directory that cannot be created is a clear error. */
static void test_bad_directory (void **state)
{
    (void) state;
    char err[512];
    ps_journal_config_t config = {"/proc/paystat-no/journal", "ingest-t", 8 * MB};
    assert_null (ps_journal_open (&config, err, sizeof err));
    assert_non_null (strstr (err, "cannot create data directory /proc/paystat-no"));
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_group_commit_and_abort, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reopen_keeps_what_was_committed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refuses_other_ingest_and_second_opener, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_bounded_and_reclaimed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_skip, s_setup, s_teardown),
        cmocka_unit_test (test_bad_directory),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
