/*  ps_proto: the paystat wire protocol, version 1 (see proto/PROTOCOL.md).

    Encoders write MessagePack with msgpack-c's packer into a caller's
    msgpack_sbuffer. Decoders are strict: they take one complete frame,
    check every container header against the bytes that remain before
    anything is allocated, cap nesting depth, reject trailing bytes, check
    every field's type, range and syntax, and report the first problem
    found as a ps_error_t naming the field and the reason.

    Data flows:  producer --batch--> ingest --batch(+jseq)--> compute
                 ingest --ack--> producer
                 compute --update--> publish --feed message--> subscriber */

#ifndef PS_PROTO_H_INCLUDED
#define PS_PROTO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ps_period.h"

#define PS_PROTO_VERSION 1

/* Limits (PROTOCOL.md, "Limits"). */
#define PS_MAX_DIMS      4
#define PS_ID_MAX        64 /* producer id, ingest id */
#define PS_SOURCE_MAX    32 /* reporting body */
#define PS_DIM_NAME_MAX  32
#define PS_DIM_VALUE_MAX 64
#define PS_CURRENCY_LEN  3
#define PS_MAX_REPORTS   10000      /* reports in one batch */
#define PS_MAX_FRAME     (4u << 20) /* bytes in one frame (ZMQ_MAXMSGSIZE) */
#define PS_MAX_DEPTH     8          /* MessagePack nesting accepted */
#define PS_REASON_MAX    160
/* MessagePack objects (every key, value and element) in one frame: msgpack-c
   spends 24 bytes of zone per object, so this caps a decode near 6 MiB. A
   forwarded batch of PS_MAX_REPORTS reports using every known key (1 map +
   8 pairs + 4 dims each) holds about 210,000. */
#define PS_MAX_OBJECTS (1u << 18)
/* Longest topic: source/period/ + 4 x (name=value,) */
#define PS_TOPIC_MAX                                                                               \
    (PS_SOURCE_MAX + 1 + 10 + 1 + PS_MAX_DIMS * (PS_DIM_NAME_MAX + 1 + PS_DIM_VALUE_MAX + 1))

/*  Sizes along the path producer -> ingest -> compute, all derived here so
    that an acknowledged batch always fits the next hop (docs/bounds.md).

    A producer's batch frame may be up to PS_MAX_BATCH bytes. Ingest
    journals what it decoded, re-encoded in canonical form with "ingest",
    "jseq", "journal" and each report's "i" added: that entry's size does
    not depend on how the producer encoded its batch, only on how many
    reports it holds, so it is bounded by PS_MAX_ENTRY whatever was
    accepted. Compute takes entries up to PS_MAX_ENTRY. The front door
    reads frames up to PS_MAX_INPUT so that a batch over PS_MAX_BATCH gets
    a "limit" answer rather than a dropped connection; past PS_MAX_INPUT
    the connection is dropped (ZMQ_MAXMSGSIZE), which bounds what one
    message can make ingest hold. */
#define PS_MAX_BATCH PS_MAX_FRAME
/* MessagePack sizes: a string of N bytes (N < 256) packs in at most 2 + N,
   a uint64 in at most 9. */
#define PS_PACKED_STR(n) (2 + (n))
#define PS_PACKED_UINT   9
/*  Most bytes one forwarded report packs to (ps_batch_encode): its map
    header, then each key with its largest value, "op" with "retract". */
#define PS_REPORT_PACKED_MAX                                                                       \
    (1 + PS_PACKED_STR (6) + PS_PACKED_STR (PS_SOURCE_MAX) /* source */                           \
     + PS_PACKED_STR (6) + PS_PACKED_STR (PS_PERIOD_STRLEN - 1) /* period */                     \
     + PS_PACKED_STR (4) + 1 +                                                                     \
     PS_MAX_DIMS * PS_PACKED_STR (PS_DIM_NAME_MAX + 1 + PS_DIM_VALUE_MAX) /* dims */               \
     + PS_PACKED_STR (5) + PS_PACKED_UINT /* count */                                              \
     + PS_PACKED_STR (6) + PS_PACKED_UINT /* amount */                                             \
     + PS_PACKED_STR (8) + PS_PACKED_STR (PS_CURRENCY_LEN) /* currency */                         \
     + PS_PACKED_STR (2) + PS_PACKED_STR (7) /* op */                                              \
     + PS_PACKED_STR (1) + PS_PACKED_UINT /* i */)
