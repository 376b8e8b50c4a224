/*  ps_input: reads transaction-total reports from CSV or JSON lines.

    CSV: a header row "source,period,<dimension columns...>,count,amount,
    currency,op" in any order; every column that is not one of those fixed
    names is a dimension, and an empty cell means "no such dimension".
    JSON lines: one object per line with the keys source, period, dims
    ({"card":"domestic"} or ["card=domestic"]), count, amount, currency, op.
    In both, amounts are decimal text in MAJOR units of the currency (JSON
    also takes an integer) and are converted exactly to minor units with
    ps_money_parse; a JSON real is refused because it may be inexact.
    Blank lines are skipped, and so are CSV lines starting with '#'.

    Each row comes back either as a ps_report_t or as an error naming its
    line, the column or key at fault and the reason. Rules that need more
    than one row (currency per series) and the grammar of names and values
    are left to ingest, whose strict decoder is the single authority. */

#ifndef PS_INPUT_H_INCLUDED
#define PS_INPUT_H_INCLUDED

#include <stdint.h>
#include <stdio.h>

#include "ps_proto.h"

typedef enum { PS_INPUT_CSV = 0, PS_INPUT_JSONL } ps_input_format_t;

/* What ps_input_next found. */
typedef enum {
    PS_INPUT_ROW = 0, /* a report */
    PS_INPUT_BAD_ROW, /* a row that cannot become a report; reading goes on */
    PS_INPUT_END,     /* end of input */
    PS_INPUT_FATAL    /* the input cannot be read further (header, I/O) */
} ps_input_result_t;

#define PS_INPUT_FIELD_MAX 64

typedef struct {
    uint64_t line;                      /* where the row starts, 1-based */
    ps_err_t code;                      /* error class, as on the wire */
    char field[PS_INPUT_FIELD_MAX + 1]; /* column or key; "row" / "json" for the whole row */
    char reason[PS_REASON_MAX];
} ps_input_error_t;

typedef struct ps_input_t ps_input_t;

/*  Creates a reader of FORMAT over FILE (not owned, not closed). Returns
    NULL when out of memory. */
ps_input_t *ps_input_new (FILE *file, ps_input_format_t format);

/*  Destroys a reader and sets *SELF_P to NULL; NULL-safe. */
void ps_input_destroy (ps_input_t **self_p);

/*  Reads the next row. On PS_INPUT_ROW fills *REPORT and sets *LINE; on
    PS_INPUT_BAD_ROW and PS_INPUT_FATAL fills *ERR instead. */
ps_input_result_t ps_input_next (ps_input_t *self, ps_report_t *report, uint64_t *line,
                                 ps_input_error_t *err);

/*  Bytes consumed so far (for progress reports). */
uint64_t ps_input_offset (const ps_input_t *self);

/*  Parses "csv" or "jsonl" into *FORMAT. Returns 0, or -1 for anything else. */
int ps_input_format_parse (const char *name, ps_input_format_t *format);

/*  Picks the format from PATH's extension: .jsonl, .ndjson and .json are
    JSON lines, anything else (and "-") is CSV. */
ps_input_format_t ps_input_format_guess (const char *path);

#endif
