/*  ps_msgpack_check, against msgpack-c itself. Properties: whatever the
    check accepts, msgpack-c unpacks as exactly one object using every byte,
    within PS_MAX_DEPTH levels and PS_MAX_OBJECTS objects. */

#include "fuzz.h"
#include "ps_proto.h"

/*  Counts the objects of O and checks its depth (the root is level 0). */
static uint64_t s_count (const msgpack_object *o, int depth)
{
    uint64_t n = 1;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        FUZZ_CHECK (depth < PS_MAX_DEPTH);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            n += s_count (&o->via.array.ptr[i], depth + 1);
    } else if (o->type == MSGPACK_OBJECT_MAP) {
        FUZZ_CHECK (depth < PS_MAX_DEPTH);
        for (uint32_t i = 0; i < o->via.map.size; i++)
            n += s_count (&o->via.map.ptr[i].key, depth + 1) +
                 s_count (&o->via.map.ptr[i].val, depth + 1);
    }
    return n;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ps_error_t err;
    if (ps_msgpack_check (data, size, &err) != 0) {
        FUZZ_CHECK (err.code == PS_E_DECODE || err.code == PS_E_LIMIT || err.code == PS_E_UTF8);
        return 0;
    }
    msgpack_zone zone;
    FUZZ_CHECK (msgpack_zone_init (&zone, 4096));
    msgpack_object obj;
    size_t off = 0;
    FUZZ_CHECK (msgpack_unpack ((const char *) data, size, &off, &zone, &obj) ==
                MSGPACK_UNPACK_SUCCESS);
    FUZZ_CHECK (off == size);
    FUZZ_CHECK (s_count (&obj, 0) <= PS_MAX_OBJECTS);
    msgpack_zone_destroy (&zone);
    return 0;
}
