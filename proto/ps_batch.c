/*  ps_batch: batches of reports (PROTOCOL.md, "Batch", "Report"): the batch
    object with its reusable memory, the strict decoder of the producer's
    and the forwarded form, which sorts each report into the accepted or the
    rejected, and the canonical encoder ingest forwards with. This is the
    hottest decoder (every report compute applies goes through it), so a
    batch keeps its arrays and its msgpack zone from one decode to the
    next. */

#include "ps_batch.h"
#include "ps_money.h"
#include "ps_wire.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

/* Every acceptable batch's journal entry must be readable where it goes. */
_Static_assert (PS_MAX_ENTRY <= PS_MAX_INPUT, "journal entries must fit what compute reads");
_Static_assert (PS_MAX_BATCH < PS_MAX_INPUT, "the front door must read past the batch limit");

/* Zone chunk: a batch of ~1500 reports decodes without another malloc. */
#define S_ZONE_CHUNK (512 * 1024)

ps_batch_t *ps_batch_new (void)
{
    ps_batch_t *self = calloc (1, sizeof *self);
    if (!self)
        goto err;
    self->zone = msgpack_zone_new (S_ZONE_CHUNK);
    if (!self->zone)
        goto err;
    return self;
err:
    ps_batch_destroy (&self);
    return NULL;
}

void ps_batch_destroy (ps_batch_t **self_p)
{
    assert (self_p);
    ps_batch_t *self = *self_p;
    if (!self)
        return;
    if (self->zone)
        msgpack_zone_free (self->zone);
    free (self->reports);
    free (self->index);
    free (self->rejects);
    free (self);
    *self_p = NULL;
}

void ps_batch_reset (ps_batch_t *self)
{
    assert (self);
    self->producer[0] = '\0';
    self->seq = 0;
    self->ingest[0] = '\0';
    self->jseq = 0;
    self->journal = 0;
    self->total = 0;
    self->nreports = 0;
    self->nrejects = 0;
}

/*  Makes room for NEED slots in each array, doubling. Keeps the invariant
    capacity >= nreports + nrejects, so moving a report to the rejects
    never allocates. Returns -1 when out of memory. */
static int s_reserve (ps_batch_t *self, uint32_t need)
{
    if (need <= self->capacity)
        return 0;
    uint32_t cap = self->capacity ? self->capacity : 16;
    while (cap < need)
        cap *= 2;
    if (cap > PS_MAX_REPORTS && need <= PS_MAX_REPORTS)
        cap = PS_MAX_REPORTS; /* a decoded batch never needs more */
    ps_report_t *reports = realloc (self->reports, cap * sizeof *reports);
    if (reports)
        self->reports = reports;
    uint32_t *index = realloc (self->index, cap * sizeof *index);
    if (index)
        self->index = index;
    ps_reject_t *rejects = realloc (self->rejects, cap * sizeof *rejects);
    if (rejects)
        self->rejects = rejects;
    if (!reports || !index || !rejects)
        return -1;
    self->capacity = cap;
    return 0;
}

int ps_batch_append (ps_batch_t *self, const ps_report_t *report, uint32_t index)
{
    assert (self && report);
    if (self->nreports >= PS_MAX_REPORTS ||
        s_reserve (self, self->nreports + self->nrejects + 1) != 0)
        return -1;
    self->reports[self->nreports] = *report;
    self->index[self->nreports++] = index;
    if (index >= self->total)
        self->total = index + 1;
    return 0;
}

/*  Inserts a reject keeping the rejects sorted by index (acks list them in
    order); callers mostly add in order, so this is usually an append. */
static void s_insert_reject (ps_batch_t *self, uint32_t index, const ps_error_t *error)
{
    uint32_t at = self->nrejects;
    while (at > 0 && self->rejects[at - 1].index > index)
        at--;
    memmove (&self->rejects[at + 1], &self->rejects[at],
             (self->nrejects - at) * sizeof *self->rejects);
    self->rejects[at].index = index;
    self->rejects[at].error = *error;
    self->nrejects++;
}

void ps_batch_reject (ps_batch_t *self, uint32_t i, const ps_error_t *error)
{
    assert (self && error && i < self->nreports);
    uint32_t index = self->index[i];
    uint32_t after = self->nreports - i - 1;
    memmove (&self->reports[i], &self->reports[i + 1], after * sizeof *self->reports);
    memmove (&self->index[i], &self->index[i + 1], after * sizeof *self->index);
    self->nreports--;
    s_insert_reject (self, index, error);
}

int ps_batch_add_reject (ps_batch_t *self, uint32_t index, const ps_error_t *error)
{
    assert (self && error);
    if (s_reserve (self, self->nreports + self->nrejects + 1) != 0)
        return -1;
    s_insert_reject (self, index, error);
    if (index >= self->total)
        self->total = index + 1;
    return 0;
}

