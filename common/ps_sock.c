/*  ps_sock: socket set-up, signals and clocks; see ps_sock.h. */

#include "ps_sock.h"
#include "ps_log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop = 0;
static volatile sig_atomic_t s_reload = 0;

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

static void s_on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

static void s_on_reload (int sig)
{
    (void) sig;
    s_reload = 1;
}

/*  Routes SIG to HANDLER (no flags: a libzmq call it interrupts fails
    with EINTR, which is how blocking loops notice). */
static void s_catch (int sig, void (*handler) (int))
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset (&sa.sa_mask);
    sigaction (sig, &sa, NULL);
}

void ps_signal_install (void)
{
    s_catch (SIGINT, s_on_signal);
    s_catch (SIGTERM, s_on_signal);
    s_catch (SIGHUP, s_on_signal);
    signal (SIGPIPE, SIG_IGN);
}

void ps_signal_catch_reload (void)
{
    s_catch (SIGHUP, s_on_reload);
}

bool ps_signal_reload (void)
{
    if (!s_reload)
        return false;
    s_reload = 0;
    return true;
}

bool ps_signal_stop (void)
{
    return s_stop != 0;
}

int64_t ps_clock_ms (void)
{
    return ps_clock_us () / 1000;
}

int64_t ps_clock_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ps_wall_us (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (int64_t) tv.tv_sec * 1000000 + tv.tv_usec;
}

int ps_sock_send (void *sock, const void *data, size_t size, int flags)
{
    while (zmq_send (sock, data, size, flags) < 0) {
        if (errno != EINTR || s_stop)
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
