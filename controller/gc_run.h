/* One garbage collection over every location of a session, on its loop:
 * look at each location (kiln/gc_look.h), read the branch's first-parent
 * history and the apps it removed (libgit2, on the thread pool), plan each
 * location (kiln/gc.h) and, when deleting, delete (kiln/gc_delete.h).
 * What `kiln gc` prints and what `kiln run --gc-interval` logs. */
#ifndef KILN_CONTROLLER_GC_RUN_H
#define KILN_CONTROLLER_GC_RUN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <uv.h>

#include "kiln/arena.h"
#include "kiln/buf.h"
#include "kiln/gc.h"
#include "kiln/gc_delete.h"
#include "kiln/gc_look.h"
#include "session.h"

struct kiln_gc_where {
  struct kiln_session_location *loc;
  struct kiln_gc_look look;
  struct kiln_gc_inputs in;
  struct kiln_gc_plan plan;
  struct kiln_gc_delete del;
  bool deleting;
  const char *error; /* the location could not be looked at or planned */
};

struct kiln_gc_run;
typedef void kiln_gc_run_cb(struct kiln_gc_run *run, void *data);

struct kiln_gc_run {
  struct kiln_session *s;
  const char *only_app; /* NULL: every app */
  bool delete;
  struct kiln_arena a; /* everything of the run */
  struct kiln_spec_repo *repo; /* the snapshot it judged (a reference) */
  char commit[41];
  struct kiln_gc_where *w;
  size_t n;
  int64_t freed_gib;   /* freed (deleting) or that would be */
  bool failed;         /* something could not be looked at or deleted */
  const char *error;   /* the run could not happen at all */
  /* internal */
  int pending;
  uv_work_t work;
  const char **history;
  size_t n_history;
  struct kiln_gc_app *apps;
  size_t n_apps;
  kiln_gc_run_cb *cb;
  void *data;
};

/* Starts a collection over s's current snapshot and locations. cb runs
 * once on the loop, never before this returns; then the caller reads the
 * run and releases it with kiln_gc_run_cleanup(). Returns 0 or
 * KILN_ENOMEM. */
int kiln_gc_run_start(struct kiln_gc_run *run, struct kiln_session *s,
                      const char *only_app, bool delete, kiln_gc_run_cb *cb,
                      void *data);

void kiln_gc_run_cleanup(struct kiln_gc_run *run);

/* What the run deleted, as the history store records it (arena of the
 * run). Returns 0 or KILN_ENOMEM. */
struct kiln_history_collection;
int kiln_gc_run_deletions(struct kiln_gc_run *run,
                          struct kiln_history_collection **items, size_t *n);

/* The report: text for people (how it ended, when deleting), or JSON
 * {commit, deleted, images[], launch_template_versions[], image_recipes[],
 * errors[], freed_gib, estimated_monthly_usd}. */
int kiln_gc_report_text(const struct kiln_gc_run *run, struct kiln_buf *out);
json_object *kiln_gc_report_json(const struct kiln_gc_run *run);

#endif
