/* JSON of history releases. See include/kiln/history_json.h. */
#include "kiln/history_json.h"
#include "kiln/history.h"

#include <json-c/json.h>
#include <stdbool.h>

/* Adds key: v to o; on failure frees v. A NULL v is a JSON null, so
 * made_ok says whether v == NULL was meant (a null) or a failed
 * allocation. */
static bool add(json_object *o, const char *key, json_object *v, bool made_ok)
{
  if (!made_ok)
    return false;
  if (json_object_object_add(o, key, v) != 0) {
    json_object_put(v);
    return false;
  }
  return true;
}

static bool add_string(json_object *o, const char *key, const char *s)
{
  json_object *v = s != NULL ? json_object_new_string(s) : NULL;
  return add(o, key, v, s == NULL || v != NULL);
}

/* present false: null */
static bool add_int(json_object *o, const char *key, int64_t x, bool present)
{
  json_object *v = present ? json_object_new_int64(x) : NULL;
  return add(o, key, v, !present || v != NULL);
}

json_object *kiln_history_release_json(const struct kiln_history_release *r)
{
  json_object *o = json_object_new_object();

  if (o == NULL)
    return NULL;
  /* Unknown facts are null, never 0 or "": a reader tells "not yet" from
   * a value without knowing the store's conventions. */
  if (add_int(o, "id", r->id, true) && add_string(o, "app", r->app) &&
      add_string(o, "commit", r->commit) &&
      add_string(o, "digest", r->digest) && add_string(o, "ami", r->ami) &&
      add_int(o, "launch_template_version", r->lt_version, r->lt_version > 0) &&
      add_string(o, "refresh_id", r->refresh_id) &&
      add_int(o, "started_at_ms", r->started_at_ms, true) &&
      add_int(o, "ended_at_ms", r->ended_at_ms, r->ended_at_ms > 0) &&
      add_string(o, "outcome", kiln_history_outcome_name(r->outcome)) &&
      add_string(o, "reason", r->reason))
    return o;
  json_object_put(o);
  return NULL;
}

json_object *kiln_history_releases_json(const struct kiln_history_release *rs,
                                        size_t n)
{
  json_object *arr = json_object_new_array();

  if (arr == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    json_object *o = kiln_history_release_json(&rs[i]);
    if (o == NULL || json_object_array_add(arr, o) != 0) {
      json_object_put(o);
      json_object_put(arr);
      return NULL;
    }
  }
  return arr;
}
