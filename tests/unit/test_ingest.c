/*  ps_ingest: the front door's rules, driven with hand-packed frames over
    a real journal in a temporary directory. */

#include "test_tmpdir.h"

#include <stdint.h>

#include "ps_ingest.h"
#include "ps_journal.h"
#include "ps_proto.h"

typedef struct {
    const char *source;
    const char *period;
    const char *dim;  /* "name=value" or NULL */
    long long count;  /* < 0: absent */
    long long amount; /* < 0: absent */
    const char *currency;
} s_row_t;

static void s_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body (pk, s, strlen (s));
}

/*  Packs a batch by hand from the wire spec, independently of ps_batch_encode. */
static void s_pack_batch (msgpack_sbuffer *buf, const char *producer, uint64_t seq,
                          const s_row_t *rows, int n)
{
    msgpack_sbuffer_clear (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    s_str (&pk, "v");
    msgpack_pack_uint8 (&pk, 1);
    s_str (&pk, "type");
    s_str (&pk, "batch");
    s_str (&pk, "producer");
    s_str (&pk, producer);
    s_str (&pk, "seq");
    msgpack_pack_uint64 (&pk, seq);
    s_str (&pk, "reports");
    msgpack_pack_array (&pk, n);
    for (int i = 0; i < n; i++) {
        const s_row_t *r = &rows[i];
        int fields = 3 + (r->count >= 0) + (r->amount >= 0 ? 2 : 0);
        msgpack_pack_map (&pk, fields);
        s_str (&pk, "source");
        s_str (&pk, r->source);
        s_str (&pk, "period");
        s_str (&pk, r->period);
        s_str (&pk, "dims");
        msgpack_pack_array (&pk, r->dim ? 1 : 0);
        if (r->dim)
            s_str (&pk, r->dim);
        if (r->count >= 0) {
            s_str (&pk, "count");
            msgpack_pack_int64 (&pk, r->count);
        }
        if (r->amount >= 0) {
            s_str (&pk, "amount");
            msgpack_pack_int64 (&pk, r->amount);
            s_str (&pk, "currency");
            s_str (&pk, r->currency);
        }
    }
}

typedef struct {
    char dir[64];
    size_t max_bytes;
    ps_journal_t *journal;
    ps_ingest_t *ingest;
    msgpack_sbuffer frame;
    ps_ack_t ack;
} s_fixture_t;

/*  Opens the journal and the front door over it (again, after a restart). */
static void s_open (s_fixture_t *f)
{
    char err[512];
    ps_journal_config_t jconfig = {f->dir, "ingest-test", f->max_bytes};
    f->journal = ps_journal_open (&jconfig, err, sizeof err);
    if (!f->journal)
        fail_msg ("cannot open the journal: %s", err);
    ps_ingest_config_t config = {"ingest-test", 2, 1000};
    f->ingest = ps_ingest_new (&config, f->journal);
    assert_non_null (f->ingest);
}

static void s_close (s_fixture_t *f)
{
    ps_ingest_destroy (&f->ingest);
    assert_null (f->ingest);
    ps_journal_destroy (&f->journal);
}

static int s_setup_sized (void **state, size_t max_bytes)
{
    static s_fixture_t f;
    memset (&f, 0, sizeof f);
    t_tmpdir_new (f.dir, "ingest");
    f.max_bytes = max_bytes;
    s_open (&f);
    msgpack_sbuffer_init (&f.frame);
    *state = &f;
    return 0;
}

static int s_setup (void **state)
{
    return s_setup_sized (state, 8u << 20);
}

/* A journal that holds 1 MiB of entries at most. */
static int s_setup_small (void **state)
{
    return s_setup_sized (state, 1u << 20);
}

static int s_teardown (void **state)
{
    s_fixture_t *f = *state;
    s_close (f);
    msgpack_sbuffer_destroy (&f->frame);
    ps_ack_clear (&f->ack);
    t_tmpdir_remove (f->dir);
    return 0;
}

/*  Sends rows as a batch under CURVE key KEY (NULL: none) without
    committing the journal's group and decodes the ack into f->ack. */
static void s_receive_as (s_fixture_t *f, const char *key, const char *producer, uint64_t seq,
                          const s_row_t *rows, int n)
{
    s_pack_batch (&f->frame, producer, seq, rows, n);
    ps_ingest_receive (f->ingest, key, f->frame.data, f->frame.size);
    const msgpack_sbuffer *ack = ps_ingest_ack (f->ingest);
    ps_error_t err;
    ps_ack_clear (&f->ack);
    assert_int_equal (ps_ack_decode (&f->ack, ack->data, ack->size, &err), 0);
}

static void s_receive (s_fixture_t *f, const char *producer, uint64_t seq, const s_row_t *rows,
                       int n)
{
    s_receive_as (f, NULL, producer, seq, rows, n);
}

/*  As s_receive, then commits the group as ingest's loop would. */
static void s_send (s_fixture_t *f, const char *producer, uint64_t seq, const s_row_t *rows, int n)
{
    s_receive (f, producer, seq, rows, n);
    assert_int_equal (ps_journal_commit (f->journal), 0);
}

static const s_row_t s_good[] = {
    {"CMI", "2012", "card=domestic", 10, 71183, "MAD"},
    {"CMI", "2012", "card=foreign", 2, 4047, "MAD"},
};

static int s_first_entry (void *arg, uint64_t jseq, const void *frame, size_t size)
{
    ps_batch_t *b = arg;
    ps_error_t err;
    assert_int_equal (ps_batch_decode (b, frame, size, true, &err), 0);
    assert_true (b->jseq == jseq);
    return 1;
}

static void test_accept_and_journal (void **state)
{
    s_fixture_t *f = *state;
    s_receive (f, "p1", 1, s_good, 2);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    assert_int_equal (f->ack.accepted, 2);
    assert_int_equal (f->ack.seq, 1);
    assert_string_equal (f->ack.producer, "p1");
    /* Accepted into the open group: the ack must wait for the commit. */
    assert_true (ps_journal_pending (f->journal));
    assert_string_equal (ps_ingest_producer (f->ingest), "p1");
    assert_int_equal (ps_ingest_seq (f->ingest), 1);
    assert_int_equal (ps_journal_commit (f->journal), 0);

    /* The entry is the strict forwarded form, stamped with jseq and journal. */
    ps_batch_t *b = ps_batch_new ();
    assert_int_equal (ps_journal_read (f->journal, 1, s_first_entry, b), 0);
    assert_string_equal (b->ingest, "ingest-test");
    assert_int_equal (b->jseq, 1);
    assert_true (b->journal == ps_journal_id (f->journal));
    assert_int_equal (b->nreports, 2);
    assert_int_equal (b->reports[1].amount, 4047);
    ps_batch_destroy (&b);
}

/*  A resend of the latest batch gets its original ack; an older one is a
    duplicate; neither is journaled again. */
static void test_duplicates (void **state)
{
    s_fixture_t *f = *state;
    s_send (f, "p1", 5, s_good, 2);
    msgpack_sbuffer first;
    msgpack_sbuffer_init (&first);
    const msgpack_sbuffer *ack = ps_ingest_ack (f->ingest);
    msgpack_sbuffer_write (&first, ack->data, ack->size);

    s_receive (f, "p1", 5, s_good, 2);
    assert_false (ps_journal_pending (f->journal));
    ack = ps_ingest_ack (f->ingest);
    assert_int_equal (ack->size, first.size);
    assert_memory_equal (ack->data, first.data, first.size);

    s_receive (f, "p1", 4, s_good, 2);
    assert_int_equal (f->ack.status, PS_ACK_DUPLICATE);
    assert_int_equal (f->ack.seq, 4);
    assert_int_equal (ps_ingest_stats (f->ingest)->journaled, 1);
    assert_int_equal (ps_ingest_stats (f->ingest)->duplicates, 2);
    assert_int_equal (ps_journal_durable (f->journal), 1);
    msgpack_sbuffer_destroy (&first);
}

/*  One currency per series: the first report wins, later ones in another
    currency are rejected by index while the rest of the batch goes on. */
static void test_currency_per_series (void **state)
{
    s_fixture_t *f = *state;
    const s_row_t rows[] = {
        {"OC", "2012", "channel=abroad", -1, 700000000000, "MAD"},
        {"OC", "2012", "channel=domestic", -1, 75300000000, "MAD"},
        {"OC", "2013", "channel=abroad", -1, 100, "EUR"},
        {"OC", "2013", NULL, -1, 100, "EUR"},
    };
    s_send (f, "p2", 1, rows, 4);
    assert_int_equal (f->ack.status, PS_ACK_PARTIAL);
    assert_int_equal (f->ack.accepted, 3);
    assert_int_equal (f->ack.nrejects, 1);
    assert_int_equal (f->ack.rejects[0].index, 2);
    assert_int_equal (f->ack.rejects[0].error.code, PS_E_CURRENCY_MISMATCH);
    assert_string_equal (f->ack.rejects[0].error.field, "currency");
    assert_non_null (strstr (f->ack.rejects[0].error.reason, "MAD"));
}

/*  Producers' last batches and the series' currencies survive a restart:
    resends are still recognised, the rule still holds, numbering goes on. */
static void test_state_survives_restart (void **state)
{
    s_fixture_t *f = *state;
    const s_row_t mad[] = {{"X", "2012", "k=v", 1, 100, "MAD"}, {"Y", "2012", NULL, 1, -1, NULL}};
    s_send (f, "p1", 5, mad, 2);
    s_send (f, "p2", 9, s_good, 1);
    /* Accepted but never committed: as if ingest died before the commit. */
    s_receive (f, "p1", 6, s_good, 1);
    s_close (f);
    s_open (f);

    s_receive (f, "p1", 5, mad, 2);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    assert_int_equal (f->ack.accepted, 2);
    s_receive (f, "p2", 8, s_good, 1);
    assert_int_equal (f->ack.status, PS_ACK_DUPLICATE);
    assert_false (ps_journal_pending (f->journal));

    const s_row_t eur[] = {{"X", "2013", "k=v", 1, 100, "EUR"}};
    s_send (f, "p1", 6, eur, 1);
    assert_int_equal (f->ack.status, PS_ACK_REJECTED);
    assert_int_equal (f->ack.rejects[0].error.code, PS_E_CURRENCY_MISMATCH);
    s_send (f, "p1", 7, s_good, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    assert_int_equal (ps_journal_durable (f->journal), 3);
}

/*  A group whose commit failed is forgotten: its batches count as never
    received, and refusing them holds the producers' later batches back. */
static void test_failed_group_is_forgotten (void **state)
{
    s_fixture_t *f = *state;
    const s_row_t eur[] = {{"Z", "2012", NULL, 1, 100, "EUR"}};
    const s_row_t mad[] = {{"Z", "2012", NULL, 1, 100, "MAD"}};
    s_receive (f, "p1", 1, eur, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    ps_journal_abort (f->journal);
    assert_int_equal (ps_ingest_reload (f->ingest), 0);
    ps_ingest_refuse (f->ingest, "p1", 1, "could not commit");
    const msgpack_sbuffer *ack = ps_ingest_ack (f->ingest);
    ps_error_t err;
    ps_ack_clear (&f->ack);
    assert_int_equal (ps_ack_decode (&f->ack, ack->data, ack->size, &err), 0);
    assert_int_equal (f->ack.status, PS_ACK_RETRY);

    s_receive (f, "p1", 2, mad, 1);
    assert_int_equal (f->ack.status, PS_ACK_RETRY);
    /* Seq 1 again: new, and its series is not bound to EUR any more. */
    s_send (f, "p1", 1, mad, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    s_send (f, "p1", 2, mad, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    assert_int_equal (ps_journal_durable (f->journal), 2);

    /* An answer held in a failed group for a batch committed before (a
       resend) is that batch's answer again, not a refusal. */
    ps_ingest_refuse (f->ingest, "p1", 2, "could not commit");
    ack = ps_ingest_ack (f->ingest);
    ps_ack_clear (&f->ack);
    assert_int_equal (ps_ack_decode (&f->ack, ack->data, ack->size, &err), 0);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    s_send (f, "p1", 3, mad, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);
}

/*  Journal full: nothing of the batch is kept, the reason says so, the
    producer's later batches wait for it, and once compute's checkpoint
    makes room the same seqs are accepted in order. */
static void test_journal_full (void **state)
{
    s_fixture_t *f = *state;
    enum { ROWS = 2000 };
    static s_row_t big[ROWS];
    for (int i = 0; i < ROWS; i++)
        big[i] = (s_row_t){"BIG", "2012-01-01", "k=some-longer-dimension-value", i, i, "EUR"};
    uint64_t seq = 0;
    for (;;) {
        s_send (f, "p1", ++seq, big, ROWS);
        if (f->ack.status != PS_ACK_OK)
            break;
    }
    assert_int_equal (f->ack.status, PS_ACK_RETRY);
    assert_int_equal (f->ack.error.code, PS_E_RETRY);
    assert_non_null (strstr (f->ack.error.reason, "journal full"));
    assert_non_null (strstr (f->ack.error.reason, "retry later"));
    uint64_t refused = seq, durable = ps_journal_durable (f->journal);

    s_send (f, "p1", refused + 1, s_good, 1);
    assert_int_equal (f->ack.status, PS_ACK_RETRY);
    assert_non_null (strstr (f->ack.error.reason, "resend it before later ones"));
    s_send (f, "p2", 1, s_good, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);

    ps_journal_confirm (f->journal, durable);
    assert_int_equal (ps_journal_commit (f->journal), 0);
    s_send (f, "p1", refused + 1, s_good, 1);
    assert_int_equal (f->ack.status, PS_ACK_RETRY);
    s_send (f, "p1", refused, big, ROWS);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    s_send (f, "p1", refused + 1, s_good, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);
}

static void test_malformed_frame (void **state)
{
    s_fixture_t *f = *state;
    const char junk[] = "\x93\x01\x02"; /* array of 3 with one element missing */
    ps_ingest_receive (f->ingest, NULL, junk, 3);
    const msgpack_sbuffer *ack = ps_ingest_ack (f->ingest);
    ps_error_t err;
    ps_ack_clear (&f->ack);
    assert_int_equal (ps_ack_decode (&f->ack, ack->data, ack->size, &err), 0);
    assert_int_equal (f->ack.status, PS_ACK_REJECTED);
    assert_true (f->ack.has_error);
    assert_int_equal (f->ack.error.code, PS_E_DECODE);
    assert_int_equal (ps_ingest_stats (f->ingest)->batches_rejected, 1);
    assert_false (ps_journal_pending (f->journal));
}

/*  All reports invalid: rejected, no entry, seq still consumed (and
    remembered in the journal). */
static void test_all_rejected (void **state)
{
    s_fixture_t *f = *state;
    const s_row_t rows[] = {{"CMI", "2012-13", NULL, 1, -1, NULL},
                            {"CMI", "2012", NULL, -1, -1, NULL}};
    s_send (f, "p4", 1, rows, 2);
    assert_int_equal (f->ack.status, PS_ACK_REJECTED);
    assert_int_equal (f->ack.nrejects, 2);
    assert_int_equal (f->ack.rejects[0].error.code, PS_E_PERIOD);
    assert_int_equal (f->ack.rejects[1].error.code, PS_E_MISSING);
    assert_int_equal (ps_ingest_stats (f->ingest)->journaled, 0);
    assert_int_equal (ps_journal_durable (f->journal), 0);
    s_close (f);
    s_open (f);
    s_receive (f, "p4", 1, rows, 2);
    assert_int_equal (f->ack.status, PS_ACK_REJECTED);
    assert_int_equal (ps_ingest_stats (f->ingest)->duplicates, 1);
}

/*  The producer table is bounded (2 here): after a, b and c, the newest (c)
    is remembered, and of a and b only one can be, so resending both
    journals at least one of them again. */
static void test_producer_bound (void **state)
{
    s_fixture_t *f = *state;
    s_send (f, "a", 1, s_good, 1);
    s_send (f, "b", 1, s_good, 1);
    s_send (f, "c", 1, s_good, 1);
    assert_int_equal (ps_ingest_stats (f->ingest)->journaled, 3);
    s_send (f, "c", 1, s_good, 1);
    assert_int_equal (ps_ingest_stats (f->ingest)->duplicates, 1);
    s_send (f, "a", 1, s_good, 1);
    s_send (f, "b", 1, s_good, 1);
    assert_true (ps_ingest_stats (f->ingest)->journaled >= 4);
}

/*  Under CURVE a key sends as its own name or "NAME:..." only; anything
    else, or a key revoked since its handshake (""), is refused whole and
    consumes nothing of the producer it named. */
static void test_producer_bound_to_key (void **state)
{
    s_fixture_t *f = *state;
    static const char *const spoofed[] = {"p2", "p10", "x:p1", "p"};
    for (size_t i = 0; i < sizeof spoofed / sizeof *spoofed; i++) {
        s_receive_as (f, "p1", spoofed[i], 1, s_good, 2);
        assert_int_equal (f->ack.status, PS_ACK_REJECTED);
        assert_true (f->ack.has_error);
        assert_int_equal (f->ack.error.code, PS_E_PERMISSION);
        assert_string_equal (f->ack.error.field, "producer");
        assert_string_equal (f->ack.producer, spoofed[i]);
        assert_int_equal (f->ack.accepted, 0);
        assert_int_equal (f->ack.nrejects, 0);
    }
    s_receive_as (f, "", "p1", 1, s_good, 2);
    assert_int_equal (f->ack.status, PS_ACK_REJECTED);
    assert_int_equal (f->ack.error.code, PS_E_PERMISSION);
    assert_non_null (strstr (f->ack.error.reason, "no longer allowed"));
    assert_false (ps_journal_pending (f->journal));
    assert_int_equal (ps_ingest_stats (f->ingest)->batches_rejected, 5);
    /* Nothing was consumed: p2's own seq 1 is new, p1 and p1:x are p1's. */
    s_receive_as (f, "p2", "p2", 1, s_good, 2);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    s_receive_as (f, "p1", "p1", 1, s_good, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    s_receive_as (f, "p1", "p1:branch-7", 1, s_good, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    assert_int_equal (ps_journal_commit (f->journal), 0);
    assert_int_equal (ps_ingest_stats (f->ingest)->journaled, 3);
}

/*  With an access file, a report for a source its key may not write is
    rejected alone, before it can fix its series' currency; without CURVE
    (no key) the file does not apply. */
static void test_source_permissions (void **state)
{
    s_fixture_t *f = *state;
    char path[128], err[512];
    snprintf (path, sizeof path, "%s/access", f->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs ("p1 CMI\nall *\n", file);
    fclose (file);
    ps_access_t *access = ps_access_load (path, err, sizeof err);
    assert_non_null (access);
    ps_ingest_set_access (f->ingest, access);
    const s_row_t rows[] = {{"BAM", "2012", NULL, 1, 100, "MAD"},
                            {"CMI", "2012", NULL, 2, 200, "MAD"},
                            {"BAM", "2013", NULL, 3, 300, "MAD"}};
    s_receive_as (f, "p1", "p1", 1, rows, 3);
    assert_int_equal (f->ack.status, PS_ACK_PARTIAL);
    assert_int_equal (f->ack.accepted, 1);
    assert_int_equal (f->ack.nrejects, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (f->ack.rejects[i].index, (uint32_t) (i * 2));
        assert_int_equal (f->ack.rejects[i].error.code, PS_E_PERMISSION);
        assert_string_equal (f->ack.rejects[i].error.field, "source");
    }
    assert_string_equal (f->ack.rejects[0].error.reason, "key p1 may not write source BAM");
    assert_int_equal (ps_ingest_stats (f->ingest)->rejected_by_code[PS_E_PERMISSION], 2);
    /* Only the source is judged: BAM's series has no currency yet. */
    const s_row_t euro[] = {{"BAM", "2012", NULL, 1, 100, "EUR"}};
    s_receive_as (f, "all", "all", 1, euro, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    /* A key not listed writes nothing; no key (CURVE off) writes anything. */
    s_receive_as (f, "p9", "p9", 1, rows, 1);
    assert_int_equal (f->ack.status, PS_ACK_REJECTED);
    assert_int_equal (f->ack.rejects[0].error.code, PS_E_PERMISSION);
    s_receive (f, "p9", 2, rows + 1, 1);
    assert_int_equal (f->ack.status, PS_ACK_OK);
    ps_ingest_set_access (f->ingest, NULL);
    ps_access_destroy (&access);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_accept_and_journal, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_duplicates, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_currency_per_series, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_state_survives_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_group_is_forgotten, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_journal_full, s_setup_small, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_frame, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_all_rejected, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_producer_bound, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_producer_bound_to_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_source_permissions, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
