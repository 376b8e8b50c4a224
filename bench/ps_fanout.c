/*  ps_fanout: the last hop of the ceiling chain, paystat-publish's place
    with none of its work.

    A ROUTER takes update frames (bound, as publish does); each is answered
    with a progress frame of --reply-bytes, and for each of its items one
    message [topic of --topic-bytes, body of --body-bytes] goes out on a
    PUB socket, the body starting with the update's ps_ceiling header and
    the message's number. */

#include "ps_ceiling.h"
#include "ps_config.h"
#include "ps_log.h"
#include "ps_proto.h"
#include "ps_signal.h"
#include "ps_sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_DRAIN_MAX 256

typedef struct {
    void *in;
    void *feed;
    size_t reply_bytes;
    size_t topic_bytes;
    size_t body_bytes;
    char *reply;
    char *topic;
    char *body;
    uint64_t msgseq;
} s_fanout_t;

static int s_handle (s_fanout_t *self)
{
    zmq_msg_t id, update;
    zmq_msg_init (&id);
    zmq_msg_init (&update);
    int rc = -1;
    if (zmq_msg_recv (&id, self->in, ZMQ_DONTWAIT) < 0)
        goto done;
    rc = 0;
    ps_ceiling_hdr_t hdr;
    if (!zmq_msg_more (&id) || zmq_msg_recv (&update, self->in, 0) < 0 ||
        ps_ceiling_read (zmq_msg_data (&update), zmq_msg_size (&update), &hdr) != 0) {
        ps_warn ("dropped a frame without a ceiling header", NULL);
        goto done;
    }
    for (uint32_t i = 0; i < hdr.nitems; i++) {
        hdr.msgseq = ++self->msgseq;
        ps_ceiling_write (self->body, self->body_bytes, &hdr);
        if (ps_sock_send (self->feed, self->topic, self->topic_bytes, ZMQ_SNDMORE) == 0)
            ps_sock_send (self->feed, self->body, self->body_bytes, 0);
    }
    ps_ceiling_write (self->reply, self->reply_bytes, &hdr);
    if (ps_sock_send (self->in, zmq_msg_data (&id), zmq_msg_size (&id), ZMQ_SNDMORE) == 0)
        ps_sock_send (self->in, self->reply, self->reply_bytes, 0);
done:
    zmq_msg_close (&id);
    zmq_msg_close (&update);
    return rc;
}

int main (int argc, char **argv)
{
    ps_option_t opts[] = {
        {"bind", NULL, "tcp://127.0.0.1:7413", "where updates arrive (ROUTER, bind)", false, NULL},
        {"feed", NULL, "tcp://127.0.0.1:7414", "subscribers' feed (PUB, bind)", false, NULL},
        {"reply-bytes", NULL, "40", "size of the progress frame answering each update", false,
         NULL},
        {"topic-bytes", NULL, "40", "size of each message's topic", false, NULL},
        {"body-bytes", NULL, "300", "size of each message's body", false, NULL},
        {"feed-hwm", NULL, "100000", "messages queued per subscriber (paystat-publish's)", false,
         NULL},
        PS_OPTION_END};
    int first;
    int rc = ps_config_parse (opts, argc, argv, "ps_fanout", "[options]",
                              "The publisher of the ceiling chain: one feed message of paystat's "
                              "sizes per item, no work.",
                              &first);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    long reply, topic, body, hwm;
    if (ps_config_long (opts, "reply-bytes", PS_CEILING_HDR, 65536, &reply) ||
        ps_config_long (opts, "topic-bytes", 1, PS_TOPIC_MAX, &topic) ||
        ps_config_long (opts, "body-bytes", PS_CEILING_HDR, 65536, &body) ||
        ps_config_long (opts, "feed-hwm", 1, 100000000, &hwm))
        return 2;
    ps_log_init ("fanout", PS_LOG_WARN);
    ps_signal_install ();
    s_fanout_t self = {0};
    self.reply_bytes = (size_t) reply;
    self.topic_bytes = (size_t) topic;
    self.body_bytes = (size_t) body;
    self.reply = calloc (1, self.reply_bytes);
    self.body = calloc (1, self.body_bytes);
    self.topic = malloc (self.topic_bytes);
    if (self.topic)
        /* A cell-like topic; no subscriber filters on it. */
        for (size_t i = 0; i < self.topic_bytes; i++)
            self.topic[i] = "CEIL/2015-06-30/card=domestic,channel=web,"[i % 42];
    void *ctx = zmq_ctx_new ();
    ps_sock_opts_t in_opts = {.hwm = 0, .maxmsgsize = PS_MAX_FRAME, .linger_ms = 0};
    ps_sock_opts_t feed_opts = {.hwm = (int) hwm, .maxmsgsize = -1, .linger_ms = 0};
    self.in = ps_sock_new (ctx, ZMQ_ROUTER, ps_config_get (opts, "bind")->value, true, &in_opts);
    self.feed = ps_sock_new (ctx, ZMQ_PUB, ps_config_get (opts, "feed")->value, true, &feed_opts);
    rc = 1;
    if (self.reply && self.body && self.topic && self.in && self.feed) {
        rc = 0;
        while (!ps_signal_stop ()) {
            zmq_pollitem_t items[] = {{self.in, 0, ZMQ_POLLIN, 0}};
            if (zmq_poll (items, 1, 1000) <= 0)
                continue;
            for (int i = 0; i < S_DRAIN_MAX; i++)
                if (s_handle (&self) != 0)
                    break;
        }
        printf ("messages=%llu\n", (unsigned long long) self.msgseq);
    }
    ps_sock_destroy (&self.in);
    ps_sock_destroy (&self.feed);
    zmq_ctx_term (ctx);
    free (self.reply);
    free (self.body);
    free (self.topic);
    return rc;
}
