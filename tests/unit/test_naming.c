#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/error.h"
#include "kiln/naming.h"

static void test_versions_are_semver_within_limits(void **state)
{
  char v[32];
  kiln_naming_version("ffffffffffff0000", v);
  assert_string_equal(v, "1.16777215.16777215");
  kiln_naming_version("000001000002abcd", v);
  assert_string_equal(v, "1.1.2");
}

static void test_component_names(void **state)
{
  struct kiln_component_spec comps[] = {
      {.file = "apps/hello/components/App Setup.yaml"},
      {.arn = "arn:aws:imagebuilder:us-east-1:aws:component/x/1.0.0"},
      {.file = "apps/hello/a/check.yaml"},
      {.file = "apps/hello/b/check.yml"},
  };
  struct kiln_app_spec app = {.name = "hello"};
  char name[128];
  app.image.components = comps;
  app.image.n_components = 4;
  kiln_naming_component(&app, 0, name, sizeof(name));
  assert_string_equal(name, "kiln-hello-app-setup");
  kiln_naming_component(&app, 2, name, sizeof(name));
  assert_string_equal(name, "kiln-hello-check-2");
  kiln_naming_component(&app, 3, name, sizeof(name));
  assert_string_equal(name, "kiln-hello-check-3");
  kiln_naming_recipe(&app, name, sizeof(name));
  assert_string_equal(name, "kiln-hello");
}

static void test_lt_description_round_trip(void **state)
{
  char d[200], commit[41], digest[65];
  const char *sha = "0123456789abcdef0123456789abcdef01234567";
  const char *dig =
      "ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00";
  kiln_naming_lt_description(sha, dig, d, sizeof(d));
  assert_int_equal(kiln_naming_parse_lt_description(d, commit, digest), 0);
  assert_string_equal(commit, sha);
  assert_string_equal(digest, dig);
  assert_int_equal(
      kiln_naming_parse_lt_description("made by hand", commit, NULL),
      KILN_ENOENT);
  assert_int_equal(
      kiln_naming_parse_lt_description("kiln commit=xyz", commit, NULL),
      KILN_ENOENT);
  assert_int_equal(kiln_naming_parse_lt_description(NULL, commit, NULL),
                   KILN_ENOENT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_versions_are_semver_within_limits),
      cmocka_unit_test(test_component_names),
      cmocka_unit_test(test_lt_description_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
