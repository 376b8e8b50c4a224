/*  The feed's subscription bounds: which subscriptions publish accepts,
    what it counts, and which connection it closes when one more prefix
    would pass the bound. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ps_clock.h"
#include "ps_subs.h"

static ps_subs_verdict_t s_sub (ps_subs_t *subs, const char *prefix)
{
    return ps_subs_subscribe (subs, prefix, strlen (prefix));
}

static bool s_unsub (ps_subs_t *subs, const char *prefix)
{
    return ps_subs_unsubscribe (subs, prefix, strlen (prefix));
}

static void test_subscriptions_within_the_bound_are_accepted (void **state)
{
    (void) state;
    ps_subs_t *subs = ps_subs_new (3, 1000, -1);
    assert_int_equal (s_sub (subs, ""), PS_SUBS_ACCEPTED);
    assert_int_equal (s_sub (subs, "CMI/2012/"), PS_SUBS_ACCEPTED);
    assert_int_equal (s_sub (subs, "$hb/CMI/2012/"), PS_SUBS_ACCEPTED);
    /* Another subscriber of a held prefix (or the same one twice) adds
       nothing to what libzmq holds: accepted even with the set full. */
    assert_int_equal (s_sub (subs, "CMI/2012/"), PS_SUBS_ACCEPTED);
    assert_int_equal (ps_subs_size (subs), 3);
    /* The feed reports only the departure of a prefix's last subscriber. */
    assert_true (s_unsub (subs, "CMI/2012/"));
    assert_int_equal (ps_subs_size (subs), 2);
    /* An unsubscription from a prefix not held changes nothing. */
    assert_false (s_unsub (subs, "CMI/2012/"));
    assert_false (s_unsub (subs, "never"));
    assert_int_equal (ps_subs_size (subs), 2);
    assert_int_equal (ps_subs_refused (subs, PS_SUBS_TOO_LONG), 0);
    assert_int_equal (ps_subs_refused (subs, PS_SUBS_FULL), 0);
    assert_int_equal (ps_subs_refused (subs, PS_SUBS_ACCEPTED), 0);
    ps_subs_destroy (&subs);
    assert_null (subs);
    ps_subs_destroy (&subs);
}

static void test_a_prefix_longer_than_any_use_is_refused (void **state)
{
    (void) state;
    /* "$hb/" and the longest topic: 440 bytes. */
    assert_int_equal (PS_SUBS_PREFIX_MAX, 440);
    char prefix[PS_SUBS_PREFIX_MAX + 2];
    memset (prefix, 'x', sizeof prefix);
    ps_subs_t *subs = ps_subs_new (10, 1000, -1);
    assert_int_equal (ps_subs_subscribe (subs, prefix, PS_SUBS_PREFIX_MAX), PS_SUBS_ACCEPTED);
    assert_int_equal (ps_subs_subscribe (subs, prefix, PS_SUBS_PREFIX_MAX + 1), PS_SUBS_TOO_LONG);
    assert_int_equal (ps_subs_subscribe (subs, prefix, PS_SUBS_PREFIX_MAX + 2), PS_SUBS_TOO_LONG);
    /* Refused, but libzmq holds it all the same: it counts toward the bound. */
    assert_int_equal (ps_subs_size (subs), 3);
    assert_int_equal (ps_subs_subscribe (subs, prefix, PS_SUBS_PREFIX_MAX + 1), PS_SUBS_TOO_LONG);
    assert_int_equal (ps_subs_refused (subs, PS_SUBS_TOO_LONG), 3);
    assert_false (ps_subs_unsubscribe (subs, prefix, PS_SUBS_PREFIX_MAX + 1));
    assert_true (ps_subs_unsubscribe (subs, prefix, PS_SUBS_PREFIX_MAX));
    assert_int_equal (ps_subs_size (subs), 1);
    ps_subs_destroy (&subs);
}

