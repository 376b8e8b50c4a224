/*  ps_http: libmicrohttpd in the caller's event loop; see ps_http.h. */

#define _GNU_SOURCE /* accept4 */

#include "ps_http.h"

#include "ps_clock.h"
#include "ps_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#define S_MAX_ROUTES   16
#define S_STREAM_BLOCK 16384 /* bytes MHD asks a stream for at once */
#define S_BACKLOG      128   /* pending connects; each run accepts them all, or refuses */

/* What a connection past the cap gets, written on the fresh socket (its
   send buffer is empty, so the write cannot block or be partial). */
static const char s_too_many[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Length: 21\r\n"
                                 "Retry-After: 1\r\n"
                                 "Connection: close\r\n"
                                 "\r\n"
                                 "too many connections\n";

/* One TCP connection handed to MHD (its socket context). */
typedef struct s_conn_t s_conn_t;
struct s_conn_t {
    struct MHD_Connection *connection;
    int fd;
    int64_t since_ms; /* when it started waiting for headers */
    bool waiting;     /* in the waiting list: no request being answered */
    bool dropping;    /* shut down by us; MHD has yet to close it */
    s_conn_t *prev, *next;
};

/* A doubly linked list in the order connections were put in. */
typedef struct {
    s_conn_t *head, *tail;
} s_list_t;

typedef struct {
    char path[64];
    ps_http_handler_fn *handler;
    void *arg;
} s_route_t;

struct ps_http_t {
    struct MHD_Daemon *daemon;
    ps_http_limits_t limits;
    int listen_fd;
    s_list_t waiting;     /* connections waiting for a request's headers, oldest first */
    s_list_t busy;        /* answering a request or streaming, or being dropped */
    size_t nconns;        /* in both lists */
    size_t ndropping;     /* shut down, not yet closed by MHD: their slot is free */
    ps_http_stats_t stats;
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

/* ---- Connection slots ----------------------------------------------------- */

static void s_list_append (s_list_t *list, s_conn_t *conn)
{
    conn->prev = list->tail;
    conn->next = NULL;
    if (list->tail)
        list->tail->next = conn;
    else
        list->head = conn;
    list->tail = conn;
}

static void s_list_unlink (s_list_t *list, s_conn_t *conn)
{
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        list->head = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    else
        list->tail = conn->prev;
    conn->prev = conn->next = NULL;
}

/*  CONN starts waiting for a request's headers (connected, or its
    previous response is complete): its header deadline starts now. */
static void s_conn_wait (ps_http_t *self, s_conn_t *conn)
{
    if (conn->dropping)
        return;
    s_list_unlink (conn->waiting ? &self->waiting : &self->busy, conn);
    conn->waiting = true;
    conn->since_ms = ps_clock_ms ();
    s_list_append (&self->waiting, conn);
}

/*  CONN's request headers are in: it is answering, not to be evicted. */
static void s_conn_busy (ps_http_t *self, s_conn_t *conn)
{
    if (!conn->waiting)
        return;
    s_list_unlink (&self->waiting, conn);
    conn->waiting = false;
    s_list_append (&self->busy, conn);
}

/*  Cuts CONN's TCP connection; MHD notices and closes it on its next run.
    Its slot is free from now on. */
static void s_conn_drop (ps_http_t *self, s_conn_t *conn)
{
    s_conn_busy (self, conn);
    conn->dropping = true;
    self->ndropping++;
    shutdown (conn->fd, SHUT_RDWR);
}

static s_conn_t *s_conn_of (struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void s_on_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
    ps_http_t *self = cls;
    s_conn_t *conn = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn = calloc (1, sizeof *conn);
        if (!conn) {
            /* Untracked, it would escape the cap: cut it. */
            ps_log_every (PS_LOG_ERROR, 10, "out of memory tracking an HTTP connection", NULL);
            if (info)
                shutdown (info->connect_fd, SHUT_RDWR);
            return;
        }
        conn->connection = connection;
        conn->fd = info ? info->connect_fd : -1;
        conn->waiting = false;
        s_list_append (&self->busy, conn);
        self->nconns++;
        s_conn_wait (self, conn);
        *socket_context = conn;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && conn) {
        s_list_unlink (conn->waiting ? &self->waiting : &self->busy, conn);
        self->nconns--;
        if (conn->dropping)
            self->ndropping--;
        free (conn);
        *socket_context = NULL;
    }
}

static void s_on_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    (void) con_cls;
    (void) toe;
    s_conn_t *conn = s_conn_of (connection);
    if (conn)
        s_conn_wait (cls, conn);
}

