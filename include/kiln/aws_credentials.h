/* AWS credentials: the credentials object, the provider interface, the
 * providers, the default chain, and `kiln whoami`.
 *
 * Default chain, in order (the AWS SDKs' order as in the Rust and
 * CRT SDKs; the first provider that is configured wins, and its failure is
 * the chain's failure, so a broken profile is reported, never skipped):
 *   1. env           AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 *                    (+ AWS_SESSION_TOKEN)
 *   2. profile       the shared files' profile (AWS_PROFILE or "default"):
 *                    role_arn + web_identity_token_file, role_arn +
 *                    source_profile | credential_source (STS AssumeRole),
 *                    or aws_access_key_id/aws_secret_access_key
 *   3. web identity  AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *                    (STS AssumeRoleWithWebIdentity, unsigned)
 *   4. container     AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI
 *   5. imds          EC2 instance metadata, IMDSv2 only
 * The chain sits behind a cache that refreshes temporary credentials
 * before they expire; concurrent requests share one refresh.
 *
 * Threading: everything runs on the loop's thread.
 *
 * Callbacks: kiln_aws_credentials_get() calls its callback exactly once,
 * always from the loop and never before it has returned; if it returns an
 * error, the callback never runs.
 *
 * Secrets: a credentials object wipes its secret key and session token
 * when its last reference is dropped. Nothing here logs secrets; use
 * kiln_aws_credentials_describe() to print credentials.
 */
#ifndef KILN_AWS_CREDENTIALS_H
#define KILN_AWS_CREDENTIALS_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/aws_config.h"
#include "kiln/aws_endpoint.h"

struct uv_loop_s;
struct kiln_buf;
struct kiln_http_client;
struct kiln_sigv4_credentials;

/* ---- Credentials ------------------------------------------------------ */

#define KILN_AWS_SOURCE_MAX 256

/* Reference-counted and immutable once made. */
struct kiln_aws_credentials {
  char *access_key_id;
  char *secret_access_key; /* secret */
  char *session_token;     /* secret; NULL for long-term keys */
  char *account_id;        /* NULL when unknown */
  int64_t expiration_ms;   /* unix time in ms; 0: does not expire */
  /* Where they came from: "env", "profile NAME", "assume-role ROLE via
   * SOURCE", "web-identity ROLE", "container", "imds ROLE". */
  char source[KILN_AWS_SOURCE_MAX];
  int refcount_;
};

/* Makes credentials with one reference. token and account_id may be NULL
 * or "". Returns 0, KILN_EINVAL (empty key id or secret) or KILN_ENOMEM. */
int kiln_aws_credentials_new(const char *access_key_id,
                             const char *secret_access_key,
                             const char *session_token, const char *account_id,
                             int64_t expiration_ms, const char *source,
                             struct kiln_aws_credentials **out);

/* Takes a reference; returns c. */
struct kiln_aws_credentials *
kiln_aws_credentials_ref(struct kiln_aws_credentials *c);

/* Drops a reference; the last one wipes and frees. NULL is ignored. */
void kiln_aws_credentials_unref(struct kiln_aws_credentials *c);

/* Fills a SigV4 credentials view of c (pointers into c). */
void kiln_aws_credentials_sigv4(const struct kiln_aws_credentials *c,
                                struct kiln_sigv4_credentials *out);

/* Redacted one-line description, safe to log:
 * "AKIA…(4 chars) from SOURCE[, temporary, expires 2024-01-01T00:00:00Z]".
 * Never shows the secret or the token. Returns out. */
char *kiln_aws_credentials_describe(const struct kiln_aws_credentials *c,
                                    char *out, size_t size);

/* Parses an ISO 8601 UTC time as AWS sends it ("2024-01-31T23:59:59Z",
 * fractional seconds and a +HH:MM offset accepted) to unix ms. Returns 0 or
 * KILN_EPARSE. */
int kiln_aws_parse_time(const char *s, int64_t *out_ms);

/* ---- Providers -------------------------------------------------------- */

struct kiln_aws_credentials_provider;

/* status is 0 and creds non-NULL on success; creds is borrowed for the
 * duration of the call (take a reference to keep it). On failure creds is
 * NULL and message says what failed, where and what to do. Statuses:
 * KILN_ENOENT (this provider is not configured: a chain moves on),
 * KILN_ECREDENTIALS (nothing in a chain was configured, or a configured
 * source gave no usable credentials), KILN_EAWS (STS refused),
 * KILN_ECONN, KILN_ETIMEDOUT, KILN_EHTTP, KILN_EPARSE, KILN_EINVAL
 * (invalid configuration), KILN_EUNSUPPORTED, KILN_ECANCELED. */
typedef void kiln_aws_credentials_cb(int status,
                                     struct kiln_aws_credentials *creds,
                                     const char *message, void *data);

