/* The one JSON form of a release from the history store, shared by
 * `kiln history --format json` and the daemon's /api/v1/history so the
 * two never describe the same record two ways.
 *
 * A release is an object with exactly these keys (README.md, "kiln
 * history"):
 *   id                       integer, the store's row id
 *   app, commit, digest      strings
 *   ami                      string, null until the bake is known
 *   launch_template_version  integer, null until a version is made default
 *   refresh_id               string, null when no instance refresh started
 *   started_at_ms            integer, unix milliseconds
 *   ended_at_ms              integer, unix milliseconds; null in progress
 *   outcome                  "in-progress", "succeeded", "failed" or
 *                            "superseded"
 *   reason                   string, null when there is none
 *
 * Pure: no I/O, no clock. Thread-safe (json-c objects are not shared).
 */
#ifndef KILN_HISTORY_JSON_H
#define KILN_HISTORY_JSON_H

#include <stddef.h>

struct json_object;
struct kiln_history_release;

/* A new JSON object for r (the caller owns the reference: json_object_put
 * it), or NULL when out of memory. */
struct json_object *
kiln_history_release_json(const struct kiln_history_release *r);

/* A new JSON array of kiln_history_release_json() of rs[0..n), in that
 * order (rs may be NULL when n is 0); the caller owns it. NULL when out of
 * memory. */
struct json_object *
kiln_history_releases_json(const struct kiln_history_release *rs, size_t n);

#endif
