/* What an observation keeps of AWS's answers, copied out of them. See
 * observe_fold.h. */
#include "observe_fold.h"

#include "kiln/arena.h"
#include "kiln/autoscaling.h"
#include "kiln/aws_client.h"
#include "kiln/ec2.h"
#include "kiln/error.h"
#include "kiln/naming.h"
#include "kiln/str_index.h"

#include <stdlib.h>
#include <string.h>

int64_t kiln__version_tag(const char *v)
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

/* Copies into one arena, the first failure remembered: a fold copies a
 * dozen fields and checks once. */
struct copier {
  struct kiln_arena *a;
  int err;
};

static const char *keep(struct copier *c, const char *s)
{
  const char *d;
  if (s == NULL)
    return NULL;
  if ((d = kiln_arena_strdup(c->a, s)) == NULL)
    c->err = KILN_ENOMEM;
  return d;
}

static void *keep_array(struct copier *c, size_t n, size_t size)
{
  void *p = kiln_arena_alloc(c->a, (n + 1) * size);
  if (p == NULL)
    c->err = KILN_ENOMEM;
  return p;
}

static struct kiln_tags keep_aws_tags(struct copier *c,
                                      const struct kiln_aws_tag *tags, size_t n)
{
  struct kiln_tags out = {keep_array(c, n, sizeof(struct kiln_tag)), 0};
  for (size_t i = 0; out.items != NULL && i < n; i++)
    out.items[out.n++] =
        (struct kiln_tag){keep(c, tags[i].key), keep(c, tags[i].value)};
  return out;
}

int kiln__fold_template(struct kiln_arena *arena,
                        const struct kiln_ec2_launch_template *lt,
                        struct kiln_template_seen *out)
{
  struct copier c = {arena, 0};
  out->id = keep(&c, lt->id);
  out->default_version = lt->default_version;
  out->latest_version = lt->latest_version;
  out->kiln_version = kiln__version_tag(
      kiln_aws_tag_value(lt->tags, lt->tag_count, "kiln:version"));
  out->tags = keep_aws_tags(&c, lt->tags, lt->tag_count);
  return c.err;
}

static bool counts_as_running(const char *state)
{
  /* Instances on their way out no longer serve. */
  return state == NULL ||
         (strncmp(state, "Terminat", 8) != 0 &&
          strcmp(state, "Detaching") != 0 && strcmp(state, "Detached") != 0);
}

/* The subnets of a VPCZoneIdentifier ("subnet-a,subnet-b"). */
static struct kiln_strs split_subnets(struct copier *c, const char *zones)
{
  struct kiln_strs out = {NULL, 0};
  size_t cap = 1;
  char *copy, *save = NULL;

  if (zones == NULL || *zones == '\0')
    return out;
  for (const char *z = zones; *z != '\0'; z++)
    cap += *z == ',';
  copy = (char *)keep(c, zones);
  out.items = keep_array(c, cap, sizeof(char *));
  if (copy == NULL || out.items == NULL)
    return out;
  for (char *t = strtok_r(copy, ",", &save); t != NULL;
       t = strtok_r(NULL, ",", &save))
    if (*t != '\0')
      out.items[out.n++] = t;
  return out;
}

int kiln__fold_group(struct kiln_arena *arena, const struct kiln_asg_group *g,
                     struct kiln_observed_app *out)
{
  struct copier c = {arena, 0};
  const char **versions = keep_array(&c, g->instance_count, sizeof(char *));
  struct kiln_tag *tags = keep_array(&c, g->tag_count, sizeof(*tags));
  const char **groups =
      keep_array(&c, g->target_group_count, sizeof(const char *));

  if (c.err != 0)
    return c.err;
  out->asg_exists = true;
  out->asg_min = g->min_size;
  out->asg_max = g->max_size;
  out->asg_desired = g->desired_capacity;
  out->asg_lt_id = keep(&c, g->launch_template.id);
  out->asg_lt_version = keep(&c, g->launch_template.version);
  out->asg_subnets = split_subnets(&c, g->vpc_zone_identifier);
  out->asg_commit = NULL;
  out->asg_instances = 0;
  out->asg_instance_versions = versions;
  out->asg_kiln_version = 0;
  out->asg_tags = (struct kiln_tags){tags, g->tag_count};
  for (size_t t = 0; t < g->tag_count; t++) {
    tags[t] =
        (struct kiln_tag){keep(&c, g->tags[t].key), keep(&c, g->tags[t].value)};
    if (strcmp(g->tags[t].key, "kiln:commit") == 0)
      out->asg_commit = tags[t].value;
    else if (strcmp(g->tags[t].key, "kiln:version") == 0)
      out->asg_kiln_version = kiln__version_tag(g->tags[t].value);
  }
  for (size_t t = 0; t < g->target_group_count; t++)
    groups[t] = keep(&c, g->target_group_arns[t]);
  out->asg_target_groups = (struct kiln_strs){groups, g->target_group_count};
  out->asg_health_check_type = keep(&c, g->health_check_type);
  out->asg_grace_seconds = g->health_check_grace_period_s.set
                               ? g->health_check_grace_period_s.value
                               : 0;
  for (size_t j = 0; j < g->instance_count; j++) {
    const struct kiln_asg_instance *in = &g->instances[j];
    if (counts_as_running(in->lifecycle_state))
      versions[out->asg_instances++] = keep(&c, in->launch_template.version);
  }
  return c.err;
}

