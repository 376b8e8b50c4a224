/*  ps_client: snapshot + stream + resync subscriber; see ps_client.h. */

#include "ps_client.h"

#include "ps_clock.h"
#include "ps_curve.h"
#include "ps_log.h"
#include "ps_proto.h"
#include "ps_sock.h"
#include "ps_strmap.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_DEFAULT_HWM         100000
#define S_DEFAULT_INTERVAL_MS 1000 /* heartbeat interval assumed before the first one */
#define S_SILENT_INTERVALS    3    /* heartbeat intervals of silence before reconnecting */
#define S_DEFAULT_SNAPSHOT_MS 5000
#define S_RETRY_MS            200 /* before asking again after a refusal */
/* Before asking again after a reply the client could not read: doubling
   from the first to the last, until a sync completes. */
#define S_BACKOFF_FIRST_MS 100
#define S_BACKOFF_LAST_MS  5000
/* Messages handled without an event before a step returns (see s_step). */
#define S_STEP_MAX 1000

typedef enum { S_IDLE, S_WAIT, S_SNAPSHOT, S_EMIT, S_LIVE } s_state_t;

typedef struct {
    char text[PS_TOPIC_MAX + 1];
    size_t len;
    uint64_t sum;  /* digest of the view over this prefix (live only) */
    bool heard;    /* its heartbeat came since the subscriptions were (re)made */
    int64_t quiet; /* ms spent waiting on an empty queue since its last heartbeat */
} s_prefix_t;

enum {
    S_TOMB = 1,    /* the latest message removed the topic */
    S_CHANGED = 2, /* replaced during the resync in progress */
    S_VISIBLE = 4  /* the program was told the topic exists */
};

typedef struct {
    uint64_t seq;
    uint64_t epoch;
    uint32_t gen; /* resync that last confirmed it */
    uint8_t flags;
    size_t len;
    size_t capacity;
    uint8_t body[];
} s_entry_t;

typedef struct {
    const char *key;
    size_t len;
} s_key_t;

struct ps_client_t {
    void *ctx;
    char *feed;
    char *snapshot;
    int rcvhwm;
    int silence_ms; /* 0: from the heartbeats' interval */
    int snapshot_ms;
    bool curve_on;
    ps_curve_pair_t curve;
    char curve_server[PS_CURVE_KEY_LEN + 1];
    void *sub;
    void *dealer;
    s_prefix_t *prefixes;
    size_t nprefixes;
    ps_strmap_t *view; /* topic -> s_entry_t */
    size_t visible;
    s_state_t state;
    uint32_t gen;
    uint64_t epoch;    /* publish instance of the view or of the sync in progress */
    uint64_t snap_seq; /* highest seq an end marker of this sync reported */
    size_t asking;     /* snapshot: the prefix requested */
    int64_t req_deadline;
    int backoff_ms; /* wait before the next request after an unreadable reply; 0: none */
    uint32_t interval_ms;
    const char *announce; /* RESYNC reason not yet reported */
    bool lost;            /* HEARTBEAT_LOST not yet reported */
    ps_error_t refusal;   /* publish's last refusal of a subscription ("" when none) */
    size_t cursor;        /* emission walk */
    int64_t idle_since;   /* when the queues were found empty (-1: not since the last step) */
    s_key_t *stale;
    size_t nstale;
    size_t stale_cap;
    zmq_msg_t frames[2]; /* the message the last event points into */
    msgpack_sbuffer buf;
    ps_client_stats_t stats;
};

ps_client_t *ps_client_new (void *ctx, const ps_client_opts_t *opts)
{
    if (!opts->feed || !opts->snapshot)
        return NULL;
    ps_client_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    self->rcvhwm = opts->rcvhwm > 0 ? opts->rcvhwm : S_DEFAULT_HWM;
    self->silence_ms = opts->silence_ms > 0 ? opts->silence_ms : 0;
    self->snapshot_ms =
        opts->snapshot_timeout_ms > 0 ? opts->snapshot_timeout_ms : S_DEFAULT_SNAPSHOT_MS;
    self->interval_ms = S_DEFAULT_INTERVAL_MS;
    self->idle_since = -1;
    if (opts->curve) {
        self->curve_on = true;
        snprintf (self->curve.public_key, sizeof self->curve.public_key, "%s",
                  opts->curve->public_key);
        snprintf (self->curve.secret_key, sizeof self->curve.secret_key, "%s",
                  opts->curve->secret_key);
        snprintf (self->curve_server, sizeof self->curve_server, "%s", opts->curve->server_key);
    }
    zmq_msg_init (&self->frames[0]);
    zmq_msg_init (&self->frames[1]);
    msgpack_sbuffer_init (&self->buf);
    self->feed = strdup (opts->feed);
    self->snapshot = strdup (opts->snapshot);
    self->view = ps_strmap_new ();
    if (!self->feed || !self->snapshot || !self->view)
        goto err;
    return self;
err:
    ps_client_destroy (&self);
    return NULL;
}

