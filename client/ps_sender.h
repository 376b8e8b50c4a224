/*  ps_sender: sends reports to ingest in batches and collects the acks.

    Reports are grouped into batches numbered SEQ, SEQ+1, ... under one
    producer id, of BATCH_SIZE reports or fewer when more would make the
    frame larger than ingest takes (PS_MAX_BATCH); up to WINDOW batches
    are in flight on a DEALER socket.
    A batch without an ack after TIMEOUT_MS triggers the Lazy Pirate
    recovery: the socket is closed (linger 0), a new one connects, and
    every unacknowledged batch is sent again, in seq order, with the same
    producer and seq, which ingest deduplicates. After RETRIES consecutive
    attempts without an answer the sender gives up. An ack "retry_later"
    (journal full, say) holds new batches back and resends the refused
    ones, in order, after a pause that grows up to TIMEOUT_MS, for as long
    as ingest keeps answering so. Each rejected report is handed to a
    callback with the input line it came from. With CURVE, ingest does
    not answer a key it refuses at all: that too ends as "no answer". */

#ifndef PS_SENDER_H_INCLUDED
#define PS_SENDER_H_INCLUDED

#include <stdint.h>

#include "ps_proto.h"
#include "ps_sock.h"

typedef struct {
    const char *endpoint; /* ingest front door */
    const char *producer; /* 1..PS_ID_MAX characters [A-Za-z0-9_.:-] */
    uint64_t first_seq;   /* >= 1 */
    uint32_t batch_size;  /* 1..PS_MAX_REPORTS */
    uint32_t window;      /* batches in flight, >= 1 */
    int timeout_ms;       /* wait for an ack before recovering, >= 1 */
    int retries;          /* recoveries in a row before giving up, >= 0 */
    /* CURVE as ps_security_client set it up (key pair, ingest's public
       key), or NULL for a plain connection. */
    const ps_sock_opts_t *curve;
} ps_sender_config_t;

typedef struct {
    uint64_t sent;           /* reports handed to ingest (first sends only) */
    uint64_t accepted;       /* reports ingest accepted (duplicates included) */
    uint64_t rejected;       /* reports ingest refused */
    uint64_t duplicate_rows; /* of accepted: in batches ingest had already applied */
    uint64_t batches;        /* distinct batches sent */
    uint64_t retries;        /* batch sends beyond the first */
} ps_sender_stats_t;

/*  Called once per report ingest refused, with the input LINE it came
    from and ingest's ERROR. */
typedef void (ps_sender_reject_fn) (void *arg, uint64_t line, const ps_error_t *error);

typedef struct ps_sender_t ps_sender_t;

/*  Creates a sender connected to CONFIG->endpoint in CTX. ON_REJECT(ARG,
    ...) receives the rejected reports. Returns NULL when out of memory or
    when the endpoint is not usable (logged). */
ps_sender_t *ps_sender_new (void *ctx, const ps_sender_config_t *config,
                            ps_sender_reject_fn *on_reject, void *arg);

/*  Destroys a sender (without waiting for acks) and sets *SELF_P to NULL;
    NULL-safe. */
void ps_sender_destroy (ps_sender_t **self_p);

/*  Adds REPORT, read from input line LINE, to the current batch, sending
    the batch when it is full (after waiting for room in the window).
    Returns 0, or -1 when ingest stopped answering, on interruption or when
    out of memory: ps_sender_error says which. */
int ps_sender_add (ps_sender_t *self, const ps_report_t *report, uint64_t line);

/*  Sends the last partial batch and waits for every ack. Returns 0, or -1
    as ps_sender_add. */
int ps_sender_flush (ps_sender_t *self);

/*  Counters so far. */
const ps_sender_stats_t *ps_sender_stats (const ps_sender_t *self);

/*  Why the last call returned -1 (one English sentence). */
const char *ps_sender_error (const ps_sender_t *self);

/*  Writes the default producer id "<hostname>-<pid>-<unix ms>" (cut to
    PS_ID_MAX, characters outside the id grammar replaced by '-') into BUF
    of PS_ID_MAX + 1 bytes. */
void ps_sender_default_producer (char *buf);

#endif
