/*  The size bounds along producer -> ingest -> compute (ps_limits.h): the
    largest journal entry ingest can write from any batch it accepts fits
    PS_MAX_ENTRY, which fits what compute reads (PS_MAX_INPUT); a batch
    over PS_MAX_BATCH is refused with "limit", naming the excess and its
    producer and seq; compute's refusal travels in a position; ingest and
    compute stay stuck on a refused entry until it is applied. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_delivery.h"
#include "ps_proto.h"
#include "ps_stall.h"

/*  Fills R with the largest report the decoder accepts: every field at
    its longest, op "set" (a retraction carries no count or amount). */
static void s_worst_report (ps_report_t *r, uint32_t i)
{
    memset (r, 0, sizeof *r);
    snprintf (r->source, sizeof r->source, "S%031u", i);
    const char *why;
    assert_int_equal (ps_period_parse ("9999-12-31", 10, &r->period, &why), 0);
    r->ndims = PS_MAX_DIMS;
    for (int d = 0; d < PS_MAX_DIMS; d++) {
        memset (r->dims[d].name, 'a' + d, PS_DIM_NAME_MAX);
        memset (r->dims[d].value, '9', PS_DIM_VALUE_MAX);
    }
    r->has_count = r->has_amount = true;
    r->count = r->amount = INT64_MAX;
    memcpy (r->currency, "CLF", 4);
    r->op = PS_OP_SET;
}

/*  A batch of N worst reports with the longest ids and largest numbers. */
static ps_batch_t *s_worst_batch (uint32_t n)
{
    ps_batch_t *b = ps_batch_new ();
    assert_non_null (b);
    memset (b->producer, 'p', PS_ID_MAX);
    memset (b->ingest, 'i', PS_ID_MAX);
    b->seq = b->jseq = b->journal = INT64_MAX;
    for (uint32_t i = 0; i < n; i++) {
        ps_report_t r;
        s_worst_report (&r, i);
        /* The largest index packs the longest "i". */
        assert_int_equal (ps_batch_append (b, &r, PS_MAX_REPORTS - 1 - i), 0);
    }
    return b;
}

static void test_report_bound_is_tight (void **state)
{
    (void) state;
    ps_batch_t *one = s_worst_batch (1), *none = s_worst_batch (0);
    msgpack_sbuffer a, b;
    msgpack_sbuffer_init (&a);
    msgpack_sbuffer_init (&b);
    assert_int_equal (ps_batch_encode (one, true, &a), 0);
    assert_int_equal (ps_batch_encode (none, true, &b), 0);
    size_t report = a.size - b.size;
    assert_true (report <= PS_REPORT_PACKED_MAX);
    /* An upper bound, but not a careless one. */
    assert_true (report + 32 >= PS_REPORT_PACKED_MAX);
    assert_true (b.size <= PS_ENTRY_HEADER_MAX);
    msgpack_sbuffer_destroy (&a);
    msgpack_sbuffer_destroy (&b);
    ps_batch_destroy (&one);
    ps_batch_destroy (&none);
}

/*  The worst case of all: PS_MAX_REPORTS worst reports, forwarded. */
static void test_largest_entry_fits_compute (void **state)
{
    (void) state;
    assert_true (PS_MAX_ENTRY <= PS_MAX_INPUT);
    assert_true (PS_MAX_BATCH < PS_MAX_INPUT);
    ps_batch_t *b = s_worst_batch (PS_MAX_REPORTS);
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    assert_int_equal (ps_batch_encode (b, true, &out), 0);
    assert_true (out.size <= PS_MAX_ENTRY);
    /* And compute decodes it: the object cap leaves room for it. */
    ps_batch_t *d = ps_batch_new ();
    ps_error_t err;
    assert_int_equal (ps_batch_decode (d, out.data, out.size, true, &err), 0);
    assert_int_equal (d->nreports, PS_MAX_REPORTS);
    assert_int_equal (d->nrejects, 0);
    msgpack_sbuffer_destroy (&out);
    ps_batch_destroy (&b);
    ps_batch_destroy (&d);
}

/*  The producer's form of the same batch is over PS_MAX_BATCH: refused
    with "limit", the size and the excess in the reason, producer and seq
    read for the ack. */
