/*  ps_table: the latest feed message of every topic, and its rendering as
    a human-readable table (used by "paystat sub --table" and the demo).

    Cells are shown one row per topic: count, amount in major units with
    its currency, average ticket in major units, year-over-year growth of
    count, amount and average ticket, and each concrete dimension's share
    (of the amount, or of the count when there is no amount). Ratios and
    compute-side rejects follow in their own sections. */

#ifndef PS_TABLE_H_INCLUDED
#define PS_TABLE_H_INCLUDED

#include <stdio.h>

#include <jansson.h>

typedef struct ps_table_t ps_table_t;

/*  Creates an empty table. Returns NULL when out of memory. */
ps_table_t *ps_table_new (void);

/*  Destroys a table and sets *SELF_P to NULL; NULL-safe. */
void ps_table_destroy (ps_table_t **self_p);

/*  Records MSG, a feed message as ps_msgjson_feed builds it ({"topic":
    ..., fields...}), as the latest of its topic; the table takes its own
    reference. Heartbeats are ignored; a message of type "removed" (or
    without a type) removes the topic's row. Returns 0, or -1 when MSG has no
    topic or when out of memory. */
int ps_table_update (ps_table_t *self, json_t *msg);

/*  Returns the latest message of TOPIC (borrowed), or NULL. */
json_t *ps_table_get (const ps_table_t *self, const char *topic);

/*  Number of topics held. */
size_t ps_table_size (const ps_table_t *self);

/*  Prints the table to OUT. Returns 0, or -1 when out of memory. */
int ps_table_print (const ps_table_t *self, FILE *out);

#endif
