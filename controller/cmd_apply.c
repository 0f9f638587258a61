/* kiln apply --repo SRC [--ref REF] [--app NAME] [--wait] [--timeout DUR]
 *            [--state-dir DIR] */
#include "cli.h"
#include "history_proofs.h"
#include "step_retry.h"
#include "session.h"

#include "kiln/arena.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/history.h"
#include "kiln/release.h"
#include "kiln/paths.h"
#include "kiln/report.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "Usage: kiln apply --repo SRC [--ref REF] [--app NAME] [--env NAME]\n"
    "                  [--wait] [--timeout DUR] [--interval DUR]\n"
    "                  [--state-dir DIR]\n"
    "\n"
    "Converges AWS to the desired state committed at REF of SRC: bakes the\n"
    "images git asks for (once per distinct input), creates launch template\n"
    "versions and rolls them out with instance refreshes. Each pass observes\n"
    "AWS again and takes one step per app (a group's step follows its launch\n"
    "template's at once), so it is safe to stop and run again at any point.\n"
    "\n"
    "Options:\n"
    "  --repo SRC      a path, file://, https://, ssh:// or git@host:path\n"
    "  --ref REF       branch, tag or commit (default: the default branch)\n"
    "  --app NAME      only this app (or one environment of it: APP/ENV)\n"
    "  --env NAME      only this environment of each app\n"
    "  --wait          keep passing until every app is in sync or failed\n"
    "  --timeout DUR   give up waiting after DUR (default 60m), e.g. 90s, 2h\n"
    "  --interval DUR  time between passes while waiting (default 5s; passes\n"
    "                  right after a step come sooner)\n"
    "  --state-dir DIR where releases and drift are recorded for `kiln\n"
    "                  history` (default: $KILN_STATE_DIR, else\n"
    "                  $XDG_STATE_HOME/kiln, else ~/.local/state/kiln)\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 converged (or, without --wait, the pass went through),\n"
    "1 an app failed or the wait timed out (the reason is printed per app),\n"
    "64 usage.\n";

struct apply_run {
  struct kiln_session *s;
  bool wait;
  uint64_t timeout_ms;
  uint64_t interval_ms;
  uint64_t start_ms;
  uv_timer_t timer;
  struct kiln_arena arena; /* one pass's memory */
  int passes;
  int rc;
  /* What was last printed per app, so progress lines say what changed. */
  char **last;
  char *last_error;
  struct kiln_step_retry retry; /* failing steps wait, then give up */
  size_t n_apps;
  struct kiln_history *history; /* NULL: not recorded */
  bool history_warned;
  struct kiln_proofs proofs; /* promotion proofs from history */
};

static int find_index(struct apply_run *run, const char *name)
{
  for (size_t i = 0; i < run->s->repo->n_apps; i++)
    if (strcmp(run->s->repo->apps[i].name, name) == 0)
      return (int)i;
  return -1;
}

static void say(struct apply_run *run, const char *app, const char *text)
{
  double t = (double)(uv_now(&run->s->loop) - run->start_ms) / 1000.0;
  int i = find_index(run, app);
  if (i >= 0 && run->last[i] != NULL && strcmp(run->last[i], text) == 0)
    return;
  printf("[%6.1fs] %s: %s\n", t, app, text);
  fflush(stdout);
  if (i >= 0) {
    free(run->last[i]);
    run->last[i] = strdup(text);
  }
}

static void start_pass(struct apply_run *run);

/* "rolling-out: rolling out 50% — waiting at checkpoint 50% until 14:05:00
 * UTC (version 4, instance refresh R)": a release under way (or being
 * rolled back) in time; anything else as the plan says it. */
static const char *progress_line(struct apply_run *run,
                                 const struct kiln_plan *p)
{
  const struct kiln_release *r = &p->release;
  const char *where = NULL;
  if ((p->status == KILN_STATUS_ROLLING_OUT || p->status == KILN_STATUS_BAKING ||
       r->state == KILN_RELEASE_ROLLING_BACK) &&
      (where = kiln_release_describe(r, time(NULL), &run->arena)) != NULL)
    return kiln_arena_printf(&run->arena, "%s: %s (version %lld, instance "
                                          "refresh %s)",
                             kiln_plan_status_name(p->status), where,
                             (long long)r->version,
                             r->refresh_id != NULL ? r->refresh_id : "?");
  return kiln_arena_printf(&run->arena, "%s: %s", kiln_plan_status_name(p->status),
                           p->message);
}

/* History is a record, not a precondition: when it cannot be written,
 * apply warns once and goes on. */
