#include "daemon_internal.h"
#include "log.h"
#include "metrics.h"

#include "kiln/arena.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/history.h"
#include "kiln/history_json.h"
#include "kiln/json_text.h"
#include "kiln/http_server.h"
#include "kiln/report.h"
#include "kiln/webhook.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void serve_app(struct kiln__daemon *d, const char *name,
                      struct kiln_http_responder *res)
{
  const struct kiln_plan *p = kiln_status_find(&d->status, name);
  json_object *o;

  if (p == NULL) {
    kiln_http_server_respond_error(res, 404, "no such app");
    return;
  }
  o = kiln_report_plan_json(p, time(NULL));
  kiln_http_server_respond_json(res, 200, o);
  json_object_put(o);
}

static void serve_apps(struct kiln__daemon *d, bool drifting_only,
                       struct kiln_http_responder *res)
{
  json_object *out;

  if (d->stats.passes == 0) {
    kiln_http_server_respond_error(res, 503, "no pass has run yet");
    return;
  }
  out = kiln_status_json(&d->status, drifting_only);
  kiln_http_server_respond_json(res, 200, out);
  json_object_put(out);
}

/* GET /api/v1/history[?app=NAME][&limit=N]: the newest releases first. */
#define HISTORY_DEFAULT_LIMIT 200
#define HISTORY_MAX_LIMIT     1000

static void serve_history(struct kiln__daemon *d, const char *query,
                          struct kiln_http_responder *res)
{
  struct kiln_arena a;
  struct kiln_history_release *rel = NULL;
  size_t n = 0;
  char app[128] = "", limit_s[16] = "";
  long limit = HISTORY_DEFAULT_LIMIT;
  char *end;
  json_object *out, *list;

  if (d->history_reader == NULL) {
    kiln_http_server_respond_error(res, 503, "history is not recorded");
    return;
  }
  if (kiln_http_query_param(query, "app", app, sizeof(app)) < 0) {
    kiln_http_server_respond_error(res, 400, "app: not an app name");
    return;
  }
  if (kiln_http_query_param(query, "limit", limit_s, sizeof(limit_s)) != 0 &&
      (limit_s[0] < '0' || limit_s[0] > '9' ||
       (limit = strtol(limit_s, &end, 10)) < 1 || limit > HISTORY_MAX_LIMIT ||
       *end != '\0')) {
    kiln_http_server_respond_error(
        res, 400, "limit: a number of releases from 1 to 1000");
    return;
  }
  kiln_arena_init(&a, 0);
  if (kiln_history_releases(d->history_reader, app[0] != '\0' ? app : NULL,
                            (size_t)limit, &a, &rel, &n) != 0) {
    kiln_http_server_respond_error(res, 500,
                                   kiln_history_errmsg(d->history_reader));
    kiln_arena_cleanup(&a);
    return;
  }
  list = kiln_history_releases_json(rel, n);
  if (list == NULL) {
    kiln_http_server_respond_error(res, 500, "out of memory");
    kiln_arena_cleanup(&a);
    return;
  }
  out = json_object_new_object();
  json_object_object_add(out, "releases", list);
  /* With an app: its drift over time too (a row per change, "cleared"
   * when a field stopped drifting), for the status page. */
  if (app[0] != '\0') {
    struct kiln_history_drift_row *rows = NULL;
    size_t nr = 0;
    json_object *drift = json_object_new_array();
    if (kiln_history_drift_list(d->history_reader, app, (size_t)limit, &a,
                                &rows, &nr) == 0)
      for (size_t i = 0; i < nr; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "observed_at_ms",
                               json_object_new_int64(rows[i].observed_at_ms));
        json_object_object_add(o, "commit", kiln_json_string(rows[i].commit));
        json_object_object_add(o, "field", kiln_json_string(rows[i].field));
        json_object_object_add(o, "desired", kiln_json_string(rows[i].desired));
        json_object_object_add(o, "actual", kiln_json_string(rows[i].actual));
        json_object_object_add(o, "cause", kiln_json_string(rows[i].cause));
        json_object_array_add(drift, o);
      }
    json_object_object_add(out, "drift", drift);
  }
  kiln_http_server_respond_json(res, 200, out);
  json_object_put(out);
  kiln_arena_cleanup(&a);
}

