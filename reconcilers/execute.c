/* The executors: one small state machine per action type. Each step's
 * callback decides the next step; every path ends in finish(). */
#include "execute_private.h"
#include "kiln/arena.h"
#include "kiln/autoscaling.h"
#include "kiln/aws_client.h"
#include "kiln/buf.h"
#include "kiln/ec2.h"
#include "kiln/error.h"
#include "kiln/hash.h"
#include "kiln/imagebuilder.h"
#include "kiln/naming.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct exec {
  struct kiln_aws_client *client;
  const struct kiln_app_spec *spec;
  const char *commit;
  const struct kiln_plan *plan;
  const struct kiln_observed_app *obs;
  struct kiln_bakes *bakes;
  struct kiln_arena *a;
  kiln_execute_cb *cb;
  void *data;
  /* While kiln_execute_start() runs, a failure is returned, not called
   * back: a callback is never synchronous. */
  bool starting;
  bool failed_at_start;
  int start_err;

  /* Bake. */
  size_t component;            /* next component to ensure */
  const char **component_arns; /* per component */
  const char *recipe_arn;
  const char *infra_arn;
  struct kiln_ib_summaries list;
  struct kiln_ib_arn_result made;

  /* Launch template. */
  struct kiln_ec2_launch_template_versions versions;
  struct kiln_ec2_launch_template lt;
  struct kiln_ec2_launch_template_version version;
  struct kiln_asg_refresh_id refresh;
  const char *done_message; /* what the step did, once its last call ends */
};

static void finish(struct exec *e, int err, const struct kiln_aws_response *res,
                   const char *done)
{
  const char *msg;
  if (e->starting) {
    e->failed_at_start = true;
    e->start_err = err != 0 ? err : KILN_EINTERNAL;
    return;
  }
  struct kiln_execute_result r = {0};
  enum kiln_action_type type = e->plan->action.type;

  if (err == 0)
    msg = done;
  else
    msg = kiln_arena_printf(e->a, "%s failed: %s", kiln_plan_action_name(type),
                            res != NULL && res->message != NULL &&
                                    res->message[0] != '\0'
                                ? res->message
                                : kiln_strerror(err));
  r.message = msg != NULL ? msg : "out of memory";
  if (err == 0 && type == KILN_ACTION_LT_SET_DEFAULT) {
    r.lt_id = e->obs->lt_id;
    r.lt_version = e->version.version_number;
  } else if (err == 0 && type == KILN_ACTION_LT_CREATE) {
    r.lt_id = e->lt.id;
    r.lt_version = 1; /* a new template's first version is its default */
  }
  /* A refresh AWS started is running even if a later call of the step
   * (tagging the group) failed. */
  if (type == KILN_ACTION_REFRESH_START)
    r.refresh_id = e->refresh.instance_refresh_id;
  e->cb(err, &r, e->data);
}

/* Starting a call failed. From a call's callback this ends the action
 * through finish(); from kiln_execute_start() itself it becomes its return
 * value. */
#define START(e, call)                                                         \
  do {                                                                         \
    int start_err_ = (call);                                                   \
    if (start_err_ != 0) {                                                     \
      finish((e), start_err_, NULL, NULL);                                     \
      return;                                                                  \
    }                                                                          \
  } while (0)

struct kiln_aws_tag *kiln__execute_tags(struct kiln_arena *a,
                                        const struct kiln_app_spec *spec,
                                        const char *commit, const char *digest,
                                        size_t *n)
{
  const struct kiln_tags *extra = &spec->tags;
  struct kiln_aws_tag *t = kiln_arena_alloc(a, (extra->n + 4) * sizeof(*t));
  size_t k = 0;
  if (t == NULL)
    return NULL;
  for (size_t i = 0; i < extra->n; i++)
    t[k++] = (struct kiln_aws_tag){extra->items[i].key, extra->items[i].value};
  t[k++] = (struct kiln_aws_tag){"kiln:app", kiln_spec_app_name(spec)};
  t[k++] = (struct kiln_aws_tag){"kiln:commit", commit};
  if (digest != NULL)
    t[k++] = (struct kiln_aws_tag){"kiln:digest", digest};
  *n = k;
  return t;
}

static struct kiln_aws_tag *kiln_tags(struct exec *e, bool with_digest,
                                      size_t *n)
{
  return kiln__execute_tags(e->a, e->spec, e->commit,
                            with_digest ? e->plan->digest : NULL, n);
}

/* ---- bake ------------------------------------------------------------- */

static void bake_next(struct exec *e);

static const char *find_version(const struct kiln_ib_summaries *l,
                                const char *version)
{
  /* Component summaries carry the version; recipe and image ARNs end in
   * it. */
  size_t vlen = strlen(version);
  for (size_t i = 0; i < l->count; i++) {
    const struct kiln_ib_summary *s = &l->items[i];
    size_t alen = s->arn != NULL ? strlen(s->arn) : 0;
    if (s->version != NULL && strcmp(s->version, version) == 0)
      return s->arn;
    if (alen > vlen + 1 && s->arn[alen - vlen - 1] == '/' &&
        strcmp(s->arn + alen - vlen, version) == 0)
      return s->arn;
  }
  return NULL;
}

