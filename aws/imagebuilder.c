/* EC2 Image Builder over REST-JSON. Creates are PUT /CreateX with a JSON
 * body, lists POST /ListX (paginated by nextToken in the body), gets GET
 * /GetX?arn=... . Members are camelCase.
 */
#include "aws_ops_private.h"

#include "kiln/error.h"
#include "kiln/sigv4.h"

#include <json-c/json.h>
#include <string.h>

static void add_tags(int *err, struct json_object *o, const char *key,
                     const struct kiln_aws_tag *tags, size_t n)
{
  if (n > 0)
    kiln__json_add_map(err, o, key, tags, n);
}

/* ---- results ---- */

static int parse_arn(struct kiln__px *px, void *out,
                     const struct kiln_aws_response *res, const char *member)
{
  struct kiln_ib_arn_result *o = out;

  o->arn = kiln__json_str(px, res->json, member);
  o->client_token = kiln__json_str(px, res->json, "clientToken");
  o->request_id = kiln__json_str(px, res->json, "requestId");
  if (o->arn == NULL && px->err == 0)
    px->err = KILN_EPARSE;
  return px->err;
}

static int parse_component_arn(struct kiln__px *px, void *out,
                               const struct kiln_aws_response *res,
                               const char **next)
{
  (void)next;
  return parse_arn(px, out, res, "componentBuildVersionArn");
}

static int parse_recipe_arn(struct kiln__px *px, void *out,
                            const struct kiln_aws_response *res,
                            const char **next)
{
  (void)next;
  return parse_arn(px, out, res, "imageRecipeArn");
}

static int parse_infra_arn(struct kiln__px *px, void *out,
                           const struct kiln_aws_response *res,
                           const char **next)
{
  (void)next;
  return parse_arn(px, out, res, "infrastructureConfigurationArn");
}

static int parse_image_arn(struct kiln__px *px, void *out,
                           const struct kiln_aws_response *res,
                           const char **next)
{
  (void)next;
  return parse_arn(px, out, res, "imageBuildVersionArn");
}

/* ---- List* ---- */

static int list_body(const struct kiln_ib_list_request *r,
                     struct kiln__op_body *b)
{
  int err = 0;
  struct json_object *fs = NULL;

  kiln__op_body_init(b);
  b->json = kiln__json_obj(&err);
  kiln__json_add_str(&err, b->json, "owner", r->owner);
  if (r->filter_count > 0 && err == 0) {
    fs = json_object_new_array();
    for (size_t i = 0; fs != NULL && err == 0 && i < r->filter_count; i++) {
      struct json_object *f = kiln__json_obj(&err);

      kiln__json_add_str(&err, f, "name", r->filters[i].name);
      kiln__json_add_strs(&err, f, "values", r->filters[i].values,
                          r->filters[i].value_count);
      if (err != 0 || json_object_array_add(fs, f) != 0) {
        json_object_put(f);
        err = KILN_ENOMEM;
      }
    }
    kiln__json_add(&err, b->json, "filters", fs);
  }
  if (r->max_results > 0)
    kiln__json_add_i64(&err, b->json, "maxResults", r->max_results);
  return b->query.err = err;
}

static int parse_list(struct kiln__px *px, void *out,
                      const struct kiln_aws_response *res, const char **next,
                      const char *member)
{
  struct kiln_ib_summaries *o = out;
  struct json_object *a = kiln__json_get(res->json, member);

  if (a == NULL || !json_object_is_type(a, json_type_array))
    return KILN_EPARSE;
  for (size_t i = 0; i < json_object_array_length(a) && px->err == 0; i++) {
    struct json_object *e = json_object_array_get_idx(a, i);
    struct kiln_ib_summary *s;

    if (!json_object_is_type(e, json_type_object))
      return KILN_EPARSE;
    s = kiln__vec_push(px, &o->items, &o->count, sizeof(*s));
    if (s == NULL)
      break;
    s->arn = kiln__json_str(px, e, "arn");
    s->name = kiln__json_str(px, e, "name");
    s->version = kiln__json_str(px, e, "version");
    s->platform = kiln__json_str(px, e, "platform");
    s->owner = kiln__json_str(px, e, "owner");
    s->parent_image = kiln__json_str(px, e, "parentImage");
    s->description = kiln__json_str(px, e, "description");
    s->date_created = kiln__json_str(px, e, "dateCreated");
    s->instance_profile_name = kiln__json_str(px, e, "instanceProfileName");
    kiln__json_strs(px, e, "instanceTypes", &s->instance_types,
                    &s->instance_type_count);
    kiln__json_map(px, e, "tags", &s->tags, &s->tag_count);
    if (s->arn == NULL && px->err == 0)
      px->err = KILN_EPARSE;
  }
  *next = kiln__json_str(px, res->json, "nextToken");
  return px->err;
}

