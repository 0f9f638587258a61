/* kiln run --repo SRC [--ref REF] [--interval DUR] [--resync DUR]
 *          [--listen ADDR:PORT] [--state-dir DIR] [--webhook-secret-file F]
 *          [--gc-interval DUR] */
#include "cli.h"
#include "daemon.h"

#include "kiln/paths.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "Usage: kiln run --repo SRC [--ref REF] [--interval DUR] [--resync DUR]\n"
    "                [--state-dir DIR] [--listen ADDR:PORT]\n"
    "                [--webhook-secret-file FILE] [--bake-poll DUR]\n"
    "                [--refresh-poll DUR] [--gc-interval DUR]\n"
    "\n"
    "Runs Kiln as a controller: fetches SRC on start and every --interval,\n"
    "reconciles every app when its desired state changes, while a bake or an\n"
    "instance refresh is under way, and at least every --resync to correct\n"
    "drift. Failing apps back off (5 s up to 10 min); the others go on.\n"
    "Logs are JSON, one object per line, on stderr. SIGTERM or SIGINT stops\n"
    "it cleanly. HTTPS remotes that need a token read it from the file\n"
    "$KILN_GIT_TOKEN_FILE (or $KILN_GIT_TOKEN); SSH remotes use the key\n"
    "$KILN_GIT_SSH_KEY (~/.ssh/id_ed25519) and trust only host keys in\n"
    "$KILN_GIT_SSH_KNOWN_HOSTS (~/.ssh/known_hosts).\n"
    "\n"
    "Options:\n"
    "  --repo SRC       a path, file://, https://, ssh:// or git@host:path\n"
    "  --ref REF        branch, tag or commit (default: the default branch)\n"
    "  --interval DUR   fetch every DUR (default 1m)\n"
    "  --resync DUR     reconcile at least every DUR (default 5m)\n"
    "  --listen ADDR:PORT\n"
    "                   serve /healthz, /readyz, /metrics, /api/v1/... and\n"
    "                   /hooks/{github,gitlab,generic} (e.g. 127.0.0.1:8080)\n"
    "  --webhook-secret-file FILE\n"
    "                   the shared secret of the hooks (mode 0600; SIGHUP\n"
    "                   re-reads it); without it every hook is refused\n"
    "  --bake-poll DUR  look at a bake in flight every DUR (default 30s)\n"
    "  --refresh-poll DUR\n"
    "                   look at an instance refresh every DUR (default 10s)\n"
    "  --gc-interval DUR\n"
    "                   after a pass, collect the images git can no longer\n"
    "                   ask for (as kiln gc --delete) every DUR (default:\n"
    "                   never); deletions are logged, recorded in history\n"
    "                   and counted in /metrics\n"
    "  --state-dir DIR  where Kiln keeps its state (default: $KILN_STATE_DIR,\n"
    "                   $XDG_STATE_HOME/kiln or ~/.local/state/kiln)\n"
    "  -h, --help       show this help\n";

int kiln_cmd_run(int argc, char **argv)
{
  static const struct option opts[] = {
      {"repo", required_argument, NULL, 'R'},
      {"ref", required_argument, NULL, 'r'},
      {"interval", required_argument, NULL, 'i'},
      {"resync", required_argument, NULL, 's'},
      {"state-dir", required_argument, NULL, 'd'},
      {"bake-poll", required_argument, NULL, 'b'},
      {"listen", required_argument, NULL, 'l'},
      {"webhook-secret-file", required_argument, NULL, 'w'},
      {"refresh-poll", required_argument, NULL, 'p'},
      {"gc-interval", required_argument, NULL, 'g'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct kiln_daemon_options o = {.interval_ms = 60000,
                                  .resync_ms = 300000,
                                  .bake_poll_ms = 30000,
                                  .refresh_poll_ms = 10000};
  char state[1024];
  int c;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'R':
      o.src = optarg;
      break;
    case 'r':
      o.ref = optarg;
      break;
    case 'i':
    case 's':
    case 'b':
    case 'g':
    case 'p': {
      uint64_t *ms = c == 'i'   ? &o.interval_ms
                     : c == 's' ? &o.resync_ms
                     : c == 'b' ? &o.bake_poll_ms
                     : c == 'g' ? &o.gc_interval_ms
                                : &o.refresh_poll_ms;
      if (kiln_cli_parse_duration(optarg, ms) != 0 || *ms == 0)
        return kiln_cli_usage_error("run",
                                    "'%s' is not a positive duration "
                                    "such as 30s or 5m",
                                    optarg);
      break;
    }
    case 'd':
      o.state_dir = optarg;
      break;
    case 'l':
      o.listen = optarg;
      break;
    case 'w':
      o.webhook_secret_file = optarg;
      break;
    case 'h':
      fputs(usage, stdout);
      return KILN_EXIT_OK;
    default:
      return kiln_cli_usage_error("run", "unknown option");
    }
  }
  if (optind < argc)
    return kiln_cli_usage_error("run", "unexpected argument '%s'",
                                argv[optind]);
  if (o.src == NULL)
    return kiln_cli_usage_error("run", "--repo SRC is required");
  if (o.state_dir == NULL) {
    if (kiln_paths_default_dir(KILN_PATHS_STATE, state, sizeof(state)) != 0)
      return kiln_cli_usage_error("run", "no state directory: set --state-dir "
                                         "or KILN_STATE_DIR");
    o.state_dir = state;
  }
  return kiln_daemon_run(&o);
}
