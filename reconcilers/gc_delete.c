#include "kiln/gc_delete.h"

#include "kiln/arena.h"
#include "kiln/aws_error.h"
#include "kiln/error.h"
#include "kiln/gc_look.h"
#include "kiln/imagebuilder.h"

#include <stdio.h>
#include <string.h>


static void next(struct kiln_gc_delete *d);

/* AWS says it is gone already: as good as deleted. */
static bool gone(int err, const struct kiln_aws_response *res)
{
  const char *code = res != NULL && res->error != NULL ? res->error->code : "";
  return err == KILN_EAWS && strstr(code, ".NotFound") != NULL;
}

static const char *why(struct kiln_gc_delete *d, int err,
                       const struct kiln_aws_response *res, const char *what)
{
  const char *s = kiln_arena_printf(
      d->a, "%s: %s", what,
      res != NULL && res->message != NULL && res->message[0] != '\0'
          ? res->message
          : kiln_strerror(err));
  return s != NULL ? s : "out of memory";
}

/* ---- snapshots left behind -------------------------------------------- */

static void on_orphan(int err, const struct kiln_aws_response *res, void *data)
{
  struct kiln_gc_delete *d = data;
  if (err == 0 || gone(err, res))
    d->orphans_deleted++;
  else
    d->orphan_error = why(d, err, res, d->orphans[d->sub - 1]);
  next(d);
}

static bool image_exists(const struct kiln_ec2_images *images, const char *id)
{
  for (size_t i = 0; images != NULL && i < images->count; i++)
    if (strcmp(images->images[i].image_id, id) == 0)
      return true;
  return false;
}

static int find_orphans(struct kiln_gc_delete *d,
                        const struct kiln_ec2_snapshots *marked,
                        const struct kiln_ec2_images *images)
{
  d->orphans = kiln_arena_alloc(d->a, (marked->count + 1) * sizeof(char *));
  if (d->orphans == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < marked->count; i++) {
    const struct kiln_ec2_snapshot *s = &marked->snapshots[i];
    const char *of = NULL;
    for (size_t t = 0; t < s->tag_count; t++)
      if (strcmp(s->tags[t].key, KILN_GC_SNAPSHOT_TAG) == 0)
        of = s->tags[t].value;
    /* Its AMI still there: the collection that marked it did not get to
     * deregister it, and this one decides afresh. */
    if (of != NULL && !image_exists(images, of))
      d->orphans[d->n_orphans++] = s->snapshot_id;
  }
  return 0;
}

/* ---- images ------------------------------------------------------------ */

static void image_failed(struct kiln_gc_delete *d, int err,
                         const struct kiln_aws_response *res, const char *what)
{
  d->image_errors[d->step] = why(d, err, res, what);
  d->step++;
  d->sub = 0;
  next(d);
}

static void on_image_step(int err, const struct kiln_aws_response *res,
                          void *data)
{
  struct kiln_gc_delete *d = data;
  const struct kiln_gc_image *im = d->plan->images[d->step].image;
  /* sub was advanced when the call started: 1 marked, 2 deregistered,
   * 3.. a snapshot deleted. */
  if (err != 0 && !gone(err, res))
    return image_failed(d, err, res,
                        d->sub == 1   ? "marking its snapshots"
                        : d->sub == 2 ? "DeregisterImage"
                                      : im->snapshots[d->sub - 3]);
  next(d);
}

/* The next call of image step's deletion; false when it is done. */
static bool image_call(struct kiln_gc_delete *d)
{
  const struct kiln_gc_image *im = d->plan->images[d->step].image;
  size_t sub = d->sub++;
  int err;

  if (sub == 0 && im->n_snapshots == 0)
    sub = d->sub++; /* nothing to mark */
  if (sub == 0) {
    struct kiln_aws_tag *tag = kiln_arena_alloc(d->a, sizeof(*tag));
    if (tag == NULL)
      err = KILN_ENOMEM;
    else {
      *tag = (struct kiln_aws_tag){KILN_GC_SNAPSHOT_TAG, im->image_id};
      err = kiln_ec2_create_tags(
          d->client,
          &(struct kiln_ec2_create_tags_request){
              .resource_ids = (const char **)im->snapshots,
              .resource_id_count = im->n_snapshots,
              .tags = tag,
              .tag_count = 1},
          on_image_step, d);
    }
  } else if (sub == 1) {
    err = kiln_ec2_deregister_image(d->client, im->image_id, on_image_step, d);
  } else if (sub - 2 < im->n_snapshots) {
    err = kiln_ec2_delete_snapshot(d->client, im->snapshots[sub - 2],
                                   on_image_step, d);
  } else {
    return false;
  }
  if (err != 0)
    image_failed(d, err, NULL, "cannot start the call");
  return true;
}

