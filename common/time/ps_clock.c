/*  ps_clock: monotonic and wall clocks; see ps_clock.h. */

#include "ps_clock.h"

#include <sys/time.h>
#include <time.h>

int64_t ps_clock_ms (void)
{
    return ps_clock_us () / 1000;
}

int64_t ps_clock_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ps_wall_us (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (int64_t) tv.tv_sec * 1000000 + tv.tv_usec;
}
