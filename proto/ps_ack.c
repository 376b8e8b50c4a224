/*  ps_ack: acknowledgements (PROTOCOL.md, "Ack"), ingest's answer to each
    batch: the encoder, which takes the judged batch itself so the ack
    cannot disagree with what was applied, and the strict decoder producers
    (paystat send, the load generator) read their outcome with. */

#include "ps_ack.h"
#include "ps_wire.h"

#include <assert.h>
#include <stdlib.h>

static const char *const s_status_names[] = {"ok", "partial", "rejected", "duplicate",
                                             "retry_later"};

const char *ps_ack_status_name (ps_ack_status_t status)
{
    if ((int) status < 0 || (size_t) status >= sizeof s_status_names / sizeof *s_status_names)
        return "unknown";
    return s_status_names[status];
}

/* Packs E as a map {code, field, reason}: an ack's "error". */
static int s_pack_error (msgpack_packer *pk, const ps_error_t *e)
{
    int rc = msgpack_pack_map (pk, 3);
    rc |= ps_error_pack_fields (pk, e);
    return rc;
}

int ps_ack_encode (const ps_batch_t *batch, ps_ack_status_t status, const ps_error_t *batch_error,
                   msgpack_sbuffer *out)
{
    assert (out && (batch || batch_error));
    /* Only a batch that was judged report by report has counts and rejects:
       a batch-level error or a duplicate applied nothing this time. */
    bool judged = !batch_error && batch &&
                  (status == PS_ACK_OK || status == PS_ACK_PARTIAL || status == PS_ACK_REJECTED);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    int rc = ps_wire_pack_header (&pk, batch_error ? 8 : 7, "ack");
    rc |= ps_wire_pack_key_str (&pk, "producer", batch ? batch->producer : "");
    rc |= ps_wire_pack_key_uint (&pk, "seq", batch ? batch->seq : 0);
    rc |= ps_wire_pack_key_str (&pk, "status", ps_ack_status_name (status));
    rc |= ps_wire_pack_key_uint (&pk, "accepted", judged ? batch->nreports : 0);
    uint32_t nrejects = judged ? batch->nrejects : 0;
    rc |= ps_msgpack_pack_cstr (&pk, "rejected");
    rc |= msgpack_pack_array (&pk, nrejects);
    for (uint32_t i = 0; i < nrejects; i++) {
        const ps_reject_t *r = &batch->rejects[i];
        rc |= msgpack_pack_map (&pk, 4);
        rc |= ps_wire_pack_key_uint (&pk, "index", r->index);
        rc |= ps_wire_pack_key_str (&pk, "field", r->error.field ? r->error.field : "");
        rc |= ps_wire_pack_key_str (&pk, "code", ps_error_code_name (r->error.code));
        rc |= ps_error_pack_reason (&pk, &r->error);
    }
    if (batch_error) {
        rc |= ps_msgpack_pack_cstr (&pk, "error");
        rc |= s_pack_error (&pk, batch_error);
    }
    return rc ? -1 : 0;
}

enum { A_V, A_TYPE, A_PRODUCER, A_SEQ, A_STATUS, A_ACCEPTED, A_REJECTED, A_ERROR, A__N };
static const char *const s_ack_keys[A__N] = {"v",      "type",     "producer", "seq",
                                             "status", "accepted", "rejected", "error"};

int ps_ack_decode (ps_ack_t *ack, const void *data, size_t size, ps_error_t *err)
{
    assert (ack && err);
    memset (ack, 0, sizeof *ack);
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, MSGPACK_ZONE_CHUNK_SIZE))
        return ps_wire_fail (err, PS_E_LIMIT, "", "out of memory");
    msgpack_object root;
    const msgpack_object *v[A__N];
    /* Read only after a successful read sets it, but the compiler cannot tell. */
    uint64_t u = 0;
    if (ps_wire_unpack_map (&zone, data, size, "an ack", &root, err) != 0)
        goto err;
    if (ps_wire_fields_get (&root, s_ack_keys, A__N, v, err) != 0 ||
        ps_wire_check_header (v[A_V], v[A_TYPE], "ack", err) != 0 ||
        ps_wire_get_id (v[A_PRODUCER], "producer", true, ack->producer, err) != 0 ||
        ps_wire_need_uint (v[A_SEQ], "seq", 0, PS_WIRE_INT_MAX, &ack->seq, err) != 0 ||
        ps_wire_need_str (v[A_STATUS], "status", err) != 0)
        goto err;
    size_t nstatus = sizeof s_status_names / sizeof *s_status_names, st = 0;
    while (st < nstatus && !ps_wire_str_is (v[A_STATUS], s_status_names[st]))
        st++;
    if (st == nstatus) {
        char q[PS_WIRE_QUOTE_MAX + 4];
        ps_wire_fail (err, PS_E_SYNTAX, "status", "unknown status '%s'",
                      ps_wire_quote (q, v[A_STATUS]->via.str.ptr, v[A_STATUS]->via.str.size));
        goto err;
    }
    ack->status = (ps_ack_status_t) st;
    if (ps_wire_need_uint (v[A_ACCEPTED], "accepted", 0, PS_MAX_REPORTS, &u, err) != 0)
        goto err;
    ack->accepted = (uint32_t) u;
    const msgpack_object *rejected = v[A_REJECTED];
    if (ps_wire_need_array (rejected, "rejected", err) != 0)
        goto err;
    uint32_t n = rejected->via.array.size;
    if (n > PS_MAX_REPORTS) {
        ps_wire_fail (err, PS_E_LIMIT, "rejected", "%" PRIu32 " rejects, at most %d", n,
                      PS_MAX_REPORTS);
        goto err;
    }
    if (n > 0) {
        ack->rejects = calloc (n, sizeof *ack->rejects);
        if (!ack->rejects) {
            ps_wire_fail (err, PS_E_LIMIT, "rejected", "out of memory for %" PRIu32 " rejects", n);
            goto err;
        }
    }
    for (uint32_t i = 0; i < n; i++, ack->nrejects++) {
        ps_reject_t *r = &ack->rejects[i];
        if (ps_error_decode_map (&rejected->via.array.ptr[i], "rejected", &r->error, &r->index,
                                 err) != 0)
            goto err;
    }
    if (v[A_ERROR]) {
        if (ps_error_decode_map (v[A_ERROR], "error", &ack->error, NULL, err) != 0)
            goto err;
        ack->has_error = true;
    }
    msgpack_zone_destroy (&zone);
    return 0;
err:
    msgpack_zone_destroy (&zone);
    ps_ack_clear (ack);
    return -1;
}

void ps_ack_clear (ps_ack_t *ack)
{
    assert (ack);
    free (ack->rejects);
    memset (ack, 0, sizeof *ack);
}
