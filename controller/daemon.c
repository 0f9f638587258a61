#include "daemon.h"
#include "loop_lag.h"
#include "schedule.h"
#include "session.h"

#include "kiln/arena.h"
#include "kiln/aws_client.h"
#include "kiln/aws_endpoint.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/history.h"
#include "kiln/http_server.h"
#include "kiln/report.h"
#include "kiln/webhook.h"

#include <git2.h>
#include <json-c/json.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <time.h>

#define BACKOFF_MIN_MS 5000
#define BACKOFF_MAX_MS (10 * 60 * 1000)
#define STOP_GRACE_MS  10000
#define AFTER_STEP_MS  1000

struct backoff {
  char *app;
  unsigned failures;
  uint64_t next_ms; /* loop time before which the app takes no step */
};

struct daemon {
  struct kiln_daemon_options opts;
  struct kiln_session s;

  uv_timer_t fetch_timer;
  uv_timer_t pass_timer;
  uv_timer_t stop_timer;
  uv_timer_t watchdog_timer;
  uv_timer_t lag_timer; /* armed while a pass runs */
  uint64_t lag_due_ns;
  struct kiln_loop_lag lag, last_pass_lag;
  uv_signal_t sig_term;
  uv_signal_t sig_int;
  uv_signal_t sig_hup;

  uv_work_t work;
  struct kiln_snapshot fetched;
  bool fetching;
  unsigned fetch_failures;

  bool passing;
  bool pass_again;
  struct kiln_arena arena;

  struct backoff *backoff;
  size_t n_backoff;
  bool ready;
  bool stopping;
  bool closed;

  /* What the status API and metrics serve: the last pass, as JSON. */
  json_object *status;
  uint64_t passes;
  uint64_t pass_failures;
  double pass_seconds_sum;
  double pass_cpu_seconds_sum;
  double last_pass_seconds;
  double last_pass_cpu_seconds;
  uint64_t pass_started_ms;
  double pass_started_cpu; /* the loop thread's CPU time, seconds */
  int64_t last_fetch_ok_unix;
  char last_fetch_error[1100];
  size_t bakes_in_flight;
  size_t refreshes_in_flight;

  struct kiln_history *history; /* NULL: not recording */
  struct kiln_http_server *http;
  struct kiln_webhook_secret secret;
};

static void http_start(struct daemon *d);
static void http_stop(struct daemon *d);
static void reload_secret(struct daemon *d);

/* ---- logs: one JSON object per line on stderr ---------------------------- */

