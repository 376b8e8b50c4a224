/*  ps_subs: the feed's subscriptions, bounded; see ps_subs.h. */

#include "ps_subs.h"

#include "ps_clock.h"
#include "ps_sock.h"
#include "ps_strmap.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

/* tcp_info.tcpi_state of an established connection (the kernel's
   TCP_ESTABLISHED, which linux/tcp.h does not export). */
#define S_TCP_ESTABLISHED 1
/* Only a connection that received data this recently (or has some not
   read yet) can be the sender of the subscription being read: an idle
   subscriber is never evicted. */
#define S_RECENT_MS 250
/* After an eviction, what libzmq already took from that connection is
   still arriving for a moment: no other connection is evicted meanwhile. */
#define S_EVICT_GAP_MS 20
/* A connection that sent less than its burst is never evicted for the
   bound: a subscriber that merely came when the set was full gets its
   subscriptions refused, not its connection closed. */
#define S_EVICT_MIN_BYTES PS_SUBS_BURST
/* Most bytes read from a connection being closed (more than the largest
   socket receive buffer): a bound on the time it takes. */
#define S_DISCARD_MAX (64u << 20)
/* Refusals are logged at most this often. */
#define S_WARN_EVERY_MS 10000
/* The guard looks at the connections this often: what a flooder adds to
   libzmq's trie before it is closed is what publish's thread takes in
   meanwhile. */
#define S_GUARD_MS 10

/* A condemned connection is closed this long after: the notice of its
   refusal, queued on the feed, leaves first. Not much sooner either: a
   closed SUB reconnects (100 ms later by default) and sends everything it
   ever subscribed again at once, so the grace is what spaces out these
   bursts; what it sends meanwhile is refused and takes no room. */
#define S_GRACE_MS 2000
/* When the set is full, a connection holding fewer subscriptions than
   this is never closed for it: a subscriber, not a flood. */
#define S_FULL_EVICT_MIN 8

/* Values of the map: what was decided for the prefix. */
#define S_HELD_ACCEPTED ((void *) 1)
#define S_HELD_REFUSED  ((void *) 2)

/* What is known of the connection on one descriptor. */
typedef struct {
    size_t count;              /* subscriptions it sent */
    int64_t condemned_ms;      /* when it was condemned; 0: it is not */
    bool closed;               /* shut down already (libzmq has yet to see it) */
    ps_subs_verdict_t verdict; /* why */
} s_conn_share_t;

struct ps_subs_t {
    ps_strmap_t *held; /* prefix -> S_HELD_ACCEPTED or S_HELD_REFUSED */
    size_t accepted;   /* prefixes held as S_HELD_ACCEPTED: at most max */
    size_t max;
    size_t per_conn;
    int port;
    uint64_t refused[PS_SUBS_VERDICTS];
    uint64_t evicted[PS_SUBS_VERDICTS];
    s_conn_share_t *conns; /* indexed by descriptor */
    size_t nconns;
    size_t condemned; /* connections waiting for ps_subs_reap */
    int64_t last_try_ms;
    bool tried_once;
    int64_t last_warn_ms;
    bool warned_once;
    uint64_t refused_at_warn;
};

ps_subs_t *ps_subs_new (size_t max, size_t per_conn, int port)
{
    ps_subs_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->held = ps_strmap_new ();
    if (!self->held) {
        free (self);
        return NULL;
    }
    self->max = max;
    self->per_conn = per_conn;
    self->port = port;
    return self;
}

void ps_subs_destroy (ps_subs_t **self_p)
{
    ps_subs_t *self = *self_p;
    if (!self)
        return;
    ps_strmap_destroy (&self->held);
    free (self->conns);
    free (self);
    *self_p = NULL;
}

static ps_subs_verdict_t s_refuse (ps_subs_t *self, void **slot, ps_subs_verdict_t verdict)
{
    *slot = S_HELD_REFUSED;
    self->refused[verdict]++;
    return verdict;
}

