/*  ps_security: CURVE on a process's sockets, from its options.

    A process that is given its own secret key (--curve-secret) encrypts
    and authenticates every socket it binds and every link it is given a
    server key for. Each bound socket belongs to a ZAP domain (producers,
    ingest, compute, subscribers) that admits the public keys of one
    directory or list file (ps_keyring); ps_zap enforces it. Without a
    secret key nothing changes: plain ZeroMQ, as for the local demo.

    Reload (SIGHUP) re-reads every domain's keys, all or nothing: a file
    that no longer reads leaves the keys in force as they were. New
    handshakes follow the new keys at once; for connections already made,
    a service asks ps_security_peer on each message it takes, so that a
    revoked producer is refused from its next batch on. */

#ifndef PS_SECURITY_H_INCLUDED
#define PS_SECURITY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "ps_curve.h"
#include "ps_sock.h"

/* ZAP domains of paystat's bound sockets. */
#define PS_DOMAIN_PRODUCERS   "paystat-producers"   /* ingest's front door */
#define PS_DOMAIN_INGEST      "paystat-ingest"      /* compute's socket for ingests */
#define PS_DOMAIN_COMPUTE     "paystat-compute"     /* publish's socket for compute */
#define PS_DOMAIN_SUBSCRIBERS "paystat-subscribers" /* publish's feed and snapshot */

typedef struct ps_security_t ps_security_t;

/*  Sets up CURVE for sockets of CTX with the key pair in SECRET_PATH
    (NULL or "": CURVE off). Returns it, or NULL with the reason in ERR. */
ps_security_t *ps_security_new (void *ctx, const char *secret_path, char *err, size_t errlen);

/*  Stops the ZAP handler and frees everything; sets *SELF_P to NULL.
    Call before zmq_ctx_term. NULL-safe. */
void ps_security_destroy (ps_security_t **self_p);

/*  True when the process has a key pair. */
bool ps_security_on (const ps_security_t *self);

/*  Makes OPTS secure a socket bound for DOMAIN, admitting the keys at
    KEYS_PATH (a directory of NAME.key files or a "NAME KEY" list), named
    by option KEYS_OPTION in messages. With CURVE off, KEYS_PATH must be
    NULL or "" and OPTS is left alone; with CURVE on it is required.
    Returns 0, or -1 with the reason in ERR. */
int ps_security_server (ps_security_t *self, const char *domain, const char *keys_option,
                        const char *keys_path, ps_sock_opts_t *opts, char *err, size_t errlen);

/*  Makes OPTS secure a connection to a server whose public key is in
    SERVER_KEY_PATH (NULL or "": a plain connection), named by option
    KEY_OPTION in messages. A server key needs CURVE on. Returns 0, or -1
    with the reason in ERR. */
int ps_security_client (ps_security_t *self, const char *key_option, const char *server_key_path,
                        ps_sock_opts_t *opts, char *err, size_t errlen);

/*  Re-reads the keys of every domain. Returns 0, or -1 with the reason in
    ERR, the keys in force then unchanged. */
int ps_security_reload (ps_security_t *self, char *err, size_t errlen);

/*  For MSG received on a socket of DOMAIN: copies its sender's key name
    into NAME and returns true, or returns false when that key is no longer
    admitted. With CURVE off, NAME is "" and the answer true. */
bool ps_security_peer (ps_security_t *self, const char *domain, zmq_msg_t *msg,
                       char name[PS_CURVE_NAME_MAX + 1]);

/*  Handshakes admitted and refused since the start (0 with CURVE off). */
uint64_t ps_security_admitted (const ps_security_t *self);
uint64_t ps_security_refused (const ps_security_t *self);

/*  Warns when ENDPOINT binds every interface ("tcp://[*]:..." or
    0.0.0.0) while CURVE is off: anyone who reaches the port is let in. */
void ps_security_check_bind (const ps_security_t *self, const char *option, const char *endpoint);

#endif
