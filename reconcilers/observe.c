/* Observe, in rounds of parallel calls: first what the desired state names
 * (parents, launch templates and groups by name), then what those answers
 * name (the AMIs of the digests, the default versions not seen before),
 * then only what some apps need (refreshes of groups off their version,
 * bakes in flight), and rarely a recheck. Each page of the first two rounds
 * is folded into the observation as it arrives (observe_fold.h) and its
 * memory freed. See observe.h. */
#include "kiln/observe.h"
#include "kiln/str.h"
#include "kiln/arena.h"
#include "kiln/autoscaling.h"
#include "kiln/aws_client.h"
#include "kiln/aws_credentials.h"
#include "kiln/ec2.h"
#include "kiln/error.h"
#include "kiln/imagebuilder.h"
#include "kiln/keep.h"
#include "kiln/lt_cache.h"
#include "kiln/refresh_seen.h"
#include "kiln/naming.h"
#include "kiln/num.h"
#include "kiln/ssm.h"
#include "kiln/str_index.h"
#include "observe_fold.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* ---- bakes Kiln started ----------------------------------------------- */

int kiln_bakes_put(struct kiln_bakes *b, const char *digest, const char *arn)
{
  char *copy = strdup(arn);
  if (copy == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < b->n; i++)
    if (strcmp(b->items[i].digest, digest) == 0) {
      free(b->items[i].arn);
      b->items[i].arn = copy;
      return 0;
    }
  if (b->n == b->cap) {
    size_t cap = b->cap != 0 ? b->cap * 2 : 8;
    void *p = realloc(b->items, cap * sizeof(*b->items));
    if (p == NULL) {
      free(copy);
      return KILN_ENOMEM;
    }
    b->items = p;
    b->cap = cap;
  }
  snprintf(b->items[b->n].digest, sizeof(b->items[b->n].digest), "%s", digest);
  b->items[b->n++].arn = copy;
  return 0;
}

const char *kiln_bakes_get(const struct kiln_bakes *b, const char *digest)
{
  for (size_t i = 0; b != NULL && i < b->n; i++)
    if (strcmp(b->items[i].digest, digest) == 0)
      return b->items[i].arn;
  return NULL;
}

void kiln_bakes_cleanup(struct kiln_bakes *b)
{
  for (size_t i = 0; i < b->n; i++)
    free(b->items[i].arn);
  free(b->items);
  memset(b, 0, sizeof(*b));
}

/* ---- what a location's passes keep ------------------------------------ */

struct kiln_observe_memory {
  struct kiln_lt_cache *versions;
  struct kiln_keep *refreshes; /* struct kiln_refresh_seen by group name */
};

static int copy_seen(struct kiln_arena *a, const void *from, void *to)
{
  return kiln_refresh_seen_copy(a, from, to);
}

struct kiln_observe_memory *kiln_observe_memory_new(void)
{
  struct kiln_observe_memory *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return NULL;
  m->versions = kiln_lt_cache_new();
  m->refreshes = kiln_keep_new(sizeof(struct kiln_refresh_seen), copy_seen);
  if (m->versions == NULL || m->refreshes == NULL) {
    kiln_observe_memory_free(m);
    return NULL;
  }
  return m;
}

void kiln_observe_memory_free(struct kiln_observe_memory *m)
{
  if (m == NULL)
    return;
  kiln_lt_cache_free(m->versions);
  kiln_keep_free(m->refreshes);
  free(m);
}

/* ---- the observation in progress -------------------------------------- */

struct observe;

/* One outstanding call: which observation, and which app or chunk. */
struct call {
  struct observe *o;
  size_t index;
};

/* A call whose answer is folded into the observation when it arrives
 * (observe_fold.h): it parses into an arena of its own, freed once
 * folded. Only a few pages are ever held at once (the AWS client sends
 * KILN_AWS_MAX_IN_FLIGHT calls at a time), not every page of the pass. */
struct page_call {
  struct observe *o;
  size_t index;
  struct kiln_arena raw;
  union {
    struct kiln_asg_groups groups;
    struct kiln_ec2_launch_templates templates;
    struct kiln_ec2_images images;
    struct kiln_ec2_launch_template_versions versions;
  } answer;
};

struct observe {
  struct kiln_aws_client *client;
  const struct kiln_spec_repo *repo;
  struct kiln_observe_options opts;
  struct kiln_lt_cache *lt_cache;   /* the memory's, or NULL */
  struct kiln_keep *refreshes_seen; /* the memory's, or NULL */
  struct kiln_arena *a;
  kiln_observe_cb *cb;
  void *data;
  const char *region;
  const char *role_arn; /* the location's account: NULL, Kiln's own */
  struct kiln_observation obs;
  int pending;
  int planned; /* round one: calls counted in pending up front */
  int started; /* round one: calls started so far */
  int round;
  int err;

  /* Round one: by the names in the desired state. */
  const char **ssm_names;
  size_t n_ssm;
  struct kiln_ssm_parameters *ssm; /* one per chunk of 10 */
  const char **ssm_errors;         /* per chunk, NULL when it worked */
  const char **lt_names;           /* distinct, in the apps' order */
  size_t n_lt_names;
  const char **group_names; /* distinct, in the apps' order */
  size_t n_groups;
  /* The apps by those names (names are shared by apps rarely, but they
   * may be): each page's answers are matched at one lookup apiece. */
  struct kiln_str_index *by_template, *by_group;
  /* Every Kiln AMI of the location, when opts.all_images (gc). */
  struct kiln_ec2_images images;

  /* Round two: what round one's answers name. */
  char (*digests)[65];
  const char **image_keys; /* digests, then apps whose image is a copy */
  size_t n_image_digests, n_image_apps;
  struct kiln_observed_image **image_lists; /* per chunk, folded */
  size_t *image_list_lens;
  size_t n_image_chunks;
  const struct kiln_template_seen **lt_of; /* per app; NULL: none */
  size_t n_templates;                      /* found by round one */
  /* The default versions not in the cache: one call per template when
   * they are few, else one listing of every template's $Default (the
   * apps by template id). */
  const struct kiln_lt_cached **ltv_read; /* per app; NULL: not read */
  bool *ltv_asked;                        /* per app */
  struct kiln_str_index *by_template_id;

  /* Round three, per app. */
  struct kiln_asg_instance_refreshes *refreshes;
  uint64_t *fingerprints; /* of the group, when its refresh was looked at */
  bool *refresh_asked;
  struct held_refresh {
    int64_t seen_s;
    size_t app;
  } *held; /* apps whose refresh the memory holds */
  size_t n_held;
  bool *activities_known; /* from the memory, with the refresh */
  struct kiln_ib_image *bake_images;
  /* The app whose GetImage stands for this one's (apps with the same image
   * inputs share a bake: one look serves them all); SIZE_MAX: none. */
  size_t *bake_source;

