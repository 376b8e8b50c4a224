/*  ps_input: CSV and JSON-lines report reader; see ps_input.h. */

#define _GNU_SOURCE /* getline */

#include "ps_input.h"
#include "ps_money.h"

#include <csv.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* More columns than this is not a report file. */
#define PS_INPUT_MAX_COLUMNS 64
/* Longest excerpt of a bad value quoted back in a reason. */
#define S_QUOTE_MAX 40

typedef enum {
    S_COL_SOURCE = 0,
    S_COL_PERIOD,
    S_COL_COUNT,
    S_COL_AMOUNT,
    S_COL_CURRENCY,
    S_COL_OP,
    S_COL__FIXED, /* columns below are dimensions */
    S_COL_DIM = S_COL__FIXED
} s_col_t;

static const char *s_fixed_names[S_COL__FIXED] = {"source", "period",   "count",
                                                  "amount", "currency", "op"};

/* Text of one report's fields before conversion; NULL = absent. */
typedef struct {
    const char *text[S_COL__FIXED];
    size_t len[S_COL__FIXED];
} s_fields_t;

struct ps_input_t {
    FILE *file;
    ps_input_format_t format;
    char *line; /* getline buffer */
    size_t line_cap;
    uint64_t lineno;
    uint64_t offset;
    /* CSV */
    struct csv_parser csv;
    bool csv_ready;
    bool have_header;
    int ncols;
    uint8_t role[PS_INPUT_MAX_COLUMNS];                       /* s_col_t */
    char dim_name[PS_INPUT_MAX_COLUMNS][PS_DIM_NAME_MAX + 1]; /* for S_COL_DIM */
    char *row;                                                /* field bytes of the record */
    size_t row_len, row_cap;
    size_t field_off[PS_INPUT_MAX_COLUMNS + 1];
    size_t field_len[PS_INPUT_MAX_COLUMNS + 1];
    int nfields;      /* fields seen in the record, may exceed what is stored */
    bool row_oom;     /* a field could not be stored */
    bool record_open; /* a record has begun and not ended */
    bool record_done; /* libcsv reported the end of the record */
    uint64_t record_line;
};

static ps_input_result_t s_fail (ps_input_error_t *err, uint64_t line, ps_err_t code,
                                 const char *field, size_t field_len, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

static ps_input_result_t s_fail (ps_input_error_t *err, uint64_t line, ps_err_t code,
                                 const char *field, size_t field_len, const char *fmt, ...)
{
    err->line = line;
    err->code = code;
    if (field_len > PS_INPUT_FIELD_MAX)
        field_len = PS_INPUT_FIELD_MAX;
    memcpy (err->field, field, field_len);
    err->field[field_len] = '\0';
    va_list args;
    va_start (args, fmt);
    vsnprintf (err->reason, sizeof err->reason, fmt, args);
    va_end (args);
    return PS_INPUT_BAD_ROW;
}

#define S_FAIL(err, line, code, field, ...)                                                        \
    s_fail ((err), (line), (code), (field), strlen (field), __VA_ARGS__)

/* Quoted values in reasons are cut to S_QUOTE_MAX bytes. */
static int s_qlen (size_t len)
{
    return (int) (len > S_QUOTE_MAX ? S_QUOTE_MAX : len);
}

ps_input_t *ps_input_new (FILE *file, ps_input_format_t format)
{
    ps_input_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->file = file;
    self->format = format;
    return self;
}

void ps_input_destroy (ps_input_t **self_p)
{
    ps_input_t *self = *self_p;
    if (!self)
        return;
    if (self->csv_ready)
        csv_free (&self->csv);
    free (self->line);
    free (self->row);
    free (self);
    *self_p = NULL;
}

uint64_t ps_input_offset (const ps_input_t *self)
{
    return self->offset;
}

int ps_input_format_parse (const char *name, ps_input_format_t *format)
{
    if (strcmp (name, "csv") == 0)
        *format = PS_INPUT_CSV;
    else if (strcmp (name, "jsonl") == 0)
        *format = PS_INPUT_JSONL;
    else
        return -1;
    return 0;
}

ps_input_format_t ps_input_format_guess (const char *path)
{
    const char *dot = strrchr (path, '.');
    if (dot &&
        (strcmp (dot, ".jsonl") == 0 || strcmp (dot, ".ndjson") == 0 || strcmp (dot, ".json") == 0))
        return PS_INPUT_JSONL;
    return PS_INPUT_CSV;
}

/* ---- Conversion of one row's text into a report ------------------------ */

/*  Digits only, or "-digits" reported as out of range rather than as a
    syntax error, since the intent is clear. */
static ps_input_result_t s_parse_count (const char *text, size_t len, int64_t *out, uint64_t line,
                                        ps_input_error_t *err)
{
    size_t i = (len > 0 && text[0] == '-') ? 1 : 0;
    if (i == len)
        return S_FAIL (err, line, PS_E_SYNTAX, "count", "'%.*s' is not a whole number",
                       s_qlen (len), text);
    int64_t v = 0;
    for (size_t j = i; j < len; j++) {
        if (text[j] < '0' || text[j] > '9')
            return S_FAIL (err, line, PS_E_SYNTAX, "count", "'%.*s' is not a whole number",
                           s_qlen (len), text);
        int d = text[j] - '0';
        if (v > (INT64_MAX - d) / 10)
            return S_FAIL (err, line, PS_E_RANGE, "count", "%.*s is larger than %" PRId64,
                           s_qlen (len), text, INT64_MAX);
        v = v * 10 + d;
    }
    if (i == 1 && v != 0)
        return S_FAIL (err, line, PS_E_RANGE, "count", "%.*s is negative", s_qlen (len), text);
    *out = v;
    return PS_INPUT_ROW;
}

static bool s_is_decimal (const char *text, size_t len)
{
    int dots = 0;
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '.')
            dots++;
        else if (text[i] >= '0' && text[i] <= '9')
            digits++;
        else
            return false;
    }
    return dots <= 1 && digits > 0;
}

