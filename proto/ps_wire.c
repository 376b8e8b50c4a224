/*  ps_wire: the helpers every message family's decoder shares (declared in
    ps_wire.h, private to proto/): filling an error with a bounded reason,
    quoting client text back safely, unpacking a checked frame and reading
    the header, id and prefix fields several messages carry. They live
    apart from the families so that each rule (how long a reason may be,
    what an id looks like, what "v" must be) is written once. */

#include "ps_wire.h"
#include "ps_msgpack.h"

#include <stdarg.h>
#include <stdio.h>

size_t ps_wire_utf8_cut (const char *s, size_t len)
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

int ps_wire_fail (ps_error_t *err, ps_err_t code, const char *field, const char *fmt, ...)
{
    err->code = code;
    err->field = field;
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (err->reason, sizeof err->reason, fmt, ap);
    va_end (ap);
    if (n >= (int) sizeof err->reason)
        err->reason[ps_wire_utf8_cut (err->reason, sizeof err->reason - 1)] = '\0';
    return -1;
}

const char *ps_wire_quote (char buf[PS_WIRE_QUOTE_MAX + 4], const char *text, size_t len)
{
    size_t n = len > PS_WIRE_QUOTE_MAX ? ps_wire_utf8_cut (text, PS_WIRE_QUOTE_MAX) : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) text[i];
        buf[i] = (c < 0x20 || c == 0x7f || c == '\'' || c == '"') ? '?' : (char) c;
    }
    strcpy (buf + n, n < len ? "..." : "");
    return buf;
}

const char *ps_wire_type_name (const msgpack_object *o)
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

int ps_wire_unpack_max (msgpack_zone *zone, const void *data, size_t size, size_t max,
                        msgpack_object *obj, ps_error_t *err)
{
    if (ps_msgpack_check_max (data, size, max, err) != 0)
        return -1;
    msgpack_zone_clear (zone);
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack (data, size, &off, zone, obj);
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
        return ps_wire_fail (err, PS_E_LIMIT, "", "frame too large to decode (out of memory)");
    if (rc != MSGPACK_UNPACK_SUCCESS || off != size)
        return ps_wire_fail (err, PS_E_DECODE, "", "not one complete MessagePack object");
    return 0;
}

int ps_wire_unpack (msgpack_zone *zone, const void *data, size_t size, msgpack_object *obj,
                    ps_error_t *err)
{
    return ps_wire_unpack_max (zone, data, size, PS_MAX_FRAME, obj, err);
}

int ps_wire_unpack_map (msgpack_zone *zone, const void *data, size_t size, const char *what,
                        msgpack_object *root, ps_error_t *err)
{
    if (ps_wire_unpack (zone, data, size, root, err) != 0)
        return -1;
    if (root->type != MSGPACK_OBJECT_MAP)
        return ps_wire_fail (err, PS_E_TYPE, "", "%s must be a map, got %s", what,
                             ps_wire_type_name (root));
    return 0;
}

int ps_wire_get_id (const msgpack_object *o, const char *field, bool empty_ok,
                    char buf[PS_ID_MAX + 1], ps_error_t *err)
{
    if (ps_wire_need_str (o, field, err) != 0)
        return -1;
    const char *s = o->via.str.ptr;
    size_t len = o->via.str.size;
    char q[PS_WIRE_QUOTE_MAX + 4];
    if (len > PS_ID_MAX)
        return ps_wire_fail (err, PS_E_LIMIT, field, "%s is %zu bytes long, at most %d", field, len,
                             PS_ID_MAX);
    if (!(empty_ok && len == 0) && !ps_grammar_id_valid (s, len))
        return ps_wire_fail (err, PS_E_SYNTAX, field,
                             "%s '%s' must be 1 to 64 of A-Z a-z 0-9 _ . : -", field,
                             ps_wire_quote (q, s, len));
    memcpy (buf, s, len);
    buf[len] = '\0';
    return 0;
}

int ps_wire_check_version (const msgpack_object *v, ps_error_t *err)
{
    if (!v)
        return ps_wire_fail (err, PS_E_VERSION, "v",
                             "v is missing (this receiver speaks version %d)", PS_PROTO_VERSION);
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return ps_wire_fail (err, PS_E_VERSION, "v",
                             "unsupported protocol version %" PRId64 " (this receiver speaks %d)",
                             v->via.i64, PS_PROTO_VERSION);
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return ps_wire_fail (err, PS_E_VERSION, "v", "v must be the integer %d, got %s",
                             PS_PROTO_VERSION, ps_wire_type_name (v));
    if (v->via.u64 != PS_PROTO_VERSION)
        return ps_wire_fail (err, PS_E_VERSION, "v",
                             "unsupported protocol version %" PRIu64 " (this receiver speaks %d)",
                             v->via.u64, PS_PROTO_VERSION);
    return 0;
}

int ps_wire_check_header (const msgpack_object *v, const msgpack_object *type, const char *want,
                          ps_error_t *err)
{
    if (ps_wire_check_version (v, err) != 0 || ps_wire_need_str (type, "type", err) != 0)
        return -1;
    char q[PS_WIRE_QUOTE_MAX + 4];
    if (!ps_wire_str_is (type, want))
        return ps_wire_fail (err, PS_E_TYPE, "type", "type must be \"%s\", got \"%s\"", want,
                             ps_wire_quote (q, type->via.str.ptr, type->via.str.size));
    return 0;
}

int ps_wire_get_prefix (const msgpack_object *o, const char *field, bool optional, char *buf,
                        size_t *len, ps_error_t *err)
{
    *len = 0;
    buf[0] = '\0';
    if (!o && optional)
        return 0;
    if (ps_wire_need_str (o, field, err) != 0)
        return -1;
    if (o->via.str.size > PS_TOPIC_MAX)
        return ps_wire_fail (err, PS_E_LIMIT, field, "%s is %" PRIu32 " bytes long, at most %d",
                             field, o->via.str.size, (int) PS_TOPIC_MAX);
    memcpy (buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    *len = o->via.str.size;
    return 0;
}

int ps_wire_small_decode (msgpack_zone *zone, const void *data, size_t size, const char *type,
                          const char *const *keys, int n, const msgpack_object **v, ps_error_t *err)
{
    msgpack_object root;
    if (ps_wire_unpack (zone, data, size, &root, err) != 0)
        return -1;
    if (root.type != MSGPACK_OBJECT_MAP)
        return ps_wire_fail (err, PS_E_TYPE, "", "a %s frame must be a map, got %s", type,
                             ps_wire_type_name (&root));
    if (ps_wire_fields_get (&root, keys, n, v, err) != 0)
        return -1;
    /* v and type come first in every key table */
    return ps_wire_check_header (v[0], v[1], type, err);
}

int ps_wire_uint_msg_encode (const char *type, const char *key, uint64_t value,
                             msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = ps_wire_pack_header (&pk, 3, type);
    rc |= ps_wire_pack_key_uint (&pk, key, value);
    return rc ? -1 : 0;
}

int ps_wire_uint_msg_decode (const void *data, size_t size, const char *type, const char *key,
                             uint64_t *value, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 256))
        return ps_wire_fail (err, PS_E_LIMIT, "", "out of memory");
    const char *const keys[3] = {"v", "type", key};
    const msgpack_object *v[3];
    int rc = ps_wire_small_decode (&zone, data, size, type, keys, 3, v, err) == 0 &&
                     ps_wire_need_uint (v[2], key, 0, PS_WIRE_INT_MAX, value, err) == 0
                 ? 0
                 : -1;
    msgpack_zone_destroy (&zone);
    return rc;
}
