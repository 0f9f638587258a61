/* Pure functions of the observed model (kiln/observed.h): no I/O, shared by
 * the observer and by a pass that follows a step with the next one. */
#include "kiln/observed.h"
#include "kiln/num.h"

#include <string.h>

size_t kiln_observed_stale_instances(const struct kiln_observed_app *a)
{
  char want[KILN_NUM_I64_CHARS];
  size_t stale = 0;

  if (!a->lt_exists || a->asg_instance_versions == NULL)
    return a->asg_instances;
  kiln_num_format_i64(a->lt_default_version, want);
  for (size_t i = 0; i < a->asg_instances; i++)
    stale += a->asg_instance_versions[i] == NULL ||
             strcmp(a->asg_instance_versions[i], want) != 0;
  return stale;
}

bool kiln_observed_needs_refresh_look(const struct kiln_observed_app *a)
{
  if (!a->asg_exists || !a->lt_exists)
    return false;
  return a->asg_instances_stale > 0 ||
         !kiln_num_is_i64(a->asg_lt_version, a->lt_default_version) ||
         (a->asg_kiln_version != 0 &&
          a->asg_kiln_version != a->lt_default_version);
}

bool kiln_observed_refresh_is(const struct kiln_observed_app *a,
                              const char *s)
{
  return a->refresh_status != NULL && strcmp(a->refresh_status, s) == 0;
}

bool kiln_observed_needs_activities(const struct kiln_observed_app *a)
{
  if (a->refresh_id == NULL || a->refresh_version != a->lt_default_version)
    return false;
  if (kiln_observed_refresh_is(a, "Baking"))
    return true;
  if (kiln_observed_refresh_is(a, "InProgress"))
    for (size_t i = 0; i < a->refresh_n_checkpoints; i++)
      if (a->refresh_checkpoints[i] < 100 && a->refresh_percent > 0 &&
          a->refresh_checkpoints[i] <= a->refresh_percent)
        return true; /* at a checkpoint, or past one: the activities tell */
  return a->refresh == KILN_REFRESH_FAILED ||
         a->refresh == KILN_REFRESH_ROLLING_BACK;
}

void kiln_observed_lt_made_default(struct kiln_observed_app *a,
                                   const char *lt_id, int64_t version,
                                   const struct kiln_lt_data *data,
                                   const char *commit, const char *digest)
{
  a->lt_exists = true;
  a->lt_id = lt_id;
  a->lt_default_version = version;
  if (a->lt_latest_version < version)
    a->lt_latest_version = version;
  a->lt_default = *data;
  a->lt_default_commit = commit;
  a->lt_default_digest = digest;
  a->lt_kiln_version = version;
  a->asg_instances_stale = kiln_observed_stale_instances(a);
}

enum kiln_bake_state kiln_observed_bake_state(const char *image_status)
{
  static const char *const running[] = {"PENDING",  "CREATING",
                                        "BUILDING", "TESTING",
                                        "DISTRIBUTING", "INTEGRATING"};
  if (image_status == NULL)
    return KILN_BAKE_NONE;
  if (strcmp(image_status, "AVAILABLE") == 0)
    return KILN_BAKE_DONE;
  for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
    if (strcmp(image_status, running[i]) == 0)
      return KILN_BAKE_RUNNING;
  return KILN_BAKE_FAILED;
}
