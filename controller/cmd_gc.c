/* kiln gc --repo SRC [--ref REF] [--app NAME] [--delete]
 *         [--format text|json]
 * Collects the images git can no longer ask for (kiln/gc.h): reports what
 * goes and why the rest stays; with --delete, deletes it.
 */
#include "cli.h"
#include "git_history.h"
#include "session.h"

#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/gc.h"
#include "kiln/gc_delete.h"
#include "kiln/gc_look.h"
#include "kiln/json_text.h"
#include "kiln/str.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Commits of first-parent history read: far more releases than any
 * retention keeps. */
#define HISTORY_LIMIT 20000

static const char usage[] =
    "Usage: kiln gc --repo SRC [--ref REF] [--app NAME] [--delete]\n"
    "               [--format text|json]\n"
    "\n"
    "Collects Kiln's images that git can no longer ask for, in every region\n"
    "and account the repository's apps run in: each AMI (and its EBS\n"
    "snapshots) beyond the app's retention, and Kiln's launch template\n"
    "versions of images that go. Kept whatever the retention: an AMI a\n"
    "group or an instance uses, a template's default, anything of an app\n"
    "with a refresh in flight, a bake or copy in flight and its source, and\n"
    "every AMI that is not Kiln's for an app of this repository.\n"
    "\n"
    "retention (kiln.yaml, an app, an environment):\n"
    "  releases: 5      keep the images of the last 5 distinct digests\n"
    "                   released on the branch's first-parent history\n"
    "  minAgeDays: 7    never delete an image younger than this\n"
    "\n"
    "Options:\n"
    "  --repo SRC          the desired-state repository (path or git URL)\n"
    "  --ref REF           its branch, tag or commit (default: its HEAD)\n"
    "  --app NAME          only this app's images\n"
    "  --delete            delete; without it, only report\n"
    "  --format text|json  output format (default: text)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 done, 1 something could not be looked at or deleted\n"
    "(the rest was), 64 usage error.\n";

struct where {
  struct kiln_session_location *loc;
  struct kiln_gc_look look;
  struct kiln_gc_inputs in;
  struct kiln_gc_plan plan;
  struct kiln_gc_delete del;
  bool deleting;
  const char *error;
};

struct gc_run {
  struct kiln_session *s;
  struct kiln_arena a;
  struct where *w;
  size_t n;
  int pending;
  const char *only_app;
  bool delete;
  enum kiln_format format;
};

static void on_look(struct kiln_gc_look *look, void *data)
{
  struct gc_run *r = data;
  (void)look;
  r->pending--;
}

static void on_deleted(struct kiln_gc_delete *d, void *data)
{
  struct gc_run *r = data;
  (void)d;
  r->pending--;
}

static void run_until_done(struct gc_run *r)
{
  while (r->pending > 0 && uv_run(&r->s->loop, UV_RUN_ONCE) != 0)
    ;
}

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
static int collect_apps(struct gc_run *r, const char *const *history,
                        size_t n_history, struct kiln_gc_app **out,
                        size_t *n_out)
{
  const struct kiln_spec_repo *repo = r->s->repo;
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
      a->retention.releases = 1000, a->retention.min_age_days = 3650;
    if (t->retention.releases > a->retention.releases)
      a->retention.releases = t->retention.releases;
    if (t->retention.min_age_days > a->retention.min_age_days)
      a->retention.min_age_days = t->retention.min_age_days;
    for (size_t l = 0; l < r->n; l++)
      a->busy |= r->w[l].look.obs != NULL && kiln_gc_look_busy(&r->w[l].look, name);
  }
  for (size_t l = 0; l < r->n; l++) {
    const struct kiln_ec2_images *im =
        r->w[l].look.obs != NULL ? r->w[l].look.obs->images : NULL;
    for (size_t i = 0; im != NULL && i < im->count; i++) {
      const char *app = NULL;
      bool seen;
      int64_t at;
      for (size_t t = 0; t < im->images[i].tag_count; t++)
        if (strcmp(im->images[i].tags[t].key, "kiln:app") == 0)
          app = im->images[i].tags[t].value;
      if (app == NULL || listed(apps, n, app) ||
          (r->only_app != NULL && strcmp(app, r->only_app) != 0) ||
          kiln_git_app_removed_at(r->s->source.repo_path, history, n_history,
                                  app, &seen, &at) != 0 ||
          !seen)
        continue;
      apps[n++] = (struct kiln_gc_app){.name = app,
                                       .retention = repo->defaults.retention,
                                       .removed = true,
                                       .removed_at_s = at};
    }
  }
  *out = apps;
  *n_out = n;
  return 0;
}