enum { R_SOURCE, R_PERIOD, R_DIMS, R_COUNT, R_AMOUNT, R_CURRENCY, R_OP, R_I, R__N };
static const char *const s_report_keys[R__N] = {"source", "period",   "dims", "count",
                                                "amount", "currency", "op",   "i"};

static int s_report_dims (const msgpack_object *o, ps_report_t *r, ps_error_t *err)
{
    const char *f = "dims";
    char q[PS_WIRE_QUOTE_MAX + 4];
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return ps_wire_fail (err, PS_E_TYPE, f,
                             "dims must be an array of \"name=value\" strings, got %s",
                             ps_wire_type_name (o));
    if (o->via.array.size > PS_MAX_DIMS)
        return ps_wire_fail (err, PS_E_DIMS, f, "%" PRIu32 " dimensions, at most %d",
                             o->via.array.size, PS_MAX_DIMS);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *d = &o->via.array.ptr[i];
        if (d->type != MSGPACK_OBJECT_STR)
            return ps_wire_fail (err, PS_E_TYPE, f,
                                 "dimension %" PRIu32 " must be a string, got %s", i,
                                 ps_wire_type_name (d));
        ps_dim_t *dim = &r->dims[i];
        const char *why = ps_grammar_dim_parse (d->via.str.ptr, d->via.str.size, false, dim);
        if (why)
            return ps_wire_fail (err, PS_E_DIMS, f, "dimension '%s' %s",
                                 ps_wire_quote (q, d->via.str.ptr, d->via.str.size), why);
        /* Insertion sort by name: at most 4, and duplicates show up as neighbours. */
        uint32_t k = i;
        ps_dim_t tmp = *dim;
        while (k > 0 && strcmp (r->dims[k - 1].name, tmp.name) > 0) {
            r->dims[k] = r->dims[k - 1];
            k--;
        }
        r->dims[k] = tmp;
        if ((k > 0 && strcmp (r->dims[k - 1].name, tmp.name) == 0) ||
            (k < i && strcmp (r->dims[k + 1].name, tmp.name) == 0))
            return ps_wire_fail (err, PS_E_DIMS, f, "dimension '%s' appears twice", tmp.name);
    }
    r->ndims = (uint8_t) o->via.array.size;
    return 0;
}

/*  Decodes report O into *R. For a forwarded report, *INDEX receives its
    "i" as soon as it is read, so later errors name the producer's index. */
