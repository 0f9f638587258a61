/* What an observation keeps of AWS's answers (reconcilers/observe_fold.c):
 * everything it keeps is its own copy, so the page it came from can be
 * freed as soon as it is folded. Each test builds its wire structs in a
 * page's memory, folds them, then wipes and frees that memory before it
 * looks: a field still borrowed from the page reads garbage, and the
 * sanitizer build reports the use after free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/arena.h"
#include "kiln/autoscaling.h"
#include "kiln/ec2.h"
#include "kiln/naming.h"
#include "observe_fold.h"

/* A page's memory: every block it hands out is remembered, and wiped
 * before it is freed, so that a field the fold borrowed instead of
 * copying reads garbage in any build. */
struct page {
  struct {
    void *p;
    size_t size;
  } blocks[128];
  size_t n;
  struct kiln_arena scratch; /* what a fold may use on the way */
};

static void *page_alloc(struct page *page, size_t size)
{
  void *p = calloc(1, size);
  assert_non_null(p);
  assert_true(page->n < sizeof(page->blocks) / sizeof(page->blocks[0]));
  page->blocks[page->n].p = p;
  page->blocks[page->n++].size = size;
  return p;
}

static const char *page_str(struct page *page, const char *s)
{
  char *p = page_alloc(page, strlen(s) + 1);
  memcpy(p, s, strlen(s) + 1);
  return p;
}

static void page_init(struct page *page)
{
  memset(page, 0, sizeof(*page));
  kiln_arena_init(&page->scratch, 0);
}

static void drop_page(struct page *page)
{
  for (size_t i = 0; i < page->n; i++) {
    memset(page->blocks[i].p, 0x5a, page->blocks[i].size);
    free(page->blocks[i].p);
  }
  page->n = 0;
  kiln_arena_cleanup(&page->scratch);
}

static void test_group_is_copied_out_of_its_page(void **state)
{
  struct page page;
  struct kiln_arena obs;
  struct kiln_observed_app app;
  struct kiln_asg_instance *instances;
  struct kiln_asg_tag *tags;
  const char **tgs;
  struct kiln_asg_group g;
  (void)state;

  page_init(&page);
  kiln_arena_init(&obs, 0);
  memset(&app, 0, sizeof(app));
  memset(&g, 0, sizeof(g));
  instances = page_alloc(&page, 3 * sizeof(*instances));
  tags = page_alloc(&page, 3 * sizeof(*tags));
  tgs = page_alloc(&page, sizeof(*tgs));
  for (size_t i = 0; i < 3; i++) {
    instances[i].instance_id = page_str(&page, "i-0123");
    instances[i].launch_template.version = page_str(&page, i == 0 ? "4" : "5");
  }
  instances[0].lifecycle_state = page_str(&page, "InService");
  instances[1].lifecycle_state = page_str(&page, "Pending");
  instances[2].lifecycle_state = page_str(&page, "Terminating:Wait");
  tags[0] = (struct kiln_asg_tag){page_str(&page, "kiln:commit"),
                                  page_str(&page, "abc123"), 1};
  tags[1] = (struct kiln_asg_tag){page_str(&page, "kiln:version"),
                                  page_str(&page, "5"), 0};
  tags[2] = (struct kiln_asg_tag){page_str(&page, "Team"),
                                  page_str(&page, "search"), 1};
  tgs[0] = page_str(&page, "arn:aws:elasticloadbalancing:tg/web");
  g.name = page_str(&page, "web");
  g.min_size = 1;
  g.max_size = 4;
  g.desired_capacity = 2;
  g.launch_template.id = page_str(&page, "lt-0abc");
  g.launch_template.version = page_str(&page, "5");
  g.vpc_zone_identifier = page_str(&page, "subnet-a,,subnet-b");
  g.instances = instances;
  g.instance_count = 3;
  g.tags = tags;
  g.tag_count = 3;
  g.target_group_arns = tgs;
  g.target_group_count = 1;
  g.health_check_type = page_str(&page, "ELB");
  g.health_check_grace_period_s = (struct kiln_aws_opt_int){1, 90};

  assert_int_equal(kiln__fold_group(&obs, &g, &app), 0);
  drop_page(&page);

  assert_true(app.asg_exists);
  assert_int_equal(app.asg_min, 1);
  assert_int_equal(app.asg_max, 4);
  assert_int_equal(app.asg_desired, 2);
  assert_string_equal(app.asg_lt_id, "lt-0abc");
  assert_string_equal(app.asg_lt_version, "5");
  assert_int_equal(app.asg_subnets.n, 2);
  assert_string_equal(app.asg_subnets.items[0], "subnet-a");
  assert_string_equal(app.asg_subnets.items[1], "subnet-b");
  assert_int_equal(app.asg_tags.n, 3);
  assert_string_equal(app.asg_tags.items[2].key, "Team");
  assert_string_equal(app.asg_tags.items[2].value, "search");
  assert_string_equal(app.asg_commit, "abc123");
  assert_int_equal(app.asg_kiln_version, 5);
  assert_int_equal(app.asg_target_groups.n, 1);
  assert_string_equal(app.asg_target_groups.items[0],
                      "arn:aws:elasticloadbalancing:tg/web");
  assert_string_equal(app.asg_health_check_type, "ELB");
  assert_int_equal(app.asg_grace_seconds, 90);
  /* The instance on its way out is not counted. */
  assert_int_equal(app.asg_instances, 2);
  assert_string_equal(app.asg_instance_versions[0], "4");
  assert_string_equal(app.asg_instance_versions[1], "5");
  kiln_arena_cleanup(&obs);
}

