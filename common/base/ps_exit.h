/*  ps_exit: the exit statuses of every paystat binary, services and
    command-line tools alike, so scripts and supervisors read them the
    same way everywhere (README, "Exit status"). */

#ifndef PS_EXIT_H_INCLUDED
#define PS_EXIT_H_INCLUDED

#define PS_EXIT_OK          0   /* done; or --help, --version */
#define PS_EXIT_FAIL        1   /* a service failed at run time */
#define PS_EXIT_REJECTED    1   /* paystat send: some reports were rejected */
#define PS_EXIT_USAGE       2   /* a bad option or argument, a key file that does not read */
#define PS_EXIT_UNREACHABLE 3   /* a client: its server never answered */
#define PS_EXIT_INTERRUPTED 130 /* a client: stopped by a signal before it was done */

#endif
