/*  ps_signal: stop and reload flags set by signal handlers; see ps_signal.h. */

#include "ps_signal.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t s_stop = 0;
static volatile sig_atomic_t s_reload = 0;

static void s_on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

static void s_on_reload (int sig)
{
    (void) sig;
    s_reload = 1;
}

/*  Routes SIG to HANDLER (no flags: a libzmq call it interrupts fails
    with EINTR, which is how blocking loops notice). */
static void s_catch (int sig, void (*handler) (int))
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset (&sa.sa_mask);
    sigaction (sig, &sa, NULL);
}

void ps_signal_install (void)
{
    s_catch (SIGINT, s_on_signal);
    s_catch (SIGTERM, s_on_signal);
    s_catch (SIGHUP, s_on_signal);
    signal (SIGPIPE, SIG_IGN);
}

void ps_signal_catch_reload (void)
{
    s_catch (SIGHUP, s_on_reload);
}

bool ps_signal_reload (void)
{
    if (!s_reload)
        return false;
    s_reload = 0;
    return true;
}

bool ps_signal_stop (void)
{
    return s_stop != 0;
}
