/* The credentials object, the provider base and the asynchronous
 * completion helper shared by every provider.
 */
#include "credentials_private.h"

#include "kiln/error.h"
#include "kiln/http.h"
#include "kiln/sigv4.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void kiln__msgf(char *out, size_t size, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, size, fmt, ap);
  va_end(ap);
}

void kiln__wipe_response(struct kiln_http_response *res)
{
  if (res->body.data != NULL)
    OPENSSL_cleanse(res->body.data, res->body.cap);
}

void kiln__secret_free(char *s)
{
  if (s != NULL) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

char *kiln__strdup_opt(const char *s, int *err)
{
  char *c;
  if (s == NULL)
    return NULL;
  c = strdup(s);
  if (c == NULL)
    *err = KILN_ENOMEM;
  return c;
}

int kiln_aws_credentials_new(const char *access_key_id,
                             const char *secret_access_key,
                             const char *session_token, const char *account_id,
                             int64_t expiration_ms, const char *source,
                             struct kiln_aws_credentials **out)
{
  struct kiln_aws_credentials *c;
  int err = 0;

  *out = NULL;
  if (access_key_id == NULL || access_key_id[0] == '\0' ||
      secret_access_key == NULL || secret_access_key[0] == '\0')
    return KILN_EINVAL;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return KILN_ENOMEM;
  c->refcount_ = 1;
  c->expiration_ms = expiration_ms;
  snprintf(c->source, sizeof(c->source), "%s", source != NULL ? source : "");
  c->access_key_id = kiln__strdup_opt(access_key_id, &err);
  c->secret_access_key = kiln__strdup_opt(secret_access_key, &err);
  if (session_token != NULL && session_token[0] != '\0')
    c->session_token = kiln__strdup_opt(session_token, &err);
  if (account_id != NULL && account_id[0] != '\0')
    c->account_id = kiln__strdup_opt(account_id, &err);
  if (err != 0) {
    kiln_aws_credentials_unref(c);
    return err;
  }
  *out = c;
  return 0;
}

struct kiln_aws_credentials *
kiln_aws_credentials_ref(struct kiln_aws_credentials *c)
{
  c->refcount_++;
  return c;
}

void kiln_aws_credentials_unref(struct kiln_aws_credentials *c)
{
  if (c == NULL || --c->refcount_ > 0)
    return;
  kiln__secret_free(c->access_key_id);
  kiln__secret_free(c->secret_access_key);
  kiln__secret_free(c->session_token);
  kiln__secret_free(c->account_id);
  OPENSSL_cleanse(c, sizeof(*c));
  free(c);
}

void kiln_aws_credentials_sigv4(const struct kiln_aws_credentials *c,
                                struct kiln_sigv4_credentials *out)
{
  out->access_key_id = c->access_key_id;
  out->secret_access_key = c->secret_access_key;
  out->session_token = c->session_token;
}

static void format_time(int64_t ms, char *out, size_t size)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (gmtime_r(&t, &tm) == NULL ||
      strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(out, size, "?");
}

char *kiln_aws_credentials_describe(const struct kiln_aws_credentials *c,
                                    char *out, size_t size)
{
  char when[32];
  size_t n;

  if (size == 0)
    return out;
  if (c == NULL) {
    snprintf(out, size, "(no credentials)");
    return out;
  }
  /* Only the first four characters of the key id (its kind: AKIA for
   * long-term, ASIA for temporary) are shown. */
  n = strlen(c->access_key_id);
  if (c->expiration_ms != 0) {
    format_time(c->expiration_ms, when, sizeof(when));
    snprintf(out, size, "%.*s… from %s, temporary, expires %s",
             (int)(n < 4 ? n : 4), c->access_key_id, c->source, when);
  } else {
    snprintf(out, size, "%.*s… from %s", (int)(n < 4 ? n : 4), c->access_key_id,
             c->source);
  }
  return out;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
  int64_t era;
  unsigned yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (unsigned)(y - era * 400);
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char **p, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9')
      return -1;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

int kiln_aws_parse_time(const char *s, int64_t *out_ms)
{
  int y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 0;
  const char *p = s;

  if (s == NULL || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
      *p++ != '-' || digits(&p, 2, &d) || (*p != 'T' && *p != 't') ||
      (p++, digits(&p, 2, &h)) || *p++ != ':' || digits(&p, 2, &mi) ||
      *p++ != ':' || digits(&p, 2, &sec))
    return KILN_EPARSE;
  if (*p == '.') {
    int scale = 100;
    p++;
    if (*p < '0' || *p > '9')
      return KILN_EPARSE;
    while (*p >= '0' && *p <= '9') {
      ms += (*p - '0') * scale;
      scale /= 10;
      p++;
    }
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    sign = *p++ == '+' ? 1 : -1;
    if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
      return KILN_EPARSE;
  } else {
    return KILN_EPARSE;
  }
  if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      sec > 60 || oh > 23 || om > 59)
    return KILN_EPARSE;
  *out_ms = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
              mi * 60 + sec) -
             sign * (oh * 3600 + om * 60)) *
                1000 +
            ms;
  return 0;
}