static void test_a_new_prefix_beyond_the_bound_is_refused_until_room_is_made (void **state)
{
    (void) state;
    ps_subs_t *subs = ps_subs_new (2, 1000, -1);
    assert_int_equal (s_sub (subs, "A/"), PS_SUBS_ACCEPTED);
    assert_int_equal (s_sub (subs, "B/"), PS_SUBS_ACCEPTED);
    assert_int_equal (s_sub (subs, "C/"), PS_SUBS_FULL);
    assert_int_equal (s_sub (subs, "$hb/D/"), PS_SUBS_FULL);
    assert_int_equal (ps_subs_size (subs), 4);
    assert_int_equal (ps_subs_refused (subs, PS_SUBS_FULL), 2);
    /* C is held (by the connection publish is closing): another
       subscriber of it is refused too while the set is over its bound. */
    assert_int_equal (s_sub (subs, "C/"), PS_SUBS_FULL);
    assert_int_equal (ps_subs_refused (subs, PS_SUBS_FULL), 3);
    /* The evicted connection leaves: its refused prefixes go. */
    assert_false (s_unsub (subs, "$hb/D/"));
    assert_int_equal (ps_subs_size (subs), 3);
    assert_true (s_unsub (subs, "A/"));
    /* Back within the bound: C, still held by another subscriber, is
       accepted on its next subscription; a new prefix is refused. */
    assert_int_equal (s_sub (subs, "C/"), PS_SUBS_ACCEPTED);
    assert_int_equal (s_sub (subs, "E/"), PS_SUBS_FULL);
    assert_false (s_unsub (subs, "E/"));
    assert_true (s_unsub (subs, "C/"));
    assert_int_equal (s_sub (subs, "E/"), PS_SUBS_ACCEPTED);
    assert_int_equal (ps_subs_size (subs), 2);
    ps_subs_destroy (&subs);
}

static void test_a_zero_bound_refuses_every_prefix (void **state)
{
    (void) state;
    ps_subs_t *subs = ps_subs_new (0, 1000, -1);
    assert_int_equal (s_sub (subs, ""), PS_SUBS_FULL);
    assert_false (s_unsub (subs, ""));
    assert_int_equal (ps_subs_size (subs), 0);
    /* Not on TCP: no connection can be picked, none is closed. */
    ps_subs_peer_t peer;
    assert_false (ps_subs_evict (subs, 1000, &peer));
    assert_int_equal (ps_subs_evicted (subs, PS_SUBS_FULL), 0);
    ps_subs_destroy (&subs);
}

static void test_refusals_are_reported_at_most_every_ten_seconds (void **state)
{
    (void) state;
    ps_subs_t *subs = ps_subs_new (1, 1000, -1);
    uint64_t since = 99;
    assert_false (ps_subs_warn_due (subs, 0, &since));
    assert_int_equal (s_sub (subs, "A/"), PS_SUBS_ACCEPTED);
    assert_false (ps_subs_warn_due (subs, 0, &since));
    assert_int_equal (s_sub (subs, "B/"), PS_SUBS_FULL);
    assert_true (ps_subs_warn_due (subs, 0, &since));
    assert_int_equal (since, 1);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_sub (subs, "B/"), PS_SUBS_FULL);
    assert_false (ps_subs_warn_due (subs, 9999, &since));
    assert_true (ps_subs_warn_due (subs, 10000, &since));
    assert_int_equal (since, 5);
    /* Nothing refused since: nothing to say. */
    assert_false (ps_subs_warn_due (subs, 30000, &since));
    ps_subs_destroy (&subs);
}

static void test_tcp_ports_are_read_from_endpoints (void **state)
{
    (void) state;
    assert_int_equal (ps_subs_tcp_port ("tcp://127.0.0.1:7404"), 7404);
    assert_int_equal (ps_subs_tcp_port ("tcp://[::1]:9"), 9);
    assert_int_equal (ps_subs_tcp_port ("tcp://0.0.0.0:65535"), 65535);
    assert_int_equal (ps_subs_tcp_port ("tcp://0.0.0.0:65536"), -1);
    assert_int_equal (ps_subs_tcp_port ("tcp://127.0.0.1:0"), -1);
    assert_int_equal (ps_subs_tcp_port ("tcp://127.0.0.1:"), -1);
    assert_int_equal (ps_subs_tcp_port ("tcp://127.0.0.1:12x"), -1);
    assert_int_equal (ps_subs_tcp_port ("tcp://host"), -1);
    assert_int_equal (ps_subs_tcp_port ("ipc:///tmp/feed:1"), -1);
    assert_int_equal (ps_subs_tcp_port ("inproc://feed"), -1);
    assert_int_equal (ps_subs_tcp_port (NULL), -1);
}

