/* Parsing and validating one app (apps/<dir>/app.yaml) and kiln.yaml. */
#include "spec_check.h"
#include "spec_parse.h"

#include "kiln/diag.h"
#include "kiln/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_VERSION       "kiln.dev/v1"
#define MAX_COMPONENTS    20
#define MAX_BLOCK_DEVICES 16
#define INT32_LIMIT       2147483647

static const char *const app_keys[] = {
    "apiVersion",  "kind",    "name",  "region",  "version",      "image",
    "launchTemplate", "autoscaling", "rollout", "drift", "suspend",
    "environments", "retention", NULL};
static const char *const image_keys[] = {"parent", "components", "build",
                                         "home", NULL};
static const char *const component_keys[] = {"file", "arn", "parameters", NULL};
static const char *const build_keys[] = {"instanceTypes", "instanceProfile",
                                         "subnet", "securityGroups", NULL};
static const char *const lt_keys[] = {
    "name",           "instanceType",    "userData",
    "securityGroups", "instanceProfile", "blockDevices",
    "tags",           "metadata",        NULL};
static const char *const bdev_keys[] = {
    "device", "sizeGiB",    "type", "encrypted", "deleteOnTermination",
    "iops",   "throughput", NULL};
static const char *const metadata_keys[] = {"httpTokens", "hopLimit", NULL};
static const char *const asg_keys[] = {"name",
                                       "subnets",
                                       "min",
                                       "max",
                                       "desired",
                                       "targetGroups",
                                       "healthCheckType",
                                       "healthCheckGracePeriodSeconds",
                                       NULL};
static const char *const rollout_keys[] = {
    "minHealthyPercent", "maxHealthyPercent",
    "warmupSeconds",     "skipMatching",
    "autoRollback",      "alarms",
    "checkpoints",       "checkpointDelaySeconds",
    "bakeTimeSeconds",   NULL};
static const char *const defaults_keys[] = {
    "apiVersion", "kind",      "region",        "tags",
    "image",      "retention", "notifications", NULL};
static const char *const retention_keys[] = {"releases", "minAgeDays", NULL};
static const char *const defaults_image_keys[] = {"build", NULL};

static void check_header(struct pctx *c, const struct kiln_ynode *root,
                         const char *want_kind)
{
  const char *api = kiln__get_str(c, root, "apiVersion", "", true);
  const char *kind = kiln__get_str(c, root, "kind", "", true);
  if (api != NULL && strcmp(api, API_VERSION) != 0)
    kiln__perr(c, kiln_ynode_get(root, "apiVersion"),
               "apiVersion: '%.60s' is not supported; use " API_VERSION, api);
  if (kind != NULL && strcmp(kind, want_kind) != 0)
    kiln__perr(c, kiln_ynode_get(root, "kind"),
               "kind: expected '%s' in this file, got '%.60s'", want_kind,
               kind);
}

static const char *get_checked(struct pctx *c, const struct kiln_ynode *map,
                               const char *key, const char *path, bool required,
                               kiln__check_fn *check, const char *what)
{
  const char *s = kiln__get_str(c, map, key, path, required);
  const char *why;
  if (s != NULL && (why = check(s)) != NULL) {
    kiln__perr(c, kiln_ynode_get(map, key), "%s%s%s: invalid %s '%.100s': %s",
               path, path[0] != '\0' ? "." : "", key, what, s, why);
    return NULL;
  }
  return s;
}

void kiln__parse_build(struct pctx *c, const struct kiln_ynode *map,
                       const char *path, struct kiln_build_spec *out)
{
  if (!kiln__expect_map(c, map, path))
    return;
  kiln__check_keys(c, map, path, build_keys);
  kiln__get_strs(c, map, "instanceTypes", path, kiln__check_instance_type,
                 "instance type", false, &out->instance_types);
  out->instance_profile =
      get_checked(c, map, "instanceProfile", path, false,
                  kiln__check_instance_profile, "instance profile");
  out->subnet = get_checked(c, map, "subnet", path, false,
                            kiln__check_subnet_id, "subnet id");
  kiln__get_strs(c, map, "securityGroups", path, kiln__check_sg_id,
                 "security group id", false, &out->security_groups);
}

/* ---- image ---------------------------------------------------------- */

static bool region_matches(const char *arn_region, int len, const char *region)
{
  return region == NULL || ((size_t)len == strlen(region) &&
                            strncmp(arn_region, region, (size_t)len) == 0);
}

static void parse_parent(struct pctx *c, const struct kiln_ynode *image,
                         struct kiln_app_spec *app)
{
  const struct kiln_ynode *n = kiln_ynode_get(image, "parent");
  const char *s = kiln__get_str(c, image, "parent", "image", true);
  const char *why, *arn_region;
  int rlen;

  if (s == NULL)
    return;
  app->image.parent = s;
  app->image.parent_ref = s;
  if (strncmp(s, "ssm:", 4) == 0) {
    app->image.parent_kind = KILN_PARENT_SSM;
    app->image.parent_ref = s + 4;
    if ((why = kiln__check_ssm_name(s + 4)) != NULL)
      kiln__perr(c, n, "image.parent: invalid SSM parameter '%.100s': %s",
                 s + 4, why);
  } else if (strncmp(s, "ami-", 4) == 0) {
    app->image.parent_kind = KILN_PARENT_AMI;
    if ((why = kiln__check_ami_id(s)) != NULL)
      kiln__perr(c, n, "image.parent: invalid AMI id '%.100s': %s", s, why);
  } else if (strncmp(s, "arn:", 4) == 0) {
    app->image.parent_kind = KILN_PARENT_ARN;
    if ((why = kiln__check_imagebuilder_arn(s, "image", &arn_region, &rlen)) !=
        NULL)
      kiln__perr(c, n, "image.parent: invalid image ARN '%.200s': %s", s, why);
    else if (!region_matches(arn_region, rlen, app->image.home_region))
      kiln__perr(c, n,
                 "image.parent: image ARN is in region %.*s but the image is "
                 "baked in %s",
                 rlen, arn_region, app->image.home_region);
  } else {
    kiln__perr(c, n,
               "image.parent: '%.100s' must be ssm:<parameter>, an AMI id "
               "(ami-...) or an Image Builder image ARN",
               s);
  }
}

