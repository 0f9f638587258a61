/* The daemon's log: one JSON object per line on stderr
 * ({"ts", "level", "app"?, "commit"?, "msg"}), written whole and flushed,
 * from the loop's thread. */
#ifndef KILN_CONTROLLER_LOG_H
#define KILN_CONTROLLER_LOG_H

/* level: "debug", "info", "warn" or "error"; app and commit may be NULL
 * (an empty commit is left out). */
void kiln_log(const char *level, const char *app, const char *commit,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
