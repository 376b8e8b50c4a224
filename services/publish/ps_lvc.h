/*  ps_lvc: publish's last-value cache, the latest feed message of every
    topic with its sequence number.

    It gives each new message the seq of the previous one on the same topic
    ("prev", for gap detection by prefix subscribers) and is what snapshots
    and prefix digests are computed from. A removed topic keeps its removal
    message (a tombstone), so that its "prev" chain and the digests stay
    exact. Topics are never dropped: memory grows with the number of topics,
    which compute bounds, and a topic's buffer is reused across updates.

    Entries are numbered 0, 1, 2, ... in the order their topics first
    appeared, and keep their number for the cache's life: a walk by index
    can be spread over many loop turns while messages keep arriving, and
    still visits every topic that existed when it started. */

#ifndef PS_LVC_H_INCLUDED
#define PS_LVC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One feed message as held by publish (pointers valid until the next store). */
typedef struct {
    const char *topic;
    size_t topic_len;
    uint64_t seq;
    const void *body;
    size_t body_len;
} ps_feed_msg_t;

typedef struct ps_lvc_t ps_lvc_t;

/*  Creates an empty cache. Returns NULL when out of memory. */
ps_lvc_t *ps_lvc_new (void);

/*  Destroys the cache and sets *SELF_P to NULL. NULL-safe. */
void ps_lvc_destroy (ps_lvc_t **self_p);

/*  Returns the number of TOPIC's entry, adding an empty one (seq 0,
    skipped by snapshots and digests) with room for a body of HINT bytes
    when the topic is new. Returns -1 when out of memory. */
long ps_lvc_slot (ps_lvc_t *self, const char *topic, size_t topic_len, size_t hint);

/*  Returns the seq of entry INDEX's latest message, 0 for an empty entry. */
uint64_t ps_lvc_seq (const ps_lvc_t *self, size_t index);

/*  Stores BODY (LEN bytes) as entry INDEX's latest message, numbered SEQ.
    Returns 0, or -1 when out of memory (the entry keeps its old message). */
int ps_lvc_store (ps_lvc_t *self, size_t index, uint64_t seq, const void *body, size_t len);

/*  Sets *MSG to entry INDEX (0 <= INDEX < ps_lvc_size). */
void ps_lvc_at (const ps_lvc_t *self, size_t index, ps_feed_msg_t *msg);

/*  Number of topics held, tombstones included. */
size_t ps_lvc_size (const ps_lvc_t *self);

/*  Bytes of message bodies held. */
size_t ps_lvc_bytes (const ps_lvc_t *self);

#endif
