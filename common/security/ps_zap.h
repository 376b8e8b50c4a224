/*  ps_zap: the ZAP handler that lets only known CURVE keys in.

    A CURVE server socket without a ZAP handler accepts any client key
    (libzmq #2594). This one answers libzmq's ZAP requests on
    inproc://zeromq.zap.01 from a thread of its own, so that handshakes do
    not wait for a busy service loop. It knows a set of domains, each with
    the keyring admitted to it; a request for an unknown domain (or none),
    another mechanism than CURVE, or a key not in its domain's ring is
    refused, and the client's handshake fails before any message of it
    is delivered. An admitted connection's messages carry the Z85 public
    key as their "User-Id" property, which ps_zap_peer maps back to the
    key's name under the rings in force now, so that a key revoked by a
    reload stops being honoured on connections made before it. */

#ifndef PS_ZAP_H_INCLUDED
#define PS_ZAP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_keyring.h"

#define PS_ZAP_DOMAINS 4 /* domains one process serves */

typedef struct ps_zap_t ps_zap_t;

/*  Binds the handler in context CTX (before any CURVE server socket of
    CTX binds) and starts its thread. Returns it, or NULL with the reason
    in ERR. */
ps_zap_t *ps_zap_new (void *ctx, char *err, size_t errlen);

/*  Stops the thread, closes its socket, frees the rings; sets *SELF_P to
    NULL. Call before zmq_ctx_term. NULL-safe. */
void ps_zap_destroy (ps_zap_t **self_p);

/*  Admits RING's keys to DOMAIN, replacing (and freeing) the ring it had:
    takes RING. Returns 0, or -1 when PS_ZAP_DOMAINS domains are already
    known (RING is then freed). */
int ps_zap_allow (ps_zap_t *self, const char *domain, ps_keyring_t *ring);

/*  Copies into NAME the name that Z85 key USER_ID has in DOMAIN's ring
    now and returns true; false when the key is not (or no longer)
    admitted. */
bool ps_zap_peer (ps_zap_t *self, const char *domain, const char *user_id,
                  char name[PS_CURVE_NAME_MAX + 1]);

/*  Handshakes admitted and refused since the start. */
uint64_t ps_zap_admitted (ps_zap_t *self);
uint64_t ps_zap_refused (ps_zap_t *self);

#endif
