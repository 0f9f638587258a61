#include "kiln/gc_look.h"

#include "kiln/arena.h"
#include "kiln/aws_client.h"
#include "kiln/aws_credentials.h"
#include "kiln/error.h"
#include "kiln/imagebuilder.h"
#include "kiln/naming.h"
#include "kiln/str.h"

#include <stdio.h>
#include <string.h>

#define AMIS_PER_CALL 200

static bool here(const struct kiln_gc_look *l, const struct kiln_app_spec *s)
{
  return s->valid && kiln_spec_runs_in(s, l->region, l->role_arn);
}

static void call_done(struct kiln_gc_look *l, int err,
                      const struct kiln_aws_response *res, const char *what)
{
  if (err != 0 && l->err == 0) {
    l->err = err;
    l->why = kiln_arena_printf(l->a, "%s: %s", what,
                               res != NULL && res->message != NULL &&
                                       res->message[0] != '\0'
                                   ? res->message
                                   : kiln_strerror(err));
  }
  if (--l->pending == 0)
    l->cb(l, l->data);
}

static void on_versions(int err, const struct kiln_aws_response *res,
                        void *data)
{
  call_done(data, err, res, "cannot list launch template versions");
}

static void on_instances(int err, const struct kiln_aws_response *res,
                         void *data)
{
  call_done(data, err, res, "cannot list the instances of Kiln's AMIs");
}

static void on_marked(int err, const struct kiln_aws_response *res, void *data)
{
  call_done(data, err, res, "cannot list the snapshots a collection marked");
}

static void on_recipes(int err, const struct kiln_aws_response *res,
                       void *data)
{
  call_done(data, err, res, "cannot list Image Builder's recipes");
}

/* Is t the target that bakes its app's image (so Image Builder's
 * recipes of the app are listed once)? */
static bool bakes_here(const struct kiln_gc_look *l, size_t t)
{
  const struct kiln_app_spec *s = &l->repo->apps[t];
  return here(l, s) && kiln_spec_image_at_home(s) &&
         (s->image.home_target == NULL ||
          strcmp(s->name, s->image.home_target) == 0);
}

static int look_recipes(struct kiln_gc_look *l)
{
  for (size_t t = 0; t < l->repo->n_apps; t++) {
    struct kiln_ib_filter *f;
    const char **name;
    char recipe[160];
    int err;
    if (!bakes_here(l, t))
      continue;
    kiln_naming_recipe(&l->repo->apps[t], recipe, sizeof(recipe));
    f = kiln_arena_alloc(l->a, sizeof(*f));
    name = kiln_arena_alloc(l->a, sizeof(*name));
    if (f == NULL || name == NULL ||
        (name[0] = kiln_arena_strdup(l->a, recipe)) == NULL)
      return KILN_ENOMEM;
    *f = (struct kiln_ib_filter){"name", name, 1};
    l->pending++;
    err = kiln_ib_list_image_recipes(
        l->client,
        &(struct kiln_ib_list_request){.owner = "Self",
                                       .filters = f,
                                       .filter_count = 1,
                                       .max_results = 25},
        l->a, &l->recipes[t], on_recipes, l);
    if (err != 0) {
      l->pending--;
      return err;
    }
  }
  return 0;
}

static int look_versions(struct kiln_gc_look *l)
{
  const struct kiln_spec_repo *r = l->repo;
  for (size_t i = 0; i < r->n_apps; i++) {
    const struct kiln_observed_app *o = &l->obs->apps[i];
    int err;
    if (!here(l, &r->apps[i]) || !o->lt_exists || o->lt_id == NULL)
      continue;
    l->pending++;
    err = kiln_ec2_describe_launch_template_versions(
        l->client,
        &(struct kiln_ec2_describe_launch_template_versions_request){
            .launch_template_id = o->lt_id, .max_results = 200},
        l->a, &l->versions[i], on_versions, l);
    if (err != 0) {
      l->pending--;
      return err;
    }
  }
  return 0;
}

