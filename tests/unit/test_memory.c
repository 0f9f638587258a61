/* What passes keep between them: kiln_keep (kiln/keep.h), the launch
 * template version cache (kiln/lt_cache.h) and the refreshes seen in
 * flight (kiln/refresh_seen.h); and the file contents a snapshot stores
 * once (kiln/intern.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/arena.h"
#include "kiln/intern.h"
#include "kiln/keep.h"
#include "kiln/lt_cache.h"
#include "kiln/observed.h"
#include "kiln/refresh_seen.h"

struct pair {
  const char *text;
  int n;
};

static int copy_pair(struct kiln_arena *a, const void *from, void *to)
{
  const struct pair *f = from;
  struct pair *t = to;
  t->n = f->n;
  t->text = kiln_arena_strdup(a, f->text);
  return t->text != NULL ? 0 : -1;
}

static void test_intern_stores_each_content_once(void **state)
{
  struct kiln_arena a;
  struct kiln_intern *t;
  const char *first, *again, *other, *prefix, *empty, *nul;
  char buf[64];
  (void)state;
  kiln_arena_init(&a, 1 << 20);
  assert_non_null(t = kiln_intern_new(&a));
  first = kiln_intern(t, "steps: []\n", 10);
  strcpy(buf, "steps: []\n"); /* the same bytes from elsewhere */
  again = kiln_intern(t, buf, 10);
  assert_ptr_equal(first, again);
  assert_string_equal(first, "steps: []\n");
  other = kiln_intern(t, "steps: [x]\n", 11);
  prefix = kiln_intern(t, "steps: []\n", 5); /* "steps": a prefix is other bytes */
  assert_ptr_not_equal(other, first);
  assert_ptr_not_equal(prefix, first);
  assert_string_equal(prefix, "steps");
  empty = kiln_intern(t, "", 0);
  assert_string_equal(empty, "");
  nul = kiln_intern(t, "a\0b", 3); /* lengths, not C strings */
  assert_ptr_not_equal(nul, kiln_intern(t, "a\0c", 3));
  assert_int_equal(kiln_intern_count(t), 6);
  /* Many distinct contents: the index grows and finds each again. */
  for (int i = 0; i < 1000; i++) {
    snprintf(buf, sizeof(buf), "content %d", i);
    assert_non_null(kiln_intern(t, buf, strlen(buf)));
  }
  assert_int_equal(kiln_intern_count(t), 1006);
  snprintf(buf, sizeof(buf), "content %d", 517);
  assert_string_equal(kiln_intern(t, buf, strlen(buf)), "content 517");
  assert_int_equal(kiln_intern_count(t), 1006);
  assert_ptr_equal(kiln_intern(t, "steps: []\n", 10), first);
  kiln_intern_free(t);
  kiln_arena_cleanup(&a);
}

static void test_keep_put_get_forget(void **state)
{
  struct kiln_keep *k = kiln_keep_new(sizeof(struct pair), copy_pair);
  char key[32], text[32];
  (void)state;
  assert_non_null(k);
  assert_null(kiln_keep_get(k, "missing"));
  /* Enough keys to grow the table several times. */
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "lt-%d", i);
    snprintf(text, sizeof(text), "v%d", i);
    assert_int_equal(kiln_keep_put(k, key, &(struct pair){text, i}), 0);
  }
  assert_int_equal(kiln_keep_count(k), 5000);
  for (int i = 0; i < 5000; i += 7) {
    const struct pair *p;
    snprintf(key, sizeof(key), "lt-%d", i);
    snprintf(text, sizeof(text), "v%d", i);
    p = kiln_keep_get(k, key);
    assert_non_null(p);
    assert_int_equal(p->n, i);
    assert_string_equal(p->text, text);
  }
  kiln_keep_forget(k, "lt-7");
  kiln_keep_forget(k, "lt-7");
  assert_null(kiln_keep_get(k, "lt-7"));
  assert_int_equal(kiln_keep_count(k), 4999);
  /* A key after a forgotten one on the same probe chain is still found. */
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "lt-%d", i);
    if (i != 7)
      assert_non_null(kiln_keep_get(k, key));
  }
  kiln_keep_free(k);
}

