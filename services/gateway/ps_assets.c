/*  ps_assets: lookup in the generated table; see ps_assets.h. */

#include "ps_assets.h"

#include <string.h>

const ps_asset_t *ps_asset_find (const char *path)
{
    for (const ps_asset_t *asset = ps_assets; asset->path; asset++)
        if (strcmp (asset->path, path) == 0)
            return asset;
    return NULL;
}
