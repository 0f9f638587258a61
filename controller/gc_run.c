#include "gc_run.h"

#include "git_history.h"

#include "kiln/error.h"
#include "kiln/history.h"
#include "kiln/json_text.h"
#include "kiln/str.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Commits of first-parent history read: far more releases than any
 * retention keeps. */
#define HISTORY_LIMIT 20000

static void finish(struct kiln_gc_run *r)
{
  r->cb(r, r->data);
}

/* ---- deleting ---------------------------------------------------------- */

static void tally(struct kiln_gc_run *r)
{
  for (size_t l = 0; l < r->n; l++) {
    const struct kiln_gc_where *w = &r->w[l];
    r->failed |= w->error != NULL;
    for (size_t i = 0; w->deleting && i < w->plan.n_images; i++)
      if (w->del.image_errors[i] != NULL) {
        r->failed = true;
        r->freed_gib -= w->plan.images[i].gib;
      }
    for (size_t i = 0; w->deleting && i < w->plan.n_versions; i++)
      r->failed |= w->del.version_errors[i] != NULL;
    for (size_t i = 0; w->deleting && i < w->plan.n_recipes; i++)
      r->failed |= w->del.recipe_errors[i] != NULL;
  }
}

static void on_all_deleted(struct kiln_gc_run *r)
{
  tally(r);
  finish(r);
}

static void deleted_cb(struct kiln_gc_delete *d, void *data)
{
  struct kiln_gc_run *r = data;
  (void)d;
  if (--r->pending == 0)
    on_all_deleted(r);
}

/* ---- planning ---------------------------------------------------------- */

/* Every location's versions, so that each counts the same releases. */
static int all_versions(struct kiln_gc_run *r, struct kiln_gc_version **out,
                        size_t *n_out)
{
  size_t n = 0;
  for (size_t l = 0; l < r->n; l++)
    n += r->w[l].in.n_versions;
  *out = kiln_arena_alloc(&r->a, (n + 1) * sizeof(**out));
  if (*out == NULL)
    return KILN_ENOMEM;
  *n_out = 0;
  for (size_t l = 0; l < r->n; l++)
    for (size_t i = 0; i < r->w[l].in.n_versions; i++)
      (*out)[(*n_out)++] = r->w[l].in.versions[i];
  return 0;
}

static void plan_and_delete(struct kiln_gc_run *r)
{
  struct kiln_gc_version *other;
  size_t n_other;
  int64_t now = (int64_t)time(NULL);

  if (all_versions(r, &other, &n_other) != 0) {
    r->error = "out of memory";
    return finish(r);
  }
  r->pending = 1; /* held until every deletion has started */
  for (size_t l = 0; l < r->n; l++) {
    struct kiln_gc_where *w = &r->w[l];
    int err;
    if (w->error != NULL)
      continue;
    w->in.now_s = now;
    w->in.apps = r->apps;
    w->in.n_apps = r->n_apps;
    w->in.history = r->history;
    w->in.n_history = r->n_history;
    w->in.other_versions = other;
    w->in.n_other_versions = n_other;
    if (kiln_gc_plan(&w->in, &r->a, &w->plan) != 0) {
      w->error = "out of memory";
      continue;
    }
    r->freed_gib += w->plan.freed_gib;
    if (!r->delete)
      continue;
    w->deleting = true;
    err = kiln_gc_delete_start(&w->del, w->loc->client, &w->plan,
                               &w->look.marked, w->look.obs->images, &r->a,
                               deleted_cb, r);
    if (err == 0)
      r->pending++;
    else if (err != KILN_ENOENT)
      w->error = "out of memory";
  }
  if (--r->pending == 0)
    on_all_deleted(r);
}

/* ---- the history (thread pool) ------------------------------------------ */

static bool listed(const struct kiln_gc_app *apps, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(apps[i].name, name) == 0)
      return true;
  return false;
}

/* The apps whose images may be judged: the repository's (retention: the
 * largest of its targets'), and those its history had and a commit
 * removed. Images of any other kiln:app are never touched. */
