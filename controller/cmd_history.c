/* kiln history [APP] [--state-dir DIR] [--format text|json] [--limit N] */
#include "cli.h"

#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/history.h"
#include "kiln/history_json.h"
#include "kiln/paths.h"

#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_LIMIT 50

static const char usage[] =
    "Usage: kiln history [APP] [--state-dir DIR] [--format text|json]\n"
    "                    [--limit N]\n"
    "\n"
    "Shows the releases Kiln recorded, newest first: per app the commit and\n"
    "image digest released, the AMI, the launch template version, when it\n"
    "started, how long it took and how it ended (in-progress, succeeded,\n"
    "failed with its cause, degraded when AWS's rollback of it failed too,\n"
    "or superseded by a newer commit).\n"
    "`kiln apply` and `kiln run` record them in DIR/history.db.\n"
    "\n"
    "Options:\n"
    "  APP                 only this app\n"
    "  --state-dir DIR     where the history lives (default: $KILN_STATE_DIR,\n"
    "                      else $XDG_STATE_HOME/kiln, else\n"
    "                      ~/.local/state/kiln)\n"
    "  --format text|json  output format (default: text)\n"
    "  --limit N           at most N releases (default 50; 0: all)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 shown (also when nothing is recorded yet), 1 the history\n"
    "cannot be read, 64 usage.\n";

/* "2026-11-27 06:21:09Z" */
static const char *utc(int64_t ms, char *buf, size_t size)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
      strftime(buf, size, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
    snprintf(buf, size, "-");
  return buf;
}

/* "850ms", "42s", "3m05s", "2h01m" */
static const char *duration(const struct kiln_history_release *r, char *buf,
                            size_t size)
{
  int64_t ms = r->ended_at_ms - r->started_at_ms, s = ms / 1000;
  if (r->ended_at_ms == 0 || ms < 0)
    snprintf(buf, size, "-");
  else if (ms < 1000)
    snprintf(buf, size, "%lldms", (long long)ms);
  else if (s < 60)
    snprintf(buf, size, "%llds", (long long)s);
  else if (s < 3600)
    snprintf(buf, size, "%lldm%02llds", (long long)(s / 60),
             (long long)(s % 60));
  else
    snprintf(buf, size, "%lldh%02lldm", (long long)(s / 3600),
             (long long)(s / 60 % 60));
  return buf;
}

static const char *or_dash(const char *s)
{
  return s != NULL && *s != '\0' ? s : "-";
}

static int width(const struct kiln_history_release *rs, size_t n,
                 size_t field_offset, int min)
{
  int w = min;
  for (size_t i = 0; i < n; i++) {
    const char *s = *(const char *const *)((const char *)&rs[i] + field_offset);
    int len = (int)strlen(or_dash(s));
    if (len > w)
      w = len;
  }
  return w;
}

static void print_text(const struct kiln_history_release *rs, size_t n)
{
  int w_app = width(rs, n, offsetof(struct kiln_history_release, app), 3);
  int w_ami = width(rs, n, offsetof(struct kiln_history_release, ami), 3);

  printf("%-*s  %-12s  %-12s  %-*s  %7s  %-20s  %8s  %-11s  %s\n", w_app, "APP",
         "COMMIT", "DIGEST", w_ami, "AMI", "VERSION", "STARTED", "DURATION",
         "OUTCOME", "REASON");
  for (size_t i = 0; i < n; i++) {
    const struct kiln_history_release *r = &rs[i];
    char version[24], started[32], took[32];
    if (r->lt_version > 0)
      snprintf(version, sizeof(version), "%lld", (long long)r->lt_version);
    else
      snprintf(version, sizeof(version), "-");
    printf(
        "%-*s  %-12.12s  %-12.12s  %-*s  %7s  %-20s  %8s  %-11s  %s\n", w_app,
        r->app, or_dash(r->commit), or_dash(r->digest), w_ami, or_dash(r->ami),
        version, utc(r->started_at_ms, started, sizeof(started)),
        duration(r, took, sizeof(took)), kiln_history_outcome_name(r->outcome),
        r->reason != NULL ? r->reason : "");
  }
}

/* {"state_dir": DIR, "releases": [...]}, each release in the form the
 * daemon's /api/v1/history serves too. */
