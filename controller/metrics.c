#include "metrics.h"

#include "daemon_internal.h"

#include "kiln/str.h"
#include "kiln/aws_client.h"
#include "kiln/aws_endpoint.h"
#include "kiln/buf.h"
#include "kiln/num.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void metric(struct kiln_buf *b, const char *name, const char *type,
                   const char *help)
{
  kiln_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric without labels: its HELP and TYPE lines and its one sample,
 * the value formatted by fmt. */
static void metric_sample(struct kiln_buf *b, const char *name,
                          const char *type, const char *help, const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));
static void metric_sample(struct kiln_buf *b, const char *name,
                          const char *type, const char *help, const char *fmt,
                          ...)
{
  va_list ap;
  metric(b, name, type, help);
  kiln_buf_printf(b, "%s ", name);
  va_start(ap, fmt);
  kiln_buf_vprintf(b, fmt, ap);
  va_end(ap);
  kiln_buf_puts(b, "\n");
}

/* Label values are escaped as the Prometheus text format asks. */
static void label_value(struct kiln_buf *b, const char *v)
{
  while (v != NULL && *v != '\0') {
    size_t plain = strcspn(v, "\\\"\n");
    kiln_buf_append(b, v, plain);
    v += plain;
    if (*v == '\0')
      break;
    kiln_buf_puts(b, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\");
    v++;
  }
}

/* A "Name:   N kB" line of /proc/self/status, in bytes; -1 if absent. */
static long long proc_status_bytes(const char *name)
{
  char line[256];
  size_t len = strlen(name);
  long long v = -1;
  FILE *f = fopen("/proc/self/status", "r");

  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL)
    if (strncmp(line, name, len) == 0 && line[len] == ':') {
      const char *p = line + len + 1;
      int64_t kib;
      p += strspn(p, " \t");
      if (kiln_num_parse_i64n(p, strcspn(p, " \n"), 0, INT64_MAX / 1024,
                              &kib) == 0)
        v = kib * 1024;
      break;
    }
  fclose(f);
  return v;
}

/* The Prometheus client libraries' process_* metrics (memory from
 * /proc: getrusage's peak would include a parent's before exec). */
static void process_metrics(struct kiln_buf *b)
{
  struct rusage ru;
  long long rss = proc_status_bytes("VmRSS"), peak = proc_status_bytes("VmHWM");

  if (getrusage(RUSAGE_SELF, &ru) == 0)
    metric_sample(b, "process_cpu_seconds_total", "counter",
                  "User and system CPU time of the process.", "%.3f",
                  (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) /
                          1e6);
  if (rss >= 0)
    metric_sample(b, "process_resident_memory_bytes", "gauge",
                  "Resident memory of the process.", "%lld", rss);
  if (peak >= 0)
    metric_sample(b, "process_max_resident_memory_bytes", "gauge",
                  "Peak resident memory of the process.", "%lld", peak);
}

static void pass_metrics(const struct kiln_pass_stats *p, struct kiln_buf *b)
{

  metric_sample(b, "kiln_reconcile_passes_total", "counter",
                "Reconcile passes run.", "%llu", (unsigned long long)p->passes);
  metric_sample(b, "kiln_reconcile_failures_total", "counter",
                "Passes that could not observe AWS.", "%llu",
                (unsigned long long)p->failures);
  metric_sample(b, "kiln_reconcile_duration_seconds_sum", "counter",
                "Time spent in passes.", "%.3f", p->seconds_sum);
  metric_sample(b, "kiln_reconcile_cpu_seconds_sum", "counter",
                "CPU time the passes took (observing, planning, executing).",
                "%.6f", p->cpu_seconds_sum);
  metric_sample(b, "kiln_last_pass_duration_seconds", "gauge",
                "How long the last pass took.", "%.6f", p->last_seconds);
  metric_sample(b, "kiln_last_pass_cpu_seconds", "gauge",
                "CPU time of the last pass on the loop's thread.", "%.6f",
                p->last_cpu_seconds);
  metric_sample(b, "kiln_last_pass_process_cpu_seconds", "gauge",
                "CPU time of the last pass on every thread, its history "
                "record included.",
                "%.6f", p->last_process_cpu_seconds);
  metric_sample(b, "kiln_last_pass_loop_lag_p99_seconds", "gauge",
                "How late a 10 ms timer fired during the last pass, 99th "
                "percentile: blocking work on the loop's thread.",
                "%.6f",
                (double)kiln_loop_lag_percentile_us(&p->last_lag, 99) / 1e6);
  metric_sample(b, "kiln_last_pass_loop_lag_max_seconds", "gauge",
                "How late a 10 ms timer fired during the last pass, at most.",
                "%.6f", (double)p->last_lag.max_us / 1e6);
}

