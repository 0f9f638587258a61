/* The history store: releases and drift observations, in SQLite under a
 * state directory (history.db).
 *
 * A release is one commit (and image digest) of one app on its way to AWS:
 * it starts when Kiln first sees the change pending, learns its AMI, launch
 * template version and instance refresh as steps succeed, and ends
 * succeeded, failed or superseded (a newer commit of the same app started).
 * Drift is stored as changes only: a field whose drift is the same as at
 * its last observation is not written again, and a field whose drift went
 * away gets one "cleared" row.
 *
 * Durability: WAL with synchronous=FULL, so a call that returned 0 has
 * reached the disk (a completed release survives kill -9 and power loss).
 * Every statement is prepared once with bound parameters.
 *
 * Threads: every call does blocking file I/O (and fsync). The daemon calls
 * the store from the uv thread pool, one work request at a time per
 * handle; a handle is never used by two threads at once. Several processes
 * may open the same directory (SQLite locks, busy timeout 5 s).
 *
 * Time: every time is passed in as unix milliseconds (> 0); the store never
 * reads a clock.
 */
#ifndef KILN_HISTORY_H
#define KILN_HISTORY_H

#include <stddef.h>
#include <stdint.h>

struct kiln_arena;
struct kiln_pass_app;
struct kiln_history;

/* The schema version this Kiln writes (PRAGMA user_version). */
#define KILN_HISTORY_SCHEMA_VERSION 3

/* Room for the message of a failed kiln_history_open(). */
#define KILN_HISTORY_ERRMAX 512

enum kiln_history_outcome {
  KILN_HISTORY_IN_PROGRESS,
  KILN_HISTORY_SUCCEEDED,
  KILN_HISTORY_FAILED,
  KILN_HISTORY_SUPERSEDED,
  KILN_HISTORY_DEGRADED, /* AWS's rollback of it failed: needs a person */
};

/* A release as stored. Its one JSON form is kiln_history_release_json()
 * (kiln/history_json.h). */
struct kiln_history_release {
  int64_t id;
  const char *app;
  const char *commit;
  const char *digest;
  const char *ami;        /* NULL: not known yet */
  int64_t lt_version;     /* launch template version; 0: not known yet */
  const char *refresh_id; /* NULL: no instance refresh (yet) */
  int64_t started_at_ms;
  int64_t ended_at_ms; /* 0: in progress */
  enum kiln_history_outcome outcome;
  const char *reason; /* NULL: none */
};

/* One drifting field, as the planner reports it. cause: "commit" or
 * "out-of-band". */
struct kiln_history_drift {
  const char *field;
  const char *desired;
  const char *actual;
  const char *cause;
};

/* Every drifting field of one app observed in a pass (n 0: in sync). */
struct kiln_history_app_drift {
  const char *app;
  const char *commit;
  const struct kiln_history_drift *drift;
  size_t n;
};

/* A stored drift row. cause "cleared" (desired and actual NULL) marks the
 * observation where the field stopped drifting. */
struct kiln_history_drift_row {
  int64_t id;
  const char *app;
  const char *commit;
  int64_t observed_at_ms;
  const char *field;
  const char *desired;
  const char *actual;
  const char *cause;
};

/* Opens (creating when missing) state_dir (mode 0700) and
 * state_dir/history.db, and brings its schema up to
 * KILN_HISTORY_SCHEMA_VERSION in a transaction. A file that is not a
 * database, is corrupt, belongs to another program or was written by a
 * newer Kiln is never touched: the call fails and err (err_size bytes, may
 * be NULL) says which file and what to do. Returns 0 with *out set (free it
 * with kiln_history_close()), or KILN_EPARSE (not a database, corrupt,
 * foreign), KILN_EUNSUPPORTED (newer schema), KILN_EIO, KILN_EPERM,
 * KILN_EAGAIN (locked), KILN_ENOMEM, KILN_ETOOBIG (path too long). */
int kiln_history_open(const char *state_dir, struct kiln_history **out,
                      char *err, size_t err_size);

/* Closes the database and frees h. NULL is fine. */
void kiln_history_close(struct kiln_history *h);

/* The database file's path; owned by h. */
const char *kiln_history_path(const struct kiln_history *h);

/* A sentence about the last failed call on h (naming the file); owned by
 * h, valid until the next call. */
const char *kiln_history_errmsg(const struct kiln_history *h);

/* Static name of an outcome: "in-progress", "succeeded", "failed",
 * "superseded". */
const char *kiln_history_outcome_name(enum kiln_history_outcome o);

