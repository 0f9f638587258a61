/* Client-side token buckets. See include/kiln/aws_retry.h.
 *
 * EC2 meters its API per account, region and action, each action with a
 * token bucket of its own: non-mutating actions (Describe*) 100 tokens
 * refilled at 20 per second, CreateLaunchTemplate[Version] 100 at 5 per
 * second, other mutating actions 200 at 5 per second. Kiln keeps a bucket
 * per action too, sized at a share of the published one (90 % unless
 * KILN_AWS_RATE_LIMIT says otherwise), so that alone in an account it is
 * never throttled and other tools keep the rest. (At 90 % a release of
 * 1,000 apps takes 1.12 times what the buckets allow at best; at 80 % it
 * was 1.28 times.)
 *
 * Auto Scaling meters all of an account's calls in a region together, with
 * limits it does not publish; Image Builder, SSM and STS publish none
 * either. For those Kiln keeps one bucket per service, sized by moderate
 * guesses. Whatever the service, a throttled answer halves the refill rate
 * of that bucket and empties it (the account is busier than Kiln knew);
 * successes win the rate back a step at a time, up to the default. That
 * is the AIMD shape of the AWS SDKs' adaptive retry mode.
 */
#include "kiln/aws_retry.h"
#include "kiln/error.h"

#include <stdlib.h>
#include <string.h>

/* A published (or guessed) bucket for the actions of a service whose name
 * starts with prefix ("" for any); first match wins. per_action: the
 * service meters each action on its own (EC2), else all of them together. */
struct limit {
  const char *service;
  const char *prefix;
  double capacity, refill_per_s;
  int per_action;
};

static const struct limit limits[] = {
    {"ec2", "Describe", 100, 20, 1},
    {"ec2", "CreateLaunchTemplate", 100, 5, 1}, /* and ...Version */
    {"ec2", "", 200, 5, 1},
    {"autoscaling", "", 100, 20, 0}, /* EC2's Describe* bucket, as a guess */
    {"imagebuilder", "", 20, 5, 0},
    {"ssm", "", 40, 20, 0},
    {"sts", "", 20, 10, 0},
};
static const struct limit fallback = {NULL, "", 10, 2, 0};

/* The lowest a throttled bucket's refill falls to, as a share of its
 * default, and the step a success wins back. */
#define MIN_REFILL_SHARE 0.25
#define MAX_WAIT_MS      3600000.0
#define RECOVERY_SHARE   0.02

void kiln_ratelimit_bucket_init(struct kiln_ratelimit_bucket *b,
                                double capacity, double refill_per_s,
                                uint64_t now_ms)
{
  b->capacity = capacity > 0 ? capacity : 1;
  b->refill_per_s = refill_per_s > 0 ? refill_per_s : 1;
  b->tokens = b->capacity;
  b->last_ms = now_ms;
}

/* Adds what flowed in since last_ms. A clock that goes backwards refills
 * nothing. */
static void bucket_refill(struct kiln_ratelimit_bucket *b, uint64_t now_ms)
{
  if (now_ms > b->last_ms) {
    b->tokens += (double)(now_ms - b->last_ms) * b->refill_per_s / 1000.0;
    if (b->tokens > b->capacity)
      b->tokens = b->capacity;
    b->last_ms = now_ms;
  }
}

int kiln_ratelimit_bucket_take(struct kiln_ratelimit_bucket *b, uint64_t now_ms,
                               uint64_t *wait_ms)
{
  bucket_refill(b, now_ms);
  if (b->tokens >= 1.0) {
    b->tokens -= 1.0;
    if (wait_ms != NULL)
      *wait_ms = 0;
    return 0;
  }
  if (wait_ms != NULL) {
    double ms = (1.0 - b->tokens) * 1000.0 / b->refill_per_s;
    /* However slow a bucket is made, look again within the hour. */
    if (!(ms < MAX_WAIT_MS))
      ms = MAX_WAIT_MS;
    *wait_ms = (uint64_t)ms + ((double)(uint64_t)ms < ms ? 1 : 0);
  }
  return KILN_EAGAIN;
}

