/* The spec model: YAML hazards, validation, defaults, and the image digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/arena.h"
#include "kiln/diag.h"
#include "kiln/error.h"
#include "kiln/spec.h"
#include "kiln/ydoc.h"
#include "mem_tree.h"

static const char defaults_yaml[] = "apiVersion: kiln.dev/v1\n"
                                    "kind: Defaults\n"
                                    "region: us-east-1\n"
                                    "tags: {Owner: platform}\n"
                                    "image:\n"
                                    "  build: {instanceProfile: builder}\n";

static const char app_yaml[] =
    "apiVersion: kiln.dev/v1\n"
    "kind: App\n"
    "name: hello\n"
    "version: \"1.2.3\"\n"
    "image:\n"
    "  parent: ami-0123456789abcdef0\n"
    "  components:\n"
    "    - file: comp.yaml\n"
    "      parameters: {Url: \"https://x/${version}.jar\", B: [a, b]}\n"
    "    - arn: "
    "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x\n"
    "  build:\n"
    "    instanceTypes: [t3.small, t3.medium]\n"
    "launchTemplate:\n"
    "  instanceType: t3.micro\n"
    "  tags: {App: hello}\n"
    "autoscaling:\n"
    "  subnets: [subnet-0123456789abcdef0]\n"
    "  min: 0\n"
    "  max: 3\n"
    "  desired: 1\n"
    "rollout: {minHealthyPercent: 100, maxHealthyPercent: 200}\n";

static const char comp_yaml[] =
    "name: c\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps: []\n";

struct loaded {
  struct kiln_spec_repo *repo;
  struct kiln_diags diags;
};

static void load(struct loaded *l, const char *app, const char *comp)
{
  struct mem_file files[] = {
      {"kiln.yaml", defaults_yaml, 0},
      {"apps/hello/app.yaml", app, 0},
      {"apps/hello/comp.yaml", comp, 0},
  };
  struct mem_tree t;
  mem_tree_init(&t, files, 3);
  kiln_diags_init(&l->diags, 0);
  assert_int_equal(kiln_spec_load(&t.tree, &l->diags, &l->repo), 0);
}

static void unload(struct loaded *l)
{
  kiln_spec_repo_free(l->repo);
  kiln_diags_cleanup(&l->diags);
}

static void dump(const struct kiln_diags *d)
{
  for (size_t i = 0; i < d->n; i++)
    fprintf(stderr, "  %s:%d:%d: %s\n", d->items[i].file, d->items[i].line,
            d->items[i].col, d->items[i].message);
}

/* Replaces the first occurrence of from by to (static buffer). */
static const char *edit(const char *text, const char *from, const char *to)
{
  static char out[8192];
  const char *p = strstr(text, from);
  assert_non_null(p);
  snprintf(out, sizeof(out), "%.*s%s%s", (int)(p - text), text, to,
           p + strlen(from));
  return out;
}

static void test_valid_app_parses_with_defaults(void **state)
{
  struct loaded l;
  load(&l, app_yaml, comp_yaml);
  dump(&l.diags);
  assert_int_equal(l.diags.n, 0);
  assert_int_equal(l.repo->n_apps, 1);
  const struct kiln_app_spec *a = kiln_spec_repo_find(l.repo, "hello");
  assert_non_null(a);
  assert_true(a->valid);
  assert_string_equal(a->region, "us-east-1");
  assert_string_equal(a->image.build.instance_profile, "builder");
  assert_int_equal(a->image.build.instance_types.n, 2);
  assert_int_equal(a->image.n_components, 2);
  assert_string_equal(a->image.components[0].file, "apps/hello/comp.yaml");
  /* Parameters are sorted by name and ${version} is expanded. */
  assert_string_equal(a->image.components[0].params[0].name, "B");
  assert_string_equal(a->image.components[0].params[1].values.items[0],
                      "https://x/1.2.3.jar");
  assert_string_equal(a->launch_template.name, "hello");
  assert_string_equal(a->launch_template.http_tokens, "required");
  assert_string_equal(a->autoscaling.name, "hello");
  assert_true(a->autoscaling.has_desired);
  assert_int_equal(a->rollout.min_healthy_percent, 100);
  assert_int_equal(a->rollout.warmup_seconds, 300);
  assert_int_equal(a->tags.n, 1);
  assert_int_equal(a->drift, KILN_DRIFT_CORRECT);
  unload(&l);
}

