/* What `kiln plan` and `kiln apply` share: the desired state of one commit
 * (git source, spec snapshot), a uv loop with an AWS client per region the
 * apps live in, and a pass over all of them. */
#ifndef KILN_CONTROLLER_SESSION_H
#define KILN_CONTROLLER_SESSION_H

#include <stdbool.h>
#include <uv.h>

#include "kiln/aws_config.h"
#include "kiln/diag.h"
#include "kiln/git_source.h"
#include "kiln/observe.h"
#include "kiln/pass.h"
#include "kiln/spec.h"
#include "kiln/tree.h"
#include "prev_specs.h"

#define KILN_SESSION_MAX_LOCATIONS 64
#define KILN_SESSION_MAX_ROLES     32

struct kiln_aws_credentials_provider;
struct kiln_http_client;

/* A region of an account: Kiln's own, or the account of a role. */
struct kiln_session_location {
  struct kiln_aws_config config;
  struct kiln_aws_client *client;
  const char *role_arn; /* NULL: Kiln's own credentials (owned copy) */
  /* What earlier passes read that later ones need not ask again. */
  struct kiln_observe_memory *memory;
};

/* One STS session per role, shared by the role's regions: AssumeRole from
 * Kiln's own credentials, cached and refreshed before it expires. */
struct kiln_session_role {
  char *role_arn;
  struct kiln_aws_credentials_provider *credentials;
};

struct kiln_session {
  const char *cmd;
  const char *only_app; /* an app, or a target "app/env"; NULL: all */
  const char *only_env; /* an environment; NULL: all */
  struct kiln_git_source source;
  char commit[41];
  struct kiln_spec_repo *repo;
  struct kiln_diags diags;
  uv_loop_t loop;
  bool loop_open;
  struct kiln_session_location locations[KILN_SESSION_MAX_LOCATIONS];
  size_t n_locations;
  struct kiln_session_role roles[KILN_SESSION_MAX_ROLES];
  size_t n_roles;
  struct kiln_http_client *sts_http; /* the roles' STS calls; NULL: none */
  struct kiln_bakes bakes;
  /* Kiln's request pacing, from KILN_AWS_RATE_LIMIT (read at start). */
  bool pacing_off;
  double pacing_share; /* 0: the default share */
  /* Older commits' specs, read on the thread pool (drift causes). */
  struct kiln_prev_specs prevs;
  /* Answers a pass that has no region to ask, on a later loop turn. */
  uv_timer_t answer_timer;
  /* Optional: history's proofs for promotion gates (owned by the caller,
   * replaced between passes; read when a pass judges its gates). */
  const struct kiln_proofs *proofs;
  /* Optional: may an app take a step now? (the daemon's backoff) */
  kiln_pass_gate_fn *gate;
  void *gate_arg;
};

/* A snapshot of the desired state at one commit, made off the loop. */
struct kiln_snapshot {
  char commit[41];
  struct kiln_spec_repo *repo; /* owned until adopted */
  struct kiln_diags diags;
  /* The commit it was fetched against did not lead to this one: history
   * was rewritten (a force-push). */
  bool rewritten;
  int err;        /* 0, or why there is no snapshot */
  char why[1024]; /* what failed, for people (no credentials) */
};

/* Fetches src (remotes: into its mirror), resolves ref (NULL: the default
 * branch) and loads the spec of that commit; with since (a commit, may be
 * NULL or ""), tells whether the new commit descends from it. Blocking: the
 * daemon runs it on the thread pool; it touches nothing but its arguments.
 * Returns out->err. */
int kiln_session_fetch_snapshot(struct kiln_git_source *src, const char *ref,
                                const char *since, struct kiln_snapshot *out);

/* Frees what a snapshot that was not adopted holds. */
void kiln_snapshot_cleanup(struct kiln_snapshot *snap);

/* Prepares s for src without touching the network: the request pacing
 * KILN_AWS_RATE_LIMIT asks for, the loop, the git source (mirrored under
 * cache_dir when remote). Returns 0 or an error (printed). */
int kiln_session_start(struct kiln_session *s, const char *cmd, const char *src,
                       const char *cache_dir);

/* Makes snap the desired state of s (taking its spec and diagnostics) and
 * adds a client for every new location (region and account) the selected
 * targets, their images' homes and their promotions' sources run in. A pass in flight keeps the snapshot
 * and commit it started with; the next pass takes these. Returns 0 or an
 * error (printed). */
int kiln_session_adopt(struct kiln_session *s, struct kiln_snapshot *snap);

/* The index of target t's location (region and account) among s's, or
 * SIZE_MAX when it has none. */
size_t kiln_session_location_of(const struct kiln_session *s,
                                const struct kiln_app_spec *t);

/* Reads the desired state of ref (NULL: the default branch) from src and
 * prepares a client per region. Prints what went wrong to stderr. Returns
 * 0 or a KILN_E... code. */
int kiln_session_open(struct kiln_session *s, const char *cmd, const char *src,
                      const char *ref, const char *only_app,
                      const char *only_env);

/* Closes the clients, runs the loop until every handle is closed and frees
 * everything. */
void kiln_session_close(struct kiln_session *s);

/* The result of a pass over every region: the apps sorted by name,
 * including invalid ones (planned as errors, never applied). */
struct kiln_session_result {
  struct kiln_pass_app *apps;
  size_t n;
  const char *error;  /* some region could not be observed */
  const char *commit; /* the commit the pass planned for */
  /* The snapshot apps[].spec point into: a reference the result holds
   * until kiln_session_result_release(). */
  struct kiln_spec_repo *repo;
};

/* Drops the result's reference to its snapshot; its apps' specs must not
 * be read afterwards. Loop thread only. */
void kiln_session_result_release(struct kiln_session_result *r);

typedef void kiln_session_cb(struct kiln_session *s,
                             struct kiln_session_result *r, void *data);

/* The plans of a result, in its order, as the reports take them: a copy
 * to free(), or NULL when out of memory. */
struct kiln_plan *kiln_session_plans(const struct kiln_session_result *r);

/* Runs one pass over every location at once over the current snapshot (a
 * reference is taken, so adopting another meanwhile is safe); cb runs
 * when all are done, always on a later turn of the loop. Everything lives in
 * arena; the caller releases the result (kiln_session_result_release())
 * when done with it. Returns 0 or KILN_ENOMEM (cb never runs). */
int kiln_session_pass(struct kiln_session *s, bool apply,
                      struct kiln_arena *arena, kiln_session_cb *cb,
                      void *data);

#endif