/*  Most bytes of a forwarded batch besides its reports: the map header,
    v, type, producer, seq, ingest, jseq, journal and the reports array's
    header (array32). */
#define PS_ENTRY_HEADER_MAX                                                                        \
    (1 + PS_PACKED_STR (1) + PS_PACKED_UINT + PS_PACKED_STR (4) + PS_PACKED_STR (5) +              \
     PS_PACKED_STR (8) + PS_PACKED_STR (PS_ID_MAX) + PS_PACKED_STR (3) + PS_PACKED_UINT +          \
     PS_PACKED_STR (6) + PS_PACKED_STR (PS_ID_MAX) + PS_PACKED_STR (4) + PS_PACKED_UINT +          \
     PS_PACKED_STR (7) + PS_PACKED_UINT + PS_PACKED_STR (7) + 5)
/* Largest journal entry ingest can produce from any batch it accepts. */
#define PS_MAX_ENTRY (PS_ENTRY_HEADER_MAX + PS_MAX_REPORTS * PS_REPORT_PACKED_MAX)
/* Largest frame the front door (and compute) reads to answer it. */
#define PS_MAX_INPUT (2 * PS_MAX_BATCH)

/* Machine-readable error codes; ps_err_name gives the wire string. */
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
const char *ps_err_name (ps_err_t code);

/* Returns the code for wire name NAME (LEN bytes), or PS_E__COUNT if unknown. */
ps_err_t ps_err_from_name (const char *name, size_t len);

/*  The grammars of PROTOCOL.md 3.1, for other parsers of the same names
    (access files, API queries): a source [A-Za-z0-9][A-Za-z0-9_.-]{0,31},
    a dimension name [a-z][a-z0-9_]{0,31}, a dimension value (or ratio
    name) [A-Za-z0-9_.-]{1,64}, a producer or ingest id
    [A-Za-z0-9_.:-]{1,64}; S is LEN bytes, not terminated. */
bool ps_id_valid (const char *s, size_t len);
bool ps_source_valid (const char *s, size_t len);
bool ps_dim_name_valid (const char *s, size_t len);
bool ps_dim_value_valid (const char *s, size_t len);

/*  What a report does to its cell: add to its reported value, replace it
    (set), or withdraw it (retract: the cell's reported value stops
    contributing anywhere; such a report carries no count or amount). */
typedef enum { PS_OP_ADD = 0, PS_OP_SET = 1, PS_OP_RETRACT = 2 } ps_op_t;
const char *ps_op_name (ps_op_t op);

typedef struct {
    char name[PS_DIM_NAME_MAX + 1];   /* [a-z][a-z0-9_]* */
    char value[PS_DIM_VALUE_MAX + 1]; /* [A-Za-z0-9_.-]+ */
} ps_dim_t;

/* One transaction-total update for one cell. */
typedef struct {
    char source[PS_SOURCE_MAX + 1]; /* [A-Za-z0-9][A-Za-z0-9_.-]* */
    ps_period_t period;
    uint8_t ndims;
    ps_dim_t dims[PS_MAX_DIMS]; /* sorted by name, names unique */
    bool has_count;
    bool has_amount;
    int64_t count;                      /* >= 0 */
    int64_t amount;                     /* >= 0, minor units of currency */
    char currency[PS_CURRENCY_LEN + 1]; /* ISO 4217; "" when !has_amount */
    ps_op_t op;
} ps_report_t;

/* A report the decoder (or a later stage) refused, by index in the batch. */
typedef struct {
    uint32_t index;
    ps_error_t error;
} ps_reject_t;

/*  A batch of reports, as sent by a producer (type "batch") or as forwarded
    by ingest to compute (same message plus "ingest" and "jseq").
    Decoding keeps the valid reports in REPORTS (with their original batch
    index in INDEX) and the invalid ones in REJECTS; memory is reused
    from one decode to the next. */
typedef struct {
    char producer[PS_ID_MAX + 1];
    uint64_t seq;               /* producer's batch number, >= 1 */
    char ingest[PS_ID_MAX + 1]; /* forwarded only: ingest instance id */
    uint64_t jseq;              /* forwarded only: journal position, >= 1 */
    uint64_t journal;           /* forwarded only: journal instance, 0 when not given */
    uint32_t total;             /* reports in the batch as sent */
    uint32_t nreports;          /* valid ones */
    ps_report_t *reports;
    uint32_t *index;
    uint32_t nrejects;
    ps_reject_t *rejects;
    uint32_t capacity;  /* allocated slots in reports/index/rejects */
    msgpack_zone *zone; /* decoder's scratch, reused from one decode to the next */
} ps_batch_t;