/* Each broken variant yields an error at the expected line containing the
 * expected text, and the app is invalid. */
struct broken {
  const char *from, *to;
  int line;
  const char *needle;
};

static void test_broken_variants(void **state)
{
  static const struct broken cases[] = {
      {"kind: App", "kind: Defaults", 2, "kind: expected 'App'"},
      {"version: \"1.2.3\"", "version: 1.10", 4, "got the number 1.10"},
      {"version: \"1.2.3\"", "version: \"a b\"", 4, "invalid version"},
      {"  parent: ami-0123456789abcdef0", "  parent: ami-xyz", 6,
       "invalid AMI id"},
      {"  parent: ami-0123456789abcdef0", "  parent: ssm:bad//path", 6,
       "invalid SSM parameter"},
      {"  parent: ami-0123456789abcdef0", "  parent: centos", 6,
       "must be ssm:<parameter>"},
      {"us-east-1:aws:component", "eu-west-1:aws:component", 10,
       "component ARN is in region eu-west-1"},
      {"update-linux/x.x.x", "update-linux/1.0", 10, "semantic version"},
      {"${version}.jar", "${commit}.jar", 9, "unknown expansion"},
      {"instanceType: t3.micro", "instancetype: t3.micro", 14,
       "did you mean 'instanceType'"},
      {"  min: 0", "  min: 4", 18, "greater than max"},
      {"  desired: 1", "  desired: 9", 20, "greater than max"},
      {"  max: 3", "  max: 99999999999999999999", 19, "out of range"},
      {"  max: 3", "  max: \"3\"", 19, "expected an integer"},
      {"  max: 3", "  max: 03", 19, "leading zero"},
      {"minHealthyPercent: 100", "minHealthyPercent: 101", 21, "out of range"},
      {"minHealthyPercent: 100", "minHealthyPercent: 50", 21,
       "must not exceed 100"},
      {"subnet-0123456789abcdef0", "subnet-123", 17, "invalid subnet id"},
      {"tags: {App: hello}", "tags: {\"aws:x\": hello}", 15, "AWS reserves"},
      {"tags: {App: hello}", "tags: {App: yes}", 15, "boolean"},
      {"name: hello", "name: Hello_World", 3, "invalid app name"},
      {"maxHealthyPercent: 200}",
       "maxHealthyPercent: 200, checkpoints: [50, 10]}", 21,
       "must be greater than the checkpoint before it"},
      {"maxHealthyPercent: 200}",
       "maxHealthyPercent: 200, checkpoints: [10, 10]}", 21,
       "ascending and unique"},
      {"maxHealthyPercent: 200}", "maxHealthyPercent: 200, checkpoints: [0]}",
       21, "out of range (1 to 100)"},
      {"maxHealthyPercent: 200}",
       "maxHealthyPercent: 200, checkpoints: [1,2,3,4,5,6,7,8,9,10,11]}", 21,
       "1 to 10 percentages"},
      {"maxHealthyPercent: 200}",
       "maxHealthyPercent: 200, checkpointDelaySeconds: 60}", 21,
       "only with checkpoints"},
      {"maxHealthyPercent: 200}",
       "maxHealthyPercent: 200, checkpoints: [50], checkpointDelaySeconds: "
       "172801}",
       21, "out of range"},
      {"maxHealthyPercent: 200}",
       "maxHealthyPercent: 200, bakeTimeSeconds: -1}", 21, "out of range"},
      {"maxHealthyPercent: 200}",
       "maxHealthyPercent: 200, alarms: [a, b, c, d, e, f, g, h, i, j, k]}", 21,
       "at most 10"},
      {"maxHealthyPercent: 200}", "maxHealthyPercent: 200, alarms: [a, a]}", 21,
       "listed twice"},
      {"maxHealthyPercent: 200}", "maxHealthyPercent: 200, alarms: [\"\"]}", 21,
       "1 to 255 characters"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct loaded l;
    bool found = false;
    load(&l, edit(app_yaml, cases[i].from, cases[i].to), comp_yaml);
    for (size_t j = 0; j < l.diags.n; j++)
      if (l.diags.items[j].line == cases[i].line &&
          strstr(l.diags.items[j].message, cases[i].needle) != NULL &&
          strcmp(l.diags.items[j].file, "apps/hello/app.yaml") == 0)
        found = true;
    if (!found) {
      fprintf(stderr, "case %zu (%s) wanted line %d '%s', got:\n", i,
              cases[i].to, cases[i].line, cases[i].needle);
      dump(&l.diags);
    }
    assert_true(found);
    assert_false(l.repo->apps[0].valid);
    unload(&l);
  }
}

/* The safe-delivery keys of rollout, as the executor passes them on. */
static void test_rollout_gates_parse(void **state)
{
  struct loaded l;
  const struct kiln_rollout_spec *r;
  (void)state;
  load(&l,
       edit(app_yaml, "maxHealthyPercent: 200}",
            "maxHealthyPercent: 200, alarms: [hello-5xx, hello-p99], "
            "checkpoints: [10, 50], checkpointDelaySeconds: 600, "
            "bakeTimeSeconds: 900}"),
       comp_yaml);
  if (l.diags.n > 0)
    dump(&l.diags);
  assert_int_equal(l.diags.n, 0);
  r = &l.repo->apps[0].rollout;
  assert_int_equal(r->alarms.n, 2);
  assert_string_equal(r->alarms.items[1], "hello-p99");
  assert_int_equal(r->n_checkpoints, 2);
  assert_int_equal(r->checkpoints[0], 10);
  assert_int_equal(r->checkpoints[1], 50);
  assert_true(r->has_checkpoint_delay);
  assert_int_equal(r->checkpoint_delay_seconds, 600);
  assert_true(r->has_bake_time);
  assert_int_equal(r->bake_time_seconds, 900);
  unload(&l);
  load(&l, app_yaml, comp_yaml);
  r = &l.repo->apps[0].rollout;
  assert_int_equal(r->alarms.n + r->n_checkpoints, 0);
  assert_false(r->has_checkpoint_delay || r->has_bake_time);
  unload(&l);
}

/* An environment's keys are merged over the app's (maps key by key, lists
 * and values replaced); its template and group default to <app>-<env>;
 * the image inputs stay the app's, so environments on the same version
 * share a digest. An error in one environment's override names its line. */
static void test_environments_merge_over_the_app(void **state)
{
  struct loaded l;
  const struct kiln_app_spec *prod, *staging;
  char da[65], db[65];
  char text[8192];
  (void)state;
  snprintf(text, sizeof(text), "%s%s", app_yaml,
           "environments:\n"
           "  staging: {}\n"
           "  prod:\n"
           "    version: \"1.2.2\"\n"
           "    promote: {from: staging, soakSeconds: 600}\n"
           "    launchTemplate: {instanceType: m7g.large}\n"
           "    autoscaling: {subnets: [subnet-0fedcba9876543210], max: 9}\n");
  load(&l, text, comp_yaml);
  if (l.diags.n > 0)
    dump(&l.diags);
  assert_int_equal(l.diags.n, 0);
  assert_int_equal(l.repo->n_apps, 2);
  prod = kiln_spec_repo_find(l.repo, "hello/prod");
  staging = kiln_spec_repo_find(l.repo, "hello/staging");
  assert_non_null(prod);
  assert_non_null(staging);
  assert_true(prod->valid && staging->valid);
  assert_string_equal(prod->app, "hello");
  assert_string_equal(prod->env, "prod");
  assert_string_equal(prod->launch_template.name, "hello-prod");
  assert_string_equal(prod->autoscaling.name, "hello-prod");
  assert_string_equal(prod->launch_template.instance_type, "m7g.large");
  /* Merged key by key: the app's tags and min stay; the list is replaced. */
  assert_int_equal(prod->launch_template.tags.n, 1);
  assert_int_equal(prod->autoscaling.min, 0);
  assert_int_equal(prod->autoscaling.max, 9);
  assert_int_equal(prod->autoscaling.subnets.n, 1);
  assert_string_equal(prod->autoscaling.subnets.items[0],
                      "subnet-0fedcba9876543210");
  assert_string_equal(prod->version, "1.2.2");
  assert_string_equal(prod->promote.from, "staging");
  assert_int_equal(prod->promote.soak_seconds, 600);
  assert_string_equal(staging->version, "1.2.3");
  assert_string_equal(staging->launch_template.instance_type, "t3.micro");
  assert_null(staging->promote.from);
  assert_true(kiln_spec_selects(prod, "hello", NULL));
  assert_true(kiln_spec_selects(prod, "hello/prod", "prod"));
  assert_false(kiln_spec_selects(prod, "hello/staging", NULL));
  assert_false(kiln_spec_selects(prod, NULL, "staging"));
  /* Same inputs, same digest; another version, another digest. */
  assert_int_equal(kiln_spec_image_digest(staging, NULL, da, NULL), 0);
  assert_int_equal(kiln_spec_image_digest(prod, NULL, db, NULL), 0);
  assert_string_not_equal(da, db);
  unload(&l);

  snprintf(text, sizeof(text), "%s%s", app_yaml,
           "environments:\n"
           "  staging: {}\n"
           "  prod:\n"
           "    autoscaling: {max: many}\n");
  load(&l, text, comp_yaml);
  assert_int_equal(l.diags.n, 1);
  /* The override's own line and column, in prod's name. */
  assert_int_equal(l.diags.items[0].line, 25);
  assert_int_equal(l.diags.items[0].col, 24);
  assert_string_equal(l.diags.items[0].app, "hello/prod");
  assert_true(kiln_spec_repo_find(l.repo, "hello/staging")->valid);
  assert_false(kiln_spec_repo_find(l.repo, "hello/prod")->valid);
  unload(&l);

  /* An error in a line every environment inherits is said once, and makes
   * them all invalid. */
  snprintf(text, sizeof(text), "%s%s",
           edit(app_yaml, "instanceType: t3.micro", "instanceType: bogus"),
           "environments: {staging: {}, prod: {}}\n");
  load(&l, text, comp_yaml);
  assert_int_equal(l.diags.n, 1);
  assert_non_null(strstr(l.diags.items[0].message, "instanceType"));
  assert_false(kiln_spec_repo_find(l.repo, "hello/staging")->valid);
  assert_false(kiln_spec_repo_find(l.repo, "hello/prod")->valid);
  unload(&l);
}

/* The image's home: the first environment's region and account, or
 * image.home. Every environment shares the home's digest (the region in
 * it is the home's); some environment must run at the home, and one in
 * Kiln's own account cannot take its image from another account. */
static void test_image_home_is_where_one_environment_runs(void **state)
{
  struct loaded l;
  const struct kiln_app_spec *prod, *staging;
  char da[65], db[65];
  char text[8192];
  (void)state;
  snprintf(text, sizeof(text), "%s%s", app_yaml,
           "environments:\n"
           "  staging: {}\n"
           "  prod:\n"
           "    region: eu-west-1\n"
           "    account: {roleArn: \"arn:aws:iam::210987654321:role/k\"}\n"
           "    autoscaling: {subnets: [subnet-0fedcba9876543210]}\n");
  load(&l, text, comp_yaml);
  if (l.diags.n > 0)
    dump(&l.diags);
  assert_int_equal(l.diags.n, 0);
  prod = kiln_spec_repo_find(l.repo, "hello/prod");
  staging = kiln_spec_repo_find(l.repo, "hello/staging");
  assert_true(prod->valid && staging->valid);
  assert_string_equal(prod->image.home_region, "us-east-1");
  assert_null(prod->image.home_role_arn);
  assert_string_equal(prod->image.home_target, "hello/staging");
  assert_true(kiln_spec_image_at_home(staging));
  assert_false(kiln_spec_image_at_home(prod));
  assert_int_equal(kiln_spec_image_digest(staging, NULL, da, NULL), 0);
  assert_int_equal(kiln_spec_image_digest(prod, NULL, db, NULL), 0);
  assert_string_equal(da, db);
  unload(&l);

  /* A home where no environment runs. */
  snprintf(text, sizeof(text), "%s%s",
           edit(app_yaml, "image:\n", "image:\n  home: {region: ap-south-1}\n"),
           "environments: {staging: {}}\n");
  load(&l, text, comp_yaml);
  /* ...and a component ARN of another region than the home's. */
  assert_int_equal(l.diags.n, 2);
  assert_non_null(strstr(l.diags.items[0].message,
                         "is in region us-east-1 but the image is baked in "
                         "ap-south-1"));
  assert_non_null(strstr(l.diags.items[1].message,
                         "image.home: no environment runs in ap-south-1"));
  assert_false(kiln_spec_repo_find(l.repo, "hello/staging")->valid);
  unload(&l);

  /* Kiln's own account cannot take the image from another account. */
  snprintf(text, sizeof(text), "%s%s", app_yaml,
           "environments:\n"
           "  prod:\n"
           "    account: {roleArn: \"arn:aws:iam::210987654321:role/k\"}\n"
           "  staging: {}\n");
  load(&l, text, comp_yaml);
  assert_int_equal(l.diags.n, 1);
  assert_non_null(strstr(l.diags.items[0].message,
                         "environments.staging: runs in Kiln's own account"));
  assert_false(kiln_spec_repo_find(l.repo, "hello/staging")->valid);
  assert_true(kiln_spec_repo_find(l.repo, "hello/prod")->valid);
  unload(&l);

  /* image.home belongs to apps with environments. */
  load(&l, edit(app_yaml, "image:\n", "image:\n  home: {region: us-east-1}\n"),
       comp_yaml);
  assert_int_equal(l.diags.n, 1);
  assert_non_null(strstr(l.diags.items[0].message, "image.home: only an app"));
  unload(&l);
}

static void test_all_errors_of_a_file_reported(void **state)
{
  struct loaded l;
  const char *text = edit(app_yaml, "instanceType: t3.micro",
                          "instanceType: micro\n  bogus: 1");
  char copy[8192];
  snprintf(copy, sizeof(copy), "%s", text);
  load(&l, edit(copy, "  min: 0", "  min: -1"), comp_yaml);
  assert_true(l.diags.n >= 3);
  unload(&l);
}

static void test_component_document_checked(void **state)
{
  struct loaded l;
  load(&l, app_yaml, "name: c\nphases: {}\n");
  assert_false(l.repo->apps[0].valid);
  assert_true(kiln_diags_count_file(&l.diags, "apps/hello/comp.yaml") >= 2);
  unload(&l);
  load(&l, edit(app_yaml, "file: comp.yaml", "file: ../kiln.yaml"), comp_yaml);
  assert_false(l.repo->apps[0].valid);
  assert_non_null(strstr(l.diags.items[0].message, "'..'"));
  unload(&l);
  load(&l, edit(app_yaml, "file: comp.yaml", "file: missing.yaml"), comp_yaml);
  assert_non_null(strstr(l.diags.items[0].message, "does not exist"));
  unload(&l);
}

static void test_invalid_defaults_invalidate_apps(void **state)
{
  struct mem_file files[] = {
      {"kiln.yaml",
       "apiVersion: kiln.dev/v1\nkind: Defaults\nregion: nowhere\n", 0},
      {"apps/hello/app.yaml", app_yaml, 0},
      {"apps/hello/comp.yaml", comp_yaml, 0},
  };
  struct mem_tree t;
  struct kiln_spec_repo *repo;
  struct kiln_diags d;
  mem_tree_init(&t, files, 3);
  kiln_diags_init(&d, 0);
  assert_int_equal(kiln_spec_load(&t.tree, &d, &repo), 0);
  assert_int_equal(d.n, 1);
  assert_string_equal(d.items[0].file, "kiln.yaml");
  assert_false(repo->apps[0].valid);
  kiln_spec_repo_free(repo);
  kiln_diags_cleanup(&d);
}

/* notifications: each type's fields, absolute secret files, https or
 * loopback http only; every mistake said with its line. */
static void test_notifications_are_checked(void **state)
{
  struct mem_file files[] = {
      {"kiln.yaml",
       "apiVersion: kiln.dev/v1\nkind: Defaults\nregion: us-east-1\n"
       "image: {build: {instanceProfile: builder}}\n"
       "notifications:\n"
       "  - {type: github, repository: acme/fleet, tokenFile: /etc/t}\n"
       "  - {type: webhook, url: \"http://127.0.0.1:9/h\", secretFile: /s}\n"
       "  - {type: slack, urlFile: /etc/slack}\n",
       0},
      {"apps/hello/app.yaml", app_yaml, 0},
      {"apps/hello/comp.yaml", comp_yaml, 0},
  };
  struct mem_tree t;
  struct kiln_spec_repo *repo;
  struct kiln_diags d;
  (void)state;
  mem_tree_init(&t, files, 3);
  kiln_diags_init(&d, 0);
  assert_int_equal(kiln_spec_load(&t.tree, &d, &repo), 0);
  if (d.n > 0)
    dump(&d);
  assert_int_equal(d.n, 0);
  assert_int_equal(repo->defaults.n_notifiers, 3);
  assert_string_equal(repo->defaults.notifiers[0].url,
                      "https://api.github.com");
  assert_int_equal(repo->defaults.notifiers[1].type, KILN_NOTIFY_WEBHOOK);
  kiln_spec_repo_free(repo);
  kiln_diags_cleanup(&d);

  files[0].data =
      "apiVersion: kiln.dev/v1\nkind: Defaults\nregion: us-east-1\n"
      "image: {build: {instanceProfile: builder}}\n"
      "notifications:\n"
      "  - {type: pager}\n"
      "  - {type: webhook, url: \"http://hooks.example.com/k\", secretFile: "
      "s}\n"
      "  - {type: gitlab, project: fleet, tokenFile: /t}\n";
  mem_tree_init(&t, files, 3);
  kiln_diags_init(&d, 0);
  assert_int_equal(kiln_spec_load(&t.tree, &d, &repo), 0);
  assert_int_equal(d.n, 4);
  assert_non_null(strstr(d.items[0].message, "'pager' is not github"));
  assert_int_equal(d.items[0].line, 6);
  assert_non_null(strstr(d.items[1].message, "plain http to a host"));
  assert_non_null(strstr(d.items[2].message, "must be an absolute path"));
  assert_non_null(strstr(d.items[3].message, "must be owner/name"));
  assert_false(repo->apps[0].valid);
  kiln_spec_repo_free(repo);
  kiln_diags_cleanup(&d);
}

static void test_one_invalid_app_leaves_others(void **state)
{
  struct mem_file files[] = {
      {"kiln.yaml", defaults_yaml, 0},
      {"apps/hello/app.yaml", app_yaml, 0},
      {"apps/hello/comp.yaml", comp_yaml, 0},
      {"apps/other/app.yaml", "apiVersion: kiln.dev/v1\nkind: App\n", 0},
      {"apps/twin/app.yaml", app_yaml, 0},
      {"apps/twin/comp.yaml", comp_yaml, 0},
  };
  struct mem_tree t;
  struct kiln_spec_repo *repo;
  struct kiln_diags d;
  mem_tree_init(&t, files, 6);
  kiln_diags_init(&d, 0);
  assert_int_equal(kiln_spec_load(&t.tree, &d, &repo), 0);
  assert_int_equal(repo->n_apps, 3);
  /* "twin" claims the name hello: both lose; "other" is simply invalid. */
  assert_int_equal(kiln_spec_repo_valid_apps(repo), 0);
  bool dup = false;
  for (size_t i = 0; i < d.n; i++)
    dup |= strstr(d.items[i].message, "app name 'hello' is also used") != NULL;
  assert_true(dup);
  kiln_spec_repo_free(repo);
  kiln_diags_cleanup(&d);
}

/* Apps whose directories hold the same component document share one copy
 * of its bytes; different bytes stay apart, and each app still names its
 * own file. */
static void test_apps_share_identical_file_contents(void **state)
{
  static char twin[4096], third[4096];
  snprintf(twin, sizeof(twin), "%s", edit(app_yaml, "name: hello", "name: twin"));
  snprintf(third, sizeof(third), "%s", edit(app_yaml, "name: hello", "name: third"));
  struct mem_file files[] = {
      {"kiln.yaml", defaults_yaml, 0},
      {"apps/hello/app.yaml", app_yaml, 0},
      {"apps/hello/comp.yaml", comp_yaml, 0},
      {"apps/twin/app.yaml", twin, 0},
      {"apps/twin/comp.yaml", comp_yaml, 0},
      {"apps/third/app.yaml", third, 0},
      {"apps/third/comp.yaml", "name: other\nschemaVersion: 1.0\nphases:\n"
                               "  - name: build\n    steps: []\n", 0},
  };
  struct mem_tree t;
  struct kiln_spec_repo *repo;
  struct kiln_diags d;
  (void)state;
  mem_tree_init(&t, files, 7);
  kiln_diags_init(&d, 0);
  assert_int_equal(kiln_spec_load(&t.tree, &d, &repo), 0);
  if (kiln_spec_repo_valid_apps(repo) != 3)
    dump(&d);
  assert_int_equal(kiln_spec_repo_valid_apps(repo), 3);
  const struct kiln_app_spec *h = kiln_spec_repo_find(repo, "hello");
  const struct kiln_app_spec *w = kiln_spec_repo_find(repo, "twin");
  const struct kiln_app_spec *o = kiln_spec_repo_find(repo, "third");
  assert_ptr_equal(h->image.components[0].document, w->image.components[0].document);
  assert_ptr_not_equal(h->image.components[0].document,
                       o->image.components[0].document);
  assert_string_equal(w->image.components[0].file, "apps/twin/comp.yaml");
  assert_string_equal(o->image.components[0].document,
                      "name: other\nschemaVersion: 1.0\nphases:\n"
                      "  - name: build\n    steps: []\n");
  kiln_spec_repo_free(repo);
  kiln_diags_cleanup(&d);
}

/* ---- YAML hazards --------------------------------------------------- */

static int parse_yaml(const char *text, size_t len, struct kiln_diags *d)
{
  struct kiln_arena a;
  struct kiln_ynode *root;
  int err;
  kiln_arena_init(&a, 0);
  if (!kiln_ydoc_check_text("f.yaml", text, len, false, d))
    err = KILN_EPARSE;
  else
    err = kiln_ydoc_parse("f.yaml", text, len, NULL, &a, d, &root);
  kiln_arena_cleanup(&a);
  return err;
}

static void test_yaml_hazards_rejected(void **state)
{
  static const struct {
    const char *text;
    size_t len;
    const char *needle;
  } cases[] = {
      {"a: &x 1\nb: *x\n", 0, "anchors and aliases"},
      {"a: &x 1\n*x : 2\n", 0, "anchors and aliases"}, /* found by fuzzing */
      {"a: 1\n---\nb: 2\n", 0, "more than one YAML document"},
      {"a: 1\na: 2\n", 0, "duplicate key 'a'"},
      {"a:\n\tb: 1\n", 0, "tab character"},
      {"a: \"x\0y\"\n", 10, "NUL byte"},
      {"a: \xff\xfe\n", 0, "not valid UTF-8"},
      {"a: \xed\xa0\x80\n", 0, "not valid UTF-8"},
      {"", 0, "empty"},
      {"a: !!python/object x\n", 0, "tag"},
      {"[a, b]: 1\n", 0, "mapping keys must be plain strings"},
      {"a: [1\n", 0, "YAML syntax error"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct kiln_diags d;
    size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].text);
    kiln_diags_init(&d, 0);
    assert_int_not_equal(parse_yaml(cases[i].text, len, &d), 0);
    bool found = false;
    for (size_t j = 0; j < d.n; j++)
      found |= strstr(d.items[j].message, cases[i].needle) != NULL;
    if (!found) {
      fprintf(stderr, "case %zu wanted '%s'\n", i, cases[i].needle);
      dump(&d);
    }
    assert_true(found);
    kiln_diags_cleanup(&d);
  }
}