/* A listening socket on a free loopback port, *PORT. */
static int s_listen (int *port)
{
    int listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    assert_int_equal (bind (listener, (struct sockaddr *) &addr, sizeof addr), 0);
    assert_int_equal (listen (listener, 4), 0);
    assert_int_equal (getsockname (listener, (struct sockaddr *) &addr, &len), 0);
    *port = ntohs (addr.sin_port);
    return listener;
}

/* A connected pair over loopback: CLIENT connects to the listener,
 *SERVER is the accepted end. */
static int s_connect (int listener, int port, int *server)
{
    int client = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (client >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port)};
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (connect (client, (struct sockaddr *) &addr, sizeof addr), 0);
    *server = accept (listener, NULL, NULL);
    assert_true (*server >= 0);
    return client;
}

/* The descriptor ps_subs_drop_busy_peer shut down, or -1. */
static int s_drop (int port, unsigned recent_ms, uint64_t min_bytes)
{
    ps_subs_peer_t peer;
    if (ps_subs_drop_busy_peer (port, recent_ms, min_bytes, &peer) != 0)
        return -1;
    assert_true (peer.bytes > 0);
    assert_true (strncmp (peer.peer, "127.0.0.1:", 10) == 0);
    return peer.fd;
}

/* Sends N bytes from CLIENT and waits until SERVER has them all (TCP_INFO
   counts them then). */
static void s_send_and_wait (int client, int server, size_t n)
{
    char buf[4096];
    assert_true (n <= sizeof buf);
    memset (buf, 's', n);
    assert_int_equal (send (client, buf, n, 0), (ssize_t) n);
    for (size_t got = 0; got < n;) {
        struct pollfd p = {server, POLLIN, 0};
        assert_int_equal (poll (&p, 1, 5000), 1);
        ssize_t rc = recv (server, buf, sizeof buf, 0);
        assert_true (rc > 0);
        got += (size_t) rc;
    }
}

/* True when CLIENT sees the end of the stream (its peer was shut down). */
static bool s_ended (int client)
{
    struct pollfd p = {client, POLLIN, 0};
    char buf[8];
    return poll (&p, 1, 2000) == 1 && recv (client, buf, sizeof buf, MSG_DONTWAIT) == 0;
}

static void s_close (const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        close (fds[i]);
}

static void s_sleep_ms (long ms)
{
    nanosleep (&(struct timespec){ms / 1000, (ms % 1000) * 1000 * 1000}, NULL);
}

static void test_the_connection_flooding_is_shut_down (void **state)
{
    (void) state;
    int port;
    int listener = s_listen (&port);

    int quiet_server, busy_server, idle_server;
    int quiet = s_connect (listener, port, &quiet_server);
    int busy = s_connect (listener, port, &busy_server);
    int idle = s_connect (listener, port, &idle_server);
    /* Nothing received for 300 ms (nor made): nothing to pick. */
    s_sleep_ms (300);
    assert_int_equal (s_drop (port, 250, 0), -1);
    s_send_and_wait (quiet, quiet_server, 3);
    s_send_and_wait (busy, busy_server, 3000);
    /* Only the listener's port counts: none of the clients' own ends. */
    assert_int_equal (s_drop (port < 65535 ? port + 1 : 1, 250, 0), -1);
    /* Neither has sent 4000 bytes. */
    assert_int_equal (s_drop (port, 250, 4000), -1);
    assert_int_equal (s_drop (port, 250, 0), busy_server);
    assert_true (s_ended (busy));
    /* The others keep their connection. Once QUIET's bytes are 300 ms
       old, nothing is left to pick within 250 ms; within a minute, QUIET
       is (it has sent more than IDLE). */
    struct pollfd p[2] = {{quiet, POLLIN, 0}, {idle, POLLIN, 0}};
    assert_int_equal (poll (p, 2, 300), 0);
    assert_int_equal (s_drop (port, 250, 0), -1);
    assert_int_equal (s_drop (port, 60000, 0), quiet_server);
    assert_true (s_ended (quiet));
    assert_int_equal (poll (&p[1], 1, 100), 0);

    /* Eviction for the bound: not a connection that sent a few bytes
       only, and one look per 20 ms at most. */
    ps_subs_t *subs = ps_subs_new (1, 1000, port);
    ps_subs_peer_t peer;
    s_send_and_wait (idle, idle_server, 100);
    assert_false (ps_subs_evict (subs, 1000, &peer));
    for (int i = 0; i < 5; i++)
        s_send_and_wait (idle, idle_server, 4000);
    assert_false (ps_subs_evict (subs, 1019, &peer));
    assert_true (ps_subs_evict (subs, 1020, &peer));
    assert_int_equal (peer.fd, idle_server);
    assert_int_equal (peer.bytes, 20100);
    assert_true (s_ended (idle));
    assert_int_equal (ps_subs_evicted (subs, PS_SUBS_FULL), 1);
    /* Nothing left to close. */
    assert_false (ps_subs_evict (subs, 5000, &peer));
    assert_int_equal (ps_subs_evicted (subs, PS_SUBS_FULL), 1);
    ps_subs_destroy (&subs);

    s_close ((int[]){quiet, busy, idle, quiet_server, busy_server, idle_server, listener}, 7);
}