static void expand_version(struct pctx *c, const char *in, const char *version,
                           const char **out)
{
  size_t vlen = version != NULL ? strlen(version) : 0;
  size_t n = 0;
  const char *p;
  char *dst;

  for (p = strstr(in, "${version}"); p != NULL;
       p = strstr(p + 10, "${version}"))
    n++;
  if (n == 0) {
    *out = in;
    return;
  }
  dst = kiln_arena_alloc(c->arena, strlen(in) + n * vlen + 1);
  if (dst == NULL) {
    c->oom = true;
    return;
  }
  *out = dst;
  for (p = in; *p != '\0';) {
    if (strncmp(p, "${version}", 10) == 0) {
      if (vlen > 0)
        memcpy(dst, version, vlen);
      dst += vlen;
      p += 10;
    } else {
      *dst++ = *p++;
    }
  }
  *dst = '\0';
}

static int cmp_param(const void *a, const void *b)
{
  return strcmp(((const struct kiln_param *)a)->name,
                ((const struct kiln_param *)b)->name);
}

static void parse_params(struct pctx *c, const struct kiln_ynode *map,
                         const char *path, const char *version,
                         struct kiln_component_spec *out)
{
  char pp[256];
  if (!kiln__expect_map(c, map, path))
    return;
  out->params = kiln_arena_alloc(c->arena, (map->n + 1) * sizeof(*out->params));
  if (out->params == NULL) {
    c->oom = true;
    return;
  }
  for (size_t i = 0; i < map->n; i++) {
    const struct kiln_ynode *v = map->vals[i];
    struct kiln_param *p = &out->params[out->n_params];
    const char *why;
    size_t count = v->kind == KILN_YNODE_SEQ ? v->n : 1;

    snprintf(pp, sizeof(pp), "%s.%.64s", path, map->keys[i]->str);
    if ((why = kiln__check_param_name(map->keys[i]->str)) != NULL) {
      kiln__perr(c, map->keys[i], "%s: invalid parameter name: %s", pp, why);
      continue;
    }
    if (v->kind == KILN_YNODE_MAP || count == 0) {
      kiln__perr(c, v, "%s: expected a string or a non-empty list of strings",
                 pp);
      continue;
    }
    p->name = kiln_arena_strdup(c->arena, map->keys[i]->str);
    p->values.items = kiln_arena_alloc(c->arena, count * sizeof(char *));
    if (p->name == NULL || p->values.items == NULL) {
      c->oom = true;
      return;
    }
    for (size_t j = 0; j < count; j++) {
      const struct kiln_ynode *item =
          v->kind == KILN_YNODE_SEQ ? v->vals[j] : v;
      const char *s = kiln__scalar_str(c, item, pp, true);
      if (s == NULL)
        continue;
      expand_version(c, s, version, &p->values.items[p->values.n++]);
    }
    out->n_params++;
  }
  qsort(out->params, out->n_params, sizeof(*out->params), cmp_param);
}

/* AWSTOE documents must at least be YAML mappings with phases, or
 * CreateComponent refuses them; say so now, at the document's line. */
static void check_component_document(struct pctx *c, const char *path,
                                     const char *text, size_t len)
{
  struct kiln_arena scratch;
  struct kiln_ynode *root = NULL;
  struct pctx dc = *c;
  size_t before = c->diags->n;

  dc.file = path;
  kiln_arena_init(&scratch, 4 * 1024 * 1024);
  if (!kiln_ydoc_check_text(path, text, len, true, c->diags) ||
      kiln_ydoc_parse(path, text, len, NULL, &scratch, c->diags, &root) != 0) {
    c->errors += c->diags->n - before + (c->diags->n == before);
    kiln_arena_cleanup(&scratch);
    return;
  }
  if (root->kind != KILN_YNODE_MAP) {
    kiln__perr(&dc, root, "component document must be a YAML mapping");
  } else {
    const struct kiln_ynode *phases = kiln_ynode_get(root, "phases");
    if (kiln_ynode_get(root, "schemaVersion") == NULL)
      kiln__perr(&dc, root, "component document has no 'schemaVersion'");
    if (phases == NULL)
      kiln__perr(&dc, root, "component document has no 'phases'");
    else if (phases->kind != KILN_YNODE_SEQ || phases->n == 0)
      kiln__perr(&dc, phases,
                 "component document: 'phases' must be a non-empty list");
  }
  c->errors += dc.errors;
  c->oom |= dc.oom;
  kiln_arena_cleanup(&scratch);
}

static void parse_component(struct pctx *c, const struct kiln_ynode *n,
                            const char *path, struct kiln_app_spec *app,
                            struct kiln_component_spec *out)
{
  const char *file, *arn, *why, *arn_region;
  const struct kiln_ynode *params;
  int rlen;

