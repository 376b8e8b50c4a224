/*  ps_article: the figures of the source article (see data/ and
    ../shared/seed/figures.md) next to what paystat publishes for the
    bundled dataset, each rounded as the article rounds it. */

#ifndef PS_ARTICLE_H_INCLUDED
#define PS_ARTICLE_H_INCLUDED

#include <stdio.h>

#include "ps_table.h"

/*  Prints the article check for the latest feed messages in TABLE to OUT:
    one row per figure with the article's text, paystat's value rounded
    the same way, paystat's exact value and a match mark. Returns the
    number of figures that differ or are missing from the feed. */
int ps_article_check (const ps_table_t *table, FILE *out);

#endif
