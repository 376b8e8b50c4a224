/*  ps_numbering: the feed's numbering, and the burst of one update.
    Every update item compute sends becomes one feed message of publish's
    epoch: its seq is one past the last one published, its prev the seq
    of its topic's previous message (from the last-value cache, for the
    prefix subscribers' gap detection), its body the item's fields with
    v, seq, prev and epoch in front ({type: "removed"} for a removal).
    Each is cached (ps_lvc), kept for replay (ps_ring) and counted in the
    prefix digests (ps_digest) before any is sent, and the bodies of one
    update are laid back to back, so that the server sends them in one
    tight loop (bench/NOTES.md). Items a subscriber could not read are
    refused first (ps_body_check), counted by reason. Socket-free. */

#ifndef PS_NUMBERING_H_INCLUDED
#define PS_NUMBERING_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ps_body.h"
#include "ps_digest.h"
#include "ps_lvc.h"
#include "ps_proto.h"
#include "ps_ring.h"

typedef struct ps_numbering_t ps_numbering_t;

/*  Creates the numbering of EPOCH, its last seq 0, over LVC, RING and
    DIGEST (not owned; they must outlive it). Returns NULL when out of
    memory. */
ps_numbering_t *ps_numbering_new (uint64_t epoch, ps_lvc_t *lvc, ps_ring_t *ring,
                                  ps_digest_t *digest);

/*  Destroys it and sets *SELF_P to NULL; NULL-safe. */
void ps_numbering_destroy (ps_numbering_t **self_p);

/*  The epoch every message is numbered in. */
uint64_t ps_numbering_epoch (const ps_numbering_t *self);

/*  The last seq published in the epoch (0: none yet). */
uint64_t ps_numbering_seq (const ps_numbering_t *self);

/*  Drops from the N ITEMS of one update those whose body a subscriber
    could not read (ps_body_check), counting and logging each, and returns
    how many are left, in order. A removal (empty body) is always kept. */
size_t ps_numbering_keep_valid (ps_numbering_t *self, ps_update_item_t *items, size_t n);

/*  Update items refused by ps_numbering_keep_valid for REASON so far. */
uint64_t ps_numbering_refused (const ps_numbering_t *self, ps_body_reason_t reason);

/*  Numbers, caches and keeps for replay each of the N ITEMS of one update
    (valid ones: ps_numbering_keep_valid) and lays their bodies out for
    ps_numbering_body, replacing the previous burst. An item that cannot
    be numbered or laid out (out of memory, logged) is left out of the
    burst: subscribers see a gap. Returns 0, or -1 when out of memory
    for the whole burst (logged; nothing was numbered). */
int ps_numbering_burst (ps_numbering_t *self, const ps_update_item_t *items, size_t n);

/*  The body of item I of the last burst into *BODY; returns its length,
    0 when the item is not to be sent (or I is past the burst). */
size_t ps_numbering_body (const ps_numbering_t *self, size_t i, const void **body);

#endif
