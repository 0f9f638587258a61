/* Execute: carries out the one action a plan chose for an app, idempotently.
 *
 * Every create carries a client token derived from the desired state, every
 * lookup that could find the result of an earlier attempt is made first, so
 * a crash, a timeout or a retry between two calls never makes a thing
 * twice. A bake is several calls (components, recipe, infrastructure
 * configuration, CreateImage); each is looked up before it is made.
 *
 * Runs on the loop; the callback runs once, never before
 * kiln_execute_start() returns.
 */
#ifndef KILN_EXECUTE_H
#define KILN_EXECUTE_H

#include "kiln/observe.h"
#include "kiln/plan.h"

struct kiln_aws_client;
struct kiln_arena;

/* What a step did (arena-owned). */
struct kiln_execute_result {
  /* What was done, or what failed with the AWS action, code and request
   * id. */
  const char *message;
  /* The launch template whose default the step set (made or changed),
   * and that version; NULL and 0: none. */
  const char *lt_id;
  int64_t lt_version;
  /* The instance refresh started (also when a later call of the step
   * failed); NULL: none. */
  const char *refresh_id;
};

/* err 0: the step was taken. */
typedef void kiln_execute_cb(int err, const struct kiln_execute_result *r,
                             void *data);

/* Carries out plan->action for spec (whose observation is obs) at commit,
 * with client (the target's region and account). home_client is the image
 * home's, for sharing an AMI with another account (COPY_IMAGE); NULL when
 * there is none. bakes records a bake Kiln starts. Returns 0 (cb will
 * run), KILN_EINVAL (nothing to do: no mutating action) or KILN_ENOMEM. */
int kiln_execute_start(struct kiln_aws_client *client,
                       struct kiln_aws_client *home_client,
                       const struct kiln_app_spec *spec, const char *commit,
                       const struct kiln_plan *plan,
                       const struct kiln_observed_app *obs,
                       struct kiln_bakes *bakes, struct kiln_arena *arena,
                       kiln_execute_cb *cb, void *data);

#endif
