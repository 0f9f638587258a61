#include "notify.h"

#include "log.h"

#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/file.h"
#include "kiln/hash.h"
#include "kiln/http.h"
#include "kiln/json_text.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_QUEUED 256
#define MAX_ATTEMPTS 5
#define RETRY_BASE_MS 1000
#define SEND_TIMEOUT_MS 10000
#define SECRET_MAX 4096

/* One message to one destination. */
struct message {
  struct message *next;
  char *url;        /* NULL: read from url_file when sent (Slack) */
  char *url_file;
  char *secret_file; /* token or HMAC key, read when sent */
  enum kiln_notifier_type type;
  char *body;
  char *id; /* idempotency key */
  char *event;
  int attempts;
};

struct kiln_notify_channel {
  struct kiln_notifier *n;
  char *key; /* type|url|repository: one queue per destination */
  enum kiln_notifier_type type;
  struct message *head, *tail;
  size_t queued;
  bool busy;
  uv_timer_t retry;
  struct message *sending;
};

const char *kiln_notify_outcome_name(enum kiln_notify_outcome o)
{
  static const char *const names[] = {"delivered", "failed", "gave_up",
                                      "dropped"};
  return (size_t)o < KILN_NOTIFY_OUTCOMES ? names[o] : "?";
}

const char *kiln_notify_type_name(enum kiln_notifier_type t)
{
  static const char *const names[] = {"github", "gitlab", "webhook", "slack"};
  return (size_t)t < 4 ? names[t] : "?";
}

static void message_free(struct message *m)
{
  if (m == NULL)
    return;
  free(m->url);
  free(m->url_file);
  free(m->secret_file);
  free(m->body);
  free(m->id);
  free(m->event);
  free(m);
}

/* A secret file's first line (the token, the key, the URL), or NULL. */
static char *read_secret(const char *path)
{
  struct kiln_buf b;
  char *s = NULL;
  kiln_buf_init(&b, SECRET_MAX);
  if (path != NULL && kiln_file_read(path, &b, NULL) == 0 && b.len > 0) {
    size_t n = strcspn(b.data, "\r\n");
    if (n > 0 && (s = malloc(n + 1)) != NULL) {
      memcpy(s, b.data, n);
      s[n] = '\0';
    }
  }
  if (b.data != NULL)
    OPENSSL_cleanse(b.data, b.len);
  kiln_buf_cleanup(&b);
  return s;
}

static void secret_free(char *s)
{
  if (s != NULL)
    OPENSSL_cleanse(s, strlen(s));
  free(s);
}

/* ---- the bodies --------------------------------------------------------- */

/* The commit status of a release event: GitHub's and GitLab's states. */
static const char *status_state(enum kiln_notifier_type t,
                                enum kiln_event_kind k)
{
  switch (k) {
  case KILN_EVENT_RELEASE_STARTED:
    return "pending";
  case KILN_EVENT_RELEASE_HEALTHY:
    return "success";
  default:
    return t == KILN_NOTIFY_GITHUB ? "failure" : "failed";
  }
}

static const char *context(const struct kiln_event *ev, struct kiln_buf *b)
{
  kiln_buf_printf(b, "kiln/%s", ev->app != NULL ? ev->app : "?");
  if (ev->environment != NULL)
    kiln_buf_printf(b, "/%s", ev->environment);
  return b->data;
}

/* GitHub caps a status's description at 140 characters. */
static char *description(const struct kiln_event *ev)
{
  char d[141];
  const char *what = ev->kind == KILN_EVENT_RELEASE_STARTED ? "releasing"
                     : ev->kind == KILN_EVENT_RELEASE_HEALTHY ? "healthy"
                     : ev->kind == KILN_EVENT_RELEASE_ROLLED_BACK
                         ? "rolled back"
                         : "failed";
  snprintf(d, sizeof(d), "%s %s%s%s", ev->version != NULL ? ev->version : "",
           what,
           ev->kind == KILN_EVENT_RELEASE_HEALTHY || ev->message == NULL
               ? ""
               : ": ",
           ev->kind == KILN_EVENT_RELEASE_HEALTHY || ev->message == NULL
               ? ""
               : ev->message);
  return strdup(d);
}

