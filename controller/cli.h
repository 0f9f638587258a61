/* The kiln command line: one function per subcommand. */
#ifndef KILN_CONTROLLER_CLI_H
#define KILN_CONTROLLER_CLI_H

#include <stdbool.h>
#include <stdint.h>

/* Exit codes shared by the commands. */
enum {
  KILN_EXIT_OK = 0,
  KILN_EXIT_FAILED = 1, /* invalid spec, failed release, error */
  KILN_EXIT_DRIFT = 2,  /* plan: drift or pending change */
  KILN_EXIT_USAGE = 64, /* bad command line (sysexits EX_USAGE) */
};

enum kiln_format {
  KILN_FORMAT_TEXT,
  KILN_FORMAT_JSON,
};

/* Parses "text" or "json"; prints a usage error and returns false else. */
bool kiln_cli_parse_format(const char *cmd, const char *arg,
                           enum kiln_format *out);

/* Prints "kiln CMD: message" and a hint to stderr; returns KILN_EXIT_USAGE. */
int kiln_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a duration "500ms", "30s", "5m", "1h" (a bare number is
 * seconds) into milliseconds. Returns 0 or -1. */
int kiln_cli_parse_duration(const char *s, uint64_t *out_ms);

int kiln_cmd_validate(int argc, char **argv);
int kiln_cmd_whoami(int argc, char **argv);
int kiln_cmd_gc(int argc, char **argv);
int kiln_cmd_plan(int argc, char **argv);
int kiln_cmd_apply(int argc, char **argv);
int kiln_cmd_run(int argc, char **argv);
int kiln_cmd_status(int argc, char **argv);
int kiln_cmd_history(int argc, char **argv);

#endif
