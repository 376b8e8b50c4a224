/*  Tests for client/ps_sender against a scripted ingest (a ROUTER in a
    thread, over inproc): rejects mapped back to input lines, Lazy Pirate
    resends with the same producer and seq, retry_later, duplicates, and
    giving up when nobody answers. */

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "ps_proto.h"
#include "ps_sender.h"

#define MAX_FRAMES 256

typedef struct {
    void *ctx;
    const char *endpoint;
    int drop;           /* frames ignored before answering */
    uint32_t drop_mask; /* frames ignored: bit n = the nth frame */
    int retry_first;    /* answers that are retry_later before the real ones */
    bool hold;          /* like ingest: later seqs wait for a refused one */
    uint64_t refused;   /* with HOLD: the seq refused and not accepted since */
    atomic_bool stop;
    atomic_bool bound;
    atomic_bool failed; /* the thread cannot use cmocka's asserts */
    /* What arrived, in order. */
    int frames;
    uint64_t seqs[MAX_FRAMES];
    uint32_t sizes[MAX_FRAMES];
    char producer[PS_ID_MAX + 1];
} fake_t;

/*  Answers like ingest: reports whose source is "BAD" are rejected, an
    old seq is a duplicate, the latest seq gets its ack again. */
static void *s_fake_ingest (void *arg)
{
    fake_t *fake = arg;
    void *router = zmq_socket (fake->ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt (router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind (router, fake->endpoint) != 0)
        atomic_store (&fake->failed, true);
    atomic_store (&fake->bound, true);
    ps_batch_t *batch = ps_batch_new ();
    msgpack_sbuffer ack, last_ack;
    msgpack_sbuffer_init (&ack);
    msgpack_sbuffer_init (&last_ack);
    uint64_t last_seq = 0;
    while (!atomic_load (&fake->stop)) {
        zmq_pollitem_t items[] = {{router, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 1, 20) <= 0)
            continue;
        zmq_msg_t id, body;
        zmq_msg_init (&id);
        zmq_msg_init (&body);
        zmq_msg_recv (&id, router, 0);
        zmq_msg_recv (&body, router, 0);
        ps_error_t err;
        if (ps_batch_decode (batch, zmq_msg_data (&body), zmq_msg_size (&body), false, &err) != 0)
            atomic_store (&fake->failed, true);
        int n = fake->frames++;
        if (n < MAX_FRAMES) {
            fake->seqs[n] = batch->seq;
            fake->sizes[n] = batch->total;
        }
        snprintf (fake->producer, sizeof fake->producer, "%s", batch->producer);
        msgpack_sbuffer_clear (&ack);
        if (n < fake->drop || (n < 32 && (fake->drop_mask >> n & 1))) {
            zmq_msg_close (&id);
            zmq_msg_close (&body);
            continue;
        }
        bool held = fake->hold && fake->refused && batch->seq > fake->refused;
        if (fake->retry_first > 0 || held) {
            if (!held) {
                fake->retry_first--;
                if (fake->hold && (!fake->refused || batch->seq < fake->refused))
                    fake->refused = batch->seq;
            }
            ps_error_t busy = {PS_E_RETRY, "", "busy"};
            ps_ack_encode (batch, PS_ACK_RETRY, &busy, &ack);
        } else if (batch->seq < last_seq)
            ps_ack_encode (batch, PS_ACK_DUPLICATE, NULL, &ack);
        else if (batch->seq == last_seq)
            msgpack_sbuffer_write (&ack, last_ack.data, last_ack.size);
        else {
            if (batch->seq == fake->refused)
                fake->refused = 0;
            for (uint32_t i = batch->nreports; i-- > 0;)
                if (strcmp (batch->reports[i].source, "BAD") == 0) {
                    ps_error_t bad = {PS_E_SYNTAX, "source", "bad source"};
                    ps_batch_reject (batch, i, &bad);
                }
            ps_ack_status_t status = batch->nrejects == 0   ? PS_ACK_OK
                                     : batch->nreports == 0 ? PS_ACK_REJECTED
                                                            : PS_ACK_PARTIAL;
            ps_ack_encode (batch, status, NULL, &ack);
            msgpack_sbuffer_clear (&last_ack);
            msgpack_sbuffer_write (&last_ack, ack.data, ack.size);
            last_seq = batch->seq;
        }
        zmq_msg_send (&id, router, ZMQ_SNDMORE);
        zmq_send (router, ack.data, ack.size, 0);
        zmq_msg_close (&body);
    }
    msgpack_sbuffer_destroy (&ack);
    msgpack_sbuffer_destroy (&last_ack);
    ps_batch_destroy (&batch);
    zmq_close (router);
    return NULL;
}

typedef struct {
    int count;
    uint64_t lines[64];
    ps_err_t codes[64];
} rejects_t;

static void s_on_reject (void *arg, uint64_t line, const ps_error_t *error)
{
    rejects_t *r = arg;
    if (r->count < 64) {
        r->lines[r->count] = line;
        r->codes[r->count] = error->code;
    }
    r->count++;
}

static ps_report_t s_report (const char *source, int64_t count)
{
    ps_report_t r;
    memset (&r, 0, sizeof r);
    snprintf (r.source, sizeof r.source, "%s", source);
    r.period = (ps_period_t){2012, PS_GRAN_YEAR, 0, 0};
    r.has_count = true;
    r.count = count;
    return r;
}

typedef struct {
    void *ctx;
    fake_t fake;
    pthread_t thread;
    bool running;
    rejects_t rejects;
    ps_sender_config_t config;
} world_t;

static void s_world_start (world_t *w, const char *endpoint)
{
    memset (w, 0, sizeof *w);
    w->ctx = zmq_ctx_new ();
    w->fake.ctx = w->ctx;
    w->fake.endpoint = endpoint;
    /* first seq 7, 3 reports a batch, window 2, 150 ms timeout, 3 retries */
    w->config = (ps_sender_config_t){endpoint, "unit-test", 7, 3, 2, 150, 3, NULL};
}

static void s_world_run_ingest (world_t *w)
{
    assert_int_equal (pthread_create (&w->thread, NULL, s_fake_ingest, &w->fake), 0);
    w->running = true;
    while (!atomic_load (&w->fake.bound))
        ;
}

static void s_world_stop (world_t *w)
{
    if (w->running) {
        atomic_store (&w->fake.stop, true);
        pthread_join (w->thread, NULL);
        assert_false (atomic_load (&w->fake.failed));
    }
    zmq_ctx_term (w->ctx);
}

/*  Sends N reports (line = 10 + index; every report whose index is in BAD
    gets source "BAD"). Returns ps_sender_flush's result. */
static int s_send (world_t *w, ps_sender_t **sender, int n, const int *bad, int nbad)
{
    *sender = ps_sender_new (w->ctx, &w->config, s_on_reject, &w->rejects);
    assert_non_null (*sender);
    for (int i = 0; i < n; i++) {
        bool is_bad = false;
        for (int k = 0; k < nbad; k++)
            is_bad |= bad[k] == i;
        ps_report_t r = s_report (is_bad ? "BAD" : "CMI", i);
        if (ps_sender_add (*sender, &r, 10 + (uint64_t) i) != 0)
            return -1;
    }
    return ps_sender_flush (*sender);
}

static void test_rejects_map_to_lines (void **state)
{
    (void) state;
    world_t w;
    s_world_start (&w, "inproc://sender-rejects");
    s_world_run_ingest (&w);
    ps_sender_t *sender;
    int bad[] = {1, 4, 6};
    assert_int_equal (s_send (&w, &sender, 7, bad, 3), 0);
    const ps_sender_stats_t *st = ps_sender_stats (sender);
    assert_int_equal (st->sent, 7);
    assert_int_equal (st->accepted, 4);
    assert_int_equal (st->rejected, 3);
    assert_int_equal (st->batches, 3); /* 3 + 3 + 1 */
    assert_int_equal (st->retries, 0);
    assert_int_equal (w.rejects.count, 3);
    assert_int_equal (w.rejects.lines[0], 11);
    assert_int_equal (w.rejects.lines[1], 14);
    assert_int_equal (w.rejects.lines[2], 16);
    assert_int_equal (w.rejects.codes[0], PS_E_SYNTAX);
    /* Seqs start at first_seq and increase by one per batch. */
    assert_int_equal (w.fake.frames, 3);
    assert_int_equal (w.fake.seqs[0], 7);
    assert_int_equal (w.fake.seqs[1], 8);
    assert_int_equal (w.fake.seqs[2], 9);
    assert_string_equal (w.fake.producer, "unit-test");
    ps_sender_destroy (&sender);
    assert_null (sender);
    s_world_stop (&w);
}

static void test_lazy_pirate_resends_same_seq (void **state)
{
    (void) state;
    world_t w;
    s_world_start (&w, "inproc://sender-pirate");
    w.fake.drop = 2; /* both batches of the window are lost once */
    s_world_run_ingest (&w);
    ps_sender_t *sender;
    int bad[] = {5};
    assert_int_equal (s_send (&w, &sender, 6, bad, 1), 0);
    const ps_sender_stats_t *st = ps_sender_stats (sender);
    assert_int_equal (st->sent, 6);
    assert_int_equal (st->accepted, 5);
    assert_int_equal (st->rejected, 1);
    assert_int_equal (st->batches, 2);
    assert_int_equal (st->retries, 2);
    assert_int_equal (w.rejects.lines[0], 15);
    /* 7, 8 lost; then 7, 8 again in order, same producer and seq. */
    assert_int_equal (w.fake.frames, 4);
    uint64_t expected[] = {7, 8, 7, 8};
    for (int i = 0; i < 4; i++)
        assert_int_equal (w.fake.seqs[i], expected[i]);
    ps_sender_destroy (&sender);
    s_world_stop (&w);
}

static void test_retry_later_then_ok (void **state)
{
    (void) state;
    world_t w;
    s_world_start (&w, "inproc://sender-retry");
    w.config.window = 1;
    w.fake.retry_first = 2;
    s_world_run_ingest (&w);
    ps_sender_t *sender;
    assert_int_equal (s_send (&w, &sender, 3, NULL, 0), 0);
    const ps_sender_stats_t *st = ps_sender_stats (sender);
    assert_int_equal (st->accepted, 3);
    assert_int_equal (st->rejected, 0);
    assert_int_equal (st->retries, 2);
    assert_int_equal (w.fake.frames, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal (w.fake.seqs[i], 7);
    ps_sender_destroy (&sender);
    s_world_stop (&w);
}

static void test_retry_later_overtaken_is_rejected (void **state)
{
    (void) state;
    world_t w;
    s_world_start (&w, "inproc://sender-overtaken");
    w.fake.retry_first = 1; /* seq 7 refused, seq 8 accepted meanwhile */
    s_world_run_ingest (&w);
    ps_sender_t *sender;
    assert_int_equal (s_send (&w, &sender, 6, NULL, 0), 0);
    const ps_sender_stats_t *st = ps_sender_stats (sender);
    /* Seq 7 cannot be applied any more: its rows are reported, not lost
       silently and not reordered behind seq 8. */
    assert_int_equal (st->accepted, 3);
    assert_int_equal (st->rejected, 3);
    assert_int_equal (w.rejects.count, 3);
    assert_int_equal (w.rejects.lines[0], 10);
    assert_int_equal (w.rejects.codes[0], PS_E_RETRY);
    ps_sender_destroy (&sender);
    s_world_stop (&w);
}

/*  Against an ingest that holds later seqs back while an earlier one is
    refused: both come back retry_later and go again in order. */
static void test_retry_later_resent_in_order (void **state)
{
    (void) state;
    world_t w;
    s_world_start (&w, "inproc://sender-hold");
    w.fake.retry_first = 1;
    w.fake.hold = true;
    s_world_run_ingest (&w);
    ps_sender_t *sender;
    assert_int_equal (s_send (&w, &sender, 6, NULL, 0), 0);
    const ps_sender_stats_t *st = ps_sender_stats (sender);
    assert_int_equal (st->accepted, 6);
    assert_int_equal (st->rejected, 0);
    uint64_t expected[] = {7, 8, 7, 8};
    assert_int_equal (w.fake.frames, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal (w.fake.seqs[i], expected[i]);
    ps_sender_destroy (&sender);
    s_world_stop (&w);
}

/*  retry_later means ingest is there: the sender keeps resending (the
    retries limit is for silence), with a pause capped by the timeout. */
static void test_retry_later_never_gives_up (void **state)
{
    (void) state;
    world_t w;
    s_world_start (&w, "inproc://sender-patient");
    w.config.window = 1;
    w.config.retries = 1;
    w.fake.retry_first = 8;
    s_world_run_ingest (&w);
    ps_sender_t *sender;
    assert_int_equal (s_send (&w, &sender, 3, NULL, 0), 0);
    const ps_sender_stats_t *st = ps_sender_stats (sender);
    assert_int_equal (st->accepted, 3);
    assert_int_equal (st->retries, 8);
    ps_sender_destroy (&sender);
    s_world_stop (&w);
}

/*  Seq 7 refused, the ack of seq 8 lost: the recovery sends 7 before 8
    again, so that an ingest that forgot the refusal (restarted) cannot
    accept 8 first and make 7 a duplicate. */
static void test_recovery_keeps_order (void **state)
{
    (void) state;
    world_t w;
    s_world_start (&w, "inproc://sender-order");
    w.fake.retry_first = 1;
    w.fake.drop_mask = 1u << 1;
    s_world_run_ingest (&w);
    ps_sender_t *sender;
    assert_int_equal (s_send (&w, &sender, 6, NULL, 0), 0);
    const ps_sender_stats_t *st = ps_sender_stats (sender);
    assert_int_equal (st->accepted, 6);
    assert_int_equal (st->rejected, 0);
    uint64_t expected[] = {7, 8, 7, 8};
    assert_int_equal (w.fake.frames, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal (w.fake.seqs[i], expected[i]);
    ps_sender_destroy (&sender);
    s_world_stop (&w);
}

static void test_duplicates_count_as_accepted (void **state)
{
    (void) state;
    world_t w;
    s_world_start (&w, "inproc://sender-dup");
    s_world_run_ingest (&w);
    ps_sender_t *sender;
    assert_int_equal (s_send (&w, &sender, 6, NULL, 0), 0);
    ps_sender_destroy (&sender);
    /* The same producer and seqs again: the last batch gets its ack again,
       the older one "duplicate". */
    assert_int_equal (s_send (&w, &sender, 6, NULL, 0), 0);
    const ps_sender_stats_t *st = ps_sender_stats (sender);
    assert_int_equal (st->accepted, 6);
    assert_int_equal (st->duplicate_rows, 3);
    assert_int_equal (st->rejected, 0);
    ps_sender_destroy (&sender);
    s_world_stop (&w);
}

static void test_gives_up_without_ingest (void **state)
{
    (void) state;
    world_t w;
    s_world_start (&w, "tcp://127.0.0.1:1");
    w.config.retries = 1;
    ps_sender_t *sender;
    assert_int_equal (s_send (&w, &sender, 2, NULL, 0), -1);
    const char *why = ps_sender_error (sender);
    assert_non_null (strstr (why, "no answer from ingest at tcp://127.0.0.1:1 after 2 attempts"));
    assert_int_equal (ps_sender_stats (sender)->retries, 1);
    ps_sender_destroy (&sender);
    s_world_stop (&w);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_rejects_map_to_lines),
        cmocka_unit_test (test_lazy_pirate_resends_same_seq),
        cmocka_unit_test (test_retry_later_then_ok),
        cmocka_unit_test (test_retry_later_overtaken_is_rejected),
        cmocka_unit_test (test_retry_later_resent_in_order),
        cmocka_unit_test (test_retry_later_never_gives_up),
        cmocka_unit_test (test_recovery_keeps_order),
        cmocka_unit_test (test_duplicates_count_as_accepted),
        cmocka_unit_test (test_gives_up_without_ingest),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
