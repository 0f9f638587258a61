/* Promotion proofs from the history store (kiln/proofs.h). */
#ifndef KILN_CONTROLLER_HISTORY_PROOFS_H
#define KILN_CONTROLLER_HISTORY_PROOFS_H

#include "kiln/proofs.h"

struct kiln_history;
struct kiln_spec_repo;

/* Reads the releases of every promotion source of repo's valid targets
 * (blocking: SQLite) and builds their proofs into out (cleanup with
 * kiln_proofs_cleanup(), also on failure). Returns 0 or a KILN_E...
 * code. */
int kiln_history_proofs_load(struct kiln_history *h,
                             const struct kiln_spec_repo *repo,
                             struct kiln_proofs *out);

#endif
