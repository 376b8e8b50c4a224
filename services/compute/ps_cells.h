/*  ps_cells: compute's state, one compact record per cell and per series.

    A cell is (source, period, dims); a series is (source, dims). Sources
    and "name=value" dimension tokens are interned, so a key is 24 bytes
    (ps_key_t) and a rolled-up dimension is just the id of "name=*".

    Each cell record (88 bytes, plus ~4-11 bytes of index) holds:
    - the value reported for this very cell and whether each of its
      measures is present (PROTOCOL.md's add/set rules, see rollup);
    - the aggregate: its own reported value plus everything finer in time
      or with more concrete dimensions that rolls into it, and how many
      reported cells contribute, and how many of those lack the count or
      the amount (an aggregate measure exists only when none lacks it);
    - for each dimension position, a link of the sibling index. A position
      is either concrete ("card=domestic") or rolled up ("card=*"), never
      both, so one link serves both roles: at a concrete position it is
      the next cell with the same key except that position's value; at a
      rolled-up position it is the first such child. Walking a `*` cell's
      chain at position i lists every cell whose share denominator it is,
      without scanning the store;
    - liveness flags (dirty: to republish; changed: its dependents have
      been marked dirty already in this flush interval).

    A series record holds the series' currency (one per series). */

#ifndef PS_CELLS_H_INCLUDED
#define PS_CELLS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_keytab.h"
#include "ps_proto.h"

enum {
    PS_CELL_REPORTED = 1,   /* a report targeted this very cell */
    PS_CELL_HAS_COUNT = 2,  /* its reported count is present */
    PS_CELL_HAS_AMOUNT = 4, /* its reported amount is present */
    PS_CELL_DIRTY = 8,      /* queued for republishing */
    PS_CELL_CHANGED = 16    /* its dependents are queued too */
};

typedef struct {
    ps_key_t key;
    int64_t rep_count; /* reported for this cell (0 unless REPORTED) */
    int64_t rep_amount;
    int64_t count; /* aggregate */
    int64_t amount;
    uint32_t nleaves; /* reported cells contributing, this one included */
    uint32_t nmiss_count;
    uint32_t nmiss_amount;
    uint32_t link[PS_MAX_DIMS]; /* sibling index, see above; 0 ends a chain */
    uint8_t flags;
} ps_cell_t;

enum { PS_SERIES_RATIO = 1 /* a configured ratio reads this series */ };

typedef struct {
    ps_key_t key;      /* period 0 */
    uint16_t currency; /* ps_currency_pack, 0 before the first amount */
    uint16_t flags;
} ps_series_t;

typedef struct ps_cells_t ps_cells_t;

/*  Creates an empty store. Returns NULL when out of memory. */
ps_cells_t *ps_cells_new (void);

/*  Destroys a store and sets *SELF_P to NULL; NULL-safe. */
void ps_cells_destroy (ps_cells_t **self_p);

/*  Builds the series key of SOURCE with NDIMS DIMS (sorted by name; a
    value may be "*") into *KEY (period 0), interning the strings, and
    stores in STAR[i] the token id of dims[i] rolled up ("name=*").
    Returns 0, or -1 when out of memory or past 65535 distinct sources. */
int ps_cells_series_key (ps_cells_t *self, const char *source, const ps_dim_t *dims, int ndims,
                         ps_key_t *key, uint32_t star[PS_MAX_DIMS]);

/*  Sets *KEY to the key of SOURCE with NDIMS DIMS at PERIOD without
    interning anything. Returns 0, or -1 when a string is unknown (so no
    such cell exists). */
int ps_cells_lookup_key (const ps_cells_t *self, const char *source, const ps_period_t *period,
                         const ps_dim_t *dims, int ndims, ps_key_t *key);

/*  Cells: find returns the id or 0; insert adds a zeroed cell (absent
    before) and returns its id, or 0 when out of memory; at returns the
    cell (valid until the next insert). Ids run 1..count. */
uint32_t ps_cells_find (const ps_cells_t *self, const ps_key_t *key);
void ps_cells_find_many (const ps_cells_t *self, const ps_key_t *keys, uint32_t n, uint32_t *ids);
uint32_t ps_cells_insert (ps_cells_t *self, const ps_key_t *key);
ps_cell_t *ps_cells_at (const ps_cells_t *self, uint32_t id);
uint32_t ps_cells_count (const ps_cells_t *self);

/*  Makes sure the next NCELLS cell inserts and NSERIES series inserts
    cannot fail. Returns 0, or -1 when out of memory. */
int ps_cells_reserve (ps_cells_t *self, uint32_t ncells, uint32_t nseries);

/*  Returns the id of the cell with KEY's series at PERIOD, or 0. */
uint32_t ps_cells_find_at (const ps_cells_t *self, const ps_key_t *key, const ps_period_t *period);

/*  Series, as cells. */
uint32_t ps_cells_series_find (const ps_cells_t *self, const ps_key_t *key);
uint32_t ps_cells_series_insert (ps_cells_t *self, const ps_key_t *key);
ps_series_t *ps_cells_series_at (const ps_cells_t *self, uint32_t id);
uint32_t ps_cells_series_count (const ps_cells_t *self);

/*  Whether cell C's aggregate count / amount is defined. */
bool ps_cell_has_count (const ps_cell_t *c);
bool ps_cell_has_amount (const ps_cell_t *c);

/*  Returns the id of token TOK rolled up ("card=domestic" -> "card=*");
    a rolled-up token is its own. */
uint32_t ps_cells_star (const ps_cells_t *self, uint32_t tok);

/*  Returns the name of interned source ID. */
const char *ps_cells_source_name (const ps_cells_t *self, uint16_t id);

/*  Splits the tokens of KEY into DIMS (name, value) and returns how many. */
int ps_cells_dims (const ps_cells_t *self, const ps_key_t *key, ps_dim_t dims[PS_MAX_DIMS]);

/*  Writes the topic of cell KEY ("CMI/2012/card=*") into BUF of
    PS_TOPIC_MAX + 1 bytes; returns its length. */
size_t ps_cells_topic (const ps_cells_t *self, const ps_key_t *key, char *buf);

/*  Currency codes in 15 bits: 0 is none; otherwise 3 uppercase letters. */
uint16_t ps_currency_pack (const char *code);
void ps_currency_unpack (uint16_t packed, char code[PS_CURRENCY_LEN + 1]);

/*  Writes the currency of the series KEY belongs to (KEY's period ignored)
    into CODE; returns false, with CODE "", when the series has none. */
bool ps_cells_series_currency (const ps_cells_t *self, const ps_key_t *key,
                               char code[PS_CURRENCY_LEN + 1]);

/*  Bytes of heap held by the store (cells, series, strings, indexes). */
size_t ps_cells_memory (const ps_cells_t *self);

#endif
