/*  ps_ingest: the front door's logic, without sockets.

    For each batch frame a producer sends, ps_ingest_receive decodes and
    validates it and applies the rules that decide arrival order
    (duplicate batches, one currency per series, a refused batch before
    later ones). An accepted batch goes into the journal's open group as
    the frame compute will read (with its jseq), together with the
    producer's new state and the series it introduced, so that all of
    them become durable in the same commit. The state kept in memory is a
    cache of the journal's: after a failed commit ps_ingest_reload brings
    it back to what is durable.

    Producers authenticated by CURVE are held to their key: a batch's
    producer must be the key's name or begin with "NAME:", and with an
    access file (ps_access) each report's source must be one the key may
    write; a report for another source is rejected (not_permitted), the
    batch's others go on.

    Acks: ps_ingest_ack holds the answer to the last batch. It may be sent
    only once nothing it depends on is still uncommitted, which the caller
    ensures by holding every ack while the journal has a group open. */

#ifndef PS_INGEST_H_INCLUDED
#define PS_INGEST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ps_proto.h"

#include "ps_access.h"
#include "ps_journal.h"

typedef struct ps_ingest_t ps_ingest_t;

typedef struct {
    const char *id;       /* instance id stamped on forwarded batches */
    size_t max_producers; /* producers whose last seq is remembered */
    size_t max_series;    /* series whose currency is remembered */
} ps_ingest_config_t;

typedef struct {
    uint64_t batches;          /* frames received */
    uint64_t batches_rejected; /* frames refused as a whole */
    uint64_t duplicates;       /* batches answered as already accepted */
    uint64_t retries;          /* batches answered retry_later */
    uint64_t reports_accepted;
    uint64_t reports_rejected;
    uint64_t rejected_by_code[PS_E__COUNT]; /* reports rejected, by error code */
    uint64_t journaled;                     /* batches written to the journal for compute */
    uint64_t oversize;                      /* of batches_rejected: over PS_MAX_BATCH */
} ps_ingest_stats_t;

/*  Creates the front-door state over JOURNAL (not owned) and loads the
    producers and series the journal remembers. Returns NULL when out of
    memory or when the journal cannot be read (logged). */
ps_ingest_t *ps_ingest_new (const ps_ingest_config_t *config, ps_journal_t *journal);

/*  Destroys it and sets *SELF_P to NULL. NULL-safe. */
void ps_ingest_destroy (ps_ingest_t **self_p);

/*  Makes ACCESS (not owned; NULL: every source for every key) the write
    permissions from the next batch on. */
void ps_ingest_set_access (ps_ingest_t *self, const ps_access_t *access);

/*  Handles one batch frame of SIZE bytes sent under the CURVE key named
    KEY: NULL on a link without CURVE (anyone may send as any producer),
    "" for a key that is no longer allowed (revoked since the handshake:
    the batch is refused). Never fails: every problem, including a full
    journal or a frame over PS_MAX_BATCH (answered "limit", naming the
    excess), becomes part of the ack. */
void ps_ingest_receive (ps_ingest_t *self, const char *key, const void *frame, size_t size);

/*  The producer and seq of the last batch received ("" and 0 when the
    frame could not be read that far). */
const char *ps_ingest_producer (const ps_ingest_t *self);
uint64_t ps_ingest_seq (const ps_ingest_t *self);

/*  The ack for the last batch received (or refused). */
const msgpack_sbuffer *ps_ingest_ack (const ps_ingest_t *self);

/*  Answers batch SEQ of PRODUCER again after the group holding its
    answer failed to commit (into ps_ingest_ack): retry_later with REASON,
    refusing the producer's later seqs until that one is accepted
    (otherwise a later one would make it a "duplicate" that can never be
    applied); or, when the journal holds SEQ from an earlier commit, the
    answer to a resend. */
void ps_ingest_refuse (ps_ingest_t *self, const char *producer, uint64_t seq, const char *reason);

/*  Reloads producers and series from the journal's committed state,
    after the journal's group was aborted. Returns 0, or -1 (logged). */
int ps_ingest_reload (ps_ingest_t *self);

/*  Counters since start. */
const ps_ingest_stats_t *ps_ingest_stats (const ps_ingest_t *self);

#endif