static void test_oversize_batch_refused_with_excess (void **state)
{
    (void) state;
    ps_batch_t *b = s_worst_batch (PS_MAX_REPORTS);
    b->seq = 7;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    assert_int_equal (ps_batch_encode (b, false, &out), 0);
    assert_true (out.size > PS_MAX_BATCH && out.size <= PS_MAX_INPUT);
    ps_batch_t *d = ps_batch_new ();
    ps_error_t err;
    assert_int_equal (ps_batch_decode (d, out.data, out.size, false, &err), -1);
    assert_int_equal (err.code, PS_E_LIMIT);
    assert_string_equal (err.field, "");
    char want[PS_REASON_MAX], a[32], c[32];
    snprintf (a, sizeof a, "%zu", out.size);
    snprintf (c, sizeof c, "%zu", out.size - PS_MAX_BATCH);
    /* 5,0xx,xxx and xxx,xxx: both have 6 or 7 digits here. */
    assert_true (strlen (a) == 7 && strlen (c) == 6);
    snprintf (want, sizeof want,
              "batch is %c,%.3s,%.3s bytes, over the 4,194,304-byte limit by %.3s,%.3s", a[0],
              a + 1, a + 4, c, c + 3);
    assert_string_equal (err.reason, want);
    assert_string_equal (d->producer, b->producer);
    assert_int_equal (d->seq, 7);
    /* Past PS_MAX_INPUT nothing is read, but the error is the same kind. */
    assert_int_equal (ps_batch_decode (d, out.data, PS_MAX_INPUT + 1, false, &err), -1);
    assert_int_equal (err.code, PS_E_LIMIT);
    assert_non_null (strstr (err.reason, "over the 4,194,304-byte limit by 4,194,305"));
    msgpack_sbuffer_destroy (&out);
    ps_batch_destroy (&b);
    ps_batch_destroy (&d);
}

/*  The probe's case: a batch just under PS_MAX_BATCH is accepted, and
    its entry (larger: keys added) still fits PS_MAX_ENTRY. */
static void test_batch_at_the_limit_fits_as_an_entry (void **state)
{
    (void) state;
    msgpack_sbuffer in, fwd;
    msgpack_sbuffer_init (&in);
    msgpack_sbuffer_init (&fwd);
    /* As many worst reports as fit, from the size one takes. */
    ps_batch_t *b = s_worst_batch (1);
    assert_int_equal (ps_batch_encode (b, false, &in), 0);
    size_t one = in.size;
    ps_batch_destroy (&b);
    b = s_worst_batch (0);
    msgpack_sbuffer_clear (&in);
    assert_int_equal (ps_batch_encode (b, false, &in), 0);
    uint32_t n = (uint32_t) ((PS_MAX_BATCH - in.size) / (one - in.size));
    ps_batch_destroy (&b);
    b = s_worst_batch (n);
    msgpack_sbuffer_clear (&in);
    assert_int_equal (ps_batch_encode (b, false, &in), 0);
    assert_true (in.size <= PS_MAX_BATCH && in.size > PS_MAX_BATCH - 16384);
    ps_batch_t *d = ps_batch_new ();
    ps_error_t err;
    assert_int_equal (ps_batch_decode (d, in.data, in.size, false, &err), 0);
    assert_int_equal (d->nreports, n);
    d->jseq = d->journal = INT64_MAX;
    memset (d->ingest, 'i', PS_ID_MAX);
    assert_int_equal (ps_batch_encode (d, true, &fwd), 0);
    assert_true (fwd.size > in.size);
    assert_true (fwd.size <= PS_MAX_ENTRY);
    assert_int_equal (ps_batch_decode (b, fwd.data, fwd.size, true, &err), 0);
    msgpack_sbuffer_destroy (&in);
    msgpack_sbuffer_destroy (&fwd);
    ps_batch_destroy (&b);
    ps_batch_destroy (&d);
}

static void test_limit_error_groups_digits (void **state)
{
    (void) state;
    ps_error_t err;
    assert_int_equal (ps_error_limit (&err, "batch", 5123456, 4194304), -1);
    assert_int_equal (err.code, PS_E_LIMIT);
    assert_string_equal (err.reason,
                         "batch is 5,123,456 bytes, over the 4,194,304-byte limit by 929,152");
    ps_error_limit (&err, "entry", 1001, 1000);
    assert_string_equal (err.reason, "entry is 1,001 bytes, over the 1,000-byte limit by 1");
}