  if (!kiln__expect_map(c, n, path))
    return;
  kiln__check_keys(c, n, path, component_keys);
  file = kiln__get_str(c, n, "file", path, false);
  arn = kiln__get_str(c, n, "arn", path, false);
  if ((file == NULL) == (arn == NULL) && kiln_ynode_get(n, "file") == NULL &&
      kiln_ynode_get(n, "arn") == NULL) {
    kiln__perr(c, n, "%s: needs either 'file' or 'arn'", path);
    return;
  }
  if (file != NULL && arn != NULL) {
    kiln__perr(c, n, "%s: has both 'file' and 'arn'; use one", path);
    return;
  }
  if (arn != NULL) {
    out->arn = arn;
    if ((why = kiln__check_imagebuilder_arn(arn, "component", &arn_region,
                                            &rlen)) != NULL)
      kiln__perr(c, kiln_ynode_get(n, "arn"),
                 "%s.arn: invalid component ARN '%.200s': %s", path, arn, why);
    else if (!region_matches(arn_region, rlen, app->image.home_region))
      kiln__perr(c, kiln_ynode_get(n, "arn"),
                 "%s.arn: component ARN is in region %.*s but the image is "
                 "baked in %s",
                 path, rlen, arn_region, app->image.home_region);
  }
  if (file != NULL) {
    out->document = kiln__read_ref(
        c, kiln_ynode_get(n, "file"), file, KILN_SPEC_MAX_COMPONENT_BYTES,
        "component file", &out->document_len, &out->file);
    if (out->document != NULL)
      check_component_document(c, out->file, out->document, out->document_len);
  }
  params = kiln_ynode_get(n, "parameters");
  if (!kiln__is_null(params)) {
    char pp[160];
    snprintf(pp, sizeof(pp), "%s.parameters", path);
    parse_params(c, params, pp, app->version, out);
  }
}

static void merge_build(struct kiln_build_spec *app,
                        const struct kiln_build_spec *defaults)
{
  if (app->instance_types.n == 0)
    app->instance_types = defaults->instance_types;
  if (app->instance_profile == NULL)
    app->instance_profile = defaults->instance_profile;
  if (app->subnet == NULL)
    app->subnet = defaults->subnet;
  if (app->security_groups.n == 0)
    app->security_groups = defaults->security_groups;
}

static void parse_image(struct pctx *c, const struct kiln_ynode *root,
                        struct kiln_app_spec *app,
                        const struct kiln_spec_defaults *defaults)
{
  const struct kiln_ynode *image = kiln_ynode_get(root, "image");
  const struct kiln_ynode *comps, *build;
  char path[64];

  if (kiln__is_null(image)) {
    kiln__perr(c, image != NULL ? image : root,
               "image: required key is missing");
    return;
  }
  if (!kiln__expect_map(c, image, "image"))
    return;
  kiln__check_keys(c, image, "image", image_keys);
  if (c->home_region == NULL && kiln_ynode_get(image, "home") != NULL)
    kiln__perr(c, kiln_ynode_get(image, "home"),
               "image.home: only an app with environments bakes away from "
               "its region; this app's image is baked in its own region");
  parse_parent(c, image, app);

  comps = kiln_ynode_get(image, "components");
  if (kiln__is_null(comps)) {
    kiln__perr(c, comps != NULL ? comps : image,
               "image.components: required key is missing");
  } else if (comps->kind != KILN_YNODE_SEQ || comps->n == 0) {
    kiln__perr(c, comps, "image.components: expected a non-empty list");
  } else if (comps->n > MAX_COMPONENTS) {
    kiln__perr(c, comps,
               "image.components: %zu components; an image recipe takes at "
               "most %d",
               comps->n, MAX_COMPONENTS);
  } else {
    app->image.components =
        kiln_arena_alloc(c->arena, comps->n * sizeof(*app->image.components));
    if (app->image.components == NULL) {
      c->oom = true;
      return;
    }
    app->image.n_components = comps->n;
    for (size_t i = 0; i < comps->n; i++) {
      snprintf(path, sizeof(path), "image.components[%zu]", i);
      parse_component(c, comps->vals[i], path, app, &app->image.components[i]);
    }
  }

  build = kiln_ynode_get(image, "build");
  if (!kiln__is_null(build))
    kiln__parse_build(c, build, "image.build", &app->image.build);
  merge_build(&app->image.build, &defaults->build);
  if (app->image.build.instance_profile == NULL && c->repo_defaults_valid)
    kiln__perr(c, build != NULL ? build : image,
               "image.build.instanceProfile: required; set it here or in "
               "kiln.yaml's image.build");
  if (app->image.build.security_groups.n > 0 && app->image.build.subnet == NULL)
    kiln__perr(c, build != NULL ? build : image,
               "image.build: securityGroups need a subnet (Image Builder "
               "requires one when security groups are given)");
}

/* ---- launch template ---------------------------------------------- */

static bool volume_type_ok(const char *t)
{
  static const char *const types[] = {"gp2", "gp3", "io1",      "io2",
                                      "st1", "sc1", "standard", NULL};
  for (size_t i = 0; types[i] != NULL; i++)
    if (strcmp(t, types[i]) == 0)
      return true;
  return false;
}