static ps_input_result_t s_parse_amount (const char *text, size_t len, int exponent, int64_t *out,
                                         uint64_t line, ps_input_error_t *err)
{
    const char *why = NULL;
    if (ps_money_parse (text, len, exponent, out, &why) == 0)
        return PS_INPUT_ROW;
    if (len > 1 && text[0] == '-' && s_is_decimal (text + 1, len - 1))
        return S_FAIL (err, line, PS_E_RANGE, "amount", "%.*s is negative", s_qlen (len), text);
    /* A well-formed decimal that still fails has too many places or is too big. */
    return S_FAIL (err, line, s_is_decimal (text, len) ? PS_E_RANGE : PS_E_SYNTAX, "amount",
                   "'%.*s': %s", s_qlen (len), text, why ? why : "not a decimal number");
}

/*  Copies LEN bytes of TEXT into a NUL-terminated DEST of SIZE bytes, or
    returns false when it does not fit or holds a NUL byte. */
static bool s_copy (char *dest, size_t size, const char *text, size_t len)
{
    if (len >= size || memchr (text, '\0', len))
        return false;
    memcpy (dest, text, len);
    dest[len] = '\0';
    return true;
}

/*  Adds dimension NAME=VALUE to REPORT; FIELD names it in errors. */
static ps_input_result_t s_add_dim (ps_report_t *report, const char *name, size_t name_len,
                                    const char *value, size_t value_len, uint64_t line,
                                    ps_input_error_t *err)
{
    if (report->ndims == PS_MAX_DIMS)
        return s_fail (err, line, PS_E_DIMS, name, name_len,
                       "more than %d dimensions in one report", PS_MAX_DIMS);
    for (int i = 0; i < report->ndims; i++)
        if (strlen (report->dims[i].name) == name_len &&
            memcmp (report->dims[i].name, name, name_len) == 0)
            return s_fail (err, line, PS_E_DIMS, name, name_len, "dimension given twice");
    ps_dim_t *dim = &report->dims[report->ndims];
    if (name_len == 0 || !s_copy (dim->name, sizeof dim->name, name, name_len))
        return s_fail (err, line, PS_E_DIMS, name, name_len,
                       "a dimension name has 1 to %d characters", PS_DIM_NAME_MAX);
    if (value_len == 0 || !s_copy (dim->value, sizeof dim->value, value, value_len))
        return s_fail (err, line, PS_E_DIMS, name, name_len,
                       "a dimension value has 1 to %d characters", PS_DIM_VALUE_MAX);
    report->ndims++;
    return PS_INPUT_ROW;
}

/*  Converts the fixed fields F of the row at LINE into REPORT (whose dims
    are already set). */