ps_subs_verdict_t ps_subs_subscribe (ps_subs_t *self, const char *prefix, size_t len)
{
    bool inserted;
    void **slot = ps_strmap_put (self->held, prefix, len, &inserted);
    if (!slot) {
        /* Out of memory: the prefix stays unknown here, so its last
           unsubscription will be ignored; refusing it is all there is. */
        self->refused[PS_SUBS_FULL]++;
        return PS_SUBS_FULL;
    }
    if (len > PS_SUBS_PREFIX_MAX)
        return s_refuse (self, slot, PS_SUBS_TOO_LONG);
    if (!inserted && *slot == S_HELD_ACCEPTED)
        return PS_SUBS_ACCEPTED;
    /* New, or refused before and held since by its other subscribers: it
       fits once the accepted ones leave it room. Refused prefixes do not
       take room: they are held only until their connections close, and
       counting them would let refused traffic shut out new subscribers. */
    if (self->accepted >= self->max)
        return s_refuse (self, slot, PS_SUBS_FULL);
    *slot = S_HELD_ACCEPTED;
    self->accepted++;
    return PS_SUBS_ACCEPTED;
}

bool ps_subs_unsubscribe (ps_subs_t *self, const char *prefix, size_t len)
{
    if (ps_strmap_remove (self->held, prefix, len) != S_HELD_ACCEPTED)
        return false;
    self->accepted--;
    return true;
}

size_t ps_subs_size (const ps_subs_t *self)
{
    return ps_strmap_size (self->held);
}

size_t ps_subs_accepted (const ps_subs_t *self)
{
    return self->accepted;
}

uint64_t ps_subs_refused (const ps_subs_t *self, ps_subs_verdict_t reason)
{
    return reason > PS_SUBS_ACCEPTED && reason < PS_SUBS_VERDICTS ? self->refused[reason] : 0;
}

uint64_t ps_subs_evicted (const ps_subs_t *self, ps_subs_verdict_t reason)
{
    return reason > PS_SUBS_ACCEPTED && reason < PS_SUBS_VERDICTS ? self->evicted[reason] : 0;
}

/* FD's share, grown into; NULL for a negative FD or out of memory. */
static s_conn_share_t *s_share (ps_subs_t *self, int fd)
{
    if (fd < 0)
        return NULL;
    if ((size_t) fd >= self->nconns) {
        size_t n = (size_t) fd * 2 + 64;
        s_conn_share_t *grown = realloc (self->conns, n * sizeof *grown);
        if (!grown)
            return NULL;
        memset (grown + self->nconns, 0, (n - self->nconns) * sizeof *grown);
        self->conns = grown;
        self->nconns = n;
    }
    return &self->conns[fd];
}

static void s_condemn (ps_subs_t *self, s_conn_share_t *share, ps_subs_verdict_t verdict,
                       int64_t now_ms)
{
    if (share->condemned_ms)
        return;
    share->condemned_ms = now_ms > 0 ? now_ms : 1;
    share->verdict = verdict;
    self->condemned++;
}

/* The connection holding the most subscriptions and not condemned yet. */
static int s_largest (const ps_subs_t *self)
{
    int best = -1;
    for (size_t fd = 0; fd < self->nconns; fd++)
        if (!self->conns[fd].condemned_ms &&
            (best < 0 || self->conns[fd].count > self->conns[best].count))
            best = (int) fd;
    return best;
}