/*  Creates an empty batch. Returns NULL when out of memory. */
ps_batch_t *ps_batch_new (void);
/*  Destroys a batch and sets *SELF_P to NULL; NULL-safe. */
void ps_batch_destroy (ps_batch_t **self_p);
/*  Empties a batch, keeping its memory. */
void ps_batch_reset (ps_batch_t *self);
/*  Appends a copy of REPORT (valid, with original index INDEX). Returns -1
    when out of memory or when the batch holds PS_MAX_REPORTS already. */
int ps_batch_append (ps_batch_t *self, const ps_report_t *report, uint32_t index);
/*  Moves accepted report I to the rejects with ERROR (used by stages that
    refuse a report for a reason only they can see). */
void ps_batch_reject (ps_batch_t *self, uint32_t i, const ps_error_t *error);
/*  Adds a reject for original index INDEX (decoders use it). */
int ps_batch_add_reject (ps_batch_t *self, uint32_t index, const ps_error_t *error);

/*  Fills *ERR with a "limit" error for the frame itself: "WHAT is SIZE
    bytes, over the LIMIT-byte limit by SIZE - LIMIT" (SIZE > LIMIT).
    Returns -1, for "return ps_limit_error (...)". */
int ps_limit_error (ps_error_t *err, const char *what, size_t size, size_t limit);

/*  Strictly decodes one frame of SIZE bytes as a batch: at most
    PS_MAX_BATCH bytes for a producer's, PS_MAX_ENTRY for a forwarded
    one (a larger one is refused with ps_limit_error, its producer and
    seq read when it is at most PS_MAX_INPUT bytes). FORWARDED selects
    the ingest->compute form (requires "ingest" and "jseq", reads the
    optional "journal").
    Returns 0 when the batch itself is well formed (individual reports may
    still be in self->rejects); returns -1 when the whole frame is refused,
    with *ERR saying why (field "" for the frame itself). On -1, producer
    and seq hold the batch's values if they were read before the error
    ("" and 0 otherwise), so the ack can name the batch. */
int ps_batch_decode (ps_batch_t *self, const void *data, size_t size, bool forwarded,
                     ps_error_t *err);

/*  Encodes SELF's valid reports as a batch frame (forwarded form when
    FORWARDED), appending to OUT. Returns 0, or -1 when out of memory. */
int ps_batch_encode (const ps_batch_t *self, bool forwarded, msgpack_sbuffer *out);

/*  Packs one report map (PROTOCOL.md, "Report") with PK. */
void ps_report_pack (msgpack_packer *pk, const ps_report_t *report);

/*  Writes the topic key of a cell: "<source>/<period>/<n>=<v>,<n>=<v>"
    (dims in the order given, which must be sorted by name) into BUF of
    PS_TOPIC_MAX + 1 bytes. Returns its length. */
size_t ps_topic_format (const char *source, const ps_period_t *period, const ps_dim_t *dims,
                        int ndims, char *buf);

/* ---- Acknowledgements (ingest -> producer) ------------------------------ */

typedef enum {
    PS_ACK_OK = 0,    /* "ok": every report accepted */
    PS_ACK_PARTIAL,   /* "partial": some rejected, see rejects */
    PS_ACK_REJECTED,  /* "rejected": none accepted (all rejected or batch error) */
    PS_ACK_DUPLICATE, /* "duplicate": this seq was already accepted; nothing applied again */
    PS_ACK_RETRY      /* "retry_later": not accepted now, resend the same batch later */
} ps_ack_status_t;

const char *ps_ack_status_name (ps_ack_status_t status);

typedef struct {
    char producer[PS_ID_MAX + 1]; /* "" when the batch could not be read */
    uint64_t seq;                 /* 0 when the batch could not be read */
    ps_ack_status_t status;
    uint32_t accepted;
    uint32_t nrejects;
    ps_reject_t *rejects; /* owned; nrejects entries */
    bool has_error;       /* batch-level error (status rejected or retry_later) */
    ps_error_t error;
} ps_ack_t;

