/*  ps_proto: the paystat wire protocol, version 1 (see proto/PROTOCOL.md).

    Encoders write MessagePack with msgpack-c's packer into a caller's
    msgpack_sbuffer. Decoders are strict: they take one complete frame,
    check every container header against the bytes that remain before
    anything is allocated, cap nesting depth, reject trailing bytes, check
    every field's type, range and syntax, and report the first problem
    found as a ps_error_t naming the field and the reason.

    Data flows:  producer --batch--> ingest --batch(+jseq)--> compute
                 ingest --ack--> producer
                 compute --update--> publish --feed message--> subscriber

    This header only gathers the protocol's modules, one per message
    family, so that a caller can include the whole protocol at once:

      ps_limits.h   protocol version and size limits
      ps_error.h    error codes and the error a decoder reports
      ps_msgpack.h  strict reading of untrusted MessagePack, string packing
      ps_peek.h     which message a frame is, from its "type"
      ps_grammar.h  sources, dimensions, operations, cell topics
      ps_batch.h    reports and batches (producer -> ingest -> compute)
      ps_ack.h      acknowledgements (ingest -> producer)
      ps_feed.h     updates, feed bodies, heartbeats (compute -> publish -> SUB)
      ps_sync.h     snapshot/replay requests and replies, resend
      ps_control.h  hello, position, progress (how far a stage got)
      ps_body.h     what an update item's body may hold (publish's check) */

#ifndef PS_PROTO_H_INCLUDED
#define PS_PROTO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ps_period.h"

#include "ps_limits.h"
#include "ps_error.h"
#include "ps_msgpack.h"
#include "ps_peek.h"
#include "ps_grammar.h"
#include "ps_batch.h"
#include "ps_ack.h"
#include "ps_feed.h"
#include "ps_sync.h"
#include "ps_control.h"
#include "ps_body.h"

#endif