static int s_report_decode (const msgpack_object *o, bool forwarded, ps_report_t *r,
                            uint32_t *index, ps_error_t *err)
{
    char q[PS_WIRE_QUOTE_MAX + 4];
    memset (r, 0, sizeof *r);
    if (o->type != MSGPACK_OBJECT_MAP)
        return ps_wire_fail (err, PS_E_TYPE, "", "a report must be a map, got %s",
                             ps_wire_type_name (o));
    const msgpack_object *v[R__N];
    if (ps_wire_fields_get (o, s_report_keys, forwarded ? R__N : R_I, v, err) != 0)
        return -1;
    /* Read only after a successful read sets it, but the compiler cannot tell. */
    uint64_t u = 0;
    if (forwarded) {
        if (ps_wire_need_uint (v[R_I], "i", 0, PS_MAX_REPORTS - 1, &u, err) != 0)
            return -1;
        *index = (uint32_t) u;
    }

    if (ps_wire_need_str (v[R_SOURCE], "source", err) != 0)
        return -1;
    const char *s = v[R_SOURCE]->via.str.ptr;
    size_t len = v[R_SOURCE]->via.str.size;
    if (len > PS_SOURCE_MAX)
        return ps_wire_fail (err, PS_E_LIMIT, "source", "source is %zu bytes long, at most %d", len,
                             PS_SOURCE_MAX);
    if (!ps_grammar_source_valid (s, len))
        return ps_wire_fail (
            err, PS_E_SYNTAX, "source",
            "source '%s' must start with a letter or digit, then A-Z a-z 0-9 _ . -",
            ps_wire_quote (q, s, len));
    memcpy (r->source, s, len);

    if (ps_wire_need_str (v[R_PERIOD], "period", err) != 0)
        return -1;
    const char *why = NULL;
    s = v[R_PERIOD]->via.str.ptr;
    len = v[R_PERIOD]->via.str.size;
    if (ps_period_parse (s, len, &r->period, &why) != 0)
        return ps_wire_fail (err, PS_E_PERIOD, "period", "period '%s': %s",
                             ps_wire_quote (q, s, len), why ? why : "not a valid period");

    if (v[R_DIMS] && s_report_dims (v[R_DIMS], r, err) != 0)
        return -1;

    const msgpack_object *op = v[R_OP];
    if (op && ps_wire_str_is (op, "retract")) {
        /* A retraction withdraws the cell's reported value: a measure
           beside it would suggest a partial withdrawal, which it is not. */
        for (int k = R_COUNT; k <= R_CURRENCY; k++)
            if (v[k])
                return ps_wire_fail (err, PS_E_OP, s_report_keys[k], "op \"retract\" takes no %s",
                                     s_report_keys[k]);
        r->op = PS_OP_RETRACT;
        return 0;
    }

    r->has_count = v[R_COUNT] != NULL;
    if (r->has_count && ps_wire_get_uint (v[R_COUNT], "count", 0, PS_WIRE_INT_MAX, &u, err) != 0)
        return -1;
    r->count = r->has_count ? (int64_t) u : 0;
    if (!v[R_COUNT] && !v[R_AMOUNT])
        return ps_wire_fail (err, PS_E_MISSING, "count",
                             "a report needs a count, an amount or both");

    r->has_amount = v[R_AMOUNT] != NULL;
    if (r->has_amount && ps_wire_get_uint (v[R_AMOUNT], "amount", 0, PS_WIRE_INT_MAX, &u, err) != 0)
        return -1;
    r->amount = r->has_amount ? (int64_t) u : 0;

    const msgpack_object *cur = v[R_CURRENCY];
    if (cur) {
        if (ps_wire_need_str (cur, "currency", err) != 0)
            return -1;
        s = cur->via.str.ptr;
        len = cur->via.str.size;
        if (len != PS_CURRENCY_LEN || ps_currency_exponent (s, len) < 0)
            return ps_wire_fail (err, PS_E_CURRENCY, "currency",
                                 "currency '%s' is not an ISO 4217 code",
                                 ps_wire_quote (q, s, len));
        if (!r->has_amount)
            return ps_wire_fail (err, PS_E_MISSING, "amount",
                                 "currency %.3s given without an amount", s);
        memcpy (r->currency, s, PS_CURRENCY_LEN);
    } else if (r->has_amount)
        return ps_wire_fail (err, PS_E_MISSING, "currency", "amount needs a currency");

    if (op) {
        if (op->type != MSGPACK_OBJECT_STR)
            return ps_wire_fail (err, PS_E_TYPE, "op", "op must be a string, got %s",
                                 ps_wire_type_name (op));
        if (ps_wire_str_is (op, "set"))
            r->op = PS_OP_SET;
        else if (!ps_wire_str_is (op, "add"))
            return ps_wire_fail (err, PS_E_OP, "op",
                                 "op must be \"add\", \"set\" or \"retract\", got \"%s\"",
                                 ps_wire_quote (q, op->via.str.ptr, op->via.str.size));
    }
    return 0;
}

enum { B_V, B_TYPE, B_PRODUCER, B_SEQ, B_INGEST, B_JSEQ, B_JOURNAL, B_REPORTS, B__N };
static const char *const s_batch_keys[B__N] = {"v",      "type", "producer", "seq",
                                               "ingest", "jseq", "journal",  "reports"};

/*  Reads the header of batch ROOT into SELF and its keys into V. Returns
    0, or -1 with *ERR. */
static int s_batch_header (ps_batch_t *self, const msgpack_object *root, bool forwarded,
                           const msgpack_object **v, ps_error_t *err)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return ps_wire_fail (err, PS_E_TYPE, "", "a batch must be a map, got %s",
                             ps_wire_type_name (root));
    if (ps_wire_fields_get (root, s_batch_keys, B__N, v, err) != 0 ||
        ps_wire_check_header (v[B_V], v[B_TYPE], "batch", err) != 0 ||
        ps_wire_get_id (v[B_PRODUCER], "producer", false, self->producer, err) != 0 ||
        ps_wire_need_uint (v[B_SEQ], "seq", 1, PS_WIRE_INT_MAX, &self->seq, err) != 0)
        return -1;
    if (forwarded &&
        (ps_wire_get_id (v[B_INGEST], "ingest", false, self->ingest, err) != 0 ||
         ps_wire_need_uint (v[B_JSEQ], "jseq", 1, PS_WIRE_INT_MAX, &self->jseq, err) != 0))
        return -1;
    if (forwarded && v[B_JOURNAL] &&
        ps_wire_get_uint (v[B_JOURNAL], "journal", 1, PS_WIRE_INT_MAX, &self->journal, err) != 0)
        return -1;
    return 0;
}