static void test_position_refusal_round_trip (void **state)
{
    (void) state;
    ps_position_t pos = {42, 5, 3, true}, got;
    ps_refusal_t refusal = {6, "entry is 2,000 bytes, over the 1,000-byte limit by 1,000"}, r;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    ps_error_t err;
    assert_int_equal (ps_control_position_encode_refusal (&pos, &refusal, &out), 0);
    assert_int_equal (ps_control_position_decode_refusal (out.data, out.size, &got, &r, &err), 0);
    assert_int_equal (got.applied, 5);
    assert_true (got.resend);
    assert_int_equal (r.jseq, 6);
    assert_string_equal (r.reason, refusal.reason);
    /* Older readers ignore it. */
    assert_int_equal (ps_control_position_decode (out.data, out.size, &got, &err), 0);
    /* A refusal at or before applied makes no sense. */
    msgpack_sbuffer_clear (&out);
    refusal.jseq = 5;
    assert_int_equal (ps_control_position_encode_refusal (&pos, &refusal, &out), 0);
    assert_int_equal (ps_control_position_decode_refusal (out.data, out.size, &got, &r, &err), -1);
    assert_string_equal (err.field, "refused");
    /* Without one: jseq 0. */
    msgpack_sbuffer_clear (&out);
    assert_int_equal (ps_control_position_encode (&pos, &out), 0);
    assert_int_equal (ps_control_position_decode_refusal (out.data, out.size, &got, &r, &err), 0);
    assert_int_equal (r.jseq, 0);
    msgpack_sbuffer_destroy (&out);
}

static void test_stall_until_applied (void **state)
{
    (void) state;
    ps_stall_t *s = ps_stall_new ();
    assert_non_null (s);
    assert_null (ps_stall_ready (s));
    assert_true (ps_stall_refused (s, "ingest-1", 9, 4, "too big"));
    assert_false (ps_stall_refused (s, "ingest-1", 9, 4, "too big")); /* a resend */
    assert_int_equal (ps_stall_refusals (s), 2);
    assert_int_equal (ps_stall_count (s), 1);
    const char *why;
    assert_int_equal (ps_stall_jseq (s, "ingest-1", 9, &why), 4);
    assert_string_equal (why, "too big");
    assert_int_equal (ps_stall_jseq (s, "ingest-1", 10, NULL), 0); /* another journal */
    assert_int_equal (ps_stall_jseq (s, "ingest-2", 9, NULL), 0);
    assert_string_equal (ps_stall_ready (s),
                         "journal entry refused, its ingest is stuck: ingest=ingest-1 jseq=4: "
                         "too big");
    ps_stall_applied (s, "ingest-1", 3);
    assert_int_equal (ps_stall_count (s), 1);
    ps_stall_applied (s, "ingest-1", 4);
    assert_int_equal (ps_stall_count (s), 0);
    assert_null (ps_stall_ready (s));
    ps_stall_destroy (&s);
    assert_null (s);
}

/*  Ingest sends the refused entry again at each resend compute asks for,
    never what follows it, until compute has applied it. */
static void test_delivery_stops_at_refused_entry (void **state)
{
    (void) state;
    ps_delivery_config_t config = {7, 256, 500};
    ps_delivery_t *d = ps_delivery_new (&config);
    ps_position_t pos = {7, 2, 2, true};
    assert_true (ps_delivery_position (d, &pos, 0));
    assert_int_equal (ps_delivery_next (d, 1, 10), 3);
    ps_delivery_sent (d, 3);
    assert_true (ps_delivery_refused (d, 3, "too big"));
    assert_false (ps_delivery_refused (d, 3, "too big"));
    assert_int_equal (ps_delivery_refusals (d), 2);
    assert_int_equal (ps_delivery_next (d, 1, 10), 0);
    const char *why;
    assert_int_equal (ps_delivery_stuck (d, &why), 3);
    assert_string_equal (why, "too big");
    /* A resend: the refused entry again, and only it. */
    assert_true (ps_delivery_position (d, &pos, 1));
    assert_int_equal (ps_delivery_next (d, 1, 10), 3);
    ps_delivery_sent (d, 3);
    assert_int_equal (ps_delivery_next (d, 1, 10), 0);
    /* Fixed: compute applied it. */
    ps_position_t done = {7, 3, 2, false};
    assert_true (ps_delivery_position (d, &done, 2));
    assert_int_equal (ps_delivery_stuck (d, NULL), 0);
    assert_int_equal (ps_delivery_next (d, 1, 10), 4);
    ps_delivery_destroy (&d);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_report_bound_is_tight),
        cmocka_unit_test (test_largest_entry_fits_compute),
        cmocka_unit_test (test_oversize_batch_refused_with_excess),
        cmocka_unit_test (test_batch_at_the_limit_fits_as_an_entry),
        cmocka_unit_test (test_limit_error_groups_digits),
        cmocka_unit_test (test_position_refusal_round_trip),
        cmocka_unit_test (test_stall_until_applied),
        cmocka_unit_test (test_delivery_stops_at_refused_entry),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
