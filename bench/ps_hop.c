/*  ps_hop: one relay of the ceiling chain, paystat-ingest's or
    paystat-compute's place with none of their work.

    A ROUTER takes batches (bound, as ingest and compute do); each is
    answered at once to its sender with a frame of --reply-bytes (ingest's
    ack, compute's progress) and passed on over a DEALER (connected) as a
    frame of --out-bytes, or of --item-bytes per item when set (compute's
    update: one indicator per report). Only the ps_ceiling header is read
    and copied; the rest of every frame is left as it comes. Progress
    frames coming back from downstream are read and dropped. */

#include "ps_ceiling.h"
#include "ps_config.h"
#include "ps_log.h"
#include "ps_proto.h"
#include "ps_signal.h"
#include "ps_sock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Messages handled per poll round at most, as paystat's services do. */
#define S_DRAIN_MAX 256

typedef struct {
    void *in;
    void *out;
    long reply_bytes;
    long out_bytes;
    long item_bytes;
    char *reply;
    char *frame;
    size_t frame_cap;
    uint64_t batches;
} s_hop_t;

/* Sends HDR's answer back to the sender named by ID. */
static void s_reply (s_hop_t *self, zmq_msg_t *id, const ps_ceiling_hdr_t *hdr)
{
    ps_ceiling_write (self->reply, (size_t) self->reply_bytes, hdr);
    if (ps_sock_send (self->in, zmq_msg_data (id), zmq_msg_size (id), ZMQ_SNDMORE) == 0)
        ps_sock_send (self->in, self->reply, (size_t) self->reply_bytes, 0);
}

/* Passes BODY on downstream as a frame of the configured size. */
static int s_forward (s_hop_t *self, zmq_msg_t *body, const ps_ceiling_hdr_t *hdr)
{
    size_t size = self->item_bytes  ? PS_CEILING_HDR + (size_t) self->item_bytes * hdr->nitems
                  : self->out_bytes ? (size_t) self->out_bytes
                                    : zmq_msg_size (body);
    if (size > self->frame_cap) {
        char *grown = realloc (self->frame, size);
        if (!grown)
            return -1;
        /* Fresh bytes are zeroed once, so the frame content is stable. */
        memset (grown + self->frame_cap, 0, size - self->frame_cap);
        self->frame = grown;
        self->frame_cap = size;
    }
    ps_ceiling_write (self->frame, size, hdr);
    return ps_sock_send (self->out, self->frame, size, 0);
}

/* Handles one message [id, batch]; returns -1 when nothing was waiting. */
static int s_handle (s_hop_t *self)
{
    zmq_msg_t id, body;
    zmq_msg_init (&id);
    zmq_msg_init (&body);
    int rc = -1;
    if (zmq_msg_recv (&id, self->in, ZMQ_DONTWAIT) < 0)
        goto done;
    rc = 0;
    ps_ceiling_hdr_t hdr;
    if (!zmq_msg_more (&id) || zmq_msg_recv (&body, self->in, 0) < 0 ||
        ps_ceiling_read (zmq_msg_data (&body), zmq_msg_size (&body), &hdr) != 0) {
        ps_warn ("dropped a frame without a ceiling header", NULL);
        goto done;
    }
    s_reply (self, &id, &hdr);
    if (s_forward (self, &body, &hdr) != 0)
        ps_error ("cannot forward", "error=\"%s\"", zmq_strerror (errno));
    self->batches++;
done:
    zmq_msg_close (&id);
    zmq_msg_close (&body);
    return rc;
}

static void s_drop_progress (s_hop_t *self)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, self->out, ZMQ_DONTWAIT) >= 0)
        ;
    zmq_msg_close (&msg);
}

int main (int argc, char **argv)
{
    ps_option_t opts[] = {
        {"bind", NULL, "tcp://127.0.0.1:7411", "where batches arrive (ROUTER, bind)", false, NULL},
        {"connect", NULL, "tcp://127.0.0.1:7412", "next hop (DEALER, connect)", false, NULL},
        {"reply-bytes", NULL, "40", "size of the answer to each batch (ack or progress)", false,
         NULL},
        {"out-bytes", NULL, "0", "size of each frame passed on; 0 = as received", false, NULL},
        {"item-bytes", NULL, "0", "when > 0, frames passed on hold this many bytes per item", false,
         NULL},
        {"hwm", NULL, "1000", "messages queued per socket (paystat-ingest's --queue)", false, NULL},
        PS_OPTION_END};
    int first;
    int rc = ps_config_parse (opts, argc, argv, "ps_hop", "[options]",
                              "A relay of the ceiling chain: answers and forwards frames of "
                              "paystat's sizes without reading them.",
                              &first);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    s_hop_t self = {0};
    long hwm;
    if (ps_config_long (opts, "reply-bytes", PS_CEILING_HDR, PS_MAX_FRAME, &self.reply_bytes) ||
        ps_config_long (opts, "out-bytes", 0, PS_MAX_FRAME, &self.out_bytes) ||
        ps_config_long (opts, "item-bytes", 0, 65536, &self.item_bytes) ||
        ps_config_long (opts, "hwm", 1, 10000000, &hwm))
        return 2;
    if (self.out_bytes && self.out_bytes < PS_CEILING_HDR) {
        fprintf (stderr, "ps_hop: --out-bytes must be 0 or at least %d\n", PS_CEILING_HDR);
        return 2;
    }
    ps_log_init ("hop", PS_LOG_WARN);
    ps_signal_install ();
    self.reply = calloc (1, (size_t) self.reply_bytes);
    void *ctx = zmq_ctx_new ();
    ps_sock_opts_t in_opts = {.hwm = (int) hwm, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    ps_sock_opts_t out_opts = {.hwm = (int) hwm, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    self.in = ps_sock_new (ctx, ZMQ_ROUTER, ps_config_get (opts, "bind")->value, true, &in_opts);
    self.out =
        ps_sock_new (ctx, ZMQ_DEALER, ps_config_get (opts, "connect")->value, false, &out_opts);
    rc = 1;
    if (self.reply && self.in && self.out) {
        rc = 0;
        while (!ps_signal_stop ()) {
            zmq_pollitem_t items[] = {{self.in, 0, ZMQ_POLLIN, 0}, {self.out, 0, ZMQ_POLLIN, 0}};
            if (zmq_poll (items, 2, 1000) <= 0)
                continue;
            if (items[1].revents & ZMQ_POLLIN)
                s_drop_progress (&self);
            for (int i = 0; i < S_DRAIN_MAX && (items[0].revents & ZMQ_POLLIN); i++)
                if (s_handle (&self) != 0)
                    break;
        }
        printf ("batches=%llu\n", (unsigned long long) self.batches);
    }
    ps_sock_destroy (&self.in);
    ps_sock_destroy (&self.out);
    zmq_ctx_term (ctx);
    free (self.reply);
    free (self.frame);
    return rc;
}