static int look_instances(struct kiln_gc_look *l)
{
  static const char *states[] = {"pending", "running", "stopping", "stopped"};
  const struct kiln_ec2_images *im = l->obs->images;
  size_t n = im != NULL ? im->count : 0;
  l->n_instance_chunks = (n + AMIS_PER_CALL - 1) / AMIS_PER_CALL;
  l->instances =
      kiln_arena_alloc(l->a, (l->n_instance_chunks + 1) * sizeof(*l->instances));
  if (l->instances == NULL)
    return KILN_ENOMEM;
  for (size_t c = 0; c < l->n_instance_chunks; c++) {
    size_t first = c * AMIS_PER_CALL;
    size_t count = n - first < AMIS_PER_CALL ? n - first : AMIS_PER_CALL;
    const char **ids = kiln_arena_alloc(l->a, (count + 1) * sizeof(*ids));
    struct kiln_ec2_filter *f = kiln_arena_alloc(l->a, 2 * sizeof(*f));
    int err;
    if (ids == NULL || f == NULL)
      return KILN_ENOMEM;
    for (size_t k = 0; k < count; k++)
      ids[k] = im->images[first + k].image_id;
    f[0] = (struct kiln_ec2_filter){"image-id", ids, count};
    f[1] = (struct kiln_ec2_filter){"instance-state-name", states, 4};
    l->pending++;
    err = kiln_ec2_describe_instances(
        l->client,
        &(struct kiln_ec2_describe_instances_request){
            .filters = f, .filter_count = 2, .max_results = 1000},
        l->a, &l->instances[c], on_instances, l);
    if (err != 0) {
      l->pending--;
      return err;
    }
  }
  return 0;
}

static int look_marked(struct kiln_gc_look *l)
{
  static const char *self[] = {"self"};
  static const char *key[] = {KILN_GC_SNAPSHOT_TAG};
  static struct kiln_ec2_filter f = {"tag-key", key, 1};
  int err;
  l->pending++;
  err = kiln_ec2_describe_snapshots(
      l->client,
      &(struct kiln_ec2_describe_snapshots_request){
          .owners = self, .owner_count = 1, .filters = &f, .filter_count = 1,
          .max_results = 1000},
      l->a, &l->marked, on_marked, l);
  if (err != 0)
    l->pending--;
  return err;
}

static void observed(int err, struct kiln_observation *obs, void *data)
{
  struct kiln_gc_look *l = data;
  l->obs = obs;
  if (err != 0) {
    l->err = err;
    l->why = obs != NULL && obs->error != NULL ? obs->error : kiln_strerror(err);
    l->cb(l, l->data);
    return;
  }
  l->pending = 1; /* held until every look has started */
  if ((err = look_versions(l)) != 0 || (err = look_instances(l)) != 0 ||
      (err = look_marked(l)) != 0 || (err = look_recipes(l)) != 0) {
    l->err = err;
    l->why = "cannot start every request";
  }
  call_done(l, 0, NULL, "");
}

int kiln_gc_look_start(struct kiln_gc_look *look, struct kiln_aws_client *client,
                       const char *role_arn, const struct kiln_spec_repo *repo,
                       struct kiln_arena *arena, kiln_gc_look_cb *cb,
                       void *data)
{
  memset(look, 0, sizeof(*look));
  look->client = client;
  look->region = kiln_aws_client_region(client);
  look->role_arn = role_arn;
  look->repo = repo;
  look->a = arena;
  look->cb = cb;
  look->data = data;
  look->versions =
      kiln_arena_alloc(arena, (repo->n_apps + 1) * sizeof(*look->versions));
  look->recipes =
      kiln_arena_alloc(arena, (repo->n_apps + 1) * sizeof(*look->recipes));
  if (look->versions == NULL || look->recipes == NULL)
    return KILN_ENOMEM;
  return kiln_observe_start(client, role_arn, repo,
                            &(struct kiln_observe_options){.all_images = true},
                            arena, observed, look);
}

