/* The shared-file profile: static keys, role_arn with source_profile or
 * credential_source (STS AssumeRole), or role_arn with
 * web_identity_token_file.
 *
 * The profile is turned into a tree of providers when the provider is
 * made, so the configuration need not outlive it. A problem in the
 * profile (a loop, a missing source profile) becomes the provider's
 * answer, so the chain reports it in its turn instead of skipping it.
 *
 * As in the SDKs: in the profile asked for, role_arn wins over static
 * keys; in a source profile, static keys win (which is what lets a
 * profile name itself as source_profile).
 */
#include "credentials_private.h"

#include "kiln/error.h"
#include "kiln/num.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

struct profile_provider {
  struct kiln_aws_credentials_provider base;
  struct kiln_aws_credentials_provider *inner; /* NULL: none or error */
  int status;                                  /* set with message */
  char message[700];
};

static int profile_get(struct kiln_aws_credentials_provider *base,
                       kiln_aws_credentials_cb *cb, void *data)
{
  struct profile_provider *p =
      container_of(base, struct profile_provider, base);
  if (p->status != 0)
    return kiln__creds_defer(base->loop, cb, data, p->status, NULL, p->message);
  if (p->inner == NULL)
    return KILN_ENOENT;
  return kiln_aws_credentials_get(p->inner, cb, data);
}

static void profile_destroy(struct kiln_aws_credentials_provider *base)
{
  struct profile_provider *p =
      container_of(base, struct profile_provider, base);
  kiln_aws_credentials_provider_unref(p->inner);
  free(p);
}

static const struct kiln__provider_vtable profile_vt = {"profile", profile_get,
                                                        profile_destroy};

struct builder {
  const struct kiln_aws_credentials_options *o;
  const struct kiln_aws_config *cfg;
  const char *visited[MAX_DEPTH];
  size_t depth;
  char *msg;
  size_t msg_size;
};

static const char *get(struct builder *b, const char *profile, const char *key)
{
  const char *v = kiln_aws_config_profile_get(b->cfg, profile, key);
  return v != NULL && v[0] != '\0' ? v : NULL;
}

static int fail(struct builder *b, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct builder *b, int status, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->msg, b->msg_size, fmt, ap);
  va_end(ap);
  return status;
}

static void loop_path(struct builder *b, const char *last, char *out,
                      size_t size)
{
  size_t n = 0;
  out[0] = '\0';
  for (size_t i = 0; i < b->depth && n < size; i++)
    n += (size_t)snprintf(out + n, size - n, "%s -> ", b->visited[i]);
  if (n < size)
    snprintf(out + n, size - n, "%s", last);
}

static int build(struct builder *b, const char *name, int is_source,
                 struct kiln_aws_credentials_provider **out);

static int build_static(struct builder *b, const char *name,
                        struct kiln_aws_credentials_provider **out)
{
  char source[KILN_AWS_SOURCE_MAX];
  snprintf(source, sizeof(source), "profile %s", name);
  return kiln_aws_credentials_provider_new_static(
      b->o, get(b, name, "aws_access_key_id"),
      get(b, name, "aws_secret_access_key"), get(b, name, "aws_session_token"),
      source, out);
}

static int build_role_source(struct builder *b, const char *name,
                             struct kiln_aws_credentials_provider **out)
{
  const char *sp = get(b, name, "source_profile");
  const char *cs = get(b, name, "credential_source");
  char path[400];
  int err;

  if (sp != NULL && cs != NULL)
    return fail(b, KILN_EINVAL,
                "profile %s sets both source_profile and credential_source: "
                "keep one",
                name);
  if (cs != NULL) {
    if (strcmp(cs, "Environment") == 0)
      return kiln_aws_credentials_provider_new_env(b->o, out);
    if (strcmp(cs, "Ec2InstanceMetadata") == 0)
      return kiln_aws_credentials_provider_new_imds(b->o, out);
    if (strcmp(cs, "EcsContainer") == 0)
      return kiln_aws_credentials_provider_new_container(b->o, out);
    return fail(b, KILN_EINVAL,
                "profile %s: credential_source = %s is not one of "
                "Environment, Ec2InstanceMetadata, EcsContainer",
                name, cs);
  }
  if (sp == NULL)
    return fail(b, KILN_EINVAL,
                "profile %s sets role_arn without source_profile, "
                "credential_source or web_identity_token_file: add one",
                name);
  if (strcmp(sp, name) == 0) {
    /* A profile may be its own source when it has static keys. */
    if (get(b, name, "aws_access_key_id") != NULL &&
        get(b, name, "aws_secret_access_key") != NULL)
      return build_static(b, name, out);
  }
  for (size_t i = 0; i < b->depth; i++) {
    if (strcmp(b->visited[i], sp) == 0 || strcmp(sp, name) == 0) {
      loop_path(b, sp, path, sizeof(path));
      return fail(b, KILN_EINVAL,
                  "source_profile loop: %s: break the cycle in the shared "
                  "config file",
                  path);
    }
  }
  if (!kiln_aws_config_profile_exists(b->cfg, sp))
    return fail(b, KILN_EINVAL,
                "profile %s: source_profile %s does not exist in %s or %s",
                name, sp, b->cfg->config_path ? b->cfg->config_path : "-",
                b->cfg->credentials_path ? b->cfg->credentials_path : "-");
  err = build(b, sp, 1, out);
  if (err == KILN_ENOENT)
    return fail(b, KILN_ECREDENTIALS,
                "profile %s: source_profile %s has no credentials (no keys, "
                "no role_arn)",
                name, sp);
  return err;
}

