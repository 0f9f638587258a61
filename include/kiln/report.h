/* How plans are shown: the text table of `kiln plan` and the JSON of
 * `kiln plan --format json` and the status API. Pure formatting. */
#ifndef KILN_REPORT_H
#define KILN_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln/plan.h"

struct kiln_buf;
struct json_object;

#include <stdint.h>

/* now: seconds since the epoch, for where a release stands in time (how
 * long its bake has left). */

/* {"name", "status", "digest", "bake_needed", "message", "release",
 *  "drift": [...], "actions": [...], "error"} for one app. New reference. */
struct json_object *kiln_report_plan_json(const struct kiln_plan *plan,
                                          int64_t now);

/* {"commit": SHA, "apps": [...]} for a pass; with drifting_only, only the
 * apps with a drifting field (each app's JSON is built only if it is kept).
 * New reference. */
struct json_object *kiln_report_plans_json(const char *commit,
                                           const struct kiln_plan *plans,
                                           size_t n, int64_t now,
                                           bool drifting_only);

/* A readable table: per app its status and next step, then one line per
 * drifting field with the actual and desired values and the cause, then a
 * summary line. Returns 0 or KILN_ENOMEM / KILN_ETOOBIG. */
int kiln_report_plans_text(const char *commit, const struct kiln_plan *plans,
                           size_t n, int64_t now, struct kiln_buf *out);

#endif