/*  The guard's count of closed connections once it reaches WANT (5 s at
    most): the guard counts a connection just after shutting it down, so
    its peer can see the end before the count moves. */
static uint64_t s_closed_count (ps_subs_guard_t *guard, uint64_t want)
{
    for (int i = 0; i < 500 && ps_subs_guard_closed (guard) < want; i++)
        s_sleep_ms (10);
    return ps_subs_guard_closed (guard);
}

static void test_the_guard_closes_a_connection_sending_too_fast (void **state)
{
    (void) state;
    int port;
    int listener = s_listen (&port);
    int slow_server, fast_server;
    int slow = s_connect (listener, port, &slow_server);
    int fast = s_connect (listener, port, &fast_server);
    /* 1000 bytes at once, then 2000 a second. */
    ps_subs_guard_t *guard =
        ps_subs_guard_new (port, &(ps_subs_limits_t){1000, 2000, 1 << 20, 1 << 20});
    assert_non_null (guard);
    s_send_and_wait (slow, slow_server, 900);
    s_send_and_wait (fast, fast_server, 1500);
    assert_true (s_ended (fast));
    assert_int_equal (s_closed_count (guard, 1), 1);
    /* Within its rate, the other may go on sending. */
    for (int i = 0; i < 5; i++) {
        s_sleep_ms (100);
        s_send_and_wait (slow, slow_server, 150);
    }
    struct pollfd p = {slow, POLLIN, 0};
    assert_int_equal (poll (&p, 1, 100), 0);
    assert_int_equal (ps_subs_guard_closed (guard), 1);
    ps_subs_guard_destroy (&guard);
    assert_null (guard);
    ps_subs_guard_destroy (&guard);
    s_close ((int[]){slow, fast, slow_server, fast_server, listener}, 5);
}

static void test_the_guard_closes_the_biggest_senders_beyond_the_total (void **state)
{
    (void) state;
    int port;
    int listener = s_listen (&port);
    int server[3], client[3];
    size_t sent[3] = {900, 600, 100};
    for (int i = 0; i < 3; i++) {
        client[i] = s_connect (listener, port, &server[i]);
        s_send_and_wait (client[i], server[i], sent[i]);
    }
    /* Each within its own limit, 1600 bytes together against 1000: the
       900 go, which covers the excess. */
    ps_subs_guard_t *guard = ps_subs_guard_new (port, &(ps_subs_limits_t){1000, 1000, 1000, 0});
    assert_non_null (guard);
    assert_true (s_ended (client[0]));
    struct pollfd p[2] = {{client[1], POLLIN, 0}, {client[2], POLLIN, 0}};
    assert_int_equal (poll (p, 2, 200), 0);
    assert_int_equal (s_closed_count (guard, 1), 1);
    ps_subs_guard_destroy (&guard);
    s_close (client, 3);
    s_close (server, 3);
    close (listener);
}

