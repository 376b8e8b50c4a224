/*  ps_error: the protocol's error codes and the error a decoder reports,
    naming the field and the reason (PROTOCOL.md, "Errors"). Every decoder
    of every message family fills a ps_error_t; acks and refusals carry
    one on the wire. */

#ifndef PS_ERROR_H_INCLUDED
#define PS_ERROR_H_INCLUDED

#include <stddef.h>

#include <msgpack.h>

#include "ps_limits.h"

/* Machine-readable error codes; ps_error_code_name gives the wire string. */
typedef enum {
    PS_OK = 0,
    PS_E_DECODE,            /* "decode": not one complete MessagePack object */
    PS_E_LIMIT,             /* "limit": a size, count or depth limit exceeded */
    PS_E_VERSION,           /* "version": unsupported protocol version */
    PS_E_TYPE,              /* "type": a field has the wrong MessagePack type */
    PS_E_MISSING,           /* "missing": a required field is absent */
    PS_E_RANGE,             /* "range": a number is out of its range */
    PS_E_SYNTAX,            /* "syntax": a string does not match its grammar */
    PS_E_UTF8,              /* "utf8": a string is not valid UTF-8 */
    PS_E_PERIOD,            /* "period": not a valid period */
    PS_E_CURRENCY,          /* "currency": not an ISO 4217 currency */
    PS_E_CURRENCY_MISMATCH, /* "currency_mismatch": series already has another currency */
    PS_E_DIMS,              /* "dims": too many, duplicate or malformed dimensions */
    PS_E_OP,                /* "op": unknown operation */
    PS_E_OVERFLOW,          /* "overflow": a total would leave the int64 range */
    PS_E_RETRY,             /* "retry_later": temporarily unable to accept */
    PS_E_PERMISSION,        /* "not_permitted": not allowed for this producer */
    PS_E__COUNT
} ps_err_t;

typedef struct {
    ps_err_t code;
    const char *field;          /* static string: "reports[3].count" is split:
                                   field is "count", the index travels apart */
    char reason[PS_REASON_MAX]; /* human sentence, NUL-terminated */
} ps_error_t;

/* Returns the wire name of CODE ("decode", "type", ...), or "unknown". */
const char *ps_error_code_name (ps_err_t code);

/* Returns the code for wire name NAME (LEN bytes), or PS_E__COUNT if unknown. */
ps_err_t ps_error_code_from_name (const char *name, size_t len);

/*  Fills *ERR with a "limit" error for the frame itself: "WHAT is SIZE
    bytes, over the LIMIT-byte limit by SIZE - LIMIT" (SIZE > LIMIT).
    Returns -1, for "return ps_error_limit (...)". */
int ps_error_limit (ps_error_t *err, const char *what, size_t size, size_t limit);

/*  Appends a refusal {v, type:"error", code, field, reason} to OUT: an
    answer that refuses a request (a snapshot request, a hello, a
    subscription). Returns 0, or -1 when out of memory. */
int ps_error_refusal_encode (const ps_error_t *refusal, msgpack_sbuffer *out);

/*  Strictly decodes a refusal {v, type:"error", code, field, reason}
    alone: compute's answer to a hello it refuses (PROTOCOL.md 5.1), a
    snapshot refusal, or publish's notice on "$hb/<prefix>" that the
    subscription to it was refused (5.7). Returns 0 with *REFUSAL, or -1
    with *ERR (not a refusal, or a malformed one). */
int ps_error_refusal_decode (const void *data, size_t size, ps_error_t *refusal, ps_error_t *err);

#endif
