/* Observe, in rounds of parallel calls: first what the desired state names
 * (parents, launch templates and groups by name), then what those answers
 * name (the AMIs of the digests, the default versions not seen before),
 * then only what some apps need (refreshes of groups off their version,
 * bakes in flight), and rarely a recheck. See observe.h. */
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
#include "kiln/ssm.h"

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
  const char **lt_names;
  size_t n_lt_names;
  struct kiln_ec2_launch_templates *templates; /* one per chunk of names */
  const char **group_names;
  size_t n_groups;
  struct kiln_asg_groups *groups; /* one per chunk of 100 */
  /* Every Kiln AMI of the location, when opts.all_images (gc); else the
   * AMIs of round two's chunks, merged. */
  struct kiln_ec2_images images;

  /* Name indexes over round one's results, sorted for bsearch: a fleet of
   * thousands of apps is matched in n log n. */
  const struct kiln_ec2_launch_template **lt_by_name;
  size_t n_lt_index;
  const struct kiln_asg_group **group_by_name;
  size_t n_group_index;

  /* Round two: what round one's answers name. */
  char (*digests)[65];
  const char **image_keys; /* digests, then apps whose image is a copy */
  size_t n_image_digests, n_image_apps;
  struct kiln_ec2_images *image_chunks;
  size_t n_image_chunks;
  const struct kiln_ec2_launch_template **lt_of; /* per app; NULL: none */
  /* The default versions not in the cache: one call per template when
   * they are few, else one listing of every template's $Default. */
  struct kiln_ec2_launch_template_versions *ltv_one; /* per app */
  bool *ltv_asked;                                   /* per app */
  struct kiln_ec2_launch_template_versions ltv_all;
  const struct kiln_ec2_launch_template_version **ltv_by_id;
  bool ltv_listed;

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

/* A kiln:version tag's value: a positive version number, else 0 (unknown;
 * tags can be edited by hand). */
static int64_t version_tag(const char *v)
{
  int64_t n = 0;
  if (v == NULL || *v == '\0' || strlen(v) > 18)
    return 0;
  for (; *v != '\0'; v++) {
    if (*v < '0' || *v > '9')
      return 0;
    n = n * 10 + (*v - '0');
  }
  return n;
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

static void on_chunk(int err, const struct kiln_aws_response *res, void *data)
{
  struct call *c = data;
  call_done(c->o, err, res, true);
}

/* Appends s to list[0..*n) unless it is there: the lists are short where
 * this is used (parents), or deduplicated by sorting (names, digests). */
static bool seen(const char **list, size_t n, const char *s)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i], s) == 0)
      return true;
  return false;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts list[0..n) and drops repeats; returns the new count. */
static size_t sort_unique(const char **list, size_t n)
{
  size_t out = 0;
  qsort(list, n, sizeof(*list), cmp_str);
  for (size_t i = 0; i < n; i++)
    if (out == 0 || strcmp(list[out - 1], list[i]) != 0)
      list[out++] = list[i];
  return out;
}

