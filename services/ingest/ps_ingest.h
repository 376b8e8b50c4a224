/*  ps_ingest: the front door's logic, without sockets.

    For each batch frame a producer sends, ps_ingest_receive decodes and
    validates it, applies the rules that decide arrival order (duplicate
    batches, one currency per series) and prepares the forwarded frame for
    compute. The caller then tries to forward it and reports the outcome
    with ps_ingest_forwarded, which settles the producer's state and
    prepares the ack. Keeping sockets out makes every rule unit-testable. */

#ifndef PS_INGEST_H_INCLUDED
#define PS_INGEST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

typedef struct ps_ingest_t ps_ingest_t;

typedef struct {
    const char *id;       /* instance id stamped on forwarded batches */
    size_t max_producers; /* producers whose last seq is remembered */
    size_t max_series;    /* series whose currency is remembered */
} ps_ingest_config_t;

typedef enum {
    PS_INGEST_REPLY,  /* nothing to forward: send ps_ingest_ack now */
    PS_INGEST_FORWARD /* send ps_ingest_forward_frame, then call ps_ingest_forwarded */
} ps_ingest_action_t;

typedef struct {
    uint64_t batches;          /* frames received */
    uint64_t batches_rejected; /* frames refused as a whole */
    uint64_t duplicates;       /* batches answered as already accepted */
    uint64_t retries;          /* batches answered retry_later */
    uint64_t reports_accepted;
    uint64_t reports_rejected;
    uint64_t forwarded; /* forwarded batches = last jseq */
} ps_ingest_stats_t;

/*  Creates the front-door state. Returns NULL when out of memory. */
ps_ingest_t *ps_ingest_new (const ps_ingest_config_t *config);

/*  Destroys it and sets *SELF_P to NULL. NULL-safe. */
void ps_ingest_destroy (ps_ingest_t **self_p);

/*  Handles one batch frame of SIZE bytes. Never fails: every problem
    becomes part of the ack. */
ps_ingest_action_t ps_ingest_receive (ps_ingest_t *self, const void *frame, size_t size);

/*  The frame to forward to compute after PS_INGEST_FORWARD. */
const msgpack_sbuffer *ps_ingest_forward_frame (const ps_ingest_t *self);

/*  Settles a PS_INGEST_FORWARD: SENT true records the batch as accepted;
    false (compute's queue is full) undoes its effects and answers
    retry_later, so the producer's resend is treated as new. */
void ps_ingest_forwarded (ps_ingest_t *self, bool sent);

/*  The ack for the last batch received. */
const msgpack_sbuffer *ps_ingest_ack (const ps_ingest_t *self);

/*  Counters since start. */
const ps_ingest_stats_t *ps_ingest_stats (const ps_ingest_t *self);

#endif