  /* Round four, rarely: groups described again after their refresh, and
   * the scaling activities of releases at a checkpoint, baking or failed
   * (per app). */
  struct kiln_asg_groups recheck;
  struct kiln_asg_activities *activities;
  bool *activities_asked;
};

/* Apps of this client's region and account: another account's environment
 * is never looked at with these credentials. */
static bool in_scope(const struct observe *o, const struct kiln_app_spec *s)
{
  return s->valid &&
         (o->opts.wanted == NULL || o->opts.wanted[s - o->repo->apps]) &&
         kiln_spec_runs_in(s, o->region, o->role_arn);
}

static void finish(struct observe *o);
static void round_two(struct observe *o);
static void round_three(struct observe *o);

/* Every call's callback ends here. The first failure is kept as the
 * observation's error unless the caller can live without that call. */
static void call_done(struct observe *o, int err,
                      const struct kiln_aws_response *res, bool fatal)
{
  if (err != 0 && fatal && o->err == 0) {
    o->err = err;
    o->obs.error = kiln_arena_printf(o->a, "cannot observe AWS: %s",
                                     res != NULL && res->message != NULL &&
                                             res->message[0] != '\0'
                                         ? res->message
                                         : kiln_strerror(err));
  }
  if (--o->pending > 0)
    return;
  if (o->round == 1 && o->err == 0)
    round_two(o);
  else if (o->round == 2 && o->err == 0)
    round_three(o);
  else
    finish(o);
}

static struct call *new_call(struct observe *o, size_t index)
{
  struct call *c = kiln_arena_alloc(o->a, sizeof(*c));
  if (c != NULL) {
    c->o = o;
    c->index = index;
  }
  return c;
}

static struct page_call *page_call_new(struct observe *o, size_t index)
{
  struct page_call *c = calloc(1, sizeof(*c));
  if (c != NULL) {
    c->o = o;
    c->index = index;
    kiln_arena_init(&c->raw, 0);
  }
  return c;
}

static void page_call_free(struct page_call *c)
{
  kiln_arena_cleanup(&c->raw);
  free(c);
}

/* Adds app i under key; a key seen first is appended to names[0..*n). */
static int index_app(struct kiln_str_index *ix, const char *key, size_t i,
                     const char **names, size_t *n)
{
  bool is_new;
  int err = kiln_str_index_add(ix, key, i, &is_new);
  if (err == 0 && is_new)
    names[(*n)++] = key;
  return err;
}

/* ---- round one -------------------------------------------------------- */

static void on_ssm(int err, const struct kiln_aws_response *res, void *data)
{
  struct call *c = data;
  /* A definite answer (access denied, bad name) fails the apps of those
   * parents, not the pass. Throttling and transport trouble are not an
   * answer: the observation fails and the next pass asks again. */
  bool definite = err == KILN_EAWS && res != NULL && res->http_status >= 400 &&
                  res->http_status < 500;
  if (err != 0 && definite)
    c->o->ssm_errors[c->index] = kiln_arena_strdup(
        c->o->a, res != NULL && res->message != NULL ? res->message
                                                     : kiln_strerror(err));
  call_done(c->o, err, res, !definite);
}

static void on_fatal(int err, const struct kiln_aws_response *res, void *data)
{
  call_done(data, err, res, true);
}

/* A page of templates: each app naming one gets what round one saw of it. */
static void on_templates(int err, const struct kiln_aws_response *res,
                         void *data)
{
  struct page_call *c = data;
  struct observe *o = c->o;
  for (size_t t = 0; err == 0 && t < c->answer.templates.count; t++) {
    const struct kiln_ec2_launch_template *lt =
        &c->answer.templates.templates[t];
    struct kiln_template_seen *seen = NULL;
    if (lt->name == NULL || lt->id == NULL)
      continue;
    for (size_t i = kiln_str_index_first(o->by_template, lt->name);
         i != KILN_STR_INDEX_NONE; i = kiln_str_index_next(o->by_template, i)) {
      if (seen == NULL) {
        if ((seen = kiln_arena_alloc(o->a, sizeof(*seen))) == NULL ||
            kiln__fold_template(o->a, lt, seen) != 0) {
          err = KILN_ENOMEM;
          break;
        }
        o->n_templates++;
      }
      o->lt_of[i] = seen;
    }
  }
  page_call_free(c);
  call_done(o, err, res, true);
}

/* A page of groups: folded into the apps naming them, with each group's
 * fingerprint for the memory of refreshes. */
static void on_groups(int err, const struct kiln_aws_response *res, void *data)
{
  struct page_call *c = data;
  struct observe *o = c->o;
  for (size_t g = 0; err == 0 && g < c->answer.groups.count; g++) {
    const struct kiln_asg_group *group = &c->answer.groups.groups[g];
    if (group->name == NULL)
      continue;
    for (size_t i = kiln_str_index_first(o->by_group, group->name);
         err == 0 && i != KILN_STR_INDEX_NONE;
         i = kiln_str_index_next(o->by_group, i)) {
      err = kiln__fold_group(o->a, group, &o->obs.apps[i]);
      o->fingerprints[i] = kiln_refresh_seen_fingerprint(group);
    }
  }
  page_call_free(c);
  call_done(o, err, res, true);
}

/* Drops the repeats of list[0..*n), the first of each kept in place. */
static int drop_repeats(struct kiln_arena *a, const char **list, size_t *n)
{
  struct kiln_str_index *ix = kiln_str_index_new(a, *n);
  size_t out = 0;
  if (ix == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < *n; i++) {
    int err = index_app(ix, list[i], i, list, &out);
    if (err != 0)
      return err;
  }
  *n = out;
  return 0;
}

static int collect_names(struct observe *o)
{
  const struct kiln_spec_repo *r = o->repo;
  size_t n = r->n_apps + 1;
  o->ssm_names = kiln_arena_alloc(o->a, n * sizeof(char *));
  o->lt_names = kiln_arena_alloc(o->a, n * sizeof(char *));
  o->group_names = kiln_arena_alloc(o->a, n * sizeof(char *));
  o->by_template = kiln_str_index_new(o->a, r->n_apps);
  o->by_group = kiln_str_index_new(o->a, r->n_apps);
  if (o->ssm_names == NULL || o->lt_names == NULL || o->group_names == NULL ||
      o->by_template == NULL || o->by_group == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < r->n_apps; i++) {
    const struct kiln_app_spec *s = &r->apps[i];
    int err;
    if (!in_scope(o, s))
      continue;
    /* A parent is resolved in the image's home only. */
    if (s->image.parent_kind == KILN_PARENT_SSM && kiln_spec_image_at_home(s))
      o->ssm_names[o->n_ssm++] = s->image.parent_ref;
    if ((err = index_app(o->by_template, s->launch_template.name, i,
                         o->lt_names, &o->n_lt_names)) != 0 ||
        (err = index_app(o->by_group, s->autoscaling.name, i, o->group_names,
                         &o->n_groups)) != 0)
      return err;
  }
  return drop_repeats(o->a, o->ssm_names, &o->n_ssm);
}

