/*  libpaystat-client (ps_client) against a real paystat-publish process,
    which this test feeds as compute would: update frames on a DEALER.
    Late join, live updates and removals, prefixes, new topics missed by
    an overflowing subscriber (found only by the prefix digest), a publish
    restart (new epoch), a silent publish, and the same through a poll
    loop of the program's own (ps_client_fds, ps_client_timeout_ms). */

#define _GNU_SOURCE

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ps_client.h"
#include "ps_clock.h"
#include "ps_log.h"
#include "ps_proto.h"
#include "ps_sock.h"

#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_WAIT_MS 10000 /* at most, for anything the tests wait for */

typedef struct {
    pid_t pid;
    char input[64];
    char feed[64];
    char snapshot[64];
    int feed_port;
} s_publish_t;

typedef struct {
    void *ctx;
    s_publish_t pub;
    void *compute; /* DEALER to publish's input, as compute */
    uint64_t useq;
    ps_client_t *client;
} s_fixture_t;

static int s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    assert_int_equal (getsockname (fd, (struct sockaddr *) &addr, &len), 0);
    close (fd);
    return ntohs (addr.sin_port);
}

static bool s_port_open (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons ((uint16_t) port),
                               .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    bool open = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close (fd);
    return open;
}

static void s_sleep_ms (int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};
    nanosleep (&ts, NULL);
}

/* Starts build/services/publish/paystat-publish (beside this test's
   build/tests/) on PUB's endpoints, with EXTRA arguments (NULL-ended). */
static void s_publish_start (s_publish_t *pub, const char *const *extra)
{
    char self[PATH_MAX] = "", exe[PATH_MAX + 64];
    assert_true (readlink ("/proc/self/exe", self, sizeof self - 1) > 0);
    snprintf (exe, sizeof exe, "%s/../services/publish/paystat-publish", dirname (self));
    const char *argv[32] = {exe,       "--bind",      pub->input,    "--feed",
                            pub->feed, "--snapshot",  pub->snapshot, "--heartbeat-ms",
                            "100",     "--log-level", "warn"};
    int argc = 11;
    for (int i = 0; extra && extra[i]; i++)
        argv[argc++] = extra[i];
    pub->pid = fork ();
    assert_true (pub->pid >= 0);
    if (pub->pid == 0) {
        execv (exe, (char *const *) argv);
        _exit (127);
    }
    for (int waited = 0; !s_port_open (pub->feed_port); waited += 10) {
        assert_true (waited < S_WAIT_MS);
        s_sleep_ms (10);
    }
}

