/*  ps_clock: the clocks of every paystat process. Durations, deadlines
    and timeouts use the monotonic clock, which no time adjustment moves;
    the wall clock is only for what leaves the process (timestamps on the
    wire, start time in /metrics). */

#ifndef PS_CLOCK_H_INCLUDED
#define PS_CLOCK_H_INCLUDED

#include <stdint.h>

/*  Monotonic clock in milliseconds / microseconds. */
int64_t ps_clock_ms (void);
int64_t ps_clock_us (void);

/*  Wall clock in microseconds since the Unix epoch. */
int64_t ps_wall_us (void);

#endif