ps_subs_verdict_t ps_subs_subscribe_from (ps_subs_t *self, int fd, const char *prefix,
                                          size_t len, int *condemned)
{
    *condemned = -1;
    s_conn_share_t *share = s_share (self, fd);
    if (!share)
        return ps_subs_subscribe (self, prefix, len);
    share->count++;
    if (share->count > self->per_conn || share->condemned_ms) {
        /* libzmq holds it already: the set mirrors it, refused. */
        bool inserted;
        void **slot = ps_strmap_put (self->held, prefix, len, &inserted);
        if (slot && (inserted || *slot != S_HELD_ACCEPTED))
            *slot = S_HELD_REFUSED;
        self->refused[PS_SUBS_CONN]++;
        if (!share->condemned_ms) {
            s_condemn (self, share, PS_SUBS_CONN, ps_clock_ms ());
            *condemned = fd;
        }
        return PS_SUBS_CONN;
    }
    ps_subs_verdict_t verdict = ps_subs_subscribe (self, prefix, len);
    if (verdict != PS_SUBS_FULL)
        return verdict;
    int largest = s_largest (self);
    if (largest >= 0 && self->conns[largest].count >= S_FULL_EVICT_MIN &&
        self->conns[largest].count > share->count) {
        s_condemn (self, &self->conns[largest], PS_SUBS_FULL, ps_clock_ms ());
        *condemned = largest;
    }
    return verdict;
}

void ps_subs_reset (ps_subs_t *self, int fd)
{
    if (fd < 0 || (size_t) fd >= self->nconns)
        return;
    if (self->conns[fd].condemned_ms && !self->conns[fd].closed)
        self->condemned--;
    memset (&self->conns[fd], 0, sizeof self->conns[fd]);
}

size_t ps_subs_count (const ps_subs_t *self, int fd)
{
    return fd >= 0 && (size_t) fd < self->nconns ? self->conns[fd].count : 0;
}

bool ps_subs_reaping (const ps_subs_t *self)
{
    return self->condemned > 0;
}

static int s_shutdown_fd (int fd, int port, ps_subs_peer_t *peer);

bool ps_subs_reap (ps_subs_t *self, int64_t now_ms, ps_subs_peer_t *peer,
                   ps_subs_verdict_t *verdict)
{
    for (size_t fd = 0; self->condemned && fd < self->nconns; fd++) {
        s_conn_share_t *share = &self->conns[fd];
        if (!share->condemned_ms || share->closed || now_ms - share->condemned_ms < S_GRACE_MS)
            continue;
        *verdict = share->verdict;
        /* Kept condemned (its further subscriptions refused) until the
           monitor says it is gone; the shutdown is done once. */
        share->closed = true;
        self->condemned--;
        if (s_shutdown_fd ((int) fd, self->port, peer) != 0)
            continue;
        self->evicted[*verdict]++;
        return true;
    }
    return false;
}

const char *ps_subs_reason (const ps_subs_t *self, ps_subs_verdict_t verdict, char *buf,
                            size_t size)
{
    switch (verdict) {
    case PS_SUBS_TOO_LONG:
        snprintf (buf, size, "a subscription longer than %zu bytes matches no topic",
                  (size_t) PS_SUBS_PREFIX_MAX);
        break;
    case PS_SUBS_FULL:
        snprintf (buf, size,
                  "publish holds its %zu distinct prefixes (--max-subscriptions); subscribe "
                  "again later",
                  self->max);
        break;
    case PS_SUBS_CONN:
        snprintf (buf, size,
                  "more than %zu subscriptions on one connection "
                  "(--max-subscriptions-per-connection); the connection is closed",
                  self->per_conn);
        break;
    default:
        snprintf (buf, size, "accepted");
    }
    return buf;
}

bool ps_subs_evict (ps_subs_t *self, int64_t now_ms, ps_subs_peer_t *peer)
{
    /* One look at the connections per gap, whether it finds one or not:
       refusals come in floods, and each look costs a few system calls per
       connection. */
    if (self->port < 0 || (self->tried_once && now_ms - self->last_try_ms < S_EVICT_GAP_MS))
        return false;
    self->tried_once = true;
    self->last_try_ms = now_ms;
    if (ps_subs_drop_busy_peer (self->port, S_RECENT_MS, S_EVICT_MIN_BYTES, peer) != 0)
        return false;
    self->evicted[PS_SUBS_FULL]++;
    return true;
}

