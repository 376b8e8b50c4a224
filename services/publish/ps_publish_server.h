/*  ps_publish_server: paystat-publish's sockets and poll loop, around
    socket-free modules that decide. A ROUTER takes compute's update
    frames (and its probes: a publish with an empty cache asks for every
    topic again) and confirms each; the items are numbered, cached, kept
    for replay and counted in the prefix digests (ps_numbering, over
    ps_lvc, ps_ring and ps_digest), then broadcast on an XPUB (topic frame
    first) along with the heartbeats ps_heartbeats schedules; the feed's
    subscriptions are judged by ps_subs (and its rate guard), and a
    second ROUTER serves snapshots and replays (ps_snapshot). Nothing in
    the loop waits in a send or a receive: the feed drops for a
    subscriber whose queue is full (--feed-hwm), a snapshot waits in its
    session for a client that does not read, so a stopped peer never
    holds publish past its shutdown bound (the feed's 1 s linger).

    With CURVE on (--curve-secret), --bind admits only the computes in
    --compute-keys, --feed and --snapshot only the subscribers in
    --subscriber-keys; SIGHUP re-reads both (for new connections). */

#ifndef PS_PUBLISH_SERVER_H_INCLUDED
#define PS_PUBLISH_SERVER_H_INCLUDED

#include "ps_service.h"

typedef struct ps_publish_server_t ps_publish_server_t;

/*  Builds publish from SERVICE's options (not owned; it must outlive the
    server): the cache, the replay ring, the digests, CURVE, the sockets
    and the ops endpoints. Returns NULL with *EXIT_CODE PS_EXIT_USAGE when
    an option is wrong (printed), or PS_EXIT_FAIL when a socket cannot be
    set up or memory ran out (logged). */
ps_publish_server_t *ps_publish_server_new (ps_service_t *service, int *exit_code);

/*  Destroys it, closing its sockets, and sets *SELF_P to NULL; NULL-safe. */
void ps_publish_server_destroy (ps_publish_server_t **self_p);

/*  Serves until SIGINT or SIGTERM, then publishes whatever compute had
    already handed over. Returns PS_EXIT_OK (a failed poll is logged and
    the loop goes on). */
int ps_publish_server_run (ps_publish_server_t *self);

#endif
