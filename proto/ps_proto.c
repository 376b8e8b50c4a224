/*  ps_proto: the paystat wire protocol v1; see ps_proto.h and PROTOCOL.md.

    Decoding is two passes over untrusted bytes: ps_msgpack_check walks the
    raw MessagePack headers without allocating (msgpack-c trusts container
    counts and allocates count x 24 bytes up front), then msgpack-c builds
    the object tree and each message's reader checks types, ranges and
    grammars field by field. */

#include "ps_proto.h"
#include "ps_money.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every integer on the wire fits int64, so clients in any language can hold it. */
#define S_INT_MAX ((uint64_t) INT64_MAX)
/* Zone chunk: a batch of ~1500 reports decodes without another malloc. */
#define S_ZONE_CHUNK (512 * 1024)
/* Bytes of client text quoted back in a reason. */
#define S_QUOTE_MAX 40

static const char *const s_err_names[PS_E__COUNT] = {
    [PS_OK] = "ok",
    [PS_E_DECODE] = "decode",
    [PS_E_LIMIT] = "limit",
    [PS_E_VERSION] = "version",
    [PS_E_TYPE] = "type",
    [PS_E_MISSING] = "missing",
    [PS_E_RANGE] = "range",
    [PS_E_SYNTAX] = "syntax",
    [PS_E_UTF8] = "utf8",
    [PS_E_PERIOD] = "period",
    [PS_E_CURRENCY] = "currency",
    [PS_E_CURRENCY_MISMATCH] = "currency_mismatch",
    [PS_E_DIMS] = "dims",
    [PS_E_OP] = "op",
    [PS_E_OVERFLOW] = "overflow",
    [PS_E_RETRY] = "retry_later",
    [PS_E_PERMISSION] = "not_permitted",
};

static const char *const s_status_names[] = {"ok", "partial", "rejected", "duplicate",
                                             "retry_later"};

/* Field names an error may carry; decoded acks point their errors here. */
static const char *const s_fields[] = {
    "",     "v",     "type",   "producer", "seq", "ingest", "jseq",   "reports", "source", "period",
    "dims", "count", "amount", "currency", "op",  "i",      "prefix", "since",   "epoch"};

/* ---- Small helpers ------------------------------------------------------ */

/*  Returns the length of the longest prefix of S[0..LEN) that does not end
    inside a UTF-8 sequence, so truncated text stays valid UTF-8. */
static size_t s_utf8_cut (const char *s, size_t len)
{
    size_t i = len;
    while (i > 0 && ((unsigned char) s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0)
        return len;
    unsigned char lead = (unsigned char) s[i - 1];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    return len - (i - 1) >= need ? len : i - 1;
}

static int s_fail (ps_error_t *err, ps_err_t code, const char *field, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/*  Fills *ERR and returns -1, so every check can end in "return s_fail (...)". */
static int s_fail (ps_error_t *err, ps_err_t code, const char *field, const char *fmt, ...)
{
    err->code = code;
    err->field = field;
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (err->reason, sizeof err->reason, fmt, ap);
    va_end (ap);
    if (n >= (int) sizeof err->reason)
        err->reason[s_utf8_cut (err->reason, sizeof err->reason - 1)] = '\0';
    return -1;
}

/*  Copies client text into BUF for quoting in a reason: at most
    S_QUOTE_MAX bytes, control characters and quotes replaced by '?',
    "..." when shortened. Returns BUF. */
static const char *s_quote (char buf[S_QUOTE_MAX + 4], const char *text, size_t len)
{
    size_t n = len > S_QUOTE_MAX ? s_utf8_cut (text, S_QUOTE_MAX) : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) text[i];
        buf[i] = (c < 0x20 || c == 0x7f || c == '\'' || c == '"') ? '?' : (char) c;
    }
    strcpy (buf + n, n < len ? "..." : "");
    return buf;
}

static const char *s_type_name (const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "int";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "float";
    case MSGPACK_OBJECT_STR:
        return "str";
    case MSGPACK_OBJECT_ARRAY:
        return "array";
    case MSGPACK_OBJECT_MAP:
        return "map";
    case MSGPACK_OBJECT_BIN:
        return "bin";
    case MSGPACK_OBJECT_EXT:
        return "ext";
    }
    return "unknown";
}

static bool s_str_is (const msgpack_object *o, const char *text)
{
    size_t len = strlen (text);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == len &&
           memcmp (o->via.str.ptr, text, len) == 0;
}

