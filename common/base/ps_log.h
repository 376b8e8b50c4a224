/*  ps_log: one-line structured logs on stderr.

    Format (logfmt, chosen once for every service):
      ts=2026-11-27T16:25:56.123Z level=info svc=ingest msg="bound front door" endpoint=tcp://...
    The first argument after the level is a printf format for the whole
    tail, so callers append key=value pairs themselves; ps_log quotes msg. */

#ifndef PS_LOG_H_INCLUDED
#define PS_LOG_H_INCLUDED

typedef enum { PS_LOG_DEBUG = 0, PS_LOG_INFO, PS_LOG_WARN, PS_LOG_ERROR } ps_log_level_t;

/*  Sets the service name printed as svc= and the lowest level printed.
    Call once at start-up, before any thread is created. */
void ps_log_init (const char *service, ps_log_level_t min_level);

/*  Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int ps_log_level_parse (const char *text, ps_log_level_t *level);

/*  Logs MSG (quoted) followed by the optional printf-formatted FIELDS
    (" key=value ..." text, may be NULL). */
void ps_log (ps_log_level_t level, const char *msg, const char *fields, ...)
    __attribute__ ((format (printf, 3, 4)));

#define ps_debug(msg, ...) ps_log (PS_LOG_DEBUG, msg, __VA_ARGS__)
#define ps_info(msg, ...)  ps_log (PS_LOG_INFO, msg, __VA_ARGS__)
#define ps_warn(msg, ...)  ps_log (PS_LOG_WARN, msg, __VA_ARGS__)
#define ps_error(msg, ...) ps_log (PS_LOG_ERROR, msg, __VA_ARGS__)

/*  Repeated events: a kind of event that may come thousands of times a
    second (a malformed frame, a refused peer) is logged through a limit, so
    a flood costs one line per kind and interval. The first event of an
    interval is logged as it comes; the others are counted, and the count is
    logged (msg, then repeated=N interval_s=S) once the interval is over:
    by the next event of the kind or by ps_log_limits_flush, which every
    service calls from its loop (ps_ops_run does). Thread-safe. */
typedef struct ps_log_limit_t {
    const char *msg;               /* the event's message, set at the first event */
    ps_log_level_t level;          /* level of the count line */
    int interval_s;                /* at most one line per interval (and one count line) */
    long long window_start_us;     /* start of the current interval, 0 before the first event */
    unsigned long long suppressed; /* events counted but not logged in this interval */
    struct ps_log_limit_t *next;   /* registered limits, for ps_log_limits_flush */
    int registered;
} ps_log_limit_t;

/*  Logs like ps_log, at most once per LIMIT's interval (see above). */
void ps_log_limited (ps_log_limit_t *limit, ps_log_level_t level, const char *msg,
                     const char *fields, ...) __attribute__ ((format (printf, 4, 5)));

/*  Logs the count of every limit whose interval is over and that counted
    events not yet logged. Cheap when there are none. */
void ps_log_limits_flush (void);

/*  One limit per call site: ps_log_every (PS_LOG_WARN, 10, "bad frame", "code=%s", c)
    logs the first bad frame of every 10 s and how many followed. */
#define ps_log_every(level, secs, msg, ...)                                                        \
    do {                                                                                           \
        static ps_log_limit_t s_limit_ = {NULL, PS_LOG_DEBUG, (secs), 0, 0, NULL, 0};             \
        ps_log_limited (&s_limit_, level, msg, __VA_ARGS__);                                       \
    } while (0)

#endif