static void on_component_made(int err, const struct kiln_aws_response *res,
                              void *data)
{
  struct exec *e = data;
  if (err != 0)
    return finish(e, err, res, NULL);
  e->component_arns[e->component++] = e->made.arn;
  bake_next(e);
}

static void on_components_listed(int err, const struct kiln_aws_response *res,
                                 void *data)
{
  struct exec *e = data;
  const struct kiln_component_spec *c =
      &e->spec->image.components[e->component];
  char name[128], sha[65], version[32];
  const char *arn;

  if (err != 0)
    return finish(e, err, res, NULL);
  kiln_sha256_hex(c->document, c->document_len, sha);
  kiln_naming_version(sha, version);
  if ((arn = find_version(&e->list, version)) != NULL) {
    e->component_arns[e->component++] = arn;
    return bake_next(e);
  }
  kiln_naming_component(e->spec, e->component, name, sizeof(name));
  size_t n_tags;
  struct kiln_aws_tag *tags = kiln_tags(e, false, &n_tags);
  START(e, kiln_ib_create_component(e->client,
                                    &(struct kiln_ib_create_component_request){
                                        .name = name,
                                        .semantic_version = version,
                                        .data = c->document,
                                        .description = c->file,
                                        .tags = tags,
                                        .tag_count = tags != NULL ? n_tags : 0,
                                        .client_token = "component",
                                        .derive_token = 1},
                                    e->a, &e->made, on_component_made, e));
}

static void on_image_made(int err, const struct kiln_aws_response *res,
                          void *data)
{
  struct exec *e = data;
  if (err != 0)
    return finish(e, err, res, NULL);
  if (kiln_bakes_put(e->bakes, e->plan->digest, e->made.arn) != 0)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  finish(e, 0, res,
         kiln_arena_printf(e->a, "started bake %s of image %.12s", e->made.arn,
                           e->plan->digest));
}

