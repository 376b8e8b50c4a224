/*  ps_gateway: the HTTP API, stream, dashboard, health and metrics, on a
    real server on a free loopback port, fed with client events. */

#include "test_gateway_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ps_gateway.h"

typedef struct {
    ps_gateway_t *gateway;
    ps_http_t *http;
    uint64_t seq;
} s_fixture_t;

static int s_setup (void **state)
{
    s_fixture_t *f = calloc (1, sizeof *f);
    ps_gateway_opts_t opts = {65536, 8, {0, 0, 0}};
    f->gateway = ps_gateway_new ("127.0.0.1:0", &opts);
    assert_non_null (f->gateway);
    f->http = ps_gateway_http (f->gateway);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    s_fixture_t *f = *state;
    ps_gateway_destroy (&f->gateway);
    assert_null (f->gateway);
    free (f);
    return 0;
}

static void s_event (s_fixture_t *f, ps_client_event_type_t type, const char *topic,
                     const char *fields)
{
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    if (fields)
        t_feed_body (&body, ++f->seq, fields);
    ps_client_event_t ev = {type,
                            topic,
                            topic ? strlen (topic) : 0,
                            (const uint8_t *) body.data,
                            body.size,
                            1,
                            f->seq,
                            type == PS_CLIENT_RESYNC ? "gap" : NULL,
                            0};
    ps_gateway_event (f->gateway, &ev);
    msgpack_sbuffer_destroy (&body);
}

static void s_load (s_fixture_t *f)
{
    s_event (f, PS_CLIENT_RESYNC, NULL, NULL);
    s_event (f, PS_CLIENT_UPDATE, "CMI/2011/card=*",
             T_CELL ("CMI", "2011", "year", 670000, 50740000000, ""));
    s_event (f, PS_CLIENT_UPDATE, "CMI/2012/card=*",
             T_CELL ("CMI", "2012", "year", 1200000, 75230000000, ", \"yoy_amount_pct\": 48.27"));
    s_event (f, PS_CLIENT_UPDATE, "OC/2012/card=*", T_CELL ("OC", "2012", "year", 1, 100, ""));
    s_event (f, PS_CLIENT_SYNCED, NULL, NULL);
}

