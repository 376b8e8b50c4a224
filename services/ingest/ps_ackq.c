/*  ps_ackq: acks waiting for the group commit; see ps_ackq.h. */

#include "ps_ackq.h"
#include "ps_sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;     /* routing frames then the ack, back to back */
    size_t *lens;   /* length of each routing frame */
    int nenv;       /* routing frames */
    size_t ack_len; /* the ack is the last ack_len bytes of data */
    char producer[PS_ID_MAX + 1];
    uint64_t seq;
} s_item_t;

struct ps_ackq_t {
    s_item_t *items;
    size_t n;
    size_t cap;
};

ps_ackq_t *ps_ackq_new (void)
{
    return calloc (1, sizeof (ps_ackq_t));
}

static void s_clear (ps_ackq_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        free (self->items[i].data);
        free (self->items[i].lens);
    }
    self->n = 0;
}

void ps_ackq_destroy (ps_ackq_t **self_p)
{
    ps_ackq_t *self = *self_p;
    if (!self)
        return;
    s_clear (self);
    free (self->items);
    free (self);
    *self_p = NULL;
}

int ps_ackq_push (ps_ackq_t *self, zmq_msg_t *env, int nenv, const char *producer, uint64_t seq,
                  const void *ack, size_t ack_len)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 64;
        s_item_t *items = realloc (self->items, cap * sizeof *items);
        if (!items)
            return -1;
        self->items = items;
        self->cap = cap;
    }
    size_t total = ack_len;
    for (int i = 0; i < nenv; i++)
        total += zmq_msg_size (&env[i]);
    s_item_t *it = &self->items[self->n];
    memset (it, 0, sizeof *it);
    it->data = malloc (total ? total : 1);
    it->lens = malloc ((size_t) (nenv ? nenv : 1) * sizeof *it->lens);
    if (!it->data || !it->lens) {
        free (it->data);
        free (it->lens);
        return -1;
    }
    size_t off = 0;
    for (int i = 0; i < nenv; i++) {
        zmq_msg_t *m = &env[i];
        it->lens[i] = zmq_msg_size (m);
        memcpy (it->data + off, zmq_msg_data (m), it->lens[i]);
        off += it->lens[i];
    }
    memcpy (it->data + off, ack, ack_len);
    it->nenv = nenv;
    it->ack_len = ack_len;
    snprintf (it->producer, sizeof it->producer, "%s", producer);
    it->seq = seq;
    self->n++;
    return 0;
}

size_t ps_ackq_size (const ps_ackq_t *self)
{
    return self->n;
}

void ps_ackq_flush (ps_ackq_t *self, void *sock, ps_ingest_t *ingest, const char *refuse_reason)
{
    for (size_t i = 0; i < self->n; i++) {
        const s_item_t *it = &self->items[i];
        const char *p = it->data;
        int rc = 0;
        for (int f = 0; f < it->nenv && rc == 0; f++) {
            rc = ps_sock_send (sock, p, it->lens[f], ZMQ_SNDMORE | ZMQ_DONTWAIT);
            p += it->lens[f];
        }
        if (rc != 0)
            continue; /* a ROUTER drops replies to peers that have gone */
        if (refuse_reason && it->seq) {
            ps_ingest_refuse (ingest, it->producer, it->seq, refuse_reason);
            const msgpack_sbuffer *ack = ps_ingest_ack (ingest);
            ps_sock_send (sock, ack->data, ack->size, ZMQ_DONTWAIT);
        } else
            ps_sock_send (sock, p, it->ack_len, ZMQ_DONTWAIT);
    }
    s_clear (self);
}
