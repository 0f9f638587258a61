/* kiln-aws-ops: runs one typed AWS operation through the Kiln client and
 * prints its typed result as JSON, for the pytest suite in this directory.
 *
 *   kiln-aws-ops OPERATION < request.json
 *
 * The request is JSON whose members mirror the C request struct (snake
 * case). Output, one JSON object on stdout:
 *   {"ok": true, "result": {...}, "attempts": N, "stats": [...]}
 *   {"ok": false, "err": "KILN_EAWS", "code", "message", "request_id",
 *    "http_status", "action", "attempts", "stats": [...]}
 * Exit status 0 on success, 1 when the operation failed, 2 on bad usage,
 * 3 when the loop did not close cleanly.
 *
 * Configuration comes from the environment (AWS_ENDPOINT_URL, AWS_REGION,
 * AWS_MAX_ATTEMPTS, credentials...); KILN_OPS_RETRY_BASE_MS shortens the
 * retry backoff for tests.
 */
#include "kiln/arena.h"
#include "kiln/autoscaling.h"
#include "kiln/aws_client.h"
#include "kiln/aws_config.h"
#include "kiln/buf.h"
#include "kiln/ec2.h"
#include "kiln/error.h"
#include "kiln/imagebuilder.h"
#include "kiln/ssm.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static struct kiln_arena A;
static struct json_object *output;
static struct kiln_aws_client *client;

/* ---- reading the request ---- */

static struct json_object *get(struct json_object *o, const char *k)
{
  struct json_object *v = NULL;

  if (o == NULL || !json_object_object_get_ex(o, k, &v) ||
      json_object_is_type(v, json_type_null))
    return NULL;
  return v;
}

static const char *jstr(struct json_object *o, const char *k)
{
  struct json_object *v = get(o, k);

  return v != NULL ? kiln_arena_strdup(&A, json_object_get_string(v)) : NULL;
}

static int64_t jint(struct json_object *o, const char *k)
{
  struct json_object *v = get(o, k);

  return v != NULL ? json_object_get_int64(v) : 0;
}

static struct kiln_aws_opt_int jopt_int(struct json_object *o, const char *k)
{
  struct json_object *v = get(o, k);
  struct kiln_aws_opt_int r = {v != NULL,
                               v != NULL ? json_object_get_int64(v) : 0};
  return r;
}

static struct kiln_aws_opt_bool jopt_bool(struct json_object *o, const char *k)
{
  struct json_object *v = get(o, k);
  struct kiln_aws_opt_bool r = {v != NULL,
                                v != NULL ? json_object_get_boolean(v) : 0};
  return r;
}

static size_t jlen(struct json_object *o, const char *k)
{
  struct json_object *v = get(o, k);

  return v != NULL && json_object_is_type(v, json_type_array)
             ? json_object_array_length(v)
             : 0;
}

static void *jarray(struct json_object *o, const char *k, size_t elem,
                    size_t *n)
{
  *n = jlen(o, k);
  return *n > 0 ? kiln_arena_alloc(&A, *n * elem) : NULL;
}

static struct json_object *at(struct json_object *o, const char *k, size_t i)
{
  return json_object_array_get_idx(get(o, k), i);
}

static const char **jstrs(struct json_object *o, const char *k, size_t *n)
{
  const char **s = jarray(o, k, sizeof(*s), n);

  for (size_t i = 0; i < *n; i++)
    s[i] = kiln_arena_strdup(&A, json_object_get_string(at(o, k, i)));
  return s;
}

/* [{"key": k, "value": v}] */
static struct kiln_aws_tag *jtags(struct json_object *o, const char *k,
                                  size_t *n)
{
  struct kiln_aws_tag *t = jarray(o, k, sizeof(*t), n);

  for (size_t i = 0; i < *n; i++) {
    t[i].key = jstr(at(o, k, i), "key");
    t[i].value = jstr(at(o, k, i), "value");
  }
  return t;
}

static struct kiln_ec2_filter *jfilters(struct json_object *o, size_t *n)
{
  struct kiln_ec2_filter *f = jarray(o, "filters", sizeof(*f), n);

  for (size_t i = 0; i < *n; i++) {
    f[i].name = jstr(at(o, "filters", i), "name");
    f[i].values = jstrs(at(o, "filters", i), "values", &f[i].value_count);
  }
  return f;
}

