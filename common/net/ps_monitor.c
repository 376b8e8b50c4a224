/*  ps_monitor: a libzmq socket monitor; see ps_monitor.h. */

#include "ps_monitor.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct ps_monitor_t {
    void *sock; /* the monitored socket */
    void *pair; /* its events */
};

ps_monitor_t *ps_monitor_new (void *ctx, void *sock, int events)
{
    ps_monitor_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    /* A name of its own: a closed monitor's endpoint may not be free yet. */
    static atomic_uint next;
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "inproc://paystat-monitor-%u",
              atomic_fetch_add (&next, 1));
    self->sock = sock;
    int linger = 0;
    if (zmq_socket_monitor (sock, endpoint, events) != 0 ||
        !(self->pair = zmq_socket (ctx, ZMQ_PAIR)) ||
        zmq_setsockopt (self->pair, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect (self->pair, endpoint) != 0) {
        int e = zmq_errno ();
        ps_monitor_destroy (&self);
        errno = e;
        return NULL;
    }
    return self;
}

void ps_monitor_destroy (ps_monitor_t **self_p)
{
    ps_monitor_t *self = *self_p;
    if (!self)
        return;
    zmq_socket_monitor (self->sock, NULL, 0);
    if (self->pair)
        zmq_close (self->pair);
    free (self);
    *self_p = NULL;
}

void *ps_monitor_socket (ps_monitor_t *self)
{
    return self->pair;
}

/*  An event is two frames: 6 bytes (the event, 16 bits, then its 32-bit
    value, in host order) and the peer's endpoint. */
bool ps_monitor_next (ps_monitor_t *self, uint16_t *event, uint32_t *value)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    bool got = false;
    while (!got && zmq_msg_recv (&msg, self->pair, ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_size (&msg) == 6) {
            memcpy (event, zmq_msg_data (&msg), sizeof *event);
            memcpy (value, (const char *) zmq_msg_data (&msg) + 2, sizeof *value);
            got = true;
        }
        while (zmq_msg_more (&msg) && zmq_msg_recv (&msg, self->pair, 0) >= 0)
            ;
    }
    zmq_msg_close (&msg);
    return got;
}
