/* `kiln whoami`: which profile, region, endpoints and credentials the
 * configuration resolves to, and who AWS says those credentials are
 * (STS GetCallerIdentity).
 */
#include "credentials_private.h"

#include "kiln/buf.h"
#include "kiln/error.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct whoami_req {
  struct kiln_aws_credentials_provider *ctx; /* loop, http, clock */
  struct kiln__sts_target sts;
  int sts_status;
  char sts_error[256];
  struct kiln_aws_whoami who;
  kiln_aws_whoami_cb *cb;
  void *data;
};

static void whoami_finish(struct whoami_req *r)
{
  r->cb(&r->who, r->data);
  kiln_aws_credentials_provider_unref(r->ctx);
  free(r);
}

static void on_identity(int status, struct kiln__sts_result *res,
                        const char *message, void *data)
{
  struct whoami_req *r = data;
  if (status == 0) {
    r->who.identity = res->identity;
  } else {
    r->who.status = status;
    snprintf(r->who.message, sizeof(r->who.message), "%s", message);
  }
  whoami_finish(r);
}

static void on_creds(int status, struct kiln_aws_credentials *creds,
                     const char *message, void *data)
{
  struct whoami_req *r = data;
  int err;

  if (status != 0) {
    r->who.status = status;
    snprintf(r->who.message, sizeof(r->who.message), "%s", message);
    whoami_finish(r);
    return;
  }
  snprintf(r->who.credentials, sizeof(r->who.credentials), "%s", creds->source);
  kiln_aws_credentials_describe(creds, r->who.access_key,
                                sizeof(r->who.access_key));
  r->who.expiration_ms = creds->expiration_ms;
  if (r->sts_status != 0) {
    r->who.status = r->sts_status;
    snprintf(r->who.message, sizeof(r->who.message), "%s", r->sts_error);
    whoami_finish(r);
    return;
  }
  err = kiln__sts_call(r->ctx, &r->sts, "GetCallerIdentity",
                       "Action=GetCallerIdentity&Version=2011-06-15", creds,
                       NULL, on_identity, r);
  if (err != 0) {
    r->who.status = err;
    snprintf(r->who.message, sizeof(r->who.message),
             "cannot call STS GetCallerIdentity: %s", kiln_strerror(err));
    whoami_finish(r);
  }
}

int kiln_aws_whoami(const struct kiln_aws_credentials_options *o,
                    struct kiln_aws_credentials_provider *provider,
                    kiln_aws_whoami_cb *cb, void *data)
{
  const struct kiln_aws_config *cfg;
  struct whoami_req *r;
  int err;

  if (o == NULL || o->loop == NULL || o->config == NULL || o->http == NULL ||
      provider == NULL || cb == NULL)
    return KILN_EINVAL;
  cfg = o->config;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return KILN_ENOMEM;
  if ((err = kiln__provider_context_new(o, &r->ctx)) != 0) {
    free(r);
    return err;
  }
  r->cb = cb;
  r->data = data;
  snprintf(r->who.profile, sizeof(r->who.profile), "%s",
           cfg->profile != NULL ? cfg->profile : "default");
  snprintf(r->who.region, sizeof(r->who.region), "%s",
           cfg->region != NULL ? cfg->region : "");
  snprintf(r->who.region_source, sizeof(r->who.region_source), "%s",
           cfg->region_source != NULL ? cfg->region_source : "");
  for (int s = 0; s < KILN_AWS_SERVICE_COUNT; s++)
    r->who.endpoint_status[s] =
        kiln_aws_endpoint_resolve(cfg, s, NULL, &r->who.endpoints[s]);
  r->sts_status =
      kiln__sts_target_init(&r->sts, cfg, r->sts_error, sizeof(r->sts_error));
  err = kiln_aws_credentials_get(provider, on_creds, r);
  if (err == KILN_ENOENT) {
    r->who.status = KILN_ECREDENTIALS;
    snprintf(r->who.message, sizeof(r->who.message),
             "no AWS credentials found");
    err = kiln__creds_defer(o->loop, on_creds, r, KILN_ECREDENTIALS, NULL,
                            "no AWS credentials found");
  }
  if (err != 0) {
    kiln_aws_credentials_provider_unref(r->ctx);
    free(r);
  }
  return err;
}

static void iso_time(int64_t ms, char *out, size_t size)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (gmtime_r(&t, &tm) == NULL ||
      strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(out, size, "?");
}

