/*  ps_heartbeats: publish's heartbeat schedule and messages; see
    ps_heartbeats.h. */

#include "ps_heartbeats.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct ps_heartbeats_t {
    uint32_t interval_ms;
    int64_t next; /* when the next ones are due */
};

ps_heartbeats_t *ps_heartbeats_new (uint32_t interval_ms, int64_t now)
{
    assert (interval_ms > 0);
    ps_heartbeats_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->interval_ms = interval_ms;
    self->next = now;
    return self;
}

void ps_heartbeats_destroy (ps_heartbeats_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

bool ps_heartbeats_due (ps_heartbeats_t *self, int64_t now)
{
    if (now < self->next)
        return false;
    self->next = now + self->interval_ms;
    return true;
}

long ps_heartbeats_wait_ms (const ps_heartbeats_t *self, int64_t now)
{
    return now >= self->next ? 0 : (long) (self->next - now);
}

int ps_heartbeats_build (const ps_heartbeats_t *self, uint64_t epoch, uint64_t seq,
                         const char *prefix, size_t len, uint64_t sum, char *topic,
                         size_t *topic_len, msgpack_sbuffer *body)
{
    ps_heartbeat_t hb = {.epoch = epoch, .seq = seq, .interval_ms = self->interval_ms};
    size_t n = strlen (PS_TOPIC_HEARTBEAT);
    memcpy (topic, PS_TOPIC_HEARTBEAT, n);
    if (prefix) {
        if (len > PS_TOPIC_MAX)
            return -1;
        hb.has_prefix = true;
        memcpy (hb.prefix, prefix, len);
        hb.prefix_len = len;
        hb.sum = sum;
        n = strlen (PS_TOPIC_HB_PREFIX);
        memcpy (topic, PS_TOPIC_HB_PREFIX, n);
        memcpy (topic + n, prefix, len);
        n += len;
    }
    *topic_len = n;
    return ps_feed_heartbeat_encode (&hb, body);
}
