/*  ps_http: libmicrohttpd in the caller's event loop; see ps_http.h. */

#include "ps_http.h"

#include "ps_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_MAX_ROUTES           16
#define S_MAX_CONNECTIONS      64
#define S_CONNECTION_TIMEOUT_S 10
#define S_STREAM_BLOCK         16384 /* bytes MHD asks a stream for at once */

typedef struct {
    char path[64];
    ps_http_handler_fn *handler;
    void *arg;
} s_route_t;

struct ps_http_t {
    struct MHD_Daemon *daemon;
    s_route_t routes[S_MAX_ROUTES];
    int nroutes;
    int port;
    ps_http_stream_t *streams; /* open ones, to resume before stopping */
    int epfd;                  /* what the caller polls: MHD's epoll descriptor and WAKE */
    int wake;                  /* eventfd: a stream was resumed, MHD_run is due */
};

struct ps_http_request_t {
    ps_http_t *http;
    struct MHD_Connection *connection;
    bool replied;
    enum MHD_Result result;
};

struct ps_http_stream_t {
    ps_http_t *http;
    struct MHD_Connection *connection;
    char *data; /* queued bytes are data[head..len) */
    size_t head, len, cap, max;
    bool suspended; /* nothing to send: MHD does not poll the connection */
    bool closing;   /* end once the queue is empty */
    bool dropped;   /* end now, with an error */
    ps_http_stream_end_fn *end;
    void *arg;
    ps_http_stream_t *prev, *next;
};

