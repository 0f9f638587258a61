/* kiln: a GitOps controller for immutable EC2 fleets. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
};

static int cmd_version(int argc, char **argv)
{
  if (argc > 1 &&
      (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    puts("Usage: kiln version\n\nPrints Kiln's version.");
    return KILN_EXIT_OK;
  }
  printf("kiln %s\n", KILN_VERSION);
  return KILN_EXIT_OK;
}

static const struct command commands[] = {
    {"validate", kiln_cmd_validate,
     "check a desired-state directory and report every error"},
    {"plan", kiln_cmd_plan,
     "show drift between git and AWS and the next steps (read-only)"},
    {"apply", kiln_cmd_apply, "converge AWS to git: bake, roll out"},
    {"run", kiln_cmd_run, "run as a controller: watch git, reconcile, resync"},
    {"status", kiln_cmd_status, "show what a running kiln run sees"},
    {"history", kiln_cmd_history,
     "show recorded releases: commit, AMI, version, outcome"},
    {"gc", kiln_cmd_gc,
     "delete images git can no longer ask for (a report without --delete)"},
    {"whoami", kiln_cmd_whoami,
     "show the AWS identity, region and endpoints Kiln would use"},
    {"version", cmd_version, "print Kiln's version"},
};

static void usage(FILE *out)
{
  fputs("Usage: kiln COMMAND [OPTIONS]\n"
        "\n"
        "Kiln keeps EC2 fleets in the state a git repository describes.\n"
        "\n"
        "Commands:\n",
        out);
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fputs("\nRun 'kiln COMMAND --help' for a command's options.\n", out);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return KILN_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return KILN_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0)
    return cmd_version(1, argv);
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(argv[1], commands[i].name) == 0)
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "kiln: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return KILN_EXIT_USAGE;
}