static char *status_body(enum kiln_notifier_type t, const struct kiln_event *ev)
{
  json_object *o = json_object_new_object();
  struct kiln_buf ctx;
  char *desc = description(ev), *out;
  kiln_buf_init(&ctx, 0);
  json_object_object_add(o, "state", kiln_json_string(status_state(t, ev->kind)));
  json_object_object_add(o, t == KILN_NOTIFY_GITHUB ? "context" : "name",
                         kiln_json_string(context(ev, &ctx)));
  json_object_object_add(o, "description", kiln_json_string(desc));
  out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
  json_object_put(o);
  kiln_buf_cleanup(&ctx);
  free(desc);
  return out;
}

static char *webhook_body(const struct kiln_event *ev, const char *id)
{
  json_object *o = json_object_new_object();
  char *out;
  json_object_object_add(o, "id", kiln_json_string(id));
  json_object_object_add(o, "event", kiln_json_string(kiln_event_kind_name(ev->kind)));
  json_object_object_add(o, "target", kiln_json_string(ev->target));
  json_object_object_add(o, "app", kiln_json_string(ev->app));
  json_object_object_add(o, "environment", kiln_json_string(ev->environment));
  json_object_object_add(o, "commit", kiln_json_string(ev->commit));
  json_object_object_add(o, "version", kiln_json_string(ev->version));
  json_object_object_add(o, "message", kiln_json_string(ev->message));
  json_object_object_add(o, "at", json_object_new_int64((int64_t)time(NULL)));
  out = strdup(json_object_to_json_string_ext(
      o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(o);
  return out;
}

/* Slack's mrkdwn: &, < and > escaped, so a value can be no link or
 * mention. */
static void slack_escaped(struct kiln_buf *b, const char *s)
{
  for (; s != NULL && *s != '\0'; s++)
    if (*s == '&')
      kiln_buf_puts(b, "&amp;");
    else if (*s == '<')
      kiln_buf_puts(b, "&lt;");
    else if (*s == '>')
      kiln_buf_puts(b, "&gt;");
    else
      kiln_buf_printf(b, "%c", *s);
}

static char *slack_body(const struct kiln_event *ev)
{
  static const char *const icon[] = {
      ":hourglass_flowing_sand:", ":white_check_mark:", ":x:",
      ":leftwards_arrow_with_hook:", ":warning:", ":white_check_mark:",
      ":warning:", ":white_check_mark:", ":x:"};
  struct kiln_buf t;
  json_object *o = json_object_new_object();
  char *out;
  kiln_buf_init(&t, 0);
  kiln_buf_printf(&t, "%s Kiln: *%s*", icon[ev->kind],
                  kiln_event_kind_name(ev->kind));
  if (ev->target != NULL) {
    kiln_buf_puts(&t, " of `");
    slack_escaped(&t, ev->target);
    kiln_buf_puts(&t, "`");
  }
  if (ev->version != NULL) {
    kiln_buf_puts(&t, " ");
    slack_escaped(&t, ev->version);
  }
  if (ev->commit != NULL)
    kiln_buf_printf(&t, " (commit `%.12s`)", ev->commit);
  if (ev->message != NULL) {
    kiln_buf_puts(&t, ": ");
    slack_escaped(&t, ev->message);
  }
  json_object_object_add(o, "text", kiln_json_string(t.data));
  out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
  json_object_put(o);
  kiln_buf_cleanup(&t);
  return out;
}

/* ---- delivery ------------------------------------------------------------ */

static void pump(struct kiln_notify_channel *c);

static void count(struct kiln_notify_channel *c, enum kiln_notify_outcome o)
{
  c->n->counts[c->type][o]++;
}

static void done(struct kiln_notify_channel *c, enum kiln_notify_outcome o,
                 const char *why)
{
  struct message *m = c->sending;
  count(c, o);
  if (o != KILN_NOTIFY_DELIVERED)
    kiln_log("warn", NULL, NULL, "notification %s to %s %s: %s", m->event,
             kiln_notify_type_name(c->type), kiln_notify_outcome_name(o), why);
  c->sending = NULL;
  c->busy = false;
  message_free(m);
  pump(c);
}

static void on_retry(uv_timer_t *t)
{
  struct kiln_notify_channel *c = t->data;
  c->busy = false;
  pump(c);
}

static void on_sent(struct kiln_http_response *res, void *data)
{
  struct kiln_notify_channel *c = data;
  struct message *m = c->sending;
  bool again = res->err == KILN_ETIMEDOUT || res->err == KILN_ECONN ||
               (res->err == 0 && (res->status >= 500 || res->status == 429));
  char why[256];

  if (res->err == KILN_ECANCELED || c->n->closing)
    return done(c, KILN_NOTIFY_GAVE_UP, "Kiln is stopping");
  if (res->err == 0 && res->status >= 200 && res->status < 300)
    return done(c, KILN_NOTIFY_DELIVERED, NULL);
  if (res->err != 0)
    snprintf(why, sizeof(why), "%s", kiln_strerror(res->err));
  else
    snprintf(why, sizeof(why), "HTTP %ld", res->status);
  if (!again)
    return done(c, KILN_NOTIFY_FAILED, why);
  if (m->attempts >= c->n->max_attempts)
    return done(c, KILN_NOTIFY_GAVE_UP, why);
  /* The same message (and idempotency key) again, after a backoff. */
  c->head == NULL ? (c->head = c->tail = m) : (m->next = c->head, c->head = m);
  c->queued++;
  c->sending = NULL;
  uv_timer_start(&c->retry, on_retry,
                 c->n->retry_base_ms << (m->attempts - 1 < 6 ? m->attempts - 1 : 6),
                 0);
}

static void hmac_hex(const char *key, const char *body, char out[65])
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body,
       strlen(body), mac, &len);
  for (unsigned int i = 0; i < len && i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", mac[i]);
  OPENSSL_cleanse(mac, sizeof(mac));
}

static void send_one(struct kiln_notify_channel *c, struct message *m)
{
  struct kiln_http_header h[8];
  size_t nh = 0;
  char *secret = NULL, *url = NULL, auth[SECRET_MAX + 32], sig[80], hex[65];
  int err;

  h[nh++] = (struct kiln_http_header){"Content-Type", "application/json"};
  h[nh++] = (struct kiln_http_header){"User-Agent", "kiln/" KILN_VERSION};
  if (m->type != KILN_NOTIFY_SLACK &&
      (secret = read_secret(m->secret_file)) == NULL) {
    c->sending = m;
    return done(c, KILN_NOTIFY_FAILED, "its secret file cannot be read");
  }
  if (m->type == KILN_NOTIFY_SLACK && (url = read_secret(m->url_file)) == NULL) {
    c->sending = m;
    return done(c, KILN_NOTIFY_FAILED, "its URL file cannot be read");
  }
  switch (m->type) {
  case KILN_NOTIFY_GITHUB:
    snprintf(auth, sizeof(auth), "Bearer %s", secret);
    h[nh++] = (struct kiln_http_header){"Authorization", auth};
    h[nh++] = (struct kiln_http_header){"Accept", "application/vnd.github+json"};
    break;
  case KILN_NOTIFY_GITLAB:
    h[nh++] = (struct kiln_http_header){"PRIVATE-TOKEN", secret};
    break;
  case KILN_NOTIFY_WEBHOOK:
    hmac_hex(secret, m->body, hex);
    snprintf(sig, sizeof(sig), "sha256=%s", hex);
    h[nh++] = (struct kiln_http_header){"X-Kiln-Signature-256", sig};
    h[nh++] = (struct kiln_http_header){"X-Kiln-Event", m->event};
    h[nh++] = (struct kiln_http_header){"X-Kiln-Delivery", m->id};
    h[nh++] = (struct kiln_http_header){"Idempotency-Key", m->id};
    break;
  case KILN_NOTIFY_SLACK:
    break;
  }
  m->attempts++;
  c->sending = m;
  c->busy = true;
  err = kiln_http_request_start(
      c->n->http,
      &(struct kiln_http_request){.method = "POST",
                                  .url = url != NULL ? url : m->url,
                                  .headers = h,
                                  .header_count = nh,
                                  .body = m->body,
                                  .body_len = strlen(m->body),
                                  .timeout_ms = SEND_TIMEOUT_MS,
                                  .max_body_bytes = 64 * 1024},
      on_sent, c, NULL);
  OPENSSL_cleanse(auth, sizeof(auth));
  secret_free(secret);
  secret_free(url);
  if (err != 0)
    done(c, KILN_NOTIFY_FAILED,
         err == KILN_EINVAL ? "its URL is not one to send to"
                            : kiln_strerror(err));
}

static void pump(struct kiln_notify_channel *c)
{
  struct message *m;
  if (c->busy || c->head == NULL || c->n->closing)
    return;
  m = c->head;
  c->head = m->next;
  if (c->head == NULL)
    c->tail = NULL;
  m->next = NULL;
  c->queued--;
  send_one(c, m);
}

/* ---- queueing ------------------------------------------------------------ */

static struct kiln_notify_channel *channel(struct kiln_notifier *n,
                                           const struct kiln_notifier_spec *s)
{
  char key[2600];
  struct kiln_notify_channel *c;
  snprintf(key, sizeof(key), "%d|%s|%s|%s", (int)s->type,
           s->url != NULL ? s->url : "", s->repository != NULL ? s->repository : "",
           s->url_file != NULL ? s->url_file : "");
  for (size_t i = 0; i < n->n_channels; i++)
    if (strcmp(n->channels[i]->key, key) == 0)
      return n->channels[i];
  struct kiln_notify_channel **more =
      realloc(n->channels, (n->n_channels + 1) * sizeof(*more));
  if (more == NULL)
    return NULL;
  n->channels = more;
  c = calloc(1, sizeof(*c));
  if (c == NULL || (c->key = strdup(key)) == NULL) {
    free(c);
    return NULL;
  }
  c->n = n;
  c->type = s->type;
  uv_timer_init(n->loop, &c->retry);
  c->retry.data = c;
  n->channels[n->n_channels++] = c;
  return c;
}

/* The URL of a status: {api}/repos/{repo}/statuses/{sha} (GitHub),
 * {api}/projects/{url-encoded project}/statuses/{sha} (GitLab). */
static char *status_url(const struct kiln_notifier_spec *s, const char *sha)
{
  struct kiln_buf b;
  char *out;
  kiln_buf_init(&b, 0);
  kiln_buf_puts(&b, s->url);
  if (b.len > 0 && b.data[b.len - 1] == '/')
    b.data[--b.len] = '\0';
  if (s->type == KILN_NOTIFY_GITHUB) {
    kiln_buf_printf(&b, "/repos/%s/statuses/%s", s->repository, sha);
  } else {
    kiln_buf_puts(&b, "/projects/");
    for (const char *p = s->repository; *p != '\0'; p++)
      if (*p == '/')
        kiln_buf_puts(&b, "%2F");
      else
        kiln_buf_printf(&b, "%c", *p);
    kiln_buf_printf(&b, "/statuses/%s", sha);
  }
  out = b.data != NULL ? strdup(b.data) : NULL;
  kiln_buf_cleanup(&b);
  return out;
}

static char *dup_or_null(const char *s)
{
  return s != NULL ? strdup(s) : NULL;
}

void kiln_notifier_send(struct kiln_notifier *n,
                        const struct kiln_notifier_spec *notifiers,
                        size_t count_, const struct kiln_event *ev)
{
  char idsrc[512], id[65];
  snprintf(idsrc, sizeof(idsrc), "%s|%s|%s|%s", kiln_event_kind_name(ev->kind),
           ev->target != NULL ? ev->target : "",
           ev->commit != NULL ? ev->commit : "",
           ev->message != NULL ? ev->message : "");
  if (n->closing || kiln_sha256_hex(idsrc, strlen(idsrc), id) != 0)
    return;
  id[32] = '\0';
  for (size_t i = 0; i < count_; i++) {
    const struct kiln_notifier_spec *s = &notifiers[i];
    struct kiln_notify_channel *c;
    struct message *m;
    bool status = s->type == KILN_NOTIFY_GITHUB || s->type == KILN_NOTIFY_GITLAB;
    if (status && (!kiln_event_is_release(ev->kind) || ev->commit == NULL))
      continue;
    if ((c = channel(n, s)) == NULL)
      continue;
    if (c->queued >= n->max_queued) {
      count(c, KILN_NOTIFY_DROPPED);
      kiln_log("warn", ev->target, ev->commit,
               "notification %s to %s dropped: %zu are waiting already",
               kiln_event_kind_name(ev->kind), kiln_notify_type_name(s->type),
               c->queued);
      continue;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL)
      continue;
    m->type = s->type;
    m->id = strdup(id);
    m->event = strdup(kiln_event_kind_name(ev->kind));
    m->url = status ? status_url(s, ev->commit) : dup_or_null(s->url);
    m->url_file = dup_or_null(s->url_file);
    m->secret_file =
        dup_or_null(s->type == KILN_NOTIFY_WEBHOOK ? s->secret_file : s->token_file);
    m->body = status ? status_body(s->type, ev)
              : s->type == KILN_NOTIFY_SLACK ? slack_body(ev)
                                             : webhook_body(ev, id);
    if (m->id == NULL || m->event == NULL || m->body == NULL ||
        (m->url == NULL && m->url_file == NULL)) {
      message_free(m);
      continue;
    }
    c->tail == NULL ? (c->head = c->tail = m) : (c->tail->next = m, c->tail = m);
    c->queued++;
    pump(c);
  }
}

int kiln_notifier_init(struct kiln_notifier *n, uv_loop_t *loop)
{
  const char *base = getenv("KILN_NOTIFY_RETRY_MS");
  memset(n, 0, sizeof(*n));
  n->loop = loop;
  n->retry_base_ms = RETRY_BASE_MS;
  if (base != NULL && atoi(base) > 0)
    n->retry_base_ms = (uint64_t)atoi(base);
  n->max_attempts = MAX_ATTEMPTS;
  n->max_queued = MAX_QUEUED;
  return kiln_http_client_new(loop, &(struct kiln_http_client_options){0},
                              &n->http);
}

bool kiln_notifier_idle(const struct kiln_notifier *n)
{
  for (size_t i = 0; i < n->n_channels; i++)
    if (n->channels[i]->busy || n->channels[i]->head != NULL)
      return false;
  return true;
}

static void on_timer_closed(uv_handle_t *h)
{
  struct kiln_notify_channel *c = h->data;
  struct message *m = c->head;
  while (m != NULL) {
    struct message *next = m->next;
    message_free(m);
    m = next;
  }
  message_free(c->sending);
  free(c->key);
  free(c);
}

static void on_http_closed(struct kiln_http_client *http, void *data)
{
  struct kiln_notifier *n = data;
  (void)http;
  for (size_t i = 0; i < n->n_channels; i++)
    uv_close((uv_handle_t *)&n->channels[i]->retry, on_timer_closed);
  free(n->channels);
  n->channels = NULL;
  n->n_channels = 0;
}

void kiln_notifier_close(struct kiln_notifier *n)
{
  if (n->http == NULL || n->closing)
    return;
  n->closing = true;
  for (size_t i = 0; i < n->n_channels; i++)
    uv_timer_stop(&n->channels[i]->retry);
  kiln_http_client_close(n->http, on_http_closed, n);
}
