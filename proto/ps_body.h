/*  ps_body: the body of an update item (compute -> publish, PROTOCOL.md
    5.2 and 5.4): a cell, ratio or reject message, or a removal, without
    the numbering keys publish adds in front. Compute fills a struct and
    the encoders here pack it; publish checks what arrives.

    The cell encoder is on compute's hot path (one body per changed cell
    and flush): it packs into a local buffer whose write function the
    compiler sees, so each of msgpack-c's writes of a few bytes becomes a
    few stores, and calls the caller's packer once per body.

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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ps_error.h"
#include "ps_grammar.h"

/* ---- Encoding --------------------------------------------------------------- */

/* A figure that is left out of the body when it has no defined base. */
typedef struct {
    bool has;
    double value;
} ps_body_figure_t;

/* Growth in % of a cell's count, amount and average ticket over a base. */
typedef struct {
    ps_body_figure_t count;
    ps_body_figure_t amount;
    ps_body_figure_t avg_ticket;
} ps_body_growth_t;

/* One entry of a cell's "share": dimension DIM's share of its rolled-up "*". */
typedef struct {
    int dim; /* index into the cell's dims */
    ps_body_figure_t count_pct;
    ps_body_figure_t amount_pct; /* at least one of the two is present */
} ps_body_share_t;

/*  A cell message (PROTOCOL.md "Cell message"). Absent measures and
    figures are left out of the map, never sent as NaN or infinity. */
typedef struct {
    const char *source;
    const char *period; /* its text form */
    ps_gran_t gran;
    int ndims;
    ps_dim_t dims[PS_MAX_DIMS]; /* sorted by name */
    bool has_count;
    int64_t count;
    bool has_amount; /* with CURRENCY and EXP */
    int64_t amount;
    const char *currency;
    int64_t exp; /* the currency's minor-unit exponent */
    ps_body_figure_t avg_ticket;
    ps_body_growth_t yoy; /* over the same period a year earlier */
    ps_body_growth_t pop; /* over the previous period */
    bool has_ytd_count;   /* month and quarter cells: the year to date */
    int64_t ytd_count;
    bool has_ytd_amount;
    int64_t ytd_amount;
    ps_body_figure_t ytd_avg_ticket;
    ps_body_growth_t ytd_yoy;
    int nshares;
    ps_body_share_t shares[PS_MAX_DIMS];
} ps_body_cell_t;

/*  Packs the cell message CELL with PK, in one call of PK's write
    function. Cannot fail but through PK's write, whose result it ignores
    as msgpack-c's packers do (compute's bodies buffer). */
void ps_body_cell_pack (const ps_body_cell_t *cell, msgpack_packer *pk);

/* One side of a ratio: the cell it reads, which measure, and its value. */
typedef struct {
    char topic[PS_TOPIC_MAX + 1];
    const char *measure; /* "count" or "amount" */
    bool has_value;
    int64_t value;
} ps_body_side_t;

/* A ratio message (PROTOCOL.md "Ratio message"). */
typedef struct {
    const char *name;
    const char *period;     /* its text form */
    ps_body_figure_t value; /* absent when a side has no value or the denominator is 0 */
    ps_body_side_t num;
    ps_body_side_t den;
} ps_body_ratio_t;

/*  Packs the ratio message RATIO with PK. Returns non-zero when one of
    PK's writes failed. */
int ps_body_ratio_pack (const ps_body_ratio_t *ratio, msgpack_packer *pk);

/*  Packs the reject message of report INDEX of batch (PRODUCER, SEQ),
    refused with ERROR, with PK. Returns non-zero when a write failed. */
int ps_body_reject_pack (const char *producer, uint64_t seq, uint32_t index,
                         const ps_error_t *error, msgpack_packer *pk);

/*  Appends the body of a removal, {"type": "removed"}, to OUT. Returns 0,
    or -1 when out of memory. */
int ps_body_removed_encode (msgpack_sbuffer *out);

/* ---- Checking ---------------------------------------------------------------- */

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