static ps_input_result_t s_build (const s_fields_t *f, ps_report_t *report, uint64_t line,
                                  ps_input_error_t *err)
{
    const char *t;
    size_t n;
    ps_input_result_t rc;

    t = f->text[S_COL_SOURCE], n = f->len[S_COL_SOURCE];
    if (!t || n == 0)
        return S_FAIL (err, line, PS_E_MISSING, "source", "a report needs a source");
    if (!s_copy (report->source, sizeof report->source, t, n))
        return S_FAIL (err, line, PS_E_LIMIT, "source", "'%.*s' is longer than %d characters",
                       s_qlen (n), t, PS_SOURCE_MAX);

    t = f->text[S_COL_PERIOD], n = f->len[S_COL_PERIOD];
    if (!t || n == 0)
        return S_FAIL (err, line, PS_E_MISSING, "period", "a report needs a period");
    const char *why = NULL;
    if (ps_period_parse (t, n, &report->period, &why) != 0)
        return S_FAIL (err, line, PS_E_PERIOD, "period", "'%.*s': %s", s_qlen (n), t,
                       why ? why : "not a period");

    t = f->text[S_COL_COUNT], n = f->len[S_COL_COUNT];
    if (t && n > 0) {
        if ((rc = s_parse_count (t, n, &report->count, line, err)) != PS_INPUT_ROW)
            return rc;
        report->has_count = true;
    }

    t = f->text[S_COL_AMOUNT], n = f->len[S_COL_AMOUNT];
    if (t && n > 0) {
        const char *c = f->text[S_COL_CURRENCY];
        size_t clen = f->len[S_COL_CURRENCY];
        if (!c || clen == 0)
            return S_FAIL (err, line, PS_E_MISSING, "currency",
                           "an amount needs its currency (ISO 4217 code)");
        int exponent = ps_currency_exponent (c, clen);
        if (exponent < 0 || !s_copy (report->currency, sizeof report->currency, c, clen))
            return S_FAIL (err, line, PS_E_CURRENCY, "currency",
                           "'%.*s' is not an ISO 4217 currency code", s_qlen (clen), c);
        if ((rc = s_parse_amount (t, n, exponent, &report->amount, line, err)) != PS_INPUT_ROW)
            return rc;
        report->has_amount = true;
    }
    t = f->text[S_COL_OP], n = f->len[S_COL_OP];
    bool retract = t && n == 7 && memcmp (t, "retract", 7) == 0;
    if (retract && (report->has_count || report->has_amount))
        return S_FAIL (err, line, PS_E_OP, "op", "retract takes no count or amount");
    if (!retract && !report->has_count && !report->has_amount)
        return S_FAIL (err, line, PS_E_MISSING, "count",
                       "a report needs a count, an amount or both");
    if (!t || n == 0 || (n == 3 && memcmp (t, "add", 3) == 0))
        report->op = PS_OP_ADD;
    else if (n == 3 && memcmp (t, "set", 3) == 0)
        report->op = PS_OP_SET;
    else if (retract)
        report->op = PS_OP_RETRACT;
    else
        return S_FAIL (err, line, PS_E_OP, "op", "'%.*s' is not add, set or retract", s_qlen (n),
                       t);
    return PS_INPUT_ROW;
}

/* ---- CSV --------------------------------------------------------------- */

static void s_csv_field (void *data, size_t len, void *arg)
{
    ps_input_t *self = arg;
    int i = self->nfields++;
    if (i > PS_INPUT_MAX_COLUMNS)
        return; /* counted, not stored: the row is refused for its width */
    if (self->row_len + len + 1 > self->row_cap) {
        size_t cap = self->row_cap ? self->row_cap : 256;
        while (cap < self->row_len + len + 1)
            cap *= 2;
        char *row = realloc (self->row, cap);
        if (!row) {
            self->row_oom = true;
            return;
        }
        self->row = row;
        self->row_cap = cap;
    }
    memcpy (self->row + self->row_len, data, len);
    self->field_off[i] = self->row_len;
    self->field_len[i] = len;
    self->row_len += len;
    self->row[self->row_len++] = '\0';
}

static void s_csv_record (int c, void *arg)
{
    (void) c;
    ps_input_t *self = arg;
    self->record_done = true;
}

/* Only LF ends a record: CR is stripped from line ends before parsing. */
static int s_csv_is_term (unsigned char c)
{
    return c == CSV_LF;
}