/*  Encodes an ack for BATCH (its producer, seq, counts and rejects) with
    STATUS, appending to OUT. BATCH_ERROR, when not NULL, is the batch-level
    error (then BATCH may be NULL if the batch could not be read). Returns 0
    or -1 when out of memory. */
int ps_ack_encode (const ps_batch_t *batch, ps_ack_status_t status, const ps_error_t *batch_error,
                   msgpack_sbuffer *out);

/*  Strictly decodes an ack frame into *ACK (its rejects are malloc'd: free
    with ps_ack_clear; *ACK is overwritten, not freed, so clear it between
    decodes). Returns 0, or -1 with *ERR and *ACK cleared. */
int ps_ack_decode (ps_ack_t *ack, const void *data, size_t size, ps_error_t *err);
void ps_ack_clear (ps_ack_t *ack);

/* ---- Indicator updates (compute -> publish) and feed (publish -> SUB) ---- */

/*  One changed topic in an update: TOPIC and BODY point into the decoded
    frame (valid while the frame is). BODY is one complete MessagePack map
    of indicator fields (PROTOCOL.md, "Cell message"); BODY_LEN 0 means the
    topic was removed. */
typedef struct {
    const char *topic;
    size_t topic_len;
    const uint8_t *body;
    size_t body_len;
} ps_update_item_t;

/*  Appends an update frame {v, type:"update", epoch, useq, items:[[topic,
    body]...]} holding N items to OUT. EPOCH names the compute instance,
    USEQ numbers its update frames 1, 2, 3, ... so publish can confirm how
    far it got. Returns 0 or -1 when out of memory. */
int ps_update_encode (uint64_t epoch, uint64_t useq, const ps_update_item_t *items, size_t n,
                      msgpack_sbuffer *out);

/*  Strictly decodes an update frame. On success returns 0, sets *EPOCH and
    *N, and points *ITEMS at an array (grown in *ITEMS / *CAPACITY with
    realloc; the caller frees it) whose pointers refer into DATA. Every item's
    topic is checked against the topic grammar and every body must be one
    well-formed map. Also sets *USEQ. Returns -1 with *ERR otherwise. */
int ps_update_decode (const void *data, size_t size, uint64_t *epoch, uint64_t *useq,
                      ps_update_item_t **items, size_t *n, size_t *capacity, ps_error_t *err);

/* Most bytes ps_feed_body adds to FIELDS: a map header grown to map32 and
   the four numbering fields with 64-bit values. */
#define PS_FEED_NUMBERING_MAX 56

/*  Builds a feed message body into OUT (cleared first): the map FIELDS
    (one complete MessagePack map, e.g. an update item's body) with "v",
    "seq", "prev" and "epoch" added in front. Returns 0, or -1 when FIELDS
    is not a map or out of memory. */
int ps_feed_body (uint64_t seq, uint64_t prev, uint64_t epoch, const uint8_t *fields,
                  size_t fields_len, msgpack_sbuffer *out);

/*  Builds a heartbeat body {v, type:"hb", epoch, seq, interval_ms} into OUT
    (cleared first). Returns 0 or -1. */
int ps_heartbeat_body (uint64_t epoch, uint64_t seq, uint32_t interval_ms, msgpack_sbuffer *out);

/* Topic of heartbeats; no cell topic can start with '$'. */
#define PS_TOPIC_HEARTBEAT "$hb"
/* Prefix of ratio topics: "$ratio/<name>". */
#define PS_TOPIC_RATIO_PREFIX "$ratio/"

/*  Reads the numbering of a feed message BODY (SIZE bytes; untrusted):
    seq (>= 1), prev (< seq), epoch and whether it is a removal
    ({"type": "removed"}). Returns 0, or -1 with *ERR. */
typedef struct {
    uint64_t seq;
    uint64_t prev;
    uint64_t epoch;
    bool removed;
} ps_feed_header_t;
int ps_feed_header_decode (ps_feed_header_t *hdr, const void *body, size_t size, ps_error_t *err);

/*  A heartbeat: the global one on "$hb", or the one of a topic prefix on
    "$hb/<prefix>", sent to whoever subscribes to that topic. A prefix
    heartbeat carries the prefix's digest SUM: the sum, modulo 2^63, of
    the seq of the latest message of every topic starting with the prefix
    (removed topics included), so that a subscriber holding the same
    latest messages computes the same sum (PROTOCOL.md, "Gap detection"). */
