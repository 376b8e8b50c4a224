/*  ps_batch: batches of reports, as a producer sends them to ingest and as
    ingest forwards them (with their journal position) to compute: the
    report and reject records, the batch that holds them, and the batch's
    strict decoder and canonical encoder (PROTOCOL.md, "Batch", "Report"). */

#ifndef PS_BATCH_H_INCLUDED
#define PS_BATCH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ps_error.h"
#include "ps_grammar.h"
#include "ps_limits.h"

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
    refuse a report for a reason only they can see). Cannot fail: the batch
    keeps room for every report among its rejects. */
void ps_batch_reject (ps_batch_t *self, uint32_t i, const ps_error_t *error);
/*  Adds a reject for original index INDEX (decoders use it). Returns 0, or
    -1 when out of memory. */
int ps_batch_add_reject (ps_batch_t *self, uint32_t index, const ps_error_t *error);

/*  Strictly decodes one frame of SIZE bytes as a batch. FORWARDED selects
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

/*  Packs one report map (PROTOCOL.md, "Report") with PK. A failed write
    of PK's writer is not reported: pack into a msgpack_sbuffer, whose
    writes only fail when out of memory. */
void ps_batch_report_pack (msgpack_packer *pk, const ps_report_t *report);

#endif
