/*  ps_peers: counts the connections open on a bound socket, through a
    libzmq socket monitor (accepted minus disconnected), for /metrics.

    libzmq offers no way to ask a socket how many peers it has; the
    monitor reports each accept and each disconnection as an event on an
    inproc PAIR socket, which the owner polls (ps_peers_socket) and reads
    (ps_peers_read) in its loop. Events the monitor could not queue
    (libzmq drops them past its high-water mark) make the count drift;
    it never goes below zero. */

#ifndef PS_PEERS_H_INCLUDED
#define PS_PEERS_H_INCLUDED

#include <stddef.h>

typedef struct ps_peers_t ps_peers_t;

/*  Starts monitoring SOCK (bound, in context CTX); NAME makes the inproc
    endpoint unique within the process. Returns NULL with errno set when
    the monitor cannot be started. */
ps_peers_t *ps_peers_new (void *ctx, void *sock, const char *name);

/*  Stops the monitor and sets *SELF_P to NULL. NULL-safe. Call it before
    SOCK is closed. */
void ps_peers_destroy (ps_peers_t **self_p);

/*  The PAIR socket to poll for ZMQ_POLLIN (NULL for a NULL SELF). */
void *ps_peers_socket (ps_peers_t *self);

/*  Reads every event waiting, without blocking. NULL-safe. */
void ps_peers_read (ps_peers_t *self);

/*  Connections open now: accepted and not yet disconnected. */
size_t ps_peers_count (const ps_peers_t *self);

#endif
