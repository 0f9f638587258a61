/* Client-side token buckets. See include/kiln/aws_retry.h.
 *
 * EC2 publishes its API throttling as token buckets per account and
 * region: non-mutating actions (Describe*) get a bucket of 100 refilled at
 * 20 per second, mutating actions (Create*, Modify*, Delete*) 200 at 5 per
 * second. Kiln stays at about half of each, so that it never drains an
 * account's bucket that other tools share. Auto Scaling, Image Builder,
 * SSM and STS publish no buckets: conservative defaults.
 */
#include "kiln/aws_retry.h"
#include "kiln/error.h"

#include <stdlib.h>
#include <string.h>

struct limit {
  const char *service;
  double read_capacity, read_refill;
  double write_capacity, write_refill;
};

static const struct limit limits[] = {
    {"ec2", 50, 10, 50, 2.5},        {"autoscaling", 20, 5, 10, 1},
    {"imagebuilder", 10, 2, 5, 0.5}, {"ssm", 20, 10, 5, 1},
    {"sts", 10, 5, 10, 5},
};
static const struct limit fallback = {NULL, 10, 2, 5, 1};

void kiln_ratelimit_bucket_init(struct kiln_ratelimit_bucket *b,
                                double capacity, double refill_per_s,
                                uint64_t now_ms)
{
  b->capacity = capacity > 0 ? capacity : 1;
  b->refill_per_s = refill_per_s > 0 ? refill_per_s : 1;
  b->tokens = b->capacity;
  b->last_ms = now_ms;
}

int kiln_ratelimit_bucket_take(struct kiln_ratelimit_bucket *b, uint64_t now_ms,
                               uint64_t *wait_ms)
{
  /* A clock that goes backwards refills nothing. */
  if (now_ms > b->last_ms) {
    b->tokens += (double)(now_ms - b->last_ms) * b->refill_per_s / 1000.0;
    if (b->tokens > b->capacity)
      b->tokens = b->capacity;
    b->last_ms = now_ms;
  }
  if (b->tokens >= 1.0) {
    b->tokens -= 1.0;
    if (wait_ms != NULL)
      *wait_ms = 0;
    return 0;
  }
  if (wait_ms != NULL) {
    double ms = (1.0 - b->tokens) * 1000.0 / b->refill_per_s;
    *wait_ms = (uint64_t)ms + ((double)(uint64_t)ms < ms ? 1 : 0);
  }
  return KILN_EAGAIN;
}

static int is_read_action(const char *action)
{
  static const char *const prefixes[] = {"Describe", "List", "Get", "Search"};
  size_t i;

  if (action == NULL)
    return 0;
  for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
    if (strncmp(action, prefixes[i], strlen(prefixes[i])) == 0)
      return 1;
  return 0;
}

void kiln_ratelimit_defaults(const char *service, const char *action,
                             double *capacity, double *refill_per_s)
{
  const struct limit *l = &fallback;
  size_t i;

  for (i = 0; service != NULL && i < sizeof(limits) / sizeof(limits[0]); i++)
    if (strcmp(service, limits[i].service) == 0)
      l = &limits[i];
  if (is_read_action(action)) {
    *capacity = l->read_capacity;
    *refill_per_s = l->read_refill;
  } else {
    *capacity = l->write_capacity;
    *refill_per_s = l->write_refill;
  }
}

struct rl_entry {
  struct rl_entry *next;
  struct kiln_ratelimit_bucket bucket;
  int read;
  char key[]; /* "service\0region" */
};

struct kiln_ratelimiter {
  struct rl_entry *head;
};

int kiln_ratelimiter_new(struct kiln_ratelimiter **out)
{
  *out = calloc(1, sizeof(**out));
  return *out != NULL ? 0 : KILN_ENOMEM;
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

int kiln_ratelimiter_take(struct kiln_ratelimiter *rl, const char *service,
                          const char *region, const char *action,
                          uint64_t now_ms, uint64_t *wait_ms)
{
  size_t slen, rlen;
  int read = is_read_action(action);
  struct rl_entry *e;

  if (rl == NULL || service == NULL || region == NULL)
    return KILN_EINVAL;
  slen = strlen(service);
  rlen = strlen(region);
  /* A handful of services and regions: a list is enough. */
  for (e = rl->head; e != NULL; e = e->next)
    if (e->read == read && strcmp(e->key, service) == 0 &&
        strcmp(e->key + slen + 1, region) == 0)
      break;
  if (e == NULL) {
    double cap, refill;
    e = malloc(sizeof(*e) + slen + rlen + 2);
    if (e == NULL)
      return KILN_ENOMEM;
    memcpy(e->key, service, slen + 1);
    memcpy(e->key + slen + 1, region, rlen + 1);
    e->read = read;
    kiln_ratelimit_defaults(service, action, &cap, &refill);
    kiln_ratelimit_bucket_init(&e->bucket, cap, refill, now_ms);
    e->next = rl->head;
    rl->head = e;
  }
  return kiln_ratelimit_bucket_take(&e->bucket, now_ms, wait_ms);
}