/* ---- refusals: all counted, logged within limits ---- */

/* Per client address and kind, the first few lines of each 10 s window,
 * and at most 50 lines in all; then one summary per (kind, address). */
#define LOG_LIMIT_WINDOW_MS 10000
#define LOG_LIMIT_BURST     5
#define LOG_LIMIT_MAX_LINES 50

const char *kiln__reject_kind_name(int kind)
{
  if (kind == KILN__REJECT_BAD_SIGNATURE)
    return "bad_signature";
  return kiln_http_server_reject_name((enum kiln_http_server_reject)kind);
}

static void on_log_summary(const char *kind, const char *peer,
                           uint64_t suppressed, uint64_t window_ms, void *data)
{
  struct kiln__daemon *d = data;
  kiln_log("warn", NULL, d->s.commit,
           "http: ... and %llu more refusals (%s) from %s in the last %llu s",
           (unsigned long long)suppressed, kind, peer,
           (unsigned long long)(window_ms / 1000));
}

/* Counts a refusal of kind from client (an address, no port) and logs
 * it unless the limit says it has been said enough. */
static void log_refusal(struct kiln__daemon *d, int kind, const char *level,
                        const char *client, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void log_refusal(struct kiln__daemon *d, int kind, const char *level,
                        const char *client, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  d->rejected[kind]++;
  if (!kiln_log_limit_take(&d->log_limit, kiln__reject_kind_name(kind), client,
                           uv_now(&d->s.loop), on_log_summary, d)) {
    d->log_suppressed[kind]++;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  kiln_log(level, NULL, d->s.commit, "%s", msg);
}

static void on_http_reject(enum kiln_http_server_reject reason, int status,
                           const char *client, const char *why, void *data)
{
  struct kiln__daemon *d = data;
  bool bad = reason != KILN_HTTP_SERVER_REJECT_EVICTED &&
             reason != KILN_HTTP_SERVER_REJECT_TIMEOUT;

  log_refusal(d, (int)reason, bad ? "warn" : "info", client,
              "http: refused %s (%s): %d %s", client,
              kiln_http_server_reject_name(reason), status, why);
}

static void on_log_limit_timer(uv_timer_t *t)
{
  struct kiln__daemon *d = t->data;
  kiln_log_limit_flush(&d->log_limit, uv_now(&d->s.loop), false, on_log_summary,
                       d);
}

/* "1.2.3.4:5" or "[::1]:5" without the port. */
static void client_addr(const char *peer, char *out, size_t size)
{
  const char *colon = strrchr(peer, ':');
  size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);

  if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
    peer++;
    n -= 2;
  }
  snprintf(out, size, "%.*s", (int)n, peer);
}

/* A hook only ever triggers a fetch: its payload is never trusted. */
static void serve_hook(struct kiln__daemon *d, enum kiln_webhook_scheme scheme,
                       struct kiln_http_server_request *req,
                       struct kiln_http_responder *res)
{
  const char *value =
      kiln_http_server_request_header(req, kiln_webhook_header_name(scheme));
  int rc = req->sink != NULL ? kiln_webhook_verifier_finish(req->sink)
                             : kiln_webhook_verify(scheme, &d->secret, value,
                                                   req->body, req->body_len);
  if (rc != 0) {
    char client[64];
    client_addr(req->peer, client, sizeof(client));
    log_refusal(d, KILN__REJECT_BAD_SIGNATURE, "warn", client,
                "rejected a %s hook from %s: bad signature",
                kiln_webhook_header_name(scheme), req->peer);
    kiln_http_server_respond_error(res, 401, "signature missing or invalid");
    return;
  }
  json_object *ack = json_object_new_object();
  json_object_object_add(
      ack, "fetch",
      json_object_new_string(kiln_commit_source_busy(&d->source) ? "queued"
                                                                 : "started"));
  char why[96];
  snprintf(why, sizeof(why), "signed hook from %.64s", req->peer);
  kiln_commit_source_request(&d->source, why);
  kiln_http_server_respond_json(res, 202, ack);
  json_object_put(ack);
}