static void test_keep_replacing_compacts(void **state)
{
  struct kiln_keep *k = kiln_keep_new(sizeof(struct pair), copy_pair);
  char text[200];
  const struct pair *p;
  (void)state;
  memset(text, 'x', sizeof(text) - 1);
  text[sizeof(text) - 1] = '\0';
  /* 100 000 replacements of one key: without compaction, 20 MB. */
  for (int i = 0; i < 100000; i++)
    assert_int_equal(kiln_keep_put(k, "lt-1", &(struct pair){text, i}), 0);
  p = kiln_keep_get(k, "lt-1");
  assert_non_null(p);
  assert_int_equal(p->n, 99999);
  assert_int_equal(kiln_keep_count(k), 1);
  kiln_keep_free(k);
}

static void test_lt_cache_by_version(void **state)
{
  struct kiln_lt_cache *c = kiln_lt_cache_new();
  const char *sgs[] = {"sg-1", "sg-2"};
  struct kiln_lt_bdev bdev = {
      .device = "/dev/xvda", .size_gib = 8, .type = "gp3"};
  struct kiln_tag tag = {"Name", "web"};
  char image[] = "ami-1";
  struct kiln_lt_cached v = {.version = 3,
                             .commit = "c3",
                             .digest = "d3",
                             .data = {.image_id = image,
                                      .instance_type = "t3.micro",
                                      .security_groups = {sgs, 2},
                                      .bdevs = &bdev,
                                      .n_bdevs = 1,
                                      .instance_tags = {&tag, 1}}};
  const struct kiln_lt_cached *hit;
  (void)state;
  assert_non_null(c);
  assert_null(kiln_lt_cache_get(NULL, "lt-1", 3));
  assert_int_equal(kiln_lt_cache_put(c, "lt-1", &v), 0);
  image[4] = '9'; /* the cache owns its copy */
  hit = kiln_lt_cache_get(c, "lt-1", 3);
  assert_non_null(hit);
  assert_string_equal(hit->data.image_id, "ami-1");
  assert_string_equal(hit->data.security_groups.items[1], "sg-2");
  assert_string_equal(hit->data.bdevs[0].device, "/dev/xvda");
  assert_string_equal(hit->data.instance_tags.items[0].value, "web");
  assert_string_equal(hit->digest, "d3");
  /* Another default version of the template is a miss. */
  assert_null(kiln_lt_cache_get(c, "lt-1", 4));
  v.version = 4;
  assert_int_equal(kiln_lt_cache_put(c, "lt-1", &v), 0);
  assert_null(kiln_lt_cache_get(c, "lt-1", 3));
  assert_non_null(kiln_lt_cache_get(c, "lt-1", 4));
  assert_int_equal(kiln_lt_cache_count(c), 1);
  kiln_lt_cache_free(c);
}

static struct kiln_asg_instance instances[] = {
    {"i-1", "InService", "Healthy", "us-east-1a", {"lt-1", NULL, "4", 4}},
    {"i-2", "InService", "Healthy", "us-east-1b", {"lt-1", NULL, "5", 5}},
};

static struct kiln_asg_group group(void)
{
  return (struct kiln_asg_group){.name = "web",
                                 .min_size = 2,
                                 .max_size = 4,
                                 .desired_capacity = 2,
                                 .launch_template = {"lt-1", NULL, "5", 5},
                                 .instances = instances,
                                 .instance_count = 2};
}

static void test_fingerprint_follows_what_a_refresh_changes(void **state)
{
  struct kiln_asg_group g = group(), swapped = group();
  struct kiln_asg_instance reversed[] = {instances[1], instances[0]};
  struct kiln_asg_instance changed[2] = {instances[0], instances[1]};
  uint64_t fp = kiln_refresh_seen_fingerprint(&g);
  (void)state;
  /* Order is not a change. */
  swapped.instances = reversed;
  assert_true(kiln_refresh_seen_fingerprint(&swapped) == fp);
  /* A state, a health, a version, an instance or a size is. */
  changed[0].lifecycle_state = "Terminating";
  swapped.instances = changed;
  assert_true(kiln_refresh_seen_fingerprint(&swapped) != fp);
  changed[0] = instances[0];
  changed[1].health_status = "Unhealthy";
  assert_true(kiln_refresh_seen_fingerprint(&swapped) != fp);
  changed[1] = instances[1];
  changed[1].instance_id = "i-3";
  assert_true(kiln_refresh_seen_fingerprint(&swapped) != fp);
  swapped.instances = instances;
  swapped.desired_capacity = 3;
  assert_true(kiln_refresh_seen_fingerprint(&swapped) != fp);
}