static void test_template_is_copied_out_of_its_page(void **state)
{
  struct page page;
  struct kiln_arena obs;
  struct kiln_aws_tag *tags;
  struct kiln_ec2_launch_template lt = {0};
  struct kiln_template_seen seen;
  (void)state;

  page_init(&page);
  kiln_arena_init(&obs, 0);
  tags = page_alloc(&page, 2 * sizeof(*tags));
  tags[0] = (struct kiln_aws_tag){page_str(&page, "kiln:version"),
                                  page_str(&page, "12")};
  tags[1] = (struct kiln_aws_tag){page_str(&page, "Owner"),
                                  page_str(&page, "platform")};
  lt.id = page_str(&page, "lt-0123");
  lt.name = page_str(&page, "web");
  lt.default_version = 12;
  lt.latest_version = 13;
  lt.tags = tags;
  lt.tag_count = 2;
  assert_int_equal(kiln__fold_template(&obs, &lt, &seen), 0);
  drop_page(&page);

  assert_string_equal(seen.id, "lt-0123");
  assert_int_equal(seen.default_version, 12);
  assert_int_equal(seen.latest_version, 13);
  assert_int_equal(seen.kiln_version, 12);
  assert_int_equal(seen.tags.n, 2);
  assert_string_equal(seen.tags.items[1].key, "Owner");
  assert_string_equal(seen.tags.items[1].value, "platform");
  kiln_arena_cleanup(&obs);
}

static void test_version_tag_takes_numbers_only(void **state)
{
  (void)state;
  assert_int_equal(kiln__version_tag("7"), 7);
  assert_int_equal(kiln__version_tag(NULL), 0);
  assert_int_equal(kiln__version_tag(""), 0);
  assert_int_equal(kiln__version_tag("7a"), 0);
  assert_int_equal(kiln__version_tag("-1"), 0);
  assert_int_equal(kiln__version_tag("1234567890123456789"), 0);
}

static void test_version_is_copied_out_of_its_page(void **state)
{
  static const char commit[] = "0123456789abcdef0123456789abcdef01234567";
  static const char digest[] =
      "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd";
  struct page page;
  struct kiln_arena obs;
  struct kiln_ec2_launch_template_version v = {0};
  const char **groups;
  struct kiln_lt_cached kept;
  char description[160];
  (void)state;

  page_init(&page);
  kiln_arena_init(&obs, 0);
  kiln_naming_lt_description(commit, digest, description, sizeof(description));
  groups = page_alloc(&page, sizeof(*groups));
  groups[0] = page_str(&page, "sg-1");
  v.launch_template_id = page_str(&page, "lt-0123");
  v.version_number = 3;
  v.description = page_str(&page, description);
  v.create_time = page_str(&page, "2026-12-01T10:00:00.000Z");
  v.data.image_id = page_str(&page, "ami-0abc");
  v.data.instance_type = page_str(&page, "t3.small");
  v.data.user_data = page_str(&page, "IyEvYmluL3NoCg==");
  v.data.security_group_ids = groups;
  v.data.security_group_id_count = 1;
  v.data.http_tokens = page_str(&page, "required");
  assert_int_equal(kiln__fold_version(&obs, &page.scratch, &v, &kept), 0);
  drop_page(&page);

  assert_int_equal(kept.version, 3);
  assert_true(kept.created_s > 0);
  assert_string_equal(kept.commit, commit);
  assert_string_equal(kept.digest, digest);
  assert_string_equal(kept.data.image_id, "ami-0abc");
  assert_string_equal(kept.data.instance_type, "t3.small");
  assert_string_equal(kept.data.user_data_b64, "IyEvYmluL3NoCg==");
  assert_int_equal(kept.data.security_groups.n, 1);
  assert_string_equal(kept.data.security_groups.items[0], "sg-1");
  assert_string_equal(kept.data.http_tokens, "required");
  kiln_arena_cleanup(&obs);
}

