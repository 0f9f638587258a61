#include "kiln/promote.h"

#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/observed.h"
#include "kiln/plan.h"
#include "kiln/proofs.h"
#include "kiln/release.h"
#include "kiln/spec.h"

#include <string.h>

/* Would the plan move the target to its desired digest? Not when its
 * template's default is that digest already (the gate let it through, or
 * it never changed), nor when the plan cannot act anyway. */
static bool moves_to_digest(const struct kiln_plan *p,
                            const struct kiln_observed_app *o)
{
  switch (p->status) {
  case KILN_STATUS_ERROR:
  case KILN_STATUS_SUSPENDED:
  case KILN_STATUS_FAILED:
  case KILN_STATUS_DEGRADED:
    return false;
  default:
    break;
  }
  return p->digest[0] != '\0' &&
         (o->lt_default_digest == NULL ||
          strcmp(o->lt_default_digest, p->digest) != 0);
}

/* The source moved on from the digest (or never ran it): history alone
 * can tell, and a gate it does not open stays closed until git changes. */
static int judge_by_history(const struct kiln_app_spec *t,
                            const struct kiln_plan *fplan,
                            const struct kiln_proof *proof, int64_t now,
                            struct kiln_arena *a, struct kiln_promotion *out)
{
  const char *from = t->promote.from, *v = t->version;
  int64_t soak = t->promote.soak_seconds;

  if (proof == NULL)
    out->why = kiln_arena_printf(a, "%s has never run %s (it runs %.12s)", from,
                                 v, fplan->digest);
  else if (proof->failed)
    out->why = kiln_arena_printf(a, "%s's release of %s failed: %s", from, v,
                                 proof->reason != NULL ? proof->reason : "?");
  else if (kiln_proof_healthy_s(proof, now) >= soak)
    out->open = true;
  else
    out->why = kiln_arena_printf(
        a, "%s ran %s healthy for only %s of %s before it moved on", from, v,
        kiln_release_span(kiln_proof_healthy_s(proof, now), a),
        kiln_release_span(soak, a));
  return out->open || out->why != NULL ? 0 : KILN_ENOMEM;
}

static int judge_source(const struct kiln_app_spec *t,
                        const struct kiln_plan *tplan,
                        const struct kiln_plan *fplan,
                        const struct kiln_observed_app *fobs,
                        const struct kiln_proof *proof, int64_t now,
                        struct kiln_arena *a, struct kiln_promotion *out)
{
  const char *from = t->promote.from, *v = t->version;
  const struct kiln_release *r = &fplan->release;
  int64_t since, soak = t->promote.soak_seconds;
  bool runs_it = strcmp(fplan->digest, tplan->digest) == 0;

  if (fplan->status == KILN_STATUS_ERROR) {
    out->why = kiln_arena_printf(a, "%s cannot be judged: %s", from,
                                 fplan->message);
  } else if (runs_it && (r->state == KILN_RELEASE_FAILED ||
                         r->state == KILN_RELEASE_DEGRADED)) {
    out->why = kiln_arena_printf(a, "%s's release of %s failed: %s", from, v,
                                 r->cause != NULL ? r->cause : "?");
  } else if (proof != NULL && !proof->failed &&
             kiln_proof_healthy_s(proof, now) >= soak) {
    out->open = true; /* proved before, whatever it does now */
    return 0;
  } else if (!runs_it) {
    return judge_by_history(t, fplan, proof, now, a, out);
  } else if (r->state == KILN_RELEASE_HEALTHY &&
             fobs->lt_default_digest != NULL &&
             strcmp(fobs->lt_default_digest, tplan->digest) == 0) {
    since = r->healthy_since_s;
    if (since > 0 && now - since >= soak) {
      out->open = true;
      return 0;
    }
    out->transient = true;
    out->why =
        since > 0
            ? kiln_arena_printf(a, "%s has run %s healthy for %s of %s", from,
                                v, kiln_release_span(now - since, a),
                                kiln_release_span(soak, a))
            : kiln_arena_printf(a, "%s runs %s healthy since a time AWS does "
                                   "not say; waiting",
                                from, v);
  } else if (fplan->status == KILN_STATUS_SUSPENDED) {
    out->why = kiln_arena_printf(a, "%s is suspended and has not run %s", from,
                                 v);
  } else {
    /* On its way: a bake, a template step, a refresh. */
    const char *how = kiln_release_describe(r, now, a);
    out->transient = true;
    out->why = kiln_arena_printf(a, "%s has not run %s yet (%s)", from, v,
                                 how != NULL ? how : fplan->message);
  }
  return out->why != NULL ? 0 : KILN_ENOMEM;
}

int kiln_promote_judge(const struct kiln_app_spec *t,
                       const struct kiln_plan *tplan,
                       const struct kiln_observed_app *tobs,
                       const struct kiln_app_spec *from,
                       const struct kiln_plan *fplan,
                       const struct kiln_observed_app *fobs,
                       const struct kiln_proof *proof, int64_t now,
                       struct kiln_arena *a, struct kiln_promotion *out)
{
  memset(out, 0, sizeof(*out));
  if (t->promote.from == NULL || !moves_to_digest(tplan, tobs)) {
    out->open = true;
    return 0;
  }
  out->gated = true;
  if (from == NULL || fplan == NULL || fobs == NULL) {
    out->why = kiln_arena_printf(
        a, "%s cannot be judged: %s", t->promote.from,
        from == NULL || !from->valid
            ? "it is not a valid environment at this commit"
            : "its region and account could not be observed");
    return out->why != NULL ? 0 : KILN_ENOMEM;
  }
  return judge_source(t, tplan, fplan, fobs, proof, now, a, out);
}

void kiln_promote_hold(struct kiln_plan *plan, const struct kiln_promotion *g,
                       struct kiln_arena *a)
{
  const char *msg;
  if (g->open)
    return;
  msg = kiln_arena_printf(a, "promotion waits: %s", g->why);
  plan->status = KILN_STATUS_WAITING;
  plan->blocked = !g->transient;
  memset(&plan->action, 0, sizeof(plan->action));
  plan->action.type = KILN_ACTION_NONE;
  plan->mutates = false;
  plan->message = msg != NULL ? msg : g->why;
}