static bool s_is_alnum (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* True when every byte of S[0..LEN) is alphanumeric or in EXTRA. */
static bool s_chars_ok (const char *s, size_t len, const char *extra)
{
    for (size_t i = 0; i < len; i++)
        if (!s_is_alnum (s[i]) && (s[i] == '\0' || !strchr (extra, s[i])))
            return false;
    return true;
}

/* Producer and ingest ids: [A-Za-z0-9_.:-]{1,64}. */
static bool s_id_ok (const char *s, size_t len)
{
    return len >= 1 && len <= PS_ID_MAX && s_chars_ok (s, len, "_.:-");
}

bool ps_source_valid (const char *s, size_t len)
{
    return len >= 1 && len <= PS_SOURCE_MAX && s_is_alnum (s[0]) && s_chars_ok (s, len, "_.-");
}

/* Dimension name: [a-z][a-z0-9_]{0,31}. */
bool ps_dim_name_valid (const char *s, size_t len)
{
    if (len < 1 || len > PS_DIM_NAME_MAX || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 1; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* Dimension value, and ratio name: [A-Za-z0-9_.-]{1,64}. */
bool ps_dim_value_valid (const char *s, size_t len)
{
    return len >= 1 && len <= PS_DIM_VALUE_MAX && s_chars_ok (s, len, "_.-");
}

/*  Parses the token "name=value" into *DIM (only checks it when DIM is
    NULL). "*" (a rolled-up dimension) is accepted only when ALLOW_STAR. Returns NULL, or a static
   reason that completes "dimension '...' ". */
static const char *s_dim_parse (const char *tok, size_t len, bool allow_star, ps_dim_t *dim)
{
    const char *eq = memchr (tok, '=', len);
    if (!eq)
        return "is not name=value";
    size_t name_len = (size_t) (eq - tok);
    const char *value = eq + 1;
    size_t value_len = len - name_len - 1;
    if (!ps_dim_name_valid (tok, name_len))
        return "has a name that is not [a-z][a-z0-9_]*, at most 32 characters";
    bool star = value_len == 1 && value[0] == '*';
    if (star && !allow_star)
        return "has the value '*', which is reserved for rolled-up dimensions";
    if (!star && !ps_dim_value_valid (value, value_len))
        return "has a value that is not 1 to 64 of A-Z a-z 0-9 _ . -";
    if (!dim)
        return NULL;
    memcpy (dim->name, tok, name_len);
    dim->name[name_len] = '\0';
    memcpy (dim->value, value, value_len);
    dim->value[value_len] = '\0';
    return NULL;
}

/* ---- Strict reading of raw MessagePack ---------------------------------- */

static uint64_t s_be (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

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

int ps_msgpack_check (const void *data, size_t size, ps_error_t *err)
{
    if (size == 0)
        return s_fail (err, PS_E_DECODE, "", "empty frame");
    if (size > PS_MAX_FRAME)
        return s_fail (err, PS_E_LIMIT, "", "frame of %zu bytes exceeds the limit of %u bytes",
                       size, PS_MAX_FRAME);
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
            return s_fail (err, PS_E_LIMIT, "", "more than %u MessagePack objects (byte %zu)",
                           PS_MAX_OBJECTS, at);
        if (p == end)
            return s_fail (err, PS_E_DECODE, "", "frame ends in the middle of an object (byte %zu)",
                           at);
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
                return s_fail (err, PS_E_DECODE, "",
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
            return s_fail (err, PS_E_DECODE, "", "frame ends inside the header at byte %zu", at);
        if (len_bytes) {
            uint64_t n = s_be (p, len_bytes);
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
                return s_fail (err, PS_E_DECODE, "",
                               "%s at byte %zu announces %" PRIu64
                               " elements but only %zu bytes remain",
                               kind == MAP ? "map" : "array", at, elements, left);
            if (depth == PS_MAX_DEPTH)
                return s_fail (err, PS_E_LIMIT, "", "nesting deeper than %d levels at byte %zu",
                               PS_MAX_DEPTH, at);
            if (need > 0)
                todo[++depth] = need;
            continue;
        }
        if (payload > left)
            return s_fail (err, PS_E_DECODE, "",
                           "object at byte %zu needs %" PRIu64 " bytes but only %zu remain", at,
                           payload, left);
        if (kind == STR && !s_utf8_ok (p, (size_t) payload, left))
            return s_fail (err, PS_E_UTF8, "", "string at byte %zu is not valid UTF-8", at);
        p += payload;
    }
done:
    if (p != end)
        return s_fail (err, PS_E_DECODE, "", "%zu trailing bytes after the object",
                       (size_t) (end - p));
    return 0;
}

/*  Unpacks a frame that passed ps_msgpack_check into ZONE (cleared first).
    Strings and binaries in *OBJ point into DATA. */
static int s_unpack (msgpack_zone *zone, const void *data, size_t size, msgpack_object *obj,
                     ps_error_t *err)
{
    if (ps_msgpack_check (data, size, err) != 0)
        return -1;
    msgpack_zone_clear (zone);
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack (data, size, &off, zone, obj);
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
        return s_fail (err, PS_E_LIMIT, "", "frame too large to decode (out of memory)");
    if (rc != MSGPACK_UNPACK_SUCCESS || off != size)
        return s_fail (err, PS_E_DECODE, "", "not one complete MessagePack object");
    return 0;
}

/*  Looks up the N keys of NAMES in MAP in one pass, storing each value in
    VALS (NULL when absent). Keys that are not strings, or unknown, are
    ignored. A known key given twice is an error: which copy counts would
    otherwise depend on the reader. */
static int s_fields_get (const msgpack_object *map, const char *const *names, int n,
                         const msgpack_object **vals, ps_error_t *err)
{
    for (int i = 0; i < n; i++)
        vals[i] = NULL;
    for (uint32_t k = 0; k < map->via.map.size; k++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[k];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            continue;
        for (int i = 0; i < n; i++)
            if (s_str_is (&kv->key, names[i])) {
                if (vals[i])
                    return s_fail (err, PS_E_SYNTAX, names[i], "key \"%s\" appears twice",
                                   names[i]);
                vals[i] = &kv->val;
                break;
            }
    }
    return 0;
}

/*  Reads integer O of FIELD, which must lie in [MIN, MAX]; positive values
    may arrive as uint or int. */
static int s_get_uint (const msgpack_object *o, const char *field, uint64_t min, uint64_t max,
                       uint64_t *out, ps_error_t *err)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return s_fail (err, PS_E_RANGE, field, "%s must be >= %" PRIu64 ", got %" PRId64, field,
                       min, o->via.i64);
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail (err, PS_E_TYPE, field, "%s must be an integer, got %s", field,
                       s_type_name (o));
    if (o->via.u64 < min)
        return s_fail (err, PS_E_RANGE, field, "%s must be >= %" PRIu64 ", got %" PRIu64, field,
                       min, o->via.u64);
    if (o->via.u64 > max)
        return s_fail (err, PS_E_RANGE, field, "%s must be <= %" PRIu64 ", got %" PRIu64, field,
                       max, o->via.u64);
    *out = o->via.u64;
    return 0;
}

/* As s_get_uint for a required field O (NULL when absent). */
static int s_need_uint (const msgpack_object *o, const char *field, uint64_t min, uint64_t max,
                        uint64_t *out, ps_error_t *err)
{
    if (!o)
        return s_fail (err, PS_E_MISSING, field, "%s is missing", field);
    return s_get_uint (o, field, min, max, out, err);
}

/* Checks that O (required) is a string; returns -1 with the error otherwise. */
static int s_need_str (const msgpack_object *o, const char *field, ps_error_t *err)
{
    if (!o)
        return s_fail (err, PS_E_MISSING, field, "%s is missing", field);
    if (o->type != MSGPACK_OBJECT_STR)
        return s_fail (err, PS_E_TYPE, field, "%s must be a string, got %s", field,
                       s_type_name (o));
    return 0;
}

/*  Reads the id string O of FIELD (producer, ingest) into BUF. EMPTY_OK
    admits "" (an ack to an unreadable batch). */
static int s_get_id (const msgpack_object *o, const char *field, bool empty_ok,
                     char buf[PS_ID_MAX + 1], ps_error_t *err)
{
    if (s_need_str (o, field, err) != 0)
        return -1;
    const char *s = o->via.str.ptr;
    size_t len = o->via.str.size;
    char q[S_QUOTE_MAX + 4];
    if (len > PS_ID_MAX)
        return s_fail (err, PS_E_LIMIT, field, "%s is %zu bytes long, at most %d", field, len,
                       PS_ID_MAX);
    if (!(empty_ok && len == 0) && !s_id_ok (s, len))
        return s_fail (err, PS_E_SYNTAX, field, "%s '%s' must be 1 to 64 of A-Z a-z 0-9 _ . : -",
                       field, s_quote (q, s, len));
    memcpy (buf, s, len);
    buf[len] = '\0';
    return 0;
}

/* Checks "v" (must be the integer 1). */
static int s_check_version (const msgpack_object *v, ps_error_t *err)
{
    if (!v)
        return s_fail (err, PS_E_VERSION, "v", "v is missing (this receiver speaks version %d)",
                       PS_PROTO_VERSION);
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return s_fail (err, PS_E_VERSION, "v",
                       "unsupported protocol version %" PRId64 " (this receiver speaks %d)",
                       v->via.i64, PS_PROTO_VERSION);
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail (err, PS_E_VERSION, "v", "v must be the integer %d, got %s", PS_PROTO_VERSION,
                       s_type_name (v));
    if (v->via.u64 != PS_PROTO_VERSION)
        return s_fail (err, PS_E_VERSION, "v",
                       "unsupported protocol version %" PRIu64 " (this receiver speaks %d)",
                       v->via.u64, PS_PROTO_VERSION);
    return 0;
}

/* Checks "v" (must be the integer 1) and "type" (must be TYPE). */
static int s_check_header (const msgpack_object *v, const msgpack_object *type, const char *want,
                           ps_error_t *err)
{
    if (s_check_version (v, err) != 0 || s_need_str (type, "type", err) != 0)
        return -1;
    char q[S_QUOTE_MAX + 4];
    if (!s_str_is (type, want))
        return s_fail (err, PS_E_TYPE, "type", "type must be \"%s\", got \"%s\"", want,
                       s_quote (q, type->via.str.ptr, type->via.str.size));
    return 0;
}

/* ---- Names -------------------------------------------------------------- */

const char *ps_err_name (ps_err_t code)
{
    if ((int) code < 0 || code >= PS_E__COUNT)
        return "unknown";
    return s_err_names[code];
}

ps_err_t ps_err_from_name (const char *name, size_t len)
{
    for (int c = PS_E_DECODE; c < PS_E__COUNT; c++)
        if (strlen (s_err_names[c]) == len && memcmp (s_err_names[c], name, len) == 0)
            return (ps_err_t) c;
    return PS_E__COUNT;
}

const char *ps_op_name (ps_op_t op)
{
    return op == PS_OP_SET ? "set" : op == PS_OP_RETRACT ? "retract" : "add";
}

const char *ps_ack_status_name (ps_ack_status_t status)
{
    if ((int) status < 0 || (size_t) status >= sizeof s_status_names / sizeof *s_status_names)
        return "unknown";
    return s_status_names[status];
}

const msgpack_object *ps_map_get (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (s_str_is (&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

/* ---- Batches ------------------------------------------------------------ */

ps_batch_t *ps_batch_new (void)
{
    ps_batch_t *self = calloc (1, sizeof *self);
    if (!self)
        goto err;
    self->zone = msgpack_zone_new (S_ZONE_CHUNK);
    if (!self->zone)
        goto err;
    return self;
err:
    ps_batch_destroy (&self);
    return NULL;
}

void ps_batch_destroy (ps_batch_t **self_p)
{
    assert (self_p);
    ps_batch_t *self = *self_p;
    if (!self)
        return;
    if (self->zone)
        msgpack_zone_free (self->zone);
    free (self->reports);
    free (self->index);
    free (self->rejects);
    free (self);
    *self_p = NULL;
}

void ps_batch_reset (ps_batch_t *self)
{
    assert (self);
    self->producer[0] = '\0';
    self->seq = 0;
    self->ingest[0] = '\0';
    self->jseq = 0;
    self->journal = 0;
    self->total = 0;
    self->nreports = 0;
    self->nrejects = 0;
}

/*  Makes room for NEED slots in each array, doubling. Keeps the invariant
    capacity >= nreports + nrejects, so moving a report to the rejects
    never allocates. Returns -1 when out of memory. */
static int s_reserve (ps_batch_t *self, uint32_t need)
{
    if (need <= self->capacity)
        return 0;
    uint32_t cap = self->capacity ? self->capacity : 16;
    while (cap < need)
        cap *= 2;
    if (cap > PS_MAX_REPORTS && need <= PS_MAX_REPORTS)
        cap = PS_MAX_REPORTS; /* a decoded batch never needs more */
    ps_report_t *reports = realloc (self->reports, cap * sizeof *reports);
    if (reports)
        self->reports = reports;
    uint32_t *index = realloc (self->index, cap * sizeof *index);
    if (index)
        self->index = index;
    ps_reject_t *rejects = realloc (self->rejects, cap * sizeof *rejects);
    if (rejects)
        self->rejects = rejects;
    if (!reports || !index || !rejects)
        return -1;
    self->capacity = cap;
    return 0;
}

int ps_batch_append (ps_batch_t *self, const ps_report_t *report, uint32_t index)
{
    assert (self && report);
    if (self->nreports >= PS_MAX_REPORTS ||
        s_reserve (self, self->nreports + self->nrejects + 1) != 0)
        return -1;
    self->reports[self->nreports] = *report;
    self->index[self->nreports++] = index;
    if (index >= self->total)
        self->total = index + 1;
    return 0;
}

/*  Inserts a reject keeping the rejects sorted by index (acks list them in
    order); callers mostly add in order, so this is usually an append. */
static void s_insert_reject (ps_batch_t *self, uint32_t index, const ps_error_t *error)
{
    uint32_t at = self->nrejects;
    while (at > 0 && self->rejects[at - 1].index > index)
        at--;
    memmove (&self->rejects[at + 1], &self->rejects[at],
             (self->nrejects - at) * sizeof *self->rejects);
    self->rejects[at].index = index;
    self->rejects[at].error = *error;
    self->nrejects++;
}

void ps_batch_reject (ps_batch_t *self, uint32_t i, const ps_error_t *error)
{
    assert (self && error && i < self->nreports);
    uint32_t index = self->index[i];
    uint32_t after = self->nreports - i - 1;
    memmove (&self->reports[i], &self->reports[i + 1], after * sizeof *self->reports);
    memmove (&self->index[i], &self->index[i + 1], after * sizeof *self->index);
    self->nreports--;
    s_insert_reject (self, index, error);
}

int ps_batch_add_reject (ps_batch_t *self, uint32_t index, const ps_error_t *error)
{
    assert (self && error);
    if (s_reserve (self, self->nreports + self->nrejects + 1) != 0)
        return -1;
    s_insert_reject (self, index, error);
    if (index >= self->total)
        self->total = index + 1;
    return 0;
}

enum { R_SOURCE, R_PERIOD, R_DIMS, R_COUNT, R_AMOUNT, R_CURRENCY, R_OP, R_I, R__N };
static const char *const s_report_keys[R__N] = {"source", "period",   "dims", "count",
                                                "amount", "currency", "op",   "i"};

static int s_report_dims (const msgpack_object *o, ps_report_t *r, ps_error_t *err)
{
    const char *f = "dims";
    char q[S_QUOTE_MAX + 4];
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return s_fail (err, PS_E_TYPE, f, "dims must be an array of \"name=value\" strings, got %s",
                       s_type_name (o));
    if (o->via.array.size > PS_MAX_DIMS)
        return s_fail (err, PS_E_DIMS, f, "%" PRIu32 " dimensions, at most %d", o->via.array.size,
                       PS_MAX_DIMS);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *d = &o->via.array.ptr[i];
        if (d->type != MSGPACK_OBJECT_STR)
            return s_fail (err, PS_E_TYPE, f, "dimension %" PRIu32 " must be a string, got %s", i,
                           s_type_name (d));
        ps_dim_t *dim = &r->dims[i];
        const char *why = s_dim_parse (d->via.str.ptr, d->via.str.size, false, dim);
        if (why)
            return s_fail (err, PS_E_DIMS, f, "dimension '%s' %s",
                           s_quote (q, d->via.str.ptr, d->via.str.size), why);
        /* Insertion sort by name: at most 4, and duplicates show up as neighbours. */
        uint32_t k = i;
        ps_dim_t tmp = *dim;
        while (k > 0 && strcmp (r->dims[k - 1].name, tmp.name) > 0) {
            r->dims[k] = r->dims[k - 1];
            k--;
        }
        r->dims[k] = tmp;
        if ((k > 0 && strcmp (r->dims[k - 1].name, tmp.name) == 0) ||
            (k < i && strcmp (r->dims[k + 1].name, tmp.name) == 0))
            return s_fail (err, PS_E_DIMS, f, "dimension '%s' appears twice", tmp.name);
    }
    r->ndims = (uint8_t) o->via.array.size;
    return 0;
}

/*  Decodes report O into *R. For a forwarded report, *INDEX receives its
    "i" as soon as it is read, so later errors name the producer's index. */
static int s_report_decode (const msgpack_object *o, bool forwarded, ps_report_t *r,
                            uint32_t *index, ps_error_t *err)
{
    char q[S_QUOTE_MAX + 4];
    memset (r, 0, sizeof *r);
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_fail (err, PS_E_TYPE, "", "a report must be a map, got %s", s_type_name (o));
    const msgpack_object *v[R__N];
    if (s_fields_get (o, s_report_keys, forwarded ? R__N : R_I, v, err) != 0)
        return -1;
    uint64_t u;
    if (forwarded) {
        if (s_need_uint (v[R_I], "i", 0, PS_MAX_REPORTS - 1, &u, err) != 0)
            return -1;
        *index = (uint32_t) u;
    }

    if (s_need_str (v[R_SOURCE], "source", err) != 0)
        return -1;
    const char *s = v[R_SOURCE]->via.str.ptr;
    size_t len = v[R_SOURCE]->via.str.size;
    if (len > PS_SOURCE_MAX)
        return s_fail (err, PS_E_LIMIT, "source", "source is %zu bytes long, at most %d", len,
                       PS_SOURCE_MAX);
    if (!ps_source_valid (s, len))
        return s_fail (err, PS_E_SYNTAX, "source",
                       "source '%s' must start with a letter or digit, then A-Z a-z 0-9 _ . -",
                       s_quote (q, s, len));
    memcpy (r->source, s, len);

    if (s_need_str (v[R_PERIOD], "period", err) != 0)
        return -1;
    const char *why = NULL;
    s = v[R_PERIOD]->via.str.ptr;
    len = v[R_PERIOD]->via.str.size;
    if (ps_period_parse (s, len, &r->period, &why) != 0)
        return s_fail (err, PS_E_PERIOD, "period", "period '%s': %s", s_quote (q, s, len),
                       why ? why : "not a valid period");

    if (v[R_DIMS] && s_report_dims (v[R_DIMS], r, err) != 0)
        return -1;

    const msgpack_object *op = v[R_OP];
    if (op && s_str_is (op, "retract")) {
        /* A retraction withdraws the cell's reported value: a measure
           beside it would suggest a partial withdrawal, which it is not. */
        for (int k = R_COUNT; k <= R_CURRENCY; k++)
            if (v[k])
                return s_fail (err, PS_E_OP, s_report_keys[k], "op \"retract\" takes no %s",
                               s_report_keys[k]);
        r->op = PS_OP_RETRACT;
        return 0;
    }

    r->has_count = v[R_COUNT] != NULL;
    if (r->has_count && s_get_uint (v[R_COUNT], "count", 0, S_INT_MAX, &u, err) != 0)
        return -1;
    r->count = r->has_count ? (int64_t) u : 0;
    if (!v[R_COUNT] && !v[R_AMOUNT])
        return s_fail (err, PS_E_MISSING, "count", "a report needs a count, an amount or both");

    r->has_amount = v[R_AMOUNT] != NULL;
    if (r->has_amount && s_get_uint (v[R_AMOUNT], "amount", 0, S_INT_MAX, &u, err) != 0)
        return -1;
    r->amount = r->has_amount ? (int64_t) u : 0;

    const msgpack_object *cur = v[R_CURRENCY];
    if (cur) {
        if (s_need_str (cur, "currency", err) != 0)
            return -1;
        s = cur->via.str.ptr;
        len = cur->via.str.size;
        if (len != PS_CURRENCY_LEN || ps_currency_exponent (s, len) < 0)
            return s_fail (err, PS_E_CURRENCY, "currency", "currency '%s' is not an ISO 4217 code",
                           s_quote (q, s, len));
        if (!r->has_amount)
            return s_fail (err, PS_E_MISSING, "amount", "currency %.3s given without an amount", s);
        memcpy (r->currency, s, PS_CURRENCY_LEN);
    } else if (r->has_amount)
        return s_fail (err, PS_E_MISSING, "currency", "amount needs a currency");

    if (op) {
        if (op->type != MSGPACK_OBJECT_STR)
            return s_fail (err, PS_E_TYPE, "op", "op must be a string, got %s", s_type_name (op));
        if (s_str_is (op, "set"))
            r->op = PS_OP_SET;
        else if (!s_str_is (op, "add"))
            return s_fail (err, PS_E_OP, "op",
                           "op must be \"add\", \"set\" or \"retract\", got \"%s\"",
                           s_quote (q, op->via.str.ptr, op->via.str.size));
    }
    return 0;
}

enum { B_V, B_TYPE, B_PRODUCER, B_SEQ, B_INGEST, B_JSEQ, B_JOURNAL, B_REPORTS, B__N };
static const char *const s_batch_keys[B__N] = {"v",      "type", "producer", "seq",
                                               "ingest", "jseq", "journal",  "reports"};

int ps_batch_decode (ps_batch_t *self, const void *data, size_t size, bool forwarded,
                     ps_error_t *err)
{
    assert (self && err);
    ps_batch_reset (self);
    msgpack_object root;
    if (s_unpack (self->zone, data, size, &root, err) != 0)
        return -1;
    if (root.type != MSGPACK_OBJECT_MAP)
        return s_fail (err, PS_E_TYPE, "", "a batch must be a map, got %s", s_type_name (&root));
    const msgpack_object *v[B__N];
    if (s_fields_get (&root, s_batch_keys, B__N, v, err) != 0 ||
        s_check_header (v[B_V], v[B_TYPE], "batch", err) != 0 ||
        s_get_id (v[B_PRODUCER], "producer", false, self->producer, err) != 0 ||
        s_need_uint (v[B_SEQ], "seq", 1, S_INT_MAX, &self->seq, err) != 0)
        return -1;
    if (forwarded && (s_get_id (v[B_INGEST], "ingest", false, self->ingest, err) != 0 ||
                      s_need_uint (v[B_JSEQ], "jseq", 1, S_INT_MAX, &self->jseq, err) != 0))
        return -1;
    if (forwarded && v[B_JOURNAL] &&
        s_get_uint (v[B_JOURNAL], "journal", 1, S_INT_MAX, &self->journal, err) != 0)
        return -1;

    const msgpack_object *reports = v[B_REPORTS];
    if (!reports)
        return s_fail (err, PS_E_MISSING, "reports", "reports is missing");
    if (reports->type != MSGPACK_OBJECT_ARRAY)
        return s_fail (err, PS_E_TYPE, "reports", "reports must be an array, got %s",
                       s_type_name (reports));
    uint32_t n = reports->via.array.size;
    if (n > PS_MAX_REPORTS)
        return s_fail (err, PS_E_LIMIT, "reports", "%" PRIu32 " reports, at most %d per batch", n,
                       PS_MAX_REPORTS);
    if (s_reserve (self, n) != 0)
        return s_fail (err, PS_E_LIMIT, "reports", "out of memory for %" PRIu32 " reports", n);
    self->total = n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t index = i;
        ps_error_t e;
        if (s_report_decode (&reports->via.array.ptr[i], forwarded, &self->reports[self->nreports],
                             &index, &e) == 0)
            self->index[self->nreports++] = index;
        else
            s_insert_reject (self, index, &e);
    }
    return 0;
}

/* A few bytes packed on the stack: msgpack-c's inline packing functions
   call the packer's write function every few bytes, and one that the
   compiler can see costs stores, not calls. */
typedef struct {
    size_t len;
    char data[64];
} s_stack_t;

static int s_stack_write (void *data, const char *buf, size_t len)
{
    s_stack_t *st = data;
    assert (len <= sizeof st->data - st->len);
    memcpy (st->data + st->len, buf, len);
    st->len += len;
    return 0;
}

/* ---- Encoding ----------------------------------------------------------- */

static int s_pack_str (msgpack_packer *pk, const char *s, size_t len)
{
    return msgpack_pack_str (pk, len) | msgpack_pack_str_body (pk, s, len);
}

static int s_pack_cstr (msgpack_packer *pk, const char *s)
{
    return s_pack_str (pk, s, strlen (s));
}

/* Packs KEY followed by unsigned integer V. */
static int s_pack_key_uint (msgpack_packer *pk, const char *key, uint64_t v)
{
    return s_pack_cstr (pk, key) | msgpack_pack_uint64 (pk, v);
}

static int s_pack_key_str (msgpack_packer *pk, const char *key, const char *value)
{
    return s_pack_cstr (pk, key) | s_pack_cstr (pk, value);
}

/*  Packs a report in canonical form: keys in the order source, period,
    dims, count, amount, currency, op, i; dims only when there are some, op
    only when it is not "add", i only when WITH_INDEX. */
static int s_report_pack (msgpack_packer *pk, const ps_report_t *r, bool with_index, uint32_t index)
{
    char period[PS_PERIOD_STRLEN];
    size_t n =
        2 + (r->ndims > 0) + r->has_count + 2 * r->has_amount + (r->op != PS_OP_ADD) + with_index;
    int rc = msgpack_pack_map (pk, n);
    rc |= s_pack_key_str (pk, "source", r->source);
    rc |= s_pack_cstr (pk, "period");
    rc |= s_pack_str (pk, period, ps_period_format (&r->period, period));
    if (r->ndims > 0) {
        rc |= s_pack_cstr (pk, "dims") | msgpack_pack_array (pk, r->ndims);
        for (int i = 0; i < r->ndims; i++) {
            char dim[PS_DIM_NAME_MAX + 1 + PS_DIM_VALUE_MAX + 1];
            int len = snprintf (dim, sizeof dim, "%s=%s", r->dims[i].name, r->dims[i].value);
            rc |= s_pack_str (pk, dim, (size_t) len);
        }
    }
    if (r->has_count)
        rc |= s_pack_key_uint (pk, "count", (uint64_t) r->count);
    if (r->has_amount) {
        rc |= s_pack_key_uint (pk, "amount", (uint64_t) r->amount);
        rc |= s_pack_key_str (pk, "currency", r->currency);
    }
    if (r->op != PS_OP_ADD)
        rc |= s_pack_key_str (pk, "op", ps_op_name (r->op));
    if (with_index)
        rc |= s_pack_key_uint (pk, "i", index);
    return rc;
}

void ps_report_pack (msgpack_packer *pk, const ps_report_t *report)
{
    s_report_pack (pk, report, false, 0);
}

int ps_batch_encode (const ps_batch_t *self, bool forwarded, msgpack_sbuffer *out)
{
    assert (self && out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    bool journal = forwarded && self->journal;
    int rc = msgpack_pack_map (&pk, forwarded ? 7 + journal : 5);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "batch");
    rc |= s_pack_key_str (&pk, "producer", self->producer);
    rc |= s_pack_key_uint (&pk, "seq", self->seq);
    if (forwarded) {
        rc |= s_pack_key_str (&pk, "ingest", self->ingest);
        rc |= s_pack_key_uint (&pk, "jseq", self->jseq);
    }
    if (journal)
        rc |= s_pack_key_uint (&pk, "journal", self->journal);
    rc |= s_pack_cstr (&pk, "reports") | msgpack_pack_array (&pk, self->nreports);
    for (uint32_t i = 0; i < self->nreports; i++)
        rc |= s_report_pack (&pk, &self->reports[i], forwarded, self->index[i]);
    return rc ? -1 : 0;
}

size_t ps_topic_format (const char *source, const ps_period_t *period, const ps_dim_t *dims,
                        int ndims, char *buf)
{
    assert (source && period && buf && ndims >= 0 && ndims <= PS_MAX_DIMS);
    size_t n = strnlen (source, PS_SOURCE_MAX + 1);
    assert (n <= PS_SOURCE_MAX);
    memcpy (buf, source, n);
    buf[n++] = '/';
    n += ps_period_format (period, buf + n);
    buf[n++] = '/';
    for (int i = 0; i < ndims; i++) {
        size_t name = strnlen (dims[i].name, PS_DIM_NAME_MAX + 1);
        size_t value = strnlen (dims[i].value, PS_DIM_VALUE_MAX + 1);
        assert (name <= PS_DIM_NAME_MAX && value <= PS_DIM_VALUE_MAX);
        if (i > 0)
            buf[n++] = ',';
        memcpy (buf + n, dims[i].name, name);
        n += name;
        buf[n++] = '=';
        memcpy (buf + n, dims[i].value, value);
        n += value;
    }
    buf[n] = '\0';
    return n;
}

/* ---- Acks --------------------------------------------------------------- */

static int s_pack_error (msgpack_packer *pk, const ps_error_t *e)
{
    int rc = msgpack_pack_map (pk, 3);
    rc |= s_pack_key_str (pk, "code", ps_err_name (e->code));
    rc |= s_pack_key_str (pk, "field", e->field ? e->field : "");
    size_t len = strnlen (e->reason, PS_REASON_MAX - 1);
    rc |= s_pack_cstr (pk, "reason") | s_pack_str (pk, e->reason, s_utf8_cut (e->reason, len));
    return rc;
}

int ps_ack_encode (const ps_batch_t *batch, ps_ack_status_t status, const ps_error_t *batch_error,
                   msgpack_sbuffer *out)
{
    assert (out && (batch || batch_error));
    /* Only a batch that was judged report by report has counts and rejects:
       a batch-level error or a duplicate applied nothing this time. */
    bool judged = !batch_error && batch &&
                  (status == PS_ACK_OK || status == PS_ACK_PARTIAL || status == PS_ACK_REJECTED);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, batch_error ? 8 : 7);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "ack");
    rc |= s_pack_key_str (&pk, "producer", batch ? batch->producer : "");
    rc |= s_pack_key_uint (&pk, "seq", batch ? batch->seq : 0);
    rc |= s_pack_key_str (&pk, "status", ps_ack_status_name (status));
    rc |= s_pack_key_uint (&pk, "accepted", judged ? batch->nreports : 0);
    uint32_t nrejects = judged ? batch->nrejects : 0;
    rc |= s_pack_cstr (&pk, "rejected") | msgpack_pack_array (&pk, nrejects);
    for (uint32_t i = 0; i < nrejects; i++) {
        const ps_reject_t *r = &batch->rejects[i];
        rc |= msgpack_pack_map (&pk, 4);
        rc |= s_pack_key_uint (&pk, "index", r->index);
        rc |= s_pack_key_str (&pk, "field", r->error.field ? r->error.field : "");
        rc |= s_pack_key_str (&pk, "code", ps_err_name (r->error.code));
        size_t len = strnlen (r->error.reason, PS_REASON_MAX - 1);
        rc |= s_pack_cstr (&pk, "reason") |
              s_pack_str (&pk, r->error.reason, s_utf8_cut (r->error.reason, len));
    }
    if (batch_error)
        rc |= s_pack_cstr (&pk, "error") | s_pack_error (&pk, batch_error);
    return rc ? -1 : 0;
}

enum { E_CODE, E_FIELD, E_REASON, E_INDEX, E__N };
static const char *const s_error_keys[E__N] = {"code", "field", "reason", "index"};

/*  Reads an error map O (an ack's "error", or one of its "rejected" with
    index when INDEX is not NULL) into *OUT. WHERE names it in reasons. */
static int s_error_decode (const msgpack_object *o, const char *where, ps_error_t *out,
                           uint32_t *index, ps_error_t *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_fail (err, PS_E_TYPE, where, "%s: an error must be a map, got %s", where,
                       s_type_name (o));
    const msgpack_object *v[E__N];
    ps_error_t e;
    uint64_t u;
    if (s_fields_get (o, s_error_keys, E__N, v, &e) != 0)
        return s_fail (err, e.code, where, "%s: %s", where, e.reason);
    if (index) {
        if (s_need_uint (v[E_INDEX], "index", 0, PS_MAX_REPORTS - 1, &u, &e) != 0)
            return s_fail (err, e.code, where, "%s: %s", where, e.reason);
        *index = (uint32_t) u;
    }
    for (int k = E_CODE; k <= E_REASON; k++)
        if (s_need_str (v[k], s_error_keys[k], &e) != 0)
            return s_fail (err, e.code, where, "%s: %s", where, e.reason);
    char q[S_QUOTE_MAX + 4];
    const msgpack_object *code = v[E_CODE], *field = v[E_FIELD], *reason = v[E_REASON];
    out->code = ps_err_from_name (code->via.str.ptr, code->via.str.size);
    if (out->code == PS_E__COUNT)
        return s_fail (err, PS_E_SYNTAX, where, "%s: unknown error code '%s'", where,
                       s_quote (q, code->via.str.ptr, code->via.str.size));
    out->field = NULL;
    for (size_t f = 0; f < sizeof s_fields / sizeof *s_fields; f++)
        if (s_str_is (field, s_fields[f]))
            out->field = s_fields[f];
    if (!out->field)
        return s_fail (err, PS_E_SYNTAX, where, "%s: unknown field name '%s'", where,
                       s_quote (q, field->via.str.ptr, field->via.str.size));
    size_t len = reason->via.str.size;
    if (len > PS_REASON_MAX - 1)
        len = s_utf8_cut (reason->via.str.ptr, PS_REASON_MAX - 1);
    memcpy (out->reason, reason->via.str.ptr, len);
    out->reason[len] = '\0';
    return 0;
}

enum { A_V, A_TYPE, A_PRODUCER, A_SEQ, A_STATUS, A_ACCEPTED, A_REJECTED, A_ERROR, A__N };
static const char *const s_ack_keys[A__N] = {"v",      "type",     "producer", "seq",
                                             "status", "accepted", "rejected", "error"};

int ps_ack_decode (ps_ack_t *ack, const void *data, size_t size, ps_error_t *err)
{
    assert (ack && err);
    memset (ack, 0, sizeof *ack);
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, MSGPACK_ZONE_CHUNK_SIZE))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    msgpack_object root;
    const msgpack_object *v[A__N];
    uint64_t u;
    if (s_unpack (&zone, data, size, &root, err) != 0)
        goto err;
    if (root.type != MSGPACK_OBJECT_MAP) {
        s_fail (err, PS_E_TYPE, "", "an ack must be a map, got %s", s_type_name (&root));
        goto err;
    }
    if (s_fields_get (&root, s_ack_keys, A__N, v, err) != 0 ||
        s_check_header (v[A_V], v[A_TYPE], "ack", err) != 0 ||
        s_get_id (v[A_PRODUCER], "producer", true, ack->producer, err) != 0 ||
        s_need_uint (v[A_SEQ], "seq", 0, S_INT_MAX, &ack->seq, err) != 0 ||
        s_need_str (v[A_STATUS], "status", err) != 0)
        goto err;
    size_t nstatus = sizeof s_status_names / sizeof *s_status_names, st = 0;
    while (st < nstatus && !s_str_is (v[A_STATUS], s_status_names[st]))
        st++;
    if (st == nstatus) {
        char q[S_QUOTE_MAX + 4];
        s_fail (err, PS_E_SYNTAX, "status", "unknown status '%s'",
                s_quote (q, v[A_STATUS]->via.str.ptr, v[A_STATUS]->via.str.size));
        goto err;
    }
    ack->status = (ps_ack_status_t) st;
    if (s_need_uint (v[A_ACCEPTED], "accepted", 0, PS_MAX_REPORTS, &u, err) != 0)
        goto err;
    ack->accepted = (uint32_t) u;
    const msgpack_object *rejected = v[A_REJECTED];
    if (!rejected) {
        s_fail (err, PS_E_MISSING, "rejected", "rejected is missing");
        goto err;
    }
    if (rejected->type != MSGPACK_OBJECT_ARRAY) {
        s_fail (err, PS_E_TYPE, "rejected", "rejected must be an array, got %s",
                s_type_name (rejected));
        goto err;
    }
    uint32_t n = rejected->via.array.size;
    if (n > PS_MAX_REPORTS) {
        s_fail (err, PS_E_LIMIT, "rejected", "%" PRIu32 " rejects, at most %d", n, PS_MAX_REPORTS);
        goto err;
    }
    if (n > 0) {
        ack->rejects = calloc (n, sizeof *ack->rejects);
        if (!ack->rejects) {
            s_fail (err, PS_E_LIMIT, "rejected", "out of memory for %" PRIu32 " rejects", n);
            goto err;
        }
    }
    for (uint32_t i = 0; i < n; i++, ack->nrejects++) {
        ps_reject_t *r = &ack->rejects[i];
        if (s_error_decode (&rejected->via.array.ptr[i], "rejected", &r->error, &r->index, err) !=
            0)
            goto err;
    }
    if (v[A_ERROR]) {
        if (s_error_decode (v[A_ERROR], "error", &ack->error, NULL, err) != 0)
            goto err;
        ack->has_error = true;
    }
    msgpack_zone_destroy (&zone);
    return 0;
err:
    msgpack_zone_destroy (&zone);
    ps_ack_clear (ack);
    return -1;
}