/* ---- launch template versions ----------------------------------------- */

static void on_versions(int err, const struct kiln_aws_response *res,
                        void *data)
{
  struct kiln_gc_delete *d = data;
  const struct kiln_gc_plan *p = d->plan;
  for (size_t i = d->batch_from; i < d->batch_to; i++) {
    const struct kiln_gc_version_verdict *v = &p->versions[i];
    if (!v->delete ||
        strcmp(v->version->template_id,
               p->versions[d->batch_from].version->template_id) != 0)
      continue;
    if (err != 0)
      d->version_errors[i] = why(d, err, res, "DeleteLaunchTemplateVersions");
    for (size_t k = 0; err == 0 && k < d->deleted.n_refused; k++)
      if (d->deleted.refused[k] == v->version->version)
        d->version_errors[i] =
            d->deleted.refused_why[k] != NULL ? d->deleted.refused_why[k]
                                              : "AWS refused";
  }
  d->step = d->batch_to;
  next(d);
}

/* Deletes the next template's versions (up to 200); false when none are
 * left. */
static bool versions_call(struct kiln_gc_delete *d)
{
  const struct kiln_gc_plan *p = d->plan;
  int64_t *vs;
  size_t n = 0, i = d->step;
  int err;

  while (i < p->n_versions && !p->versions[i].delete)
    i++;
  if (i >= p->n_versions)
    return false;
  vs = kiln_arena_alloc(d->a, 201 * sizeof(*vs));
  if (vs == NULL) {
    d->version_errors[i] = "out of memory";
    d->step = i + 1;
    return versions_call(d);
  }
  d->batch_from = i;
  for (d->batch_to = i; d->batch_to < p->n_versions && n < 200; d->batch_to++) {
    const struct kiln_gc_version_verdict *v = &p->versions[d->batch_to];
    if (strcmp(v->version->template_id, p->versions[i].version->template_id) !=
        0)
      break;
    if (v->delete)
      vs[n++] = v->version->version;
  }
  memset(&d->deleted, 0, sizeof(d->deleted));
  err = kiln_ec2_delete_launch_template_versions(
      d->client,
      &(struct kiln_ec2_delete_launch_template_versions_request){
          .launch_template_id = p->versions[i].version->template_id,
          .versions = vs,
          .version_count = n},
      d->a, &d->deleted, on_versions, d);
  if (err != 0)
    on_versions(err, NULL, d);
  return true;
}

/* ---- Image Builder recipes ---------------------------------------------- */

static bool ib_code(const struct kiln_aws_response *res, const char *code)
{
  return res != NULL && res->error != NULL &&
         strcmp(res->error->code, code) == 0;
}

static bool recipe_call(struct kiln_gc_delete *d);

static void recipe_failed(struct kiln_gc_delete *d, const char *why)
{
  d->recipe_errors[d->step] = why;
  d->step++;
  d->sub = 0;
  next(d);
}

/* Steps of recipe step: 0 list its builds, 1..B delete them, B+1 read the
 * recipe, B+2 delete it, then each component it named. */
static void on_recipe_step(int err, const struct kiln_aws_response *res,
                           void *data)
{
  struct kiln_gc_delete *d = data;
  size_t b = d->builds.count, sub = d->sub - 1; /* the call that answered */
  bool not_found = ib_code(res, "ResourceNotFoundException");

  if (sub == 0 && err != 0 && !not_found)
    return recipe_failed(d, why(d, err, res, "ListImageBuildVersions"));
  if (sub >= 1 && sub <= b && err != 0 && !not_found)
    return recipe_failed(
        d, ib_code(res, "ResourceDependencyException")
               ? "a bake of it is in flight: the recipe stays"
               : why(d, err, res, "DeleteImage"));
  if (sub >= 1 && sub <= b && err == 0)
    d->builds_deleted++;
  if (sub == b + 1 && err != 0) {
    if (!not_found)
      return recipe_failed(d, why(d, err, res, "GetImageRecipe"));
    d->recipe.component_count = 0; /* gone already: nothing to follow */
  }
  if (sub == b + 2 && err != 0 && !not_found)
    return recipe_failed(d, why(d, err, res, "DeleteImageRecipe"));
  /* A component another recipe still uses stays, as AWS says. */
  if (sub > b + 2 && err == 0)
    d->components_deleted++;
  next(d);
}

/* This account's component build versions only: an AWS-managed one
 * (arn:aws:imagebuilder:REGION:aws:component/...) is never touched. */