static size_t chunks_of(size_t n, size_t per)
{
  return (n + per - 1) / per;
}

static size_t chunk_len(size_t n, size_t per, size_t chunk)
{
  return n - chunk * per < per ? n - chunk * per : per;
}

/* Every Kiln AMI of the location (gc judges them all). */
static int start_all_images(struct observe *o)
{
  static const char *self[] = {"self"};
  static const char *digest_key[] = {"kiln:digest"};
  struct kiln_ec2_filter filter = {"tag-key", digest_key, 1};
  return kiln_ec2_describe_images(
      o->client,
      &(struct kiln_ec2_describe_images_request){.owners = self,
                                                 .owner_count = 1,
                                                 .filters = &filter,
                                                 .filter_count = 1,
                                                 .max_results = 1000},
      o->a, &o->images, on_fatal, o);
}

static int start_round_one(struct observe *o)
{
  size_t n_ssm_chunks = chunks_of(o->n_ssm, KILN_SSM_MAX_NAMES);
  size_t n_lt_chunks = chunks_of(o->n_lt_names, KILN_EC2_MAX_FILTER_VALUES);
  size_t n_group_chunks = chunks_of(o->n_groups, KILN_ASG_MAX_NAMES);
  struct call *c;
  struct page_call *pc;
  int err;

  o->round = 1;
  o->ssm = kiln_arena_alloc(o->a, (n_ssm_chunks + 1) * sizeof(*o->ssm));
  o->ssm_errors = kiln_arena_alloc(o->a, (n_ssm_chunks + 1) * sizeof(char *));
  if (o->ssm == NULL || o->ssm_errors == NULL)
    return KILN_ENOMEM;

  /* Count every call before starting any, so that no callback sees the
   * counter reach zero early. */
  o->planned = o->pending = (o->opts.all_images ? 1 : 0) + (int)n_ssm_chunks +
                            (int)n_lt_chunks + (int)n_group_chunks;
  if (o->planned == 0) {
    /* Nothing of this location is wanted. The answer still comes from the
     * loop, through one cheap call that names no template (':' is not
     * allowed in a template's name). */
    static const char *none[] = {"kiln:none"};
    struct kiln_ec2_filter filter = {"launch-template-name", none, 1};
    o->planned = o->pending = 1;
    if ((pc = page_call_new(o, 0)) == NULL)
      return KILN_ENOMEM;
    err = kiln_ec2_describe_launch_templates(
        o->client,
        &(struct kiln_ec2_describe_launch_templates_request){
            .filters = &filter, .filter_count = 1, .max_results = 1},
        &pc->raw, &pc->answer.templates, on_templates, pc);
    if (err != 0)
      page_call_free(pc);
    else
      o->started++;
    return err;
  }
  if (o->opts.all_images) {
    if ((err = start_all_images(o)) != 0)
      return err;
    o->started++;
  }
  for (size_t i = 0; i < n_ssm_chunks; i++) {
    if ((c = new_call(o, i)) == NULL)
      return KILN_ENOMEM;
    err = kiln_ssm_get_parameters(
        o->client,
        &(struct kiln_ssm_get_parameters_request){
            .names = o->ssm_names + i * KILN_SSM_MAX_NAMES,
            .name_count = chunk_len(o->n_ssm, KILN_SSM_MAX_NAMES, i)},
        o->a, &o->ssm[i], on_ssm, c);
    if (err != 0)
      return err;
    o->started++;
  }
  /* Templates by name, in filters AWS accepts (a name that does not exist
   * is no error in a filter, as it would be in LaunchTemplateName.N). */
  for (size_t i = 0; i < n_lt_chunks; i++) {
    struct kiln_ec2_filter filter = {
        "launch-template-name", o->lt_names + i * KILN_EC2_MAX_FILTER_VALUES,
        chunk_len(o->n_lt_names, KILN_EC2_MAX_FILTER_VALUES, i)};
    if ((pc = page_call_new(o, i)) == NULL)
      return KILN_ENOMEM;
    err = kiln_ec2_describe_launch_templates(
        o->client,
        &(struct kiln_ec2_describe_launch_templates_request){
            .filters = &filter, .filter_count = 1, .max_results = 200},
        &pc->raw, &pc->answer.templates, on_templates, pc);
    if (err != 0) {
      page_call_free(pc);
      return err;
    }
    o->started++;
  }
  for (size_t i = 0; i < n_group_chunks; i++) {
    if ((pc = page_call_new(o, i)) == NULL)
      return KILN_ENOMEM;
    err = kiln_asg_describe_groups(
        o->client,
        &(struct kiln_asg_describe_groups_request){
            .names = o->group_names + i * KILN_ASG_MAX_NAMES,
            .name_count = chunk_len(o->n_groups, KILN_ASG_MAX_NAMES, i),
            .max_records = 100},
        &pc->raw, &pc->answer.groups, on_groups, pc);
    if (err != 0) {
      page_call_free(pc);
      return err;
    }
    o->started++;
  }
  return 0;
}

/* ---- from AWS results to the observed model ---------------------------- */

static void resolve_parent(struct observe *o, const struct kiln_app_spec *s,
                           struct kiln_observed_app *out)
{
  size_t chunks = (o->n_ssm + KILN_SSM_MAX_NAMES - 1) / KILN_SSM_MAX_NAMES;
  if (s->image.parent_kind != KILN_PARENT_SSM) {
    out->parent_ami = s->image.parent;
    return;
  }
  for (size_t c = 0; c < chunks; c++) {
    if (o->ssm_errors[c] != NULL) {
      size_t first = c * KILN_SSM_MAX_NAMES;
      for (size_t j = first; j < o->n_ssm && j < first + KILN_SSM_MAX_NAMES;
           j++)
        if (strcmp(o->ssm_names[j], s->image.parent_ref) == 0)
          out->parent_error = o->ssm_errors[c];
      continue;
    }
    for (size_t j = 0; j < o->ssm[c].count; j++)
      if (strcmp(o->ssm[c].parameters[j].name, s->image.parent_ref) == 0)
        out->parent_ami = o->ssm[c].parameters[j].value;
  }
  if (out->parent_ami == NULL && out->parent_error == NULL)
    out->parent_error = "SSM has no such parameter";
}