static void test_seen_holds_only_while_nothing_can_have_moved(void **state)
{
  struct kiln_asg_group g = group();
  uint64_t fp = kiln_refresh_seen_fingerprint(&g);
  struct kiln_refresh_seen seen = {
      .group_fingerprint = fp,
      .seen_s = 1000,
      .refresh = {.id = "r-1",
                  .status = "InProgress",
                  .desired_launch_template = {"lt-1", NULL, "5", 5}}};
  struct kiln_observed_app a = {
      .lt_default_version = 5, .asg_lt_version = "5", .asg_instances_stale = 1};
  (void)state;
  assert_true(kiln_refresh_seen_holds(&seen, fp, &a, 1300));
  assert_false(kiln_refresh_seen_holds(NULL, fp, &a, 1300));
  /* The group moved. */
  assert_false(kiln_refresh_seen_holds(&seen, fp + 1, &a, 1300));
  /* Too old (by group, between the age and twice it), or a clock that
   * went back, or no clock. */
  assert_true(kiln_refresh_seen_holds(&seen, fp, &a,
                                      1000 + KILN_REFRESH_SEEN_MAX_AGE_S - 1));
  assert_false(kiln_refresh_seen_holds(&seen, fp, &a,
                                       1000 + 2 * KILN_REFRESH_SEEN_MAX_AGE_S));
  assert_false(kiln_refresh_seen_holds(&seen, fp, &a, 900));
  assert_false(kiln_refresh_seen_holds(&seen, fp, &a, 0));
  /* Every instance replaced: baking or done, only AWS can say. */
  a.asg_instances_stale = 0;
  assert_false(kiln_refresh_seen_holds(&seen, fp, &a, 1300));
  a.asg_instances_stale = 1;
  /* The template moved on (a revert mid-rollout). */
  a.lt_default_version = 6;
  assert_false(kiln_refresh_seen_holds(&seen, fp, &a, 1300));
  a.lt_default_version = 5;
  /* Ended, or rolling back: never remembered as running. */
  seen.refresh.status = "Successful";
  assert_false(kiln_refresh_seen_holds(&seen, fp, &a, 1300));
  seen.refresh.status = "RollbackInProgress";
  assert_false(kiln_refresh_seen_holds(&seen, fp, &a, 1300));
}

static void test_seen_copy_is_deep(void **state)
{
  struct kiln_arena a;
  const char *alarms[] = {"web-5xx"};
  int64_t points[] = {50, 100};
  char status[] = "InProgress";
  struct kiln_refresh_seen from = {.refresh = {.id = "r-1",
                                               .status = status,
                                               .preferences =
                                                   {.alarms = alarms,
                                                    .alarm_count = 1,
                                                    .checkpoints = points,
                                                    .checkpoint_count = 2}}},
                           to;
  (void)state;
  kiln_arena_init(&a, 0);
  assert_int_equal(kiln_refresh_seen_copy(&a, &from, &to), 0);
  status[0] = 'X';
  points[0] = 1;
  assert_string_equal(to.refresh.status, "InProgress");
  assert_int_equal(to.refresh.preferences.checkpoints[0], 50);
  assert_string_equal(to.refresh.preferences.alarms[0], "web-5xx");
  kiln_arena_cleanup(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_intern_stores_each_content_once),
      cmocka_unit_test(test_keep_put_get_forget),
      cmocka_unit_test(test_keep_replacing_compacts),
      cmocka_unit_test(test_lt_cache_by_version),
      cmocka_unit_test(test_fingerprint_follows_what_a_refresh_changes),
      cmocka_unit_test(test_seen_holds_only_while_nothing_can_have_moved),
      cmocka_unit_test(test_seen_copy_is_deep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
