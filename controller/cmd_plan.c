/* kiln plan --repo SRC [--ref REF] [--app NAME] [--format text|json] */
#include "cli.h"
#include "history_proofs.h"
#include "session.h"

#include "kiln/json_text.h"
#include "kiln/arena.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/history.h"
#include "kiln/paths.h"
#include "kiln/report.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char usage[] =
    "Usage: kiln plan --repo SRC [--ref REF] [--app NAME] [--env NAME]\n"
    "                 [--format text|json]\n"
    "\n"
    "Reads the desired state committed at REF of the git repository SRC,\n"
    "observes AWS (read-only) and shows, per app, every field where AWS\n"
    "differs from git with its cause (commit: git changed; out-of-band: AWS\n"
    "changed outside git), and the next step Kiln would take, including\n"
    "whether an image must be baked or is already baked. Changes nothing.\n"
    "\n"
    "Options:\n"
    "  --repo SRC          a path, file://, https://, ssh:// or git@host:path\n"
    "  --ref REF           branch, tag or commit (default: the default "
    "branch)\n"
    "  --app NAME          only this app (or one environment of it:\n"
    "                      APP/ENV)\n"
    "  --env NAME          only this environment of each app\n"
    "  --format text|json  output format (default: text)\n"
    "  -h, --help          show this help\n"
    "\n"
    "AWS settings come from the usual AWS_* variables and shared files\n"
    "(see `kiln whoami`).\n"
    "\n"
    "Exit status: 0 in sync; 2 drift, a pending change, a release under\n"
    "way, failed or degraded, or a promotion waiting; 1 error; 64 usage.\n";

struct plan_run {
  enum kiln_format format;
  int rc;
};

static int exit_code(const struct kiln_session_result *r)
{
  int rc = KILN_EXIT_OK;
  if (r->error != NULL)
    return KILN_EXIT_FAILED;
  for (size_t i = 0; i < r->n; i++) {
    enum kiln_app_status st = r->apps[i].plan.status;
    /* A failed or degraded release is a fact about AWS, like drift: the
     * plan itself worked. */
    if (st == KILN_STATUS_ERROR)
      return KILN_EXIT_FAILED;
    if (st != KILN_STATUS_IN_SYNC)
      rc = KILN_EXIT_DRIFT;
  }
  return rc;
}

static void planned(struct kiln_session *s, struct kiln_session_result *r,
                    void *data)
{
  struct plan_run *run = data;
  struct kiln_plan *plans = kiln_session_plans(r);

  if (plans == NULL) {
    fprintf(stderr, "kiln plan: out of memory\n");
    run->rc = 1;
  } else if (run->format == KILN_FORMAT_JSON) {
    json_object *root =
        kiln_report_plans_json(r->commit, plans, r->n, time(NULL), false);
    if (r->error != NULL)
      json_object_object_add(root, "error", kiln_json_string(r->error));
    puts(json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
  } else {
    struct kiln_buf out;
    kiln_buf_init(&out, 0);
    if (r->error != NULL)
      fprintf(stderr, "kiln plan: %s\n", r->error);
    if (kiln_report_plans_text(r->commit, plans, r->n, time(NULL), &out) == 0)
      fputs(out.data, stdout);
    kiln_buf_cleanup(&out);
  }
  if (plans != NULL)
    run->rc = exit_code(r);
  free(plans);
  kiln_session_result_release(r);
  uv_stop(&s->loop);
}

/* The promotion proofs apply and run recorded in the state directory
 * ($KILN_STATE_DIR...), for plan's gates to judge as theirs do. Read only:
 * with no history there, gates judge from AWS alone. */
static void recorded_proofs(struct kiln_session *s, struct kiln_proofs *out)
{
  struct kiln_history *h = NULL;
  char dir[1024], path[1100], why[256];
  struct stat st;

  if (kiln_paths_default_dir(KILN_PATHS_STATE, dir, sizeof(dir)) != 0)
    return;
  snprintf(path, sizeof(path), "%s/history.db", dir);
  if (stat(path, &st) != 0 ||
      kiln_history_open(dir, &h, why, sizeof(why)) != 0)
    return;
  if (kiln_history_proofs_load(h, s->repo, out) == 0)
    s->proofs = out;
  kiln_history_close(h);
}

int kiln_cmd_plan(int argc, char **argv)
{
  static const struct option opts[] = {{"repo", required_argument, NULL, 'R'},
                                       {"ref", required_argument, NULL, 'r'},
                                       {"app", required_argument, NULL, 'a'},
                                       {"env", required_argument, NULL, 'e'},
                                       {"format", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct plan_run run = {KILN_FORMAT_TEXT, KILN_EXIT_FAILED};
  const char *src = NULL, *ref = NULL, *app = NULL, *env = NULL;
  struct kiln_session s;
  struct kiln_arena arena;
  struct kiln_proofs proofs = {0};
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
    case 'f':
      if (!kiln_cli_parse_format("plan", optarg, &run.format))
        return KILN_EXIT_USAGE;
      break;
    case 'h':
      fputs(usage, stdout);
      return KILN_EXIT_OK;
    default:
      return kiln_cli_usage_error("plan", "unknown option");
    }
  }
  if (optind < argc)
    return kiln_cli_usage_error("plan", "unexpected argument '%s'",
                                argv[optind]);
  if (src == NULL)
    return kiln_cli_usage_error("plan", "--repo SRC is required");

  kiln_arena_init(&arena, 0);
  if (kiln_session_open(&s, "plan", src, ref, app, env) == 0) {
    recorded_proofs(&s, &proofs);
    if (kiln_session_pass(&s, false, &arena, planned, &run) == 0)
      uv_run(&s.loop, UV_RUN_DEFAULT);
  }
  kiln_session_close(&s);
  kiln_proofs_cleanup(&proofs);
  kiln_arena_cleanup(&arena);
  return run.rc;
}
