/*  ps_period_parse. Properties: only canonical text parses (formatting a
    parsed period gives back the input byte for byte); a period's
    neighbours, year-ago, parents and packed code stay consistent. */

#include "fuzz.h"
#include "ps_period.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ps_period_t p, q, r;
    const char *why = NULL;
    if (ps_period_parse ((const char *) data, size, &p, &why) != 0) {
        FUZZ_CHECK (why != NULL);
        return 0;
    }
    char buf[PS_PERIOD_STRLEN];
    size_t len = ps_period_format (&p, buf);
    FUZZ_CHECK (len == size && memcmp (buf, data, size) == 0);
    FUZZ_CHECK (ps_period_cmp (&p, &p) == 0);
    q = ps_period_unpack (ps_period_pack (&p));
    FUZZ_CHECK (ps_period_cmp (&p, &q) == 0);
    if (ps_period_prev (&p, &q) == 0) {
        FUZZ_CHECK (ps_period_cmp (&q, &p) < 0);
        FUZZ_CHECK (ps_period_next (&q, &r) == 0 && ps_period_cmp (&r, &p) == 0);
    }
    if (ps_period_next (&p, &q) == 0) {
        FUZZ_CHECK (ps_period_cmp (&q, &p) > 0);
        FUZZ_CHECK (ps_period_prev (&q, &r) == 0 && ps_period_cmp (&r, &p) == 0);
    }
    if (ps_period_year_ago (&p, &q) == 0)
        FUZZ_CHECK (q.year + 1 == p.year && q.gran == p.gran && q.sub == p.sub && q.day == p.day);
    ps_period_t parents[3];
    int n = ps_period_parents (&p, parents);
    FUZZ_CHECK (n == p.gran);
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK (parents[i].gran < p.gran && parents[i].year == p.year);
        FUZZ_CHECK (ps_period_cmp (&parents[i], &p) <= 0);
    }
    return 0;
}
