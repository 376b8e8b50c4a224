/*  ps_gwview: the gateway's view of the indicators; see ps_gwview.h. */

#include "ps_gwview.h"

#include "ps_log.h"
#include "ps_money.h"
#include "ps_msgjson.h"
#include "ps_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_series_t s_series_t;

/* A compact record per topic: the feed message's MessagePack bytes, from
   which the JSON is built when asked for. A jansson tree per topic cost
   about 2.5 KiB; this costs the message (about 200 bytes) and the topic. */
typedef struct {
    s_series_t *series; /* NULL for '$' topics (ratios) */
    ps_period_t period;
    uint64_t vseq;      /* the change that set it */
    uint16_t topic_len;
    uint32_t body_len;
    uint8_t *data;      /* topic bytes, then body bytes; replaced, never changed in place */
} s_entry_t;

/* The cells of one (source, dims), sorted by period. */
struct s_series_t {
    s_entry_t **points;
    size_t n, cap;
};

struct ps_gwview_t {
    ps_strmap_t *topics; /* topic -> s_entry_t */
    ps_strmap_t *series; /* "source/dims" -> s_series_t */
    uint64_t vseq;
};

ps_gwview_t *ps_gwview_new (void)
{
    ps_gwview_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->topics = ps_strmap_new ();
    self->series = ps_strmap_new ();
    if (!self->topics || !self->series)
        goto err;
    return self;
err:
    ps_gwview_destroy (&self);
    return NULL;
}

/*  Frees every entry and series of the maps (the maps themselves stay). */
static void s_free_values (ps_gwview_t *self)
{
    size_t cursor = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (self->topics, &cursor, &key, &len, &value)) {
        s_entry_t *entry = value;
        free (entry->data);
        free (entry);
    }
    cursor = 0;
    while (ps_strmap_next (self->series, &cursor, &key, &len, &value)) {
        s_series_t *series = value;
        free (series->points);
        free (series);
    }
}

void ps_gwview_destroy (ps_gwview_t **self_p)
{
    ps_gwview_t *self = *self_p;
    if (!self)
        return;
    if (self->topics && self->series)
        s_free_values (self);
    ps_strmap_destroy (&self->topics);
    ps_strmap_destroy (&self->series);
    free (self);
    *self_p = NULL;
}

static int s_fail (ps_error_t *err, ps_err_t code, const char *reason)
{
    err->code = code;
    err->field = "";
    snprintf (err->reason, sizeof err->reason, "%s", reason);
    return -1;
}

/*  Splits cell topic "source/period/dims" into its series key
    "source/dims" (KEY of PS_TOPIC_MAX + 1 bytes) and *PERIOD. */
static int s_parse_cell_topic (const char *topic, size_t len, char *key, size_t *key_len,
                               ps_period_t *period)
{
    const char *s1 = memchr (topic, '/', len);
    const char *s2 = s1 ? memchr (s1 + 1, '/', len - (size_t) (s1 + 1 - topic)) : NULL;
    if (!s1 || !s2 || s1 == topic || len > PS_TOPIC_MAX ||
        ps_period_parse (s1 + 1, (size_t) (s2 - s1 - 1), period, NULL) != 0)
        return -1;
    size_t source_len = (size_t) (s1 - topic) + 1, dims_len = len - (size_t) (s2 + 1 - topic);
    memcpy (key, topic, source_len);
    memcpy (key + source_len, s2 + 1, dims_len);
    *key_len = source_len + dims_len;
    return 0;
}

/*  Adds "MAJOR": the exact decimal text of integer field NAME in major
    units of the message's currency, when it has both. The exponent comes
    from ps_money's ISO 4217 table rather than from the untrusted "exp". */