void ps_ack_clear (ps_ack_t *ack)
{
    assert (ack);
    free (ack->rejects);
    memset (ack, 0, sizeof *ack);
}

/* ---- Updates, feed messages, heartbeats --------------------------------- */

int ps_update_encode (uint64_t epoch, uint64_t useq, const ps_update_item_t *items, size_t n,
                      msgpack_sbuffer *out)
{
    assert (out && (items || n == 0));
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, 5);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "update");
    rc |= s_pack_key_uint (&pk, "epoch", epoch);
    rc |= s_pack_key_uint (&pk, "useq", useq);
    rc |= s_pack_cstr (&pk, "items") | msgpack_pack_array (&pk, n);
    for (size_t i = 0; i < n; i++) {
        rc |= msgpack_pack_array (&pk, 2);
        rc |= s_pack_str (&pk, items[i].topic, items[i].topic_len);
        rc |= msgpack_pack_bin (&pk, items[i].body_len);
        rc |= msgpack_pack_bin_body (&pk, items[i].body, items[i].body_len);
    }
    return rc ? -1 : 0;
}

/*  Checks a cell topic "<source>/<period>/<n>=<v>,..." (dims sorted by
    name, values may be "*") or one of the '$' topics compute emits:
    "$ratio/<name>/<period>" and "$reject". Returns NULL or a reason. */
