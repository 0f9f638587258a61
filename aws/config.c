/* Configuration resolution (see kiln/aws_config.h): environment first,
 * then the profile, then defaults. Every string the result keeps is a
 * private copy, wiped on cleanup because some of them are secrets.
 */
#include "kiln/aws_config.h"
#include "kiln/aws_endpoint.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/file.h"
#include "kiln/num.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct kiln_aws_config_str {
  struct kiln_aws_config_str *next;
  size_t len;
  char s[];
};

const char *kiln_aws_config_real_getenv(void *arg, const char *name)
{
  return getenv(name);
}

int kiln_aws_config_real_read_file(void *arg, const char *path,
                                   struct kiln_buf *out)
{
  (void)arg;
  return kiln_file_read(path, out, NULL);
}

static void set_error(struct kiln_aws_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct kiln_aws_config *cfg, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cfg->error_, sizeof(cfg->error_), fmt, ap);
  va_end(ap);
}

static const char *keep(struct kiln_aws_config *cfg, const char *s)
{
  struct kiln_aws_config_str *n;
  size_t len;

  if (s == NULL)
    return NULL;
  len = strlen(s);
  n = malloc(sizeof(*n) + len + 1);
  if (n == NULL)
    return NULL;
  n->len = len;
  memcpy(n->s, s, len + 1);
  n->next = cfg->strings_;
  cfg->strings_ = n;
  return n->s;
}

/* An environment variable, NULL when unset or empty (the SDKs treat an
 * empty variable as unset). */
