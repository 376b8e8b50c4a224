/*  test_hex: the test vectors' hex text as bytes, for the unit tests that
    read proto/vectors. */

#ifndef TEST_HEX_H_INCLUDED
#define TEST_HEX_H_INCLUDED

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/*  Decodes hex text into a malloc'd buffer (never NULL) of *SIZE bytes;
    fails the test on a character that is not hex. */
static inline void *test_unhex (const char *hex, size_t *size)
{
    size_t n = strlen (hex) / 2;
    unsigned char *out = malloc (n ? n : 1);
    assert_non_null (out);
    for (size_t i = 0; i < n; i++) {
        unsigned byte;
        assert_int_equal (sscanf (hex + 2 * i, "%2x", &byte), 1);
        out[i] = (unsigned char) byte;
    }
    *size = n;
    return out;
}

#endif