#define LIST_OP(fn, Action, member)                                            \
  static int parse_##fn(struct kiln__px *px, void *out,                        \
                        const struct kiln_aws_response *res,                   \
                        const char **next)                                     \
  {                                                                            \
    return parse_list(px, out, res, next, member);                             \
  }                                                                            \
  const struct kiln__op_desc kiln__ib_##fn##_desc = {                          \
      KILN_AWS_IMAGEBUILDER, Action,    "POST", "/" Action,                    \
      "nextToken",           parse_##fn};                                      \
  int kiln__ib_##fn##_body(const struct kiln_ib_list_request *r,               \
                           struct kiln__op_body *b)                            \
  {                                                                            \
    return list_body(r, b);                                                    \
  }                                                                            \
  int kiln_ib_##fn(struct kiln_aws_client *client,                             \
                   const struct kiln_ib_list_request *req,                     \
                   struct kiln_arena *arena, struct kiln_ib_summaries *out,    \
                   kiln_aws_done_cb *cb, void *data)                           \
  {                                                                            \
    struct kiln__op_body b;                                                    \
                                                                               \
    if (req == NULL)                                                           \
      return KILN_EINVAL;                                                      \
    list_body(req, &b);                                                        \
    return kiln__op_start(client, &kiln__ib_##fn##_desc, &b, arena, out,       \
                          sizeof(*out), cb, data);                             \
  }

LIST_OP(list_components, "ListComponents", "componentVersionList")
LIST_OP(list_image_recipes, "ListImageRecipes", "imageRecipeSummaryList")
LIST_OP(list_infrastructure_configurations, "ListInfrastructureConfigurations",
        "infrastructureConfigurationSummaryList")

/* ---- CreateComponent / GetComponent ---- */

int kiln__ib_create_component_body(
    const struct kiln_ib_create_component_request *r, struct kiln__op_body *b)
{
  int err = 0;

  kiln__op_body_init(b);
  if (r->name == NULL || r->semantic_version == NULL || r->data == NULL ||
      r->client_token == NULL)
    return b->query.err = KILN_EINVAL;
  b->json = kiln__json_obj(&err);
  kiln__json_add_str(&err, b->json, "name", r->name);
  kiln__json_add_str(&err, b->json, "semanticVersion", r->semantic_version);
  kiln__json_add_str(&err, b->json, "description", r->description);
  kiln__json_add_str(&err, b->json, "platform",
                     r->platform != NULL ? r->platform : "Linux");
  kiln__json_add_str(&err, b->json, "data", r->data);
  add_tags(&err, b->json, "tags", r->tags, r->tag_count);
  b->query.err = err;
  kiln__op_token(b, "clientToken", r->client_token, r->derive_token);
  return b->query.err;
}

const struct kiln__op_desc kiln__ib_create_component_desc = {
    KILN_AWS_IMAGEBUILDER, "CreateComponent", "PUT", "/CreateComponent", NULL,
    parse_component_arn};

int kiln_ib_create_component(struct kiln_aws_client *client,
                             const struct kiln_ib_create_component_request *req,
                             struct kiln_arena *arena,
                             struct kiln_ib_arn_result *out,
                             kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ib_create_component_body(req, &b);
  return kiln__op_start(client, &kiln__ib_create_component_desc, &b, arena, out,
                        sizeof(*out), cb, data);
}

