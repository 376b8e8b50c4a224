/*  ps_subs: the feed's subscriptions, bounded.

    libzmq's XPUB keeps every subscription its peers send in a trie of one
    node per prefix byte (about 31 bytes of memory per byte of prefix), for
    as long as the peer stays connected. Nothing in libzmq 4.3.4 bounds it,
    and ZMQ_XPUB_MANUAL does not help: in manual mode the socket still
    records every subscription of each peer, in a second trie (to announce
    them as unsubscriptions when the peer leaves), and applying one after
    its peer has gone puts a freed pipe in the trie (fixed by libzmq PR
    #4137, after 4.3.4). Worse, the XPUB takes subscriptions in from its
    pipes in a loop that runs, inside whichever libzmq call publish makes,
    for as long as the pipe has more: a peer that sends faster than the
    trie grows keeps publish's own thread in that loop, and removing a
    departed peer's subscriptions walks the whole trie. So publish keeps
    the automatic trie and bounds what reaches it:

    - ZMQ_MAXMSGSIZE PS_SUBS_FRAME_MAX on the feed: a peer that sends a
      longer frame is disconnected by libzmq, and everything it subscribed
      goes with it;
    - a guard thread (ps_subs_guard) reads every feed connection's byte
      count from the kernel and closes one that sends more than a burst of
      PS_SUBS_BURST bytes plus PS_SUBS_RATE bytes a second (a subscriber
      sends nothing but its subscriptions), and, when all of them together
      send more than PS_SUBS_TOTAL_BURST plus PS_SUBS_TOTAL_RATE a second,
      those that sent the most;
    - ZMQ_XPUB_VERBOSE shows publish every subscription and the departure
      of the last subscriber of each prefix, so the set (ps_subs_t)
      mirrors exactly the distinct prefixes the trie holds (libzmq counts
      each prefix's subscribers across connections);
    - a subscription longer than PS_SUBS_PREFIX_MAX (no topic or prefix
      heartbeat can match it) or a new prefix beyond MAX distinct ones is
      refused: counted, no prefix heartbeat, and for the latter the
      connection that sent it is closed (ps_subs_evict), since only its
      departure gives the memory back;
    - ZMQ_RCVHWM PS_SUBS_RCVHWM on the feed: what libzmq reads ahead of
      publish from a connection.

    - each connection may send at most PER_CONN subscriptions (its share:
      a few slow connections cannot fill the set): the one beyond is
      refused and the connection is closed 2 s later, once the notice of
      the refusal has left (ps_subs_reap).

    MAX bounds the accepted prefixes. Refused ones are held by libzmq too,
    but only until their connections close, so they take no room from new
    subscribers: otherwise connections past their share, each holding
    hundreds of refused prefixes for a moment, would shut everyone out.

    The sender of a subscription is the descriptor libzmq read it from:
    the XPUB hands it over with each subscription (zmq_msg_get ZMQ_SRCFD,
    kept by libzmq 4.3.4 through XPUB_VERBOSE), and the feed's monitor says
    when a descriptor's connection is accepted or gone (ps_subs_reset), so
    publish counts each connection's subscriptions. When the set is full,
    the connection holding the most is closed, if it holds more than the
    sender. Without a descriptor (an older libzmq) the connection closed
    is, among the feed's TCP connections still sending, the one that has
    sent the most (TCP_INFO; ps_subs_evict). Connections are closed with
    shutdown(2), which leaves the descriptor to libzmq; what the peer sent
    that was not read yet is read and dropped, or libzmq would still take
    it in. A refused subscription to "$hb/<prefix>" is answered on that
    topic with a notice saying why (PROTOCOL.md 5.7). */

#ifndef PS_SUBS_H_INCLUDED
#define PS_SUBS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_proto.h"