static int format_text(const struct kiln_aws_whoami *w, struct kiln_buf *out)
{
  char when[32];
  int err = 0;

  err |= kiln_buf_printf(out, "profile:      %s\n", w->profile);
  if (w->credentials[0] != '\0') {
    err |= kiln_buf_printf(out, "credentials:  %s\n", w->credentials);
    err |= kiln_buf_printf(out, "access key:   %s\n", w->access_key);
  }
  if (w->identity.arn[0] != '\0') {
    err |= kiln_buf_printf(out, "account:      %s\n", w->identity.account);
    err |= kiln_buf_printf(out, "arn:          %s\n", w->identity.arn);
    err |= kiln_buf_printf(out, "user id:      %s\n", w->identity.user_id);
  }
  if (w->expiration_ms != 0) {
    iso_time(w->expiration_ms, when, sizeof(when));
    err |= kiln_buf_printf(out, "expires:      %s\n", when);
  }
  if (w->region[0] != '\0')
    err |= kiln_buf_printf(out, "region:       %s (from %s)\n", w->region,
                           w->region_source);
  else
    err |= kiln_buf_printf(out, "region:       (none: set AWS_REGION)\n");
  err |= kiln_buf_printf(out, "endpoints:\n");
  for (int s = 0; s < KILN_AWS_SERVICE_COUNT; s++) {
    const struct kiln_aws_endpoint *e = &w->endpoints[s];
    if (w->endpoint_status[s] != 0) {
      err |= kiln_buf_printf(out, "  %-13s (unresolved: %s)\n",
                             kiln_aws_service_info(s)->prefix,
                             kiln_strerror(w->endpoint_status[s]));
      continue;
    }
    err |= kiln_buf_printf(out, "  %-13s %s (signing %s/%s, %s)\n",
                           kiln_aws_service_info(s)->prefix, e->url,
                           e->signing_name, e->signing_region,
                           kiln_aws_endpoint_source_name(e->source, s));
  }
  if (w->status != 0)
    err |= kiln_buf_printf(out, "error:        %s\n", w->message);
  return err != 0 ? KILN_ENOMEM : 0;
}

static void add_str(json_object *o, const char *key, const char *v)
{
  json_object_object_add(
      o, key, v != NULL && v[0] != '\0' ? json_object_new_string(v) : NULL);
}

static int format_json(const struct kiln_aws_whoami *w, struct kiln_buf *out)
{
  json_object *root = json_object_new_object(), *eps, *e;
  char when[32] = "";
  int err;

  if (root == NULL)
    return KILN_ENOMEM;
  add_str(root, "profile", w->profile);
  add_str(root, "region", w->region);
  add_str(root, "region_source", w->region_source);
  add_str(root, "credentials", w->credentials);
  add_str(root, "access_key", w->access_key);
  if (w->expiration_ms != 0)
    iso_time(w->expiration_ms, when, sizeof(when));
  add_str(root, "expiration", when);
  add_str(root, "account", w->identity.account);
  add_str(root, "arn", w->identity.arn);
  add_str(root, "user_id", w->identity.user_id);
  eps = json_object_new_object();
  for (int s = 0; eps != NULL && s < KILN_AWS_SERVICE_COUNT; s++) {
    const struct kiln_aws_endpoint *ep = &w->endpoints[s];
    if (w->endpoint_status[s] != 0) {
      json_object_object_add(eps, kiln_aws_service_info(s)->prefix, NULL);
      continue;
    }
    e = json_object_new_object();
    if (e == NULL)
      break;
    add_str(e, "url", ep->url);
    add_str(e, "signing_name", ep->signing_name);
    add_str(e, "signing_region", ep->signing_region);
    add_str(e, "source", kiln_aws_endpoint_source_name(ep->source, s));
    json_object_object_add(eps, kiln_aws_service_info(s)->prefix, e);
  }
  json_object_object_add(root, "endpoints", eps);
  add_str(root, "error", w->status != 0 ? w->message : NULL);
  err = kiln_buf_puts(
      out, json_object_to_json_string_ext(
               root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(root);
  return err;
}

int kiln_aws_whoami_format(const struct kiln_aws_whoami *who, int json,
                           struct kiln_buf *out)
{
  if (who == NULL || out == NULL)
    return KILN_EINVAL;
  return json ? format_json(who, out) : format_text(who, out);
}