static void status_metrics(const struct kiln__daemon *d, struct kiln_buf *b)
{
  metric_sample(b, "kiln_bakes_in_flight", "gauge", "Apps baking an image.",
                "%zu", d->status.bakes_in_flight);
  metric_sample(b, "kiln_refreshes_in_flight", "gauge",
                "Apps with an instance refresh under way.", "%zu",
                d->status.refreshes_in_flight);
  metric_sample(b, "kiln_last_fetch_success_timestamp_seconds", "gauge",
                "Unix time of the last successful git fetch.", "%lld",
                (long long)d->source.last_ok_unix);
  metric_sample(b, "kiln_fetch_failing", "gauge",
                "1 while the git remote cannot be fetched.", "%d",
                d->source.failures > 0);
  metric_sample(b, "kiln_fetches_total", "counter",
                "Git fetches started (polls, hooks, signals).", "%llu",
                (unsigned long long)d->source.fetches);
  metric_sample(b, "kiln_fetch_requests_coalesced_total", "counter",
                "Fetch requests that came during a fetch and were folded into "
                "the one more fetch that follows it.",
                "%llu", (unsigned long long)d->source.coalesced);
  metric_sample(b, "kiln_history_writes_failed_total", "counter",
                "Pass records the history store could not take.", "%llu",
                (unsigned long long)d->writer.failed);
  metric_sample(b, "kiln_prev_spec_cache_entries", "gauge",
                "Older commits' app specs held for telling drift causes.",
                "%zu", d->s.prevs.n);
  metric_sample(b, "kiln_prev_spec_loads_total", "counter",
                "Reads of older commits on the thread pool.", "%llu",
                (unsigned long long)d->s.prevs.loads);
  metric(b, "kiln_commit_info", "gauge", "The commit being applied.");
  kiln_buf_puts(b, "kiln_commit_info{commit=\"");
  label_value(b, d->s.commit);
  kiln_buf_puts(b, "\"} 1\n");
}

/* The labels of a location: its region, and the account of its role
 * when it is another account's (Kiln's own is the default). */
static void location_labels(const struct kiln_session_location *l, char *out,
                            size_t size)
{
  char account[32];
  if (l->role_arn != NULL)
    snprintf(out, size, "region=\"%s\",account=\"%s\"",
             kiln_aws_client_region(l->client),
             kiln_arn_account(l->role_arn, account, sizeof(account)));
  else
    snprintf(out, size, "region=\"%s\"", kiln_aws_client_region(l->client));
}