/* ---- Deferred completion ---------------------------------------------- */

struct deferred {
  uv_timer_t timer;
  kiln_aws_credentials_cb *cb;
  void *data;
  int status;
  struct kiln_aws_credentials *creds;
  char *message;
};

static void deferred_closed(uv_handle_t *h)
{
  struct deferred *d = container_of(h, struct deferred, timer);
  free(d->message);
  free(d);
}

static void deferred_fire(uv_timer_t *t)
{
  struct deferred *d = container_of(t, struct deferred, timer);
  d->cb(d->status, d->creds, d->message != NULL ? d->message : "", d->data);
  kiln_aws_credentials_unref(d->creds);
  d->creds = NULL;
  uv_close((uv_handle_t *)&d->timer, deferred_closed);
}

int kiln__creds_defer(uv_loop_t *loop, kiln_aws_credentials_cb *cb, void *data,
                      int status, struct kiln_aws_credentials *creds,
                      const char *message)
{
  struct deferred *d = calloc(1, sizeof(*d));
  if (d == NULL)
    return KILN_ENOMEM;
  if (message != NULL && message[0] != '\0' &&
      (d->message = strdup(message)) == NULL) {
    free(d);
    return KILN_ENOMEM;
  }
  d->cb = cb;
  d->data = data;
  d->status = status;
  d->creds = creds != NULL ? kiln_aws_credentials_ref(creds) : NULL;
  uv_timer_init(loop, &d->timer);
  uv_timer_start(&d->timer, deferred_fire, 0, 0);
  return 0;
}

/* ---- Provider base ---------------------------------------------------- */

int64_t kiln__real_clock_ms(void *arg)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kiln__provider_init(struct kiln_aws_credentials_provider *p,
                         const struct kiln__provider_vtable *vt,
                         const struct kiln_aws_credentials_options *o)
{
  p->vt = vt;
  p->refcount = 1;
  p->loop = o->loop;
  p->clock = o->clock != NULL ? o->clock : kiln__real_clock_ms;
  p->clock_arg = o->clock_arg;
  p->read_file =
      o->read_file != NULL ? o->read_file : kiln_aws_config_real_read_file;
  p->read_file_arg = o->read_file_arg;
  p->http = o->http;
  p->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
  p->refresh_before_ms =
      o->refresh_before_ms > 0 ? o->refresh_before_ms : 10 * 60 * 1000;
  p->max_attempts = o->config != NULL && o->config->max_attempts > 0
                        ? o->config->max_attempts
                        : KILN_AWS_DEFAULT_MAX_ATTEMPTS;
  p->retry_base_ms = o->retry_base_ms;
}

