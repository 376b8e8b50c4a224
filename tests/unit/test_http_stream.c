/*  ps_http streams: a real server on a free loopback port, driven through
    the poll loop a service uses, read by a real client socket. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ps_http.h"

typedef struct {
    ps_http_stream_t *stream;
    int opened, ended;
    size_t max_queued;
} s_state_t;

static void s_end (void *arg, ps_http_stream_t *stream)
{
    s_state_t *state = arg;
    assert_ptr_equal (stream, state->stream);
    state->ended++;
    state->stream = NULL;
}

static void s_open (void *arg, ps_http_request_t *request)
{
    s_state_t *state = arg;
    state->stream =
        ps_http_reply_stream (request, "text/event-stream", state->max_queued, s_end, state);
    assert_non_null (state->stream);
    state->opened++;
}

static int s_connect (ps_http_t *http, int rcvbuf)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    if (rcvbuf > 0)
        setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons ((uint16_t) ps_http_port (http));
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (connect (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    return fd;
}

/*  Runs the server and reads from FD into BUF until BUF holds WANT (or the
    connection closed, or many rounds passed). Returns bytes held. */
static size_t s_read_until (ps_http_t *http, int fd, char *buf, size_t size, size_t got,
                            const char *want)
{
    for (int rounds = 0; rounds < 2000; rounds++) {
        buf[got] = '\0';
        if (want && strstr (buf, want))
            break;
        struct pollfd pfds[2] = {{ps_http_fd (http), POLLIN, 0}, {fd, POLLIN, 0}};
        poll (pfds, 2, 5);
        ps_http_run (http);
        if (pfds[1].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read (fd, buf + got, size - 1 - got);
            if (n <= 0)
                break;
            got += (size_t) n;
        }
    }
    buf[got] = '\0';
    return got;
}

static void s_run (ps_http_t *http, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        struct pollfd pfd = {ps_http_fd (http), POLLIN, 0};
        poll (&pfd, 1, 2);
        ps_http_run (http);
    }
}

/*  Written pieces arrive in order, each after the connection sat idle
    (suspended) waiting for it; close ends the body and calls END. */
static void test_stream_writes_and_close (void **state)
{
    (void) state;
    ps_http_t *http = ps_http_new ("127.0.0.1:0", NULL);
    assert_non_null (http);
    s_state_t st = {NULL, 0, 0, 65536};
    assert_int_equal (ps_http_route (http, "/events", s_open, &st), 0);
    int fd = s_connect (http, 0);
    const char *request = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal (write (fd, request, strlen (request)), (ssize_t) strlen (request));
    char buf[8192];
    size_t got = s_read_until (http, fd, buf, sizeof buf, 0, "\r\n\r\n");
    assert_non_null (strstr (buf, "200 OK"));
    assert_non_null (strstr (buf, "Content-Type: text/event-stream"));
    assert_non_null (strstr (buf, "Cache-Control: no-cache"));
    assert_int_equal (st.opened, 1);
    s_run (http, 20); /* nothing to send: the connection is suspended */
    assert_int_equal (ps_http_stream_write (st.stream, "first\n", 6), 0);
    /* Resuming wakes a poll on the server's descriptor: a service's loop
       sleeping in it would otherwise never send. */
    struct pollfd wake = {ps_http_fd (http), POLLIN, 0};
    assert_int_equal (poll (&wake, 1, 10000), 1);
    got = s_read_until (http, fd, buf, sizeof buf, got, "first\n");
    assert_non_null (strstr (buf, "first\n"));
    s_run (http, 20);
    assert_int_equal (ps_http_stream_write (st.stream, "second\n", 7), 0);
    assert_int_equal (ps_http_stream_queued (st.stream), 7);
    got = s_read_until (http, fd, buf, sizeof buf, got, "second\n");
    assert_true (strstr (buf, "first\n") < strstr (buf, "second\n"));
    ps_http_stream_close (st.stream);
    /* Chunked encoding ends with a zero-length chunk. */
    got = s_read_until (http, fd, buf, sizeof buf, got, "\r\n0\r\n\r\n");
    assert_non_null (strstr (buf, "\r\n0\r\n\r\n"));
    close (fd);
    s_run (http, 20);
    assert_int_equal (st.ended, 1);
    assert_null (st.stream);
    ps_http_destroy (&http);
    assert_int_equal (st.ended, 1);
}