static void aws_metrics(const struct kiln__daemon *d, struct kiln_buf *b)
{
  char where[160];

  metric(b, "kiln_aws_requests_total", "counter",
         "AWS calls by service, action and outcome.");
  for (size_t r = 0; r < d->s.n_locations; r++) {
    const struct kiln_aws_action_stats *st = NULL;
    size_t n = kiln_aws_client_stats(d->s.locations[r].client, &st);
    location_labels(&d->s.locations[r], where, sizeof(where));
    for (size_t i = 0; i < n; i++)
      for (int o = 0; o < KILN_AWS_OUTCOME_COUNT; o++)
        if (st[i].calls[o] > 0)
          kiln_buf_printf(
              b,
              "kiln_aws_requests_total{%s,service=\"%s\","
              "action=\"%s\",outcome=\"%s\"} %llu\n",
              where,
              kiln_aws_service_info(st[i].service) != NULL
                  ? kiln_aws_service_info(st[i].service)->signing_name
                  : "?",
              st[i].action, kiln_aws_outcome_name((enum kiln_aws_outcome)o),
              (unsigned long long)st[i].calls[o]);
  }
  metric(b, "kiln_aws_pace_requests_per_second", "gauge",
         "The pace Kiln keeps per AWS action: its share of the published "
         "bucket, lowered while AWS throttles.");
  for (size_t r = 0; r < d->s.n_locations; r++) {
    const struct kiln_aws_client *c = d->s.locations[r].client;
    const struct kiln_aws_action_stats *st = NULL;
    size_t n = kiln_aws_client_stats(c, &st);
    location_labels(&d->s.locations[r], where, sizeof(where));
    for (size_t i = 0; i < n; i++) {
      double pace = kiln_aws_client_pace(c, st[i].service, st[i].action);
      if (pace > 0)
        kiln_buf_printf(b,
                        "kiln_aws_pace_requests_per_second{%s,"
                        "service=\"%s\",action=\"%s\"} %g\n",
                        where,
                        kiln_aws_service_info(st[i].service) != NULL
                            ? kiln_aws_service_info(st[i].service)->signing_name
                            : "?",
                        st[i].action, pace);
    }
  }
}

static void drift_metrics(const struct kiln_status *st, struct kiln_buf *b)
{
  metric(b, "kiln_drift", "gauge",
         "1 per app and field that differs from git.");
  for (size_t i = 0; i < st->n; i++)
    for (size_t j = 0; j < st->plans[i].n_drift; j++) {
      const struct kiln_drift *e = &st->plans[i].drift[j];
      kiln_buf_puts(b, "kiln_drift{app=\"");
      label_value(b, st->plans[i].app);
      kiln_buf_puts(b, "\",field=\"");
      label_value(b, e->field);
      kiln_buf_puts(b, "\",cause=\"");
      label_value(b, kiln_plan_cause_name(e->cause));
      kiln_buf_puts(b, "\"} 1\n");
    }
}

/* 1 per app whose release of the version git wants is known, by state
 * (kiln/release.h): rolling-out, baking, healthy, rolling-back, failed,
 * degraded. */
static void release_metrics(const struct kiln_status *st, struct kiln_buf *b)
{
  metric(b, "kiln_release_state", "gauge",
         "1 per app, in the state of its release of the version git wants.");
  for (size_t i = 0; i < st->n; i++) {
    const struct kiln_release *r = &st->plans[i].release;
    if (r->state == KILN_RELEASE_NONE)
      continue;
    kiln_buf_puts(b, "kiln_release_state{app=\"");
    label_value(b, st->plans[i].app);
    kiln_buf_puts(b, "\",state=\"");
    label_value(b, kiln_release_state_name(r->state));
    kiln_buf_puts(b, "\"} 1\n");
  }
}

static void failure_metrics(const struct kiln_status *st, struct kiln_buf *b)
{
  metric(b, "kiln_release_failures_total", "counter",
         "Releases seen failing (or degraded), by app and cause: alarm, "
         "health, launch, cancelled, rollback-failed, bake, other.");
  for (size_t i = 0; i < st->n_failures; i++)
    for (int c = 0; c < KILN_RELEASE_CAUSE_COUNT; c++) {
      if (st->failures[i].count[c] == 0)
        continue;
      kiln_buf_puts(b, "kiln_release_failures_total{app=\"");
      label_value(b, st->failures[i].app);
      kiln_buf_puts(b, "\",cause=\"");
      label_value(b, kiln_release_cause_name((enum kiln_release_cause)c));
      kiln_buf_printf(b, "\"} %llu\n", st->failures[i].count[c]);
    }
}

