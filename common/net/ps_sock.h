/*  ps_sock: ZeroMQ socket set-up, receiving and sending, shared by every
    paystat process. Signals are ps_signal's, clocks ps_clock's. */

#ifndef PS_SOCK_H_INCLUDED
#define PS_SOCK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "ps_curve.h"

typedef struct {
    int hwm;            /* send and receive high-water mark, messages (0 = libzmq default;
                           a SUB's applies to what it receives only) */
    int64_t maxmsgsize; /* ZMQ_MAXMSGSIZE for untrusted peers, -1 = none */
    int linger_ms;      /* ZMQ_LINGER */
    /* CURVE (ps_security fills these): this end's key pair, NULL for a
       plain socket; a client's server public key ("" on a server); a
       server's ZAP domain. */
    const ps_curve_pair_t *curve;
    char curve_server[PS_CURVE_KEY_LEN + 1];
    const char *zap_domain;
    /* If > 0, the receive high-water mark instead of hwm: an XPUB receives
       only subscriptions, and should take few ahead of its reader. */
    int rcvhwm;
} ps_sock_opts_t;

/*  Creates a socket of TYPE in CTX with OPTS (NULL: defaults) and binds
    (BIND) or connects it to ENDPOINT. Returns the socket, or NULL after
    logging which endpoint failed and why (zmq_strerror). */
void *ps_sock_new (void *ctx, int type, const char *endpoint, bool bind,
                   const ps_sock_opts_t *opts);

/*  As ps_sock_new for a DEALER connecting to a ROUTER, which then
    announces each connection and reconnection with an empty frame
    (ZMQ_PROBE_ROUTER; ZMQ_IMMEDIATE, so that each new connection is a new
    pipe and gets its own probe): the ROUTER learns that a peer (re)joined
    before the peer has anything to say. */
void *ps_sock_new_announced (void *ctx, const char *endpoint, const ps_sock_opts_t *opts);

/*  Closes *SOCK_P (if not NULL) and sets it to NULL. */
void ps_sock_destroy (void **sock_p);

/*  Receives one whole multipart message from SOCK without waiting for its
    first frame, into PARTS (MAX initialised zmq_msg_t, MAX >= 1). Frames
    past MAX are read into the last one and the message is reported as too
    long, so that it is always drained whole. Returns the number of
    frames, 0 for a message of more than MAX frames, or -1 when nothing was
    waiting, on interruption or a socket error (errno from libzmq). */
int ps_sock_recv_parts (void *sock, zmq_msg_t *parts, int max);

/*  Sends SIZE bytes of DATA as one frame (FLAGS as zmq_send). Retries on
    EINTR unless a stop was requested. Returns 0 or -1 (errno from libzmq). */
int ps_sock_send (void *sock, const void *data, size_t size, int flags);

#endif
