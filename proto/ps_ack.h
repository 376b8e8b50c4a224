/*  ps_ack: acknowledgements, ingest's answer to each batch a producer sends
    (PROTOCOL.md, "Ack"): the status, the counts, the rejected reports and
    the batch-level error, with their encoder and strict decoder. */

#ifndef PS_ACK_H_INCLUDED
#define PS_ACK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ps_batch.h"
#include "ps_error.h"
#include "ps_limits.h"

typedef enum {
    PS_ACK_OK = 0,    /* "ok": every report accepted */
    PS_ACK_PARTIAL,   /* "partial": some rejected, see rejects */
    PS_ACK_REJECTED,  /* "rejected": none accepted (all rejected or batch error) */
    PS_ACK_DUPLICATE, /* "duplicate": this seq was already accepted; nothing applied again */
    PS_ACK_RETRY      /* "retry_later": not accepted now, resend the same batch later */
} ps_ack_status_t;

/* Returns the wire name of STATUS ("ok", "partial", ...), or "unknown". */
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
/*  Frees ACK's rejects and zeroes it; cannot fail. */
void ps_ack_clear (ps_ack_t *ack);

#endif