static void jlt_data(struct json_object *o,
                     struct kiln_ec2_launch_template_data *d)
{
  if (o == NULL)
    return;
  d->image_id = jstr(o, "image_id");
  d->instance_type = jstr(o, "instance_type");
  d->user_data = jstr(o, "user_data");
  d->security_group_ids =
      jstrs(o, "security_group_ids", &d->security_group_id_count);
  d->iam_instance_profile_name = jstr(o, "iam_instance_profile_name");
  d->iam_instance_profile_arn = jstr(o, "iam_instance_profile_arn");
  d->block_devices = jarray(o, "block_devices", sizeof(*d->block_devices),
                            &d->block_device_count);
  for (size_t i = 0; i < d->block_device_count; i++) {
    struct json_object *b = at(o, "block_devices", i);
    struct kiln_ec2_block_device *bd = &d->block_devices[i];

    bd->device_name = jstr(b, "device_name");
    bd->has_ebs = get(b, "ebs") != NULL;
    b = get(b, "ebs");
    bd->volume_size_gib = jopt_int(b, "volume_size_gib");
    bd->volume_type = jstr(b, "volume_type");
    bd->encrypted = jopt_bool(b, "encrypted");
    bd->delete_on_termination = jopt_bool(b, "delete_on_termination");
    bd->iops = jopt_int(b, "iops");
    bd->throughput = jopt_int(b, "throughput");
  }
  d->http_tokens = jstr(o, "http_tokens");
  d->http_endpoint = jstr(o, "http_endpoint");
  d->http_put_response_hop_limit = jopt_int(o, "http_put_response_hop_limit");
  d->tag_specs =
      jarray(o, "tag_specs", sizeof(*d->tag_specs), &d->tag_spec_count);
  for (size_t i = 0; i < d->tag_spec_count; i++) {
    d->tag_specs[i].resource_type =
        jstr(at(o, "tag_specs", i), "resource_type");
    d->tag_specs[i].tags =
        jtags(at(o, "tag_specs", i), "tags", &d->tag_specs[i].tag_count);
  }
}

static struct kiln_asg_launch_template jasg_lt(struct json_object *o)
{
  struct kiln_asg_launch_template lt = {jstr(o, "id"), jstr(o, "name"),
                                        jstr(o, "version"), 0};
  return lt;
}

static struct kiln_asg_tag *jasg_tags(struct json_object *o, size_t *n)
{
  struct kiln_asg_tag *t = jarray(o, "tags", sizeof(*t), n);

  for (size_t i = 0; i < *n; i++) {
    t[i].key = jstr(at(o, "tags", i), "key");
    t[i].value = jstr(at(o, "tags", i), "value");
    t[i].propagate_at_launch =
        (int)jint(at(o, "tags", i), "propagate_at_launch");
  }
  return t;
}

static struct kiln_ib_list_request jib_list(struct json_object *o)
{
  struct kiln_ib_list_request r;

  memset(&r, 0, sizeof(r));
  r.owner = jstr(o, "owner");
  r.filters = jarray(o, "filters", sizeof(*r.filters), &r.filter_count);
  for (size_t i = 0; i < r.filter_count; i++) {
    r.filters[i].name = jstr(at(o, "filters", i), "name");
    r.filters[i].values =
        jstrs(at(o, "filters", i), "values", &r.filters[i].value_count);
  }
  r.max_results = (int)jint(o, "max_results");
  return r;
}

/* ---- writing the result ---- */

static struct json_object *S(const char *s)
{
  return s != NULL ? json_object_new_string(s) : NULL;
}

static void put(struct json_object *o, const char *k, struct json_object *v)
{
  json_object_object_add(o, k, v);
}

static struct json_object *I(int64_t v)
{
  return json_object_new_int64(v);
}

static struct json_object *OI(struct kiln_aws_opt_int v)
{
  return v.set ? I(v.value) : NULL;
}

static struct json_object *OB(struct kiln_aws_opt_bool v)
{
  return v.set ? json_object_new_boolean(v.value) : NULL;
}

static struct json_object *SS(const char **s, size_t n)
{
  struct json_object *a = json_object_new_array();

  for (size_t i = 0; i < n; i++)
    json_object_array_add(a, S(s[i]));
  return a;
}

/* Tags as an object {key: value}. */
static struct json_object *T(const struct kiln_aws_tag *t, size_t n)
{
  struct json_object *o = json_object_new_object();

  for (size_t i = 0; i < n; i++)
    put(o, t[i].key, S(t[i].value));
  return o;
}

