/*  ps_send: the "paystat send" command: reads a report file, sends it with
    ps_sender and prints every rejected row and a summary. */

#ifndef PS_SEND_H_INCLUDED
#define PS_SEND_H_INCLUDED

#include <stdio.h>

#include "ps_exit.h"
#include "ps_input.h"
#include "ps_sender.h"

typedef struct {
    const char *path; /* "-" is standard input */
    ps_input_format_t format;
    ps_sender_config_t sender;
    bool progress; /* a progress bar on stderr when it is a terminal */
} ps_send_job_t;

/*  Sends the file of JOB through ingest using CTX: each rejected row goes
    to stderr as "FILE:LINE: field: reason (code)", then the summary line
    "sent N, accepted A, rejected R (batches B, retries T)" to OUT.
    Returns the exit status: PS_EXIT_OK when every row was accepted,
    PS_EXIT_REJECTED when some were rejected, PS_EXIT_USAGE when the file
    cannot be read, PS_EXIT_UNREACHABLE when ingest stopped answering,
    PS_EXIT_INTERRUPTED on SIGINT/SIGTERM. */
int ps_send_run (void *ctx, const ps_send_job_t *job, FILE *out);

/*  Runs "paystat send" with ARGV[0] = "send". Returns the exit status. */
int ps_send_main (int argc, char **argv);

#endif