static int print_json(const char *state_dir,
                      const struct kiln_history_release *rs, size_t n)
{
  json_object *root = json_object_new_object();
  json_object *dir = json_object_new_string(state_dir);
  json_object *arr = kiln_history_releases_json(rs, n);
  const char *text = NULL;

  /* json_object_object_add() takes a value only when it succeeds. */
  if (root != NULL && dir != NULL && arr != NULL &&
      json_object_object_add(root, "state_dir", dir) == 0) {
    dir = NULL;
    if (json_object_object_add(root, "releases", arr) == 0) {
      arr = NULL;
      text = json_object_to_json_string_ext(
          root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    }
  }
  if (text != NULL)
    puts(text);
  else
    fprintf(stderr, "kiln history: out of memory\n");
  json_object_put(dir);
  json_object_put(arr);
  json_object_put(root);
  return text != NULL ? 0 : KILN_ENOMEM;
}

int kiln_cmd_history(int argc, char **argv)
{
  static const struct option opts[] = {
      {"state-dir", required_argument, NULL, 'd'},
      {"format", required_argument, NULL, 'f'},
      {"limit", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  enum kiln_format format = KILN_FORMAT_TEXT;
  const char *state_dir = NULL, *app = NULL;
  char dir[PATH_MAX], path[PATH_MAX + 16], err[KILN_HISTORY_ERRMAX];
  struct kiln_history *h = NULL;
  struct kiln_history_release *rs = NULL;
  struct kiln_arena arena;
  unsigned long long limit = DEFAULT_LIMIT;
  struct stat st;
  size_t n = 0;
  char *end;
  int c, e, rc = KILN_EXIT_FAILED;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      state_dir = optarg;
      break;
    case 'f':
      if (!kiln_cli_parse_format("history", optarg, &format))
        return KILN_EXIT_USAGE;
      break;
    case 'l':
      errno = 0;
      limit = strtoull(optarg, &end, 10);
      if (errno != 0 || *optarg < '0' || *optarg > '9' || *end != '\0')
        return kiln_cli_usage_error("history", "--limit: '%s' is not a number",
                                    optarg);
      break;
    case 'h':
      fputs(usage, stdout);
      return KILN_EXIT_OK;
    default:
      return kiln_cli_usage_error("history", "unknown option");
    }
  }
  if (optind < argc)
    app = argv[optind++];
  if (optind < argc)
    return kiln_cli_usage_error("history", "unexpected argument '%s'",
                                argv[optind]);
  if (state_dir == NULL) {
    e = kiln_paths_default_dir(KILN_PATHS_STATE, dir, sizeof(dir));
    if (e != 0) {
      fprintf(stderr,
              "kiln history: no state directory: %s; give "
              "--state-dir\n",
              e == KILN_ETOOBIG ? "the default path is too long"
                                : "none of $KILN_STATE_DIR, $XDG_STATE_HOME "
                                  "(absolute) or $HOME (absolute) is set");
      return KILN_EXIT_FAILED;
    }
    state_dir = dir;
  }

  /* Reading must not create: with nothing recorded yet there is nothing
   * to show. */
  snprintf(path, sizeof(path), "%s/history.db", state_dir);
  if (stat(path, &st) != 0 && errno == ENOENT) {
    if (format == KILN_FORMAT_JSON)
      return print_json(state_dir, NULL, 0) == 0 ? KILN_EXIT_OK
                                                 : KILN_EXIT_FAILED;
    printf("No releases recorded yet (no %s).\n", path);
    return KILN_EXIT_OK;
  }

  kiln_arena_init(&arena, 0);
  e = kiln_history_open(state_dir, &h, err, sizeof(err));
  if (e != 0) {
    fprintf(stderr, "kiln history: %s\n", err);
    goto done;
  }
  e = kiln_history_releases(h, app, (size_t)limit, &arena, &rs, &n);
  if (e != 0) {
    fprintf(stderr, "kiln history: %s\n", kiln_history_errmsg(h));
    goto done;
  }
  if (format == KILN_FORMAT_JSON) {
    if (print_json(state_dir, rs, n) != 0)
      goto done;
  } else if (n == 0) {
    printf("No releases recorded%s%s in %s.\n", app != NULL ? " for " : "",
           app != NULL ? app : "", path);
  } else {
    print_text(rs, n);
  }
  rc = KILN_EXIT_OK;

done:
  kiln_history_close(h);
  kiln_arena_cleanup(&arena);
  return rc;
}