static void s_add_major (json_t *obj, const char *name, const char *major)
{
    json_t *minor = json_object_get (obj, name);
    const char *currency = json_string_value (json_object_get (obj, "currency"));
    int exp = currency ? ps_currency_exponent (currency, strlen (currency)) : -1;
    if (!json_is_integer (minor) || exp < 0)
        return;
    char text[48];
    int n = ps_money_format ((int64_t) json_integer_value (minor), exp, text, sizeof text);
    if (n > 0 && (size_t) n < sizeof text)
        json_object_set_new (obj, major, json_stringn (text, (size_t) n));
}

static int s_series_insert (s_series_t *series, s_entry_t *entry)
{
    if (series->n == series->cap) {
        size_t cap = series->cap ? series->cap * 2 : 8;
        s_entry_t **grown = realloc (series->points, cap * sizeof *grown);
        if (!grown)
            return -1;
        series->points = grown;
        series->cap = cap;
    }
    size_t at = series->n;
    while (at > 0 && ps_period_cmp (&series->points[at - 1]->period, &entry->period) > 0)
        at--;
    memmove (series->points + at + 1, series->points + at, (series->n - at) * sizeof (s_entry_t *));
    series->points[at] = entry;
    series->n++;
    entry->series = series;
    return 0;
}

/*  Files ENTRY under series KEY. Returns 0 or -1 (out of memory). */
static int s_index (ps_gwview_t *self, const char *key, size_t key_len, s_entry_t *entry)
{
    bool inserted;
    void **slot = ps_strmap_put (self->series, key, key_len, &inserted);
    if (!slot)
        return -1;
    if (inserted) {
        *slot = calloc (1, sizeof (s_series_t));
        if (!*slot) {
            ps_strmap_remove (self->series, key, key_len);
            return -1;
        }
    }
    return s_series_insert (*slot, entry);
}

static void s_unindex (ps_gwview_t *self, const char *topic, size_t len, s_entry_t *entry)
{
    s_series_t *series = entry->series;
    if (!series)
        return;
    for (size_t i = 0; i < series->n; i++)
        if (series->points[i] == entry) {
            memmove (series->points + i, series->points + i + 1,
                     (series->n - i - 1) * sizeof (s_entry_t *));
            series->n--;
            break;
        }
    if (series->n > 0)
        return;
    char key[PS_TOPIC_MAX + 1];
    size_t key_len;
    ps_period_t period;
    if (s_parse_cell_topic (topic, len, key, &key_len, &period) == 0)
        ps_strmap_remove (self->series, key, key_len);
    free (series->points);
    free (series);
}

/*  Builds the JSON clients get from ENTRY: the message's fields without
    the numbering keys, plus "topic", "vseq" and the amounts in major
    units. Returns a new reference, or NULL (out of memory, or a message
    that no longer converts: it did when it was stored). */
static json_t *s_entry_json (const s_entry_t *entry)
{
    ps_error_t err;
    json_t *msg = ps_msgjson_feed ((const char *) entry->data, entry->topic_len,
                                   entry->data + entry->topic_len, entry->body_len, &err);
    if (!msg)
        return NULL;
    static const char *const numbering[] = {"v", "seq", "prev", "epoch"};
    for (size_t i = 0; i < sizeof numbering / sizeof numbering[0]; i++)
        json_object_del (msg, numbering[i]);
    s_add_major (msg, "amount", "amount_major");
    s_add_major (msg, "ytd_amount", "ytd_amount_major");
    if (json_object_set_new (msg, "vseq", json_integer ((json_int_t) entry->vseq)) != 0) {
        json_decref (msg);
        return NULL;
    }
    return msg;
}

/*  Copies TOPIC and BODY into a buffer for an entry. Returns NULL when out
    of memory. */
static uint8_t *s_data_new (const char *topic, size_t topic_len, const void *body,
                            size_t body_len)
{
    uint8_t *data = malloc (topic_len + body_len);
    if (data) {
        memcpy (data, topic, topic_len);
        memcpy (data + topic_len, body, body_len);
    }
    return data;
}

/*  Stores BODY as TOPIC's indicator, set by change VSEQ. Returns the
    entry, or NULL with *ERR. */