static const char *s_topic_check (const char *t, size_t len)
{
    ps_period_t period;
    if (len == 0)
        return "empty topic";
    if (len > PS_TOPIC_MAX)
        return "topic longer than the limit";
    if (len == 7 && memcmp (t, "$reject", 7) == 0)
        return NULL;
    size_t skip = strlen (PS_TOPIC_RATIO_PREFIX);
    if (t[0] == '$') {
        if (len < skip || memcmp (t, PS_TOPIC_RATIO_PREFIX, skip) != 0)
            return "unknown '$' topic (only $ratio/<name>/<period> and $reject)";
        const char *slash = memchr (t + skip, '/', len - skip);
        if (!slash || !ps_dim_value_valid (t + skip, (size_t) (slash - t) - skip))
            return "ratio name must be 1 to 64 of A-Z a-z 0-9 _ . -";
        size_t at = (size_t) (slash - t) + 1;
        if (ps_period_parse (slash + 1, len - at, &period, NULL) != 0)
            return "invalid period in ratio topic";
        return NULL;
    }
    const char *s1 = memchr (t, '/', len);
    if (!s1 || !ps_source_valid (t, (size_t) (s1 - t)))
        return "topic must start with a valid source and '/'";
    const char *p = s1 + 1, *end = t + len;
    const char *s2 = memchr (p, '/', (size_t) (end - p));
    if (!s2 || ps_period_parse (p, (size_t) (s2 - p), &period, NULL) != 0)
        return "topic needs a valid period between two '/'";
    p = s2 + 1;
    const char *prev = NULL; /* the previous dim's name, PREV_LEN bytes */
    size_t prev_len = 0;
    for (int n = 0; p < end; n++) {
        const char *comma = memchr (p, ',', (size_t) (end - p));
        size_t tok_len = (size_t) ((comma ? comma : end) - p);
        if (n == PS_MAX_DIMS)
            return "more than 4 dimensions in topic";
        if (s_dim_parse (p, tok_len, true, NULL))
            return "malformed name=value in topic";
        size_t name_len = (size_t) ((const char *) memchr (p, '=', tok_len) - p);
        int order = n == 0 ? 1 : memcmp (prev, p, prev_len < name_len ? prev_len : name_len);
        if (n > 0 && (order > 0 || (order == 0 && prev_len >= name_len)))
            return "topic dimensions must be sorted by name, each once";
        prev = p;
        prev_len = name_len;
        if (comma && comma + 1 == end)
            return "topic ends with ','";
        p = comma ? comma + 1 : end;
    }
    return NULL;
}