int ps_batch_decode (ps_batch_t *self, const void *data, size_t size, bool forwarded,
                     ps_error_t *err)
{
    assert (self && err);
    ps_batch_reset (self);
    size_t limit = forwarded ? PS_MAX_ENTRY : PS_MAX_BATCH;
    if (size > PS_MAX_INPUT)
        return ps_error_limit (err, forwarded ? "entry" : "batch", size, limit);
    /* An oversize frame (which the front door reads up to PS_MAX_INPUT to
       answer it) is still read as far as its header, so that the answer
       names its producer and seq, but the error is its size, whatever
       else is wrong with it. */
    msgpack_object root;
    const msgpack_object *v[B__N];
    int rc = ps_wire_unpack_max (self->zone, data, size, PS_MAX_INPUT, &root, err) == 0
                 ? s_batch_header (self, &root, forwarded, v, err)
                 : -1;
    if (size > limit)
        return ps_error_limit (err, forwarded ? "entry" : "batch", size, limit);
    if (rc != 0)
        return -1;

    const msgpack_object *reports = v[B_REPORTS];
    if (ps_wire_need_array (reports, "reports", err) != 0)
        return -1;
    uint32_t n = reports->via.array.size;
    if (n > PS_MAX_REPORTS)
        return ps_wire_fail (err, PS_E_LIMIT, "reports",
                             "%" PRIu32 " reports, at most %d per batch", n, PS_MAX_REPORTS);
    if (s_reserve (self, n) != 0)
        return ps_wire_fail (err, PS_E_LIMIT, "reports", "out of memory for %" PRIu32 " reports",
                             n);
    self->total = n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t index = i;
        ps_error_t e;
        if (s_report_decode (&reports->via.array.ptr[i], forwarded, &self->reports[self->nreports],
                             &index, &e) == 0)
            self->index[self->nreports++] = index;
        else
            s_insert_reject (self, index, &e);
    }
    return 0;
}

/*  Packs a report in canonical form: keys in the order source, period,
    dims, count, amount, currency, op, i; dims only when there are some, op
    only when it is not "add", i only when WITH_INDEX. */
static int s_report_pack (msgpack_packer *pk, const ps_report_t *r, bool with_index, uint32_t index)
{
    char period[PS_PERIOD_STRLEN];
    size_t n =
        2 + (r->ndims > 0) + r->has_count + 2 * r->has_amount + (r->op != PS_OP_ADD) + with_index;
    int rc = msgpack_pack_map (pk, n);
    rc |= ps_wire_pack_key_str (pk, "source", r->source);
    rc |= ps_msgpack_pack_cstr (pk, "period");
    rc |= ps_msgpack_pack_str (pk, period, ps_period_format (&r->period, period));
    if (r->ndims > 0) {
        rc |= ps_msgpack_pack_cstr (pk, "dims");
        rc |= msgpack_pack_array (pk, r->ndims);
        for (int i = 0; i < r->ndims; i++) {
            char dim[PS_DIM_NAME_MAX + 1 + PS_DIM_VALUE_MAX + 1];
            int len = snprintf (dim, sizeof dim, "%s=%s", r->dims[i].name, r->dims[i].value);
            rc |= ps_msgpack_pack_str (pk, dim, (size_t) len);
        }
    }
    if (r->has_count)
        rc |= ps_wire_pack_key_uint (pk, "count", (uint64_t) r->count);
    if (r->has_amount) {
        rc |= ps_wire_pack_key_uint (pk, "amount", (uint64_t) r->amount);
        rc |= ps_wire_pack_key_str (pk, "currency", r->currency);
    }
    if (r->op != PS_OP_ADD)
        rc |= ps_wire_pack_key_str (pk, "op", ps_grammar_op_name (r->op));
    if (with_index)
        rc |= ps_wire_pack_key_uint (pk, "i", index);
    return rc;
}

void ps_batch_report_pack (msgpack_packer *pk, const ps_report_t *report)
{
    s_report_pack (pk, report, false, 0);
}

int ps_batch_encode (const ps_batch_t *self, bool forwarded, msgpack_sbuffer *out)
{
    assert (self && out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    bool journal = forwarded && self->journal;
    int rc = ps_wire_pack_header (&pk, forwarded ? 7 + journal : 5, "batch");
    rc |= ps_wire_pack_key_str (&pk, "producer", self->producer);
    rc |= ps_wire_pack_key_uint (&pk, "seq", self->seq);
    if (forwarded) {
        rc |= ps_wire_pack_key_str (&pk, "ingest", self->ingest);
        rc |= ps_wire_pack_key_uint (&pk, "jseq", self->jseq);
    }
    if (journal)
        rc |= ps_wire_pack_key_uint (&pk, "journal", self->journal);
    rc |= ps_msgpack_pack_cstr (&pk, "reports");
    rc |= msgpack_pack_array (&pk, self->nreports);
    for (uint32_t i = 0; i < self->nreports; i++)
        rc |= s_report_pack (&pk, &self->reports[i], forwarded, self->index[i]);
    return rc ? -1 : 0;
}
