/*  ps_feed_update_decode, then ps_feed_body on every item, as publish does.
    Properties: items point inside the frame; each body spliced into a feed
    message unpacks as one map with the four numbering keys added. */

#include "fuzz.h"
#include "ps_proto.h"

static ps_update_item_t *s_items;
static size_t s_capacity;

static bool s_inside (const void *p, size_t len, const uint8_t *data, size_t size)
{
    const uint8_t *b = p;
    return len == 0 || (b >= data && b + len <= data + size);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint64_t epoch, useq;
    size_t n;
    ps_error_t err;
    if (ps_feed_update_decode (data, size, &epoch, &useq, &s_items, &n, &s_capacity, &err) != 0) {
        FUZZ_CHECK (err.code > PS_OK && err.code < PS_E__COUNT && err.field);
        return 0;
    }
    FUZZ_CHECK (useq >= 1 && n <= s_capacity);
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    for (size_t i = 0; i < n; i++) {
        const ps_update_item_t *it = &s_items[i];
        FUZZ_CHECK (it->topic_len > 0 && it->topic_len <= PS_TOPIC_MAX);
        FUZZ_CHECK (s_inside (it->topic, it->topic_len, data, size));
        FUZZ_CHECK (s_inside (it->body, it->body_len, data, size));
        if (it->body_len == 0)
            continue;
        FUZZ_CHECK (ps_feed_body (useq, 0, epoch, it->body, it->body_len, &body) == 0);
        msgpack_zone zone;
        FUZZ_CHECK (msgpack_zone_init (&zone, 4096));
        msgpack_object obj, fields;
        size_t off = 0;
        FUZZ_CHECK (msgpack_unpack (body.data, body.size, &off, &zone, &obj) ==
                        MSGPACK_UNPACK_SUCCESS &&
                    off == body.size && obj.type == MSGPACK_OBJECT_MAP);
        off = 0;
        FUZZ_CHECK (msgpack_unpack ((const char *) it->body, it->body_len, &off, &zone, &fields) ==
                    MSGPACK_UNPACK_SUCCESS);
        FUZZ_CHECK (obj.via.map.size == fields.via.map.size + 4);
        msgpack_zone_destroy (&zone);
    }
    msgpack_sbuffer_destroy (&body);
    return 0;
}