static void serve_healthz(struct kiln__daemon *d,
                          struct kiln_http_server_request *req,
                          struct kiln_http_responder *res)
{
  (void)d;
  (void)req;
  kiln_http_server_respond(res,
                           &(struct kiln_http_server_response){
                               .status = 200, .body = "ok\n", .body_len = 3});
}

static void serve_readyz(struct kiln__daemon *d,
                         struct kiln_http_server_request *req,
                         struct kiln_http_responder *res)
{
  (void)req;
  if (d->ready && d->source.failures == 0)
    kiln_http_server_respond(
        res, &(struct kiln_http_server_response){
                 .status = 200, .body = "ready\n", .body_len = 6});
  else
    kiln_http_server_respond_error(
        res, 503,
        !d->ready ? "not ready: no fetch and observation yet"
        : d->source.last_error[0] != '\0' ? d->source.last_error
                                          : "fetch failing");
}

static void serve_metrics(struct kiln__daemon *d,
                          struct kiln_http_server_request *req,
                          struct kiln_http_responder *res)
{
  struct kiln_buf b;

  (void)req;
  kiln_buf_init(&b, 0);
  kiln__metrics_render(d, &b);
  kiln_http_server_respond(
      res, &(struct kiln_http_server_response){
               .status = 200,
               .content_type = "text/plain; version=0.0.4; charset=utf-8",
               .body = b.data,
               .body_len = b.len});
  kiln_buf_cleanup(&b);
}

static json_object *last_pass_json(const struct kiln_pass_stats *p)
{
  json_object *o = json_object_new_object();
  json_object_object_add(o, "seconds", kiln_json_seconds(p->last_seconds));
  json_object_object_add(o, "cpu_seconds",
                         kiln_json_seconds(p->last_cpu_seconds));
  /* null until the pass's history record is written: its whole cost. */
  json_object_object_add(o, "process_cpu_seconds",
                         p->last_accounted
                             ? kiln_json_seconds(p->last_process_cpu_seconds)
                             : NULL);
  return o;
}

static json_object *statuses_json(const struct kiln_status *st)
{
  json_object *o = json_object_new_object();
  for (int s = 0; s < KILN_STATUS_COUNT; s++)
    if (st->by_status[s] > 0)
      json_object_object_add(o, kiln_plan_status_name((enum kiln_app_status)s),
                             json_object_new_int64((int64_t)st->by_status[s]));
  return o;
}

/* GET /api/v1/status: the daemon at a glance, in constant space whatever
 * the number of apps: what a script polls (has the pass after my commit
 * run? is anything failing?) instead of every app's report. */
static void serve_status(struct kiln__daemon *d,
                         struct kiln_http_server_request *req,
                         struct kiln_http_responder *res)
{
  json_object *o = json_object_new_object();

  (void)req;
  json_object_object_add(o, "commit", kiln_json_string(d->status.commit));
  json_object_object_add(o, "ready", json_object_new_boolean(d->ready));
  json_object_object_add(o, "passing", json_object_new_boolean(d->passing));
  json_object_object_add(o, "passes",
                         json_object_new_int64((int64_t)d->stats.passes));
  json_object_object_add(o, "pass_failures",
                         json_object_new_int64((int64_t)d->stats.failures));
  json_object_object_add(
      o, "last_pass", d->stats.passes > 0 ? last_pass_json(&d->stats) : NULL);
  json_object_object_add(o, "error", kiln_json_string(d->status.error));
  json_object_object_add(o, "apps",
                         json_object_new_int64((int64_t)d->status.n));
  json_object_object_add(o, "statuses", statuses_json(&d->status));
  json_object_object_add(
      o, "bakes_in_flight",
      json_object_new_int64((int64_t)d->status.bakes_in_flight));
  json_object_object_add(
      o, "refreshes_in_flight",
      json_object_new_int64((int64_t)d->status.refreshes_in_flight));
  kiln_http_server_respond_json(res, 200, o);
  json_object_put(o);
}

