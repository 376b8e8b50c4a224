/*  ps_engine: batches in, conflated update frames out; see ps_engine.h. */

#include "ps_engine.h"
#include "ps_indicators.h"
#include "ps_log.h"
#include "ps_rollup.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(PS_ENGINE_FRAME_BYTES * 2 < PS_MAX_FRAME, "update frames must fit PS_MAX_FRAME");

typedef struct {
    char producer[PS_ID_MAX + 1];
    uint64_t seq;
    uint32_t index;
    ps_error_t error;
} s_reject_t;

/* An item of the frame being built: offsets into topics and bodies, which
   may move while the frame grows. */
typedef struct {
    size_t topic;
    size_t topic_len;
    size_t body;
    size_t body_len;
} s_item_t;

/* Cells whose messages read a changed cell through its period: next
   period, next year, and later months or quarters of this and next year. */
#define S_MAX_DEPS (2 + 2 * 11)

struct ps_engine_t {
    ps_cells_t *cells;
    ps_ratios_t *ratios;
    uint64_t epoch;
    uint64_t useq; /* last update frame number emitted */
    ps_engine_stats_t stats;

    uint64_t *dirty; /* granularity << 32 | id of each cell flagged PS_CELL_DIRTY, once */
    size_t ndirty;
    size_t dirty_cap;
    uint64_t *ratio_dirty; /* ratio index << 32 | packed period; duplicates allowed */
    size_t nratio_dirty;
    size_t ratio_cap;
    s_reject_t *rejects;
    size_t nrejects;
    uint64_t rejects_dropped;

    /* Dependents of one report's changed cells, looked up in one batch. */
    ps_key_t deps[PS_ROLLUP_MAX_CELLS * S_MAX_DEPS];
    uint32_t dep_ids[PS_ROLLUP_MAX_CELLS * S_MAX_DEPS];
    uint32_t ndeps;

    /* Frame under construction, reused from flush to flush. */
    msgpack_sbuffer bodies;
    msgpack_packer pk;
    char *topics;
    size_t topics_len;
    size_t topics_cap;
    s_item_t *items;
    ps_update_item_t *wire;
    size_t nitems;
    size_t items_cap;
    size_t wire_cap;
    size_t frame_bytes;
    msgpack_sbuffer frame;
};

ps_engine_t *ps_engine_new (ps_ratios_t **ratios_p, uint64_t epoch)
{
    ps_engine_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    msgpack_sbuffer_init (&self->bodies);
    msgpack_sbuffer_init (&self->frame);
    msgpack_packer_init (&self->pk, &self->bodies, msgpack_sbuffer_write);
    self->epoch = epoch;
    self->cells = ps_cells_new ();
    self->rejects = malloc (PS_ENGINE_MAX_REJECTS * sizeof *self->rejects);
    if (!self->cells || !self->rejects)
        goto err;
    if (ratios_p && *ratios_p) {
        self->ratios = *ratios_p;
        *ratios_p = NULL;
        if (ps_ratios_bind (self->ratios, self->cells) != 0)
            goto err;
    }
    return self;
err:
    ps_engine_destroy (&self);
    return NULL;
}

void ps_engine_destroy (ps_engine_t **self_p)
{
    ps_engine_t *self = *self_p;
    if (!self)
        return;
    ps_cells_destroy (&self->cells);
    ps_ratios_destroy (&self->ratios);
    free (self->dirty);
    free (self->ratio_dirty);
    free (self->rejects);
    msgpack_sbuffer_destroy (&self->bodies);
    msgpack_sbuffer_destroy (&self->frame);
    free (self->topics);
    free (self->items);
    free (self->wire);
    free (self);
    *self_p = NULL;
}

/* Grows *VEC (elements of SIZE bytes) to hold NEED; 0 or -1. */
static int s_reserve (void **vec, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap : 1024;
    while (cap2 < need)
        cap2 *= 2;
    void *grown = realloc (*vec, cap2 * size);
    if (!grown)
        return -1;
    *vec = grown;
    *cap = cap2;
    return 0;
}

static void s_dirty (ps_engine_t *self, uint32_t id)
{
    ps_cell_t *c = ps_cells_at (self->cells, id);
    /* A cell left without contributors by a retraction is published once,
       as removed, when it changes; as a dependent it has no message. */
    if (c->flags & PS_CELL_DIRTY || (!c->nleaves && !(c->flags & PS_CELL_CHANGED)))
        return;
    c->flags |= PS_CELL_DIRTY;
    /* room reserved: a cell is queued once */
    self->dirty[self->ndirty++] = (uint64_t) ps_period_unpack (c->key.period).gran << 32 | id;
}

/* Queues a lookup of KEY's series at PERIOD, a dependent of a changed cell. */
static void s_dep (ps_engine_t *self, const ps_key_t *key, const ps_period_t *period)
{
    ps_key_t *dep = &self->deps[self->ndeps++];
    *dep = *key;
    dep->period = ps_period_pack (period);
}

