/* The daemon's commit source: fetches the git remote on the thread pool,
 * on a poll interval and whenever asked (a hook, SIGHUP), and hands every
 * new commit's snapshot to its owner.
 *
 * Requests are coalesced, never dropped: one that arrives while a fetch is
 * in flight makes exactly one more fetch run when it ends (so a hook for a
 * commit pushed during a fetch is honoured at once, not at the next poll).
 * A failing fetch is retried with backoff up to the poll interval, and the
 * last good commit stays the desired state meanwhile.
 *
 * Loop thread only, but for the fetch itself. Embedded in its owner.
 */
#ifndef KILN_CONTROLLER_COMMIT_SOURCE_H
#define KILN_CONTROLLER_COMMIT_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "session.h"

struct kiln_commit_source;

/* A new commit: snap is the callee's to adopt or clean up. Runs on the
 * loop. */
typedef void kiln_commit_source_cb(struct kiln_commit_source *cs,
                                   struct kiln_snapshot *snap, void *data);

/* Optional: every fetch's outcome (ok, or why it failed), after it is
 * logged. Runs on the loop. */
typedef void kiln_commit_source_fetched_cb(struct kiln_commit_source *cs,
                                           bool ok, const char *why,
                                           void *data);

struct kiln_commit_source {
  uv_loop_t *loop;
  struct kiln_git_source *git;
  const char *ref;
  uint64_t interval_ms;
  kiln_commit_source_cb *on_commit;
  kiln_commit_source_fetched_cb *on_fetched; /* may be NULL */
  void *data;

  uv_timer_t timer;
  uv_work_t work;
  struct kiln_snapshot fetched;
  char current[41]; /* the last commit handed over ("" before the first) */
  char since[41];   /* what the fetch in flight compares against */
  bool fetching;
  bool again; /* a request came while fetching: one more fetch */
  bool stopping;

  unsigned failures; /* in a row */
  uint64_t fetches;
  uint64_t coalesced; /* requests folded into a fetch already due */
  int64_t last_ok_unix;
  char last_error[1100];
};

void kiln_commit_source_init(struct kiln_commit_source *cs, uv_loop_t *loop,
                             struct kiln_git_source *git, const char *ref,
                             uint64_t interval_ms,
                             kiln_commit_source_cb *on_commit, void *data);

/* Fetches now, or once more after the fetch in flight; why is logged. */
void kiln_commit_source_request(struct kiln_commit_source *cs, const char *why);

/* Stops polling; a fetch in flight finishes and is discarded. */
void kiln_commit_source_stop(struct kiln_commit_source *cs);

/* Closes the timer (after stop, once no fetch is in flight). */
void kiln_commit_source_close(struct kiln_commit_source *cs);

bool kiln_commit_source_busy(const struct kiln_commit_source *cs);

#endif
