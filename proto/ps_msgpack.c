/*  ps_msgpack: strict reading of untrusted MessagePack.

    Decoding is two passes over untrusted bytes: ps_msgpack_check walks the
    raw MessagePack headers without allocating (msgpack-c trusts container
    counts and allocates count x 24 bytes up front), then msgpack-c builds
    the object tree and each message's reader checks types, ranges and
    grammars field by field. This file is the first pass, the one every
    decoder, compute's checkpoint and the client run on every frame, so it
    is written for speed: one loop, no allocation, ASCII a word at a time. */

#include "ps_msgpack.h"
#include "ps_wire.h"

/*  True when S[0..LEN) is ASCII, read eight bytes at a time; AVAIL bytes
    from S on may be read (at least LEN), so a short string is one word. */
static bool s_ascii (const uint8_t *s, size_t len, size_t avail)
{
    const uint64_t high = 0x8080808080808080ULL;
    uint64_t any = 0, w;
    if (len < 8 && avail >= 8) {
        memcpy (&w, s, 8);
        /* Only the first LEN bytes of the word are the string's. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t mine = len ? ~0ULL >> (64 - 8 * len) : 0;
#else
        uint64_t mine = len ? ~0ULL << (64 - 8 * len) : 0;
#endif
        return !(w & mine & high);
    }
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy (&w, s + i, 8);
        any |= w;
    }
    if (len >= 8) {
        memcpy (&w, s + len - 8, 8); /* the tail, overlapping */
        any |= w;
    } else
        for (; i < len; i++)
            any |= s[i];
    return !(any & high);
}

/*  True when S[0..LEN) is well-formed UTF-8: no overlong forms, no
    surrogates, nothing above U+10FFFF. AVAIL as for s_ascii. */
static bool s_utf8_ok (const uint8_t *s, size_t len, size_t avail)
{
    /* Nearly all text on the wire is ASCII. */
    if (s_ascii (s, len, avail))
        return true;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t more;
        uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (c >= 0xc2 && c <= 0xdf)
            more = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else
            return false;
        if (len - i - 1 < more || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= more; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += more + 1;
    }
    return true;
}