static void s_publish_kill (s_publish_t *pub, int sig)
{
    kill (pub->pid, sig);
    int status;
    waitpid (pub->pid, &status, 0);
    if (sig == SIGTERM)
        assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

static int s_setup_with (void **state, const char *const *extra, int rcvhwm)
{
    s_fixture_t *f = calloc (1, sizeof *f);
    f->ctx = zmq_ctx_new ();
    f->pub.feed_port = s_free_port ();
    snprintf (f->pub.input, sizeof f->pub.input, "tcp://127.0.0.1:%d", s_free_port ());
    snprintf (f->pub.feed, sizeof f->pub.feed, "tcp://127.0.0.1:%d", f->pub.feed_port);
    snprintf (f->pub.snapshot, sizeof f->pub.snapshot, "tcp://127.0.0.1:%d", s_free_port ());
    s_publish_start (&f->pub, extra);
    ps_sock_opts_t opts = {.hwm = 0, .maxmsgsize = -1, .linger_ms = 0};
    f->compute = ps_sock_new (f->ctx, ZMQ_DEALER, f->pub.input, false, &opts);
    ps_client_opts_t copts = {.feed = f->pub.feed, .snapshot = f->pub.snapshot, .rcvhwm = rcvhwm};
    f->client = ps_client_new (f->ctx, &copts);
    *state = f;
    return f->compute && f->client ? 0 : -1;
}

static int s_setup (void **state)
{
    return s_setup_with (state, NULL, 0);
}

static int s_teardown (void **state)
{
    s_fixture_t *f = *state;
    ps_client_destroy (&f->client);
    ps_sock_destroy (&f->compute);
    zmq_ctx_term (f->ctx);
    s_publish_kill (&f->pub, SIGTERM);
    free (f);
    return 0;
}

/*  A body {"type": "cell", the other keys every cell has (publish refuses
    a cell without them), "n": N, "pad": PAD bytes}. */
static void s_body (msgpack_sbuffer *buf, int n, size_t pad)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 7);
    msgpack_pack_str_with_body (&pk, "type", 4);
    msgpack_pack_str_with_body (&pk, "cell", 4);
    msgpack_pack_str_with_body (&pk, "source", 6);
    msgpack_pack_str_with_body (&pk, "A", 1);
    msgpack_pack_str_with_body (&pk, "period", 6);
    msgpack_pack_str_with_body (&pk, "2012", 4);
    msgpack_pack_str_with_body (&pk, "gran", 4);
    msgpack_pack_str_with_body (&pk, "year", 4);
    msgpack_pack_str_with_body (&pk, "dims", 4);
    msgpack_pack_map (&pk, 0);
    msgpack_pack_str_with_body (&pk, "n", 1);
    msgpack_pack_int (&pk, n);
    msgpack_pack_str_with_body (&pk, "pad", 3);
    msgpack_pack_bin (&pk, pad);
    char *zeros = calloc (1, pad + 1);
    msgpack_pack_bin_body (&pk, zeros, pad);
    free (zeros);
}

/* Publishes TOPICS (NULL-ended) with value N as one update frame (N < 0:
   removes them) and waits until publish confirms it. */
static void s_publish_pad (s_fixture_t *f, const char *const *topics, int n, size_t pad)
{
    ps_update_item_t items[64] = {0};
    msgpack_sbuffer bodies[64];
    size_t count = 0;
    for (; topics[count]; count++) {
        msgpack_sbuffer_init (&bodies[count]);
        if (n >= 0)
            s_body (&bodies[count], n, pad);
        items[count] = (ps_update_item_t){topics[count], strlen (topics[count]),
                                          (const uint8_t *) bodies[count].data, bodies[count].size};
    }
    msgpack_sbuffer frame;
    msgpack_sbuffer_init (&frame);
    assert_int_equal (ps_feed_update_encode (1, ++f->useq, items, count, &frame), 0);
    assert_int_equal (ps_sock_send (f->compute, frame.data, frame.size, 0), 0);
    for (size_t i = 0; i < count; i++)
        msgpack_sbuffer_destroy (&bodies[i]);
    msgpack_sbuffer_destroy (&frame);
    /* The progress reply says it is published. */
    zmq_pollitem_t item = {f->compute, 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&item, 1, S_WAIT_MS), 1);
    char reply[256];
    int size = zmq_recv (f->compute, reply, sizeof reply, 0);
    uint64_t pos;
    ps_error_t err;
    assert_int_equal (ps_control_progress_decode (reply, (size_t) size, &pos, &err), 0);
    assert_int_equal (pos, f->useq);
}

static void s_publish (s_fixture_t *f, const char *const *topics, int n)
{
    s_publish_pad (f, topics, n, 0);
}

/* The next event; fails after S_WAIT_MS without one. */
static ps_client_event_t s_next (s_fixture_t *f)
{
    ps_client_event_t ev;
    assert_int_equal (ps_client_next (f->client, S_WAIT_MS, &ev), 1);
    return ev;
}

/* Events taken by NEXT until one of TYPE; returns it, with the number of updates seen. */
static ps_client_event_t s_until_by (s_fixture_t *f, ps_client_event_t (*next) (s_fixture_t *),
                                     ps_client_event_type_t type, int *updates)
{
    for (;;) {
        ps_client_event_t ev = next (f);
        if (updates && ev.type == PS_CLIENT_UPDATE)
            (*updates)++;
        if (ev.type == type)
            return ev;
    }
}