/*  Drops the connections whose headers are overdue. */
static void s_expire (ps_http_t *self, int64_t now)
{
    while (self->waiting.head &&
           now - self->waiting.head->since_ms >= self->limits.header_timeout_ms) {
        self->stats.header_timeouts++;
        ps_log_every (PS_LOG_WARN, 10, "dropped an HTTP connection: request headers too slow",
                      "header_timeout_ms=%ld", self->limits.header_timeout_ms);
        s_conn_drop (self, self->waiting.head);
    }
}

/*  Answers FD "503 too many connections" and closes it. What the client
    already sent is read first, so that closing does not reset the
    connection before the client has read the answer. */
static void s_refuse (ps_http_t *self, int fd)
{
    self->stats.refused++;
    ps_log_every (PS_LOG_WARN, 10, "refused an HTTP connection: too many connections",
                  "max_connections=%d", self->limits.max_connections);
    char sink[4096];
    while (recv (fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
        ;
    if (send (fd, s_too_many, sizeof s_too_many - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        ps_log_every (PS_LOG_DEBUG, 10, "cannot answer a refused HTTP connection",
                      "error=\"%s\"", strerror (errno));
    shutdown (fd, SHUT_WR);
    close (fd);
}

/*  Accepts every pending connection: into a free slot, into the slot of
    the oldest connection waiting for headers, or refused. */
static void s_accept (ps_http_t *self)
{
    for (;;) {
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4 (self->listen_fd, (struct sockaddr *) &peer, &peer_len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                ps_log_every (PS_LOG_WARN, 10, "cannot accept an HTTP connection",
                              "error=\"%s\"", strerror (errno));
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            return;
        }
        if (self->nconns - self->ndropping >= (size_t) self->limits.max_connections) {
            if (!self->waiting.head) {
                s_refuse (self, fd);
                continue;
            }
            self->stats.evicted++;
            ps_log_every (PS_LOG_WARN, 10,
                          "dropped an HTTP connection waiting for headers to make room",
                          "max_connections=%d", self->limits.max_connections);
            s_conn_drop (self, self->waiting.head);
        }
        /* MHD closes FD whatever happens. */
        if (MHD_add_connection (self->daemon, fd, (struct sockaddr *) &peer, peer_len) != MHD_YES)
            ps_log_every (PS_LOG_WARN, 10, "HTTP server could not take a connection",
                          "error=\"%s\"", strerror (errno));
    }
}

void ps_http_limits_default (ps_http_limits_t *limits)
{
    limits->max_connections = PS_HTTP_MAX_CONNECTIONS;
    limits->header_timeout_ms = PS_HTTP_HEADER_TIMEOUT_MS;
    limits->idle_timeout_ms = PS_HTTP_IDLE_TIMEOUT_MS;
}

void ps_http_stats (const ps_http_t *self, ps_http_stats_t *stats)
{
    *stats = self->stats;
    stats->connections = self->nconns;
}

void ps_http_metrics (const ps_http_t *self, ps_metrics_t *metrics)
{
    ps_http_stats_t stats;
    ps_http_stats (self, &stats);
    ps_metrics_gauge (metrics, "paystat_http_connections", "HTTP connections open.", NULL,
                      (double) stats.connections);
    ps_metrics_counter (metrics, "paystat_http_connections_refused_total",
                        "HTTP connections answered 503 because every slot was busy.", NULL,
                        stats.refused);
    ps_metrics_counter (metrics, "paystat_http_connections_dropped_total",
                        "HTTP connections dropped while waiting for request headers, by reason.",
                        "reason=\"header_timeout\"", stats.header_timeouts);
    ps_metrics_counter (metrics, "paystat_http_connections_dropped_total",
                        "HTTP connections dropped while waiting for request headers, by reason.",
                        "reason=\"evicted\"", stats.evicted);
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
    bool get =
        strcmp (method, MHD_HTTP_METHOD_GET) == 0 || strcmp (method, MHD_HTTP_METHOD_HEAD) == 0;
    /* The first call only announces a GET; answer on the second, once any
       body has been read (and discarded: nothing takes one). Until then
       the header deadline still runs, so a trickled body cannot hold the
       slot either. Another method is refused at once: its body is never
       read, and MHD closes the connection after the answer. */
    if (*con_cls == NULL && get) {
        *con_cls = self;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    s_conn_t *conn = s_conn_of (connection);
    if (conn)
        s_conn_busy (self, conn);
    ps_http_request_t request = {self, connection, false, MHD_NO};
    if (!get)
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

/*  Opens the listening socket on ADDR. Returns it, or -1 with errno. */
static int s_listen (const struct sockaddr_in *addr)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0)
        return -1;
    if (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind (fd, (const struct sockaddr *) addr, sizeof *addr) != 0 ||
        listen (fd, S_BACKLOG) != 0) {
        int saved = errno;
        close (fd);
        errno = saved;
        return -1;
    }
    return fd;
}

ps_http_t *ps_http_new (const char *listen, const ps_http_limits_t *limits)
{
    struct sockaddr_in addr;
    if (s_parse_listen (listen, &addr) != 0) {
        ps_error ("invalid HTTP listen address, expected A.B.C.D:PORT", "listen=%s", listen);
        return NULL;
    }
    ps_http_t *self = calloc (1, sizeof *self);
    if (!self)
        goto err;
    self->epfd = self->wake = self->listen_fd = -1;
    ps_http_limits_default (&self->limits);
    if (limits && limits->max_connections > 0)
        self->limits.max_connections = limits->max_connections;
    if (limits && limits->header_timeout_ms > 0)
        self->limits.header_timeout_ms = limits->header_timeout_ms;
    if (limits && limits->idle_timeout_ms > 0)
        self->limits.idle_timeout_ms = limits->idle_timeout_ms;
    self->listen_fd = s_listen (&addr);
    if (self->listen_fd < 0) {
        ps_error ("cannot listen for HTTP (address in use?)", "listen=%s error=\"%s\"", listen,
                  strerror (errno));
        goto err;
    }
    struct sockaddr_in bound;
    socklen_t bound_len = sizeof bound;
    self->port = getsockname (self->listen_fd, (struct sockaddr *) &bound, &bound_len) == 0
                     ? ntohs (bound.sin_port)
                     : ntohs (addr.sin_port);
    /* The cap is ours (s_accept); MHD's limit only has to leave room for
       the connections dropped but not yet closed during one run. */
    unsigned int mhd_limit = 2 * (unsigned int) self->limits.max_connections + S_BACKLOG;
    unsigned int idle_s = (unsigned int) ((self->limits.idle_timeout_ms + 999) / 1000);
    /* Suspend/resume costs one eventfd in the epoll set; streams need it. */
    self->daemon = MHD_start_daemon (
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET, 0,
        NULL, NULL, s_on_request, self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, self, MHD_OPTION_NOTIFY_COMPLETED,
        s_on_completed, self, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, idle_s, MHD_OPTION_END);
    if (!self->daemon) {
        ps_error ("cannot start the HTTP server", "listen=%s", listen);
        goto err;
    }
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
        epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->wake, &in) != 0 ||
        epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->listen_fd, &in) != 0) {
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
    /* Stopping closed every connection (s_on_connection freed them). */
    if (self->listen_fd >= 0)
        close (self->listen_fd);
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
    long ms = MHD_get_timeout (self->daemon, &timeout) == MHD_YES
                  ? (timeout > 60000 ? 60000 : (long) timeout)
                  : -1;
    if (self->waiting.head) {
        int64_t due = self->waiting.head->since_ms + self->limits.header_timeout_ms;
        int64_t left = due - ps_clock_ms ();
        left = left < 0 ? 0 : left;
        if (ms < 0 || left < ms)
            ms = (long) left;
    }
    return ms;
}

void ps_http_run (ps_http_t *self)
{
    uint64_t resumed;
    if (read (self->wake, &resumed, sizeof resumed) < 0 && errno != EAGAIN)
        ps_warn ("cannot read the HTTP wake-up descriptor", "error=\"%s\"", strerror (errno));
    /* MHD reads first: headers that arrived while the caller's loop was
       busy elsewhere are in, not held against their connection. */
    MHD_run (self->daemon);
    s_expire (self, ps_clock_ms ());
    s_accept (self);
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
