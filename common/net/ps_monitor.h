/*  ps_monitor: a libzmq socket monitor, read without blocking.

    libzmq tells about a socket's connections (accepted, disconnected,
    handshake failed, ...) only through a monitor: events sent on an
    inproc PAIR socket that the socket's owner polls (ps_monitor_socket)
    and reads (ps_monitor_next) in its own loop. Publish counts its feed's
    connections with it; `paystat send` learns that ingest refused its
    key. Events the monitor could not queue are dropped by libzmq past its
    high-water mark, so counts built on them may drift. */

#ifndef PS_MONITOR_H_INCLUDED
#define PS_MONITOR_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct ps_monitor_t ps_monitor_t;

/*  Starts monitoring EVENTS (ZMQ_EVENT_* bits) of SOCK, a socket of
    context CTX, from the thread that owns SOCK. Returns NULL with errno
    set when the monitor cannot be started. */
ps_monitor_t *ps_monitor_new (void *ctx, void *sock, int events);

/*  Stops the monitor and sets *SELF_P to NULL. NULL-safe. Call it before
    the monitored socket is closed. */
void ps_monitor_destroy (ps_monitor_t **self_p);

/*  The PAIR socket to poll for ZMQ_POLLIN. */
void *ps_monitor_socket (ps_monitor_t *self);

/*  Reads the next event waiting, without blocking: returns true and sets
    *EVENT (one ZMQ_EVENT_* bit) and *VALUE (its value: a descriptor, an
    error or a status code), false when none is waiting. */
bool ps_monitor_next (ps_monitor_t *self, uint16_t *event, uint32_t *value);

#endif
