/*  ps_feed: the messages that carry indicators to subscribers (PROTOCOL.md,
    "Update", "Feed"): compute's update frames, the numbered feed body
    publish builds from each item, heartbeats, and the subscriber's reading
    of a body's numbering. Publish runs ps_feed_update_decode and ps_feed_body
    on every item it publishes, so the body is spliced, never re-decoded. */

#include "ps_feed.h"
#include "ps_msgpack.h"
#include "ps_wire.h"

#include <assert.h>
#include <stdlib.h>

int ps_feed_update_encode (uint64_t epoch, uint64_t useq, const ps_update_item_t *items, size_t n,
                           msgpack_sbuffer *out)
{
    assert (out && (items || n == 0));
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = ps_wire_pack_header (&pk, 5, "update");
    rc |= ps_wire_pack_key_uint (&pk, "epoch", epoch);
    rc |= ps_wire_pack_key_uint (&pk, "useq", useq);
    rc |= ps_msgpack_pack_cstr (&pk, "items");
    rc |= msgpack_pack_array (&pk, n);
    for (size_t i = 0; i < n; i++) {
        rc |= msgpack_pack_array (&pk, 2);
        rc |= ps_msgpack_pack_str (&pk, items[i].topic, items[i].topic_len);
        rc |= msgpack_pack_bin (&pk, items[i].body_len);
        rc |= msgpack_pack_bin_body (&pk, items[i].body, items[i].body_len);
    }
    return rc ? -1 : 0;
}

enum { U_V, U_TYPE, U_EPOCH, U_USEQ, U_ITEMS, U__N };
static const char *const s_update_keys[U__N] = {"v", "type", "epoch", "useq", "items"};

/* Checks one item [topic, body] of an update and fills *ITEM. */
static int s_update_item (const msgpack_object *o, size_t i, ps_update_item_t *item,
                          ps_error_t *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 ||
        o->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
        o->via.array.ptr[1].type != MSGPACK_OBJECT_BIN)
        return ps_wire_fail (err, PS_E_TYPE, "items", "item %zu must be [str topic, bin body]", i);
    const msgpack_object_str *topic = &o->via.array.ptr[0].via.str;
    const msgpack_object_bin *body = &o->via.array.ptr[1].via.bin;
    char q[PS_WIRE_QUOTE_MAX + 4];
    const char *why = ps_grammar_topic_check (topic->ptr, topic->size);
    if (why)
        return ps_wire_fail (err, topic->size > PS_TOPIC_MAX ? PS_E_LIMIT : PS_E_SYNTAX, "items",
                             "item %zu topic '%s': %s", i,
                             ps_wire_quote (q, topic->ptr, topic->size), why);
    if (body->size > 0) {
        ps_error_t e;
        if (ps_msgpack_check (body->ptr, body->size, &e) != 0)
            return ps_wire_fail (err, e.code, "items", "item %zu body: %s", i, e.reason);
        uint8_t b = (uint8_t) body->ptr[0];
        if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf))
            return ps_wire_fail (err, PS_E_TYPE, "items", "item %zu body must be a map", i);
    }
    item->topic = topic->ptr;
    item->topic_len = topic->size;
    item->body = (const uint8_t *) body->ptr;
    item->body_len = body->size;
    return 0;
}

int ps_feed_update_decode (const void *data, size_t size, uint64_t *epoch, uint64_t *useq,
                           ps_update_item_t **items, size_t *n, size_t *capacity, ps_error_t *err)
{
    assert (epoch && useq && items && n && capacity && err);
    *n = 0;
    int rc = -1;
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, MSGPACK_ZONE_CHUNK_SIZE))
        return ps_wire_fail (err, PS_E_LIMIT, "", "out of memory");
    msgpack_object root;
    const msgpack_object *v[U__N];
    if (ps_wire_unpack_map (&zone, data, size, "an update", &root, err) != 0)
        goto done;
    if (ps_wire_fields_get (&root, s_update_keys, U__N, v, err) != 0 ||
        ps_wire_check_header (v[U_V], v[U_TYPE], "update", err) != 0 ||
        ps_wire_need_uint (v[U_EPOCH], "epoch", 0, PS_WIRE_INT_MAX, epoch, err) != 0 ||
        ps_wire_need_uint (v[U_USEQ], "useq", 1, PS_WIRE_INT_MAX, useq, err) != 0)
        goto done;
    const msgpack_object *list = v[U_ITEMS];
    if (ps_wire_need_array (list, "items", err) != 0)
        goto done;
    size_t count = list->via.array.size;
    if (count > *capacity) {
        size_t cap = *capacity * 2 > count ? *capacity * 2 : count;
        ps_update_item_t *grown = realloc (*items, cap * sizeof *grown);
        if (!grown) {
            ps_wire_fail (err, PS_E_LIMIT, "items", "out of memory for %zu items", count);
            goto done;
        }
        *items = grown;
        *capacity = cap;
    }
    for (size_t i = 0; i < count; i++)
        if (s_update_item (&list->via.array.ptr[i], i, &(*items)[i], err) != 0)
            goto done;
    *n = count;
    rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}

