/*  ps_batch_decode, producer and forwarded forms. Properties: every report
    is either accepted or rejected; a refused frame names a code; the
    accepted reports re-encode canonically and decode again to the same
    reports (decode -> encode -> decode is stable). */

#include "fuzz.h"
#include "ps_proto.h"

#include <string.h>

static bool s_report_equal (const ps_report_t *a, const ps_report_t *b)
{
    if (strcmp (a->source, b->source) != 0 || ps_period_cmp (&a->period, &b->period) != 0 ||
        a->ndims != b->ndims || a->has_count != b->has_count || a->has_amount != b->has_amount ||
        a->count != b->count || a->amount != b->amount || strcmp (a->currency, b->currency) != 0 ||
        a->op != b->op)
        return false;
    for (int i = 0; i < a->ndims; i++)
        if (strcmp (a->dims[i].name, b->dims[i].name) != 0 ||
            strcmp (a->dims[i].value, b->dims[i].value) != 0)
            return false;
    return true;
}

/* Reused across inputs, as the services reuse theirs. */
static ps_batch_t *s_batch, *s_again;

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_batch) {
        s_batch = ps_batch_new ();
        s_again = ps_batch_new ();
        FUZZ_CHECK (s_batch && s_again);
    }
    for (int forwarded = 0; forwarded < 2; forwarded++) {
        ps_error_t err;
        if (ps_batch_decode (s_batch, data, size, forwarded, &err) != 0) {
            FUZZ_CHECK (err.code != PS_OK && err.code < PS_E__COUNT && err.field);
            FUZZ_CHECK (memchr (err.reason, '\0', sizeof err.reason));
            continue;
        }
        FUZZ_CHECK (s_batch->nreports + s_batch->nrejects == s_batch->total);
        FUZZ_CHECK (s_batch->total <= PS_MAX_REPORTS);
        for (uint32_t i = 0; i < s_batch->nrejects; i++)
            FUZZ_CHECK (s_batch->rejects[i].error.code != PS_OK && s_batch->rejects[i].error.field);
        msgpack_sbuffer out;
        msgpack_sbuffer_init (&out);
        FUZZ_CHECK (ps_batch_encode (s_batch, forwarded, &out) == 0);
        FUZZ_CHECK (ps_batch_decode (s_again, out.data, out.size, forwarded, &err) == 0);
        FUZZ_CHECK (s_again->nreports == s_batch->nreports && s_again->nrejects == 0);
        FUZZ_CHECK (strcmp (s_again->producer, s_batch->producer) == 0);
        FUZZ_CHECK (s_again->seq == s_batch->seq && s_again->jseq == s_batch->jseq);
        for (uint32_t i = 0; i < s_batch->nreports; i++) {
            FUZZ_CHECK (s_report_equal (&s_batch->reports[i], &s_again->reports[i]));
            FUZZ_CHECK (!forwarded || s_batch->index[i] == s_again->index[i]);
        }
        msgpack_sbuffer_destroy (&out);
    }
    return 0;
}