bool ps_subs_warn_due (ps_subs_t *self, int64_t now_ms, uint64_t *since)
{
    uint64_t total = self->refused[PS_SUBS_TOO_LONG] + self->refused[PS_SUBS_FULL] +
                     self->refused[PS_SUBS_CONN];
    if (total == self->refused_at_warn ||
        (self->warned_once && now_ms - self->last_warn_ms < S_WARN_EVERY_MS))
        return false;
    *since = total - self->refused_at_warn;
    self->refused_at_warn = total;
    self->warned_once = true;
    self->last_warn_ms = now_ms;
    return true;
}

int ps_subs_tcp_port (const char *endpoint)
{
    const char *scheme = "tcp://";
    if (!endpoint || strncmp (endpoint, scheme, strlen (scheme)) != 0)
        return -1;
    const char *colon = strrchr (endpoint, ':');
    char *end;
    long port = colon ? strtol (colon + 1, &end, 10) : 0;
    if (!colon || colon < endpoint + strlen (scheme) || end == colon + 1 || *end != '\0' ||
        port < 1 || port > 65535)
        return -1;
    return (int) port;
}

/* ---- The feed's connections, as the kernel sees them --------------------- */

/* One established TCP connection on the feed's port. */
typedef struct {
    int fd;
    uint64_t received; /* bytes received (tcpi_bytes_received) */
    uint32_t idle_ms;  /* since data was last received */
    int unread;        /* bytes received that libzmq has not read yet */
} s_conn_t;

/* The local TCP port of socket FD, or -1 when it is not an IP socket. */
static int s_local_port (int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname (fd, (struct sockaddr *) &addr, &len) != 0)
        return -1;
    if (addr.ss_family == AF_INET)
        return ntohs (((struct sockaddr_in *) &addr)->sin_port);
    if (addr.ss_family == AF_INET6)
        return ntohs (((struct sockaddr_in6 *) &addr)->sin6_port);
    return -1;
}

/*  Calls FN for each established TCP connection of this process on local
    port PORT. libzmq owns the connections' descriptors and does not name
    them to the application: they are found among the process's own. */
static void s_each_conn (int port, void (*fn) (const s_conn_t *conn, void *arg), void *arg)
{
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        char *end;
        long fd = strtol (entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || fd == dirfd (dir) ||
            s_local_port ((int) fd) != port)
            continue;
        struct tcp_info info;
        socklen_t len = sizeof info;
        memset (&info, 0, sizeof info);
        if (getsockopt ((int) fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
            info.tcpi_state != S_TCP_ESTABLISHED)
            continue;
        s_conn_t conn = {(int) fd, info.tcpi_bytes_received, info.tcpi_last_data_recv, 0};
        if (ioctl ((int) fd, FIONREAD, &conn.unread) != 0)
            conn.unread = 0;
        fn (&conn, arg);
    }
    closedir (dir);
}

/* Writes FD's peer as "address:port" into PEER. */
static void s_peer_name (int fd, char *peer, size_t size)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    memset (&addr, 0, sizeof addr);
    if (getpeername (fd, (struct sockaddr *) &addr, &len) == 0 && addr.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *) &addr;
        inet_ntop (AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs (in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &addr;
        inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs (in6->sin6_port);
    }
    snprintf (peer, size, "%s:%d", host, port);
}

/*  Closes connection CONN and describes it in *PEER. shutdown, not close:
    the descriptor stays libzmq's, which sees the end of the stream, drops
    the connection and closes it itself. What the peer sent that nobody
    read yet is read and dropped: Linux still delivers it after a
    shutdown, and libzmq would take it as more subscriptions (a flooder
    can have megabytes queued); data arriving after the shutdown resets
    the connection, so this ends. libzmq may read part of it at the same
    time: the stream it sees is then cut short or garbled, and it drops
    the connection either way. Returns 0, or -1 when the shutdown failed. */
static int s_drop (const s_conn_t *conn, ps_subs_peer_t *peer)
{
    peer->fd = conn->fd;
    peer->bytes = conn->received;
    s_peer_name (conn->fd, peer->peer, sizeof peer->peer);
    if (shutdown (conn->fd, SHUT_RDWR) != 0)
        return -1;
    char buf[16384];
    for (size_t total = 0; total < S_DISCARD_MAX;) {
        ssize_t n = recv (conn->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0)
            break;
        total += (size_t) n;
    }
    return 0;
}

