/* The daemon's notifications: each pass's events (controller/
 * notify_events.c), a fetch failing or recovering, and a new commit with
 * invalid specs, sent to the notifications of the desired state's
 * kiln.yaml (controller/notify.c). */
#include "daemon_internal.h"

#include "log.h"

#include "kiln/arena.h"

#include <stdio.h>

static void tell(struct kiln__daemon *d, const struct kiln_event *ev)
{
  const struct kiln_spec_repo *r = d->s.repo;
  if (ev == NULL || r == NULL || r->defaults.n_notifiers == 0)
    return;
  kiln_notifier_send(&d->notifier, r->defaults.notifiers,
                     r->defaults.n_notifiers, ev);
}

void kiln__daemon_notify_pass(struct kiln__daemon *d,
                              const struct kiln_session_result *r)
{
  struct kiln_arena a;
  struct kiln_event *evs;
  size_t n;

  kiln_arena_init(&a, 0);
  if (kiln_events_from_pass(&d->events, r->commit, r->apps, r->n, &a, &evs,
                            &n) == 0)
    for (size_t i = 0; i < n; i++)
      tell(d, &evs[i]);
  kiln_arena_cleanup(&a);
}

void kiln__daemon_notify_fetch(struct kiln_commit_source *cs, bool ok,
                               const char *why, void *data)
{
  struct kiln__daemon *d = data;
  struct kiln_arena a;
  (void)cs;
  kiln_arena_init(&a, 0);
  tell(d, kiln_events_fetch(&d->events, !ok, why, &a));
  kiln_arena_cleanup(&a);
}

void kiln__daemon_notify_invalid(struct kiln__daemon *d, const char *commit,
                                 const struct kiln_diags *diags)
{
  struct kiln_arena a;
  char first[1024] = "";
  if (diags->n == 0)
    return;
  snprintf(first, sizeof(first), "%s:%d:%d: %s", diags->items[0].file,
           diags->items[0].line, diags->items[0].col, diags->items[0].message);
  kiln_arena_init(&a, 0);
  tell(d, kiln_events_invalid(&d->events, commit, first, diags->n, &a));
  kiln_arena_cleanup(&a);
}
