/* kiln run: Kiln as a long-running controller on one libuv loop.
 *
 * Fetches the desired state on the thread pool (the loop never blocks on
 * git), reconciles every app level-triggered (on a new commit, sooner while
 * a bake or refresh is under way, and on a periodic resync for drift), backs
 * off per app after failures, logs one JSON object per line, and stops
 * cleanly on SIGTERM/SIGINT.
 */
#ifndef KILN_CONTROLLER_DAEMON_H
#define KILN_CONTROLLER_DAEMON_H

#include <stdint.h>

struct kiln_daemon_options {
  const char *src;
  const char *ref;          /* NULL: the default branch */
  const char *state_dir;    /* mirrors live under state_dir/repos */
  uint64_t interval_ms;     /* fetch every; default 60 s */
  uint64_t resync_ms;       /* reconcile at least every; default 5 min */
  uint64_t bake_poll_ms;    /* look at a bake in flight every; default 30 s */
  uint64_t refresh_poll_ms; /* and at a refresh; default 10 s */
  const char *listen;       /* ADDR:PORT for the HTTP server, or NULL */
  const char *webhook_secret_file;
  uint64_t gc_interval_ms;  /* collect images every; 0: never (default) */
};

/* Runs until SIGTERM or SIGINT. Returns the process exit code: 0 after a
 * clean stop, 1 when it could not start. */
int kiln_daemon_run(const struct kiln_daemon_options *opts);

#endif
