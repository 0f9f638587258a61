/* The status page's files, compiled into the binary (cmake/embed.cmake
 * makes them from controller/ui/). */
#ifndef KILN_CONTROLLER_UI_ASSETS_H
#define KILN_CONTROLLER_UI_ASSETS_H

#include <stddef.h>

struct kiln_ui_asset {
  const char *name;         /* "index.html", "kiln.js" */
  const char *content_type; /* with its charset */
  const unsigned char *bytes;
  size_t len;
};

extern const struct kiln_ui_asset kiln_ui_assets[];
extern const size_t kiln_ui_asset_count;

#endif
