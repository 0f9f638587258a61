/* The session's pass and the older-commit cache, on real git repositories
 * made with the git CLI in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "prev_specs.h"
#include "session.h"

#include "kiln/spec.h"

static char dir[256];

static void sh(const char *fmt, ...)
{
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  assert_int_equal(system(cmd), 0);
}

static void write_app(const char *name, int max)
{
  sh("mkdir -p %s/apps/%s && printf 'apiVersion: kiln.dev/v1\\nkind: "
     "App\\nname: %s\\nregion: us-east-1\\nversion: \"1\"\\nimage:\\n  parent: "
     "ami-0123456789abcdef0\\n  components:\\n    - arn: "
     "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x\\n  "
     "build: {instanceProfile: p, instanceTypes: "
     "[t3.small]}\\nlaunchTemplate:\\n  instanceType: "
     "t3.micro\\nautoscaling:\\n "
     " subnets: [subnet-0123456789abcdef0]\\n  min: 0\\n  max: %d\\n' > "
     "%s/apps/%s/app.yaml",
     dir, name, name, max, dir, name);
}

static void commit(const char *msg, char out[41])
{
  FILE *f;
  char cmd[512];
  sh("cd %s && git add -A && git -c user.name=t -c user.email=t@e commit -qm "
     "'%s'",
     dir, msg);
  snprintf(cmd, sizeof(cmd), "git -C %s rev-parse HEAD", dir);
  f = popen(cmd, "r");
  assert_non_null(f);
  assert_non_null(fgets(out, 41, f));
  pclose(f);
}

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/kiln-test-session-XXXXXX");
  assert_non_null(mkdtemp(dir));
  sh("git -C %s init -q -b main", dir);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  sh("rm -rf %s", dir);
  return 0;
}

static void answered(struct kiln_session *s, struct kiln_session_result *r,
                     void *data)
{
  (void)s;
  *(int *)data += 1;
  assert_int_equal(r->n, 1); /* the invalid app, planned as an error */
  assert_int_equal(r->apps[0].plan.status, KILN_STATUS_ERROR);
  kiln_session_result_release(r);
}

/* With no valid app there is no region to ask; the pass still answers on a
 * later turn of the loop, never before kiln_session_pass() returns. */
static void pass_without_regions_answers_later(void **state)
{
  struct kiln_session s;
  struct kiln_arena a;
  char head[41];
  int calls = 0;
  (void)state;
  sh("mkdir -p %s/apps/broken && echo 'kind: [' > %s/apps/broken/app.yaml", dir,
     dir);
  commit("broken", head);
  assert_int_equal(kiln_session_open(&s, "test", dir, NULL, NULL, NULL), 0);
  assert_int_equal(s.n_locations, 0);
  kiln_arena_init(&a, 0);
  assert_int_equal(kiln_session_pass(&s, false, &a, answered, &calls), 0);
  assert_int_equal(calls, 0);
  uv_run(&s.loop, UV_RUN_DEFAULT);
  assert_int_equal(calls, 1);
  kiln_session_close(&s);
  kiln_arena_cleanup(&a);
}

static void loaded(void *data)
{
  *(int *)data += 1;
}

static void load_and_wait(struct kiln_prev_specs *ps, uv_loop_t *loop,
                          const char *commit, const char *app)
{
  int calls = 0;
  struct kiln_prev_want w = {commit, app};
  assert_int_equal(kiln_prev_specs_load(ps, &w, 1, loaded, &calls), 0);
  assert_int_equal(calls, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(calls, 1);
}

/* Three commits, a cache of two: the least recently used is evicted, and a
 * miss reads it again with the same answer. The entries a pass looked up
 * are spared until the next pass. */
static void prev_specs_evict_and_reload(void **state)
{
  struct kiln_prev_specs ps;
  uv_loop_t loop;
  char c[3][41];
  const struct kiln_app_spec *spec;
  bool known;
  (void)state;
  for (int i = 0; i < 3; i++) {
    char msg[16];
    write_app("web", 10 + i);
    snprintf(msg, sizeof(msg), "max %d", 10 + i);
    commit(msg, c[i]);
  }
  uv_loop_init(&loop);
  kiln_prev_specs_init(&ps, &loop, 2);
  assert_int_equal(kiln_prev_specs_set_repo(&ps, dir), 0);

  kiln_prev_specs_find(&ps, c[0], "web", &known);
  assert_false(known);
  for (int i = 0; i < 3; i++) {
    kiln_prev_specs_new_pass(&ps);
    load_and_wait(&ps, &loop, c[i], "web");
    spec = kiln_prev_specs_find(&ps, c[i], "web", &known);
    assert_true(known);
    assert_non_null(spec);
    assert_int_equal(spec->autoscaling.max, 10 + i);
  }
  assert_int_equal(ps.n, 2);
  assert_int_equal(ps.evictions, 1);
  kiln_prev_specs_find(&ps, c[0], "web", &known);
  assert_false(known); /* the oldest went first */

  /* Read again on a miss; an app that is not in a commit is known absent,
   * and a commit that does not exist is known unreadable. */
  kiln_prev_specs_new_pass(&ps);
  load_and_wait(&ps, &loop, c[0], "web");
  spec = kiln_prev_specs_find(&ps, c[0], "web", &known);
  assert_true(known);
  assert_int_equal(spec->autoscaling.max, 10);
  load_and_wait(&ps, &loop, c[1], "api");
  assert_null(kiln_prev_specs_find(&ps, c[1], "api", &known));
  assert_true(known);
  assert_int_equal(ps.n, 2);
  /* Both entries are this pass's: a third runs the cache over its bound
   * rather than drop what the pass may still read. */
  load_and_wait(&ps, &loop, "0000000000000000000000000000000000000000", "web");
  assert_null(kiln_prev_specs_find(
      &ps, "0000000000000000000000000000000000000000", "web", &known));
  assert_true(known);
  assert_int_equal(ps.n, 3);
  kiln_prev_specs_find(&ps, c[0], "web", &known);
  assert_true(known);

  kiln_prev_specs_cleanup(&ps);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(pass_without_regions_answers_later, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(prev_specs_evict_and_reload, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
