/*  ps_slots: snapshot session admission and stall timeouts; see ps_slots.h. */

#include "ps_slots.h"

#include <assert.h>
#include <string.h>

ps_slots_verdict_t ps_slots_admit (const ps_slot_t *slots, size_t n, const ps_slots_limits_t *limits,
                                   const uint8_t *id, size_t id_len, const char *peer,
                                   size_t *index)
{
    assert (id_len <= PS_SLOT_ID_MAX);
    size_t same_peer = 0;
    for (size_t i = 0; i < n; i++) {
        if (slots[i].id_len == id_len && memcmp (slots[i].id, id, id_len) == 0) {
            /* Its own session goes, so it takes nothing more. */
            *index = i;
            return PS_SLOTS_REPLACE;
        }
        if (*peer && strcmp (slots[i].peer, peer) == 0)
            same_peer++;
    }
    if (n >= limits->max)
        return PS_SLOTS_BUSY;
    if (*peer && same_peer >= limits->per_peer)
        return PS_SLOTS_PEER;
    *index = n;
    return PS_SLOTS_NEW;
}

void ps_slot_start (ps_slot_t *slot, const uint8_t *id, size_t id_len, const char *peer,
                    int64_t now_ms)
{
    assert (id_len <= PS_SLOT_ID_MAX);
    memcpy (slot->id, id, id_len);
    slot->id_len = id_len;
    size_t len = strnlen (peer, sizeof slot->peer - 1);
    memcpy (slot->peer, peer, len);
    slot->peer[len] = '\0';
    slot->mark_ms = now_ms;
    slot->mark_steps = 0;
}

bool ps_slot_stalled (ps_slot_t *slot, uint64_t steps, int64_t now_ms,
                      const ps_slots_limits_t *limits)
{
    if (steps >= slot->mark_steps + limits->progress) {
        slot->mark_ms = now_ms;
        slot->mark_steps = steps;
        return false;
    }
    return now_ms - slot->mark_ms >= limits->timeout_ms;
}

const char *ps_slots_reason (ps_slots_verdict_t verdict)
{
    switch (verdict) {
    case PS_SLOTS_BUSY:
        return "too many snapshots in progress; ask again later";
    case PS_SLOTS_PEER:
        return "too many snapshots in progress from this address; ask again later";
    default:
        return "";
    }
}
