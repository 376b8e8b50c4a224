/*  ps_feed_body on arbitrary bytes (publish calls it on bodies compute sent,
    which ps_feed_update_decode checked, but the splice must not read or write
    out of bounds whatever it is given). The first 24 bytes, when there are
    that many, give seq, prev and epoch. Property: a body that passes
    ps_msgpack_check and is a map becomes a map with 4 more entries. */

#include "fuzz.h"
#include "ps_proto.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint64_t nums[3] = {1, 0, 1};
    if (size >= sizeof nums) {
        memcpy (nums, data, sizeof nums);
        data += sizeof nums;
        size -= sizeof nums;
    }
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    int rc = ps_feed_body (nums[0], nums[1], nums[2], data, size, &out);
    ps_error_t err;
    msgpack_zone zone;
    FUZZ_CHECK (msgpack_zone_init (&zone, 4096));
    msgpack_object fields, body;
    size_t off = 0;
    if (ps_msgpack_check (data, size, &err) == 0 &&
        msgpack_unpack ((const char *) data, size, &off, &zone, &fields) ==
            MSGPACK_UNPACK_SUCCESS &&
        fields.type == MSGPACK_OBJECT_MAP) {
        FUZZ_CHECK (rc == 0);
        off = 0;
        FUZZ_CHECK (msgpack_unpack (out.data, out.size, &off, &zone, &body) ==
                    MSGPACK_UNPACK_SUCCESS);
        FUZZ_CHECK (off == out.size && body.type == MSGPACK_OBJECT_MAP);
        FUZZ_CHECK (body.via.map.size == fields.via.map.size + 4);
    }
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&out);
    return 0;
}
