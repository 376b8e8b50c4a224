/*  ps_cells: compute's cells and series; see ps_cells.h. */

#include "ps_cells.h"
#include "ps_intern.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof (ps_cell_t) <= 88, "a cell must stay within its memory budget");

struct ps_cells_t {
    ps_intern_t *sources;
    ps_intern_t *tokens; /* "name=value" and "name=*" */
    uint32_t *star_of;   /* star_of[token] = id of the same name with value "*" */
    uint32_t star_cap;
    ps_keytab_t *cells;
    ps_keytab_t *series;
};

ps_cells_t *ps_cells_new (void)
{
    ps_cells_t *self = calloc (1, sizeof *self);
    if (!self)
        goto err;
    self->sources = ps_intern_new ();
    self->tokens = ps_intern_new ();
    self->cells = ps_keytab_new (sizeof (ps_cell_t));
    self->series = ps_keytab_new (sizeof (ps_series_t));
    self->star_cap = 256;
    self->star_of = malloc (self->star_cap * sizeof *self->star_of);
    if (!self->sources || !self->tokens || !self->cells || !self->series || !self->star_of)
        goto err;
    return self;
err:
    ps_cells_destroy (&self);
    return NULL;
}

void ps_cells_destroy (ps_cells_t **self_p)
{
    ps_cells_t *self = *self_p;
    if (!self)
        return;
    ps_intern_destroy (&self->sources);
    ps_intern_destroy (&self->tokens);
    ps_keytab_destroy (&self->cells);
    ps_keytab_destroy (&self->series);
    free (self->star_of);
    free (self);
    *self_p = NULL;
}

#define S_TOKEN_MAX (PS_DIM_NAME_MAX + 1 + PS_DIM_VALUE_MAX)

/* Writes "name=value" of DIM into TEXT (S_TOKEN_MAX + 1 bytes); returns its length. */
static size_t s_token_text (const ps_dim_t *dim, char *text)
{
    size_t n = strlen (dim->name), v = strlen (dim->value);
    memcpy (text, dim->name, n);
    text[n] = '=';
    memcpy (text + n + 1, dim->value, v);
    return n + 1 + v;
}

/* Returns the token id of DIM, interning it and its rolled-up form (the
   latter first, so every token id always has its star recorded), or 0
   when out of memory. */
static uint32_t s_token (ps_cells_t *self, const ps_dim_t *dim)
{
    char text[S_TOKEN_MAX + 1];
    size_t len = s_token_text (dim, text);
    uint32_t id = ps_intern_find (self->tokens, text, len);
    if (id)
        return id;
    if (ps_intern_count (self->tokens) + 2 >= self->star_cap) {
        uint32_t *star_of = realloc (self->star_of, self->star_cap * 2 * sizeof *star_of);
        if (!star_of)
            return 0;
        self->star_of = star_of;
        self->star_cap *= 2;
    }
    char star_text[S_TOKEN_MAX + 1];
    ps_dim_t rolled = *dim;
    strcpy (rolled.value, "*");
    uint32_t star =
        ps_intern_add (self->tokens, star_text, s_token_text (&rolled, star_text), UINT32_MAX - 1);
    if (!star)
        return 0;
    self->star_of[star] = star;
    id = ps_intern_add (self->tokens, text, len, UINT32_MAX - 1);
    if (id)
        self->star_of[id] = star;
    return id;
}

int ps_cells_series_key (ps_cells_t *self, const char *source, const ps_dim_t *dims, int ndims,
                         ps_key_t *key, uint32_t star[PS_MAX_DIMS])
{
    assert (ndims >= 0 && ndims <= PS_MAX_DIMS);
    memset (key, 0, sizeof *key);
    uint32_t src = ps_intern_add (self->sources, source, strlen (source), UINT16_MAX);
    if (!src)
        return -1;
    key->source = (uint16_t) src;
    key->ndims = (uint8_t) ndims;
    for (int i = 0; i < ndims; i++) {
        uint32_t id = s_token (self, &dims[i]);
        if (!id)
            return -1;
        key->tok[i] = id;
        star[i] = self->star_of[id];
    }
    return 0;
}

int ps_cells_lookup_key (const ps_cells_t *self, const char *source, const ps_period_t *period,
                         const ps_dim_t *dims, int ndims, ps_key_t *key)
{
    assert (ndims >= 0 && ndims <= PS_MAX_DIMS);
    memset (key, 0, sizeof *key);
    uint32_t src = ps_intern_find (self->sources, source, strlen (source));
    if (!src)
        return -1;
    key->source = (uint16_t) src;
    key->ndims = (uint8_t) ndims;
    key->period = ps_period_pack (period);
    for (int i = 0; i < ndims; i++) {
        char text[S_TOKEN_MAX + 1];
        key->tok[i] = ps_intern_find (self->tokens, text, s_token_text (&dims[i], text));
        if (!key->tok[i])
            return -1;
    }
    return 0;
}