/* Every location's versions, so that each counts the same releases. */
static int all_versions(struct gc_run *r, struct kiln_gc_version **out,
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

static const char *where_name(struct gc_run *r, const struct where *w)
{
  return w->loc->role_arn == NULL
             ? w->loc->config.region
             : kiln_arena_printf(&r->a, "%s (%s)", w->loc->config.region,
                                 w->loc->role_arn);
}

static void print_text(struct gc_run *r, int64_t freed)
{
  printf("kiln gc: %s at commit %.12s%s\n", r->s->source.display, r->s->commit,
         r->delete ? "" : " (a report: --delete deletes)");
  for (size_t l = 0; l < r->n; l++) {
    const struct where *w = &r->w[l];
    printf("\n%s:\n", where_name(r, w));
    if (w->error != NULL) {
      printf("  error: %s; nothing is deleted here\n", w->error);
      continue;
    }
    if (w->plan.n_images == 0 && w->plan.n_versions == 0)
      printf("  no images of this repository's apps\n");
    for (size_t i = 0; i < w->plan.n_images; i++) {
      const struct kiln_gc_image_verdict *v = &w->plan.images[i];
      const char *err = w->deleting ? w->del.image_errors[i] : NULL;
      printf("  %-8s %s  %-12s %.12s  %lld GiB  %s%s%s\n",
             !v->delete ? "keep" : err != NULL ? "FAILED" : r->delete ? "deleted" : "delete",
             v->image->image_id, v->image->app, v->image->digest,
             (long long)v->gib, v->why, err != NULL ? ": " : "",
             err != NULL ? err : "");
    }
    for (size_t i = 0; i < w->plan.n_versions; i++) {
      const struct kiln_gc_version_verdict *v = &w->plan.versions[i];
      const char *err = w->deleting ? w->del.version_errors[i] : NULL;
      if (!v->delete)
        continue;
      printf("  %-8s launch template %s version %lld  %s%s%s\n",
             err != NULL ? "FAILED" : r->delete ? "deleted" : "delete",
             v->version->template_name, (long long)v->version->version,
             v->why, err != NULL ? ": " : "", err != NULL ? err : "");
    }
    if (w->deleting && w->del.orphans_deleted > 0)
      printf("  finished %zu snapshot(s) an earlier collection left behind\n",
             w->del.orphans_deleted);
  }
  printf("\n%s %lld GiB of snapshots (about $%.2f a month at the standard "
         "EBS snapshot price of $%.2f per GB-month: an estimate).\n",
         r->delete ? "Freed" : "Would free", (long long)freed,
         (double)freed * KILN_GC_SNAPSHOT_USD_PER_GB_MONTH,
         KILN_GC_SNAPSHOT_USD_PER_GB_MONTH);
}

static json_object *json_report(struct gc_run *r, int64_t freed)
{
  json_object *root = json_object_new_object(), *images = json_object_new_array(),
              *versions = json_object_new_array(), *errors = json_object_new_array();
  for (size_t l = 0; l < r->n; l++) {
    const struct where *w = &r->w[l];
    if (w->error != NULL) {
      json_object *e = json_object_new_object();
      json_object_object_add(e, "region", kiln_json_string(w->loc->config.region));
      json_object_object_add(e, "role_arn", kiln_json_string(w->loc->role_arn));
      json_object_object_add(e, "error", kiln_json_string(w->error));
      json_object_array_add(errors, e);
      continue;
    }
    for (size_t i = 0; i < w->plan.n_images; i++) {
      const struct kiln_gc_image_verdict *v = &w->plan.images[i];
      json_object *o = json_object_new_object(), *snaps = json_object_new_array();
      for (size_t s = 0; s < v->image->n_snapshots; s++)
        json_object_array_add(snaps, kiln_json_string(v->image->snapshots[s]));
      json_object_object_add(o, "region", kiln_json_string(w->loc->config.region));
      json_object_object_add(o, "role_arn", kiln_json_string(w->loc->role_arn));
      json_object_object_add(o, "image_id", kiln_json_string(v->image->image_id));
      json_object_object_add(o, "app", kiln_json_string(v->image->app));
      json_object_object_add(o, "digest", kiln_json_string(v->image->digest));
      json_object_object_add(o, "action",
                             kiln_json_string(v->delete ? "delete" : "keep"));
      json_object_object_add(o, "reason", kiln_json_string(v->why));
      json_object_object_add(o, "snapshots", snaps);
      json_object_object_add(o, "gib", json_object_new_int64(v->gib));
      json_object_object_add(
          o, "error",
          kiln_json_string(w->deleting ? w->del.image_errors[i] : NULL));
      json_object_array_add(images, o);
    }
    for (size_t i = 0; i < w->plan.n_versions; i++) {
      const struct kiln_gc_version_verdict *v = &w->plan.versions[i];
      json_object *o = json_object_new_object();
      json_object_object_add(o, "region", kiln_json_string(w->loc->config.region));
      json_object_object_add(o, "role_arn", kiln_json_string(w->loc->role_arn));
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
      json_object_array_add(versions, o);
    }
  }
  json_object_object_add(root, "commit", kiln_json_string(r->s->commit));
  json_object_object_add(root, "deleted", json_object_new_boolean(r->delete));
  json_object_object_add(root, "images", images);
  json_object_object_add(root, "launch_template_versions", versions);
  json_object_object_add(root, "errors", errors);
  json_object_object_add(root, "freed_gib", json_object_new_int64(freed));
  json_object_object_add(
      root, "estimated_monthly_usd",
      json_object_new_double((double)freed * KILN_GC_SNAPSHOT_USD_PER_GB_MONTH));
  return root;
}

static int gc(struct gc_run *r)
{
  const char **history;
  size_t n_history, n_apps, n_other;
  struct kiln_gc_app *apps;
  struct kiln_gc_version *other;
  int64_t now = (int64_t)time(NULL), freed = 0;
  bool failed = false;
  int err;

  err = kiln_git_first_parents(r->s->source.repo_path, r->s->commit,
                               HISTORY_LIMIT, &r->a, &history, &n_history);
  if (err != 0) {
    fprintf(stderr, "kiln gc: cannot read the history of %.12s: %s\n",
            r->s->commit, kiln_strerror(err));
    return KILN_EXIT_FAILED;
  }
  r->n = r->s->n_locations;
  r->w = kiln_arena_alloc(&r->a, (r->n + 1) * sizeof(*r->w));
  if (r->w == NULL)
    return KILN_EXIT_FAILED;
  for (size_t l = 0; l < r->n; l++) {
    r->w[l].loc = &r->s->locations[l];
    if (kiln_gc_look_start(&r->w[l].look, r->w[l].loc->client,
                           r->w[l].loc->role_arn, r->s->repo, &r->a, on_look,
                           r) == 0)
      r->pending++;
    else
      r->w[l].error = "out of memory";
  }
  run_until_done(r);
  for (size_t l = 0; l < r->n; l++) {
    struct where *w = &r->w[l];
    if (w->error == NULL && w->look.err != 0)
      w->error = w->look.why;
    if (w->error == NULL && kiln_gc_look_inputs(&w->look, &r->a, &w->in) != 0)
      w->error = "out of memory";
  }
  if (collect_apps(r, history, n_history, &apps, &n_apps) != 0 ||
      all_versions(r, &other, &n_other) != 0)
    return KILN_EXIT_FAILED;
  for (size_t l = 0; l < r->n; l++) {
    struct where *w = &r->w[l];
    if (w->error != NULL) {
      failed = true;
      continue;
    }
    w->in.now_s = now;
    w->in.apps = apps;
    w->in.n_apps = n_apps;
    w->in.history = history;
    w->in.n_history = n_history;
    w->in.other_versions = other;
    w->in.n_other_versions = n_other;
    if (kiln_gc_plan(&w->in, &r->a, &w->plan) != 0) {
      w->error = "out of memory";
      failed = true;
      continue;
    }
    freed += w->plan.freed_gib;
    if (!r->delete)
      continue;
    w->deleting = true;
    err = kiln_gc_delete_start(&w->del, w->loc->client, &w->plan,
                               &w->look.marked, w->look.obs->images, &r->a,
                               on_deleted, r);
    if (err == 0)
      r->pending++;
    else if (err != KILN_ENOENT)
      w->error = "out of memory";
  }
  run_until_done(r);
  for (size_t l = 0; l < r->n && r->delete; l++) {
    const struct where *w = &r->w[l];
    for (size_t i = 0; w->deleting && i < w->plan.n_images; i++)
      if (w->del.image_errors[i] != NULL) {
        failed = true;
        freed -= w->plan.images[i].gib;
      }
    for (size_t i = 0; w->deleting && i < w->plan.n_versions; i++)
      failed |= w->del.version_errors[i] != NULL;
  }
  if (r->format == KILN_FORMAT_JSON) {
    json_object *doc = json_report(r, freed);
    printf("%s\n", json_object_to_json_string_ext(
                       doc, JSON_C_TO_STRING_PRETTY |
                                JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(doc);
  } else {
    print_text(r, freed);
  }
  return failed ? KILN_EXIT_FAILED : KILN_EXIT_OK;
}

int kiln_cmd_gc(int argc, char **argv)
{
  static const struct option opts[] = {{"repo", required_argument, NULL, 'R'},
                                       {"ref", required_argument, NULL, 'r'},
                                       {"app", required_argument, NULL, 'a'},
                                       {"delete", no_argument, NULL, 'd'},
                                       {"format", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct gc_run r = {.format = KILN_FORMAT_TEXT};
  const char *src = NULL, *ref = NULL;
  struct kiln_session s;
  int c, rc = KILN_EXIT_FAILED;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'R':
      src = optarg;
      break;
    case 'r':
      ref = optarg;
      break;
    case 'a':
      r.only_app = optarg;
      break;
    case 'd':
      r.delete = true;
      break;
    case 'f':
      if (!kiln_cli_parse_format("gc", optarg, &r.format))
        return KILN_EXIT_USAGE;
      break;
    case 'h':
      fputs(usage, stdout);
      return KILN_EXIT_OK;
    default:
      return kiln_cli_usage_error("gc", "unknown option");
    }
  }
  if (optind < argc)
    return kiln_cli_usage_error("gc", "unexpected argument '%s'", argv[optind]);
  if (src == NULL)
    return kiln_cli_usage_error("gc", "--repo SRC is required");
  kiln_arena_init(&r.a, 0);
  if (kiln_session_open(&s, "gc", src, ref, r.only_app, NULL) == 0) {
    r.s = &s;
    rc = gc(&r);
  }
  kiln_session_close(&s);
  kiln_arena_cleanup(&r.a);
  return rc;
}
