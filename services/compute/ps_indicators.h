/*  ps_indicators: the figures of the cell and ratio messages compute
    publishes (PROTOCOL.md "Cell message", "Ratio message"), each message
    complete so a subscriber never needs an earlier one to read a later
    one. proto's ps_body packs them.

    Every float is a quotient whose base was checked to be present and
    non-zero first: an indicator without a defined base is left out of the
    map, never sent as NaN or infinity. */

#ifndef PS_INDICATORS_H_INCLUDED
#define PS_INDICATORS_H_INCLUDED

#include <msgpack.h>

#include "ps_cells.h"
#include "ps_proto.h"
#include "ps_ratios.h"

/*  Packs the indicator map of cell ID with PK. */
void ps_indicators_cell (const ps_cells_t *cells, uint32_t id, msgpack_packer *pk);

/*  Packs the map of RATIO at PERIOD with PK. Returns 0, or without packing
    anything -1 when a side's cell does not exist at PERIOD, 1 when a side
    has no value left (retracted): the ratio is then removed. */
int ps_indicators_ratio (const ps_cells_t *cells, const ps_ratio_t *ratio,
                         const ps_period_t *period, msgpack_packer *pk);

/*  Writes "$ratio/NAME/PERIOD" into BUF (PS_TOPIC_MAX + 1 bytes); returns
    its length. */
size_t ps_indicators_ratio_topic (const ps_ratio_t *ratio, const ps_period_t *period, char *buf);

#endif