enum { U_V, U_TYPE, U_EPOCH, U_USEQ, U_ITEMS, U__N };
static const char *const s_update_keys[U__N] = {"v", "type", "epoch", "useq", "items"};

/* Checks one item [topic, body] of an update and fills *ITEM. */
static int s_update_item (const msgpack_object *o, size_t i, ps_update_item_t *item,
                          ps_error_t *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 ||
        o->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
        o->via.array.ptr[1].type != MSGPACK_OBJECT_BIN)
        return s_fail (err, PS_E_TYPE, "items", "item %zu must be [str topic, bin body]", i);
    const msgpack_object_str *topic = &o->via.array.ptr[0].via.str;
    const msgpack_object_bin *body = &o->via.array.ptr[1].via.bin;
    char q[S_QUOTE_MAX + 4];
    const char *why = s_topic_check (topic->ptr, topic->size);
    if (why)
        return s_fail (err, topic->size > PS_TOPIC_MAX ? PS_E_LIMIT : PS_E_SYNTAX, "items",
                       "item %zu topic '%s': %s", i, s_quote (q, topic->ptr, topic->size), why);
    if (body->size > 0) {
        ps_error_t e;
        if (ps_msgpack_check (body->ptr, body->size, &e) != 0)
            return s_fail (err, e.code, "items", "item %zu body: %s", i, e.reason);
        uint8_t b = (uint8_t) body->ptr[0];
        if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf))
            return s_fail (err, PS_E_TYPE, "items", "item %zu body must be a map", i);
    }
    item->topic = topic->ptr;
    item->topic_len = topic->size;
    item->body = (const uint8_t *) body->ptr;
    item->body_len = body->size;
    return 0;
}

