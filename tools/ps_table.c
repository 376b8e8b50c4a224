/*  ps_table: latest value per topic and its rendering; see ps_table.h. */

#include "ps_table.h"
#include "ps_money.h"
#include "ps_proto.h"

#include <stdlib.h>
#include <string.h>

#define S_TEXT_MAX 96 /* one rendered cell of the table */
#define S_COLS_MAX 8

struct ps_table_t {
    json_t *topics; /* topic -> latest message */
};

ps_table_t *ps_table_new (void)
{
    ps_table_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->topics = json_object ();
    if (!self->topics) {
        free (self);
        return NULL;
    }
    return self;
}

void ps_table_destroy (ps_table_t **self_p)
{
    ps_table_t *self = *self_p;
    if (!self)
        return;
    json_decref (self->topics);
    free (self);
    *self_p = NULL;
}

int ps_table_update (ps_table_t *self, json_t *msg)
{
    const char *topic = json_string_value (json_object_get (msg, "topic"));
    if (!topic)
        return -1;
    if (strcmp (topic, PS_TOPIC_HEARTBEAT) == 0)
        return 0;
    const char *type = json_string_value (json_object_get (msg, "type"));
    if (!type || strcmp (type, "removed") == 0) {
        json_object_del (self->topics, topic);
        return 0;
    }
    return json_object_set (self->topics, topic, msg);
}

json_t *ps_table_get (const ps_table_t *self, const char *topic)
{
    return json_object_get (self->topics, topic);
}

size_t ps_table_size (const ps_table_t *self)
{
    return json_object_size (self->topics);
}

/* ---- A grid of text cells, aligned on print ----------------------------- */

typedef struct {
    int ncols;
    const char *align; /* per column: 'l' or 'r' */
    size_t nrows, cap;
    char (*cells)[S_COLS_MAX][S_TEXT_MAX];
} s_grid_t;

static char *s_grid_row (s_grid_t *grid)
{
    if (grid->nrows == grid->cap) {
        size_t cap = grid->cap ? grid->cap * 2 : 32;
        void *cells = realloc (grid->cells, cap * sizeof *grid->cells);
        if (!cells)
            return NULL;
        grid->cells = cells;
        grid->cap = cap;
    }
    char *row = grid->cells[grid->nrows++][0];
    memset (row, 0, sizeof *grid->cells);
    return row;
}

static void s_grid_print (const s_grid_t *grid, FILE *out)
{
    size_t width[S_COLS_MAX] = {0};
    for (size_t r = 0; r < grid->nrows; r++)
        for (int c = 0; c < grid->ncols; c++) {
            size_t len = strlen (grid->cells[r][c]);
            if (len > width[c])
                width[c] = len;
        }
    for (size_t r = 0; r < grid->nrows; r++) {
        for (int c = 0; c < grid->ncols; c++) {
            const char *text = grid->cells[r][c];
            bool last = c == grid->ncols - 1;
            if (grid->align[c] == 'r')
                fprintf (out, "%*s", (int) width[c], text);
            else
                fprintf (out, "%-*s", last ? 0 : (int) width[c], text);
            fputs (last ? "\n" : "  ", out);
        }
    }
}

/* ---- Rendering of one value --------------------------------------------- */

#define S_CELL(row, c) ((row) + (size_t) (c) *S_TEXT_MAX)

static void s_pct (char *buf, json_t *msg, const char *key)
{
    json_t *v = json_object_get (msg, key);
    if (json_is_number (v))
        snprintf (buf, S_TEXT_MAX, "%+.1f%%", json_number_value (v));
    else
        snprintf (buf, S_TEXT_MAX, "-");
}

static void s_amount (char *buf, json_t *msg, int exponent)
{
    json_t *amount = json_object_get (msg, "amount");
    const char *currency = json_string_value (json_object_get (msg, "currency"));
    if (!json_is_integer (amount) || !currency || exponent < 0) {
        snprintf (buf, S_TEXT_MAX, "-");
        return;
    }
    int n = ps_money_format (json_integer_value (amount), exponent, buf, S_TEXT_MAX);
    if (n > 0 && n < S_TEXT_MAX)
        snprintf (buf + n, S_TEXT_MAX - (size_t) n, " %s", currency);
}

static void s_ticket (char *buf, json_t *msg, int exponent)
{
    json_t *avg = json_object_get (msg, "avg_ticket");
    if (!json_is_number (avg) || exponent < 0) {
        snprintf (buf, S_TEXT_MAX, "-");
        return;
    }
    double major = json_number_value (avg);
    for (int i = 0; i < exponent; i++)
        major /= 10;
    snprintf (buf, S_TEXT_MAX, "%.*f", exponent, major);
}

static void s_share (char *buf, json_t *msg)
{
    json_t *share = json_object_get (msg, "share");
    const char *dim;
    json_t *pcts;
    size_t used = 0;
    snprintf (buf, S_TEXT_MAX, "-");
    json_object_foreach (share, dim, pcts)
    {
        json_t *v = json_object_get (pcts, "amount_pct");
        if (!json_is_number (v))
            v = json_object_get (pcts, "count_pct");
        if (!json_is_number (v) || used >= S_TEXT_MAX)
            continue;
        int n = snprintf (buf + used, S_TEXT_MAX - used, "%s%s %.1f%%", used ? ", " : "", dim,
                          json_number_value (v));
        used += n > 0 ? (size_t) n : 0;
    }
}