static int collect_apps(struct kiln_gc_run *r, const char *repo_path)
{
  const struct kiln_spec_repo *repo = r->repo;
  size_t cap = repo->n_apps + 1, n = 0;
  struct kiln_gc_app *apps;

  for (size_t i = 0; i < r->n; i++)
    if (r->w[i].look.obs != NULL && r->w[i].look.obs->images != NULL)
      cap += r->w[i].look.obs->images->count;
  apps = kiln_arena_alloc(&r->a, cap * sizeof(*apps));
  if (apps == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < repo->n_apps; i++) {
    const struct kiln_app_spec *t = &repo->apps[i];
    const char *name = kiln_spec_app_name(t);
    struct kiln_gc_app *a = NULL;
    if (r->only_app != NULL && strcmp(name, r->only_app) != 0)
      continue;
    for (size_t j = 0; j < n; j++)
      if (strcmp(apps[j].name, name) == 0)
        a = &apps[j];
    if (a == NULL) {
      a = &apps[n++];
      *a = (struct kiln_gc_app){.name = name, .retention = t->retention};
    }
    /* An invalid app's retention is not known: keep everything of it. */
    if (!t->valid)
      a->retention = (struct kiln_retention_spec){1000, 3650};
    if (t->retention.releases > a->retention.releases)
      a->retention.releases = t->retention.releases;
    if (t->retention.min_age_days > a->retention.min_age_days)
      a->retention.min_age_days = t->retention.min_age_days;
    for (size_t l = 0; l < r->n; l++)
      a->busy |= r->w[l].look.obs != NULL &&
                 kiln_gc_look_busy(&r->w[l].look, name);
  }
  for (size_t l = 0; l < r->n; l++) {
    const struct kiln_ec2_images *im =
        r->w[l].look.obs != NULL ? r->w[l].look.obs->images : NULL;
    for (size_t i = 0; im != NULL && i < im->count; i++) {
      const char *app = kiln_aws_tag_value(im->images[i].tags,
                                           im->images[i].tag_count, "kiln:app");
      bool seen;
      int64_t at;
      if (app == NULL || listed(apps, n, app) ||
          (r->only_app != NULL && strcmp(app, r->only_app) != 0) ||
          kiln_git_app_removed_at(repo_path, r->history, r->n_history, app,
                                  &seen, &at) != 0 ||
          !seen)
        continue;
      apps[n++] = (struct kiln_gc_app){.name = app,
                                       .retention = repo->defaults.retention,
                                       .removed = true,
                                       .removed_at_s = at};
    }
  }
  r->apps = apps;
  r->n_apps = n;
  return 0;
}

static void history_work(uv_work_t *req)
{
  struct kiln_gc_run *r = req->data;
  const char *path = r->s->source.repo_path;
  int err = kiln_git_first_parents(path, r->commit, HISTORY_LIMIT, &r->a,
                                   &r->history, &r->n_history);
  if (err == 0)
    err = collect_apps(r, path);
  if (err != 0)
    r->error = kiln_arena_printf(&r->a, "cannot read the history of %.12s: %s",
                                 r->commit, kiln_strerror(err));
}

static void history_done(uv_work_t *req, int status)
{
  struct kiln_gc_run *r = req->data;
  if (status != 0 && r->error == NULL)
    r->error = "the read of the history was cancelled";
  if (r->error != NULL)
    return finish(r);
  plan_and_delete(r);
}

/* ---- looking ------------------------------------------------------------ */

static void looked(struct kiln_gc_run *r)
{
  for (size_t l = 0; l < r->n; l++) {
    struct kiln_gc_where *w = &r->w[l];
    if (w->error == NULL && w->look.err != 0)
      w->error = w->look.why;
    if (w->error == NULL && kiln_gc_look_inputs(&w->look, &r->a, &w->in) != 0)
      w->error = "out of memory";
  }
  r->work.data = r;
  if (uv_queue_work(&r->s->loop, &r->work, history_work, history_done) != 0) {
    r->error = "cannot queue the read of the history";
    finish(r);
  }
}

static void on_look(struct kiln_gc_look *look, void *data)
{
  struct kiln_gc_run *r = data;
  (void)look;
  if (--r->pending == 0)
    looked(r);
}