static ps_subs_verdict_t s_sub_from (ps_subs_t *subs, int fd, const char *prefix, int *condemned)
{
    return ps_subs_subscribe_from (subs, fd, prefix, strlen (prefix), condemned);
}

static void test_a_connection_beyond_its_share_is_refused_and_condemned (void **state)
{
    (void) state;
    ps_subs_t *subs = ps_subs_new (100, 3, -1);
    int condemned;
    char prefix[16];
    for (int i = 0; i < 3; i++) {
        snprintf (prefix, sizeof prefix, "A/%d", i);
        assert_int_equal (s_sub_from (subs, 7, prefix, &condemned), PS_SUBS_ACCEPTED);
        assert_int_equal (condemned, -1);
    }
    assert_int_equal (ps_subs_count (subs, 7), 3);
    /* The fourth is refused and its connection condemned, once. */
    assert_int_equal (s_sub_from (subs, 7, "A/3", &condemned), PS_SUBS_CONN);
    assert_int_equal (condemned, 7);
    assert_true (ps_subs_reaping (subs));
    assert_int_equal (s_sub_from (subs, 7, "A/4", &condemned), PS_SUBS_CONN);
    assert_int_equal (condemned, -1);
    assert_int_equal (ps_subs_refused (subs, PS_SUBS_CONN), 2);
    /* The set mirrors libzmq's trie: the refused prefixes are held too,
       but only the accepted ones count against the bound. */
    assert_int_equal (ps_subs_size (subs), 5);
    assert_int_equal (ps_subs_accepted (subs), 3);
    assert_false (ps_subs_unsubscribe (subs, "A/3", 3));
    /* Another connection has its own share. */
    assert_int_equal (s_sub_from (subs, 8, "A/0", &condemned), PS_SUBS_ACCEPTED);
    /* Not on a TCP feed: nothing to close, nothing closed. */
    ps_subs_peer_t peer;
    ps_subs_verdict_t why;
    assert_false (ps_subs_reap (subs, ps_clock_ms () + 5000, &peer, &why));
    assert_false (ps_subs_reaping (subs));
    assert_int_equal (ps_subs_evicted (subs, PS_SUBS_CONN), 0);
    /* A new connection on descriptor 7 starts from nothing. */
    ps_subs_reset (subs, 7);
    assert_int_equal (ps_subs_count (subs, 7), 0);
    assert_int_equal (s_sub_from (subs, 7, "B/0", &condemned), PS_SUBS_ACCEPTED);
    ps_subs_destroy (&subs);
}

static void test_refused_prefixes_leave_room_for_new_subscribers (void **state)
{
    (void) state;
    ps_subs_t *subs = ps_subs_new (4, 2, -1);
    int condemned;
    char prefix[16];
    /* A connection past its share, sending hundreds more (a reconnecting
       SUB sends every subscription again at once). */
    for (int i = 0; i < 300; i++) {
        snprintf (prefix, sizeof prefix, "HOG/%d", i);
        s_sub_from (subs, 5, prefix, &condemned);
    }
    assert_int_equal (ps_subs_size (subs), 300);
    assert_int_equal (ps_subs_accepted (subs), 2);
    /* A subscriber that comes now is accepted: the refused prefixes,
       gone with their connection soon, take no room. */
    assert_int_equal (s_sub_from (subs, 9, "MINE/", &condemned), PS_SUBS_ACCEPTED);
    assert_int_equal (s_sub_from (subs, 9, "$hb/MINE/", &condemned), PS_SUBS_ACCEPTED);
    assert_int_equal (ps_subs_accepted (subs), 4);
    assert_int_equal (s_sub_from (subs, 11, "MORE/", &condemned), PS_SUBS_FULL);
    /* The last unsubscription of an accepted prefix gives its room back;
       a refused one's does not. */
    assert_false (ps_subs_unsubscribe (subs, "HOG/7", 5));
    assert_int_equal (ps_subs_accepted (subs), 4);
    assert_true (ps_subs_unsubscribe (subs, "HOG/0", 5));
    assert_int_equal (ps_subs_accepted (subs), 3);
    assert_int_equal (s_sub_from (subs, 11, "MORE/", &condemned), PS_SUBS_ACCEPTED);
    ps_subs_destroy (&subs);
}

