/*  ps_curve, ps_keyring, ps_zap and ps_security: key files, key lists,
    and real CURVE sockets over tcp loopback: a known key gets through
    with its name, an unknown or absent key gets nothing, a reload revokes
    a key for new handshakes and for messages on the connection it has. */

#include "test_tmpdir.h"

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <zmq.h>

#include "ps_curve.h"
#include "ps_keyring.h"
#include "ps_security.h"
#include "ps_sock.h"

static void t_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

static void test_keygen_files (void **state)
{
    (void) state;
    char dir[64], path[128], err[512];
    t_tmpdir_new (dir, "keys");
    ps_curve_pair_t pair, loaded;
    assert_int_equal (ps_curve_keygen (dir, "p1", &pair, err, sizeof err), 0);
    snprintf (path, sizeof path, "%s/p1.key_secret", dir);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    assert_int_equal (ps_curve_load_secret (path, &loaded, err, sizeof err), 0);
    assert_string_equal (loaded.public_key, pair.public_key);
    assert_string_equal (loaded.secret_key, pair.secret_key);
    char pub[PS_CURVE_KEY_LEN + 1];
    snprintf (path, sizeof path, "%s/p1.key", dir);
    assert_int_equal (ps_curve_load_public (path, pub, err, sizeof err), 0);
    assert_string_equal (pub, pair.public_key);
    /* The public file is no secret key. */
    assert_int_equal (ps_curve_load_secret (path, &loaded, err, sizeof err), -1);
    assert_non_null (strstr (err, path));
    /* Never replaced; names checked. */
    assert_int_equal (ps_curve_keygen (dir, "p1", &pair, err, sizeof err), -1);
    assert_non_null (strstr (err, "exists"));
    assert_int_equal (ps_curve_keygen (dir, "bad/name", &pair, err, sizeof err), -1);
    assert_non_null (strstr (err, "key name"));
    /* A secret others can read is refused. */
    snprintf (path, sizeof path, "%s/p1.key_secret", dir);
    chmod (path, 0640);
    assert_int_equal (ps_curve_load_secret (path, &loaded, err, sizeof err), -1);
    assert_non_null (strstr (err, "readable by others"));
    t_tmpdir_remove (dir);
}

static void test_keyring_dir_and_list (void **state)
{
    (void) state;
    char dir[64], path[128], line[256], err[512];
    t_tmpdir_new (dir, "ring");
    ps_curve_pair_t a, b;
    assert_int_equal (ps_curve_keygen (dir, "a", &a, err, sizeof err), 0);
    assert_int_equal (ps_curve_keygen (dir, "b", &b, err, sizeof err), 0);
    ps_keyring_t *ring = ps_keyring_load (dir, err, sizeof err);
    assert_non_null (ring);
    /* Secrets are not keys to admit. */
    assert_int_equal (ps_keyring_size (ring), 2);
    assert_string_equal (ps_keyring_name_z85 (ring, a.public_key), "a");
    assert_string_equal (ps_keyring_name_z85 (ring, b.public_key), "b");
    assert_null (ps_keyring_name_z85 (ring, "not a key"));
    ps_keyring_destroy (&ring);
    assert_null (ring);

    snprintf (path, sizeof path, "%s/list", dir);
    snprintf (line, sizeof line, "# producers\nalpha %s\n\n  beta\t%s # second\n", a.public_key,
              b.public_key);
    t_write (path, line);
    ring = ps_keyring_load (path, err, sizeof err);
    assert_non_null (ring);
    assert_string_equal (ps_keyring_name_z85 (ring, b.public_key), "beta");
    ps_keyring_destroy (&ring);

    snprintf (line, sizeof line, "alpha %s\nalpha2 %s\n", a.public_key, a.public_key);
    t_write (path, line);
    assert_null (ps_keyring_load (path, err, sizeof err));
    assert_non_null (strstr (err, ":2:"));
    assert_non_null (strstr (err, "repeats"));
    t_write (path, "alpha short\n");
    assert_null (ps_keyring_load (path, err, sizeof err));
    assert_non_null (strstr (err, "Z85"));
    snprintf (path, sizeof path, "%s/missing", dir);
    assert_null (ps_keyring_load (path, err, sizeof err));
    assert_non_null (strstr (err, "missing"));
    t_tmpdir_remove (dir);
}

