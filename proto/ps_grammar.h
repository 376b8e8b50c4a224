/*  ps_grammar: the names of the protocol (PROTOCOL.md 3.1): sources,
    dimensions, operations and the topic a cell is published on. Shared by
    the decoders and by other parsers of the same names (access files, API
    queries, compute's cell store). */

#ifndef PS_GRAMMAR_H_INCLUDED
#define PS_GRAMMAR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "ps_limits.h"
#include "ps_period.h"

/*  The grammars of PROTOCOL.md 3.1, for other parsers of the same names
    (access files, API queries): a source [A-Za-z0-9][A-Za-z0-9_.-]{0,31},
    a dimension name [a-z][a-z0-9_]{0,31}, a dimension value (or ratio
    name) [A-Za-z0-9_.-]{1,64}, a producer or ingest id
    [A-Za-z0-9_.:-]{1,64}; S is LEN bytes, not terminated. Each returns
    false when S does not match. */
bool ps_grammar_id_valid (const char *s, size_t len);
bool ps_grammar_source_valid (const char *s, size_t len);
bool ps_grammar_dim_name_valid (const char *s, size_t len);
bool ps_grammar_dim_value_valid (const char *s, size_t len);

/*  What a report does to its cell: add to its reported value, replace it
    (set), or withdraw it (retract: the cell's reported value stops
    contributing anywhere; such a report carries no count or amount). */
typedef enum { PS_OP_ADD = 0, PS_OP_SET = 1, PS_OP_RETRACT = 2 } ps_op_t;

/*  Returns the wire name of OP; any value that is not set or retract
    reads as "add". */
const char *ps_grammar_op_name (ps_op_t op);

typedef struct {
    char name[PS_DIM_NAME_MAX + 1];   /* [a-z][a-z0-9_]* */
    char value[PS_DIM_VALUE_MAX + 1]; /* [A-Za-z0-9_.-]+ */
} ps_dim_t;

/* Prefix of ratio topics: "$ratio/<name>". */
#define PS_TOPIC_RATIO_PREFIX "$ratio/"

/*  Writes the topic key of a cell: "<source>/<period>/<n>=<v>,<n>=<v>"
    (dims in the order given, which must be sorted by name) into BUF of
    PS_TOPIC_MAX + 1 bytes. Returns its length; it cannot fail (names
    longer than their limits are programming errors, asserted). */
size_t ps_grammar_topic_format (const char *source, const ps_period_t *period, const ps_dim_t *dims,
                                int ndims, char *buf);

#endif
