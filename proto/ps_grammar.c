/*  ps_grammar: the names of the protocol (PROTOCOL.md 3.1): the grammars of
    sources, dimension names and values and ids, the "name=value" token,
    operation names, and cell topics, both written (ps_grammar_topic_format) and
    checked (an update's topics). Kept apart from the decoders because the
    gateway, ingest's access files and compute's cell store use the same
    rules on text that never was MessagePack. */

#include "ps_grammar.h"
#include "ps_wire.h"

#include <assert.h>
#include <string.h>

static bool s_is_alnum (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* True when every byte of S[0..LEN) is alphanumeric or in EXTRA. */
static bool s_chars_ok (const char *s, size_t len, const char *extra)
{
    for (size_t i = 0; i < len; i++)
        if (!s_is_alnum (s[i]) && (s[i] == '\0' || !strchr (extra, s[i])))
            return false;
    return true;
}

bool ps_grammar_id_valid (const char *s, size_t len)
{
    return len >= 1 && len <= PS_ID_MAX && s_chars_ok (s, len, "_.:-");
}

bool ps_grammar_source_valid (const char *s, size_t len)
{
    return len >= 1 && len <= PS_SOURCE_MAX && s_is_alnum (s[0]) && s_chars_ok (s, len, "_.-");
}

/* Dimension name: [a-z][a-z0-9_]{0,31}. */
bool ps_grammar_dim_name_valid (const char *s, size_t len)
{
    if (len < 1 || len > PS_DIM_NAME_MAX || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 1; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* Dimension value, and ratio name: [A-Za-z0-9_.-]{1,64}. */
bool ps_grammar_dim_value_valid (const char *s, size_t len)
{
    return len >= 1 && len <= PS_DIM_VALUE_MAX && s_chars_ok (s, len, "_.-");
}

const char *ps_grammar_dim_parse (const char *tok, size_t len, bool allow_star, ps_dim_t *dim)
{
    const char *eq = memchr (tok, '=', len);
    if (!eq)
        return "is not name=value";
    size_t name_len = (size_t) (eq - tok);
    const char *value = eq + 1;
    size_t value_len = len - name_len - 1;
    if (!ps_grammar_dim_name_valid (tok, name_len))
        return "has a name that is not [a-z][a-z0-9_]*, at most 32 characters";
    bool star = value_len == 1 && value[0] == '*';
    if (star && !allow_star)
        return "has the value '*', which is reserved for rolled-up dimensions";
    if (!star && !ps_grammar_dim_value_valid (value, value_len))
        return "has a value that is not 1 to 64 of A-Z a-z 0-9 _ . -";
    if (!dim)
        return NULL;
    memcpy (dim->name, tok, name_len);
    dim->name[name_len] = '\0';
    memcpy (dim->value, value, value_len);
    dim->value[value_len] = '\0';
    return NULL;
}

const char *ps_grammar_op_name (ps_op_t op)
{
    return op == PS_OP_SET ? "set" : op == PS_OP_RETRACT ? "retract" : "add";
}

size_t ps_grammar_topic_format (const char *source, const ps_period_t *period, const ps_dim_t *dims,
                                int ndims, char *buf)
{
    assert (source && period && buf && ndims >= 0 && ndims <= PS_MAX_DIMS);
    size_t n = strnlen (source, PS_SOURCE_MAX + 1);
    assert (n <= PS_SOURCE_MAX);
    memcpy (buf, source, n);
    buf[n++] = '/';
    n += ps_period_format (period, buf + n);
    buf[n++] = '/';
    for (int i = 0; i < ndims; i++) {
        size_t name = strnlen (dims[i].name, PS_DIM_NAME_MAX + 1);
        size_t value = strnlen (dims[i].value, PS_DIM_VALUE_MAX + 1);
        assert (name <= PS_DIM_NAME_MAX && value <= PS_DIM_VALUE_MAX);
        if (i > 0)
            buf[n++] = ',';
        memcpy (buf + n, dims[i].name, name);
        n += name;
        buf[n++] = '=';
        memcpy (buf + n, dims[i].value, value);
        n += value;
    }
    buf[n] = '\0';
    return n;
}

const char *ps_grammar_topic_check (const char *t, size_t len)
{
    ps_period_t period;
    if (len == 0)
        return "empty topic";
    if (len > PS_TOPIC_MAX)
        return "topic longer than the limit";
    if (len == 7 && memcmp (t, "$reject", 7) == 0)
        return NULL;
    size_t skip = strlen (PS_TOPIC_RATIO_PREFIX);
    if (t[0] == '$') {
        if (len < skip || memcmp (t, PS_TOPIC_RATIO_PREFIX, skip) != 0)
            return "unknown '$' topic (only $ratio/<name>/<period> and $reject)";
        const char *slash = memchr (t + skip, '/', len - skip);
        if (!slash || !ps_grammar_dim_value_valid (t + skip, (size_t) (slash - t) - skip))
            return "ratio name must be 1 to 64 of A-Z a-z 0-9 _ . -";
        size_t at = (size_t) (slash - t) + 1;
        if (ps_period_parse (slash + 1, len - at, &period, NULL) != 0)
            return "invalid period in ratio topic";
        return NULL;
    }
    const char *s1 = memchr (t, '/', len);
    if (!s1 || !ps_grammar_source_valid (t, (size_t) (s1 - t)))
        return "topic must start with a valid source and '/'";
    const char *p = s1 + 1, *end = t + len;
    const char *s2 = memchr (p, '/', (size_t) (end - p));
    if (!s2 || ps_period_parse (p, (size_t) (s2 - p), &period, NULL) != 0)
        return "topic needs a valid period between two '/'";
    p = s2 + 1;
    const char *prev = NULL; /* the previous dim's name, PREV_LEN bytes */
    size_t prev_len = 0;
    for (int n = 0; p < end; n++) {
        const char *comma = memchr (p, ',', (size_t) (end - p));
        size_t tok_len = (size_t) ((comma ? comma : end) - p);
        if (n == PS_MAX_DIMS)
            return "more than 4 dimensions in topic";
        if (ps_grammar_dim_parse (p, tok_len, true, NULL))
            return "malformed name=value in topic";
        size_t name_len = (size_t) ((const char *) memchr (p, '=', tok_len) - p);
        int order = n == 0 ? 1 : memcmp (prev, p, prev_len < name_len ? prev_len : name_len);
        if (n > 0 && (order > 0 || (order == 0 && prev_len >= name_len)))
            return "topic dimensions must be sorted by name, each once";
        prev = p;
        prev_len = name_len;
        if (comma && comma + 1 == end)
            return "topic ends with ','";
        p = comma ? comma + 1 : end;
    }
    return NULL;
}
