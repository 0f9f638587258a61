#include "log_limit.h"

#include <stdio.h>
#include <string.h>

void kiln_log_limit_init(struct kiln_log_limit *l, uint64_t window_ms,
                         unsigned burst, unsigned max_lines)
{
  memset(l, 0, sizeof(*l));
  l->window_ms = window_ms;
  l->burst = burst;
  l->max_lines = max_lines;
}

void kiln_log_limit_flush(struct kiln_log_limit *l, uint64_t now_ms, bool force,
                          kiln_log_limit_summary_cb *cb, void *data)
{
  if (!l->open || (!force && now_ms - l->window_start_ms < l->window_ms))
    return;
  for (size_t i = 0; i < l->n; i++)
    if (l->slots[i].suppressed > 0 && cb != NULL)
      cb(l->slots[i].kind, l->slots[i].peer, l->slots[i].suppressed,
         l->window_ms, data);
  l->open = false;
  l->lines = 0;
  l->n = 0;
}

/* The slot of (kind, peer), made if need be. When the table is full the
 * event is counted under (kind, "others"), in the last slot kept free for
 * that; returns NULL only when even that is taken by another kind (the
 * event is then dropped from the account, not from the caller's counters). */
static struct kiln_log_limit_slot *slot_for(struct kiln_log_limit *l,
                                            const char *kind, const char *peer)
{
  struct kiln_log_limit_slot *s;

  for (;;) {
    for (size_t i = 0; i < l->n; i++)
      if (strncmp(l->slots[i].kind, kind, KILN_LOG_LIMIT_KIND_MAX - 1) == 0 &&
          strncmp(l->slots[i].peer, peer, KILN_LOG_LIMIT_PEER_MAX - 1) == 0)
        return &l->slots[i];
    /* Keep the last slots for the "others" of each kind that needs one. */
    if (l->n + 1 < KILN_LOG_LIMIT_SLOTS ||
        (l->n < KILN_LOG_LIMIT_SLOTS &&
         strcmp(peer, KILN_LOG_LIMIT_OTHERS) == 0))
      break;
    if (strcmp(peer, KILN_LOG_LIMIT_OTHERS) == 0)
      return NULL;
    peer = KILN_LOG_LIMIT_OTHERS;
  }
  s = &l->slots[l->n++];
  memset(s, 0, sizeof(*s));
  snprintf(s->kind, sizeof(s->kind), "%s", kind);
  snprintf(s->peer, sizeof(s->peer), "%s", peer);
  return s;
}

bool kiln_log_limit_take(struct kiln_log_limit *l, const char *kind,
                         const char *peer, uint64_t now_ms,
                         kiln_log_limit_summary_cb *cb, void *data)
{
  struct kiln_log_limit_slot *s;

  kiln_log_limit_flush(l, now_ms, false, cb, data);
  if (!l->open) {
    l->open = true;
    l->window_start_ms = now_ms;
  }
  s = slot_for(l, kind, peer != NULL ? peer : "?");
  if (s == NULL)
    return false;
  /* An "others" slot never logs: its events are the ones the table could
   * not tell apart, which is what a flood from many addresses looks like. */
  if (s->logged < l->burst && l->lines < l->max_lines &&
      strcmp(s->peer, KILN_LOG_LIMIT_OTHERS) != 0) {
    s->logged++;
    l->lines++;
    return true;
  }
  s->suppressed++;
  return false;
}