/*  The endpoint SOCK was bound to (a port chosen by the system). */
static void t_endpoint (void *sock, char out[64])
{
    size_t len = 64;
    assert_int_equal (zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, out, &len), 0);
}

/*  A DEALER of CTX connecting to ENDPOINT with key pair PAIR (NULL: no
    CURVE) and the server's public key SERVER. */
static void *t_client (void *ctx, const char *endpoint, const ps_curve_pair_t *pair,
                       const char *server)
{
    ps_sock_opts_t opts = {.hwm = 0, .maxmsgsize = -1, .linger_ms = 0, .curve = pair};
    if (pair)
        snprintf (opts.curve_server, sizeof opts.curve_server, "%s", server);
    void *sock = ps_sock_new (ctx, ZMQ_DEALER, endpoint, false, &opts);
    assert_non_null (sock);
    return sock;
}

/*  Receives one message on SERVER within MS; true and its body's sender
    name in NAME (false when revoked: NAME "-") when one came. */
static bool t_recv (ps_security_t *sec, void *server, int ms, char name[PS_CURVE_NAME_MAX + 1])
{
    zmq_pollitem_t item = {server, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, ms) <= 0)
        return false;
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    assert_true (zmq_msg_recv (&msg, server, 0) >= 0); /* routing id */
    assert_true (zmq_msg_more (&msg));
    assert_true (zmq_msg_recv (&msg, server, 0) >= 0);
    if (!ps_security_peer (sec, PS_DOMAIN_PRODUCERS, &msg, name))
        snprintf (name, PS_CURVE_NAME_MAX + 1, "-");
    zmq_msg_close (&msg);
    return true;
}