typedef struct {
    uint64_t epoch;
    uint64_t seq; /* latest seq published */
    uint32_t interval_ms;
    bool has_prefix;
    char prefix[PS_TOPIC_MAX + 1];
    size_t prefix_len;
    uint64_t sum;
} ps_heartbeat_t;

/* Topic prefix of prefix heartbeats. */
#define PS_TOPIC_HB_PREFIX "$hb/"
/* Digests are sums modulo 2^63, so that they stay valid wire integers. */
#define PS_DIGEST_MASK ((uint64_t) INT64_MAX)

/*  Builds HB's body into OUT (cleared first): {v, type:"hb", epoch, seq,
    interval_ms} and, for a prefix heartbeat, prefix and sum. Returns 0
    or -1 when out of memory. */
int ps_heartbeat_encode (const ps_heartbeat_t *hb, msgpack_sbuffer *out);

/*  Strictly decodes a heartbeat body. Returns 0, or -1 with *ERR. */
int ps_heartbeat_decode (ps_heartbeat_t *hb, const void *body, size_t size, ps_error_t *err);

/* ---- Snapshots and replay (subscriber <-> publish's snapshot socket) ---- */

/* Topic frame of publish's own replies: the end marker and refusals. */
#define PS_TOPIC_SNAPSHOT "$snapshot"

/*  A request: the latest message of every topic starting with PREFIX, or,
    with HAS_SINCE, every message after seq SINCE of epoch EPOCH on those
    topics when publish still retains them all (else a snapshot). */
typedef struct {
    char prefix[PS_TOPIC_MAX + 1];
    size_t prefix_len;
    bool has_since;
    uint64_t since;
    uint64_t epoch;
} ps_snapshot_req_t;

/*  Appends the request frame {v, type:"snapshot", prefix, [since, epoch]}
    to OUT. Returns 0 or -1 when out of memory. */
int ps_snapshot_req_encode (const ps_snapshot_req_t *req, msgpack_sbuffer *out);

/*  Strictly decodes a request. Returns 0, or -1 with *ERR (field "prefix",
    "since", "epoch" or a header field). */
int ps_snapshot_req_decode (ps_snapshot_req_t *req, const void *data, size_t size, ps_error_t *err);

typedef enum { PS_SYNC_SNAPSHOT = 0, PS_SYNC_REPLAY = 1 } ps_sync_mode_t;
const char *ps_sync_mode_name (ps_sync_mode_t mode);

/*  The marker that ends a reply: what the messages before it were (MODE),
    the EPOCH and the SEQ they reflect, and how many there were. */
typedef struct {
    ps_sync_mode_t mode;
    uint64_t epoch;
    uint64_t seq;
    uint64_t count;
} ps_snapshot_end_t;

/*  Appends {v, type:"end", mode, epoch, seq, count} to OUT. 0 or -1. */
int ps_snapshot_end_encode (const ps_snapshot_end_t *end, msgpack_sbuffer *out);

/*  Appends a refusal {v, type:"error", code, field, reason} to OUT. 0 or -1. */
int ps_refusal_encode (const ps_error_t *refusal, msgpack_sbuffer *out);

/*  Strictly decodes a refusal {v, type:"error", code, field, reason}
    alone: compute's answer to a hello it refuses (PROTOCOL.md 5.1), a
    snapshot refusal, or publish's notice on "$hb/<prefix>" that the
    subscription to it was refused (5.7). Returns 0 with *REFUSAL, or -1
    with *ERR (not a refusal, or a malformed one). */
int ps_refusal_decode (const void *data, size_t size, ps_error_t *refusal, ps_error_t *err);

/*  Strictly decodes a body on topic PS_TOPIC_SNAPSHOT. Returns 0 with the
    marker in *END, 1 with *REFUSAL (the request was refused), or -1 with
    *ERR. */
int ps_snapshot_end_decode (ps_snapshot_end_t *end, ps_error_t *refusal, const void *data,
                            size_t size, ps_error_t *err);

/* ---- Resend (publish -> compute) ---------------------------------------- */

/*  Publish asks compute for the complete current message of every topic
    (it has just started and its cache is empty): {"v":1, "type":"resend",
    "epoch": publish's epoch}. Appends to OUT; returns 0 or -1. */
int ps_resend_encode (uint64_t epoch, msgpack_sbuffer *out);

