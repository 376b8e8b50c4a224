/*  paystat-compute: pulls the batches ingest journaled (ROUTER: hellos
    and journal entries in, positions out; ps_upstream keeps each
    entry applied exactly once), aggregates their reports into cells at
    every rollup level, and sends publish the complete indicator messages
    of every topic that changed, conflated to at most one per topic per
    flush interval. Its state is checkpointed (ps_checkpoint) with the
    journal positions it reflects; after a restart it resumes from the
    checkpoint and asks each ingest for what followed.

    This file only declares the options and wires ps_service (start-up,
    signals, ops endpoints, teardown) to ps_compute_server (the loop and
    its sockets); docs/architecture.md maps the modules. */

#include "ps_compute_server.h"
#include "ps_service.h"

static ps_option_t s_options[] = {
    {"bind", "PAYSTAT_COMPUTE_BIND", "tcp://127.0.0.1:7402",
     "where ingest's forwarded batches arrive (ROUTER, bind)", false, NULL},
    {"publish", "PAYSTAT_PUBLISH_CONNECT", "tcp://127.0.0.1:7403",
     "publish's endpoint for indicator updates (DEALER, connect)", false, NULL},
    {"flush-ms", "PAYSTAT_FLUSH_MS", "100",
     "conflation interval in ms: at most one message per topic per interval (a flush also "
     "waits, 1 s at most, until publish confirmed the previous one)",
     false, NULL},
    {"ratios", "PAYSTAT_RATIOS", NULL, "file of derived ratios (format: data/ratios.conf)",
     false, NULL},
    {"data-dir", "PAYSTAT_COMPUTE_DATA", "compute-data",
     "directory of the checkpoint (created if missing)", false, NULL},
    {"checkpoint-ms", "PAYSTAT_CHECKPOINT_MS", "1000",
     "interval in ms between checkpoints (when something changed; at least 10 times what "
     "the last one took); ingest keeps its journal until one covers it",
     false, NULL},
    {"ingest-keys", "PAYSTAT_INGEST_KEYS", NULL,
     "ingests allowed on --bind: directory of NAME.key or \"NAME KEY\" list; NAME must be "
     "the ingest's --id (SIGHUP re-reads)",
     false, NULL},
    {"publish-key", "PAYSTAT_PUBLISH_KEY", NULL,
     "publish's public key (NAME.key): CURVE on the link to --publish, needs --curve-secret",
     false, NULL},
    {"accept-journal", "PAYSTAT_ACCEPT_JOURNAL", NULL,
     "ID=JOURNAL[,...]: the journal instance that replaces, read from its start, the one "
     "compute follows for ingest ID (its journal was recreated on purpose; once read, "
     "leaving it set changes nothing)",
     false, NULL},
    {"max-entry-bytes", "PAYSTAT_MAX_ENTRY_BYTES", NULL,
     "refuse journal entries larger than this (default and most: the largest one ingest "
     "can write); for tests: an ingest stuck on a refused entry",
     false, NULL},
    PS_SERVICE_OPTIONS ("PAYSTAT_COMPUTE", "127.0.0.1:9102",
                        "compute's CURVE key pair (NAME.key_secret): CURVE on --bind, needs "
                        "--ingest-keys"),
    PS_OPTION_END};

static const ps_service_def_t s_def = {
    "compute", "paystat-compute",
    "Aggregates accepted reports into cells at every rollup level and publishes their "
    "indicators.\nSIGINT/SIGTERM: stop reading, write a checkpoint, publish what is pending, "
    "exit 0.\nSIGHUP: re-read --ingest-keys (connections are kept, but what an ingest whose key "
    "was\nremoved sends is ignored).",
    s_options};

int main (int argc, char **argv)
{
    int rc;
    ps_service_t *service = ps_service_new (&s_def, argc, argv, &rc);
    if (!service)
        return rc;
    ps_compute_server_t *server = ps_compute_server_new (service, &rc);
    if (server)
        rc = ps_compute_server_run (server);
    ps_compute_server_destroy (&server);
    ps_service_destroy (&service);
    return rc;
}