/* Records that the release of commit (image digest) of app started at
 * now_ms, and sets *id. Idempotent: while a release of the same app, commit
 * and digest is in progress, its id is returned and nothing is written.
 * Any other release of app still in progress ends 'superseded'. Returns 0
 * or a KILN_E... code. */
int kiln_history_release_start(struct kiln_history *h, const char *app,
                               const char *commit, const char *digest,
                               int64_t now_ms, int64_t *id);

/* Sets what a release has learned; NULL (or 0) leaves a field as it is. */
struct kiln_history_release_update {
  const char *ami;
  int64_t lt_version;
  const char *refresh_id;
};

/* Updates release id (in progress or not). Returns 0, KILN_ENOENT or a
 * KILN_E... code. */
int kiln_history_release_update(struct kiln_history *h, int64_t id,
                                const struct kiln_history_release_update *u);

/* Ends release id with outcome (not IN_PROGRESS) and reason (may be NULL)
 * at now_ms. Returns 0, KILN_ENOENT (no such release in progress: it has
 * ended already) or a KILN_E... code. */
int kiln_history_release_end(struct kiln_history *h, int64_t id,
                             enum kiln_history_outcome outcome,
                             const char *reason, int64_t now_ms);

/* Records the drift of the apps observed in one pass, in one transaction:
 * per app and field, a row when the drift differs from the field's last
 * row, and a "cleared" row for a field that drifted and no longer does.
 * *written (may be NULL) is the number of rows written. */
int kiln_history_drift_record(struct kiln_history *h,
                              const struct kiln_history_app_drift *apps,
                              size_t n, int64_t now_ms, size_t *written);

/* What a garbage collection deleted: kind "image", "snapshot",
 * "launch-template-version" or "image-recipe" (with its image build
 * versions and the components only it used); resource "ami-...",
 * "snap-...", "lt-.../3", the recipe's ARN. */
struct kiln_history_collection {
  const char *region;
  const char *role_arn; /* NULL: Kiln's own account */
  const char *kind;
  const char *resource;
  const char *app; /* may be NULL */
  const char *reason;
};

/* Records the deletions of one collection at now_ms, in one transaction.
 * Returns 0 or a KILN_E... code. */
int kiln_history_record_collection(struct kiln_history *h,
                                   const struct kiln_history_collection *items,
                                   size_t n, int64_t now_ms);

/* How many deletions are recorded (all collections). */
int kiln_history_collections_count(struct kiln_history *h, int64_t *count);

/* Releases of app (NULL: every app), newest first, at most limit (0: no
 * limit). The array and its strings live in arena. */
int kiln_history_releases(struct kiln_history *h, const char *app, size_t limit,
                          struct kiln_arena *arena,
                          struct kiln_history_release **out, size_t *n);

/* The newest release of app, whatever its outcome. Returns 0, KILN_ENOENT
 * (none) or a KILN_E... code; strings live in arena. */
int kiln_history_release_latest(struct kiln_history *h, const char *app,
                                struct kiln_arena *arena,
                                struct kiln_history_release *out);

/* The newest succeeded release of app: what it should be running. Returns
 * 0, KILN_ENOENT (none) or a KILN_E... code. */
int kiln_history_release_current(struct kiln_history *h, const char *app,
                                 struct kiln_arena *arena,
                                 struct kiln_history_release *out);

/* The newest release of every app, sorted by app. */
int kiln_history_release_latest_all(struct kiln_history *h,
                                    struct kiln_arena *arena,
                                    struct kiln_history_release **out,
                                    size_t *n);

/* Drift rows of app (NULL: every app), newest first, at most limit (0: no
 * limit). */
int kiln_history_drift_list(struct kiln_history *h, const char *app,
                            size_t limit, struct kiln_arena *arena,
                            struct kiln_history_drift_row **out, size_t *n);

/* Records one reconcile pass at commit (the results of kiln_pass_start()
 * or kiln_session_pass()), in one transaction: per app, a release starts
 * when the app is pending or progressing on a commit and image digest not
 * yet released (report-only apps excepted); it learns the AMI, launch
 * template version and refresh id from the steps the plans name; it ends
 * succeeded when the app is in sync (superseded when it is in sync on
 * another release), failed with the planner's message when the app is in
 * error. Then every app's drift is recorded as kiln_history_drift_record()
 * does. What `kiln apply` and the daemon call after each pass. */
int kiln_history_record_pass(struct kiln_history *h, const char *commit,
                             const struct kiln_pass_app *apps, size_t n,
                             int64_t now_ms);

#endif
