/*  paystat-ingest: the front door. Producers send report batches to a
    ROUTER; each is validated (ps_ingest) and, when accepted, written to
    the journal (ps_journal); acks go out once their group of batches is
    committed (ps_group decides when, ps_ackq holds them). Compute pulls
    the journal's entries over a DEALER (ps_forward, ps_delivery). With
    CURVE on (--curve-secret), only producers whose keys are listed get
    through the handshake (ps_security), each sends as its key's producer
    id only and writes the sources --access grants it (ps_ingest); SIGHUP
    re-reads both lists. ps_ingest_server holds the sockets and the loop,
    ps_service what every service shares. */

#include "ps_ingest_server.h"
#include "ps_service.h"

int main (int argc, char **argv)
{
    int exit_code;
    ps_service_t *service = ps_service_new (ps_ingest_server_def (), argc, argv, &exit_code);
    if (!service)
        return exit_code;
    ps_ingest_server_t *server = ps_ingest_server_new (service, &exit_code);
    if (server)
        exit_code = ps_ingest_server_run (server);
    ps_ingest_server_destroy (&server);
    ps_service_destroy (&service);
    return exit_code;
}
