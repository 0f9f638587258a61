/* kiln run: the daemon's wiring and its passes.
 *
 * The commit source fetches (commit_source.c); each new commit is adopted
 * at once, while a pass in flight keeps the snapshot it started with (it
 * holds a reference). Passes run one at a time; a pass that is wanted
 * while one runs follows it. What a pass found becomes the status model
 * (status.c) that the HTTP routes (daemon_http.c) and /metrics (metrics.c)
 * read, and its record goes to the history store on the thread pool
 * (history_writer.c): the loop's thread does no blocking work.
 */
#include "daemon_internal.h"
#include "log.h"
#include "schedule.h"
#include "systemd.h"

#include "kiln/error.h"
#include "kiln/history.h"
#include "history_proofs.h"
#include "kiln/http_server.h"

#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define STOP_GRACE_MS 10000
#define AFTER_STEP_MS 1000
#define PASS_RETRY_MS 5000

/* One pass's memory and result, kept until its history record is written
 * (the record borrows them). */
struct pass_run {
  struct kiln__daemon *d;
  double started_process_cpu; /* every thread's, when the pass began */
  struct kiln_arena arena;
  struct kiln_session_result result; /* holds a snapshot reference */
  bool has_result;
};

static void start_pass(struct kiln__daemon *d);
static void shutdown_now(struct kiln__daemon *d);
static void reload_secret(struct kiln__daemon *d);

static struct pass_run *pass_run_new(struct kiln__daemon *d)
{
  struct pass_run *run = calloc(1, sizeof(*run));
  if (run == NULL)
    return NULL;
  run->d = d;
  kiln_arena_init(&run->arena, 0);
  return run;
}

static void pass_run_free(struct pass_run *run)
{
  if (run->has_result)
    kiln_session_result_release(&run->result);
  kiln_arena_cleanup(&run->arena);
  free(run);
}

/* ---- systemd's watchdog ---- */

static void on_watchdog(uv_timer_t *t)
{
  (void)t;
  kiln_systemd_notify("WATCHDOG=1");
}

/* ---- the per-app retry policy as the pass's gate ---- */

static bool may_act(void *arg, const char *app)
{
  struct kiln__daemon *d = arg;
  return kiln_step_retry_wait_ms(&d->retry, app, uv_now(&d->s.loop)) == 0;
}

static uint64_t backoff_left(void *arg, const char *app)
{
  struct kiln__daemon *d = arg;
  return kiln_step_retry_wait_ms(&d->retry, app, uv_now(&d->s.loop));
}

/* ---- scheduling ---- */

static void on_pass_timer(uv_timer_t *t)
{
  start_pass(t->data);
}

/* Runs a pass after delay_ms, or sooner if one is already due sooner; a
 * pass wanted now while one runs follows it. */
static void schedule_pass(struct kiln__daemon *d, uint64_t delay_ms)
{
  uint64_t due = uv_timer_get_due_in(&d->pass_timer);
  if (d->stopping || d->s.repo == NULL)
    return;
  if (d->passing) {
    if (delay_ms == 0)
      d->pass_again = true;
    return;
  }
  if (uv_is_active((uv_handle_t *)&d->pass_timer) && due <= delay_ms)
    return;
  uv_timer_start(&d->pass_timer, on_pass_timer, delay_ms, 0);
}

static uint64_t next_pass_ms(struct kiln__daemon *d,
                             struct kiln_session_result *r)
{
  struct kiln_schedule sched = {.resync_ms = d->opts.resync_ms,
                                .bake_poll_ms = d->opts.bake_poll_ms,
                                .refresh_poll_ms = d->opts.refresh_poll_ms,
                                .after_step_ms = AFTER_STEP_MS};

  return kiln_schedule_next_pass_ms(&sched, r->apps, r->n, backoff_left, d);
}

/* ---- new commits ---- */

static void log_diags(const struct kiln_snapshot *snap)
{
  for (size_t i = 0; i < snap->diags.n; i++)
    kiln_log("error", snap->diags.items[i].app, snap->commit,
             "invalid spec, never applied: %s:%d:%d: %s",
             snap->diags.items[i].file, snap->diags.items[i].line,
             snap->diags.items[i].col, snap->diags.items[i].message);
}

