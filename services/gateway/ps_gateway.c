/*  ps_gateway: the HTTP face of the view; see ps_gateway.h. */

#include "ps_gateway.h"

#include "ps_assets.h"
#include "ps_clock.h"
#include "ps_gwquery.h"
#include "ps_gwview.h"
#include "ps_log.h"
#include "ps_metrics.h"
#include "ps_sock.h"
#include "ps_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_JSON "application/json"

enum { S_EP_INDICATORS, S_EP_SERIES, S_EP_STREAM, S_EP__N };
static const char *const s_endpoint_labels[S_EP__N] = {
    "endpoint=\"indicators\"", "endpoint=\"series\"", "endpoint=\"stream\""};

/* Why the feed client resynchronised (ps_client.h); anything else counts as "other". */
static const char *const s_resync_reasons[] = {"start",   "gap",       "digest", "epoch",
                                               "silence", "subscribe", "other"};
#define S_NREASONS (sizeof s_resync_reasons / sizeof s_resync_reasons[0])

struct ps_gateway_t {
    ps_http_t *http;
    ps_gwview_t *view;
    ps_sse_t *sse;
    ps_metrics_t *metrics;
    bool ready;
    int64_t start_wall_us;
    uint64_t feed_messages, feed_unreadable, heartbeats_lost;
    uint64_t resyncs[S_NREASONS];
    uint64_t requests[S_EP__N], bad_requests[S_EP__N];
};

/*  Replies OBJ (stolen) as JSON with STATUS; 500 when OBJ is NULL (out of
    memory building it). */
static void s_reply_json (ps_http_request_t *request, int status, json_t *obj)
{
    char *text = obj ? json_dumps (obj, JSON_COMPACT) : NULL;
    json_decref (obj);
    if (!text) {
        static const char oom[] = "{\"error\":{\"reason\":\"out of memory\"}}";
        ps_http_reply (request, 500, S_JSON, oom, sizeof oom - 1);
        return;
    }
    ps_http_reply (request, status, S_JSON, text, strlen (text));
    free (text);
}

/*  400 naming the bad query parameter: {"error": {"parameter", "reason"}}. */
static void s_bad_request (ps_gateway_t *self, int endpoint, ps_http_request_t *request,
                           const char *parameter, const char *why)
{
    self->bad_requests[endpoint]++;
    json_t *reason = json_sprintf ("parameter '%s' %s", parameter, why);
    s_reply_json (
        request, 400,
        reason ? json_pack ("{s:{s:s, s:o}}", "error", "parameter", parameter, "reason", reason)
               : NULL);
}

static void s_indicators (void *arg, ps_http_request_t *request)
{
    ps_gateway_t *self = arg;
    self->requests[S_EP_INDICATORS]++;
    const char *prefix = ps_http_query (request, "prefix"), *why;
    long limit;
    if (ps_gwquery_prefix (prefix, &why) != 0) {
        s_bad_request (self, S_EP_INDICATORS, request, "prefix", why);
        return;
    }
    if (ps_gwquery_limit (ps_http_query (request, "limit"), &limit, &why) != 0) {
        s_bad_request (self, S_EP_INDICATORS, request, "limit", why);
        return;
    }
    /* Written as text, one indicator at a time: the view holds no JSON. */
    char *list;
    size_t list_len;
    long n = ps_gwview_select_text (self->view, prefix ? prefix : "", limit, &list, &list_len);
    char head[160];
    int head_len = snprintf (head, sizeof head,
                             "{\"vseq\":%llu,\"ready\":%s,\"count\":%ld,\"truncated\":%s,"
                             "\"indicators\":",
                             (unsigned long long) ps_gwview_vseq (self->view),
                             self->ready ? "true" : "false", n, n > limit ? "true" : "false");
    char *text = n >= 0 ? malloc ((size_t) head_len + list_len + 2) : NULL;
    if (!text) {
        free (list);
        s_reply_json (request, 500, NULL);
        return;
    }
    memcpy (text, head, (size_t) head_len);
    memcpy (text + head_len, list, list_len);
    memcpy (text + head_len + list_len, "}", 2);
    free (list);
    ps_http_reply (request, 200, S_JSON, text, (size_t) head_len + list_len + 1);
    free (text);
}

