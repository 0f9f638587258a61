/* Refreshes seen in flight: the group fingerprint, when a memory still
 * holds, and its copy. See refresh_seen.h. */
#include "kiln/refresh_seen.h"
#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/num.h"
#include "kiln/observed.h"

#include <string.h>

static uint64_t fnv(uint64_t h, const char *s)
{
  for (; s != NULL && *s != '\0'; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (h ^ 0xff) * 1099511628211ULL; /* ends the field */
}

static uint64_t fnv_i64(uint64_t h, int64_t v)
{
  char text[KILN_NUM_I64_CHARS];
  return fnv(h, kiln_num_format_i64(v, text));
}

uint64_t kiln_refresh_seen_fingerprint(const struct kiln_asg_group *g)
{
  const uint64_t basis = 14695981039346656037ULL;
  uint64_t h = basis, instances = 0;
  h = fnv(h, g->launch_template.id);
  h = fnv(h, g->launch_template.version);
  h = fnv_i64(h, g->min_size);
  h = fnv_i64(h, g->max_size);
  h = fnv_i64(h, g->desired_capacity);
  /* A sum: AWS lists a group's instances in no promised order. */
  for (size_t i = 0; i < g->instance_count; i++) {
    const struct kiln_asg_instance *in = &g->instances[i];
    uint64_t x = fnv(basis, in->instance_id);
    x = fnv(x, in->lifecycle_state);
    x = fnv(x, in->health_status);
    instances += fnv(x, in->launch_template.version);
  }
  return fnv_i64(h, (int64_t)instances) ^ (uint64_t)g->instance_count;
}

static bool running(const char *status)
{
  return status != NULL &&
         (strcmp(status, "Pending") == 0 || strcmp(status, "InProgress") == 0);
}

/* Between KILN_REFRESH_SEEN_MAX_AGE_S and twice that, by group. */
static int64_t max_age(const struct kiln_refresh_seen *seen)
{
  return KILN_REFRESH_SEEN_MAX_AGE_S +
         (int64_t)(seen->group_fingerprint % KILN_REFRESH_SEEN_MAX_AGE_S);
}

bool kiln_refresh_seen_holds(const struct kiln_refresh_seen *seen,
                             uint64_t fingerprint,
                             const struct kiln_observed_app *a, int64_t now_s)
{
  if (seen == NULL || now_s <= 0 || seen->group_fingerprint != fingerprint ||
      now_s - seen->seen_s >= max_age(seen) ||
      now_s < seen->seen_s || !running(seen->refresh.status))
    return false;
  /* Heading for the template's default (a refresh with a desired
   * configuration leaves the group's own version to its end), with
   * instances still to replace: once all are, it is baking or done, and a
   * look is what tells which. */
  return seen->refresh.desired_launch_template.version_number ==
             a->lt_default_version &&
         a->asg_instances_stale > 0;
}

static const char *dup(struct kiln_arena *a, const char *s, bool *bad)
{
  const char *d = kiln_arena_strdup(a, s);
  *bad |= s != NULL && d == NULL;
  return d;
}

int kiln_refresh_seen_copy(struct kiln_arena *a,
                           const struct kiln_refresh_seen *from,
                           struct kiln_refresh_seen *to)
{
  const struct kiln_asg_instance_refresh *f = &from->refresh;
  struct kiln_asg_instance_refresh *t = &to->refresh;
  const struct kiln_asg_refresh_preferences *fp = &f->preferences;
  bool bad = false;

  *to = *from;
  t->id = dup(a, f->id, &bad);
  t->group_name = dup(a, f->group_name, &bad);
  t->status = dup(a, f->status, &bad);
  t->status_reason = dup(a, f->status_reason, &bad);
  t->start_time = dup(a, f->start_time, &bad);
  t->end_time = dup(a, f->end_time, &bad);
  t->desired_launch_template.id = dup(a, f->desired_launch_template.id, &bad);
  t->desired_launch_template.name =
      dup(a, f->desired_launch_template.name, &bad);
  t->desired_launch_template.version =
      dup(a, f->desired_launch_template.version, &bad);
  t->rollback_reason = dup(a, f->rollback_reason, &bad);
  t->rollback_start_time = dup(a, f->rollback_start_time, &bad);
  to->failed_launch_message = dup(a, from->failed_launch_message, &bad);
  if (fp->alarm_count > 0) {
    const char **alarms =
        kiln_arena_alloc(a, fp->alarm_count * sizeof(*alarms));
    if (alarms == NULL)
      return KILN_ENOMEM;
    for (size_t i = 0; i < fp->alarm_count; i++)
      alarms[i] = dup(a, fp->alarms[i], &bad);
    t->preferences.alarms = alarms;
  }
  if (fp->checkpoint_count > 0) {
    int64_t *points =
        kiln_arena_alloc(a, fp->checkpoint_count * sizeof(*points));
    if (points == NULL)
      return KILN_ENOMEM;
    memcpy(points, fp->checkpoints, fp->checkpoint_count * sizeof(*points));
    t->preferences.checkpoints = points;
  }
  return bad ? KILN_ENOMEM : 0;
}