static int get_query(struct kiln__op_body *b, const char *key,
                     const char *value)
{
  kiln__op_body_init(b);
  if (value == NULL || value[0] == '\0')
    return b->query.err = KILN_EINVAL;
  return b->query.err = kiln_sigv4_query_add(&b->rest_query, key, value);
}

int kiln__ib_get_component_body(const struct kiln_ib_get_component_request *r,
                                struct kiln__op_body *b)
{
  return get_query(b, "componentBuildVersionArn",
                   r->component_build_version_arn);
}

static int parse_component(struct kiln__px *px, void *out,
                           const struct kiln_aws_response *res,
                           const char **next)
{
  struct kiln_ib_component *c = out;
  struct json_object *o = kiln__json_get(res->json, "component");

  (void)next;
  if (o == NULL || !json_object_is_type(o, json_type_object))
    return KILN_EPARSE;
  c->arn = kiln__json_str(px, o, "arn");
  c->name = kiln__json_str(px, o, "name");
  c->version = kiln__json_str(px, o, "version");
  c->platform = kiln__json_str(px, o, "platform");
  c->description = kiln__json_str(px, o, "description");
  c->data = kiln__json_str(px, o, "data");
  c->owner = kiln__json_str(px, o, "owner");
  c->date_created = kiln__json_str(px, o, "dateCreated");
  c->state_status = kiln__json_str(px, kiln__json_get(o, "state"), "status");
  kiln__json_map(px, o, "tags", &c->tags, &c->tag_count);
  if (c->arn == NULL && px->err == 0)
    px->err = KILN_EPARSE;
  return px->err;
}

const struct kiln__op_desc kiln__ib_get_component_desc = {
    KILN_AWS_IMAGEBUILDER, "GetComponent", "GET",
    "/GetComponent",       NULL,           parse_component};

int kiln_ib_get_component(struct kiln_aws_client *client,
                          const struct kiln_ib_get_component_request *req,
                          struct kiln_arena *arena,
                          struct kiln_ib_component *out, kiln_aws_done_cb *cb,
                          void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ib_get_component_body(req, &b);
  return kiln__op_start(client, &kiln__ib_get_component_desc, &b, arena, out,
                        sizeof(*out), cb, data);
}

/* ---- CreateImageRecipe ---- */

static struct json_object *
recipe_component(int *err, const struct kiln_ib_recipe_component *c)
{
  struct json_object *o = kiln__json_obj(err), *ps;

  kiln__json_add_str(err, o, "componentArn", c->component_arn);
  if (c->parameter_count == 0 || *err != 0)
    return o;
  ps = json_object_new_array();
  for (size_t i = 0; ps != NULL && *err == 0 && i < c->parameter_count; i++) {
    struct json_object *p = kiln__json_obj(err);

    kiln__json_add_str(err, p, "name", c->parameters[i].name);
    kiln__json_add_strs(err, p, "value", c->parameters[i].values,
                        c->parameters[i].value_count);
    if (*err != 0 || json_object_array_add(ps, p) != 0) {
      json_object_put(p);
      *err = KILN_ENOMEM;
    }
  }
  kiln__json_add(err, o, "parameters", ps);
  return o;
}

static struct json_object *block_device(int *err,
                                        const struct kiln_ib_block_device *d)
{
  struct json_object *o = kiln__json_obj(err), *ebs = kiln__json_obj(err);

  kiln__json_add_str(err, o, "deviceName", d->device_name);
  if (d->encrypted.set)
    kiln__json_add_bool(err, ebs, "encrypted", d->encrypted.value);
  if (d->delete_on_termination.set)
    kiln__json_add_bool(err, ebs, "deleteOnTermination",
                        d->delete_on_termination.value);
  if (d->iops.set)
    kiln__json_add_i64(err, ebs, "iops", d->iops.value);
  if (d->volume_size_gib.set)
    kiln__json_add_i64(err, ebs, "volumeSize", d->volume_size_gib.value);
  kiln__json_add_str(err, ebs, "volumeType", d->volume_type);
  if (d->throughput.set)
    kiln__json_add_i64(err, ebs, "throughput", d->throughput.value);
  kiln__json_add(err, o, "ebs", ebs);
  return o;
}