static void s_series (void *arg, ps_http_request_t *request)
{
    ps_gateway_t *self = arg;
    self->requests[S_EP_SERIES]++;
    const char *source = ps_http_query (request, "source"), *why;
    char dims[PS_GWQUERY_DIMS_MAX];
    ps_gran_t gran;
    if (ps_gwquery_source (source, &why) != 0) {
        s_bad_request (self, S_EP_SERIES, request, "source", why);
        return;
    }
    if (ps_gwquery_dims (ps_http_query (request, "dims"), dims, &why) != 0) {
        s_bad_request (self, S_EP_SERIES, request, "dims", why);
        return;
    }
    if (ps_gwquery_gran (ps_http_query (request, "granularity"), &gran, &why) != 0) {
        s_bad_request (self, S_EP_SERIES, request, "granularity", why);
        return;
    }
    json_t *points = json_array ();
    if (!points || ps_gwview_series (self->view, source, dims, gran, points) < 0) {
        json_decref (points);
        s_reply_json (request, 500, NULL);
        return;
    }
    s_reply_json (request, 200,
                  json_pack ("{s:I, s:s, s:s, s:s, s:o}", "vseq",
                             (json_int_t) ps_gwview_vseq (self->view), "source", source, "dims",
                             dims, "granularity", ps_gran_name (gran), "points", points));
}

static void s_stream (void *arg, ps_http_request_t *request)
{
    ps_gateway_t *self = arg;
    self->requests[S_EP_STREAM]++;
    const char *prefix = ps_http_query (request, "prefix"), *why;
    if (ps_gwquery_prefix (prefix, &why) != 0) {
        s_bad_request (self, S_EP_STREAM, request, "prefix", why);
        return;
    }
    if (ps_sse_open (self->sse, request, prefix ? prefix : "", &why) != 0) {
        char text[64];
        int n = snprintf (text, sizeof text, "%s\n", why);
        ps_http_reply (request, 503, "text/plain; charset=utf-8", text, (size_t) n);
    }
}

static void s_asset (void *arg, ps_http_request_t *request)
{
    const ps_asset_t *asset = arg;
    ps_http_reply (request, 200, asset->content_type, (const char *) asset->data, asset->len);
}

