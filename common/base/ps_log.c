/*  ps_log: logfmt lines on stderr; see ps_log.h. */

#include "ps_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *s_service = "paystat";
static ps_log_level_t s_min_level = PS_LOG_INFO;
static const char *s_names[] = {"debug", "info", "warn", "error"};

void ps_log_init (const char *service, ps_log_level_t min_level)
{
    s_service = service;
    s_min_level = min_level;
}

int ps_log_level_parse (const char *text, ps_log_level_t *level)
{
    for (int i = 0; i < 4; i++)
        if (strcmp (text, s_names[i]) == 0) {
            *level = (ps_log_level_t) i;
            return 0;
        }
    return -1;
}

/*  Formats and writes one line; FIELDS may be NULL (ARGS unused then). */
static void s_vlog (ps_log_level_t level, const char *msg, const char *fields, va_list args)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    char line[2048];
    int n = snprintf (line, sizeof line,
                      "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s svc=%s msg=\"",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, (int) (tv.tv_usec / 1000), s_names[level], s_service);
    /* Escape the message so a quote or newline in it cannot break the line. */
    for (const char *p = msg; *p && n < (int) sizeof line - 8; p++) {
        if (*p == '"' || *p == '\\')
            line[n++] = '\\';
        line[n++] = (*p == '\n') ? ' ' : *p;
    }
    line[n++] = '"';
    if (fields && n < (int) sizeof line - 2) {
        line[n++] = ' ';
        int m = vsnprintf (line + n, sizeof line - n - 1, fields, args);
        n = (m < 0) ? n - 1 : (m >= (int) (sizeof line - n - 1) ? (int) sizeof line - 2 : n + m);
    }
    line[n++] = '\n';
    fwrite (line, 1, n, stderr);
}

void ps_log (ps_log_level_t level, const char *msg, const char *fields, ...)
{
    if (level < s_min_level)
        return;
    va_list args;
    va_start (args, fields);
    s_vlog (level, msg, fields, args);
    va_end (args);
}

/*  Writes a line with printf-formatted FIELDS and no other argument list. */
static void s_logf (ps_log_level_t level, const char *msg, const char *fields, ...)
{
    va_list args;
    va_start (args, fields);
    s_vlog (level, msg, fields, args);
    va_end (args);
}

static pthread_mutex_t s_limits_lock = PTHREAD_MUTEX_INITIALIZER;
static ps_log_limit_t *s_limits;

static long long s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*  Logs the count LIMIT holds, if any, and ends its interval: the next
    event opens a new one and is logged. Called with s_limits_lock held. */
static void s_limit_close (ps_log_limit_t *limit)
{
    if (limit->suppressed > 0)
        s_logf (limit->level, limit->msg, "repeated=%llu interval_s=%d", limit->suppressed,
                limit->interval_s);
    limit->suppressed = 0;
    limit->window_start_us = 0;
}

void ps_log_limited (ps_log_limit_t *limit, ps_log_level_t level, const char *msg,
                     const char *fields, ...)
{
    if (level < s_min_level)
        return;
    long long now = s_now_us ();
    pthread_mutex_lock (&s_limits_lock);
    if (!limit->registered) {
        limit->registered = 1;
        limit->next = s_limits;
        s_limits = limit;
    }
    limit->msg = msg;
    limit->level = level;
    bool open = limit->window_start_us != 0 &&
                now - limit->window_start_us < (long long) limit->interval_s * 1000000;
    if (open) {
        limit->suppressed++;
        pthread_mutex_unlock (&s_limits_lock);
        return;
    }
    if (limit->window_start_us != 0)
        s_limit_close (limit);
    limit->window_start_us = now;
    va_list args;
    va_start (args, fields);
    s_vlog (level, msg, fields, args);
    va_end (args);
    pthread_mutex_unlock (&s_limits_lock);
}

void ps_log_limits_flush (void)
{
    long long now = s_now_us ();
    pthread_mutex_lock (&s_limits_lock);
    for (ps_log_limit_t *limit = s_limits; limit; limit = limit->next)
        if (limit->suppressed > 0 &&
            now - limit->window_start_us >= (long long) limit->interval_s * 1000000)
            s_limit_close (limit);
    pthread_mutex_unlock (&s_limits_lock);
}