static int s_csv_start (ps_input_t *self)
{
    if (csv_init (&self->csv, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return -1;
    csv_set_term_func (&self->csv, s_csv_is_term);
    self->csv_ready = true;
    return 0;
}

static bool s_is_dim_name (const char *name, size_t len)
{
    if (len == 0 || len > PS_DIM_NAME_MAX || name[0] < 'a' || name[0] > 'z')
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static ps_input_result_t s_csv_header (ps_input_t *self, ps_input_error_t *err)
{
    const uint64_t line = self->record_line;
    ps_input_result_t rc = PS_INPUT_ROW;
    bool seen[S_COL__FIXED] = {false};
    if (self->nfields > PS_INPUT_MAX_COLUMNS)
        rc = S_FAIL (err, line, PS_E_LIMIT, "row", "%d columns, at most %d are supported",
                     self->nfields, PS_INPUT_MAX_COLUMNS);
    for (int i = 0; rc == PS_INPUT_ROW && i < self->nfields; i++) {
        const char *name = self->row + self->field_off[i];
        size_t len = self->field_len[i];
        int role = S_COL_DIM;
        for (int k = 0; k < S_COL__FIXED; k++)
            if (strlen (s_fixed_names[k]) == len && memcmp (s_fixed_names[k], name, len) == 0)
                role = k;
        if (role != S_COL_DIM) {
            if (seen[role])
                rc = s_fail (err, line, PS_E_SYNTAX, name, len, "column appears twice");
            seen[role] = true;
        } else if (!s_is_dim_name (name, len))
            rc = s_fail (err, line, PS_E_DIMS, name, len,
                         "neither a paystat column (source, period, count, amount, currency, "
                         "op) nor a dimension name ([a-z][a-z0-9_]*, at most %d characters)",
                         PS_DIM_NAME_MAX);
        else {
            for (int j = 0; j < i; j++)
                if (self->role[j] == S_COL_DIM && strcmp (self->dim_name[j], name) == 0)
                    rc = s_fail (err, line, PS_E_SYNTAX, name, len, "column appears twice");
            memcpy (self->dim_name[i], name, len + 1);
        }
        self->role[i] = (uint8_t) role;
    }
    if (rc == PS_INPUT_ROW && !seen[S_COL_SOURCE])
        rc = S_FAIL (err, line, PS_E_MISSING, "source", "the header has no source column");
    if (rc == PS_INPUT_ROW && !seen[S_COL_PERIOD])
        rc = S_FAIL (err, line, PS_E_MISSING, "period", "the header has no period column");
    if (rc == PS_INPUT_ROW && !seen[S_COL_COUNT] && !seen[S_COL_AMOUNT])
        rc = S_FAIL (err, line, PS_E_MISSING, "count",
                     "the header has neither a count nor an amount column");
    if (rc == PS_INPUT_ROW && seen[S_COL_AMOUNT] && !seen[S_COL_CURRENCY])
        rc = S_FAIL (err, line, PS_E_MISSING, "currency",
                     "the header has an amount column but no currency column");
    if (rc != PS_INPUT_ROW)
        return PS_INPUT_FATAL;
    self->ncols = self->nfields;
    self->have_header = true;
    return PS_INPUT_ROW;
}

static ps_input_result_t s_csv_row (ps_input_t *self, ps_report_t *report, ps_input_error_t *err)
{
    uint64_t line = self->record_line;
    if (self->row_oom)
        return S_FAIL (err, line, PS_E_LIMIT, "row", "out of memory reading this row");
    if (self->nfields != self->ncols)
        return S_FAIL (err, line, PS_E_SYNTAX, "row", "%d fields, the header has %d", self->nfields,
                       self->ncols);
    s_fields_t f;
    memset (&f, 0, sizeof f);
    ps_input_result_t rc;
    for (int i = 0; i < self->ncols; i++) {
        const char *text = self->row + self->field_off[i];
        size_t len = self->field_len[i];
        if (self->role[i] != S_COL_DIM) {
            f.text[self->role[i]] = text;
            f.len[self->role[i]] = len;
        } else if (len > 0) {
            const char *name = self->dim_name[i];
            rc = s_add_dim (report, name, strlen (name), text, len, line, err);
            if (rc != PS_INPUT_ROW)
                return rc;
        }
    }
    return s_build (&f, report, line, err);
}

static bool s_is_blank (const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t')
            return false;
    return true;
}

/*  Reads the next physical line into self->line without its line end.
    Returns its length, or -1 at end of input (or on error: see ferror). */
static ssize_t s_read_line (ps_input_t *self)
{
    ssize_t n = getline (&self->line, &self->line_cap, self->file);
    if (n < 0)
        return -1;
    self->lineno++;
    self->offset += (uint64_t) n;
    if (n > 0 && self->line[n - 1] == '\n')
        n--;
    if (n > 0 && self->line[n - 1] == '\r')
        n--;
    /* A UTF-8 byte order mark, as spreadsheets write, is not part of the data. */
    if (self->lineno == 1 && n >= 3 && memcmp (self->line, "\xEF\xBB\xBF", 3) == 0) {
        memmove (self->line, self->line + 3, (size_t) n - 3);
        n -= 3;
    }
    self->line[n] = '\0';
    return n;
}

static ps_input_result_t s_read_error (ps_input_t *self, ps_input_error_t *err)
{
    S_FAIL (err, self->lineno + 1, PS_E_DECODE, "row", "read error: %s", strerror (errno));
    return PS_INPUT_FATAL;
}

static ps_input_result_t s_csv_reset_after_error (ps_input_t *self, ps_input_error_t *err,
                                                  const char *what)
{
    csv_free (&self->csv);
    self->csv_ready = false;
    self->record_open = false;
    S_FAIL (err, self->record_line, PS_E_SYNTAX, "row", "%s", what);
    if (!self->have_header || s_csv_start (self) != 0)
        return PS_INPUT_FATAL;
    return PS_INPUT_BAD_ROW;
}

static ps_input_result_t s_csv_next (ps_input_t *self, ps_report_t *report, uint64_t *line,
                                     ps_input_error_t *err)
{
    if (!self->csv_ready && s_csv_start (self) != 0) {
        S_FAIL (err, self->lineno, PS_E_LIMIT, "row", "out of memory");
        return PS_INPUT_FATAL;
    }
    for (;;) {
        ssize_t n = s_read_line (self);
        if (n < 0) {
            if (ferror (self->file))
                return s_read_error (self, err);
            if (!self->record_open)
                return PS_INPUT_END;
            self->record_open = false;
            if (csv_fini (&self->csv, s_csv_field, s_csv_record, self) != 0)
                return s_csv_reset_after_error (self, err, "a quoted field is never closed");
        } else {
            if (!self->record_open) {
                if (s_is_blank (self->line, (size_t) n) || self->line[0] == '#')
                    continue;
                self->record_open = true;
                self->record_line = self->lineno;
                self->row_len = 0;
                self->nfields = 0;
                self->row_oom = false;
            }
            /* getline's buffer always has room for the terminator we put back. */
            self->line[n] = '\n';
            if (csv_parse (&self->csv, self->line, (size_t) n + 1, s_csv_field, s_csv_record,
                           self) != (size_t) n + 1)
                return s_csv_reset_after_error (
                    self, err,
                    "malformed CSV: a quote inside an unquoted field or after a "
                    "closing quote");
        }
        if (!self->record_done) {
            if (n < 0)
                return PS_INPUT_END;
            continue;
        }
        self->record_done = false;
        self->record_open = false;
        if (!self->have_header) {
            if (s_csv_header (self, err) != PS_INPUT_ROW)
                return PS_INPUT_FATAL;
            continue;
        }
        *line = self->record_line;
        return s_csv_row (self, report, err);
    }
}

/* ---- JSON lines -------------------------------------------------------- */

static ps_input_result_t s_json_text (json_t *value, const char *key, const char **text,
                                      size_t *len, uint64_t line, ps_input_error_t *err)
{
    if (json_is_null (value))
        return PS_INPUT_ROW;
    if (!json_is_string (value))
        return S_FAIL (err, line, PS_E_TYPE, key, "must be a string");
    *text = json_string_value (value);
    *len = json_string_length (value);
    return PS_INPUT_ROW;
}

/*  A JSON integer becomes decimal text in BUF so that counts and amounts
    share one exact conversion path with CSV. */
static ps_input_result_t s_json_number (json_t *value, const char *key, bool text_ok, char *buf,
                                        size_t size, const char **text, size_t *len, uint64_t line,
                                        ps_input_error_t *err)
{
    if (json_is_integer (value)) {
        *len = (size_t) snprintf (buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value (value));
        *text = buf;
        return PS_INPUT_ROW;
    }
    if (text_ok && json_is_string (value))
        return s_json_text (value, key, text, len, line, err);
    if (json_is_real (value) && text_ok)
        return S_FAIL (err, line, PS_E_TYPE, key,
                       "a JSON number with a fraction or exponent may be inexact: write "
                       "the amount as a string (\"752.30\") or an integer");
    if (json_is_null (value))
        return PS_INPUT_ROW;
    return S_FAIL (err, line, PS_E_TYPE, key,
                   text_ok ? "must be a decimal string or an integer" : "must be an integer");
}

static ps_input_result_t s_json_dims (json_t *dims, ps_report_t *report, uint64_t line,
                                      ps_input_error_t *err)
{
    ps_input_result_t rc = PS_INPUT_ROW;
    if (json_is_object (dims)) {
        const char *name;
        json_t *value;
        json_object_foreach (dims, name, value)
        {
            if (!json_is_string (value))
                return S_FAIL (err, line, PS_E_TYPE, "dims", "the value of '%.*s' is not a string",
                               s_qlen (strlen (name)), name);
            rc = s_add_dim (report, name, strlen (name), json_string_value (value),
                            json_string_length (value), line, err);
            if (rc != PS_INPUT_ROW)
                return rc;
        }
    } else if (json_is_array (dims)) {
        size_t i;
        json_t *item;
        json_array_foreach (dims, i, item)
        {
            const char *pair = json_string_value (item);
            size_t len = json_string_length (item);
            const char *eq = pair ? memchr (pair, '=', len) : NULL;
            if (!eq)
                return S_FAIL (err, line, PS_E_DIMS, "dims",
                               "element %zu is not a \"name=value\" string", i);
            size_t name_len = (size_t) (eq - pair);
            rc = s_add_dim (report, pair, name_len, eq + 1, len - name_len - 1, line, err);
            if (rc != PS_INPUT_ROW)
                return rc;
        }
    } else if (!json_is_null (dims))
        return S_FAIL (err, line, PS_E_TYPE, "dims",
                       "must be an object {\"card\":\"domestic\"} or an array "
                       "[\"card=domestic\"]");
    return rc;
}

static ps_input_result_t s_json_object (json_t *root, ps_report_t *report, uint64_t line,
                                        ps_input_error_t *err)
{
    if (!json_is_object (root))
        return S_FAIL (err, line, PS_E_TYPE, "json", "a line must hold one JSON object");
    s_fields_t f;
    memset (&f, 0, sizeof f);
    char count_buf[32], amount_buf[32];
    ps_input_result_t rc = PS_INPUT_ROW;
    const char *key;
    json_t *value;
    json_object_foreach (root, key, value)
    {
        int k = 0;
        while (k < S_COL__FIXED && strcmp (key, s_fixed_names[k]) != 0)
            k++;
        if (k == S_COL_COUNT)
            rc = s_json_number (value, key, false, count_buf, sizeof count_buf, &f.text[k],
                                &f.len[k], line, err);
        else if (k == S_COL_AMOUNT)
            rc = s_json_number (value, key, true, amount_buf, sizeof amount_buf, &f.text[k],
                                &f.len[k], line, err);
        else if (k < S_COL__FIXED)
            rc = s_json_text (value, key, &f.text[k], &f.len[k], line, err);
        else if (strcmp (key, "dims") == 0)
            rc = s_json_dims (value, report, line, err);
        else
            rc = S_FAIL (err, line, PS_E_SYNTAX, key,
                         "unknown key (expected source, period, dims, count, amount, "
                         "currency, op)");
        if (rc != PS_INPUT_ROW)
            return rc;
    }
    return s_build (&f, report, line, err);
}

static ps_input_result_t s_jsonl_next (ps_input_t *self, ps_report_t *report, uint64_t *line,
                                       ps_input_error_t *err)
{
    for (;;) {
        ssize_t n = s_read_line (self);
        if (n < 0) {
            if (ferror (self->file))
                return s_read_error (self, err);
            return PS_INPUT_END;
        }
        if (s_is_blank (self->line, (size_t) n))
            continue;
        *line = self->lineno;
        json_error_t jerr;
        json_t *root = json_loadb (self->line, (size_t) n, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
            return S_FAIL (err, self->lineno, PS_E_SYNTAX, "json", "column %d: %s", jerr.column,
                           jerr.text);
        ps_input_result_t rc = s_json_object (root, report, self->lineno, err);
        json_decref (root);
        return rc;
    }
}

ps_input_result_t ps_input_next (ps_input_t *self, ps_report_t *report, uint64_t *line,
                                 ps_input_error_t *err)
{
    memset (report, 0, sizeof *report);
    if (self->format == PS_INPUT_JSONL)
        return s_jsonl_next (self, report, line, err);
    return s_csv_next (self, report, line, err);
}
