#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "kiln/buf.h"
#include "kiln/json_text.h"
#include "kiln/report.h"

static struct kiln_drift drift[] = {
    {.field = "autoscaling.max",
     .desired = "3",
     .actual = "9",
     .cause = KILN_CAUSE_OUT_OF_BAND},
    {.field = "image.digest",
     .desired = "abcdef012345",
     .actual = "(no AMI)",
     .cause = KILN_CAUSE_COMMIT},
    {.field = "autoscaling.tags",
     .desired = "{\"A\":\"1,B=2\"}",
     .actual = "{\"A\":\"1\",\"B\":\"2\"}",
     .cause = KILN_CAUSE_OUT_OF_BAND},
};

static void make(struct kiln_plan plans[2])
{
  memset(plans, 0, 2 * sizeof(*plans));
  plans[0].app = "hello";
  plans[0].status = KILN_STATUS_DRIFTED;
  strcpy(plans[0].digest, "abcdef0123456789");
  plans[0].bake_needed = true;
  plans[0].drift = drift;
  plans[0].n_drift = 3;
  plans[0].action.type = KILN_ACTION_BAKE;
  plans[0].action.digest = plans[0].digest;
  plans[0].action.reason = "bake image abcdef012345";
  plans[0].mutates = true;
  plans[0].message = plans[0].action.reason;
  plans[1].app = "world";
  plans[1].status = KILN_STATUS_ERROR;
  plans[1].message = "the app's spec is invalid";
}

static void test_json_shape(void **state)
{
  struct kiln_plan plans[2];
  make(plans);
  json_object *root = kiln_report_plans_json("c0ffee", plans, 2, 0, false);
  json_object *apps, *app, *v, *d, *a;
  assert_true(json_object_object_get_ex(root, "commit", &v));
  assert_string_equal(json_object_get_string(v), "c0ffee");
  assert_true(json_object_object_get_ex(root, "apps", &apps));
  assert_int_equal(json_object_array_length(apps), 2);
  app = json_object_array_get_idx(apps, 0);
  json_object_object_get_ex(app, "status", &v);
  assert_string_equal(json_object_get_string(v), "drifted");
  json_object_object_get_ex(app, "drift", &d);
  assert_int_equal(json_object_array_length(d), 3);
  json_object_object_get_ex(json_object_array_get_idx(d, 0), "cause", &v);
  assert_string_equal(json_object_get_string(v), "out-of-band");
  json_object_object_get_ex(json_object_array_get_idx(d, 0), "desired", &v);
  assert_true(json_object_is_type(v, json_type_string));
  /* A tag map is an object: its values may hold "," and "=". */
  json_object_object_get_ex(json_object_array_get_idx(d, 2), "desired", &v);
  assert_true(json_object_is_type(v, json_type_object));
  assert_int_equal(json_object_object_length(v), 1);
  json_object_object_get_ex(v, "A", &v);
  assert_string_equal(json_object_get_string(v), "1,B=2");
  json_object_object_get_ex(json_object_array_get_idx(d, 2), "actual", &v);
  assert_int_equal(json_object_object_length(v), 2);
  json_object_object_get_ex(app, "actions", &a);
  json_object_object_get_ex(json_object_array_get_idx(a, 0), "type", &v);
  assert_string_equal(json_object_get_string(v), "bake");
  app = json_object_array_get_idx(apps, 1);
  json_object_object_get_ex(app, "error", &v);
  assert_string_equal(json_object_get_string(v), "the app's spec is invalid");
  json_object_object_get_ex(app, "actions", &a);
  assert_int_equal(json_object_array_length(a), 0);
  json_object_put(root);
}

/* /api/v1/drift: only the apps with a drifting field, in their order. */
static void test_json_drifting_only(void **state)
{
  struct kiln_plan plans[2];
  json_object *root, *apps, *v;
  make(plans);
  root = kiln_report_plans_json("c0ffee", plans, 2, 0, true);
  assert_true(json_object_object_get_ex(root, "apps", &apps));
  assert_int_equal(json_object_array_length(apps), 1);
  json_object_object_get_ex(json_object_array_get_idx(apps, 0), "name", &v);
  assert_string_equal(json_object_get_string(v), "hello");
  json_object_put(root);
  plans[0].n_drift = 0;
  root = kiln_report_plans_json("c0ffee", plans, 2, 0, true);
  json_object_object_get_ex(root, "apps", &apps);
  assert_int_equal(json_object_array_length(apps), 0);
  json_object_object_get_ex(root, "commit", &v);
  assert_string_equal(json_object_get_string(v), "c0ffee");
  json_object_put(root);
}

/* Durations in the API: to the microsecond, never "0.3719628340000001". */
static void test_json_seconds(void **state)
{
  static const struct {
    double s;
    const char *text;
  } cases[] = {{0.371962834, "0.371963"},
               {2.0, "2.0"},
               {0.0000004, "0.0"},
               {24.6, "24.6"},
               {1234.56789, "1234.56789"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_object *o = kiln_json_seconds(cases[i].s);
    assert_string_equal(json_object_to_json_string(o), cases[i].text);
    assert_true(json_object_get_double(o) == cases[i].s);
    json_object_put(o);
  }
  assert_null(kiln_json_seconds(NAN));
  assert_null(kiln_json_seconds(INFINITY));
}

static void test_text_table(void **state)
{
  struct kiln_plan plans[2];
  struct kiln_buf out;
  make(plans);
  kiln_buf_init(&out, 0);
  assert_int_equal(kiln_report_plans_text("c0ffee", plans, 2, 0, &out), 0);
  assert_non_null(
      strstr(out.data, "hello  drifted      bake image abcdef012345"));
  assert_non_null(strstr(out.data, "autoscaling.max"));
  assert_non_null(strstr(out.data, "9 -> 3  [out-of-band]"));
  /* Quoted, so the maps cannot be mistaken for each other. */
  assert_non_null(strstr(out.data, "{\"A\":\"1\",\"B\":\"2\"} -> "
                                   "{\"A\":\"1,B=2\"}  [out-of-band]"));
  assert_non_null(strstr(out.data, "2 apps: 1 drifted 1 error"));
  assert_non_null(strstr(out.data, "1 to bake, 0 already baked"));
  kiln_buf_cleanup(&out);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_shape),
      cmocka_unit_test(test_json_drifting_only),
      cmocka_unit_test(test_json_seconds),
      cmocka_unit_test(test_text_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
