/*  ps_sync: the messages that bring a receiver's copy of the indicators up
    to date. A subscriber asks publish's snapshot socket for a snapshot or
    a replay and reads the end marker or a refusal on "$snapshot"; publish,
    started with an empty cache, asks compute to resend every topic. */

#include "ps_sync.h"
#include "ps_msgpack.h"
#include "ps_wire.h"

/* ---- Snapshots and replay (subscriber <-> publish) ----------------------- */

const char *ps_sync_mode_name (ps_sync_mode_t mode)
{
    return mode == PS_SYNC_REPLAY ? "replay" : "snapshot";
}

int ps_sync_req_encode (const ps_snapshot_req_t *req, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = ps_wire_pack_header (&pk, req->has_since ? 5 : 3, "snapshot");
    rc |= ps_msgpack_pack_cstr (&pk, "prefix");
    rc |= ps_msgpack_pack_str (&pk, req->prefix, req->prefix_len);
    if (req->has_since) {
        rc |= ps_wire_pack_key_uint (&pk, "since", req->since);
        rc |= ps_wire_pack_key_uint (&pk, "epoch", req->epoch);
    }
    return rc ? -1 : 0;
}

enum { SR_V, SR_TYPE, SR_PREFIX, SR_SINCE, SR_EPOCH, SR__N };
static const char *const s_req_keys[SR__N] = {"v", "type", "prefix", "since", "epoch"};

int ps_sync_req_decode (ps_snapshot_req_t *req, const void *data, size_t size, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 1024))
        return ps_wire_fail (err, PS_E_LIMIT, "", "out of memory");
    const msgpack_object *v[SR__N];
    int rc = -1;
    memset (req, 0, sizeof *req);
    if (ps_wire_small_decode (&zone, data, size, "snapshot", s_req_keys, SR__N, v, err) != 0 ||
        ps_wire_get_prefix (v[SR_PREFIX], "prefix", false, req->prefix, &req->prefix_len, err) != 0)
        goto done;
    req->has_since = v[SR_SINCE] != NULL;
    if (req->has_since &&
        (ps_wire_get_uint (v[SR_SINCE], "since", 0, PS_WIRE_INT_MAX, &req->since, err) != 0 ||
         ps_wire_need_uint (v[SR_EPOCH], "epoch", 0, PS_WIRE_INT_MAX, &req->epoch, err) != 0))
        goto done;
    if (!req->has_since && v[SR_EPOCH]) {
        ps_wire_fail (err, PS_E_MISSING, "since", "epoch given without since");
        goto done;
    }
    rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}

int ps_sync_end_encode (const ps_snapshot_end_t *end, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = ps_wire_pack_header (&pk, 6, "end");
    rc |= ps_wire_pack_key_str (&pk, "mode", ps_sync_mode_name (end->mode));
    rc |= ps_wire_pack_key_uint (&pk, "epoch", end->epoch);
    rc |= ps_wire_pack_key_uint (&pk, "seq", end->seq);
    rc |= ps_wire_pack_key_uint (&pk, "count", end->count);
    return rc ? -1 : 0;
}

enum { SE_V, SE_TYPE, SE_MODE, SE_EPOCH, SE_SEQ, SE_COUNT, SE__N };
static const char *const s_end_keys[SE__N] = {"v", "type", "mode", "epoch", "seq", "count"};

int ps_sync_end_decode (ps_snapshot_end_t *end, ps_error_t *refusal, const void *data, size_t size,
                        ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 1024))
        return ps_wire_fail (err, PS_E_LIMIT, "", "out of memory");
    msgpack_object root;
    const msgpack_object *v[SE__N];
    char q[PS_WIRE_QUOTE_MAX + 4];
    int rc = -1;
    if (ps_wire_unpack_map (&zone, data, size, "a reply", &root, err) != 0)
        goto done;
    const msgpack_object *type = ps_msgpack_map_get (&root, "type");
    if (type && ps_wire_str_is (type, "error")) {
        /* A refusal is an error map with the header keys beside. */
        if (ps_wire_check_header (ps_msgpack_map_get (&root, "v"), type, "error", err) == 0 &&
            ps_error_decode_map (&root, "error", refusal, NULL, err) == 0)
            rc = 1;
        goto done;
    }
    if (ps_wire_fields_get (&root, s_end_keys, SE__N, v, err) != 0 ||
        ps_wire_check_header (v[SE_V], v[SE_TYPE], "end", err) != 0 ||
        ps_wire_need_str (v[SE_MODE], "mode", err) != 0 ||
        ps_wire_need_uint (v[SE_EPOCH], "epoch", 0, PS_WIRE_INT_MAX, &end->epoch, err) != 0 ||
        ps_wire_need_uint (v[SE_SEQ], "seq", 0, PS_WIRE_INT_MAX, &end->seq, err) != 0 ||
        ps_wire_need_uint (v[SE_COUNT], "count", 0, PS_WIRE_INT_MAX, &end->count, err) != 0)
        goto done;
    if (ps_wire_str_is (v[SE_MODE], "snapshot"))
        end->mode = PS_SYNC_SNAPSHOT;
    else if (ps_wire_str_is (v[SE_MODE], "replay"))
        end->mode = PS_SYNC_REPLAY;
    else {
        ps_wire_fail (err, PS_E_SYNTAX, "mode",
                      "mode must be \"snapshot\" or \"replay\", got \"%s\"",
                      ps_wire_quote (q, v[SE_MODE]->via.str.ptr, v[SE_MODE]->via.str.size));
        goto done;
    }
    rc = 0;
done:
    msgpack_zone_destroy (&zone);
    return rc;
}

/* ---- Resend (publish -> compute) ---------------------------------------- */

int ps_sync_resend_encode (uint64_t epoch, msgpack_sbuffer *out)
{
    return ps_wire_uint_msg_encode ("resend", "epoch", epoch, out);
}

int ps_sync_resend_decode (const void *data, size_t size, uint64_t *epoch, ps_error_t *err)
{
    return ps_wire_uint_msg_decode (data, size, "resend", "epoch", epoch, err);
}
