/* Promotion gates: an environment with promote: {from, soakSeconds} rolls
 * out an image digest only once environment `from` of the same app has run
 * that digest as a healthy release for soakSeconds.
 *
 * Judged from AWS first, like a release (kiln/release.h): the source's
 * plan says whether its template's default is the digest and how its
 * release stands, and its healthy-since time is when the refresh that
 * rolled it out ended (or, with no refresh, when the version was made).
 * A digest the source has moved on from is judged by Kiln's history
 * (kiln/proofs.h): how long it ran healthy, and whether its release
 * failed. A failure AWS shows now closes the gate whatever history says.
 *
 * Pure.
 */
#ifndef KILN_PROMOTE_H
#define KILN_PROMOTE_H

#include <stdbool.h>
#include <stdint.h>

struct kiln_app_spec;
struct kiln_arena;
struct kiln_observed_app;
struct kiln_plan;
struct kiln_proof;

struct kiln_promotion {
  bool gated;     /* the plan would move the target to a digest */
  bool open;      /* ...that the source has proved */
  bool transient; /* closed, but opens by itself (soak, release under way) */
  const char *why; /* closed: "staging has run 1.4.0 healthy for 12m of
                      60m", "staging's release of 1.4.0 failed: ..." */
};

/* The gate of target t, planned as tplan on tobs, whose promote.from is
 * the target `from`, planned as fplan on fobs (fplan NULL: the source
 * could not be observed; why says so); proof is history's word on
 * (from, tplan's digest), NULL when it has none. now: seconds since the
 * epoch. Returns 0 or KILN_ENOMEM. */
int kiln_promote_judge(const struct kiln_app_spec *t,
                       const struct kiln_plan *tplan,
                       const struct kiln_observed_app *tobs,
                       const struct kiln_app_spec *from,
                       const struct kiln_plan *fplan,
                       const struct kiln_observed_app *fobs,
                       const struct kiln_proof *proof, int64_t now,
                       struct kiln_arena *a, struct kiln_promotion *out);

/* A closed gate holds the plan: status waiting, no step, the reason. */
void kiln_promote_hold(struct kiln_plan *plan, const struct kiln_promotion *g,
                       struct kiln_arena *a);

#endif