static void on_commit(struct kiln_commit_source *cs, struct kiln_snapshot *snap,
                      void *data)
{
  struct kiln__daemon *d = data;
  char old[41];

  (void)cs;
  if (snap == NULL) { /* the fetch in flight at a stop ended */
    if (d->stopping)
      kiln__daemon_stop_if_idle(d);
    return;
  }
  memcpy(old, d->s.commit, sizeof(old));
  log_diags(snap);
  /* A pass in flight keeps its own reference to the snapshot it read. */
  if (kiln_session_adopt(&d->s, snap) != 0) {
    kiln_log("error", NULL, snap->commit,
             "cannot prepare AWS clients for commit %.12s", snap->commit);
    kiln_snapshot_cleanup(snap);
    return;
  }
  kiln_log("info", NULL, d->s.commit, "desired state is now commit %s%s%.12s%s",
           d->s.commit, old[0] != '\0' ? ", was " : "", old,
           d->passing ? "; the pass in flight finishes on the old one" : "");
  /* Adopted: the diagnostics are the session's now. */
  kiln__daemon_notify_invalid(d, d->s.commit, &d->s.diags);
  /* Git changed: apps that were backing off get a fresh start. */
  kiln_step_retry_forget_all(&d->retry);
  schedule_pass(d, 0);
}

void kiln__daemon_fetch_now(struct kiln__daemon *d, const char *why)
{
  kiln_commit_source_request(&d->source, why);
}

/* ---- passes ---- */

/* CPU time of the calling thread: a pass runs on the loop's thread (git
 * and SQLite run on the thread pool and are not counted). */