static void test_alias_bomb_and_deep_nesting_are_cheap(void **state)
{
  /* A billion-laughs document and a 100000-deep nest are refused without
   * expanding anything (the loader never expands aliases). */
  static char text[200000];
  size_t off = 0;
  struct kiln_diags d;

  off +=
      (size_t)snprintf(text + off, sizeof(text) - off, "a: &a [x,x,x,x,x]\n");
  for (char c = 'b'; c <= 'j'; c++)
    off += (size_t)snprintf(text + off, sizeof(text) - off,
                            "%c: &%c [*%c,*%c,*%c,*%c,*%c]\n", c, c, c - 1,
                            c - 1, c - 1, c - 1, c - 1);
  kiln_diags_init(&d, 0);
  assert_int_not_equal(parse_yaml(text, off, &d), 0);
  kiln_diags_cleanup(&d);

  memset(text, '[', 100000);
  kiln_diags_init(&d, 0);
  assert_int_not_equal(parse_yaml(text, 100000, &d), 0);
  assert_non_null(strstr(d.items[0].message, "nested deeper"));
  kiln_diags_cleanup(&d);
}

/* ---- digest --------------------------------------------------------- */

static void digest_of(const char *app, const char *comp, const char *parent,
                      char out[65])
{
  struct loaded l;
  load(&l, app, comp);
  if (l.diags.n != 0)
    dump(&l.diags);
  assert_int_equal(l.diags.n, 0);
  assert_int_equal(kiln_spec_image_digest(&l.repo->apps[0], parent, out, NULL),
                   0);
  unload(&l);
}