int kiln_gc_run_start(struct kiln_gc_run *run, struct kiln_session *s,
                      const char *only_app, bool delete, kiln_gc_run_cb *cb,
                      void *data)
{
  memset(run, 0, sizeof(*run));
  kiln_arena_init(&run->a, 0);
  run->s = s;
  run->only_app = only_app;
  run->delete = delete;
  run->cb = cb;
  run->data = data;
  run->repo = kiln_spec_repo_ref(s->repo);
  memcpy(run->commit, s->commit, sizeof(run->commit));
  run->n = s->n_locations;
  run->w = kiln_arena_alloc(&run->a, (run->n + 1) * sizeof(*run->w));
  if (run->w == NULL)
    return KILN_ENOMEM;
  run->pending = 1; /* held until every look has started */
  for (size_t l = 0; l < run->n; l++) {
    run->w[l].loc = &s->locations[l];
    if (kiln_gc_look_start(&run->w[l].look, run->w[l].loc->client,
                           run->w[l].loc->role_arn, run->repo, &run->a,
                           on_look, run) == 0)
      run->pending++;
    else
      run->w[l].error = "out of memory";
  }
  /* Every callback is asynchronous: with no location at all, the history
   * read on the pool answers. */
  if (--run->pending == 0)
    looked(run);
  return 0;
}

void kiln_gc_run_cleanup(struct kiln_gc_run *run)
{
  kiln_spec_repo_free(run->repo);
  run->repo = NULL;
  kiln_arena_cleanup(&run->a);
}

int kiln_gc_run_deletions(struct kiln_gc_run *r,
                          struct kiln_history_collection **items, size_t *n)
{
  size_t cap = 1;
  *n = 0;
  for (size_t l = 0; l < r->n; l++)
    for (size_t i = 0; r->w[l].deleting && i < r->w[l].plan.n_images; i++)
      cap += 1 + r->w[l].plan.images[i].image->n_snapshots;
  for (size_t l = 0; l < r->n; l++)
    cap += r->w[l].plan.n_versions + r->w[l].plan.n_recipes;
  *items = kiln_arena_alloc(&r->a, cap * sizeof(**items));
  if (*items == NULL)
    return KILN_ENOMEM;
  for (size_t l = 0; l < r->n; l++) {
    const struct kiln_gc_where *w = &r->w[l];
    const char *region = w->loc->config.region, *role = w->loc->role_arn;
    for (size_t i = 0; w->deleting && i < w->plan.n_images; i++) {
      const struct kiln_gc_image_verdict *v = &w->plan.images[i];
      if (!v->delete || w->del.image_errors[i] != NULL)
        continue;
      (*items)[(*n)++] = (struct kiln_history_collection){
          region, role, "image", v->image->image_id, v->image->app, v->why};
      for (size_t s = 0; s < v->image->n_snapshots; s++)
        (*items)[(*n)++] = (struct kiln_history_collection){
            region, role, "snapshot", v->image->snapshots[s], v->image->app,
            v->image->image_id};
    }
    for (size_t i = 0; w->deleting && i < w->plan.n_versions; i++) {
      const struct kiln_gc_version_verdict *v = &w->plan.versions[i];
      const char *id;
      if (!v->delete || w->del.version_errors[i] != NULL)
        continue;
      id = kiln_arena_printf(&r->a, "%s/%lld", v->version->template_id,
                             (long long)v->version->version);
      if (id == NULL)
        return KILN_ENOMEM;
      (*items)[(*n)++] = (struct kiln_history_collection){
          region, role, "launch-template-version", id, v->version->app, v->why};
    }
    for (size_t i = 0; w->deleting && i < w->plan.n_recipes; i++) {
      const struct kiln_gc_recipe_verdict *v = &w->plan.recipes[i];
      if (v->delete && w->del.recipe_errors[i] == NULL)
        (*items)[(*n)++] = (struct kiln_history_collection){
            region, role, "image-recipe", v->recipe->arn, v->recipe->app,
            v->why};
    }
  }
  return 0;
}

/* ---- the report --------------------------------------------------------- */

static const char *image_state(const struct kiln_gc_run *r,
                               const struct kiln_gc_where *w, size_t i)
{
  const char *err = w->deleting ? w->del.image_errors[i] : NULL;
  if (!w->plan.images[i].delete)
    return "keep";
  return err != NULL ? "FAILED" : r->delete ? "deleted" : "delete";
}