/* One AMI of the page: its kiln:digest tag (NULL: none) and one snapshot. */
static void page_image(struct page *page, struct kiln_ec2_image *im,
                       const char *id, const char *digest, const char *state,
                       const char *reason)
{
  struct kiln_aws_tag *tags = page_alloc(page, 2 * sizeof(*tags));
  const char **snaps = page_alloc(page, sizeof(*snaps));
  char snap[32];
  memset(im, 0, sizeof(*im));
  im->image_id = page_str(page, id);
  im->state = page_str(page, state);
  im->state_reason = reason != NULL ? page_str(page, reason) : NULL;
  tags[0] = (struct kiln_aws_tag){page_str(page, "Name"), page_str(page, id)};
  im->tags = tags;
  im->tag_count = 1;
  if (digest != NULL) {
    tags[1] = (struct kiln_aws_tag){page_str(page, "kiln:digest"),
                                    page_str(page, digest)};
    im->tag_count = 2;
  }
  snprintf(snap, sizeof(snap), "snap-%s", id + 4);
  snaps[0] = page_str(page, snap);
  im->snapshot_ids = snaps;
  im->snapshot_count = 1;
}

static void test_images_folded_by_digest_in_listing_order(void **state)
{
  struct page page;
  struct kiln_arena obs;
  struct kiln_ec2_image first[3], second[2];
  struct kiln_ec2_images a = {first, 3}, b = {second, 2};
  struct kiln_observed_image *lists[2];
  size_t lens[2];
  struct kiln_observation o = {0};
  struct kiln_observed_app app;
  (void)state;

  page_init(&page);
  kiln_arena_init(&obs, 0);
  page_image(&page, &first[0], "ami-0001", "d1", "failed", "copy failed");
  page_image(&page, &first[1], "ami-0002", "d1", "available", NULL);
  page_image(&page, &first[2], "ami-0003", NULL, "available", NULL);
  page_image(&page, &second[0], "ami-0004", "d1", "available", NULL);
  page_image(&page, &second[1], "ami-0005", "d2", "pending", NULL);
  assert_int_equal(kiln__fold_images(&obs, &a, &lists[0], &lens[0]), 0);
  assert_int_equal(kiln__fold_images(&obs, &b, &lists[1], &lens[1]), 0);
  drop_page(&page);
  /* The AMI without a kiln:digest tag is not Kiln's. */
  assert_int_equal(lens[0], 2);
  assert_int_equal(lens[1], 2);
  assert_int_equal(kiln__index_images(&obs, lists, lens, 2, &o), 0);
  /* Both lists, in their order. */
  assert_int_equal(o.n_kiln_images, 4);
  assert_string_equal(o.kiln_images[0].image_id, "ami-0001");
  assert_string_equal(o.kiln_images[3].image_id, "ami-0005");

  /* Of two available AMIs of one digest, the one listed last, as when
   * AWS's answers were read whole; the failed copy is counted. */
  memset(&app, 0, sizeof(app));
  kiln_observation_find_image(&o, "d1", &app);
  assert_string_equal(app.image_ami, "ami-0004");
  assert_false(app.image_pending);
  assert_int_equal(app.image_n_snapshots, 1);
  assert_string_equal(app.image_snapshots[0], "snap-0004");
  assert_int_equal(app.image_failed, 1);
  assert_string_equal(app.image_failed_reason, "copy failed");

  memset(&app, 0, sizeof(app));
  kiln_observation_find_image(&o, "d2", &app);
  assert_string_equal(app.image_ami, "ami-0005");
  assert_true(app.image_pending);

  memset(&app, 0, sizeof(app));
  kiln_observation_find_image(&o, "d3", &app);
  assert_null(app.image_ami);
  assert_int_equal(app.image_failed, 0);
  kiln_arena_cleanup(&obs);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_is_copied_out_of_its_page),
      cmocka_unit_test(test_template_is_copied_out_of_its_page),
      cmocka_unit_test(test_version_tag_takes_numbers_only),
      cmocka_unit_test(test_version_is_copied_out_of_its_page),
      cmocka_unit_test(test_images_folded_by_digest_in_listing_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
