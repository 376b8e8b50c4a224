/*  ps_ingest_server: paystat-ingest's sockets and poll loop, gluing the
    socket-free modules together.

    Producers' batches come in on a ROUTER (bound, --bind); each goes
    through ps_ingest, and its ack goes back at once when nothing is
    waiting for a commit, else it waits in ps_ackq until ps_group closes
    the journal's group (ps_journal_commit). Committed entries go to
    compute on a DEALER (connected, --compute) through ps_forward, whose
    answers come back on the same socket. The operations endpoints, the
    signals and SIGHUP reloads (--producer-keys, --access) are served from
    the same poll by ps_service.

    Nothing in the loop waits on a peer: every send and receive is
    non-blocking (a full link to compute is polled for writability), so a
    stopped compute or producer leaves ingest in its poll, where signals
    and the HTTP endpoints are still served, and SIGTERM stops it within
    --drain-ms. */

#ifndef PS_INGEST_SERVER_H_INCLUDED
#define PS_INGEST_SERVER_H_INCLUDED

#include "ps_service.h"

typedef struct ps_ingest_server_t ps_ingest_server_t;

/*  paystat-ingest's name, --help text and option table, for
    ps_service_new. */
const ps_service_def_t *ps_ingest_server_def (void);

/*  Reads SERVICE's options (made from ps_ingest_server_def), sets CURVE
    and the access file up, opens the journal, binds the producers'
    socket, connects to compute and starts the ops endpoints. Returns the
    server, or NULL with *EXIT_CODE set: PS_EXIT_USAGE after printing
    which option is wrong and why, PS_EXIT_FAIL after logging what failed
    (the journal cannot be opened, an endpoint cannot be bound). */
ps_ingest_server_t *ps_ingest_server_new (ps_service_t *service, int *exit_code);

/*  Closes the sockets and the journal (an open group is dropped: its
    acks were never sent) and sets *SELF_P to NULL; NULL-safe. The
    service is not destroyed. */
void ps_ingest_server_destroy (ps_ingest_server_t **self_p);

/*  Serves producers and compute until SIGINT or SIGTERM, then stops
    taking batches, commits and acks those received, and waits up to
    --drain-ms for compute to apply the journal. Returns PS_EXIT_OK (what
    fails at run time is logged and retried, never fatal). */
int ps_ingest_server_run (ps_ingest_server_t *self);

#endif
