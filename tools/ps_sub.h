/*  ps_sub: a feed subscriber ("paystat sub" and the demo).

    Connects a SUB socket to publish's feed, subscribes to the given topic
    prefixes and turns every message into a JSON object {"topic": ...,
    <body fields>} (ps_msgjson). It follows each topic's "prev" field and
    warns when a message of a topic was missed. */

#ifndef PS_SUB_H_INCLUDED
#define PS_SUB_H_INCLUDED

#include <stdbool.h>

#include <jansson.h>

typedef struct ps_sub_t ps_sub_t;

/*  Creates a subscriber on ENDPOINT in CTX for the NPREFIXES topic
    PREFIXES (none: every topic). With HEARTBEATS, heartbeats ("$hb") are
    subscribed to even when no prefix matches them. Returns NULL when out
    of memory or when the endpoint is not usable (logged). */
ps_sub_t *ps_sub_new (void *ctx, const char *endpoint, char **prefixes, int nprefixes,
                      bool heartbeats);

/*  Destroys a subscriber and sets *SELF_P to NULL; NULL-safe. */
void ps_sub_destroy (ps_sub_t **self_p);

/*  Waits up to TIMEOUT_MS (-1: no limit) for the next message. Returns 1
    with *MSG (a new reference), 0 when the time ran out, -1 when
    interrupted by SIGINT/SIGTERM or on a socket error (logged). Messages
    that cannot be read are logged and skipped. */
int ps_sub_recv (ps_sub_t *self, int timeout_ms, json_t **msg);

/*  True when MSG is a heartbeat. */
bool ps_sub_is_heartbeat (const json_t *msg);

/*  Runs "paystat sub" with ARGV[0] = "sub". Returns the exit status. */
int ps_sub_main (int argc, char **argv);

#endif
