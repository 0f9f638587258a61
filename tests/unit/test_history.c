/* The history store against real SQLite files in a temporary directory. */
/* nftw() */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/history.h"
#include "kiln/history_json.h"
#include "kiln/pass.h"
#include "kiln/spec.h"

#define T0 1700000000000LL /* unix ms */

struct fixture {
  char dir[64];
  char state[128]; /* dir/a/b/state: parents are made too */
  char db[160];
  struct kiln_history *h;
  struct kiln_arena arena;
};

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int setup(void **state)
{
  struct fixture *f = calloc(1, sizeof(*f));
  char err[KILN_HISTORY_ERRMAX];
  assert_non_null(f);
  strcpy(f->dir, "/tmp/kiln-history-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->state, sizeof(f->state), "%s/a/b/state", f->dir);
  snprintf(f->db, sizeof(f->db), "%s/history.db", f->state);
  assert_int_equal(kiln_history_open(f->state, &f->h, err, sizeof(err)), 0);
  kiln_arena_init(&f->arena, 0);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  kiln_history_close(f->h);
  kiln_arena_cleanup(&f->arena);
  nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

static int64_t raw_int(const char *db, const char *q)
{
  sqlite3 *c;
  sqlite3_stmt *s;
  int64_t v = -1;
  assert_int_equal(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(c, q, -1, &s, NULL), SQLITE_OK);
  if (sqlite3_step(s) == SQLITE_ROW)
    v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(c);
  return v;
}

static void raw_exec(const char *db, const char *q)
{
  sqlite3 *c;
  assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
  assert_int_equal(sqlite3_exec(c, q, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(c);
}

static void test_schema_is_created(void **state)
{
  struct fixture *f = *state;
  struct stat st;
  sqlite3 *c;
  sqlite3_stmt *s;

  assert_int_equal(stat(f->state, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  assert_int_equal(stat(f->db, &st), 0);
  assert_string_equal(kiln_history_path(f->h), f->db);
  assert_int_equal(raw_int(f->db, "PRAGMA user_version"),
                   KILN_HISTORY_SCHEMA_VERSION);
  assert_int_equal(raw_int(f->db, "PRAGMA application_id"), 0x4b494c4e);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE"
                                  " type = 'table' AND name IN"
                                  " ('releases', 'drift')"),
                   2);
  assert_int_equal(sqlite3_open_v2(f->db, &c, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &s, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
  sqlite3_finalize(s);
  sqlite3_close(c);
}

static void test_reopening_migrates_nothing_and_keeps_data(void **state)
{
  struct fixture *f = *state;
  struct kiln_history_release r;
  int64_t id;
  char err[KILN_HISTORY_ERRMAX];

  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c1", "d1", T0, &id), 0);
  for (int i = 0; i < 3; i++) {
    kiln_history_close(f->h);
    assert_int_equal(kiln_history_open(f->state, &f->h, err, sizeof(err)), 0);
  }
  assert_int_equal(raw_int(f->db, "PRAGMA user_version"),
                   KILN_HISTORY_SCHEMA_VERSION);
  assert_int_equal(kiln_history_release_latest(f->h, "hello", &f->arena, &r),
                   0);
  assert_int_equal(r.id, id);
  assert_int_equal(r.outcome, KILN_HISTORY_IN_PROGRESS);
}

static void test_release_lifecycle(void **state)
{
  struct fixture *f = *state;
  struct kiln_history_release r;
  int64_t id, again;

  assert_int_equal(kiln_history_release_latest(f->h, "hello", &f->arena, &r),
                   KILN_ENOENT);
  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c1", "d1", T0, &id), 0);
  /* Idempotent while in progress: a later pass sees the same release. */
  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c1", "d1", T0 + 5, &again), 0);
  assert_int_equal(again, id);
  assert_int_equal(
      kiln_history_release_update(
          f->h, id, &(struct kiln_history_release_update){.ami = "ami-1"}),
      0);
  assert_int_equal(
      kiln_history_release_update(f->h, id,
                                  &(struct kiln_history_release_update){
                                      .lt_version = 3, .refresh_id = "r-1"}),
      0);
  assert_int_equal(
      kiln_history_release_update(
          f->h, id + 100, &(struct kiln_history_release_update){.ami = "x"}),
      KILN_ENOENT);
  assert_int_equal(kiln_history_release_current(f->h, "hello", &f->arena, &r),
                   KILN_ENOENT);
  assert_int_equal(kiln_history_release_end(f->h, id, KILN_HISTORY_SUCCEEDED,
                                            NULL, T0 + 60000),
                   0);
  /* Ending twice is refused: a release ends once. */
  assert_int_equal(kiln_history_release_end(f->h, id, KILN_HISTORY_FAILED,
                                            "late", T0 + 70000),
                   KILN_ENOENT);
  assert_int_equal(kiln_history_release_end(f->h, id, KILN_HISTORY_IN_PROGRESS,
                                            NULL, T0 + 70000),
                   KILN_EINVAL);
  assert_int_equal(kiln_history_release_current(f->h, "hello", &f->arena, &r),
                   0);
  assert_int_equal(r.id, id);
  assert_string_equal(r.app, "hello");
  assert_string_equal(r.commit, "c1");
  assert_string_equal(r.digest, "d1");
  assert_string_equal(r.ami, "ami-1");
  assert_int_equal(r.lt_version, 3);
  assert_string_equal(r.refresh_id, "r-1");
  assert_int_equal(r.started_at_ms, T0);
  assert_int_equal(r.ended_at_ms, T0 + 60000);
  assert_int_equal(r.outcome, KILN_HISTORY_SUCCEEDED);
  assert_null(r.reason);
  /* After it ended, the same key starts a new release. */
  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c1", "d1", T0 + 1, &again), 0);
  assert_true(again > id);
  /* Times are passed in and must be real. */
  assert_int_equal(kiln_history_release_start(f->h, "x", "c1", "d1", 0, &again),
                   KILN_EINVAL);
  assert_non_null(strstr(kiln_history_errmsg(f->h), "milliseconds"));
}

static void test_newer_release_supersedes(void **state)
{
  struct fixture *f = *state;
  struct kiln_history_release *rs;
  size_t n;
  int64_t a, b, other, c;

  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c1", "d1", T0, &a), 0);
  assert_int_equal(
      kiln_history_release_start(f->h, "world", "c1", "d9", T0, &other), 0);
  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c2", "d2", T0 + 10, &b), 0);
  /* Same commit, another digest (a new parent AMI): a new release too. */
  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c2", "d3", T0 + 20, &c), 0);
  assert_true(a != b && b != c);
  assert_int_equal(kiln_history_releases(f->h, "hello", 0, &f->arena, &rs, &n),
                   0);
  assert_int_equal(n, 3);
  assert_int_equal(rs[0].id, c);
  assert_int_equal(rs[0].outcome, KILN_HISTORY_IN_PROGRESS);
  assert_int_equal(rs[1].id, b);
  assert_int_equal(rs[1].outcome, KILN_HISTORY_SUPERSEDED);
  assert_int_equal(rs[1].ended_at_ms, T0 + 20);
  assert_int_equal(rs[2].id, a);
  assert_int_equal(rs[2].outcome, KILN_HISTORY_SUPERSEDED);
  assert_non_null(strstr(rs[2].reason, "commit c2"));
  assert_int_equal(rs[2].ended_at_ms, T0 + 10);
  /* Another app's release is untouched. */
  assert_int_equal(kiln_history_releases(f->h, "world", 0, &f->arena, &rs, &n),
                   0);
  assert_int_equal(n, 1);
  assert_int_equal(rs[0].outcome, KILN_HISTORY_IN_PROGRESS);
  /* At most one release of an app is in progress, whatever writes it. */
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM releases WHERE"
                                  " app = 'hello' AND outcome ="
                                  " 'in-progress'"),
                   1);
}

static void test_queries(void **state)
{
  struct fixture *f = *state;
  struct kiln_history_release *rs, r;
  size_t n;
  int64_t id;
  const char *apps[] = {"b", "a", "c", "a", "b", "a"};

  for (int i = 0; i < 6; i++) {
    char commit[8];
    snprintf(commit, sizeof(commit), "c%d", i);
    assert_int_equal(
        kiln_history_release_start(f->h, apps[i], commit, "d", T0 + i, &id), 0);
    assert_int_equal(kiln_history_release_end(
                         f->h, id,
                         i == 3 ? KILN_HISTORY_FAILED : KILN_HISTORY_SUCCEEDED,
                         i == 3 ? "bake failed" : NULL, T0 + 100 + i),
                     0);
  }
  assert_int_equal(kiln_history_releases(f->h, NULL, 0, &f->arena, &rs, &n), 0);
  assert_int_equal(n, 6);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(rs[i].started_at_ms, T0 + 5 - (int64_t)i);
  assert_int_equal(kiln_history_releases(f->h, NULL, 2, &f->arena, &rs, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(rs[0].commit, "c5");
  assert_int_equal(kiln_history_releases(f->h, "a", 0, &f->arena, &rs, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(rs[0].commit, "c5");
  assert_string_equal(rs[1].commit, "c3");
  assert_string_equal(rs[1].reason, "bake failed");
  assert_int_equal(rs[1].outcome, KILN_HISTORY_FAILED);
  assert_int_equal(kiln_history_releases(f->h, "zzz", 0, &f->arena, &rs, &n),
                   0);
  assert_int_equal(n, 0);
  assert_int_equal(kiln_history_release_latest_all(f->h, &f->arena, &rs, &n),
                   0);
  assert_int_equal(n, 3);
  assert_string_equal(rs[0].app, "a");
  assert_string_equal(rs[0].commit, "c5");
  assert_string_equal(rs[1].app, "b");
  assert_string_equal(rs[1].commit, "c4");
  assert_string_equal(rs[2].app, "c");
  /* The newest release of a failed; current is the newest that
   * succeeded. */
  assert_int_equal(
      kiln_history_release_start(f->h, "c", "c9", "d", T0 + 9, &id), 0);
  assert_int_equal(
      kiln_history_release_end(f->h, id, KILN_HISTORY_FAILED, "no", T0 + 200),
      0);
  assert_int_equal(kiln_history_release_current(f->h, "c", &f->arena, &r), 0);
  assert_string_equal(r.commit, "c2");
  assert_int_equal(kiln_history_release_latest(f->h, "c", &f->arena, &r), 0);
  assert_string_equal(r.commit, "c9");
  /* Names are bound, never formatted into SQL. */
  assert_int_equal(
      kiln_history_releases(f->h, "a' OR '1'='1", 0, &f->arena, &rs, &n), 0);
  assert_int_equal(n, 0);
}

static size_t drift(struct fixture *f, const char *commit, int64_t t,
                    const struct kiln_history_drift *d, size_t n)
{
  struct kiln_history_app_drift app = {"hello", commit, d, n};
  size_t written = 99;
  assert_int_equal(kiln_history_drift_record(f->h, &app, 1, t, &written), 0);
  return written;
}

static void test_drift_stores_changes_only(void **state)
{
  struct fixture *f = *state;
  struct kiln_history_drift max7 = {"autoscaling.max", "3", "7", "out-of-band"};
  struct kiln_history_drift max9 = {"autoscaling.max", "3", "9", "out-of-band"};
  struct kiln_history_drift type = {"launchTemplate.instanceType", "t3.small",
                                    "t3.micro", "commit"};
  struct kiln_history_drift both[2] = {max7, type};
  struct kiln_history_drift_row *rows;
  size_t n;

  assert_int_equal(drift(f, "c1", T0, NULL, 0), 0);
  assert_int_equal(drift(f, "c1", T0 + 1, &max7, 1), 1);
  /* A steady drift does not grow the table. */
  for (int i = 0; i < 50; i++)
    assert_int_equal(drift(f, "c1", T0 + 2 + i, &max7, 1), 0);
  assert_int_equal(drift(f, "c1", T0 + 100, &max9, 1), 1);
  assert_int_equal(drift(f, "c2", T0 + 101, both, 2), 2); /* 9 -> 7, new */
  assert_int_equal(drift(f, "c2", T0 + 102, both, 2), 0);
  /* Cleared, once. */
  assert_int_equal(drift(f, "c2", T0 + 103, &type, 1), 1);
  assert_int_equal(drift(f, "c2", T0 + 104, &type, 1), 0);
  assert_int_equal(drift(f, "c2", T0 + 105, NULL, 0), 1);
  assert_int_equal(drift(f, "c2", T0 + 106, NULL, 0), 0);
  /* And back. */
  assert_int_equal(drift(f, "c3", T0 + 107, &max7, 1), 1);

  assert_int_equal(
      kiln_history_drift_list(f->h, "hello", 0, &f->arena, &rows, &n), 0);
  assert_int_equal(n, 7);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM drift"), 7);
  assert_string_equal(rows[0].field, "autoscaling.max");
  assert_string_equal(rows[0].actual, "7");
  assert_string_equal(rows[0].commit, "c3");
  assert_int_equal(rows[0].observed_at_ms, T0 + 107);
  assert_string_equal(rows[1].field, "launchTemplate.instanceType");
  assert_string_equal(rows[1].cause, "cleared");
  assert_null(rows[1].desired);
  assert_null(rows[1].actual);
  assert_string_equal(rows[2].field, "autoscaling.max");
  assert_string_equal(rows[2].cause, "cleared");
  assert_int_equal(rows[2].observed_at_ms, T0 + 103);
  assert_int_equal(kiln_history_drift_list(f->h, NULL, 3, &f->arena, &rows, &n),
                   0);
  assert_int_equal(n, 3);
  assert_int_equal(
      kiln_history_drift_list(f->h, "other", 0, &f->arena, &rows, &n), 0);
  assert_int_equal(n, 0);
}

static void test_drift_batch_is_all_or_nothing(void **state)
{
  struct fixture *f = *state;
  struct kiln_history_drift ok = {"autoscaling.max", "3", "7", "out-of-band"};
  struct kiln_history_drift bad = {"autoscaling.min", "0", "1", "gremlins"};
  struct kiln_history_app_drift apps[2] = {{"a", "c1", &ok, 1},
                                           {"b", "c1", &bad, 1}};
  size_t written = 7;
  assert_int_equal(kiln_history_drift_record(f->h, apps, 2, T0, &written),
                   KILN_EINVAL);
  assert_int_equal(written, 0);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM drift"), 0);
  assert_non_null(strstr(kiln_history_errmsg(f->h), f->db));
}

/* What a handle remembers of drift it recorded never hides what another
 * connection wrote since, nor what a rolled-back batch did not write. */
static void test_drift_remembered_only_while_true(void **state)
{
  struct fixture *f = *state;
  struct kiln_history_drift max7 = {"autoscaling.max", "3", "7", "out-of-band"};
  struct kiln_history_drift max9 = {"autoscaling.max", "3", "9", "out-of-band"};
  struct kiln_history_drift bad = {"autoscaling.min", "0", "1", "gremlins"};
  struct kiln_history_app_drift other = {"hello", "c2", &max9, 1};
  struct kiln_history_app_drift batch[2] = {{"hello", "c3", &max9, 1},
                                            {"b", "c3", &bad, 1}};
  struct kiln_history *h2;
  char err[256];
  size_t written;

  assert_int_equal(drift(f, "c1", T0, &max7, 1), 1);
  assert_int_equal(drift(f, "c1", T0 + 1, &max7, 1), 0);
  /* kiln apply on the same state directory sees 9. */
  assert_int_equal(kiln_history_open(f->state, &h2, err, sizeof(err)), 0);
  assert_int_equal(
      kiln_history_drift_record(h2, &other, 1, T0 + 2, &written), 0);
  assert_int_equal(written, 1);
  kiln_history_close(h2);
  /* The daemon sees 7 again: a change from the last row, written. */
  assert_int_equal(drift(f, "c1", T0 + 3, &max7, 1), 1);
  assert_int_equal(drift(f, "c1", T0 + 4, &max7, 1), 0);
  /* A batch that fails writes nothing, and is not remembered as written. */
  assert_int_equal(kiln_history_drift_record(f->h, batch, 2, T0 + 5, &written),
                   KILN_EINVAL);
  assert_int_equal(drift(f, "c1", T0 + 6, &max7, 1), 0);
  assert_int_equal(drift(f, "c3", T0 + 7, &max9, 1), 1);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM drift"), 4);
}

/* ---- files that are not ours ---------------------------------------------
 */

static void write_file(const char *path, const void *data, size_t n)
{
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, n, fp), n);
  fclose(fp);
}

static void close_and_remove_db(struct fixture *f)
{
  char p[200];
  kiln_history_close(f->h);
  f->h = NULL;
  remove(f->db);
  snprintf(p, sizeof(p), "%s-wal", f->db);
  remove(p);
  snprintf(p, sizeof(p), "%s-shm", f->db);
  remove(p);
}

static void test_corrupt_file_is_an_error_and_kept(void **state)
{
  struct fixture *f = *state;
  char garbage[8192], back[8192], err[KILN_HISTORY_ERRMAX];
  struct kiln_history *h = (void *)1;
  FILE *fp;

  close_and_remove_db(f);
  for (size_t i = 0; i < sizeof(garbage); i++)
    garbage[i] = (char)(i * 7 + 3);
  write_file(f->db, garbage, sizeof(garbage));
  assert_int_equal(kiln_history_open(f->state, &h, err, sizeof(err)),
                   KILN_EPARSE);
  assert_null(h);
  assert_non_null(strstr(err, f->db));
  assert_non_null(strstr(err, "move it aside"));
  /* Never silently recreated. */
  fp = fopen(f->db, "rb");
  assert_non_null(fp);
  assert_int_equal(fread(back, 1, sizeof(back), fp), sizeof(back));
  fclose(fp);
  assert_memory_equal(back, garbage, sizeof(garbage));
}

static void test_damaged_database_is_an_error(void **state)
{
  struct fixture *f = *state;
  char err[KILN_HISTORY_ERRMAX], page[4096];
  struct kiln_history *h = NULL;
  int64_t id;
  int fd;

  /* A real Kiln database whose schema page is overwritten. */
  for (int i = 0; i < 200; i++)
    assert_int_equal(
        kiln_history_release_start(f->h, "hello", "c", "d", T0 + i, &id), 0);
  kiln_history_close(f->h);
  f->h = NULL;
  memset(page, 0xa5, sizeof(page));
  fd = open(f->db, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, page, 100, 100), 100);
  close(fd);
  assert_true(kiln_history_open(f->state, &h, err, sizeof(err)) < 0);
  assert_null(h);
  assert_non_null(strstr(err, f->db));
}

static void test_foreign_database_is_refused(void **state)
{
  struct fixture *f = *state;
  char err[KILN_HISTORY_ERRMAX];
  struct kiln_history *h = NULL;

  close_and_remove_db(f);
  raw_exec(f->db, "CREATE TABLE notes (body TEXT); INSERT INTO notes"
                  " VALUES ('mine')");
  assert_int_equal(kiln_history_open(f->state, &h, err, sizeof(err)),
                   KILN_EPARSE);
  assert_null(h);
  assert_non_null(strstr(err, "not Kiln's history"));
  assert_non_null(strstr(err, f->db));
  assert_int_equal(raw_int(f->db, "PRAGMA user_version"), 0);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_schema"), 1);
}

static void test_newer_schema_is_refused(void **state)
{
  struct fixture *f = *state;
  char err[KILN_HISTORY_ERRMAX];
  struct kiln_history *h = NULL;

  kiln_history_close(f->h);
  f->h = NULL;
  raw_exec(f->db, "PRAGMA user_version = 99");
  assert_int_equal(kiln_history_open(f->state, &h, err, sizeof(err)),
                   KILN_EUNSUPPORTED);
  assert_null(h);
  assert_non_null(strstr(err, "newer Kiln"));
  assert_int_equal(raw_int(f->db, "PRAGMA user_version"), 99);
}

/* ---- schema migrations ----------------------------------------------------
 */

/* A history.db as Kiln wrote it at schema 1 (times in columns without
 * their unit), with a finished release, one in progress and drift. */
static void write_schema_1(const char *db)
{
  raw_exec(db,
           "CREATE TABLE releases ("
           "  id INTEGER PRIMARY KEY,"
           "  app TEXT NOT NULL,"
           "  \"commit\" TEXT NOT NULL,"
           "  digest TEXT NOT NULL,"
           "  ami TEXT,"
           "  launch_template_version INTEGER,"
           "  refresh_id TEXT,"
           "  started_at INTEGER NOT NULL,"
           "  ended_at INTEGER,"
           "  outcome TEXT NOT NULL DEFAULT 'in-progress' CHECK (outcome IN"
           "    ('in-progress', 'succeeded', 'failed', 'superseded')),"
           "  reason TEXT,"
           "  CHECK ((outcome = 'in-progress') = (ended_at IS NULL)));"
           "CREATE INDEX releases_by_app ON releases (app, id);"
           "CREATE UNIQUE INDEX releases_in_progress ON releases (app)"
           "  WHERE outcome = 'in-progress';"
           "CREATE TABLE drift ("
           "  id INTEGER PRIMARY KEY,"
           "  app TEXT NOT NULL,"
           "  \"commit\" TEXT NOT NULL,"
           "  observed_at INTEGER NOT NULL,"
           "  field TEXT NOT NULL,"
           "  desired TEXT,"
           "  actual TEXT,"
           "  cause TEXT NOT NULL CHECK (cause IN"
           "    ('commit', 'out-of-band', 'cleared')));"
           "CREATE INDEX drift_by_field ON drift (app, field, id);"
           "INSERT INTO releases VALUES (1, 'hello', 'c1', 'd1', 'ami-1', 2,"
           "  'r-1', 1700000000123, 1700000060456, 'succeeded', NULL);"
           "INSERT INTO releases (id, app, \"commit\", digest, started_at)"
           "  VALUES (2, 'hello', 'c2', 'd2', 1700000100789);"
           "INSERT INTO drift VALUES (1, 'hello', 'c1', 1700000070001,"
           "  'asg.max', '3', '9', 'out-of-band');"
           "PRAGMA application_id = 1263094862;" /* "KILN" */
           "PRAGMA user_version = 1;");
}

/* A collection's deletions are recorded in one transaction; one without
 * a resource records nothing. */
static void test_collections_are_recorded(void **state)
{
  struct fixture *f = *state;
  struct kiln_history_collection items[] = {
      {"us-east-1", NULL, "image", "ami-1", "hello", "not among the last 2"},
      {"us-east-1", NULL, "snapshot", "snap-1", "hello", NULL},
      {"eu-west-1", "arn:aws:iam::210987654321:role/k",
       "launch-template-version", "lt-1/3", "hello", "its image is not kept"},
  };
  struct kiln_history_collection bad = {"us-east-1", NULL, "image", NULL, NULL,
                                        NULL};
  int64_t n;
  assert_int_equal(kiln_history_record_collection(f->h, items, 3, 1000), 0);
  assert_int_equal(kiln_history_collections_count(f->h, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(kiln_history_record_collection(f->h, &bad, 1, 2000),
                   KILN_EINVAL);
  assert_int_equal(kiln_history_collections_count(f->h, &n), 0);
  assert_int_equal(n, 3);
}

static void test_schema_1_is_migrated_and_keeps_its_rows(void **state)
{
  struct fixture *f = *state;
  struct kiln_history_release *rs;
  struct kiln_history_drift_row *rows;
  char err[KILN_HISTORY_ERRMAX];
  int64_t id;
  size_t n;

  close_and_remove_db(f);
  write_schema_1(f->db);
  assert_int_equal(kiln_history_open(f->state, &f->h, err, sizeof(err)), 0);
  assert_int_equal(raw_int(f->db, "PRAGMA user_version"),
                   KILN_HISTORY_SCHEMA_VERSION);
  assert_int_equal(raw_int(f->db, "PRAGMA application_id"), 0x4b494c4e);
  /* Version 3: the table of what collections deleted. */
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE"
                                  " name = 'collections'"),
                   1);
  /* The columns carry their unit; none is left under the old name. */
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM pragma_table_info"
                                  "('releases') WHERE name IN"
                                  " ('started_at_ms', 'ended_at_ms')"),
                   2);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM pragma_table_info"
                                  "('drift') WHERE name = 'observed_at_ms'"),
                   1);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE"
                                  " sql LIKE '%started_at %' OR sql LIKE"
                                  " '%ended_at %' OR sql LIKE '%observed_at %'"
                                  " OR sql LIKE '%ended_at IS%'"),
                   0);

  /* Every value is as it was, to the millisecond. */
  assert_int_equal(kiln_history_releases(f->h, NULL, 0, &f->arena, &rs, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(rs[0].id, 2);
  assert_string_equal(rs[0].commit, "c2");
  assert_int_equal(rs[0].started_at_ms, 1700000100789LL);
  assert_int_equal(rs[0].ended_at_ms, 0);
  assert_int_equal(rs[0].outcome, KILN_HISTORY_IN_PROGRESS);
  assert_int_equal(rs[1].id, 1);
  assert_string_equal(rs[1].ami, "ami-1");
  assert_int_equal(rs[1].lt_version, 2);
  assert_string_equal(rs[1].refresh_id, "r-1");
  assert_int_equal(rs[1].started_at_ms, 1700000000123LL);
  assert_int_equal(rs[1].ended_at_ms, 1700000060456LL);
  assert_int_equal(rs[1].outcome, KILN_HISTORY_SUCCEEDED);
  assert_int_equal(kiln_history_drift_list(f->h, NULL, 0, &f->arena, &rows, &n),
                   0);
  assert_int_equal(n, 1);
  assert_int_equal(rows[0].observed_at_ms, 1700000070001LL);
  assert_string_equal(rows[0].cause, "out-of-band");

  /* The constraints came along: the release in progress is the one a
   * newer commit supersedes, and it ends with a time. */
  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c3", "d3", T0, &id), 0);
  assert_int_equal(id, 3);
  assert_int_equal(kiln_history_releases(f->h, NULL, 0, &f->arena, &rs, &n), 0);
  assert_int_equal(rs[1].outcome, KILN_HISTORY_SUPERSEDED);
  assert_int_equal(rs[1].ended_at_ms, T0);
  {
    sqlite3 *c;
    assert_int_equal(sqlite3_open(f->db, &c), SQLITE_OK);
    /* An ended release without an end time breaks the CHECK, and a second
     * release in progress the unique index. */
    assert_int_equal(
        sqlite3_exec(c, "UPDATE releases SET outcome = 'failed' WHERE id = 3",
                     NULL, NULL, NULL),
        SQLITE_CONSTRAINT);
    assert_int_equal(
        sqlite3_exec(c,
                     "INSERT INTO releases (app, \"commit\", digest,"
                     " started_at_ms) VALUES ('hello', 'c4', 'd4', 1)",
                     NULL, NULL, NULL),
        SQLITE_CONSTRAINT);
    sqlite3_close(c);
  }

  /* Opening again migrates nothing more. */
  kiln_history_close(f->h);
  assert_int_equal(kiln_history_open(f->state, &f->h, err, sizeof(err)), 0);
  assert_int_equal(raw_int(f->db, "PRAGMA user_version"),
                   KILN_HISTORY_SCHEMA_VERSION);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM releases"), 3);
}

static void test_state_dir_that_is_a_file(void **state)
{
  struct fixture *f = *state;
  char path[200], err[KILN_HISTORY_ERRMAX];
  struct kiln_history *h = NULL;
  snprintf(path, sizeof(path), "%s/plain", f->dir);
  write_file(path, "x", 1);
  assert_true(kiln_history_open(path, &h, err, sizeof(err)) < 0);
  assert_null(h);
  assert_non_null(strstr(err, path));
}

/* ---- crash safety ---------------------------------------------------------
 */

/* A child records a release to its end and is killed with SIGKILL the
 * moment the call returns: the release must be there, complete, when the
 * database is opened again. */
static void test_completed_release_survives_sigkill(void **state)
{
  struct fixture *f = *state;
  char err[KILN_HISTORY_ERRMAX];
  struct kiln_history_release *rs;
  size_t n;

  kiln_history_close(f->h);
  f->h = NULL;
  for (int round = 0; round < 5; round++) {
    pid_t pid = fork();
    int status;
    assert_true(pid >= 0);
    if (pid == 0) {
      struct kiln_history *h;
      char commit[16];
      int64_t id;
      snprintf(commit, sizeof(commit), "c%d", round);
      if (kiln_history_open(f->state, &h, NULL, 0) != 0 ||
          kiln_history_release_start(h, "hello", commit, "d", T0 + round,
                                     &id) != 0 ||
          kiln_history_release_update(
              h, id,
              &(struct kiln_history_release_update){
                  .ami = "ami-1", .lt_version = round + 1}) != 0)
        _exit(3);
      if (kiln_history_release_end(h, id, KILN_HISTORY_SUCCEEDED, NULL,
                                   T0 + 1000 + round) != 0)
        _exit(4);
      kill(getpid(), SIGKILL);
      _exit(5);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    assert_int_equal(kiln_history_open(f->state, &f->h, err, sizeof(err)), 0);
    assert_int_equal(
        kiln_history_releases(f->h, "hello", 0, &f->arena, &rs, &n), 0);
    assert_int_equal(n, (size_t)round + 1);
    for (size_t i = 0; i < n; i++) {
      assert_int_equal(rs[i].outcome, KILN_HISTORY_SUCCEEDED);
      assert_string_equal(rs[i].ami, "ami-1");
      assert_int_equal(rs[i].ended_at_ms, T0 + 1000 + round - (int64_t)i);
    }
    kiln_history_close(f->h);
    f->h = NULL;
  }
  {
    sqlite3 *c;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->db, &c), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    sqlite3_close(c);
  }
}

/* ---- recording passes -----------------------------------------------------
 */

static struct kiln_app_spec hello_spec = {.name = "hello"};

static struct kiln_pass_app pass_app(enum kiln_app_status st,
                                     enum kiln_action_type action,
                                     const char *digest)
{
  struct kiln_pass_app a = {.spec = &hello_spec};
  a.plan.app = "hello";
  a.plan.status = st;
  snprintf(a.plan.digest, sizeof(a.plan.digest), "%s", digest);
  a.plan.action.type = action;
  a.plan.message = "a message";
  return a;
}

static void record(struct fixture *f, const char *commit, int64_t t,
                   struct kiln_pass_app a)
{
  assert_int_equal(kiln_history_record_pass(f->h, commit, &a, 1, t), 0);
}

static struct kiln_history_release latest(struct fixture *f)
{
  struct kiln_history_release r;
  assert_int_equal(kiln_history_release_latest(f->h, "hello", &f->arena, &r),
                   0);
  return r;
}

static void test_record_pass_follows_a_release(void **state)
{
  struct fixture *f = *state;
  struct kiln_pass_app a;
  struct kiln_history_release r, *rs;
  struct kiln_drift d = {"image.digest", "d1", "(no AMI)", KILN_CAUSE_COMMIT};
  struct kiln_history_drift_row *rows;
  size_t n;

  a = pass_app(KILN_STATUS_PENDING, KILN_ACTION_BAKE, "d1");
  a.plan.drift = &d;
  a.plan.n_drift = 1;
  a.executed = true;
  record(f, "c1", T0, a);
  r = latest(f);
  assert_string_equal(r.commit, "c1");
  assert_string_equal(r.digest, "d1");
  assert_int_equal(r.outcome, KILN_HISTORY_IN_PROGRESS);
  record(f, "c1", T0 + 1,
         pass_app(KILN_STATUS_PROGRESSING, KILN_ACTION_WAIT_BAKE, "d1"));
  a = pass_app(KILN_STATUS_PROGRESSING, KILN_ACTION_TAG_IMAGE, "d1");
  a.plan.action.ami_id = "ami-1";
  a.executed = true;
  record(f, "c1", T0 + 2, a);
  a = pass_app(KILN_STATUS_PENDING, KILN_ACTION_LT_CREATE, "d1");
  a.plan.action.ami_id = "ami-1";
  a.executed = true;
  a.made_lt_version = 1;
  record(f, "c1", T0 + 3, a);
  r = latest(f);
  assert_string_equal(r.ami, "ami-1");
  assert_int_equal(r.lt_version, 1);
  record(f, "c1", T0 + 4,
         pass_app(KILN_STATUS_IN_SYNC, KILN_ACTION_NONE, "d1"));
  r = latest(f);
  assert_int_equal(r.outcome, KILN_HISTORY_SUCCEEDED);
  assert_int_equal(r.ended_at_ms, T0 + 4);
  /* In sync again: nothing new. An out-of-band correction of the same
   * commit is not a release. */
  record(f, "c1", T0 + 5,
         pass_app(KILN_STATUS_IN_SYNC, KILN_ACTION_NONE, "d1"));
  record(f, "c1", T0 + 6,
         pass_app(KILN_STATUS_PROGRESSING, KILN_ACTION_WAIT_REFRESH, "d1"));
  assert_int_equal(kiln_history_releases(f->h, NULL, 0, &f->arena, &rs, &n), 0);
  assert_int_equal(n, 1);
  /* The drift of the first pass, then its clearing. */
  assert_int_equal(
      kiln_history_drift_list(f->h, "hello", 0, &f->arena, &rows, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(rows[0].cause, "cleared");
  assert_string_equal(rows[1].cause, "commit");

  /* A release: default set, refresh started and followed. */
  a = pass_app(KILN_STATUS_PENDING, KILN_ACTION_LT_SET_DEFAULT, "d2");
  a.plan.action.ami_id = "ami-2";
  a.executed = true;
  a.outcome = "made version 2 the default of hello";
  a.made_lt_version = 2;
  record(f, "c2", T0 + 10, a);
  a = pass_app(KILN_STATUS_PENDING, KILN_ACTION_REFRESH_START, "d2");
  a.plan.action.lt_version = 2;
  a.executed = true;
  a.outcome = "started instance refresh r-77";
  a.started_refresh_id = "r-77";
  record(f, "c2", T0 + 11, a);
  r = latest(f);
  assert_string_equal(r.commit, "c2");
  assert_string_equal(r.ami, "ami-2");
  assert_int_equal(r.lt_version, 2);
  assert_string_equal(r.refresh_id, "r-77");

  /* A newer commit supersedes it; its failure is recorded with the
   * planner's reason. */
  record(f, "c3", T0 + 12,
         pass_app(KILN_STATUS_PENDING, KILN_ACTION_BAKE, "d3"));
  a = pass_app(KILN_STATUS_ERROR, KILN_ACTION_NONE, "d3");
  a.plan.message = "bake of image d3 failed: boom";
  record(f, "c3", T0 + 13, a);
  assert_int_equal(kiln_history_releases(f->h, "hello", 0, &f->arena, &rs, &n),
                   0);
  assert_int_equal(n, 3);
  assert_int_equal(rs[0].outcome, KILN_HISTORY_FAILED);
  assert_string_equal(rs[0].reason, "bake of image d3 failed: boom");
  assert_int_equal(rs[1].outcome, KILN_HISTORY_SUPERSEDED);
  assert_int_equal(rs[2].outcome, KILN_HISTORY_SUCCEEDED);
  /* Still failing on later passes: not recorded again. */
  record(f, "c3", T0 + 14, a);
  assert_int_equal(kiln_history_releases(f->h, "hello", 0, &f->arena, &rs, &n),
                   0);
  assert_int_equal(n, 3);
}

static void test_a_refresh_started_by_a_failed_step_is_recorded(void **state)
{
  struct fixture *f = *state;
  struct kiln_pass_app a;

  record(f, "c1", T0, pass_app(KILN_STATUS_PENDING, KILN_ACTION_BAKE, "d1"));
  /* StartInstanceRefresh went through, tagging the group did not. */
  a = pass_app(KILN_STATUS_PENDING, KILN_ACTION_REFRESH_START, "d1");
  a.plan.action.lt_version = 3;
  a.executed = true;
  a.exec_err = 1;
  a.started_refresh_id = "r-9";
  record(f, "c1", T0 + 1, a);
  assert_string_equal(latest(f).refresh_id, "r-9");
}

static void test_a_follow_on_step_is_recorded_with_its_lead(void **state)
{
  struct fixture *f = *state;
  struct kiln_pass_app a;

  record(f, "c1", T0, pass_app(KILN_STATUS_PENDING, KILN_ACTION_BAKE, "d1"));
  /* One pass: the default set, then the refresh that followed it. */
  a = pass_app(KILN_STATUS_PENDING, KILN_ACTION_LT_SET_DEFAULT, "d1");
  a.plan.action.ami_id = "ami-1";
  a.executed = true;
  a.made_lt_version = 4;
  a.followed_by = KILN_ACTION_REFRESH_START;
  a.started_refresh_id = "r-4";
  record(f, "c1", T0 + 1, a);
  assert_int_equal(latest(f).lt_version, 4);
  assert_string_equal(latest(f).refresh_id, "r-4");

  /* The next release: the default set, the group's step failed. What the
   * first step did is still known. */
  record(f, "c2", T0 + 2,
         pass_app(KILN_STATUS_PENDING, KILN_ACTION_BAKE, "d2"));
  a = pass_app(KILN_STATUS_PENDING, KILN_ACTION_LT_SET_DEFAULT, "d2");
  a.plan.action.ami_id = "ami-2";
  a.executed = true;
  a.exec_err = 1;
  a.made_lt_version = 5;
  a.followed_by = KILN_ACTION_REFRESH_START;
  record(f, "c2", T0 + 3, a);
  assert_string_equal(latest(f).commit, "c2");
  assert_string_equal(latest(f).ami, "ami-2");
  assert_int_equal(latest(f).lt_version, 5);
  assert_null(latest(f).refresh_id);
}

static void test_record_pass_skips_report_only_apps(void **state)
{
  struct fixture *f = *state;
  struct kiln_app_spec report = {.name = "hello", .drift = KILN_DRIFT_REPORT};
  struct kiln_pass_app a = pass_app(KILN_STATUS_PENDING, KILN_ACTION_NONE, "d");
  struct kiln_history_release r;
  a.spec = &report;
  record(f, "c1", T0, a);
  assert_int_equal(kiln_history_release_latest(f->h, "hello", &f->arena, &r),
                   KILN_ENOENT);
}

/* ---- JSON -----------------------------------------------------------------
 */

/* The documented keys of a release (README.md), in the encoder's order. */
static const char *const release_keys[] = {
    "id",         "app",           "commit",
    "digest",     "ami",           "launch_template_version",
    "refresh_id", "started_at_ms", "ended_at_ms",
    "outcome",    "reason"};
#define N_RELEASE_KEYS (sizeof(release_keys) / sizeof(release_keys[0]))

static void assert_release_keys(json_object *o)
{
  struct json_object_iterator it = json_object_iter_begin(o);
  struct json_object_iterator end = json_object_iter_end(o);
  size_t i = 0;

  assert_true(json_object_is_type(o, json_type_object));
  for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it), i++) {
    assert_true(i < N_RELEASE_KEYS);
    assert_string_equal(json_object_iter_peek_name(&it), release_keys[i]);
  }
  assert_int_equal(i, N_RELEASE_KEYS);
}

static int64_t json_int(json_object *o, const char *key)
{
  json_object *v = NULL;
  assert_true(json_object_object_get_ex(o, key, &v));
  assert_true(json_object_is_type(v, json_type_int));
  return json_object_get_int64(v);
}

static const char *json_str(json_object *o, const char *key)
{
  json_object *v = NULL;
  assert_true(json_object_object_get_ex(o, key, &v));
  assert_true(json_object_is_type(v, json_type_string));
  return json_object_get_string(v);
}

static void assert_json_null(json_object *o, const char *key)
{
  json_object *v = o; /* anything but NULL */
  assert_true(json_object_object_get_ex(o, key, &v));
  assert_null(v);
}

static void test_release_json_has_every_field(void **state)
{
  const struct kiln_history_release r = {
      .id = 42,
      .app = "hello",
      .commit = "0123456789abcdef0123456789abcdef01234567",
      .digest = "d1",
      .ami = "ami-0123456789abcdef0",
      .lt_version = 7,
      .refresh_id = "r-1",
      .started_at_ms = T0 + 123,
      .ended_at_ms = T0 + 60456,
      .outcome = KILN_HISTORY_FAILED,
      .reason = "bake of image \"x\" failed",
  };
  json_object *o = kiln_history_release_json(&r);
  (void)state;

  assert_non_null(o);
  assert_release_keys(o);
  assert_int_equal(json_int(o, "id"), 42);
  assert_string_equal(json_str(o, "app"), "hello");
  assert_string_equal(json_str(o, "commit"), r.commit);
  assert_string_equal(json_str(o, "digest"), "d1");
  assert_string_equal(json_str(o, "ami"), "ami-0123456789abcdef0");
  assert_int_equal(json_int(o, "launch_template_version"), 7);
  assert_string_equal(json_str(o, "refresh_id"), "r-1");
  /* Milliseconds as stored, not seconds and not rounded. */
  assert_int_equal(json_int(o, "started_at_ms"), 1700000000123LL);
  assert_int_equal(json_int(o, "ended_at_ms"), 1700000060456LL);
  assert_string_equal(json_str(o, "outcome"), "failed");
  assert_string_equal(json_str(o, "reason"), "bake of image \"x\" failed");
  assert_string_equal(
      json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                            JSON_C_TO_STRING_NOSLASHESCAPE),
      "{\"id\":42,\"app\":\"hello\",\"commit\":"
      "\"0123456789abcdef0123456789abcdef01234567\",\"digest\":\"d1\","
      "\"ami\":\"ami-0123456789abcdef0\",\"launch_template_version\":7,"
      "\"refresh_id\":\"r-1\",\"started_at_ms\":1700000000123,"
      "\"ended_at_ms\":1700000060456,\"outcome\":\"failed\","
      "\"reason\":\"bake of image \\\"x\\\" failed\"}");
  json_object_put(o);
}

