/*  ps_error: the protocol's error codes, their wire names, and the wire
    form of an error (a map of code, field and reason) that acks and
    snapshot refusals carry. Decoding one maps its field back to a static
    string, so a decoded error is as cheap to hold as one made here. */

#include "ps_error.h"
#include "ps_msgpack.h"
#include "ps_wire.h"

#include <stdio.h>

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

/* Field names an error may carry; decoded acks point their errors here. */
static const char *const s_fields[] = {
    "",     "v",     "type",   "producer", "seq", "ingest", "jseq",   "reports", "source", "period",
    "dims", "count", "amount", "currency", "op",  "i",      "prefix", "since",   "epoch",
    "journal"};

const char *ps_error_code_name (ps_err_t code)
{
    if ((int) code < 0 || code >= PS_E__COUNT)
        return "unknown";
    return s_err_names[code];
}

ps_err_t ps_error_code_from_name (const char *name, size_t len)
{
    for (int c = PS_E_DECODE; c < PS_E__COUNT; c++)
        if (strlen (s_err_names[c]) == len && memcmp (s_err_names[c], name, len) == 0)
            return (ps_err_t) c;
    return PS_E__COUNT;
}

/* Writes V with a comma every three digits into BUF (32 bytes). */
static const char *s_grouped (uint64_t v, char buf[32])
{
    char digits[24];
    int n = snprintf (digits, sizeof digits, "%" PRIu64, v), k = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
    return buf;
}

int ps_error_limit (ps_error_t *err, const char *what, size_t size, size_t limit)
{
    char a[32], b[32], c[32];
    return ps_wire_fail (err, PS_E_LIMIT, "", "%s is %s bytes, over the %s-byte limit by %s",
                         what, s_grouped (size, a), s_grouped (limit, b),
                         s_grouped (size - limit, c));
}

int ps_error_pack_reason (msgpack_packer *pk, const ps_error_t *e)
{
    /* A reason may have been cut anywhere by its writer: the wire gets valid UTF-8. */
    size_t len = strnlen (e->reason, PS_REASON_MAX - 1);
    int rc = ps_msgpack_pack_cstr (pk, "reason");
    rc |= ps_msgpack_pack_str (pk, e->reason, ps_wire_utf8_cut (e->reason, len));
    return rc;
}

int ps_error_pack_fields (msgpack_packer *pk, const ps_error_t *e)
{
    int rc = ps_wire_pack_key_str (pk, "code", ps_error_code_name (e->code));
    rc |= ps_wire_pack_key_str (pk, "field", e->field ? e->field : "");
    rc |= ps_error_pack_reason (pk, e);
    return rc;
}

enum { E_CODE, E_FIELD, E_REASON, E_INDEX, E__N };
static const char *const s_error_keys[E__N] = {"code", "field", "reason", "index"};

int ps_error_decode_map (const msgpack_object *o, const char *where, ps_error_t *out,
                         uint32_t *index, ps_error_t *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return ps_wire_fail (err, PS_E_TYPE, where, "%s: an error must be a map, got %s", where,
                             ps_wire_type_name (o));
    const msgpack_object *v[E__N];
    ps_error_t e;
    /* Read only after a successful read sets it, but the compiler cannot tell. */
    uint64_t u = 0;
    if (ps_wire_fields_get (o, s_error_keys, E__N, v, &e) != 0)
        return ps_wire_fail (err, e.code, where, "%s: %s", where, e.reason);
    if (index) {
        if (ps_wire_need_uint (v[E_INDEX], "index", 0, PS_MAX_REPORTS - 1, &u, &e) != 0)
            return ps_wire_fail (err, e.code, where, "%s: %s", where, e.reason);
        *index = (uint32_t) u;
    }
    for (int k = E_CODE; k <= E_REASON; k++)
        if (ps_wire_need_str (v[k], s_error_keys[k], &e) != 0)
            return ps_wire_fail (err, e.code, where, "%s: %s", where, e.reason);
    char q[PS_WIRE_QUOTE_MAX + 4];
    const msgpack_object *code = v[E_CODE], *field = v[E_FIELD], *reason = v[E_REASON];
    out->code = ps_error_code_from_name (code->via.str.ptr, code->via.str.size);
    if (out->code == PS_E__COUNT)
        return ps_wire_fail (err, PS_E_SYNTAX, where, "%s: unknown error code '%s'", where,
                             ps_wire_quote (q, code->via.str.ptr, code->via.str.size));
    out->field = NULL;
    for (size_t f = 0; f < sizeof s_fields / sizeof *s_fields; f++)
        if (ps_wire_str_is (field, s_fields[f]))
            out->field = s_fields[f];
    if (!out->field)
        return ps_wire_fail (err, PS_E_SYNTAX, where, "%s: unknown field name '%s'", where,
                             ps_wire_quote (q, field->via.str.ptr, field->via.str.size));
    size_t len = reason->via.str.size;
    if (len > PS_REASON_MAX - 1)
        len = ps_wire_utf8_cut (reason->via.str.ptr, PS_REASON_MAX - 1);
    memcpy (out->reason, reason->via.str.ptr, len);
    out->reason[len] = '\0';
    return 0;
}

/* ---- Refusals: an error map with the header keys beside ------------------ */

int ps_error_refusal_encode (const ps_error_t *refusal, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    /* An error map with the header keys beside, so it reads like an ack's error. */
    int rc = ps_wire_pack_header (&pk, 5, "error");
    rc |= ps_error_pack_fields (&pk, refusal);
    return rc ? -1 : 0;
}

int ps_error_refusal_decode (const void *data, size_t size, ps_error_t *refusal, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 1024))
        return ps_wire_fail (err, PS_E_LIMIT, "", "out of memory");
    msgpack_object root;
    int rc = -1;
    if (ps_wire_unpack_map (&zone, data, size, "a refusal", &root, err) != 0)
        goto done;
    const msgpack_object *type = ps_msgpack_map_get (&root, "type");
    if (ps_wire_check_header (ps_msgpack_map_get (&root, "v"), type, "error", err) == 0 &&
        ps_error_decode_map (&root, "error", refusal, NULL, err) == 0)
        rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}
