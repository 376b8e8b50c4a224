/*  ps_ring: the most recent feed messages, for replay.

    A pipeline consumer that stopped at seq N can ask for every message
    after N; publish serves it from here while it still holds them all,
    else the consumer gets a snapshot. It holds the last CAPACITY messages
    (--replay-max); each slot keeps its buffer, so once warm it allocates
    only for a message larger than any its slot held before. */

#ifndef PS_RING_H_INCLUDED
#define PS_RING_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ps_lvc.h"

typedef struct ps_ring_t ps_ring_t;

/*  Creates a ring of CAPACITY messages (0: it holds none). Returns NULL
    when out of memory. */
ps_ring_t *ps_ring_new (size_t capacity);

/*  Destroys the ring and sets *SELF_P to NULL; NULL-safe. */
void ps_ring_destroy (ps_ring_t **self_p);

/*  Appends MSG, whose seq must follow the last one appended. Returns 0, or
    -1 when out of memory: the ring then forgets everything, so that what
    it holds stays a contiguous run of seqs. */
int ps_ring_push (ps_ring_t *self, const ps_feed_msg_t *msg);

/*  Oldest seq held, 0 when empty. */
uint64_t ps_ring_first (const ps_ring_t *self);

/*  Sets *MSG to the message numbered SEQ (valid until the next push).
    Returns 0, or -1 when it is not held. */
int ps_ring_get (const ps_ring_t *self, uint64_t seq, ps_feed_msg_t *msg);

/*  Bytes of message buffers held. */
size_t ps_ring_bytes (const ps_ring_t *self);

#endif