static struct json_object *
lt_data(const struct kiln_ec2_launch_template_data *d)
{
  struct json_object *o = json_object_new_object(), *a, *ts;

  put(o, "image_id", S(d->image_id));
  put(o, "instance_type", S(d->instance_type));
  put(o, "user_data", S(d->user_data));
  put(o, "security_group_ids",
      SS(d->security_group_ids, d->security_group_id_count));
  put(o, "iam_instance_profile_name", S(d->iam_instance_profile_name));
  put(o, "iam_instance_profile_arn", S(d->iam_instance_profile_arn));
  a = json_object_new_array();
  for (size_t i = 0; i < d->block_device_count; i++) {
    const struct kiln_ec2_block_device *b = &d->block_devices[i];
    struct json_object *e = json_object_new_object(), *ebs;

    put(e, "device_name", S(b->device_name));
    if (b->has_ebs) {
      ebs = json_object_new_object();
      put(ebs, "volume_size_gib", OI(b->volume_size_gib));
      put(ebs, "volume_type", S(b->volume_type));
      put(ebs, "encrypted", OB(b->encrypted));
      put(ebs, "delete_on_termination", OB(b->delete_on_termination));
      put(ebs, "iops", OI(b->iops));
      put(ebs, "throughput", OI(b->throughput));
      put(e, "ebs", ebs);
    }
    json_object_array_add(a, e);
  }
  put(o, "block_devices", a);
  put(o, "http_tokens", S(d->http_tokens));
  put(o, "http_endpoint", S(d->http_endpoint));
  put(o, "http_put_response_hop_limit", OI(d->http_put_response_hop_limit));
  ts = json_object_new_array();
  for (size_t i = 0; i < d->tag_spec_count; i++) {
    struct json_object *e = json_object_new_object();

    put(e, "resource_type", S(d->tag_specs[i].resource_type));
    put(e, "tags", T(d->tag_specs[i].tags, d->tag_specs[i].tag_count));
    json_object_array_add(ts, e);
  }
  put(o, "tag_specs", ts);
  return o;
}

static struct json_object *lt(const struct kiln_ec2_launch_template *t)
{
  struct json_object *o = json_object_new_object();

  put(o, "id", S(t->id));
  put(o, "name", S(t->name));
  put(o, "default_version", I(t->default_version));
  put(o, "latest_version", I(t->latest_version));
  put(o, "tags", T(t->tags, t->tag_count));
  return o;
}

static struct json_object *ltv(const struct kiln_ec2_launch_template_version *v)
{
  struct json_object *o = json_object_new_object();

  put(o, "launch_template_id", S(v->launch_template_id));
  put(o, "launch_template_name", S(v->launch_template_name));
  put(o, "version_number", I(v->version_number));
  put(o, "default_version", json_object_new_boolean(v->default_version));
  put(o, "description", S(v->description));
  put(o, "data", lt_data(&v->data));
  return o;
}

static struct json_object *asg_lt(const struct kiln_asg_launch_template *t)
{
  struct json_object *o = json_object_new_object();

  put(o, "id", S(t->id));
  put(o, "name", S(t->name));
  put(o, "version", S(t->version));
  return o;
}

static struct json_object *arn_result(const struct kiln_ib_arn_result *r)
{
  struct json_object *o = json_object_new_object();

  put(o, "arn", S(r->arn));
  put(o, "client_token", S(r->client_token));
  return o;
}

static struct json_object *summaries(const struct kiln_ib_summaries *s)
{
  struct json_object *a = json_object_new_array();

  for (size_t i = 0; i < s->count; i++) {
    const struct kiln_ib_summary *x = &s->items[i];
    struct json_object *o = json_object_new_object();

    put(o, "arn", S(x->arn));
    put(o, "name", S(x->name));
    put(o, "version", S(x->version));
    put(o, "platform", S(x->platform));
    put(o, "owner", S(x->owner));
    put(o, "parent_image", S(x->parent_image));
    put(o, "description", S(x->description));
    put(o, "instance_profile_name", S(x->instance_profile_name));
    put(o, "instance_types", SS(x->instance_types, x->instance_type_count));
    put(o, "tags", T(x->tags, x->tag_count));
    json_object_array_add(a, o);
  }
  return a;
}

/* ---- operations ---- */

union results {
  struct kiln_ec2_images images;
  struct kiln_ec2_launch_templates templates;
  struct kiln_ec2_launch_template template;
  struct kiln_ec2_launch_template_versions versions;
  struct kiln_ec2_launch_template_version version;
  struct kiln_ec2_instances instances;
  struct kiln_asg_groups groups;
  struct kiln_asg_refresh_id refresh_id;
  struct kiln_asg_instance_refreshes refreshes;
  struct kiln_ssm_parameters parameters;
  struct kiln_ssm_parameter parameter;
  struct kiln_ib_arn_result arn;
  struct kiln_ib_summaries summaries;
  struct kiln_ib_component component;
  struct kiln_ib_image image;
};

static union results R;
static const char *op_name;

static struct json_object *render_result(void)
{
  struct json_object *o = json_object_new_object(), *a;
  const char *op = op_name;

