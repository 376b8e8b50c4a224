/*  ps_control: how a stage tells the one upstream how far it got. Ingest's
    hello says where its journal stands and compute's position answers how
    far it applied and checkpointed (journal replay, PROTOCOL.md "Journal
    replay"); publish's progress lets compute drain before it closes. */

#include "ps_control.h"
#include "ps_wire.h"

/* ---- Progress (publish -> compute) --------------------------------------- */

int ps_control_progress_encode (uint64_t pos, msgpack_sbuffer *out)
{
    return ps_wire_uint_msg_encode ("progress", "pos", pos, out);
}

int ps_control_progress_decode (const void *data, size_t size, uint64_t *pos, ps_error_t *err)
{
    return ps_wire_uint_msg_decode (data, size, "progress", "pos", pos, err);
}

/* ---- Journal replay ----------------------------------------------------- */

int ps_control_hello_encode (const ps_hello_t *hello, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = ps_wire_pack_header (&pk, 6, "hello");
    rc |= ps_wire_pack_key_str (&pk, "ingest", hello->ingest);
    rc |= ps_wire_pack_key_uint (&pk, "journal", hello->journal);
    rc |= ps_wire_pack_key_uint (&pk, "first", hello->first);
    rc |= ps_wire_pack_key_uint (&pk, "head", hello->head);
    return rc ? -1 : 0;
}

enum { H_V, H_TYPE, H_INGEST, H_JOURNAL, H_FIRST, H_HEAD, H__N };
static const char *const s_hello_keys[H__N] = {"v", "type", "ingest", "journal", "first", "head"};

int ps_control_hello_decode (const void *data, size_t size, ps_hello_t *hello, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 256))
        return ps_wire_fail (err, PS_E_LIMIT, "", "out of memory");
    const msgpack_object *v[H__N];
    int rc = -1;
    if (ps_wire_small_decode (&zone, data, size, "hello", s_hello_keys, H__N, v, err) == 0 &&
        ps_wire_get_id (v[H_INGEST], "ingest", false, hello->ingest, err) == 0 &&
        ps_wire_need_uint (v[H_JOURNAL], "journal", 1, PS_WIRE_INT_MAX, &hello->journal, err) ==
            0 &&
        ps_wire_need_uint (v[H_FIRST], "first", 1, PS_WIRE_INT_MAX, &hello->first, err) == 0 &&
        ps_wire_need_uint (v[H_HEAD], "head", 0, PS_WIRE_INT_MAX, &hello->head, err) == 0) {
        if (hello->first > hello->head + 1)
            ps_wire_fail (err, PS_E_RANGE, "first",
                          "first must be <= head + 1, got first %" PRIu64 " head %" PRIu64,
                          hello->first, hello->head);
        else
            rc = 0;
    }
    msgpack_zone_destroy (&zone);
    return rc;
}

int ps_control_position_encode (const ps_position_t *pos, msgpack_sbuffer *out)
{
    return ps_control_position_encode_refusal (pos, NULL, out);
}

int ps_control_position_encode_refusal (const ps_position_t *pos, const ps_refusal_t *refusal,
                                        msgpack_sbuffer *out)
{
    bool refused = refusal && refusal->jseq;
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = ps_wire_pack_header (&pk, refused ? 8 : 6, "position");
    rc |= ps_wire_pack_key_uint (&pk, "journal", pos->journal);
    rc |= ps_wire_pack_key_uint (&pk, "applied", pos->applied);
    rc |= ps_wire_pack_key_uint (&pk, "ckpt", pos->ckpt);
    rc |= ps_msgpack_pack_cstr (&pk, "resend");
    rc |= pos->resend ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
    if (refused) {
        size_t len = strnlen (refusal->reason, PS_REASON_MAX - 1);
        rc |= ps_wire_pack_key_uint (&pk, "refused", refusal->jseq);
        rc |= ps_msgpack_pack_cstr (&pk, "reason") |
              ps_msgpack_pack_str (&pk, refusal->reason, ps_wire_utf8_cut (refusal->reason, len));
    }
    return rc ? -1 : 0;
}

enum { Q_V, Q_TYPE, Q_JOURNAL, Q_APPLIED, Q_CKPT, Q_RESEND, Q_REFUSED, Q_REASON, Q__N };
static const char *const s_position_keys[Q__N] = {"v",    "type",   "journal", "applied",
                                                  "ckpt", "resend", "refused", "reason"};

/*  Reads the optional refusal of position POS (V as decoded) into *OUT.
    Returns 0, or -1 with *ERR. */
static int s_position_refusal (const msgpack_object **v, const ps_position_t *pos,
                               ps_refusal_t *out, ps_error_t *err)
{
    ps_refusal_t r = {0, ""};
    if (v[Q_REFUSED]) {
        if (ps_wire_get_uint (v[Q_REFUSED], "refused", pos->applied + 1, PS_WIRE_INT_MAX,
                              &r.jseq, err) != 0 ||
            ps_wire_need_str (v[Q_REASON], "reason", err) != 0)
            return -1;
        size_t len = v[Q_REASON]->via.str.size;
        if (len >= PS_REASON_MAX)
            len = ps_wire_utf8_cut (v[Q_REASON]->via.str.ptr, PS_REASON_MAX - 1);
        memcpy (r.reason, v[Q_REASON]->via.str.ptr, len);
        r.reason[len] = '\0';
    }
    if (out)
        *out = r;
    return 0;
}

int ps_control_position_decode (const void *data, size_t size, ps_position_t *pos, ps_error_t *err)
{
    return ps_control_position_decode_refusal (data, size, pos, NULL, err);
}

int ps_control_position_decode_refusal (const void *data, size_t size, ps_position_t *pos,
                                        ps_refusal_t *refusal, ps_error_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 256))
        return ps_wire_fail (err, PS_E_LIMIT, "", "out of memory");
    const msgpack_object *v[Q__N];
    int rc = -1;
    if (ps_wire_small_decode (&zone, data, size, "position", s_position_keys, Q__N, v, err) == 0 &&
        ps_wire_need_uint (v[Q_JOURNAL], "journal", 1, PS_WIRE_INT_MAX, &pos->journal, err) == 0 &&
        ps_wire_need_uint (v[Q_APPLIED], "applied", 0, PS_WIRE_INT_MAX, &pos->applied, err) == 0 &&
        ps_wire_need_uint (v[Q_CKPT], "ckpt", 0, pos->applied, &pos->ckpt, err) == 0) {
        if (!v[Q_RESEND])
            ps_wire_fail (err, PS_E_MISSING, "resend", "resend is missing");
        else if (v[Q_RESEND]->type != MSGPACK_OBJECT_BOOLEAN)
            ps_wire_fail (err, PS_E_TYPE, "resend", "resend must be a boolean, got %s",
                          ps_wire_type_name (v[Q_RESEND]));
        else if (s_position_refusal (v, pos, refusal, err) == 0) {
            pos->resend = v[Q_RESEND]->via.boolean;
            rc = 0;
        }
    }
    msgpack_zone_destroy (&zone);
    return rc;
}
