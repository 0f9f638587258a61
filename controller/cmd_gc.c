/* kiln gc --repo SRC [--ref REF] [--app NAME] [--delete]
 *         [--format text|json]
 * Collects the images git can no longer ask for (kiln/gc.h): reports what
 * goes and why the rest stays; with --delete, deletes it.
 */
#include "cli.h"
#include "gc_run.h"
#include "session.h"

#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/history.h"
#include "kiln/paths.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "Usage: kiln gc --repo SRC [--ref REF] [--app NAME] [--delete]\n"
    "               [--format text|json]\n"
    "\n"
    "Collects Kiln's images that git can no longer ask for, in every region\n"
    "and account the repository's apps run in: each AMI (and its EBS\n"
    "snapshots) beyond the app's retention, Kiln's launch template\n"
    "versions of images that go, and Image Builder's recipe versions of\n"
    "them (with their builds and the components only they used). Every\n"
    "deletion is recorded in the history store. Kept whatever the\n"
    "retention, with the reason in the report: an AMI a\n"
    "group or an instance uses, a template's default, anything of an app\n"
    "with a refresh in flight, a bake or copy in flight and its source, and\n"
    "every AMI that is not Kiln's for an app of this repository.\n"
    "\n"
    "retention (kiln.yaml, an app, an environment):\n"
    "  releases: 5      keep the images of the last 5 distinct digests\n"
    "                   released on the branch's first-parent history\n"
    "  minAgeDays: 7    never delete an image younger than this\n"
    "\n"
    "Options:\n"
    "  --repo SRC          the desired-state repository (path or git URL)\n"
    "  --ref REF           its branch, tag or commit (default: its HEAD)\n"
    "  --app NAME          only this app's images\n"
    "  --delete            delete; without it, only report\n"
    "  --format text|json  output format (default: text)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 done, 1 something could not be looked at or deleted\n"
    "(the rest was), 64 usage error.\n";

struct gc_cli {
  enum kiln_format format;
  int rc;
};

/* What was deleted goes to the history store, as releases do (apply). */
static void record(struct kiln_gc_run *run)
{
  struct kiln_history_collection *items;
  struct kiln_history *h = NULL;
  char dir[1024], why[KILN_HISTORY_ERRMAX];
  size_t n;

  if (!run->delete || kiln_gc_run_deletions(run, &items, &n) != 0 || n == 0)
    return;
  snprintf(why, sizeof(why), "no state directory ($KILN_STATE_DIR)");
  if (kiln_paths_default_dir(KILN_PATHS_STATE, dir, sizeof(dir)) != 0 ||
      kiln_history_open(dir, &h, why, sizeof(why)) != 0) {
    fprintf(stderr, "kiln gc: warning: the deletions are not recorded in "
                    "history: %s\n",
            why);
    return;
  }
  if (kiln_history_record_collection(h, items, n, (int64_t)time(NULL) * 1000) !=
      0)
    fprintf(stderr, "kiln gc: warning: the deletions are not recorded: %s\n",
            kiln_history_errmsg(h));
  kiln_history_close(h);
}

static void collected(struct kiln_gc_run *run, void *data)
{
  struct gc_cli *c = data;
  record(run);
  if (c->format == KILN_FORMAT_JSON) {
    json_object *doc = kiln_gc_report_json(run);
    printf("%s\n", json_object_to_json_string_ext(
                       doc, JSON_C_TO_STRING_PRETTY |
                                JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(doc);
  } else {
    struct kiln_buf b;
    kiln_buf_init(&b, 0);
    if (kiln_gc_report_text(run, &b) == 0 && b.len > 0)
      fputs(b.data, stdout);
    kiln_buf_cleanup(&b);
  }
  if (run->error != NULL)
    fprintf(stderr, "kiln gc: %s\n", run->error);
  c->rc = run->error != NULL || run->failed ? KILN_EXIT_FAILED : KILN_EXIT_OK;
  uv_stop(&run->s->loop);
}

int kiln_cmd_gc(int argc, char **argv)
{
  static const struct option opts[] = {{"repo", required_argument, NULL, 'R'},
                                       {"ref", required_argument, NULL, 'r'},
                                       {"app", required_argument, NULL, 'a'},
                                       {"delete", no_argument, NULL, 'd'},
                                       {"format", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct gc_cli cli = {KILN_FORMAT_TEXT, KILN_EXIT_FAILED};
  const char *src = NULL, *ref = NULL, *app = NULL;
  bool delete = false;
  struct kiln_session s;
  struct kiln_gc_run run;
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
    case 'd':
      delete = true;
      break;
    case 'f':
      if (!kiln_cli_parse_format("gc", optarg, &cli.format))
        return KILN_EXIT_USAGE;
      break;
    case 'h':
      fputs(usage, stdout);
      return KILN_EXIT_OK;
    default:
      return kiln_cli_usage_error("gc", "unknown option");
    }
  }
  if (optind < argc)
    return kiln_cli_usage_error("gc", "unexpected argument '%s'", argv[optind]);
  if (src == NULL)
    return kiln_cli_usage_error("gc", "--repo SRC is required");
  memset(&run, 0, sizeof(run));
  if (kiln_session_open(&s, "gc", src, ref, app, NULL) == 0) {
    if (kiln_gc_run_start(&run, &s, app, delete, collected, &cli) == 0)
      uv_run(&s.loop, UV_RUN_DEFAULT);
    else
      fprintf(stderr, "kiln gc: out of memory\n");
  }
  kiln_gc_run_cleanup(&run);
  kiln_session_close(&s);
  return cli.rc;
}
