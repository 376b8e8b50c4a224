/*  ps_control: the messages by which a stage tells the one upstream how far
    it got, so the upstream can resend or drain: hello and position between
    ingest and compute (journal replay), progress from publish to compute. */

#ifndef PS_CONTROL_H_INCLUDED
#define PS_CONTROL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ps_error.h"
#include "ps_limits.h"

/* ---- Progress (publish -> compute) --------------------------------------- */

/*  A receiver tells its sender how far it has processed a stream, so the
    sender can drain before closing (libzmq 4.3.4 may drop what is still
    queued at close). POS is the last update useq published.
    Frame: {"v":1, "type":"progress", "pos": uint}.
    Appends to OUT; returns 0 or -1 when out of memory. */
int ps_control_progress_encode (uint64_t pos, msgpack_sbuffer *out);

/*  Strictly decodes a progress frame into *POS. Returns 0, or -1 with *ERR. */
int ps_control_progress_decode (const void *data, size_t size, uint64_t *pos, ps_error_t *err);

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
int ps_control_hello_encode (const ps_hello_t *hello, msgpack_sbuffer *out);

/*  Strictly decodes a hello frame into *HELLO. Returns 0, or -1 with *ERR. */
int ps_control_hello_decode (const void *data, size_t size, ps_hello_t *hello, ps_error_t *err);

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
int ps_control_position_encode_refusal (const ps_position_t *pos, const ps_refusal_t *refusal,
                                        msgpack_sbuffer *out);
/*  ps_control_position_encode_refusal without a refusal. */
int ps_control_position_encode (const ps_position_t *pos, msgpack_sbuffer *out);

/*  Strictly decodes a position frame into *POS (ckpt <= applied) and,
    when REFUSAL is not NULL, its refusal (jseq 0 for none). Returns 0, or
    -1 with *ERR. */
int ps_control_position_decode_refusal (const void *data, size_t size, ps_position_t *pos,
                                        ps_refusal_t *refusal, ps_error_t *err);
/*  ps_control_position_decode_refusal ignoring a refusal. */
int ps_control_position_decode (const void *data, size_t size, ps_position_t *pos, ps_error_t *err);

#endif
