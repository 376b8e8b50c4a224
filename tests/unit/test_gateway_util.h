/*  Helpers shared by the gateway unit tests: feed message bodies written
    as JSON text, packed to MessagePack as publish would send them. */

#ifndef TEST_GATEWAY_UTIL_H_INCLUDED
#define TEST_GATEWAY_UTIL_H_INCLUDED

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <msgpack.h>

#include "ps_proto.h"

static inline void t_pack_json (msgpack_packer *pk, const json_t *value)
{
    switch (json_typeof (value)) {
    case JSON_OBJECT: {
        msgpack_pack_map (pk, json_object_size (value));
        const char *key;
        json_t *item;
        json_object_foreach ((json_t *) value, key, item)
        {
            msgpack_pack_str_with_body (pk, key, strlen (key));
            t_pack_json (pk, item);
        }
        break;
    }
    case JSON_ARRAY:
        msgpack_pack_array (pk, json_array_size (value));
        for (size_t i = 0; i < json_array_size (value); i++)
            t_pack_json (pk, json_array_get (value, i));
        break;
    case JSON_STRING:
        msgpack_pack_str_with_body (pk, json_string_value (value), json_string_length (value));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64 (pk, json_integer_value (value));
        break;
    case JSON_REAL:
        msgpack_pack_double (pk, json_real_value (value));
        break;
    case JSON_TRUE:
        msgpack_pack_true (pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false (pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil (pk);
        break;
    }
}

/*  Builds into OUT the feed body publish would send for the item FIELDS
    (JSON text of a map) as message SEQ of epoch 1. */
static inline void t_feed_body (msgpack_sbuffer *out, uint64_t seq, const char *fields)
{
    json_error_t error;
    json_t *value = json_loads (fields, 0, &error);
    if (!value)
        fail_msg ("bad test JSON: %s: %s", fields, error.text);
    msgpack_sbuffer item;
    msgpack_sbuffer_init (&item);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &item, msgpack_sbuffer_write);
    t_pack_json (&pk, value);
    json_decref (value);
    assert_int_equal (ps_feed_body (seq, 0, 1, (const uint8_t *) item.data, item.size, out), 0);
    msgpack_sbuffer_destroy (&item);
}

/*  A cell message for TOPIC with count COUNT and amount AMOUNT (MAD
    centimes) plus EXTRA ("" or ", \"key\": value ..."). */
#define T_CELL(source, period, gran, count, amount, extra)                                         \
    "{\"type\": \"cell\", \"source\": \"" source "\", \"period\": \"" period                       \
    "\", \"gran\": \"" gran "\", \"dims\": {\"card\": \"*\"}, \"count\": " #count                  \
    ", \"amount\": " #amount ", \"currency\": \"MAD\", \"exp\": 2" extra "}"

#endif