int kiln__fold_version(struct kiln_arena *arena, struct kiln_arena *scratch,
                       const struct kiln_ec2_launch_template_version *v,
                       struct kiln_lt_cached *out)
{
  struct kiln_lt_cached borrowed;
  char commit[41], digest[65];

  memset(&borrowed, 0, sizeof(borrowed));
  borrowed.version = v->version_number;
  borrowed.created_s = kiln_aws_time_s(v->create_time);
  if (kiln_naming_parse_lt_description(v->description, commit, digest) == 0) {
    borrowed.commit = commit;
    borrowed.digest = digest[0] != '\0' ? digest : NULL;
  }
  if (kiln_observe_lt_data(scratch, &v->data, &borrowed.data) != 0)
    return KILN_ENOMEM;
  return kiln_lt_cached_copy(arena, &borrowed, out);
}

int kiln__fold_images(struct kiln_arena *arena,
                      const struct kiln_ec2_images *images,
                      struct kiln_observed_image **out, size_t *n)
{
  struct copier c = {arena, 0};
  struct kiln_observed_image *list =
      keep_array(&c, images->count, sizeof(*list));

  *out = list;
  *n = 0;
  for (size_t i = 0; list != NULL && i < images->count; i++) {
    const struct kiln_ec2_image *im = &images->images[i];
    const char *d = kiln_aws_tag_value(im->tags, im->tag_count, "kiln:digest");
    const char **snaps;
    if (d == NULL)
      continue;
    if ((snaps = keep_array(&c, im->snapshot_count, sizeof(char *))) == NULL)
      break;
    for (size_t s = 0; s < im->snapshot_count; s++)
      snaps[s] = keep(&c, im->snapshot_ids[s]);
    list[(*n)++] = (struct kiln_observed_image){
        .digest = keep(&c, d),
        .image_id = keep(&c, im->image_id),
        .state = keep(&c, im->state != NULL ? im->state : ""),
        .state_reason = keep(&c, im->state_reason),
        .snapshot_ids = snaps,
        .n_snapshots = im->snapshot_count,
    };
  }
  return c.err;
}

int kiln__index_images(struct kiln_arena *arena,
                       struct kiln_observed_image *const *lists,
                       const size_t *lens, size_t n_lists,
                       struct kiln_observation *obs)
{
  struct kiln_observed_image *all;
  struct kiln_str_index *by_digest;
  size_t n = 0;

  for (size_t l = 0; l < n_lists; l++)
    n += lens[l];
  all = kiln_arena_alloc(arena, (n + 1) * sizeof(*all));
  by_digest = kiln_str_index_new(arena, n);
  if (all == NULL || by_digest == NULL)
    return KILN_ENOMEM;
  n = 0;
  for (size_t l = 0; l < n_lists; l++)
    for (size_t i = 0; i < lens[l]; i++, n++) {
      int err;
      all[n] = lists[l][i];
      if ((err = kiln_str_index_add(by_digest, all[n].digest, n, NULL)) != 0)
        return err;
    }
  obs->kiln_images = all;
  obs->n_kiln_images = n;
  obs->by_digest = by_digest;
  return 0;
}

void kiln_observation_find_image(const struct kiln_observation *obs,
                                 const char *digest,
                                 struct kiln_observed_app *out)
{
  /* In the order AWS listed them: the same images, the same verdict. */
  for (size_t k = kiln_str_index_first(obs->by_digest, digest);
       k != KILN_STR_INDEX_NONE; k = kiln_str_index_next(obs->by_digest, k)) {
    const struct kiln_observed_image *im = &obs->kiln_images[k];
    if (strcmp(im->state, "available") == 0) {
      out->image_ami = im->image_id;
      out->image_pending = false;
      out->image_snapshots = im->snapshot_ids;
      out->image_n_snapshots = im->n_snapshots;
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