/* The same period one year later; -1 when there is none (Feb 29). */
static int s_year_later (const ps_period_t *p, ps_period_t *out)
{
    if (p->year >= 9999 ||
        (p->gran == PS_GRAN_DAY && p->day > ps_days_in_month (p->year + 1, p->sub)))
        return -1;
    *out = *p;
    out->year++;
    return 0;
}

/* Cell ID changed: queue it, the siblings whose share it is the
   denominator of, and (in self->deps) the cells whose message reads it
   through its period. */
static void s_changed (ps_engine_t *self, uint32_t id)
{
    ps_cell_t *c = ps_cells_at (self->cells, id);
    c->flags |= PS_CELL_CHANGED;
    s_dirty (self, id);
    ps_key_t key = c->key;
    ps_period_t p = ps_period_unpack (key.period), q;
    if (p.gran != PS_GRAN_YEAR && ps_period_next (&p, &q) == 0)
        s_dep (self, &key, &q);
    if (s_year_later (&p, &q) == 0)
        s_dep (self, &key, &q);
    if (p.gran == PS_GRAN_MONTH || p.gran == PS_GRAN_QUARTER) {
        int last = p.gran == PS_GRAN_MONTH ? 12 : 4;
        for (int sub = p.sub + 1; sub <= last; sub++) {
            q = (ps_period_t){p.year, p.gran, (uint8_t) sub, 0};
            s_dep (self, &key, &q);
            if (s_year_later (&q, &q) == 0)
                s_dep (self, &key, &q);
        }
    }
    for (int i = 0; i < key.ndims; i++) {
        if (ps_cells_star (self->cells, key.tok[i]) != key.tok[i])
            continue;
        for (uint32_t sib = ps_cells_at (self->cells, id)->link[i]; sib;
             sib = ps_cells_at (self->cells, sib)->link[i])
            s_dirty (self, sib);
    }
}

static void s_ratios_changed (ps_engine_t *self, uint32_t series, const ps_period_t *period)
{
    uint64_t code = ps_period_pack (period);
    size_t n = ps_ratios_count (self->ratios);
    for (size_t r = 0; r < n; r++) {
        const ps_ratio_t *ratio = ps_ratios_get (self->ratios, r);
        if (ratio->num.series == series || ratio->den.series == series)
            self->ratio_dirty[self->nratio_dirty++] = (uint64_t) r << 32 | code;
    }
}

