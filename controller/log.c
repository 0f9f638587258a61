#include "log.h"

#include "kiln/json_text.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void kiln_log(const char *level, const char *app, const char *commit,
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
    json_object_object_add(o, "app", kiln_json_string(app));
  if (commit != NULL && commit[0] != '\0')
    json_object_object_add(o, "commit", kiln_json_string(commit));
  /* A message cut at the buffer may end mid-character: still valid JSON. */
  json_object_object_add(o, "msg", kiln_json_string(msg));
  fprintf(stderr, "%s\n",
          json_object_to_json_string_ext(
              o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  fflush(stderr);
  json_object_put(o);
}