static void logj(const char *level, const char *app, const char *commit,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void logj(const char *level, const char *app, const char *commit,
                 const char *fmt, ...)
{
  char msg[2048], ts[96];
  struct timespec now;
  struct tm tm;
  va_list ap;
  json_object *o = json_object_new_object();

  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, now.tv_nsec / 1000000);
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  json_object_object_add(o, "ts", json_object_new_string(ts));
  json_object_object_add(o, "level", json_object_new_string(level));
  if (app != NULL)
    json_object_object_add(o, "app", json_object_new_string(app));
  if (commit != NULL && commit[0] != '\0')
    json_object_object_add(o, "commit", json_object_new_string(commit));
  json_object_object_add(o, "msg", json_object_new_string(msg));
  fprintf(stderr, "%s\n",
          json_object_to_json_string_ext(
              o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  fflush(stderr);
  json_object_put(o);
}

/* ---- systemd: Type=notify readiness and the watchdog ---- */

/* Sends a state line to $NOTIFY_SOCKET, as sd_notify(3) does; a no-op when
 * not run by systemd. */
static void sd_notify_state(const char *state)
{
  const char *path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  socklen_t len;
  int fd;

  if (path == NULL || (path[0] != '/' && path[0] != '@') ||
      strlen(path) >= sizeof(addr.sun_path))
    return;
  memcpy(addr.sun_path, path, strlen(path));
  if (path[0] == '@')
    addr.sun_path[0] = '\0'; /* abstract namespace */
  len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, len);
  close(fd);
}

static void on_watchdog(uv_timer_t *t)
{
  sd_notify_state("WATCHDOG=1");
}

/* With WatchdogSec= set, systemd expects a ping at least every
 * WATCHDOG_USEC; ping at half of it, from the loop, so a stuck loop is
 * noticed. */
static void start_watchdog(struct daemon *d)
{
  const char *usec = getenv("WATCHDOG_USEC");
  unsigned long long us = usec != NULL ? strtoull(usec, NULL, 10) : 0;
  if (us == 0)
    return;
  uv_timer_start(&d->watchdog_timer, on_watchdog, us / 2000 + 1, us / 2000 + 1);
}

/* ---- per-app backoff ---- */

static struct backoff *backoff_of(struct daemon *d, const char *app)
{
  struct backoff *b;
  for (size_t i = 0; i < d->n_backoff; i++)
    if (strcmp(d->backoff[i].app, app) == 0)
      return &d->backoff[i];
  b = realloc(d->backoff, (d->n_backoff + 1) * sizeof(*b));
  if (b == NULL)
    return NULL;
  d->backoff = b;
  b = &d->backoff[d->n_backoff];
  b->app = strdup(app);
  if (b->app == NULL)
    return NULL;
  b->failures = 0;
  b->next_ms = 0;
  d->n_backoff++;
  return b;
}

static bool may_act(void *arg, const char *app)
{
  struct daemon *d = arg;
  struct backoff *b = backoff_of(d, app);
  return b == NULL || uv_now(&d->s.loop) >= b->next_ms;
}

/* 5 s, 10 s, 20 s ... up to 10 min, each with up to half of it as jitter so
 * that apps failing together do not retry together. */
static uint64_t backoff_ms(unsigned failures)
{
  uint64_t ms = BACKOFF_MIN_MS;
  unsigned char r = 0;
  for (unsigned i = 1; i < failures && ms < BACKOFF_MAX_MS; i++)
    ms *= 2;
  if (ms > BACKOFF_MAX_MS)
    ms = BACKOFF_MAX_MS;
  RAND_bytes(&r, 1);
  return ms / 2 + (ms / 2) * r / 255;
}

static void reset_backoff(struct daemon *d)
{
  for (size_t i = 0; i < d->n_backoff; i++) {
    d->backoff[i].failures = 0;
    d->backoff[i].next_ms = 0;
  }
}

/* ---- scheduling ---- */

static void start_pass(struct daemon *d);
static void lag_stop(struct daemon *d);
static void start_fetch(struct daemon *d);
static void shutdown_now(struct daemon *d);

static void on_pass_timer(uv_timer_t *t)
{
  start_pass(t->data);
}

static void on_fetch_timer(uv_timer_t *t)
{
  start_fetch(t->data);
}

/* Runs a pass after delay_ms, or sooner if one is already due sooner. */
static void schedule_pass(struct daemon *d, uint64_t delay_ms)
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

/* ---- fetch, on the thread pool ---- */

static void fetch_work(uv_work_t *w)
{
  struct daemon *d = w->data;
  kiln_session_fetch_snapshot(&d->s.source, d->opts.ref, &d->fetched);
}

/* A new tip that does not contain the old one means history was rewritten
 * (a force-push): the new tip wins, and people should know. */
static bool rewritten(struct daemon *d, const char *old_commit,
                      const char *new_commit)
{
  git_repository *repo = NULL;
  git_oid old_id, new_id;
  bool result = false;
  if (git_oid_fromstr(&old_id, old_commit) != 0 ||
      git_oid_fromstr(&new_id, new_commit) != 0 ||
      git_repository_open(&repo, d->s.source.repo_path) != 0)
    return false;
  result = git_graph_descendant_of(repo, &new_id, &old_id) == 0;
  git_repository_free(repo);
  return result;
}

static void fetch_done(uv_work_t *w, int status)
{
  struct daemon *d = w->data;
  struct kiln_snapshot *snap = &d->fetched;
  char old[41];

  d->fetching = false;
  if (d->stopping) {
    kiln_snapshot_cleanup(snap);
    shutdown_now(d);
    return;
  }
  if (status != 0 || snap->err != 0) {
    uint64_t retry = backoff_ms(++d->fetch_failures);
    snprintf(d->last_fetch_error, sizeof(d->last_fetch_error), "%s",
             snap->why[0] != '\0' ? snap->why : kiln_strerror(snap->err));
    if (retry > d->opts.interval_ms)
      retry = d->opts.interval_ms;
    logj("error", NULL, d->s.commit,
         "fetch of %s failed (%u in a row): %s; %s in force, next try in %llu "
         "ms",
         d->s.source.display, d->fetch_failures,
         snap->why[0] != '\0' ? snap->why : kiln_strerror(snap->err),
         d->s.commit[0] != '\0' ? "the last good commit stays"
                                : "no desired state yet",
         (unsigned long long)retry);
    kiln_snapshot_cleanup(snap);
    uv_timer_start(&d->fetch_timer, on_fetch_timer, retry, 0);
    return;
  }
  if (d->fetch_failures > 0)
    logj("info", NULL, snap->commit,
         "fetch of %s works again after %u failures", d->s.source.display,
         d->fetch_failures);
  d->fetch_failures = 0;
  d->last_fetch_error[0] = '\0';
  d->last_fetch_ok_unix = (int64_t)time(NULL);
  uv_timer_start(&d->fetch_timer, on_fetch_timer, d->opts.interval_ms, 0);

  if (strcmp(snap->commit, d->s.commit) == 0) {
    kiln_snapshot_cleanup(snap);
    return;
  }
  memcpy(old, d->s.commit, sizeof(old));
  if (old[0] != '\0' && rewritten(d, old, snap->commit))
    logj("warn", NULL, snap->commit,
         "history was rewritten: the new tip does not contain %.12s; the new "
         "tip is the desired state",
         old);
  for (size_t i = 0; i < snap->diags.n; i++)
    logj("error", snap->diags.items[i].app, snap->commit,
         "invalid spec, never applied: %s:%d:%d: %s", snap->diags.items[i].file,
         snap->diags.items[i].line, snap->diags.items[i].col,
         snap->diags.items[i].message);
  if (kiln_session_adopt(&d->s, snap) != 0) {
    logj("error", NULL, snap->commit, "cannot prepare AWS clients; retrying");
    kiln_snapshot_cleanup(snap);
    return;
  }
  logj("info", NULL, d->s.commit, "desired state is now commit %s%s%.12s",
       d->s.commit, old[0] != '\0' ? ", was " : "", old);
  /* Git changed: apps that were backing off get a fresh start. */
  reset_backoff(d);
  schedule_pass(d, 0);
}

static void start_fetch(struct daemon *d)
{
  if (d->fetching || d->stopping)
    return;
  d->fetching = true;
  d->work.data = d;
  if (uv_queue_work(&d->s.loop, &d->work, fetch_work, fetch_done) != 0) {
    d->fetching = false;
    logj("error", NULL, NULL, "cannot queue a fetch");
  }
}

/* ---- passes ---- */

/* CPU time of the calling thread: a pass runs on the loop's thread (git
 * fetches run on the thread pool and are not counted). */
static double thread_cpu_seconds(void)
{
  struct timespec ts;

  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return 0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t backoff_left(void *arg, const char *app)
{
  struct daemon *d = arg;
  struct backoff *b = backoff_of(d, app);
  uint64_t now = uv_now(&d->s.loop);

  return b != NULL && b->next_ms > now ? b->next_ms - now : 0;
}

static uint64_t next_pass_ms(struct daemon *d, struct kiln_session_result *r)
{
  struct kiln_schedule sched = {.resync_ms = d->opts.resync_ms,
                                .bake_poll_ms = d->opts.bake_poll_ms,
                                .refresh_poll_ms = d->opts.refresh_poll_ms,
                                .after_step_ms = AFTER_STEP_MS};

  return kiln_schedule_next_pass_ms(&sched, r->apps, r->n, backoff_left, d);
}

/* The last pass as the status API shows it ({"commit", "apps": [...]},
 * statuses as in kiln plan), and the counts metrics report. */
static void keep_status(struct daemon *d, struct kiln_session_result *r)
{
  struct kiln_plan *plans = kiln_session_plans(r);
  if (plans == NULL)
    return;
  d->bakes_in_flight = d->refreshes_in_flight = 0;
  for (size_t i = 0; i < r->n; i++) {
    d->bakes_in_flight += plans[i].action.type == KILN_ACTION_WAIT_BAKE ||
                          plans[i].action.type == KILN_ACTION_BAKE;
    d->refreshes_in_flight +=
        plans[i].action.type == KILN_ACTION_WAIT_REFRESH ||
        plans[i].action.type == KILN_ACTION_REFRESH_START ||
        r->apps[i].started_refresh_id != NULL;
  }
  json_object_put(d->status);
  d->status = kiln_report_plans_json(d->s.commit, plans, r->n);
  if (r->error != NULL)
    json_object_object_add(d->status, "error",
                           json_object_new_string(r->error));
  free(plans);
}

static void pass_done(struct kiln_session *s, struct kiln_session_result *r,
                      void *data)
{
  struct daemon *d = data;
  uint64_t now = uv_now(&s->loop);

  d->passing = false;
  d->passes++;
  d->last_pass_seconds = (double)(now - d->pass_started_ms) / 1000.0;
  d->last_pass_cpu_seconds = thread_cpu_seconds() - d->pass_started_cpu;
  d->pass_seconds_sum += d->last_pass_seconds;
  d->pass_cpu_seconds_sum += d->last_pass_cpu_seconds;
  if (d->stopping) {
    shutdown_now(d);
    return;
  }
  keep_status(d, r);
  if (d->history != NULL &&
      kiln_history_record_pass(d->history, s->commit, r->apps, r->n,
                               (int64_t)time(NULL) * 1000) != 0)
    logj("warn", NULL, s->commit, "history not recorded: %s",
         kiln_history_errmsg(d->history));
  lag_stop(d);
  if (r->error != NULL) {
    d->pass_failures++;
    logj("error", NULL, s->commit, "%s; the next pass tries again", r->error);
    schedule_pass(d, backoff_ms(2));
    return;
  }
  if (!d->ready) {
    d->ready = true;
    logj("info", NULL, s->commit, "ready: first fetch and observation done");
    sd_notify_state("READY=1");
  }
  for (size_t i = 0; i < r->n; i++) {
    struct kiln_pass_app *a = &r->apps[i];
    struct backoff *b = backoff_of(d, a->spec->name);
    if (a->executed) {
      logj(a->exec_err != 0     ? "error"
           : a->follow_err != 0 ? "warn"
                                : "info",
           a->spec->name, s->commit, "%s",
           a->outcome != NULL ? a->outcome : "?");
      if (b != NULL && a->exec_err != 0) {
        b->failures++;
        b->next_ms = now + backoff_ms(b->failures);
      } else if (b != NULL) {
        b->failures = 0;
        b->next_ms = 0;
      }
    } else if (a->plan.status != KILN_STATUS_IN_SYNC) {
      logj(a->plan.status == KILN_STATUS_ERROR ? "error" : "info",
           a->spec->name, s->commit, "%s: %s",
           kiln_plan_status_name(a->plan.status), a->plan.message);
    }
  }
  schedule_pass(d, d->pass_again ? 0 : next_pass_ms(d, r));
  d->pass_again = false;
}

static void on_lag_tick(uv_timer_t *t)
{
  struct daemon *d = t->data;
  uint64_t now = uv_hrtime();
  kiln_loop_lag_add(&d->lag, d->lag_due_ns, now);
  d->lag_due_ns = now + KILN_LOOP_LAG_TICK_MS * 1000000ull;
  uv_timer_start(&d->lag_timer, on_lag_tick, KILN_LOOP_LAG_TICK_MS, 0);
}

static void lag_start(struct daemon *d)
{
  kiln_loop_lag_reset(&d->lag);
  d->lag_due_ns = uv_hrtime() + KILN_LOOP_LAG_TICK_MS * 1000000ull;
  uv_timer_start(&d->lag_timer, on_lag_tick, KILN_LOOP_LAG_TICK_MS, 0);
}

static void lag_stop(struct daemon *d)
{
  uv_timer_stop(&d->lag_timer);
  d->last_pass_lag = d->lag;
}

static void start_pass(struct daemon *d)
{
  if (d->passing || d->stopping || d->s.repo == NULL)
    return;
  kiln_arena_cleanup(&d->arena);
  kiln_arena_init(&d->arena, 0);
  d->passing = true;
  d->pass_started_ms = uv_now(&d->s.loop);
  d->pass_started_cpu = thread_cpu_seconds();
  lag_start(d);
  if (kiln_session_pass(&d->s, true, &d->arena, pass_done, d) != 0) {
    d->passing = false;
    logj("error", NULL, d->s.commit, "cannot start a pass: out of memory");
    schedule_pass(d, BACKOFF_MIN_MS);
  }
}

/* ---- stopping ---- */

static void shutdown_now(struct daemon *d)
{
  if (d->closed)
    return;
  d->closed = true;
  http_stop(d);
  uv_close((uv_handle_t *)&d->fetch_timer, NULL);
  uv_close((uv_handle_t *)&d->pass_timer, NULL);
  uv_close((uv_handle_t *)&d->stop_timer, NULL);
  uv_close((uv_handle_t *)&d->watchdog_timer, NULL);
  uv_close((uv_handle_t *)&d->lag_timer, NULL);
  uv_close((uv_handle_t *)&d->sig_term, NULL);
  uv_close((uv_handle_t *)&d->sig_int, NULL);
  uv_close((uv_handle_t *)&d->sig_hup, NULL);
  uv_stop(&d->s.loop);
}

static void on_stop_grace(uv_timer_t *t)
{
  struct daemon *d = t->data;
  logj("warn", NULL, d->s.commit,
       "work still in flight after %d ms; stopping anyway", STOP_GRACE_MS);
  shutdown_now(d);
}

static void on_signal(uv_signal_t *h, int signum)
{
  struct daemon *d = h->data;
  if (signum == SIGHUP) {
    reload_secret(d);
    return;
  }
  if (d->stopping)
    return;
  d->stopping = true;
  sd_notify_state("STOPPING=1");
  logj("info", NULL, d->s.commit, "%s: stopping; in-flight work may finish",
       signum == SIGTERM ? "SIGTERM" : "SIGINT");
  uv_timer_stop(&d->fetch_timer);
  uv_timer_stop(&d->pass_timer);
  if (!d->passing && !d->fetching) {
    shutdown_now(d);
    return;
  }
  uv_timer_start(&d->stop_timer, on_stop_grace, STOP_GRACE_MS, 0);
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

int kiln_daemon_run(const struct kiln_daemon_options *opts)
{
  struct daemon *d = calloc(1, sizeof(*d));
  char repos[1024];
  int rc = 1;

  if (d == NULL)
    return 1;
  d->opts = *opts;
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
  kiln_arena_init(&d->arena, 0);
  uv_timer_init(&d->s.loop, &d->fetch_timer);
  uv_timer_init(&d->s.loop, &d->pass_timer);
  uv_timer_init(&d->s.loop, &d->stop_timer);
  uv_timer_init(&d->s.loop, &d->watchdog_timer);
  uv_timer_init(&d->s.loop, &d->lag_timer);
  d->lag_timer.data = d;
  d->fetch_timer.data = d->pass_timer.data = d->stop_timer.data = d;
  uv_signal_init(&d->s.loop, &d->sig_term);
  uv_signal_init(&d->s.loop, &d->sig_int);
  uv_signal_init(&d->s.loop, &d->sig_hup);
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
  uv_signal_start(&d->sig_term, on_signal, SIGTERM);
  uv_signal_start(&d->sig_int, on_signal, SIGINT);
  uv_signal_start(&d->sig_hup, on_signal, SIGHUP);

  kiln_webhook_secret_init(&d->secret);
  {
    char why[KILN_HISTORY_ERRMAX];
    if (kiln_history_open(opts->state_dir, &d->history, why, sizeof(why)) !=
        0) {
      logj("warn", NULL, NULL, "history disabled: %s", why);
      d->history = NULL;
    }
  }
  if (opts->webhook_secret_file != NULL)
    reload_secret(d);
  if (opts->listen != NULL) {
    http_start(d);
    if (d->http == NULL)
      goto done;
  }
  logj("info", NULL, NULL,
       "kiln %s starting: repo %s, fetch every %llu ms, resync every %llu ms",
       KILN_VERSION, d->s.source.display, (unsigned long long)opts->interval_ms,
       (unsigned long long)opts->resync_ms);
  start_watchdog(d);
  start_fetch(d);
  uv_run(&d->s.loop, UV_RUN_DEFAULT);
  logj("info", NULL, d->s.commit, "stopped");
  rc = 0;
done:
  if (!d->closed && d->s.loop_open) {
    /* Could not start: close what was opened before the loop ran. */
    shutdown_now(d);
  }
  kiln_session_close(&d->s);
  kiln_history_close(d->history);
  kiln_webhook_secret_cleanup(&d->secret);
  json_object_put(d->status);
  kiln_snapshot_cleanup(&d->fetched);
  kiln_arena_cleanup(&d->arena);
  for (size_t i = 0; i < d->n_backoff; i++)
    free(d->backoff[i].app);
  free(d->backoff);
  free(d);
  return rc;
}

/* ---- HTTP: health, status API, metrics, webhooks ---- */

static void reload_secret(struct daemon *d)
{
  char why[512];
  if (d->opts.webhook_secret_file == NULL) {
    logj("info", NULL, d->s.commit, "SIGHUP: no webhook secret file to read");
    return;
  }
  if (kiln_webhook_secret_load(&d->secret, d->opts.webhook_secret_file, why,
                               sizeof(why)) != 0)
    logj("error", NULL, d->s.commit,
         "webhook secret not (re)loaded, the previous one stays: %s", why);
  else
    logj("info", NULL, d->s.commit, "webhook secret loaded from %s",
         d->opts.webhook_secret_file);
}

static void metric(struct kiln_buf *b, const char *name, const char *type,
                   const char *help)
{
  kiln_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric without labels: its HELP and TYPE lines and its one sample,
 * the value formatted by fmt. */
static void metric_sample(struct kiln_buf *b, const char *name,
                          const char *type, const char *help, const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));
static void metric_sample(struct kiln_buf *b, const char *name,
                          const char *type, const char *help, const char *fmt,
                          ...)
{
  va_list ap;
  metric(b, name, type, help);
  kiln_buf_printf(b, "%s ", name);
  va_start(ap, fmt);
  kiln_buf_vprintf(b, fmt, ap);
  va_end(ap);
  kiln_buf_puts(b, "\n");
}

/* Label values are escaped as the Prometheus text format asks. */
static void label_value(struct kiln_buf *b, const char *v)
{
  for (; v != NULL && *v != '\0'; v++) {
    if (*v == '\\' || *v == '"')
      kiln_buf_printf(b, "\\%c", *v);
    else if (*v == '\n')
      kiln_buf_puts(b, "\\n");
    else
      kiln_buf_append(b, v, 1);
  }
}

/* A "Name:   N kB" line of /proc/self/status, in bytes; -1 if absent. */
static long long proc_status_bytes(const char *name)
{
  char line[256];
  size_t len = strlen(name);
  long long v = -1;
  FILE *f = fopen("/proc/self/status", "r");

  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL)
    if (strncmp(line, name, len) == 0 && line[len] == ':') {
      v = strtoll(line + len + 1, NULL, 10) * 1024;
      break;
    }
  fclose(f);
  return v;
}

/* The Prometheus client libraries' process_* metrics (memory from
 * /proc: getrusage's peak would include a parent's before exec). */
static void process_metrics(struct kiln_buf *b)
{
  struct rusage ru;
  long long rss = proc_status_bytes("VmRSS"), peak = proc_status_bytes("VmHWM");

  if (getrusage(RUSAGE_SELF, &ru) == 0)
    metric_sample(b, "process_cpu_seconds_total", "counter",
                  "User and system CPU time of the process.", "%.3f",
                  (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) /
                          1e6);
  if (rss >= 0)
    metric_sample(b, "process_resident_memory_bytes", "gauge",
                  "Resident memory of the process.", "%lld", rss);
  if (peak >= 0)
    metric_sample(b, "process_max_resident_memory_bytes", "gauge",
                  "Peak resident memory of the process.", "%lld", peak);
}

static void metrics(struct daemon *d, struct kiln_buf *b)
{
  json_object *apps = NULL;

  metric_sample(b, "kiln_reconcile_passes_total", "counter",
                "Reconcile passes run.", "%llu", (unsigned long long)d->passes);
  metric_sample(b, "kiln_reconcile_failures_total", "counter",
                "Passes that could not observe AWS.", "%llu",
                (unsigned long long)d->pass_failures);
  metric_sample(b, "kiln_reconcile_duration_seconds_sum", "counter",
                "Time spent in passes.", "%.3f", d->pass_seconds_sum);
  metric_sample(b, "kiln_reconcile_cpu_seconds_sum", "counter",
                "CPU time the passes took (observing, planning, executing).",
                "%.6f", d->pass_cpu_seconds_sum);
  metric_sample(b, "kiln_last_pass_duration_seconds", "gauge",
                "How long the last pass took.", "%.6f", d->last_pass_seconds);
  metric_sample(b, "kiln_last_pass_cpu_seconds", "gauge",
                "CPU time of the last pass.", "%.6f", d->last_pass_cpu_seconds);
  metric_sample(
      b, "kiln_last_pass_loop_lag_p99_seconds", "gauge",
      "How late a 10 ms timer fired during the last pass, 99th "
      "percentile: blocking work on the loop's thread.",
      "%.6f", (double)kiln_loop_lag_percentile_us(&d->last_pass_lag, 99) / 1e6);
  metric_sample(b, "kiln_last_pass_loop_lag_max_seconds", "gauge",
                "How late a 10 ms timer fired during the last pass, at most.",
                "%.6f", (double)d->last_pass_lag.max_us / 1e6);
  process_metrics(b);
  metric_sample(b, "kiln_bakes_in_flight", "gauge", "Apps baking an image.",
                "%zu", d->bakes_in_flight);
  metric_sample(b, "kiln_refreshes_in_flight", "gauge",
                "Apps with an instance refresh under way.", "%zu",
                d->refreshes_in_flight);
  metric_sample(b, "kiln_last_fetch_success_timestamp_seconds", "gauge",
                "Unix time of the last successful git fetch.", "%lld",
                (long long)d->last_fetch_ok_unix);
  metric_sample(b, "kiln_fetch_failing", "gauge",
                "1 while the git remote cannot be fetched.", "%d",
                d->fetch_failures > 0);
  metric(b, "kiln_commit_info", "gauge", "The commit being applied.");
  kiln_buf_puts(b, "kiln_commit_info{commit=\"");
  label_value(b, d->s.commit);
  kiln_buf_puts(b, "\"} 1\n");

  metric(b, "kiln_aws_requests_total", "counter",
         "AWS calls by service, action and outcome.");
  for (size_t r = 0; r < d->s.n_regions; r++) {
    const struct kiln_aws_action_stats *st = NULL;
    size_t n = kiln_aws_client_stats(d->s.regions[r].client, &st);
    for (size_t i = 0; i < n; i++)
      for (int o = 0; o < KILN_AWS_OUTCOME_COUNT; o++)
        if (st[i].calls[o] > 0)
          kiln_buf_printf(
              b,
              "kiln_aws_requests_total{region=\"%s\",service=\"%s\","
              "action=\"%s\",outcome=\"%s\"} %llu\n",
              kiln_aws_client_region(d->s.regions[r].client),
              kiln_aws_service_info(st[i].service) != NULL
                  ? kiln_aws_service_info(st[i].service)->signing_name
                  : "?",
              st[i].action, kiln_aws_outcome_name((enum kiln_aws_outcome)o),
              (unsigned long long)st[i].calls[o]);
  }
  metric(b, "kiln_aws_pace_requests_per_second", "gauge",
         "The pace Kiln keeps per AWS action: its share of the published "
         "bucket, lowered while AWS throttles.");
  for (size_t r = 0; r < d->s.n_regions; r++) {
    const struct kiln_aws_client *c = d->s.regions[r].client;
    const struct kiln_aws_action_stats *st = NULL;
    size_t n = kiln_aws_client_stats(c, &st);
    for (size_t i = 0; i < n; i++) {
      double pace = kiln_aws_client_pace(c, st[i].service, st[i].action);
      if (pace > 0)
        kiln_buf_printf(b,
                        "kiln_aws_pace_requests_per_second{region=\"%s\","
                        "service=\"%s\",action=\"%s\"} %g\n",
                        kiln_aws_client_region(c),
                        kiln_aws_service_info(st[i].service) != NULL
                            ? kiln_aws_service_info(st[i].service)->signing_name
                            : "?",
                        st[i].action, pace);
    }
  }

  metric(b, "kiln_drift", "gauge",
         "1 per app and field that differs from git.");
  if (d->status != NULL &&
      json_object_object_get_ex(d->status, "apps", &apps)) {
    for (size_t i = 0; i < json_object_array_length(apps); i++) {
      json_object *app = json_object_array_get_idx(apps, i), *name, *drift;
      json_object_object_get_ex(app, "name", &name);
      json_object_object_get_ex(app, "drift", &drift);
      for (size_t j = 0; drift != NULL && j < json_object_array_length(drift);
           j++) {
        json_object *field, *cause, *e = json_object_array_get_idx(drift, j);
        json_object_object_get_ex(e, "field", &field);
        json_object_object_get_ex(e, "cause", &cause);
        kiln_buf_puts(b, "kiln_drift{app=\"");
        label_value(b, json_object_get_string(name));
        kiln_buf_puts(b, "\",field=\"");
        label_value(b, json_object_get_string(field));
        kiln_buf_puts(b, "\",cause=\"");
        label_value(b, json_object_get_string(cause));
        kiln_buf_puts(b, "\"} 1\n");
      }
    }
  }
}

static json_object *find_app(struct daemon *d, const char *name)
{
  json_object *apps;
  if (d->status == NULL || !json_object_object_get_ex(d->status, "apps", &apps))
    return NULL;
  for (size_t i = 0; i < json_object_array_length(apps); i++) {
    json_object *app = json_object_array_get_idx(apps, i), *n;
    if (json_object_object_get_ex(app, "name", &n) &&
        strcmp(json_object_get_string(n), name) == 0)
      return app;
  }
  return NULL;
}

static void serve_drift(struct daemon *d, struct kiln_http_responder *res)
{
  json_object *out = json_object_new_object(), *list = json_object_new_array();
  json_object *apps;
  if (d->status != NULL && json_object_object_get_ex(d->status, "apps", &apps))
    for (size_t i = 0; i < json_object_array_length(apps); i++) {
      json_object *app = json_object_array_get_idx(apps, i), *drift;
      if (json_object_object_get_ex(app, "drift", &drift) &&
          json_object_array_length(drift) > 0)
        json_object_array_add(list, json_object_get(app));
    }
  json_object_object_add(out, "commit", json_object_new_string(d->s.commit));
  json_object_object_add(out, "apps", list);
  kiln_http_server_respond_json(res, 200, out);
  json_object_put(out);
}

/* GET /api/v1/history[?app=NAME][&limit=N]: the newest releases first. */
#define HISTORY_DEFAULT_LIMIT 200
#define HISTORY_MAX_LIMIT     1000

static void serve_history(struct daemon *d, const char *query,
                          struct kiln_http_responder *res)
{
  struct kiln_arena a;
  struct kiln_history_release *rel = NULL;
  size_t n = 0;
  char app[128] = "", limit_s[16] = "";
  long limit = HISTORY_DEFAULT_LIMIT;
  char *end;
  json_object *out, *list;

  if (d->history == NULL) {
    kiln_http_server_respond_error(res, 503, "history is not recorded");
    return;
  }
  if (kiln_http_query_param(query, "app", app, sizeof(app)) < 0) {
    kiln_http_server_respond_error(res, 400, "app: not an app name");
    return;
  }
  if (kiln_http_query_param(query, "limit", limit_s, sizeof(limit_s)) != 0 &&
      (limit_s[0] < '0' || limit_s[0] > '9' ||
       (limit = strtol(limit_s, &end, 10)) < 1 || limit > HISTORY_MAX_LIMIT ||
       *end != '\0')) {
    kiln_http_server_respond_error(
        res, 400, "limit: a number of releases from 1 to 1000");
    return;
  }
  kiln_arena_init(&a, 0);
  if (kiln_history_releases(d->history, app[0] != '\0' ? app : NULL,
                            (size_t)limit, &a, &rel, &n) != 0) {
    kiln_http_server_respond_error(res, 500, kiln_history_errmsg(d->history));
    kiln_arena_cleanup(&a);
    return;
  }
  out = json_object_new_object();
  list = json_object_new_array();
  for (size_t i = 0; i < n; i++) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "app", json_object_new_string(rel[i].app));
    json_object_object_add(o, "commit", json_object_new_string(rel[i].commit));
    json_object_object_add(o, "digest", json_object_new_string(rel[i].digest));
    json_object_object_add(
        o, "ami",
        rel[i].ami != NULL ? json_object_new_string(rel[i].ami) : NULL);
    json_object_object_add(o, "launch_template_version",
                           json_object_new_int64(rel[i].lt_version));
    json_object_object_add(o, "refresh_id",
                           rel[i].refresh_id != NULL
                               ? json_object_new_string(rel[i].refresh_id)
                               : NULL);
    json_object_object_add(o, "started_at_ms",
                           json_object_new_int64(rel[i].started_at_ms));
    json_object_object_add(o, "ended_at_ms",
                           json_object_new_int64(rel[i].ended_at_ms));
    json_object_object_add(
        o, "outcome",
        json_object_new_string(kiln_history_outcome_name(rel[i].outcome)));
    json_object_array_add(list, o);
  }
  json_object_object_add(out, "releases", list);
  kiln_http_server_respond_json(res, 200, out);
  json_object_put(out);
  kiln_arena_cleanup(&a);
}

