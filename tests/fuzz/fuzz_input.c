/*  client/ps_input over the same bytes read as CSV and as JSON lines, the
    way `paystat send` reads a file. Properties: reading ends (every call
    consumes input or ends it); each row is a report within the protocol's
    limits (a measure unless it is a retraction), or an error with its line,
    a field and a reason. */

#include "fuzz.h"
#include "ps_input.h"

#include <string.h>

static void s_read (const uint8_t *data, size_t size, ps_input_format_t format)
{
    FILE *file = fmemopen ((void *) data, size, "r");
    FUZZ_CHECK (file);
    ps_input_t *input = ps_input_new (file, format);
    FUZZ_CHECK (input);
    ps_report_t report;
    ps_input_error_t err;
    uint64_t line, last = 0;
    /* Every row but the last ends with a newline, plus the header. */
    for (size_t calls = 0;; calls++) {
        FUZZ_CHECK (calls <= size + 2);
        ps_input_result_t rc = ps_input_next (input, &report, &line, &err);
        if (rc == PS_INPUT_END)
            break;
        if (rc == PS_INPUT_ROW) {
            FUZZ_CHECK (line >= 1 && line > last);
            last = line;
            FUZZ_CHECK (report.ndims <= PS_MAX_DIMS);
            /* A retraction withdraws a cell and carries no measure. */
            FUZZ_CHECK (report.op == PS_OP_RETRACT || report.has_count || report.has_amount);
            FUZZ_CHECK (report.count >= 0 && report.amount >= 0);
            FUZZ_CHECK (strlen (report.source) <= PS_SOURCE_MAX);
            continue;
        }
        FUZZ_CHECK (err.code > PS_OK && err.code < PS_E__COUNT);
        FUZZ_CHECK (memchr (err.field, '\0', sizeof err.field));
        FUZZ_CHECK (memchr (err.reason, '\0', sizeof err.reason) && err.reason[0]);
        if (rc == PS_INPUT_FATAL)
            break;
        FUZZ_CHECK (rc == PS_INPUT_BAD_ROW);
    }
    FUZZ_CHECK (ps_input_offset (input) <= size);
    ps_input_destroy (&input);
    FUZZ_CHECK (input == NULL);
    fclose (file);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    /* fmemopen refuses an empty buffer. */
    if (size == 0)
        return 0;
    s_read (data, size, PS_INPUT_CSV);
    s_read (data, size, PS_INPUT_JSONL);
    return 0;
}