static int context_get(struct kiln_aws_credentials_provider *p,
                       kiln_aws_credentials_cb *cb, void *data)
{
  return KILN_EINVAL;
}

static void context_destroy(struct kiln_aws_credentials_provider *p)
{
  free(p);
}

static const struct kiln__provider_vtable context_vt = {"context", context_get,
                                                        context_destroy};

int kiln__provider_context_new(const struct kiln_aws_credentials_options *o,
                               struct kiln_aws_credentials_provider **out)
{
  struct kiln_aws_credentials_provider *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return KILN_ENOMEM;
  kiln__provider_init(p, &context_vt, o);
  *out = p;
  return 0;
}

int64_t kiln__provider_now_ms(const struct kiln_aws_credentials_provider *p)
{
  return p->clock(p->clock_arg);
}

int kiln_aws_credentials_get(struct kiln_aws_credentials_provider *p,
                             kiln_aws_credentials_cb *cb, void *data)
{
  if (p == NULL || cb == NULL)
    return KILN_EINVAL;
  return p->vt->get(p, cb, data);
}

const char *kiln_aws_credentials_provider_kind(
    const struct kiln_aws_credentials_provider *p)
{
  return p->vt->kind;
}

struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_ref(struct kiln_aws_credentials_provider *p)
{
  p->refcount++;
  return p;
}

void kiln_aws_credentials_provider_unref(
    struct kiln_aws_credentials_provider *p)
{
  if (p != NULL && --p->refcount == 0)
    p->vt->destroy(p);
}

/* ---- Static ----------------------------------------------------------- */

struct static_provider {
  struct kiln_aws_credentials_provider base;
  struct kiln_aws_credentials *creds;
};

static int static_get(struct kiln_aws_credentials_provider *p,
                      kiln_aws_credentials_cb *cb, void *data)
{
  struct static_provider *s = container_of(p, struct static_provider, base);
  return kiln__creds_defer(p->loop, cb, data, 0, s->creds, NULL);
}

static void static_destroy(struct kiln_aws_credentials_provider *p)
{
  struct static_provider *s = container_of(p, struct static_provider, base);
  kiln_aws_credentials_unref(s->creds);
  free(s);
}

static const struct kiln__provider_vtable static_vt = {"static", static_get,
                                                       static_destroy};

int kiln_aws_credentials_provider_new_static(
    const struct kiln_aws_credentials_options *o, const char *access_key_id,
    const char *secret_access_key, const char *session_token,
    const char *source, struct kiln_aws_credentials_provider **out)
{
  struct static_provider *s;
  int err;

  *out = NULL;
  if (o == NULL || o->loop == NULL)
    return KILN_EINVAL;
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return KILN_ENOMEM;
  kiln__provider_init(&s->base, &static_vt, o);
  err = kiln_aws_credentials_new(access_key_id, secret_access_key,
                                 session_token, NULL, 0, source, &s->creds);
  if (err != 0) {
    free(s);
    return err;
  }
  *out = &s->base;
  return 0;
}

/* ---- Environment ------------------------------------------------------ */

/* The env provider is a static provider decided at creation, or nothing:
 * the config is a snapshot of the environment. A lone key id or secret is
 * an error the chain must surface rather than skip. */
struct env_provider {
  struct kiln_aws_credentials_provider base;
  struct kiln_aws_credentials *creds; /* NULL: not configured */
  const char *error;                  /* static; non-NULL: misconfigured */
};

static int env_get(struct kiln_aws_credentials_provider *p,
                   kiln_aws_credentials_cb *cb, void *data)
{
  struct env_provider *e = container_of(p, struct env_provider, base);
  if (e->error != NULL)
    return kiln__creds_defer(p->loop, cb, data, KILN_ECREDENTIALS, NULL,
                             e->error);
  if (e->creds == NULL)
    return KILN_ENOENT;
  return kiln__creds_defer(p->loop, cb, data, 0, e->creds, NULL);
}