/* Wall clock in unix milliseconds. */
typedef int64_t kiln_aws_clock_fn(void *arg);

/* What every provider is made with. Everything is copied or referenced at
 * creation: the config may be cleaned up once the provider exists. */
struct kiln_aws_credentials_options {
  struct uv_loop_s *loop;               /* required */
  const struct kiln_aws_config *config; /* required */
  /* Required by providers that do HTTP (profile with a role, web
   * identity, container, imds, and so the default chain). The client must
   * outlive every request; closing it cancels them. */
  struct kiln_http_client *http;
  kiln_aws_clock_fn *clock; /* NULL: the real clock */
  void *clock_arg;
  /* Token files (web identity, container authorization) are read again on
   * every fetch because they rotate. NULL: the real file system. */
  kiln_aws_read_file_fn *read_file;
  void *read_file_arg;
  /* The cache refreshes credentials that expire in less than this. 0: 10
   * minutes. */
  int64_t refresh_before_ms;
  /* Timeout of each container, STS and IMDS request. 0: 5 s (IMDS uses
   * the config's imds_timeout_ms). */
  long timeout_ms;
  /* STS calls are retried by the standard policy (kiln/aws_retry.h) up to
   * the config's max_attempts; this overrides its base delay (tests). 0:
   * the policy's. */
  uint32_t retry_base_ms;
};

/* Asks p for credentials. Returns 0 (cb will run), KILN_ENOENT (the
 * provider is not configured; cb will not run), KILN_ENOMEM. */
int kiln_aws_credentials_get(struct kiln_aws_credentials_provider *p,
                             kiln_aws_credentials_cb *cb, void *data);

/* Short name of the provider's kind: "static", "env", "profile",
 * "assume-role", "web-identity", "container", "imds", "chain", "cache". */
const char *kiln_aws_credentials_provider_kind(
    const struct kiln_aws_credentials_provider *p);

/* Providers are reference-counted; a pending get holds a reference, so
 * releasing a provider with gets in flight is safe. */
struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_ref(struct kiln_aws_credentials_provider *p);
void kiln_aws_credentials_provider_unref(
    struct kiln_aws_credentials_provider *p);

/* Each constructor returns 0, KILN_EINVAL (missing loop/config/http) or
 * KILN_ENOMEM, with one reference in *out. Configuration problems found
 * at creation (a source_profile loop, a bad URL) are reported by the
 * provider's get(), so that a chain reaches them in order. */

/* Fixed credentials, reported with source name. */
int kiln_aws_credentials_provider_new_static(
    const struct kiln_aws_credentials_options *o, const char *access_key_id,
    const char *secret_access_key, const char *session_token,
    const char *source, struct kiln_aws_credentials_provider **out);

/* AWS_ACCESS_KEY_ID etc. as resolved in the config. */
int kiln_aws_credentials_provider_new_env(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider **out);

/* The config's profile. A profile named by AWS_PROFILE that does not exist
 * is an error (KILN_ECREDENTIALS); a missing "default" is KILN_ENOENT.
 * source_profile chains are followed with loop detection; a profile may
 * name itself as source_profile when it has static keys. */
int kiln_aws_credentials_provider_new_profile(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider **out);

/* STS AssumeRole, signed with credentials from source (a reference is
 * taken). external_id may be NULL; duration_s 0 means STS's default. */
int kiln_aws_credentials_provider_new_assume_role(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider *source, const char *role_arn,
    const char *session_name, const char *external_id, int duration_s,
    struct kiln_aws_credentials_provider **out);

/* STS AssumeRoleWithWebIdentity with the token in token_file (read on
 * every fetch). NULL arguments: AWS_WEB_IDENTITY_TOKEN_FILE,
 * AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME from the config. */
int kiln_aws_credentials_provider_new_web_identity(
    const struct kiln_aws_credentials_options *o, const char *token_file,
    const char *role_arn, const char *session_name,
    struct kiln_aws_credentials_provider **out);

/* Container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI against
 * http://169.254.170.2, or AWS_CONTAINER_CREDENTIALS_FULL_URI, which must
 * be https, or http to a loopback address, 169.254.170.2, 169.254.170.23,
 * fd00:ec2::23 or localhost. Authorization from
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, else _TOKEN. */
int kiln_aws_credentials_provider_new_container(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider **out);

/* EC2 instance metadata, IMDSv2 only: PUT /latest/api/token, then GET
 * /latest/meta-data/iam/security-credentials/[ROLE] with the token. If the
 * token cannot be had, it fails: it never falls back to IMDSv1.
 * KILN_ENOENT when AWS_EC2_METADATA_DISABLED=true or no metadata service
 * answers. */
int kiln_aws_credentials_provider_new_imds(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider **out);

