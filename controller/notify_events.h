/* What is worth telling people, from one pass to the next: a release of a
 * commit started, became healthy, failed or was rolled back; drift made
 * outside git appeared or went away; fetching failed or recovered; a new
 * commit has invalid specs. Derived by comparing each target's plan with
 * what the previous pass said of it (kept here), so a restart says again
 * only what is still true. */
#ifndef KILN_CONTROLLER_NOTIFY_EVENTS_H
#define KILN_CONTROLLER_NOTIFY_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln/arena.h"

struct kiln_pass_app;

enum kiln_event_kind {
  KILN_EVENT_RELEASE_STARTED,
  KILN_EVENT_RELEASE_HEALTHY,
  KILN_EVENT_RELEASE_FAILED,
  KILN_EVENT_RELEASE_ROLLED_BACK,
  KILN_EVENT_DRIFT_DETECTED,
  KILN_EVENT_DRIFT_CORRECTED,
  KILN_EVENT_FETCH_FAILING,
  KILN_EVENT_FETCH_RECOVERED,
  KILN_EVENT_INVALID_COMMIT,
};

struct kiln_event {
  enum kiln_event_kind kind;
  const char *target;      /* "hello/prod"; NULL for fetch and commit events */
  const char *app;         /* "hello" */
  const char *environment; /* NULL: none */
  const char *commit;
  const char *version;
  const char *message; /* what happened, for people (cause, drift, error) */
};

/* "release.started", "drift.detected", "fetch.failing", ... */
const char *kiln_event_kind_name(enum kiln_event_kind k);

/* Is it about a release (what commit statuses report)? */
bool kiln_event_is_release(enum kiln_event_kind k);

struct kiln_event_target; /* per target: what the last pass said */

struct kiln_events {
  struct kiln_event_target *targets;
  size_t n, cap;
  /* targets by name: open addressing, each slot a target's index + 1 (0:
   * empty); index_cap a power of two at least twice n. */
  size_t *index;
  size_t index_cap;
  bool fetch_failing;
  char invalid_commit[41]; /* the last commit reported invalid */
};

void kiln_events_init(struct kiln_events *e);
void kiln_events_cleanup(struct kiln_events *e);

/* The events of a pass at commit over apps[0..n) (arena). Returns 0 or
 * KILN_ENOMEM. */
int kiln_events_from_pass(struct kiln_events *e, const char *commit,
                          const struct kiln_pass_app *apps, size_t n,
                          struct kiln_arena *a, struct kiln_event **out,
                          size_t *n_out);

/* A fetch failed (why) or worked: an event when that changed, else
 * NULL. */
const struct kiln_event *kiln_events_fetch(struct kiln_events *e, bool failing,
                                           const char *why,
                                           struct kiln_arena *a);

/* A new commit with invalid specs (first: "file:line:col: message",
 * count: how many): an event once per commit, else NULL. */
const struct kiln_event *kiln_events_invalid(struct kiln_events *e,
                                             const char *commit,
                                             const char *first, size_t count,
                                             struct kiln_arena *a);

#endif
