/*  ps_client: libpaystat-client, a subscriber that always knows whether
    its view of the paystat feed is exact.

    Plain PUB/SUB loses messages silently: a subscriber that starts late
    misses what came before, and one that falls behind or loses its
    connection misses what publish dropped for it. This client keeps a view
    (topic -> latest message) that it rebuilds by itself whenever it cannot
    prove it exact (the rules are PROTOCOL.md, "Keeping a view"):

    - it subscribes first, waits until its subscriptions are live, then
      asks publish's snapshot socket for the latest message of every topic
      of each prefix, and applies only feed messages newer than that;
    - it checks every feed message's "prev" against the seq it holds for
      the topic, and every prefix heartbeat's digest against the same sum
      over its own view, so a missed message is noticed even on a topic
      nothing more is published on;
    - a new publish epoch (publish restarted) or a silence longer than the
      timeout (it then reconnects) also triggers a resync.

    A resync rebuilds the view and then reports what changed as ordinary
    events, so a program that applies every event in order holds the
    view too. Single-threaded; one client per thread.

    When publish requires CURVE (--subscriber-keys), the client is given
    its own key pair and publish's public key, and uses them on both of
    its sockets: the feed would refuse it without, and the snapshot socket
    too.

        ps_client_opts_t opts = {.feed = "tcp://127.0.0.1:7404",
                                 .snapshot = "tcp://127.0.0.1:7405"};
        ps_client_t *client = ps_client_new (ctx, &opts);
        ps_client_subscribe (client, "CMI/2012");
        ps_client_connect (client);
        ps_client_event_t ev;
        while (ps_client_next (client, -1, &ev) > 0)
            if (ev.type == PS_CLIENT_UPDATE) ... ev.topic, ev.body ...

    A program with a poll loop of its own (the gateway) puts the client
    in it instead of blocking in ps_client_next: it polls the client's
    descriptors for POLLIN, for at most the client's timeout, beside its
    own, then takes the events that are ready:

        int fds[PS_CLIENT_FDS];
        int n = ps_client_fds (client, fds);       (every turn: they change)
        int timeout = ps_client_timeout_ms (client); (last, right before poll)
        ... poll fds[0..n) for POLLIN and the program's own, up to timeout ...
        while (ps_client_next (client, 0, &ev) > 0)
            ...
*/

#ifndef PS_CLIENT_H_INCLUDED
#define PS_CLIENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  CURVE keys of a subscriber, Z85 text of 40 characters each (as in the
    key files of `paystat keygen` and CZMQ). */
typedef struct {
    char public_key[41]; /* this subscriber's */
    char secret_key[41]; /* this subscriber's */
    char server_key[41]; /* publish's public key */
} ps_client_curve_t;

typedef struct {
    const char *feed;        /* publish's feed, SUB connects, e.g. tcp://127.0.0.1:7404 */
    const char *snapshot;    /* publish's snapshot socket, DEALER connects, e.g. :7405 */
    int rcvhwm;              /* feed messages queued in the client; 0: 100000 */
    int silence_ms;          /* nothing heard for this long: reconnect and resync; 0: three
                                heartbeat intervals (3000 before the first heartbeat) */
    int snapshot_timeout_ms; /* a snapshot reply silent for this long is asked again; 0: 5000 */
    const ps_client_curve_t *curve; /* CURVE on both sockets with these keys (copied); NULL:
                                       plain sockets */
} ps_client_opts_t;

typedef enum {
    PS_CLIENT_UPDATE = 1,     /* TOPIC's message is now BODY */
    PS_CLIENT_REMOVED,        /* TOPIC left the view */
    PS_CLIENT_RESYNC,         /* the view is being rebuilt: REASON says why */
    PS_CLIENT_SYNCED,         /* the view is complete as of SEQ (end of a resync) */
    PS_CLIENT_HEARTBEAT,      /* a prefix heartbeat confirmed the view (TOPIC "$hb/<prefix>") */
    PS_CLIENT_HEARTBEAT_LOST, /* nothing heard for the silence timeout: reconnecting */
    PS_CLIENT_REFUSED,        /* publish refused the subscription of TOPIC "$hb/<prefix>":
                                 REASON says why; the client reconnects after the silence */
} ps_client_event_type_t;

/*  One event. Pointers stay valid until the next call on the client. */
typedef struct {
    ps_client_event_type_t type;
    const char *topic; /* UPDATE, REMOVED, HEARTBEAT (not NUL-terminated) */
    size_t topic_len;
    const uint8_t *body; /* UPDATE: the feed message (MessagePack map); HEARTBEAT: its body */
    size_t body_len;
    uint64_t epoch;     /* publish instance of the view */
    uint64_t seq;       /* UPDATE: the message's; SYNCED, HEARTBEAT: what the view reflects */
    const char *reason; /* RESYNC: "start", "gap", "digest", "epoch", "silence", "subscribe";
                           REFUSED: publish's sentence */
    size_t topics;      /* SYNCED: topics in the view */
} ps_client_event_t;

