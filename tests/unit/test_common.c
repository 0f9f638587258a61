#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kiln/arena.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/file.h"
#include "kiln/hash.h"
#include "kiln/num.h"
#include "kiln/str_index.h"

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

/* Strings take no padding; what follows them is aligned and zeroed, across
 * chunk boundaries too. */
static void test_arena_strings_pack(void **state)
{
  struct kiln_arena a;
  kiln_arena_init(&a, 0);
  char *x = kiln_arena_strdup(&a, "x");
  char *y = kiln_arena_strdup(&a, "y");
  assert_ptr_equal(y, x + 2);
  for (int i = 0; i < 20000; i++) {
    char *s = kiln_arena_strndup(&a, "abcdefg", (size_t)(i % 7));
    assert_non_null(s);
    assert_int_equal(strlen(s), i % 7);
    if (i % 97 == 0) {
      long double *d = kiln_arena_alloc(&a, 3 * sizeof(long double));
      assert_non_null(d);
      assert_int_equal((uintptr_t)d % _Alignof(max_align_t), 0);
      assert_true(d[0] == 0 && d[2] == 0);
    }
  }
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

/* What the free hook saw: every block a buffer gave back, and whether each
 * was all zero bytes when it did. */
static struct {
  size_t blocks;
  size_t dirty; /* blocks with a byte left that is not zero */
} freed;

static void inspect_freed(const void *block, size_t size_bytes)
{
  const unsigned char *p = block;
  size_t i = 0;
  while (i < size_bytes && p[i] == 0)
    i++;
  freed.blocks++;
  freed.dirty += i < size_bytes;
}

/* A secret that arrives in chunks (as credential responses do) grows the
 * buffer through several blocks: each one it gives up, at growth and at
 * cleanup, must be wiped first. */
static void test_secret_buf_wipes_every_block(void **state)
{
  static const char chunk[] = "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG";
  struct kiln_buf b;
  size_t n = 0;

  memset(&freed, 0, sizeof(freed));
  kiln__buf_set_free_hook(inspect_freed);
  kiln_buf_init_secret(&b, 0);
  while (b.len < 5000) {
    assert_int_equal(kiln_buf_append(&b, chunk, sizeof(chunk) - 1), 0);
    n++;
  }
  /* 256 bytes doubling to 8192: five blocks given up on the way. */
  assert_int_equal(freed.blocks, 5);
  assert_int_equal(freed.dirty, 0);
  assert_int_equal(b.len, n * (sizeof(chunk) - 1));
  assert_memory_equal(b.data + b.len - (sizeof(chunk) - 1), chunk,
                      sizeof(chunk) - 1);

  size_t held = b.len;
  kiln_buf_reset(&b);
  assert_int_equal(b.len, 0);
  for (size_t i = 0; i < held; i++)
    assert_int_equal(b.data[i], 0);

  kiln_buf_cleanup(&b);
  assert_int_equal(freed.blocks, 6);
  assert_int_equal(freed.dirty, 0);
  assert_null(b.data);

  /* The hook does see bytes: a plain buffer's contents stay in the block
   * it frees. */
  kiln_buf_init(&b, 0);
  assert_int_equal(kiln_buf_puts(&b, chunk), 0);
  kiln_buf_cleanup(&b);
  assert_int_equal(freed.blocks, 7);
  assert_int_equal(freed.dirty, 1);
  kiln__buf_set_free_hook(NULL);
}

static void test_num_parse_i64(void **state)
{
  static const struct {
    const char *text;
    int64_t min, max;
    int err;
    int64_t value;
  } cases[] = {
      {"0", 0, 10, 0, 0},
      {"10", 0, 10, 0, 10},
      {"007", 0, 10, 0, 7},
      {"11", 0, 10, KILN_ERANGE, 0},
      {"-1", -5, 5, 0, -1},
      {"-6", -5, 5, KILN_ERANGE, 0},
      {"-1", 0, 10, KILN_EPARSE, 0}, /* no sign where none may be */
      {"9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX},
      {"-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN},
      {"9223372036854775808", INT64_MIN, INT64_MAX, KILN_ERANGE, 0},
      {"-9223372036854775809", INT64_MIN, INT64_MAX, KILN_ERANGE, 0},
      {"99999999999999999999999", 0, INT64_MAX, KILN_ERANGE, 0},
      {"99999999999999999999999x", 0, INT64_MAX, KILN_EPARSE, 0},
      {"", 0, 10, KILN_EPARSE, 0},
      {"-", -5, 5, KILN_EPARSE, 0},
      {"12abc", 0, INT64_MAX, KILN_EPARSE, 0},
      {" 1", 0, 10, KILN_EPARSE, 0},
      {"1 ", 0, 10, KILN_EPARSE, 0},
      {"+1", 0, 10, KILN_EPARSE, 0},
      {"0x1", 0, 10, KILN_EPARSE, 0},
      {"1e3", 0, 10000, KILN_EPARSE, 0},
      {"$Latest", 0, 10, KILN_EPARSE, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t v = 42;
    print_message("\"%s\"\n", cases[i].text);
    assert_int_equal(
        kiln_num_parse_i64(cases[i].text, cases[i].min, cases[i].max, &v),
        cases[i].err);
    assert_int_equal(v, cases[i].err == 0 ? cases[i].value : 42);
  }
  int64_t v = 0;
  assert_int_equal(kiln_num_parse_i64(NULL, 0, 10, &v), KILN_EPARSE);
  /* A span: the port of "host:2222/path". */
  assert_int_equal(kiln_num_parse_i64n("2222/path", 4, 1, 65535, &v), 0);
  assert_int_equal(v, 2222);
  assert_int_equal(kiln_num_parse_i64n("2222/path", 5, 1, 65535, &v),
                   KILN_EPARSE);
}

static void write_file(const char *path, const char *data, size_t len)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* Whatever kind of file it is pointed at, the reader reads it to its end
 * or to the limit, like the AWS SDKs: /dev/null is empty, a FIFO and an
 * endless device are read, not refused; only the limit is an error. */
static void test_num_format_i64_as_printf(void **state)
{
  const int64_t values[] = {0,         7,        -7, 10, 1234567890123LL,
                            INT64_MAX, INT64_MIN};
  char text[KILN_NUM_I64_CHARS], want[32];
  (void)state;

  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    snprintf(want, sizeof(want), "%lld", (long long)values[i]);
    assert_string_equal(kiln_num_format_i64(values[i], text), want);
    assert_true(kiln_num_is_i64(want, values[i]));
  }
  assert_false(kiln_num_is_i64("07", 7));
  assert_false(kiln_num_is_i64("+7", 7));
  assert_false(kiln_num_is_i64("7 ", 7));
  assert_false(kiln_num_is_i64("", 0));
  assert_false(kiln_num_is_i64(NULL, 0));
}

static void test_file_read_any_kind_bounded(void **state)
{
  char dir[] = "/tmp/kiln-file-XXXXXX", path[512];
  struct kiln_buf b;
  struct stat st;

  assert_non_null(mkdtemp(dir));

  kiln_buf_init(&b, 16);
  assert_int_equal(kiln_file_read("/dev/null", &b, &st), 0);
  assert_int_equal(b.len, 0);
  assert_true(S_ISCHR(st.st_mode));
  /* An endless device stops at the limit instead of hanging. */
  assert_int_equal(kiln_file_read("/dev/zero", &b, NULL), KILN_ETOOBIG);
  kiln_buf_cleanup(&b);

  /* Exactly the limit is fine; one byte more is not. */
  snprintf(path, sizeof(path), "%s/sixteen", dir);
  write_file(path, "0123456789abcdef", 16);
  kiln_buf_init(&b, 16);
  assert_int_equal(kiln_file_read(path, &b, &st), 0);
  assert_int_equal(b.len, 16);
  assert_true(S_ISREG(st.st_mode));
  kiln_buf_cleanup(&b);
  kiln_buf_init(&b, 15);
  assert_int_equal(kiln_file_read(path, &b, NULL), KILN_ETOOBIG);
  kiln_buf_cleanup(&b);
  unlink(path);

  /* A FIFO, as a secrets manager hands a secret over. */
  snprintf(path, sizeof(path), "%s/fifo", dir);
  assert_int_equal(mkfifo(path, 0600), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    FILE *f = fopen(path, "w");
    _exit(f != NULL && fputs("[default]\nregion = eu-west-1\n", f) >= 0 &&
                  fclose(f) == 0
              ? 0
              : 1);
  }
  kiln_buf_init_secret(&b, 1024);
  assert_int_equal(kiln_file_read(path, &b, &st), 0);
  assert_true(S_ISFIFO(st.st_mode));
  assert_string_equal(b.data, "[default]\nregion = eu-west-1\n");
  kiln_buf_cleanup(&b);
  int status = -1;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  unlink(path);

  kiln_buf_init(&b, 16);
  assert_int_equal(kiln_file_read(dir, &b, NULL), KILN_EINVAL);
  snprintf(path, sizeof(path), "%s/missing", dir);
  assert_int_equal(kiln_file_read(path, &b, NULL), KILN_ENOENT);
  kiln_buf_cleanup(&b);
  assert_int_equal(rmdir(dir), 0);
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

/* Values under a key come back in the order they were added, whatever the
 * number of keys (enough here that every slot's neighbourhood collides
 * somewhere); a key never added has none. */
static void test_str_index_chains_values_in_order(void **state)
{
  enum { APPS = 5000 };
  struct kiln_arena a;
  struct kiln_str_index *ix;
  static char names[APPS][16];
  size_t seen = 0;
  bool is_new;
  (void)state;

  kiln_arena_init(&a, 0);
  ix = kiln_str_index_new(&a, APPS);
  assert_non_null(ix);
  /* App i is named after i / 2 in reverse: pairs share a key. */
  for (size_t i = 0; i < APPS; i++) {
    snprintf(names[i], sizeof(names[i]), "app-%zu", (APPS - 1 - i) / 2);
    assert_int_equal(kiln_str_index_add(ix, names[i], i, &is_new), 0);
    assert_true(is_new == (i % 2 == 0));
  }
  for (size_t k = 0; k < APPS / 2; k++) {
    char key[16];
    size_t v;
    snprintf(key, sizeof(key), "app-%zu", k);
    v = kiln_str_index_first(ix, key);
    assert_int_equal(v, APPS - 2 - 2 * k);
    v = kiln_str_index_next(ix, v);
    assert_int_equal(v, APPS - 1 - 2 * k);
    assert_int_equal(kiln_str_index_next(ix, v), KILN_STR_INDEX_NONE);
    seen += 2;
  }
  assert_int_equal(seen, APPS);
  assert_int_equal(kiln_str_index_first(ix, "app-"), KILN_STR_INDEX_NONE);
  assert_int_equal(kiln_str_index_first(ix, ""), KILN_STR_INDEX_NONE);
  assert_int_equal(kiln_str_index_first(NULL, "app-1"), KILN_STR_INDEX_NONE);

  /* A value twice, or past the capacity, is refused and changes nothing. */
  assert_int_equal(kiln_str_index_add(ix, "other", 7, NULL), KILN_EINVAL);
  assert_int_equal(kiln_str_index_add(ix, "other", APPS, NULL), KILN_EINVAL);
  assert_int_equal(kiln_str_index_first(ix, "other"), KILN_STR_INDEX_NONE);
  assert_int_equal(kiln_str_index_next(ix, APPS + 3), KILN_STR_INDEX_NONE);
  kiln_arena_cleanup(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors_are_negative_and_named),
      cmocka_unit_test(test_arena_limit_and_alignment),
      cmocka_unit_test(test_arena_strings_pack),
      cmocka_unit_test(test_arena_large_allocations),
      cmocka_unit_test(test_buf_is_bounded),
      cmocka_unit_test(test_secret_buf_wipes_every_block),
      cmocka_unit_test(test_num_parse_i64),
      cmocka_unit_test(test_num_format_i64_as_printf),
      cmocka_unit_test(test_file_read_any_kind_bounded),
      cmocka_unit_test(test_sha256_hex),
      cmocka_unit_test(test_str_index_chains_values_in_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