static void create_image(struct exec *e)
{
  size_t n_tags, k = 0;
  struct kiln_aws_tag *tags = kiln_tags(e, true, &n_tags);
  /* The token is derived from the request (the app's recipe and
   * infrastructure, the tags), so the request carries no commit: a later
   * commit with the same image inputs, in any process, gets the bake
   * already under way instead of a second one. The AMI gets kiln:commit
   * when it is tagged. */
  for (size_t i = 0; tags != NULL && i < n_tags; i++)
    if (strcmp(tags[i].key, "kiln:commit") != 0)
      tags[k++] = tags[i];
  /* A re-bake after the AMI was deleted needs a token of its own, or
   * Image Builder would hand back the earlier, now useless, build. */
  const char *key = e->plan->action.rebake_of != NULL
                        ? kiln_arena_printf(e->a, "image rebake of %s",
                                            e->plan->action.rebake_of)
                        : "image";
  if (key == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  START(e, kiln_ib_create_image(
               e->client,
               &(struct kiln_ib_create_image_request){
                   .image_recipe_arn = e->recipe_arn,
                   .infrastructure_configuration_arn = e->infra_arn,
                   .tags = tags,
                   .tag_count = k,
                   .client_token = key,
                   .derive_token = 1},
               e->a, &e->made, on_image_made, e));
}

static void on_infra_made(int err, const struct kiln_aws_response *res,
                          void *data)
{
  struct exec *e = data;
  if (err != 0)
    return finish(e, err, res, NULL);
  e->infra_arn = e->made.arn;
  create_image(e);
}

static void on_infra_listed(int err, const struct kiln_aws_response *res,
                            void *data)
{
  struct exec *e = data;
  const struct kiln_build_spec *b = &e->spec->image.build;
  char name[128];
  struct kiln_ib_infrastructure_configuration_request req = {
      .instance_types = b->instance_types.items,
      .instance_type_count = b->instance_types.n,
      .instance_profile_name = b->instance_profile,
      .subnet_id = b->subnet,
      .security_group_ids = b->security_groups.items,
      .security_group_id_count = b->security_groups.n,
      .terminate_instance_on_failure = {1, 1},
      .client_token = "infrastructure",
      .derive_token = 1,
  };

  if (err != 0)
    return finish(e, err, res, NULL);
  kiln_naming_recipe(e->spec, name, sizeof(name));
  for (size_t i = 0; i < e->list.count; i++)
    if (e->list.items[i].name != NULL &&
        strcmp(e->list.items[i].name, name) == 0) {
      req.arn = e->list.items[i].arn;
      START(e, kiln_ib_update_infrastructure_configuration(
                   e->client, &req, e->a, &e->made, on_infra_made, e));
      return;
    }
  size_t n_tags;
  req.name = name;
  req.tags = kiln_tags(e, false, &n_tags);
  req.tag_count = req.tags != NULL ? n_tags : 0;
  START(e, kiln_ib_create_infrastructure_configuration(
               e->client, &req, e->a, &e->made, on_infra_made, e));
}

static void ensure_infrastructure(struct exec *e)
{
  static const char *names[1];
  char name[128];
  kiln_naming_recipe(e->spec, name, sizeof(name));
  names[0] = kiln_arena_strdup(e->a, name);
  struct kiln_ib_filter f = {"name", names, 1};
  START(e, kiln_ib_list_infrastructure_configurations(
               e->client,
               &(struct kiln_ib_list_request){.filters = &f, .filter_count = 1},
               e->a, &e->list, on_infra_listed, e));
}

static void on_recipe_made(int err, const struct kiln_aws_response *res,
                           void *data)
{
  struct exec *e = data;
  if (err != 0)
    return finish(e, err, res, NULL);
  e->recipe_arn = e->made.arn;
  ensure_infrastructure(e);
}

static struct kiln_ib_recipe_component *recipe_components(struct exec *e)
{
  const struct kiln_image_spec *im = &e->spec->image;
  struct kiln_ib_recipe_component *rc =
      kiln_arena_alloc(e->a, (im->n_components + 1) * sizeof(*rc));
  for (size_t i = 0; rc != NULL && i < im->n_components; i++) {
    const struct kiln_component_spec *c = &im->components[i];
    rc[i].component_arn = e->component_arns[i];
    rc[i].parameter_count = c->n_params;
    rc[i].parameters =
        kiln_arena_alloc(e->a, (c->n_params + 1) * sizeof(*rc[i].parameters));
    if (rc[i].parameters == NULL)
      return NULL;
    for (size_t j = 0; j < c->n_params; j++)
      rc[i].parameters[j] = (struct kiln_ib_component_parameter){
          c->params[j].name, c->params[j].values.items, c->params[j].values.n};
  }
  return rc;
}

static void on_recipes_listed(int err, const struct kiln_aws_response *res,
                              void *data)
{
  struct exec *e = data;
  char name[128], version[32];
  const char *arn;

  if (err != 0)
    return finish(e, err, res, NULL);
  kiln_naming_version(e->plan->digest, version);
  if ((arn = find_version(&e->list, version)) != NULL) {
    e->recipe_arn = arn;
    return ensure_infrastructure(e);
  }
  kiln_naming_recipe(e->spec, name, sizeof(name));
  size_t n_tags;
  struct kiln_aws_tag *tags = kiln_tags(e, true, &n_tags);
  struct kiln_ib_recipe_component *rc = recipe_components(e);
  if (rc == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  START(e, kiln_ib_create_image_recipe(
               e->client,
               &(struct kiln_ib_create_image_recipe_request){
                   .name = name,
                   .semantic_version = version,
                   .parent_image = e->obs->parent_ami,
                   .description =
                       kiln_arena_printf(e->a, "kiln image %.12s of %s",
                                         e->plan->digest,
                                         kiln_spec_app_name(e->spec)),
                   .components = rc,
                   .component_count = e->spec->image.n_components,
                   .tags = tags,
                   .tag_count = tags != NULL ? n_tags : 0,
                   .client_token = "recipe",
                   .derive_token = 1},
               e->a, &e->made, on_recipe_made, e));
}

/* Components first (in order), then the recipe, the infrastructure
 * configuration and the image. */
static void bake_next(struct exec *e)
{
  const struct kiln_image_spec *im = &e->spec->image;
  static const char *self = "Self";
  const char **names = kiln_arena_alloc(e->a, sizeof(char *));
  char name[128];

  if (names == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  while (e->component < im->n_components &&
         im->components[e->component].arn != NULL) {
    e->component_arns[e->component] = im->components[e->component].arn;
    e->component++;
  }
  if (e->component < im->n_components) {
    kiln_naming_component(e->spec, e->component, name, sizeof(name));
    names[0] = kiln_arena_strdup(e->a, name);
    struct kiln_ib_filter *f = kiln_arena_alloc(e->a, sizeof(*f));
    if (f == NULL || names[0] == NULL)
      return finish(e, KILN_ENOMEM, NULL, NULL);
    *f = (struct kiln_ib_filter){"name", names, 1};
    START(e, kiln_ib_list_components(
                 e->client,
                 &(struct kiln_ib_list_request){
                     .owner = self, .filters = f, .filter_count = 1},
                 e->a, &e->list, on_components_listed, e));
    return;
  }
  kiln_naming_recipe(e->spec, name, sizeof(name));
  names[0] = kiln_arena_strdup(e->a, name);
  struct kiln_ib_filter *f = kiln_arena_alloc(e->a, sizeof(*f));
  if (f == NULL || names[0] == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  *f = (struct kiln_ib_filter){"name", names, 1};
  START(e, kiln_ib_list_image_recipes(
               e->client,
               &(struct kiln_ib_list_request){
                   .owner = self, .filters = f, .filter_count = 1},
               e->a, &e->list, on_recipes_listed, e));
}

/* ---- tag image ---------------------------------------------------------- */

static void on_tagged(int err, const struct kiln_aws_response *res, void *data)
{
  struct exec *e = data;
  finish(e, err, res,
         kiln_arena_printf(e->a, "tagged AMI %s as image %.12s",
                           e->plan->action.ami_id, e->plan->digest));
}

static void tag_image(struct exec *e)
{
  size_t n_tags;
  struct kiln_aws_tag *tags = kiln_tags(e, true, &n_tags);
  const char **ids = kiln_arena_alloc(e->a, sizeof(char *));
  if (tags == NULL || ids == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  ids[0] = e->plan->action.ami_id;
  START(e, kiln_ec2_create_tags(
               e->client,
               &(struct kiln_ec2_create_tags_request){.resource_ids = ids,
                                                      .resource_id_count = 1,
                                                      .tags = tags,
                                                      .tag_count = n_tags},
               on_tagged, e));
}

/* ---- launch template ---- */

static int to_aws_data(struct exec *e, const struct kiln_lt_data *d,
                       struct kiln_ec2_launch_template_data *out)
{
  memset(out, 0, sizeof(*out));
  out->image_id = d->image_id;
  out->instance_type = d->instance_type;
  out->user_data = d->user_data_b64;
  out->security_group_ids = d->security_groups.items;
  out->security_group_id_count = d->security_groups.n;
  if (d->instance_profile != NULL &&
      strncmp(d->instance_profile, "arn:", 4) == 0)
    out->iam_instance_profile_arn = d->instance_profile;
  else
    out->iam_instance_profile_name = d->instance_profile;
  out->http_tokens = d->http_tokens;
  out->http_endpoint = d->http_endpoint;
  out->http_put_response_hop_limit =
      (struct kiln_aws_opt_int){d->http_hop_limit != 0, d->http_hop_limit};
  out->block_devices =
      kiln_arena_alloc(e->a, (d->n_bdevs + 1) * sizeof(*out->block_devices));
  out->tag_specs = kiln_arena_alloc(e->a, sizeof(*out->tag_specs));
  if (out->block_devices == NULL || out->tag_specs == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < d->n_bdevs; i++) {
    const struct kiln_lt_bdev *b = &d->bdevs[i];
    out->block_devices[i] = (struct kiln_ec2_block_device){
        .device_name = b->device,
        .has_ebs = 1,
        .volume_size_gib = {1, b->size_gib},
        .volume_type = b->type,
        .encrypted = {1, b->encrypted},
        .delete_on_termination = {1, b->delete_on_termination},
        .iops = {b->iops != 0, b->iops},
        .throughput = {b->throughput != 0, b->throughput},
    };
  }
  out->block_device_count = d->n_bdevs;
  if (d->instance_tags.n > 0) {
    struct kiln_aws_tag *t =
        kiln_arena_alloc(e->a, d->instance_tags.n * sizeof(*t));
    if (t == NULL)
      return KILN_ENOMEM;
    for (size_t i = 0; i < d->instance_tags.n; i++)
      t[i] = (struct kiln_aws_tag){d->instance_tags.items[i].key,
                                   d->instance_tags.items[i].value};
    out->tag_specs[0] =
        (struct kiln_ec2_tag_spec){"instance", t, d->instance_tags.n};
    out->tag_spec_count = 1;
  }
  return 0;
}

static const char *lt_description(struct exec *e)
{
  char d[160];
  kiln_naming_lt_description(e->commit, e->plan->digest, d, sizeof(d));
  return kiln_arena_strdup(e->a, d);
}

static void on_lt_created(int err, const struct kiln_aws_response *res,
                          void *data)
{
  struct exec *e = data;
  finish(e, err, res,
         kiln_arena_printf(e->a, "created launch template %s (%s)",
                           e->spec->launch_template.name, e->lt.id));
}

static void lt_create(struct exec *e)
{
  struct kiln_ec2_create_launch_template_request req = {
      .name = e->spec->launch_template.name,
      .version_description = lt_description(e),
  };
  size_t n_tags;
  if (to_aws_data(e, e->plan->action.lt_data, &req.data) != 0)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  req.client_token = "launch-template";
  req.derive_token = 1;
  req.tags = kiln_tags(e, false, &n_tags);
  if (req.tags == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  /* kiln_tags() leaves room for one more. */
  req.tags[n_tags++] = (struct kiln_aws_tag){"kiln:version", "1"};
  req.tag_count = n_tags;
  START(e, kiln_ec2_create_launch_template(e->client, &req, e->a, &e->lt,
                                           on_lt_created, e));
}

static void on_default_tagged(int err, const struct kiln_aws_response *res,
                              void *data)
{
  struct exec *e = data;
  finish(e, err, res,
         kiln_arena_printf(e->a, "made version %lld the default of %s",
                           (long long)e->version.version_number,
                           e->spec->launch_template.name));
}

/* The template remembers which default Kiln set (kiln:version) and for
 * which commit, so a default flipped by hand shows as out-of-band drift. */
static void on_default_set(int err, const struct kiln_aws_response *res,
                           void *data)
{
  struct exec *e = data;
  const char **ids = kiln_arena_alloc(e->a, sizeof(char *));
  struct kiln_aws_tag *tags = kiln_arena_alloc(e->a, 2 * sizeof(*tags));
  if (err != 0)
    return finish(e, err, res, NULL);
  if (ids == NULL || tags == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  ids[0] = e->obs->lt_id;
  tags[0] = (struct kiln_aws_tag){
      "kiln:version",
      kiln_arena_printf(e->a, "%lld", (long long)e->version.version_number)};
  tags[1] = (struct kiln_aws_tag){"kiln:commit", e->commit};
  START(e, kiln_ec2_create_tags(
               e->client,
               &(struct kiln_ec2_create_tags_request){.resource_ids = ids,
                                                      .resource_id_count = 1,
                                                      .tags = tags,
                                                      .tag_count = 2},
               on_default_tagged, e));
}

static void set_default(struct exec *e)
{
  char v[32];
  snprintf(v, sizeof(v), "%lld", (long long)e->version.version_number);
  START(e, kiln_ec2_modify_launch_template(
               e->client,
               &(struct kiln_ec2_modify_launch_template_request){
                   .launch_template_id = e->obs->lt_id,
                   .default_version = kiln_arena_strdup(e->a, v)},
               e->a, &e->lt, on_default_set, e));
}

static void on_version_created(int err, const struct kiln_aws_response *res,
                               void *data)
{
  struct exec *e = data;
  if (err != 0)
    return finish(e, err, res, NULL);
  set_default(e);
}

static void on_versions_listed(int err, const struct kiln_aws_response *res,
                               void *data)
{
  struct exec *e = data;
  const struct kiln_lt_data *want = e->plan->action.lt_data;
  struct kiln_ec2_create_launch_template_version_request req = {
      .launch_template_id = e->obs->lt_id,
      .version_description = lt_description(e),
  };

  if (err != 0)
    return finish(e, err, res, NULL);
  /* An existing version with the desired data (a revert) is reused. The
   * newest match wins. */
  for (size_t i = 0; i < e->versions.count; i++) {
    const struct kiln_ec2_launch_template_version *v = &e->versions.versions[i];
    struct kiln_lt_data have;
    struct kiln_drift *drift = NULL;
    size_t n = 0;
    if (kiln_observe_lt_data(e->a, &v->data, &have) != 0 ||
        kiln_plan_lt_diff(want, &have, KILN_CAUSE_COMMIT, e->a, &drift, &n) !=
            0)
      return finish(e, KILN_ENOMEM, NULL, NULL);
    if (n == 0 && v->version_number > e->version.version_number)
      e->version = *v;
  }
  if (e->version.version_number != 0)
    return set_default(e);
  if (to_aws_data(e, want, &req.data) != 0)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  req.client_token = "launch-template-version";
  req.derive_token = 1;
  START(e, kiln_ec2_create_launch_template_version(
               e->client, &req, e->a, &e->version, on_version_created, e));
}

static void lt_set_default(struct exec *e)
{
  START(e, kiln_ec2_describe_launch_template_versions(
               e->client,
               &(struct kiln_ec2_describe_launch_template_versions_request){
                   .launch_template_id = e->obs->lt_id},
               e->a, &e->versions, on_versions_listed, e));
}

/* ---- group and refresh ---- */

static const char *version_str(struct exec *e)
{
  return kiln_arena_printf(e->a, "%lld", (long long)e->plan->action.lt_version);
}

static void on_group_tagged(int err, const struct kiln_aws_response *res,
                            void *data)
{
  struct exec *e = data;
  finish(e, err, res, e->done_message);
}

/* Writes the group's bookkeeping tags, with, when with_commit, git's tags
 * (the plan's group_tags), once Kiln's own tags that git removed are
 * deleted. */
static void write_group_tags(struct exec *e, bool with_commit)
{
  const struct kiln_tags *set = &e->plan->group_tags.set;
  struct kiln_asg_tag *t = kiln_arena_alloc(e->a, (set->n + 2) * sizeof(*t));
  size_t n = 0;
  if (t == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  if (with_commit) {
    t[n++] = (struct kiln_asg_tag){"kiln:commit", e->commit, 0};
    /* As the group was created with them: instances carry git's tags. */
    for (size_t i = 0; i < set->n; i++)
      t[n++] = (struct kiln_asg_tag){set->items[i].key, set->items[i].value, 1};
  }
  if (e->plan->action.lt_version > 0)
    t[n++] = (struct kiln_asg_tag){"kiln:version", version_str(e), 0};
  if (n == 0)
    return finish(e, 0, NULL, e->done_message);
  START(e, kiln_asg_create_or_update_tags(
               e->client,
               &(struct kiln_asg_create_or_update_tags_request){
                   .group_name = e->spec->autoscaling.name,
                   .tags = t,
                   .tag_count = n},
               on_group_tagged, e));
}

static void on_group_tags_deleted(int err, const struct kiln_aws_response *res,
                                  void *data)
{
  struct exec *e = data;
  if (err != 0)
    return finish(e, err, res, NULL);
  write_group_tags(e, true);
}

/* The group remembers the commit Kiln last applied to it (kiln:commit):
 * the baseline that tells git's changes from changes made by hand, and the
 * commit whose tags it carries (they are written with it, so a tag git
 * removes can be told to be Kiln's); and the launch template version Kiln
 * last sent it to (kiln:version): a group whose tag is not the template's
 * default may have a refresh under way that no instance shows yet, so
 * observe looks. A cancel records only the version: the release it stopped
 * was not this commit's. */
static void tag_group(struct exec *e, const char *done, bool with_commit)
{
  const struct kiln_strs *remove = &e->plan->group_tags.remove;
  e->done_message = done;
  if (!with_commit || remove->n == 0)
    return write_group_tags(e, with_commit);
  START(e, kiln_asg_delete_tags(e->client,
                                &(struct kiln_asg_delete_tags_request){
                                    .group_name = e->spec->autoscaling.name,
                                    .keys = remove->items,
                                    .key_count = remove->n},
                                on_group_tags_deleted, e));
}

/* "capacity, subnets, launch template version": what an update set. */
static const char *updated_text(struct exec *e)
{
  const struct kiln_action *a = &e->plan->action;
  const char *parts[5], *out = "";
  size_t n = 0;

  if (a->set_capacity)
    parts[n++] = "capacity";
  if (a->set_subnets)
    parts[n++] = "subnets";
  if (a->set_health)
    parts[n++] = "health checks";
  if (a->set_target_groups)
    parts[n++] = "target groups";
  if (a->set_lt_version)
    parts[n++] = "launch template version";
  for (size_t i = 0; i < n && out != NULL; i++)
    out = kiln_arena_printf(e->a, "%s%s%s", out, i > 0 ? ", " : "", parts[i]);
  return out != NULL ? out : "?";
}

static void on_group_done(int err, const struct kiln_aws_response *res,
                          void *data)
{
  struct exec *e = data;
  const struct kiln_action *a = &e->plan->action;
  const char *what =
      a->type == KILN_ACTION_ASG_CREATE
          ? kiln_arena_printf(e->a,
                              "created group %s on launch template "
                              "version %lld",
                              e->spec->autoscaling.name,
                              (long long)a->lt_version)
          : kiln_arena_printf(e->a, "updated group %s (%s)",
                              e->spec->autoscaling.name, updated_text(e));
  if (err != 0 || a->type == KILN_ACTION_ASG_CREATE)
    return finish(e, err, res, what);
  tag_group(e, what, true);
}

static const char *joined_subnets(struct exec *e)
{
  struct kiln_buf b;
  const char *out;
  kiln_buf_init(&b, 0);
  for (size_t i = 0; i < e->spec->autoscaling.subnets.n; i++)
    kiln_buf_printf(&b, "%s%s", i > 0 ? "," : "",
                    e->spec->autoscaling.subnets.items[i]);
  out = kiln_arena_strdup(e->a, b.data != NULL ? b.data : "");
  kiln_buf_cleanup(&b);
  return out;
}

static void asg_create(struct exec *e)
{
  const struct kiln_asg_spec *g = &e->spec->autoscaling;
  size_t n_tags;
  struct kiln_aws_tag *tags = kiln_tags(e, false, &n_tags);
  struct kiln_asg_tag *asg_tags =
      kiln_arena_alloc(e->a, (n_tags + 1) * sizeof(*asg_tags));
  if (tags == NULL || asg_tags == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  for (size_t i = 0; i < n_tags; i++)
    asg_tags[i] = (struct kiln_asg_tag){tags[i].key, tags[i].value,
                                        strncmp(tags[i].key, "kiln:", 5) != 0};
  asg_tags[n_tags++] = (struct kiln_asg_tag){"kiln:version", version_str(e), 0};
  START(e, kiln_asg_create_group(
               e->client,
               &(struct kiln_asg_create_group_request){
                   .name = g->name,
                   .launch_template = {.id = e->obs->lt_id,
                                       .version = version_str(e)},
                   .min_size = g->min,
                   .max_size = g->max,
                   .desired_capacity = {g->has_desired, g->desired},
                   .vpc_zone_identifier = joined_subnets(e),
                   .tags = asg_tags,
                   .tag_count = n_tags,
                   .target_group_arns = g->target_groups.items,
                   .target_group_count = g->target_groups.n,
                   .health_check_type = g->health_check_type,
                   .health_check_grace_period_s = {g->has_grace,
                                                   g->grace_seconds}},
               on_group_done, e));
}

/* The target groups in want and not in have, into out (arena). */
static size_t missing_from(struct exec *e, const struct kiln_strs *want,
                           const struct kiln_strs *have, const char ***out)
{
  size_t n = 0;
  *out = kiln_arena_alloc(e->a, (want->n + 1) * sizeof(char *));
  for (size_t i = 0; *out != NULL && i < want->n; i++) {
    bool found = false;
    for (size_t j = 0; j < have->n && !found; j++)
      found = strcmp(want->items[i], have->items[j]) == 0;
    if (!found)
      (*out)[n++] = want->items[i];
  }
  return n;
}

static void on_target_groups_detached(int err,
                                      const struct kiln_aws_response *res,
                                      void *data)
{
  on_group_done(err, res, data);
}

/* Detaches the target groups git no longer lists (after attaching the new
 * ones, so the group never stands without its load balancer). */
static void detach_extra(struct exec *e)
{
  const char **extra;
  size_t n = missing_from(e, &e->obs->asg_target_groups,
                          &e->spec->autoscaling.target_groups, &extra);
  if (extra == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  if (n == 0)
    return on_group_done(0, NULL, e);
  START(e, kiln_asg_detach_target_groups(
               e->client,
               &(struct kiln_asg_target_groups_request){
                   .group_name = e->spec->autoscaling.name,
                   .arns = extra,
                   .count = n},
               on_target_groups_detached, e));
}

static void on_target_groups_attached(int err,
                                      const struct kiln_aws_response *res,
                                      void *data)
{
  struct exec *e = data;
  if (err != 0)
    return finish(e, err, res, "could not attach the target groups");
  detach_extra(e);
}

static void set_target_groups(struct exec *e)
{
  const char **add;
  size_t n = missing_from(e, &e->spec->autoscaling.target_groups,
                          &e->obs->asg_target_groups, &add);
  if (add == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  if (n == 0)
    return detach_extra(e);
  START(
      e,
      kiln_asg_attach_target_groups(
          e->client,
          &(struct kiln_asg_target_groups_request){
              .group_name = e->spec->autoscaling.name, .arns = add, .count = n},
          on_target_groups_attached, e));
}

static void on_group_updated(int err, const struct kiln_aws_response *res,
                             void *data)
{
  struct exec *e = data;
  if (err != 0 || !e->plan->action.set_target_groups)
    return on_group_done(err, res, data);
  set_target_groups(e);
}

static void asg_update(struct exec *e)
{
  const struct kiln_asg_spec *g = &e->spec->autoscaling;
  const struct kiln_action *a = &e->plan->action;
  struct kiln_asg_update_group_request req = {.name = g->name};
  if (!a->set_capacity && !a->set_subnets && !a->set_lt_version &&
      !a->set_health)
    return set_target_groups(e); /* nothing for UpdateAutoScalingGroup */
  if (a->set_health) {
    req.health_check_type = g->health_check_type;
    req.health_check_grace_period_s =
        (struct kiln_aws_opt_int){g->has_grace, g->grace_seconds};
  }
  if (a->set_capacity) {
    req.min_size = (struct kiln_aws_opt_int){1, g->min};
    req.max_size = (struct kiln_aws_opt_int){1, g->max};
    req.desired_capacity =
        (struct kiln_aws_opt_int){g->has_desired, g->desired};
  }
  if (a->set_subnets)
    req.vpc_zone_identifier = joined_subnets(e);
  if (a->set_lt_version)
    req.launch_template = (struct kiln_asg_launch_template){
        .id = e->obs->lt_id, .version = version_str(e)};
  START(e, kiln_asg_update_group(e->client, &req, on_group_updated, e));
}

static void on_refresh(int err, const struct kiln_aws_response *res, void *data)
{
  struct exec *e = data;
  bool start = e->plan->action.type == KILN_ACTION_REFRESH_START;
  const char *what = kiln_arena_printf(
      e->a, "%s instance refresh %s", start ? "started" : "cancelled",
      e->refresh.instance_refresh_id != NULL ? e->refresh.instance_refresh_id
                                             : "?");
  if (err != 0)
    return finish(e, err, res, what);
  tag_group(e, what, start);
}

/* The refresh's preferences from the spec's rollout. AWS replaces only up
 * to the last checkpoint, so 100 closes the list when the spec's ends
 * lower: a release always reaches the whole group. */
static int refresh_preferences(struct exec *e,
                               struct kiln_asg_refresh_preferences *p)
{
  const struct kiln_rollout_spec *r = &e->spec->rollout;
  size_t n = r->n_checkpoints;
  int64_t *cp = NULL;

  if (n > 0) {
    cp = kiln_arena_alloc(e->a, (n + 1) * sizeof(*cp));
    if (cp == NULL)
      return KILN_ENOMEM;
    memcpy(cp, r->checkpoints, n * sizeof(*cp));
    if (cp[n - 1] < 100)
      cp[n++] = 100;
  }
  *p = (struct kiln_asg_refresh_preferences){
      .min_healthy_percentage = {1, r->min_healthy_percent},
      .max_healthy_percentage = {1, r->max_healthy_percent},
      .instance_warmup_s = {1, r->warmup_seconds},
      .skip_matching = {1, r->skip_matching},
      .auto_rollback = {1, r->auto_rollback},
      .alarms = r->alarms.items,
      .alarm_count = r->alarms.n,
      .checkpoints = cp,
      .checkpoint_count = n,
      .checkpoint_delay_s = {r->has_checkpoint_delay,
                             r->checkpoint_delay_seconds},
      .bake_time_s = {r->has_bake_time, r->bake_time_seconds},
  };
  return 0;
}

static void refresh_start_now(struct exec *e)
{
  struct kiln_asg_refresh_preferences prefs;
  if (refresh_preferences(e, &prefs) != 0)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  START(e, kiln_asg_start_instance_refresh(
               e->client,
               &(struct kiln_asg_start_instance_refresh_request){
                   .group_name = e->spec->autoscaling.name,
                   .desired_launch_template = {.id = e->obs->lt_id,
                                               .version = version_str(e)},
                   .preferences = prefs},
               e->a, &e->refresh, on_refresh, e));
}

static void on_intent_tagged(int err, const struct kiln_aws_response *res,
                             void *data)
{
  struct exec *e = data;
  if (err != 0)
    return finish(e, err, res,
                  kiln_arena_printf(e->a,
                                    "could not mark group %s with the version "
                                    "it is sent to; no refresh started",
                                    e->spec->autoscaling.name));
  refresh_start_now(e);
}

/* The group is marked with the version it is sent to (kiln:version)
 * before the refresh starts, not after: killed between the two calls,
 * Kiln would otherwise leave a refresh that no mark and no instance shows,
 * and a later pass planning a revert would not know to look for it. A
 * mark whose refresh never started costs a look per pass until the
 * bookkeeping step sets it right. */
static void refresh_start(struct exec *e)
{
  struct kiln_asg_tag *t = kiln_arena_alloc(e->a, sizeof(*t));
  if (t == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  *t = (struct kiln_asg_tag){"kiln:version", version_str(e), 0};
  START(e, kiln_asg_create_or_update_tags(
               e->client,
               &(struct kiln_asg_create_or_update_tags_request){
                   .group_name = e->spec->autoscaling.name,
                   .tags = t,
                   .tag_count = 1},
               on_intent_tagged, e));
}

static void refresh_cancel(struct exec *e)
{
  START(e, kiln_asg_cancel_instance_refresh(
               e->client,
               &(struct kiln_asg_cancel_instance_refresh_request){
                   .group_name = e->spec->autoscaling.name},
               e->a, &e->refresh, on_refresh, e));
}

/* ---- the launch template resource's own tags ---- */

static const char *lt_tags_message(struct exec *e)
{
  return kiln_arena_printf(e->a, "set the tags of launch template %s from git",
                           e->spec->launch_template.name);
}

static void on_lt_tags_deleted(int err, const struct kiln_aws_response *res,
                               void *data)
{
  struct exec *e = data;
  finish(e, err, res, lt_tags_message(e));
}

static void lt_tags_delete(struct exec *e)
{
  const struct kiln_strs *remove = &e->plan->lt_tags.remove;
  if (remove->n == 0)
    return finish(e, 0, NULL, lt_tags_message(e));
  START(e,
        kiln_ec2_delete_tags(e->client,
                             &(struct kiln_ec2_delete_tags_request){
                                 .resource_ids = (const char **)&e->obs->lt_id,
                                 .resource_id_count = 1,
                                 .keys = remove->items,
                                 .key_count = remove->n},
                             on_lt_tags_deleted, e));
}

static void on_lt_tags_set(int err, const struct kiln_aws_response *res,
                           void *data)
{
  struct exec *e = data;
  if (err != 0)
    return finish(e, err, res, NULL);
  lt_tags_delete(e);
}

/* Git's tags first, then the ones git removed that are still Kiln's. */
static void lt_tags_set(struct exec *e)
{
  const struct kiln_tags *set = &e->plan->lt_tags.set;
  struct kiln_aws_tag *t;

  if (set->n == 0)
    return lt_tags_delete(e);
  t = kiln_arena_alloc(e->a, set->n * sizeof(*t));
  if (t == NULL)
    return finish(e, KILN_ENOMEM, NULL, NULL);
  for (size_t i = 0; i < set->n; i++)
    t[i] = (struct kiln_aws_tag){set->items[i].key, set->items[i].value};
  START(e,
        kiln_ec2_create_tags(e->client,
                             &(struct kiln_ec2_create_tags_request){
                                 .resource_ids = (const char **)&e->obs->lt_id,
                                 .resource_id_count = 1,
                                 .tags = t,
                                 .tag_count = set->n},
                             on_lt_tags_set, e));
}

/* ---- entry ---- */

int kiln_execute_start(struct kiln_aws_client *client,
                       struct kiln_aws_client *home_client,
                       const struct kiln_app_spec *spec, const char *commit,
                       const struct kiln_plan *plan,
                       const struct kiln_observed_app *obs,
                       struct kiln_bakes *bakes, struct kiln_arena *arena,
                       kiln_execute_cb *cb, void *data)
{
  struct exec *e;
  if (!plan->mutates)
    return KILN_EINVAL;
  if (plan->action.type == KILN_ACTION_COPY_IMAGE)
    return kiln__execute_copy_start(client, home_client, spec, commit, plan,
                                    arena, cb, data);
  e = kiln_arena_alloc(arena, sizeof(*e));
  if (e == NULL)
    return KILN_ENOMEM;
  *e = (struct exec){.client = client,
                     .spec = spec,
                     .commit = commit,
                     .plan = plan,
                     .obs = obs,
                     .bakes = bakes,
                     .a = arena,
                     .cb = cb,
                     .data = data};
  e->component_arns =
      kiln_arena_alloc(arena, (spec->image.n_components + 1) * sizeof(char *));
  if (e->component_arns == NULL)
    return KILN_ENOMEM;
  e->starting = true;
  switch (plan->action.type) {
  case KILN_ACTION_BAKE:
    bake_next(e);
    break;
  case KILN_ACTION_TAG_IMAGE:
    tag_image(e);
    break;
  case KILN_ACTION_LT_CREATE:
    lt_create(e);
    break;
  case KILN_ACTION_LT_SET_DEFAULT:
    lt_set_default(e);
    break;
  case KILN_ACTION_ASG_CREATE:
    asg_create(e);
    break;
  case KILN_ACTION_ASG_UPDATE:
    asg_update(e);
    break;
  case KILN_ACTION_REFRESH_START:
    refresh_start(e);
    break;
  case KILN_ACTION_REFRESH_CANCEL:
    refresh_cancel(e);
    break;
  case KILN_ACTION_TAG_GROUP:
    tag_group(e,
              kiln_arena_printf(e->a, "recorded version %lld on group %s",
                                (long long)plan->action.lt_version,
                                spec->autoscaling.name),
              false);
    break;
  case KILN_ACTION_LT_TAGS:
    lt_tags_set(e);
    break;
  case KILN_ACTION_GROUP_TAGS:
    tag_group(e,
              kiln_arena_printf(e->a, "set the tags of group %s from git",
                                spec->autoscaling.name),
              true);
    break;
  default:
    return KILN_EINVAL;
  }
  e->starting = false;
  return e->failed_at_start ? e->start_err : 0;
}
