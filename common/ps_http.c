/*  ps_http: libmicrohttpd in the caller's event loop; see ps_http.h. */

#include "ps_http.h"

#include "ps_log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_ROUTES           16
#define S_MAX_CONNECTIONS      64
#define S_CONNECTION_TIMEOUT_S 10

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
};

struct ps_http_request_t {
    struct MHD_Connection *connection;
    bool replied;
    enum MHD_Result result;
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
    ps_http_request_t request = {connection, false, MHD_NO};
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
    self->daemon = MHD_start_daemon (
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, s_on_request, self, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *) &addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned int) S_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) S_CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (!self->daemon) {
        ps_error ("cannot start HTTP server (address in use?)", "listen=%s", listen);
        goto err;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : ntohs (addr.sin_port);
    ps_info ("HTTP listening", "listen=%s port=%d", listen, self->port);
    return self;
err:
    free (self);
    return NULL;
}

void ps_http_destroy (ps_http_t **self_p)
{
    ps_http_t *self = *self_p;
    if (!self)
        return;
    MHD_stop_daemon (self->daemon);
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
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
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
