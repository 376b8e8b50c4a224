/*  ps_ceiling: header of the ceiling chain's frames; see ps_ceiling.h. */

#include "ps_ceiling.h"

#include <assert.h>
#include <string.h>

/* "PSCL", so a paystat frame sent to the ceiling by mistake is refused. */
#define S_MAGIC 0x4c435350u

_Static_assert(4 + sizeof (ps_ceiling_hdr_t) <= PS_CEILING_HDR, "header must fit its bytes");

void ps_ceiling_write (void *frame, size_t size, const ps_ceiling_hdr_t *hdr)
{
    assert (size >= PS_CEILING_HDR);
    (void) size;
    uint32_t magic = S_MAGIC;
    memcpy (frame, &magic, 4);
    memcpy ((char *) frame + 4, hdr, sizeof *hdr);
}

int ps_ceiling_read (const void *frame, size_t size, ps_ceiling_hdr_t *hdr)
{
    uint32_t magic;
    if (size < PS_CEILING_HDR)
        return -1;
    memcpy (&magic, frame, 4);
    if (magic != S_MAGIC)
        return -1;
    memcpy (hdr, (const char *) frame + 4, sizeof *hdr);
    return 0;
}