uint32_t ps_cells_find (const ps_cells_t *self, const ps_key_t *key)
{
    return ps_keytab_find (self->cells, key);
}

void ps_cells_find_many (const ps_cells_t *self, const ps_key_t *keys, uint32_t n, uint32_t *ids)
{
    ps_keytab_find_many (self->cells, keys, n, ids);
}

uint32_t ps_cells_insert (ps_cells_t *self, const ps_key_t *key)
{
    return ps_keytab_insert (self->cells, key);
}

ps_cell_t *ps_cells_at (const ps_cells_t *self, uint32_t id)
{
    return ps_keytab_at (self->cells, id);
}

uint32_t ps_cells_count (const ps_cells_t *self)
{
    return ps_keytab_count (self->cells);
}

int ps_cells_reserve (ps_cells_t *self, uint32_t ncells, uint32_t nseries)
{
    return ps_keytab_reserve (self->cells, ncells) == 0 &&
                   ps_keytab_reserve (self->series, nseries) == 0
               ? 0
               : -1;
}

uint32_t ps_cells_find_at (const ps_cells_t *self, const ps_key_t *key, const ps_period_t *period)
{
    ps_key_t k = *key;
    k.period = ps_period_pack (period);
    return ps_keytab_find (self->cells, &k);
}

uint32_t ps_cells_series_find (const ps_cells_t *self, const ps_key_t *key)
{
    return ps_keytab_find (self->series, key);
}

uint32_t ps_cells_series_insert (ps_cells_t *self, const ps_key_t *key)
{
    return ps_keytab_insert (self->series, key);
}

ps_series_t *ps_cells_series_at (const ps_cells_t *self, uint32_t id)
{
    return ps_keytab_at (self->series, id);
}

uint32_t ps_cells_series_count (const ps_cells_t *self)
{
    return ps_keytab_count (self->series);
}

bool ps_cell_has_count (const ps_cell_t *c)
{
    return c->nleaves > 0 && c->nmiss_count == 0;
}

bool ps_cell_has_amount (const ps_cell_t *c)
{
    return c->nleaves > 0 && c->nmiss_amount == 0;
}

uint32_t ps_cells_star (const ps_cells_t *self, uint32_t tok)
{
    assert (tok >= 1 && tok <= ps_intern_count (self->tokens));
    return self->star_of[tok];
}

const char *ps_cells_source_name (const ps_cells_t *self, uint16_t id)
{
    return ps_intern_str (self->sources, id, NULL);
}

int ps_cells_dims (const ps_cells_t *self, const ps_key_t *key, ps_dim_t dims[PS_MAX_DIMS])
{
    for (int i = 0; i < key->ndims; i++) {
        size_t len;
        const char *text = ps_intern_str (self->tokens, key->tok[i], &len);
        const char *eq = memchr (text, '=', len);
        assert (eq);
        size_t n = (size_t) (eq - text);
        memcpy (dims[i].name, text, n);
        dims[i].name[n] = '\0';
        memcpy (dims[i].value, eq + 1, len - n - 1);
        dims[i].value[len - n - 1] = '\0';
    }
    return key->ndims;
}

size_t ps_cells_topic (const ps_cells_t *self, const ps_key_t *key, char *buf)
{
    ps_dim_t dims[PS_MAX_DIMS];
    int ndims = ps_cells_dims (self, key, dims);
    ps_period_t period = ps_period_unpack (key->period);
    return ps_grammar_topic_format (ps_cells_source_name (self, key->source), &period, dims, ndims,
                                    buf);
}

uint16_t ps_currency_pack (const char *code)
{
    assert (code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z' &&
            code[2] >= 'A' && code[2] <= 'Z');
    return (uint16_t) (1 + (code[0] - 'A') * 676 + (code[1] - 'A') * 26 + (code[2] - 'A'));
}

void ps_currency_unpack (uint16_t packed, char code[PS_CURRENCY_LEN + 1])
{
    assert (packed > 0);
    unsigned v = packed - 1u;
    code[0] = (char) ('A' + v / 676);
    code[1] = (char) ('A' + v / 26 % 26);
    code[2] = (char) ('A' + v % 26);
    code[3] = '\0';
}

size_t ps_cells_memory (const ps_cells_t *self)
{
    return sizeof *self + ps_intern_memory (self->sources) + ps_intern_memory (self->tokens) +
           self->star_cap * sizeof (uint32_t) + ps_keytab_memory (self->cells) +
           ps_keytab_memory (self->series);
}

bool ps_cells_series_currency (const ps_cells_t *self, const ps_key_t *key,
                               char code[PS_CURRENCY_LEN + 1])
{
    ps_key_t series = *key;
    series.period = 0;
    uint32_t id = ps_cells_series_find (self, &series);
    uint16_t packed = id ? ps_cells_series_at (self, id)->currency : 0;
    code[0] = '\0';
    if (packed)
        ps_currency_unpack (packed, code);
    return packed != 0;
}