/*  Strictly decodes a resend frame into *EPOCH. Returns 0, or -1 with *ERR. */
int ps_resend_decode (const void *data, size_t size, uint64_t *epoch, ps_error_t *err);

/* ---- Progress (publish -> compute) --------------------------------------- */

/*  A receiver tells its sender how far it has processed a stream, so the
    sender can drain before closing (libzmq 4.3.4 may drop what is still
    queued at close). POS is the last update useq published.
    Frame: {"v":1, "type":"progress", "pos": uint}.
    Appends to OUT; returns 0 or -1 when out of memory. */
int ps_progress_encode (uint64_t pos, msgpack_sbuffer *out);

/*  Strictly decodes a progress frame into *POS. Returns 0, or -1 with *ERR. */
int ps_progress_decode (const void *data, size_t size, uint64_t *pos, ps_error_t *err);

/* ---- Journal replay (ingest <-> compute) --------------------------------- */

/*  hello (ingest -> compute): where ingest's journal stands, sent when
    ingest starts and whenever compute has been silent for a while; compute
    answers with a position asking for a resend. Frame: {"v":1,
    "type":"hello", "ingest": id, "journal": uint, "first": uint, "head":
    uint}. */
typedef struct {
    char ingest[PS_ID_MAX + 1];
    uint64_t journal; /* journal instance, new whenever the journal is created */
    uint64_t first;   /* oldest jseq still held (head + 1 when none is) */
    uint64_t head;    /* last jseq written */
} ps_hello_t;

/*  Appends a hello frame to OUT. Returns 0 or -1 when out of memory. */
int ps_hello_encode (const ps_hello_t *hello, msgpack_sbuffer *out);

/*  Strictly decodes a hello frame into *HELLO. Returns 0, or -1 with *ERR. */
int ps_hello_decode (const void *data, size_t size, ps_hello_t *hello, ps_error_t *err);

/*  position (compute -> ingest): how far compute is in one journal
    instance. Frame: {"v":1, "type":"position", "journal": uint, "applied":
    uint, "ckpt": uint, "resend": bool}, plus "refused": uint and "reason":
    str when compute refused an entry it cannot apply (too large, does not
    decode): the pipeline is stuck there until an operator acts. */
typedef struct {
    uint64_t journal; /* the journal instance the numbers refer to */
    uint64_t applied; /* last jseq applied */
    uint64_t ckpt;    /* last jseq in compute's checkpoint: ingest may delete up to it */
    bool resend;      /* send again every entry after APPLIED */
} ps_position_t;

/* A position's refusal: the entry compute cannot apply, and why. */
typedef struct {
    uint64_t jseq; /* > the position's applied; 0 for none */
    char reason[PS_REASON_MAX];
} ps_refusal_t;

/*  Appends a position frame to OUT, with REFUSAL when it is not NULL and
    its jseq not 0. Returns 0 or -1 when out of memory. */
int ps_position_encode_refusal (const ps_position_t *pos, const ps_refusal_t *refusal,
                                msgpack_sbuffer *out);
/*  ps_position_encode_refusal without a refusal. */
int ps_position_encode (const ps_position_t *pos, msgpack_sbuffer *out);

/*  Strictly decodes a position frame into *POS (ckpt <= applied) and,
    when REFUSAL is not NULL, its refusal (jseq 0 for none). Returns 0, or
    -1 with *ERR. */
int ps_position_decode_refusal (const void *data, size_t size, ps_position_t *pos,
                                ps_refusal_t *refusal, ps_error_t *err);
/*  ps_position_decode_refusal ignoring a refusal. */
int ps_position_decode (const void *data, size_t size, ps_position_t *pos, ps_error_t *err);

/* ---- Generic strict reading --------------------------------------------- */

/*  Checks that DATA holds exactly one MessagePack object whose container
    counts all fit in the remaining bytes, whose nesting is at most
    PS_MAX_DEPTH, which holds at most PS_MAX_OBJECTS objects in all, and
    whose strings are valid UTF-8. Returns 0, or -1 with
    *ERR (PS_E_DECODE, PS_E_LIMIT or PS_E_UTF8). Call before handing
    untrusted bytes to msgpack_unpack_next. */
int ps_msgpack_check (const void *data, size_t size, ps_error_t *err);

/*  Finds string key KEY in map object MAP; returns the value or NULL. */
const msgpack_object *ps_map_get (const msgpack_object *map, const char *key);

#endif
