#include "cli.h"

#include <stdarg.h>
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
