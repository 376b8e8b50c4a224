/*  ps_lvc: publish's last-value cache, the latest feed message of every
    topic with its sequence number.

    It gives each new message the seq of the previous one on the same topic
    ("prev", for gap detection by prefix subscribers) and is what a
    snapshot is served from. Memory grows with the number of topics, which
    compute bounds; a topic's buffer is reused across its updates. */

#ifndef PS_LVC_H_INCLUDED
#define PS_LVC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ps_lvc_t ps_lvc_t;

/*  Creates an empty cache. Returns NULL when out of memory. */
ps_lvc_t *ps_lvc_new (void);

/*  Destroys the cache and sets *SELF_P to NULL. NULL-safe. */
void ps_lvc_destroy (ps_lvc_t **self_p);

/*  Returns the seq of TOPIC's latest message, 0 when the topic is new. */
uint64_t ps_lvc_last_seq (ps_lvc_t *self, const char *topic, size_t topic_len);

/*  Stores BODY (LEN bytes) as TOPIC's latest message, numbered SEQ.
    Returns 0, or -1 when out of memory (the cache keeps the old message). */
int ps_lvc_store (ps_lvc_t *self, const char *topic, size_t topic_len, uint64_t seq,
                  const void *body, size_t len);

/*  Number of topics held. */
size_t ps_lvc_size (const ps_lvc_t *self);

/*  Bytes of message bodies held. */
size_t ps_lvc_bytes (const ps_lvc_t *self);

#endif
