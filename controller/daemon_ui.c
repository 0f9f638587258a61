/* The status page on `kiln run --listen`: GET / (the fleet), GET
 * /app/NAME (one app) and GET /ui/FILE (its stylesheet and script), all
 * compiled into the binary (controller/ui/, cmake/embed.cmake). The page
 * reads the JSON API (/api/v1/apps, /api/v1/history) and writes every value
 * as text; the headers forbid anything but the page's own script and
 * stylesheet (Content-Security-Policy), sniffing and framing. Revalidated
 * on each load (ETag), so an upgraded Kiln never serves a stale script. */
#include "daemon_internal.h"
#include "ui_assets.h"

#include "kiln/http_server.h"

#include <stdio.h>
#include <string.h>

#define CSP                                                                    \
  "default-src 'none'; script-src 'self'; style-src 'self'; "                 \
  "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; " \
  "frame-ancestors 'none'"

static const struct kiln_ui_asset *asset(const char *name)
{
  for (size_t i = 0; i < kiln_ui_asset_count; i++)
    if (strcmp(kiln_ui_assets[i].name, name) == 0)
      return &kiln_ui_assets[i];
  return NULL;
}

/* A strong validator: the version and the bytes' FNV-1a hash. */
static void etag(const struct kiln_ui_asset *a, char out[64])
{
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < a->len; i++)
    h = (h ^ a->bytes[i]) * 1099511628211ULL;
  snprintf(out, 64, "\"%s-%016llx\"", KILN_VERSION, (unsigned long long)h);
}

static void serve(struct kiln_http_server_request *req,
                  struct kiln_http_responder *res,
                  const struct kiln_ui_asset *a)
{
  char tag[64];
  const char *match = kiln_http_server_request_header(req, "If-None-Match");
  struct kiln_http_server_header h[] = {
      {"Content-Security-Policy", CSP},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", "no-cache"},
      {"ETag", tag},
  };
  if (a == NULL) {
    kiln_http_server_respond_error(res, 404, "no such file");
    return;
  }
  etag(a, tag);
  if (match != NULL && strcmp(match, tag) == 0) {
    kiln_http_server_respond(res, &(struct kiln_http_server_response){
                                      .status = 304,
                                      .headers = h,
                                      .header_count = 6});
    return;
  }
  kiln_http_server_respond(res, &(struct kiln_http_server_response){
                                    .status = 200,
                                    .content_type = a->content_type,
                                    .headers = h,
                                    .header_count = 6,
                                    .body = a->bytes,
                                    .body_len = a->len});
}

void kiln__daemon_ui_page(struct kiln__daemon *d,
                          struct kiln_http_server_request *req,
                          struct kiln_http_responder *res)
{
  (void)d;
  serve(req, res, asset("index.html"));
}

void kiln__daemon_ui_file(struct kiln__daemon *d,
                          struct kiln_http_server_request *req,
                          struct kiln_http_responder *res)
{
  const char *name = req->path + strlen("/ui/");
  (void)d;
  /* Only the page's own files, by their exact names: no paths. */
  serve(req, res,
        strcmp(name, "index.html") != 0 && strchr(name, '/') == NULL
            ? asset(name)
            : NULL);
}