static int s_connect (s_fixture_t *f, const char *request)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons ((uint16_t) ps_http_port (f->http));
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (connect (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    assert_int_equal (write (fd, request, strlen (request)), (ssize_t) strlen (request));
    return fd;
}

/*  Runs the server, reading FD into BUF until it holds WANT (NULL: until
    the server closes). Returns bytes held. */
static size_t s_read (s_fixture_t *f, int fd, char *buf, size_t size, size_t got, const char *want)
{
    for (int rounds = 0; rounds < 2000; rounds++) {
        buf[got] = '\0';
        if (want && strstr (buf, want))
            break;
        struct pollfd pfds[2] = {{ps_http_fd (f->http), POLLIN, 0}, {fd, POLLIN, 0}};
        poll (pfds, 2, 5);
        ps_http_run (f->http);
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

/*  GET PATH over HTTP/1.0; returns the status and *BODY (malloc'd). */
static int s_get (s_fixture_t *f, const char *path, char **body, char *headers, size_t hsize)
{
    char request[1024];
    snprintf (request, sizeof request, "GET %s HTTP/1.0\r\n\r\n", path);
    int fd = s_connect (f, request);
    static char buf[1 << 20];
    s_read (f, fd, buf, sizeof buf, 0, NULL);
    close (fd);
    int status = 0;
    sscanf (buf, "HTTP/1.%*d %d", &status);
    char *start = strstr (buf, "\r\n\r\n");
    assert_non_null (start);
    if (headers)
        snprintf (headers, hsize, "%.*s", (int) (start - buf), buf);
    *body = strdup (start + 4);
    return status;
}

static json_t *s_get_json (s_fixture_t *f, const char *path, int expect_status)
{
    char *body, headers[2048];
    assert_int_equal (s_get (f, path, &body, headers, sizeof headers), expect_status);
    assert_non_null (strstr (headers, "Content-Type: application/json"));
    json_error_t error;
    json_t *value = json_loads (body, 0, &error);
    if (!value)
        fail_msg ("%s: not JSON: %s", path, body);
    free (body);
    return value;
}

static void test_indicators (void **state)
{
    s_fixture_t *f = *state;
    s_load (f);
    json_t *answer = s_get_json (f, "/api/v1/indicators?prefix=CMI/", 200);
    assert_int_equal (json_integer_value (json_object_get (answer, "count")), 2);
    assert_true (json_is_true (json_object_get (answer, "ready")));
    assert_true (json_is_false (json_object_get (answer, "truncated")));
    assert_int_equal (json_integer_value (json_object_get (answer, "vseq")), 3);
    json_t *list = json_object_get (answer, "indicators");
    assert_int_equal (json_array_size (list), 2);
    json_t *cell = json_array_get (list, 1);
    assert_string_equal (json_string_value (json_object_get (cell, "topic")), "CMI/2012/card=*");
    assert_string_equal (json_string_value (json_object_get (cell, "amount_major")),
                         "752300000.00");
    json_decref (answer);

    /* %-encoded prefix, limit, everything. */
    answer = s_get_json (f, "/api/v1/indicators?prefix=CMI%2F2012%2F&limit=5", 200);
    assert_int_equal (json_integer_value (json_object_get (answer, "count")), 1);
    json_decref (answer);
    answer = s_get_json (f, "/api/v1/indicators?limit=1", 200);
    assert_int_equal (json_integer_value (json_object_get (answer, "count")), 3);
    assert_true (json_is_true (json_object_get (answer, "truncated")));
    assert_int_equal (json_array_size (json_object_get (answer, "indicators")), 1);
    json_decref (answer);

    /* Removed, then gone. */
    s_event (f, PS_CLIENT_REMOVED, "OC/2012/card=*", NULL);
    answer = s_get_json (f, "/api/v1/indicators?prefix=OC/", 200);
    assert_int_equal (json_integer_value (json_object_get (answer, "count")), 0);
    json_decref (answer);
}

static void test_series (void **state)
{
    s_fixture_t *f = *state;
    s_load (f);
    json_t *answer =
        s_get_json (f, "/api/v1/series?source=CMI&dims=card%3D*&granularity=year", 200);
    assert_string_equal (json_string_value (json_object_get (answer, "granularity")), "year");
    assert_string_equal (json_string_value (json_object_get (answer, "dims")), "card=*");
    json_t *points = json_object_get (answer, "points");
    assert_int_equal (json_array_size (points), 2);
    assert_string_equal (json_string_value (json_object_get (json_array_get (points, 0), "period")),
                         "2011");
    assert_string_equal (json_string_value (json_object_get (json_array_get (points, 1), "period")),
                         "2012");
    json_decref (answer);
    /* Granularity defaults to year; an unknown series is empty. */
    answer = s_get_json (f, "/api/v1/series?source=CMI&dims=card=*", 200);
    assert_int_equal (json_array_size (json_object_get (answer, "points")), 2);
    json_decref (answer);
    answer = s_get_json (f, "/api/v1/series?source=CMI&granularity=quarter", 200);
    assert_int_equal (json_array_size (json_object_get (answer, "points")), 0);
    json_decref (answer);
}

/*  Each bad parameter is refused with 400 and a JSON error naming it. */
static void test_bad_parameters (void **state)
{
    s_fixture_t *f = *state;
    static const struct {
        const char *path, *parameter;
    } cases[] = {
        {"/api/v1/series?dims=card=*", "source"},
        {"/api/v1/series?source=C%20MI", "source"},
        {"/api/v1/series?source=CMI&dims=card", "dims"},
        {"/api/v1/series?source=CMI&dims=card=a,card=b", "dims"},
        {"/api/v1/series?source=CMI&granularity=week", "granularity"},
        {"/api/v1/indicators?limit=0", "limit"},
        {"/api/v1/indicators?limit=ten", "limit"},
        {NULL, "prefix"}, /* a prefix longer than any topic, made below */
    };
    char long_prefix[64 + PS_TOPIC_MAX];
    int n = snprintf (long_prefix, sizeof long_prefix, "/api/v1/stream?prefix=");
    memset (long_prefix + n, 'x', PS_TOPIC_MAX + 1);
    long_prefix[n + PS_TOPIC_MAX + 1] = '\0';
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *answer = s_get_json (f, cases[i].path ? cases[i].path : long_prefix, 400);
        json_t *error = json_object_get (answer, "error");
        assert_string_equal (json_string_value (json_object_get (error, "parameter")),
                             cases[i].parameter);
        assert_non_null (
            strstr (json_string_value (json_object_get (error, "reason")), cases[i].parameter));
        json_decref (answer);
    }
    char *body;
    assert_int_equal (s_get (f, "/metrics", &body, NULL, 0), 200);
    assert_non_null (
        strstr (body, "paystat_gateway_http_bad_requests_total{endpoint=\"series\"} 5\n"));
    assert_non_null (
        strstr (body, "paystat_gateway_http_bad_requests_total{endpoint=\"indicators\"} 2\n"));
    free (body);
}

/*  One event per change, to the clients whose prefix matches, with the
    view's vseq as id; readiness changes as "status". */
static void test_stream (void **state)
{
    s_fixture_t *f = *state;
    s_load (f);
    int cmi = s_connect (f, "GET /api/v1/stream?prefix=CMI/ HTTP/1.1\r\nHost: x\r\n\r\n");
    int all = s_connect (f, "GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n");
    static char a[65536], b[65536];
    size_t got_a = s_read (f, cmi, a, sizeof a, 0, ": connected");
    size_t got_b = s_read (f, all, b, sizeof b, 0, ": connected");
    assert_non_null (strstr (a, "Content-Type: text/event-stream"));
    assert_non_null (strstr (a, "retry: "));

    s_event (f, PS_CLIENT_UPDATE, "OC/2012/card=*", T_CELL ("OC", "2012", "year", 2, 200, ""));
    s_event (f, PS_CLIENT_UPDATE, "CMI/2012/card=*",
             T_CELL ("CMI", "2012", "year", 1300000, 80000000000, ""));
    got_a = s_read (f, cmi, a, sizeof a, got_a, "id: 5\n");
    got_b = s_read (f, all, b, sizeof b, got_b, "id: 5\n");
    assert_null (strstr (a, "OC/2012"));
    assert_non_null (strstr (b, "id: 4\nevent: indicator\ndata: {"));
    assert_non_null (strstr (a, "id: 5\nevent: indicator\ndata: {"));
    char *data = strstr (a, "id: 5\nevent: indicator\ndata: ") + 29;
    json_error_t error;
    json_t *event = json_loadb (data, strcspn (data, "\n"), 0, &error);
    assert_non_null (event);
    assert_string_equal (json_string_value (json_object_get (event, "topic")), "CMI/2012/card=*");
    assert_string_equal (json_string_value (json_object_get (event, "amount_major")),
                         "800000000.00");
    assert_int_equal (json_integer_value (json_object_get (event, "vseq")), 5);
    json_decref (event);

    s_event (f, PS_CLIENT_REMOVED, "CMI/2011/card=*", NULL);
    got_a = s_read (f, cmi, a, sizeof a, got_a, "id: 6\n");
    assert_non_null (strstr (a, "id: 6\nevent: removed\ndata: {\"topic\":\"CMI/2011/card=*\","));
    s_event (f, PS_CLIENT_RESYNC, NULL, NULL);
    got_b = s_read (f, all, b, sizeof b, got_b, "event: status\ndata: {\"ready\":false");
    assert_non_null (strstr (b, "event: status\ndata: {\"ready\":false,\"vseq\":6}"));
    ps_gateway_keepalive (f->gateway);
    got_a = s_read (f, cmi, a, sizeof a, got_a, ": keep-alive\n\n");
    assert_non_null (strstr (a, ": keep-alive\n\n"));

    char *body;
    assert_int_equal (s_get (f, "/metrics", &body, NULL, 0), 200);
    assert_non_null (strstr (body, "paystat_gateway_stream_clients 2\n"));
    assert_non_null (strstr (body, "paystat_gateway_resyncs_total{reason=\"gap\"} 2\n"));
    free (body);
    close (cmi);
    close (all);
}

static void test_health_and_ready (void **state)
{
    s_fixture_t *f = *state;
    char *body;
    assert_int_equal (s_get (f, "/healthz", &body, NULL, 0), 200);
    free (body);
    assert_int_equal (s_get (f, "/readyz", &body, NULL, 0), 503);
    free (body);
    json_t *answer = s_get_json (f, "/api/v1/indicators", 200);
    assert_true (json_is_false (json_object_get (answer, "ready")));
    json_decref (answer);
    s_load (f);
    assert_int_equal (s_get (f, "/readyz", &body, NULL, 0), 200);
    free (body);
    s_event (f, PS_CLIENT_HEARTBEAT_LOST, NULL, NULL);
    assert_int_equal (s_get (f, "/readyz", &body, NULL, 0), 503);
    free (body);

    char headers[2048];
    assert_int_equal (s_get (f, "/metrics", &body, headers, sizeof headers), 200);
    assert_non_null (strstr (headers, "text/plain; version=0.0.4"));
    assert_non_null (
        strstr (body, "# TYPE paystat_gateway_ready gauge\npaystat_gateway_ready 0\n"));
    assert_non_null (strstr (body, "paystat_gateway_indicators 3\n"));
    assert_non_null (strstr (body, "paystat_gateway_feed_messages_total 3\n"));
    assert_non_null (strstr (body, "paystat_gateway_heartbeats_lost_total 1\n"));
    assert_non_null (
        strstr (body, "paystat_gateway_http_requests_total{endpoint=\"indicators\"} 1\n"));
    assert_non_null (strstr (body, "process_resident_memory_bytes "));
    free (body);
}

/*  The dashboard is in the binary; unreadable feed messages are counted. */
static void test_dashboard_and_unreadable (void **state)
{
    s_fixture_t *f = *state;
    char *body, headers[2048];
    assert_int_equal (s_get (f, "/", &body, headers, sizeof headers), 200);
    assert_non_null (strstr (headers, "Content-Type: text/html"));
    assert_non_null (strstr (body, "app.js"));
    free (body);
    assert_int_equal (s_get (f, "/app.js", &body, headers, sizeof headers), 200);
    assert_non_null (strstr (headers, "Content-Type: text/javascript"));
    free (body);
    assert_int_equal (s_get (f, "/style.css", &body, headers, sizeof headers), 200);
    assert_non_null (strstr (headers, "Content-Type: text/css"));
    free (body);
    assert_int_equal (s_get (f, "/nothing.js", &body, NULL, 0), 404);
    free (body);

    ps_client_event_t ev = {
        PS_CLIENT_UPDATE, "CMI/2012/", 9, (const uint8_t *) "\xc1", 1, 1, 1, NULL, 0};
    assert_int_equal (ps_gateway_event (f->gateway, &ev), -1);
    assert_int_equal (s_get (f, "/metrics", &body, NULL, 0), 200);
    assert_non_null (strstr (body, "paystat_gateway_feed_unreadable_total 1\n"));
    free (body);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_indicators, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_series, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_parameters, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stream, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_health_and_ready, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_dashboard_and_unreadable, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