static const char *env(const struct kiln_aws_config_options *o,
                       const char *name)
{
  const char *v = o->getenv(o->getenv_arg, name);
  return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Copies an optional string; sets *err on allocation failure. */
static const char *keep_opt(struct kiln_aws_config *cfg, const char *s,
                            int *err)
{
  const char *c;
  if (s == NULL)
    return NULL;
  c = keep(cfg, s);
  if (c == NULL)
    *err = KILN_ENOMEM;
  return c;
}

static int ieq(const char *a, const char *b)
{
  return strcasecmp(a, b) == 0;
}

/* Expands a leading "~/" with HOME. */
static const char *expand_home(struct kiln_aws_config *cfg,
                               const struct kiln_aws_config_options *o,
                               const char *path, int *err)
{
  const char *home;
  char buf[PATH_MAX];
  int n;

  if (path == NULL)
    return NULL;
  if (path[0] != '~' || (path[1] != '/' && path[1] != '\0'))
    return keep_opt(cfg, path, err);
  home = env(o, "HOME");
  if (home == NULL)
    return NULL; /* no home: the default files do not exist */
  n = snprintf(buf, sizeof(buf), "%s%s", home, path + 1);
  if (n < 0 || (size_t)n >= sizeof(buf)) {
    *err = KILN_EINVAL;
    return NULL;
  }
  return keep_opt(cfg, buf, err);
}

static int load_file(struct kiln_aws_config *cfg,
                     const struct kiln_aws_config_options *o, const char *path,
                     enum kiln_aws_ini_kind kind, struct kiln_aws_ini *ini)
{
  struct kiln_buf b;
  unsigned line = 0;
  int err;

  if (path == NULL)
    return 0;
  kiln_buf_init_secret(&b, KILN_AWS_CONFIG_MAX_FILE_BYTES);
  err = o->read_file(o->read_file_arg, path, &b);
  if (err == KILN_ENOENT) {
    err = 0;
    goto done;
  }
  if (err == KILN_ETOOBIG) {
    set_error(cfg, "%s: larger than %u bytes, the limit for a shared AWS file",
              path, (unsigned)KILN_AWS_CONFIG_MAX_FILE_BYTES);
    goto done;
  }
  if (err != 0) {
    set_error(cfg, "%s: cannot read: %s", path, kiln_strerror(err));
    goto done;
  }
  err =
      kiln_aws_ini_parse(ini, kind, b.data != NULL ? b.data : "", b.len, &line);
  if (err == KILN_EPARSE)
    set_error(cfg,
              "%s:%u: malformed line (expected [section], key = value, or a "
              "comment)",
              path, line);
  else if (err != 0)
    set_error(cfg, "%s: %s", path, kiln_strerror(err));
done:
  kiln_buf_cleanup_secret(&b);
  return err;
}

const char *kiln_aws_config_profile_get(const struct kiln_aws_config *cfg,
                                        const char *profile, const char *key)
{
  const char *v = kiln_aws_ini_get(&cfg->credentials_file,
                                   KILN_AWS_SECTION_PROFILE, profile, key);
  if (v == NULL)
    v = kiln_aws_ini_get(&cfg->config_file, KILN_AWS_SECTION_PROFILE, profile,
                         key);
  return v;
}

int kiln_aws_config_profile_exists(const struct kiln_aws_config *cfg,
                                   const char *profile)
{
  return kiln_aws_ini_has(&cfg->credentials_file, KILN_AWS_SECTION_PROFILE,
                          profile) ||
         kiln_aws_ini_has(&cfg->config_file, KILN_AWS_SECTION_PROFILE, profile);
}

/* Environment first, then the profile's key. */
static const char *setting(const struct kiln_aws_config *cfg,
                           const struct kiln_aws_config_options *o,
                           const char *var, const char *key)
{
  const char *v = var != NULL ? env(o, var) : NULL;
  if (v == NULL && key != NULL) {
    v = kiln_aws_config_profile_get(cfg, cfg->profile, key);
    if (v != NULL && v[0] == '\0')
      v = NULL;
  }
  return v;
}

static int parse_bool(const char *v)
{
  return v != NULL && ieq(v, "true");
}

static int resolve_retry(struct kiln_aws_config *cfg,
                         const struct kiln_aws_config_options *o)
{
  const char *v = setting(cfg, o, "AWS_MAX_ATTEMPTS", "max_attempts");
  int64_t n;

  cfg->max_attempts = KILN_AWS_DEFAULT_MAX_ATTEMPTS;
  if (v != NULL) {
    if (kiln_num_parse_i64(v, 1, 100, &n) != 0) {
      set_error(cfg,
                "max_attempts (AWS_MAX_ATTEMPTS or profile %s) is \"%s\": "
                "use a whole number from 1 to 100",
                cfg->profile, v);
      return KILN_EINVAL;
    }
    cfg->max_attempts = (int)n;
  }
  v = setting(cfg, o, "AWS_RETRY_MODE", "retry_mode");
  cfg->retry_mode = KILN_AWS_RETRY_STANDARD;
  if (v != NULL) {
    if (ieq(v, "standard"))
      cfg->retry_mode = KILN_AWS_RETRY_STANDARD;
    else if (ieq(v, "legacy"))
      cfg->retry_mode = KILN_AWS_RETRY_LEGACY;
    else if (ieq(v, "adaptive"))
      cfg->retry_mode = KILN_AWS_RETRY_ADAPTIVE;
    else {
      set_error(cfg,
                "retry_mode (AWS_RETRY_MODE or profile %s) is \"%s\": use "
                "standard, legacy or adaptive",
                cfg->profile, v);
      return KILN_EINVAL;
    }
  }
  return 0;
}

static int resolve_endpoints(struct kiln_aws_config *cfg,
                             const struct kiln_aws_config_options *o)
{
  const char *v;
  char var[64];
  int err = 0;

  v = setting(cfg, o, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
              "ignore_configured_endpoint_urls");
  cfg->ignore_configured_endpoint_urls = parse_bool(v);
  cfg->endpoint_url_env = keep_opt(cfg, env(o, "AWS_ENDPOINT_URL"), &err);
  cfg->endpoint_url_profile =
      keep_opt(cfg, setting(cfg, o, NULL, "endpoint_url"), &err);
  cfg->services_section =
      keep_opt(cfg, setting(cfg, o, NULL, "services"), &err);
  if (err != 0)
    return err;
  if (cfg->services_section != NULL &&
      !kiln_aws_ini_has(&cfg->config_file, KILN_AWS_SECTION_SERVICES,
                        cfg->services_section)) {
    set_error(cfg,
              "%s: profile %s names services section \"%s\", which does "
              "not exist: add [services %s] or remove the services key",
              cfg->config_path != NULL ? cfg->config_path : "config",
              cfg->profile, cfg->services_section, cfg->services_section);
    return KILN_EINVAL;
  }
  for (int s = 0; s < KILN_AWS_SERVICE_COUNT; s++) {
    const struct kiln_aws_service_info *info = kiln_aws_service_info(s);
    const char *sv;

    snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", info->env_suffix);
    cfg->endpoint_url_service_env[s] = keep_opt(cfg, env(o, var), &err);
    sv = kiln_aws_ini_get_sub(&cfg->config_file, KILN_AWS_SECTION_SERVICES,
                              cfg->services_section, info->config_key,
                              "endpoint_url");
    if (sv != NULL && sv[0] != '\0')
      cfg->endpoint_url_service_profile[s] = keep_opt(cfg, sv, &err);
  }
  return err;
}

static int resolve_imds(struct kiln_aws_config *cfg,
                        const struct kiln_aws_config_options *o)
{
  const char *v, *mode;
  int err = 0;

  cfg->imds_disabled = parse_bool(env(o, "AWS_EC2_METADATA_DISABLED"));
  v = setting(cfg, o, "AWS_EC2_METADATA_SERVICE_ENDPOINT",
              "ec2_metadata_service_endpoint");
  if (v == NULL) {
    mode = setting(cfg, o, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                   "ec2_metadata_service_endpoint_mode");
    if (mode == NULL || ieq(mode, "IPv4")) {
      v = "http://169.254.169.254";
    } else if (ieq(mode, "IPv6")) {
      v = "http://[fd00:ec2::254]";
    } else {
      set_error(cfg,
                "ec2_metadata_service_endpoint_mode is \"%s\": use IPv4 or "
                "IPv6",
                mode);
      return KILN_EINVAL;
    }
  }
  cfg->imds_endpoint = keep_opt(cfg, v, &err);
  cfg->imds_timeout_ms = 1000;
  v = setting(cfg, o, "AWS_METADATA_SERVICE_TIMEOUT",
              "metadata_service_timeout");
  if (v != NULL) {
    char *end;
    double s = strtod(v, &end);
    if (*end != '\0' || end == v || !(s > 0 && s <= 3600)) {
      set_error(cfg,
                "metadata_service_timeout is \"%s\": use seconds between 0 "
                "and 3600",
                v);
      return KILN_EINVAL;
    }
    cfg->imds_timeout_ms = (long)(s * 1000.0);
    if (cfg->imds_timeout_ms < 1)
      cfg->imds_timeout_ms = 1;
  }
  return err;
}

int kiln_aws_config_resolve(struct kiln_aws_config *cfg,
                            const struct kiln_aws_config_options *o)
{
  const char *v;
  int err = 0;
  char saved[sizeof(cfg->error_)];

  memset(cfg, 0, sizeof(*cfg));
  if (o == NULL || o->getenv == NULL || o->read_file == NULL)
    return KILN_EINVAL;

  v = env(o, "AWS_PROFILE");
  if (v == NULL)
    v = env(o, "AWS_DEFAULT_PROFILE");
  cfg->profile_explicit = v != NULL;
  cfg->profile = keep_opt(cfg, v != NULL ? v : "default", &err);

  v = env(o, "AWS_CONFIG_FILE");
  cfg->config_path = expand_home(cfg, o, v != NULL ? v : "~/.aws/config", &err);
  v = env(o, "AWS_SHARED_CREDENTIALS_FILE");
  cfg->credentials_path =
      expand_home(cfg, o, v != NULL ? v : "~/.aws/credentials", &err);
  if (err != 0)
    goto fail;
  err = load_file(cfg, o, cfg->config_path, KILN_AWS_INI_CONFIG,
                  &cfg->config_file);
  if (err != 0)
    goto fail;
  err = load_file(cfg, o, cfg->credentials_path, KILN_AWS_INI_CREDENTIALS,
                  &cfg->credentials_file);
  if (err != 0)
    goto fail;
  cfg->profile_exists = kiln_aws_config_profile_exists(cfg, cfg->profile);

  /* Region: AWS_REGION, AWS_DEFAULT_REGION, then the profile. */
  if ((v = env(o, "AWS_REGION")) != NULL) {
    cfg->region_source = "AWS_REGION";
  } else if ((v = env(o, "AWS_DEFAULT_REGION")) != NULL) {
    cfg->region_source = "AWS_DEFAULT_REGION";
  } else if ((v = setting(cfg, o, NULL, "region")) != NULL) {
    char src[300];
    snprintf(src, sizeof(src), "profile %s", cfg->profile);
    cfg->region_source = keep_opt(cfg, src, &err);
  }
  if (v != NULL) {
    const char *partition, *suffix;
    if (kiln_aws_partition_for_region(v, &partition, &suffix) != 0) {
      set_error(cfg,
                "region \"%s\" (from %s) is not a valid region name such as "
                "us-east-1",
                v, cfg->region_source);
      err = KILN_EINVAL;
      goto fail;
    }
    cfg->region = keep_opt(cfg, v, &err);
  }

  cfg->ca_bundle =
      keep_opt(cfg, setting(cfg, o, "AWS_CA_BUNDLE", "ca_bundle"), &err);
  if (err != 0)
    goto fail;
  if ((err = resolve_retry(cfg, o)) != 0)
    goto fail;
  if ((err = resolve_endpoints(cfg, o)) != 0)
    goto fail;
  if ((err = resolve_imds(cfg, o)) != 0)
    goto fail;

  cfg->env_access_key_id = keep_opt(cfg, env(o, "AWS_ACCESS_KEY_ID"), &err);
  cfg->env_secret_access_key =
      keep_opt(cfg, env(o, "AWS_SECRET_ACCESS_KEY"), &err);
  cfg->env_session_token = keep_opt(cfg, env(o, "AWS_SESSION_TOKEN"), &err);
  cfg->env_account_id = keep_opt(cfg, env(o, "AWS_ACCOUNT_ID"), &err);
  cfg->web_identity_token_file =
      keep_opt(cfg, env(o, "AWS_WEB_IDENTITY_TOKEN_FILE"), &err);
  cfg->role_arn = keep_opt(cfg, env(o, "AWS_ROLE_ARN"), &err);
  cfg->role_session_name = keep_opt(cfg, env(o, "AWS_ROLE_SESSION_NAME"), &err);
  cfg->container_relative_uri =
      keep_opt(cfg, env(o, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), &err);
  cfg->container_full_uri =
      keep_opt(cfg, env(o, "AWS_CONTAINER_CREDENTIALS_FULL_URI"), &err);
  cfg->container_token =
      keep_opt(cfg, env(o, "AWS_CONTAINER_AUTHORIZATION_TOKEN"), &err);
  cfg->container_token_file =
      keep_opt(cfg, env(o, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), &err);
  if (err != 0)
    goto fail;
  return 0;

fail:
  if (err == KILN_ENOMEM && cfg->error_[0] == '\0')
    set_error(cfg, "out of memory while reading the AWS configuration");
  memcpy(saved, cfg->error_, sizeof(saved));
  kiln_aws_config_cleanup(cfg);
  memcpy(cfg->error_, saved, sizeof(saved));
  return err;
}

int kiln_aws_config_set_region(struct kiln_aws_config *cfg, const char *region,
                               const char *source)
{
  const char *partition, *suffix, *r, *s;

  if (kiln_aws_partition_for_region(region, &partition, &suffix) != 0)
    return KILN_EINVAL;
  r = keep(cfg, region);
  s = keep(cfg, source != NULL ? source : "caller");
  if (r == NULL || s == NULL)
    return KILN_ENOMEM;
  cfg->region = r;
  cfg->region_source = s;
  return 0;
}

void kiln_aws_config_cleanup(struct kiln_aws_config *cfg)
{
  struct kiln_aws_config_str *n, *next;

  for (n = cfg->strings_; n != NULL; n = next) {
    next = n->next;
    OPENSSL_cleanse(n->s, n->len);
    free(n);
  }
  kiln_aws_ini_cleanup(&cfg->config_file);
  kiln_aws_ini_cleanup(&cfg->credentials_file);
  memset(cfg, 0, sizeof(*cfg));
}

const char *kiln_aws_config_error(const struct kiln_aws_config *cfg)
{
  return cfg->error_;
}

const char *kiln_aws_retry_mode_name(enum kiln_aws_retry_mode mode)
{
  switch (mode) {
  case KILN_AWS_RETRY_LEGACY:
    return "legacy";
  case KILN_AWS_RETRY_ADAPTIVE:
    return "adaptive";
  default:
    return "standard";
  }
}
