/*  ps_metrics: Prometheus text exposition; see ps_metrics.h. */

#include "ps_metrics.h"

#include "ps_clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ps_metrics_t {
    char *data;
    size_t len;
    size_t cap;
    char last[128]; /* name whose HELP/TYPE was written last */
};

ps_metrics_t *ps_metrics_new (void)
{
    return calloc (1, sizeof (ps_metrics_t));
}

void ps_metrics_destroy (ps_metrics_t **self_p)
{
    if (!*self_p)
        return;
    free ((*self_p)->data);
    free (*self_p);
    *self_p = NULL;
}

void ps_metrics_reset (ps_metrics_t *self)
{
    self->len = 0;
    self->last[0] = '\0';
    if (self->data)
        self->data[0] = '\0';
}

/*  Appends one formatted line; drops it whole when memory runs out. */
static void s_line (ps_metrics_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void s_line (ps_metrics_t *self, const char *fmt, ...)
{
    for (;;) {
        size_t room = self->cap - self->len;
        va_list args;
        va_start (args, fmt);
        int n = self->data ? vsnprintf (self->data + self->len, room, fmt, args) : -1;
        va_end (args);
        if (n >= 0 && (size_t) n < room) {
            self->len += (size_t) n;
            return;
        }
        size_t cap = self->cap ? self->cap * 2 : 4096;
        char *grown = realloc (self->data, cap);
        if (!grown) {
            if (self->data)
                self->data[self->len] = '\0';
            return;
        }
        self->data = grown;
        self->cap = cap;
    }
}

static void s_header (ps_metrics_t *self, const char *name, const char *type, const char *help)
{
    if (strcmp (self->last, name) == 0)
        return;
    snprintf (self->last, sizeof self->last, "%s", name);
    s_line (self, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void ps_metrics_counter (ps_metrics_t *self, const char *name, const char *help, const char *labels,
                         uint64_t value)
{
    s_header (self, name, "counter", help);
    if (labels)
        s_line (self, "%s{%s} %llu\n", name, labels, (unsigned long long) value);
    else
        s_line (self, "%s %llu\n", name, (unsigned long long) value);
}

void ps_metrics_counter_reason (ps_metrics_t *self, const char *name, const char *help,
                                const char *reason, uint64_t value)
{
    s_header (self, name, "counter", help);
    s_line (self, "%s{reason=\"%s\"} %llu\n", name, reason, (unsigned long long) value);
}

void ps_metrics_gauge (ps_metrics_t *self, const char *name, const char *help, const char *labels,
                       double value)
{
    s_header (self, name, "gauge", help);
    if (labels)
        s_line (self, "%s{%s} %.17g\n", name, labels, value);
    else
        s_line (self, "%s %.17g\n", name, value);
}

uint64_t ps_process_rss_bytes (void)
{
    FILE *f = fopen ("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long size, resident;
    int n = fscanf (f, "%llu %llu", &size, &resident);
    fclose (f);
    return n == 2 ? resident * (uint64_t) sysconf (_SC_PAGESIZE) : 0;
}

void ps_metrics_process (ps_metrics_t *self, int64_t start_wall_us)
{
    ps_metrics_gauge (self, "process_resident_memory_bytes", "Resident memory size in bytes.", NULL,
                      (double) ps_process_rss_bytes ());
    ps_metrics_gauge (self, "process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds.", NULL,
                      (double) start_wall_us / 1e6);
    ps_metrics_gauge (self, "paystat_uptime_seconds", "Seconds since the process started.", NULL,
                      (double) (ps_wall_us () - start_wall_us) / 1e6);
}

const char *ps_metrics_text (const ps_metrics_t *self)
{
    return self->data ? self->data : "";
}

size_t ps_metrics_len (const ps_metrics_t *self)
{
    return self->len;
}