int kiln_observe_lt_data(struct kiln_arena *a,
                         const struct kiln_ec2_launch_template_data *d,
                         struct kiln_lt_data *out)
{
  memset(out, 0, sizeof(*out));
  out->image_id = d->image_id;
  out->instance_type = d->instance_type;
  out->user_data_b64 = d->user_data;
  out->security_groups.items = d->security_group_ids;
  out->security_groups.n = d->security_group_id_count;
  out->instance_profile = d->iam_instance_profile_name != NULL
                              ? d->iam_instance_profile_name
                              : d->iam_instance_profile_arn;
  out->http_tokens = d->http_tokens;
  out->http_endpoint = d->http_endpoint;
  out->http_hop_limit = d->http_put_response_hop_limit.set
                            ? d->http_put_response_hop_limit.value
                            : 0;
  if (d->block_device_count > 0) {
    out->bdevs =
        kiln_arena_alloc(a, d->block_device_count * sizeof(*out->bdevs));
    if (out->bdevs == NULL)
      return KILN_ENOMEM;
    for (size_t i = 0; i < d->block_device_count; i++) {
      const struct kiln_ec2_block_device *b = &d->block_devices[i];
      out->bdevs[out->n_bdevs++] = (struct kiln_lt_bdev){
          .device = b->device_name,
          .size_gib = b->volume_size_gib.set ? b->volume_size_gib.value : 0,
          .type = b->volume_type,
          .encrypted = b->encrypted.set && b->encrypted.value,
          .delete_on_termination =
              b->delete_on_termination.set && b->delete_on_termination.value,
          .iops = b->iops.set ? b->iops.value : 0,
          .throughput = b->throughput.set ? b->throughput.value : 0,
      };
    }
  }
  for (size_t i = 0; i < d->tag_spec_count; i++) {
    const struct kiln_ec2_tag_spec *ts = &d->tag_specs[i];
    if (ts->resource_type == NULL || strcmp(ts->resource_type, "instance") != 0)
      continue;
    out->instance_tags.items =
        kiln_arena_alloc(a, (ts->tag_count + 1) * sizeof(struct kiln_tag));
    if (out->instance_tags.items == NULL)
      return KILN_ENOMEM;
    for (size_t j = 0; j < ts->tag_count; j++)
      out->instance_tags.items[out->instance_tags.n++] =
          (struct kiln_tag){ts->tags[j].key, ts->tags[j].value};
  }
  return 0;
}

static int find_launch_template(struct observe *o, size_t i,
                                struct kiln_observed_app *out)
{
  const struct kiln_template_seen *lt = o->lt_of[i];
  const struct kiln_lt_cached *hit;
  struct kiln_lt_cached v;

  if (lt == NULL)
    return 0;
  if (o->ltv_read[i] != NULL) {
    /* Read this pass, and already the observation's own. */
    v = *o->ltv_read[i];
    if (kiln_lt_cache_put(o->lt_cache, lt->id, &v) != 0)
      return KILN_ENOMEM;
  } else if ((hit = kiln_lt_cache_get(o->lt_cache, lt->id,
                                      lt->default_version)) != NULL) {
    /* The observation never borrows from the cache: a later put may
     * replace what it points at while this pass still plans. */
    if (kiln_lt_cached_copy(o->a, hit, &v) != 0)
      return KILN_ENOMEM;
  } else {
    return 0; /* deleted since round one */
  }
  out->lt_exists = true;
  out->lt_id = lt->id;
  out->lt_default_version = v.version;
  out->lt_latest_version =
      lt->latest_version > v.version ? lt->latest_version : v.version;
  out->lt_default_created_s = v.created_s;
  out->lt_default_commit = v.commit;
  out->lt_default_digest = v.digest;
  out->lt_default = v.data;
  out->lt_tags = lt->tags;
  out->lt_kiln_version = lt->kiln_version;
  return 0;
}

/* ---- round two: what round one's answers name ------------------------- */

/* Default versions not in the cache: one call per template costs less than
 * a listing of every template's (Kiln's and anyone else's, 200 a page)
 * while they are this few. */
static bool one_by_one(size_t misses, size_t templates)
{
  return misses <= 1 + templates / 200;
}

/* App i's default version, read this pass, folded into the observation. */
static int read_version(struct observe *o, size_t i,
                        const struct kiln_ec2_launch_template_version *v,
                        struct kiln_arena *scratch)
{
  struct kiln_lt_cached *kept = kiln_arena_alloc(o->a, sizeof(*kept));
  if (kept == NULL || kiln__fold_version(o->a, scratch, v, kept) != 0)
    return KILN_ENOMEM;
  o->ltv_read[i] = kept;
  return 0;
}

static void on_version(int err, const struct kiln_aws_response *res, void *data)
{
  struct page_call *c = data;
  struct observe *o = c->o;
  if (err == 0 && c->answer.versions.count > 0)
    err = read_version(o, c->index, &c->answer.versions.versions[0], &c->raw);
  page_call_free(c);
  call_done(o, err, res, true);
}

/* Every template's default version in the region: those of the apps'
 * templates are kept (one copy per template), the rest dropped. */
static void on_versions_listed(int err, const struct kiln_aws_response *res,
                               void *data)
{
  struct page_call *c = data;
  struct observe *o = c->o;
  for (size_t n = 0; err == 0 && n < c->answer.versions.count; n++) {
    const struct kiln_ec2_launch_template_version *v =
        &c->answer.versions.versions[n];
    const char *id = v->launch_template_id;
    size_t first;
    if (id == NULL)
      continue;
    first = kiln_str_index_first(o->by_template_id, id);
    for (size_t i = first; err == 0 && i != KILN_STR_INDEX_NONE;
         i = kiln_str_index_next(o->by_template_id, i))
      if (i == first)
        err = read_version(o, i, v, &c->raw);
      else
        o->ltv_read[i] = o->ltv_read[first];
  }
  page_call_free(c);
  call_done(o, err, res, true);
}

/* The apps by their template's id, for the listing of every default. */
static int index_template_ids(struct observe *o)
{
  const struct kiln_spec_repo *r = o->repo;
  o->by_template_id = kiln_str_index_new(o->a, r->n_apps);
  if (o->by_template_id == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < r->n_apps; i++)
    if (o->lt_of[i] != NULL) {
      int err = kiln_str_index_add(o->by_template_id, o->lt_of[i]->id, i, NULL);
      if (err != 0)
        return err;
    }
  return 0;
}

