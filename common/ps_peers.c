/*  ps_peers: connection count of a bound socket; see ps_peers.h. */

#include "ps_peers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct ps_peers_t {
    void *sock;    /* the monitored socket */
    void *monitor; /* PAIR: its events */
    size_t open;
};

ps_peers_t *ps_peers_new (void *ctx, void *sock, const char *name)
{
    ps_peers_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    char endpoint[128];
    snprintf (endpoint, sizeof endpoint, "inproc://paystat-peers-%s-%p", name, sock);
    self->sock = sock;
    if (zmq_socket_monitor (sock, endpoint, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0)
        goto err;
    self->monitor = zmq_socket (ctx, ZMQ_PAIR);
    int linger = 0;
    if (!self->monitor || zmq_setsockopt (self->monitor, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect (self->monitor, endpoint) != 0)
        goto err;
    return self;
err:;
    int e = errno;
    ps_peers_destroy (&self);
    errno = e;
    return NULL;
}

void ps_peers_destroy (ps_peers_t **self_p)
{
    ps_peers_t *self = *self_p;
    if (!self)
        return;
    zmq_socket_monitor (self->sock, NULL, 0);
    if (self->monitor)
        zmq_close (self->monitor);
    free (self);
    *self_p = NULL;
}

void *ps_peers_socket (ps_peers_t *self)
{
    return self ? self->monitor : NULL;
}

/*  An event is two frames: 6 bytes (event number, 16 bits, then a 32-bit
    value, host order) and the peer's endpoint. */
void ps_peers_read (ps_peers_t *self)
{
    if (!self)
        return;
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, self->monitor, ZMQ_DONTWAIT) >= 0) {
        uint16_t event = 0;
        bool first = zmq_msg_size (&msg) == 6;
        if (first)
            memcpy (&event, zmq_msg_data (&msg), sizeof event);
        while (zmq_msg_more (&msg) && zmq_msg_recv (&msg, self->monitor, 0) >= 0)
            ;
        if (!first)
            continue;
        if (event == ZMQ_EVENT_ACCEPTED)
            self->open++;
        else if (event == ZMQ_EVENT_DISCONNECTED && self->open > 0)
            self->open--;
    }
    zmq_msg_close (&msg);
}

size_t ps_peers_count (const ps_peers_t *self)
{
    return self ? self->open : 0;
}
