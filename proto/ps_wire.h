/*  ps_wire: helpers the message families of proto/ share, private to
    proto/ (not included by ps_proto.h): filling a ps_error_t, reading
    fields of a decoded map strictly, packing keys and strings, and the
    pieces of the error and grammar modules other families call.

    The helpers a decoder or encoder calls per field (key lookup, integer
    and string checks, string packing) are static inline here: they were
    static in one file before the protocol was split by family, and the
    decoders' and encoders' speed depends on the compiler still seeing
    them, and msgpack-c's inline packer, at each call. */

#ifndef PS_WIRE_H_INCLUDED
#define PS_WIRE_H_INCLUDED

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "ps_error.h"
#include "ps_grammar.h"
#include "ps_limits.h"
#include "ps_msgpack.h"

/* Every integer on the wire fits int64, so clients in any language can hold it. */
#define PS_WIRE_INT_MAX ((uint64_t) INT64_MAX)
/* Bytes of client text quoted back in a reason. */
#define PS_WIRE_QUOTE_MAX 40

/* ---- ps_wire.c: errors and strict field reading ------------------------- */

/*  Fills *ERR with CODE, FIELD (a static string) and the reason FMT, cut
    to PS_REASON_MAX on a UTF-8 boundary, and returns -1, so every check
    can end in "return ps_wire_fail (...)". */