int kiln__ib_create_image_recipe_body(
    const struct kiln_ib_create_image_recipe_request *r,
    struct kiln__op_body *b)
{
  struct json_object *a;
  int err = 0;

  kiln__op_body_init(b);
  if (r->name == NULL || r->semantic_version == NULL ||
      r->parent_image == NULL || r->client_token == NULL ||
      r->component_count == 0)
    return b->query.err = KILN_EINVAL;
  b->json = kiln__json_obj(&err);
  kiln__json_add_str(&err, b->json, "name", r->name);
  kiln__json_add_str(&err, b->json, "description", r->description);
  kiln__json_add_str(&err, b->json, "semanticVersion", r->semantic_version);
  a = json_object_new_array();
  for (size_t i = 0; a != NULL && err == 0 && i < r->component_count; i++) {
    struct json_object *c = recipe_component(&err, &r->components[i]);

    if (err != 0 || json_object_array_add(a, c) != 0) {
      json_object_put(c);
      err = KILN_ENOMEM;
    }
  }
  kiln__json_add(&err, b->json, "components", a);
  kiln__json_add_str(&err, b->json, "parentImage", r->parent_image);
  if (r->block_device_count > 0 && err == 0) {
    a = json_object_new_array();
    for (size_t i = 0; a != NULL && err == 0 && i < r->block_device_count;
         i++) {
      struct json_object *d = block_device(&err, &r->block_devices[i]);

      if (err != 0 || json_object_array_add(a, d) != 0) {
        json_object_put(d);
        err = KILN_ENOMEM;
      }
    }
    kiln__json_add(&err, b->json, "blockDeviceMappings", a);
  }
  add_tags(&err, b->json, "tags", r->tags, r->tag_count);
  b->query.err = err;
  kiln__op_token(b, "clientToken", r->client_token, r->derive_token);
  return b->query.err;
}

const struct kiln__op_desc kiln__ib_create_image_recipe_desc = {
    KILN_AWS_IMAGEBUILDER,
    "CreateImageRecipe",
    "PUT",
    "/CreateImageRecipe",
    NULL,
    parse_recipe_arn};

int kiln_ib_create_image_recipe(
    struct kiln_aws_client *client,
    const struct kiln_ib_create_image_recipe_request *req,
    struct kiln_arena *arena, struct kiln_ib_arn_result *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ib_create_image_recipe_body(req, &b);
  return kiln__op_start(client, &kiln__ib_create_image_recipe_desc, &b, arena,
                        out, sizeof(*out), cb, data);
}

/* ---- infrastructure configurations ---- */

static int
infra_body(const struct kiln_ib_infrastructure_configuration_request *r,
           int update, struct kiln__op_body *b)
{
  int err = 0;

  kiln__op_body_init(b);
  if (r->instance_profile_name == NULL || r->client_token == NULL ||
      (update ? r->arn == NULL : r->name == NULL))
    return b->query.err = KILN_EINVAL;
  b->json = kiln__json_obj(&err);
  if (update)
    kiln__json_add_str(&err, b->json, "infrastructureConfigurationArn", r->arn);
  else
    kiln__json_add_str(&err, b->json, "name", r->name);
  kiln__json_add_str(&err, b->json, "description", r->description);
  if (r->instance_type_count > 0)
    kiln__json_add_strs(&err, b->json, "instanceTypes", r->instance_types,
                        r->instance_type_count);
  kiln__json_add_str(&err, b->json, "instanceProfileName",
                     r->instance_profile_name);
  if (r->security_group_id_count > 0)
    kiln__json_add_strs(&err, b->json, "securityGroupIds",
                        r->security_group_ids, r->security_group_id_count);
  kiln__json_add_str(&err, b->json, "subnetId", r->subnet_id);
  if (r->terminate_instance_on_failure.set)
    kiln__json_add_bool(&err, b->json, "terminateInstanceOnFailure",
                        r->terminate_instance_on_failure.value);
  if (!update)
    add_tags(&err, b->json, "tags", r->tags, r->tag_count);
  b->query.err = err;
  kiln__op_token(b, "clientToken", r->client_token, r->derive_token);
  return b->query.err;
}