/*  Closes the feed connection on descriptor FD, if it is one (an
    established TCP connection on local port PORT: libzmq may have closed
    it and reused the number meanwhile, for a connection the monitor will
    announce). Returns 0 with *PEER, or -1. */
static int s_shutdown_fd (int fd, int port, ps_subs_peer_t *peer)
{
    if (port < 0 || s_local_port (fd) != port)
        return -1;
    struct tcp_info info;
    socklen_t len = sizeof info;
    memset (&info, 0, sizeof info);
    if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
        info.tcpi_state != S_TCP_ESTABLISHED)
        return -1;
    s_conn_t conn = {fd, info.tcpi_bytes_received, info.tcpi_last_data_recv, 0};
    return s_drop (&conn, peer);
}

typedef struct {
    unsigned recent_ms;
    uint64_t min_bytes;
    s_conn_t best;
    bool found;
} s_busiest_t;

/*  Of the connections still sending (data came lately, or some waits for
    libzmq: a flooder held back by TCP flow control may have sent nothing
    for a while), the one that has sent the most: a flood outweighs a
    subscriber connecting or subscribing at the same moment. One that
    sent less than MIN_BYTES in all is left alone. */
static void s_busiest (const s_conn_t *conn, void *arg)
{
    s_busiest_t *search = arg;
    if ((conn->idle_ms > search->recent_ms && conn->unread == 0) ||
        conn->received < search->min_bytes)
        return;
    if (!search->found || conn->received > search->best.received) {
        search->best = *conn;
        search->found = true;
    }
}

int ps_subs_drop_busy_peer (int port, unsigned recent_ms, uint64_t min_bytes, ps_subs_peer_t *peer)
{
    s_busiest_t search = {.recent_ms = recent_ms, .min_bytes = min_bytes};
    s_each_conn (port, s_busiest, &search);
    return search.found ? s_drop (&search.best, peer) : -1;
}

/* ---- The guard ------------------------------------------------------------ */

/* What the guard knows of the connection on one descriptor. */
typedef struct {
    uint64_t scan;  /* the scan that last saw it; a gap means a new connection */
    uint64_t taken; /* bytes libzmq had read from it then */
    int64_t tokens; /* bytes it may still send (token bucket) */
} s_watch_t;

/* A connection libzmq read from during the current scan. */
typedef struct {
    s_conn_t conn;
    uint64_t taken; /* bytes read since the previous scan */
} s_taker_t;

struct ps_subs_guard_t {
    int port;
    ps_subs_limits_t limits;
    pthread_t thread;
    atomic_bool stop;
    atomic_uint_fast64_t closed;
    /* The thread's own: */
    s_watch_t *watch; /* indexed by descriptor */
    size_t capacity;
    s_taker_t *takers; /* this scan's */
    size_t ntakers, takers_capacity;
    uint64_t scan;
    int64_t elapsed_ms; /* since the previous scan */
    int64_t tokens;     /* bytes all connections together may still send */
};

/* Refills a token bucket of BURST for ELAPSED_MS at RATE bytes a second. */
static int64_t s_refill (int64_t tokens, uint64_t burst, uint64_t rate, int64_t elapsed_ms)
{
    tokens += (int64_t) (rate * (uint64_t) elapsed_ms / 1000);
    return tokens > (int64_t) burst ? (int64_t) burst : tokens;
}

static void s_guard_drop (ps_subs_guard_t *self, const s_conn_t *conn)
{
    ps_subs_peer_t peer;
    if (s_drop (conn, &peer) == 0) {
        atomic_fetch_add (&self->closed, 1);
        self->watch[conn->fd].scan = 0; /* what comes next on it is new */
    }
}