int ps_wire_fail (ps_error_t *err, ps_err_t code, const char *field, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/*  Returns the length of the longest prefix of S[0..LEN) that does not end
    inside a UTF-8 sequence, so truncated text stays valid UTF-8. */
size_t ps_wire_utf8_cut (const char *s, size_t len);

/*  Copies client text into BUF for quoting in a reason: at most
    PS_WIRE_QUOTE_MAX bytes, control characters and quotes replaced by
    '?', "..." when shortened. Returns BUF. */
const char *ps_wire_quote (char buf[PS_WIRE_QUOTE_MAX + 4], const char *text, size_t len);

/*  Returns the name of O's MessagePack type for reasons ("int", "map"...). */
const char *ps_wire_type_name (const msgpack_object *o);

/*  Unpacks a frame of at most MAX bytes that passes ps_msgpack_check
    into ZONE (cleared first). Strings and binaries in *OBJ point into
    DATA. Returns 0, or -1 with *ERR. */
int ps_wire_unpack_max (msgpack_zone *zone, const void *data, size_t size, size_t max,
                        msgpack_object *obj, ps_error_t *err);

/*  ps_wire_unpack_max for the frames of every socket but the front door's
    and compute's (PS_MAX_FRAME). */
int ps_wire_unpack (msgpack_zone *zone, const void *data, size_t size, msgpack_object *obj,
                    ps_error_t *err);

/*  As ps_wire_unpack, and checks that the object is a map: WHAT names the
    message in the reason ("an ack" gives "an ack must be a map, got
    array"). Returns 0, or -1 with *ERR. */
int ps_wire_unpack_map (msgpack_zone *zone, const void *data, size_t size, const char *what,
                        msgpack_object *root, ps_error_t *err);

/*  Unpacks DATA into ZONE as a map of message type TYPE and looks up its N
    KEYS into V (KEYS starts with "v" and "type"). Returns 0, or -1 with
    *ERR. */
int ps_wire_small_decode (msgpack_zone *zone, const void *data, size_t size, const char *type,
                          const char *const *keys, int n, const msgpack_object **v,
                          ps_error_t *err);

/*  Checks "v" (must be the integer 1). Returns 0, or -1 with *ERR. */
int ps_wire_check_version (const msgpack_object *v, ps_error_t *err);

/*  Checks "v" (must be the integer 1) and "type" (must be WANT). Returns
    0, or -1 with *ERR. */
int ps_wire_check_header (const msgpack_object *v, const msgpack_object *type, const char *want,
                          ps_error_t *err);

/*  Reads the id string O of FIELD (producer, ingest) into BUF. EMPTY_OK
    admits "" (an ack to an unreadable batch). Returns 0, or -1 with *ERR. */
int ps_wire_get_id (const msgpack_object *o, const char *field, bool empty_ok,
                    char buf[PS_ID_MAX + 1], ps_error_t *err);

/*  Reads string O (FIELD, optional when OPTIONAL) of at most PS_TOPIC_MAX
    bytes into BUF / *LEN; absent leaves *LEN 0. Returns 0, or -1 with
    *ERR. */
int ps_wire_get_prefix (const msgpack_object *o, const char *field, bool optional, char *buf,
                        size_t *len, ps_error_t *err);

/*  The messages {"v":1, "type": TYPE, KEY: uint} (progress, resend).
    Encoding appends to OUT and returns 0, or -1 when out of memory;
    decoding strictly reads KEY (a static string) into *VALUE and returns
    0, or -1 with *ERR. */
int ps_wire_uint_msg_encode (const char *type, const char *key, uint64_t value,
                             msgpack_sbuffer *out);
int ps_wire_uint_msg_decode (const void *data, size_t size, const char *type, const char *key,
                             uint64_t *value, ps_error_t *err);

/* ---- ps_msgpack.c: the strict check with another size limit ------------- */

/*  ps_msgpack_check with frames up to MAX bytes (PS_MAX_INPUT where the
    front door and compute read past PS_MAX_FRAME to answer). */
int ps_msgpack_check_max (const void *data, size_t size, size_t max, ps_error_t *err);

/* ---- ps_error.c: the wire form of an error ------------------------------ */

/*  Packs the pairs "code", "field", "reason" of E (no map header), the
    reason cut on a UTF-8 boundary. Returns non-zero when a write failed. */
int ps_error_pack_fields (msgpack_packer *pk, const ps_error_t *e);

/*  Packs the pair "reason" of E. Returns non-zero when a write failed. */
int ps_error_pack_reason (msgpack_packer *pk, const ps_error_t *e);

/*  Reads an error map O (an ack's "error", or one of its "rejected" with
    "index" when INDEX is not NULL) into *OUT; its field points to a static
    copy of a known field name. WHERE names it in reasons. Returns 0, or -1
    with *ERR. */
int ps_error_decode_map (const msgpack_object *o, const char *where, ps_error_t *out,
                         uint32_t *index, ps_error_t *err);

/* ---- ps_grammar.c: grammars other families check ------------------------ */

/*  Parses the token "name=value" into *DIM (only checks it when DIM is
    NULL). "*" (a rolled-up dimension) is accepted only when ALLOW_STAR.
    Returns NULL, or a static reason that completes "dimension '...' ". */
const char *ps_grammar_dim_parse (const char *tok, size_t len, bool allow_star, ps_dim_t *dim);

/*  Checks a cell topic "<source>/<period>/<n>=<v>,..." (dims sorted by
    name, values may be "*") or one of the '$' topics compute emits:
    "$ratio/<name>/<period>" and "$reject". Returns NULL or a static
    reason. */
const char *ps_grammar_topic_check (const char *t, size_t len);

/* ---- Inline: per-field work ---------------------------------------------- */

/* Reads N (1 to 8) bytes at P as a big-endian unsigned integer. */
static inline uint64_t ps_wire_be (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* True when O is the string TEXT. */
static inline bool ps_wire_str_is (const msgpack_object *o, const char *text)
{
    size_t len = strlen (text);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == len &&
           memcmp (o->via.str.ptr, text, len) == 0;
}

/*  Looks up the N keys of NAMES in MAP in one pass, storing each value in
    VALS (NULL when absent). Keys that are not strings, or unknown, are
    ignored. A known key given twice is an error: which copy counts would
    otherwise depend on the reader. Returns 0, or -1 with *ERR. */
static inline int ps_wire_fields_get (const msgpack_object *map, const char *const *names, int n,
                                      const msgpack_object **vals, ps_error_t *err)
{
    for (int i = 0; i < n; i++)
        vals[i] = NULL;
    for (uint32_t k = 0; k < map->via.map.size; k++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[k];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            continue;
        for (int i = 0; i < n; i++)
            if (ps_wire_str_is (&kv->key, names[i])) {
                if (vals[i])
                    return ps_wire_fail (err, PS_E_SYNTAX, names[i], "key \"%s\" appears twice",
                                         names[i]);
                vals[i] = &kv->val;
                break;
            }
    }
    return 0;
}

/*  Reads integer O of FIELD, which must lie in [MIN, MAX]; positive values
    may arrive as uint or int. Returns 0, or -1 with *ERR. */
static inline int ps_wire_get_uint (const msgpack_object *o, const char *field, uint64_t min,
                                    uint64_t max, uint64_t *out, ps_error_t *err)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return ps_wire_fail (err, PS_E_RANGE, field, "%s must be >= %" PRIu64 ", got %" PRId64,
                             field, min, o->via.i64);
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return ps_wire_fail (err, PS_E_TYPE, field, "%s must be an integer, got %s", field,
                             ps_wire_type_name (o));
    if (o->via.u64 < min)
        return ps_wire_fail (err, PS_E_RANGE, field, "%s must be >= %" PRIu64 ", got %" PRIu64,
                             field, min, o->via.u64);
    if (o->via.u64 > max)
        return ps_wire_fail (err, PS_E_RANGE, field, "%s must be <= %" PRIu64 ", got %" PRIu64,
                             field, max, o->via.u64);
    *out = o->via.u64;
    return 0;
}

/* As ps_wire_get_uint for a required field O (NULL when absent). */
static inline int ps_wire_need_uint (const msgpack_object *o, const char *field, uint64_t min,
                                     uint64_t max, uint64_t *out, ps_error_t *err)
{
    if (!o)
        return ps_wire_fail (err, PS_E_MISSING, field, "%s is missing", field);
    return ps_wire_get_uint (o, field, min, max, out, err);
}

/* Checks that O (required) is a string. Returns 0, or -1 with *ERR. */
static inline int ps_wire_need_str (const msgpack_object *o, const char *field, ps_error_t *err)
{
    if (!o)
        return ps_wire_fail (err, PS_E_MISSING, field, "%s is missing", field);
    if (o->type != MSGPACK_OBJECT_STR)
        return ps_wire_fail (err, PS_E_TYPE, field, "%s must be a string, got %s", field,
                             ps_wire_type_name (o));
    return 0;
}

/* Checks that O (required) is an array. Returns 0, or -1 with *ERR. */
static inline int ps_wire_need_array (const msgpack_object *o, const char *field, ps_error_t *err)
{
    if (!o)
        return ps_wire_fail (err, PS_E_MISSING, field, "%s is missing", field);
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return ps_wire_fail (err, PS_E_TYPE, field, "%s must be an array, got %s", field,
                             ps_wire_type_name (o));
    return 0;
}

/*  The packers below return non-zero when one of PK's writes failed, as
    ps_msgpack_pack_str does. */

/* Packs KEY followed by unsigned integer V. */
static inline int ps_wire_pack_key_uint (msgpack_packer *pk, const char *key, uint64_t v)
{
    int rc = ps_msgpack_pack_cstr (pk, key);
    rc |= msgpack_pack_uint64 (pk, v);
    return rc;
}

/* Packs KEY followed by the NUL-terminated string VALUE. */
static inline int ps_wire_pack_key_str (msgpack_packer *pk, const char *key, const char *value)
{
    int rc = ps_msgpack_pack_cstr (pk, key);
    rc |= ps_msgpack_pack_cstr (pk, value);
    return rc;
}

/*  Starts a message: a map header of N pairs, then "v" and "type" TYPE
    (the first two of the N). */
static inline int ps_wire_pack_header (msgpack_packer *pk, size_t n, const char *type)
{
    int rc = msgpack_pack_map (pk, n);
    rc |= ps_wire_pack_key_uint (pk, "v", PS_PROTO_VERSION);
    rc |= ps_wire_pack_key_str (pk, "type", type);
    return rc;
}

/*  Bytes packed on the stack: msgpack-c's inline packing functions call
    the packer's write function every few bytes, and one that the
    compiler can see (ps_wire_stack_write, always inlined) costs stores,
    not calls. The packer writes at most CAP bytes (asserted: the callers
    size DATA for their largest message). */
typedef struct {
    size_t len;
    size_t cap;
    char *data;
} ps_wire_stack_t;

static inline __attribute__ ((always_inline)) int ps_wire_stack_write (void *data, const char *buf,
                                                                       size_t len)
{
    ps_wire_stack_t *st = data;
    assert (len <= st->cap - st->len);
    memcpy (st->data + st->len, buf, len);
    st->len += len;
    return 0;
}

/* ---- Inline: raw MessagePack headers (no allocation) --------------------- */

/* The kinds of MessagePack object ps_wire_next tells apart. */
typedef enum {
    PS_WIRE_NIL,
    PS_WIRE_BOOL,
    PS_WIRE_INT,
    PS_WIRE_FLOAT,
    PS_WIRE_STR,
    PS_WIRE_BIN,
    PS_WIRE_EXT,
    PS_WIRE_ARRAY,
    PS_WIRE_MAP
} ps_wire_kind_t;

typedef struct {
    ps_wire_kind_t kind;
    const uint8_t *str; /* PS_WIRE_STR: its bytes */
    uint64_t n;         /* PS_WIRE_STR: its length; PS_WIRE_ARRAY: elements; PS_WIRE_MAP: pairs */
} ps_wire_obj_t;

/*  Reads the object at *P (before END) into *O and moves *P past its
    header, and past its payload when it is not a container. Returns -1
    when the bytes end first or at the unused byte 0xc1. */
static inline int ps_wire_next (const uint8_t **p, const uint8_t *end, ps_wire_obj_t *o)
{
    if (*p >= end)
        return -1;
    uint8_t b = *(*p)++;
    size_t len_bytes = 0;
    uint64_t payload = 0;
    o->n = 0;
    o->str = NULL;
    if (b <= 0x7f || b >= 0xe0) {
        o->kind = PS_WIRE_INT;
        return 0;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        o->kind = PS_WIRE_STR;
        payload = b & 0x1f;
    } else if (b <= 0x8f) {
        o->kind = PS_WIRE_MAP;
        o->n = b & 0x0f;
        return 0;
    } else if (b <= 0x9f) {
        o->kind = PS_WIRE_ARRAY;
        o->n = b & 0x0f;
        return 0;
    } else
        switch (b) {
        case 0xc0:
            o->kind = PS_WIRE_NIL;
            return 0;
        case 0xc2:
        case 0xc3:
            o->kind = PS_WIRE_BOOL;
            return 0;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            o->kind = PS_WIRE_BIN;
            len_bytes = (size_t) 1 << (b - 0xc4);
            break;
        case 0xc7:
        case 0xc8:
        case 0xc9:
            o->kind = PS_WIRE_EXT;
            len_bytes = (size_t) 1 << (b - 0xc7);
            payload = 1; /* the type byte */
            break;
        case 0xca:
        case 0xcb:
            o->kind = PS_WIRE_FLOAT;
            payload = b == 0xca ? 4 : 8;
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            o->kind = PS_WIRE_INT;
            payload = (uint64_t) 1 << (b - 0xcc);
            break;
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3:
            o->kind = PS_WIRE_INT;
            payload = (uint64_t) 1 << (b - 0xd0);
            break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            o->kind = PS_WIRE_EXT;
            payload = 1 + ((uint64_t) 1 << (b - 0xd4));
            break;
        case 0xd9:
        case 0xda:
        case 0xdb:
            o->kind = PS_WIRE_STR;
            len_bytes = (size_t) 1 << (b - 0xd9);
            break;
        case 0xdc:
        case 0xdd:
            o->kind = PS_WIRE_ARRAY;
            len_bytes = (size_t) 2 << (b - 0xdc);
            break;
        case 0xde:
        case 0xdf:
            o->kind = PS_WIRE_MAP;
            len_bytes = (size_t) 2 << (b - 0xde);
            break;
        default: /* 0xc1 */
            return -1;
        }
    if ((size_t) (end - *p) < len_bytes)
        return -1;
    uint64_t n = 0;
    for (size_t i = 0; i < len_bytes; i++)
        n = n << 8 | (*p)[i];
    *p += len_bytes;
    if (o->kind == PS_WIRE_ARRAY || o->kind == PS_WIRE_MAP) {
        o->n = n;
        return 0;
    }
    payload += n;
    if (payload > (uint64_t) (end - *p))
        return -1;
    if (o->kind == PS_WIRE_STR) {
        o->str = *p;
        o->n = payload;
    }
    *p += payload;
    return 0;
}

/*  Moves *P past the elements of O, whose header was just read (nothing
    to do for a scalar). Returns -1 when the bytes end first. Each object
    takes at least one byte, so this ends within END - *P steps. */
static inline int ps_wire_skip (const uint8_t **p, const uint8_t *end, const ps_wire_obj_t *o)
{
    uint64_t todo = o->kind == PS_WIRE_MAP ? 2 * o->n : o->kind == PS_WIRE_ARRAY ? o->n : 0;
    while (todo > 0) {
        if (todo > (uint64_t) (end - *p))
            return -1;
        ps_wire_obj_t in;
        if (ps_wire_next (p, end, &in) != 0)
            return -1;
        todo--;
        todo += in.kind == PS_WIRE_MAP ? 2 * in.n : in.kind == PS_WIRE_ARRAY ? in.n : 0;
    }
    return 0;
}

#endif