/* A hook only ever triggers a fetch: its payload is never trusted. */
static void serve_hook(struct daemon *d, enum kiln_webhook_scheme scheme,
                       struct kiln_http_server_request *req,
                       struct kiln_http_responder *res)
{
  const char *value =
      kiln_http_server_request_header(req, kiln_webhook_header_name(scheme));
  if (kiln_webhook_verify(scheme, &d->secret, value, req->body,
                          req->body_len) != 0) {
    logj("warn", NULL, d->s.commit, "rejected a %s hook from %s: bad signature",
         kiln_webhook_header_name(scheme), req->peer);
    kiln_http_server_respond_error(res, 401, "signature missing or invalid");
    return;
  }
  logj("info", NULL, d->s.commit, "hook from %s: fetching", req->peer);
  uv_timer_stop(&d->fetch_timer);
  start_fetch(d);
  json_object *ack = json_object_new_object();
  json_object_object_add(ack, "fetch", json_object_new_string("started"));
  kiln_http_server_respond_json(res, 202, ack);
  json_object_put(ack);
}

static void on_request(struct kiln_http_server_request *req,
                       struct kiln_http_responder *res, void *data)
{
  struct daemon *d = data;
  bool get = strcmp(req->method, "GET") == 0;
  bool post = strcmp(req->method, "POST") == 0;
  const char *p = req->path;