/*  Parses "A.B.C.D:PORT" into *ADDR. Returns -1 when it is not one. */
static int s_parse_listen (const char *listen, struct sockaddr_in *addr)
{
    const char *colon = strrchr (listen, ':');
    if (!colon || colon == listen || (size_t) (colon - listen) >= 16)
        return -1;
    char host[16];
    memcpy (host, listen, colon - listen);
    host[colon - listen] = '\0';
    char *end;
    long port = strtol (colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    memset (addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons ((uint16_t) port);
    return inet_pton (AF_INET, host, &addr->sin_addr) == 1 ? 0 : -1;
}

/*  libmicrohttpd's own messages, as logfmt lines like every other. */
static void s_mhd_log (void *cls, const char *fmt, va_list args)
{
    (void) cls;
    char text[256];
    vsnprintf (text, sizeof text, fmt, args);
    text[strcspn (text, "\n")] = '\0';
    for (char *quote = strchr (text, '"'); quote; quote = strchr (quote, '"'))
        *quote = '\'';
    ps_warn ("libmicrohttpd", "detail=\"%s\"", text);
}

static void s_reply_text (ps_http_request_t *request, int status, const char *text)
{
    ps_http_reply (request, status, "text/plain; charset=utf-8", text, strlen (text));
}

static enum MHD_Result s_on_request (void *cls, struct MHD_Connection *connection, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls)
{
    (void) version;
    (void) upload_data;
    ps_http_t *self = cls;
    /* The first call only announces the request; answer on the second,
       once any body has been read (and discarded: nothing takes one). */
    if (*con_cls == NULL) {
        *con_cls = self;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    ps_http_request_t request = {self, connection, false, MHD_NO};
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0 && strcmp (method, MHD_HTTP_METHOD_HEAD) != 0)
        s_reply_text (&request, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served\n");
    else {
        const s_route_t *route = NULL;
        for (int i = 0; i < self->nroutes && !route; i++)
            if (strcmp (self->routes[i].path, url) == 0)
                route = &self->routes[i];
        if (route)
            route->handler (route->arg, &request);
        else
            s_reply_text (&request, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    if (!request.replied) {
        ps_error ("HTTP handler did not reply", "path=%s", url);
        s_reply_text (&request, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
    }
    return request.result;
}

ps_http_t *ps_http_new (const char *listen)
{
    struct sockaddr_in addr;
    if (s_parse_listen (listen, &addr) != 0) {
        ps_error ("invalid HTTP listen address, expected A.B.C.D:PORT", "listen=%s", listen);
        return NULL;
    }
    ps_http_t *self = calloc (1, sizeof *self);
    if (!self)
        goto err;
    self->epfd = self->wake = -1;
    /* Suspend/resume costs one eventfd in the epoll set; streams need it. */
    self->daemon = MHD_start_daemon (
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, s_on_request,
        self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *) &addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned int) S_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) S_CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (!self->daemon) {
        ps_error ("cannot start HTTP server (address in use?)", "listen=%s", listen);
        goto err;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : ntohs (addr.sin_port);
    /* In external epoll mode, resuming a connection does not make MHD's
       epoll descriptor readable (libmicrohttpd 0.9.75): the caller's poll
       would sleep through it. So the caller polls an epoll descriptor of
       ours holding MHD's and an eventfd that resuming a stream signals. */
    const union MHD_DaemonInfo *mhd_epoll =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    self->wake = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event in = {.events = EPOLLIN};
    if (!mhd_epoll || self->epfd < 0 || self->wake < 0 ||
        epoll_ctl (self->epfd, EPOLL_CTL_ADD, mhd_epoll->epoll_fd, &in) != 0 ||
        epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->wake, &in) != 0) {
        ps_error ("cannot set up HTTP polling", "error=\"%s\"", strerror (errno));
        goto err;
    }
    ps_info ("HTTP listening", "listen=%s port=%d", listen, self->port);
    return self;
err:
    ps_http_destroy (&self);
    return NULL;
}

void ps_http_destroy (ps_http_t **self_p)
{
    ps_http_t *self = *self_p;
    if (!self)
        return;
    /* MHD may not stop with suspended connections; stopping ends every
       stream through its free callback. */
    for (ps_http_stream_t *stream = self->streams; stream; stream = stream->next)
        if (stream->suspended) {
            stream->suspended = false;
            MHD_resume_connection (stream->connection);
        }
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    if (self->epfd >= 0)
        close (self->epfd);
    if (self->wake >= 0)
        close (self->wake);
    free (self);
    *self_p = NULL;
}

int ps_http_route (ps_http_t *self, const char *path, ps_http_handler_fn *handler, void *arg)
{
    if (self->nroutes == S_MAX_ROUTES || strlen (path) >= sizeof self->routes[0].path) {
        ps_error ("HTTP route table full", "path=%s", path);
        return -1;
    }
    s_route_t *route = &self->routes[self->nroutes++];
    snprintf (route->path, sizeof route->path, "%s", path);
    route->handler = handler;
    route->arg = arg;
    return 0;
}

int ps_http_port (const ps_http_t *self)
{
    return self->port;
}

int ps_http_fd (const ps_http_t *self)
{
    return self->epfd;
}

long ps_http_timeout_ms (ps_http_t *self)
{
    MHD_UNSIGNED_LONG_LONG timeout;
    if (MHD_get_timeout (self->daemon, &timeout) != MHD_YES)
        return -1;
    return timeout > 60000 ? 60000 : (long) timeout;
}

void ps_http_run (ps_http_t *self)
{
    uint64_t resumed;
    if (read (self->wake, &resumed, sizeof resumed) < 0 && errno != EAGAIN)
        ps_warn ("cannot read the HTTP wake-up descriptor", "error=\"%s\"", strerror (errno));
    MHD_run (self->daemon);
}

const char *ps_http_query (ps_http_request_t *request, const char *key)
{
    return MHD_lookup_connection_value (request->connection, MHD_GET_ARGUMENT_KIND, key);
}

void ps_http_reply (ps_http_request_t *request, int status, const char *content_type,
                    const char *body, size_t len)
{
    if (request->replied)
        return;
    request->replied = true;
    struct MHD_Response *response =
        MHD_create_response_from_buffer (len, (void *) body, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    request->result = MHD_queue_response (request->connection, (unsigned int) status, response);
    MHD_destroy_response (response);
}

/* ---- Streams -------------------------------------------------------------- */

static void s_stream_wake (ps_http_stream_t *stream)
{
    if (stream->suspended) {
        stream->suspended = false;
        MHD_resume_connection (stream->connection);
        uint64_t one = 1;
        if (write (stream->http->wake, &one, sizeof one) < 0 && errno != EAGAIN)
            ps_warn ("cannot signal the HTTP wake-up descriptor", "error=\"%s\"", strerror (errno));
    }
}

/*  MHD asks for more of the body: hand over what is queued, or suspend the
    connection until ps_http_stream_write resumes it (returning 0 without
    suspending would make MHD ask again on every run). */
static ssize_t s_stream_read (void *cls, uint64_t pos, char *buf, size_t max)
{
    (void) pos;
    ps_http_stream_t *stream = cls;
    if (stream->dropped)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = stream->len - stream->head;
    if (n == 0) {
        if (stream->closing)
            return MHD_CONTENT_READER_END_OF_STREAM;
        stream->suspended = true;
        MHD_suspend_connection (stream->connection);
        return 0;
    }
    if (n > max)
        n = max;
    memcpy (buf, stream->data + stream->head, n);
    stream->head += n;
    if (stream->head == stream->len)
        stream->head = stream->len = 0;
    return (ssize_t) n;
}

/*  MHD is done with the response: the connection closed. */
static void s_stream_free (void *cls)
{
    ps_http_stream_t *stream = cls;
    if (stream->prev)
        stream->prev->next = stream->next;
    else if (stream->http && stream->http->streams == stream)
        stream->http->streams = stream->next;
    if (stream->next)
        stream->next->prev = stream->prev;
    if (stream->end)
        stream->end (stream->arg, stream);
    free (stream->data);
    free (stream);
}

ps_http_stream_t *ps_http_reply_stream (ps_http_request_t *request, const char *content_type,
                                        size_t max_queued, ps_http_stream_end_fn *end, void *arg)
{
    if (request->replied)
        return NULL;
    ps_http_stream_t *stream = calloc (1, sizeof *stream);
    if (!stream)
        return NULL;
    stream->connection = request->connection;
    stream->max = max_queued;
    struct MHD_Response *response = MHD_create_response_from_callback (
        MHD_SIZE_UNKNOWN, S_STREAM_BLOCK, s_stream_read, stream, s_stream_free);
    if (!response) {
        free (stream);
        return NULL;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result queued = MHD_queue_response (request->connection, MHD_HTTP_OK, response);
    /* On failure this frees the stream (through s_stream_free, silently:
       it is not linked and has no END yet). */
    MHD_destroy_response (response);
    if (queued != MHD_YES)
        return NULL;
    request->replied = true;
    request->result = queued;
    stream->end = end;
    stream->arg = arg;
    stream->http = request->http;
    stream->next = request->http->streams;
    if (stream->next)
        stream->next->prev = stream;
    request->http->streams = stream;
    return stream;
}

int ps_http_stream_write (ps_http_stream_t *stream, const void *data, size_t len)
{
    if (stream->closing || stream->dropped)
        return -1;
    size_t queued = stream->len - stream->head;
    if (len > stream->max - queued)
        goto drop;
    if (stream->len + len > stream->cap && stream->head > 0) {
        memmove (stream->data, stream->data + stream->head, queued);
        stream->head = 0;
        stream->len = queued;
    }
    if (queued + len > stream->cap) {
        size_t cap = stream->cap ? stream->cap : 4096;
        while (cap < queued + len)
            cap *= 2;
        char *grown = realloc (stream->data, cap);
        if (!grown)
            goto drop;
        stream->data = grown;
        stream->cap = cap;
    }
    memcpy (stream->data + stream->len, data, len);
    stream->len += len;
    s_stream_wake (stream);
    return 0;
drop:
    free (stream->data);
    stream->data = NULL;
    stream->head = stream->len = stream->cap = 0;
    stream->dropped = true;
    /* A client that does not read leaves MHD waiting for the socket to
       become writable, which it never does: cut the TCP connection (MHD
       still owns and closes the descriptor) so it ends now. */
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (stream->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info)
        shutdown (info->connect_fd, SHUT_RDWR);
    s_stream_wake (stream);
    return -1;
}

void ps_http_stream_close (ps_http_stream_t *stream)
{
    stream->closing = true;
    s_stream_wake (stream);
}

size_t ps_http_stream_queued (const ps_http_stream_t *stream)
{
    return stream->len - stream->head;
}
