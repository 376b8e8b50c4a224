/*  Compute: the ratios configuration file (data/ratios.conf's format). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ps_ratios.h"

static ps_ratios_t *s_parse (const char *text, char *err, size_t size)
{
    err[0] = '\0';
    return ps_ratios_parse (text, strlen (text), "r.conf", err, size);
}

static void test_shipped_file (void **state)
{
    (void) state;
    char err[256];
    ps_ratios_t *r = ps_ratios_load (PS_SOURCE_DIR "/data/ratios.conf", err, sizeof err);
    if (!r)
        fail_msg ("%s", err);
    assert_int_equal (ps_ratios_count (r), 1);
    const ps_ratio_t *ratio = ps_ratios_get (r, 0);
    assert_string_equal (ratio->name, "abroad_vs_domestic");
    assert_string_equal (ratio->num.source, "OC");
    assert_int_equal (ratio->num.ndims, 1);
    assert_string_equal (ratio->num.dims[0].name, "channel");
    assert_string_equal (ratio->num.dims[0].value, "abroad");
    assert_int_equal (ratio->num.measure, PS_MEASURE_AMOUNT);
    assert_string_equal (ratio->den.dims[0].value, "domestic");
    assert_null (ps_ratios_get (r, 1));
    ps_ratios_destroy (&r);
    assert_null (r);
}

static void test_good_forms (void **state)
{
    (void) state;
    char err[256];
    const char *text =
        "# comment line\n"
        "\n"
        "   \t\n"
        "a=X/:count/Y/:amount\n"
        "  b.2-x_y   =   S/z=*,card=domestic:amount   /   S/card=*,z=*:amount  # why\r\n"
        "c = M/d=1,c=2,b=3,a=4:count / M/a=*,b=*,c=*,d=*:count";
    ps_ratios_t *r = s_parse (text, err, sizeof err);
    if (!r)
        fail_msg ("%s", err);
    assert_int_equal (ps_ratios_count (r), 3);
    const ps_ratio_t *a = ps_ratios_get (r, 0);
    assert_string_equal (a->name, "a");
    assert_string_equal (a->num.source, "X");
    assert_int_equal (a->num.ndims, 0);
    assert_int_equal (a->num.measure, PS_MEASURE_COUNT);
    assert_string_equal (a->den.source, "Y");
    assert_int_equal (a->den.measure, PS_MEASURE_AMOUNT);
    const ps_ratio_t *b = ps_ratios_get (r, 1);
    assert_string_equal (b->name, "b.2-x_y");
    /* dims come out sorted by name, "*" allowed */
    assert_string_equal (b->num.dims[0].name, "card");
    assert_string_equal (b->num.dims[1].name, "z");
    assert_string_equal (b->num.dims[1].value, "*");
    const ps_ratio_t *c = ps_ratios_get (r, 2);
    assert_int_equal (c->num.ndims, 4);
    assert_string_equal (c->num.dims[0].name, "a");
    assert_string_equal (c->num.dims[0].value, "4");
    assert_string_equal (c->num.dims[3].name, "d");
    assert_string_equal (ps_measure_name (PS_MEASURE_COUNT), "count");
    assert_string_equal (ps_measure_name (PS_MEASURE_AMOUNT), "amount");
    ps_ratios_destroy (&r);
    /* an empty file is no ratio at all */
    r = s_parse ("# nothing\n", err, sizeof err);
    assert_non_null (r);
    assert_int_equal (ps_ratios_count (r), 0);
    ps_ratios_destroy (&r);
}

static void s_bad (const char *text, const char *want)
{
    char err[256];
    ps_ratios_t *r = s_parse (text, err, sizeof err);
    if (r) {
        ps_ratios_destroy (&r);
        fail_msg ("accepted: %s", text);
    }
    if (strcmp (err, want) != 0)
        fail_msg ("for <%s>\n got: %s\nwant: %s", text, err, want);
}

