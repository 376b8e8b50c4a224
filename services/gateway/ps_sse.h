/*  ps_sse: Server-Sent Events to browsers, over ps_http streams.

    Each client asked for the events of one topic prefix. An event is
    formatted once ("id: N\nevent: NAME\ndata: JSON\n\n") and queued to
    every matching client; a client whose queue would exceed its bound
    (it reads slower than events come) is dropped, and its browser's
    EventSource reconnects and starts over from a fresh snapshot. */

#ifndef PS_SSE_H_INCLUDED
#define PS_SSE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ps_http.h"

typedef struct ps_sse_t ps_sse_t;

/*  Creates a hub of at most MAX_CLIENTS clients, each of which may have
    MAX_QUEUED bytes waiting. Returns NULL when out of memory. */
ps_sse_t *ps_sse_new (size_t max_queued, size_t max_clients);

/*  Destroys the hub and sets *SELF_P to NULL. Destroy the ps_http server
    first: ending its streams tells the hub its clients are gone.
    NULL-safe. */
void ps_sse_destroy (ps_sse_t **self_p);

/*  Answers REQUEST with an event stream of the events whose topic starts
    with PREFIX (copied). Returns 0, or -1 with *WHY ("too many streams":
    the hub has MAX_CLIENTS already, counted in ps_sse_refused, logged;
    else the stream could not be opened): the request is then still
    unanswered. */
int ps_sse_open (ps_sse_t *self, ps_http_request_t *request, const char *prefix,
                 const char **why);

/*  Sends event NAME with id ID and DATA (LEN bytes of one line of JSON) to
    every client whose prefix TOPIC starts with, or to all when TOPIC is
    NULL. */
void ps_sse_send (ps_sse_t *self, const char *topic, const char *name, uint64_t id,
                  const char *data, size_t len);

/*  Sends the comment line ": TEXT" to every client: proxies and browsers
    see a live connection, and a vanished client is noticed. */
void ps_sse_comment (ps_sse_t *self, const char *text);

/*  Clients connected now; clients dropped for falling behind, clients
    refused at the cap, and events queued, since the start. */
size_t ps_sse_clients (const ps_sse_t *self);
uint64_t ps_sse_dropped (const ps_sse_t *self);
uint64_t ps_sse_refused (const ps_sse_t *self);
uint64_t ps_sse_events (const ps_sse_t *self);

#endif