static int start_versions(struct observe *o, size_t misses)
{
  static const char *default_version[] = {"$Default"};
  const struct kiln_spec_repo *r = o->repo;
  struct page_call *c;
  int err;

  if (misses == 0)
    return 0;
  if (!one_by_one(misses, o->n_templates)) {
    if ((err = index_template_ids(o)) != 0 || (c = page_call_new(o, 0)) == NULL)
      return err != 0 ? err : KILN_ENOMEM;
    o->pending++;
    err = kiln_ec2_describe_launch_template_versions(
        o->client,
        &(struct kiln_ec2_describe_launch_template_versions_request){
            .versions = default_version,
            .version_count = 1,
            .max_results = 200},
        &c->raw, &c->answer.versions, on_versions_listed, c);
    if (err != 0) {
      o->pending--;
      page_call_free(c);
    }
    return err;
  }
  for (size_t i = 0; i < r->n_apps; i++) {
    const struct kiln_template_seen *lt = o->lt_of[i];
    const char *number;
    if (lt == NULL || o->ltv_asked[i] ||
        kiln_lt_cache_get(o->lt_cache, lt->id, lt->default_version) != NULL)
      continue;
    number = kiln_arena_printf(o->a, "%lld", (long long)lt->default_version);
    if (number == NULL || (c = page_call_new(o, i)) == NULL)
      return KILN_ENOMEM;
    o->ltv_asked[i] = true;
    o->pending++;
    err = kiln_ec2_describe_launch_template_versions(
        o->client,
        &(struct kiln_ec2_describe_launch_template_versions_request){
            .launch_template_id = lt->id,
            .versions = &number,
            .version_count = 1},
        &c->raw, &c->answer.versions, on_version, c);
    if (err != 0) {
      o->pending--;
      page_call_free(c);
      return err;
    }
  }
  return 0;
}

/* A chunk of AMIs: Kiln's, as the observation keeps them. */
static void on_images(int err, const struct kiln_aws_response *res, void *data)
{
  struct page_call *c = data;
  struct observe *o = c->o;
  if (err == 0)
    err = kiln__fold_images(o->a, &c->answer.images, &o->image_lists[c->index],
                            &o->image_list_lens[c->index]);
  page_call_free(c);
  call_done(o, err, res, true);
}

/* Kiln's AMIs of the digests wanted here (and of the apps whose image is a
 * copy, whose digest only the home's observation gives), 200 values a
 * call: a fleet's past images are never listed. */
static int start_images(struct observe *o)
{
  static const char *self[] = {"self"};
  size_t n_digest_chunks =
      chunks_of(o->n_image_digests, KILN_EC2_MAX_FILTER_VALUES);
  size_t n_app_chunks = chunks_of(o->n_image_apps, KILN_EC2_MAX_FILTER_VALUES);
  struct page_call *c;
  int err;

  o->n_image_chunks = n_digest_chunks + n_app_chunks;
  o->image_lists =
      kiln_arena_alloc(o->a, (o->n_image_chunks + 1) * sizeof(*o->image_lists));
  o->image_list_lens = kiln_arena_alloc(o->a, (o->n_image_chunks + 1) *
                                                  sizeof(*o->image_list_lens));
  if (o->image_lists == NULL || o->image_list_lens == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < o->n_image_chunks; i++) {
    bool by_digest = i < n_digest_chunks;
    size_t k = by_digest ? i : i - n_digest_chunks;
    struct kiln_ec2_filter filter = {
        by_digest ? "tag:kiln:digest" : "tag:kiln:app",
        o->image_keys + (by_digest ? 0 : o->n_image_digests) +
            k * KILN_EC2_MAX_FILTER_VALUES,
        chunk_len(by_digest ? o->n_image_digests : o->n_image_apps,
                  KILN_EC2_MAX_FILTER_VALUES, k)};
    if ((c = page_call_new(o, i)) == NULL)
      return KILN_ENOMEM;
    o->pending++;
    err = kiln_ec2_describe_images(
        o->client,
        &(struct kiln_ec2_describe_images_request){.owners = self,
                                                   .owner_count = 1,
                                                   .filters = &filter,
                                                   .filter_count = 1,
                                                   .max_results = 1000},
        &c->raw, &c->answer.images, on_images, c);
    if (err != 0) {
      o->pending--;
      page_call_free(c);
      return err;
    }
  }
  return 0;
}

static void round_two(struct observe *o)
{
  const struct kiln_spec_repo *r = o->repo;
  const char **apps = kiln_arena_alloc(o->a, (r->n_apps + 1) * sizeof(char *));
  size_t misses = 0;
  int err = 0;

  o->round = 2;
  o->pending = 1; /* held until every call below has started */
  o->image_keys = kiln_arena_alloc(o->a, (2 * r->n_apps + 1) * sizeof(char *));
  if (apps == NULL || o->image_keys == NULL)
    err = KILN_ENOMEM;
  for (size_t i = 0; i < r->n_apps && err == 0; i++) {
    const struct kiln_app_spec *s = &r->apps[i];
    struct kiln_observed_app *a = &o->obs.apps[i];
    const struct kiln_template_seen *lt = o->lt_of[i];

    if (!in_scope(o, s))
      continue;
    if (lt != NULL &&
        kiln_lt_cache_get(o->lt_cache, lt->id, lt->default_version) == NULL)
      misses++;
    /* An image whose home is elsewhere: its parent and digest come from
     * the home's observation, and the AMI here is a copy (kiln_pass). */
    a->image_elsewhere = !kiln_spec_image_at_home(s);
    if (a->image_elsewhere) {
      apps[o->n_image_apps++] = kiln_spec_app_name(s);
      continue;
    }
    resolve_parent(o, s, a);
    if (a->parent_ami == NULL)
      continue;
    if (kiln_spec_image_digest(s, a->parent_ami, o->digests[i], NULL) != 0)
      err = KILN_ENOMEM;
    o->image_keys[o->n_image_digests++] = o->digests[i];
  }
  if (err == 0)
    err = drop_repeats(o->a, o->image_keys, &o->n_image_digests);
  if (err == 0)
    err = drop_repeats(o->a, apps, &o->n_image_apps);
  if (err == 0) {
    memcpy(o->image_keys + o->n_image_digests, apps,
           o->n_image_apps * sizeof(*apps));
    if (!o->opts.all_images)
      err = start_images(o);
  }
  if (err == 0)
    err = start_versions(o, misses);
  if (err != 0 && o->err == 0) {
    o->err = err;
    o->obs.error = "cannot observe AWS: out of memory";
  }
  call_done(o, 0, NULL, false);
}

/* ---- round three: what some apps need --------------------------------- */

static void on_refreshes(int err, const struct kiln_aws_response *res,
                         void *data)
{
  struct call *c = data;
  call_done(c->o, err, res, true);
}

static void on_bake(int err, const struct kiln_aws_response *res, void *data)
{
  struct call *c = data;
  /* An unknown bake (expired, deleted) is simply not in flight. */
  if (err != 0)
    memset(&c->o->bake_images[c->index], 0, sizeof(c->o->bake_images[0]));
  call_done(c->o, err, res, false);
}

/* The first app before i whose bake i shares (same digest), or i. Linear,
 * but only over the apps waiting on a bake, which are few between
 * releases. */
static size_t same_bake(const struct observe *o, size_t i)
{
  for (size_t j = 0; j < i; j++)
    if (o->bake_source[j] == j && strcmp(o->digests[j], o->digests[i]) == 0)
      return j;
  return i;
}