static bool own_component(const char *arn)
{
  return arn != NULL && strstr(arn, ":aws:component/") == NULL &&
         strstr(arn, ":component/kiln-") != NULL;
}

static bool recipe_call(struct kiln_gc_delete *d)
{
  const struct kiln_gc_recipe *r = d->plan->recipes[d->step].recipe;
  size_t sub = d->sub++, b = d->builds.count;
  int err;

  if (sub == 0) {
    const char *at = strstr(r->arn, ":image-recipe/");
    const char *image =
        at != NULL ? kiln_arena_printf(d->a, "%.*s:image/%s",
                                       (int)(at - r->arn), r->arn, at + 14)
                   : NULL;
    memset(&d->builds, 0, sizeof(d->builds));
    memset(&d->recipe, 0, sizeof(d->recipe));
    if (image == NULL) {
      recipe_failed(d, "not an image recipe ARN");
      return true;
    }
    err = kiln_ib_list_image_build_versions(d->client, image, d->a, &d->builds,
                                            on_recipe_step, d);
  } else if (sub <= b) {
    err = kiln_ib_delete_image(d->client, d->builds.items[sub - 1].arn,
                               on_recipe_step, d);
  } else if (sub == b + 1) {
    err = kiln_ib_get_image_recipe(d->client, r->arn, d->a, &d->recipe,
                                   on_recipe_step, d);
  } else if (sub == b + 2) {
    err = kiln_ib_delete_image_recipe(d->client, r->arn, on_recipe_step, d);
  } else {
    size_t c = sub - b - 3;
    while (c < d->recipe.component_count &&
           !own_component(d->recipe.components[c]))
      c = (d->sub = c + b + 4) - b - 3; /* skip it */
    if (c >= d->recipe.component_count)
      return false;
    d->sub = c + b + 4;
    err = kiln_ib_delete_component(d->client, d->recipe.components[c],
                                   on_recipe_step, d);
  }
  if (err != 0) {
    recipe_failed(d, "cannot start the call");
    return true;
  }
  return true;
}

/* ---- the sequence ------------------------------------------------------ */

static void next(struct kiln_gc_delete *d)
{
  while (d->phase == KILN_GC_ORPHANS && d->sub < d->n_orphans) {
    if (kiln_ec2_delete_snapshot(d->client, d->orphans[d->sub++], on_orphan,
                                 d) == 0)
      return;
    d->orphan_error = "cannot start DeleteSnapshot";
  }
  if (d->phase == KILN_GC_ORPHANS) {
    d->phase = KILN_GC_IMAGES;
    d->step = d->sub = 0;
  }
  for (; d->phase == KILN_GC_IMAGES && d->step < d->plan->n_images;
       d->step++, d->sub = 0)
    if (d->plan->images[d->step].delete && image_call(d))
      return;
  if (d->phase == KILN_GC_IMAGES) {
    d->phase = KILN_GC_VERSIONS;
    d->step = 0;
  }
  if (d->phase == KILN_GC_VERSIONS && versions_call(d))
    return;
  if (d->phase == KILN_GC_VERSIONS) {
    d->phase = KILN_GC_RECIPES;
    d->step = d->sub = 0;
  }
  for (; d->step < d->plan->n_recipes; d->step++, d->sub = 0)
    if (d->plan->recipes[d->step].delete && recipe_call(d))
      return;
  d->phase = KILN_GC_DONE;
  if (!d->starting)
    d->cb(d, d->data);
}

int kiln_gc_delete_start(struct kiln_gc_delete *d,
                         struct kiln_aws_client *client,
                         const struct kiln_gc_plan *plan,
                         const struct kiln_ec2_snapshots *marked,
                         const struct kiln_ec2_images *images,
                         struct kiln_arena *arena, kiln_gc_delete_cb *cb,
                         void *data)
{
  memset(d, 0, sizeof(*d));
  d->client = client;
  d->plan = plan;
  d->a = arena;
  d->cb = cb;
  d->data = data;
  d->image_errors =
      kiln_arena_alloc(arena, (plan->n_images + 1) * sizeof(char *));
  d->version_errors =
      kiln_arena_alloc(arena, (plan->n_versions + 1) * sizeof(char *));
  d->recipe_errors =
      kiln_arena_alloc(arena, (plan->n_recipes + 1) * sizeof(char *));
  if (d->image_errors == NULL || d->version_errors == NULL ||
      d->recipe_errors == NULL ||
      find_orphans(d, marked, images) != 0)
    return KILN_ENOMEM;
  d->starting = true;
  next(d);
  d->starting = false;
  /* Nothing needed a call: said here, not through cb. */
  return d->phase == KILN_GC_DONE ? KILN_ENOENT : 0;
}
