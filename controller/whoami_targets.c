/* kiln whoami --repo: every deployment target's location (region and
 * account) and who Kiln is there: STS GetCallerIdentity with Kiln's own
 * credentials, or with the role the environment names (assumed as the
 * controller assumes it). Never prints a secret. */
#include "whoami_targets.h"

#include "kiln/aws_credentials.h"
#include "kiln/error.h"
#include "kiln/http.h"
#include "kiln/str.h"
#include "kiln/json_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct probe {
  struct kiln_session *s;
  size_t loc;
  int status;
  char account[32];
  char arn[512];
  char why[512];
  int *pending;
};

static void on_identity(int status, const struct kiln_aws_caller_identity *id,
                        const char *message, void *data)
{
  struct probe *p = data;
  p->status = status;
  if (status == 0 && id != NULL) {
    snprintf(p->account, sizeof(p->account), "%s", id->account);
    snprintf(p->arn, sizeof(p->arn), "%s", id->arn);
  } else {
    snprintf(p->why, sizeof(p->why), "%s",
             message != NULL ? message : kiln_strerror(status));
  }
  --*p->pending;
}

static struct kiln_aws_credentials_options options(struct probe *p)
{
  struct kiln_aws_credentials_options o;
  memset(&o, 0, sizeof(o));
  o.loop = &p->s->loop;
  o.config = &p->s->locations[p->loc].config;
  o.http = p->s->sts_http;
  return o;
}

static void on_credentials(int status, struct kiln_aws_credentials *creds,
                           const char *message, void *data)
{
  struct probe *p = data;
  struct kiln_aws_credentials_options o = options(p);
  int err;
  if (status != 0) {
    p->status = status;
    snprintf(p->why, sizeof(p->why), "%s",
             message != NULL ? message : kiln_strerror(status));
    --*p->pending;
    return;
  }
  err = kiln_aws_sts_get_caller_identity(&o, creds, on_identity, p);
  if (err != 0) {
    p->status = err;
    snprintf(p->why, sizeof(p->why), "%s", kiln_strerror(err));
    --*p->pending;
  }
}

/* The credentials provider of location l: its role's, or Kiln's own. */
static struct kiln_aws_credentials_provider *
provider_of(struct kiln_session *s, size_t l,
            struct kiln_aws_credentials_provider *own)
{
  for (size_t i = 0; i < s->n_roles; i++)
    if (kiln_str_eq(s->roles[i].role_arn, s->locations[l].role_arn))
      return s->roles[i].credentials;
  return own;
}

static const struct probe *probe_of(const struct probe *probes, size_t n,
                                    const struct kiln_session *s,
                                    const struct kiln_app_spec *t)
{
  size_t l = kiln_session_location_of(s, t);
  return l < n ? &probes[l] : NULL;
}

static void print_text(const struct kiln_session *s, const struct probe *pr,
                       size_t n)
{
  printf("\nDeployment targets at commit %.12s:\n", s->commit);
  for (size_t i = 0; i < s->repo->n_apps; i++) {
    const struct kiln_app_spec *t = &s->repo->apps[i];
    const struct probe *p;
    if (!t->valid || !kiln_spec_selects(t, s->only_app, s->only_env))
      continue;
    p = probe_of(pr, n, s, t);
    printf("  %-24s %-15s %s\n", t->name, t->region,
           t->role_arn != NULL ? t->role_arn : "Kiln's own credentials");
    if (p != NULL && p->status == 0)
      printf("  %-24s %-15s account %s as %s\n", "", "", p->account, p->arn);
    else
      printf("  %-24s %-15s error: %s\n", "", "",
             p != NULL ? p->why : "not reached");
  }
}

static json_object *targets_json(const struct kiln_session *s,
                                 const struct probe *pr, size_t n)
{
  json_object *arr = json_object_new_array();
  for (size_t i = 0; arr != NULL && i < s->repo->n_apps; i++) {
    const struct kiln_app_spec *t = &s->repo->apps[i];
    const struct probe *p;
    json_object *o;
    if (!t->valid || !kiln_spec_selects(t, s->only_app, s->only_env))
      continue;
    p = probe_of(pr, n, s, t);
    o = json_object_new_object();
    json_object_object_add(o, "name", kiln_json_string(t->name));
    json_object_object_add(o, "app", kiln_json_string(kiln_spec_app_name(t)));
    json_object_object_add(o, "environment", kiln_json_string(t->env));
    json_object_object_add(o, "region", kiln_json_string(t->region));
    json_object_object_add(o, "role_arn", kiln_json_string(t->role_arn));
    json_object_object_add(
        o, "account",
        kiln_json_string(p != NULL && p->status == 0 ? p->account : NULL));
    json_object_object_add(
        o, "arn", kiln_json_string(p != NULL && p->status == 0 ? p->arn : NULL));
    json_object_object_add(
        o, "error",
        kiln_json_string(p == NULL ? "not reached"
                         : p->status != 0 ? p->why
                                          : NULL));
    json_object_array_add(arr, o);
  }
  return arr;
}

int kiln_whoami_targets(struct kiln_session *s, json_object **json_out)
{
  struct kiln_aws_credentials_provider *own = NULL;
  struct kiln_aws_credentials_options o;
  struct probe *probes;
  int pending = 0, failed = 0, err;

  if (s->n_locations == 0) {
    if (json_out != NULL)
      *json_out = json_object_new_array();
    else
      printf("\nNo valid deployment targets at commit %.12s.\n", s->commit);
    return 0;
  }
  probes = calloc(s->n_locations, sizeof(*probes));
  if (probes == NULL)
    return KILN_ENOMEM;
  if (s->sts_http == NULL &&
      (err = kiln_http_client_new(&s->loop,
                                  &(struct kiln_http_client_options){
                                      .ca_bundle =
                                          s->locations[0].config.ca_bundle},
                                  &s->sts_http)) != 0) {
    free(probes);
    return err;
  }
  memset(&o, 0, sizeof(o));
  o.loop = &s->loop;
  o.config = &s->locations[0].config;
  o.http = s->sts_http;
  if ((err = kiln_aws_credentials_provider_new_default(&o, &own)) != 0) {
    free(probes);
    return err;
  }
  for (size_t l = 0; l < s->n_locations; l++) {
    probes[l] = (struct probe){.s = s, .loc = l, .pending = &pending};
    pending++;
    err = kiln_aws_credentials_get(provider_of(s, l, own), on_credentials,
                                   &probes[l]);
    if (err != 0) {
      pending--;
      probes[l].status = err;
      snprintf(probes[l].why, sizeof(probes[l].why), "%s",
               err == KILN_ENOENT ? "no credentials are configured"
                                  : kiln_strerror(err));
    }
  }
  while (pending > 0 && uv_run(&s->loop, UV_RUN_ONCE) != 0)
    ;
  for (size_t l = 0; l < s->n_locations; l++)
    failed |= probes[l].status != 0;
  if (json_out != NULL)
    *json_out = targets_json(s, probes, s->n_locations);
  else
    print_text(s, probes, s->n_locations);
  kiln_aws_credentials_provider_unref(own);
  free(probes);
  return failed ? KILN_ECREDENTIALS : 0;
}
