/*  ps_gwquery: the query parameters of the gateway's JSON API, checked one
    by one so that a bad request is answered 400 naming the parameter.

    Every function takes the raw text (already %-decoded by the HTTP
    server; NULL when the parameter is absent) and returns 0, or -1 with
    *WHY set to a static English reason that completes "parameter X ...". */

#ifndef PS_GWQUERY_H_INCLUDED
#define PS_GWQUERY_H_INCLUDED

#include "ps_period.h"
#include "ps_proto.h"

/* Longest dims text: 4 x "name=value" and 3 commas, plus NUL. */
#define PS_GWQUERY_DIMS_MAX (PS_MAX_DIMS * (PS_DIM_NAME_MAX + 1 + PS_DIM_VALUE_MAX + 1))

/*  "source": required, a reporting body ([A-Za-z0-9][A-Za-z0-9_.-]*, at
    most 32 bytes). */
int ps_gwquery_source (const char *text, const char **why);

/*  "dims": "name=value" tokens joined by ',' in any order, a value may be
    "*" (a rolled-up dimension); absent or "" means a series without
    dimensions. Writes the canonical form (sorted by name, as in topics)
    into OUT of PS_GWQUERY_DIMS_MAX bytes. */
int ps_gwquery_dims (const char *text, char *out, const char **why);

/*  "granularity": "year", "quarter" or "month"; absent means "year". */
int ps_gwquery_gran (const char *text, ps_gran_t *gran, const char **why);

/*  "prefix": any topic prefix up to PS_TOPIC_MAX bytes; absent means "". */
int ps_gwquery_prefix (const char *text, const char **why);

/* Indicators one /api/v1/indicators answer holds at most. */
#define PS_GWQUERY_LIMIT_DEFAULT 10000
#define PS_GWQUERY_LIMIT_MAX     100000

/*  "limit": an integer in 1..PS_GWQUERY_LIMIT_MAX; absent means
    PS_GWQUERY_LIMIT_DEFAULT. */
int ps_gwquery_limit (const char *text, long *limit, const char **why);

#endif