static s_entry_t *s_set (ps_gwview_t *self, const char *topic, size_t len, const void *body,
                         size_t body_len, uint64_t vseq, ps_error_t *err)
{
    char key[PS_TOPIC_MAX + 1];
    size_t key_len = 0;
    ps_period_t period = {0};
    bool cell = topic[0] != '$';
    if (cell && s_parse_cell_topic (topic, len, key, &key_len, &period) != 0) {
        s_fail (err, PS_E_SYNTAX, "a cell topic must be source/period/dims");
        return NULL;
    }
    if (body_len > UINT32_MAX) {
        s_fail (err, PS_E_LIMIT, "message too big");
        return NULL;
    }
    uint8_t *data = s_data_new (topic, len, body, body_len);
    bool inserted;
    void **slot = data ? ps_strmap_put (self->topics, topic, len, &inserted) : NULL;
    if (!slot) {
        free (data);
        s_fail (err, PS_E_LIMIT, "out of memory");
        return NULL;
    }
    s_entry_t *entry = inserted ? calloc (1, sizeof *entry) : *slot;
    if (inserted) {
        if (entry)
            entry->period = period;
        if (!entry || (cell && s_index (self, key, key_len, entry) != 0)) {
            free (entry);
            free (data);
            ps_strmap_remove (self->topics, topic, len);
            s_fail (err, PS_E_LIMIT, "out of memory");
            return NULL;
        }
        *slot = entry;
    }
    free (entry->data);
    entry->data = data;
    entry->topic_len = (uint16_t) len;
    entry->body_len = (uint32_t) body_len;
    entry->vseq = vseq;
    return entry;
}

int ps_gwview_apply (ps_gwview_t *self, const char *topic, size_t topic_len, const void *body,
                     size_t body_len, json_t **event, ps_error_t *err)
{
    if (event)
        *event = NULL;
    if (topic_len == 0 || topic_len > PS_TOPIC_MAX)
        return s_fail (err, PS_E_LIMIT, "topic empty or longer than the limit");
    /* Converting checks the message (MessagePack, UTF-8) as every later
       conversion of the stored bytes will need. */
    json_t *msg = ps_msgjson_feed (topic, topic_len, body, body_len, err);
    if (!msg)
        return -1;
    const char *type = json_string_value (json_object_get (msg, "type"));
    bool indicator = type && (strcmp (type, "cell") == 0 || strcmp (type, "ratio") == 0);
    json_decref (msg);
    if (!indicator)
        return PS_GWVIEW_IGNORED;
    /* The topic frame was checked as UTF-8 by ps_msgjson_feed; the view
       keys on its bytes. */
    s_entry_t *entry = s_set (self, topic, topic_len, body, body_len, self->vseq + 1, err);
    if (!entry)
        return -1;
    self->vseq++;
    if (event) {
        *event = s_entry_json (entry);
        if (!*event)
            ps_log_every (PS_LOG_ERROR, 10, "out of memory building a change's event",
                          "topic=\"%.*s\"", (int) topic_len, topic);
    }
    return PS_GWVIEW_SET;
}

int ps_gwview_remove (ps_gwview_t *self, const char *topic, size_t topic_len, json_t **event)
{
    *event = NULL;
    s_entry_t *entry = ps_strmap_remove (self->topics, topic, topic_len);
    if (!entry)
        return 0;
    s_unindex (self, topic, topic_len, entry);
    free (entry->data);
    free (entry);
    *event =
        json_pack ("{s:s%, s:I}", "topic", topic, topic_len, "vseq", (json_int_t) ++self->vseq);
    return *event ? 1 : -1;
}

uint64_t ps_gwview_vseq (const ps_gwview_t *self)
{
    return self->vseq;
}

size_t ps_gwview_size (const ps_gwview_t *self)
{
    return ps_strmap_size (self->topics);
}

