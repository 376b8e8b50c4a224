/*  ps_sock: socket set-up, receiving and sending; see ps_sock.h. */

#include "ps_sock.h"
#include "ps_log.h"
#include "ps_signal.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

/*  Sets CURVE up on SOCK as OPTS say. Returns 0, or -1 (errno). */
static int s_curve (void *sock, const ps_sock_opts_t *opts)
{
    const ps_curve_pair_t *pair = opts->curve;
    size_t len = PS_CURVE_KEY_LEN + 1;
    if (opts->curve_server[0] == '\0') {
        int on = 1;
        const char *domain = opts->zap_domain ? opts->zap_domain : "";
        return zmq_setsockopt (sock, ZMQ_ZAP_DOMAIN, domain, strlen (domain)) ||
                       zmq_setsockopt (sock, ZMQ_CURVE_SERVER, &on, sizeof on) ||
                       zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, pair->secret_key, len)
                   ? -1
                   : 0;
    }
    return zmq_setsockopt (sock, ZMQ_CURVE_SERVERKEY, opts->curve_server, len) ||
                   zmq_setsockopt (sock, ZMQ_CURVE_PUBLICKEY, pair->public_key, len) ||
                   zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, pair->secret_key, len)
               ? -1
               : 0;
}

static void *s_sock_new (void *ctx, int type, const char *endpoint, bool bind,
                         const ps_sock_opts_t *opts, bool announce)
{
    void *sock = zmq_socket (ctx, type);
    if (!sock) {
        ps_error ("cannot create socket", "error=\"%s\"", zmq_strerror (errno));
        return NULL;
    }
    ps_sock_opts_t defaults = {.hwm = 0, .maxmsgsize = -1, .linger_ms = 1000};
    if (!opts)
        opts = &defaults;
    if (opts->hwm > 0) {
        /* A SUB sends only its subscriptions, which a small send HWM would
           drop: its HWM is for what it receives. */
        if (type != ZMQ_SUB)
            zmq_setsockopt (sock, ZMQ_SNDHWM, &opts->hwm, sizeof opts->hwm);
        zmq_setsockopt (sock, ZMQ_RCVHWM, &opts->hwm, sizeof opts->hwm);
    }
    if (opts->rcvhwm > 0)
        zmq_setsockopt (sock, ZMQ_RCVHWM, &opts->rcvhwm, sizeof opts->rcvhwm);
    if (opts->maxmsgsize > 0)
        zmq_setsockopt (sock, ZMQ_MAXMSGSIZE, &opts->maxmsgsize, sizeof opts->maxmsgsize);
    zmq_setsockopt (sock, ZMQ_LINGER, &opts->linger_ms, sizeof opts->linger_ms);
    int on = 1;
    if (announce) {
        zmq_setsockopt (sock, ZMQ_IMMEDIATE, &on, sizeof on);
        zmq_setsockopt (sock, ZMQ_PROBE_ROUTER, &on, sizeof on);
    }
    if (opts->curve && s_curve (sock, opts) != 0) {
        ps_error ("cannot set CURVE up", "endpoint=%s error=\"%s\"", endpoint,
                  zmq_strerror (errno));
        zmq_close (sock);
        return NULL;
    }
    int rc = bind ? zmq_bind (sock, endpoint) : zmq_connect (sock, endpoint);
    if (rc != 0) {
        ps_error (bind ? "cannot bind" : "cannot connect", "endpoint=%s error=\"%s\"", endpoint,
                  zmq_strerror (errno));
        zmq_close (sock);
        return NULL;
    }
    ps_info (bind ? "bound" : "connected", "endpoint=%s curve=%s", endpoint,
             opts->curve ? "on" : "off");
    return sock;
}

void *ps_sock_new (void *ctx, int type, const char *endpoint, bool bind, const ps_sock_opts_t *opts)
{
    return s_sock_new (ctx, type, endpoint, bind, opts, false);
}

void *ps_sock_new_announced (void *ctx, const char *endpoint, const ps_sock_opts_t *opts)
{
    return s_sock_new (ctx, ZMQ_DEALER, endpoint, false, opts, true);
}

void ps_sock_destroy (void **sock_p)
{
    if (*sock_p) {
        zmq_close (*sock_p);
        *sock_p = NULL;
    }
}

int ps_sock_send (void *sock, const void *data, size_t size, int flags)
{
    while (zmq_send (sock, data, size, flags) < 0) {
        if (errno != EINTR || ps_signal_stop ())
            return -1;
    }
    return 0;
}

int ps_sock_recv_parts (void *sock, zmq_msg_t *parts, int max)
{
    int n = 0;
    bool overflow = false;
    for (;;) {
        zmq_msg_t *part = &parts[n];
        /* Once the first frame is in, the others are too: a message is atomic. */
        if (zmq_msg_recv (part, sock, n || overflow ? 0 : ZMQ_DONTWAIT) < 0)
            return -1;
        if (!zmq_msg_more (part))
            return overflow ? 0 : n + 1;
        if (n < max - 1)
            n++;
        else
            overflow = true;
    }
}