int ps_update_decode (const void *data, size_t size, uint64_t *epoch, uint64_t *useq,
                      ps_update_item_t **items, size_t *n, size_t *capacity, ps_error_t *err)
{
    assert (epoch && useq && items && n && capacity && err);
    *n = 0;
    int rc = -1;
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, MSGPACK_ZONE_CHUNK_SIZE))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    msgpack_object root;
    const msgpack_object *v[U__N];
    if (s_unpack (&zone, data, size, &root, err) != 0)
        goto done;
    if (root.type != MSGPACK_OBJECT_MAP) {
        s_fail (err, PS_E_TYPE, "", "an update must be a map, got %s", s_type_name (&root));
        goto done;
    }
    if (s_fields_get (&root, s_update_keys, U__N, v, err) != 0 ||
        s_check_header (v[U_V], v[U_TYPE], "update", err) != 0 ||
        s_need_uint (v[U_EPOCH], "epoch", 0, S_INT_MAX, epoch, err) != 0 ||
        s_need_uint (v[U_USEQ], "useq", 1, S_INT_MAX, useq, err) != 0)
        goto done;
    const msgpack_object *list = v[U_ITEMS];
    if (!list) {
        s_fail (err, PS_E_MISSING, "items", "items is missing");
        goto done;
    }
    if (list->type != MSGPACK_OBJECT_ARRAY) {
        s_fail (err, PS_E_TYPE, "items", "items must be an array, got %s", s_type_name (list));
        goto done;
    }
    size_t count = list->via.array.size;
    if (count > *capacity) {
        size_t cap = *capacity * 2 > count ? *capacity * 2 : count;
        ps_update_item_t *grown = realloc (*items, cap * sizeof *grown);
        if (!grown) {
            s_fail (err, PS_E_LIMIT, "items", "out of memory for %zu items", count);
            goto done;
        }
        *items = grown;
        *capacity = cap;
    }
    for (size_t i = 0; i < count; i++)
        if (s_update_item (&list->via.array.ptr[i], i, &(*items)[i], err) != 0)
            goto done;
    *n = count;
    rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}

int ps_feed_body (uint64_t seq, uint64_t prev, uint64_t epoch, const uint8_t *fields,
                  size_t fields_len, msgpack_sbuffer *out)
{
    assert (out && (fields || fields_len == 0));
    msgpack_sbuffer_clear (out);
    if (fields_len == 0)
        return -1;
    uint8_t b = fields[0];
    size_t header = b == 0xde ? 3 : b == 0xdf ? 5 : 1;
    uint64_t count;
    if (b >= 0x80 && b <= 0x8f)
        count = b & 0x0f;
    else if (header > 1 && fields_len >= header)
        count = s_be (fields + 1, (int) header - 1);
    else
        return -1;
    if (count > UINT32_MAX - 4)
        return -1;
    /* Splice: a new header, the four numbering fields, then the original
       entries byte for byte, so publish never re-decodes compute's maps.
       The new head is packed on the stack and appended in one write. */
    s_stack_t head = {0};
    msgpack_packer pk;
    msgpack_packer_init (&pk, &head, s_stack_write);
    msgpack_pack_map (&pk, (size_t) count + 4);
    s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    s_pack_key_uint (&pk, "seq", seq);
    s_pack_key_uint (&pk, "prev", prev);
    s_pack_key_uint (&pk, "epoch", epoch);
    int rc = msgpack_sbuffer_write (out, head.data, head.len);
    rc |= msgpack_sbuffer_write (out, (const char *) fields + header, fields_len - header);
    return rc ? -1 : 0;
}