static ps_client_event_t s_until (s_fixture_t *f, ps_client_event_type_t type, int *updates)
{
    return s_until_by (f, s_next, type, updates);
}

/*  The next event taken the way a program with its own poll loop takes
    them (the gateway): poll() on the client's descriptors for its
    timeout, then ps_client_next without waiting. Fails after S_WAIT_MS. */
static ps_client_event_t s_next_polled (s_fixture_t *f)
{
    int64_t deadline = ps_clock_ms () + S_WAIT_MS;
    ps_client_event_t ev;
    int rc;
    while ((rc = ps_client_next (f->client, 0, &ev)) == 0) {
        assert_true (ps_clock_ms () < deadline);
        int fds[PS_CLIENT_FDS];
        int n = ps_client_fds (f->client, fds);
        assert_true (n >= 1 && n <= PS_CLIENT_FDS);
        struct pollfd pfds[PS_CLIENT_FDS];
        for (int i = 0; i < n; i++)
            pfds[i] = (struct pollfd){fds[i], POLLIN, 0};
        int timeout = ps_client_timeout_ms (f->client);
        assert_true (timeout >= 0);
        assert_true (poll (pfds, (nfds_t) n, timeout) >= 0);
    }
    assert_int_equal (rc, 1);
    return ev;
}

static ps_client_event_t s_until_polled (s_fixture_t *f, ps_client_event_type_t type,
                                         int *updates)
{
    return s_until_by (f, s_next_polled, type, updates);
}

