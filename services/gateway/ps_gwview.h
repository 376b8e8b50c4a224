/*  ps_gwview: the gateway's view of the current indicators, as JSON.

    One JSON object per topic (cells and ratios), the feed message's own
    fields plus "topic", "vseq" (the view's change number, below) and, for
    amounts, "amount_major" / "ytd_amount_major": the exact decimal text in
    major units, since a JavaScript number cannot hold every int64 amount.
    The numbering keys of the feed (v, seq, prev, epoch) are dropped: they
    describe publish's stream, not the indicator.

    Every change (an indicator set or removed) takes the next "vseq", 1,
    2, 3, ... per gateway process, so an HTTP client can take a snapshot
    and apply only the stream events newer than it.

    Cells are also indexed by series (source + dims), in period order, for
    ps_gwview_series.

    Each topic is held as its feed message's MessagePack bytes, and the
    JSON is built from them when asked for (an answer, an event): a JSON
    tree per topic cost about 2.5 KiB, which for 200,000 topics is more
    than the rest of the gateway together (docs/bounds.md). */

#ifndef PS_GWVIEW_H_INCLUDED
#define PS_GWVIEW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ps_period.h"
#include "ps_proto.h"

typedef struct ps_gwview_t ps_gwview_t;

typedef enum {
    PS_GWVIEW_IGNORED = 0, /* not an indicator ($reject, heartbeats, unknown types) */
    PS_GWVIEW_SET          /* the topic's indicator is new or changed */
} ps_gwview_change_t;

/*  Creates an empty view. Returns NULL when out of memory. */
ps_gwview_t *ps_gwview_new (void);

/*  Destroys it and sets *SELF_P to NULL. NULL-safe. */
void ps_gwview_destroy (ps_gwview_t **self_p);

/*  Applies one feed message: TOPIC (TOPIC_LEN bytes) and its MessagePack
    BODY (BODY_LEN bytes), untrusted. Returns what changed; when SET and
    EVENT is not NULL, *EVENT is a new reference to the indicator's JSON,
    to tell clients about (NULL when out of memory building it, logged;
    pass EVENT NULL when nobody listens, to save building it). Returns -1 with *ERR when the message cannot be read (bad
    MessagePack, a cell topic that is not source/period/dims, out of
    memory). */
int ps_gwview_apply (ps_gwview_t *self, const char *topic, size_t topic_len, const void *body,
                     size_t body_len, json_t **event, ps_error_t *err);

/*  Removes TOPIC. Returns 1 with *EVENT, a new reference to {"topic",
    "vseq"} to tell clients about; 0 when the view does not hold it; -1
    when out of memory (the topic is removed all the same). */
int ps_gwview_remove (ps_gwview_t *self, const char *topic, size_t topic_len, json_t **event);

/*  The vseq of the latest change (0 before any). */
uint64_t ps_gwview_vseq (const ps_gwview_t *self);

/*  Number of topics held. */
size_t ps_gwview_size (const ps_gwview_t *self);

/*  Appends to ARRAY, in topic order (bytewise), the indicators whose topic
    starts with PREFIX, at most LIMIT of them. Returns how many matched in
    all (more than LIMIT: the answer was truncated), or -1 when out of
    memory. */
long ps_gwview_select (ps_gwview_t *self, const char *prefix, long limit, json_t *array);

/*  As ps_gwview_select, but writes the JSON array's text into *TEXT
    (malloc'ed, *TEXT_LEN bytes plus a NUL), one indicator converted at a
    time, so a big answer costs its text and not a JSON tree besides.
    Returns how many matched, or -1 when out of memory (*TEXT NULL). */
long ps_gwview_select_text (ps_gwview_t *self, const char *prefix, long limit, char **text,
                            size_t *text_len);

/*  Appends to ARRAY, in period order, the cells of series SOURCE + DIMS
    (canonical "name=value,..." text, "" for none) of granularity GRAN.
    Returns how many, or -1 when out of memory. */
long ps_gwview_series (ps_gwview_t *self, const char *source, const char *dims, ps_gran_t gran,
                       json_t *array);

#endif