bool kiln_gc_look_busy(const struct kiln_gc_look *l, const char *app)
{
  for (size_t i = 0; l->obs != NULL && i < l->repo->n_apps; i++) {
    const struct kiln_observed_app *o = &l->obs->apps[i];
    if (!here(l, &l->repo->apps[i]) ||
        strcmp(kiln_spec_app_name(&l->repo->apps[i]), app) != 0)
      continue;
    if (o->refresh == KILN_REFRESH_RUNNING ||
        o->refresh == KILN_REFRESH_CANCELLING ||
        o->refresh == KILN_REFRESH_ROLLING_BACK)
      return true;
  }
  return false;
}

/* ---- the planner's inputs --------------------------------------------- */

/* The AMI of version `named` ("3", "$Default", "$Latest") among vs. */
static const char *version_ami(const struct kiln_ec2_launch_template_versions *vs,
                               const char *named)
{
  int64_t want = 0, latest = 0;
  const char *latest_ami = NULL;
  if (named == NULL)
    return NULL;
  if (named[0] != '$')
    for (const char *c = named; *c >= '0' && *c <= '9'; c++)
      want = want * 10 + (*c - '0');
  for (size_t i = 0; i < vs->count; i++) {
    const struct kiln_ec2_launch_template_version *v = &vs->versions[i];
    if ((want != 0 && v->version_number == want) ||
        (strcmp(named, "$Default") == 0 && v->default_version))
      return v->data.image_id;
    if (v->version_number > latest) {
      latest = v->version_number;
      latest_ami = v->data.image_id;
    }
  }
  return strcmp(named, "$Latest") == 0 ? latest_ami : NULL;
}

static int add_use(struct kiln_arena *a, struct kiln_gc_use *uses, size_t *n,
                   const char *ami, const char *why)
{
  if (ami == NULL)
    return 0;
  if (why == NULL)
    return KILN_ENOMEM;
  uses[(*n)++] = (struct kiln_gc_use){ami, why};
  (void)a;
  return 0;
}

static int add_versions(const struct kiln_gc_look *l, size_t t,
                        struct kiln_arena *a, struct kiln_gc_version *out,
                        size_t *n)
{
  const struct kiln_ec2_launch_template_versions *vs = &l->versions[t];
  for (size_t i = 0; i < vs->count; i++) {
    const struct kiln_ec2_launch_template_version *v = &vs->versions[i];
    char commit[41], digest[65];
    struct kiln_gc_version *g = &out[(*n)++];
    *g = (struct kiln_gc_version){
        .template_id = v->launch_template_id,
        .template_name = v->launch_template_name,
        .app = kiln_spec_app_name(&l->repo->apps[t]),
        .version = v->version_number,
        .is_default = v->default_version != 0,
        .image_id = v->data.image_id};
    if (kiln_naming_parse_lt_description(v->description, commit, digest) == 0) {
      g->commit = kiln_arena_strdup(a, commit);
      g->digest = kiln_arena_strdup(a, digest);
      if (g->commit == NULL || g->digest == NULL)
        return KILN_ENOMEM;
    }
  }
  return 0;
}

/* The version of a recipe ARN: its last path component. */
static const char *arn_version(const char *arn)
{
  const char *slash = arn != NULL ? strrchr(arn, '/') : NULL;
  return slash != NULL && slash[1] != '\0' ? slash + 1 : NULL;
}

