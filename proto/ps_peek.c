/*  ps_peek: a frame's message type from its "type" key; see ps_peek.h.

    Keys may come in any order (PROTOCOL.md 1), so the peek walks the
    top-level map, skipping each value it is not looking for with the raw
    header reader publish's body check uses: no object tree is built. */

#include "ps_peek.h"
#include "ps_wire.h"

static const char *const s_names[PS_PEEK__COUNT] = {
    [PS_PEEK_NONE] = "",           [PS_PEEK_OTHER] = "",
    [PS_PEEK_BATCH] = "batch",     [PS_PEEK_ACK] = "ack",
    [PS_PEEK_HELLO] = "hello",     [PS_PEEK_POSITION] = "position",
    [PS_PEEK_UPDATE] = "update",   [PS_PEEK_PROGRESS] = "progress",
    [PS_PEEK_RESEND] = "resend",   [PS_PEEK_SNAPSHOT] = "snapshot",
    [PS_PEEK_END] = "end",         [PS_PEEK_ERROR] = "error",
    [PS_PEEK_HEARTBEAT] = "hb",    [PS_PEEK_CELL] = "cell",
    [PS_PEEK_RATIO] = "ratio",     [PS_PEEK_REJECT] = "reject",
    [PS_PEEK_REMOVED] = "removed",
};

const char *ps_peek_name (ps_peek_t t)
{
    return (int) t >= 0 && t < PS_PEEK__COUNT ? s_names[t] : "";
}

/* The type named by the LEN bytes at S. */
static ps_peek_t s_lookup (const uint8_t *s, uint64_t len)
{
    for (int t = PS_PEEK_BATCH; t < PS_PEEK__COUNT; t++)
        if (strlen (s_names[t]) == len && memcmp (s_names[t], s, len) == 0)
            return (ps_peek_t) t;
    return PS_PEEK_OTHER;
}

ps_peek_t ps_peek_type (const void *data, size_t size)
{
    const uint8_t *p = data, *end = p + size;
    ps_wire_obj_t map;
    if (!data || ps_wire_next (&p, end, &map) != 0 || map.kind != PS_WIRE_MAP)
        return PS_PEEK_NONE;
    for (uint64_t i = 0; i < map.n; i++) {
        ps_wire_obj_t key, value;
        if (ps_wire_next (&p, end, &key) != 0 || ps_wire_skip (&p, end, &key) != 0 ||
            ps_wire_next (&p, end, &value) != 0)
            return PS_PEEK_NONE;
        if (key.kind == PS_WIRE_STR && key.n == 4 && memcmp (key.str, "type", 4) == 0)
            return value.kind == PS_WIRE_STR ? s_lookup (value.str, value.n) : PS_PEEK_NONE;
        if (ps_wire_skip (&p, end, &value) != 0)
            return PS_PEEK_NONE;
    }
    return PS_PEEK_NONE;
}
