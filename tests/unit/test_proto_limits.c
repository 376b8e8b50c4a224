/*  ps_proto's cap on MessagePack objects per frame (PS_MAX_OBJECTS): one
    4 MiB frame of one-byte objects must not make a decoder allocate ~100 MB
    of msgpack-c zone, yet the largest legitimate batch must still decode. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_proto.h"

/*  Writes an array32 of N nils into a malloc'd buffer; returns it, with its
    size in *SIZE. */
static uint8_t *s_nil_array (uint32_t n, size_t *size)
{
    *size = 5 + (size_t) n;
    uint8_t *buf = malloc (*size);
    assert_non_null (buf);
    buf[0] = 0xdd;
    buf[1] = (uint8_t) (n >> 24);
    buf[2] = (uint8_t) (n >> 16);
    buf[3] = (uint8_t) (n >> 8);
    buf[4] = (uint8_t) n;
    memset (buf + 5, 0xc0, n);
    return buf;
}

static void test_objects_at_and_past_the_cap (void **state)
{
    (void) state;
    ps_error_t err;
    size_t size;
    /* The array itself is one object. */
    uint8_t *buf = s_nil_array (PS_MAX_OBJECTS - 1, &size);
    assert_int_equal (ps_msgpack_check (buf, size, &err), 0);
    free (buf);
    buf = s_nil_array (PS_MAX_OBJECTS, &size);
    assert_int_equal (ps_msgpack_check (buf, size, &err), -1);
    assert_int_equal (err.code, PS_E_LIMIT);
    assert_string_equal (err.field, "");
    free (buf);
}

/*  A frame as large as allowed, all one-byte objects: refused on the count,
    whatever the decoder. */
static void test_full_frame_of_tiny_objects (void **state)
{
    (void) state;
    size_t size;
    uint8_t *buf = s_nil_array (PS_MAX_FRAME - 5, &size);
    ps_error_t err;
    assert_int_equal (ps_msgpack_check (buf, size, &err), -1);
    assert_int_equal (err.code, PS_E_LIMIT);
    ps_batch_t *batch = ps_batch_new ();
    assert_non_null (batch);
    assert_int_equal (ps_batch_decode (batch, buf, size, false, &err), -1);
    assert_int_equal (err.code, PS_E_LIMIT);
    ps_batch_destroy (&batch);
    free (buf);
}

static void s_full_report (ps_report_t *r, uint32_t i)
{
    memset (r, 0, sizeof *r);
    strcpy (r->source, "CMI");
    assert_int_equal (ps_period_parse ("2012-07-15", 10, &r->period, NULL), 0);
    r->ndims = PS_MAX_DIMS;
    static const char *const names[PS_MAX_DIMS] = {"activity", "card", "channel", "region"};
    for (int d = 0; d < PS_MAX_DIMS; d++) {
        strcpy (r->dims[d].name, names[d]);
        snprintf (r->dims[d].value, sizeof r->dims[d].value, "v%u", i % 7);
    }
    r->has_count = r->has_amount = true;
    r->count = i;
    r->amount = 100 * (int64_t) i;
    strcpy (r->currency, "MAD");
    r->op = PS_OP_SET;
}

/*  PS_MAX_REPORTS reports with every known key, forwarded form (which adds
    "i"): the densest legitimate batch, which the cap must admit. */
static void test_largest_legitimate_batch_fits (void **state)
{
    (void) state;
    ps_batch_t *batch = ps_batch_new ();
    assert_non_null (batch);
    strcpy (batch->producer, "p1");
    batch->seq = 1;
    strcpy (batch->ingest, "ingest-1");
    batch->jseq = 1;
    ps_report_t r;
    for (uint32_t i = 0; i < PS_MAX_REPORTS; i++) {
        s_full_report (&r, i);
        assert_int_equal (ps_batch_append (batch, &r, i), 0);
    }
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    assert_int_equal (ps_batch_encode (batch, true, &out), 0);
    assert_true (out.size <= PS_MAX_FRAME);
    ps_batch_t *decoded = ps_batch_new ();
    assert_non_null (decoded);
    ps_error_t err;
    assert_int_equal (ps_batch_decode (decoded, out.data, out.size, true, &err), 0);
    assert_int_equal (decoded->nreports, PS_MAX_REPORTS);
    assert_int_equal (decoded->nrejects, 0);
    msgpack_sbuffer_destroy (&out);
    ps_batch_destroy (&decoded);
    ps_batch_destroy (&batch);
}

/*  A batch that keeps to PS_MAX_REPORTS but pads its reports with unknown
    keys past the cap is refused as a frame, with producer and seq unknown
    (the frame is never unpacked). */
static void test_padded_batch_is_refused (void **state)
{
    (void) state;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    msgpack_pack_str_with_body (&pk, "v", 1);
    msgpack_pack_uint8 (&pk, 1);
    msgpack_pack_str_with_body (&pk, "type", 4);
    msgpack_pack_str_with_body (&pk, "batch", 5);
    msgpack_pack_str_with_body (&pk, "producer", 8);
    msgpack_pack_str_with_body (&pk, "p1", 2);
    msgpack_pack_str_with_body (&pk, "seq", 3);
    msgpack_pack_uint8 (&pk, 1);
    msgpack_pack_str_with_body (&pk, "reports", 7);
    msgpack_pack_array (&pk, PS_MAX_REPORTS);
    for (int i = 0; i < PS_MAX_REPORTS; i++) {
        msgpack_pack_map (&pk, 3);
        msgpack_pack_str_with_body (&pk, "source", 6);
        msgpack_pack_str_with_body (&pk, "CMI", 3);
        msgpack_pack_str_with_body (&pk, "period", 6);
        msgpack_pack_str_with_body (&pk, "2012", 4);
        msgpack_pack_str_with_body (&pk, "pad", 3);
        msgpack_pack_array (&pk, 30);
        for (int k = 0; k < 30; k++)
            msgpack_pack_nil (&pk);
    }
    assert_true (buf.size <= PS_MAX_FRAME);
    ps_batch_t *batch = ps_batch_new ();
    assert_non_null (batch);
    ps_error_t err;
    assert_int_equal (ps_batch_decode (batch, buf.data, buf.size, false, &err), -1);
    assert_int_equal (err.code, PS_E_LIMIT);
    assert_string_equal (err.field, "");
    assert_string_equal (batch->producer, "");
    ps_batch_destroy (&batch);
    msgpack_sbuffer_destroy (&buf);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_objects_at_and_past_the_cap),
        cmocka_unit_test (test_full_frame_of_tiny_objects),
        cmocka_unit_test (test_largest_legitimate_batch_fits),
        cmocka_unit_test (test_padded_batch_is_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
