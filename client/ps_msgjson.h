/*  ps_msgjson: MessagePack to JSON (jansson), generically.

    Integers stay integers (a uint64 above INT64_MAX, which JSON parsers
    cannot hold as an integer, becomes a real), floats become reals (NaN and
    infinities, which JSON cannot carry, become null), maps become objects
    (a non-string key is written as its JSON text), bin becomes a base64
    string and ext an object {"ext": type, "data": base64}. */

#ifndef PS_MSGJSON_H_INCLUDED
#define PS_MSGJSON_H_INCLUDED

#include <jansson.h>
#include <msgpack.h>

#include "ps_proto.h"

/*  Converts OBJ. Returns a new reference, or NULL when out of memory or
    when a string is not valid UTF-8. */
json_t *ps_msgjson_convert (const msgpack_object *obj);

/*  Converts one feed message (TOPIC of TOPIC_LEN bytes, BODY of BODY_LEN
    bytes, which must be one MessagePack map) into the JSON object
    {"topic": TOPIC, <every field of BODY>}. Untrusted input: BODY is
    checked with ps_msgpack_check first. Returns a new reference, or NULL
    with *ERR saying why. */
json_t *ps_msgjson_feed (const char *topic, size_t topic_len, const void *body, size_t body_len,
                         ps_error_t *err);

#endif
