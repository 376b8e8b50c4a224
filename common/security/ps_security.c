/*  ps_security: CURVE from options; see ps_security.h. */

#include "ps_security.h"
#include "ps_log.h"
#include "ps_zap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *domain;
    char path[4096];
} s_keys_t;

struct ps_security_t {
    void *ctx;
    bool on;
    ps_curve_pair_t pair;
    ps_zap_t *zap; /* started with the first bound socket */
    s_keys_t keys[PS_ZAP_DOMAINS];
    int nkeys;
};

ps_security_t *ps_security_new (void *ctx, const char *secret_path, char *err, size_t errlen)
{
    ps_security_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->ctx = ctx;
    if (secret_path && *secret_path) {
        if (!zmq_has ("curve")) {
            snprintf (err, errlen, "this libzmq has no CURVE support");
            goto err;
        }
        if (ps_curve_load_secret (secret_path, &self->pair, err, errlen) != 0)
            goto err;
        self->on = true;
    }
    return self;
err:
    ps_security_destroy (&self);
    return NULL;
}

void ps_security_destroy (ps_security_t **self_p)
{
    ps_security_t *self = *self_p;
    if (!self)
        return;
    ps_zap_destroy (&self->zap);
    /* The secret key does not outlive its use in this process's memory. */
    memset (&self->pair, 0, sizeof self->pair);
    free (self);
    *self_p = NULL;
}

bool ps_security_on (const ps_security_t *self)
{
    return self->on;
}

int ps_security_server (ps_security_t *self, const char *domain, const char *keys_option,
                        const char *keys_path, ps_sock_opts_t *opts, char *err, size_t errlen)
{
    bool given = keys_path && *keys_path;
    if (!self->on) {
        if (given) {
            snprintf (err, errlen, "--%s needs --curve-secret (this service's own key)",
                      keys_option);
            return -1;
        }
        return 0;
    }
    if (!given) {
        snprintf (err, errlen, "--curve-secret needs --%s: the public keys allowed to connect",
                  keys_option);
        return -1;
    }
    char why[512];
    ps_keyring_t *ring = ps_keyring_load (keys_path, why, sizeof why);
    if (!ring) {
        snprintf (err, errlen, "--%s: %s", keys_option, why);
        return -1;
    }
    if (!self->zap && !(self->zap = ps_zap_new (self->ctx, err, errlen))) {
        ps_keyring_destroy (&ring);
        return -1;
    }
    size_t nring = ps_keyring_size (ring);
    s_keys_t *k = NULL;
    for (int i = 0; i < self->nkeys; i++)
        if (strcmp (self->keys[i].domain, domain) == 0)
            k = &self->keys[i];
    if (!k && self->nkeys < PS_ZAP_DOMAINS)
        k = &self->keys[self->nkeys++];
    if (!k || ps_zap_allow (self->zap, domain, ring) != 0) {
        snprintf (err, errlen, "too many ZAP domains in one process");
        return -1;
    }
    k->domain = domain;
    snprintf (k->path, sizeof k->path, "%s", keys_path);
    opts->curve = &self->pair;
    opts->curve_server[0] = '\0';
    opts->zap_domain = domain;
    ps_info ("CURVE on", "domain=%s keys=%s allowed=%zu", domain, keys_path, nring);
    return 0;
}

int ps_security_client (ps_security_t *self, const char *key_option, const char *server_key_path,
                        ps_sock_opts_t *opts, char *err, size_t errlen)
{
    if (!server_key_path || !*server_key_path)
        return 0;
    if (!self->on) {
        snprintf (err, errlen, "--%s needs --curve-secret (this side's own key)", key_option);
        return -1;
    }
    char why[512];
    if (ps_curve_load_public (server_key_path, opts->curve_server, why, sizeof why) != 0) {
        snprintf (err, errlen, "--%s: %s", key_option, why);
        return -1;
    }
    opts->curve = &self->pair;
    opts->zap_domain = NULL;
    return 0;
}

int ps_security_reload (ps_security_t *self, char *err, size_t errlen)
{
    ps_keyring_t *rings[PS_ZAP_DOMAINS] = {NULL};
    char why[512];
    for (int i = 0; i < self->nkeys; i++)
        if (!(rings[i] = ps_keyring_load (self->keys[i].path, why, sizeof why))) {
            snprintf (err, errlen, "%s", why);
            for (int j = 0; j < i; j++)
                ps_keyring_destroy (&rings[j]);
            return -1;
        }
    for (int i = 0; i < self->nkeys; i++) {
        ps_info ("keys reloaded", "domain=%s keys=%s allowed=%zu", self->keys[i].domain,
                 self->keys[i].path, ps_keyring_size (rings[i]));
        ps_zap_allow (self->zap, self->keys[i].domain, rings[i]);
    }
    return 0;
}

bool ps_security_peer (ps_security_t *self, const char *domain, zmq_msg_t *msg,
                       char name[PS_CURVE_NAME_MAX + 1])
{
    name[0] = '\0';
    if (!self->on || !self->zap)
        return true;
    const char *user_id = zmq_msg_gets (msg, "User-Id");
    return user_id && ps_zap_peer (self->zap, domain, user_id, name);
}

uint64_t ps_security_admitted (const ps_security_t *self)
{
    return self->zap ? ps_zap_admitted (self->zap) : 0;
}

uint64_t ps_security_refused (const ps_security_t *self)
{
    return self->zap ? ps_zap_refused (self->zap) : 0;
}

void ps_security_check_bind (const ps_security_t *self, const char *option, const char *endpoint)
{
    if (self->on)
        return;
    if (strncmp (endpoint, "tcp://*:", 8) == 0 || strncmp (endpoint, "tcp://0.0.0.0:", 14) == 0 ||
        strncmp (endpoint, "tcp://[::]:", 11) == 0)
        ps_warn ("bound to every interface without CURVE: anyone who reaches this port is let in",
                 "option=--%s endpoint=%s", option, endpoint);
}