  if (strcmp(op, "describe_images") == 0) {
    a = json_object_new_array();
    for (size_t i = 0; i < R.images.count; i++) {
      const struct kiln_ec2_image *im = &R.images.images[i];
      struct json_object *e = json_object_new_object();

      put(e, "image_id", S(im->image_id));
      put(e, "name", S(im->name));
      put(e, "state", S(im->state));
      put(e, "creation_date", S(im->creation_date));
      put(e, "tags", T(im->tags, im->tag_count));
      json_object_array_add(a, e);
    }
    put(o, "images", a);
  } else if (strcmp(op, "describe_launch_templates") == 0) {
    a = json_object_new_array();
    for (size_t i = 0; i < R.templates.count; i++)
      json_object_array_add(a, lt(&R.templates.templates[i]));
    put(o, "templates", a);
  } else if (strcmp(op, "create_launch_template") == 0 ||
             strcmp(op, "modify_launch_template") == 0) {
    put(o, "template", lt(&R.template));
  } else if (strcmp(op, "describe_launch_template_versions") == 0) {
    a = json_object_new_array();
    for (size_t i = 0; i < R.versions.count; i++)
      json_object_array_add(a, ltv(&R.versions.versions[i]));
    put(o, "versions", a);
  } else if (strcmp(op, "create_launch_template_version") == 0) {
    put(o, "version", ltv(&R.version));
  } else if (strcmp(op, "describe_instances") == 0) {
    a = json_object_new_array();
    for (size_t i = 0; i < R.instances.count; i++) {
      const struct kiln_ec2_instance *in = &R.instances.instances[i];
      struct json_object *e = json_object_new_object();

      put(e, "instance_id", S(in->instance_id));
      put(e, "state", S(in->state));
      put(e, "image_id", S(in->image_id));
      put(e, "subnet_id", S(in->subnet_id));
      put(e, "launch_template_id", S(in->launch_template_id));
      put(e, "launch_template_version", S(in->launch_template_version));
      json_object_array_add(a, e);
    }
    put(o, "instances", a);
  } else if (strcmp(op, "describe_groups") == 0) {
    a = json_object_new_array();
    for (size_t i = 0; i < R.groups.count; i++) {
      const struct kiln_asg_group *g = &R.groups.groups[i];
      struct json_object *e = json_object_new_object(), *ins, *tags;

      put(e, "name", S(g->name));
      put(e, "arn", S(g->arn));
      put(e, "min_size", I(g->min_size));
      put(e, "max_size", I(g->max_size));
      put(e, "desired_capacity", I(g->desired_capacity));
      put(e, "launch_template", asg_lt(&g->launch_template));
      put(e, "vpc_zone_identifier", S(g->vpc_zone_identifier));
      put(e, "availability_zones",
          SS(g->availability_zones, g->availability_zone_count));
      put(e, "status", S(g->status));
      ins = json_object_new_array();
      for (size_t j = 0; j < g->instance_count; j++) {
        struct json_object *x = json_object_new_object();

        put(x, "instance_id", S(g->instances[j].instance_id));
        put(x, "lifecycle_state", S(g->instances[j].lifecycle_state));
        put(x, "health_status", S(g->instances[j].health_status));
        put(x, "launch_template", asg_lt(&g->instances[j].launch_template));
        json_object_array_add(ins, x);
      }
      put(e, "instances", ins);
      tags = json_object_new_array();
      for (size_t j = 0; j < g->tag_count; j++) {
        struct json_object *x = json_object_new_object();

        put(x, "key", S(g->tags[j].key));
        put(x, "value", S(g->tags[j].value));
        put(x, "propagate_at_launch",
            json_object_new_boolean(g->tags[j].propagate_at_launch));
        json_object_array_add(tags, x);
      }
      put(e, "tags", tags);
      json_object_array_add(a, e);
    }
    put(o, "groups", a);
  } else if (strcmp(op, "start_instance_refresh") == 0 ||
             strcmp(op, "cancel_instance_refresh") == 0) {
    put(o, "instance_refresh_id", S(R.refresh_id.instance_refresh_id));
  } else if (strcmp(op, "describe_instance_refreshes") == 0) {
    a = json_object_new_array();
    for (size_t i = 0; i < R.refreshes.count; i++) {
      const struct kiln_asg_instance_refresh *f = &R.refreshes.refreshes[i];
      struct json_object *e = json_object_new_object(), *p;

      put(e, "id", S(f->id));
      put(e, "group_name", S(f->group_name));
      put(e, "status", S(f->status));
      put(e, "status_reason", S(f->status_reason));
      put(e, "percentage_complete", OI(f->percentage_complete));
      put(e, "instances_to_update", OI(f->instances_to_update));
      put(e, "start_time", S(f->start_time));
      put(e, "end_time", S(f->end_time));
      put(e, "desired_launch_template", asg_lt(&f->desired_launch_template));
      p = json_object_new_object();
      put(p, "min_healthy_percentage",
          OI(f->preferences.min_healthy_percentage));
      put(p, "max_healthy_percentage",
          OI(f->preferences.max_healthy_percentage));
      put(p, "instance_warmup_s", OI(f->preferences.instance_warmup_s));
      put(p, "skip_matching", OB(f->preferences.skip_matching));
      put(p, "auto_rollback", OB(f->preferences.auto_rollback));
      put(e, "preferences", p);
      put(e, "rollback_reason", S(f->rollback_reason));
      put(e, "percentage_complete_on_rollback",
          OI(f->percentage_complete_on_rollback));
      json_object_array_add(a, e);
    }
    put(o, "refreshes", a);
  } else if (strcmp(op, "get_parameters") == 0) {
    a = json_object_new_array();
    for (size_t i = 0; i < R.parameters.count; i++) {
      const struct kiln_ssm_parameter *p = &R.parameters.parameters[i];
      struct json_object *e = json_object_new_object();

      put(e, "name", S(p->name));
      put(e, "type", S(p->type));
      put(e, "value", S(p->value));
      put(e, "version", I(p->version));
      json_object_array_add(a, e);
    }
    put(o, "parameters", a);
    put(o, "invalid", SS(R.parameters.invalid, R.parameters.invalid_count));
  } else if (strcmp(op, "get_parameter") == 0) {
    put(o, "name", S(R.parameter.name));
    put(o, "type", S(R.parameter.type));
    put(o, "value", S(R.parameter.value));
    put(o, "version", I(R.parameter.version));
  } else if (strncmp(op, "ib_create_", 10) == 0 ||
             strncmp(op, "ib_update_", 10) == 0) {
    json_object_put(o);
    return arn_result(&R.arn);
  } else if (strncmp(op, "ib_list_", 8) == 0) {
    put(o, "items", summaries(&R.summaries));
  } else if (strcmp(op, "ib_get_component") == 0) {
    put(o, "arn", S(R.component.arn));
    put(o, "name", S(R.component.name));
    put(o, "version", S(R.component.version));
    put(o, "platform", S(R.component.platform));
    put(o, "description", S(R.component.description));
    put(o, "data", S(R.component.data));
    put(o, "tags", T(R.component.tags, R.component.tag_count));
  } else if (strcmp(op, "ib_get_image") == 0) {
    put(o, "arn", S(R.image.arn));
    put(o, "state_status", S(R.image.state_status));
    put(o, "state_reason", S(R.image.state_reason));
    put(o, "image_recipe_arn", S(R.image.image_recipe_arn));
    put(o, "infrastructure_configuration_arn",
        S(R.image.infrastructure_configuration_arn));
    a = json_object_new_array();
    for (size_t i = 0; i < R.image.ami_count; i++) {
      struct json_object *e = json_object_new_object();

      put(e, "image", S(R.image.amis[i].image));
      put(e, "region", S(R.image.amis[i].region));
      json_object_array_add(a, e);
    }
    put(o, "amis", a);
    put(o, "tags", T(R.image.tags, R.image.tag_count));
  }
  return o;
}

