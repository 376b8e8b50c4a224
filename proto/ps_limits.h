/*  ps_limits: the protocol version and the size limits of the wire
    protocol (PROTOCOL.md, "Limits"), in one place so that every message
    family, and every stage that sizes a buffer or a socket option from
    them, sees the same values. */

#ifndef PS_LIMITS_H_INCLUDED
#define PS_LIMITS_H_INCLUDED

#include "ps_period.h" /* PS_PERIOD_STRLEN */

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

#endif
