/*  The small control messages, each decoder on every input: progress and
    resend (publish -> compute), hello and position (ingest <-> compute),
    snapshot requests (subscriber -> publish), the snapshot end marker,
    feed headers and heartbeats (publish -> subscriber). Properties: a
    decoded message re-encodes to a frame that decodes to the same values;
    a refusal names a code and a field. */

#include "fuzz.h"
#include "ps_proto.h"

#include <string.h>

static void s_check_error (const ps_error_t *e)
{
    FUZZ_CHECK (e->code > PS_OK && e->code < PS_E__COUNT && e->field);
    FUZZ_CHECK (memchr (e->reason, '\0', sizeof e->reason));
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ps_error_t err, refusal;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);

    uint64_t u, again;
    if (ps_control_progress_decode (data, size, &u, &err) == 0) {
        FUZZ_CHECK (ps_control_progress_encode (u, &out) == 0);
        FUZZ_CHECK (ps_control_progress_decode (out.data, out.size, &again, &err) == 0 &&
                    again == u);
    } else
        s_check_error (&err);

    msgpack_sbuffer_clear (&out);
    if (ps_sync_resend_decode (data, size, &u, &err) == 0) {
        FUZZ_CHECK (ps_sync_resend_encode (u, &out) == 0);
        FUZZ_CHECK (ps_sync_resend_decode (out.data, out.size, &again, &err) == 0 && again == u);
    } else
        s_check_error (&err);

    ps_hello_t hello, hello2;
    msgpack_sbuffer_clear (&out);
    if (ps_control_hello_decode (data, size, &hello, &err) == 0) {
        FUZZ_CHECK (ps_control_hello_encode (&hello, &out) == 0);
        FUZZ_CHECK (ps_control_hello_decode (out.data, out.size, &hello2, &err) == 0);
        FUZZ_CHECK (strcmp (hello.ingest, hello2.ingest) == 0 && hello.journal == hello2.journal &&
                    hello.first == hello2.first && hello.head == hello2.head);
    } else
        s_check_error (&err);

    ps_position_t pos, pos2;
    msgpack_sbuffer_clear (&out);
    if (ps_control_position_decode (data, size, &pos, &err) == 0) {
        FUZZ_CHECK (pos.ckpt <= pos.applied);
        FUZZ_CHECK (ps_control_position_encode (&pos, &out) == 0);
        FUZZ_CHECK (ps_control_position_decode (out.data, out.size, &pos2, &err) == 0);
        FUZZ_CHECK (pos.journal == pos2.journal && pos.applied == pos2.applied &&
                    pos.ckpt == pos2.ckpt && pos.resend == pos2.resend);
    } else
        s_check_error (&err);

    ps_snapshot_req_t req, req2;
    msgpack_sbuffer_clear (&out);
    if (ps_sync_req_decode (&req, data, size, &err) == 0) {
        FUZZ_CHECK (req.prefix_len <= PS_TOPIC_MAX);
        FUZZ_CHECK (ps_sync_req_encode (&req, &out) == 0);
        FUZZ_CHECK (ps_sync_req_decode (&req2, out.data, out.size, &err) == 0);
        FUZZ_CHECK (req.prefix_len == req2.prefix_len &&
                    memcmp (req.prefix, req2.prefix, req.prefix_len) == 0 &&
                    req.has_since == req2.has_since &&
                    (!req.has_since || (req.since == req2.since && req.epoch == req2.epoch)));
    } else
        s_check_error (&err);

    ps_snapshot_end_t end, end2;
    msgpack_sbuffer_clear (&out);
    int rc = ps_sync_end_decode (&end, &refusal, data, size, &err);
    if (rc == 0) {
        FUZZ_CHECK (ps_sync_end_encode (&end, &out) == 0);
        FUZZ_CHECK (ps_sync_end_decode (&end2, &refusal, out.data, out.size, &err) == 0);
        FUZZ_CHECK (end.mode == end2.mode && end.epoch == end2.epoch && end.seq == end2.seq &&
                    end.count == end2.count);
    } else if (rc == 1)
        s_check_error (&refusal);
    else
        s_check_error (&err);

    ps_feed_header_t hdr;
    if (ps_feed_header_decode (&hdr, data, size, &err) == 0)
        FUZZ_CHECK (hdr.seq >= 1 && hdr.prev < hdr.seq);
    else
        s_check_error (&err);

    ps_heartbeat_t hb, hb2;
    msgpack_sbuffer_clear (&out);
    if (ps_feed_heartbeat_decode (&hb, data, size, &err) == 0) {
        FUZZ_CHECK (!hb.has_prefix || hb.prefix_len <= PS_TOPIC_MAX);
        FUZZ_CHECK (ps_feed_heartbeat_encode (&hb, &out) == 0);
        FUZZ_CHECK (ps_feed_heartbeat_decode (&hb2, out.data, out.size, &err) == 0);
        FUZZ_CHECK (hb.epoch == hb2.epoch && hb.seq == hb2.seq &&
                    hb.interval_ms == hb2.interval_ms && hb.has_prefix == hb2.has_prefix &&
                    (!hb.has_prefix || (hb.prefix_len == hb2.prefix_len && hb.sum == hb2.sum &&
                                        memcmp (hb.prefix, hb2.prefix, hb.prefix_len) == 0)));
    } else
        s_check_error (&err);

    msgpack_sbuffer_destroy (&out);
    return 0;
}