static void s_healthz (void *arg, ps_http_request_t *request)
{
    (void) arg;
    ps_http_reply (request, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

static void s_readyz (void *arg, ps_http_request_t *request)
{
    ps_gateway_t *self = arg;
    if (self->ready)
        ps_http_reply (request, 200, "text/plain; charset=utf-8", "ready\n", 6);
    else {
        static const char text[] = "not ready: the view is not synchronised with the feed yet\n";
        ps_http_reply (request, 503, "text/plain; charset=utf-8", text, sizeof text - 1);
    }
}

static void s_metrics (void *arg, ps_http_request_t *request)
{
    ps_gateway_t *self = arg;
    ps_metrics_t *m = self->metrics;
    ps_metrics_reset (m);
    ps_metrics_gauge (m, "paystat_gateway_ready",
                      "1 when the view is synchronised with the feed, else 0.", NULL,
                      self->ready ? 1 : 0);
    ps_metrics_counter (m, "paystat_gateway_feed_messages_total",
                        "Indicator changes and removals received from the feed.", NULL,
                        self->feed_messages);
    ps_metrics_counter (m, "paystat_gateway_feed_unreadable_total",
                        "Feed messages that could not be read and were skipped.", NULL,
                        self->feed_unreadable);
    for (size_t r = 0; r < S_NREASONS; r++)
        ps_metrics_counter_reason (m, "paystat_gateway_resyncs_total",
                                   "Resynchronisations of the view with the feed, by reason.",
                                   s_resync_reasons[r], self->resyncs[r]);
    ps_metrics_counter (m, "paystat_gateway_heartbeats_lost_total",
                        "Times the feed fell silent and the client reconnected.", NULL,
                        self->heartbeats_lost);
    ps_metrics_gauge (m, "paystat_gateway_indicators", "Topics held in the view.", NULL,
                      (double) ps_gwview_size (self->view));
    ps_metrics_counter (m, "paystat_gateway_view_changes_total",
                        "Changes applied to the view (its vseq).", NULL,
                        ps_gwview_vseq (self->view));
    ps_metrics_gauge (m, "paystat_gateway_stream_clients", "Event-stream clients connected.", NULL,
                      (double) ps_sse_clients (self->sse));
    ps_metrics_counter (m, "paystat_gateway_stream_events_total",
                        "Events sent to the event streams.", NULL, ps_sse_events (self->sse));
    ps_metrics_counter (m, "paystat_gateway_stream_dropped_total",
                        "Event-stream clients dropped for falling behind.", NULL,
                        ps_sse_dropped (self->sse));
    ps_metrics_counter (m, "paystat_gateway_stream_refused_total",
                        "Event streams refused with 503 because --max-streams were open.", NULL,
                        ps_sse_refused (self->sse));
    for (int e = 0; e < S_EP__N; e++)
        ps_metrics_counter (m, "paystat_gateway_http_requests_total", "API requests by endpoint.",
                            s_endpoint_labels[e], self->requests[e]);
    for (int e = 0; e < S_EP__N; e++)
        ps_metrics_counter (m, "paystat_gateway_http_bad_requests_total",
                            "API requests refused with 400, by endpoint.", s_endpoint_labels[e],
                            self->bad_requests[e]);
    ps_http_metrics (self->http, m);
    ps_metrics_process (m, self->start_wall_us);
    ps_http_reply (request, 200, "text/plain; version=0.0.4; charset=utf-8", ps_metrics_text (m),
                   ps_metrics_len (m));
}

ps_gateway_t *ps_gateway_new (const char *listen, const ps_gateway_opts_t *opts)
{
    ps_gateway_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->start_wall_us = ps_wall_us ();
    self->view = ps_gwview_new ();
    self->sse = ps_sse_new (opts->stream_queue, opts->max_streams);
    self->metrics = ps_metrics_new ();
    if (!self->view || !self->sse || !self->metrics) {
        ps_error ("out of memory starting the gateway", NULL);
        goto err;
    }
    self->http = ps_http_new (listen, &opts->http);
    if (!self->http)
        goto err;
    int rc = ps_http_route (self->http, "/api/v1/indicators", s_indicators, self);
    rc |= ps_http_route (self->http, "/api/v1/series", s_series, self);
    rc |= ps_http_route (self->http, "/api/v1/stream", s_stream, self);
    rc |= ps_http_route (self->http, "/healthz", s_healthz, self);
    rc |= ps_http_route (self->http, "/readyz", s_readyz, self);
    rc |= ps_http_route (self->http, "/metrics", s_metrics, self);
    const ps_asset_t *index = ps_asset_find ("/index.html");
    if (index)
        rc |= ps_http_route (self->http, "/", s_asset, (void *) index);
    for (const ps_asset_t *asset = ps_assets; asset->path; asset++)
        rc |= ps_http_route (self->http, asset->path, s_asset, (void *) asset);
    if (rc != 0)
        goto err;
    return self;
err:
    ps_gateway_destroy (&self);
    return NULL;
}

void ps_gateway_destroy (ps_gateway_t **self_p)
{
    ps_gateway_t *self = *self_p;
    if (!self)
        return;
    /* The server first: ending its streams removes the hub's clients. */
    ps_http_destroy (&self->http);
    ps_sse_destroy (&self->sse);
    ps_gwview_destroy (&self->view);
    ps_metrics_destroy (&self->metrics);
    free (self);
    *self_p = NULL;
}

ps_http_t *ps_gateway_http (ps_gateway_t *self)
{
    return self->http;
}

/*  Streams EVENT (the changed indicator, or the removal) as NAME. */
static void s_stream_event (ps_gateway_t *self, const char *name, json_t *event)
{
    const char *topic = json_string_value (json_object_get (event, "topic"));
    char *text = json_dumps (event, JSON_COMPACT);
    if (!text) {
        ps_error ("out of memory streaming a change", "topic=\"%s\"", topic);
        return;
    }
    json_int_t vseq = json_integer_value (json_object_get (event, "vseq"));
    ps_sse_send (self->sse, topic, name, (uint64_t) vseq, text, strlen (text));
    free (text);
}

/*  Tells stream clients whether the view is synchronised, so that a page
    can say its figures may be stale. */
static void s_set_ready (ps_gateway_t *self, bool ready)
{
    if (ready == self->ready)
        return;
    self->ready = ready;
    ps_info (ready ? "view synchronised: ready" : "view not synchronised: not ready", NULL);
    uint64_t vseq = ps_gwview_vseq (self->view);
    char data[64];
    int n = snprintf (data, sizeof data, "{\"ready\":%s,\"vseq\":%llu}", ready ? "true" : "false",
                      (unsigned long long) vseq);
    ps_sse_send (self->sse, NULL, "status", vseq, data, (size_t) n);
}

static int s_update (ps_gateway_t *self, const ps_client_event_t *ev)
{
    json_t *event;
    ps_error_t err;
    /* No stream client, no event to build: a snapshot of 200,000 topics
       is applied without converting each one again. */
    json_t **wanted = ps_sse_clients (self->sse) > 0 ? &event : NULL;
    event = NULL;
    int change = ps_gwview_apply (self->view, ev->topic, ev->topic_len, ev->body, ev->body_len,
                                  wanted, &err);
    if (change < 0) {
        self->feed_unreadable++;
        ps_log_every (PS_LOG_WARN, 10, "skipped an unreadable feed message",
                      "topic=\"%.*s\" code=%s reason=\"%s\"",
                      (int) (ev->topic_len > 200 ? 200 : ev->topic_len), ev->topic,
                      ps_error_code_name (err.code), err.reason);
        return -1;
    }
    if (event)
        s_stream_event (self, "indicator", event);
    json_decref (event);
    return 0;
}

int ps_gateway_event (ps_gateway_t *self, const ps_client_event_t *ev)
{
    json_t *event = NULL;
    size_t r = 0;
    switch (ev->type) {
    case PS_CLIENT_UPDATE:
        self->feed_messages++;
        return s_update (self, ev);
    case PS_CLIENT_REMOVED:
        self->feed_messages++;
        if (ps_gwview_remove (self->view, ev->topic, ev->topic_len, &event) > 0)
            s_stream_event (self, "removed", event);
        json_decref (event);
        return 0;
    case PS_CLIENT_RESYNC:
        while (r < S_NREASONS - 1 && !(ev->reason && strcmp (ev->reason, s_resync_reasons[r]) == 0))
            r++;
        self->resyncs[r]++;
        ps_info ("resynchronising the view", "reason=%s", ev->reason ? ev->reason : "?");
        s_set_ready (self, false);
        return 0;
    case PS_CLIENT_SYNCED:
        s_set_ready (self, true);
        return 0;
    case PS_CLIENT_HEARTBEAT_LOST:
        self->heartbeats_lost++;
        s_set_ready (self, false);
        return 0;
    case PS_CLIENT_HEARTBEAT:
    case PS_CLIENT_REFUSED: /* logged by the client; the silence that follows reconnects */
        return 0;
    }
    return 0;
}

void ps_gateway_keepalive (ps_gateway_t *self)
{
    ps_sse_comment (self->sse, "keep-alive");
}