/* The "n" of TOPIC's message in the view, -1 when the view lacks it. */
static int s_view_n (s_fixture_t *f, const char *topic)
{
    const uint8_t *body;
    size_t len;
    if (!ps_client_get (f->client, topic, strlen (topic), &body, &len))
        return -1;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    assert_int_equal (msgpack_unpack_next (&u, (const char *) body, len, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *n = ps_msgpack_map_get (&u.data, "n");
    int value = n ? (int) n->via.i64 : -2;
    msgpack_unpacked_destroy (&u);
    return value;
}

static void test_late_join_then_live_updates_and_removals (void **state)
{
    s_fixture_t *f = *state;
    s_publish (f, (const char *const[]){"A/2012/k=1", "A/2012/k=2", "B/2012/k=1", NULL}, 1);
    assert_int_equal (ps_client_connect (f->client), 0);
    ps_client_event_t ev = s_next (f);
    assert_int_equal (ev.type, PS_CLIENT_RESYNC);
    assert_string_equal (ev.reason, "start");
    int updates = 0;
    ev = s_until (f, PS_CLIENT_SYNCED, &updates);
    assert_int_equal (updates, 3);
    assert_int_equal (ev.topics, 3);
    assert_int_equal (ev.seq, 3);
    assert_true (ps_client_synced (f->client));
    assert_int_equal (s_view_n (f, "B/2012/k=1"), 1);

    s_publish (f, (const char *const[]){"A/2012/k=1", NULL}, 2);
    ev = s_until (f, PS_CLIENT_UPDATE, NULL);
    assert_int_equal (ev.topic_len, 10);
    assert_memory_equal (ev.topic, "A/2012/k=1", 10);
    assert_int_equal (ev.seq, 4);
    assert_int_equal (s_view_n (f, "A/2012/k=1"), 2);

    s_publish (f, (const char *const[]){"A/2012/k=2", NULL}, -1);
    ev = s_until (f, PS_CLIENT_REMOVED, NULL);
    assert_memory_equal (ev.topic, "A/2012/k=2", 10);
    assert_int_equal (ps_client_size (f->client), 2);
    assert_int_equal (s_view_n (f, "A/2012/k=2"), -1);

    /* A prefix heartbeat confirms the view; nothing was resynced. */
    s_until (f, PS_CLIENT_HEARTBEAT, NULL);
    size_t cursor = 0, seen = 0, topic_len, body_len;
    const char *topic;
    const uint8_t *body;
    while (ps_client_view_next (f->client, &cursor, &topic, &topic_len, &body, &body_len))
        seen++;
    assert_int_equal (seen, 2);
    ps_client_stats_t stats;
    ps_client_stats (f->client, &stats);
    assert_int_equal (stats.resyncs, 1);
    assert_int_equal (stats.messages, 2);
}

static void test_prefixes_and_a_later_subscription (void **state)
{
    s_fixture_t *f = *state;
    s_publish (f, (const char *const[]){"A/2012/k=1", "A/2012/k=2", "B/2012/k=1", NULL}, 1);
    assert_int_equal (ps_client_subscribe (f->client, "A/"), 0);
    assert_int_equal (ps_client_connect (f->client), 0);
    assert_int_equal (s_until (f, PS_CLIENT_SYNCED, NULL).topics, 2);
    assert_int_equal (s_view_n (f, "B/2012/k=1"), -1);
    s_publish (f, (const char *const[]){"B/2012/k=1", "A/2012/k=2", NULL}, 5);
    ps_client_event_t ev = s_until (f, PS_CLIENT_UPDATE, NULL);
    assert_memory_equal (ev.topic, "A/2012/k=2", 10);
    /* A new prefix resyncs, and brings its topics in. */
    assert_int_equal (ps_client_subscribe (f->client, "B/"), 0);
    ev = s_next (f);
    assert_int_equal (ev.type, PS_CLIENT_RESYNC);
    assert_string_equal (ev.reason, "subscribe");
    int updates = 0;
    assert_int_equal (s_until (f, PS_CLIENT_SYNCED, &updates).topics, 3);
    assert_int_equal (updates, 1); /* only B/2012/k=1 is new to the view */
    assert_int_equal (s_view_n (f, "B/2012/k=1"), 5);
}

static int s_setup_overflow (void **state)
{
    return s_setup_with (state, (const char *const[]){"--feed-hwm", "1", "--replay-max", "0", NULL},
                         1);
}

static void test_missed_new_topics_are_found_by_the_digest (void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal (ps_client_connect (f->client), 0);
    assert_int_equal (s_until (f, PS_CLIENT_SYNCED, NULL).topics, 0);
    /* The client does not read while 80 new topics of 512 KiB each are
       published: its one-message queue, the socket buffers and publish's
       one-message queue overflow, and publish drops some. Each topic is
       new, so no "prev" can show the hole: only the digest can. */
    char names[80][16];
    for (int frame = 0; frame < 16; frame++) {
        const char *topics[6] = {0};
        for (int i = 0; i < 5; i++) {
            snprintf (names[frame * 5 + i], sizeof names[0], "N/2012/k=%d", frame * 5 + i);
            topics[i] = names[frame * 5 + i];
        }
        s_publish_pad (f, topics, frame, 512 * 1024);
    }
    ps_client_event_t ev = s_until (f, PS_CLIENT_RESYNC, NULL);
    assert_string_equal (ev.reason, "digest");
    assert_int_equal (s_until (f, PS_CLIENT_SYNCED, NULL).topics, 80);
    for (int i = 0; i < 80; i++)
        assert_int_equal (s_view_n (f, names[i]), i / 5);
    ps_client_stats_t stats;
    ps_client_stats (f->client, &stats);
    assert_int_equal (stats.digests, 1);
    assert_int_equal (stats.gaps, 0);
}

static void test_publish_restart_is_a_new_epoch (void **state)
{
    s_fixture_t *f = *state;
    s_publish (f, (const char *const[]){"A/2012/k=1", "A/2012/k=2", NULL}, 1);
    assert_int_equal (ps_client_connect (f->client), 0);
    uint64_t epoch = s_until (f, PS_CLIENT_SYNCED, NULL).epoch;
    s_publish_kill (&f->pub, SIGKILL);
    s_publish_start (&f->pub, NULL);
    /* The new publish knows only what compute sends it again. */
    s_publish (f, (const char *const[]){"A/2012/k=1", NULL}, 7);
    ps_client_event_t ev = s_until (f, PS_CLIENT_RESYNC, NULL);
    assert_true (strcmp (ev.reason, "epoch") == 0 || strcmp (ev.reason, "silence") == 0);
    ev = s_until (f, PS_CLIENT_SYNCED, NULL);
    assert_true (ev.epoch != epoch);
    assert_int_equal (ev.topics, 1);
    assert_int_equal (s_view_n (f, "A/2012/k=1"), 7);
    assert_int_equal (s_view_n (f, "A/2012/k=2"), -1);
}

static int s_setup_silence (void **state)
{
    int rc = s_setup_with (state, NULL, 0);
    s_fixture_t *f = *state;
    ps_client_destroy (&f->client);
    ps_client_opts_t opts = {.feed = f->pub.feed,
                             .snapshot = f->pub.snapshot,
                             .silence_ms = 300,
                             .snapshot_timeout_ms = 1000};
    f->client = ps_client_new (f->ctx, &opts);
    return rc || !f->client ? -1 : 0;
}

static void test_silence_reconnects_and_resyncs (void **state)
{
    s_fixture_t *f = *state;
    s_publish (f, (const char *const[]){"A/2012/k=1", NULL}, 1);
    assert_int_equal (ps_client_connect (f->client), 0);
    s_until (f, PS_CLIENT_SYNCED, NULL);
    kill (f->pub.pid, SIGSTOP);
    ps_client_event_t ev = s_until (f, PS_CLIENT_HEARTBEAT_LOST, NULL);
    ev = s_next (f);
    assert_int_equal (ev.type, PS_CLIENT_RESYNC);
    assert_string_equal (ev.reason, "silence");
    assert_false (ps_client_synced (f->client));
    kill (f->pub.pid, SIGCONT);
    int updates = 0;
    assert_int_equal (s_until (f, PS_CLIENT_SYNCED, &updates).topics, 1);
    assert_int_equal (updates, 0); /* same epoch, same message: nothing changed */
}

/*  The same client in the caller's poll loop: a sync, a live update that
    only the descriptors announce, and a silence noticed from the time
    spent in the caller's poll (the client does not wait itself). */
static void test_own_poll_loop (void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal (ps_client_timeout_ms (f->client), -1); /* not connected */
    s_publish (f, (const char *const[]){"A/2012/k=1", "A/2012/k=2", NULL}, 1);
    assert_int_equal (ps_client_connect (f->client), 0);
    int updates = 0;
    assert_int_equal (s_until_polled (f, PS_CLIENT_SYNCED, &updates).topics, 2);
    assert_int_equal (updates, 2);
    s_publish (f, (const char *const[]){"A/2012/k=2", NULL}, 3);
    ps_client_event_t ev = s_until_polled (f, PS_CLIENT_UPDATE, NULL);
    assert_memory_equal (ev.topic, "A/2012/k=2", 10);
    assert_int_equal (s_view_n (f, "A/2012/k=2"), 3);
    kill (f->pub.pid, SIGSTOP);
    s_until_polled (f, PS_CLIENT_HEARTBEAT_LOST, NULL);
    ev = s_next_polled (f);
    assert_int_equal (ev.type, PS_CLIENT_RESYNC);
    assert_string_equal (ev.reason, "silence");
    kill (f->pub.pid, SIGCONT);
    updates = 0;
    assert_int_equal (s_until_polled (f, PS_CLIENT_SYNCED, &updates).topics, 2);
    assert_int_equal (updates, 0);
}

int main (void)
{
    ps_log_init ("test", PS_LOG_ERROR);
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_late_join_then_live_updates_and_removals, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_prefixes_and_a_later_subscription, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_missed_new_topics_are_found_by_the_digest,
                                         s_setup_overflow, s_teardown),
        cmocka_unit_test_setup_teardown (test_publish_restart_is_a_new_epoch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_silence_reconnects_and_resyncs, s_setup_silence,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_own_poll_loop, s_setup_silence, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
