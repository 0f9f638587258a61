/* What Kiln's history proves of the releases of promotion sources: for
 * each (target, image digest), how long the target ran the digest as a
 * healthy release, and whether its latest release of the digest failed.
 * A promotion gate asks it when AWS cannot answer: the source has moved
 * on from the digest since (its refresh end time is gone with it).
 *
 * Built from the history store's releases (pure: no I/O here); times in
 * seconds since the epoch.
 */
#ifndef KILN_PROOFS_H
#define KILN_PROOFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/arena.h"

struct kiln_history_release;

struct kiln_proof {
  const char *target; /* "hello/staging" */
  const char *digest;
  /* The longest healthy run that ended (the next image's release
   * started), and the start of the run still going on (0: none). */
  int64_t longest_run_s;
  int64_t running_since_s;
  bool failed;        /* its latest release of the digest failed */
  const char *reason; /* ...with this reason (may be NULL) */
};

struct kiln_proofs {
  struct kiln_arena arena; /* owns everything */
  struct kiln_proof *items; /* sorted by (target, digest) */
  size_t n;
};

/* Builds p from the releases of one or more targets (any order; ended
 * releases count, in-progress and superseded ones prove nothing). A
 * digest ran healthy from the end of its succeeded release until the next
 * release of another digest of the same target started. Returns 0 or
 * KILN_ENOMEM. */
int kiln_proofs_build(struct kiln_proofs *p,
                      const struct kiln_history_release *releases, size_t n);

/* The proof of (target, digest), or NULL: history never saw it. */
const struct kiln_proof *kiln_proofs_find(const struct kiln_proofs *p,
                                          const char *target,
                                          const char *digest);

/* How long the proof shows the digest healthy, at now. */
int64_t kiln_proof_healthy_s(const struct kiln_proof *proof, int64_t now);

void kiln_proofs_cleanup(struct kiln_proofs *p);

#endif
