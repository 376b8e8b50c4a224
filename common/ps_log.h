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

#endif