/* App i's refresh as the memory has it (copied: the observation never
 * borrows from the memory). */
static int use_seen_refresh(struct observe *o, size_t i,
                            const struct kiln_refresh_seen *seen)
{
  struct kiln_refresh_seen copy;
  if (kiln_refresh_seen_copy(o->a, seen, &copy) != 0)
    return KILN_ENOMEM;
  o->refreshes[i].refreshes =
      kiln_arena_alloc(o->a, sizeof(*o->refreshes[i].refreshes));
  if (o->refreshes[i].refreshes == NULL)
    return KILN_ENOMEM;
  o->refreshes[i].refreshes[0] = copy.refresh;
  o->refreshes[i].count = 1;
  if (copy.activities_seen) {
    o->obs.apps[i].last_launch_s = copy.last_launch_s;
    o->obs.apps[i].failed_launches = copy.failed_launches;
    o->obs.apps[i].failed_launch_message = copy.failed_launch_message;
    o->activities_known[i] = true;
  }
  return 0;
}

static int ask_refresh(struct observe *o, size_t i)
{
  struct call *c;
  int err;
  if ((c = new_call(o, i)) == NULL)
    return KILN_ENOMEM;
  o->refresh_asked[i] = true;
  o->pending++;
  err = kiln_asg_describe_instance_refreshes(
      o->client,
      &(struct kiln_asg_describe_instance_refreshes_request){
          .group_name = o->repo->apps[i].autoscaling.name},
      o->a, &o->refreshes[i], on_refreshes, c);
  if (err != 0)
    o->pending--;
  return err;
}

/* The refresh of app i's group: asked of AWS, or, when the memory says it
 * cannot have moved (kiln/refresh_seen.h: the group's fingerprint, taken
 * when its page was folded), set aside for look_at_held_refreshes. */
static int look_at_refresh(struct observe *o, size_t i)
{
  const struct kiln_refresh_seen *seen =
      kiln_keep_get(o->refreshes_seen, o->repo->apps[i].autoscaling.name);
  if (kiln_refresh_seen_holds(seen, o->fingerprints[i], &o->obs.apps[i],
                              o->opts.now_s)) {
    o->held[o->n_held++] = (struct held_refresh){seen->seen_s, i};
    return 0;
  }
  return ask_refresh(o, i);
}

static int cmp_held(const void *x, const void *y)
{
  const struct held_refresh *a = x, *b = y;
  if (a->seen_s != b->seen_s)
    return a->seen_s < b->seen_s ? -1 : 1;
  return a->app < b->app ? -1 : a->app > b->app;
}

/* Refreshes the memory holds are still asked again, a few per pass, the
 * longest unasked first: what a group does not show (a refresh cancelled,
 * waiting on protected instances, its launches failing) is seen within
 * n_held / KILN_REFRESH_SEEN_RECHECKS passes, and a small fleet's within
 * one. */
static int look_at_held_refreshes(struct observe *o)
{
  const size_t rechecks = KILN_REFRESH_SEEN_RECHECKS;
  int err = 0;
  qsort(o->held, o->n_held, sizeof(*o->held), cmp_held);
  for (size_t k = 0; k < o->n_held && err == 0; k++) {
    size_t i = o->held[k].app;
    err = k < rechecks ? ask_refresh(o, i)
                       : use_seen_refresh(
                             o, i,
                             kiln_keep_get(o->refreshes_seen,
                                           o->repo->apps[i].autoscaling.name));
  }
  return err;
}

/* Keeps what rounds three and four asked of AWS for the next pass. */
static void remember_refreshes(struct observe *o)
{
  for (size_t i = 0; i < o->repo->n_apps; i++) {
    const char *group = o->repo->apps[i].autoscaling.name;
    const struct kiln_observed_app *a = &o->obs.apps[i];
    if (!o->refresh_asked[i])
      continue;
    if (o->refreshes[i].count == 0)
      kiln_keep_forget(o->refreshes_seen, group);
    else if (kiln_keep_put(
                 o->refreshes_seen, group,
                 &(struct kiln_refresh_seen){
                     .group_fingerprint = o->fingerprints[i],
                     .seen_s = o->opts.now_s,
                     .refresh = o->refreshes[i].refreshes[0],
                     .activities_seen = o->activities_asked != NULL &&
                                        o->activities_asked[i],
                     .last_launch_s = a->last_launch_s,
                     .failed_launches = a->failed_launches,
                     .failed_launch_message = a->failed_launch_message}) != 0)
      kiln_keep_forget(o->refreshes_seen, group); /* never a stale one */
  }
}

/* The AMIs of round two's chunks (or of every Kiln AMI, with all_images)
 * as one index by digest. */
static int gather(struct observe *o)
{
  if (o->opts.all_images) {
    struct kiln_observed_image *list;
    size_t n;
    return kiln__fold_images(o->a, &o->images, &list, &n) != 0 ||
                   kiln__index_images(o->a, &list, &n, 1, &o->obs) != 0
               ? KILN_ENOMEM
               : 0;
  }
  return kiln__index_images(o->a, o->image_lists, o->image_list_lens,
                            o->n_image_chunks, &o->obs);
}

static void round_three(struct observe *o)
{
  const struct kiln_spec_repo *r = o->repo;
  int err;

  o->round = 3;
  o->pending = 1; /* held until every call below has started */
  err = gather(o);
  for (size_t i = 0; i < r->n_apps && err == 0; i++) {
    const struct kiln_app_spec *s = &r->apps[i];
    struct kiln_observed_app *a = &o->obs.apps[i];
    const char *bake;
    struct call *c;

    if (!in_scope(o, s))
      continue;
    /* Without its parent an app is planned as an error, from no more. */
    if (!a->image_elsewhere && a->parent_ami == NULL)
      continue;
    if (!a->image_elsewhere)
      kiln_observation_find_image(&o->obs, o->digests[i], a);
    err = find_launch_template(o, i, a);
    if (err != 0)
      break;
    if (a->asg_exists)
      a->asg_instances_stale = kiln_observed_stale_instances(a);
    /* kiln:version is the bookkeeping of apps Kiln drives; where it only
     * reports, a tag left behind must not cost a look every pass. */
    if (s->drift != KILN_DRIFT_CORRECT || s->suspend)
      a->asg_kiln_version = 0;
    if (kiln_observed_needs_refresh_look(a))
      err = look_at_refresh(o, i);
    else
      kiln_keep_forget(o->refreshes_seen, s->autoscaling.name);
    if (err == 0 && !a->image_elsewhere && a->image_ami == NULL &&
        (bake = kiln_bakes_get(o->opts.bakes, o->digests[i])) != NULL) {
      if ((o->bake_source[i] = same_bake(o, i)) != i)
        continue;
      if ((c = new_call(o, i)) == NULL) {
        err = KILN_ENOMEM;
        break;
      }
      o->pending++;
      err = kiln_ib_get_image(
          o->client,
          &(struct kiln_ib_get_image_request){.image_build_version_arn = bake},
          o->a, &o->bake_images[i], on_bake, c);
      if (err != 0)
        o->pending--;
    }
  }
  if (err == 0)
    err = look_at_held_refreshes(o);
  if (err != 0 && o->err == 0) {
    o->err = err;
    o->obs.error = "cannot observe AWS: out of memory";
  }
  /* Drop the hold; if nothing was started this finishes now. The caller's
   * callback is still asynchronous: round two runs from a call's callback. */
  call_done(o, 0, NULL, false);
}