static void env_destroy(struct kiln_aws_credentials_provider *p)
{
  struct env_provider *e = container_of(p, struct env_provider, base);
  kiln_aws_credentials_unref(e->creds);
  free(e);
}

static const struct kiln__provider_vtable env_vt = {"env", env_get,
                                                    env_destroy};

int kiln_aws_credentials_provider_new_env(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider **out)
{
  const struct kiln_aws_config *cfg;
  struct env_provider *e;
  int err = 0;

  *out = NULL;
  if (o == NULL || o->loop == NULL || o->config == NULL)
    return KILN_EINVAL;
  cfg = o->config;
  e = calloc(1, sizeof(*e));
  if (e == NULL)
    return KILN_ENOMEM;
  kiln__provider_init(&e->base, &env_vt, o);
  if (cfg->env_access_key_id != NULL && cfg->env_secret_access_key != NULL) {
    err = kiln_aws_credentials_new(
        cfg->env_access_key_id, cfg->env_secret_access_key,
        cfg->env_session_token, cfg->env_account_id, 0, "env", &e->creds);
  } else if (cfg->env_access_key_id != NULL) {
    e->error = "env: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is "
               "not: set both, or unset AWS_ACCESS_KEY_ID";
  } else if (cfg->env_secret_access_key != NULL) {
    e->error = "env: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is "
               "not: set both, or unset AWS_SECRET_ACCESS_KEY";
  }
  if (err != 0) {
    free(e);
    return err;
  }
  *out = &e->base;
  return 0;
}

/* ---- Chain ------------------------------------------------------------ */

struct chain_provider {
  struct kiln_aws_credentials_provider base;
  size_t count;
  struct kiln_aws_credentials_provider *providers[];
};

struct chain_req {
  struct chain_provider *chain; /* holds a reference */
  size_t next;
  kiln_aws_credentials_cb *cb;
  void *data;
  char skipped[512]; /* why each provider was skipped, for the error */
};

static void chain_note(struct chain_req *r, const char *kind, const char *why)
{
  size_t n = strlen(r->skipped);
  snprintf(r->skipped + n, sizeof(r->skipped) - n, "%s%s%s%s",
           n != 0 ? "; " : "", kind, why[0] != '\0' ? ": " : "", why);
}

static void chain_step_cb(int status, struct kiln_aws_credentials *creds,
                          const char *message, void *data);

/* Starts the next configured provider. Returns 0 when one is in flight,
 * KILN_ENOENT when none is left, or another error. */
static int chain_advance(struct chain_req *r)
{
  while (r->next < r->chain->count) {
    struct kiln_aws_credentials_provider *p = r->chain->providers[r->next++];
    int err = kiln_aws_credentials_get(p, chain_step_cb, r);
    if (err != KILN_ENOENT)
      return err;
    chain_note(r, p->vt->kind, "not configured");
  }
  return KILN_ENOENT;
}

static void chain_finish(struct chain_req *r, int status,
                         struct kiln_aws_credentials *creds,
                         const char *message)
{
  r->cb(status, creds, message, r->data);
  kiln_aws_credentials_provider_unref(&r->chain->base);
  free(r);
}

static void chain_step_cb(int status, struct kiln_aws_credentials *creds,
                          const char *message, void *data)
{
  struct chain_req *r = data;
  char msg[600];
  int err;

  if (status != KILN_ENOENT) {
    chain_finish(r, status, creds, message);
    return;
  }
  chain_note(r, r->chain->providers[r->next - 1]->vt->kind, message);
  err = chain_advance(r);
  if (err == 0)
    return;
  if (err == KILN_ENOENT) {
    kiln__msgf(msg, sizeof(msg),
               "no AWS credentials found (%s): set AWS_ACCESS_KEY_ID and "
               "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where a role is "
               "available",
               r->skipped);
    chain_finish(r, KILN_ECREDENTIALS, NULL, msg);
  } else {
    chain_finish(r, err, NULL, "cannot start a credential provider");
  }
}

