/*  Unit tests for ps_service: the options and exit codes every service
    shares, its ops endpoints served from its poll, reloads and stops. */

#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ps_log.h"
#include "ps_service.h"

static ps_option_t s_opts[] = {
    {"size", "PAYSTAT_TEST_SIZE", "5", "a number", false, NULL},
    PS_SERVICE_OPTIONS ("PAYSTAT_TEST", "off", "the test's key pair"),
    PS_OPTION_END,
};

static const ps_service_def_t s_def = {"test", "paystat-test", "A service under test.", s_opts};

static ps_service_t *s_new (int *code, int argc, char **argv)
{
    return ps_service_new (&s_def, argc, argv, code);
}

static void test_usage_errors_exit_2 (void **state)
{
    (void) state;
    int code = -1;
    char *bad_level[] = {"paystat-test", "--log-level", "loud", NULL};
    assert_null (s_new (&code, 3, bad_level));
    assert_int_equal (code, PS_EXIT_USAGE);
    char *positional[] = {"paystat-test", "extra", NULL};
    assert_null (s_new (&code, 2, positional));
    assert_int_equal (code, PS_EXIT_USAGE);
    char *unknown[] = {"paystat-test", "--nope", NULL};
    assert_null (s_new (&code, 2, unknown));
    assert_int_equal (code, PS_EXIT_USAGE);
    char *no_key[] = {"paystat-test", "--curve-secret", "/nonexistent/k.key_secret", NULL};
    assert_null (s_new (&code, 3, no_key));
    assert_int_equal (code, PS_EXIT_USAGE);
}

static void test_help_exits_0 (void **state)
{
    (void) state;
    int code = -1;
    char *help[] = {"paystat-test", "--help", NULL};
    assert_null (s_new (&code, 2, help));
    assert_int_equal (code, PS_EXIT_OK);
}

static void test_options_and_ranges (void **state)
{
    (void) state;
    int code = -1;
    char *argv[] = {"paystat-test", "--size", "70", "--log-level", "error", NULL};
    ps_service_t *svc = s_new (&code, 5, argv);
    assert_non_null (svc);
    long size;
    assert_int_equal (ps_service_long (svc, "size", 1, 100, &size), 0);
    assert_int_equal (size, 70);
    assert_int_equal (ps_service_long (svc, "size", 1, 10, &size), -1);
    assert_string_equal (ps_service_opt (svc, "http"), "off");
    assert_false (ps_security_on (ps_service_security (svc)));
    assert_non_null (ps_service_ctx (svc));
    ps_service_destroy (&svc);
    assert_null (svc);
    ps_service_destroy (&svc); /* NULL-safe */
}

typedef struct {
    int port;
    char answer[512];
    volatile int done;
} s_get_t;

static void *s_get_healthz (void *arg)
{
    s_get_t *get = arg;
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) get->port)};
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0) {
        const char *req = "GET /healthz HTTP/1.0\r\n\r\n";
        if (write (fd, req, strlen (req)) == (ssize_t) strlen (req)) {
            size_t got = 0;
            ssize_t n;
            while ((n = read (fd, get->answer + got, sizeof get->answer - 1 - got)) > 0)
                got += (size_t) n;
            get->answer[got] = 0;
        }
    }
    close (fd);
    get->done = 1;
    return NULL;
}

static void s_reload (void *arg)
{
    (*(int *) arg)++;
}

static const char *s_ready (void *arg)
{
    (void) arg;
    return NULL;
}

static void s_collect (void *arg, ps_metrics_t *metrics)
{
    (void) arg;
    (void) metrics;
}

static void test_poll_serves_ops_reloads_and_stops (void **state)
{
    (void) state;
    int code = -1;
    char *argv[] = {"paystat-test", "--http", "127.0.0.1:0", "--log-level", "error", NULL};
    ps_service_t *svc = s_new (&code, 5, argv);
    assert_non_null (svc);
    int reloads = 0;
    ps_service_on_reload (svc, s_reload, &reloads);
    assert_int_equal (ps_service_ops (svc, s_collect, s_ready, NULL), 0);

    /* A pipe as the service's own item: ready once written. */
    int fds[2];
    assert_int_equal (pipe (fds), 0);
    zmq_pollitem_t items[1] = {{NULL, fds[0], ZMQ_POLLIN, 0}};
    assert_int_equal (ps_service_poll (svc, items, 1, 10), 0);
    assert_int_equal (write (fds[1], "x", 1), 1);
    assert_int_equal (ps_service_poll (svc, items, 1, 1000), 1);
    assert_true (items[0].revents & ZMQ_POLLIN);

    /* The ops endpoints are served by the poll, not by a thread of their own. */
    s_get_t get = {.port = ps_service_ops_port (svc)};
    assert_true (get.port > 0);
    pthread_t client;
    assert_int_equal (pthread_create (&client, NULL, s_get_healthz, &get), 0);
    for (int i = 0; i < 500 && !get.done; i++)
        ps_service_poll (svc, items, 0, 20);
    pthread_join (client, NULL);
    assert_non_null (strstr (get.answer, "200"));
    assert_non_null (strstr (get.answer, "ok"));

    /* SIGHUP runs the reload from the poll; SIGTERM stops. */
    raise (SIGHUP);
    ps_service_poll (svc, items, 0, 0);
    assert_int_equal (reloads, 1);
    assert_false (ps_service_stopping (svc));
    raise (SIGTERM);
    assert_int_equal (ps_service_poll (svc, items, 0, 1000), 0);
    assert_true (ps_service_stopping (svc));
    ps_service_destroy (&svc);
    close (fds[0]);
    close (fds[1]);
}

int main (void)
{
    ps_log_init ("test", PS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage_errors_exit_2),
        cmocka_unit_test (test_help_exits_0),
        cmocka_unit_test (test_options_and_ranges),
        cmocka_unit_test (test_poll_serves_ops_reloads_and_stops),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