static void test_zap_admits_known_keys_only (void **state)
{
    (void) state;
    char dir[64], keys[128], secret[128], endpoint[64], err[512], name[PS_CURVE_NAME_MAX + 1];
    t_tmpdir_new (dir, "zap");
    snprintf (keys, sizeof keys, "%s/producers", dir);
    assert_int_equal (mkdir (keys, 0755), 0);
    ps_curve_pair_t server_pair, known, other, stranger;
    assert_int_equal (ps_curve_keygen (dir, "ingest", &server_pair, err, sizeof err), 0);
    assert_int_equal (ps_curve_keygen (keys, "known", &known, err, sizeof err), 0);
    assert_int_equal (ps_curve_keygen (keys, "other", &other, err, sizeof err), 0);
    assert_int_equal (ps_curve_keygen (dir, "stranger", &stranger, err, sizeof err), 0);
    snprintf (secret, sizeof secret, "%s/ingest.key_secret", dir);

    void *ctx = zmq_ctx_new ();
    ps_security_t *sec = ps_security_new (ctx, secret, err, sizeof err);
    assert_non_null (sec);
    assert_true (ps_security_on (sec));
    ps_sock_opts_t opts = {.hwm = 0, .maxmsgsize = -1, .linger_ms = 0};
    /* CURVE on needs the keys to admit. */
    assert_int_equal (ps_security_server (sec, PS_DOMAIN_PRODUCERS, "producer-keys", NULL, &opts,
                                          err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "--producer-keys"));
    assert_int_equal (ps_security_server (sec, PS_DOMAIN_PRODUCERS, "producer-keys", keys, &opts,
                                          err, sizeof err),
                      0);
    void *server = ps_sock_new (ctx, ZMQ_ROUTER, "tcp://127.0.0.1:*", true, &opts);
    assert_non_null (server);
    t_endpoint (server, endpoint);

    void *good = t_client (ctx, endpoint, &known, server_pair.public_key);
    void *second = t_client (ctx, endpoint, &other, server_pair.public_key);
    void *bad = t_client (ctx, endpoint, &stranger, server_pair.public_key);
    void *plain = t_client (ctx, endpoint, NULL, NULL);
    assert_int_equal (zmq_send (bad, "from a stranger", 15, ZMQ_DONTWAIT), 15);
    assert_int_equal (zmq_send (plain, "in the clear", 12, ZMQ_DONTWAIT), 12);
    assert_int_equal (zmq_send (good, "hello", 5, 0), 5);
    assert_true (t_recv (sec, server, 5000, name));
    assert_string_equal (name, "known");
    assert_int_equal (zmq_send (second, "hello", 5, 0), 5);
    assert_true (t_recv (sec, server, 5000, name));
    assert_string_equal (name, "other");
    /* Nothing from the stranger nor the plain client, ever. */
    assert_false (t_recv (sec, server, 500, name));
    assert_true (ps_security_refused (sec) >= 1);
    assert_int_equal (ps_security_admitted (sec), 2);

    /* Revoke "known": its connection stays, its messages are no longer
       its; "other" is untouched. A broken list keeps the keys in force. */
    char path[160];
    snprintf (path, sizeof path, "%s/known.key", keys);
    assert_int_equal (unlink (path), 0);
    snprintf (path, sizeof path, "%s/broken.key", keys);
    t_write (path, "curve\n    public-key = \"short\"\n");
    assert_int_equal (ps_security_reload (sec, err, sizeof err), -1);
    assert_non_null (strstr (err, "broken.key"));
    assert_int_equal (zmq_send (good, "again", 5, 0), 5);
    assert_true (t_recv (sec, server, 5000, name));
    assert_string_equal (name, "known");
    assert_int_equal (unlink (path), 0);
    assert_int_equal (ps_security_reload (sec, err, sizeof err), 0);
    assert_int_equal (zmq_send (good, "again", 5, 0), 5);
    assert_true (t_recv (sec, server, 5000, name));
    assert_string_equal (name, "-");
    assert_int_equal (zmq_send (second, "again", 5, 0), 5);
    assert_true (t_recv (sec, server, 5000, name));
    assert_string_equal (name, "other");
    /* A new handshake with the revoked key is refused. */
    void *again = t_client (ctx, endpoint, &known, server_pair.public_key);
    assert_int_equal (zmq_send (again, "new", 3, ZMQ_DONTWAIT), 3);
    assert_false (t_recv (sec, server, 500, name));

    void *socks[] = {good, second, bad, plain, again, server};
    for (size_t i = 0; i < sizeof socks / sizeof *socks; i++)
        ps_sock_destroy (&socks[i]);
    ps_security_destroy (&sec);
    assert_null (sec);
    zmq_ctx_term (ctx);
    t_tmpdir_remove (dir);
}

static void test_options_need_each_other (void **state)
{
    (void) state;
    char err[512];
    void *ctx = zmq_ctx_new ();
    ps_security_t *sec = ps_security_new (ctx, NULL, err, sizeof err);
    assert_non_null (sec);
    assert_false (ps_security_on (sec));
    ps_sock_opts_t opts = {.hwm = 0};
    assert_int_equal (ps_security_server (sec, PS_DOMAIN_PRODUCERS, "producer-keys", "/x", &opts,
                                          err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "--producer-keys needs --curve-secret"));
    assert_int_equal (ps_security_client (sec, "compute-key", "/x", &opts, err, sizeof err), -1);
    assert_non_null (strstr (err, "--compute-key needs --curve-secret"));
    /* Off and not asked for: plain sockets, every message admitted. */
    assert_int_equal (
        ps_security_server (sec, PS_DOMAIN_PRODUCERS, "producer-keys", "", &opts, err, sizeof err),
        0);
    assert_null (opts.curve);
    ps_security_destroy (&sec);
    assert_null (ps_security_new (ctx, "/nonexistent/key_secret", err, sizeof err));
    assert_non_null (strstr (err, "/nonexistent/key_secret"));
    zmq_ctx_term (ctx);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_keygen_files),
        cmocka_unit_test (test_keyring_dir_and_list),
        cmocka_unit_test (test_zap_admits_known_keys_only),
        cmocka_unit_test (test_options_need_each_other),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