int kiln_gc_report_text(const struct kiln_gc_run *r, struct kiln_buf *b)
{
  kiln_buf_printf(b, "kiln gc: at commit %.12s%s\n", r->commit,
                  r->delete ? "" : " (a report: --delete deletes)");
  if (r->error != NULL)
    return kiln_buf_printf(b, "error: %s; nothing is deleted\n", r->error);
  for (size_t l = 0; l < r->n; l++) {
    const struct kiln_gc_where *w = &r->w[l];
    kiln_buf_printf(b, "\n%s%s%s:\n", w->loc->config.region,
                    w->loc->role_arn != NULL ? ", account of " : "",
                    w->loc->role_arn != NULL ? w->loc->role_arn : "");
    if (w->error != NULL) {
      kiln_buf_printf(b, "  error: %s; nothing is deleted here\n", w->error);
      continue;
    }
    if (w->plan.n_images == 0)
      kiln_buf_printf(b, "  no images of this repository's apps\n");
    for (size_t i = 0; i < w->plan.n_images; i++) {
      const struct kiln_gc_image_verdict *v = &w->plan.images[i];
      const char *err = w->deleting ? w->del.image_errors[i] : NULL;
      kiln_buf_printf(b, "  %-8s %s  %-12s %.12s  %3lld GiB  %s%s%s\n",
                      image_state(r, w, i), v->image->image_id, v->image->app,
                      v->image->digest, (long long)v->gib, v->why,
                      err != NULL ? ": " : "", err != NULL ? err : "");
    }
    for (size_t i = 0; i < w->plan.n_versions; i++) {
      const struct kiln_gc_version_verdict *v = &w->plan.versions[i];
      const char *err = w->deleting ? w->del.version_errors[i] : NULL;
      if (!v->delete)
        continue;
      kiln_buf_printf(b, "  %-8s launch template %s version %lld  %s%s%s\n",
                      err != NULL ? "FAILED" : r->delete ? "deleted" : "delete",
                      v->version->template_name, (long long)v->version->version,
                      v->why, err != NULL ? ": " : "", err != NULL ? err : "");
    }
    for (size_t i = 0; i < w->plan.n_recipes; i++) {
      const struct kiln_gc_recipe_verdict *v = &w->plan.recipes[i];
      const char *err = w->deleting ? w->del.recipe_errors[i] : NULL;
      if (!v->delete)
        continue;
      kiln_buf_printf(b, "  %-8s image recipe %s/%s  %s%s%s\n",
                      err != NULL ? "FAILED" : r->delete ? "deleted" : "delete",
                      v->recipe->app, v->recipe->version, v->why,
                      err != NULL ? ": " : "", err != NULL ? err : "");
    }
    if (w->deleting && (w->del.builds_deleted > 0 ||
                        w->del.components_deleted > 0))
      kiln_buf_printf(b, "  with them %zu image build version(s) and %zu "
                         "component(s) no other recipe used\n",
                      w->del.builds_deleted, w->del.components_deleted);
    if (w->deleting && w->del.orphans_deleted > 0)
      kiln_buf_printf(b, "  deleted %zu snapshot(s) an earlier collection "
                         "left behind\n",
                      w->del.orphans_deleted);
  }
  return kiln_buf_printf(
      b,
      "\n%s %lld GiB of snapshots (about $%.2f a month at the standard EBS "
      "snapshot price of $%.2f per GB-month: an estimate).\n",
      r->delete ? "Freed" : "Would free", (long long)r->freed_gib,
      (double)r->freed_gib * KILN_GC_SNAPSHOT_USD_PER_GB_MONTH,
      KILN_GC_SNAPSHOT_USD_PER_GB_MONTH);
}

static void add_where(json_object *o, const struct kiln_gc_where *w)
{
  json_object_object_add(o, "region", kiln_json_string(w->loc->config.region));
  json_object_object_add(o, "role_arn", kiln_json_string(w->loc->role_arn));
}