static struct json_object *stats(void)
{
  const struct kiln_aws_action_stats *st;
  size_t n = kiln_aws_client_stats(client, &st);
  struct json_object *a = json_object_new_array();

  for (size_t i = 0; i < n; i++) {
    struct json_object *e = json_object_new_object(), *c;

    put(e, "action", S(st[i].action));
    put(e, "attempts", I((int64_t)st[i].attempts));
    put(e, "retries", I((int64_t)st[i].retries));
    c = json_object_new_object();
    for (int k = 0; k < KILN_AWS_OUTCOME_COUNT; k++)
      put(c, kiln_aws_outcome_name((enum kiln_aws_outcome)k),
          I((int64_t)st[i].calls[k]));
    put(e, "calls", c);
    json_object_array_add(a, e);
  }
  return a;
}

static void on_closed(void *data)
{
  (void)data;
  client = NULL;
}

static void on_done(int err, const struct kiln_aws_response *res, void *data)
{
  (void)data;
  output = json_object_new_object();
  put(output, "ok", json_object_new_boolean(err == 0));
  put(output, "attempts", I(res->attempts));
  put(output, "action", S(res->action));
  put(output, "request_id", S(res->request_id));
  put(output, "http_status", I(res->http_status));
  if (err == 0) {
    put(output, "result", render_result());
  } else {
    put(output, "err", S(kiln_err_name(err)));
    put(output, "message", S(res->message));
    if (res->error != NULL) {
      put(output, "code", S(res->error->code));
      put(output, "aws_message", S(res->error->message));
    }
  }
  put(output, "stats", stats());
  kiln_aws_client_close(client, on_closed, NULL);
}

