#include "commit_source.h"

#include "log.h"
#include "step_retry.h"

#include "kiln/error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void fetch_start(struct kiln_commit_source *cs);

static void on_timer(uv_timer_t *t)
{
  fetch_start(t->data);
}

void kiln_commit_source_init(struct kiln_commit_source *cs, uv_loop_t *loop,
                             struct kiln_git_source *git, const char *ref,
                             uint64_t interval_ms,
                             kiln_commit_source_cb *on_commit, void *data)
{
  memset(cs, 0, sizeof(*cs));
  cs->loop = loop;
  cs->git = git;
  cs->ref = ref;
  cs->interval_ms = interval_ms;
  cs->on_commit = on_commit;
  cs->data = data;
  uv_timer_init(loop, &cs->timer);
  cs->timer.data = cs;
}

/* On the thread pool: touches only the git source (whose mirror only this
 * work writes) and the snapshot it fills. */
static void fetch_work(uv_work_t *w)
{
  struct kiln_commit_source *cs = w->data;
  kiln_session_fetch_snapshot(cs->git, cs->ref, cs->since, &cs->fetched);
}

static void failed(struct kiln_commit_source *cs, struct kiln_snapshot *snap)
{
  struct kiln_step_retry_policy backoff = KILN_STEP_RETRY_DAEMON;
  const char *why = snap->why[0] != '\0' ? snap->why : kiln_strerror(snap->err);
  uint64_t retry = kiln_step_retry_delay_ms(&backoff, ++cs->failures,
                                            kiln_step_retry_jitter());

  if (retry > cs->interval_ms)
    retry = cs->interval_ms;
  snprintf(cs->last_error, sizeof(cs->last_error), "%s", why);
  kiln_log("error", NULL, cs->current,
           "fetch of %s failed (%u in a row): %s; %s in force, next try in "
           "%llu ms",
           cs->git->display, cs->failures, why,
           cs->current[0] != '\0' ? "the last good commit stays"
                                  : "no desired state yet",
           (unsigned long long)retry);
  uv_timer_start(&cs->timer, on_timer, retry, 0);
  if (cs->on_fetched != NULL)
    cs->on_fetched(cs, false, why, cs->data);
}

static void fetch_done(uv_work_t *w, int status)
{
  struct kiln_commit_source *cs = w->data;
  struct kiln_snapshot *snap = &cs->fetched;

  cs->fetching = false;
  if (cs->stopping) {
    kiln_snapshot_cleanup(snap);
    cs->on_commit(cs, NULL, cs->data); /* tells the owner the fetch ended */
    return;
  }
  if (status != 0 || snap->err != 0) {
    if (status != 0 && snap->err == 0)
      snap->err = KILN_EINTERNAL;
    failed(cs, snap);
    kiln_snapshot_cleanup(snap);
  } else {
    if (cs->failures > 0)
      kiln_log("info", NULL, snap->commit,
               "fetch of %s works again after %u failures", cs->git->display,
               cs->failures);
    cs->failures = 0;
    cs->last_error[0] = '\0';
    cs->last_ok_unix = (int64_t)time(NULL);
    if (cs->on_fetched != NULL)
      cs->on_fetched(cs, true, NULL, cs->data);
    uv_timer_start(&cs->timer, on_timer, cs->interval_ms, 0);
    if (strcmp(snap->commit, cs->current) == 0) {
      kiln_snapshot_cleanup(snap);
    } else {
      if (snap->rewritten)
        kiln_log("warn", NULL, snap->commit,
                 "history was rewritten: the new tip does not contain %.12s; "
                 "the new tip is the desired state",
                 cs->current);
      memcpy(cs->current, snap->commit, sizeof(cs->current));
      cs->on_commit(cs, snap, cs->data);
    }
  }
  /* A request that came meanwhile may announce a commit this fetch
   * missed: fetch once more, now. */
  if (cs->again && !cs->stopping) {
    cs->again = false;
    fetch_start(cs);
  }
}

static void fetch_start(struct kiln_commit_source *cs)
{
  if (cs->stopping)
    return;
  if (cs->fetching) {
    cs->again = true;
    cs->coalesced++;
    return;
  }
  uv_timer_stop(&cs->timer);
  memcpy(cs->since, cs->current, sizeof(cs->since));
  cs->fetching = true;
  cs->fetches++;
  cs->work.data = cs;
  if (uv_queue_work(cs->loop, &cs->work, fetch_work, fetch_done) != 0) {
    cs->fetching = false;
    kiln_log("error", NULL, NULL, "cannot queue a fetch; retrying");
    uv_timer_start(&cs->timer, on_timer, 5000, 0);
  }
}

void kiln_commit_source_request(struct kiln_commit_source *cs, const char *why)
{
  if (cs->fetching && !cs->again)
    kiln_log("info", NULL, cs->current,
             "%s during a fetch: one more fetch follows it", why);
  else if (!cs->fetching && strcmp(why, "start") != 0)
    kiln_log("info", NULL, cs->current, "%s: fetching", why);
  fetch_start(cs);
}

void kiln_commit_source_stop(struct kiln_commit_source *cs)
{
  cs->stopping = true;
  uv_timer_stop(&cs->timer);
}

void kiln_commit_source_close(struct kiln_commit_source *cs)
{
  uv_close((uv_handle_t *)&cs->timer, NULL);
}

bool kiln_commit_source_busy(const struct kiln_commit_source *cs)
{
  return cs->fetching;
}
