/*  ps_forward: the pump from the journal towards compute, over a real
    journal and a fake link. A hello goes first and nothing else before
    compute says where to start; entries go within the window and in
    order; a full link stops the pump without losing the entry it
    refused; an entry too large for compute sticks delivery there; a
    position ahead of the journal renumbers it and drops its open group;
    the drain is over once compute applied everything committed. */

#include "test_tmpdir.h"

#include <errno.h>
#include <stdint.h>

#include "ps_forward.h"
#include "ps_proto.h"

#define MB   (1u << 20)
#define SENT 64

typedef struct {
    char dir[64];
    ps_journal_t *journal;
    ps_forward_t *forward;
    int accept; /* sends still accepted before EAGAIN; -1: all */
    int n;      /* frames sent */
    char frames[SENT][64];
    size_t sizes[SENT];
    int dropped;
    char dropped_reason[128];
} s_fixture_t;

static int s_send (void *arg, const void *data, size_t size)
{
    s_fixture_t *f = arg;
    if (f->accept == 0) {
        errno = EAGAIN;
        return -1;
    }
    if (f->accept > 0)
        f->accept--;
    assert_true (f->n < SENT && size <= sizeof f->frames[0]);
    memcpy (f->frames[f->n], data, size);
    f->sizes[f->n++] = size;
    return 0;
}

static void s_dropped (void *arg, const char *reason)
{
    s_fixture_t *f = arg;
    f->dropped++;
    snprintf (f->dropped_reason, sizeof f->dropped_reason, "%s", reason);
}

static s_fixture_t s_f;

static int s_setup (void **state)
{
    s_fixture_t *f = &s_f;
    memset (f, 0, sizeof *f);
    f->accept = -1;
    t_tmpdir_new (f->dir, "forward");
    char err[512];
    ps_journal_config_t jconfig = {f->dir, "ingest-t", 8 * MB};
    f->journal = ps_journal_open (&jconfig, err, sizeof err);
    if (!f->journal)
        fail_msg ("cannot open the journal: %s", err);
    ps_forward_config_t config = {"ingest-t", 3, 100, 16};
    f->forward = ps_forward_new (&config, f->journal, s_send, s_dropped, f);
    assert_non_null (f->forward);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    s_fixture_t *f = *state;
    ps_forward_destroy (&f->forward);
    assert_null (f->forward);
    ps_journal_destroy (&f->journal);
    t_tmpdir_remove (f->dir);
    return 0;
}

/*  Commits entries "e<first>".."e<last>". */
static void s_commit_entries (s_fixture_t *f, int first, int last)
{
    for (int i = first; i <= last; i++) {
        char text[16];
        snprintf (text, sizeof text, "e%d", i);
        assert_int_equal (ps_journal_append (f->journal, text, strlen (text)), 0);
    }
    assert_int_equal (ps_journal_commit (f->journal), 0);
}

/*  Compute's position, as it would send it. */
static void s_position (s_fixture_t *f, uint64_t applied, uint64_t ckpt, bool resend,
                        uint64_t refused, int64_t now)
{
    ps_position_t pos = {ps_journal_id (f->journal), applied, ckpt, resend};
    ps_refusal_t refusal = {refused, "does not decode"};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    assert_int_equal (ps_control_position_encode_refusal (&pos, &refusal, &buf), 0);
    ps_forward_receive (f->forward, buf.data, buf.size, false, now);
    msgpack_sbuffer_destroy (&buf);
}

/*  The hello goes out (and is forgotten), compute asks for everything. */
static void s_synced (s_fixture_t *f)
{
    ps_forward_pump (f->forward, 0);
    f->n = 0;
    s_position (f, 0, 0, true, 0, 1);
}

static void s_assert_entry (s_fixture_t *f, int i, const char *text)
{
    assert_true (i < f->n);
    assert_int_equal (f->sizes[i], strlen (text));
    assert_memory_equal (f->frames[i], text, strlen (text));
}

/*  A hello first, saying where the journal stands; no entry goes before
    compute has said where to start; the next hello after sync_ms of
    silence. */
static void test_hello_first (void **state)
{
    s_fixture_t *f = *state;
    s_commit_entries (f, 1, 2);
    ps_forward_pump (f->forward, 1000);
    assert_int_equal (f->n, 1);
    ps_hello_t hello;
    ps_error_t err;
    assert_int_equal (ps_control_hello_decode (f->frames[0], f->sizes[0], &hello, &err), 0);
    assert_string_equal (hello.ingest, "ingest-t");
    assert_int_equal (hello.journal, ps_journal_id (f->journal));
    assert_int_equal (hello.first, 1);
    assert_int_equal (hello.head, 2);
    ps_forward_pump (f->forward, 1050);
    assert_int_equal (f->n, 1);
    assert_int_equal (ps_forward_wait (f->forward, 1050), 50);
    ps_forward_pump (f->forward, 1100);
    assert_int_equal (f->n, 2);
    assert_int_equal (ps_control_hello_decode (f->frames[1], f->sizes[1], &hello, &err), 0);
}

/*  Entries go in order, at most the window beyond compute's applied,
    and only committed ones. */
