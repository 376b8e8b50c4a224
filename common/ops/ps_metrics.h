/*  ps_metrics: Prometheus text exposition (format 0.0.4) of a service's
    counters and gauges, written at scrape time.

    Services keep plain counters in their own structs and write them here
    when /metrics is asked for, so the hot path pays nothing. Names follow
    Prometheus conventions: paystat_<service>_<what>_<unit>, counters end
    in _total, base units (seconds, bytes). */

#ifndef PS_METRICS_H_INCLUDED
#define PS_METRICS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct ps_metrics_t ps_metrics_t;

/*  Creates an empty text buffer. Returns NULL when out of memory. */
ps_metrics_t *ps_metrics_new (void);

/*  Destroys it and sets *SELF_P to NULL. NULL-safe. */
void ps_metrics_destroy (ps_metrics_t **self_p);

/*  Empties the buffer for the next scrape. */
void ps_metrics_reset (ps_metrics_t *self);

/*  Writes one sample of counter NAME (HELP and TYPE lines the first time
    NAME appears in a row). LABELS is NULL or the inside of the braces,
    e.g. "reason=\"period\"" (values must already be escaped). */
void ps_metrics_counter (ps_metrics_t *self, const char *name, const char *help, const char *labels,
                         uint64_t value);

/*  Writes one sample of counter NAME labelled reason="REASON" (REASON
    needs no escaping: a name of the code's own), as ps_metrics_counter. */
void ps_metrics_counter_reason (ps_metrics_t *self, const char *name, const char *help,
                                const char *reason, uint64_t value);

/*  Writes one sample of gauge NAME, as ps_metrics_counter. */
void ps_metrics_gauge (ps_metrics_t *self, const char *name, const char *help, const char *labels,
                       double value);

/*  Writes the process metrics every service has: resident memory, start
    time and uptime in seconds. START_WALL_US is the process start time. */
void ps_metrics_process (ps_metrics_t *self, int64_t start_wall_us);

/*  The text so far, and its length. Out of memory truncates the text at a
    whole line, never corrupts it. */
const char *ps_metrics_text (const ps_metrics_t *self);
size_t ps_metrics_len (const ps_metrics_t *self);

/*  Resident set size of this process in bytes, from /proc/self/statm (0 when
    unavailable). */
uint64_t ps_process_rss_bytes (void);

#endif