static void open_history(struct apply_run *run, const char *state_dir)
{
  char dir[PATH_MAX], err[KILN_HISTORY_ERRMAX];
  if (state_dir == NULL &&
      kiln_paths_default_dir(KILN_PATHS_STATE, dir, sizeof(dir)) == 0)
    state_dir = dir;
  if (state_dir == NULL)
    snprintf(err, sizeof(err), "no state directory (set --state-dir)");
  else if (kiln_history_open(state_dir, &run->history, err, sizeof(err)) == 0)
    return;
  fprintf(stderr, "kiln apply: warning: releases are not recorded: %s\n", err);
  run->history_warned = true;
}

/* The promotion proofs history holds now (after the last record), for
 * the next pass's gates. */
static void reload_proofs(struct apply_run *run)
{
  if (run->history == NULL)
    return;
  kiln_proofs_cleanup(&run->proofs);
  run->s->proofs = NULL;
  if (kiln_history_proofs_load(run->history, run->s->repo, &run->proofs) == 0)
    run->s->proofs = &run->proofs;
  else
    kiln_proofs_cleanup(&run->proofs);
}

static void record_history(struct apply_run *run, struct kiln_session_result *r)
{
  uv_timeval64_t tv;
  if (run->history == NULL || r->error != NULL || uv_gettimeofday(&tv) != 0)
    return;
  if (kiln_history_record_pass(run->history, r->commit, r->apps, r->n,
                               tv.tv_sec * 1000 + tv.tv_usec / 1000) != 0 &&
      !run->history_warned) {
    fprintf(stderr, "kiln apply: warning: releases are not recorded: %s\n",
            kiln_history_errmsg(run->history));
    run->history_warned = true;
  }
  reload_proofs(run);
}

static void on_timer(uv_timer_t *t)
{
  start_pass(t->data);
}

static void finish_run(struct apply_run *run, int rc)
{
  run->rc = rc;
  uv_close((uv_handle_t *)&run->timer, NULL);
  uv_stop(&run->s->loop);
}

static void print_summary(struct apply_run *run, struct kiln_session_result *r)
{
  struct kiln_plan *plans = kiln_session_plans(r);
  struct kiln_buf out;

  kiln_buf_init(&out, 0);
  if (plans == NULL)
    fprintf(stderr, "kiln apply: out of memory for the summary\n");
  else if (kiln_report_plans_text(r->commit, plans, r->n, time(NULL), &out) == 0)
    fputs(out.data, stdout);
  kiln_buf_cleanup(&out);
  free(plans);
}

static bool may_act(void *arg, const char *app)
{
  struct apply_run *run = arg;
  return kiln_step_retry_wait_ms(&run->retry, app, uv_now(&run->s->loop)) == 0;
}

static void judge(struct kiln_session *s, struct kiln_session_result *r,
                  struct apply_run *run)
{
  bool all_done = true, any_failed = false, any_step = false;
  uint64_t now = uv_now(&s->loop);

  run->passes++;
  record_history(run, r);
  if (r->error != NULL) {
    /* AWS could not be observed (throttled, unreachable, no credentials):
     * level-triggered, so the next pass simply tries again. */
    if (run->last_error == NULL || strcmp(run->last_error, r->error) != 0) {
      printf("[%6.1fs] %s; retrying\n", (double)(now - run->start_ms) / 1000.0,
             r->error);
      fflush(stdout);
      free(run->last_error);
      run->last_error = strdup(r->error);
    }
    all_done = false;
  }
  for (size_t i = 0; r->error == NULL && i < r->n; i++) {
    struct kiln_pass_app *app = &r->apps[i];
    enum kiln_app_status st = app->plan.status;

    if (app->executed) {
      any_step = true;
      say(run, app->spec->name, app->outcome != NULL ? app->outcome : "?");
      kiln_step_retry_record(&run->retry, app->spec->name, app->exec_err != 0,
                             now, kiln_step_retry_jitter());
      if (kiln_step_retry_gave_up(&run->retry, app->spec->name)) {
        any_failed = true;
        continue;
      }
      all_done = false;
      continue;
    }
    say(run, app->spec->name, progress_line(run, &app->plan));
    if (st == KILN_STATUS_ERROR || st == KILN_STATUS_FAILED ||
        st == KILN_STATUS_DEGRADED ||
        (st == KILN_STATUS_WAITING && app->plan.blocked))
      any_failed = true; /* a blocked promotion waits for git, not time */
    else if (st != KILN_STATUS_IN_SYNC && st != KILN_STATUS_SUSPENDED &&
             !(st == KILN_STATUS_DRIFTED &&
               app->spec->drift == KILN_DRIFT_REPORT) &&
             !(st == KILN_STATUS_PENDING &&
               app->spec->drift == KILN_DRIFT_REPORT))
      all_done = false;
  }
  if (!run->wait || all_done) {
    if (!run->wait)
      print_summary(run, r);
    else
      printf("\n%s after %d pass%s.\n",
             any_failed ? "Done, with failures" : "Converged", run->passes,
             run->passes == 1 ? "" : "es");
    finish_run(run, any_failed || r->error != NULL ? KILN_EXIT_FAILED
                                                   : KILN_EXIT_OK);
    return;
  }
  if (now - run->start_ms >= run->timeout_ms) {
    printf("\nTimed out after %.0fs and %d passes; not converged.\n",
           (double)(now - run->start_ms) / 1000.0, run->passes);
    print_summary(run, r);
    finish_run(run, KILN_EXIT_FAILED);
    return;
  }
  /* A step usually changes AWS at once: look again soon. */
  uv_timer_start(&run->timer, on_timer, any_step ? 250 : run->interval_ms, 0);
}