typedef struct {
    uint64_t messages;   /* feed messages applied */
    uint64_t resyncs;    /* resyncs started, the first one included */
    uint64_t gaps;       /* resyncs because of a "prev" that did not match */
    uint64_t digests;    /* resyncs because a prefix digest did not match */
    uint64_t unreadable; /* feed messages and snapshot replies refused as unreadable */
} ps_client_stats_t;

typedef struct ps_client_t ps_client_t;

/*  Creates a client in ZeroMQ context CTX (not owned) with OPTS, which
    must name both endpoints. Returns NULL when out of memory. */
ps_client_t *ps_client_new (void *ctx, const ps_client_opts_t *opts);

/*  Reads CURVE keys from files: the subscriber's key pair from SECRET_PATH
    (NAME.key_secret) and publish's public key from PUBLISH_KEY_PATH
    (NAME.key). Both NULL or "": returns 1, CURVE off. Else returns 0 with
    *CURVE filled, or -1 with the reason in ERR, naming the file and the
    option of paystat sub and paystat-gateway that gave it (--curve-secret,
    --publish-key); one without the other is an error. */
int ps_client_curve_load (ps_client_curve_t *curve, const char *secret_path,
                          const char *publish_key_path, char *err, size_t errlen);

/*  Destroys the client and its sockets, and sets *SELF_P to NULL; NULL-safe. */
void ps_client_destroy (ps_client_t **self_p);

/*  Adds topic PREFIX ("" for every topic; "CMI/2012/" the year 2012 of
    CMI) to the view. Without any, the client takes every topic. Once
    connected, a new prefix starts a resync ("subscribe"). Returns 0, or -1
    when it is longer than a topic, or out of memory. */
int ps_client_subscribe (ps_client_t *self, const char *prefix);

/*  Connects to publish and starts the first sync ("start"). Returns 0, or
    -1 when an endpoint is not usable (logged). */
int ps_client_connect (ps_client_t *self);

/*  Waits up to TIMEOUT_MS (-1: no limit) for the next event. Returns 1
    with *EVENT, 0 when the time ran out, -1 when interrupted by a signal
    (EINTR: see ps_signal_install) or on a socket error (logged). With
    TIMEOUT_MS 0 it does not wait: 0 then means nothing is ready, or that
    many messages were handled without an event and the caller's loop
    gets its turn (ps_client_timeout_ms then says 0). */
int ps_client_next (ps_client_t *self, int timeout_ms, ps_client_event_t *event);

/* Descriptors ps_client_fds writes at most. */
#define PS_CLIENT_FDS 2

/*  Writes into FDS the descriptors to poll for POLLIN so that a wait in
    the caller's own loop ends when the client has something to do (ZMQ_FD
    of its sockets). They change as the client reconnects: ask every time
    round the loop. They are edge-triggered: one being readable does not
    mean an event is ready, and a message already queued does not make it
    readable; ps_client_timeout_ms accounts for both. Returns how many
    (0 before ps_client_connect), or -1 on a socket error (logged). */
int ps_client_fds (ps_client_t *self, int fds[PS_CLIENT_FDS]);

/*  How long the caller may wait on the descriptors before calling
    ps_client_next (SELF, 0, ...) again, in ms: 0 when something is ready
    (drain it first), else until a timer of the client is due (a silence,
    a snapshot reply overdue); -1 before ps_client_connect. Call it last
    before waiting: the descriptors signal only what arrives after it.
    Time spent waiting from then on counts towards the silence timeout, so
    a program should not wait much longer than this. */
int ps_client_timeout_ms (ps_client_t *self);

/*  True once a sync has completed and no resync is in progress: the view
    then holds exactly what publish published up to the last SYNCED or
    UPDATE event's seq. */
bool ps_client_synced (const ps_client_t *self);

/*  The message of TOPIC in the view: returns true with *BODY (valid until
    the next ps_client_next), false when the view does not hold it. */
bool ps_client_get (ps_client_t *self, const char *topic, size_t topic_len, const uint8_t **body,
                    size_t *body_len);

/*  Walks the view: start with *CURSOR = 0; returns false at the end. The
    walk must not span a ps_client_next call. */
bool ps_client_view_next (const ps_client_t *self, size_t *cursor, const char **topic,
                          size_t *topic_len, const uint8_t **body, size_t *body_len);

/*  Topics in the view. */
size_t ps_client_size (const ps_client_t *self);

/*  Counters since creation. */
void ps_client_stats (const ps_client_t *self, ps_client_stats_t *stats);

#endif