static void http_metrics(const struct kiln__daemon *d, struct kiln_buf *b)
{
  metric(b, "kiln_http_rejected_total", "counter",
         "Connections and requests refused, by reason (bad_signature: hooks "
         "with a missing or wrong signature).");
  for (int i = 0; i < KILN__REJECT_KINDS; i++)
    kiln_buf_printf(b, "kiln_http_rejected_total{reason=\"%s\"} %llu\n",
                    kiln__reject_kind_name(i),
                    (unsigned long long)d->rejected[i]);
  metric(b, "kiln_log_suppressed_total", "counter",
         "Log lines about refusals left out by the rate limit (each window "
         "ends with one summary line per client instead).");
  for (int i = 0; i < KILN__REJECT_KINDS; i++)
    kiln_buf_printf(b, "kiln_log_suppressed_total{kind=\"%s\"} %llu\n",
                    kiln__reject_kind_name(i),
                    (unsigned long long)d->log_suppressed[i]);
}

static void gc_metrics(const struct kiln__daemon *d, struct kiln_buf *b)
{
  const struct kiln__gc_stats *g = &d->gc_stats;
  metric(b, "kiln_gc_runs_total", "counter",
         "Garbage collections (--gc-interval), by outcome (failed: something "
         "could not be looked at or deleted; the rest was).");
  kiln_buf_printf(b, "kiln_gc_runs_total{outcome=\"ok\"} %llu\n",
                  (unsigned long long)g->runs_ok);
  kiln_buf_printf(b, "kiln_gc_runs_total{outcome=\"failed\"} %llu\n",
                  (unsigned long long)g->runs_failed);
  metric(b, "kiln_gc_deleted_total", "counter",
         "What garbage collection deleted, by kind.");
  kiln_buf_printf(b, "kiln_gc_deleted_total{kind=\"image\"} %llu\n",
                  (unsigned long long)g->images);
  kiln_buf_printf(b, "kiln_gc_deleted_total{kind=\"snapshot\"} %llu\n",
                  (unsigned long long)g->snapshots);
  kiln_buf_printf(b,
                  "kiln_gc_deleted_total{kind=\"launch_template_version\"} "
                  "%llu\n",
                  (unsigned long long)g->versions);
  metric_sample(b, "kiln_gc_freed_gib_total", "counter",
                "EBS snapshot storage garbage collection freed, in GiB.",
                "%llu", (unsigned long long)g->freed_gib);
}

static void notify_metrics(const struct kiln__daemon *d, struct kiln_buf *b)
{
  metric(b, "kiln_notifications_total", "counter",
         "Notifications by destination type and outcome (failed: refused or "
         "a secret file unreadable; gave_up: still failing after every "
         "retry; dropped: its queue was full).");
  for (int t = 0; t < 4; t++)
    for (int o = 0; o < KILN_NOTIFY_OUTCOMES; o++)
      kiln_buf_printf(b,
                      "kiln_notifications_total{target=\"%s\",outcome=\"%s\"} "
                      "%llu\n",
                      kiln_notify_type_name((enum kiln_notifier_type)t),
                      kiln_notify_outcome_name((enum kiln_notify_outcome)o),
                      (unsigned long long)d->notifier.counts[t][o]);
}

void kiln__metrics_render(const struct kiln__daemon *d, struct kiln_buf *b)
{
  pass_metrics(&d->stats, b);
  process_metrics(b);
  status_metrics(d, b);
  aws_metrics(d, b);
  drift_metrics(&d->status, b);
  release_metrics(&d->status, b);
  failure_metrics(&d->status, b);
  http_metrics(d, b);
  gc_metrics(d, b);
  notify_metrics(d, b);
}