static void parse_block_device(struct pctx *c, const struct kiln_ynode *n,
                               const char *path, struct kiln_block_device *d)
{
  int64_t min_size = 1, max_size = 16384;

  if (!kiln__expect_map(c, n, path))
    return;
  kiln__check_keys(c, n, path, bdev_keys);
  d->device = get_checked(c, n, "device", path, true, kiln__check_device_name,
                          "device name");
  d->type = kiln__get_str(c, n, "type", path, false);
  if (d->type == NULL)
    d->type = "gp3";
  else if (!volume_type_ok(d->type))
    kiln__perr(c, kiln_ynode_get(n, "type"),
               "%s.type: unknown volume type '%.40s' (gp2, gp3, io1, io2, st1, "
               "sc1 or standard)",
               path, d->type);
  if (strcmp(d->type, "st1") == 0 || strcmp(d->type, "sc1") == 0)
    min_size = 125;
  else if (strcmp(d->type, "io1") == 0 || strcmp(d->type, "io2") == 0)
    min_size = 4;
  if (strcmp(d->type, "standard") == 0)
    max_size = 1024;
  else if (strcmp(d->type, "io2") == 0)
    max_size = 65536;
  kiln__get_int(c, n, "sizeGiB", path, min_size, max_size, true, &d->size_gib);
  d->encrypted = true;
  kiln__get_bool(c, n, "encrypted", path, &d->encrypted);
  d->delete_on_termination = true;
  kiln__get_bool(c, n, "deleteOnTermination", path, &d->delete_on_termination);
  if (kiln__get_int(c, n, "iops", path, 100, 256000, false, &d->iops) &&
      strcmp(d->type, "gp3") != 0 && strcmp(d->type, "io1") != 0 &&
      strcmp(d->type, "io2") != 0)
    kiln__perr(c, kiln_ynode_get(n, "iops"),
               "%s.iops: only gp3, io1 and io2 volumes take iops", path);
  if ((strcmp(d->type, "io1") == 0 || strcmp(d->type, "io2") == 0) &&
      d->iops == 0 && kiln_ynode_get(n, "iops") == NULL)
    kiln__perr(c, n, "%s.iops: required for %s volumes", path, d->type);
  if (kiln__get_int(c, n, "throughput", path, 125, 2000, false,
                    &d->throughput) &&
      strcmp(d->type, "gp3") != 0)
    kiln__perr(c, kiln_ynode_get(n, "throughput"),
               "%s.throughput: only gp3 volumes take throughput", path);
}

static void parse_metadata(struct pctx *c, const struct kiln_ynode *lt,
                           struct kiln_lt_spec *out)
{
  const struct kiln_ynode *m = kiln_ynode_get(lt, "metadata");
  out->http_tokens = "required";
  out->http_hop_limit = 2;
  if (kiln__is_null(m) || !kiln__expect_map(c, m, "launchTemplate.metadata"))
    return;
  kiln__check_keys(c, m, "launchTemplate.metadata", metadata_keys);
  const char *t =
      kiln__get_str(c, m, "httpTokens", "launchTemplate.metadata", false);
  if (t != NULL && strcmp(t, "required") != 0 && strcmp(t, "optional") != 0)
    kiln__perr(c, kiln_ynode_get(m, "httpTokens"),
               "launchTemplate.metadata.httpTokens: must be 'required' "
               "(IMDSv2, the default) or 'optional'");
  else if (t != NULL)
    out->http_tokens = t;
  kiln__get_int(c, m, "hopLimit", "launchTemplate.metadata", 1, 64, false,
                &out->http_hop_limit);
}

static void parse_launch_template(struct pctx *c, const struct kiln_ynode *root,
                                  struct kiln_app_spec *app)
{
  const struct kiln_ynode *lt = kiln_ynode_get(root, "launchTemplate");
  const struct kiln_ynode *bdevs, *ud;
  struct kiln_lt_spec *out = &app->launch_template;
  const char *p = "launchTemplate";
  char path[64];

  out->name = kiln__default_resource_name(c, app);
  out->http_tokens = "required";
  out->http_hop_limit = 2;
  if (kiln__is_null(lt)) {
    kiln__perr(c, lt != NULL ? lt : root,
               "launchTemplate: required key is missing");
    return;
  }
  if (!kiln__expect_map(c, lt, p))
    return;
  kiln__check_keys(c, lt, p, lt_keys);
  const char *name = get_checked(c, lt, "name", p, false, kiln__check_lt_name,
                                 "launch template name");
  if (name != NULL)
    out->name = name;
  else if (kiln_ynode_get(lt, "name") == NULL && out->name != NULL &&
           kiln__check_lt_name(out->name) != NULL)
    kiln__perr(c, lt,
               "launchTemplate.name: the default '%s' is not a valid launch "
               "template name (3-128 characters); set one",
               out->name);
  out->instance_type = get_checked(c, lt, "instanceType", p, true,
                                   kiln__check_instance_type, "instance type");
  ud = kiln_ynode_get(lt, "userData");
  const char *ud_ref = kiln__get_str(c, lt, "userData", p, false);
  if (ud_ref != NULL)
    out->user_data = kiln__read_ref(
        c, ud, ud_ref, KILN_SPEC_MAX_USER_DATA_BYTES, "user data file",
        &out->user_data_len, &out->user_data_file);
  kiln__get_strs(c, lt, "securityGroups", p, kiln__check_sg_id,
                 "security group id", false, &out->security_groups);
  out->instance_profile =
      get_checked(c, lt, "instanceProfile", p, false,
                  kiln__check_instance_profile, "instance profile");
  bdevs = kiln_ynode_get(lt, "blockDevices");
  if (!kiln__is_null(bdevs)) {
    if (bdevs->kind != KILN_YNODE_SEQ) {
      kiln__perr(c, bdevs, "launchTemplate.blockDevices: expected a list");
    } else if (bdevs->n > MAX_BLOCK_DEVICES) {
      kiln__perr(c, bdevs,
                 "launchTemplate.blockDevices: at most %d devices are allowed",
                 MAX_BLOCK_DEVICES);
    } else {
      out->block_devices = kiln_arena_alloc(
          c->arena, (bdevs->n + 1) * sizeof(*out->block_devices));
      if (out->block_devices == NULL) {
        c->oom = true;
        return;
      }
      for (size_t i = 0; i < bdevs->n; i++) {
        snprintf(path, sizeof(path), "launchTemplate.blockDevices[%zu]", i);
        parse_block_device(c, bdevs->vals[i], path, &out->block_devices[i]);
        for (size_t j = 0; j < i; j++)
          if (out->block_devices[i].device != NULL &&
              out->block_devices[j].device != NULL &&
              strcmp(out->block_devices[i].device,
                     out->block_devices[j].device) == 0)
            kiln__perr(c, bdevs->vals[i], "%s.device: '%s' is listed twice",
                       path, out->block_devices[i].device);
      }
      out->n_block_devices = bdevs->n;
    }
  }
  kiln__get_tags(c, lt, "tags", p, &out->tags);
  parse_metadata(c, lt, out);
}