static int chain_get(struct kiln_aws_credentials_provider *p,
                     kiln_aws_credentials_cb *cb, void *data)
{
  struct chain_provider *c = container_of(p, struct chain_provider, base);
  struct chain_req *r = calloc(1, sizeof(*r));
  char msg[600];
  int err;

  if (r == NULL)
    return KILN_ENOMEM;
  r->chain = c;
  r->cb = cb;
  r->data = data;
  err = chain_advance(r);
  if (err == 0) {
    kiln_aws_credentials_provider_ref(p);
    return 0;
  }
  if (err == KILN_ENOENT) {
    kiln__msgf(msg, sizeof(msg),
               "no AWS credentials found (%s): set AWS_ACCESS_KEY_ID and "
               "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where a role is "
               "available",
               r->skipped);
    err = kiln__creds_defer(p->loop, cb, data, KILN_ECREDENTIALS, NULL, msg);
  }
  free(r);
  return err;
}

static void chain_destroy(struct kiln_aws_credentials_provider *p)
{
  struct chain_provider *c = container_of(p, struct chain_provider, base);
  for (size_t i = 0; i < c->count; i++)
    kiln_aws_credentials_provider_unref(c->providers[i]);
  free(c);
}

static const struct kiln__provider_vtable chain_vt = {"chain", chain_get,
                                                      chain_destroy};

int kiln_aws_credentials_provider_new_chain(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider *const *providers, size_t count,
    struct kiln_aws_credentials_provider **out)
{
  struct chain_provider *c;

  *out = NULL;
  if (o == NULL || o->loop == NULL || (count != 0 && providers == NULL))
    return KILN_EINVAL;
  c = calloc(1, sizeof(*c) + count * sizeof(c->providers[0]));
  if (c == NULL)
    return KILN_ENOMEM;
  kiln__provider_init(&c->base, &chain_vt, o);
  c->count = count;
  for (size_t i = 0; i < count; i++)
    c->providers[i] = kiln_aws_credentials_provider_ref(providers[i]);
  *out = &c->base;
  return 0;
}

/* ---- Cache ------------------------------------------------------------ */

struct waiter {
  struct waiter *next;
  kiln_aws_credentials_cb *cb;
  void *data;
};

struct cached_provider {
  struct kiln_aws_credentials_provider base;
  struct kiln_aws_credentials_provider *source;
  struct kiln_aws_credentials *creds; /* NULL until the first success */
  int refreshing;
  struct waiter *waiters, **waiters_tail;
};

static int still_fresh(const struct cached_provider *c, int64_t now)
{
  const struct kiln_aws_credentials *k = c->creds;
  return k != NULL && (k->expiration_ms == 0 ||
                       now < k->expiration_ms - c->base.refresh_before_ms);
}

static int not_expired(const struct cached_provider *c, int64_t now)
{
  const struct kiln_aws_credentials *k = c->creds;
  return k != NULL && (k->expiration_ms == 0 || now < k->expiration_ms);
}

static void cached_refreshed(int status, struct kiln_aws_credentials *creds,
                             const char *message, void *data)
{
  struct cached_provider *c = data;
  struct waiter *w, *next;
  int64_t now = kiln__provider_now_ms(&c->base);

  c->refreshing = 0;
  if (status == 0) {
    kiln_aws_credentials_unref(c->creds);
    c->creds = kiln_aws_credentials_ref(creds);
  } else if (status == KILN_ENOENT) {
    status = KILN_ECREDENTIALS;
  }
  w = c->waiters;
  c->waiters = NULL;
  c->waiters_tail = &c->waiters;
  /* Every waiter registered before this callback: their get() calls have
   * returned, so calling them here is asynchronous for them. A failed
   * refresh still serves credentials that have not expired yet. */
  for (; w != NULL; w = next) {
    next = w->next;
    if (status == 0 || not_expired(c, now))
      w->cb(0, c->creds, "", w->data);
    else
      w->cb(status, NULL, message, w->data);
    free(w);
  }
  kiln_aws_credentials_provider_unref(&c->base);
}