void ps_client_destroy (ps_client_t **self_p)
{
    ps_client_t *self = *self_p;
    if (!self)
        return;
    ps_sock_destroy (&self->sub);
    ps_sock_destroy (&self->dealer);
    if (self->view) {
        size_t cursor = 0, len;
        const char *key;
        void *value;
        while (ps_strmap_next (self->view, &cursor, &key, &len, &value))
            free (value);
        ps_strmap_destroy (&self->view);
    }
    zmq_msg_close (&self->frames[0]);
    zmq_msg_close (&self->frames[1]);
    msgpack_sbuffer_destroy (&self->buf);
    free (self->prefixes);
    free (self->stale);
    free (self->feed);
    free (self->snapshot);
    /* The secret key does not outlive the client in memory. */
    memset (&self->curve, 0, sizeof self->curve);
    free (self);
    *self_p = NULL;
}

int ps_client_curve_load (ps_client_curve_t *curve, const char *secret_path,
                          const char *publish_key_path, char *err, size_t errlen)
{
    bool secret = secret_path && *secret_path;
    bool server = publish_key_path && *publish_key_path;
    if (!secret && !server)
        return 1;
    if (!server) {
        snprintf (err, errlen, "--curve-secret needs --publish-key (publish's public key)");
        return -1;
    }
    if (!secret) {
        snprintf (err, errlen, "--publish-key needs --curve-secret (this subscriber's own key)");
        return -1;
    }
    ps_curve_pair_t pair;
    char why[512];
    if (ps_curve_load_secret (secret_path, &pair, why, sizeof why) != 0) {
        snprintf (err, errlen, "--curve-secret: %s", why);
        return -1;
    }
    if (ps_curve_load_public (publish_key_path, curve->server_key, why, sizeof why) != 0) {
        memset (&pair, 0, sizeof pair);
        snprintf (err, errlen, "--publish-key: %s", why);
        return -1;
    }
    memcpy (curve->public_key, pair.public_key, sizeof curve->public_key);
    memcpy (curve->secret_key, pair.secret_key, sizeof curve->secret_key);
    memset (&pair, 0, sizeof pair);
    return 0;
}

/* ---- Sockets ------------------------------------------------------------- */

/* Options of either socket, HWM aside: both use CURVE when it is on. */
static ps_sock_opts_t s_sock_opts (const ps_client_t *self, int hwm)
{
    ps_sock_opts_t opts = {.hwm = hwm, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    if (self->curve_on) {
        opts.curve = &self->curve;
        memcpy (opts.curve_server, self->curve_server, sizeof opts.curve_server);
    }
    return opts;
}

static int s_subscribe_prefix (ps_client_t *self, const s_prefix_t *p, bool heartbeat)
{
    char topic[sizeof PS_TOPIC_HB_PREFIX + PS_TOPIC_MAX];
    size_t skip = heartbeat ? strlen (PS_TOPIC_HB_PREFIX) : 0;
    memcpy (topic, PS_TOPIC_HB_PREFIX, skip);
    memcpy (topic + skip, p->text, p->len);
    return zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, topic, skip + p->len);
}

/*  (Re)creates the feed socket. The data prefixes are subscribed before
    the heartbeat ones, and publish answers each "$hb/<prefix>"
    subscription with a heartbeat at once: once every prefix's heartbeat
    has come, every subscription is live (no slow-joiner hole). */
static int s_open_feed (ps_client_t *self)
{
    ps_sock_destroy (&self->sub);
    ps_sock_opts_t opts = s_sock_opts (self, self->rcvhwm);
    self->sub = ps_sock_new (self->ctx, ZMQ_SUB, self->feed, false, &opts);
    if (!self->sub)
        return -1;
    for (int heartbeat = 0; heartbeat <= 1; heartbeat++)
        for (size_t i = 0; i < self->nprefixes; i++)
            if (s_subscribe_prefix (self, &self->prefixes[i], heartbeat) != 0)
                return -1;
    for (size_t i = 0; i < self->nprefixes; i++)
        self->prefixes[i].quiet = 0;
    return 0;
}

/* Asks for the snapshot of the prefix being synced, on a new connection
   when the previous one failed (its late replies then go nowhere). */
