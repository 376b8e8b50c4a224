/*  ps_assets: the dashboard's files (services/gateway/web/), built into
    the binary so that the gateway serves them without files on disk or
    any network: embed.cmake turns each one into a C array at build time. */

#ifndef PS_ASSETS_H_INCLUDED
#define PS_ASSETS_H_INCLUDED

#include <stddef.h>

typedef struct {
    const char *path;         /* "/index.html" */
    const char *content_type; /* from the file name's extension */
    const unsigned char *data;
    size_t len;
} ps_asset_t;

/*  Every asset, sorted by path, ended by one whose path is NULL
    (generated: ps_assets_data.c in the build tree). */
extern const ps_asset_t ps_assets[];

/*  Returns the asset served at PATH ("/app.js"), or NULL. */
const ps_asset_t *ps_asset_find (const char *path);

#endif