static json_object *image_json(const struct kiln_gc_where *w, size_t i)
{
  const struct kiln_gc_image_verdict *v = &w->plan.images[i];
  json_object *o = json_object_new_object(), *snaps = json_object_new_array();
  for (size_t s = 0; s < v->image->n_snapshots; s++)
    json_object_array_add(snaps, kiln_json_string(v->image->snapshots[s]));
  add_where(o, w);
  json_object_object_add(o, "image_id", kiln_json_string(v->image->image_id));
  json_object_object_add(o, "app", kiln_json_string(v->image->app));
  json_object_object_add(o, "digest", kiln_json_string(v->image->digest));
  json_object_object_add(o, "action",
                         kiln_json_string(v->delete ? "delete" : "keep"));
  json_object_object_add(o, "reason", kiln_json_string(v->why));
  json_object_object_add(o, "snapshots", snaps);
  json_object_object_add(o, "gib", json_object_new_int64(v->gib));
  json_object_object_add(
      o, "error", kiln_json_string(w->deleting ? w->del.image_errors[i] : NULL));
  return o;
}

static json_object *version_json(const struct kiln_gc_where *w, size_t i)
{
  const struct kiln_gc_version_verdict *v = &w->plan.versions[i];
  json_object *o = json_object_new_object();
  add_where(o, w);
  json_object_object_add(o, "launch_template",
                         kiln_json_string(v->version->template_name));
  json_object_object_add(o, "version",
                         json_object_new_int64(v->version->version));
  json_object_object_add(o, "action",
                         kiln_json_string(v->delete ? "delete" : "keep"));
  json_object_object_add(o, "reason", kiln_json_string(v->why));
  json_object_object_add(
      o, "error",
      kiln_json_string(w->deleting ? w->del.version_errors[i] : NULL));
  return o;
}

static json_object *recipe_json(const struct kiln_gc_where *w, size_t i)
{
  const struct kiln_gc_recipe_verdict *v = &w->plan.recipes[i];
  json_object *o = json_object_new_object();
  add_where(o, w);
  json_object_object_add(o, "arn", kiln_json_string(v->recipe->arn));
  json_object_object_add(o, "app", kiln_json_string(v->recipe->app));
  json_object_object_add(o, "action",
                         kiln_json_string(v->delete ? "delete" : "keep"));
  json_object_object_add(o, "reason", kiln_json_string(v->why));
  json_object_object_add(
      o, "error",
      kiln_json_string(w->deleting ? w->del.recipe_errors[i] : NULL));
  return o;
}

json_object *kiln_gc_report_json(const struct kiln_gc_run *r)
{
  json_object *root = json_object_new_object();
  json_object *recipes = json_object_new_array();
  json_object *images = json_object_new_array();
  json_object *versions = json_object_new_array();
  json_object *errors = json_object_new_array();
  if (r->error != NULL) {
    json_object *e = json_object_new_object();
    json_object_object_add(e, "error", kiln_json_string(r->error));
    json_object_array_add(errors, e);
  }
  for (size_t l = 0; r->error == NULL && l < r->n; l++) {
    const struct kiln_gc_where *w = &r->w[l];
    if (w->error != NULL) {
      json_object *e = json_object_new_object();
      add_where(e, w);
      json_object_object_add(e, "error", kiln_json_string(w->error));
      json_object_array_add(errors, e);
      continue;
    }
    for (size_t i = 0; i < w->plan.n_images; i++)
      json_object_array_add(images, image_json(w, i));
    for (size_t i = 0; i < w->plan.n_versions; i++)
      json_object_array_add(versions, version_json(w, i));
    for (size_t i = 0; i < w->plan.n_recipes; i++)
      json_object_array_add(recipes, recipe_json(w, i));
  }
  json_object_object_add(root, "commit", kiln_json_string(r->commit));
  json_object_object_add(root, "deleted", json_object_new_boolean(r->delete));
  json_object_object_add(root, "images", images);
  json_object_object_add(root, "launch_template_versions", versions);
  json_object_object_add(root, "image_recipes", recipes);
  json_object_object_add(root, "errors", errors);
  json_object_object_add(root, "freed_gib", json_object_new_int64(r->freed_gib));
  json_object_object_add(root, "estimated_monthly_usd",
                         json_object_new_double(
                             (double)r->freed_gib *
                             KILN_GC_SNAPSHOT_USD_PER_GB_MONTH));
  return root;
}