/* The instance's region from instance metadata (IMDSv2, same endpoint
 * settings and the same no-IMDSv1 rule): the SDKs' last resort when no
 * region is configured (see kiln_aws_config_set_region()). region is
 * valid only during the call. Same callback guarantees as
 * kiln_aws_credentials_get(). Returns 0, KILN_ENOENT (instance metadata
 * is disabled; cb will not run), KILN_EINVAL or KILN_ENOMEM; an
 * unreachable metadata service is reported to cb as KILN_ENOENT. */
typedef void kiln_aws_region_cb(int status, const char *region,
                                const char *message, void *data);
int kiln_aws_imds_region(const struct kiln_aws_credentials_options *o,
                         kiln_aws_region_cb *cb, void *data);

/* Tries providers in order; a reference is taken on each. */
int kiln_aws_credentials_provider_new_chain(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider *const *providers, size_t count,
    struct kiln_aws_credentials_provider **out);

/* Caches source's credentials (a reference is taken) until less than
 * o->refresh_before_ms remain; then one refresh serves every waiting
 * request. If a refresh fails while the old credentials have not expired,
 * the old ones are served. */
int kiln_aws_credentials_provider_new_cached(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider *source,
    struct kiln_aws_credentials_provider **out);

/* cache(chain(env, profile, web identity, container, imds)). */
int kiln_aws_credentials_provider_new_default(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider **out);

/* ---- STS GetCallerIdentity and whoami --------------------------------- */

struct kiln_aws_caller_identity {
  char account[32];
  char arn[512];
  char user_id[256];
};

typedef void
kiln_aws_caller_identity_cb(int status,
                            const struct kiln_aws_caller_identity *id,
                            const char *message, void *data);

/* STS GetCallerIdentity signed with creds (used only before this returns:
 * the request is signed here), against the config's STS endpoint. Same callback
 * guarantees as kiln_aws_credentials_get(). Returns 0, KILN_EINVAL or
 * KILN_ENOMEM. */
int kiln_aws_sts_get_caller_identity(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials *creds, kiln_aws_caller_identity_cb *cb,
    void *data);

/* What `kiln whoami` shows. A command wires it like this (see
 * tests/credentials_tests/kiln_creds_probe.c for a complete program):
 *
 *   struct kiln_aws_config_options co = {kiln_aws_config_real_getenv, NULL,
 *                                        kiln_aws_config_real_read_file, NULL};
 *   kiln_aws_config_resolve(&cfg, &co);       (print kiln_aws_config_error)
 *   kiln_http_client_new(loop, &(struct kiln_http_client_options){
 *                                  .ca_bundle = cfg.ca_bundle}, &http);
 *   struct kiln_aws_credentials_options o = {.loop = loop, .config = &cfg,
 *                                            .http = http};
 *   kiln_aws_credentials_provider_new_default(&o, &provider);
 *   kiln_aws_whoami(&o, provider, on_whoami, data);  uv_run(loop, ...);
 *   in on_whoami: kiln_aws_whoami_format(who, json, &buf), print it, and
 *   exit non-zero when who->status != 0;
 *   then unref the provider, close the HTTP client, run the loop, and
 *   clean up the config. */
struct kiln_aws_whoami {
  char profile[128];
  char region[64];                       /* "" when none is configured */
  char region_source[160];               /* e.g. "AWS_REGION", "profile dev" */
  char credentials[KILN_AWS_SOURCE_MAX]; /* the credentials' source */
  char access_key[64]; /* redacted: kiln_aws_credentials_describe() */
  int64_t expiration_ms;
  struct kiln_aws_endpoint endpoints[KILN_AWS_SERVICE_COUNT];
  int endpoint_status[KILN_AWS_SERVICE_COUNT]; /* 0 or KILN_EINVAL */
  struct kiln_aws_caller_identity identity;    /* empty when not reached */
  int status;        /* 0, or why credentials or STS failed */
  char message[512]; /* the failure, "" when none */
};

typedef void kiln_aws_whoami_cb(const struct kiln_aws_whoami *who, void *data);

/* Resolves credentials with provider, then calls GetCallerIdentity with
 * them, and reports everything with cb (valid only during the call), on
 * success or failure. Same callback guarantees as above. Returns 0,
 * KILN_EINVAL or KILN_ENOMEM. */
int kiln_aws_whoami(const struct kiln_aws_credentials_options *o,
                    struct kiln_aws_credentials_provider *provider,
                    kiln_aws_whoami_cb *cb, void *data);

/* Appends a human-readable report (json 0) or a JSON object (json 1):
 * {"profile","region","region_source","credentials","access_key",
 *  "expiration","account","arn","user_id","endpoints":{"ec2":{"url",
 *  "signing_name","signing_region","source"}, ...},"error"}. */
int kiln_aws_whoami_format(const struct kiln_aws_whoami *who, int json,
                           struct kiln_buf *out);

#endif
