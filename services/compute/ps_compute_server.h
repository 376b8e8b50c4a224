/*  ps_compute_server: paystat-compute's sockets and poll loop, around
    socket-free modules that decide. A ROUTER takes the ingests' hellos
    and journal entries and answers with their positions (ps_upstream
    keeps each entry applied exactly once, ps_stall records the ones
    refused); the entries go into the engine (ps_engine); a DEALER hands
    publish the update frames of each flush (ps_outbox keeps those it
    cannot take yet, ps_pacing says when a flush may go) and reads its
    confirmations; the state is checkpointed (ps_checkpoint) when
    ps_schedule says so. Nothing in the loop waits in a send or a
    receive: a peer that stops reading or sends nothing never holds
    compute past its shutdown bound.

    With CURVE on (--curve-secret), only the ingests whose keys are in
    --ingest-keys get through the handshake, and each may speak only for
    the ingest id its key is named after: a compromised ingest cannot move
    another's position or inject entries in its name. SIGHUP re-reads the
    keys. */

#ifndef PS_COMPUTE_SERVER_H_INCLUDED
#define PS_COMPUTE_SERVER_H_INCLUDED

#include "ps_service.h"

typedef struct ps_compute_server_t ps_compute_server_t;

/*  Builds compute from SERVICE's options (not owned; it must outlive the
    server): the ratios, the engine, the checkpoint recovered, CURVE, the
    sockets and the ops endpoints. Returns NULL with *EXIT_CODE
    PS_EXIT_USAGE when an option is wrong (printed), or PS_EXIT_FAIL when
    the checkpoint cannot be recovered, a socket cannot be set up or
    memory ran out (logged). */
ps_compute_server_t *ps_compute_server_new (ps_service_t *service, int *exit_code);

/*  Destroys it, closing its sockets, and sets *SELF_P to NULL; NULL-safe. */
void ps_compute_server_destroy (ps_compute_server_t **self_p);

/*  Serves until SIGINT or SIGTERM, then stops reading, writes a
    checkpoint, publishes what is pending and waits a bounded time for
    publish to confirm it. Returns PS_EXIT_OK, or PS_EXIT_FAIL after a
    socket error or when the last checkpoint or flush failed (logged). */
int ps_compute_server_run (ps_compute_server_t *self);

#endif
