/*  ps_ratios: derived ratios from a configuration file; see ps_ratios.h. */

#include "ps_ratios.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ps_ratios_t {
    size_t count;
    size_t cap;
    ps_ratio_t *items;
    size_t *lines; /* line of each ratio, to name the first of duplicates */
};

/* A line being parsed: P runs from the start to END. */
typedef struct {
    const char *p;
    const char *end;
    char why[160];
} s_cursor_t;

static int s_fail (s_cursor_t *cur, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static int s_fail (s_cursor_t *cur, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (cur->why, sizeof cur->why, fmt, args);
    va_end (args);
    return -1;
}

static bool s_is_alnum (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* [A-Za-z0-9_.-], the characters of names, sources and dimension values. */
static bool s_is_word (char c)
{
    return s_is_alnum (c) || c == '_' || c == '.' || c == '-';
}

static bool s_is_space (char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static void s_skip_space (s_cursor_t *cur)
{
    while (cur->p < cur->end && s_is_space (*cur->p))
        cur->p++;
}

/* Copies the run of bytes accepted by IS_OK into OUT (MAX chars at most);
   returns the run's length (which may exceed MAX: the caller rejects it). */
static size_t s_take (s_cursor_t *cur, bool (*is_ok) (char), char *out, size_t max)
{
    const char *start = cur->p;
    while (cur->p < cur->end && is_ok (*cur->p))
        cur->p++;
    size_t len = (size_t) (cur->p - start);
    size_t copy = len < max ? len : max;
    memcpy (out, start, copy);
    out[copy] = '\0';
    return len;
}

static bool s_is_dim_name (const char *name, size_t len)
{
    if (len < 1 || len > PS_DIM_NAME_MAX || name[0] < 'a' || name[0] > 'z')
        return false;
    for (size_t i = 1; i < len; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            return false;
    return true;
}

static bool s_is_dim_char (char c)
{
    return s_is_word (c) || c == '*';
}

static int s_parse_dim (s_cursor_t *cur, const char *side, ps_dim_t *dim)
{
    const char *start = cur->p;
    while (cur->p < cur->end && *cur->p != '=' && *cur->p != ',' && *cur->p != ':')
        cur->p++;
    size_t len = (size_t) (cur->p - start);
    if (cur->p == cur->end || *cur->p != '=')
        return s_fail (cur, "%s: dimension '%.*s' must be name=value", side, (int) len, start);
    if (!s_is_dim_name (start, len))
        return s_fail (cur, "%s: dimension name '%.*s' must match [a-z][a-z0-9_]{0,31}", side,
                       (int) len, start);
    memcpy (dim->name, start, len);
    dim->name[len] = '\0';
    cur->p++;
    size_t vlen = s_take (cur, s_is_dim_char, dim->value, PS_DIM_VALUE_MAX);
    bool star = vlen == 1 && dim->value[0] == '*';
    if (vlen < 1 || vlen > PS_DIM_VALUE_MAX || (!star && strchr (dim->value, '*')))
        return s_fail (cur, "%s: value of dimension '%s' must be * or 1..%d of [A-Za-z0-9_.-]",
                       side, dim->name, PS_DIM_VALUE_MAX);
    return 0;
}

static int s_cmp_dim (const void *a, const void *b)
{
    return strcmp (((const ps_dim_t *) a)->name, ((const ps_dim_t *) b)->name);
}

static bool s_is_lower (char c)
{
    return c >= 'a' && c <= 'z';
}

/* SOURCE/DIMS:MEASURE, with no space inside. */
static int s_parse_side (s_cursor_t *cur, const char *side, ps_ratio_side_t *out)
{
    size_t len = s_take (cur, s_is_word, out->source, PS_SOURCE_MAX);
    if (len < 1 || len > PS_SOURCE_MAX || !s_is_alnum (out->source[0]))
        return s_fail (cur,
                       "%s: source must be 1..%d of [A-Za-z0-9_.-], starting with a letter "
                       "or digit",
                       side, PS_SOURCE_MAX);
    if (cur->p == cur->end || *cur->p != '/')
        return s_fail (cur, "%s: expected '/' after source '%s'", side, out->source);
    cur->p++;
    out->ndims = 0;
    while (cur->p < cur->end && *cur->p != ':') {
        if (out->ndims == PS_MAX_DIMS)
            return s_fail (cur, "%s: more than %d dimensions", side, PS_MAX_DIMS);
        if (s_parse_dim (cur, side, &out->dims[out->ndims]) != 0)
            return -1;
        out->ndims++;
        if (cur->p < cur->end && *cur->p == ',' && cur->p + 1 < cur->end && cur->p[1] != ':')
            cur->p++;
        else if (cur->p < cur->end && *cur->p != ':')
            return s_fail (cur, "%s: expected ',' and a dimension, or ':', after dimension '%s'",
                           side, out->dims[out->ndims - 1].name);
    }
    qsort (out->dims, (size_t) out->ndims, sizeof out->dims[0], s_cmp_dim);
    for (int i = 1; i < out->ndims; i++)
        if (strcmp (out->dims[i].name, out->dims[i - 1].name) == 0)
            return s_fail (cur, "%s: dimension '%s' appears twice", side, out->dims[i].name);
    if (cur->p == cur->end)
        return s_fail (cur, "%s: expected ':count' or ':amount' after the dimensions", side);
    cur->p++;
    char measure[8];
    len = s_take (cur, s_is_lower, measure, sizeof measure - 1);
    if (len == 5 && strcmp (measure, "count") == 0)
        out->measure = PS_MEASURE_COUNT;
    else if (len == 6 && strcmp (measure, "amount") == 0)
        out->measure = PS_MEASURE_AMOUNT;
    else
        return s_fail (cur, "%s: measure must be count or amount", side);
    return 0;
}

static int s_parse_line (s_cursor_t *cur, ps_ratio_t *ratio)
{
    s_skip_space (cur);
    size_t len = s_take (cur, s_is_word, ratio->name, PS_RATIO_NAME_MAX);
    s_skip_space (cur);
    if (cur->p == cur->end || *cur->p != '=')
        return s_fail (cur, len ? "expected '=' after the ratio name"
                                : "expected NAME = SOURCE/DIMS:MEASURE / SOURCE/DIMS:MEASURE");
    if (len < 1 || len > PS_RATIO_NAME_MAX)
        return s_fail (cur, "ratio name must be 1..%d of [A-Za-z0-9_.-]", PS_RATIO_NAME_MAX);
    cur->p++;
    s_skip_space (cur);
    if (s_parse_side (cur, "numerator", &ratio->num) != 0)
        return -1;
    s_skip_space (cur);
    if (cur->p == cur->end || *cur->p != '/')
        return s_fail (cur, "expected '/' and the denominator after the numerator");
    cur->p++;
    s_skip_space (cur);
    if (s_parse_side (cur, "denominator", &ratio->den) != 0)
        return -1;
    s_skip_space (cur);
    if (cur->p != cur->end)
        return s_fail (cur, "unexpected '%.*s' after the denominator", (int) (cur->end - cur->p),
                       cur->p);
    return 0;
}

static int s_append (ps_ratios_t *self, const ps_ratio_t *ratio, size_t line)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        ps_ratio_t *items = realloc (self->items, cap * sizeof *items);
        if (!items)
            return -1;
        self->items = items;
        size_t *lines = realloc (self->lines, cap * sizeof *lines);
        if (!lines)
            return -1;
        self->lines = lines;
        self->cap = cap;
    }
    self->items[self->count] = *ratio;
    self->lines[self->count] = line;
    self->count++;
    return 0;
}

ps_ratios_t *ps_ratios_parse (const char *text, size_t len, const char *filename, char *err,
                              size_t err_size)
{
    ps_ratios_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "%s: out of memory", filename);
        return NULL;
    }
    const char *end = text + len;
    size_t line = 0;
    for (const char *p = text; p < end; line++) {
        const char *eol = memchr (p, '\n', (size_t) (end - p));
        if (!eol)
            eol = end;
        const char *hash = memchr (p, '#', (size_t) (eol - p));
        s_cursor_t cur = {p, hash ? hash : eol, ""};
        p = eol + 1;
        s_skip_space (&cur);
        if (cur.p == cur.end)
            continue;
        ps_ratio_t ratio;
        if (memchr (cur.p, '\0', (size_t) (cur.end - cur.p)))
            s_fail (&cur, "NUL byte in the line");
        else if (s_parse_line (&cur, &ratio) == 0) {
            for (size_t i = 0; i < self->count; i++)
                if (strcmp (self->items[i].name, ratio.name) == 0) {
                    s_fail (&cur, "duplicate ratio name '%s' (first on line %zu)", ratio.name,
                            self->lines[i]);
                    break;
                }
            if (!cur.why[0] && s_append (self, &ratio, line + 1) != 0)
                s_fail (&cur, "out of memory");
        }
        if (cur.why[0]) {
            snprintf (err, err_size, "%s:%zu: %s", filename, line + 1, cur.why);
            ps_ratios_destroy (&self);
            return NULL;
        }
    }
    return self;
}