static void test_digest_ignores_what_does_not_shape_the_image(void **state)
{
  char base[65], other[65];
  digest_of(app_yaml, comp_yaml, NULL, base);
  assert_int_equal(strlen(base), 64);

  static const char reordered[] =
      "# a comment\n"
      "kind: App\n"
      "apiVersion:    kiln.dev/v1\n"
      "rollout: {maxHealthyPercent: 200, minHealthyPercent: 100}\n"
      "autoscaling: {max: 3, min: 0, desired: 1,\n"
      "              subnets: [subnet-0123456789abcdef0]}\n"
      "launchTemplate: {tags: {App: hello}, instanceType: t3.micro}\n"
      "image:\n"
      "  build: {instanceTypes: [t3.small, t3.medium]}\n"
      "  components:\n"
      "    - parameters: {B: [a, b], Url: 'https://x/${version}.jar'}\n"
      "      file: comp.yaml   # trailing comment\n"
      "    - {arn: \"arn:aws:imagebuilder:us-east-1:aws:component/"
      "update-linux/x.x.x\"}\n"
      "  parent: \"ami-0123456789abcdef0\"\n"
      "version: '1.2.3'\n"
      "name: hello\n";
  digest_of(reordered, comp_yaml, NULL, other);
  assert_string_equal(base, other);

  static const struct {
    const char *from, *to;
  } same[] = {
      {"  max: 3", "  max: 7"},
      {"  desired: 1", "  desired: 2"},
      {"maxHealthyPercent: 200", "maxHealthyPercent: 150"},
      {"instanceType: t3.micro", "instanceType: m5.large"},
      {"tags: {App: hello}", "tags: {App: other}"},
  };
  for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
    digest_of(edit(app_yaml, same[i].from, same[i].to), comp_yaml, NULL, other);
    assert_string_equal(base, other);
  }
}