static int start(const char *op, struct json_object *q)
{
  struct kiln_aws_client *c = client;
  size_t n;

  if (strcmp(op, "describe_images") == 0) {
    struct kiln_ec2_describe_images_request r = {0};

    r.owners = jstrs(q, "owners", &r.owner_count);
    r.image_ids = jstrs(q, "image_ids", &r.image_id_count);
    r.filters = jfilters(q, &r.filter_count);
    r.max_results = (int)jint(q, "max_results");
    return kiln_ec2_describe_images(c, &r, &A, &R.images, on_done, NULL);
  }
  if (strcmp(op, "create_tags") == 0) {
    struct kiln_ec2_create_tags_request r = {0};

    r.resource_ids = jstrs(q, "resource_ids", &r.resource_id_count);
    r.tags = jtags(q, "tags", &r.tag_count);
    return kiln_ec2_create_tags(c, &r, on_done, NULL);
  }
  if (strcmp(op, "describe_launch_templates") == 0) {
    struct kiln_ec2_describe_launch_templates_request r = {0};

    r.names = jstrs(q, "names", &r.name_count);
    r.ids = jstrs(q, "ids", &r.id_count);
    r.max_results = (int)jint(q, "max_results");
    return kiln_ec2_describe_launch_templates(c, &r, &A, &R.templates, on_done,
                                              NULL);
  }
  if (strcmp(op, "describe_launch_template_versions") == 0) {
    struct kiln_ec2_describe_launch_template_versions_request r = {0};

    r.launch_template_id = jstr(q, "launch_template_id");
    r.launch_template_name = jstr(q, "launch_template_name");
    r.versions = jstrs(q, "versions", &r.version_count);
    r.max_results = (int)jint(q, "max_results");
    return kiln_ec2_describe_launch_template_versions(c, &r, &A, &R.versions,
                                                      on_done, NULL);
  }
  if (strcmp(op, "create_launch_template") == 0) {
    struct kiln_ec2_create_launch_template_request r = {0};

    r.name = jstr(q, "name");
    r.client_token = jstr(q, "client_token");
    r.version_description = jstr(q, "version_description");
    jlt_data(get(q, "data"), &r.data);
    r.tags = jtags(q, "tags", &r.tag_count);
    return kiln_ec2_create_launch_template(c, &r, &A, &R.template, on_done,
                                           NULL);
  }
  if (strcmp(op, "create_launch_template_version") == 0) {
    struct kiln_ec2_create_launch_template_version_request r = {0};

    r.launch_template_id = jstr(q, "launch_template_id");
    r.launch_template_name = jstr(q, "launch_template_name");
    r.client_token = jstr(q, "client_token");
    r.version_description = jstr(q, "version_description");
    r.source_version = jstr(q, "source_version");
    jlt_data(get(q, "data"), &r.data);
    return kiln_ec2_create_launch_template_version(c, &r, &A, &R.version,
                                                   on_done, NULL);
  }
  if (strcmp(op, "modify_launch_template") == 0) {
    struct kiln_ec2_modify_launch_template_request r = {0};

    r.launch_template_id = jstr(q, "launch_template_id");
    r.launch_template_name = jstr(q, "launch_template_name");
    r.default_version = jstr(q, "default_version");
    r.client_token = jstr(q, "client_token");
    return kiln_ec2_modify_launch_template(c, &r, &A, &R.template, on_done,
                                           NULL);
  }
  if (strcmp(op, "describe_instances") == 0) {
    struct kiln_ec2_describe_instances_request r = {0};

    r.instance_ids = jstrs(q, "instance_ids", &r.instance_id_count);
    r.max_results = (int)jint(q, "max_results");
    return kiln_ec2_describe_instances(c, &r, &A, &R.instances, on_done, NULL);
  }
  if (strcmp(op, "describe_groups") == 0) {
    struct kiln_asg_describe_groups_request r = {0};

    r.names = jstrs(q, "names", &r.name_count);
    r.max_records = (int)jint(q, "max_records");
    return kiln_asg_describe_groups(c, &r, &A, &R.groups, on_done, NULL);
  }
  if (strcmp(op, "create_group") == 0) {
    struct kiln_asg_create_group_request r = {0};

    r.name = jstr(q, "name");
    r.launch_template = jasg_lt(get(q, "launch_template"));
    r.min_size = jint(q, "min_size");
    r.max_size = jint(q, "max_size");
    r.desired_capacity = jopt_int(q, "desired_capacity");
    r.vpc_zone_identifier = jstr(q, "vpc_zone_identifier");
    r.availability_zones =
        jstrs(q, "availability_zones", &r.availability_zone_count);
    r.tags = jasg_tags(q, &r.tag_count);
    return kiln_asg_create_group(c, &r, on_done, NULL);
  }
  if (strcmp(op, "update_group") == 0) {
    struct kiln_asg_update_group_request r = {0};

    r.name = jstr(q, "name");
    r.launch_template = jasg_lt(get(q, "launch_template"));
    r.min_size = jopt_int(q, "min_size");
    r.max_size = jopt_int(q, "max_size");
    r.desired_capacity = jopt_int(q, "desired_capacity");
    r.vpc_zone_identifier = jstr(q, "vpc_zone_identifier");
    return kiln_asg_update_group(c, &r, on_done, NULL);
  }
  if (strcmp(op, "start_instance_refresh") == 0) {
    struct kiln_asg_start_instance_refresh_request r = {0};
    struct json_object *p = get(q, "preferences");

    r.group_name = jstr(q, "group_name");
    r.desired_launch_template = jasg_lt(get(q, "desired_launch_template"));
    r.preferences.min_healthy_percentage =
        jopt_int(p, "min_healthy_percentage");
    r.preferences.max_healthy_percentage =
        jopt_int(p, "max_healthy_percentage");
    r.preferences.instance_warmup_s = jopt_int(p, "instance_warmup_s");
    r.preferences.skip_matching = jopt_bool(p, "skip_matching");
    r.preferences.auto_rollback = jopt_bool(p, "auto_rollback");
    return kiln_asg_start_instance_refresh(c, &r, &A, &R.refresh_id, on_done,
                                           NULL);
  }
  if (strcmp(op, "describe_instance_refreshes") == 0) {
    struct kiln_asg_describe_instance_refreshes_request r = {0};

    r.group_name = jstr(q, "group_name");
    r.ids = jstrs(q, "ids", &r.id_count);
    r.max_records = (int)jint(q, "max_records");
    return kiln_asg_describe_instance_refreshes(c, &r, &A, &R.refreshes,
                                                on_done, NULL);
  }
  if (strcmp(op, "cancel_instance_refresh") == 0) {
    struct kiln_asg_cancel_instance_refresh_request r = {0};

    r.group_name = jstr(q, "group_name");
    return kiln_asg_cancel_instance_refresh(c, &r, &A, &R.refresh_id, on_done,
                                            NULL);
  }
  if (strcmp(op, "get_parameters") == 0) {
    struct kiln_ssm_get_parameters_request r = {0};

    r.names = jstrs(q, "names", &r.name_count);
    r.with_decryption = (int)jint(q, "with_decryption");
    return kiln_ssm_get_parameters(c, &r, &A, &R.parameters, on_done, NULL);
  }
  if (strcmp(op, "get_parameter") == 0) {
    struct kiln_ssm_get_parameter_request r = {0};

    r.name = jstr(q, "name");
    return kiln_ssm_get_parameter(c, &r, &A, &R.parameter, on_done, NULL);
  }
  if (strcmp(op, "ib_create_component") == 0) {
    struct kiln_ib_create_component_request r = {0};

    r.name = jstr(q, "name");
    r.semantic_version = jstr(q, "semantic_version");
    r.platform = jstr(q, "platform");
    r.data = jstr(q, "data");
    r.description = jstr(q, "description");
    r.tags = jtags(q, "tags", &r.tag_count);
    r.client_token = jstr(q, "client_token");
    return kiln_ib_create_component(c, &r, &A, &R.arn, on_done, NULL);
  }
  if (strcmp(op, "ib_list_components") == 0) {
    struct kiln_ib_list_request r = jib_list(q);

    return kiln_ib_list_components(c, &r, &A, &R.summaries, on_done, NULL);
  }
  if (strcmp(op, "ib_list_image_recipes") == 0) {
    struct kiln_ib_list_request r = jib_list(q);

    return kiln_ib_list_image_recipes(c, &r, &A, &R.summaries, on_done, NULL);
  }
  if (strcmp(op, "ib_list_infrastructure_configurations") == 0) {
    struct kiln_ib_list_request r = jib_list(q);

    return kiln_ib_list_infrastructure_configurations(c, &r, &A, &R.summaries,
                                                      on_done, NULL);
  }
  if (strcmp(op, "ib_get_component") == 0) {
    struct kiln_ib_get_component_request r = {jstr(q, "arn")};

    return kiln_ib_get_component(c, &r, &A, &R.component, on_done, NULL);
  }
  if (strcmp(op, "ib_create_image_recipe") == 0) {
    struct kiln_ib_create_image_recipe_request r = {0};

    r.name = jstr(q, "name");
    r.semantic_version = jstr(q, "semantic_version");
    r.parent_image = jstr(q, "parent_image");
    r.description = jstr(q, "description");
    r.components = jarray(q, "components", sizeof(*r.components), &n);
    r.component_count = n;
    for (size_t i = 0; i < n; i++) {
      struct json_object *e = at(q, "components", i);
      struct kiln_ib_recipe_component *rc = &r.components[i];

      rc->component_arn = jstr(e, "component_arn");
      rc->parameters = jarray(e, "parameters", sizeof(*rc->parameters),
                              &rc->parameter_count);
      for (size_t j = 0; j < rc->parameter_count; j++) {
        rc->parameters[j].name = jstr(at(e, "parameters", j), "name");
        rc->parameters[j].values = jstrs(at(e, "parameters", j), "values",
                                         &rc->parameters[j].value_count);
      }
    }
    r.block_devices = jarray(q, "block_devices", sizeof(*r.block_devices), &n);
    r.block_device_count = n;
    for (size_t i = 0; i < n; i++) {
      struct json_object *e = at(q, "block_devices", i);

      r.block_devices[i].device_name = jstr(e, "device_name");
      r.block_devices[i].volume_size_gib = jopt_int(e, "volume_size_gib");
      r.block_devices[i].volume_type = jstr(e, "volume_type");
      r.block_devices[i].encrypted = jopt_bool(e, "encrypted");
    }
    r.tags = jtags(q, "tags", &r.tag_count);
    r.client_token = jstr(q, "client_token");
    return kiln_ib_create_image_recipe(c, &r, &A, &R.arn, on_done, NULL);
  }
  if (strcmp(op, "ib_create_infrastructure_configuration") == 0 ||
      strcmp(op, "ib_update_infrastructure_configuration") == 0) {
    struct kiln_ib_infrastructure_configuration_request r = {0};

    r.arn = jstr(q, "arn");
    r.name = jstr(q, "name");
    r.description = jstr(q, "description");
    r.instance_types = jstrs(q, "instance_types", &r.instance_type_count);
    r.instance_profile_name = jstr(q, "instance_profile_name");
    r.subnet_id = jstr(q, "subnet_id");
    r.security_group_ids =
        jstrs(q, "security_group_ids", &r.security_group_id_count);
    r.terminate_instance_on_failure =
        jopt_bool(q, "terminate_instance_on_failure");
    r.tags = jtags(q, "tags", &r.tag_count);
    r.client_token = jstr(q, "client_token");
    if (op[3] == 'c')
      return kiln_ib_create_infrastructure_configuration(c, &r, &A, &R.arn,
                                                         on_done, NULL);
    return kiln_ib_update_infrastructure_configuration(c, &r, &A, &R.arn,
                                                       on_done, NULL);
  }
  if (strcmp(op, "ib_create_image") == 0) {
    struct kiln_ib_create_image_request r = {0};

    r.image_recipe_arn = jstr(q, "image_recipe_arn");
    r.infrastructure_configuration_arn =
        jstr(q, "infrastructure_configuration_arn");
    r.tags = jtags(q, "tags", &r.tag_count);
    r.client_token = jstr(q, "client_token");
    return kiln_ib_create_image(c, &r, &A, &R.arn, on_done, NULL);
  }
  if (strcmp(op, "ib_get_image") == 0) {
    struct kiln_ib_get_image_request r = {jstr(q, "arn")};

    return kiln_ib_get_image(c, &r, &A, &R.image, on_done, NULL);
  }
  return KILN_ENOENT;
}

