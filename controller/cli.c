#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

bool kiln_cli_parse_format(const char *cmd, const char *arg,
                           enum kiln_format *out)
{
  if (strcmp(arg, "text") == 0)
    *out = KILN_FORMAT_TEXT;
  else if (strcmp(arg, "json") == 0)
    *out = KILN_FORMAT_JSON;
  else {
    kiln_cli_usage_error(cmd, "--format must be 'text' or 'json', not '%s'",
                         arg);
    return false;
  }
  return true;
}

int kiln_cli_usage_error(const char *cmd, const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "kiln %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'kiln %s --help'.\n", cmd);
  return KILN_EXIT_USAGE;
}

int kiln_cli_parse_duration(const char *s, uint64_t *out_ms)
{
  static const struct {
    const char *unit;
    uint64_t ms;
  } units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1000}};
  char *end;
  unsigned long long v;

  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno != 0)
    return -1;
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
    if (strcmp(end, units[i].unit) == 0) {
      if (v > UINT64_MAX / units[i].ms / 2)
        return -1;
      *out_ms = v * units[i].ms;
      return 0;
    }
  return -1;
}