static void test_errors (void **state)
{
    (void) state;
    s_bad ("just words", "r.conf:1: expected '=' after the ratio name");
    s_bad ("  # ok\n/ = A/:count / B/:count",
           "r.conf:2: expected NAME = SOURCE/DIMS:MEASURE / SOURCE/DIMS:MEASURE");
    s_bad ("= A/:count / B/:count", "r.conf:1: ratio name must be 1..64 of [A-Za-z0-9_.-]");
    s_bad (
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa = A/:count / B/:count",
        "r.conf:1: ratio name must be 1..64 of [A-Za-z0-9_.-]");
    s_bad ("r = /:count / B/:count", "r.conf:1: numerator: source must be 1..32 of "
                                     "[A-Za-z0-9_.-], starting with a letter or digit");
    s_bad ("r = _A/:count / B/:count", "r.conf:1: numerator: source must be 1..32 of "
                                       "[A-Za-z0-9_.-], starting with a letter or digit");
    s_bad ("r = A:count / B/:count", "r.conf:1: numerator: expected '/' after source 'A'");
    s_bad ("r = A/card:count / B/:count",
           "r.conf:1: numerator: dimension 'card' must be name=value");
    s_bad ("r = A/Card=x:count / B/:count",
           "r.conf:1: numerator: dimension name 'Card' must match [a-z][a-z0-9_]{0,31}");
    s_bad ("r = A/card=:count / B/:count",
           "r.conf:1: numerator: value of dimension 'card' must be * or 1..64 of [A-Za-z0-9_.-]");
    s_bad ("r = A/card=a*:count / B/:count",
           "r.conf:1: numerator: value of dimension 'card' must be * or 1..64 of [A-Za-z0-9_.-]");
    s_bad ("r = A/a=1,b=1,c=1,d=1,e=1:count / B/:count",
           "r.conf:1: numerator: more than 4 dimensions");
    s_bad ("r = A/card=a,card=b:count / B/:count",
           "r.conf:1: numerator: dimension 'card' appears twice");
    s_bad ("r = A/card=a,:count / B/:count",
           "r.conf:1: numerator: expected ',' and a dimension, or ':', after dimension 'card'");
    s_bad ("r = A/card=a / B/:count",
           "r.conf:1: numerator: expected ',' and a dimension, or ':', after dimension 'card'");
    s_bad ("r = A/ / B/:count", "r.conf:1: numerator: dimension ' / B/' must be name=value");
    s_bad ("r = A/:sum / B/:count", "r.conf:1: numerator: measure must be count or amount");
    s_bad ("r = A/: / B/:count", "r.conf:1: numerator: measure must be count or amount");
    s_bad ("r = A/card=a", "r.conf:1: numerator: expected ':count' or ':amount' after the "
                           "dimensions");
    s_bad ("r = A/:count B/:count",
           "r.conf:1: expected '/' and the denominator after the numerator");
    s_bad ("r = A/:count", "r.conf:1: expected '/' and the denominator after the numerator");
    s_bad ("r = A/:count /", "r.conf:1: denominator: source must be 1..32 of [A-Za-z0-9_.-], "
                             "starting with a letter or digit");
    s_bad ("r = A/:count / B/:amounts", "r.conf:1: denominator: measure must be count or amount");
    s_bad ("r = A/:count / B/:count extra", "r.conf:1: unexpected 'extra' after the denominator");
    s_bad ("r = A/:count / B/:count\n\n# x\nr = A/:count / C/:count",
           "r.conf:4: duplicate ratio name 'r' (first on line 1)");
}

static void test_unreadable_file (void **state)
{
    (void) state;
    char err[256];
    assert_null (ps_ratios_load ("/nonexistent/ratios.conf", err, sizeof err));
    assert_string_equal (err, "/nonexistent/ratios.conf: cannot read: No such file or directory");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_shipped_file),
        cmocka_unit_test (test_good_forms),
        cmocka_unit_test (test_errors),
        cmocka_unit_test (test_unreadable_file),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