static void s_request (ps_client_t *self, bool fresh)
{
    if (fresh)
        ps_sock_destroy (&self->dealer);
    if (!self->dealer) {
        ps_sock_opts_t opts = s_sock_opts (self, 0);
        self->dealer = ps_sock_new (self->ctx, ZMQ_DEALER, self->snapshot, false, &opts);
    }
    self->req_deadline = ps_clock_ms () + self->snapshot_ms;
    const s_prefix_t *p = &self->prefixes[self->asking];
    ps_snapshot_req_t req = {.prefix_len = p->len};
    memcpy (req.prefix, p->text, p->len);
    msgpack_sbuffer_clear (&self->buf);
    if (self->dealer && ps_sync_req_encode (&req, &self->buf) == 0)
        zmq_send (self->dealer, self->buf.data, self->buf.size, ZMQ_DONTWAIT);
}

/*  Starts a resync for REASON: the next events announce it, then rebuild
    the view. LIVE_SUBS: the subscriptions are known to be live, so the
    snapshot can be asked at once; else every prefix's heartbeat is
    awaited first. */
static void s_resync (ps_client_t *self, const char *reason, bool live_subs)
{
    self->stats.resyncs++;
    self->announce = reason;
    self->gen++;
    /* An emission walk cut short leaves its stale entries in the view, with
       an older generation: the next walk drops them. */
    self->nstale = 0;
    self->snap_seq = 0;
    self->asking = 0;
    if (live_subs) {
        self->state = S_SNAPSHOT;
        s_request (self, true);
        return;
    }
    self->state = S_WAIT;
    for (size_t i = 0; i < self->nprefixes; i++)
        self->prefixes[i].heard = false;
}

int ps_client_subscribe (ps_client_t *self, const char *prefix)
{
    size_t len = strlen (prefix);
    if (len > PS_TOPIC_MAX)
        return -1;
    for (size_t i = 0; i < self->nprefixes; i++)
        if (self->prefixes[i].len == len && memcmp (self->prefixes[i].text, prefix, len) == 0)
            return 0;
    s_prefix_t *grown = realloc (self->prefixes, (self->nprefixes + 1) * sizeof *grown);
    if (!grown)
        return -1;
    self->prefixes = grown;
    s_prefix_t *p = &self->prefixes[self->nprefixes++];
    memset (p, 0, sizeof *p);
    memcpy (p->text, prefix, len);
    p->len = len;
    if (self->state == S_IDLE)
        return 0;
    if (s_subscribe_prefix (self, p, false) != 0 || s_subscribe_prefix (self, p, true) != 0)
        return -1;
    s_resync (self, "subscribe", false);
    return 0;
}

int ps_client_connect (ps_client_t *self)
{
    if (self->nprefixes == 0 && ps_client_subscribe (self, "") != 0)
        return -1;
    ps_sock_opts_t opts = s_sock_opts (self, 0);
    if (s_open_feed (self) != 0 ||
        !(self->dealer = ps_sock_new (self->ctx, ZMQ_DEALER, self->snapshot, false, &opts)))
        return -1;
    s_resync (self, "start", false);
    return 0;
}

/* ---- The view ------------------------------------------------------------ */

static bool s_matches (const s_prefix_t *p, const char *topic, size_t len)
{
    return len >= p->len && memcmp (topic, p->text, p->len) == 0;
}

/* Stores BODY as the message of entry *SLOT (created when NULL). */
static s_entry_t *s_store (void **slot, const ps_feed_header_t *hdr, const void *body, size_t len)
{
    s_entry_t *e = *slot;
    if (!e || e->capacity < len) {
        size_t capacity = len + len / 4 + 16;
        s_entry_t *grown = realloc (e, sizeof *grown + capacity);
        if (!grown)
            return NULL;
        if (!e)
            grown->flags = 0;
        grown->capacity = capacity;
        *slot = e = grown;
    }
    e->seq = hdr->seq;
    e->epoch = hdr->epoch;
    e->len = len;
    e->flags = (uint8_t) ((e->flags & ~S_TOMB) | (hdr->removed ? S_TOMB : 0));
    memcpy (e->body, body, len);
    return e;
}

/*  During a resync: merges a snapshot item or feed message into the view.
    The latest message of each topic wins; an entry not yet seen in this
    resync is replaced unless it already holds this very message. */
static void s_merge (ps_client_t *self, const char *topic, size_t topic_len,
                     const ps_feed_header_t *hdr, const void *body, size_t len)
{
    bool inserted;
    void **slot = ps_strmap_put (self->view, topic, topic_len, &inserted);
    if (!slot)
        goto oom;
    s_entry_t *e = *slot;
    if (e && e->gen == self->gen && hdr->seq <= e->seq)
        return;
    if (e && e->gen != self->gen && e->epoch == hdr->epoch && e->seq == hdr->seq) {
        e->gen = self->gen;
        return;
    }
    e = s_store (slot, hdr, body, len);
    if (!e) {
        if (inserted)
            ps_strmap_remove (self->view, topic, topic_len);
        goto oom;
    }
    e->gen = self->gen;
    e->flags |= S_CHANGED;
    return;
oom:
    /* A message the view could not take: the view cannot be proved exact. */
    ps_error ("out of memory holding the view; resyncing", NULL);
    s_resync (self, "gap", true);
}