int main(int argc, char **argv)
{
  struct kiln_aws_config_options co = {kiln_aws_config_real_getenv, NULL,
                                       kiln_aws_config_real_read_file, NULL};
  struct kiln_aws_client_options o;
  struct kiln_aws_config cfg;
  struct json_object *req = NULL;
  struct kiln_buf in;
  const char *base;
  uv_loop_t loop;
  char chunk[4096];
  size_t n;
  int err, rc = 0;

  if (argc != 2) {
    fprintf(stderr, "usage: kiln-aws-ops OPERATION < request.json\n");
    return 2;
  }
  op_name = argv[1];
  kiln_arena_init(&A, 0);
  kiln_buf_init(&in, 4u * 1024 * 1024);
  while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
    if (kiln_buf_append(&in, chunk, n) != 0)
      return 2;
  req = in.len > 0 ? json_tokener_parse(in.data) : json_object_new_object();
  kiln_buf_cleanup(&in);
  if (req == NULL) {
    fprintf(stderr, "kiln-aws-ops: the request is not JSON\n");
    return 2;
  }
  err = kiln_aws_config_resolve(&cfg, &co);
  if (err != 0) {
    fprintf(stderr, "kiln-aws-ops: %s\n", kiln_aws_config_error(&cfg));
    return 2;
  }
  uv_loop_init(&loop);
  memset(&o, 0, sizeof(o));
  o.loop = &loop;
  o.config = &cfg;
  base = getenv("KILN_OPS_RETRY_BASE_MS");
  if (base != NULL)
    o.retry_base_ms = (uint32_t)atoi(base);
  err = kiln_aws_client_new(&o, &client);
  if (err == 0) {
    err = start(op_name, req);
    if (err != 0)
      kiln_aws_client_close(client, on_closed, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) {
    fprintf(stderr, "kiln-aws-ops: the loop still has handles\n");
    rc = 3;
  }
  if (err != 0) {
    fprintf(stderr, "kiln-aws-ops: %s: %s\n", op_name,
            err == KILN_ENOENT ? "unknown operation" : kiln_strerror(err));
    output = json_object_new_object();
    put(output, "ok", json_object_new_boolean(0));
    put(output, "err", S(kiln_err_name(err)));
  }
  if (output != NULL) {
    puts(json_object_to_json_string_ext(output, JSON_C_TO_STRING_PLAIN));
    if (rc == 0 && !json_object_get_boolean(get(output, "ok")))
      rc = 1;
  }
  json_object_put(output);
  json_object_put(req);
  kiln_aws_config_cleanup(&cfg);
  kiln_arena_cleanup(&A);
  return rc;
}
