/*  ps_signal: the stop and reload signals of every paystat process.

    The handlers only set a flag. They are installed without SA_RESTART,
    so a blocking libzmq call they interrupt fails with EINTR and the loop
    around it notices the stop; that is why this sits with the sockets
    (ps_sock_send gives up on EINTR once a stop was asked for). */

#ifndef PS_SIGNAL_H_INCLUDED
#define PS_SIGNAL_H_INCLUDED

#include <stdbool.h>

/*  Installs SIGINT, SIGTERM and SIGHUP handlers that only set a flag
    (libzmq calls then fail with EINTR, so blocking loops notice), and
    ignores SIGPIPE. */
void ps_signal_install (void);

/*  Makes SIGHUP ask for a reload (ps_signal_reload) instead of a stop:
    for services that re-read their keys and permissions. */
void ps_signal_catch_reload (void);

/*  True once SIGINT or SIGTERM (or SIGHUP, unless caught for reloads)
    has arrived. */
bool ps_signal_stop (void);

/*  True once per SIGHUP caught for a reload since the last call. */
bool ps_signal_reload (void);

#endif