int ps_msgpack_check_max (const void *data, size_t size, size_t max, ps_error_t *err)
{
    if (size == 0)
        return ps_wire_fail (err, PS_E_DECODE, "", "empty frame");
    if (size > max)
        return ps_wire_fail (err, PS_E_LIMIT, "",
                             "frame of %zu bytes exceeds the limit of %zu bytes", size, max);
    const uint8_t *start = data, *p = start, *end = start + size;
    /* todo[d]: objects still to read in the container open at depth d. */
    uint64_t todo[PS_MAX_DEPTH + 1];
    int depth = 0;
    todo[0] = 1;
    uint32_t objects = 0;
    for (;;) {
        while (todo[depth] == 0) {
            if (depth == 0)
                goto done;
            depth--;
        }
        todo[depth]--;
        size_t at = (size_t) (p - start);
        /* One-byte objects (nil, fixint, empty containers) would otherwise let
           a 4 MiB frame cost msgpack-c ~100 MB of zone. */
        if (++objects > PS_MAX_OBJECTS)
            return ps_wire_fail (err, PS_E_LIMIT, "", "more than %u MessagePack objects (byte %zu)",
                                 PS_MAX_OBJECTS, at);
        if (p == end)
            return ps_wire_fail (err, PS_E_DECODE, "",
                                 "frame ends in the middle of an object (byte %zu)", at);
        uint8_t b = *p++;
        /* A positive or negative fixint is the whole object. */
        if (b <= 0x7f || b >= 0xe0)
            continue;
        int len_bytes = 0;     /* size of the length field that follows B */
        uint64_t payload = 0;  /* bytes to skip after the length field */
        uint64_t elements = 0; /* objects inside a container */
        enum { SCALAR, STR, ARRAY, MAP } kind = SCALAR;
        /* Most frequent first: map keys and short values are fixstr. */
        if (b >= 0xa0 && b <= 0xbf) {
            kind = STR;
            payload = b & 0x1f;
        } else if (b <= 0x8f) {
            kind = MAP;
            elements = b & 0x0f;
        } else if (b <= 0x9f) {
            kind = ARRAY;
            elements = b & 0x0f;
        } else
            switch (b) {
            case 0xc0: /* nil */
            case 0xc2: /* false */
            case 0xc3: /* true */
                break;
            case 0xc1:
                return ps_wire_fail (err, PS_E_DECODE, "",
                                     "byte 0xc1 at %zu is never used in MessagePack", at);
            case 0xc4: /* bin 8/16/32 */
            case 0xc5:
            case 0xc6:
                len_bytes = 1 << (b - 0xc4);
                break;
            case 0xc7: /* ext 8/16/32: length, then a type byte */
            case 0xc8:
            case 0xc9:
                len_bytes = 1 << (b - 0xc7);
                payload = 1;
                break;
            case 0xca:
            case 0xd2:
            case 0xce:
                payload = 4;
                break;
            case 0xcb:
            case 0xcf:
            case 0xd3:
                payload = 8;
                break;
            case 0xcc:
            case 0xd0:
                payload = 1;
                break;
            case 0xcd:
            case 0xd1:
                payload = 2;
                break;
            case 0xd4: /* fixext 1/2/4/8/16: a type byte, then the data */
            case 0xd5:
            case 0xd6:
            case 0xd7:
            case 0xd8:
                payload = 1 + (1u << (b - 0xd4));
                break;
            case 0xd9: /* str 8/16/32 */
            case 0xda:
            case 0xdb:
                kind = STR;
                len_bytes = 1 << (b - 0xd9);
                break;
            case 0xdc: /* array 16/32 */
            case 0xdd:
                kind = ARRAY;
                len_bytes = 2 << (b - 0xdc);
                break;
            default: /* 0xde, 0xdf: map 16/32 */
                kind = MAP;
                len_bytes = 2 << (b - 0xde);
                break;
            }
        if ((size_t) (end - p) < (size_t) len_bytes)
            return ps_wire_fail (err, PS_E_DECODE, "", "frame ends inside the header at byte %zu",
                                 at);
        if (len_bytes) {
            uint64_t n = ps_wire_be (p, len_bytes);
            p += len_bytes;
            if (kind == ARRAY || kind == MAP)
                elements = n;
            else
                payload += n;
        }
        size_t left = (size_t) (end - p);
        if (kind == ARRAY || kind == MAP) {
            /* Every element takes at least one byte: a count that cannot fit
               is refused before msgpack-c reserves memory for it. */
            uint64_t need = kind == MAP ? 2 * elements : elements;
            if (need > left)
                return ps_wire_fail (err, PS_E_DECODE, "",
                                     "%s at byte %zu announces %" PRIu64
                                     " elements but only %zu bytes remain",
                                     kind == MAP ? "map" : "array", at, elements, left);
            if (depth == PS_MAX_DEPTH)
                return ps_wire_fail (err, PS_E_LIMIT, "",
                                     "nesting deeper than %d levels at byte %zu", PS_MAX_DEPTH, at);
            if (need > 0)
                todo[++depth] = need;
            continue;
        }
        if (payload > left)
            return ps_wire_fail (err, PS_E_DECODE, "",
                                 "object at byte %zu needs %" PRIu64 " bytes but only %zu remain",
                                 at, payload, left);
        if (kind == STR && !s_utf8_ok (p, (size_t) payload, left))
            return ps_wire_fail (err, PS_E_UTF8, "", "string at byte %zu is not valid UTF-8", at);
        p += payload;
    }
done:
    if (p != end)
        return ps_wire_fail (err, PS_E_DECODE, "", "%zu trailing bytes after the object",
                             (size_t) (end - p));
    return 0;
}

int ps_msgpack_check (const void *data, size_t size, ps_error_t *err)
{
    return ps_msgpack_check_max (data, size, PS_MAX_FRAME, err);
}

const msgpack_object *ps_msgpack_map_get (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (ps_wire_str_is (&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}
