#include "daemon.h"
#include "session.h"

#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/report.h"

#include <git2.h>
#include <json-c/json.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
};

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

/* ---- per-app backoff ------------------------------------------------------
 */

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

/* ---- scheduling -----------------------------------------------------------
 */

static void start_pass(struct daemon *d);
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

/* ---- fetch, on the thread pool --------------------------------------------
 */

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
  uv_timer_start(&d->fetch_timer, on_fetch_timer, d->opts.interval_ms, 0);

  if (strcmp(snap->commit, d->s.commit) == 0) {
    kiln_snapshot_cleanup(snap);
    return;
  }
  memcpy(old, d->s.commit, sizeof(old));
  if (old[0] != '\0' && !rewritten(d, old, snap->commit))
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

/* ---- passes ---------------------------------------------------------------
 */

static uint64_t next_pass_ms(struct daemon *d, struct kiln_session_result *r)
{
  uint64_t ms = d->opts.resync_ms;
  for (size_t i = 0; i < r->n; i++) {
    const struct kiln_pass_app *a = &r->apps[i];
    uint64_t want = ms;
    if (a->executed && a->exec_err == 0)
      want = AFTER_STEP_MS;
    else if (a->plan.action.type == KILN_ACTION_WAIT_REFRESH)
      want = d->opts.refresh_poll_ms;
    else if (a->plan.action.type == KILN_ACTION_WAIT_BAKE)
      want = d->opts.bake_poll_ms;
    else if (a->executed || (a->plan.mutates && !a->executed)) {
      /* Backing off: come back when the earliest backoff ends. */
      struct backoff *b = backoff_of(d, a->spec->name);
      uint64_t now = uv_now(&d->s.loop);
      if (b != NULL && b->next_ms > now)
        want = b->next_ms - now;
    }
    if (want < ms)
      ms = want;
  }
  return ms;
}

static void pass_done(struct kiln_session *s, struct kiln_session_result *r,
                      void *data)
{
  struct daemon *d = data;
  uint64_t now = uv_now(&s->loop);

  d->passing = false;
  if (d->stopping) {
    shutdown_now(d);
    return;
  }
  if (r->error != NULL) {
    logj("error", NULL, s->commit, "%s; the next pass tries again", r->error);
    schedule_pass(d, backoff_ms(2));
    return;
  }
  if (!d->ready) {
    d->ready = true;
    logj("info", NULL, s->commit, "ready: first fetch and observation done");
  }
  for (size_t i = 0; i < r->n; i++) {
    struct kiln_pass_app *a = &r->apps[i];
    struct backoff *b = backoff_of(d, a->spec->name);
    if (a->executed) {
      logj(a->exec_err != 0 ? "error" : "info", a->spec->name, s->commit, "%s",
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

static void start_pass(struct daemon *d)
{
  if (d->passing || d->stopping || d->s.repo == NULL)
    return;
  kiln_arena_cleanup(&d->arena);
  kiln_arena_init(&d->arena, 0);
  d->passing = true;
  if (kiln_session_pass(&d->s, true, &d->arena, pass_done, d) != 0) {
    d->passing = false;
    logj("error", NULL, d->s.commit, "cannot start a pass: out of memory");
    schedule_pass(d, BACKOFF_MIN_MS);
  }
}

/* ---- stopping -------------------------------------------------------------
 */

static void shutdown_now(struct daemon *d)
{
  if (d->closed)
    return;
  d->closed = true;
  uv_close((uv_handle_t *)&d->fetch_timer, NULL);
  uv_close((uv_handle_t *)&d->pass_timer, NULL);
  uv_close((uv_handle_t *)&d->stop_timer, NULL);
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
    logj("info", NULL, d->s.commit, "SIGHUP: configuration re-read");
    return;
  }
  if (d->stopping)
    return;
  d->stopping = true;
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

/* ---- entry ----------------------------------------------------------------
 */

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
  d->fetch_timer.data = d->pass_timer.data = d->stop_timer.data = d;
  uv_signal_init(&d->s.loop, &d->sig_term);
  uv_signal_init(&d->s.loop, &d->sig_int);
  uv_signal_init(&d->s.loop, &d->sig_hup);
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
  uv_signal_start(&d->sig_term, on_signal, SIGTERM);
  uv_signal_start(&d->sig_int, on_signal, SIGINT);
  uv_signal_start(&d->sig_hup, on_signal, SIGHUP);

  logj("info", NULL, NULL,
       "kiln %s starting: repo %s, fetch every %llu ms, resync every %llu ms",
       KILN_VERSION, d->s.source.display, (unsigned long long)opts->interval_ms,
       (unsigned long long)opts->resync_ms);
  start_fetch(d);
  uv_run(&d->s.loop, UV_RUN_DEFAULT);
  logj("info", NULL, d->s.commit, "stopped");
  rc = 0;
done:
  kiln_session_close(&d->s);
  kiln_snapshot_cleanup(&d->fetched);
  kiln_arena_cleanup(&d->arena);
  for (size_t i = 0; i < d->n_backoff; i++)
    free(d->backoff[i].app);
  free(d->backoff);
  free(d);
  return rc;
}
