/* Default state and cache directories from the environment, and the
 * git source's /tmp fallback for its cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/error.h"
#include "kiln/git_source.h"
#include "kiln/paths.h"

static const char *const vars[] = {"KILN_STATE_DIR", "XDG_STATE_HOME",
                                   "KILN_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
#define N_VARS (sizeof(vars) / sizeof(vars[0]))

/* env[i] is the value of vars[i]; NULL: unset. */
struct row {
  const char *env[N_VARS];
  enum kiln_paths_kind kind;
  int err;
  const char *want;
};

static void set_env(const char *const env[N_VARS])
{
  for (size_t i = 0; i < N_VARS; i++)
    if (env[i] != NULL)
      setenv(vars[i], env[i], 1);
    else
      unsetenv(vars[i]);
}

#define S KILN_PATHS_STATE
#define C KILN_PATHS_CACHE

static void test_default_dirs(void **state)
{
  /* KILN_STATE_DIR, XDG_STATE_HOME, KILN_CACHE_DIR, XDG_CACHE_HOME, HOME */
  static const struct row rows[] = {
      {{"/srv/kiln", "/x/state", "/c", "/x/cache", "/home/u"},
       S,
       0,
       "/srv/kiln"},
      {{"/srv/kiln", "/x/state", "/c", "/x/cache", "/home/u"}, C, 0, "/c"},
      /* Kiln's own variable is taken as given, relative too. */
      {{"rel/state", NULL, NULL, NULL, "/home/u"}, S, 0, "rel/state"},
      {{"", "/x/state", "", "/x/cache", "/home/u"}, S, 0, "/x/state/kiln"},
      {{"", "/x/state", "", "/x/cache", "/home/u"}, C, 0, "/x/cache/kiln"},
      /* The state's variables never decide the cache, and back. */
      {{"/srv/kiln", "/x/state", NULL, NULL, "/home/u"},
       C,
       0,
       "/home/u/.cache/kiln"},
      {{NULL, NULL, "/c", "/x/cache", "/home/u"},
       S,
       0,
       "/home/u/.local/state/kiln"},
      /* XDG: empty or relative values are ignored, as the spec says. */
      {{NULL, "", NULL, "", "/home/u"}, S, 0, "/home/u/.local/state/kiln"},
      {{NULL, "x/state", NULL, "x/cache", "/home/u"},
       S,
       0,
       "/home/u/.local/state/kiln"},
      {{NULL, "x/state", NULL, "x/cache", "/home/u"},
       C,
       0,
       "/home/u/.cache/kiln"},
      /* No usable variable at all. */
      {{NULL, NULL, NULL, NULL, NULL}, S, KILN_ENOENT, ""},
      {{NULL, NULL, NULL, NULL, NULL}, C, KILN_ENOENT, ""},
      {{"", "", "", "", ""}, S, KILN_ENOENT, ""},
      {{NULL, NULL, NULL, NULL, "home"}, C, KILN_ENOENT, ""},
  };
  char buf[256];
  (void)state;

  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    set_env(rows[i].env);
    memset(buf, 'x', sizeof(buf));
    int err = kiln_paths_default_dir(rows[i].kind, buf, sizeof(buf));
    if (err != rows[i].err || strcmp(buf, rows[i].want) != 0)
      fail_msg("row %zu: got %d '%s', want %d '%s'", i, err, buf, rows[i].err,
               rows[i].want);
  }
}

static void test_a_path_that_does_not_fit(void **state)
{
  static const char *const env[N_VARS] = {NULL, NULL, NULL, NULL, "/home/u"};
  char buf[32];
  (void)state;

  set_env(env);
  /* "/home/u/.local/state/kiln" is 25 bytes and its NUL. */
  assert_int_equal(kiln_paths_default_dir(KILN_PATHS_STATE, buf, 26), 0);
  assert_string_equal(buf, "/home/u/.local/state/kiln");
  assert_int_equal(kiln_paths_default_dir(KILN_PATHS_STATE, buf, 25),
                   KILN_ETOOBIG);
  assert_string_equal(buf, "");
  assert_int_equal(
      kiln_paths_default_dir((enum kiln_paths_kind)7, buf, sizeof(buf)),
      KILN_EINVAL);
}

static void test_git_cache_falls_back_to_tmp(void **state)
{
  static const char *const home[N_VARS] = {NULL, NULL, NULL, NULL, "/home/u"};
  static const char *const none[N_VARS] = {NULL, NULL, NULL, NULL, NULL};
  char buf[64], tmp[64];
  (void)state;

  set_env(home);
  kiln_git_source_default_cache(buf, sizeof(buf));
  assert_string_equal(buf, "/home/u/.cache/kiln");
  snprintf(tmp, sizeof(tmp), "/tmp/kiln-cache-%u", (unsigned)getuid());
  set_env(none);
  kiln_git_source_default_cache(buf, sizeof(buf));
  assert_string_equal(buf, tmp);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_dirs),
      cmocka_unit_test(test_a_path_that_does_not_fit),
      cmocka_unit_test(test_git_cache_falls_back_to_tmp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
