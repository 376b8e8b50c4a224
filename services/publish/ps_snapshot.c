/*  ps_snapshot: snapshot and replay sessions; see ps_snapshot.h. */

#include "ps_snapshot.h"

#include "ps_clock.h"
#include "ps_log.h"
#include "ps_proto.h"
#include "ps_sock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    char prefix[PS_TOPIC_MAX + 1];
    size_t prefix_len;
    ps_sync_mode_t mode;
    size_t index;   /* snapshot: next cache entry */
    uint64_t next;  /* replay: next seq */
    uint64_t count; /* messages sent */
    uint64_t steps; /* entries or messages looked at */
} s_session_t;

struct ps_snapshot_t {
    void *sock;
    s_session_t *sessions;
    ps_slot_t *slots; /* each session's client and progress, in the same order */
    size_t nsessions;
    ps_slots_limits_t limits;
    uint64_t served;
    uint64_t stalled;
    uint64_t refused[PS_SLOTS_PEER + 1];
    msgpack_sbuffer buf;
};

/* How a send to a session's peer went, and where a session stands. */
enum { S_SENT, S_BLOCKED, S_GONE, S_MORE };

ps_snapshot_t *ps_snapshot_new (void *sock, const ps_slots_limits_t *limits)
{
    ps_snapshot_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->sock = sock;
    self->limits = *limits;
    msgpack_sbuffer_init (&self->buf);
    self->sessions = calloc (limits->max ? limits->max : 1, sizeof *self->sessions);
    self->slots = calloc (limits->max ? limits->max : 1, sizeof *self->slots);
    if (!self->sessions || !self->slots)
        goto err;
    /* Without it a ROUTER drops what a full or departed peer cannot take,
       silently: the end marker could go missing. */
    int on = 1;
    if (zmq_setsockopt (sock, ZMQ_ROUTER_MANDATORY, &on, sizeof on) != 0)
        goto err;
    return self;
err:
    ps_snapshot_destroy (&self);
    return NULL;
}

void ps_snapshot_destroy (ps_snapshot_t **self_p)
{
    ps_snapshot_t *self = *self_p;
    if (!self)
        return;
    free (self->sessions);
    free (self->slots);
    msgpack_sbuffer_destroy (&self->buf);
    free (self);
    *self_p = NULL;
}

