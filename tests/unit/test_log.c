/*  Unit tests for ps_log's limits: a flood of one kind of event costs one
    line per interval plus a line with the count, and nothing is lost from
    the count. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ps_log.h"

/* Runs FN with stderr sent to a file, and returns what it wrote (caller frees). */
static char *s_capture (void (*fn) (void))
{
    fflush (stderr);
    char path[] = "/tmp/paystat-test-log-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    int saved = dup (2);
    dup2 (fd, 2);
    fn ();
    fflush (stderr);
    dup2 (saved, 2);
    close (saved);
    FILE *file = fdopen (fd, "r");
    rewind (file);
    static char text[65536];
    size_t n = fread (text, 1, sizeof text - 1, file);
    text[n] = 0;
    fclose (file);
    unlink (path);
    return strdup (text);
}

static int s_count (const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr (text, needle); p; p = strstr (p + 1, needle))
        n++;
    return n;
}

static void s_flood (void)
{
    for (int i = 0; i < 1000; i++)
        ps_log_every (PS_LOG_WARN, 1, "bad frame dropped", "index=%d", i);
}

static void s_flood_then_flush (void)
{
    s_flood ();
    usleep (1100 * 1000);
    ps_log_limits_flush ();
    /* A second interval: its first event is logged again. */
    s_flood ();
}

static void test_flood_is_one_line_and_a_count (void **state)
{
    (void) state;
    char *text = s_capture (s_flood_then_flush);
    /* Two floods through the same call site: first line of each interval, one count line. */
    assert_int_equal (s_count (text, "msg=\"bad frame dropped\""), 3);
    assert_int_equal (s_count (text, "index=0\n"), 2);
    assert_int_equal (s_count (text, "repeated=999 interval_s=1\n"), 1);
    assert_int_equal (s_count (text, "level=warn"), 3);
    free (text);
}

static void s_below_level (void)
{
    ps_log_init ("test", PS_LOG_ERROR);
    for (int i = 0; i < 10; i++)
        ps_log_every (PS_LOG_WARN, 1, "quiet", NULL);
    ps_log_limits_flush ();
    ps_log_init ("test", PS_LOG_DEBUG);
}

static void test_below_the_level_prints_nothing (void **state)
{
    (void) state;
    char *text = s_capture (s_below_level);
    assert_string_equal (text, "");
    free (text);
}

static void s_quiet_sites (void)
{
    ps_log_every (PS_LOG_ERROR, 60, "once", "k=%s", "v");
    ps_log_limits_flush ();
}

static void test_flush_without_repeats_prints_no_count (void **state)
{
    (void) state;
    char *text = s_capture (s_quiet_sites);
    assert_int_equal (s_count (text, "\n"), 1);
    assert_non_null (strstr (text, "level=error svc=test msg=\"once\" k=v\n"));
    free (text);
}

int main (void)
{
    ps_log_init ("test", PS_LOG_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_flood_is_one_line_and_a_count),
        cmocka_unit_test (test_below_the_level_prints_nothing),
        cmocka_unit_test (test_flush_without_repeats_prints_no_count),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
