/*  ps_sub: "paystat sub", a feed subscriber on libpaystat-client.

    Keeps an exact view of the topics under the given prefixes (snapshot,
    then the stream, resyncing by itself when it cannot prove the view
    exact) and turns each client event into a JSON object: a topic's new
    message {"topic": ..., <body fields>}, a removal {"topic": ...,
    "type": "removed"}, and the client's own events on "$" topics that no
    feed message uses: {"topic": "$resync", "reason"}, {"topic":
    "$synced", "epoch", "seq", "topics"}, {"topic": "$heartbeat_lost"} and,
    when asked for, the prefix heartbeats that confirmed the view
    {"topic": "$hb/<prefix>", ...}. */

#ifndef PS_SUB_H_INCLUDED
#define PS_SUB_H_INCLUDED

#include <stdbool.h>

#include <jansson.h>

#include "ps_client.h"

typedef struct ps_sub_t ps_sub_t;

/*  Creates a subscriber in CTX on publish's FEED and SNAPSHOT endpoints
    for the NPREFIXES topic PREFIXES (none: every topic), queueing at most
    RCVHWM feed messages (0: the client's default), with CURVE keys CURVE
    (NULL: plain sockets). Returns NULL when out of memory or when an
    endpoint is not usable (logged). */
ps_sub_t *ps_sub_new (void *ctx, const char *feed, const char *snapshot, char **prefixes,
                      int nprefixes, int rcvhwm, const ps_client_curve_t *curve);

/*  Destroys a subscriber and sets *SELF_P to NULL; NULL-safe. */
void ps_sub_destroy (ps_sub_t **self_p);

/*  Waits up to TIMEOUT_MS (-1: no limit) for the next event. Returns 1
    with its *TYPE and *MSG (a new reference), 0 when the time ran out, -1
    when interrupted by SIGINT/SIGTERM or on a socket error (logged). */
int ps_sub_recv (ps_sub_t *self, int timeout_ms, ps_client_event_type_t *type, json_t **msg);

/*  The client, for its view and counters. */
ps_client_t *ps_sub_client (ps_sub_t *self);

/*  Runs "paystat sub" with ARGV[0] = "sub". Returns the exit status. */
int ps_sub_main (int argc, char **argv);

#endif
