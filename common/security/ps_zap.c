/*  ps_zap: ZAP handler thread; see ps_zap.h. */

#include "ps_zap.h"
#include "ps_clock.h"
#include "ps_log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_ENDPOINT   "inproc://zeromq.zap.01"
#define S_FRAMES     6   /* request frames before the credentials */
#define S_POLL_MS    200 /* how soon the thread notices it must stop */
#define S_DOMAIN_MAX 64

typedef struct {
    char name[S_DOMAIN_MAX + 1];
    ps_keyring_t *ring;
} s_domain_t;

struct ps_zap_t {
    void *sock; /* REP; used by the thread only once it runs */
    pthread_t thread;
    bool started;
    atomic_bool stop;
    pthread_mutex_t lock; /* guards domains and ndomains */
    s_domain_t domains[PS_ZAP_DOMAINS];
    int ndomains;
    atomic_uint_fast64_t admitted, refused;
    int64_t last_warn_ms; /* thread only: refusals are logged once a second at most */
    uint64_t unlogged;
};

/*  The ring of DOMAIN, or NULL. Caller holds the lock. */
static s_domain_t *s_domain (ps_zap_t *self, const char *domain, size_t len)
{
    for (int i = 0; i < self->ndomains; i++)
        if (strlen (self->domains[i].name) == len &&
            memcmp (self->domains[i].name, domain, len) == 0)
            return &self->domains[i];
    return NULL;
}

/*  Decides one request (frames as received). Returns NULL to admit (and
    fills USER_ID with the Z85 key), else the reason to refuse. */
static const char *s_decide (ps_zap_t *self, zmq_msg_t *frames, int nframes,
                             char user_id[PS_CURVE_KEY_LEN + 1], char *name)
{
    if (nframes != S_FRAMES + 1)
        return "not a CURVE request";
    if (zmq_msg_size (&frames[0]) != 3 || memcmp (zmq_msg_data (&frames[0]), "1.0", 3) != 0)
        return "unknown ZAP version";
    if (zmq_msg_size (&frames[5]) != 5 || memcmp (zmq_msg_data (&frames[5]), "CURVE", 5) != 0)
        return "mechanism is not CURVE";
    if (zmq_msg_size (&frames[6]) != 32)
        return "malformed CURVE credentials";
    zmq_z85_encode (user_id, zmq_msg_data (&frames[6]), 32);
    const char *reason = NULL;
    pthread_mutex_lock (&self->lock);
    s_domain_t *d = s_domain (self, zmq_msg_data (&frames[2]), zmq_msg_size (&frames[2]));
    const char *known = d ? ps_keyring_name (d->ring, zmq_msg_data (&frames[6])) : NULL;
    if (!d)
        reason = "socket's ZAP domain is not served";
    else if (!known)
        reason = "key not allowed";
    else
        snprintf (name, PS_CURVE_NAME_MAX + 1, "%s", known);
    pthread_mutex_unlock (&self->lock);
    return reason;
}

