/*  ps_msgpack: strict reading of untrusted MessagePack, the first pass of
    every decoder of the protocol and of other readers of the same bytes
    (compute's checkpoint, the client), and the one string packer every
    encoder uses. */

#ifndef PS_MSGPACK_H_INCLUDED
#define PS_MSGPACK_H_INCLUDED

#include <stddef.h>
#include <string.h>

#include <msgpack.h>

#include "ps_error.h"

/*  Checks that DATA holds exactly one MessagePack object whose container
    counts all fit in the remaining bytes, whose nesting is at most
    PS_MAX_DEPTH, which holds at most PS_MAX_OBJECTS objects in all, and
    whose strings are valid UTF-8. Returns 0, or -1 with
    *ERR (PS_E_DECODE, PS_E_LIMIT or PS_E_UTF8). Call before handing
    untrusted bytes to msgpack_unpack_next. */
int ps_msgpack_check (const void *data, size_t size, ps_error_t *err);

/*  Finds string key KEY in map object MAP; returns the value, or NULL
    when MAP is NULL or not a map or has no such key. */
const msgpack_object *ps_msgpack_map_get (const msgpack_object *map, const char *key);

/*  Packs the string S of LEN bytes with PK. Returns non-zero when a write
    failed (out of memory for a msgpack_sbuffer); encoders OR the results
    together, each write a statement of its own, since the operands of '|'
    may be evaluated in either order and the bytes must go out in this one.

    Always inlined, like msgpack-c's own packing functions: where the
    packer's write function is known (the body encoders' local buffer)
    each write of a few bytes then compiles to a few stores. */
static inline __attribute__ ((always_inline)) int ps_msgpack_pack_str (msgpack_packer *pk,
                                                                       const char *s, size_t len)
{
    int rc = msgpack_pack_str (pk, len);
    rc |= msgpack_pack_str_body (pk, s, len);
    return rc;
}

/* Packs the NUL-terminated string S; as ps_msgpack_pack_str. */
static inline __attribute__ ((always_inline)) int ps_msgpack_pack_cstr (msgpack_packer *pk,
                                                                        const char *s)
{
    return ps_msgpack_pack_str (pk, s, strlen (s));
}

#endif
