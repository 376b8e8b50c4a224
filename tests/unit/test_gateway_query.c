/*  ps_gwquery: each API query parameter, good and bad. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ps_gwquery.h"

static void test_source (void **state)
{
    (void) state;
    const char *why = NULL;
    assert_int_equal (ps_gwquery_source ("CMI", &why), 0);
    assert_int_equal (ps_gwquery_source ("a.b-c_9", &why), 0);
    assert_int_equal (ps_gwquery_source (NULL, &why), -1);
    assert_string_equal (why, "is required");
    assert_int_equal (ps_gwquery_source ("", &why), -1);
    assert_int_equal (ps_gwquery_source ("-CMI", &why), -1);
    assert_int_equal (ps_gwquery_source ("C M I", &why), -1);
    assert_int_equal (ps_gwquery_source ("CMI/2012", &why), -1);
    assert_int_equal (ps_gwquery_source ("123456789012345678901234567890123", &why), -1);
    assert_int_equal (ps_gwquery_source ("12345678901234567890123456789012", &why), 0);
}

static void test_dims (void **state)
{
    (void) state;
    char out[PS_GWQUERY_DIMS_MAX];
    const char *why = NULL;
    assert_int_equal (ps_gwquery_dims (NULL, out, &why), 0);
    assert_string_equal (out, "");
    assert_int_equal (ps_gwquery_dims ("", out, &why), 0);
    assert_string_equal (out, "");
    assert_int_equal (ps_gwquery_dims ("card=*,activity=ecommerce", out, &why), 0);
    assert_string_equal (out, "activity=ecommerce,card=*");
    assert_int_equal (ps_gwquery_dims ("channel=web,card=a,cardx=b,c=d", out, &why), 0);
    assert_string_equal (out, "c=d,card=a,cardx=b,channel=web");

    assert_int_equal (ps_gwquery_dims ("card", out, &why), -1);
    assert_string_equal (why, "must be name=value pairs joined by ','");
    assert_int_equal (ps_gwquery_dims ("card=a,card=b", out, &why), -1);
    assert_string_equal (why, "names a dimension twice");
    assert_int_equal (ps_gwquery_dims ("a=1,b=2,c=3,d=4,e=5", out, &why), -1);
    assert_string_equal (why, "has more than 4 dimensions");
    assert_int_equal (ps_gwquery_dims ("Card=x", out, &why), -1);
    assert_int_equal (ps_gwquery_dims ("card=", out, &why), -1);
    assert_int_equal (ps_gwquery_dims ("card=**", out, &why), -1);
    assert_int_equal (ps_gwquery_dims ("card=a b", out, &why), -1);
    assert_int_equal (ps_gwquery_dims ("card=a,", out, &why), -1);
    assert_int_equal (ps_gwquery_dims (",card=a", out, &why), -1);
    assert_int_equal (ps_gwquery_dims ("=a", out, &why), -1);
}

static void test_granularity (void **state)
{
    (void) state;
    ps_gran_t gran;
    const char *why = NULL;
    assert_int_equal (ps_gwquery_gran (NULL, &gran, &why), 0);
    assert_int_equal (gran, PS_GRAN_YEAR);
    assert_int_equal (ps_gwquery_gran ("quarter", &gran, &why), 0);
    assert_int_equal (gran, PS_GRAN_QUARTER);
    assert_int_equal (ps_gwquery_gran ("month", &gran, &why), 0);
    assert_int_equal (gran, PS_GRAN_MONTH);
    assert_int_equal (ps_gwquery_gran ("day", &gran, &why), -1);
    assert_string_equal (why, "must be year, quarter or month");
    assert_int_equal (ps_gwquery_gran ("Year", &gran, &why), -1);
    assert_int_equal (ps_gwquery_gran ("", &gran, &why), -1);
}

static void test_prefix_and_limit (void **state)
{
    (void) state;
    const char *why = NULL;
    char prefix[PS_TOPIC_MAX + 2];
    memset (prefix, 'a', sizeof prefix);
    prefix[PS_TOPIC_MAX] = '\0';
    assert_int_equal (ps_gwquery_prefix (prefix, &why), 0);
    prefix[PS_TOPIC_MAX] = 'a';
    prefix[PS_TOPIC_MAX + 1] = '\0';
    assert_int_equal (ps_gwquery_prefix (prefix, &why), -1);
    assert_int_equal (ps_gwquery_prefix (NULL, &why), 0);

    long limit;
    assert_int_equal (ps_gwquery_limit (NULL, &limit, &why), 0);
    assert_int_equal (limit, PS_GWQUERY_LIMIT_DEFAULT);
    assert_int_equal (ps_gwquery_limit ("1", &limit, &why), 0);
    assert_int_equal (limit, 1);
    assert_int_equal (ps_gwquery_limit ("100000", &limit, &why), 0);
    assert_int_equal (ps_gwquery_limit ("100001", &limit, &why), -1);
    assert_int_equal (ps_gwquery_limit ("0", &limit, &why), -1);
    assert_int_equal (ps_gwquery_limit ("-5", &limit, &why), -1);
    assert_int_equal (ps_gwquery_limit (" 5", &limit, &why), -1);
    assert_int_equal (ps_gwquery_limit ("5x", &limit, &why), -1);
    assert_int_equal (ps_gwquery_limit ("", &limit, &why), -1);
    assert_int_equal (ps_gwquery_limit ("99999999999999999999", &limit, &why), -1);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_source),
        cmocka_unit_test (test_dims),
        cmocka_unit_test (test_granularity),
        cmocka_unit_test (test_prefix_and_limit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
