/* What the daemon's files share: the daemon itself. daemon.c wires it
 * together and runs passes; commit_source.c fetches; status.c holds what
 * the last pass found; daemon_http.c serves it; metrics.c renders it. */
#ifndef KILN_CONTROLLER_DAEMON_INTERNAL_H
#define KILN_CONTROLLER_DAEMON_INTERNAL_H

#include "commit_source.h"
#include "daemon.h"
#include "gc_run.h"
#include "history_writer.h"
#include "log_limit.h"
#include "notify.h"
#include "notify_events.h"
#include "loop_lag.h"
#include "session.h"
#include "status.h"
#include "step_retry.h"

#include "kiln/arena.h"
#include "kiln/http_server.h"
#include "kiln/webhook.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct kiln_history;

/* What outsiders get refused for: the HTTP server's reasons, then hooks
 * with a missing or wrong signature (one kind of log line each). */
#define KILN__REJECT_BAD_SIGNATURE KILN_HTTP_SERVER_REJECT_COUNT
#define KILN__REJECT_KINDS         (KILN_HTTP_SERVER_REJECT_COUNT + 1)

/* What passes have cost, for /metrics. */
struct kiln_pass_stats {
  uint64_t passes;
  uint64_t failures; /* passes that could not observe AWS */
  double seconds_sum;
  double cpu_seconds_sum;
  double last_seconds;
  double last_cpu_seconds; /* on the loop's thread, to the pass's end */
  /* Every thread, to the pass's history record written: all its work. */
  double last_process_cpu_seconds;
  bool last_accounted; /* last_process_cpu_seconds is the last pass's */
  struct kiln_loop_lag last_lag;
};

/* What the daemon's collections did, for /metrics. */
struct kiln__gc_stats {
  uint64_t runs_ok, runs_failed;
  uint64_t images, snapshots, versions; /* deleted */
  uint64_t freed_gib;
};

struct kiln__daemon {
  struct kiln_daemon_options opts;
  struct kiln_session s;
  struct kiln_commit_source source;

  uv_timer_t pass_timer;
  uv_timer_t stop_timer;
  uv_timer_t watchdog_timer;
  uv_prepare_t lag_probe; /* active while a pass runs */
  uv_signal_t sig_term;
  uv_signal_t sig_int;
  uv_signal_t sig_hup;

  bool passing;
  bool pass_again;
  uint64_t pass_started_ms;
  double pass_started_cpu; /* the loop thread's CPU time, seconds */
  /* The loop lag of the pass (loop_lag.h): when the loop last went to
   * wait, libuv's idle time then, and the next tick of the timer it
   * stands for. */
  uint64_t lag_waited_at_ns;
  uint64_t lag_idle_ns;
  uint64_t lag_due_ns;
  struct kiln_loop_lag lag;
  struct kiln_pass_stats stats;

  struct kiln_step_retry retry;
  bool ready;
  bool stopping;
  bool closed;

  struct kiln_status status;
  struct kiln_history *history;        /* written on the pool; NULL: off */
  struct kiln_history *history_reader; /* read by the API on the loop */
  /* Promotion proofs, read with each history record (the first pass's
   * from history_reader, once): what the session's gates judge by. */
  struct kiln_proofs *proofs;
  struct kiln_history_writer writer;
  /* Notifications (kiln.yaml's): what happened, told as it happens. */
  struct kiln_notifier notifier;
  struct kiln_events events;
  /* The collection in flight (--gc-interval), or NULL. */
  struct kiln_gc_run *gc;
  uint64_t gc_started_ms;
  struct kiln__gc_stats gc_stats;
  struct kiln_http_server *http;
  struct kiln_webhook_secret secret;

  /* Refusals, counted all and logged within limits (daemon_http.c). */
  uint64_t rejected[KILN__REJECT_KINDS];
  uint64_t log_suppressed[KILN__REJECT_KINDS];
  struct kiln_log_limit log_limit;
  uv_timer_t log_limit_timer; /* open while http is */
};

/* daemon_http.c */
int kiln__daemon_http_start(struct kiln__daemon *d);
void kiln__daemon_http_stop(struct kiln__daemon *d);
/* "overload", ..., "bad_signature": the label of a refusal kind. */
const char *kiln__reject_kind_name(int kind);

/* daemon_ui.c: the status page (GET /, /app/NAME) and its files
 * (GET /ui/FILE). */
struct kiln_http_server_request;
struct kiln_http_responder;
void kiln__daemon_ui_page(struct kiln__daemon *d,
                          struct kiln_http_server_request *req,
                          struct kiln_http_responder *res);
void kiln__daemon_ui_file(struct kiln__daemon *d,
                          struct kiln_http_server_request *req,
                          struct kiln_http_responder *res);

/* daemon_notify.c: the events of a pass, of a fetch, of a new commit's
 * invalid specs, sent to the desired state's notifications. */
void kiln__daemon_notify_pass(struct kiln__daemon *d,
                              const struct kiln_session_result *r);
void kiln__daemon_notify_fetch(struct kiln_commit_source *cs, bool ok,
                               const char *why, void *data);
struct kiln_diags;
void kiln__daemon_notify_invalid(struct kiln__daemon *d, const char *commit,
                                 const struct kiln_diags *diags);

/* daemon_gc.c: after a pass, a collection when one is due. */
void kiln__daemon_gc_after_pass(struct kiln__daemon *d);

/* daemon.c: while stopping, shut down once no pass, fetch or collection is
 * in flight. */
void kiln__daemon_stop_if_idle(struct kiln__daemon *d);

/* daemon.c: a hook or signal asks for a fetch now. */
void kiln__daemon_fetch_now(struct kiln__daemon *d, const char *why);

#endif