/* Longest subscription with a use: "$hb/" and the longest topic. */
#define PS_SUBS_PREFIX_MAX (sizeof PS_TOPIC_HB_PREFIX - 1 + PS_TOPIC_MAX)
/*  Longest subscription frame a feed peer may send (ZMQ_MAXMSGSIZE): a
    libzmq 4.3 SUB sends a ZMTP 3.1 SUBSCRIBE command, 10 bytes plus the
    prefix (450 for the longest), 483 under CURVE; with room to spare. */
#define PS_SUBS_FRAME_MAX 512
/* Subscriptions libzmq reads ahead from one feed connection (ZMQ_RCVHWM). */
#define PS_SUBS_RCVHWM 100
/*  What a feed connection may send at once (about 36 subscriptions of
    the longest kind, 300 of a usual length, both with their "$hb/"
    twins), and then per second; and all of them together (a flooder that
    reconnects is a new connection every time). */
#define PS_SUBS_BURST       (16 * 1024)
#define PS_SUBS_RATE        (4 * 1024)
#define PS_SUBS_TOTAL_BURST (256 * 1024)
#define PS_SUBS_TOTAL_RATE  (64 * 1024)

typedef enum {
    PS_SUBS_ACCEPTED = 0, /* held within the bounds */
    PS_SUBS_TOO_LONG,     /* longer than PS_SUBS_PREFIX_MAX: nothing can match it */
    PS_SUBS_FULL,         /* a new prefix beyond the bound: evict its sender */
    PS_SUBS_CONN,         /* beyond its connection's share: that connection goes */
    PS_SUBS_VERDICTS
} ps_subs_verdict_t;

/* A feed connection closed. */
typedef struct {
    int fd;
    char peer[64];  /* its peer, "address:port" */
    uint64_t bytes; /* bytes it had sent */
} ps_subs_peer_t;

typedef struct ps_subs_t ps_subs_t;

/*  Creates an empty set accepting at most MAX distinct prefixes, and at
    most PER_CONN subscriptions from one connection, for the feed bound on
    TCP port PORT (-1: not TCP; nothing is ever evicted). Returns NULL when
    out of memory. */
ps_subs_t *ps_subs_new (size_t max, size_t per_conn, int port);

/*  Destroys the set and sets *SELF_P to NULL; NULL-safe. */
void ps_subs_destroy (ps_subs_t **self_p);

/*  The feed reported a subscription to PREFIX (LEN bytes), which libzmq
    already holds. Returns the verdict; a refused one is counted. Holding
    a prefix again (another subscriber, or the same one twice) costs
    nothing and is accepted, unless it is too long or was refused and the
    set is still over its bound. */
ps_subs_verdict_t ps_subs_subscribe (ps_subs_t *self, const char *prefix, size_t len);

/*  As ps_subs_subscribe, for a subscription read from descriptor FD (-1:
    unknown, then as ps_subs_subscribe). Counts it against FD's share: the
    one beyond it is refused (PS_SUBS_CONN) and FD is condemned, to be
    closed by ps_subs_reap. A PS_SUBS_FULL verdict condemns the
    connection holding the most subscriptions, if it holds more than FD
    and a few at least; *CONDEMNED is set to the descriptor condemned, or
    -1. */
ps_subs_verdict_t ps_subs_subscribe_from (ps_subs_t *self, int fd, const char *prefix,
                                          size_t len, int *condemned);

/*  The feed's monitor reported descriptor FD accepted or disconnected:
    what was counted for it belonged to another connection. */
void ps_subs_reset (ps_subs_t *self, int fd);

/*  Subscriptions counted for FD's connection (0 when unknown). */
size_t ps_subs_count (const ps_subs_t *self, int fd);

/*  Closes one condemned connection whose notice had time to leave by
    NOW_MS (a monotonic clock), described in *PEER with *VERDICT, why it
    was condemned. Returns true when one was closed; call again until
    false. */
bool ps_subs_reap (ps_subs_t *self, int64_t now_ms, ps_subs_peer_t *peer,
                   ps_subs_verdict_t *verdict);

