/*  ps_subs: the feed's subscriptions, bounded; see ps_subs.h. */

#include "ps_subs.h"

#include "ps_strmap.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* tcp_info.tcpi_state of an established connection (the kernel's
   TCP_ESTABLISHED, which linux/tcp.h does not export). */
#define S_TCP_ESTABLISHED 1
/* Only a connection that received data this recently can be the sender
   of the subscription being read: an idle subscriber is never evicted. */
#define S_RECENT_MS 250
/* After an eviction, what libzmq already took from that connection (at
   most PS_SUBS_RCVHWM subscriptions) is still arriving for a moment: no
   other connection is evicted meanwhile. */
#define S_EVICT_GAP_MS 20
/* Most bytes read from a connection being closed (more than the largest
   socket receive buffer): a bound on the time it takes. */
#define S_DISCARD_MAX (64u << 20)
/* Refusals are logged at most this often. */
#define S_WARN_EVERY_MS 10000

/* Values of the map: what was decided for the prefix. */
#define S_HELD_ACCEPTED ((void *) 1)
#define S_HELD_REFUSED  ((void *) 2)

struct ps_subs_t {
    ps_strmap_t *held; /* prefix -> S_HELD_ACCEPTED or S_HELD_REFUSED */
    size_t max;
    int port;
    uint64_t refused[PS_SUBS_VERDICTS];
    uint64_t evicted;
    int64_t last_evict_ms;
    bool evicted_once;
    int64_t last_warn_ms;
    bool warned_once;
    uint64_t refused_at_warn;
};

ps_subs_t *ps_subs_new (size_t max, int port)
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
    self->port = port;
    return self;
}

void ps_subs_destroy (ps_subs_t **self_p)
{
    ps_subs_t *self = *self_p;
    if (!self)
        return;
    ps_strmap_destroy (&self->held);
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
       fits once the set, counting it, is back within the bound. */
    if (ps_strmap_size (self->held) > self->max)
        return s_refuse (self, slot, PS_SUBS_FULL);
    *slot = S_HELD_ACCEPTED;
    return PS_SUBS_ACCEPTED;
}

bool ps_subs_unsubscribe (ps_subs_t *self, const char *prefix, size_t len)
{
    return ps_strmap_remove (self->held, prefix, len) == S_HELD_ACCEPTED;
}

size_t ps_subs_size (const ps_subs_t *self)
{
    return ps_strmap_size (self->held);
}

uint64_t ps_subs_refused (const ps_subs_t *self, ps_subs_verdict_t reason)
{
    return reason > PS_SUBS_ACCEPTED && reason < PS_SUBS_VERDICTS ? self->refused[reason] : 0;
}

uint64_t ps_subs_evicted (const ps_subs_t *self)
{
    return self->evicted;
}

bool ps_subs_evict (ps_subs_t *self, int64_t now_ms, ps_subs_peer_t *peer)
{
    if (self->port < 0 || (self->evicted_once && now_ms - self->last_evict_ms < S_EVICT_GAP_MS))
        return false;
    if (ps_subs_drop_busy_peer (self->port, S_RECENT_MS, peer) != 0)
        return false;
    self->evicted++;
    self->evicted_once = true;
    self->last_evict_ms = now_ms;
    return true;
}

bool ps_subs_warn_due (ps_subs_t *self, int64_t now_ms, uint64_t *since)
{
    uint64_t total = self->refused[PS_SUBS_TOO_LONG] + self->refused[PS_SUBS_FULL];
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

/*  Reads and drops what FD's peer sent that nobody read yet. Linux still
    delivers it after a shutdown, and libzmq would take it as more
    subscriptions (a flooder can have megabytes queued); data arriving
    after the shutdown resets the connection, so this ends. libzmq may
    read part of it at the same time: the stream it sees is then cut
    short or garbled, and it drops the connection either way. */
static void s_discard_input (int fd)
{
    char buf[16384];
    for (size_t total = 0; total < S_DISCARD_MAX;) {
        ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0)
            break;
        total += (size_t) n;
    }
}

/* Writes FD's peer as "address:port" into PEER. */
static void s_peer_name (int fd, char *peer, size_t size)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
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

int ps_subs_drop_busy_peer (int port, unsigned recent_ms, ps_subs_peer_t *peer)
{
    /* libzmq owns the connections' descriptors and does not name them to
       the application: find them among the process's own. */
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir)
        return -1;
    int best = -1;
    uint64_t best_bytes = 0;
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
        int unread = 0;
        if (getsockopt ((int) fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
            info.tcpi_state != S_TCP_ESTABLISHED)
            continue;
        /* Still sending: data came lately, or is waiting for libzmq (a
           flooder held back by TCP flow control may have sent nothing
           for a while, its bytes queued here). */
        ioctl ((int) fd, FIONREAD, &unread);
        fprintf (stderr, "DBG fd=%ld last=%u unread=%d bytes=%llu\n", fd, info.tcpi_last_data_recv, unread, (unsigned long long) info.tcpi_bytes_received);
        if (info.tcpi_last_data_recv > recent_ms &&
            (unread == 0))
            continue;
        /* Of those, the one that has sent the most: a flood outweighs a
           subscriber connecting or subscribing at the same moment. */
        if (best < 0 || info.tcpi_bytes_received > best_bytes) {
            best = (int) fd;
            best_bytes = info.tcpi_bytes_received;
        }
    }
    closedir (dir);
    fprintf (stderr, "DBG best=%d\n", best);
    if (best < 0)
        return -1;
    peer->fd = best;
    peer->bytes = best_bytes;
    s_peer_name (best, peer->peer, sizeof peer->peer);
    /* shutdown, not close: the descriptor stays libzmq's, which sees the
       end of the stream, drops the connection and closes it itself. */
    if (shutdown (best, SHUT_RDWR) != 0)
        return -1;
    s_discard_input (best);
    return 0;
}