static int has_prefix(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const struct limit *limit_of(const char *service, const char *action)
{
  size_t i;

  for (i = 0; service != NULL && i < sizeof(limits) / sizeof(limits[0]); i++)
    if (strcmp(service, limits[i].service) == 0 &&
        has_prefix(action != NULL ? action : "", limits[i].prefix))
      return &limits[i];
  return &fallback;
}

void kiln_ratelimit_published(const char *service, const char *action,
                              double *capacity, double *refill_per_s)
{
  const struct limit *l = limit_of(service, action);

  *capacity = l->capacity;
  *refill_per_s = l->refill_per_s;
}

void kiln_ratelimit_defaults(const char *service, const char *action,
                             double *capacity, double *refill_per_s)
{
  kiln_ratelimit_published(service, action, capacity, refill_per_s);
  *capacity *= KILN_RATELIMIT_DEFAULT_SHARE;
  *refill_per_s *= KILN_RATELIMIT_DEFAULT_SHARE;
}

struct rl_entry {
  struct rl_entry *next;
  struct kiln_ratelimit_bucket bucket;
  double max_refill;     /* the rate successes win back up to */
  uint64_t slowed_at_ms; /* last halving; 0: never */
  int slowed;
  char key[]; /* "service\0region\0action", action "" for a whole service */
};

struct kiln_ratelimiter {
  struct rl_entry *head;
  double share;
};

int kiln_ratelimiter_new(struct kiln_ratelimiter **out, double share)
{
  if (!(share >= 0 && share <= 1))
    return KILN_EINVAL;
  *out = calloc(1, sizeof(**out));
  if (*out == NULL)
    return KILN_ENOMEM;
  (*out)->share = share > 0 ? share : KILN_RATELIMIT_DEFAULT_SHARE;
  return 0;
}

void kiln_ratelimiter_free(struct kiln_ratelimiter *rl)
{
  struct rl_entry *e, *next;

  if (rl == NULL)
    return;
  for (e = rl->head; e != NULL; e = next) {
    next = e->next;
    free(e);
  }
  free(rl);
}

static struct rl_entry *find(struct kiln_ratelimiter *rl, const char *service,
                             const char *region, const char *action)
{
  size_t slen = strlen(service), rlen = strlen(region);
  struct rl_entry *e;

  /* A few services times the dozen actions Kiln calls: a list will do. */
  for (e = rl->head; e != NULL; e = e->next)
    if (strcmp(e->key, service) == 0 &&
        strcmp(e->key + slen + 1, region) == 0 &&
        strcmp(e->key + slen + rlen + 2, action) == 0)
      return e;
  return NULL;
}

static struct rl_entry *add(struct kiln_ratelimiter *rl, const char *service,
                            const char *region, const char *action,
                            uint64_t now_ms)
{
  size_t slen = strlen(service), rlen = strlen(region), alen = strlen(action);
  double cap, refill;
  struct rl_entry *e = calloc(1, sizeof(*e) + slen + rlen + alen + 3);

  if (e == NULL)
    return NULL;
  memcpy(e->key, service, slen + 1);
  memcpy(e->key + slen + 1, region, rlen + 1);
  memcpy(e->key + slen + rlen + 2, action, alen + 1);
  kiln_ratelimit_published(service, action, &cap, &refill);
  cap *= rl->share;
  e->max_refill = refill * rl->share;
  kiln_ratelimit_bucket_init(&e->bucket, cap < 1 ? 1 : cap, e->max_refill,
                             now_ms);
  e->next = rl->head;
  rl->head = e;
  return e;
}

/* The name an action's bucket goes by: "" when the service meters all its
 * actions together. */
static const char *bucket_action(const char *service, const char *action)
{
  return limit_of(service, action)->per_action ? action : "";
}

int kiln_ratelimiter_take(struct kiln_ratelimiter *rl, const char *service,
                          const char *region, const char *action,
                          uint64_t now_ms, uint64_t *wait_ms)
{
  struct rl_entry *e;

  if (rl == NULL || service == NULL || region == NULL || action == NULL)
    return KILN_EINVAL;
  action = bucket_action(service, action);
  e = find(rl, service, region, action);
  if (e == NULL && (e = add(rl, service, region, action, now_ms)) == NULL)
    return KILN_ENOMEM;
  return kiln_ratelimit_bucket_take(&e->bucket, now_ms, wait_ms);
}

void kiln_ratelimiter_feedback(struct kiln_ratelimiter *rl, const char *service,
                               const char *region, const char *action,
                               int throttled, uint64_t now_ms)
{
  struct rl_entry *e;
  struct kiln_ratelimit_bucket *b;

  if (rl == NULL || service == NULL || region == NULL || action == NULL ||
      (e = find(rl, service, region, bucket_action(service, action))) == NULL)
    return;
  b = &e->bucket;
  bucket_refill(b, now_ms);
  if (!throttled) {
    /* The answers to calls sent before the halving say nothing of the
     * new pace: recovery starts a second after it. */
    if (e->slowed && now_ms < e->slowed_at_ms + 1000)
      return;
    b->refill_per_s += e->max_refill * RECOVERY_SHARE;
    if (b->refill_per_s > e->max_refill)
      b->refill_per_s = e->max_refill;
    return;
  }
  /* Requests sent together come back throttled together: one halving per
   * second, or a burst of them would floor the rate at once. */
  b->tokens = 0;
  if (e->slowed && now_ms < e->slowed_at_ms + 1000)
    return;
  e->slowed = 1;
  e->slowed_at_ms = now_ms;
  b->refill_per_s /= 2;
  if (b->refill_per_s < e->max_refill * MIN_REFILL_SHARE)
    b->refill_per_s = e->max_refill * MIN_REFILL_SHARE;
}

double kiln_ratelimiter_rate(struct kiln_ratelimiter *rl, const char *service,
                             const char *region, const char *action)
{
  struct rl_entry *e;

  if (rl == NULL || service == NULL || region == NULL || action == NULL ||
      (e = find(rl, service, region, bucket_action(service, action))) == NULL)
    return 0;
  return e->bucket.refill_per_s;
}