static int add_recipes(const struct kiln_gc_look *l, struct kiln_arena *a,
                       struct kiln_gc_inputs *in)
{
  size_t n = 0;
  struct kiln_gc_recipe *r;
  for (size_t t = 0; t < l->repo->n_apps; t++)
    n += l->recipes[t].count;
  r = kiln_arena_alloc(a, (n + 1) * sizeof(*r));
  if (r == NULL)
    return KILN_ENOMEM;
  in->recipes = r;
  in->n_recipes = 0;
  for (size_t t = 0; t < l->repo->n_apps; t++)
    for (size_t i = 0; i < l->recipes[t].count; i++) {
      const struct kiln_ib_summary *x = &l->recipes[t].items[i];
      r[in->n_recipes++] = (struct kiln_gc_recipe){
          .arn = x->arn,
          .app = kiln_spec_app_name(&l->repo->apps[t]),
          .version = arn_version(x->arn),
          .created_s = kiln_aws_time_s(x->date_created)};
    }
  return 0;
}

int kiln_gc_look_inputs(const struct kiln_gc_look *l, struct kiln_arena *a,
                        struct kiln_gc_inputs *in)
{
  const struct kiln_ec2_images *im = l->obs->images;
  size_t n_images = im != NULL ? im->count : 0, n_versions = 0, n_uses = 0;
  size_t n_inst = 0;
  struct kiln_gc_image *images;
  struct kiln_gc_version *versions;
  struct kiln_gc_use *uses;
  int err = 0;

  for (size_t i = 0; i < l->repo->n_apps; i++)
    n_versions += l->versions[i].count;
  for (size_t c = 0; c < l->n_instance_chunks; c++)
    n_inst += l->instances[c].count;
  images = kiln_arena_alloc(a, (n_images + 1) * sizeof(*images));
  versions = kiln_arena_alloc(a, (n_versions + 1) * sizeof(*versions));
  uses = kiln_arena_alloc(a, (n_inst + 2 * l->repo->n_apps + 1) * sizeof(*uses));
  if (images == NULL || versions == NULL || uses == NULL)
    return KILN_ENOMEM;
  memset(in, 0, sizeof(*in));
  for (size_t i = 0; i < n_images; i++) {
    const struct kiln_ec2_image *e = &im->images[i];
    images[i] = (struct kiln_gc_image){
        .image_id = e->image_id,
        .app = kiln_aws_tag_value(e->tags, e->tag_count, "kiln:app"),
        .digest = kiln_aws_tag_value(e->tags, e->tag_count, "kiln:digest"),
        .state = e->state != NULL ? e->state : "?",
        .created_s = kiln_aws_time_s(e->creation_date),
        .snapshots = e->snapshot_ids,
        .snapshot_gib = e->snapshot_gib,
        .n_snapshots = e->snapshot_count};
  }
  n_versions = 0;
  for (size_t t = 0; t < l->repo->n_apps && err == 0; t++) {
    const struct kiln_app_spec *s = &l->repo->apps[t];
    const struct kiln_observed_app *o = &l->obs->apps[t];
    if (!here(l, s))
      continue;
    err = add_versions(l, t, a, versions, &n_versions);
    if (err == 0 && o->asg_exists)
      err = add_use(a, uses, &n_uses,
                    version_ami(&l->versions[t], o->asg_lt_version),
                    kiln_arena_printf(a, "in use by group %s",
                                      s->autoscaling.name));
    if (err == 0 && o->lt_exists)
      err = add_use(a, uses, &n_uses, o->lt_default.image_id,
                    kiln_arena_printf(a, "the default of launch template %s",
                                      s->launch_template.name));
  }
  for (size_t c = 0; c < l->n_instance_chunks && err == 0; c++)
    for (size_t i = 0; i < l->instances[c].count && err == 0; i++) {
      const struct kiln_ec2_instance *x = &l->instances[c].instances[i];
      err = add_use(a, uses, &n_uses, x->image_id,
                    kiln_arena_printf(a, "running on instance %s",
                                      x->instance_id));
    }
  in->region = l->region;
  in->role_arn = l->role_arn;
  in->images = images;
  in->n_images = n_images;
  in->versions = versions;
  in->n_versions = n_versions;
  in->uses = uses;
  in->n_uses = n_uses;
  return err != 0 ? err : add_recipes(l, a, in);
}
