/*  ps_msgjson: MessagePack to jansson; see ps_msgjson.h. */

#include "ps_msgjson.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *s_base64 (const char *data, size_t len)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out_len = (len + 2) / 3 * 4;
    char *out = malloc (out_len + 1);
    if (!out)
        return NULL;
    const unsigned char *in = (const unsigned char *) data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t) in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t) in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = digits[(v >> 18) & 63];
        out[o++] = digits[(v >> 12) & 63];
        out[o++] = i + 1 < len ? digits[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? digits[v & 63] : '=';
    }
    json_t *s = json_stringn (out, o);
    free (out);
    return s;
}

/*  Adds KEY (any MessagePack object) = VALUE to OBJECT; steals VALUE. */
static int s_set (json_t *object, const msgpack_object *key, json_t *value)
{
    if (key->type == MSGPACK_OBJECT_STR)
        return json_object_setn_new (object, key->via.str.ptr, key->via.str.size, value);
    json_t *k = ps_msgjson_convert (key);
    char *text = k ? json_dumps (k, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref (k);
    int rc = text ? json_object_set_new (object, text, value) : (json_decref (value), -1);
    free (text);
    return rc;
}

json_t *ps_msgjson_convert (const msgpack_object *obj)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null ();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean (obj->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (obj->via.u64 > (uint64_t) INT64_MAX)
            return json_real ((double) obj->via.u64);
        return json_integer ((json_int_t) obj->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer ((json_int_t) obj->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return isfinite (obj->via.f64) ? json_real (obj->via.f64) : json_null ();
    case MSGPACK_OBJECT_STR:
        return json_stringn (obj->via.str.ptr, obj->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return s_base64 (obj->via.bin.ptr, obj->via.bin.size);
    case MSGPACK_OBJECT_EXT: {
        json_t *data = s_base64 (obj->via.ext.ptr, obj->via.ext.size);
        return data ? json_pack ("{s:i, s:o}", "ext", (int) obj->via.ext.type, "data", data) : NULL;
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *array = json_array ();
        for (uint32_t i = 0; array && i < obj->via.array.size; i++) {
            json_t *item = ps_msgjson_convert (&obj->via.array.ptr[i]);
            if (!item || json_array_append_new (array, item) != 0) {
                json_decref (array);
                return NULL;
            }
        }
        return array;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *object = json_object ();
        for (uint32_t i = 0; object && i < obj->via.map.size; i++) {
            const msgpack_object_kv *kv = &obj->via.map.ptr[i];
            json_t *value = ps_msgjson_convert (&kv->val);
            if (!value || s_set (object, &kv->key, value) != 0) {
                json_decref (object);
                return NULL;
            }
        }
        return object;
    }
    }
    return NULL;
}

static json_t *s_fail (ps_error_t *err, ps_err_t code, const char *field, const char *reason)
{
    err->code = code;
    err->field = field;
    snprintf (err->reason, sizeof err->reason, "%s", reason);
    return NULL;
}

json_t *ps_msgjson_feed (const char *topic, size_t topic_len, const void *body, size_t body_len,
                         ps_error_t *err)
{
    if (ps_msgpack_check (body, body_len, err) != 0)
        return NULL;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t off = 0;
    json_t *msg = NULL;
    if (msgpack_unpack_next (&unpacked, body, body_len, &off) != MSGPACK_UNPACK_SUCCESS)
        s_fail (err, PS_E_DECODE, "", "the body is not one MessagePack object");
    else if (unpacked.data.type != MSGPACK_OBJECT_MAP)
        s_fail (err, PS_E_TYPE, "", "the body is not a map");
    else {
        json_t *fields = ps_msgjson_convert (&unpacked.data);
        json_t *name = json_stringn (topic, topic_len);
        msg = json_object ();
        if (!fields || !name || !msg || json_object_set (msg, "topic", name) != 0 ||
            json_object_update (msg, fields) != 0) {
            json_decref (msg);
            msg = s_fail (err, PS_E_UTF8, "", "the topic is not valid UTF-8 (or out of memory)");
        }
        json_decref (fields);
        json_decref (name);
    }
    msgpack_unpacked_destroy (&unpacked);
    return msg;
}
