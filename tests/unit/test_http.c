/*  ps_http and ps_metrics: a real server on a free loopback port, driven
    through the same poll loop a service uses, asked by a real client. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ps_clock.h"
#include "ps_http.h"
#include "ps_metrics.h"

static void s_hello (void *arg, ps_http_request_t *request)
{
    int *calls = arg;
    (*calls)++;
    const char *name = ps_http_query (request, "name");
    char body[64];
    int n = snprintf (body, sizeof body, "hello %s", name ? name : "nobody");
    ps_http_reply (request, 200, "text/plain", body, (size_t) n);
}

/*  A server on a free loopback port with LIMITS (NULL: the defaults)
    and the /hello route, counting its calls in *CALLS. */
static ps_http_t *s_server_new (const ps_http_limits_t *limits, int *calls)
{
    ps_http_t *http = ps_http_new ("127.0.0.1:0", limits);
    assert_non_null (http);
    assert_int_equal (ps_http_route (http, "/hello", s_hello, calls), 0);
    return http;
}

static int s_connect (const ps_http_t *http)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons ((uint16_t) ps_http_port (http));
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (connect (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    return fd;
}

/*  Runs the server's side of the loop until the response on FD is
    complete; returns it in RESPONSE and closes FD. */
static size_t s_answer (ps_http_t *http, int fd, char *response, size_t size)
{
    size_t got = 0;
    for (int rounds = 0; rounds < 2000; rounds++) {
        struct pollfd pfds[2] = {{ps_http_fd (http), POLLIN, 0}, {fd, POLLIN, 0}};
        poll (pfds, 2, 5);
        ps_http_run (http);
        if (pfds[1].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read (fd, response + got, size - 1 - got);
            if (n <= 0)
                break;
            got += (size_t) n;
        }
    }
    close (fd);
    response[got] = '\0';
    return got;
}

/*  Sends REQUEST to the server on a new connection and returns the
    response in RESPONSE. */
static size_t s_exchange (ps_http_t *http, const char *request, char *response, size_t size)
{
    int fd = s_connect (http);
    assert_int_equal (write (fd, request, strlen (request)), (ssize_t) strlen (request));
    return s_answer (http, fd, response, size);
}

static void test_routes_and_errors (void **state)
{
    (void) state;
    ps_http_t *http = ps_http_new ("127.0.0.1:0", NULL);
    assert_non_null (http);
    assert_true (ps_http_port (http) > 0);
    assert_true (ps_http_fd (http) >= 0);
    int calls = 0;
    assert_int_equal (ps_http_route (http, "/hello", s_hello, &calls), 0);
    char response[4096];

    s_exchange (http, "GET /hello?name=ops HTTP/1.0\r\n\r\n", response, sizeof response);
    assert_non_null (strstr (response, "200 OK"));
    assert_non_null (strstr (response, "hello ops"));
    assert_int_equal (calls, 1);

    s_exchange (http, "GET /nowhere HTTP/1.0\r\n\r\n", response, sizeof response);
    assert_non_null (strstr (response, "404"));
    s_exchange (http, "POST /hello HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", response,
                sizeof response);
    assert_non_null (strstr (response, "405"));
    assert_int_equal (calls, 1);
    ps_http_destroy (&http);
    assert_null (http);
}

static void test_bad_listen_address (void **state)
{
    (void) state;
    assert_null (ps_http_new ("localhost", NULL));
    assert_null (ps_http_new ("127.0.0.1:99999", NULL));
    assert_null (ps_http_new ("300.0.0.1:80", NULL));
    assert_null (ps_http_new (":80", NULL));
}

/*  Runs the server until FD is closed by it (read returns 0 or an error). */
static void s_until_closed (ps_http_t *http, int fd)
{
    for (int rounds = 0; rounds < 2000; rounds++) {
        struct pollfd pfds[2] = {{ps_http_fd (http), POLLIN, 0}, {fd, POLLIN, 0}};
        long timeout = ps_http_timeout_ms (http);
        poll (pfds, 2, timeout < 0 || timeout > 5 ? 5 : (int) timeout);
        ps_http_run (http);
        char buf[256];
        if ((pfds[1].revents & (POLLIN | POLLHUP | POLLERR)) && read (fd, buf, sizeof buf) <= 0)
            return;
    }
    fail_msg ("the server never closed the connection");
}

/*  Headers that arrived in time are not held against their connection
    when the loop gets to them late (the service was busy elsewhere past
    the header timeout): the request is answered, not dropped. */
static void test_late_loop_answers_headers_that_came_in_time (void **state)
{
    (void) state;
    int calls = 0;
    ps_http_t *http = s_server_new (&(ps_http_limits_t){2, 100, 0}, &calls);
    int fd = s_connect (http);
    ps_http_stats_t stats = {0};
    for (int rounds = 0; rounds < 1000 && stats.connections == 0; rounds++) {
        poll (NULL, 0, 1);
        ps_http_run (http);
        ps_http_stats (http, &stats);
    }
    assert_int_equal (stats.connections, 1);
    const char *request = "GET /hello?name=late HTTP/1.0\r\n\r\n";
    assert_int_equal (write (fd, request, strlen (request)), (ssize_t) strlen (request));
    poll (NULL, 0, 3 * 100);
    char response[4096];
    s_answer (http, fd, response, sizeof response);
    assert_non_null (strstr (response, "hello late"));
    ps_http_stats (http, &stats);
    assert_int_equal (stats.header_timeouts, 0);
    ps_http_destroy (&http);
}

/*  Connections waiting for headers cannot hold the slots: at the cap a new
    one takes the oldest's slot, and the others are dropped at the header
    timeout, counted. */
static void test_slots_cannot_be_held (void **state)
{
    (void) state;
    int calls = 0;
    ps_http_t *http = s_server_new (&(ps_http_limits_t){2, 200, 0}, &calls);
    int slow[2];
    for (int i = 0; i < 2; i++) {
        slow[i] = s_connect (http);
        assert_int_equal (write (slow[i], "GET /hel", 8), 8);
        ps_http_run (http);
    }
    ps_http_stats_t stats;
    ps_http_stats (http, &stats);
    assert_int_equal (stats.connections, 2);
    char response[4096];
    s_exchange (http, "GET /hello?name=x HTTP/1.0\r\n\r\n", response, sizeof response);
    assert_non_null (strstr (response, "hello x"));
    s_until_closed (http, slow[0]);
    s_until_closed (http, slow[1]);
    /* MHD closes its side of a dropped connection on a later run. */
    for (int rounds = 0; rounds < 1000; rounds++) {
        ps_http_stats (http, &stats);
        if (stats.connections == 0)
            break;
        poll (NULL, 0, 2);
        ps_http_run (http);
    }
    assert_int_equal (stats.evicted, 1);
    assert_int_equal (stats.header_timeouts, 1);
    assert_int_equal (stats.refused, 0);
    assert_int_equal (stats.connections, 0);
    close (slow[0]);
    close (slow[1]);
    ps_metrics_t *m = ps_metrics_new ();
    ps_http_metrics (http, m);
    assert_non_null (strstr (ps_metrics_text (m),
                             "paystat_http_connections_dropped_total{reason=\"evicted\"} 1\n"));
    ps_metrics_destroy (&m);
    ps_http_destroy (&http);
}

/*  The exposition format: HELP and TYPE once per metric name, then one
    sample per line, labels in braces. */
static void test_metrics_text (void **state)
{
    (void) state;
    ps_metrics_t *m = ps_metrics_new ();
    ps_metrics_counter (m, "paystat_x_total", "Things.", "reason=\"a\"", 3);
    ps_metrics_counter (m, "paystat_x_total", "Things.", "reason=\"b\"", 4);
    ps_metrics_gauge (m, "paystat_y", "A level.", NULL, 2.5);
    ps_metrics_process (m, ps_wall_us () - 2000000);
    const char *text = ps_metrics_text (m);
    assert_non_null (strstr (text, "# HELP paystat_x_total Things.\n# TYPE paystat_x_total "
                                   "counter\npaystat_x_total{reason=\"a\"} 3\n"
                                   "paystat_x_total{reason=\"b\"} 4\n"));
    assert_null (strstr (strstr (text, "reason=\"b\""), "# TYPE paystat_x_total"));
    assert_non_null (strstr (text, "# TYPE paystat_y gauge\npaystat_y 2.5\n"));
    assert_non_null (strstr (text, "process_resident_memory_bytes "));
    assert_true (ps_process_rss_bytes () > 0);
    double uptime = 0;
    assert_int_equal (sscanf (strstr (text, "\npaystat_uptime_seconds ") + 1,
                              "paystat_uptime_seconds %lf", &uptime),
                      1);
    assert_true (uptime >= 2.0 && uptime < 60.0);
    ps_metrics_reset (m);
    assert_int_equal (ps_metrics_len (m), 0);
    ps_metrics_destroy (&m);
    assert_null (m);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_routes_and_errors),
        cmocka_unit_test (test_bad_listen_address),
        cmocka_unit_test (test_slots_cannot_be_held),
        cmocka_unit_test (test_late_loop_answers_headers_that_came_in_time),
        cmocka_unit_test (test_metrics_text),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
