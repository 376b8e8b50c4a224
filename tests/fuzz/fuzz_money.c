/*  ps_money_parse at every exponent ISO 4217 uses (0..4), and
    ps_currency_exponent. Property: a parsed amount formats back to text
    that parses to the same amount. */

#include "fuzz.h"
#include "ps_money.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    int exp = ps_currency_exponent (text, size);
    FUZZ_CHECK (exp >= -1 && exp <= 4);
    FUZZ_CHECK (exp == -1 || size == 3);
    for (int e = 0; e <= 4; e++) {
        int64_t minor, again;
        const char *why = NULL;
        if (ps_money_parse (text, size, e, &minor, &why) != 0) {
            FUZZ_CHECK (why != NULL);
            continue;
        }
        FUZZ_CHECK (minor >= 0);
        char buf[32];
        int len = ps_money_format (minor, e, buf, sizeof buf);
        FUZZ_CHECK (len > 0 && (size_t) len < sizeof buf);
        FUZZ_CHECK (ps_money_parse (buf, (size_t) len, e, &again, &why) == 0 && again == minor);
    }
    return 0;
}
