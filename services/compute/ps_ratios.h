/*  ps_ratios: derived ratios declared in a configuration file.

    One ratio per line (data/ratios.conf shows the format):

        NAME = SOURCE/DIMS:MEASURE / SOURCE/DIMS:MEASURE

    numerator first. NAME is 1..64 of [A-Za-z0-9_.-]; DIMS is empty or
    name=value pairs joined by ',' (value "*" for a rolled-up dimension),
    in any order; MEASURE is count or amount. '#' starts a comment; blank
    lines are ignored; spaces are allowed around '=' and the middle '/'.
    Compute publishes each ratio for every period in which both cells
    exist, on topic $ratio/NAME/PERIOD. */

#ifndef PS_RATIOS_H_INCLUDED
#define PS_RATIOS_H_INCLUDED

#include <stddef.h>

#include "ps_cells.h"
#include "ps_proto.h"

#define PS_RATIO_NAME_MAX 64

typedef enum { PS_MEASURE_COUNT = 0, PS_MEASURE_AMOUNT = 1 } ps_measure_t;

/*  One side of a ratio: a series and one of its measures. */
typedef struct {
    char source[PS_SOURCE_MAX + 1];
    int ndims;
    ps_dim_t dims[PS_MAX_DIMS]; /* sorted by name */
    ps_measure_t measure;
    ps_key_t key;    /* series key, set by ps_ratios_bind */
    uint32_t series; /* series id, set by ps_ratios_bind */
} ps_ratio_side_t;

typedef struct {
    char name[PS_RATIO_NAME_MAX + 1];
    ps_ratio_side_t num;
    ps_ratio_side_t den;
} ps_ratio_t;

typedef struct ps_ratios_t ps_ratios_t;

/*  Parses LEN bytes of configuration TEXT; FILENAME only names it in
    errors. Returns the ratios, or NULL with "FILENAME:LINE: reason" in
    ERR (ERR_SIZE bytes) on the first error or when out of memory. */
ps_ratios_t *ps_ratios_parse (const char *text, size_t len, const char *filename, char *err,
                              size_t err_size);

/*  Reads and parses the file at PATH. Returns NULL with "PATH: reason" or
    "PATH:LINE: reason" in ERR when it cannot be read or is invalid. */
ps_ratios_t *ps_ratios_load (const char *path, char *err, size_t err_size);

/*  Destroys the ratios and sets *SELF_P to NULL; NULL-safe. */
void ps_ratios_destroy (ps_ratios_t **self_p);

/*  Number of ratios, and ratio I (0..count-1). */
size_t ps_ratios_count (const ps_ratios_t *self);
const ps_ratio_t *ps_ratios_get (const ps_ratios_t *self, size_t i);

/*  Interns every ratio's series into CELLS (creating the series records,
    flagged PS_SERIES_RATIO) and fills in their keys and ids. Returns 0,
    or -1 when out of memory or past the store's limits. */
int ps_ratios_bind (ps_ratios_t *self, ps_cells_t *cells);

/*  Wire name of a measure: "count" or "amount". */
const char *ps_measure_name (ps_measure_t measure);

#endif