/*  A client that does not read: once the kernel's buffers are full, the
    queue reaches its bound, the write is refused and the stream ends. */
static void test_slow_client_dropped (void **state)
{
    (void) state;
    ps_http_t *http = ps_http_new ("127.0.0.1:0", NULL);
    s_state_t st = {NULL, 0, 0, 8192};
    ps_http_route (http, "/events", s_open, &st);
    int fd = s_connect (http, 4096);
    const char *request = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal (write (fd, request, strlen (request)), (ssize_t) strlen (request));
    s_run (http, 50);
    assert_int_equal (st.opened, 1);
    char chunk[1024];
    memset (chunk, 'x', sizeof chunk);
    bool refused = false;
    /* At most 256 MiB: far more than any loopback socket buffers. */
    for (int i = 0; i < 256 * 1024 && !refused; i++) {
        refused = ps_http_stream_write (st.stream, chunk, sizeof chunk) != 0;
        assert_true (st.stream == NULL || ps_http_stream_queued (st.stream) <= 8192);
        ps_http_run (http);
    }
    assert_true (refused);
    for (int i = 0; i < 2000 && st.ended == 0; i++)
        s_run (http, 1);
    assert_int_equal (st.ended, 1);
    close (fd);
    ps_http_destroy (&http);
}

/*  A piece larger than the whole bound is refused at once. */
static void test_oversized_write_refused (void **state)
{
    (void) state;
    ps_http_t *http = ps_http_new ("127.0.0.1:0", NULL);
    s_state_t st = {NULL, 0, 0, 100};
    ps_http_route (http, "/events", s_open, &st);
    int fd = s_connect (http, 0);
    const char *request = "GET /events HTTP/1.0\r\n\r\n";
    assert_int_equal (write (fd, request, strlen (request)), (ssize_t) strlen (request));
    s_run (http, 50);
    char big[101] = {0};
    assert_int_equal (ps_http_stream_write (st.stream, big, sizeof big), -1);
    for (int i = 0; i < 2000 && st.ended == 0; i++)
        s_run (http, 1);
    assert_int_equal (st.ended, 1);
    close (fd);
    ps_http_destroy (&http);
}

/*  Stopping the server with idle (suspended) streams ends each of them. */
static void test_destroy_ends_streams (void **state)
{
    (void) state;
    ps_http_t *http = ps_http_new ("127.0.0.1:0", NULL);
    s_state_t a = {NULL, 0, 0, 1024}, b = {NULL, 0, 0, 1024};
    ps_http_route (http, "/a", s_open, &a);
    ps_http_route (http, "/b", s_open, &b);
    int fa = s_connect (http, 0), fb = s_connect (http, 0);
    assert_int_equal (write (fa, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 28), 28);
    assert_int_equal (write (fb, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", 28), 28);
    for (int i = 0; i < 2000 && (a.opened == 0 || b.opened == 0); i++)
        s_run (http, 1);
    assert_int_equal (a.opened + b.opened, 2);
    s_run (http, 20);
    ps_http_destroy (&http);
    assert_null (http);
    assert_int_equal (a.ended, 1);
    assert_int_equal (b.ended, 1);
    close (fa);
    close (fb);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_stream_writes_and_close),
        cmocka_unit_test (test_slow_client_dropped),
        cmocka_unit_test (test_oversized_write_refused),
        cmocka_unit_test (test_destroy_ends_streams),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