static void passed(struct kiln_session *s, struct kiln_session_result *r,
                   void *data)
{
  judge(s, r, data);
  kiln_session_result_release(r);
}

static void start_pass(struct apply_run *run)
{
  kiln_arena_cleanup(&run->arena);
  kiln_arena_init(&run->arena, 0);
  if (kiln_session_pass(run->s, true, &run->arena, passed, run) != 0) {
    fprintf(stderr, "kiln apply: out of memory\n");
    finish_run(run, KILN_EXIT_FAILED);
  }
}

int kiln_cmd_apply(int argc, char **argv)
{
  static const struct option opts[] = {
      {"repo", required_argument, NULL, 'R'},
      {"ref", required_argument, NULL, 'r'},
      {"app", required_argument, NULL, 'a'},
      {"env", required_argument, NULL, 'e'},
      {"wait", no_argument, NULL, 'w'},
      {"timeout", required_argument, NULL, 't'},
      {"interval", required_argument, NULL, 'i'},
      {"state-dir", required_argument, NULL, 'S'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct apply_run run = {
      .timeout_ms = 3600 * 1000, .interval_ms = 5000, .rc = KILN_EXIT_FAILED};
  const char *src = NULL, *ref = NULL, *app = NULL, *env = NULL,
             *state_dir = NULL;
  struct kiln_session s;
  int c;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'R':
      src = optarg;
      break;
    case 'r':
      ref = optarg;
      break;
    case 'a':
      app = optarg;
      break;
    case 'e':
      env = optarg;
      break;
    case 'w':
      run.wait = true;
      break;
    case 't':
      if (kiln_cli_parse_duration(optarg, &run.timeout_ms) != 0)
        return kiln_cli_usage_error("apply",
                                    "--timeout: '%s' is not a "
                                    "duration such as 30s or 5m",
                                    optarg);
      break;
    case 'i':
      if (kiln_cli_parse_duration(optarg, &run.interval_ms) != 0 ||
          run.interval_ms == 0)
        return kiln_cli_usage_error("apply",
                                    "--interval: '%s' is not a "
                                    "positive duration such as 5s",
                                    optarg);
      break;
    case 'S':
      state_dir = optarg;
      break;
    case 'h':
      fputs(usage, stdout);
      return KILN_EXIT_OK;
    default:
      return kiln_cli_usage_error("apply", "unknown option");
    }
  }
  if (optind < argc)
    return kiln_cli_usage_error("apply", "unexpected argument '%s'",
                                argv[optind]);
  if (src == NULL)
    return kiln_cli_usage_error("apply", "--repo SRC is required");

  kiln_arena_init(&run.arena, 0);
  if (kiln_session_open(&s, "apply", src, ref, app, env) == 0) {
    run.s = &s;
    run.n_apps = s.repo->n_apps;
    run.last = calloc(run.n_apps + 1, sizeof(*run.last));
    kiln_step_retry_init(&run.retry,
                         &(struct kiln_step_retry_policy)KILN_STEP_RETRY_APPLY);
    s.gate = may_act;
    s.gate_arg = &run;
    if (run.last != NULL) {
      printf("kiln apply: %s at commit %.12s\n", s.source.display, s.commit);
      open_history(&run, state_dir);
      reload_proofs(&run);
      uv_timer_init(&s.loop, &run.timer);
      run.timer.data = &run;
      run.start_ms = uv_now(&s.loop);
      start_pass(&run);
      uv_run(&s.loop, UV_RUN_DEFAULT);
    }
  }
  kiln_session_close(&s);
  kiln_history_close(run.history);
  kiln_proofs_cleanup(&run.proofs);
  for (size_t i = 0; run.last != NULL && i < run.n_apps; i++)
    free(run.last[i]);
  free(run.last);
  kiln_step_retry_cleanup(&run.retry);
  free(run.last_error);
  kiln_arena_cleanup(&run.arena);
  return run.rc;
}