ps_ratios_t *ps_ratios_load (const char *path, char *err, size_t err_size)
{
    FILE *file = fopen (path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    if (!file)
        goto err;
    for (;;) {
        if (len == cap) {
            char *more = cap > (1u << 24) ? NULL : realloc (text, cap ? cap * 2 : 4096);
            if (!more) {
                errno = cap ? EFBIG : ENOMEM;
                goto err;
            }
            text = more;
            cap = cap ? cap * 2 : 4096;
        }
        size_t n = fread (text + len, 1, cap - len, file);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror (file))
        goto err;
    fclose (file);
    ps_ratios_t *self = ps_ratios_parse (text, len, path, err, err_size);
    free (text);
    return self;
err:
    snprintf (err, err_size, "%s: cannot read: %s", path, strerror (errno));
    if (file)
        fclose (file);
    free (text);
    return NULL;
}

void ps_ratios_destroy (ps_ratios_t **self_p)
{
    ps_ratios_t *self = *self_p;
    if (!self)
        return;
    free (self->items);
    free (self->lines);
    free (self);
    *self_p = NULL;
}

size_t ps_ratios_count (const ps_ratios_t *self)
{
    return self->count;
}

const ps_ratio_t *ps_ratios_get (const ps_ratios_t *self, size_t i)
{
    return i < self->count ? &self->items[i] : NULL;
}

static int s_bind_side (ps_ratio_side_t *side, ps_cells_t *cells)
{
    uint32_t star[PS_MAX_DIMS];
    if (ps_cells_series_key (cells, side->source, side->dims, side->ndims, &side->key, star) != 0)
        return -1;
    side->series = ps_cells_series_find (cells, &side->key);
    if (!side->series)
        side->series = ps_cells_series_insert (cells, &side->key);
    if (!side->series)
        return -1;
    ps_cells_series_at (cells, side->series)->flags |= PS_SERIES_RATIO;
    return 0;
}

int ps_ratios_bind (ps_ratios_t *self, ps_cells_t *cells)
{
    for (size_t i = 0; i < self->count; i++)
        if (s_bind_side (&self->items[i].num, cells) != 0 ||
            s_bind_side (&self->items[i].den, cells) != 0)
            return -1;
    return 0;
}

const char *ps_measure_name (ps_measure_t measure)
{
    return measure == PS_MEASURE_AMOUNT ? "amount" : "count";
}
