/*  ps_gwquery: API query parameters; see ps_gwquery.h.

    The source and dimension grammars are those of PROTOCOL.md section
    3.1, plus the value "*" that only topics carry. */

#include "ps_gwquery.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int ps_gwquery_source (const char *text, const char **why)
{
    if (!text || !*text) {
        *why = "is required";
        return -1;
    }
    if (!ps_grammar_source_valid (text, strlen (text))) {
        *why = "must be a source: 1 to 32 of A-Z a-z 0-9 _ . -, starting with a letter or digit";
        return -1;
    }
    return 0;
}

typedef struct {
    const char *name;
    size_t len; /* of "name=value" */
} s_token_t;

static int s_token_cmp (const void *a, const void *b)
{
    const s_token_t *x = a, *y = b;
    size_t nx = strcspn (x->name, "="), ny = strcspn (y->name, "=");
    int c = memcmp (x->name, y->name, nx < ny ? nx : ny);
    return c ? c : (nx > ny) - (nx < ny);
}

/*  Checks one "name=value" token of LEN bytes. */
static const char *s_dim_check (const char *tok, size_t len)
{
    const char *eq = memchr (tok, '=', len);
    if (!eq)
        return "must be name=value pairs joined by ','";
    size_t name_len = (size_t) (eq - tok), value_len = len - name_len - 1;
    if (!ps_grammar_dim_name_valid (tok, name_len))
        return "has a dimension name that is not [a-z][a-z0-9_]*, at most 32 characters";
    if (!(value_len == 1 && eq[1] == '*') && !ps_grammar_dim_value_valid (eq + 1, value_len))
        return "has a dimension value that is not '*' or 1 to 64 of A-Z a-z 0-9 _ . -";
    return NULL;
}

int ps_gwquery_dims (const char *text, char *out, const char **why)
{
    out[0] = '\0';
    if (!text || !*text)
        return 0;
    s_token_t tokens[PS_MAX_DIMS];
    int n = 0;
    for (const char *p = text;;) {
        size_t len = strcspn (p, ",");
        if (n == PS_MAX_DIMS) {
            *why = "has more than 4 dimensions";
            return -1;
        }
        if ((*why = s_dim_check (p, len)) != NULL)
            return -1;
        tokens[n++] = (s_token_t){p, len};
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    qsort (tokens, (size_t) n, sizeof tokens[0], s_token_cmp);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && s_token_cmp (&tokens[i - 1], &tokens[i]) == 0) {
            *why = "names a dimension twice";
            return -1;
        }
        if (i > 0)
            out[at++] = ',';
        memcpy (out + at, tokens[i].name, tokens[i].len);
        at += tokens[i].len;
    }
    out[at] = '\0';
    return 0;
}

int ps_gwquery_gran (const char *text, ps_gran_t *gran, const char **why)
{
    *gran = PS_GRAN_YEAR;
    if (!text)
        return 0;
    for (int g = PS_GRAN_YEAR; g <= PS_GRAN_MONTH; g++)
        if (strcmp (text, ps_gran_name ((ps_gran_t) g)) == 0) {
            *gran = (ps_gran_t) g;
            return 0;
        }
    *why = "must be year, quarter or month";
    return -1;
}

int ps_gwquery_prefix (const char *text, const char **why)
{
    if (text && strlen (text) > PS_TOPIC_MAX) {
        *why = "is longer than the longest topic (436 bytes)";
        return -1;
    }
    return 0;
}

int ps_gwquery_limit (const char *text, long *limit, const char **why)
{
    *limit = PS_GWQUERY_LIMIT_DEFAULT;
    if (!text)
        return 0;
    char *end;
    errno = 0;
    long v = strtol (text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || errno != 0 || *end != '\0' || v < 1 ||
        v > PS_GWQUERY_LIMIT_MAX) {
        *why = "must be an integer from 1 to 100000";
        return -1;
    }
    *limit = v;
    return 0;
}