int kiln__ib_create_infrastructure_configuration_body(
    const struct kiln_ib_infrastructure_configuration_request *r,
    struct kiln__op_body *b)
{
  return infra_body(r, 0, b);
}

int kiln__ib_update_infrastructure_configuration_body(
    const struct kiln_ib_infrastructure_configuration_request *r,
    struct kiln__op_body *b)
{
  return infra_body(r, 1, b);
}

const struct kiln__op_desc kiln__ib_create_infrastructure_configuration_desc = {
    KILN_AWS_IMAGEBUILDER,
    "CreateInfrastructureConfiguration",
    "PUT",
    "/CreateInfrastructureConfiguration",
    NULL,
    parse_infra_arn};

const struct kiln__op_desc kiln__ib_update_infrastructure_configuration_desc = {
    KILN_AWS_IMAGEBUILDER,
    "UpdateInfrastructureConfiguration",
    "PUT",
    "/UpdateInfrastructureConfiguration",
    NULL,
    parse_infra_arn};

int kiln_ib_create_infrastructure_configuration(
    struct kiln_aws_client *client,
    const struct kiln_ib_infrastructure_configuration_request *req,
    struct kiln_arena *arena, struct kiln_ib_arn_result *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  infra_body(req, 0, &b);
  return kiln__op_start(client,
                        &kiln__ib_create_infrastructure_configuration_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}

int kiln_ib_update_infrastructure_configuration(
    struct kiln_aws_client *client,
    const struct kiln_ib_infrastructure_configuration_request *req,
    struct kiln_arena *arena, struct kiln_ib_arn_result *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  infra_body(req, 1, &b);
  return kiln__op_start(client,
                        &kiln__ib_update_infrastructure_configuration_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}

/* ---- CreateImage / GetImage ---- */

int kiln__ib_create_image_body(const struct kiln_ib_create_image_request *r,
                               struct kiln__op_body *b)
{
  int err = 0;

  kiln__op_body_init(b);
  if (r->image_recipe_arn == NULL ||
      r->infrastructure_configuration_arn == NULL || r->client_token == NULL)
    return b->query.err = KILN_EINVAL;
  b->json = kiln__json_obj(&err);
  kiln__json_add_str(&err, b->json, "imageRecipeArn", r->image_recipe_arn);
  kiln__json_add_str(&err, b->json, "infrastructureConfigurationArn",
                     r->infrastructure_configuration_arn);
  add_tags(&err, b->json, "tags", r->tags, r->tag_count);
  b->query.err = err;
  kiln__op_token(b, "clientToken", r->client_token, r->derive_token);
  return b->query.err;
}

const struct kiln__op_desc kiln__ib_create_image_desc = {
    KILN_AWS_IMAGEBUILDER, "CreateImage", "PUT",
    "/CreateImage",        NULL,          parse_image_arn};

int kiln_ib_create_image(struct kiln_aws_client *client,
                         const struct kiln_ib_create_image_request *req,
                         struct kiln_arena *arena,
                         struct kiln_ib_arn_result *out, kiln_aws_done_cb *cb,
                         void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ib_create_image_body(req, &b);
  return kiln__op_start(client, &kiln__ib_create_image_desc, &b, arena, out,
                        sizeof(*out), cb, data);
}

int kiln__ib_get_image_body(const struct kiln_ib_get_image_request *r,
                            struct kiln__op_body *b)
{
  return get_query(b, "imageBuildVersionArn", r->image_build_version_arn);
}

static int parse_image(struct kiln__px *px, void *out,
                       const struct kiln_aws_response *res, const char **next)
{
  struct kiln_ib_image *im = out;
  struct json_object *o = kiln__json_get(res->json, "image"), *amis;

  (void)next;
  if (o == NULL || !json_object_is_type(o, json_type_object))
    return KILN_EPARSE;
  im->arn = kiln__json_str(px, o, "arn");
  im->name = kiln__json_str(px, o, "name");
  im->version = kiln__json_str(px, o, "version");
  im->state_status = kiln__json_str(px, kiln__json_get(o, "state"), "status");
  im->state_reason = kiln__json_str(px, kiln__json_get(o, "state"), "reason");
  im->image_recipe_arn =
      kiln__json_str(px, kiln__json_get(o, "imageRecipe"), "arn");
  im->infrastructure_configuration_arn = kiln__json_str(
      px, kiln__json_get(o, "infrastructureConfiguration"), "arn");
  kiln__json_map(px, o, "tags", &im->tags, &im->tag_count);
  amis = kiln__json_get(kiln__json_get(o, "outputResources"), "amis");
  if (amis != NULL && !json_object_is_type(amis, json_type_array))
    return KILN_EPARSE;
  for (size_t i = 0;
       amis != NULL && i < json_object_array_length(amis) && px->err == 0;
       i++) {
    struct json_object *a = json_object_array_get_idx(amis, i);
    struct kiln_ib_ami *ami =
        kiln__vec_push(px, &im->amis, &im->ami_count, sizeof(*ami));

    if (ami == NULL)
      break;
    ami->image = kiln__json_str(px, a, "image");
    ami->region = kiln__json_str(px, a, "region");
    ami->name = kiln__json_str(px, a, "name");
    ami->account_id = kiln__json_str(px, a, "accountId");
  }
  if ((im->arn == NULL || im->state_status == NULL) && px->err == 0)
    px->err = KILN_EPARSE;
  return px->err;
}

const struct kiln__op_desc kiln__ib_get_image_desc = {
    KILN_AWS_IMAGEBUILDER, "GetImage", "GET", "/GetImage", NULL, parse_image};

int kiln_ib_get_image(struct kiln_aws_client *client,
                      const struct kiln_ib_get_image_request *req,
                      struct kiln_arena *arena, struct kiln_ib_image *out,
                      kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ib_get_image_body(req, &b);
  return kiln__op_start(client, &kiln__ib_get_image_desc, &b, arena, out,
                        sizeof(*out), cb, data);
}

/* ---- what garbage collection uses ---- */

static int parse_builds(struct kiln__px *px, void *out,
                        const struct kiln_aws_response *res, const char **next)
{
  struct kiln_ib_builds *o = out;
  struct json_object *a = kiln__json_get(res->json, "imageSummaryList");

  if (a == NULL || !json_object_is_type(a, json_type_array))
    return KILN_EPARSE;
  for (size_t i = 0; i < json_object_array_length(a) && px->err == 0; i++) {
    struct json_object *e = json_object_array_get_idx(a, i);
    struct kiln_ib_build *b =
        kiln__vec_push(px, &o->items, &o->count, sizeof(*b));
    if (b == NULL)
      break;
    b->arn = kiln__json_str(px, e, "arn");
    b->state_status = kiln__json_str(px, kiln__json_get(e, "state"), "status");
    if (b->arn == NULL && px->err == 0)
      px->err = KILN_EPARSE;
  }
  *next = kiln__json_str(px, res->json, "nextToken");
  return px->err;
}

const struct kiln__op_desc kiln__ib_list_image_build_versions_desc = {
    KILN_AWS_IMAGEBUILDER, "ListImageBuildVersions", "POST",
    "/ListImageBuildVersions", "nextToken", parse_builds};

int kiln_ib_list_image_build_versions(struct kiln_aws_client *client,
                                      const char *image_version_arn,
                                      struct kiln_arena *arena,
                                      struct kiln_ib_builds *out,
                                      kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;
  int err = 0;

  if (image_version_arn == NULL)
    return KILN_EINVAL;
  kiln__op_body_init(&b);
  b.json = kiln__json_obj(&err);
  kiln__json_add_str(&err, b.json, "imageVersionArn", image_version_arn);
  b.query.err = err;
  return kiln__op_start(client, &kiln__ib_list_image_build_versions_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}

static int parse_recipe(struct kiln__px *px, void *out,
                        const struct kiln_aws_response *res, const char **next)
{
  struct kiln_ib_recipe *r = out;
  struct json_object *o = kiln__json_get(res->json, "imageRecipe"), *cs;

  (void)next;
  if (o == NULL || !json_object_is_type(o, json_type_object))
    return KILN_EPARSE;
  r->arn = kiln__json_str(px, o, "arn");
  cs = kiln__json_get(o, "components");
  if (cs != NULL && !json_object_is_type(cs, json_type_array))
    return KILN_EPARSE;
  for (size_t i = 0; cs != NULL && i < json_object_array_length(cs) &&
                     px->err == 0;
       i++) {
    const char **c = kiln__vec_push(px, &r->components, &r->component_count,
                                    sizeof(*c));
    if (c == NULL)
      break;
    *c = kiln__json_str(px, json_object_array_get_idx(cs, i), "componentArn");
    if (*c == NULL && px->err == 0)
      px->err = KILN_EPARSE;
  }
  if (r->arn == NULL && px->err == 0)
    px->err = KILN_EPARSE;
  return px->err;
}

const struct kiln__op_desc kiln__ib_get_image_recipe_desc = {
    KILN_AWS_IMAGEBUILDER, "GetImageRecipe", "GET", "/GetImageRecipe", NULL,
    parse_recipe};

int kiln_ib_get_image_recipe(struct kiln_aws_client *client,
                             const char *image_recipe_arn,
                             struct kiln_arena *arena,
                             struct kiln_ib_recipe *out, kiln_aws_done_cb *cb,
                             void *data)
{
  struct kiln__op_body b;

  get_query(&b, "imageRecipeArn", image_recipe_arn);
  return kiln__op_start(client, &kiln__ib_get_image_recipe_desc, &b, arena, out,
                        sizeof(*out), cb, data);
}

/* A delete answers its ARN back; nothing else is kept. */
static int parse_deleted(struct kiln__px *px, void *out,
                         const struct kiln_aws_response *res,
                         const char **next)
{
  (void)px;
  (void)out;
  (void)next;
  return res->json != NULL && json_object_is_type(res->json, json_type_object)
             ? 0
             : KILN_EPARSE;
}

const struct kiln__op_desc kiln__ib_delete_image_desc = {
    KILN_AWS_IMAGEBUILDER, "DeleteImage", "DELETE", "/DeleteImage", NULL,
    parse_deleted};
const struct kiln__op_desc kiln__ib_delete_image_recipe_desc = {
    KILN_AWS_IMAGEBUILDER, "DeleteImageRecipe", "DELETE", "/DeleteImageRecipe",
    NULL, parse_deleted};
const struct kiln__op_desc kiln__ib_delete_component_desc = {
    KILN_AWS_IMAGEBUILDER, "DeleteComponent", "DELETE", "/DeleteComponent",
    NULL, parse_deleted};

static int delete_op(struct kiln_aws_client *client,
                     const struct kiln__op_desc *desc, const char *key,
                     const char *arn, kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;
  get_query(&b, key, arn);
  return kiln__op_start(client, desc, &b, NULL, NULL, 0, cb, data);
}

int kiln_ib_delete_image(struct kiln_aws_client *client,
                         const char *image_build_version_arn,
                         kiln_aws_done_cb *cb, void *data)
{
  return delete_op(client, &kiln__ib_delete_image_desc, "imageBuildVersionArn",
                   image_build_version_arn, cb, data);
}

int kiln_ib_delete_image_recipe(struct kiln_aws_client *client,
                                const char *image_recipe_arn,
                                kiln_aws_done_cb *cb, void *data)
{
  return delete_op(client, &kiln__ib_delete_image_recipe_desc,
                   "imageRecipeArn", image_recipe_arn, cb, data);
}

int kiln_ib_delete_component(struct kiln_aws_client *client,
                             const char *component_build_version_arn,
                             kiln_aws_done_cb *cb, void *data)
{
  return delete_op(client, &kiln__ib_delete_component_desc,
                   "componentBuildVersionArn", component_build_version_arn, cb,
                   data);
}