static int build(struct builder *b, const char *name, int is_source,
                 struct kiln_aws_credentials_provider **out)
{
  struct kiln_aws_credentials_provider *source = NULL;
  const char *akid = get(b, name, "aws_access_key_id");
  const char *secret = get(b, name, "aws_secret_access_key");
  const char *role = get(b, name, "role_arn");
  const char *wif = get(b, name, "web_identity_token_file");
  const char *dur;
  long duration = 0;
  int err;

  if (b->depth >= MAX_DEPTH)
    return fail(b, KILN_EINVAL, "profile %s: source_profile chain too long",
                name);
  if (akid != NULL && secret == NULL)
    return fail(b, KILN_EINVAL,
                "profile %s has aws_access_key_id but no "
                "aws_secret_access_key",
                name);
  if (akid == NULL && secret != NULL)
    return fail(b, KILN_EINVAL,
                "profile %s has aws_secret_access_key but no "
                "aws_access_key_id",
                name);
  if (is_source && akid != NULL)
    return build_static(b, name, out);

  if (role != NULL) {
    b->visited[b->depth++] = name;
    if (wif != NULL) {
      err = kiln_aws_credentials_provider_new_web_identity(
          b->o, wif, role, get(b, name, "role_session_name"), out);
      b->depth--;
      return err;
    }
    dur = get(b, name, "duration_seconds");
    if (dur != NULL) {
      int64_t d;
      if (kiln_num_parse_i64(dur, 900, 43200, &d) != 0) {
        b->depth--;
        return fail(b, KILN_EINVAL,
                    "profile %s: duration_seconds = %s: use 900 to 43200", name,
                    dur);
      }
      duration = (long)d;
    }
    err = build_role_source(b, name, &source);
    b->depth--;
    if (err != 0)
      return err;
    err = kiln_aws_credentials_provider_new_assume_role(
        b->o, source, role, get(b, name, "role_session_name"),
        get(b, name, "external_id"), (int)duration, out);
    kiln_aws_credentials_provider_unref(source);
    return err;
  }
  if (akid != NULL)
    return build_static(b, name, out);
  if (get(b, name, "credential_process") != NULL ||
      get(b, name, "sso_session") != NULL ||
      get(b, name, "sso_start_url") != NULL)
    return fail(b, KILN_EUNSUPPORTED,
                "profile %s uses credential_process or SSO, which Kiln does "
                "not support: use keys, role_arn, or run `aws configure "
                "export-credentials` into the environment",
                name);
  return KILN_ENOENT;
}

int kiln_aws_credentials_provider_new_profile(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider **out)
{
  struct profile_provider *p;
  struct builder b;
  const struct kiln_aws_config *cfg;
  int err;

  *out = NULL;
  if (o == NULL || o->loop == NULL || o->config == NULL)
    return KILN_EINVAL;
  cfg = o->config;
  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return KILN_ENOMEM;
  kiln__provider_init(&p->base, &profile_vt, o);
  memset(&b, 0, sizeof(b));
  b.o = o;
  b.cfg = cfg;
  b.msg = p->message;
  b.msg_size = sizeof(p->message);

  if (cfg->profile == NULL ||
      !kiln_aws_config_profile_exists(cfg, cfg->profile)) {
    if (cfg->profile_explicit) {
      p->status = KILN_ECREDENTIALS;
      snprintf(p->message, sizeof(p->message),
               "profile %s (AWS_PROFILE) is not in %s or %s: check the name "
               "or the file paths",
               cfg->profile, cfg->config_path ? cfg->config_path : "-",
               cfg->credentials_path ? cfg->credentials_path : "-");
    }
  } else {
    err = build(&b, cfg->profile, 0, &p->inner);
    if (err == KILN_ENOMEM) {
      profile_destroy(&p->base);
      return err;
    }
    if (err != 0 && err != KILN_ENOENT)
      p->status = err;
  }
  *out = &p->base;
  return 0;
}