static void s_reply (ps_zap_t *self, zmq_msg_t *request_id, const char *code, const char *text,
                     const char *user_id)
{
    zmq_send (self->sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_msg_send (request_id, self->sock, ZMQ_SNDMORE);
    zmq_send (self->sock, code, strlen (code), ZMQ_SNDMORE);
    zmq_send (self->sock, text, strlen (text), ZMQ_SNDMORE);
    zmq_send (self->sock, user_id, strlen (user_id), ZMQ_SNDMORE);
    zmq_send (self->sock, "", 0, 0);
}

/*  Reads and answers one request (a REP must answer every one, even
    a malformed one, or it stops receiving). */
static void s_handle (ps_zap_t *self)
{
    zmq_msg_t frames[S_FRAMES + 1], extra;
    int n = 0;
    bool more = true;
    while (more) {
        zmq_msg_t *f = n < S_FRAMES + 1 ? &frames[n] : &extra;
        zmq_msg_init (f);
        if (zmq_msg_recv (f, self->sock, 0) < 0) {
            zmq_msg_close (f);
            for (int i = 0; i < n && i < S_FRAMES + 1; i++)
                zmq_msg_close (&frames[i]);
            return;
        }
        more = zmq_msg_more (f);
        if (f == &extra)
            zmq_msg_close (&extra);
        n++;
    }
    int held = n < S_FRAMES + 1 ? n : S_FRAMES + 1;
    if (held < 2) {
        zmq_msg_init (&frames[held]);
        held++;
    }
    char user_id[PS_CURVE_KEY_LEN + 1] = "", name[PS_CURVE_NAME_MAX + 1] = "";
    const char *reason = s_decide (self, frames, n, user_id, name);
    if (reason)
        s_reply (self, &frames[1], "400", reason, "");
    else
        s_reply (self, &frames[1], "200", "OK", user_id);
    if (reason) {
        atomic_fetch_add (&self->refused, 1);
        int64_t now = ps_clock_ms ();
        self->unlogged++;
        if (now - self->last_warn_ms >= 1000) {
            char domain[S_DOMAIN_MAX + 1] = "", address[64] = "";
            if (n > 3) {
                snprintf (domain, sizeof domain, "%.*s", (int) zmq_msg_size (&frames[2]),
                          (const char *) zmq_msg_data (&frames[2]));
                snprintf (address, sizeof address, "%.*s", (int) zmq_msg_size (&frames[3]),
                          (const char *) zmq_msg_data (&frames[3]));
            }
            ps_warn ("refused a connection",
                     "reason=\"%s\" domain=\"%s\" address=%s key=\"%s\" "
                     "refused_since_last_log=%llu",
                     reason, domain, address, user_id, (unsigned long long) self->unlogged);
            self->last_warn_ms = now;
            self->unlogged = 0;
        }
    } else {
        atomic_fetch_add (&self->admitted, 1);
        ps_info ("admitted a connection", "key_name=%s key=\"%s\"", name, user_id);
    }
    for (int i = 0; i < held; i++)
        zmq_msg_close (&frames[i]);
}

static void *s_run (void *arg)
{
    ps_zap_t *self = arg;
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    while (!atomic_load (&self->stop)) {
        int rc = zmq_poll (&item, 1, S_POLL_MS);
        if (rc > 0)
            s_handle (self);
        else if (rc < 0 && errno == ETERM)
            break;
    }
    return NULL;
}

ps_zap_t *ps_zap_new (void *ctx, char *err, size_t errlen)
{
    ps_zap_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init (&self->lock, NULL);
    self->last_warn_ms = -1000;
    int linger = 0;
    self->sock = zmq_socket (ctx, ZMQ_REP);
    if (!self->sock || zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind (self->sock, S_ENDPOINT) != 0) {
        snprintf (err, errlen, "cannot bind the ZAP handler: %s", zmq_strerror (errno));
        goto err;
    }
    /* Signals go to the service's thread, whose loop acts on them. */
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, &old);
    int rc = pthread_create (&self->thread, NULL, s_run, self);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf (err, errlen, "cannot start the ZAP thread: %s", strerror (rc));
        goto err;
    }
    self->started = true;
    return self;
err:
    ps_zap_destroy (&self);
    return NULL;
}

void ps_zap_destroy (ps_zap_t **self_p)
{
    ps_zap_t *self = *self_p;
    if (!self)
        return;
    if (self->started) {
        atomic_store (&self->stop, true);
        pthread_join (self->thread, NULL);
    }
    if (self->sock)
        zmq_close (self->sock);
    for (int i = 0; i < self->ndomains; i++)
        ps_keyring_destroy (&self->domains[i].ring);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

int ps_zap_allow (ps_zap_t *self, const char *domain, ps_keyring_t *ring)
{
    int rc = 0;
    pthread_mutex_lock (&self->lock);
    s_domain_t *d = s_domain (self, domain, strlen (domain));
    if (!d && self->ndomains < PS_ZAP_DOMAINS && strlen (domain) <= S_DOMAIN_MAX) {
        d = &self->domains[self->ndomains++];
        snprintf (d->name, sizeof d->name, "%s", domain);
    }
    if (d) {
        ps_keyring_destroy (&d->ring);
        d->ring = ring;
    } else {
        ps_keyring_destroy (&ring);
        rc = -1;
    }
    pthread_mutex_unlock (&self->lock);
    return rc;
}

bool ps_zap_peer (ps_zap_t *self, const char *domain, const char *user_id,
                  char name[PS_CURVE_NAME_MAX + 1])
{
    pthread_mutex_lock (&self->lock);
    s_domain_t *d = s_domain (self, domain, strlen (domain));
    const char *known = d ? ps_keyring_name_z85 (d->ring, user_id) : NULL;
    if (known)
        snprintf (name, PS_CURVE_NAME_MAX + 1, "%s", known);
    pthread_mutex_unlock (&self->lock);
    return known != NULL;
}

uint64_t ps_zap_admitted (ps_zap_t *self)
{
    return atomic_load (&self->admitted);
}

uint64_t ps_zap_refused (ps_zap_t *self)
{
    return atomic_load (&self->refused);
}
