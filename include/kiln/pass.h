/* One reconcile pass over the valid targets of a snapshot, in every
 * location (region and account) they run in: observe each location
 * (batched, all at once), plan each target (pure) on its own location's
 * observation and, for an image baked elsewhere or a promotion, on its
 * home's or its source's, and, when applying, take each target's one step
 * in parallel with its location's client. A location that cannot be
 * observed makes its targets errors with its reason; the others go on.
 * Level-triggered: a pass keeps nothing from the previous one except the
 * bakes it started.
 *
 * One step per app per pass, with one exception: a launch template step
 * that lands is followed at once by the group's step it leads to (create,
 * update, start or cancel a refresh, record its kiln:version), planned on
 * the observation as AWS's answer changed it and on a fresh look at the
 * group's refresh. Each group moves as soon as its own template is ready.
 *
 * Runs on the loop; the callback runs once, never before kiln_pass_start()
 * returns.
 */
#ifndef KILN_PASS_H
#define KILN_PASS_H

#include <stdbool.h>

#include "kiln/observe.h"
#include "kiln/plan.h"

struct kiln_aws_client;
struct kiln_arena;

/* The spec of app at an older commit (for telling commit drift from
 * out-of-band drift): *known false when it is not at hand yet; NULL with
 * *known true when the app was not in that commit or the commit cannot be
 * read (drift is then blamed on git). */
typedef const struct kiln_app_spec *
kiln_pass_prev_fn(void *arg, const char *commit, const char *app, bool *known);

/* Reads what prev is missing, off the loop: wants[i] = (commit, app),
 * strings borrowed for the call only. done(done_data) runs on the loop
 * afterwards, never before this returns. Returns 0, or an error and done
 * never runs (the pass then plans without them). */
typedef void kiln_pass_prev_loaded_fn(void *done_data);
typedef int kiln_pass_prev_load_fn(void *arg, const char *const *commits,
                                   const char *const *apps, size_t n,
                                   kiln_pass_prev_loaded_fn *done,
                                   void *done_data);

/* History's proof of (target, digest) for a promotion gate, or NULL
 * (kiln/proofs.h); read when the gate is judged, on the loop. */
struct kiln_proof;
typedef const struct kiln_proof *kiln_pass_proof_fn(void *arg,
                                                   const char *target,
                                                   const char *digest);

/* May app take a step in this pass? false: it is planned and reported,
 * and its step waits (the daemon's per-app backoff). */
typedef bool kiln_pass_gate_fn(void *arg, const char *app);

/* Where targets run: a region of an account, with its client. */
struct kiln_pass_location {
  struct kiln_aws_client *client;
  const char *region;
  const char *role_arn; /* the account's role; NULL: Kiln's own account */
  struct kiln_observe_memory *memory; /* kept between passes; NULL: none */
};

struct kiln_pass_options {
  /* Every location the selected targets, their images' homes and their
   * promotions' sources run in (at least one). */
  const struct kiln_pass_location *locations;
  size_t n_locations;
  const struct kiln_spec_repo *repo;
  const char *commit;
  const char *only_app;    /* NULL: every valid app */
  const char *only_env;    /* NULL: every environment */
  bool apply;              /* false: observe and plan only */
  kiln_pass_prev_fn *prev; /* NULL: causes blamed on git */
  kiln_pass_prev_load_fn *prev_load; /* NULL: prev has all it has */
  void *prev_arg;
  struct kiln_bakes *bakes;
  kiln_pass_gate_fn *gate; /* NULL: every app may act */
  void *gate_arg;
  kiln_pass_proof_fn *proof; /* NULL: gates judged from AWS alone */
  void *proof_arg;
};

struct kiln_pass_app {
  const struct kiln_app_spec *spec;
  struct kiln_plan plan;
  bool executed;                  /* a step was attempted */
  int exec_err;                   /* its outcome */
  const char *outcome;            /* what was done or why it failed */
  int64_t made_lt_version;        /* the step made this version default */
  const char *started_refresh_id; /* the step started this refresh */
  /* The group's step that followed a launch template step at once (see
   * above), or KILN_ACTION_NONE, and its error. exec_err is the first
   * step's: a follow-on that fails (say, AWS not yet seeing the new
   * version) is simply taken again by the next pass, so it is not held
   * against the app. outcome tells both. */
  enum kiln_action_type followed_by;
  int follow_err;
};

struct kiln_pass_result {
  struct kiln_pass_app *apps; /* the valid selected targets, repo order */
  size_t n;
  /* No location could be observed: nothing was planned. */
  const char *error;
};

typedef void kiln_pass_cb(int err, struct kiln_pass_result *result, void *data);

/* Everything lives in arena until the caller drops it. Returns 0 (cb will
 * run) or KILN_ENOMEM. */
int kiln_pass_start(const struct kiln_pass_options *opts,
                    struct kiln_arena *arena, kiln_pass_cb *cb, void *data);

#endif