static int64_t opt_or(struct kiln_aws_opt_int v, int64_t otherwise)
{
  return v.set ? v.value : otherwise;
}

static enum kiln_refresh_state refresh_state(const char *status)
{
  static const struct {
    const char *name;
    enum kiln_refresh_state state;
  } map[] = {
      {"Pending", KILN_REFRESH_RUNNING},
      {"InProgress", KILN_REFRESH_RUNNING},
      {"Baking", KILN_REFRESH_RUNNING},
      {"Cancelling", KILN_REFRESH_CANCELLING},
      {"RollbackInProgress", KILN_REFRESH_ROLLING_BACK},
      {"Successful", KILN_REFRESH_SUCCEEDED},
      {"Failed", KILN_REFRESH_FAILED},
      {"RollbackSuccessful", KILN_REFRESH_FAILED},
      {"RollbackFailed", KILN_REFRESH_FAILED},
      {"Cancelled", KILN_REFRESH_CANCELLED},
  };
  for (size_t i = 0; status != NULL && i < sizeof(map) / sizeof(map[0]); i++)
    if (strcmp(status, map[i].name) == 0)
      return map[i].state;
  return KILN_REFRESH_NONE;
}

static void apply_refresh(const struct kiln_asg_instance_refreshes *r,
                          struct kiln_observed_app *a)
{
  const struct kiln_asg_instance_refresh *latest;
  if (r->count == 0)
    return;
  latest = &r->refreshes[0];
  a->refresh = refresh_state(latest->status);
  a->refresh_status = latest->status;
  a->refresh_id = latest->id;
  /* Checked by the client: a version AWS sends that is not a number fails
   * DescribeInstanceRefreshes; $Default and $Latest are 0. */
  a->refresh_version = latest->desired_launch_template.version_number;
  a->refresh_percent =
      latest->percentage_complete.set ? latest->percentage_complete.value : 0;
  a->refresh_reason = latest->rollback_reason != NULL ? latest->rollback_reason
                                                      : latest->status_reason;
  a->refresh_start_s = kiln_aws_time_s(latest->start_time);
  a->refresh_end_s = kiln_aws_time_s(latest->end_time);
  a->refresh_rollback_start_s = kiln_aws_time_s(latest->rollback_start_time);
  a->refresh_warmup_s = opt_or(latest->preferences.instance_warmup_s, -1);
  a->refresh_checkpoint_delay_s =
      opt_or(latest->preferences.checkpoint_delay_s, -1);
  a->refresh_bake_time_s = opt_or(latest->preferences.bake_time_s, -1);
  a->refresh_checkpoints = latest->preferences.checkpoints;
  a->refresh_n_checkpoints = latest->preferences.checkpoint_count;
}

