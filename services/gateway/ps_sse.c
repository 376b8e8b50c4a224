/*  ps_sse: Server-Sent Events hub; see ps_sse.h. */

#include "ps_sse.h"

#include "ps_log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tells EventSource how long to wait before reconnecting. */
#define S_RETRY_MS "2000"

typedef struct s_client_t s_client_t;
struct s_client_t {
    ps_sse_t *hub;
    ps_http_stream_t *stream;
    bool dropped; /* stream refused a write; its end is on its way */
    s_client_t *prev, *next;
    char prefix[]; /* NUL-terminated */
};

struct ps_sse_t {
    size_t max_queued, max_clients;
    s_client_t *clients;
    size_t nclients;
    uint64_t ndropped, nrefused, nevents;
    char *buf; /* the event being sent */
    size_t cap;
};

ps_sse_t *ps_sse_new (size_t max_queued, size_t max_clients)
{
    ps_sse_t *self = calloc (1, sizeof *self);
    if (self) {
        self->max_queued = max_queued;
        self->max_clients = max_clients;
    }
    return self;
}

void ps_sse_destroy (ps_sse_t **self_p)
{
    ps_sse_t *self = *self_p;
    if (!self)
        return;
    /* Normally empty: the HTTP server ended every stream first. */
    while (self->clients) {
        s_client_t *client = self->clients;
        self->clients = client->next;
        free (client);
    }
    free (self->buf);
    free (self);
    *self_p = NULL;
}

static void s_end (void *arg, ps_http_stream_t *stream)
{
    (void) stream;
    s_client_t *client = arg;
    ps_sse_t *self = client->hub;
    if (client->prev)
        client->prev->next = client->next;
    else
        self->clients = client->next;
    if (client->next)
        client->next->prev = client->prev;
    self->nclients--;
    free (client);
}

int ps_sse_open (ps_sse_t *self, ps_http_request_t *request, const char *prefix,
                 const char **why)
{
    /* Streams last: without a cap of their own they would take every HTTP
       connection, and /healthz with them. */
    if (self->nclients >= self->max_clients) {
        self->nrefused++;
        ps_log_every (PS_LOG_WARN, 10, "refused an event stream: too many streams",
                      "max_streams=%zu", self->max_clients);
        *why = "too many streams";
        return -1;
    }
    *why = "cannot open the event stream";
    size_t len = strlen (prefix);
    s_client_t *client = calloc (1, sizeof *client + len + 1);
    if (!client)
        return -1;
    client->hub = self;
    memcpy (client->prefix, prefix, len + 1);
    client->stream = ps_http_reply_stream (request, "text/event-stream; charset=utf-8",
                                           self->max_queued, s_end, client);
    if (!client->stream) {
        free (client);
        return -1;
    }
    client->next = self->clients;
    if (client->next)
        client->next->prev = client;
    self->clients = client;
    self->nclients++;
    static const char hello[] = "retry: " S_RETRY_MS "\n: connected\n\n";
    ps_http_stream_write (client->stream, hello, sizeof hello - 1);
    return 0;
}

static void s_write_all (ps_sse_t *self, const char *topic, const char *text, size_t len)
{
    for (s_client_t *client = self->clients; client; client = client->next) {
        if (client->dropped ||
            (topic && strncmp (topic, client->prefix, strlen (client->prefix)) != 0))
            continue;
        if (ps_http_stream_write (client->stream, text, len) != 0) {
            client->dropped = true;
            self->ndropped++;
            ps_log_every (PS_LOG_WARN, 10, "dropped a stream client that fell behind", "prefix=\"%s\" queue_bytes=%zu",
                     client->prefix, self->max_queued);
        }
    }
}

void ps_sse_send (ps_sse_t *self, const char *topic, const char *name, uint64_t id,
                  const char *data, size_t len)
{
    size_t need = len + strlen (name) + 64;
    if (need > self->cap) {
        char *grown = realloc (self->buf, need);
        if (!grown) {
            ps_error ("out of memory formatting an event", "event=%s", name);
            return;
        }
        self->buf = grown;
        self->cap = need;
    }
    int head = snprintf (self->buf, self->cap,
                         "id: %llu\nevent: %s\ndata: ", (unsigned long long) id, name);
    memcpy (self->buf + head, data, len);
    memcpy (self->buf + head + len, "\n\n", 2);
    self->nevents++;
    s_write_all (self, topic, self->buf, (size_t) head + len + 2);
}

void ps_sse_comment (ps_sse_t *self, const char *text)
{
    char line[128];
    int n = snprintf (line, sizeof line, ": %s\n\n", text);
    if (n > 0 && (size_t) n < sizeof line)
        s_write_all (self, NULL, line, (size_t) n);
}

size_t ps_sse_clients (const ps_sse_t *self)
{
    return self->nclients;
}

uint64_t ps_sse_dropped (const ps_sse_t *self)
{
    return self->ndropped;
}

uint64_t ps_sse_refused (const ps_sse_t *self)
{
    return self->nrefused;
}

uint64_t ps_sse_events (const ps_sse_t *self)
{
    return self->nevents;
}