/* ---- Events -------------------------------------------------------------- */

static void s_event (ps_client_event_t *ev, ps_client_event_type_t type, const char *topic,
                     size_t topic_len, const void *body, size_t body_len, uint64_t epoch,
                     uint64_t seq)
{
    *ev = (ps_client_event_t){type, topic, topic_len, body, body_len, epoch, seq, NULL, 0};
}

/*  One step of the walk that ends a resync: reports each topic that
    changed or left, and computes the prefix digests of the new view.
    Stale entries (not confirmed by this resync) are dropped at the end. */
static void s_emit_next (ps_client_t *self, ps_client_event_t *ev)
{
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (self->view, &self->cursor, &key, &len, &value)) {
        s_entry_t *e = value;
        if (e->gen != self->gen) {
            if (self->nstale == self->stale_cap) {
                size_t cap = self->stale_cap ? self->stale_cap * 2 : 64;
                s_key_t *grown = realloc (self->stale, cap * sizeof *grown);
                if (!grown) {
                    e->gen = self->gen; /* kept: the digest shows it, and resyncs again */
                    continue;
                }
                self->stale = grown;
                self->stale_cap = cap;
            }
            self->stale[self->nstale++] = (s_key_t){key, len};
            if (!(e->flags & S_VISIBLE))
                continue;
            e->flags &= (uint8_t) ~S_VISIBLE;
            self->visible--;
            s_event (ev, PS_CLIENT_REMOVED, key, len, NULL, 0, self->epoch, e->seq);
            return;
        }
        for (size_t i = 0; i < self->nprefixes; i++)
            if (s_matches (&self->prefixes[i], key, len))
                self->prefixes[i].sum += e->seq;
        if (!(e->flags & S_CHANGED))
            continue;
        e->flags &= (uint8_t) ~S_CHANGED;
        if (e->flags & S_TOMB) {
            if (!(e->flags & S_VISIBLE))
                continue;
            e->flags &= (uint8_t) ~S_VISIBLE;
            self->visible--;
            s_event (ev, PS_CLIENT_REMOVED, key, len, NULL, 0, self->epoch, e->seq);
            return;
        }
        if (!(e->flags & S_VISIBLE))
            self->visible++;
        e->flags |= S_VISIBLE;
        s_event (ev, PS_CLIENT_UPDATE, key, len, e->body, e->len, self->epoch, e->seq);
        return;
    }
    for (size_t i = 0; i < self->nstale; i++)
        free (ps_strmap_remove (self->view, self->stale[i].key, self->stale[i].len));
    self->nstale = 0;
    self->state = S_LIVE;
    s_event (ev, PS_CLIENT_SYNCED, NULL, 0, NULL, 0, self->epoch, self->snap_seq);
    ev->topics = self->visible;
}

/*  The last end marker came: the view is rebuilt; what changed is
    reported by the emission walk. */
static void s_sync_done (ps_client_t *self)
{
    ps_sock_destroy (&self->dealer);
    self->backoff_ms = 0;
    self->state = S_EMIT;
    self->cursor = 0;
    for (size_t i = 0; i < self->nprefixes; i++)
        self->prefixes[i].sum = 0;
}

/* ---- Reading ------------------------------------------------------------- */

/* Receives one whole message of at most 2 frames into self->frames.
   Returns the number of frames (0 for more than 2, dropped), -1 when
   nothing was waiting. */