static int collect_names(struct observe *o)
{
  const struct kiln_spec_repo *r = o->repo;
  o->ssm_names = kiln_arena_alloc(o->a, (r->n_apps + 1) * sizeof(char *));
  o->lt_names = kiln_arena_alloc(o->a, (r->n_apps + 1) * sizeof(char *));
  o->group_names = kiln_arena_alloc(o->a, (r->n_apps + 1) * sizeof(char *));
  if (o->ssm_names == NULL || o->lt_names == NULL || o->group_names == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < r->n_apps; i++) {
    const struct kiln_app_spec *s = &r->apps[i];
    if (!in_scope(o, s))
      continue;
    /* A parent is resolved in the image's home only. */
    if (s->image.parent_kind == KILN_PARENT_SSM && kiln_spec_image_at_home(s) &&
        !seen(o->ssm_names, o->n_ssm, s->image.parent_ref))
      o->ssm_names[o->n_ssm++] = s->image.parent_ref;
    o->lt_names[o->n_lt_names++] = s->launch_template.name;
    o->group_names[o->n_groups++] = s->autoscaling.name;
  }
  o->n_lt_names = sort_unique(o->lt_names, o->n_lt_names);
  return 0;
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
  int err;

  o->round = 1;
  o->ssm = kiln_arena_alloc(o->a, (n_ssm_chunks + 1) * sizeof(*o->ssm));
  o->ssm_errors = kiln_arena_alloc(o->a, (n_ssm_chunks + 1) * sizeof(char *));
  o->templates =
      kiln_arena_alloc(o->a, (n_lt_chunks + 1) * sizeof(*o->templates));
  o->groups = kiln_arena_alloc(o->a, (n_group_chunks + 1) * sizeof(*o->groups));
  if (o->ssm == NULL || o->ssm_errors == NULL || o->templates == NULL ||
      o->groups == NULL)
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
    o->started++;
    return kiln_ec2_describe_launch_templates(
        o->client,
        &(struct kiln_ec2_describe_launch_templates_request){
            .filters = &filter, .filter_count = 1, .max_results = 1},
        o->a, &o->templates[0], on_fatal, o);
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
    if ((c = new_call(o, i)) == NULL)
      return KILN_ENOMEM;
    err = kiln_ec2_describe_launch_templates(
        o->client,
        &(struct kiln_ec2_describe_launch_templates_request){
            .filters = &filter, .filter_count = 1, .max_results = 200},
        o->a, &o->templates[i], on_chunk, c);
    if (err != 0)
      return err;
    o->started++;
  }
  for (size_t i = 0; i < n_group_chunks; i++) {
    if ((c = new_call(o, i)) == NULL)
      return KILN_ENOMEM;
    err = kiln_asg_describe_groups(
        o->client,
        &(struct kiln_asg_describe_groups_request){
            .names = o->group_names + i * KILN_ASG_MAX_NAMES,
            .name_count = chunk_len(o->n_groups, KILN_ASG_MAX_NAMES, i),
            .max_records = 100},
        o->a, &o->groups[i], on_chunk, c);
    if (err != 0)
      return err;
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

static int cmp_by_digest(const void *a, const void *b)
{
  const struct kiln_image_by_digest *x = a, *y = b;
  int c = strcmp(x->digest, y->digest);
  /* Ties as AWS listed them: the same images, the same verdict. */
  return c != 0 ? c : (x->image > y->image) - (x->image < y->image);
}

/* obs->by_digest over obs->images. Returns 0 or KILN_ENOMEM. */
static int index_images(struct kiln_arena *arena, struct kiln_observation *obs)
{
  const struct kiln_ec2_images *images = obs->images;
  struct kiln_image_by_digest *index =
      kiln_arena_alloc(arena, (images->count + 1) * sizeof(*index));
  size_t n = 0;
  if (index == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < images->count; i++) {
    const struct kiln_ec2_image *im = &images->images[i];
    const char *d = kiln_aws_tag_value(im->tags, im->tag_count, "kiln:digest");
    if (d != NULL)
      index[n++] = (struct kiln_image_by_digest){d, im};
  }
  qsort(index, n, sizeof(*index), cmp_by_digest);
  obs->by_digest = index;
  obs->n_by_digest = n;
  return 0;
}

void kiln_observation_find_image(const struct kiln_observation *obs,
                                 const char *digest,
                                 struct kiln_observed_app *out)
{
  size_t lo = 0, hi = obs->n_by_digest;
  /* The first entry of digest. */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(obs->by_digest[mid].digest, digest) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (; lo < obs->n_by_digest && strcmp(obs->by_digest[lo].digest, digest) == 0;
       lo++) {
    const struct kiln_ec2_image *im = obs->by_digest[lo].image;
    if (strcmp(im->state, "available") == 0) {
      out->image_ami = im->image_id;
      out->image_pending = false;
      out->image_snapshots = im->snapshot_ids;
      out->image_n_snapshots = im->snapshot_count;
    } else if (strcmp(im->state, "pending") == 0 &&
               (out->image_ami == NULL || out->image_pending)) {
      out->image_ami = im->image_id;
      out->image_pending = true;
    } else if (strcmp(im->state, "failed") == 0) {
      out->image_failed++;
      out->image_failed_reason =
          im->state_reason != NULL ? im->state_reason : "AWS gave no reason";
    }
  }
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

static const char *or_empty(const char *s)
{
  return s != NULL ? s : "";
}

static int cmp_lt_name(const void *a, const void *b)
{
  return strcmp(
      or_empty((*(const struct kiln_ec2_launch_template *const *)a)->name),
      or_empty((*(const struct kiln_ec2_launch_template *const *)b)->name));
}

static int cmp_ltv_id(const void *a, const void *b)
{
  return strcmp(
      or_empty((*(const struct kiln_ec2_launch_template_version *const *)a)
                   ->launch_template_id),
      or_empty((*(const struct kiln_ec2_launch_template_version *const *)b)
                   ->launch_template_id));
}

static int cmp_group_name(const void *a, const void *b)
{
  return strcmp((*(const struct kiln_asg_group *const *)a)->name,
                (*(const struct kiln_asg_group *const *)b)->name);
}

/* Round one's templates and groups, by name. */
static int build_indexes(struct observe *o)
{
  size_t lt_chunks = chunks_of(o->n_lt_names, KILN_EC2_MAX_FILTER_VALUES);
  size_t group_chunks = chunks_of(o->n_groups, KILN_ASG_MAX_NAMES);
  size_t n_templates = 0, n_groups = 0;

  for (size_t c = 0; c < lt_chunks; c++)
    n_templates += o->templates[c].count;
  for (size_t c = 0; c < group_chunks; c++)
    n_groups += o->groups[c].count;
  o->lt_by_name =
      kiln_arena_alloc(o->a, (n_templates + 1) * sizeof(*o->lt_by_name));
  o->group_by_name =
      kiln_arena_alloc(o->a, (n_groups + 1) * sizeof(*o->group_by_name));
  if (o->lt_by_name == NULL || o->group_by_name == NULL)
    return KILN_ENOMEM;
  for (size_t c = 0; c < lt_chunks; c++)
    for (size_t i = 0; i < o->templates[c].count; i++)
      o->lt_by_name[o->n_lt_index++] = &o->templates[c].templates[i];
  qsort(o->lt_by_name, o->n_lt_index, sizeof(*o->lt_by_name), cmp_lt_name);
  for (size_t c = 0; c < group_chunks; c++)
    for (size_t i = 0; i < o->groups[c].count; i++)
      o->group_by_name[o->n_group_index++] = &o->groups[c].groups[i];
  qsort(o->group_by_name, o->n_group_index, sizeof(*o->group_by_name),
        cmp_group_name);
  return 0;
}

static const struct kiln_ec2_launch_template *
template_named(const struct observe *o, const char *name)
{
  struct kiln_ec2_launch_template key = {.name = name};
  const struct kiln_ec2_launch_template *kp = &key, **found;
  found = bsearch(&kp, o->lt_by_name, o->n_lt_index, sizeof(*o->lt_by_name),
                  cmp_lt_name);
  return found != NULL ? *found : NULL;
}

/* The default version of app i's template as round two read it, or NULL
 * (not read: the cache has it, or the template went in between). */
static const struct kiln_ec2_launch_template_version *
version_read(const struct observe *o, size_t i)
{
  const struct kiln_ec2_launch_template *lt = o->lt_of[i];
  if (o->ltv_asked[i])
    return o->ltv_one[i].count > 0 ? &o->ltv_one[i].versions[0] : NULL;
  if (o->ltv_listed) {
    struct kiln_ec2_launch_template_version key = {.launch_template_id =
                                                       lt->id};
    const struct kiln_ec2_launch_template_version *kp = &key, **found;
    found = bsearch(&kp, o->ltv_by_id, o->ltv_all.count, sizeof(*o->ltv_by_id),
                    cmp_ltv_id);
    return found != NULL ? *found : NULL;
  }
  return NULL;
}

/* A version read from AWS, as the cache keeps it (strings borrowed). */
static int cached_form(struct observe *o,
                       const struct kiln_ec2_launch_template_version *v,
                       struct kiln_lt_cached *out)
{
  char commit[41], digest[65];
  memset(out, 0, sizeof(*out));
  out->version = v->version_number;
  out->created_s = kiln_aws_time_s(v->create_time);
  if (kiln_naming_parse_lt_description(v->description, commit, digest) == 0) {
    out->commit = kiln_arena_strdup(o->a, commit);
    out->digest = digest[0] != '\0' ? kiln_arena_strdup(o->a, digest) : NULL;
  }
  return kiln_observe_lt_data(o->a, &v->data, &out->data);
}

static int find_launch_template(struct observe *o, size_t i,
                                struct kiln_observed_app *out)
{
  const struct kiln_ec2_launch_template *lt = o->lt_of[i];
  const struct kiln_ec2_launch_template_version *read;
  const struct kiln_lt_cached *hit;
  struct kiln_lt_cached v;
  struct kiln_tag *tags;
  int err;

  if (lt == NULL)
    return 0;
  if ((read = version_read(o, i)) != NULL) {
    if ((err = cached_form(o, read, &v)) != 0)
      return err;
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
  tags = kiln_arena_alloc(o->a, (lt->tag_count + 1) * sizeof(*tags));
  if (tags == NULL)
    return KILN_ENOMEM;
  for (size_t t = 0; t < lt->tag_count; t++)
    tags[t] = (struct kiln_tag){lt->tags[t].key, lt->tags[t].value};
  out->lt_exists = true;
  out->lt_id = lt->id;
  out->lt_default_version = v.version;
  out->lt_latest_version =
      lt->latest_version > v.version ? lt->latest_version : v.version;
  out->lt_default_created_s = v.created_s;
  out->lt_default_commit = v.commit;
  out->lt_default_digest = v.digest;
  out->lt_default = v.data;
  out->lt_tags = (struct kiln_tags){tags, lt->tag_count};
  out->lt_kiln_version =
      version_tag(kiln_aws_tag_value(lt->tags, lt->tag_count, "kiln:version"));
  return 0;
}

static bool counts_as_running(const char *state)
{
  /* Instances on their way out no longer serve. */
  return state == NULL ||
         (strncmp(state, "Terminat", 8) != 0 &&
          strcmp(state, "Detaching") != 0 && strcmp(state, "Detached") != 0);
}

/* The subnets of a VPCZoneIdentifier ("subnet-a,subnet-b"). */
static int split_subnets(struct kiln_arena *arena, const char *zones,
                         struct kiln_strs *out)
{
  size_t cap = 1;
  char *copy, *save = NULL;

  out->items = NULL;
  out->n = 0;
  if (zones == NULL || *zones == '\0')
    return 0;
  for (const char *c = zones; *c != '\0'; c++)
    cap += *c == ',';
  copy = kiln_arena_strdup(arena, zones);
  out->items = kiln_arena_alloc(arena, cap * sizeof(char *));
  if (copy == NULL || out->items == NULL)
    return KILN_ENOMEM;
  for (char *t = strtok_r(copy, ",", &save); t != NULL;
       t = strtok_r(NULL, ",", &save))
    if (*t != '\0')
      out->items[out->n++] = t;
  return 0;
}

/* Fills the group fields of out from g, counting instances that are not on
 * the template's default version. Returns 0 or KILN_ENOMEM. */
static int fill_group(struct kiln_arena *arena, const struct kiln_asg_group *g,
                      struct kiln_observed_app *out)
{
  const char **versions =
      kiln_arena_alloc(arena, (g->instance_count + 1) * sizeof(char *));
  struct kiln_tag *tags =
      kiln_arena_alloc(arena, (g->tag_count + 1) * sizeof(*tags));
  if (versions == NULL || tags == NULL ||
      split_subnets(arena, g->vpc_zone_identifier, &out->asg_subnets) != 0)
    return KILN_ENOMEM;
  out->asg_exists = true;
  out->asg_min = g->min_size;
  out->asg_max = g->max_size;
  out->asg_desired = g->desired_capacity;
  out->asg_lt_id = g->launch_template.id;
  out->asg_lt_version = g->launch_template.version;
  out->asg_commit = NULL;
  out->asg_instances = 0;
  out->asg_instance_versions = versions;
  out->asg_kiln_version = 0;
  out->asg_tags = (struct kiln_tags){tags, g->tag_count};
  out->asg_target_groups = (struct kiln_strs){
      (const char **)g->target_group_arns, g->target_group_count};
  out->asg_health_check_type = g->health_check_type;
  out->asg_grace_seconds = g->health_check_grace_period_s.set
                               ? g->health_check_grace_period_s.value
                               : 0;
  for (size_t t = 0; t < g->tag_count; t++) {
    tags[t] = (struct kiln_tag){g->tags[t].key, g->tags[t].value};
    if (strcmp(g->tags[t].key, "kiln:commit") == 0)
      out->asg_commit = g->tags[t].value;
    else if (strcmp(g->tags[t].key, "kiln:version") == 0)
      out->asg_kiln_version = version_tag(g->tags[t].value);
  }
  for (size_t j = 0; j < g->instance_count; j++) {
    const struct kiln_asg_instance *in = &g->instances[j];
    if (counts_as_running(in->lifecycle_state))
      out->asg_instance_versions[out->asg_instances++] =
          in->launch_template.version;
  }
  out->asg_instances_stale = kiln_observed_stale_instances(out);
  return 0;
}

static const struct kiln_asg_group *group_named(const struct observe *o,
                                                const char *name)
{
  struct kiln_asg_group key = {.name = name};
  const struct kiln_asg_group *kp = &key, **found;
  found = bsearch(&kp, o->group_by_name, o->n_group_index,
                  sizeof(*o->group_by_name), cmp_group_name);
  return found != NULL ? *found : NULL;
}

/* ---- round two: what round one's answers name ------------------------- */

/* Default versions not in the cache: one call per template costs less than
 * a listing of every template's (Kiln's and anyone else's, 200 a page)
 * while they are this few. */
static bool one_by_one(size_t misses, size_t templates)
{
  return misses <= 1 + templates / 200;
}

static int start_versions(struct observe *o, size_t misses)
{
  static const char *default_version[] = {"$Default"};
  const struct kiln_spec_repo *r = o->repo;
  struct call *c;
  int err;

  if (misses == 0)
    return 0;
  if (!one_by_one(misses, o->n_lt_index)) {
    o->ltv_listed = true;
    o->pending++;
    err = kiln_ec2_describe_launch_template_versions(
        o->client,
        &(struct kiln_ec2_describe_launch_template_versions_request){
            .versions = default_version,
            .version_count = 1,
            .max_results = 200},
        o->a, &o->ltv_all, on_fatal, o);
    if (err != 0)
      o->pending--;
    return err;
  }
  for (size_t i = 0; i < r->n_apps; i++) {
    const struct kiln_ec2_launch_template *lt = o->lt_of[i];
    const char *number;
    if (lt == NULL || o->ltv_asked[i] ||
        kiln_lt_cache_get(o->lt_cache, lt->id, lt->default_version) != NULL)
      continue;
    number = kiln_arena_printf(o->a, "%lld", (long long)lt->default_version);
    if (number == NULL || (c = new_call(o, i)) == NULL)
      return KILN_ENOMEM;
    o->ltv_asked[i] = true;
    o->pending++;
    err = kiln_ec2_describe_launch_template_versions(
        o->client,
        &(struct kiln_ec2_describe_launch_template_versions_request){
            .launch_template_id = lt->id,
            .versions = &number,
            .version_count = 1},
        o->a, &o->ltv_one[i], on_chunk, c);
    if (err != 0) {
      o->pending--;
      return err;
    }
  }
  return 0;
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
  struct call *c;
  int err;

  o->n_image_chunks = n_digest_chunks + n_app_chunks;
  o->image_chunks = kiln_arena_alloc(o->a, (o->n_image_chunks + 1) *
                                               sizeof(*o->image_chunks));
  if (o->image_chunks == NULL)
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
    if ((c = new_call(o, i)) == NULL)
      return KILN_ENOMEM;
    o->pending++;
    err = kiln_ec2_describe_images(
        o->client,
        &(struct kiln_ec2_describe_images_request){.owners = self,
                                                   .owner_count = 1,
                                                   .filters = &filter,
                                                   .filter_count = 1,
                                                   .max_results = 1000},
        o->a, &o->image_chunks[i], on_chunk, c);
    if (err != 0) {
      o->pending--;
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
  if (err == 0)
    err = build_indexes(o);
  for (size_t i = 0; i < r->n_apps && err == 0; i++) {
    const struct kiln_app_spec *s = &r->apps[i];
    struct kiln_observed_app *a = &o->obs.apps[i];
    const struct kiln_ec2_launch_template *lt;

    if (!in_scope(o, s))
      continue;
    o->lt_of[i] = lt = template_named(o, s->launch_template.name);
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
  if (err == 0) {
    o->n_image_digests = sort_unique(o->image_keys, o->n_image_digests);
    o->n_image_apps = sort_unique(apps, o->n_image_apps);
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

/* The refresh of app i's group g: asked of AWS, or, when the memory says
 * it cannot have moved (kiln/refresh_seen.h), set aside for
 * look_at_held_refreshes. */
static int look_at_refresh(struct observe *o, size_t i,
                           const struct kiln_asg_group *g)
{
  const struct kiln_refresh_seen *seen =
      kiln_keep_get(o->refreshes_seen, o->repo->apps[i].autoscaling.name);
  o->fingerprints[i] = kiln_refresh_seen_fingerprint(g);
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

/* The AMIs of round two's chunks as one list, and the versions listed
 * indexed by template id. */
static int gather(struct observe *o)
{
  size_t n = 0;
  if (!o->opts.all_images) {
    for (size_t c = 0; c < o->n_image_chunks; c++)
      n += o->image_chunks[c].count;
    o->images.images =
        kiln_arena_alloc(o->a, (n + 1) * sizeof(*o->images.images));
    if (o->images.images == NULL)
      return KILN_ENOMEM;
    for (size_t c = 0; c < o->n_image_chunks; c++)
      for (size_t i = 0; i < o->image_chunks[c].count; i++)
        o->images.images[o->images.count++] = o->image_chunks[c].images[i];
  }
  if (index_images(o->a, &o->obs) != 0)
    return KILN_ENOMEM;
  if (o->ltv_listed) {
    o->ltv_by_id =
        kiln_arena_alloc(o->a, (o->ltv_all.count + 1) * sizeof(*o->ltv_by_id));
    if (o->ltv_by_id == NULL)
      return KILN_ENOMEM;
    for (size_t i = 0; i < o->ltv_all.count; i++)
      o->ltv_by_id[i] = &o->ltv_all.versions[i];
    qsort(o->ltv_by_id, o->ltv_all.count, sizeof(*o->ltv_by_id), cmp_ltv_id);
  }
  return 0;
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
    const struct kiln_asg_group *g;
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
    if ((g = group_named(o, s->autoscaling.name)) != NULL &&
        (err = fill_group(o->a, g, a)) != 0)
      break;
    /* kiln:version is the bookkeeping of apps Kiln drives; where it only
     * reports, a tag left behind must not cost a look every pass. */
    if (s->drift != KILN_DRIFT_CORRECT || s->suspend)
      a->asg_kiln_version = 0;
    if (kiln_observed_needs_refresh_look(a))
      err = look_at_refresh(o, i, g);
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
  char v[32];
  snprintf(v, sizeof(v), "%lld", (long long)a->refresh_version);
  return a->refresh == KILN_REFRESH_SUCCEEDED && a->asg_exists &&
         a->refresh_version == a->lt_default_version &&
         (a->asg_lt_version == NULL || strcmp(a->asg_lt_version, v) != 0 ||
          a->asg_instances_stale > 0);
}

static void on_recheck(int err, const struct kiln_aws_response *res, void *data)
{
  struct observe *o = data;
  for (size_t i = 0; err == 0 && i < o->repo->n_apps; i++) {
    struct kiln_observed_app *a = &o->obs.apps[i];
    if (!in_scope(o, &o->repo->apps[i]) || !needs_recheck(a))
      continue;
    for (size_t j = 0; j < o->recheck.count; j++)
      if (strcmp(o->recheck.groups[j].name,
                 o->repo->apps[i].autoscaling.name) == 0)
        err = fill_group(o->a, &o->recheck.groups[j], a);
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
  o->ltv_one = kiln_arena_alloc(arena, (n + 1) * sizeof(*o->ltv_one));
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
      o->ltv_one == NULL || o->ltv_asked == NULL || o->refreshes == NULL ||
      o->fingerprints == NULL || o->refresh_asked == NULL || o->held == NULL ||
      o->activities_known == NULL ||
      o->bake_images == NULL || o->bake_source == NULL || collect_names(o) != 0)
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
