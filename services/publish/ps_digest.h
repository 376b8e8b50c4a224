/*  ps_digest: the digests of the topic prefixes subscribers watch.

    A subscriber filtering on a prefix cannot see, from the messages it
    gets, that it missed the latest message of a topic: nothing later on
    that topic may ever come to reveal the hole. So publish keeps, for
    every prefix some subscriber asked about (by subscribing to
    "$hb/<prefix>"), the sum of the seq of the latest message of every
    topic starting with it, and sends it in that prefix's heartbeat. The
    subscriber keeps the same sum over the latest messages it holds: its
    seq per topic can only be lower than or equal to publish's, so the
    sums are equal exactly when it holds every latest message
    (PROTOCOL.md, "Gap detection").

    Updating costs one hash lookup per distinct watched prefix length per
    message, not one per watched prefix. */

#ifndef PS_DIGEST_H_INCLUDED
#define PS_DIGEST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_lvc.h"

typedef struct ps_digest_t ps_digest_t;

/*  Creates an empty set that watches at most MAX prefixes. Returns NULL
    when out of memory. */
ps_digest_t *ps_digest_new (size_t max);

/*  Destroys the set and sets *SELF_P to NULL; NULL-safe. */
void ps_digest_destroy (ps_digest_t **self_p);

/*  Starts watching PREFIX (LEN bytes), its sum computed over LVC (one pass
    over the cache). Returns 1 when it was watched already, 0 when added,
    -1 when MAX prefixes are watched already or out of memory. */
int ps_digest_watch (ps_digest_t *self, const char *prefix, size_t len, const ps_lvc_t *lvc);

/*  Stops watching PREFIX; nothing happens when it was not watched. */
void ps_digest_unwatch (ps_digest_t *self, const char *prefix, size_t len);

/*  TOPIC's latest message went from seq OLD_SEQ (0: none) to NEW_SEQ:
    updates the sum of every watched prefix of TOPIC. */
void ps_digest_update (ps_digest_t *self, const char *topic, size_t topic_len, uint64_t old_seq,
                       uint64_t new_seq);

/*  Returns the sum of watched PREFIX (modulo 2^63) in *SUM; false when not
    watched. */
bool ps_digest_get (ps_digest_t *self, const char *prefix, size_t len, uint64_t *sum);

/*  Iterates over the watched prefixes: start with *CURSOR = 0; returns
    false at the end. The set must not change during the walk. */
bool ps_digest_next (const ps_digest_t *self, size_t *cursor, const char **prefix, size_t *len,
                     uint64_t *sum);

/*  Number of prefixes watched. */
size_t ps_digest_size (const ps_digest_t *self);

#endif