static void test_digest_covers_every_image_input(void **state)
{
  char base[65], other[65];
  digest_of(app_yaml, comp_yaml, NULL, base);
  static const struct {
    const char *from, *to;
  } changes[] = {
      {"version: \"1.2.3\"", "version: \"1.2.4\""},
      {"parent: ami-0123456789abcdef0", "parent: ami-0123456789abcdef1"},
      {"B: [a, b]", "B: [b, a]"},
      {"B: [a, b]", "C: [a, b]"},
      {"x.x.x", "1.x.x"},
      {"[t3.small, t3.medium]", "[t3.medium, t3.small]"},
      {"    instanceTypes", "    instanceProfile: other\n    instanceTypes"},
  };
  for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
    digest_of(edit(app_yaml, changes[i].from, changes[i].to), comp_yaml, NULL,
              other);
    if (strcmp(base, other) == 0)
      fprintf(stderr, "change %zu did not alter the digest\n", i);
    assert_string_not_equal(base, other);
  }
  /* The component document's bytes, and the resolved parent. */
  digest_of(app_yaml,
            "# changed\nname: c\nschemaVersion: 1.0\nphases:\n  - name: "
            "build\n    steps: []\n",
            NULL, other);
  assert_string_not_equal(base, other);
  digest_of(app_yaml, comp_yaml, "ami-0fedcba9876543210", other);
  assert_string_not_equal(base, other);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_app_parses_with_defaults),
      cmocka_unit_test(test_broken_variants),
      cmocka_unit_test(test_rollout_gates_parse),
      cmocka_unit_test(test_environments_merge_over_the_app),
      cmocka_unit_test(test_image_home_is_where_one_environment_runs),
      cmocka_unit_test(test_notifications_are_checked),
      cmocka_unit_test(test_all_errors_of_a_file_reported),
      cmocka_unit_test(test_component_document_checked),
      cmocka_unit_test(test_invalid_defaults_invalidate_apps),
      cmocka_unit_test(test_one_invalid_app_leaves_others),
      cmocka_unit_test(test_apps_share_identical_file_contents),
      cmocka_unit_test(test_yaml_hazards_rejected),
      cmocka_unit_test(test_alias_bomb_and_deep_nesting_are_cheap),
      cmocka_unit_test(test_digest_ignores_what_does_not_shape_the_image),
      cmocka_unit_test(test_digest_covers_every_image_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
