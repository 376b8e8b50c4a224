/*  ps_peek: a frame's message type, read from its "type" key without a
    decode. Every test vector peeks as the type it is (or, when it is not
    a map with a string "type", as none, which msgpack-c agrees with);
    garbage, truncated vectors and lying container headers peek as none
    without reading outside the frame. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <msgpack.h>

#include "ps_msgpack.h"
#include "ps_peek.h"
#include "test_hex.h"

/*  What msgpack-c says the type is: the first "type" key of a map; -1
    when msgpack-c cannot read the frame, or must not be given it (a
    container that claims more than the frame holds makes it allocate for
    the claim) — the peek may still find a type before what is wrong with
    it: the decoder refuses the frame then. */
static int s_reference (const char *data, size_t size)
{
    ps_error_t err;
    if (ps_msgpack_check (data, size, &err) != 0)
        return -1;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    int t = PS_PEEK_NONE;
    if (msgpack_unpack_next (&u, data, size, NULL) != MSGPACK_UNPACK_SUCCESS)
        t = -1;
    else if (u.data.type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != 4 ||
                memcmp (kv->key.via.str.ptr, "type", 4) != 0)
                continue;
            if (kv->val.type == MSGPACK_OBJECT_STR) {
                t = PS_PEEK_OTHER;
                for (int k = PS_PEEK_BATCH; k < PS_PEEK__COUNT; k++)
                    if (strlen (ps_peek_name (k)) == kv->val.via.str.size &&
                        memcmp (ps_peek_name (k), kv->val.via.str.ptr, kv->val.via.str.size) == 0)
                        t = (ps_peek_t) k;
            }
            break;
        }
    msgpack_unpacked_destroy (&u);
    return t;
}

static void test_vectors (void **state)
{
    (void) state;
    char dir[512];
    snprintf (dir, sizeof dir, "%s/proto/vectors", PS_SOURCE_DIR);
    DIR *d = opendir (dir);
    assert_non_null (d);
    int valid = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        size_t len = strlen (e->d_name);
        if (len < 5 || strcmp (e->d_name + len - 5, ".json") != 0)
            continue;
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        json_t *vec = json_load_file (path, 0, NULL);
        assert_non_null (vec);
        const char *hex = json_string_value (json_object_get (vec, "hex"));
        if (!hex) {
            json_decref (vec);
            continue;
        }
        size_t size;
        char *frame = test_unhex (hex, &size);
        ps_peek_t t = ps_peek_type (frame, size);
        int ref = s_reference (frame, size);
        if (ref >= 0 && (int) t != ref)
            fail_msg ("%s: peeked %d", e->d_name, (int) t);
        json_t *expect = json_object_get (vec, "expect");
        if (!json_object_get (expect, "error")) {
            /* A valid vector peeks as its own type. */
            const char *want = json_string_value (json_object_get (expect, "type"));
            const char *message = json_string_value (json_object_get (vec, "message"));
            if (!want) /* a feed vector without a type tests the splice alone */
                want = strcmp (message, "batch_forwarded") == 0 ? "batch"
                       : strcmp (message, "feed") == 0          ? ""
                                                                : message;
            if (strcmp (ps_peek_name (t), want) != 0)
                fail_msg ("%s: peeked \"%s\", want \"%s\"", e->d_name, ps_peek_name (t), want);
            valid++;
        }
        /* Every prefix peeks without reading past it. */
        for (size_t cut = 0; cut < size; cut++) {
            char *part = malloc (cut ? cut : 1);
            memcpy (part, frame, cut);
            ps_peek_t p = ps_peek_type (part, cut);
            assert_true (p == PS_PEEK_NONE || p == t);
            free (part);
        }
        free (frame);
        json_decref (vec);
    }
    closedir (d);
    assert_true (valid > 20);
}

/* A byte string and its length, which may hold NULs. */
#define S_BYTES(s) s, sizeof s - 1

static void test_garbage (void **state)
{
    (void) state;
    static const struct {
        const char *bytes;
        size_t size;
        ps_peek_t want;
    } cases[] = {
        {S_BYTES (""), PS_PEEK_NONE},
        {S_BYTES ("\xc1"), PS_PEEK_NONE},
        {S_BYTES ("\x91\xa5hello"), PS_PEEK_NONE},                /* an array */
        {S_BYTES ("\xa4type"), PS_PEEK_NONE},                     /* a string */
        {S_BYTES ("\x81\xa4type\x01"), PS_PEEK_NONE},             /* type not a string */
        {S_BYTES ("\x81\xa4type\xc4\x05hello"), PS_PEEK_NONE},    /* bin is not a string */
        {S_BYTES ("\x81\xa4type\xa5hello"), PS_PEEK_HELLO},       /* only a type */
        {S_BYTES ("\x81\xa4type\xa4nope"), PS_PEEK_OTHER},        /* an unknown type */
        {S_BYTES ("\x81\xa4Type\xa5hello"), PS_PEEK_NONE},        /* keys are case-sensitive */
        {S_BYTES ("\x80"), PS_PEEK_NONE},                         /* {} */
        {S_BYTES ("\xdf\xff\xff\xff\xff\xa4type"), PS_PEEK_NONE}, /* map header lies */
        {S_BYTES ("\x82\xa1v\xdd\xff\xff\xff\xff\xa4type\xa3"
                  "ack"),
         PS_PEEK_NONE}, /* array lies */
        {S_BYTES ("\x82\xa1v\x91\x81\xa4type\xa5hello\xa4type\xa3"
                  "ack"),
         PS_PEEK_ACK}, /* nested type */
        {S_BYTES ("\x82\x01\x02\xa4type\xa3"
                  "end"),
         PS_PEEK_END}, /* non-string key first */
        {S_BYTES ("\x82\xa4type\xa2hb\xa4type\xa3"
                  "ack"),
         PS_PEEK_HEARTBEAT},                             /* the first counts */
        {S_BYTES ("\x81\xa4type\xa5hel"), PS_PEEK_NONE}, /* truncated value */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (ps_peek_type (cases[i].bytes, cases[i].size) != cases[i].want)
            fail_msg ("case %zu: peeked %d, want %d", i,
                      (int) ps_peek_type (cases[i].bytes, cases[i].size), (int) cases[i].want);
    assert_int_equal (ps_peek_type (NULL, 0), PS_PEEK_NONE);
    /* Random bytes: whatever they say, nothing is read outside them. */
    srand (15);
    for (int n = 0; n < 20000; n++) {
        size_t size = (size_t) (rand () % 64);
        unsigned char *buf = malloc (size ? size : 1);
        for (size_t k = 0; k < size; k++)
            buf[k] = (unsigned char) rand ();
        if (size)
            buf[0] = (unsigned char) (0x80 | (rand () % 16)); /* mostly maps */
        ps_peek_t t = ps_peek_type (buf, size);
        assert_true ((int) t >= 0 && t < PS_PEEK__COUNT);
        free (buf);
    }
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_vectors),
        cmocka_unit_test (test_garbage),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