/* ---- auto scaling and rollout ------------------------------------- */

/* An ELBv2 target group ARN:
 * arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID. */
static const char *check_target_group_arn(const char *s)
{
  const char *p = s, *name;
  size_t n;

  if (strncmp(p, "arn:", 4) != 0)
    return "expected arn:aws:elasticloadbalancing:REGION:ACCOUNT:"
           "targetgroup/NAME/ID";
  p += 4;
  p += strcspn(p, ":");
  if (strncmp(p, ":elasticloadbalancing:", 22) != 0)
    return "not an Elastic Load Balancing ARN";
  p += 22;
  n = strcspn(p, ":");
  if (n == 0 || p[n] != ':')
    return "no region";
  p += n + 1;
  if (strspn(p, "0123456789") != 12 || p[12] != ':')
    return "the account must be 12 digits";
  p += 13;
  if (strncmp(p, "targetgroup/", 12) != 0)
    return "not a target group (targetgroup/NAME/ID)";
  name = p + 12;
  n = strcspn(name, "/");
  if (n == 0 || n > 32 || name[n] != '/')
    return "the target group name must be 1 to 32 characters";
  if (strspn(name + n + 1, "0123456789abcdef") != 16 || name[n + 17] != '\0')
    return "the target group id must be 16 hexadecimal digits";
  return NULL;
}

/* The target group's region must be the app's: a group cannot use a
 * target group of another region. */
static void check_target_group_regions(struct pctx *c,
                                       const struct kiln_ynode *asg,
                                       const struct kiln_app_spec *app)
{
  const struct kiln_strs *tg = &app->autoscaling.target_groups;
  const struct kiln_ynode *n = kiln_ynode_get(asg, "targetGroups");

  for (size_t i = 0; app->region != NULL && i < tg->n; i++) {
    const char *r = strstr(tg->items[i], ":elasticloadbalancing:") + 22;
    size_t len = strcspn(r, ":");
    if (strlen(app->region) != len || strncmp(r, app->region, len) != 0)
      kiln__perr(c, n != NULL && i < n->n ? n->vals[i] : asg,
                 "autoscaling.targetGroups[%zu]: target group is in region "
                 "%.*s, the app in %s",
                 i, (int)len, r, app->region);
  }
}

static void parse_health(struct pctx *c, const struct kiln_ynode *asg,
                         struct kiln_app_spec *app)
{
  struct kiln_asg_spec *out = &app->autoscaling;
  const char *p = "autoscaling";
  const char *type = kiln__get_str(c, asg, "healthCheckType", p, false);

  out->has_target_groups =
      kiln__get_strs(c, asg, "targetGroups", p, check_target_group_arn,
                     "target group ARN", false, &out->target_groups);
  if (out->has_target_groups)
    check_target_group_regions(c, asg, app);
  if (type != NULL) {
    if (strcmp(type, "EC2") == 0 || strcmp(type, "ELB") == 0)
      out->health_check_type = type;
    else
      kiln__perr(c, kiln_ynode_get(asg, "healthCheckType"),
                 "autoscaling.healthCheckType: must be EC2 or ELB, not "
                 "'%.40s'",
                 type);
  }
  out->has_grace = kiln__get_int(c, asg, "healthCheckGracePeriodSeconds", p, 0,
                                 INT32_LIMIT, false, &out->grace_seconds);
}

static void parse_autoscaling(struct pctx *c, const struct kiln_ynode *root,
                              struct kiln_app_spec *app)
{
  const struct kiln_ynode *asg = kiln_ynode_get(root, "autoscaling");
  struct kiln_asg_spec *out = &app->autoscaling;
  const char *p = "autoscaling";
  bool have_min, have_max;

  out->name = kiln__default_resource_name(c, app);
  if (kiln__is_null(asg)) {
    kiln__perr(c, asg != NULL ? asg : root,
               "autoscaling: required key is missing");
    return;
  }
  if (!kiln__expect_map(c, asg, p))
    return;
  kiln__check_keys(c, asg, p, asg_keys);
  const char *name =
      get_checked(c, asg, "name", p, false, kiln__check_asg_name, "group name");
  if (name != NULL)
    out->name = name;
  kiln__get_strs(c, asg, "subnets", p, kiln__check_subnet_id, "subnet id", true,
                 &out->subnets);
  have_min = kiln__get_int(c, asg, "min", p, 0, INT32_LIMIT, true, &out->min);
  have_max = kiln__get_int(c, asg, "max", p, 0, INT32_LIMIT, true, &out->max);
  out->has_desired =
      kiln__get_int(c, asg, "desired", p, 0, INT32_LIMIT, false, &out->desired);
  parse_health(c, asg, app);
  if (have_min && have_max && out->min > out->max)
    kiln__perr(c, kiln_ynode_get(asg, "min"),
               "autoscaling.min: %lld is greater than max %lld",
               (long long)out->min, (long long)out->max);
  if (out->has_desired && have_min && out->desired < out->min)
    kiln__perr(c, kiln_ynode_get(asg, "desired"),
               "autoscaling.desired: %lld is less than min %lld",
               (long long)out->desired, (long long)out->min);
  if (out->has_desired && have_max && out->desired > out->max)
    kiln__perr(c, kiln_ynode_get(asg, "desired"),
               "autoscaling.desired: %lld is greater than max %lld",
               (long long)out->desired, (long long)out->max);
}

