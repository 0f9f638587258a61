#include "schedule.h"

uint64_t kiln_schedule_refresh_poll_ms(uint64_t refresh_poll_ms,
                                       size_t refreshing)
{
  uint64_t budget =
      (uint64_t)refreshing * 1000 / KILN_SCHEDULE_REFRESH_LOOKS_PER_S;

  return budget > refresh_poll_ms ? budget : refresh_poll_ms;
}

/* What one app asks for: UINT64_MAX when it asks for nothing sooner than
 * the resync. */
static uint64_t app_wants(const struct kiln_schedule *s,
                          const struct kiln_pass_app *a, uint64_t refresh_poll,
                          kiln_schedule_backoff_fn *backoff_left, void *arg)
{
  if (a->executed && a->exec_err == 0)
    return s->after_step_ms;
  if (a->plan.action.type == KILN_ACTION_WAIT_REFRESH)
    return refresh_poll;
  if (a->plan.action.type == KILN_ACTION_WAIT_BAKE)
    return s->bake_poll_ms;
  if (a->executed || a->plan.mutates) {
    /* A failed or held-back step: come back when its backoff ends. */
    uint64_t left = backoff_left(arg, a->spec->name);
    if (left > 0)
      return left;
  }
  return UINT64_MAX;
}

uint64_t kiln_schedule_next_pass_ms(const struct kiln_schedule *s,
                                    const struct kiln_pass_app *apps, size_t n,
                                    kiln_schedule_backoff_fn *backoff_left,
                                    void *arg)
{
  size_t refreshing = 0;
  uint64_t ms = s->resync_ms, refresh_poll;

  for (size_t i = 0; i < n; i++)
    refreshing += apps[i].plan.action.type == KILN_ACTION_WAIT_REFRESH;
  refresh_poll = kiln_schedule_refresh_poll_ms(s->refresh_poll_ms, refreshing);
  for (size_t i = 0; i < n; i++) {
    uint64_t want = app_wants(s, &apps[i], refresh_poll, backoff_left, arg);
    if (want < ms)
      ms = want;
  }
  return ms;
}
