/*  ps_ack_decode (what `paystat send` reads from ingest). Properties: a
    decoded ack's counts and rejects stay within the protocol's limits and
    every error names a known code and field. */

#include "fuzz.h"
#include "ps_proto.h"

#include <string.h>

static void s_check_error (const ps_error_t *e)
{
    FUZZ_CHECK (e->code > PS_OK && e->code < PS_E__COUNT);
    FUZZ_CHECK (e->field != NULL);
    FUZZ_CHECK (memchr (e->reason, '\0', sizeof e->reason));
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ps_ack_t ack;
    ps_error_t err;
    if (ps_ack_decode (&ack, data, size, &err) != 0) {
        FUZZ_CHECK (ack.rejects == NULL && ack.nrejects == 0);
        s_check_error (&err);
        return 0;
    }
    FUZZ_CHECK (ack.accepted <= PS_MAX_REPORTS && ack.nrejects <= PS_MAX_REPORTS);
    FUZZ_CHECK (strcmp (ps_ack_status_name (ack.status), "unknown") != 0);
    for (uint32_t i = 0; i < ack.nrejects; i++) {
        FUZZ_CHECK (ack.rejects[i].index < PS_MAX_REPORTS);
        s_check_error (&ack.rejects[i].error);
    }
    if (ack.has_error)
        s_check_error (&ack.error);
    ps_ack_clear (&ack);
    return 0;
}
