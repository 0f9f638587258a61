/* kiln run --gc-interval: garbage collection in the daemon. After a pass,
 * once the interval has passed since the last collection began, a
 * collection runs over the session's locations with the daemon's own
 * (paced) clients, deleting (controller/gc_run.c); what it deleted is
 * logged one line each, recorded in the history store and counted in
 * /metrics. A stop waits for a collection in flight. */
#include "daemon_internal.h"

#include "history_writer.h"
#include "log.h"

#include "kiln/error.h"
#include "kiln/history.h"

#include <stdlib.h>
#include <string.h>

static void count(struct kiln__daemon *d, const struct kiln_gc_run *run)
{
  struct kiln__gc_stats *st = &d->gc_stats;
  run->error != NULL || run->failed ? st->runs_failed++ : st->runs_ok++;
  for (size_t l = 0; l < run->n; l++) {
    const struct kiln_gc_where *w = &run->w[l];
    for (size_t i = 0; w->deleting && i < w->plan.n_images; i++)
      if (w->plan.images[i].delete && w->del.image_errors[i] == NULL) {
        st->images++;
        st->snapshots += w->plan.images[i].image->n_snapshots;
      }
    for (size_t i = 0; w->deleting && i < w->plan.n_versions; i++)
      st->versions +=
          w->plan.versions[i].delete && w->del.version_errors[i] == NULL;
  }
  if (run->freed_gib > 0)
    st->freed_gib += (uint64_t)run->freed_gib;
}

static void log_run(const struct kiln_gc_run *run)
{
  size_t deleted = 0;
  for (size_t l = 0; l < run->n; l++) {
    const struct kiln_gc_where *w = &run->w[l];
    if (w->error != NULL)
      kiln_log("warn", NULL, run->commit,
               "gc: %s%s%s not collected: %s", w->loc->config.region,
               w->loc->role_arn != NULL ? ", account of " : "",
               w->loc->role_arn != NULL ? w->loc->role_arn : "", w->error);
    for (size_t i = 0; w->deleting && i < w->plan.n_images; i++) {
      const struct kiln_gc_image_verdict *v = &w->plan.images[i];
      if (!v->delete)
        continue;
      if (w->del.image_errors[i] != NULL) {
        kiln_log("warn", v->image->app, run->commit,
                 "gc: could not delete AMI %s in %s: %s", v->image->image_id,
                 w->loc->config.region, w->del.image_errors[i]);
        continue;
      }
      deleted++;
      kiln_log("info", v->image->app, run->commit,
               "gc: deleted AMI %s and its %zu snapshot(s) in %s (%lld GiB): "
               "%s",
               v->image->image_id, v->image->n_snapshots,
               w->loc->config.region, (long long)v->gib, v->why);
    }
    for (size_t i = 0; w->deleting && i < w->plan.n_versions; i++) {
      const struct kiln_gc_version_verdict *v = &w->plan.versions[i];
      if (v->delete && w->del.version_errors[i] == NULL)
        kiln_log("info", v->version->app, run->commit,
                 "gc: deleted launch template %s version %lld in %s: %s",
                 v->version->template_name, (long long)v->version->version,
                 w->loc->config.region, v->why);
    }
  }
  if (run->error != NULL)
    kiln_log("warn", NULL, run->commit, "gc: not collected: %s", run->error);
  else
    kiln_log("info", NULL, run->commit,
             "gc: collected %zu image(s), %lld GiB of snapshots freed%s",
             deleted, (long long)run->freed_gib,
             run->failed ? "; some could not be (see above)" : "");
}

static void finished(struct kiln__daemon *d)
{
  kiln_gc_run_cleanup(d->gc);
  free(d->gc);
  d->gc = NULL;
  if (d->stopping)
    kiln__daemon_stop_if_idle(d);
}

static void recorded(int err, const char *why, struct kiln_proofs *proofs,
                     void *data)
{
  struct kiln__daemon *d = data;
  (void)proofs;
  if (err != 0)
    kiln_log("warn", NULL, d->gc->commit, "gc: deletions not recorded: %s",
             why);
  finished(d);
}

static void collected(struct kiln_gc_run *run, void *data)
{
  struct kiln__daemon *d = data;
  struct kiln_history_collection *items;
  uv_timeval64_t now;
  size_t n;

  count(d, run);
  log_run(run);
  if (d->history != NULL && kiln_gc_run_deletions(run, &items, &n) == 0 &&
      n > 0 && uv_gettimeofday(&now) == 0 &&
      kiln_history_writer_submit_collection(
          &d->writer, items, n, now.tv_sec * 1000 + now.tv_usec / 1000,
          recorded, d) == 0)
    return; /* the run lives until its record is written */
  finished(d);
}

void kiln__daemon_gc_after_pass(struct kiln__daemon *d)
{
  uint64_t now = uv_now(&d->s.loop);
  if (d->opts.gc_interval_ms == 0 || d->gc != NULL || d->stopping ||
      d->s.repo == NULL ||
      (d->gc_started_ms != 0 && now - d->gc_started_ms < d->opts.gc_interval_ms))
    return;
  d->gc = calloc(1, sizeof(*d->gc));
  if (d->gc == NULL)
    return;
  d->gc_started_ms = now;
  if (kiln_gc_run_start(d->gc, &d->s, NULL, true, collected, d) != 0) {
    kiln_log("error", NULL, d->s.commit, "gc: cannot start: out of memory");
    kiln_gc_run_cleanup(d->gc);
    free(d->gc);
    d->gc = NULL;
  }
}
