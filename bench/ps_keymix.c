/*  ps_keymix: the benchmark's report stream; see ps_keymix.h. */

#include "ps_keymix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_cards[] = {"domestic", "foreign"};
static const char *const s_channels[] = {"web", "pos", "atm"};
static const char *const s_schemes[] = {"visa", "mastercard", "cmi", "amex"};

/* Leaves per day of a source with two dims, and with three. */
#define S_COMBOS_2 (2 * 3)
#define S_COMBOS_3 (2 * 3 * 4)
/* Cells per period of a source's series (each dim concrete or "*"). */
#define S_SERIES_2 (3 * 4)
#define S_SERIES_3 (3 * 4 * 5)

struct ps_keymix_t {
    uint32_t sources;
    uint32_t days;
    ps_keymix_order_t order;
    uint32_t per_day; /* leaves of one day, every source */
    ps_period_t *day; /* day[d]: the d-th day of the span */
    uint64_t periods; /* days, months, quarters and years the span covers */
    uint64_t leaves;
    uint64_t stride; /* coprime to leaves */
};

static uint64_t s_gcd (uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

ps_keymix_t *ps_keymix_new (uint32_t sources, uint32_t days, int start_year,
                            ps_keymix_order_t order)
{
    if (sources < 1 || sources > 1000 || days < 1 || days > 36500 || start_year < 1900 ||
        start_year > 2100)
        return NULL;
    ps_keymix_t *self = calloc (1, sizeof *self);
    if (!self)
        goto err;
    self->sources = sources;
    self->days = days;
    self->order = order;
    self->day = malloc (days * sizeof *self->day);
    if (!self->day)
        goto err;
    ps_period_t p = {(uint16_t) start_year, PS_GRAN_DAY, 1, 1};
    for (uint32_t d = 0; d < days; d++) {
        self->day[d] = p;
        bool new_month = d == 0 || p.sub != self->day[d - 1].sub;
        bool new_quarter = d == 0 || (p.sub - 1) / 3 != (self->day[d - 1].sub - 1) / 3;
        bool new_year = d == 0 || p.year != self->day[d - 1].year;
        self->periods += 1 + new_month + new_quarter + new_year;
        ps_period_next (&self->day[d], &p);
    }
    uint32_t with3 = sources / 2;
    self->per_day = (sources - with3) * S_COMBOS_2 + with3 * S_COMBOS_3;
    self->leaves = (uint64_t) days * self->per_day;
    /* Near the golden ratio of the leaf count: consecutive reports land far apart. */
    self->stride = (uint64_t) ((double) self->leaves * 0.6180339887) | 1;
    while (s_gcd (self->stride, self->leaves) != 1)
        self->stride += 2;
    return self;
err:
    ps_keymix_destroy (&self);
    return NULL;
}

void ps_keymix_destroy (ps_keymix_t **self_p)
{
    ps_keymix_t *self = *self_p;
    if (!self)
        return;
    free (self->day);
    free (self);
    *self_p = NULL;
}

uint64_t ps_keymix_leaves (const ps_keymix_t *self)
{
    return self->leaves;
}

uint64_t ps_keymix_cells (const ps_keymix_t *self)
{
    uint32_t with3 = self->sources / 2;
    return self->periods * ((self->sources - with3) * S_SERIES_2 + with3 * S_SERIES_3);
}

static void s_dim (ps_dim_t *dim, const char *name, const char *value)
{
    snprintf (dim->name, sizeof dim->name, "%s", name);
    snprintf (dim->value, sizeof dim->value, "%s", value);
}

/* A cheap deterministic scramble, so counts and amounts vary. */
static uint64_t s_mix (uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dULL;
    return x ^ (x >> 33);
}

void ps_keymix_report (const ps_keymix_t *self, uint64_t i, ps_report_t *r)
{
    uint64_t leaf = self->order == PS_KEYMIX_DAILY
                        ? i % self->leaves
                        : (uint64_t) ((unsigned __int128) i * self->stride % self->leaves);
    uint32_t day = (uint32_t) (leaf / self->per_day);
    uint32_t rest = (uint32_t) (leaf % self->per_day);
    /* Within a day, sources come in pairs (two dims, three dims); a lone
       last one has two. */
    uint32_t source = rest / (S_COMBOS_2 + S_COMBOS_3) * 2;
    rest %= S_COMBOS_2 + S_COMBOS_3;
    bool three = rest >= S_COMBOS_2;
    if (three) {
        rest -= S_COMBOS_2;
        source++;
    }
    uint32_t combo = rest;

    memset (r, 0, sizeof *r);
    snprintf (r->source, sizeof r->source, "SRC%u", source);
    r->period = self->day[day];
    s_dim (&r->dims[0], "card", s_cards[combo % 2]);
    s_dim (&r->dims[1], "channel", s_channels[combo / 2 % 3]);
    r->ndims = 2;
    if (three) {
        s_dim (&r->dims[2], "scheme", s_schemes[combo / 6]);
        r->ndims = 3;
    }
    uint64_t h = s_mix (i);
    r->has_count = r->has_amount = true;
    r->count = (int64_t) (1 + h % 1000);
    r->amount = r->count * (int64_t) (500 + (h >> 20) % 100000);
    memcpy (r->currency, source % 2 ? "EUR" : "MAD", 4);
    r->op = PS_OP_ADD;
}