int ps_feed_body (uint64_t seq, uint64_t prev, uint64_t epoch, const uint8_t *fields,
                  size_t fields_len, msgpack_sbuffer *out)
{
    assert (out && (fields || fields_len == 0));
    msgpack_sbuffer_clear (out);
    if (fields_len == 0)
        return -1;
    uint8_t b = fields[0];
    size_t header = b == 0xde ? 3 : b == 0xdf ? 5 : 1;
    uint64_t count;
    if (b >= 0x80 && b <= 0x8f)
        count = b & 0x0f;
    else if (header > 1 && fields_len >= header)
        count = ps_wire_be (fields + 1, (int) header - 1);
    else
        return -1;
    if (count > UINT32_MAX - 4)
        return -1;
    /* Splice: a new header, the four numbering fields, then the original
       entries byte for byte, so publish never re-decodes compute's maps.
       The new head is packed on the stack and appended in one write. */
    char bytes[64];
    ps_wire_stack_t head = {0, sizeof bytes, bytes};
    msgpack_packer pk;
    msgpack_packer_init (&pk, &head, ps_wire_stack_write);
    msgpack_pack_map (&pk, (size_t) count + 4);
    ps_wire_pack_key_uint (&pk, "v", PS_PROTO_VERSION);
    ps_wire_pack_key_uint (&pk, "seq", seq);
    ps_wire_pack_key_uint (&pk, "prev", prev);
    ps_wire_pack_key_uint (&pk, "epoch", epoch);
    int rc = msgpack_sbuffer_write (out, head.data, head.len);
    rc |= msgpack_sbuffer_write (out, (const char *) fields + header, fields_len - header);
    return rc ? -1 : 0;
}

int ps_feed_heartbeat_body (uint64_t epoch, uint64_t seq, uint32_t interval_ms,
                            msgpack_sbuffer *out)
{
    ps_heartbeat_t hb = {.epoch = epoch, .seq = seq, .interval_ms = interval_ms};
    return ps_feed_heartbeat_encode (&hb, out);
}

enum { F_V, F_SEQ, F_PREV, F_EPOCH, F_TYPE, F__N };
static const char *const s_feed_keys[F__N] = {"v", "seq", "prev", "epoch", "type"};

int ps_feed_header_decode (ps_feed_header_t *hdr, const void *body, size_t size, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 1024))
        return ps_wire_fail (err, PS_E_LIMIT, "", "out of memory");
    msgpack_object root;
    const msgpack_object *v[F__N];
    int rc = -1;
    if (ps_wire_unpack_map (&zone, body, size, "a feed message", &root, err) != 0)
        goto done;
    if (ps_wire_fields_get (&root, s_feed_keys, F__N, v, err) != 0 ||
        ps_wire_check_version (v[F_V], err) != 0 ||
        ps_wire_need_uint (v[F_SEQ], "seq", 1, PS_WIRE_INT_MAX, &hdr->seq, err) != 0 ||
        ps_wire_need_uint (v[F_PREV], "prev", 0, hdr->seq - 1, &hdr->prev, err) != 0 ||
        ps_wire_need_uint (v[F_EPOCH], "epoch", 0, PS_WIRE_INT_MAX, &hdr->epoch, err) != 0 ||
        ps_wire_need_str (v[F_TYPE], "type", err) != 0)
        goto done;
    hdr->removed = ps_wire_str_is (v[F_TYPE], "removed");
    rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}

int ps_feed_heartbeat_encode (const ps_heartbeat_t *hb, msgpack_sbuffer *out)
{
    assert (hb && out);
    msgpack_sbuffer_clear (out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = ps_wire_pack_header (&pk, hb->has_prefix ? 7 : 5, "hb");
    rc |= ps_wire_pack_key_uint (&pk, "epoch", hb->epoch);
    rc |= ps_wire_pack_key_uint (&pk, "seq", hb->seq);
    rc |= ps_wire_pack_key_uint (&pk, "interval_ms", hb->interval_ms);
    if (hb->has_prefix) {
        rc |= ps_msgpack_pack_cstr (&pk, "prefix");
        rc |= ps_msgpack_pack_str (&pk, hb->prefix, hb->prefix_len);
        rc |= ps_wire_pack_key_uint (&pk, "sum", hb->sum & PS_DIGEST_MASK);
    }
    return rc ? -1 : 0;
}

enum { HB_V, HB_TYPE, HB_EPOCH, HB_SEQ, HB_INTERVAL, HB_PREFIX, HB_SUM, HB__N };
static const char *const s_hb_keys[HB__N] = {"v",           "type",   "epoch", "seq",
                                             "interval_ms", "prefix", "sum"};

int ps_feed_heartbeat_decode (ps_heartbeat_t *hb, const void *body, size_t size, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 1024))
        return ps_wire_fail (err, PS_E_LIMIT, "", "out of memory");
    const msgpack_object *v[HB__N];
    /* Read only after a successful read sets it, but the compiler cannot tell. */
    uint64_t interval = 0;
    int rc = -1;
    if (ps_wire_small_decode (&zone, body, size, "hb", s_hb_keys, HB__N, v, err) != 0 ||
        ps_wire_need_uint (v[HB_EPOCH], "epoch", 0, PS_WIRE_INT_MAX, &hb->epoch, err) != 0 ||
        ps_wire_need_uint (v[HB_SEQ], "seq", 0, PS_WIRE_INT_MAX, &hb->seq, err) != 0 ||
        ps_wire_need_uint (v[HB_INTERVAL], "interval_ms", 1, UINT32_MAX, &interval, err) != 0 ||
        ps_wire_get_prefix (v[HB_PREFIX], "prefix", true, hb->prefix, &hb->prefix_len, err) != 0)
        goto done;
    hb->interval_ms = (uint32_t) interval;
    hb->has_prefix = v[HB_PREFIX] != NULL;
    hb->sum = 0;
    if (hb->has_prefix &&
        ps_wire_need_uint (v[HB_SUM], "sum", 0, PS_WIRE_INT_MAX, &hb->sum, err) != 0)
        goto done;
    rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}