static int cached_get(struct kiln_aws_credentials_provider *p,
                      kiln_aws_credentials_cb *cb, void *data)
{
  struct cached_provider *c = container_of(p, struct cached_provider, base);
  int64_t now = kiln__provider_now_ms(p);
  struct waiter *w;
  int err;

  if (still_fresh(c, now))
    return kiln__creds_defer(p->loop, cb, data, 0, c->creds, NULL);
  w = calloc(1, sizeof(*w));
  if (w == NULL)
    return KILN_ENOMEM;
  w->cb = cb;
  w->data = data;
  if (!c->refreshing) {
    kiln_aws_credentials_provider_ref(p);
    c->refreshing = 1;
    err = kiln_aws_credentials_get(c->source, cached_refreshed, c);
    if (err != 0) {
      c->refreshing = 0;
      kiln_aws_credentials_provider_unref(p);
      free(w);
      if (not_expired(c, now))
        return kiln__creds_defer(p->loop, cb, data, 0, c->creds, NULL);
      if (err == KILN_ENOENT)
        return kiln__creds_defer(p->loop, cb, data, KILN_ECREDENTIALS, NULL,
                                 "no AWS credentials found");
      return err;
    }
  }
  *c->waiters_tail = w;
  c->waiters_tail = &w->next;
  return 0;
}

static void cached_destroy(struct kiln_aws_credentials_provider *p)
{
  struct cached_provider *c = container_of(p, struct cached_provider, base);
  kiln_aws_credentials_unref(c->creds);
  kiln_aws_credentials_provider_unref(c->source);
  free(c);
}

static const struct kiln__provider_vtable cached_vt = {"cache", cached_get,
                                                       cached_destroy};

int kiln_aws_credentials_provider_new_cached(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider *source,
    struct kiln_aws_credentials_provider **out)
{
  struct cached_provider *c;

  *out = NULL;
  if (o == NULL || o->loop == NULL || source == NULL)
    return KILN_EINVAL;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return KILN_ENOMEM;
  kiln__provider_init(&c->base, &cached_vt, o);
  c->source = kiln_aws_credentials_provider_ref(source);
  c->waiters_tail = &c->waiters;
  *out = &c->base;
  return 0;
}

/* ---- Default chain ---------------------------------------------------- */

int kiln_aws_credentials_provider_new_default(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider **out)
{
  struct kiln_aws_credentials_provider *p[5] = {NULL}, *chain = NULL;
  int err;

  *out = NULL;
  if (o == NULL || o->loop == NULL || o->config == NULL || o->http == NULL)
    return KILN_EINVAL;
  if ((err = kiln_aws_credentials_provider_new_env(o, &p[0])) != 0 ||
      (err = kiln_aws_credentials_provider_new_profile(o, &p[1])) != 0 ||
      (err = kiln_aws_credentials_provider_new_web_identity(o, NULL, NULL, NULL,
                                                            &p[2])) != 0 ||
      (err = kiln_aws_credentials_provider_new_container(o, &p[3])) != 0 ||
      (err = kiln_aws_credentials_provider_new_imds(o, &p[4])) != 0 ||
      (err = kiln_aws_credentials_provider_new_chain(o, p, 5, &chain)) != 0)
    goto done;
  err = kiln_aws_credentials_provider_new_cached(o, chain, out);
done:
  kiln_aws_credentials_provider_unref(chain);
  for (size_t i = 0; i < 5; i++)
    kiln_aws_credentials_provider_unref(p[i]);
  return err;
}