int ps_engine_apply (ps_engine_t *self, const ps_report_t *report, ps_error_t *err)
{
    /* Reserve first so that, once the report is applied, queueing what it
       changed cannot fail. */
    size_t nratios = self->ratios ? ps_ratios_count (self->ratios) : 0;
    if (s_reserve ((void **) &self->dirty, &self->dirty_cap,
                   ps_cells_count (self->cells) + PS_ROLLUP_MAX_CELLS, sizeof *self->dirty) != 0 ||
        s_reserve ((void **) &self->ratio_dirty, &self->ratio_cap,
                   self->nratio_dirty + PS_ROLLUP_MAX_CELLS * 2 * nratios,
                   sizeof *self->ratio_dirty) != 0) {
        err->code = PS_E_LIMIT;
        err->field = "";
        strcpy (err->reason, "compute is out of memory");
        return -1;
    }
    ps_rollup_t out;
    int rc = ps_rollup_apply (self->cells, report, &out, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0; /* 1: a retraction of nothing changes nothing */
    self->ndeps = 0;
    for (uint32_t lev = 0; lev < out.nlevels; lev++)
        for (uint32_t mask = 0; mask < out.nseries; mask++) {
            uint32_t id = out.cells[lev * out.nseries + mask];
            if (ps_cells_at (self->cells, id)->flags & PS_CELL_CHANGED)
                continue;
            s_changed (self, id);
            if (ps_cells_series_at (self->cells, out.series[mask])->flags & PS_SERIES_RATIO)
                s_ratios_changed (self, out.series[mask], &out.periods[lev]);
        }
    ps_cells_find_many (self->cells, self->deps, self->ndeps, self->dep_ids);
    for (uint32_t i = 0; i < self->ndeps; i++)
        if (self->dep_ids[i])
            s_dirty (self, self->dep_ids[i]);
    return 0;
}

void ps_engine_reject (ps_engine_t *self, const char *producer, uint64_t seq, uint32_t index,
                       const ps_error_t *err)
{
    ps_warn ("report rejected",
             "producer=%s seq=%" PRIu64 " index=%" PRIu32 " code=%s field=%s reason=\"%s\"",
             producer, seq, index, ps_error_code_name (err->code), err->field ? err->field : "",
             err->reason);
    if (self->nrejects == PS_ENGINE_MAX_REJECTS) {
        self->rejects_dropped++;
        return;
    }
    s_reject_t *r = &self->rejects[self->nrejects++];
    snprintf (r->producer, sizeof r->producer, "%s", producer);
    r->seq = seq;
    r->index = index;
    r->error = *err;
}

uint32_t ps_engine_apply_batch (ps_engine_t *self, const ps_batch_t *batch)
{
    uint32_t refused = 0;
    for (uint32_t i = 0; i < batch->nreports; i++) {
        ps_error_t err;
        if (ps_engine_apply (self, &batch->reports[i], &err) == 0)
            continue;
        ps_engine_reject (self, batch->producer, batch->seq, batch->index[i], &err);
        refused++;
    }
    self->stats.reports += batch->nreports - refused;
    /* Ingest forwards only reports it accepted, so one that compute's
       decoder refused means the two disagree: the producer must hear of it. */
    for (uint32_t i = 0; i < batch->nrejects; i++)
        ps_engine_reject (self, batch->producer, batch->seq, batch->rejects[i].index,
                          &batch->rejects[i].error);
    refused += batch->nrejects;
    self->stats.batches++;
    self->stats.rejected += refused;
    return refused;
}

bool ps_engine_pending (const ps_engine_t *self)
{
    return self->ndirty || self->nratio_dirty || self->nrejects;
}

/* Sends the frame built so far, if any. */
static int s_send (ps_engine_t *self, ps_engine_emit_fn *emit, void *arg)
{
    if (!self->nitems)
        return 0;
    for (size_t i = 0; i < self->nitems; i++) {
        const s_item_t *it = &self->items[i];
        self->wire[i] =
            (ps_update_item_t){self->topics + it->topic, it->topic_len,
                               (const uint8_t *) self->bodies.data + it->body, it->body_len};
    }
    msgpack_sbuffer_clear (&self->frame);
    int rc =
        ps_feed_update_encode (self->epoch, self->useq + 1, self->wire, self->nitems, &self->frame);
    if (rc == 0)
        self->useq++;
    if (rc == 0)
        rc = emit (arg, self->frame.data, self->frame.size);
    self->stats.items += rc == 0 ? self->nitems : 0;
    self->nitems = 0;
    self->topics_len = 0;
    self->frame_bytes = 0;
    msgpack_sbuffer_clear (&self->bodies);
    return rc;
}

/* Starts an item on TOPIC; its body is packed next with self->pk. */
static int s_item_begin (ps_engine_t *self, const char *topic, size_t len)
{
    if (s_reserve ((void **) &self->items, &self->items_cap, self->nitems + 1,
                   sizeof *self->items) != 0)
        return -1;
    if (s_reserve ((void **) &self->wire, &self->wire_cap, self->nitems + 1, sizeof *self->wire) !=
        0)
        return -1;
    if (s_reserve ((void **) &self->topics, &self->topics_cap, self->topics_len + len, 1) != 0)
        return -1;
    memcpy (self->topics + self->topics_len, topic, len);
    self->items[self->nitems] = (s_item_t){self->topics_len, len, self->bodies.size, 0};
    self->topics_len += len;
    return 0;
}

/* Ends the item begun last; sends the frame once it is big enough. */
static int s_item_end (ps_engine_t *self, ps_engine_emit_fn *emit, void *arg)
{
    s_item_t *it = &self->items[self->nitems++];
    it->body_len = self->bodies.size - it->body;
    self->frame_bytes += it->topic_len + it->body_len + 16;
    return self->frame_bytes >= PS_ENGINE_FRAME_BYTES ? s_send (self, emit, arg) : 0;
}

static int s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return (x > y) - (x < y);
}

static int s_flush_cells (ps_engine_t *self, ps_engine_emit_fn *emit, void *arg)
{
    int rc = 0;
    /* Coarser periods first, so a subscriber that sees a cell change has
       already seen the aggregates it rolls into change; within one
       granularity in id order, which reads the records in memory order
       (~20 % faster on large stores than the order they became dirty). */
    if (self->ndirty)
        qsort (self->dirty, self->ndirty, sizeof *self->dirty, s_cmp_u64);
    for (size_t i = 0; i < self->ndirty; i++) {
        uint32_t id = (uint32_t) self->dirty[i];
        ps_cell_t *c = ps_cells_at (self->cells, id);
        c->flags &= (uint8_t) ~(PS_CELL_DIRTY | PS_CELL_CHANGED);
        char topic[PS_TOPIC_MAX + 1];
        size_t len = ps_cells_topic (self->cells, &c->key, topic);
        if (s_item_begin (self, topic, len) != 0) {
            rc = -1;
            continue;
        }
        if (c->nleaves) /* else an empty body: the topic is removed */
            ps_indicators_cell (self->cells, id, &self->pk);
        rc |= s_item_end (self, emit, arg);
    }
    self->ndirty = 0;
    return rc;
}