static void test_window (void **state)
{
    s_fixture_t *f = *state;
    s_commit_entries (f, 1, 10);
    assert_int_equal (ps_journal_append (f->journal, "open", 4), 0); /* not committed */
    s_synced (f);
    ps_forward_pump (f->forward, 1);
    assert_int_equal (f->n, 3);
    s_assert_entry (f, 0, "e1");
    s_assert_entry (f, 2, "e3");
    ps_forward_pump (f->forward, 2);
    assert_int_equal (f->n, 3); /* the window is full */
    s_position (f, 2, 0, false, 0, 3);
    ps_forward_pump (f->forward, 3);
    assert_int_equal (f->n, 5);
    s_assert_entry (f, 4, "e5");
    s_position (f, 5, 0, false, 0, 4);
    ps_forward_pump (f->forward, 4);
    assert_int_equal (f->n, 8);
    s_position (f, 7, 0, false, 0, 5);
    ps_forward_pump (f->forward, 5);
    assert_int_equal (f->n, 10);
    s_assert_entry (f, 9, "e10");
    assert_false (ps_forward_drained (f->forward));
    s_position (f, 10, 0, false, 0, 6);
    assert_true (ps_forward_drained (f->forward));
}

/*  A full link (EAGAIN) stops the pump until the caller has seen it
    writable; the entry refused then goes first. */
static void test_full_link (void **state)
{
    s_fixture_t *f = *state;
    s_commit_entries (f, 1, 3);
    s_synced (f);
    f->accept = 1;
    ps_forward_pump (f->forward, 1);
    assert_int_equal (f->n, 1);
    assert_true (ps_forward_blocked (f->forward));
    f->accept = -1;
    ps_forward_pump (f->forward, 2);
    assert_int_equal (f->n, 1); /* not before the poll said writable */
    ps_forward_writable (f->forward);
    assert_false (ps_forward_blocked (f->forward));
    ps_forward_pump (f->forward, 3);
    assert_int_equal (f->n, 3);
    s_assert_entry (f, 1, "e2");
    s_assert_entry (f, 2, "e3");
    assert_false (ps_forward_drained (f->forward)); /* sent is not applied */
}

/*  An entry over max_entry is never sent; nothing after it goes; it
    stays stuck until compute has applied it. A refusal in a position
    sticks delivery the same way. */
static void test_stuck (void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal (ps_journal_append (f->journal, "e1", 2), 0);
    assert_int_equal (ps_journal_append (f->journal, "an entry much too large", 23), 0);
    assert_int_equal (ps_journal_append (f->journal, "e3", 2), 0);
    assert_int_equal (ps_journal_commit (f->journal), 0);
    s_synced (f);
    ps_forward_pump (f->forward, 1);
    assert_int_equal (f->n, 1);
    s_assert_entry (f, 0, "e1");
    const char *why;
    const ps_delivery_t *d = ps_forward_delivery (f->forward);
    assert_int_equal (ps_delivery_stuck (d, &why), 2);
    assert_non_null (strstr (why, "entry"));
    s_position (f, 1, 0, false, 0, 2);
    ps_forward_pump (f->forward, 2);
    assert_int_equal (f->n, 1);
    assert_false (ps_forward_drained (f->forward));

    /* Compute refuses entry 3 (after an operator's fix let 2 through). */
    s_position (f, 2, 0, false, 3, 3);
    assert_int_equal (ps_delivery_stuck (d, &why), 3);
    assert_string_equal (why, "does not decode");
    assert_int_equal (ps_delivery_refusals (d), 2);
}

/*  Compute has applied entries this journal lost: the open group is
    dropped (its acks refused) and new entries are numbered after what
    compute has. */
static void test_renumber (void **state)
{
    s_fixture_t *f = *state;
    s_commit_entries (f, 1, 2);
    assert_int_equal (ps_journal_append (f->journal, "open", 4), 0);
    s_position (f, 5, 0, true, 0, 1);
    assert_int_equal (f->dropped, 1);
    assert_non_null (strstr (f->dropped_reason, "retry later"));
    assert_int_equal (ps_journal_head (f->journal), 5);
    assert_int_equal (ps_journal_append (f->journal, "e6", 2), 0);
    assert_int_equal (ps_journal_head (f->journal), 6);
}

/*  Another journal's position, a malformed frame, a multipart one and
    compute's refusal of the whole journal change nothing. */
static void test_ignored_frames (void **state)
{
    s_fixture_t *f = *state;
    s_commit_entries (f, 1, 2);
    ps_position_t pos = {ps_journal_id (f->journal) + 1, 2, 2, true};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    assert_int_equal (ps_control_position_encode (&pos, &buf), 0);
    ps_forward_receive (f->forward, buf.data, buf.size, false, 1);
    ps_forward_receive (f->forward, "\xdd\xff\xff\xff\xff", 5, false, 1);
    msgpack_sbuffer_clear (&buf);
    pos.journal = ps_journal_id (f->journal);
    assert_int_equal (ps_control_position_encode (&pos, &buf), 0);
    ps_forward_receive (f->forward, buf.data, buf.size, true, 1);
    msgpack_sbuffer_clear (&buf);
    ps_error_t refusal = {PS_E_RANGE, NULL, "journal not accepted"};
    assert_int_equal (ps_error_refusal_encode (&refusal, &buf), 0);
    ps_forward_receive (f->forward, buf.data, buf.size, false, 1);
    msgpack_sbuffer_destroy (&buf);
    const ps_delivery_t *d = ps_forward_delivery (f->forward);
    assert_false (ps_delivery_synced (d));
    assert_int_equal (ps_delivery_applied (d), 0);
    assert_false (ps_forward_drained (f->forward));
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_hello_first, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_window, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_link, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stuck, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_renumber, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ignored_frames, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