/* Sends [id, topic, body] to peer ID without blocking. */
static int s_send (ps_snapshot_t *self, const uint8_t *id, size_t id_len, const char *topic,
                   size_t topic_len, const void *body, size_t body_len)
{
    if (zmq_send (self->sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN || errno == EINTR ? S_BLOCKED : S_GONE;
    /* Past the routing frame a message is never refused halfway. */
    if (zmq_send (self->sock, topic, topic_len, ZMQ_SNDMORE) < 0 ||
        zmq_send (self->sock, body, body_len, 0) < 0)
        return S_GONE;
    return S_SENT;
}

static void s_refuse (ps_snapshot_t *self, const uint8_t *id, size_t id_len, const ps_error_t *why)
{
    ps_log_every (PS_LOG_WARN, 10, "snapshot request refused", "code=%s field=%s reason=\"%s\"",
                  ps_error_code_name (why->code), why->field ? why->field : "", why->reason);
    msgpack_sbuffer_clear (&self->buf);
    if (ps_error_refusal_encode (why, &self->buf) == 0)
        s_send (self, id, id_len, PS_TOPIC_SNAPSHOT, strlen (PS_TOPIC_SNAPSHOT), self->buf.data,
                self->buf.size);
}

/* Whether a replay after SINCE in EPOCH can be served from the ring. */
static bool s_can_replay (const ps_snapshot_req_t *req, const ps_snapshot_src_t *src)
{
    if (!req->has_since || req->epoch != src->epoch || req->since > src->seq)
        return false;
    uint64_t first = ps_ring_first (src->ring);
    return req->since == src->seq || (first && req->since + 1 >= first);
}

static void s_start (ps_snapshot_t *self, const uint8_t *id, size_t id_len, const char *peer,
                     const ps_snapshot_req_t *req, const ps_snapshot_src_t *src)
{
    size_t index;
    ps_slots_verdict_t verdict =
        ps_slots_admit (self->slots, self->nsessions, &self->limits, id, id_len, peer, &index);
    if (verdict == PS_SLOTS_BUSY || verdict == PS_SLOTS_PEER) {
        self->refused[verdict]++;
        ps_error_t busy = {PS_E_RETRY, "", ""};
        snprintf (busy.reason, sizeof busy.reason, "%s", ps_slots_reason (verdict));
        s_refuse (self, id, id_len, &busy);
        return;
    }
    if (verdict == PS_SLOTS_NEW)
        self->nsessions++;
    s_session_t *s = &self->sessions[index];
    ps_slot_start (&self->slots[index], id, id_len, peer, ps_clock_ms ());
    memcpy (s->prefix, req->prefix, req->prefix_len);
    s->prefix_len = req->prefix_len;
    s->mode = s_can_replay (req, src) ? PS_SYNC_REPLAY : PS_SYNC_SNAPSHOT;
    s->index = 0;
    s->next = req->since + 1;
    s->count = 0;
    s->steps = 0;
    ps_debug ("snapshot request", "prefix=\"%.*s\" mode=%s since=%" PRIu64, (int) req->prefix_len,
              req->prefix, ps_sync_mode_name (s->mode), req->since);
}

int ps_snapshot_accept (ps_snapshot_t *self, const ps_snapshot_src_t *src)
{
    zmq_msg_t id, body;
    zmq_msg_init (&id);
    zmq_msg_init (&body);
    int rc = -1;
    if (zmq_msg_recv (&id, self->sock, ZMQ_DONTWAIT) < 0)
        goto done;
    rc = 0;
    int frames = 1;
    while (zmq_msg_more (frames == 1 ? &id : &body) && zmq_msg_recv (&body, self->sock, 0) >= 0)
        frames++;
    const uint8_t *peer = zmq_msg_data (&id);
    size_t peer_len = zmq_msg_size (&id);
    ps_error_t err = {PS_E_TYPE, "", "a request is one frame from a DEALER socket"};
    ps_snapshot_req_t req;
    /* The peer's IP address, on TCP; libzmq attaches it to every message. */
    const char *address = frames == 2 ? zmq_msg_gets (&body, "Peer-Address") : NULL;
    if (frames == 2 &&
        ps_sync_req_decode (&req, zmq_msg_data (&body), zmq_msg_size (&body), &err) == 0)
        s_start (self, peer, peer_len, address ? address : "", &req, src);
    else
        s_refuse (self, peer, peer_len, &err);
done:
    zmq_msg_close (&id);
    zmq_msg_close (&body);
    return rc;
}

static bool s_matches (const s_session_t *s, const ps_feed_msg_t *msg)
{
    return msg->topic_len >= s->prefix_len && memcmp (msg->topic, s->prefix, s->prefix_len) == 0;
}

/*  Sends the next chunk of session S. Returns S_SENT when it is complete
    (end marker sent), S_MORE when it got on and has more to send,
    S_BLOCKED when its peer's queue is full, S_GONE when the peer has gone. */
static int s_chunk (ps_snapshot_t *self, s_session_t *s, const ps_slot_t *slot,
                    const ps_snapshot_src_t *src)
{
    int sent = 0;
    for (int scanned = 0; sent < PS_SNAPSHOT_CHUNK && scanned < PS_SNAPSHOT_SCAN; scanned++) {
        ps_feed_msg_t msg;
        if (s->mode == PS_SYNC_REPLAY) {
            if (s->next > src->seq)
                break;
            if (ps_ring_get (src->ring, s->next, &msg) != 0) {
                /* Overtaken by the ring's turnover: what was sent stays
                   valid, and a snapshot completes it. */
                ps_info ("replay overtaken; going on with a snapshot", "seq=%" PRIu64, s->next);
                s->mode = PS_SYNC_SNAPSHOT;
                continue;
            }
        } else {
            if (s->index >= ps_lvc_size (src->lvc))
                break;
            ps_lvc_at (src->lvc, s->index, &msg);
        }
        if (msg.seq && s_matches (s, &msg)) {
            int rc =
                s_send (self, slot->id, slot->id_len, msg.topic, msg.topic_len, msg.body, msg.body_len);
            if (rc != S_SENT)
                return rc == S_BLOCKED && scanned ? S_MORE : rc;
            s->count++;
            sent++;
        }
        if (s->mode == PS_SYNC_REPLAY)
            s->next++;
        else
            s->index++;
        s->steps++;
    }
    bool done = s->mode == PS_SYNC_REPLAY ? s->next > src->seq : s->index >= ps_lvc_size (src->lvc);
    if (!done)
        return S_MORE;
    ps_snapshot_end_t end = {s->mode, src->epoch, src->seq, s->count};
    msgpack_sbuffer_clear (&self->buf);
    if (ps_sync_end_encode (&end, &self->buf) != 0)
        return S_MORE; /* out of memory: try again next turn */
    return s_send (self, slot->id, slot->id_len, PS_TOPIC_SNAPSHOT, strlen (PS_TOPIC_SNAPSHOT),
                   self->buf.data, self->buf.size);
}

size_t ps_snapshot_serve (ps_snapshot_t *self, const ps_snapshot_src_t *src, int64_t now_ms,
                          bool *blocked)
{
    *blocked = true;
    for (size_t i = 0; i < self->nsessions;) {
        s_session_t *s = &self->sessions[i];
        ps_slot_t *slot = &self->slots[i];
        int rc = s_chunk (self, s, slot, src);
        if ((rc == S_BLOCKED || rc == S_MORE) &&
            !ps_slot_stalled (slot, s->steps, now_ms, &self->limits)) {
            *blocked = *blocked && rc == S_BLOCKED;
            i++;
            continue;
        }
        if (rc == S_SENT) {
            self->served++;
            ps_debug ("snapshot served", "mode=%s messages=%" PRIu64 " seq=%" PRIu64,
                      ps_sync_mode_name (s->mode), s->count, src->seq);
        } else if (rc == S_GONE)
            ps_log_every (PS_LOG_INFO, 10, "snapshot abandoned: its client has gone",
                          "messages=%" PRIu64, s->count);
        else {
            /* What is queued for it stays queued (libzmq gives no way to
               take it back) and the client sees no end marker; its slot
               serves the next request. */
            self->stalled++;
            ps_log_every (PS_LOG_WARN, 10, "snapshot dropped: its client does not read",
                          "peer=\"%s\" messages=%" PRIu64 " timeout_ms=%" PRId64
                          " dropped_total=%" PRIu64,
                          slot->peer, s->count, self->limits.timeout_ms, self->stalled);
        }
        self->sessions[i] = self->sessions[--self->nsessions];
        self->slots[i] = self->slots[self->nsessions];
    }
    if (!self->nsessions)
        *blocked = false;
    return self->nsessions;
}

uint64_t ps_snapshot_served (const ps_snapshot_t *self)
{
    return self->served;
}

uint64_t ps_snapshot_stalled (const ps_snapshot_t *self)
{
    return self->stalled;
}

uint64_t ps_snapshot_refused (const ps_snapshot_t *self, ps_slots_verdict_t verdict)
{
    return verdict == PS_SLOTS_BUSY || verdict == PS_SLOTS_PEER ? self->refused[verdict] : 0;
}
