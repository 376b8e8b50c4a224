/*  ps_rollup: one report into its cell and every aggregate; see ps_rollup.h. */

#include "ps_rollup.h"
#include "ps_money.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int s_fail (ps_error_t *err, ps_err_t code, const char *field, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static int s_fail (ps_error_t *err, ps_err_t code, const char *field, const char *fmt, ...)
{
    err->code = code;
    err->field = field;
    va_list args;
    va_start (args, fmt);
    vsnprintf (err->reason, sizeof err->reason, fmt, args);
    va_end (args);
    return -1;
}

/* The key of BASE with the dims whose bit is set in MASK rolled up. */
static void s_mask_key (const ps_key_t *base, const uint32_t *star, uint32_t mask, ps_key_t *key)
{
    *key = *base;
    for (int i = 0; i < base->ndims; i++)
        if (mask >> i & 1)
            key->tok[i] = star[i];
}

/* How the report changes its own cell: the deltas every touched cell
   receives and the leaf's presence flags before and after. */
typedef struct {
    int64_t dcount;
    int64_t damount;
    uint8_t old_flags;
    uint8_t new_flags;
} s_change_t;

static void s_change (const ps_report_t *r, const ps_cell_t *leaf, s_change_t *ch)
{
    ch->old_flags = leaf ? leaf->flags : 0;
    bool was = ch->old_flags & PS_CELL_REPORTED;
    int64_t count = r->has_count ? r->count : 0;
    int64_t amount = r->has_amount ? r->amount : 0;
    bool has_count = r->has_count, has_amount = r->has_amount;
    if (r->op == PS_OP_SET) {
        /* Both values are in [0, INT64_MAX], so the differences fit. */
        ch->dcount = count - (leaf ? leaf->rep_count : 0);
        ch->damount = amount - (leaf ? leaf->rep_amount : 0);
    } else {
        ch->dcount = count;
        ch->damount = amount;
        if (was) {
            has_count = has_count && (ch->old_flags & PS_CELL_HAS_COUNT);
            has_amount = has_amount && (ch->old_flags & PS_CELL_HAS_AMOUNT);
        }
    }
    ch->new_flags =
        (uint8_t) ((ch->old_flags & ~(PS_CELL_HAS_COUNT | PS_CELL_HAS_AMOUNT)) | PS_CELL_REPORTED |
                   (has_count ? PS_CELL_HAS_COUNT : 0) | (has_amount ? PS_CELL_HAS_AMOUNT : 0));
}

/* Adds the change to one touched cell's aggregate and presence counters;
   a leaf that stops being reported (retracted) stops counting. */
static void s_apply (ps_cell_t *c, const s_change_t *ch)
{
    bool was = ch->old_flags & PS_CELL_REPORTED;
    bool is = ch->new_flags & PS_CELL_REPORTED;
    c->count += ch->dcount;
    c->amount += ch->damount;
    c->nleaves = c->nleaves + is - was;
    if (was && !(ch->old_flags & PS_CELL_HAS_COUNT))
        c->nmiss_count--;
    if (is && !(ch->new_flags & PS_CELL_HAS_COUNT))
        c->nmiss_count++;
    if (was && !(ch->old_flags & PS_CELL_HAS_AMOUNT))
        c->nmiss_amount--;
    if (is && !(ch->new_flags & PS_CELL_HAS_AMOUNT))
        c->nmiss_amount++;
}

/* Checks that cell ID can take the change without leaving int64. */
static int s_check (ps_cells_t *cells, uint32_t id, const s_change_t *ch, ps_error_t *err)
{
    const ps_cell_t *c = ps_cells_at (cells, id);
    int64_t sum;
    const char *field = NULL;
    if (ps_add_i64 (c->count, ch->dcount, &sum) != 0)
        field = "count";
    else if (ps_add_i64 (c->amount, ch->damount, &sum) != 0)
        field = "amount";
    if (!field)
        return 0;
    char topic[PS_TOPIC_MAX + 1];
    ps_cells_topic (cells, &c->key, topic);
    return s_fail (err, PS_E_OVERFLOW, field, "%s of %s would leave the int64 range", field, topic);
}

/* Checks the report's currency against the series it rolls into. */
static int s_check_currency (ps_cells_t *cells, const ps_report_t *r, const ps_rollup_t *out,
                             ps_error_t *err)
{
    uint16_t currency = ps_currency_pack (r->currency);
    for (uint32_t mask = 0; mask < out->nseries; mask++) {
        if (!out->series[mask])
            continue;
        const ps_series_t *s = ps_cells_series_at (cells, out->series[mask]);
        if (s->currency && s->currency != currency) {
            char have[PS_CURRENCY_LEN + 1], topic[PS_TOPIC_MAX + 1];
            ps_currency_unpack (s->currency, have);
            ps_key_t key = s->key;
            key.period = ps_period_pack (&r->period);
            ps_cells_topic (cells, &key, topic);
            return s_fail (err, PS_E_CURRENCY_MISMATCH, "currency", "amount in %s, but %s is in %s",
                           r->currency, topic, have);
        }
    }
    return 0;
}

/* Creates the missing series and cells, linking each new cell into the
   sibling index of its parents (created first: masks run from all dims
   rolled up down to none, and a parent has one more bit set). */
