/*  ps_strmap: insert, lookup, removal with backward shift, growth, walk. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ps_strmap.h"

static void test_put_get_remove (void **state)
{
    (void) state;
    ps_strmap_t *map = ps_strmap_new ();
    assert_non_null (map);
    bool inserted;
    void **slot = ps_strmap_put (map, "CMI", 3, &inserted);
    assert_true (inserted);
    *slot = (void *) 7;
    slot = ps_strmap_put (map, "CMI", 3, &inserted);
    assert_false (inserted);
    assert_ptr_equal (*slot, (void *) 7);
    assert_null (ps_strmap_get (map, "CM", 2));
    assert_ptr_equal (ps_strmap_remove (map, "CMI", 3), (void *) 7);
    assert_null (ps_strmap_get (map, "CMI", 3));
    assert_int_equal (ps_strmap_size (map), 0);
    ps_strmap_destroy (&map);
    assert_null (map);
}

/*  Many keys with interleaved removals: every survivor must stay reachable,
    which fails if a removal leaves a hole inside a probe run. */
static void test_churn (void **state)
{
    (void) state;
    enum { N = 20000 };
    ps_strmap_t *map = ps_strmap_new ();
    char key[32];
    bool inserted;
    for (uintptr_t i = 1; i <= N; i++) {
        int len = snprintf (key, sizeof key, "k%lu", (unsigned long) i);
        *ps_strmap_put (map, key, len, &inserted) = (void *) i;
        assert_true (inserted);
    }
    for (uintptr_t i = 1; i <= N; i += 3) {
        int len = snprintf (key, sizeof key, "k%lu", (unsigned long) i);
        assert_ptr_equal (ps_strmap_remove (map, key, len), (void *) i);
    }
    size_t expected = 0;
    for (uintptr_t i = 1; i <= N; i++) {
        int len = snprintf (key, sizeof key, "k%lu", (unsigned long) i);
        void **slot = ps_strmap_get (map, key, len);
        if ((i - 1) % 3 == 0)
            assert_null (slot);
        else {
            assert_non_null (slot);
            assert_ptr_equal (*slot, (void *) i);
            expected++;
        }
    }
    assert_int_equal (ps_strmap_size (map), expected);
    size_t cursor = 0, walked = 0, len;
    const char *k;
    void *v;
    while (ps_strmap_next (map, &cursor, &k, &len, &v)) {
        assert_int_equal (strlen (k), len);
        walked++;
    }
    assert_int_equal (walked, expected);
    ps_strmap_destroy (&map);
}

/*  Keys are byte strings: embedded NULs and prefixes are distinct keys. */
static void test_binary_keys (void **state)
{
    (void) state;
    ps_strmap_t *map = ps_strmap_new ();
    bool inserted;
    *ps_strmap_put (map, "a\0b", 3, &inserted) = (void *) 1;
    *ps_strmap_put (map, "a", 1, &inserted) = (void *) 2;
    assert_ptr_equal (*ps_strmap_get (map, "a\0b", 3), (void *) 1);
    assert_ptr_equal (*ps_strmap_get (map, "a", 1), (void *) 2);
    assert_null (ps_strmap_get (map, "a\0c", 3));
    ps_strmap_destroy (&map);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_put_get_remove),
        cmocka_unit_test (test_churn),
        cmocka_unit_test (test_binary_keys),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