/* What is not known yet is null, never 0 or "", and the key is there. */
static void test_release_json_unknowns_are_null(void **state)
{
  const struct kiln_history_release r = {
      .id = 1,
      .app = "hello",
      .commit = "c1",
      .digest = "d1",
      .started_at_ms = T0,
      .outcome = KILN_HISTORY_IN_PROGRESS,
  };
  json_object *o = kiln_history_release_json(&r);
  (void)state;

  assert_non_null(o);
  assert_release_keys(o);
  assert_json_null(o, "ami");
  assert_json_null(o, "launch_template_version");
  assert_json_null(o, "refresh_id");
  assert_json_null(o, "ended_at_ms");
  assert_json_null(o, "reason");
  assert_int_equal(json_int(o, "started_at_ms"), T0);
  assert_string_equal(json_str(o, "outcome"), "in-progress");
  json_object_put(o);
}

/* Releases as the store gives them back, through the encoder: the order,
 * every outcome's name and the times to the millisecond. */
static void test_releases_json_from_the_store(void **state)
{
  struct fixture *f = *state;
  struct kiln_history_release *rs;
  int64_t a, b, c;
  size_t n;
  json_object *arr, *o;
  (void)state;

  arr = kiln_history_releases_json(NULL, 0);
  assert_non_null(arr);
  assert_true(json_object_is_type(arr, json_type_array));
  assert_int_equal(json_object_array_length(arr), 0);
  json_object_put(arr);

  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c1", "d1", T0 + 1, &a), 0);
  assert_int_equal(
      kiln_history_release_update(f->h, a,
                                  &(struct kiln_history_release_update){
                                      .ami = "ami-1", .lt_version = 1}),
      0);
  assert_int_equal(kiln_history_release_end(f->h, a, KILN_HISTORY_SUCCEEDED,
                                            NULL, T0 + 1999),
                   0);
  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c2", "d2", T0 + 2001, &b), 0);
  /* c3 supersedes c2, whose reason names it. */
  assert_int_equal(
      kiln_history_release_start(f->h, "hello", "c3", "d3", T0 + 3003, &c), 0);
  assert_int_equal(kiln_history_releases(f->h, NULL, 0, &f->arena, &rs, &n), 0);
  assert_int_equal(n, 3);

  arr = kiln_history_releases_json(rs, n);
  assert_non_null(arr);
  assert_int_equal(json_object_array_length(arr), 3);
  for (size_t i = 0; i < 3; i++)
    assert_release_keys(json_object_array_get_idx(arr, i));

  o = json_object_array_get_idx(arr, 0);
  assert_int_equal(json_int(o, "id"), c);
  assert_string_equal(json_str(o, "outcome"), "in-progress");
  assert_int_equal(json_int(o, "started_at_ms"), T0 + 3003);
  assert_json_null(o, "ended_at_ms");

  o = json_object_array_get_idx(arr, 1);
  assert_int_equal(json_int(o, "id"), b);
  assert_string_equal(json_str(o, "outcome"), "superseded");
  assert_int_equal(json_int(o, "ended_at_ms"), T0 + 3003);
  assert_non_null(strstr(json_str(o, "reason"), "c3"));

  o = json_object_array_get_idx(arr, 2);
  assert_int_equal(json_int(o, "id"), a);
  assert_string_equal(json_str(o, "outcome"), "succeeded");
  assert_string_equal(json_str(o, "ami"), "ami-1");
  assert_int_equal(json_int(o, "launch_template_version"), 1);
  assert_json_null(o, "refresh_id");
  assert_int_equal(json_int(o, "started_at_ms"), T0 + 1);
  assert_int_equal(json_int(o, "ended_at_ms"), T0 + 1999);
  assert_json_null(o, "reason");
  json_object_put(arr);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_schema_is_created, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_reopening_migrates_nothing_and_keeps_data, setup, teardown),
      cmocka_unit_test_setup_teardown(test_release_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newer_release_supersedes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_drift_stores_changes_only, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_drift_remembered_only_while_true,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_drift_batch_is_all_or_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_file_is_an_error_and_kept,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_damaged_database_is_an_error, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_foreign_database_is_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_schema_1_is_migrated_and_keeps_its_rows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_collections_are_recorded, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_state_dir_that_is_a_file, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_completed_release_survives_sigkill,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_record_pass_follows_a_release, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_a_refresh_started_by_a_failed_step_is_recorded, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_follow_on_step_is_recorded_with_its_lead, setup, teardown),
      cmocka_unit_test_setup_teardown(test_record_pass_skips_report_only_apps,
                                      setup, teardown),
      cmocka_unit_test(test_release_json_has_every_field),
      cmocka_unit_test(test_release_json_unknowns_are_null),
      cmocka_unit_test_setup_teardown(test_releases_json_from_the_store, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