static bool starts_with(const char *s, const char *prefix)
{
  return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* What the group's activities since its latest refresh started say of
 * the release: when the last replacement was launched, and the launches
 * that failed (newest first, as AWS lists them). */
static void apply_activities(const struct kiln_asg_activities *acts,
                             struct kiln_observed_app *a)
{
  for (size_t i = 0; i < acts->count; i++) {
    const struct kiln_asg_activity *act = &acts->activities[i];
    int64_t end = kiln_aws_time_s(act->end_time);
    if (kiln_aws_time_s(act->start_time) < a->refresh_start_s ||
        !starts_with(act->description, "Launching a new EC2 instance"))
      continue;
    if (strcmp(act->status_code, "Successful") == 0 && end > a->last_launch_s)
      a->last_launch_s = end;
    else if (strcmp(act->status_code, "Failed") == 0 &&
             a->failed_launches++ == 0)
      a->failed_launch_message =
          act->status_message != NULL ? act->status_message : act->description;
  }
}

/* ---- one group's refresh, outside a pass's observation ---------------- */

struct refresh_look {
  struct kiln_asg_instance_refreshes answer;
  struct kiln_observed_app *app;
  kiln_observe_refresh_cb *cb;
  void *data;
};

static void on_refresh_look(int err, const struct kiln_aws_response *res,
                            void *data)
{
  struct refresh_look *l = data;
  if (err == 0)
    apply_refresh(&l->answer, l->app);
  l->cb(err,
        err == 0 ? NULL
        : res != NULL && res->message != NULL && *res->message != '\0'
            ? res->message
            : kiln_strerror(err),
        l->data);
}

int kiln_observe_refresh_start(struct kiln_aws_client *client,
                               const char *group, struct kiln_arena *arena,
                               struct kiln_observed_app *app,
                               kiln_observe_refresh_cb *cb, void *data)
{
  struct refresh_look *l = kiln_arena_alloc(arena, sizeof(*l));
  if (l == NULL)
    return KILN_ENOMEM;
  memset(l, 0, sizeof(*l));
  l->app = app;
  l->cb = cb;
  l->data = data;
  return kiln_asg_describe_instance_refreshes(
      client,
      &(struct kiln_asg_describe_instance_refreshes_request){.group_name =
                                                                 group},
      arena, &l->answer, on_refresh_look, l);
}

static void apply_bake(struct observe *o, const struct kiln_ib_image *im,
                       struct kiln_observed_app *a)
{
  const char *st = im->state_status;
  if (st == NULL)
    return;
  a->bake_arn = im->arn;
  a->bake = kiln_observed_bake_state(st);
  if (a->bake == KILN_BAKE_DONE) {
    for (size_t i = 0; i < im->ami_count; i++)
      if (im->amis[i].region == NULL ||
          strcmp(im->amis[i].region, o->region) == 0)
        a->bake_ami = im->amis[i].image;
    if (a->bake_ami == NULL) {
      a->bake = KILN_BAKE_FAILED;
      a->bake_reason = "the bake ended without an AMI in this region";
    }
  } else if (a->bake == KILN_BAKE_FAILED) {
    a->bake_reason =
        im->state_reason != NULL
            ? im->state_reason
            : kiln_arena_printf(o->a, "Image Builder says the image is %s", st);
  }
}

/* A group seen off the version its last, successful refresh rolled out is
 * either changed by hand or was described just before that refresh ended
 * (the calls of one pass are not a snapshot). Describe it once more, after
 * the refresh, to tell which. */
static bool needs_recheck(const struct kiln_observed_app *a)
{
  return a->refresh == KILN_REFRESH_SUCCEEDED && a->asg_exists &&
         a->refresh_version == a->lt_default_version &&
         (!kiln_num_is_i64(a->asg_lt_version, a->refresh_version) ||
          a->asg_instances_stale > 0);
}

static void on_recheck(int err, const struct kiln_aws_response *res, void *data)
{
  struct observe *o = data;
  for (size_t i = 0; err == 0 && i < o->repo->n_apps; i++) {
    struct kiln_observed_app *a = &o->obs.apps[i];
    if (!in_scope(o, &o->repo->apps[i]) || !needs_recheck(a))
      continue;
    for (size_t j = 0; err == 0 && j < o->recheck.count; j++)
      if (strcmp(o->recheck.groups[j].name,
                 o->repo->apps[i].autoscaling.name) == 0 &&
          (err = kiln__fold_group(o->a, &o->recheck.groups[j], a)) == 0)
        a->asg_instances_stale = kiln_observed_stale_instances(a);
  }
  call_done(o, err, res, true);
}

static void start_recheck(struct observe *o)
{
  size_t n = 0;
  const char **names =
      kiln_arena_alloc(o->a, (o->repo->n_apps + 1) * sizeof(char *));
  if (names == NULL)
    return;
  for (size_t i = 0; i < o->repo->n_apps; i++)
    if (in_scope(o, &o->repo->apps[i]) && needs_recheck(&o->obs.apps[i]) &&
        n < KILN_ASG_MAX_NAMES)
      names[n++] = o->repo->apps[i].autoscaling.name;
  if (n == 0)
    return;
  o->pending++;
  if (kiln_asg_describe_groups(o->client,
                               &(struct kiln_asg_describe_groups_request){
                                   .names = names, .name_count = n},
                               o->a, &o->recheck, on_recheck, o) != 0)
    o->pending--;
}

/* Activities only add detail to a release; without them it is still
 * planned, from the refresh alone. */
static void on_activities(int err, const struct kiln_aws_response *res,
                          void *data)
{
  struct call *c = data;
  if (err == 0) {
    apply_activities(&c->o->activities[c->index], &c->o->obs.apps[c->index]);
    c->o->activities_asked[c->index] = true;
  }
  call_done(c->o, err, res, false);
}

/* At most the 20 newest: a release's last launches are among them. */
#define ACTIVITIES_LOOKED_AT 20

static void start_activities(struct observe *o)
{
  for (size_t i = 0; i < o->repo->n_apps; i++) {
    struct call *c;
    if (!in_scope(o, &o->repo->apps[i]) || o->activities_known[i] ||
        !kiln_observed_needs_activities(&o->obs.apps[i]))
      continue;
    if (o->activities == NULL &&
        ((o->activities = kiln_arena_alloc(
              o->a, (o->repo->n_apps + 1) * sizeof(*o->activities))) == NULL ||
         (o->activities_asked = kiln_arena_alloc(
              o->a, (o->repo->n_apps + 1) * sizeof(bool))) == NULL))
      return;
    if ((c = new_call(o, i)) == NULL)
      return;
    o->pending++;
    if (kiln_asg_describe_scaling_activities(
            o->client,
            &(struct kiln_asg_describe_scaling_activities_request){
                .group_name = o->repo->apps[i].autoscaling.name,
                .max_records = ACTIVITIES_LOOKED_AT},
            o->a, &o->activities[i], on_activities, c) != 0)
      o->pending--;
  }
}

static void finish(struct observe *o)
{
  if (o->err == 0 && o->round == 3) {
    for (size_t i = 0; i < o->repo->n_apps; i++) {
      if (!in_scope(o, &o->repo->apps[i]))
        continue;
      apply_refresh(&o->refreshes[i], &o->obs.apps[i]);
      if (o->bake_source[i] != SIZE_MAX)
        apply_bake(o, &o->bake_images[o->bake_source[i]], &o->obs.apps[i]);
    }
    o->round = 4;
    o->pending = 1; /* held until every call below has started */
    start_recheck(o);
    start_activities(o);
    call_done(o, 0, NULL, false);
    return;
  }
  if (o->err == 0)
    remember_refreshes(o);
  o->cb(o->err, &o->obs, o->data);
}

int kiln_observe_start(struct kiln_aws_client *client, const char *role_arn,
                       const struct kiln_spec_repo *repo,
                       const struct kiln_observe_options *opts,
                       struct kiln_arena *arena, kiln_observe_cb *cb,
                       void *data)
{
  struct observe *o = kiln_arena_alloc(arena, sizeof(*o));
  size_t n = repo->n_apps;
  int err;

  if (o == NULL)
    return KILN_ENOMEM;
  o->client = client;
  o->repo = repo;
  if (opts != NULL)
    o->opts = *opts;
  if (o->opts.memory != NULL) {
    o->lt_cache = o->opts.memory->versions;
    o->refreshes_seen = o->opts.memory->refreshes;
  }
  o->a = arena;
  o->cb = cb;
  o->data = data;
  o->region = kiln_aws_client_region(client);
  o->role_arn = role_arn;
  o->obs.n = n;
  o->obs.images = &o->images;
  o->obs.apps = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->obs.apps));
  o->digests = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->digests));
  o->lt_of = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->lt_of));
  o->ltv_read = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->ltv_read));
  o->ltv_asked = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->ltv_asked));
  o->refreshes = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->refreshes));
  o->fingerprints = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->fingerprints));
  o->refresh_asked =
      kiln_arena_alloc(arena, (n + 1) * sizeof(*o->refresh_asked));
  o->held = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->held));
  o->activities_known =
      kiln_arena_alloc(arena, (n + 1) * sizeof(*o->activities_known));
  o->bake_images = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->bake_images));
  o->bake_source = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->bake_source));
  if (o->obs.apps == NULL || o->digests == NULL || o->lt_of == NULL ||
      o->ltv_read == NULL || o->ltv_asked == NULL || o->refreshes == NULL ||
      o->fingerprints == NULL || o->refresh_asked == NULL || o->held == NULL ||
      o->activities_known == NULL || o->bake_images == NULL ||
      o->bake_source == NULL || collect_names(o) != 0)
    return KILN_ENOMEM;
  for (size_t i = 0; i < n; i++)
    o->bake_source[i] = SIZE_MAX;
  err = start_round_one(o);
  if (err == 0)
    return 0;
  /* Calls that never started will never call back. */
  o->pending -= o->planned - o->started;
  if (o->pending == 0)
    return err;
  /* Those that did will: the failure reaches cb like any other. */
  o->err = err;
  o->obs.error = "cannot observe AWS: could not start every request";
  return 0;
}
