/*  ps_ceiling: the header that the ceiling chain's frames carry.

    The ceiling is paystat's topology with no work: each hop forwards
    frames of the sizes paystat's would have without reading them. Only
    the first PS_CEILING_HDR bytes of a frame mean anything: what kind of
    batch it belongs to, a token naming it, the producer's send time, and
    (on the feed) the message's number, so a subscriber can count gaps. */

#ifndef PS_CEILING_H_INCLUDED
#define PS_CEILING_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define PS_CEILING_HDR 40

typedef enum {
    PS_CEILING_DATA = 1, /* a batch of the timed stream; token = batch seq */
    PS_CEILING_WARM = 2, /* subscription check or barrier; token counts them */
    PS_CEILING_END = 3   /* the final marker; token counts resends */
} ps_ceiling_kind_t;

typedef struct {
    uint32_t kind;   /* ps_ceiling_kind_t */
    uint32_t nitems; /* reports in the batch = feed messages it causes */
    uint64_t token;
    int64_t sent_us; /* producer's ps_clock_us at send */
    uint64_t msgseq; /* feed message number, 1, 2, 3, ... (feed only) */
} ps_ceiling_hdr_t;

/*  Writes HDR at the start of FRAME of SIZE bytes (at least PS_CEILING_HDR). */
void ps_ceiling_write (void *frame, size_t size, const ps_ceiling_hdr_t *hdr);

/*  Reads the header of FRAME of SIZE bytes into *HDR. Returns 0, or -1 when
    the frame is too short or does not start with a ceiling header. */
int ps_ceiling_read (const void *frame, size_t size, ps_ceiling_hdr_t *hdr);

#endif
