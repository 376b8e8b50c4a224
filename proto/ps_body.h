/*  ps_body: what the body of an update item (compute -> publish) may hold
    (PROTOCOL.md 5.2 and 5.4): a cell, ratio or reject message, or a
    removal, without the numbering keys publish adds in front.

    Publish republishes each body byte for byte behind its own numbering
    (ps_feed_body). A body that already carries "seq" (or "v", "prev",
    "epoch"), repeats a key, or lacks a readable "type" would make every
    feed message and snapshot of its topic unreadable to every subscriber,
    so publish checks each body with ps_body_check and refuses the bad ones
    item by item.

    The check is one pass over the body's bytes, with no allocation: the
    top-level keys and the headers of their values, and the entries of
    "dims". Values are checked for their MessagePack type, not their
    meaning (a count of 7 on a cell that has 5 transactions passes). */

#ifndef PS_BODY_H_INCLUDED
#define PS_BODY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ps_error.h"
#include "ps_grammar.h"

/* Keys of one body, at most: a cell uses 23 at most; the rest leaves room
   for optional keys added within version 1 (PROTOCOL.md 11). */
#define PS_BODY_KEYS_MAX 64

/* Why a body was refused: the label of publish's refusal metric. */
typedef enum {
    PS_BODY_RESERVED = 0, /* "reserved": v, seq, prev or epoch, which publish adds */
    PS_BODY_DUPLICATE,    /* "duplicate": a key given twice */
    PS_BODY_MISSING,      /* "missing": type, or a key its type requires, absent */
    PS_BODY_TYPE,         /* "type": unknown type, a type the topic cannot have, a value or a key
                             of the wrong MessagePack type, a body that is not a map */
    PS_BODY_DIMS,         /* "dims": a cell's dims not a map of at most 4 valid, distinct dims */
    PS_BODY_LIMIT,        /* "limit": more than PS_BODY_KEYS_MAX keys */
    PS_BODY_DECODE,       /* "decode": not one complete MessagePack object */
    PS_BODY__COUNT
} ps_body_reason_t;

/* Returns the metric label of REASON ("reserved", ...), or "unknown". */
const char *ps_body_reason_name (ps_body_reason_t reason);

typedef struct {
    ps_body_reason_t reason;
    ps_error_t error; /* code, field (the key at fault, "" for the body) and a sentence */
} ps_body_fault_t;

/*  Checks BODY (SIZE bytes, at least 1; ps_feed_update_decode has already found
    it one well-formed map) against what an item of TOPIC (TOPIC_LEN bytes,
    a topic ps_feed_update_decode accepted) may carry: a cell message on a cell
    topic, a ratio message on "$ratio/...", a reject message on "$reject",
    and {"type": "removed"} on a cell or ratio topic. Returns 0, or -1 with
    *FAULT saying which key and why. Never reads outside BODY. */
int ps_body_check (const char *topic, size_t topic_len, const uint8_t *body, size_t size,
                   ps_body_fault_t *fault);

#endif
