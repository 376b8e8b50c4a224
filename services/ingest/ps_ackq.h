/*  ps_ackq: acks held back until the journal's group is committed.

    An ack promises that its batch survives any crash, so ingest sends it
    only after the commit holding the batch. While a group is open every
    ack waits here, with the routing frames to send it back along, in
    arrival order (one producer's acks stay in its order). If the commit
    fails, the acks are rewritten as retry_later before they go. */

#ifndef PS_ACKQ_H_INCLUDED
#define PS_ACKQ_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "ps_ingest.h"
#include "ps_proto.h"

typedef struct ps_ackq_t ps_ackq_t;

/*  Creates an empty queue. Returns NULL when out of memory. */
ps_ackq_t *ps_ackq_new (void);

/*  Destroys the queue (unsent acks are dropped) and sets *SELF_P to NULL;
    NULL-safe. */
void ps_ackq_destroy (ps_ackq_t **self_p);

/*  Queues ACK (ACK_LEN bytes) for batch SEQ of PRODUCER ("" and 0 when
    unreadable), to go back along the NENV routing frames ENV. Returns 0,
    or -1 when out of memory (the ack is lost: the producer resends). */
int ps_ackq_push (ps_ackq_t *self, zmq_msg_t *env, int nenv, const char *producer, uint64_t seq,
                  const void *ack, size_t ack_len);

/*  Acks waiting. */
size_t ps_ackq_size (const ps_ackq_t *self);

/*  Sends every queued ack on SOCK (a ROUTER: never waits, a reply to a
    peer that has gone or does not read is dropped and the producer
    resends) and empties the queue. With
    REFUSE_REASON not NULL the group failed: each ack of a readable batch
    is first replaced by retry_later with that reason (ps_ingest_refuse on
    INGEST). */
void ps_ackq_flush (ps_ackq_t *self, void *sock, ps_ingest_t *ingest, const char *refuse_reason);

#endif