static int s_recv (ps_client_t *self, void *sock)
{
    int n = 0;
    for (;;) {
        zmq_msg_t *part = &self->frames[n < 2 ? n : 1];
        if (zmq_msg_recv (part, sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0)
            return n == 0 ? -1 : 0;
        n++;
        if (!zmq_msg_more (part))
            return n <= 2 ? n : 0;
    }
}

static bool s_is_heartbeat (const char *topic, size_t len)
{
    size_t hb = strlen (PS_TOPIC_HEARTBEAT);
    return len >= hb && memcmp (topic, PS_TOPIC_HEARTBEAT, hb) == 0;
}

/* An epoch other than the view's: publish restarted. */
static bool s_new_epoch (ps_client_t *self, uint64_t epoch)
{
    if (epoch == self->epoch)
        return false;
    ps_info ("publish restarted; resyncing", "epoch=%" PRIu64 " was=%" PRIu64, epoch, self->epoch);
    self->epoch = epoch;
    s_resync (self, "epoch", true);
    return true;
}

/*  Publish's notice on "$hb/<prefix>" that it refused the subscription
    to it (PROTOCOL.md 5.7): reported once per notice for a prefix of this
    client; the silence that follows reconnects. Returns 1 with *EV. */
static int s_on_refusal (ps_client_t *self, const char *topic, size_t topic_len,
                         const ps_error_t *refusal, ps_client_event_t *ev)
{
    size_t skip = strlen (PS_TOPIC_HB_PREFIX);
    const char *prefix = topic + skip;
    size_t len = topic_len >= skip ? topic_len - skip : 0;
    bool mine = false;
    for (size_t i = 0; topic_len >= skip && i < self->nprefixes; i++)
        mine = mine || (self->prefixes[i].len == len &&
                        memcmp (self->prefixes[i].text, prefix, len) == 0);
    if (!mine)
        return 0; /* another subscriber's */
    self->refusal = *refusal;
    ps_log_every (PS_LOG_WARN, 10, "publish refused a subscription",
                  "prefix=\"%.*s\" code=%s reason=\"%s\"", (int) len, prefix,
                  ps_error_code_name (refusal->code), refusal->reason);
    s_event (ev, PS_CLIENT_REFUSED, topic, topic_len, NULL, 0, self->epoch, 0);
    ev->reason = self->refusal.reason;
    return 1;
}

/* Returns 1 with *EV when the heartbeat body makes an event. */
static int s_on_heartbeat (ps_client_t *self, const char *topic, size_t topic_len, const void *body,
                           size_t size, ps_client_event_t *ev)
{
    ps_heartbeat_t hb;
    ps_error_t err, refusal;
    if (ps_peek_type (body, size) == PS_PEEK_ERROR &&
        ps_error_refusal_decode (body, size, &refusal, &err) == 0)
        return s_on_refusal (self, topic, topic_len, &refusal, ev);
    if (ps_feed_heartbeat_decode (&hb, body, size, &err) != 0) {
        ps_log_every (PS_LOG_WARN, 10, "skipped an unreadable heartbeat", "reason=\"%s\"", err.reason);
        return 0;
    }
    self->interval_ms = hb.interval_ms;
    s_prefix_t *p = NULL;
    for (size_t i = 0; hb.has_prefix && i < self->nprefixes; i++)
        if (self->prefixes[i].len == hb.prefix_len &&
            memcmp (self->prefixes[i].text, hb.prefix, hb.prefix_len) == 0)
            p = &self->prefixes[i];
    if (!p)
        return 0; /* the global heartbeat, or another subscriber's prefix */
    p->quiet = 0;
    self->refusal.reason[0] = '\0';
    if (self->state == S_WAIT) {
        p->heard = true;
        self->epoch = hb.epoch;
        for (size_t i = 0; i < self->nprefixes; i++)
            if (!self->prefixes[i].heard)
                return 0;
        self->state = S_SNAPSHOT;
        s_request (self, true);
        return 0;
    }
    if (s_new_epoch (self, hb.epoch) || self->state != S_LIVE || hb.seq < self->snap_seq)
        return 0;
    if (hb.sum != (p->sum & PS_DIGEST_MASK)) {
        ps_warn ("view digest differs from publish's; resyncing",
                 "prefix=\"%.*s\" seq=%" PRIu64 " sum=%" PRIu64 " mine=%" PRIu64, (int) p->len,
                 p->text, hb.seq, hb.sum, p->sum & PS_DIGEST_MASK);
        self->stats.digests++;
        s_resync (self, "digest", true);
        return 0;
    }
    s_event (ev, PS_CLIENT_HEARTBEAT, topic, topic_len, body, size, self->epoch, hb.seq);
    return 1;
}

/* Live: applies one feed message whose "prev" must be the seq held. */
static int s_on_live (ps_client_t *self, const char *topic, size_t topic_len,
                      const ps_feed_header_t *hdr, const void *body, size_t size,
                      ps_client_event_t *ev)
{
    bool inserted;
    void **slot = ps_strmap_put (self->view, topic, topic_len, &inserted);
    if (!slot) {
        s_resync (self, "gap", true);
        return 0;
    }
    s_entry_t *e = *slot;
    uint64_t last = e ? e->seq : 0;
    if (hdr->seq <= last)
        return 0; /* older than what the view holds: already applied */
    if (hdr->prev != last) {
        ps_warn ("missed a message; resyncing", "topic=\"%.*s\" prev=%" PRIu64 " held=%" PRIu64,
                 (int) topic_len, topic, hdr->prev, last);
        if (inserted)
            ps_strmap_remove (self->view, topic, topic_len);
        self->stats.gaps++;
        s_resync (self, "gap", true);
        return 0;
    }
    e = s_store (slot, hdr, body, size);
    if (!e) {
        if (inserted)
            ps_strmap_remove (self->view, topic, topic_len);
        s_resync (self, "gap", true);
        return 0;
    }
    e->gen = self->gen;
    self->stats.messages++;
    for (size_t i = 0; i < self->nprefixes; i++)
        if (s_matches (&self->prefixes[i], topic, topic_len))
            self->prefixes[i].sum += hdr->seq - last;
    bool was = e->flags & S_VISIBLE;
    if (hdr->removed) {
        e->flags &= (uint8_t) ~S_VISIBLE;
        self->visible -= was;
        if (!was)
            return 0;
        s_event (ev, PS_CLIENT_REMOVED, topic, topic_len, NULL, 0, hdr->epoch, hdr->seq);
        return 1;
    }
    e->flags |= S_VISIBLE;
    self->visible += !was;
    s_event (ev, PS_CLIENT_UPDATE, topic, topic_len, body, size, hdr->epoch, hdr->seq);
    return 1;
}

/*  Reads one message of the feed. Returns 1 with *EV, 0 when one was
    handled without an event, -1 when none was waiting. */
static int s_read_feed (ps_client_t *self, ps_client_event_t *ev)
{
    int n = s_recv (self, self->sub);
    if (n < 0)
        return -1;
    if (n != 2) {
        ps_log_every (PS_LOG_WARN, 10, "skipped a feed message that is not [topic, body]", NULL);
        return 0;
    }
    const char *topic = zmq_msg_data (&self->frames[0]);
    size_t topic_len = zmq_msg_size (&self->frames[0]);
    const void *body = zmq_msg_data (&self->frames[1]);
    size_t size = zmq_msg_size (&self->frames[1]);
    if (s_is_heartbeat (topic, topic_len))
        return s_on_heartbeat (self, topic, topic_len, body, size, ev);
    if (self->state == S_WAIT)
        return 0; /* older than the snapshot to come */
    ps_feed_header_t hdr;
    ps_error_t err;
    if (ps_feed_header_decode (&hdr, body, size, &err) != 0) {
        ps_log_every (PS_LOG_WARN, 10, "skipped an unreadable feed message",
                      "topic=\"%.*s\" field=%s code=%s reason=\"%s\"",
                      (int) (topic_len > 200 ? 200 : topic_len), topic, err.field,
                      ps_error_code_name (err.code), err.reason);
        self->stats.unreadable++;
        /* A live view missed that message: it is no longer exact. */
        if (self->state == S_LIVE)
            s_resync (self, "gap", true);
        return 0;
    }
    if (s_new_epoch (self, hdr.epoch))
        return 0;
    if (self->state == S_SNAPSHOT) {
        s_merge (self, topic, topic_len, &hdr, body, size);
        return 0;
    }
    return s_on_live (self, topic, topic_len, &hdr, body, size, ev);
}

/*  Handles the reply in self->frames ([topic, body]): a snapshot item or
    the end marker. Returns 0, or -1 with *ERR when it is unreadable. */
static int s_on_reply (ps_client_t *self, ps_error_t *err)
{
    const char *topic = zmq_msg_data (&self->frames[0]);
    size_t topic_len = zmq_msg_size (&self->frames[0]);
    const void *body = zmq_msg_data (&self->frames[1]);
    size_t size = zmq_msg_size (&self->frames[1]);
    size_t marker = strlen (PS_TOPIC_SNAPSHOT);
    if (topic_len != marker || memcmp (topic, PS_TOPIC_SNAPSHOT, marker) != 0) {
        ps_feed_header_t hdr;
        if (ps_feed_header_decode (&hdr, body, size, err) != 0)
            return -1;
        if (!s_new_epoch (self, hdr.epoch))
            s_merge (self, topic, topic_len, &hdr, body, size);
        return 0;
    }
    ps_snapshot_end_t end;
    ps_error_t refusal;
    int rc = ps_sync_end_decode (&end, &refusal, body, size, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        ps_log_every (PS_LOG_WARN, 10, "snapshot refused; asking again", "code=%s reason=\"%s\"",
                      ps_error_code_name (refusal.code), refusal.reason);
        self->req_deadline = ps_clock_ms () + S_RETRY_MS;
        return 0;
    }
    if (s_new_epoch (self, end.epoch))
        return 0;
    if (end.seq > self->snap_seq)
        self->snap_seq = end.seq;
    if (++self->asking < self->nprefixes)
        s_request (self, false);
    else
        s_sync_done (self);
    return 0;
}

/*  A reply (or one message of it; HAS_TOPIC: self->frames holds it) could
    not be read. The view cannot be proved exact without it, so the sync
    cannot complete; and a publish that served it once will serve it again,
    so asking again at once would spin. Drops the connection, and the rest
    of the reply with it, and asks again after a backoff that doubles up to
    S_BACKOFF_LAST_MS until a sync completes (docs/feed.md). */
static void s_reply_unreadable (ps_client_t *self, bool has_topic, const ps_error_t *err)
{
    self->backoff_ms = self->backoff_ms == 0 ? S_BACKOFF_FIRST_MS
                       : self->backoff_ms >= S_BACKOFF_LAST_MS / 2 ? S_BACKOFF_LAST_MS
                                                                   : self->backoff_ms * 2;
    size_t topic_len = has_topic ? zmq_msg_size (&self->frames[0]) : 0;
    ps_log_every (PS_LOG_WARN, 10, "refused an unreadable snapshot reply; asking again later",
                  "topic=\"%.*s\" field=%s code=%s reason=\"%s\" retry_ms=%d",
                  (int) (topic_len > 200 ? 200 : topic_len),
                  has_topic ? (const char *) zmq_msg_data (&self->frames[0]) : "", err->field,
                  ps_error_code_name (err->code), err->reason, self->backoff_ms);
    self->stats.unreadable++;
    ps_sock_destroy (&self->dealer);
    self->req_deadline = ps_clock_ms () + self->backoff_ms;
}

/*  Reads one reply on the snapshot socket. Returns 0 when one was
    handled, -1 when none was waiting. */
static int s_read_snapshot (ps_client_t *self)
{
    if (!self->dealer)
        return -1; /* backing off after an unreadable reply */
    int n = s_recv (self, self->dealer);
    if (n < 0)
        return -1;
    self->req_deadline = ps_clock_ms () + self->snapshot_ms;
    ps_error_t err = {PS_E_TYPE, "", "a reply is [topic, body]"};
    if (n == 2 && s_on_reply (self, &err) == 0)
        return 0;
    s_reply_unreadable (self, n == 2, &err);
    return 0;
}

/* ---- The loop ------------------------------------------------------------ */

static int64_t s_silence_ms (const ps_client_t *self)
{
    return self->silence_ms ? self->silence_ms : (int64_t) S_SILENT_INTERVALS * self->interval_ms;
}

/* The longest time any prefix has waited for its heartbeat. */
static int64_t s_quiet_ms (const ps_client_t *self)
{
    int64_t quiet = 0;
    for (size_t i = 0; i < self->nprefixes; i++)
        if (self->prefixes[i].quiet > quiet)
            quiet = self->prefixes[i].quiet;
    return quiet;
}

/*  Adds the time since the queues were found empty to every prefix's
    quiet time. Silence is time spent waiting on empty queues without a
    heartbeat of a prefix: a program slow to call has messages waiting,
    not a dead publish; and other messages do not count, since only a
    prefix heartbeat proves the view. */
static void s_accrue (ps_client_t *self)
{
    if (self->idle_since < 0)
        return;
    int64_t waited = ps_clock_ms () - self->idle_since;
    for (size_t i = 0; i < self->nprefixes; i++)
        self->prefixes[i].quiet += waited;
    self->idle_since = -1;
}

/*  Nothing is waiting: starts a resync after a silence. Returns 1 when it
    did (there are events to report), 0 when the queues are empty, -1 when
    the feed socket cannot be reopened. */
static int s_idle (ps_client_t *self)
{
    int64_t quiet = s_quiet_ms (self);
    if (quiet < s_silence_ms (self)) {
        self->idle_since = ps_clock_ms ();
        return 0;
    }
    if (self->refusal.reason[0])
        ps_warn ("no heartbeat from publish; reconnecting", "silent_ms=%" PRId64
                 " refused=\"%s\"", quiet, self->refusal.reason);
    else
        ps_warn ("no heartbeat from publish; reconnecting", "silent_ms=%" PRId64, quiet);
    self->refusal.reason[0] = '\0';
    self->lost = true;
    if (s_open_feed (self) != 0)
        return -1;
    s_resync (self, "silence", false);
    return 1;
}

/*  Does what is ready without waiting. Returns 1 with *EVENT; 0 when
    nothing is ready, or after S_STEP_MAX messages without an event (the
    caller's loop gets its turn: a snapshot of many topics is merged over
    several calls); -1 when the feed socket cannot be reopened. */
static int s_step (ps_client_t *self, ps_client_event_t *event)
{
    s_accrue (self);
    for (int handled = 0; handled < S_STEP_MAX;) {
        if (self->lost) {
            self->lost = false;
            s_event (event, PS_CLIENT_HEARTBEAT_LOST, NULL, 0, NULL, 0, self->epoch, 0);
            return 1;
        }
        if (self->announce) {
            s_event (event, PS_CLIENT_RESYNC, NULL, 0, NULL, 0, self->epoch, 0);
            event->reason = self->announce;
            self->announce = NULL;
            return 1;
        }
        if (self->state == S_EMIT) {
            s_emit_next (self, event);
            return 1;
        }
        if (self->state == S_SNAPSHOT && ps_clock_ms () >= self->req_deadline) {
            s_request (self, true);
            continue;
        }
        int fed = s_read_feed (self, event);
        if (fed == 1)
            return 1;
        int snapped = self->state == S_SNAPSHOT ? s_read_snapshot (self) : -1;
        if (fed == 0 || snapped == 0) {
            handled++;
            continue;
        }
        int rc = s_idle (self);
        if (rc <= 0)
            return rc;
    }
    return 0;
}

/* True when SOCKET (NULL: none) has a message to read. */
static bool s_readable (void *socket)
{
    int events = 0;
    size_t size = sizeof events;
    return socket && zmq_getsockopt (socket, ZMQ_EVENTS, &events, &size) == 0 &&
           (events & ZMQ_POLLIN);
}

/* The snapshot socket when a reply is awaited on it, else NULL. */
static void *s_dealer (const ps_client_t *self)
{
    return self->state == S_SNAPSHOT ? self->dealer : NULL;
}

int ps_client_fds (ps_client_t *self, int fds[PS_CLIENT_FDS])
{
    void *sockets[PS_CLIENT_FDS] = {self->sub, s_dealer (self)};
    int n = 0;
    for (int i = 0; i < PS_CLIENT_FDS; i++) {
        size_t size = sizeof fds[n];
        if (!sockets[i])
            continue;
        if (zmq_getsockopt (sockets[i], ZMQ_FD, &fds[n], &size) != 0) {
            ps_error ("cannot get a socket's descriptor", "error=\"%s\"", zmq_strerror (errno));
            return -1;
        }
        n++;
    }
    return n;
}

int ps_client_timeout_ms (ps_client_t *self)
{
    if (self->state == S_IDLE)
        return -1;
    if (self->lost || self->announce || self->state == S_EMIT)
        return 0;
    /* Also what the edge-triggered descriptors need: ZMQ_EVENTS read
       after the last receive, so that a new message signals them. */
    if (s_readable (self->sub) || s_readable (s_dealer (self)))
        return 0;
    int64_t now = ps_clock_ms ();
    if (self->idle_since < 0)
        self->idle_since = now; /* the caller waits on empty queues from now */
    int64_t wait = s_silence_ms (self) - s_quiet_ms (self) - (now - self->idle_since);
    if (self->state == S_SNAPSHOT && self->req_deadline - now < wait)
        wait = self->req_deadline - now;
    return wait < 0 ? 0 : wait > INT_MAX ? INT_MAX : (int) wait;
}

int ps_client_next (ps_client_t *self, int timeout_ms, ps_client_event_t *event)
{
    if (self->state == S_IDLE)
        return -1;
    int64_t deadline = timeout_ms < 0 ? -1 : ps_clock_ms () + timeout_ms;
    for (;;) {
        int rc = s_step (self, event);
        if (rc != 0)
            return rc;
        int64_t now = ps_clock_ms ();
        if (deadline >= 0 && now >= deadline)
            return 0;
        int64_t wait = ps_client_timeout_ms (self);
        if (deadline >= 0 && deadline - now < wait)
            wait = deadline - now;
        if (wait == 0)
            continue;
        zmq_pollitem_t items[] = {{self->sub, 0, ZMQ_POLLIN, 0},
                                  {s_dealer (self), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, items[1].socket ? 2 : 1, (long) wait) < 0) {
            if (errno != EINTR)
                ps_error ("cannot poll the feed", "error=\"%s\"", zmq_strerror (errno));
            return -1;
        }
    }
}

bool ps_client_synced (const ps_client_t *self)
{
    return self->state == S_LIVE;
}

bool ps_client_get (ps_client_t *self, const char *topic, size_t topic_len, const uint8_t **body,
                    size_t *body_len)
{
    void **slot = ps_strmap_get (self->view, topic, topic_len);
    const s_entry_t *e = slot ? *slot : NULL;
    if (!e || !(e->flags & S_VISIBLE))
        return false;
    *body = e->body;
    *body_len = e->len;
    return true;
}

bool ps_client_view_next (const ps_client_t *self, size_t *cursor, const char **topic,
                          size_t *topic_len, const uint8_t **body, size_t *body_len)
{
    void *value;
    while (ps_strmap_next (self->view, cursor, topic, topic_len, &value)) {
        const s_entry_t *e = value;
        if (!(e->flags & S_VISIBLE))
            continue;
        *body = e->body;
        *body_len = e->len;
        return true;
    }
    return false;
}

size_t ps_client_size (const ps_client_t *self)
{
    return self->visible;
}

void ps_client_stats (const ps_client_t *self, ps_client_stats_t *stats)
{
    *stats = self->stats;
}
