#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/arena.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/hash.h"

static void test_errors_are_negative_and_named(void **state)
{
  assert_true(KILN_EINVAL < 0);
  assert_true(KILN_EINTERNAL < 0);
  assert_string_equal(kiln_err_name(KILN_ETOOBIG), "KILN_ETOOBIG");
  assert_string_equal(kiln_strerror(KILN_ENOMEM), "out of memory");
  assert_string_equal(kiln_strerror(12345), "unknown error");
  assert_string_equal(kiln_strerror(0), "success");
}

static void test_arena_limit_and_alignment(void **state)
{
  struct kiln_arena a;
  kiln_arena_init(&a, 1024);
  char *s = kiln_arena_strdup(&a, "hello");
  assert_string_equal(s, "hello");
  double *d = kiln_arena_alloc(&a, sizeof(double));
  assert_non_null(d);
  assert_int_equal((uintptr_t)d % _Alignof(max_align_t), 0);
  assert_null(kiln_arena_alloc(&a, 4096));
  char *p = kiln_arena_printf(&a, "%s-%d", "x", 42);
  assert_string_equal(p, "x-42");
  kiln_arena_cleanup(&a);
}

static void test_arena_large_allocations(void **state)
{
  struct kiln_arena a;
  kiln_arena_init(&a, 0);
  for (int i = 0; i < 100; i++) {
    char *p = kiln_arena_alloc(&a, 100000);
    assert_non_null(p);
    p[99999] = 1;
  }
  kiln_arena_cleanup(&a);
}

static void test_buf_is_bounded(void **state)
{
  struct kiln_buf b;
  kiln_buf_init(&b, 8);
  assert_int_equal(kiln_buf_puts(&b, "1234"), 0);
  assert_int_equal(kiln_buf_printf(&b, "%d", 5678), 0);
  assert_string_equal(b.data, "12345678");
  assert_int_equal(kiln_buf_puts(&b, "9"), KILN_ETOOBIG);
  assert_int_equal(b.len, 8);
  assert_string_equal(b.data, "12345678");
  kiln_buf_reset(&b);
  assert_int_equal(b.len, 0);
  kiln_buf_cleanup_secret(&b);
}

static void test_sha256_hex(void **state)
{
  char out[65];
  assert_int_equal(kiln_sha256_hex("abc", 3, out), 0);
  assert_string_equal(
      out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_int_equal(kiln_sha256_hex("", 0, out), 0);
  assert_int_equal(strlen(out), 64);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors_are_negative_and_named),
      cmocka_unit_test(test_arena_limit_and_alignment),
      cmocka_unit_test(test_arena_large_allocations),
      cmocka_unit_test(test_buf_is_bounded),
      cmocka_unit_test(test_sha256_hex),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
