/*  client/ps_msgjson_feed, what `paystat sub` and the gateway apply to every
    feed message they receive (the topic is the input up to its first NUL,
    the body the rest). Property: a converted message serialises as JSON
    and carries the topic. */

#include "fuzz.h"
#include "ps_msgjson.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr (data, '\0', size);
    size_t topic_len = nul ? (size_t) (nul - data) : 0;
    const uint8_t *body = nul ? nul + 1 : data;
    size_t body_len = size - (size_t) (body - data);
    ps_error_t err;
    json_t *msg = ps_msgjson_feed ((const char *) data, topic_len, body, body_len, &err);
    if (!msg) {
        FUZZ_CHECK (err.code > PS_OK && err.code < PS_E__COUNT && err.field);
        return 0;
    }
    FUZZ_CHECK (json_is_object (msg));
    char *text = json_dumps (msg, JSON_COMPACT);
    FUZZ_CHECK (text);
    free (text);
    json_decref (msg);
    return 0;
}