/* Sees one connection: its own bucket, and what it adds to the total. */
static void s_guard_check (const s_conn_t *conn, void *arg)
{
    ps_subs_guard_t *self = arg;
    if ((size_t) conn->fd >= self->capacity) {
        size_t capacity = (size_t) conn->fd * 2 + 64;
        s_watch_t *watch = realloc (self->watch, capacity * sizeof *watch);
        if (!watch)
            return;
        memset (watch + self->capacity, 0, (capacity - self->capacity) * sizeof *watch);
        self->watch = watch;
        self->capacity = capacity;
    }
    /* What libzmq read counts, not what waits in the kernel: that is
       dropped if the connection is closed. */
    uint64_t taken = conn->received - (uint64_t) conn->unread;
    s_watch_t *w = &self->watch[conn->fd];
    if (w->scan + 1 != self->scan || taken < w->taken) {
        /* New since the last scan: what it sent so far counts. */
        w->tokens = (int64_t) self->limits.burst;
        w->taken = 0;
    } else
        w->tokens = s_refill (w->tokens, self->limits.burst, self->limits.rate, self->elapsed_ms);
    uint64_t delta = taken - w->taken;
    w->tokens -= (int64_t) delta;
    w->taken = taken;
    w->scan = self->scan;
    self->tokens -= (int64_t) delta;
    if (w->tokens < 0)
        s_guard_drop (self, conn);
    else if (delta > 0) {
        if (self->ntakers == self->takers_capacity) {
            size_t capacity = self->takers_capacity * 2 + 16;
            s_taker_t *takers = realloc (self->takers, capacity * sizeof *takers);
            if (!takers)
                return;
            self->takers = takers;
            self->takers_capacity = capacity;
        }
        self->takers[self->ntakers++] = (s_taker_t){*conn, delta};
    }
}

static int s_by_taken_desc (const void *a, const void *b)
{
    uint64_t x = ((const s_taker_t *) a)->taken, y = ((const s_taker_t *) b)->taken;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void *s_guard_run (void *arg)
{
    ps_subs_guard_t *self = arg;
    int64_t last = ps_clock_ms ();
    while (!atomic_load (&self->stop)) {
        nanosleep (&(struct timespec){0, S_GUARD_MS * 1000 * 1000}, NULL);
        int64_t now = ps_clock_ms ();
        self->elapsed_ms = now - last;
        last = now;
        self->scan++;
        self->ntakers = 0;
        self->tokens = s_refill (self->tokens, self->limits.total_burst, self->limits.total_rate,
                                 self->elapsed_ms);
        s_each_conn (self->port, s_guard_check, self);
        /* Over the total: the connections that sent the most in this scan
           go, until what they sent covers the excess (a flood, not the
           subscribers that happened to subscribe alongside it). */
        if (self->ntakers > 1)
            qsort (self->takers, self->ntakers, sizeof *self->takers, s_by_taken_desc);
        for (size_t i = 0; self->tokens < 0 && i < self->ntakers; i++) {
            s_guard_drop (self, &self->takers[i].conn);
            self->tokens += (int64_t) self->takers[i].taken;
        }
    }
    return NULL;
}

ps_subs_guard_t *ps_subs_guard_new (int port, const ps_subs_limits_t *limits)
{
    ps_subs_guard_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->port = port;
    self->limits = *limits;
    self->tokens = (int64_t) limits->total_burst;
    /* Scans count from 1: a descriptor never seen has scan 0. */
    self->scan = 1;
    atomic_init (&self->stop, false);
    atomic_init (&self->closed, 0);
    if (pthread_create (&self->thread, NULL, s_guard_run, self) != 0) {
        free (self);
        return NULL;
    }
    return self;
}

void ps_subs_guard_destroy (ps_subs_guard_t **self_p)
{
    ps_subs_guard_t *self = *self_p;
    if (!self)
        return;
    atomic_store (&self->stop, true);
    pthread_join (self->thread, NULL);
    free (self->watch);
    free (self->takers);
    free (self);
    *self_p = NULL;
}

uint64_t ps_subs_guard_closed (ps_subs_guard_t *self)
{
    return atomic_load (&self->closed);
}