/* AWS's limits for StartInstanceRefresh's preferences. */
#define MAX_ALARMS         10
#define MAX_CHECKPOINTS    10
#define MAX_ROLLOUT_WAIT_S 172800

/* A CloudWatch alarm name: 1 to 255 characters, none of them a control
 * character. */
static const char *check_alarm_name(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 255)
    return "must be 1 to 255 characters";
  for (; *s != '\0'; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return "must not hold control characters";
  return NULL;
}

/* rollout.checkpoints: percentages, ascending and unique, as AWS
 * requires of CheckpointPercentages. */
static void parse_checkpoints(struct pctx *c, const struct kiln_ynode *r,
                              struct kiln_rollout_spec *out)
{
  const struct kiln_ynode *n = kiln_ynode_get(r, "checkpoints");
  char ip[64];

  if (n == NULL)
    return;
  if (n->kind != KILN_YNODE_SEQ || n->n == 0 || n->n > MAX_CHECKPOINTS) {
    kiln__perr(c, n,
               "rollout.checkpoints: expected a list of 1 to %d percentages",
               MAX_CHECKPOINTS);
    return;
  }
  for (size_t i = 0; i < n->n; i++) {
    const struct kiln_ynode *v = n->vals[i];
    int64_t pct;
    snprintf(ip, sizeof(ip), "rollout.checkpoints[%zu]", i);
    if (!kiln__scalar_int(c, v, ip, 1, 100, &pct))
      return;
    if (out->n_checkpoints > 0 &&
        pct <= out->checkpoints[out->n_checkpoints - 1]) {
      kiln__perr(c, v,
                 "%s: %lld must be greater than the "
                 "checkpoint before it (%lld): AWS takes them ascending and "
                 "unique",
                 ip, (long long)pct,
                 (long long)out->checkpoints[out->n_checkpoints - 1]);
      return;
    }
    out->checkpoints[out->n_checkpoints++] = pct;
  }
}

static void parse_gates(struct pctx *c, const struct kiln_ynode *r,
                        struct kiln_rollout_spec *out)
{
  const char *p = "rollout";
  const struct kiln_ynode *alarms = kiln_ynode_get(r, "alarms");

  if (kiln__get_strs(c, r, "alarms", p, check_alarm_name, "alarm name", false,
                     &out->alarms) &&
      out->alarms.n > MAX_ALARMS)
    kiln__perr(c, alarms, "rollout.alarms: %zu alarms; AWS takes at most %d",
               out->alarms.n, MAX_ALARMS);
  parse_checkpoints(c, r, out);
  out->has_checkpoint_delay =
      kiln__get_int(c, r, "checkpointDelaySeconds", p, 0, MAX_ROLLOUT_WAIT_S,
                    false, &out->checkpoint_delay_seconds);
  if (out->has_checkpoint_delay && kiln_ynode_get(r, "checkpoints") == NULL)
    kiln__perr(c, kiln_ynode_get(r, "checkpointDelaySeconds"),
               "rollout.checkpointDelaySeconds: only with checkpoints (AWS "
               "refuses a delay without them)");
  out->has_bake_time =
      kiln__get_int(c, r, "bakeTimeSeconds", p, 0, MAX_ROLLOUT_WAIT_S, false,
                    &out->bake_time_seconds);
}

static void parse_rollout(struct pctx *c, const struct kiln_ynode *root,
                          struct kiln_app_spec *app)
{
  const struct kiln_ynode *r = kiln_ynode_get(root, "rollout");
  struct kiln_rollout_spec *out = &app->rollout;
  const char *p = "rollout";

  /* AWS's own defaults for an instance refresh, plus a warm-up. */
  out->min_healthy_percent = 90;
  out->max_healthy_percent = 100;
  out->warmup_seconds = 300;
  out->skip_matching = true;
  out->auto_rollback = true;
  if (kiln__is_null(r) || !kiln__expect_map(c, r, p))
    return;
  kiln__check_keys(c, r, p, rollout_keys);
  bool have_min = kiln__get_int(c, r, "minHealthyPercent", p, 0, 100, false,
                                &out->min_healthy_percent);
  bool have_max = kiln__get_int(c, r, "maxHealthyPercent", p, 100, 200, false,
                                &out->max_healthy_percent);
  kiln__get_int(c, r, "warmupSeconds", p, 0, INT32_LIMIT, false,
                &out->warmup_seconds);
  kiln__get_bool(c, r, "skipMatching", p, &out->skip_matching);
  kiln__get_bool(c, r, "autoRollback", p, &out->auto_rollback);
  parse_gates(c, r, out);
  /* AWS takes alarms and a bake time without AutoRollback, but then an
   * alarm only stops the refresh: what was replaced stays replaced. */
  if (!out->auto_rollback && (out->alarms.n > 0 || out->bake_time_seconds > 0))
    kiln__pwarn(c, kiln_ynode_get(r, "autoRollback"),
                "rollout: %s without autoRollback: true: an alarm then only "
                "stops the refresh, and the instances already replaced keep "
                "the new version",
                out->alarms.n > 0 ? "alarms" : "bakeTimeSeconds");
  /* StartInstanceRefresh rejects a spread of more than 100 points. */
  if ((have_min || have_max) &&
      out->max_healthy_percent - out->min_healthy_percent > 100)
    kiln__perr(
        c,
        kiln_ynode_get(r, have_max ? "maxHealthyPercent" : "minHealthyPercent"),
        "rollout: maxHealthyPercent (%lld) minus minHealthyPercent "
        "(%lld) must not exceed 100, as AWS requires",
        (long long)out->max_healthy_percent,
        (long long)out->min_healthy_percent);
}

