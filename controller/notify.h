/* Delivers events (controller/notify_events.h) to kiln.yaml's
 * notifications: GitHub and GitLab commit statuses for releases
 * (kiln/<app> or kiln/<app>/<env>), a signed JSON webhook and a Slack
 * incoming webhook for everything. Asynchronous on the loop, never in the
 * way of reconciliation: one FIFO per destination, bounded; 5xx, 429,
 * timeouts and connection failures are retried with backoff, then given up
 * (said in the log and in kiln_notifications_total). A destination that
 * is down delays only its own messages. Secrets are read from their files
 * when a message is sent, and never logged. */
#ifndef KILN_CONTROLLER_NOTIFY_H
#define KILN_CONTROLLER_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "kiln/spec.h"
#include "notify_events.h"

struct kiln_http_client;
struct kiln_notify_channel;

enum kiln_notify_outcome {
  KILN_NOTIFY_DELIVERED,
  KILN_NOTIFY_FAILED,  /* refused (4xx), or a secret file unreadable */
  KILN_NOTIFY_GAVE_UP, /* still failing after every retry */
  KILN_NOTIFY_DROPPED, /* its queue was full */
  KILN_NOTIFY_OUTCOMES
};

struct kiln_notifier {
  uv_loop_t *loop;
  struct kiln_http_client *http;
  struct kiln_notify_channel **channels;
  size_t n_channels;
  uint64_t retry_base_ms; /* backoff: base, 2 base, 4 base... */
  int max_attempts;
  size_t max_queued; /* per destination */
  /* Per type (kiln_notifier_type) and outcome. */
  uint64_t counts[4][KILN_NOTIFY_OUTCOMES];
  bool closing;
};

/* Returns 0 or an error (the HTTP client could not be made). */
int kiln_notifier_init(struct kiln_notifier *n, uv_loop_t *loop);

/* Queues ev for every destination of notifiers[0..count) that takes it. */
void kiln_notifier_send(struct kiln_notifier *n,
                        const struct kiln_notifier_spec *notifiers,
                        size_t count, const struct kiln_event *ev);

/* Nothing queued or in flight. */
bool kiln_notifier_idle(const struct kiln_notifier *n);

/* Cancels what is in flight and frees everything once the loop runs. */
void kiln_notifier_close(struct kiln_notifier *n);

const char *kiln_notify_outcome_name(enum kiln_notify_outcome o);
const char *kiln_notify_type_name(enum kiln_notifier_type t);

#endif
