/*  ps_log: logfmt lines on stderr; see ps_log.h. */

#include "ps_log.h"

#include <stdarg.h>
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

void ps_log (ps_log_level_t level, const char *msg, const char *fields, ...)
{
    if (level < s_min_level)
        return;
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
        va_list args;
        va_start (args, fields);
        int m = vsnprintf (line + n, sizeof line - n - 1, fields, args);
        va_end (args);
        n = (m < 0) ? n - 1 : (m >= (int) (sizeof line - n - 1) ? (int) sizeof line - 2 : n + m);
    }
    line[n++] = '\n';
    fwrite (line, 1, n, stderr);
}