static void s_ratio_side (char *buf, json_t *side)
{
    const char *topic = json_string_value (json_object_get (side, "topic"));
    const char *measure = json_string_value (json_object_get (side, "measure"));
    snprintf (buf, S_TEXT_MAX, "%s %s", topic ? topic : "?", measure ? measure : "?");
}

/* ---- The table ------------------------------------------------------------ */

static int s_cmp (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

int ps_table_print (const ps_table_t *self, FILE *out)
{
    size_t n = json_object_size (self->topics);
    const char **topics = malloc ((n ? n : 1) * sizeof *topics);
    if (!topics)
        return -1;
    size_t k = 0;
    const char *topic;
    json_t *msg;
    json_object_foreach (self->topics, topic, msg) topics[k++] = topic;
    qsort (topics, n, sizeof *topics, s_cmp);

    s_grid_t cells = {8, "lrrrrrrl", 0, 0, NULL};
    s_grid_t ratios = {5, "llrll", 0, 0, NULL};
    s_grid_t rejects = {4, "llll", 0, 0, NULL};
    char *row = s_grid_row (&cells);
    const char *heads[] = {"TOPIC",     "COUNT",      "AMOUNT",  "AVG TICKET",
                           "YOY COUNT", "YOY AMOUNT", "YOY AVG", "SHARE"};
    for (int c = 0; row && c < 8; c++)
        snprintf (S_CELL (row, c), S_TEXT_MAX, "%s", heads[c]);
    row = row ? s_grid_row (&ratios) : NULL;
    const char *ratio_heads[] = {"RATIO", "PERIOD", "VALUE", "NUMERATOR", "DENOMINATOR"};
    for (int c = 0; row && c < 5; c++)
        snprintf (S_CELL (row, c), S_TEXT_MAX, "%s", ratio_heads[c]);
    row = row ? s_grid_row (&rejects) : NULL;
    const char *reject_heads[] = {"REJECTED BY COMPUTE", "INDEX", "CODE", "REASON"};
    for (int c = 0; row && c < 4; c++)
        snprintf (S_CELL (row, c), S_TEXT_MAX, "%s", reject_heads[c]);

    for (size_t i = 0; row && i < n; i++) {
        msg = json_object_get (self->topics, topics[i]);
        const char *type = json_string_value (json_object_get (msg, "type"));
        if (type && strcmp (type, "cell") == 0 && (row = s_grid_row (&cells))) {
            json_t *exp = json_object_get (msg, "exp");
            int exponent = json_is_integer (exp) ? (int) json_integer_value (exp) : -1;
            json_t *count = json_object_get (msg, "count");
            snprintf (S_CELL (row, 0), S_TEXT_MAX, "%s", topics[i]);
            if (json_is_integer (count))
                snprintf (S_CELL (row, 1), S_TEXT_MAX, "%" JSON_INTEGER_FORMAT,
                          json_integer_value (count));
            else
                snprintf (S_CELL (row, 1), S_TEXT_MAX, "-");
            s_amount (S_CELL (row, 2), msg, exponent);
            s_ticket (S_CELL (row, 3), msg, exponent);
            s_pct (S_CELL (row, 4), msg, "yoy_count_pct");
            s_pct (S_CELL (row, 5), msg, "yoy_amount_pct");
            s_pct (S_CELL (row, 6), msg, "yoy_avg_ticket_pct");
            s_share (S_CELL (row, 7), msg);
        } else if (type && strcmp (type, "ratio") == 0 && (row = s_grid_row (&ratios))) {
            json_t *value = json_object_get (msg, "value");
            const char *name = json_string_value (json_object_get (msg, "name"));
            const char *period = json_string_value (json_object_get (msg, "period"));
            snprintf (S_CELL (row, 0), S_TEXT_MAX, "%s", name ? name : topics[i]);
            snprintf (S_CELL (row, 1), S_TEXT_MAX, "%s", period ? period : "?");
            if (json_is_number (value))
                snprintf (S_CELL (row, 2), S_TEXT_MAX, "%.4f", json_number_value (value));
            else
                snprintf (S_CELL (row, 2), S_TEXT_MAX, "-");
            s_ratio_side (S_CELL (row, 3), json_object_get (msg, "numerator"));
            s_ratio_side (S_CELL (row, 4), json_object_get (msg, "denominator"));
        } else if (type && strcmp (type, "reject") == 0 && (row = s_grid_row (&rejects))) {
            const char *producer = json_string_value (json_object_get (msg, "producer"));
            const char *code = json_string_value (json_object_get (msg, "code"));
            const char *reason = json_string_value (json_object_get (msg, "reason"));
            snprintf (S_CELL (row, 0), S_TEXT_MAX, "%s seq %" JSON_INTEGER_FORMAT,
                      producer ? producer : "?",
                      json_integer_value (json_object_get (msg, "batch_seq")));
            snprintf (S_CELL (row, 1), S_TEXT_MAX, "%" JSON_INTEGER_FORMAT,
                      json_integer_value (json_object_get (msg, "index")));
            snprintf (S_CELL (row, 2), S_TEXT_MAX, "%s", code ? code : "?");
            snprintf (S_CELL (row, 3), S_TEXT_MAX, "%s", reason ? reason : "");
        }
    }
    int rc = row ? 0 : -1;
    if (rc == 0) {
        s_grid_print (&cells, out);
        if (ratios.nrows > 1) {
            fputc ('\n', out);
            s_grid_print (&ratios, out);
        }
        if (rejects.nrows > 1) {
            fputc ('\n', out);
            s_grid_print (&rejects, out);
        }
    }
    free (cells.cells);
    free (ratios.cells);
    free (rejects.cells);
    free (topics);
    return rc;
}