/*  True while condemned connections wait for ps_subs_reap. */
bool ps_subs_reaping (const ps_subs_t *self);

/*  Writes into BUF (SIZE bytes) the sentence that tells a subscriber why
    a subscription got VERDICT; returns BUF. */
const char *ps_subs_reason (const ps_subs_t *self, ps_subs_verdict_t verdict, char *buf,
                            size_t size);

/*  The feed reported that the last subscriber of PREFIX left or
    unsubscribed. Returns true when PREFIX had been accepted (its prefix
    heartbeats, if any, end now). */
bool ps_subs_unsubscribe (ps_subs_t *self, const char *prefix, size_t len);

/*  Distinct prefixes libzmq holds, refused ones included (these only
    until their connections close). */
size_t ps_subs_size (const ps_subs_t *self);

/*  Distinct prefixes accepted: at most the bound. */
size_t ps_subs_accepted (const ps_subs_t *self);

/*  Subscriptions refused for REASON (PS_SUBS_TOO_LONG, PS_SUBS_FULL or
    PS_SUBS_CONN). */
uint64_t ps_subs_refused (const ps_subs_t *self, ps_subs_verdict_t reason);

/*  Connections closed for REASON: PS_SUBS_FULL (ps_subs_evict, or
    condemned for a full set) or PS_SUBS_CONN (beyond their share). */
uint64_t ps_subs_evicted (const ps_subs_t *self, ps_subs_verdict_t reason);

/*  After a PS_SUBS_FULL verdict: closes the feed connection that most
    likely sent it (ps_subs_drop_busy_peer: one still sending that has
    sent a few dozen subscriptions at least), unless it looked less than
    a few milliseconds ago (what libzmq had already read from the last
    one arrives meanwhile). NOW_MS is a monotonic clock. Returns true when
    one was closed, described in *PEER. */
bool ps_subs_evict (ps_subs_t *self, int64_t now_ms, ps_subs_peer_t *peer);

/*  True at most once every few seconds while refusals happen, for a
    rate-limited warning; *SINCE is set to the refusals since the last
    time it returned true. */
bool ps_subs_warn_due (ps_subs_t *self, int64_t now_ms, uint64_t *since);

typedef struct ps_subs_guard_t ps_subs_guard_t;

/* What feed connections may send, in bytes: at once, then per second. */
typedef struct {
    uint64_t burst, rate;             /* each connection */
    uint64_t total_burst, total_rate; /* all of them together */
} ps_subs_limits_t;

/*  Starts a thread that, every few milliseconds, reads how many bytes
    libzmq has taken from each established TCP connection on local port
    PORT, and closes any that sends more than LIMITS allow it; when all of
    them together send more than the total allows, it closes those that
    sent the most in the last few milliseconds until the excess is theirs.
    Returns NULL when the thread cannot start. */
ps_subs_guard_t *ps_subs_guard_new (int port, const ps_subs_limits_t *limits);

/*  Stops the thread, destroys the guard and sets *SELF_P to NULL;
    NULL-safe. */
void ps_subs_guard_destroy (ps_subs_guard_t **self_p);

/*  Connections the guard closed so far (any thread may ask). */
uint64_t ps_subs_guard_closed (ps_subs_guard_t *self);

/*  The TCP port of a libzmq endpoint such as "tcp://127.0.0.1:7404" or
    "tcp://[::1]:7404", or -1 for any other transport. */
int ps_subs_tcp_port (const char *endpoint);

/*  Among this process's established TCP connections whose local port is
    PORT, that have received MIN_BYTES at least and are still sending
    (data received within RECENT_MS, or some not read yet), closes the one
    that has received the most bytes. Returns 0 and describes it in *PEER,
    or -1 when none qualifies. */
int ps_subs_drop_busy_peer (int port, unsigned recent_ms, uint64_t min_bytes, ps_subs_peer_t *peer);

#endif
