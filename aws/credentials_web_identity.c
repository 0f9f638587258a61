/* Web identity: STS AssumeRoleWithWebIdentity with an OIDC token read from
 * a file (EKS IRSA, GitHub Actions, ...). The call is not signed: the token
 * is the proof. The file is read on every fetch because it rotates.
 */
#include "credentials_private.h"

#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX_BYTES (16u * 1024)

struct web_identity_provider {
  struct kiln_aws_credentials_provider base;
  char *token_file, *role_arn, *session_name; /* NULL token_file: unset */
  struct kiln__sts_target target;
  char error[600]; /* non-empty: misconfigured */
};

struct wi_req {
  struct web_identity_provider *p; /* holds a reference */
  kiln_aws_credentials_cb *cb;
  void *data;
};

static void wi_done(int status, struct kiln__sts_result *res,
                    const char *message, void *data)
{
  struct wi_req *r = data;
  char msg[1200];

  if (status == 0) {
    r->cb(0, res->creds, "", r->data);
  } else {
    snprintf(msg, sizeof(msg), "web-identity %s: %s", r->p->role_arn, message);
    r->cb(status, NULL, msg, r->data);
  }
  kiln_aws_credentials_provider_unref(&r->p->base);
  free(r);
}

static int wi_get(struct kiln_aws_credentials_provider *base,
                  kiln_aws_credentials_cb *cb, void *data)
{
  struct web_identity_provider *p =
      container_of(base, struct web_identity_provider, base);
  struct kiln_buf token, params;
  char source[KILN_AWS_SOURCE_MAX], msg[800];
  struct wi_req *r = NULL;
  size_t n;
  int err;

  if (p->token_file == NULL)
    return KILN_ENOENT;
  if (p->error[0] != '\0')
    return kiln__creds_defer(base->loop, cb, data, KILN_EINVAL, NULL, p->error);
  kiln_buf_init_secret(&token, TOKEN_MAX_BYTES);
  kiln_buf_init_secret(&params, 2 * TOKEN_MAX_BYTES);
  err = base->read_file(base->read_file_arg, p->token_file, &token);
  n = token.len;
  while (n > 0 && (token.data[n - 1] == '\n' || token.data[n - 1] == '\r' ||
                   token.data[n - 1] == ' '))
    token.data[--n] = '\0';
  if (err != 0 || n == 0) {
    if (err == KILN_ETOOBIG)
      snprintf(msg, sizeof(msg),
               "web-identity %s: the token file %s is larger than %u bytes",
               p->role_arn, p->token_file, (unsigned)TOKEN_MAX_BYTES);
    else
      snprintf(msg, sizeof(msg),
               "web-identity %s: cannot read the token file %s: %s",
               p->role_arn, p->token_file,
               err != 0 ? kiln_strerror(err) : "it is empty");
    err = kiln__creds_defer(base->loop, cb, data, KILN_ECREDENTIALS, NULL, msg);
    goto done;
  }
  snprintf(source, sizeof(source), "web-identity %s", p->role_arn);
  if ((err = kiln_sigv4_query_add(&params, "Action",
                                  "AssumeRoleWithWebIdentity")) != 0 ||
      (err = kiln_sigv4_query_add(&params, "Version", "2011-06-15")) != 0 ||
      (err = kiln_sigv4_query_add(&params, "RoleArn", p->role_arn)) != 0 ||
      (err = kiln_sigv4_query_add(&params, "RoleSessionName",
                                  p->session_name)) != 0 ||
      (err = kiln_sigv4_query_add(&params, "WebIdentityToken", token.data)) !=
          0)
    goto done;
  r = calloc(1, sizeof(*r));
  if (r == NULL) {
    err = KILN_ENOMEM;
    goto done;
  }
  r->p = p;
  r->cb = cb;
  r->data = data;
  err = kiln__sts_call(base, &p->target, "AssumeRoleWithWebIdentity",
                       params.data, NULL, source, wi_done, r);
  if (err != 0) {
    free(r);
    goto done;
  }
  kiln_aws_credentials_provider_ref(base);
done:
  kiln_buf_cleanup_secret(&token);
  kiln_buf_cleanup_secret(&params);
  return err;
}

static void wi_destroy(struct kiln_aws_credentials_provider *base)
{
  struct web_identity_provider *p =
      container_of(base, struct web_identity_provider, base);
  free(p->token_file);
  free(p->role_arn);
  free(p->session_name);
  free(p);
}

static const struct kiln__provider_vtable wi_vt = {"web-identity", wi_get,
                                                   wi_destroy};

int kiln_aws_credentials_provider_new_web_identity(
    const struct kiln_aws_credentials_options *o, const char *token_file,
    const char *role_arn, const char *session_name,
    struct kiln_aws_credentials_provider **out)
{
  const struct kiln_aws_config *cfg;
  struct web_identity_provider *p;
  char default_name[64];
  int err = 0;

  *out = NULL;
  if (o == NULL || o->loop == NULL || o->config == NULL)
    return KILN_EINVAL;
  cfg = o->config;
  if (token_file == NULL)
    token_file = cfg->web_identity_token_file;
  if (role_arn == NULL)
    role_arn = cfg->role_arn;
  if (session_name == NULL)
    session_name = cfg->role_session_name;
  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return KILN_ENOMEM;
  kiln__provider_init(&p->base, &wi_vt, o);
  if (session_name == NULL || session_name[0] == '\0') {
    snprintf(default_name, sizeof(default_name), "kiln-session-%lld",
             (long long)(kiln__provider_now_ms(&p->base) / 1000));
    session_name = default_name;
  }
  p->token_file = kiln__strdup_opt(token_file, &err);
  p->role_arn = kiln__strdup_opt(role_arn != NULL ? role_arn : "", &err);
  p->session_name = kiln__strdup_opt(session_name, &err);
  if (err != 0) {
    wi_destroy(&p->base);
    return err;
  }
  if (token_file != NULL && (role_arn == NULL || role_arn[0] == '\0'))
    snprintf(p->error, sizeof(p->error),
             "web-identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but "
             "AWS_ROLE_ARN is not: set the role to assume");
  else if (token_file != NULL && o->http == NULL)
    snprintf(p->error, sizeof(p->error), "web-identity: no HTTP client");
  else if (token_file != NULL)
    kiln__sts_target_init(&p->target, cfg, p->error, sizeof(p->error));
  *out = &p->base;
  return 0;
}
