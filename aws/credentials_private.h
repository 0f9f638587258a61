/* Internal to the credential providers (aws/credentials*.c) and their unit
 * tests: the provider base every provider embeds, the asynchronous
 * completion helper, and the pure parsers.
 */
#ifndef KILN_AWS_CREDENTIALS_PRIVATE_H
#define KILN_AWS_CREDENTIALS_PRIVATE_H

#include "kiln/aws_credentials.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define container_of(ptr, type, member)                                        \
  ((type *)((char *)(ptr)-offsetof(type, member)))

struct kiln_aws_credentials_provider;

struct kiln__provider_vtable {
  const char *kind;
  /* As kiln_aws_credentials_get(). */
  int (*get)(struct kiln_aws_credentials_provider *p,
             kiln_aws_credentials_cb *cb, void *data);
  /* Frees the provider; no get is pending. */
  void (*destroy)(struct kiln_aws_credentials_provider *p);
};

/* The first member of every provider. */
struct kiln_aws_credentials_provider {
  const struct kiln__provider_vtable *vt;
  int refcount;
  uv_loop_t *loop;
  kiln_aws_clock_fn *clock;
  void *clock_arg;
  kiln_aws_read_file_fn *read_file;
  void *read_file_arg;
  struct kiln_http_client *http;
  long timeout_ms;
  int64_t refresh_before_ms;
  int max_attempts;       /* for STS calls; from the config */
  uint32_t retry_base_ms; /* 0: the standard policy's */
};

/* Sets up the base from the options. */
void kiln__provider_init(struct kiln_aws_credentials_provider *p,
                         const struct kiln__provider_vtable *vt,
                         const struct kiln_aws_credentials_options *o);

/* A provider that only carries the options (loop, HTTP client, clock,
 * retry settings) for calls made outside a provider, like
 * GetCallerIdentity. Its get() must not be called. */
int kiln__provider_context_new(const struct kiln_aws_credentials_options *o,
                               struct kiln_aws_credentials_provider **out);

/* Wall clock through the provider's injected clock. */
int64_t kiln__provider_now_ms(const struct kiln_aws_credentials_provider *p);

/* The real wall clock; arg is ignored. */
int64_t kiln__real_clock_ms(void *arg);

/* Calls cb(status, creds, message, data) on a later loop iteration (a
 * reference to creds and a copy of message are held until then). Returns 0
 * or KILN_ENOMEM (cb will not run). */
int kiln__creds_defer(uv_loop_t *loop, kiln_aws_credentials_cb *cb, void *data,
                      int status, struct kiln_aws_credentials *creds,
                      const char *message);

/* snprintf for messages and source names, where truncating a long ARN or
 * path is fine. */
void kiln__msgf(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct kiln_http_response;

/* Wipes a response body that held secrets (the HTTP client frees it
 * without wiping). */
void kiln__wipe_response(struct kiln_http_response *res);

/* Wipes and frees a heap string (NULL is ignored). */
void kiln__secret_free(char *s);

/* strdup that returns NULL for NULL. */
char *kiln__strdup_opt(const char *s, int *err);

/* Parses the container/IMDS credential JSON document ({"AccessKeyId",
 * "SecretAccessKey", "Token", "Expiration", ["AccountId"], ["Code"]}).
 * require_token: temporary credentials are expected. On failure msg gets
 * a reason. Returns 0, KILN_EPARSE or KILN_ENOMEM. */
int kiln__creds_from_json(const char *body, size_t len, const char *source,
                          struct kiln_aws_credentials **out, char *msg,
                          size_t msg_size);

/* What an STS Query API response held. Strings are empty when absent. */
struct kiln__sts_result {
  /* AssumeRole*: */
  struct kiln_aws_credentials *creds; /* one reference, or NULL */
  char assumed_arn[512];
  /* GetCallerIdentity: */
  struct kiln_aws_caller_identity identity;
  /* ErrorResponse: */
  char error_code[128];
  char error_message[512];
  char request_id[128];
};

/* Parses an STS XML response body with libxml2: no network, no DTD (a
 * document with one is refused), at most 64 KiB. action names the
 * expected "<action>Response". source names the credentials made.
 * Returns 0 for a success response, KILN_EAWS for an ErrorResponse (code
 * and message filled), KILN_EPARSE, KILN_ETOOBIG or KILN_ENOMEM. */
int kiln__sts_parse(const char *body, size_t len, const char *action,
                    const char *source, struct kiln__sts_result *out);

/* Releases out->creds. */
void kiln__sts_result_cleanup(struct kiln__sts_result *out);

/* One STS Query call. params are already "k=v&k=v" encoded (Action and
 * Version included); creds NULL means unsigned. */
typedef void kiln__sts_cb(int status, struct kiln__sts_result *res,
                          const char *message, void *data);

struct kiln__sts_target {
  struct kiln_aws_endpoint endpoint;
};

/* Resolves the STS endpoint for the config (the config's region, or
 * us-east-1 when it has none). Returns 0 or KILN_EINVAL with msg filled. */
int kiln__sts_target_init(struct kiln__sts_target *t,
                          const struct kiln_aws_config *cfg, char *msg,
                          size_t msg_size);

int kiln__sts_call(struct kiln_aws_credentials_provider *base,
                   const struct kiln__sts_target *t, const char *action,
                   const char *params, struct kiln_aws_credentials *creds,
                   const char *source, kiln__sts_cb *cb, void *data);

/* Checks an AWS_CONTAINER_CREDENTIALS_FULL_URI the way the SDKs do.
 * Returns 0 or KILN_EINVAL. */
int kiln__container_uri_allowed(const char *uri);

#endif
