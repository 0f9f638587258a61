/* The daemon's status model: what the last pass found, as data that the
 * status API, /metrics and the logs all read.
 *
 * A status owns a deep copy of the pass's plans (in its own arena), so it
 * outlives the pass's memory and the snapshot the pass read: the daemon
 * keeps the last one while the next pass runs. Pure.
 */
#ifndef KILN_CONTROLLER_STATUS_H
#define KILN_CONTROLLER_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln/arena.h"
#include "kiln/plan.h"
#include "kiln/release.h"

struct kiln_pass_app;
struct json_object;

/* Releases this process saw fail, per app by cause: the counter
 * kiln_release_failures_total. A failed (or degraded) release counts once,
 * when a pass first finds it, told apart by its launch template version
 * and refresh (or image digest) (so a Kiln restarted while a release is still failed counts
 * it once more, as a counter restarts at zero). */
struct kiln_status_failures {
  char *app; /* malloc'd, like everything here: outlives every status */
  int64_t last_version; /* the release counted last: its version */
  char *last_key;       /* and its refresh id (or image digest) */
  unsigned long long count[KILN_RELEASE_CAUSE_COUNT];
};

struct kiln_status {
  struct kiln_arena arena; /* owns everything below but failures */
  struct kiln_status_failures *failures; /* malloc'd, carried from status to
                                            status; sorted by app */
  size_t n_failures;
  const char *commit;
  struct kiln_plan *plans; /* sorted by app, as the pass gave them */
  size_t n;
  const char *error; /* AWS could not be observed; NULL */
  size_t by_status[KILN_STATUS_COUNT]; /* apps, by enum kiln_app_status */
  size_t bakes_in_flight;
  size_t refreshes_in_flight;
};

/* An empty status (no pass yet). */
void kiln_status_init(struct kiln_status *st);
void kiln_status_cleanup(struct kiln_status *st);

/* Makes *out the status of a pass at commit over apps[0..n) (error may be
 * NULL), counting the releases that failed since *out. *out must be
 * initialised; on success its previous contents are freed; on failure it
 * is left as it was. Returns 0 or KILN_ENOMEM. */
int kiln_status_set(struct kiln_status *out, const char *commit,
                    const struct kiln_pass_app *apps, size_t n,
                    const char *error);

/* The plan of app, or NULL. */
const struct kiln_plan *kiln_status_find(const struct kiln_status *st,
                                         const char *app);

/* {"commit", "apps": [...], "error"?} as `kiln plan --format json` prints
 * it; with drifting_only, only the apps that drift. New reference. */
struct json_object *kiln_status_json(const struct kiln_status *st,
                                     bool drifting_only);

#endif
