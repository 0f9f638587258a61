/* The garbage collection planner (kiln/gc.h): pure decisions on made-up
 * inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/arena.h"
#include "kiln/gc.h"

#define DAY 86400
#define NOW (1000 * DAY)

/* Digests d1..d6, released at commits c1..c6 (c6 newest), in that
 * order; the history lists them newest first. */
static const char *const history[] = {"c6", "c5", "c4", "c3", "c2", "c1"};

static struct kiln_gc_version version(int n, const char *digest)
{
  static const char *const commits[] = {"", "c1", "c2", "c3", "c4", "c5", "c6"};
  return (struct kiln_gc_version){.template_id = "lt-1",
                                  .template_name = "hello",
                                  .app = "hello",
                                  .version = n,
                                  .is_default = n == 6,
                                  .commit = commits[n],
                                  .digest = digest,
                                  .image_id = NULL};
}

static struct kiln_gc_image image(const char *id, const char *app,
                                  const char *digest, const char *state,
                                  int64_t age_days)
{
  return (struct kiln_gc_image){.image_id = id,
                                .app = app,
                                .digest = digest,
                                .state = state,
                                .created_s = NOW - age_days * DAY};
}

static const struct kiln_gc_image_verdict *
verdict(const struct kiln_gc_plan *p, const char *id)
{
  for (size_t i = 0; i < p->n_images; i++)
    if (strcmp(p->images[i].image->image_id, id) == 0)
      return &p->images[i];
  return NULL;
}

static void test_retention_uses_and_what_is_not_ours(void **state)
{
  struct kiln_arena a;
  struct kiln_gc_image images[] = {
      image("ami-1", "hello", "d1", "available", 30),
      image("ami-2", "hello", "d2", "available", 30),
      image("ami-3", "hello", "d3", "available", 30),
      image("ami-4", "hello", "d4", "available", 1),  /* young */
      image("ami-5", "hello", "d5", "available", 30), /* recent */
      image("ami-6", "hello", "d6", "available", 30), /* recent, in use */
      image("ami-7", "billing", "dx", "available", 99), /* not ours */
      image("ami-8", "hello", "d2", "failed", 30),      /* a failed copy */
      image("ami-9", "old", "dy", "available", 99),     /* removed app */
      image("ami-10", "gone", "dz", "available", 99),   /* removed lately */
  };
  struct kiln_gc_version versions[] = {version(1, "d1"), version(2, "d2"),
                                       version(3, "d3"), version(4, "d4"),
                                       version(5, "d5"), version(6, "d6")};
  struct kiln_gc_use uses[] = {{"ami-6", "in use by group hello"},
                               {"ami-3", "running on instance i-1"}};
  struct kiln_gc_app apps[] = {
      {.name = "hello", .retention = {2, 7}},
      {.name = "old", .retention = {5, 7}, .removed = true,
       .removed_at_s = NOW - 30 * DAY},
      {.name = "gone", .retention = {5, 7}, .removed = true,
       .removed_at_s = NOW - 2 * DAY},
  };
  struct kiln_gc_inputs in = {.region = "us-east-1",
                              .now_s = NOW,
                              .images = images,
                              .n_images = 10,
                              .versions = versions,
                              .n_versions = 6,
                              .uses = uses,
                              .n_uses = 2,
                              .apps = apps,
                              .n_apps = 3,
                              .history = history,
                              .n_history = 6};
  struct kiln_gc_plan p;
  (void)state;

  kiln_arena_init(&a, 0);
  assert_int_equal(kiln_gc_plan(&in, &a, &p), 0);
  assert_null(verdict(&p, "ami-7")); /* never listed, never touched */
  assert_true(verdict(&p, "ami-1")->delete);
  assert_string_equal(verdict(&p, "ami-1")->why,
                      "not among the last 2 releases");
  assert_true(verdict(&p, "ami-2")->delete);
  assert_false(verdict(&p, "ami-3")->delete);
  assert_string_equal(verdict(&p, "ami-3")->why, "running on instance i-1");
  assert_false(verdict(&p, "ami-4")->delete);
  assert_string_equal(verdict(&p, "ami-4")->why, "younger than 7 days");
  assert_string_equal(verdict(&p, "ami-5")->why, "within the last 2 releases");
  assert_string_equal(verdict(&p, "ami-6")->why, "in use by group hello");
  assert_true(verdict(&p, "ami-8")->delete);
  assert_string_equal(verdict(&p, "ami-8")->why, "a failed copy");
  assert_true(verdict(&p, "ami-9")->delete);
  assert_false(verdict(&p, "ami-10")->delete);
  /* Versions 1, 2 go (their images go); 3 stays (its image is in use), 4
   * (young), 5 (recent), 6 (the default). */
  for (size_t i = 0; i < p.n_versions; i++)
    assert_int_equal(p.versions[i].delete, p.versions[i].version->version <= 2);
  kiln_arena_cleanup(&a);
}

static void test_flights_keep_everything_they_need(void **state)
{
  struct kiln_arena a;
  struct kiln_gc_image images[] = {
      image("ami-1", "hello", "d1", "available", 30),
      image("ami-2", "hello", "d1", "pending", 0), /* a copy on its way */
      image("ami-3", "hello", "d3", "available", 30),
  };
  struct kiln_gc_app apps[] = {{.name = "hello", .retention = {1, 0}}};
  struct kiln_gc_inputs in = {.now_s = NOW,
                              .images = images,
                              .n_images = 3,
                              .apps = apps,
                              .n_apps = 1,
                              .history = history,
                              .n_history = 6};
  struct kiln_gc_plan p;
  (void)state;

  kiln_arena_init(&a, 0);
  assert_int_equal(kiln_gc_plan(&in, &a, &p), 0);
  assert_string_equal(verdict(&p, "ami-1")->why, "source of a copy");
  assert_string_equal(verdict(&p, "ami-2")->why, "a bake or copy in flight");
  assert_true(verdict(&p, "ami-3")->delete);
  assert_string_equal(verdict(&p, "ami-3")->why, "not among the last release");
  /* A refresh in flight keeps every image of the app. */
  apps[0].busy = true;
  assert_int_equal(kiln_gc_plan(&in, &a, &p), 0);
  assert_false(verdict(&p, "ami-3")->delete);
  kiln_arena_cleanup(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_retention_uses_and_what_is_not_ours),
      cmocka_unit_test(test_flights_keep_everything_they_need),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