static double thread_cpu_seconds(void)
{
  struct timespec ts;

  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return 0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of every thread of the process: a pass's whole cost, with its
 * history record written on the thread pool. */
static double process_cpu_seconds(void)
{
  struct timespec ts;

  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
    return 0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pass is over, its record written or given up: what it cost in all,
 * then its memory back to the system. A pass over thousands of apps frees
 * megabytes (its arena, AWS's answers) that malloc would otherwise keep
 * for the next one, in every thread's arena. */
static void pass_run_end(struct pass_run *run)
{
  run->d->stats.last_process_cpu_seconds =
      process_cpu_seconds() - run->started_process_cpu;
  run->d->stats.last_accounted = true;
  pass_run_free(run);
  malloc_trim(0);
}

/* The loop has been busy since its wait (the last one's end: the time it
 * went to wait plus the idle time libuv counted since) until now. */
static void lag_busy_until_now(struct kiln__daemon *d)
{
  uint64_t now = uv_hrtime();
  uint64_t idle = uv_metrics_idle_time(&d->s.loop);
  kiln_loop_lag_busy(&d->lag, &d->lag_due_ns,
                     d->lag_waited_at_ns + (idle - d->lag_idle_ns), now);
  d->lag_waited_at_ns = now;
  d->lag_idle_ns = idle;
}

/* Runs each time the loop is about to wait. */
static void on_lag_probe(uv_prepare_t *h)
{
  lag_busy_until_now(h->data);
}

static void lag_start(struct kiln__daemon *d)
{
  kiln_loop_lag_reset(&d->lag);
  d->lag_waited_at_ns = uv_hrtime();
  d->lag_idle_ns = uv_metrics_idle_time(&d->s.loop);
  d->lag_due_ns = d->lag_waited_at_ns + KILN_LOOP_LAG_TICK_MS * 1000000ull;
  uv_prepare_start(&d->lag_probe, on_lag_probe);
}

static void count_pass(struct kiln__daemon *d, bool failed)
{
  struct kiln_pass_stats *st = &d->stats;

  lag_busy_until_now(d); /* the stretch this runs in */
  uv_prepare_stop(&d->lag_probe);
  st->last_lag = d->lag;
  st->passes++;
  st->last_accounted = false; /* until its history record is written */
  st->failures += failed;
  st->last_seconds = (double)(uv_now(&d->s.loop) - d->pass_started_ms) / 1000.0;
  st->last_cpu_seconds = thread_cpu_seconds() - d->pass_started_cpu;
  st->seconds_sum += st->last_seconds;
  st->cpu_seconds_sum += st->last_cpu_seconds;
}

/* The gates of the next passes judge by the proofs read with the record
 * just written. */
static void take_proofs(struct kiln__daemon *d, struct kiln_proofs *proofs)
{
  if (proofs == NULL)
    return;
  if (d->proofs != NULL) {
    kiln_proofs_cleanup(d->proofs);
    free(d->proofs);
  }
  d->proofs = proofs;
  d->s.proofs = proofs;
}

static void history_written(int err, const char *why,
                            struct kiln_proofs *proofs, void *data)
{
  struct pass_run *run = data;
  if (err != 0)
    kiln_log("warn", NULL, run->result.commit, "history not recorded: %s", why);
  take_proofs(run->d, proofs);
  pass_run_end(run);
}

/* Hands the pass to the history writer, which frees it once written. */
static void record(struct kiln__daemon *d, struct pass_run *run)
{
  uv_timeval64_t now;
  if (d->history == NULL || uv_gettimeofday(&now) != 0 ||
      kiln_history_writer_submit(
          &d->writer, run->result.commit, run->result.apps, run->result.n,
          now.tv_sec * 1000 + now.tv_usec / 1000, run->result.repo,
          history_written, run) != 0)
    pass_run_end(run);
}

static void log_outcomes(struct kiln__daemon *d, struct kiln_session_result *r)
{
  uint64_t now = uv_now(&d->s.loop);

  for (size_t i = 0; i < r->n; i++) {
    struct kiln_pass_app *a = &r->apps[i];
    if (a->executed) {
      kiln_log(a->exec_err != 0     ? "error"
               : a->follow_err != 0 ? "warn"
                                    : "info",
               a->spec->name, r->commit, "%s",
               a->outcome != NULL ? a->outcome : "?");
      kiln_step_retry_record(&d->retry, a->spec->name, a->exec_err != 0, now,
                             kiln_step_retry_jitter());
    } else if (a->plan.status != KILN_STATUS_IN_SYNC) {
      kiln_log(a->plan.status == KILN_STATUS_ERROR ||
                       a->plan.status == KILN_STATUS_FAILED ||
                       a->plan.status == KILN_STATUS_DEGRADED
                   ? "error"
                   : "info",
               a->spec->name, r->commit, "%s: %s",
               kiln_plan_status_name(a->plan.status), a->plan.message);
    }
  }
}

static void pass_done(struct kiln_session *s, struct kiln_session_result *r,
                      void *data)
{
  struct pass_run *run = data;
  struct kiln__daemon *d = run->d;
  uint64_t next;

  (void)s;
  run->result = *r;
  run->has_result = true;
  d->passing = false;
  count_pass(d, r->error != NULL);
  if (d->stopping) {
    record(d, run);
    kiln__daemon_stop_if_idle(d);
    return;
  }
  if (kiln_status_set(&d->status, r->commit, r->apps, r->n, r->error) != 0)
    kiln_log("warn", NULL, r->commit, "status not updated: out of memory");
  if (r->error != NULL) {
    kiln_log("error", NULL, r->commit, "%s; the next pass tries again",
             r->error);
    record(d, run);
    schedule_pass(d, d->pass_again ? 0 : PASS_RETRY_MS);
    d->pass_again = false;
    return;
  }
  if (!d->ready) {
    d->ready = true;
    kiln_log("info", NULL, r->commit,
             "ready: first fetch and observation done");
    kiln_systemd_notify("READY=1");
  }
  log_outcomes(d, r);
  kiln__daemon_notify_pass(d, r);
  next = d->pass_again ? 0 : next_pass_ms(d, r);
  d->pass_again = false;
  record(d, run);
  schedule_pass(d, next);
  kiln__daemon_gc_after_pass(d);
}

/* Before any record is written, the proofs a restart left in history:
 * read once on the loop (a few indexed queries), so that no gate judges
 * without them. */
static void first_proofs(struct kiln__daemon *d)
{
  struct kiln_proofs *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return;
  if (kiln_history_proofs_load(d->history_reader, d->s.repo, p) != 0) {
    kiln_log("warn", NULL, d->s.commit,
             "promotion proofs not read from history: %s",
             kiln_history_errmsg(d->history_reader));
    kiln_proofs_cleanup(p);
    free(p);
    return;
  }
  take_proofs(d, p);
}

static void start_pass(struct kiln__daemon *d)
{
  struct pass_run *run;

  if (d->passing || d->stopping || d->s.repo == NULL)
    return;
  if (d->proofs == NULL && d->history_reader != NULL)
    first_proofs(d);
  run = pass_run_new(d);
  if (run == NULL) {
    kiln_log("error", NULL, d->s.commit, "cannot start a pass: out of memory");
    schedule_pass(d, PASS_RETRY_MS);
    return;
  }
  d->passing = true;
  d->pass_started_ms = uv_now(&d->s.loop);
  d->pass_started_cpu = thread_cpu_seconds();
  run->started_process_cpu = process_cpu_seconds();
  lag_start(d);
  if (kiln_session_pass(&d->s, true, &run->arena, pass_done, run) != 0) {
    d->passing = false;
    uv_prepare_stop(&d->lag_probe);
    pass_run_free(run);
    kiln_log("error", NULL, d->s.commit, "cannot start a pass: out of memory");
    schedule_pass(d, PASS_RETRY_MS);
  }
}

/* ---- stopping ---- */

static void shutdown_now(struct kiln__daemon *d)
{
  if (d->closed)
    return;
  d->closed = true;
  kiln__daemon_http_stop(d);
  kiln_commit_source_stop(&d->source);
  kiln_commit_source_close(&d->source);
  uv_close((uv_handle_t *)&d->pass_timer, NULL);
  uv_close((uv_handle_t *)&d->stop_timer, NULL);
  uv_close((uv_handle_t *)&d->watchdog_timer, NULL);
  uv_close((uv_handle_t *)&d->lag_probe, NULL);
  uv_close((uv_handle_t *)&d->sig_term, NULL);
  uv_close((uv_handle_t *)&d->sig_int, NULL);
  uv_close((uv_handle_t *)&d->sig_hup, NULL);
  kiln_notifier_close(&d->notifier);
  /* The loop runs on until the history records queued are written. */
}

static void on_stop_grace(uv_timer_t *t)
{
  struct kiln__daemon *d = t->data;
  kiln_log("warn", NULL, d->s.commit,
           "work still in flight after %d ms; stopping anyway", STOP_GRACE_MS);
  shutdown_now(d);
  uv_stop(&d->s.loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
  struct kiln__daemon *d = h->data;
  if (signum == SIGHUP) {
    reload_secret(d);
    kiln__daemon_fetch_now(d, "SIGHUP");
    return;
  }
  if (d->stopping)
    return;
  d->stopping = true;
  kiln_systemd_notify("STOPPING=1");
  kiln_log("info", NULL, d->s.commit, "%s: stopping; in-flight work may finish",
           signum == SIGTERM ? "SIGTERM" : "SIGINT");
  kiln_commit_source_stop(&d->source);
  uv_timer_stop(&d->pass_timer);
  if (!d->passing && d->gc == NULL && !kiln_commit_source_busy(&d->source)) {
    shutdown_now(d);
    return;
  }
  uv_timer_start(&d->stop_timer, on_stop_grace, STOP_GRACE_MS, 0);
}

void kiln__daemon_stop_if_idle(struct kiln__daemon *d)
{
  if (!d->passing && d->gc == NULL && !kiln_commit_source_busy(&d->source))
    shutdown_now(d);
}

static void reload_secret(struct kiln__daemon *d)
{
  char why[512];
  if (d->opts.webhook_secret_file == NULL) {
    kiln_log("info", NULL, d->s.commit,
             "SIGHUP: no webhook secret file to read");
    return;
  }
  if (kiln_webhook_secret_load(&d->secret, d->opts.webhook_secret_file, why,
                               sizeof(why)) != 0)
    kiln_log("error", NULL, d->s.commit,
             "webhook secret not (re)loaded, the previous one stays: %s", why);
  else
    kiln_log("info", NULL, d->s.commit, "webhook secret loaded from %s",
             d->opts.webhook_secret_file);
}

/* ---- entry ---- */

/* mkdir -p, private to the user. */
static int ensure_dir(const char *path)
{
  char tmp[1024];
  struct stat st;
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp))
    return KILN_EINVAL;
  for (char *p = tmp + 1; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    mkdir(tmp, 0700);
    *p = '/';
  }
  if (mkdir(tmp, 0700) == 0 || (stat(tmp, &st) == 0 && S_ISDIR(st.st_mode)))
    return 0;
  return KILN_EIO;
}

/* Two handles on the store: the writer's, used on the thread pool, and the
 * API's, used on the loop (SQLite's WAL lets the reader go on meanwhile). */
static void open_history(struct kiln__daemon *d)
{
  char why[KILN_HISTORY_ERRMAX];
  if (kiln_history_open(d->opts.state_dir, &d->history, why, sizeof(why)) !=
          0 ||
      kiln_history_open(d->opts.state_dir, &d->history_reader, why,
                        sizeof(why)) != 0) {
    kiln_log("warn", NULL, NULL, "history disabled: %s", why);
    kiln_history_close(d->history);
    d->history = d->history_reader = NULL;
  }
  kiln_history_writer_init(&d->writer, &d->s.loop, d->history);
}

static void init_handles(struct kiln__daemon *d)
{
  uv_loop_t *loop = &d->s.loop;
  uint64_t watchdog_ms = kiln_systemd_watchdog_ms();

  uv_timer_init(loop, &d->pass_timer);
  uv_timer_init(loop, &d->stop_timer);
  uv_timer_init(loop, &d->watchdog_timer);
  uv_prepare_init(loop, &d->lag_probe);
  d->pass_timer.data = d->stop_timer.data = d->lag_probe.data = d;
  uv_signal_init(loop, &d->sig_term);
  uv_signal_init(loop, &d->sig_int);
  uv_signal_init(loop, &d->sig_hup);
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
  uv_signal_start(&d->sig_term, on_signal, SIGTERM);
  uv_signal_start(&d->sig_int, on_signal, SIGINT);
  uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
  kiln_commit_source_init(&d->source, loop, &d->s.source, d->opts.ref,
                          d->opts.interval_ms, on_commit, d);
  d->source.on_fetched = kiln__daemon_notify_fetch;
  kiln_events_init(&d->events);
  if (kiln_notifier_init(&d->notifier, loop) != 0)
    kiln_log("warn", NULL, NULL, "notifications are off: no HTTP client");
  /* With WatchdogSec= set, systemd expects a ping at least every
   * WATCHDOG_USEC; ping at half of it, from the loop, so a stuck loop is
   * noticed. */
  if (watchdog_ms > 0)
    uv_timer_start(&d->watchdog_timer, on_watchdog, watchdog_ms, watchdog_ms);
}

int kiln_daemon_run(const struct kiln_daemon_options *opts)
{
  struct kiln__daemon *d = calloc(1, sizeof(*d));
  char repos[1024];
  int rc = 1;
  bool handles = false;

  if (d == NULL)
    return 1;
  d->opts = *opts;
  kiln_status_init(&d->status);
  kiln_step_retry_init(&d->retry,
                       &(struct kiln_step_retry_policy)KILN_STEP_RETRY_DAEMON);
  kiln_webhook_secret_init(&d->secret);
  if (ensure_dir(opts->state_dir) != 0) {
    fprintf(stderr, "kiln run: cannot create the state directory %s\n",
            opts->state_dir);
    goto done;
  }
  snprintf(repos, sizeof(repos), "%s/repos", opts->state_dir);
  if (kiln_session_start(&d->s, "run", opts->src, repos) != 0)
    goto done;
  d->s.gate = may_act;
  d->s.gate_arg = d;
  init_handles(d);
  handles = true;
  open_history(d);
  if (opts->webhook_secret_file != NULL)
    reload_secret(d);
  if (opts->listen != NULL && kiln__daemon_http_start(d) != 0)
    goto done;
  kiln_log("info", NULL, NULL,
           "kiln %s starting: repo %s, fetch every %llu ms, resync every %llu "
           "ms",
           KILN_VERSION, d->s.source.display,
           (unsigned long long)opts->interval_ms,
           (unsigned long long)opts->resync_ms);
  kiln_commit_source_request(&d->source, "start");
  uv_run(&d->s.loop, UV_RUN_DEFAULT);
  kiln_log("info", NULL, d->s.commit, "stopped");
  rc = 0;
done:
  if (handles && !d->closed)
    shutdown_now(d); /* could not start: close what was opened */
  /* Runs the loop until every handle is closed and every queued history
   * record and fetch has ended. */
  kiln_session_close(&d->s);
  kiln_history_close(d->history);
  kiln_history_close(d->history_reader);
  if (d->proofs != NULL) {
    kiln_proofs_cleanup(d->proofs);
    free(d->proofs);
  }
  kiln_events_cleanup(&d->events);
  kiln_webhook_secret_cleanup(&d->secret);
  kiln_status_cleanup(&d->status);
  kiln_step_retry_cleanup(&d->retry);
  free(d);
  return rc;
}