static void serve_apps_all(struct kiln__daemon *d,
                           struct kiln_http_server_request *req,
                           struct kiln_http_responder *res)
{
  (void)req;
  serve_apps(d, false, res);
}

static void serve_drift(struct kiln__daemon *d,
                        struct kiln_http_server_request *req,
                        struct kiln_http_responder *res)
{
  (void)req;
  serve_apps(d, true, res);
}

static void serve_app_named(struct kiln__daemon *d,
                            struct kiln_http_server_request *req,
                            struct kiln_http_responder *res)
{
  serve_app(d, req->path + strlen("/api/v1/apps/"), res);
}

static void serve_history_route(struct kiln__daemon *d,
                                struct kiln_http_server_request *req,
                                struct kiln_http_responder *res)
{
  serve_history(d, req->query, res);
}

static void serve_github(struct kiln__daemon *d,
                         struct kiln_http_server_request *req,
                         struct kiln_http_responder *res)
{
  serve_hook(d, KILN_WEBHOOK_GITHUB, req, res);
}

static void serve_gitlab(struct kiln__daemon *d,
                         struct kiln_http_server_request *req,
                         struct kiln_http_responder *res)
{
  serve_hook(d, KILN_WEBHOOK_GITLAB, req, res);
}

static void serve_generic(struct kiln__daemon *d,
                          struct kiln_http_server_request *req,
                          struct kiln_http_responder *res)
{
  serve_hook(d, KILN_WEBHOOK_GENERIC, req, res);
}

/* Every route: a path (or a path prefix, ending in '/'), the one method it
 * answers and its handler. GET routes answer HEAD too (the server sends
 * the head without the body); a known path asked with another method gets
 * 405 with Allow, an unknown path 404. */
struct route {
  const char *path;
  bool prefix;
  const char *method;
  void (*serve)(struct kiln__daemon *d, struct kiln_http_server_request *req,
                struct kiln_http_responder *res);
};

static const struct route routes[] = {
    {"/", false, "GET", kiln__daemon_ui_page},
    {"/app/", true, "GET", kiln__daemon_ui_page},
    {"/ui/", true, "GET", kiln__daemon_ui_file},
    {"/healthz", false, "GET", serve_healthz},
    {"/readyz", false, "GET", serve_readyz},
    {"/metrics", false, "GET", serve_metrics},
    {"/api/v1/status", false, "GET", serve_status},
    {"/api/v1/apps", false, "GET", serve_apps_all},
    {"/api/v1/apps/", true, "GET", serve_app_named},
    {"/api/v1/drift", false, "GET", serve_drift},
    {"/api/v1/history", false, "GET", serve_history_route},
    {"/hooks/github", false, "POST", serve_github},
    {"/hooks/gitlab", false, "POST", serve_gitlab},
    {"/hooks/generic", false, "POST", serve_generic},
};

static const struct route *find_route(const char *path)
{
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
    const struct route *r = &routes[i];
    if (r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0
                  : strcmp(path, r->path) == 0)
      return r;
  }
  return NULL;
}

static void on_request(struct kiln_http_server_request *req,
                       struct kiln_http_responder *res, void *data)
{
  struct kiln__daemon *d = data;
  const struct route *r = find_route(req->path);
  bool get = strcmp(r != NULL ? r->method : "", "GET") == 0;

  if (r == NULL) {
    kiln_http_server_respond_error(res, 404, "not found");
  } else if (strcmp(req->method, r->method) == 0 ||
             (get && strcmp(req->method, "HEAD") == 0)) {
    r->serve(d, req, res);
  } else {
    static const char body[] = "{\"error\":\"method not allowed\"}";
    struct kiln_http_server_header allow = {"Allow",
                                            get ? "GET, HEAD" : r->method};
    kiln_http_server_respond(res, &(struct kiln_http_server_response){
                                      .status = 405,
                                      .content_type = "application/json",
                                      .headers = &allow,
                                      .header_count = 1,
                                      .body = body,
                                      .body_len = sizeof(body) - 1});
  }
}