int ps_heartbeat_body (uint64_t epoch, uint64_t seq, uint32_t interval_ms, msgpack_sbuffer *out)
{
    ps_heartbeat_t hb = {.epoch = epoch, .seq = seq, .interval_ms = interval_ms};
    return ps_heartbeat_encode (&hb, out);
}

/*  Unpacks DATA into ZONE as a map of message type TYPE and looks up its N
    KEYS into V. Returns 0, or -1 with *ERR. */
static int s_small_decode (msgpack_zone *zone, const void *data, size_t size, const char *type,
                           const char *const *keys, int n, const msgpack_object **v,
                           ps_error_t *err)
{
    msgpack_object root;
    if (s_unpack (zone, data, size, &root, err) != 0)
        return -1;
    if (root.type != MSGPACK_OBJECT_MAP)
        return s_fail (err, PS_E_TYPE, "", "a %s frame must be a map, got %s", type,
                       s_type_name (&root));
    if (s_fields_get (&root, keys, n, v, err) != 0)
        return -1;
    /* v and type come first in every key table */
    return s_check_header (v[0], v[1], type, err);
}

/* ---- Progress ----------------------------------------------------------- */

int ps_progress_encode (uint64_t pos, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, 3);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "progress");
    rc |= s_pack_key_uint (&pk, "pos", pos);
    return rc ? -1 : 0;
}

enum { P_V, P_TYPE, P_POS, P__N };
static const char *const s_progress_keys[P__N] = {"v", "type", "pos"};

int ps_progress_decode (const void *data, size_t size, uint64_t *pos, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 256))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    const msgpack_object *v[P__N];
    int rc = s_small_decode (&zone, data, size, "progress", s_progress_keys, P__N, v, err) == 0 &&
                     s_need_uint (v[P_POS], "pos", 0, S_INT_MAX, pos, err) == 0
                 ? 0
                 : -1;
    msgpack_zone_destroy (&zone);
    return rc;
}

/* ---- Journal replay ----------------------------------------------------- */

int ps_hello_encode (const ps_hello_t *hello, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, 6);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "hello");
    rc |= s_pack_key_str (&pk, "ingest", hello->ingest);
    rc |= s_pack_key_uint (&pk, "journal", hello->journal);
    rc |= s_pack_key_uint (&pk, "first", hello->first);
    rc |= s_pack_key_uint (&pk, "head", hello->head);
    return rc ? -1 : 0;
}

enum { H_V, H_TYPE, H_INGEST, H_JOURNAL, H_FIRST, H_HEAD, H__N };
static const char *const s_hello_keys[H__N] = {"v", "type", "ingest", "journal", "first", "head"};

int ps_hello_decode (const void *data, size_t size, ps_hello_t *hello, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 256))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    const msgpack_object *v[H__N];
    int rc = -1;
    if (s_small_decode (&zone, data, size, "hello", s_hello_keys, H__N, v, err) == 0 &&
        s_get_id (v[H_INGEST], "ingest", false, hello->ingest, err) == 0 &&
        s_need_uint (v[H_JOURNAL], "journal", 1, S_INT_MAX, &hello->journal, err) == 0 &&
        s_need_uint (v[H_FIRST], "first", 1, S_INT_MAX, &hello->first, err) == 0 &&
        s_need_uint (v[H_HEAD], "head", 0, S_INT_MAX, &hello->head, err) == 0) {
        if (hello->first > hello->head + 1)
            s_fail (err, PS_E_RANGE, "first",
                    "first must be <= head + 1, got first %" PRIu64 " head %" PRIu64, hello->first,
                    hello->head);
        else
            rc = 0;
    }
    msgpack_zone_destroy (&zone);
    return rc;
}

int ps_position_encode (const ps_position_t *pos, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, 6);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "position");
    rc |= s_pack_key_uint (&pk, "journal", pos->journal);
    rc |= s_pack_key_uint (&pk, "applied", pos->applied);
    rc |= s_pack_key_uint (&pk, "ckpt", pos->ckpt);
    rc |= s_pack_cstr (&pk, "resend");
    rc |= pos->resend ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
    return rc ? -1 : 0;
}

enum { Q_V, Q_TYPE, Q_JOURNAL, Q_APPLIED, Q_CKPT, Q_RESEND, Q__N };
static const char *const s_position_keys[Q__N] = {"v",       "type", "journal",
                                                  "applied", "ckpt", "resend"};

int ps_position_decode (const void *data, size_t size, ps_position_t *pos, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 256))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    const msgpack_object *v[Q__N];
    int rc = -1;
    if (s_small_decode (&zone, data, size, "position", s_position_keys, Q__N, v, err) == 0 &&
        s_need_uint (v[Q_JOURNAL], "journal", 1, S_INT_MAX, &pos->journal, err) == 0 &&
        s_need_uint (v[Q_APPLIED], "applied", 0, S_INT_MAX, &pos->applied, err) == 0 &&
        s_need_uint (v[Q_CKPT], "ckpt", 0, pos->applied, &pos->ckpt, err) == 0) {
        if (!v[Q_RESEND])
            s_fail (err, PS_E_MISSING, "resend", "resend is missing");
        else if (v[Q_RESEND]->type != MSGPACK_OBJECT_BOOLEAN)
            s_fail (err, PS_E_TYPE, "resend", "resend must be a boolean, got %s",
                    s_type_name (v[Q_RESEND]));
        else {
            pos->resend = v[Q_RESEND]->via.boolean;
            rc = 0;
        }
    }
    msgpack_zone_destroy (&zone);
    return rc;
}

/* ---- Feed numbering, heartbeats ----------------------------------------- */

enum { F_V, F_SEQ, F_PREV, F_EPOCH, F_TYPE, F__N };
static const char *const s_feed_keys[F__N] = {"v", "seq", "prev", "epoch", "type"};

int ps_feed_header_decode (ps_feed_header_t *hdr, const void *body, size_t size, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 1024))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    msgpack_object root;
    const msgpack_object *v[F__N];
    int rc = -1;
    if (s_unpack (&zone, body, size, &root, err) != 0)
        goto done;
    if (root.type != MSGPACK_OBJECT_MAP) {
        s_fail (err, PS_E_TYPE, "", "a feed message must be a map, got %s", s_type_name (&root));
        goto done;
    }
    if (s_fields_get (&root, s_feed_keys, F__N, v, err) != 0 ||
        s_check_version (v[F_V], err) != 0 ||
        s_need_uint (v[F_SEQ], "seq", 1, S_INT_MAX, &hdr->seq, err) != 0 ||
        s_need_uint (v[F_PREV], "prev", 0, hdr->seq - 1, &hdr->prev, err) != 0 ||
        s_need_uint (v[F_EPOCH], "epoch", 0, S_INT_MAX, &hdr->epoch, err) != 0 ||
        s_need_str (v[F_TYPE], "type", err) != 0)
        goto done;
    hdr->removed = s_str_is (v[F_TYPE], "removed");
    rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}

int ps_heartbeat_encode (const ps_heartbeat_t *hb, msgpack_sbuffer *out)
{
    assert (hb && out);
    msgpack_sbuffer_clear (out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, hb->has_prefix ? 7 : 5);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "hb");
    rc |= s_pack_key_uint (&pk, "epoch", hb->epoch);
    rc |= s_pack_key_uint (&pk, "seq", hb->seq);
    rc |= s_pack_key_uint (&pk, "interval_ms", hb->interval_ms);
    if (hb->has_prefix) {
        rc |= s_pack_cstr (&pk, "prefix") | s_pack_str (&pk, hb->prefix, hb->prefix_len);
        rc |= s_pack_key_uint (&pk, "sum", hb->sum & PS_DIGEST_MASK);
    }
    return rc ? -1 : 0;
}

/* Reads string O (FIELD, optional when OPTIONAL) of at most PS_TOPIC_MAX
   bytes into BUF / *LEN; absent leaves *LEN 0. */
