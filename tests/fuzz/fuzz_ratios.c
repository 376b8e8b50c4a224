/*  compute's ratio configuration parser (ps_ratios_parse, the in-memory
    form of --ratios FILE), then binding the ratios into a cell store as
    compute does at start-up. Properties: an error names the file and line;
    every parsed ratio has a valid name and at most PS_MAX_DIMS sorted dims. */

#include "fuzz.h"
#include "ps_ratios.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err[256];
    ps_ratios_t *ratios = ps_ratios_parse ((const char *) data, size, "fuzz.conf", err, sizeof err);
    if (!ratios) {
        FUZZ_CHECK (memchr (err, '\0', sizeof err));
        FUZZ_CHECK (strncmp (err, "fuzz.conf:", 10) == 0);
        return 0;
    }
    for (size_t i = 0; i < ps_ratios_count (ratios); i++) {
        const ps_ratio_t *r = ps_ratios_get (ratios, i);
        size_t len = strlen (r->name);
        FUZZ_CHECK (len >= 1 && len <= PS_RATIO_NAME_MAX);
        const ps_ratio_side_t *sides[2] = {&r->num, &r->den};
        for (int s = 0; s < 2; s++) {
            FUZZ_CHECK (sides[s]->ndims >= 0 && sides[s]->ndims <= PS_MAX_DIMS);
            for (int d = 1; d < sides[s]->ndims; d++)
                FUZZ_CHECK (strcmp (sides[s]->dims[d - 1].name, sides[s]->dims[d].name) < 0);
        }
    }
    ps_cells_t *cells = ps_cells_new ();
    FUZZ_CHECK (cells);
    FUZZ_CHECK (ps_ratios_bind (ratios, cells) == 0);
    ps_cells_destroy (&cells);
    ps_ratios_destroy (&ratios);
    FUZZ_CHECK (ratios == NULL);
    return 0;
}