/* Hook bodies are not kept: they stream through the signature check as
 * they arrive (only the verdict matters; a hook is never trusted as state),
 * so stalled hooks hold a few hundred bytes each, not their bodies. */
static bool hook_scheme(const struct kiln_http_server_request *req,
                        enum kiln_webhook_scheme *scheme)
{
  static const struct {
    const char *path;
    enum kiln_webhook_scheme scheme;
  } hooks[] = {{"/hooks/github", KILN_WEBHOOK_GITHUB},
               {"/hooks/gitlab", KILN_WEBHOOK_GITLAB},
               {"/hooks/generic", KILN_WEBHOOK_GENERIC}};

  if (strcmp(req->method, "POST") != 0)
    return false;
  for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
    if (strcmp(req->path, hooks[i].path) == 0) {
      *scheme = hooks[i].scheme;
      return true;
    }
  return false;
}

static int hook_sink_open(const struct kiln_http_server_request *req,
                          void **sink, void *data)
{
  struct kiln__daemon *d = data;
  enum kiln_webhook_scheme scheme;

  *sink = NULL;
  if (!hook_scheme(req, &scheme))
    return 0;
  return kiln_webhook_verifier_new(
      scheme, &d->secret,
      kiln_http_server_request_header(req, kiln_webhook_header_name(scheme)),
      (struct kiln_webhook_verifier **)sink);
}

static void hook_sink_write(void *sink, const void *chunk, size_t len)
{
  kiln_webhook_verifier_update(sink, chunk, len);
}

static void hook_sink_free(void *sink)
{
  kiln_webhook_verifier_free(sink);
}

static const struct kiln_http_server_body_sink hook_sink = {
    .open = hook_sink_open, .write = hook_sink_write, .free = hook_sink_free};

static void on_http_log(enum kiln_http_server_log_level level, const char *msg,
                        void *data)
{
  static const char *const names[] = {"debug", "info", "warn", "error"};
  struct kiln__daemon *d = data;
  if (level >= KILN_HTTP_SERVER_LOG_WARN)
    kiln_log(names[level], NULL, d->s.commit, "http: %s", msg);
}

int kiln__daemon_http_start(struct kiln__daemon *d)
{
  int err = kiln_http_server_start(
      &d->s.loop,
      &(struct kiln_http_server_options){.listen = d->opts.listen,
                                         .handler = on_request,
                                         .handler_data = d,
                                         .log = on_http_log,
                                         .log_data = d,
                                         .reject = on_http_reject,
                                         .body_sink = &hook_sink},
      &d->http);
  if (err != 0) {
    fprintf(stderr, "kiln run: cannot listen on %s: %s\n", d->opts.listen,
            kiln_strerror(err));
    d->http = NULL;
    return err;
  }
  kiln_log_limit_init(&d->log_limit, LOG_LIMIT_WINDOW_MS, LOG_LIMIT_BURST,
                      LOG_LIMIT_MAX_LINES);
  uv_timer_init(&d->s.loop, &d->log_limit_timer);
  d->log_limit_timer.data = d;
  uv_timer_start(&d->log_limit_timer, on_log_limit_timer, LOG_LIMIT_WINDOW_MS,
                 LOG_LIMIT_WINDOW_MS);
  kiln_log("info", NULL, NULL, "listening on %s (port %d)", d->opts.listen,
           kiln_http_server_port(d->http));
  return 0;
}

void kiln__daemon_http_stop(struct kiln__daemon *d)
{
  if (d->http != NULL) {
    kiln_http_server_close(d->http, NULL, NULL);
    kiln_log_limit_flush(&d->log_limit, uv_now(&d->s.loop), true,
                         on_log_summary, d);
    uv_close((uv_handle_t *)&d->log_limit_timer, NULL);
  }
  d->http = NULL;
}
