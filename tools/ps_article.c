/*  ps_article: the article's figures against the feed; see ps_article.h. */

#include "ps_article.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One figure of the article and where paystat publishes it. */
typedef struct {
    const char *label;
    const char *article; /* as the article states it */
    const char *topic;   /* feed topic */
    const char *field;   /* path in the message, '.' between levels */
    double divisor;      /* shown value = field / divisor ... */
    bool major;          /* ... / 10^exp: minor units to major units */
    int decimals;        /* the article's rounding (-2: to the hundred) */
    double expected;     /* the article's figure */
    bool more_than;      /* the article says "more than EXPECTED" */
    const char *unit;
} s_figure_t;

/* Topics follow data/morocco-2011-2012.csv and data/ratios.conf. */
#define S_CMI_ECOM "CMI/2012/activity=ecommerce,card="
#define S_CMI_ABRD "CMI/2012/activity=abroad,card=domestic"
#define S_MTC      "MTC/2012/channel=online"

static const s_figure_t s_figures[] = {
    {"CMI online card payments, amount growth", "+48.3 %", S_CMI_ECOM "*", "yoy_amount_pct", 1,
     false, 1, 48.3, false, " %"},
    {"  with Moroccan cards", "+46.4 %", S_CMI_ECOM "domestic", "yoy_amount_pct", 1, false, 1, 46.4,
     false, " %"},
    {"  with foreign cards", "+91.1 %", S_CMI_ECOM "foreign", "yoy_amount_pct", 1, false, 1, 91.1,
     false, " %"},
    {"Moroccan cards' share of the 2012 amount", "94.6 %", S_CMI_ECOM "domestic",
     "share.card.amount_pct", 1, false, 1, 94.6, false, " %"},
    {"CMI e-commerce transactions 2011", "670 000", "CMI/2011/activity=ecommerce", "count", 1000,
     false, 0, 670, false, " k"},
    {"CMI e-commerce transactions 2012", "1.2 million", "CMI/2012/activity=ecommerce", "count", 1e6,
     false, 1, 1.2, false, " M"},
    {"Moroccan cards abroad, operations growth", "+43.4 %", S_CMI_ABRD, "yoy_count_pct", 1, false,
     1, 43.4, false, " %"},
    {"Moroccan cards abroad, amount growth", "+28 %", S_CMI_ABRD, "yoy_amount_pct", 1, false, 0, 28,
     false, " %"},
    {"MTC amount growth", "about +45 %", S_MTC, "yoy_amount_pct", 1, false, 0, 45, false, " %"},
    {"MTC transactions growth", "more than +75 %", S_MTC, "yoy_count_pct", 1, false, 1, 75, true,
     " %"},
    {"MTC average basket 2012", "about 600 DH", S_MTC, "avg_ticket", 1, true, -2, 600, false,
     " DH"},
    {"MTC average basket change", "-18 %", S_MTC, "yoy_avg_ticket_pct", 1, false, 0, -18, false,
     " %"},
    {"Purchases abroad / domestic online", "9.30 (\"ten times\")", "$ratio/abroad_vs_domestic/2012",
     "value", 1, false, 2, 9.30, false, ""},
};

/*  Follows the '.'-separated PATH from MSG; returns the number or NULL. */
static json_t *s_lookup (json_t *msg, const char *path)
{
    char part[64];
    while (msg && *path) {
        size_t len = strcspn (path, ".");
        snprintf (part, sizeof part, "%.*s", (int) len, path);
        msg = json_object_get (msg, part);
        path += len + (path[len] == '.');
    }
    return json_is_number (msg) ? msg : NULL;
}

static double s_round (double value, int decimals)
{
    double scale = pow (10, decimals);
    return round (value * scale) / scale;
}

int ps_article_check (const ps_table_t *table, FILE *out)
{
    size_t n = sizeof s_figures / sizeof *s_figures;
    int width = 0;
    for (size_t i = 0; i < n; i++)
        if ((int) strlen (s_figures[i].label) > width)
            width = (int) strlen (s_figures[i].label);
    fprintf (out, "%-*s  %-20s  %-12s  %-14s  %s\n", width, "FIGURE", "ARTICLE", "PAYSTAT", "EXACT",
             "CHECK");
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const s_figure_t *f = &s_figures[i];
        json_t *msg = ps_table_get (table, f->topic);
        json_t *number = s_lookup (msg, f->field);
        char rounded[32] = "-", exact[32] = "-";
        const char *mark = "MISSING";
        if (number) {
            double v = json_number_value (number) / f->divisor;
            json_t *exp = json_object_get (msg, "exp");
            for (json_int_t e = f->major && json_is_integer (exp) ? json_integer_value (exp) : 0;
                 e > 0; e--)
                v /= 10;
            /* Growth figures carry their sign, as the article writes them. */
            const char *sign = strncmp (f->field, "yoy_", 4) == 0 && v >= 0 ? "+" : "";
            int exact_decimals = f->divisor > 1 ? 3 : *f->unit ? 2 : 4;
            double r = s_round (v, f->decimals);
            snprintf (rounded, sizeof rounded, "%s%.*f%s", sign, f->decimals > 0 ? f->decimals : 0,
                      r, f->unit);
            snprintf (exact, sizeof exact, "%s%.*f%s", sign, exact_decimals, v, f->unit);
            bool ok = f->more_than ? v > f->expected
                                   : fabs (r - f->expected) <
                                         0.5 * pow (10, -(f->decimals > 0 ? f->decimals : 0));
            mark = ok ? "match" : "DIFFERS";
        }
        if (strcmp (mark, "match") != 0)
            bad++;
        fprintf (out, "%-*s  %-20s  %-12s  %-14s  %s\n", width, f->label, f->article, rounded,
                 exact, mark);
    }
    fprintf (out, "%zu of %zu figures match the article\n", n - (size_t) bad, n);
    return bad;
}