static void test_a_full_set_condemns_the_connection_holding_the_most (void **state)
{
    (void) state;
    ps_subs_t *subs = ps_subs_new (12, 100, -1);
    int condemned;
    char prefix[16];
    for (int i = 0; i < 10; i++) {
        snprintf (prefix, sizeof prefix, "HOG/%d", i);
        assert_int_equal (s_sub_from (subs, 5, prefix, &condemned), PS_SUBS_ACCEPTED);
    }
    assert_int_equal (s_sub_from (subs, 9, "MINE/", &condemned), PS_SUBS_ACCEPTED);
    assert_int_equal (s_sub_from (subs, 9, "$hb/MINE/", &condemned), PS_SUBS_ACCEPTED);
    /* Full: the newcomer is refused, and the hog is condemned for it. */
    assert_int_equal (s_sub_from (subs, 11, "NEW/", &condemned), PS_SUBS_FULL);
    assert_int_equal (condemned, 5);
    /* The hog itself, or one holding less than the sender, is not. */
    ps_subs_reset (subs, 5);
    assert_int_equal (s_sub_from (subs, 9, "MORE/", &condemned), PS_SUBS_FULL);
    assert_int_equal (condemned, -1);
    char why[PS_REASON_MAX];
    assert_string_equal (ps_subs_reason (subs, PS_SUBS_FULL, why, sizeof why),
                         "publish holds its 12 distinct prefixes (--max-subscriptions); "
                         "subscribe again later");
    assert_string_equal (ps_subs_reason (subs, PS_SUBS_CONN, why, sizeof why),
                         "more than 100 subscriptions on one connection "
                         "(--max-subscriptions-per-connection); the connection is closed");
    ps_subs_destroy (&subs);
}

static void test_a_condemned_connection_is_closed_after_its_grace (void **state)
{
    (void) state;
    int server, port;
    int lsock = s_listen (&port);
    int client = s_connect (lsock, port, &server);
    ps_subs_t *subs = ps_subs_new (100, 2, port);
    int condemned;
    s_sub_from (subs, server, "A", &condemned);
    s_sub_from (subs, server, "$hb/A", &condemned);
    assert_int_equal (s_sub_from (subs, server, "B", &condemned), PS_SUBS_CONN);
    ps_subs_peer_t peer;
    ps_subs_verdict_t why;
    /* Not before its notice had time to leave. */
    assert_false (ps_subs_reap (subs, ps_clock_ms (), &peer, &why));
    assert_true (ps_subs_reap (subs, ps_clock_ms () + 5000, &peer, &why));
    assert_int_equal (why, PS_SUBS_CONN);
    assert_int_equal (peer.fd, server);
    assert_int_equal (ps_subs_evicted (subs, PS_SUBS_CONN), 1);
    assert_false (ps_subs_reap (subs, ps_clock_ms () + 10000, &peer, &why));
    assert_true (s_ended (client));
    ps_subs_destroy (&subs);
    s_close ((int[]){client, server, lsock}, 3);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_subscriptions_within_the_bound_are_accepted),
        cmocka_unit_test (test_a_prefix_longer_than_any_use_is_refused),
        cmocka_unit_test (test_a_new_prefix_beyond_the_bound_is_refused_until_room_is_made),
        cmocka_unit_test (test_a_zero_bound_refuses_every_prefix),
        cmocka_unit_test (test_refusals_are_reported_at_most_every_ten_seconds),
        cmocka_unit_test (test_tcp_ports_are_read_from_endpoints),
        cmocka_unit_test (test_the_connection_flooding_is_shut_down),
        cmocka_unit_test (test_the_guard_closes_a_connection_sending_too_fast),
        cmocka_unit_test (test_the_guard_closes_the_biggest_senders_beyond_the_total),
        cmocka_unit_test (test_a_connection_beyond_its_share_is_refused_and_condemned),
        cmocka_unit_test (test_a_full_set_condemns_the_connection_holding_the_most),
        cmocka_unit_test (test_a_condemned_connection_is_closed_after_its_grace),
        cmocka_unit_test (test_refused_prefixes_leave_room_for_new_subscribers),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