static int s_flush_ratios (ps_engine_t *self, ps_engine_emit_fn *emit, void *arg)
{
    int rc = 0;
    if (!self->nratio_dirty)
        return 0;
    qsort (self->ratio_dirty, self->nratio_dirty, sizeof *self->ratio_dirty, s_cmp_u64);
    for (size_t i = 0; i < self->nratio_dirty; i++) {
        if (i > 0 && self->ratio_dirty[i] == self->ratio_dirty[i - 1])
            continue;
        const ps_ratio_t *ratio = ps_ratios_get (self->ratios, self->ratio_dirty[i] >> 32);
        ps_period_t period = ps_period_unpack ((uint32_t) self->ratio_dirty[i]);
        char topic[PS_TOPIC_MAX + 1];
        size_t len = ps_indicators_ratio_topic (ratio, &period, topic);
        if (s_item_begin (self, topic, len) != 0) {
            rc = -1;
            continue;
        }
        /* 1: a side was retracted to nothing, and the ratio with it (an
           empty body removes the topic) */
        if (ps_indicators_ratio (self->cells, ratio, &period, &self->pk) >= 0)
            rc |= s_item_end (self, emit, arg);
        else
            self->topics_len -= len; /* a side does not exist at this period: no topic */
    }
    self->nratio_dirty = 0;
    return rc;
}

static int s_flush_rejects (ps_engine_t *self, ps_engine_emit_fn *emit, void *arg)
{
    int rc = 0;
    for (size_t i = 0; i < self->nrejects; i++) {
        const s_reject_t *r = &self->rejects[i];
        if (s_item_begin (self, "$reject", 7) != 0) {
            rc = -1;
            continue;
        }
        ps_body_reject_pack (r->producer, r->seq, r->index, &r->error, &self->pk);
        rc |= s_item_end (self, emit, arg);
    }
    if (self->rejects_dropped)
        ps_warn ("rejects not published (too many in one flush)", "dropped=%" PRIu64,
                 self->rejects_dropped);
    self->nrejects = 0;
    self->rejects_dropped = 0;
    return rc;
}

int ps_engine_flush (ps_engine_t *self, ps_engine_emit_fn *emit, void *arg)
{
    uint64_t before = self->stats.items;
    int rc = s_flush_cells (self, emit, arg);
    rc |= s_flush_ratios (self, emit, arg);
    rc |= s_flush_rejects (self, emit, arg);
    rc |= s_send (self, emit, arg);
    return rc ? -1 : (int) (self->stats.items - before);
}

int ps_engine_dirty_all (ps_engine_t *self)
{
    uint32_t n = ps_cells_count (self->cells);
    size_t nratios = self->ratios ? ps_ratios_count (self->ratios) : 0;
    if (s_reserve ((void **) &self->dirty, &self->dirty_cap, n, sizeof *self->dirty) != 0)
        return -1;
    for (uint32_t id = 1; id <= n; id++) {
        s_dirty (self, id);
        ps_cell_t *c = ps_cells_at (self->cells, id);
        if (!nratios || !c->nleaves)
            continue;
        ps_key_t series = c->key;
        series.period = 0;
        uint32_t sid = ps_cells_series_find (self->cells, &series);
        if (!(ps_cells_series_at (self->cells, sid)->flags & PS_SERIES_RATIO))
            continue;
        if (s_reserve ((void **) &self->ratio_dirty, &self->ratio_cap, self->nratio_dirty + nratios,
                       sizeof *self->ratio_dirty) != 0)
            return -1;
        ps_period_t period = ps_period_unpack (c->key.period);
        s_ratios_changed (self, sid, &period);
    }
    return 0;
}

int ps_engine_restore_series (ps_engine_t *self, const char *source, const ps_dim_t *dims,
                              int ndims, const char code[PS_CURRENCY_LEN + 1])
{
    ps_key_t key;
    uint32_t star[PS_MAX_DIMS];
    if (ps_cells_series_key (self->cells, source, dims, ndims, &key, star) != 0)
        return -1;
    uint32_t id = ps_cells_series_find (self->cells, &key);
    if (!id)
        id = ps_cells_series_insert (self->cells, &key);
    if (!id)
        return -1;
    ps_cells_series_at (self->cells, id)->currency = ps_currency_pack (code);
    return 0;
}

const ps_cells_t *ps_engine_cells (const ps_engine_t *self)
{
    return self->cells;
}

void ps_engine_stats (const ps_engine_t *self, ps_engine_stats_t *stats)
{
    *stats = self->stats;
    stats->cells = ps_cells_count (self->cells);
    stats->memory = ps_cells_memory (self->cells);
}

uint64_t ps_engine_useq (const ps_engine_t *self)
{
    return self->useq;
}