  if (get && strcmp(p, "/healthz") == 0) {
    kiln_http_server_respond(res,
                             &(struct kiln_http_server_response){
                                 .status = 200, .body = "ok\n", .body_len = 3});
  } else if (get && strcmp(p, "/readyz") == 0) {
    if (d->ready && d->fetch_failures == 0)
      kiln_http_server_respond(
          res, &(struct kiln_http_server_response){
                   .status = 200, .body = "ready\n", .body_len = 6});
    else
      kiln_http_server_respond_error(
          res, 503,
          !d->ready ? "not ready: no fetch and observation yet"
          : d->last_fetch_error[0] != '\0' ? d->last_fetch_error
                                           : "fetch failing");
  } else if (get && strcmp(p, "/metrics") == 0) {
    struct kiln_buf b;
    kiln_buf_init(&b, 0);
    metrics(d, &b);
    kiln_http_server_respond(
        res, &(struct kiln_http_server_response){
                 .status = 200,
                 .content_type = "text/plain; version=0.0.4; charset=utf-8",
                 .body = b.data,
                 .body_len = b.len});
    kiln_buf_cleanup(&b);
  } else if (get && strcmp(p, "/api/v1/apps") == 0) {
    if (d->status == NULL)
      kiln_http_server_respond_error(res, 503, "no pass has run yet");
    else
      kiln_http_server_respond_json(res, 200, d->status);
  } else if (get && strncmp(p, "/api/v1/apps/", 13) == 0) {
    json_object *app = find_app(d, p + 13);
    if (app == NULL)
      kiln_http_server_respond_error(res, 404, "no such app");
    else
      kiln_http_server_respond_json(res, 200, app);
  } else if (get && strcmp(p, "/api/v1/drift") == 0) {
    serve_drift(d, res);
  } else if (get && strcmp(p, "/api/v1/history") == 0) {
    serve_history(d, req->query, res);
  } else if (post && strcmp(p, "/hooks/github") == 0) {
    serve_hook(d, KILN_WEBHOOK_GITHUB, req, res);
  } else if (post && strcmp(p, "/hooks/gitlab") == 0) {
    serve_hook(d, KILN_WEBHOOK_GITLAB, req, res);
  } else if (post && strcmp(p, "/hooks/generic") == 0) {
    serve_hook(d, KILN_WEBHOOK_GENERIC, req, res);
  } else {
    kiln_http_server_respond_error(res, 404, "not found");
  }
}

static void on_http_log(enum kiln_http_server_log_level level, const char *msg,
                        void *data)
{
  static const char *const names[] = {"debug", "info", "warn", "error"};
  struct daemon *d = data;
  if (level >= KILN_HTTP_SERVER_LOG_WARN)
    logj(names[level], NULL, d->s.commit, "http: %s", msg);
}

static void http_start(struct daemon *d)
{
  int err = kiln_http_server_start(
      &d->s.loop,
      &(struct kiln_http_server_options){.listen = d->opts.listen,
                                         .handler = on_request,
                                         .handler_data = d,
                                         .log = on_http_log,
                                         .log_data = d},
      &d->http);
  if (err != 0) {
    fprintf(stderr, "kiln run: cannot listen on %s: %s\n", d->opts.listen,
            kiln_strerror(err));
    d->http = NULL;
    return;
  }
  logj("info", NULL, NULL, "listening on %s (port %d)", d->opts.listen,
       kiln_http_server_port(d->http));
}

static void http_stop(struct daemon *d)
{
  if (d->http != NULL)
    kiln_http_server_close(d->http, NULL, NULL);
  d->http = NULL;
}