static void s_create (ps_cells_t *cells, const ps_report_t *r, const ps_key_t *keys,
                      const ps_key_t *cell_keys, ps_rollup_t *out)
{
    for (uint32_t mask = 0; mask < out->nseries; mask++) {
        if (!out->series[mask])
            out->series[mask] = ps_cells_series_insert (cells, &keys[mask]);
        ps_series_t *s = ps_cells_series_at (cells, out->series[mask]);
        if (r->has_amount && !s->currency)
            s->currency = ps_currency_pack (r->currency);
    }
    for (uint32_t lev = 0; lev < out->nlevels; lev++) {
        uint32_t *ids = out->cells + lev * out->nseries;
        for (uint32_t mask = out->nseries; mask-- > 0;) {
            if (ids[mask])
                continue;
            ids[mask] = ps_cells_insert (cells, &cell_keys[lev * out->nseries + mask]);
            for (int i = 0; i < r->ndims; i++) {
                if (mask >> i & 1)
                    continue;
                ps_cell_t *parent = ps_cells_at (cells, ids[mask | 1u << i]);
                ps_cells_at (cells, ids[mask])->link[i] = parent->link[i];
                parent->link[i] = ids[mask];
            }
        }
    }
}

/* Finds the series and cells report R moves (series key BASE, rolled-up
   tokens STAR) into *OUT, 0 for those that do not exist yet, and their
   keys into KEYS and CELL_KEYS. */
static void s_touched (const ps_cells_t *cells, const ps_report_t *r, const ps_key_t *base,
                       const uint32_t *star, ps_rollup_t *out, ps_key_t *keys, ps_key_t *cell_keys)
{
    out->nseries = 1u << r->ndims;
    out->periods[0] = r->period;
    out->nlevels = 1 + (uint32_t) ps_period_parents (&r->period, out->periods + 1);
    for (uint32_t mask = 0; mask < out->nseries; mask++) {
        s_mask_key (base, star, mask, &keys[mask]);
        out->series[mask] = ps_cells_series_find (cells, &keys[mask]);
    }
    for (uint32_t lev = 0; lev < out->nlevels; lev++)
        for (uint32_t mask = 0; mask < out->nseries; mask++) {
            cell_keys[lev * out->nseries + mask] = keys[mask];
            cell_keys[lev * out->nseries + mask].period = ps_period_pack (&out->periods[lev]);
        }
    ps_cells_find_many (cells, cell_keys, out->nlevels * out->nseries, out->cells);
}

/* Applies change CH to the NCELLS touched cells, then to the leaf's own
   reported value. */
static void s_commit (ps_cells_t *cells, const ps_rollup_t *out, uint32_t ncells,
                      const s_change_t *ch)
{
    for (uint32_t i = 0; i < ncells; i++)
        s_apply (ps_cells_at (cells, out->cells[i]), ch);
    ps_cell_t *leaf = ps_cells_at (cells, out->cells[0]);
    leaf->rep_count += ch->dcount;
    leaf->rep_amount += ch->damount;
    leaf->flags = ch->new_flags;
}

/* Withdraws the reported value of R's cell from it and from everything it
   rolls into. Returns 1 when that cell has none (nothing changes). */
static int s_retract (ps_cells_t *cells, const ps_report_t *r, ps_rollup_t *out)
{
    ps_key_t base, keys[PS_ROLLUP_MAX_SERIES], cell_keys[PS_ROLLUP_MAX_CELLS];
    if (ps_cells_lookup_key (cells, r->source, &r->period, r->dims, r->ndims, &base) != 0)
        return 1;
    uint32_t id = ps_cells_find (cells, &base);
    if (!id || !(ps_cells_at (cells, id)->flags & PS_CELL_REPORTED))
        return 1;
    uint32_t star[PS_MAX_DIMS];
    for (int i = 0; i < r->ndims; i++)
        star[i] = ps_cells_star (cells, base.tok[i]);
    base.period = 0;
    s_touched (cells, r, &base, star, out, keys, cell_keys);
    /* Every aggregate the leaf counted in exists, and taking a value that
       was added back out cannot overflow. */
    const ps_cell_t *leaf = ps_cells_at (cells, id);
    uint8_t gone = PS_CELL_REPORTED | PS_CELL_HAS_COUNT | PS_CELL_HAS_AMOUNT;
    s_change_t ch = {-leaf->rep_count, -leaf->rep_amount, leaf->flags,
                     (uint8_t) (leaf->flags & ~gone)};
    s_commit (cells, out, out->nlevels * out->nseries, &ch);
    return 0;
}

int ps_rollup_apply (ps_cells_t *cells, const ps_report_t *r, ps_rollup_t *out, ps_error_t *err)
{
    if (r->op == PS_OP_RETRACT)
        return s_retract (cells, r, out);
    ps_key_t base, keys[PS_ROLLUP_MAX_SERIES];
    uint32_t star[PS_MAX_DIMS];
    if (ps_cells_series_key (cells, r->source, r->dims, r->ndims, &base, star) != 0)
        return s_fail (err, PS_E_LIMIT, "source",
                       "cannot hold more distinct sources or dimension values");
    ps_key_t cell_keys[PS_ROLLUP_MAX_CELLS];
    s_touched (cells, r, &base, star, out, keys, cell_keys);
    if (r->has_amount && s_check_currency (cells, r, out, err) != 0)
        return -1;

    uint32_t ncells = out->nlevels * out->nseries;
    uint32_t missing = 0;
    for (uint32_t i = 0; i < ncells; i++)
        missing += !out->cells[i];
    s_change_t ch;
    s_change (r, out->cells[0] ? ps_cells_at (cells, out->cells[0]) : NULL, &ch);
    for (uint32_t i = 0; i < ncells; i++)
        if (out->cells[i] && s_check (cells, out->cells[i], &ch, err) != 0)
            return -1;
    if (ps_cells_reserve (cells, missing, out->nseries) != 0)
        return s_fail (err, PS_E_LIMIT, "source", "out of memory for new cells");

    s_create (cells, r, keys, cell_keys, out);
    s_commit (cells, out, ncells, &ch);
    return 0;
}