static int s_get_prefix (const msgpack_object *o, const char *field, bool optional, char *buf,
                         size_t *len, ps_error_t *err)
{
    *len = 0;
    buf[0] = '\0';
    if (!o && optional)
        return 0;
    if (s_need_str (o, field, err) != 0)
        return -1;
    if (o->via.str.size > PS_TOPIC_MAX)
        return s_fail (err, PS_E_LIMIT, field, "%s is %" PRIu32 " bytes long, at most %d", field,
                       o->via.str.size, (int) PS_TOPIC_MAX);
    memcpy (buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    *len = o->via.str.size;
    return 0;
}

enum { HB_V, HB_TYPE, HB_EPOCH, HB_SEQ, HB_INTERVAL, HB_PREFIX, HB_SUM, HB__N };
static const char *const s_hb_keys[HB__N] = {"v",           "type",   "epoch", "seq",
                                             "interval_ms", "prefix", "sum"};

int ps_heartbeat_decode (ps_heartbeat_t *hb, const void *body, size_t size, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 1024))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    const msgpack_object *v[HB__N];
    uint64_t interval;
    int rc = -1;
    if (s_small_decode (&zone, body, size, "hb", s_hb_keys, HB__N, v, err) != 0 ||
        s_need_uint (v[HB_EPOCH], "epoch", 0, S_INT_MAX, &hb->epoch, err) != 0 ||
        s_need_uint (v[HB_SEQ], "seq", 0, S_INT_MAX, &hb->seq, err) != 0 ||
        s_need_uint (v[HB_INTERVAL], "interval_ms", 1, UINT32_MAX, &interval, err) != 0 ||
        s_get_prefix (v[HB_PREFIX], "prefix", true, hb->prefix, &hb->prefix_len, err) != 0)
        goto done;
    hb->interval_ms = (uint32_t) interval;
    hb->has_prefix = v[HB_PREFIX] != NULL;
    hb->sum = 0;
    if (hb->has_prefix && s_need_uint (v[HB_SUM], "sum", 0, S_INT_MAX, &hb->sum, err) != 0)
        goto done;
    rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}

/* ---- Snapshots and replay ----------------------------------------------- */

const char *ps_sync_mode_name (ps_sync_mode_t mode)
{
    return mode == PS_SYNC_REPLAY ? "replay" : "snapshot";
}

int ps_snapshot_req_encode (const ps_snapshot_req_t *req, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, req->has_since ? 5 : 3);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "snapshot");
    rc |= s_pack_cstr (&pk, "prefix") | s_pack_str (&pk, req->prefix, req->prefix_len);
    if (req->has_since) {
        rc |= s_pack_key_uint (&pk, "since", req->since);
        rc |= s_pack_key_uint (&pk, "epoch", req->epoch);
    }
    return rc ? -1 : 0;
}

enum { SR_V, SR_TYPE, SR_PREFIX, SR_SINCE, SR_EPOCH, SR__N };
static const char *const s_req_keys[SR__N] = {"v", "type", "prefix", "since", "epoch"};

int ps_snapshot_req_decode (ps_snapshot_req_t *req, const void *data, size_t size, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 1024))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    const msgpack_object *v[SR__N];
    int rc = -1;
    memset (req, 0, sizeof *req);
    if (s_small_decode (&zone, data, size, "snapshot", s_req_keys, SR__N, v, err) != 0 ||
        s_get_prefix (v[SR_PREFIX], "prefix", false, req->prefix, &req->prefix_len, err) != 0)
        goto done;
    req->has_since = v[SR_SINCE] != NULL;
    if (req->has_since && (s_get_uint (v[SR_SINCE], "since", 0, S_INT_MAX, &req->since, err) != 0 ||
                           s_need_uint (v[SR_EPOCH], "epoch", 0, S_INT_MAX, &req->epoch, err) != 0))
        goto done;
    if (!req->has_since && v[SR_EPOCH]) {
        s_fail (err, PS_E_MISSING, "since", "epoch given without since");
        goto done;
    }
    rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}

int ps_snapshot_end_encode (const ps_snapshot_end_t *end, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, 6);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "end");
    rc |= s_pack_key_str (&pk, "mode", ps_sync_mode_name (end->mode));
    rc |= s_pack_key_uint (&pk, "epoch", end->epoch);
    rc |= s_pack_key_uint (&pk, "seq", end->seq);
    rc |= s_pack_key_uint (&pk, "count", end->count);
    return rc ? -1 : 0;
}

int ps_refusal_encode (const ps_error_t *refusal, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, 5);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "error");
    size_t len = strnlen (refusal->reason, PS_REASON_MAX - 1);
    rc |= s_pack_key_str (&pk, "code", ps_err_name (refusal->code));
    rc |= s_pack_key_str (&pk, "field", refusal->field ? refusal->field : "");
    rc |= s_pack_cstr (&pk, "reason") |
          s_pack_str (&pk, refusal->reason, s_utf8_cut (refusal->reason, len));
    return rc ? -1 : 0;
}

enum { SE_V, SE_TYPE, SE_MODE, SE_EPOCH, SE_SEQ, SE_COUNT, SE__N };
static const char *const s_end_keys[SE__N] = {"v", "type", "mode", "epoch", "seq", "count"};

int ps_snapshot_end_decode (ps_snapshot_end_t *end, ps_error_t *refusal, const void *data,
                            size_t size, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 1024))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    msgpack_object root;
    const msgpack_object *v[SE__N];
    char q[S_QUOTE_MAX + 4];
    int rc = -1;
    if (s_unpack (&zone, data, size, &root, err) != 0)
        goto done;
    if (root.type != MSGPACK_OBJECT_MAP) {
        s_fail (err, PS_E_TYPE, "", "a reply must be a map, got %s", s_type_name (&root));
        goto done;
    }
    const msgpack_object *type = ps_map_get (&root, "type");
    if (type && s_str_is (type, "error")) {
        /* A refusal is an error map with the header keys beside. */
        if (s_check_header (ps_map_get (&root, "v"), type, "error", err) == 0 &&
            s_error_decode (&root, "error", refusal, NULL, err) == 0)
            rc = 1;
        goto done;
    }
    if (s_fields_get (&root, s_end_keys, SE__N, v, err) != 0 ||
        s_check_header (v[SE_V], v[SE_TYPE], "end", err) != 0 ||
        s_need_str (v[SE_MODE], "mode", err) != 0 ||
        s_need_uint (v[SE_EPOCH], "epoch", 0, S_INT_MAX, &end->epoch, err) != 0 ||
        s_need_uint (v[SE_SEQ], "seq", 0, S_INT_MAX, &end->seq, err) != 0 ||
        s_need_uint (v[SE_COUNT], "count", 0, S_INT_MAX, &end->count, err) != 0)
        goto done;
    if (s_str_is (v[SE_MODE], "snapshot"))
        end->mode = PS_SYNC_SNAPSHOT;
    else if (s_str_is (v[SE_MODE], "replay"))
        end->mode = PS_SYNC_REPLAY;
    else {
        s_fail (err, PS_E_SYNTAX, "mode", "mode must be \"snapshot\" or \"replay\", got \"%s\"",
                s_quote (q, v[SE_MODE]->via.str.ptr, v[SE_MODE]->via.str.size));
        goto done;
    }
    rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}

int ps_refusal_decode (ps_error_t *refusal, const void *data, size_t size, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 1024))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    msgpack_object root;
    int rc = -1;
    if (s_unpack (&zone, data, size, &root, err) != 0)
        goto done;
    if (root.type != MSGPACK_OBJECT_MAP) {
        s_fail (err, PS_E_TYPE, "", "a refusal must be a map, got %s", s_type_name (&root));
        goto done;
    }
    if (s_check_header (ps_map_get (&root, "v"), ps_map_get (&root, "type"), "error", err) == 0 &&
        s_error_decode (&root, "error", refusal, NULL, err) == 0)
        rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}

/* ---- Resend ------------------------------------------------------------- */

int ps_resend_encode (uint64_t epoch, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, 3);
    rc |= s_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    rc |= s_pack_key_str (&pk, "type", "resend");
    rc |= s_pack_key_uint (&pk, "epoch", epoch);
    return rc ? -1 : 0;
}

enum { RS_V, RS_TYPE, RS_EPOCH, RS__N };
static const char *const s_resend_keys[RS__N] = {"v", "type", "epoch"};

int ps_resend_decode (const void *data, size_t size, uint64_t *epoch, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 256))
        return s_fail (err, PS_E_LIMIT, "", "out of memory");
    const msgpack_object *v[RS__N];
    int rc = s_small_decode (&zone, data, size, "resend", s_resend_keys, RS__N, v, err) == 0 &&
                     s_need_uint (v[RS_EPOCH], "epoch", 0, S_INT_MAX, epoch, err) == 0
                 ? 0
                 : -1;
    msgpack_zone_destroy (&zone);
    return rc;
}