static void parse_modes(struct pctx *c, const struct kiln_ynode *root,
                        struct kiln_app_spec *app)
{
  const char *drift = kiln__get_str(c, root, "drift", "", false);
  app->drift = KILN_DRIFT_CORRECT;
  if (drift != NULL) {
    if (strcmp(drift, "report") == 0)
      app->drift = KILN_DRIFT_REPORT;
    else if (strcmp(drift, "correct") != 0)
      kiln__perr(c, kiln_ynode_get(root, "drift"),
                 "drift: must be 'correct' or 'report', not '%.40s'", drift);
  }
  kiln__get_bool(c, root, "suspend", "", &app->suspend);
}

/* retention: {releases: 1-1000, minAgeDays: 0-3650} over base. */
static void parse_retention(struct pctx *c, const struct kiln_ynode *root,
                            const struct kiln_retention_spec *base,
                            struct kiln_retention_spec *out)
{
  const struct kiln_ynode *r = kiln_ynode_get(root, "retention");
  *out = *base;
  if (kiln__is_null(r) || !kiln__expect_map(c, r, "retention"))
    return;
  kiln__check_keys(c, r, "retention", retention_keys);
  kiln__get_int(c, r, "releases", "retention", 1, 1000, false, &out->releases);
  kiln__get_int(c, r, "minAgeDays", "retention", 0, 3650, false,
                &out->min_age_days);
}

static void check_tag_total(struct pctx *c, const struct kiln_ynode *root,
                            const struct kiln_app_spec *app)
{
  size_t total = app->tags.n;
  for (size_t i = 0; i < app->launch_template.tags.n; i++) {
    bool dup = false;
    for (size_t j = 0; j < app->tags.n; j++)
      dup |= strcmp(app->tags.items[j].key,
                    app->launch_template.tags.items[i].key) == 0;
    total += !dup;
  }
  if (total > KILN_SPEC_MAX_TAGS &&
      app->launch_template.tags.n <= KILN_SPEC_MAX_TAGS)
    kiln__perr(c,
               kiln_ynode_get(kiln_ynode_get(root, "launchTemplate"), "tags"),
               "launchTemplate.tags: with kiln.yaml's tags there are %zu; at "
               "most %d are allowed",
               total, KILN_SPEC_MAX_TAGS);
}

/* ---- entry points --------------------------------------------------- */

static struct kiln_app_spec *new_app(struct kiln_spec_repo *repo);

static bool load_root(struct pctx *c, const char *text, size_t len,
                      struct kiln_arena *scratch, struct kiln_ynode **root)
{
  size_t before = c->diags->n;
  if (len > KILN_SPEC_MAX_YAML_BYTES) {
    kiln__perr(c, NULL, "file is larger than %d bytes",
               KILN_SPEC_MAX_YAML_BYTES);
    return false;
  }
  if (!kiln_ydoc_check_text(c->file, text, len, false, c->diags) ||
      kiln_ydoc_parse(c->file, text, len, NULL, scratch, c->diags, root) != 0)
    c->errors += c->diags->n - before + (c->diags->n == before);
  return *root != NULL && kiln__expect_map(c, *root, "file");
}

void kiln__spec_parse_target(struct pctx *c, struct kiln_spec_repo *repo,
                             const struct kiln_ynode *root,
                             struct kiln_app_spec *app)
{
  app->region =
      get_checked(c, root, "region", "", false, kiln__check_region, "region");
  if (app->region == NULL && kiln_ynode_get(root, "region") == NULL) {
    app->region = repo->defaults.region;
    /* An invalid kiln.yaml is reported there; do not cascade. */
    if (app->region == NULL && repo->defaults_valid)
      kiln__perr(c, root, "region: required; set it here or in kiln.yaml");
  }
  app->version = get_checked(c, root, "version", "", true, kiln__check_version,
                             "version");
  app->tags = repo->defaults.tags;
  app->image.home_region = c->home_region != NULL ? c->home_region : app->region;
  app->image.home_role_arn = c->home_role_arn;

  parse_image(c, root, app, &repo->defaults);
  parse_launch_template(c, root, app);
  parse_autoscaling(c, root, app);
  parse_rollout(c, root, app);
  parse_modes(c, root, app);
  parse_retention(c, root, &repo->defaults.retention, &app->retention);
  check_tag_total(c, root, app);
}

const char *kiln__default_resource_name(struct pctx *c,
                                        const struct kiln_app_spec *app)
{
  if (app->env == NULL || app->app == NULL)
    return app->name;
  return kiln_arena_printf(c->arena, "%s-%s", app->app, app->env);
}