static int s_topic_cmp (const void *a, const void *b)
{
    const s_entry_t *x = *(s_entry_t *const *) a, *y = *(s_entry_t *const *) b;
    size_t n = x->topic_len < y->topic_len ? x->topic_len : y->topic_len;
    int c = memcmp (x->data, y->data, n);
    return c ? c : (x->topic_len > y->topic_len) - (x->topic_len < y->topic_len);
}

/*  The entries whose topic starts with PREFIX, sorted by topic, in a new
    array (*N of them). Returns NULL when out of memory. */
static s_entry_t **s_matches (ps_gwview_t *self, const char *prefix, size_t *n)
{
    size_t prefix_len = strlen (prefix);
    s_entry_t **found = malloc ((ps_strmap_size (self->topics) + 1) * sizeof *found);
    if (!found)
        return NULL;
    *n = 0;
    size_t cursor = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (self->topics, &cursor, &key, &len, &value))
        if (len >= prefix_len && memcmp (key, prefix, prefix_len) == 0)
            found[(*n)++] = value;
    qsort (found, *n, sizeof *found, s_topic_cmp);
    return found;
}

long ps_gwview_select (ps_gwview_t *self, const char *prefix, long limit, json_t *array)
{
    size_t n;
    s_entry_t **found = s_matches (self, prefix, &n);
    if (!found)
        return -1;
    long rc = (long) n;
    for (size_t i = 0; i < n && (long) i < limit; i++)
        if (json_array_append_new (array, s_entry_json (found[i])) != 0) {
            rc = -1;
            break;
        }
    free (found);
    return rc;
}

/*  Appends LEN bytes of TEXT to the growing buffer *BUF. Returns 0 or -1. */
static int s_append (char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t grown_cap = *cap ? *cap : 4096;
        while (grown_cap < *len + n + 1)
            grown_cap *= 2;
        char *grown = realloc (*buf, grown_cap);
        if (!grown)
            return -1;
        *buf = grown;
        *cap = grown_cap;
    }
    memcpy (*buf + *len, text, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

long ps_gwview_select_text (ps_gwview_t *self, const char *prefix, long limit, char **text,
                            size_t *text_len)
{
    *text = NULL;
    *text_len = 0;
    size_t n, cap = 0;
    s_entry_t **found = s_matches (self, prefix, &n);
    if (!found)
        return -1;
    long rc = s_append (text, text_len, &cap, "[", 1) == 0 ? (long) n : -1;
    /* One indicator's JSON at a time: the answer's memory is its text. */
    for (size_t i = 0; rc >= 0 && i < n && (long) i < limit; i++) {
        json_t *obj = s_entry_json (found[i]);
        char *one = obj ? json_dumps (obj, JSON_COMPACT) : NULL;
        json_decref (obj);
        if (!one || (i > 0 && s_append (text, text_len, &cap, ",", 1) != 0) ||
            s_append (text, text_len, &cap, one, strlen (one)) != 0)
            rc = -1;
        free (one);
    }
    if (rc >= 0 && s_append (text, text_len, &cap, "]", 1) != 0)
        rc = -1;
    if (rc < 0) {
        free (*text);
        *text = NULL;
        *text_len = 0;
    }
    free (found);
    return rc;
}

long ps_gwview_series (ps_gwview_t *self, const char *source, const char *dims, ps_gran_t gran,
                       json_t *array)
{
    char key[PS_TOPIC_MAX + 2];
    int key_len = snprintf (key, sizeof key, "%s/%s", source, dims);
    if (key_len < 0 || (size_t) key_len >= sizeof key)
        return 0;
    void **slot = ps_strmap_get (self->series, key, (size_t) key_len);
    if (!slot)
        return 0;
    s_series_t *series = *slot;
    long n = 0;
    for (size_t i = 0; i < series->n; i++)
        if (series->points[i]->period.gran == gran) {
            if (json_array_append_new (array, s_entry_json (series->points[i])) != 0)
                return -1;
            n++;
        }
    return n;
}