int kiln_spec_parse_app(struct kiln_spec_repo *repo,
                        const struct kiln_tree *tree, const char *dir,
                        const char *text, size_t len, struct kiln_diags *diags)
{
  struct kiln_arena scratch;
  struct kiln_ynode *root = NULL;
  struct kiln_app_spec *app = new_app(repo);
  struct pctx c;
  const char *base;

  if (app == NULL)
    return KILN_ENOMEM;
  memset(&c, 0, sizeof(c));
  c.arena = &repo->arena;
  c.repo = repo;
  c.diags = diags;
  c.warnings = &repo->warnings;
  c.tree = tree;
  c.dir = kiln_arena_strdup(&repo->arena, dir);
  c.file = kiln_arena_printf(&repo->arena, "%s/app.yaml", dir);
  base = strrchr(dir, '/');
  app->name = kiln_arena_strdup(&repo->arena, base != NULL ? base + 1 : dir);
  app->dir = c.dir;
  app->file = c.file;
  if (c.dir == NULL || c.file == NULL || app->name == NULL)
    return KILN_ENOMEM;
  c.app = app->name;
  c.repo_defaults_valid = repo->defaults_valid;

  kiln_arena_init(&scratch, 16 * 1024 * 1024);
  if (!load_root(&c, text, len, &scratch, &root))
    goto done;
  kiln__check_keys(&c, root, "", app_keys);
  check_header(&c, root, "App");

  const char *name = kiln__get_str(&c, root, "name", "", false);
  const char *why;
  if (name != NULL)
    app->name = name;
  if ((why = kiln__check_app_name(app->name)) != NULL)
    kiln__perr(&c, name != NULL ? kiln_ynode_get(root, "name") : root,
               "name: invalid app name '%.80s'%s: %s", app->name,
               name != NULL ? "" : " (taken from the directory name)", why);
  c.app = app->name;
  app->app = app->name;

  if (kiln_ynode_get(root, "environments") != NULL) {
    /* The app's slot becomes its first environment; the rest follow. */
    int err = kiln__spec_parse_environments(&c, repo, root,
                                            (size_t)(app - repo->apps),
                                            &scratch);
    kiln_arena_cleanup(&scratch);
    return err;
  }
  kiln__spec_parse_target(&c, repo, root, app);
done:
  kiln_arena_cleanup(&scratch);
  app->valid = c.errors == 0 && !c.oom && repo->defaults_valid;
  return c.oom ? KILN_ENOMEM : 0;
}

int kiln_spec_parse_defaults(struct kiln_spec_repo *repo, const char *text,
                             size_t len, struct kiln_diags *diags)
{
  struct kiln_arena scratch;
  struct kiln_ynode *root = NULL;
  struct kiln_spec_defaults *d = &repo->defaults;
  const struct kiln_ynode *image, *build;
  struct pctx c;

  memset(&c, 0, sizeof(c));
  c.arena = &repo->arena;
  c.diags = diags;
  c.file = "kiln.yaml";
  c.dir = "";
  d->present = true;
  kiln_arena_init(&scratch, 16 * 1024 * 1024);
  if (!load_root(&c, text, len, &scratch, &root))
    goto done;
  kiln__check_keys(&c, root, "", defaults_keys);
  check_header(&c, root, "Defaults");
  d->region =
      get_checked(&c, root, "region", "", false, kiln__check_region, "region");
  parse_retention(&c, root,
                  &(struct kiln_retention_spec){KILN_RETENTION_RELEASES,
                                                KILN_RETENTION_MIN_AGE_DAYS},
                  &d->retention);
  kiln__get_tags(&c, root, "tags", "", &d->tags);
  kiln__spec_parse_notifications(&c, root, d);
  image = kiln_ynode_get(root, "image");
  if (!kiln__is_null(image) && kiln__expect_map(&c, image, "image")) {
    kiln__check_keys(&c, image, "image", defaults_image_keys);
    build = kiln_ynode_get(image, "build");
    if (!kiln__is_null(build))
      kiln__parse_build(&c, build, "image.build", &d->build);
  }
done:
  kiln_arena_cleanup(&scratch);
  repo->defaults_valid = c.errors == 0 && !c.oom;
  return c.oom ? KILN_ENOMEM : 0;
}

struct kiln_app_spec *kiln__spec_add_invalid_app(struct kiln_spec_repo *repo,
                                                 const char *dir)
{
  struct kiln_app_spec *app = new_app(repo);
  const char *base = strrchr(dir, '/');

  if (app == NULL)
    return NULL;
  app->dir = kiln_arena_strdup(&repo->arena, dir);
  app->file = kiln_arena_printf(&repo->arena, "%s/app.yaml", dir);
  app->name = kiln_arena_strdup(&repo->arena, base != NULL ? base + 1 : dir);
  app->app = app->name;
  app->valid = false;
  if (app->dir == NULL || app->file == NULL || app->name == NULL)
    return NULL;
  return app;
}

/* Apps live in a heap array beside the arena so it can grow. */
static struct kiln_app_spec *new_app(struct kiln_spec_repo *repo)
{
  return kiln__spec_new_app(repo);
}

struct kiln_app_spec *kiln__spec_new_app(struct kiln_spec_repo *repo)
{
  if (repo->n_apps == repo->apps_cap) {
    size_t cap = repo->apps_cap != 0 ? repo->apps_cap * 2 : 16;
    struct kiln_app_spec *apps = realloc(repo->apps, cap * sizeof(*apps));
    if (apps == NULL)
      return NULL;
    repo->apps = apps;
    repo->apps_cap = cap;
  }
  memset(&repo->apps[repo->n_apps], 0, sizeof(repo->apps[0]));
  return &repo->apps[repo->n_apps++];
}
