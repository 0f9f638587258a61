/* The history store on SQLite. See include/kiln/history.h. */
#include "kiln/history.h"
#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/keep.h"
#include "kiln/pass.h"
#include "kiln/plan.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* PRAGMA application_id of a Kiln history database: "KILN". */
#define APPLICATION_ID 0x4b494c4e

#define BUSY_TIMEOUT_MS 5000

/* migrations[i] takes the schema from version i to i + 1. Each runs in the
 * same transaction as the user_version that records it, so a crash leaves
 * either the old schema or the new one. Append; never edit a shipped
 * step. */
static const char *const migrations[KILN_HISTORY_SCHEMA_VERSION] = {
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
    /* At most one release of an app is under way at any time. */
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
    "CREATE INDEX drift_by_field ON drift (app, field, id);",
    /* Times always were unix milliseconds; the columns say so now, as the
     * record and its JSON do. RENAME COLUMN rewrites the CHECK too. */
    "ALTER TABLE releases RENAME COLUMN started_at TO started_at_ms;"
    "ALTER TABLE releases RENAME COLUMN ended_at TO ended_at_ms;"
    "ALTER TABLE drift RENAME COLUMN observed_at TO observed_at_ms;",
    /* What garbage collection deleted, where and why. */
    "CREATE TABLE collections ("
    "  id INTEGER PRIMARY KEY,"
    "  at_ms INTEGER NOT NULL,"
    "  region TEXT NOT NULL,"
    "  role_arn TEXT,"
    "  kind TEXT NOT NULL CHECK (kind IN"
    "    ('image', 'snapshot', 'launch-template-version', 'image-recipe')),"
    "  resource TEXT NOT NULL,"
    "  app TEXT,"
    "  reason TEXT);",
};

#define RELEASE_COLS                                                           \
  "id, app, \"commit\", digest, ami, launch_template_version, refresh_id, "    \
  "started_at_ms, ended_at_ms, outcome, reason"
#define DRIFT_COLS                                                             \
  "id, app, \"commit\", observed_at_ms, field, desired, actual, cause"

enum stmt_id {
  S_IN_PROGRESS,
  S_SUPERSEDE,
  S_INSERT_RELEASE,
  S_UPDATE_RELEASE,
  S_END_RELEASE,
  S_RELEASES,
  S_RELEASES_APP,
  S_LATEST,
  S_CURRENT,
  S_LATEST_ALL,
  S_DRIFT_LAST,
  S_DRIFT_INSERT,
  S_DRIFT,
  S_DRIFT_APP,
  S_COLLECTION_INSERT,
  S_COLLECTIONS_COUNT,
  S__COUNT
};

/* Every statement the store runs; values are always bound, never
 * formatted in. A negative LIMIT means no limit. */
static const char *const sql[S__COUNT] = {
    [S_IN_PROGRESS] = "SELECT id, \"commit\", digest FROM releases"
                      " WHERE app = ?1 AND outcome = 'in-progress'",
    [S_SUPERSEDE] = "UPDATE releases SET outcome = 'superseded',"
                    " ended_at_ms = ?2, reason = ?3"
                    " WHERE id = ?1 AND outcome = 'in-progress'",
    [S_INSERT_RELEASE] = "INSERT INTO releases (app, \"commit\", digest,"
                         " started_at_ms) VALUES (?1, ?2, ?3, ?4)",
    [S_UPDATE_RELEASE] =
        "UPDATE releases SET ami = coalesce(?2, ami),"
        " launch_template_version = coalesce(?3, launch_template_version),"
        " refresh_id = coalesce(?4, refresh_id) WHERE id = ?1",
    [S_END_RELEASE] = "UPDATE releases SET outcome = ?2, reason = ?3,"
                      " ended_at_ms = ?4"
                      " WHERE id = ?1 AND outcome = 'in-progress'",
    [S_RELEASES] = "SELECT " RELEASE_COLS " FROM releases"
                   " ORDER BY id DESC LIMIT ?1",
    [S_RELEASES_APP] = "SELECT " RELEASE_COLS " FROM releases WHERE app = ?1"
                       " ORDER BY id DESC LIMIT ?2",
    [S_LATEST] = "SELECT " RELEASE_COLS " FROM releases WHERE app = ?1"
                 " ORDER BY id DESC LIMIT 1",
    [S_CURRENT] = "SELECT " RELEASE_COLS " FROM releases WHERE app = ?1"
                  " AND outcome = 'succeeded' ORDER BY id DESC LIMIT 1",
    [S_LATEST_ALL] = "SELECT " RELEASE_COLS " FROM releases WHERE id IN"
                     " (SELECT max(id) FROM releases GROUP BY app)"
                     " ORDER BY app",
    [S_DRIFT_LAST] = "SELECT field, desired, actual, cause FROM drift"
                     " WHERE id IN (SELECT max(id) FROM drift WHERE app = ?1"
                     " GROUP BY field)",
    [S_DRIFT_INSERT] = "INSERT INTO drift (app, \"commit\", observed_at_ms,"
                       " field, desired, actual, cause)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_DRIFT] = "SELECT " DRIFT_COLS " FROM drift ORDER BY id DESC LIMIT ?1",
    [S_DRIFT_APP] = "SELECT " DRIFT_COLS " FROM drift WHERE app = ?1"
                    " ORDER BY id DESC LIMIT ?2",
    [S_COLLECTION_INSERT] = "INSERT INTO collections (at_ms, region, role_arn,"
                            " kind, resource, app, reason)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_COLLECTIONS_COUNT] = "SELECT count(*) FROM collections",
};

/* An app's drift as last committed, by hash: a pass whose drift is what
 * was recorded last reads and writes nothing for it. */
struct drift_known_put {
  char *app;
  uint64_t hash;
};

struct kiln_history {
  sqlite3 *db;
  sqlite3_stmt *stmts[S__COUNT];
  int tx_depth;
  struct kiln_keep *drift_known; /* app -> uint64_t hash; NULL: none yet */
  int64_t drift_known_version;   /* PRAGMA data_version it holds for */
  struct drift_known_put *drift_pending; /* applied when the commit lands */
  size_t n_drift_pending, drift_pending_cap;
  char path[PATH_MAX];
  char errmsg[KILN_HISTORY_ERRMAX];
};

static const char *const outcome_names[] = {
    [KILN_HISTORY_IN_PROGRESS] = "in-progress",
    [KILN_HISTORY_SUCCEEDED] = "succeeded",
    [KILN_HISTORY_FAILED] = "failed",
    [KILN_HISTORY_SUPERSEDED] = "superseded",
    [KILN_HISTORY_DEGRADED] = "degraded",
};

const char *kiln_history_outcome_name(enum kiln_history_outcome o)
{
  if ((unsigned)o >= sizeof(outcome_names) / sizeof(outcome_names[0]))
    return "unknown";
  return outcome_names[o];
}

static enum kiln_history_outcome outcome_of(const char *s)
{
  for (size_t i = 0;
       s != NULL && i < sizeof(outcome_names) / sizeof(outcome_names[0]); i++)
    if (strcmp(s, outcome_names[i]) == 0)
      return (enum kiln_history_outcome)i;
  return KILN_HISTORY_FAILED;
}

const char *kiln_history_path(const struct kiln_history *h)
{
  return h->path;
}

const char *kiln_history_errmsg(const struct kiln_history *h)
{
  return h->errmsg[0] != '\0' ? h->errmsg : "no error";
}

static void set_error(struct kiln_history *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct kiln_history *h, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(h->errmsg, sizeof(h->errmsg), fmt, ap);
  va_end(ap);
}

/* Translates a SQLite result at the edge of the module, and says what
 * failed, where, and what to do. */
static int sql_error(struct kiln_history *h, int rc, const char *what)
{
  const char *msg = h->db != NULL ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
  case SQLITE_NOTADB:
  case SQLITE_CORRUPT:
    set_error(h,
              "%s: %s: %s; the history database is damaged or is not one. "
              "Kiln will not overwrite it: move it aside (Kiln then starts "
              "a new history) or restore it from a backup",
              h->path, what, msg);
    return KILN_EPARSE;
  case SQLITE_NOMEM:
    set_error(h, "%s: %s: out of memory", h->path, what);
    return KILN_ENOMEM;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    set_error(h,
              "%s: %s: %s; another process holds the database locked, "
              "try again",
              h->path, what, msg);
    return KILN_EAGAIN;
  case SQLITE_READONLY:
  case SQLITE_PERM:
  case SQLITE_AUTH:
    set_error(h, "%s: %s: %s; check the file's and directory's permissions",
              h->path, what, msg);
    return KILN_EPERM;
  case SQLITE_CANTOPEN:
  case SQLITE_IOERR:
  case SQLITE_FULL:
    set_error(h, "%s: %s: %s", h->path, what, msg);
    return KILN_EIO;
  case SQLITE_CONSTRAINT:
  case SQLITE_MISMATCH:
  case SQLITE_RANGE:
    set_error(h, "%s: %s: %s", h->path, what, msg);
    return KILN_EINVAL;
  default:
    set_error(h, "%s: %s: %s", h->path, what, msg);
    return KILN_EINTERNAL;
  }
}

static int exec(struct kiln_history *h, const char *statements,
                const char *what)
{
  int rc = sqlite3_exec(h->db, statements, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : sql_error(h, rc, what);
}

/* The prepared statement id, reset and unbound; NULL with the error set. */
static sqlite3_stmt *stmt(struct kiln_history *h, enum stmt_id id, int *err)
{
  int rc;
  if (h->stmts[id] != NULL)
    return h->stmts[id];
  rc = sqlite3_prepare_v3(h->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                          &h->stmts[id], NULL);
  if (rc != SQLITE_OK) {
    *err = sql_error(h, rc, "preparing a statement");
    return NULL;
  }
  return h->stmts[id];
}

static void release_stmt(sqlite3_stmt *s)
{
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
}

/* Binds a string or NULL. */
static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
  return v != NULL ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(s, i);
}

/* Steps a statement that returns no rows, then resets it. */
static int run(struct kiln_history *h, sqlite3_stmt *s, const char *what)
{
  int rc = sqlite3_step(s);
  int err = rc == SQLITE_DONE ? 0 : sql_error(h, rc, what);
  release_stmt(s);
  return err;
}

/* Transactions nest: only the outermost begins and commits, so a pass is
 * one transaction (one fsync) however many calls it makes. An error
 * anywhere rolls the outermost back. */
static int tx_begin(struct kiln_history *h)
{
  int err;
  if (h->tx_depth++ > 0)
    return 0;
  err = exec(h, "BEGIN IMMEDIATE", "starting a transaction");
  if (err != 0)
    h->tx_depth = 0;
  return err;
}

static void drift_known_settle(struct kiln_history *h, bool committed);

static int tx_end(struct kiln_history *h, int err)
{
  if (--h->tx_depth > 0)
    return err;
  if (err == 0) {
    err = exec(h, "COMMIT", "committing");
    if (err == 0) {
      drift_known_settle(h, true);
      return 0;
    }
  }
  /* Keeps the message of the first error. */
  sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
  drift_known_settle(h, false);
  return err;
}

/* ---- state directory ------------------------------------------------------
 */

/* mkdir -p, making what is missing with mode 0700. */
static int make_dirs(struct kiln_history *h, const char *dir)
{
  char p[PATH_MAX];
  struct stat st;
  size_t len = strlen(dir);

  if (len == 0 || len >= sizeof(p)) {
    set_error(h, "state directory '%s': %s", dir,
              len == 0 ? "empty path" : "path too long");
    return len == 0 ? KILN_EINVAL : KILN_ETOOBIG;
  }
  memcpy(p, dir, len + 1);
  for (char *c = p + 1;; c++) {
    if (*c != '/' && *c != '\0')
      continue;
    char saved = *c;
    *c = '\0';
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
      set_error(h, "cannot create state directory %s: %s", p, strerror(errno));
      return errno == EACCES || errno == EROFS ? KILN_EPERM : KILN_EIO;
    }
    *c = saved;
    if (saved == '\0')
      break;
  }
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    set_error(h, "state directory %s is not a directory", dir);
    return KILN_EIO;
  }
  return 0;
}

/* A new file's directory entry reaches the disk only when the directory
 * is synced; SQLite syncs the directory of its journals, not of the
 * database itself. */
static void sync_dir(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

/* ---- open and schema ------------------------------------------------------
 */

static int pragma_int(struct kiln_history *h, const char *q, int64_t *out)
{
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(h->db, q, -1, &s, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int64(s, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(s);
  return rc == SQLITE_OK ? 0 : sql_error(h, rc, "reading the header");
}

/* What is in the file: ours (at some version), empty, or someone else's.
 * Nothing is written before this says the file is ours or empty. */
static int check_identity(struct kiln_history *h)
{
  int64_t app_id, version, n_objects;
  int err;

  if ((err = pragma_int(h, "PRAGMA application_id", &app_id)) != 0 ||
      (err = pragma_int(h, "PRAGMA user_version", &version)) != 0 ||
      (err = pragma_int(h, "SELECT count(*) FROM sqlite_schema", &n_objects)) !=
          0)
    return err;
  if (app_id == APPLICATION_ID && version > KILN_HISTORY_SCHEMA_VERSION) {
    set_error(h,
              "%s: written by a newer Kiln (history schema %" PRId64
              ", this Kiln knows up to %d); upgrade Kiln or use another "
              "--state-dir",
              h->path, version, KILN_HISTORY_SCHEMA_VERSION);
    return KILN_EUNSUPPORTED;
  }
  if (app_id == APPLICATION_ID || (app_id == 0 && n_objects == 0))
    return 0;
  set_error(h,
            "%s: an SQLite database that is not Kiln's history (application "
            "id %#" PRIx64 ", %" PRId64 " schema objects); Kiln will not "
            "change it: move it aside or use another --state-dir",
            h->path, (uint64_t)app_id, n_objects);
  return KILN_EPARSE;
}

static int migrate(struct kiln_history *h)
{
  int64_t version;
  int err = tx_begin(h);
  if (err != 0)
    return err;
  /* Read again inside the write lock: another process may have migrated
   * since check_identity(). */
  err = pragma_int(h, "PRAGMA user_version", &version);
  for (int64_t v = version; err == 0 && v < KILN_HISTORY_SCHEMA_VERSION; v++)
    err = exec(h, migrations[v], "migrating the schema");
  if (err == 0 && version < KILN_HISTORY_SCHEMA_VERSION) {
    /* PRAGMA takes no bound parameters; both values are constants. */
    char q[96];
    snprintf(q, sizeof(q),
             "PRAGMA application_id = %d; PRAGMA user_version "
             "= %d",
             APPLICATION_ID, KILN_HISTORY_SCHEMA_VERSION);
    err = exec(h, q, "recording the schema version");
  }
  return tx_end(h, err);
}

int kiln_history_open(const char *state_dir, struct kiln_history **out,
                      char *errbuf, size_t err_size)
{
  struct kiln_history *h = calloc(1, sizeof(*h));
  int64_t ignored;
  int n, rc, err;

  *out = NULL;
  if (h == NULL) {
    if (errbuf != NULL && err_size > 0)
      snprintf(errbuf, err_size, "out of memory");
    return KILN_ENOMEM;
  }
  if ((err = make_dirs(h, state_dir)) != 0)
    goto fail;
  n = snprintf(h->path, sizeof(h->path), "%s/history.db", state_dir);
  if (n < 0 || (size_t)n >= sizeof(h->path)) {
    set_error(h, "state directory '%s': path too long", state_dir);
    err = KILN_ETOOBIG;
    goto fail;
  }
  rc = sqlite3_open_v2(
      h->path, &h->db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE, NULL);
  if (rc != SQLITE_OK) {
    err = sql_error(h, rc, "opening");
    goto fail;
  }
  sqlite3_busy_timeout(h->db, BUSY_TIMEOUT_MS);
  if ((err = check_identity(h)) != 0)
    goto fail;
  /* WAL: readers (kiln history, the status API) never block the writer.
   * FULL: a commit is on disk when the call returns, so a completed
   * release survives kill -9 and power loss. */
  if ((err = pragma_int(h, "PRAGMA journal_mode = WAL", &ignored)) != 0 ||
      (err = exec(h,
                  "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                  "PRAGMA trusted_schema = OFF",
                  "configuring")) != 0 ||
      (err = migrate(h)) != 0)
    goto fail;
  sync_dir(state_dir);
  h->errmsg[0] = '\0';
  *out = h;
  return 0;

fail:
  if (errbuf != NULL && err_size > 0)
    snprintf(errbuf, err_size, "%s", h->errmsg);
  kiln_history_close(h);
  return err;
}

void kiln_history_close(struct kiln_history *h)
{
  if (h == NULL)
    return;
  for (size_t i = 0; i < S__COUNT; i++)
    sqlite3_finalize(h->stmts[i]);
  sqlite3_close_v2(h->db);
  drift_known_settle(h, false);
  free(h->drift_pending);
  kiln_keep_free(h->drift_known);
  free(h);
}

/* ---- releases -------------------------------------------------------------
 */

static int check_time(struct kiln_history *h, int64_t now_ms)
{
  if (now_ms > 0)
    return 0;
  set_error(h, "%s: a time must be unix milliseconds > 0", h->path);
  return KILN_EINVAL;
}

int kiln_history_release_start(struct kiln_history *h, const char *app,
                               const char *commit, const char *digest,
                               int64_t now_ms, int64_t *id)
{
  sqlite3_stmt *s;
  int err = check_time(h, now_ms), rc;
  int64_t running = 0;
  bool same = false;

  if (err != 0)
    return err;
  if (app == NULL || commit == NULL || digest == NULL) {
    set_error(h, "%s: a release needs an app, a commit and a digest", h->path);
    return KILN_EINVAL;
  }
  if ((err = tx_begin(h)) != 0)
    return err;
  if ((s = stmt(h, S_IN_PROGRESS, &err)) == NULL)
    goto done;
  bind_text(s, 1, app);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    running = sqlite3_column_int64(s, 0);
    same = strcmp((const char *)sqlite3_column_text(s, 1), commit) == 0 &&
           strcmp((const char *)sqlite3_column_text(s, 2), digest) == 0;
  } else if (rc != SQLITE_DONE) {
    err = sql_error(h, rc, "reading releases");
  }
  release_stmt(s);
  if (err != 0)
    goto done;
  if (same) {
    *id = running;
    goto done;
  }
  if (running != 0) {
    char reason[128];
    snprintf(reason, sizeof(reason),
             "superseded by the release of commit %.12s", commit);
    if ((s = stmt(h, S_SUPERSEDE, &err)) == NULL)
      goto done;
    sqlite3_bind_int64(s, 1, running);
    sqlite3_bind_int64(s, 2, now_ms);
    bind_text(s, 3, reason);
    if ((err = run(h, s, "superseding a release")) != 0)
      goto done;
  }
  if ((s = stmt(h, S_INSERT_RELEASE, &err)) == NULL)
    goto done;
  bind_text(s, 1, app);
  bind_text(s, 2, commit);
  bind_text(s, 3, digest);
  sqlite3_bind_int64(s, 4, now_ms);
  if ((err = run(h, s, "recording a release")) != 0)
    goto done;
  *id = sqlite3_last_insert_rowid(h->db);

done:
  return tx_end(h, err);
}

int kiln_history_release_update(struct kiln_history *h, int64_t id,
                                const struct kiln_history_release_update *u)
{
  int err = 0;
  sqlite3_stmt *s = stmt(h, S_UPDATE_RELEASE, &err);
  if (s == NULL)
    return err;
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, u->ami);
  if (u->lt_version > 0)
    sqlite3_bind_int64(s, 3, u->lt_version);
  bind_text(s, 4, u->refresh_id);
  if ((err = run(h, s, "updating a release")) != 0)
    return err;
  if (sqlite3_changes(h->db) == 0) {
    set_error(h, "%s: no release %" PRId64, h->path, id);
    return KILN_ENOENT;
  }
  return 0;
}

int kiln_history_release_end(struct kiln_history *h, int64_t id,
                             enum kiln_history_outcome outcome,
                             const char *reason, int64_t now_ms)
{
  int err = check_time(h, now_ms);
  sqlite3_stmt *s;
  if (err != 0)
    return err;
  if (outcome == KILN_HISTORY_IN_PROGRESS ||
      (unsigned)outcome > KILN_HISTORY_SUPERSEDED) {
    set_error(h, "%s: a release ends succeeded, failed or superseded", h->path);
    return KILN_EINVAL;
  }
  if ((s = stmt(h, S_END_RELEASE, &err)) == NULL)
    return err;
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, kiln_history_outcome_name(outcome));
  bind_text(s, 3, reason);
  sqlite3_bind_int64(s, 4, now_ms);
  if ((err = run(h, s, "ending a release")) != 0)
    return err;
  if (sqlite3_changes(h->db) == 0) {
    set_error(h, "%s: no release %" PRId64 " in progress", h->path, id);
    return KILN_ENOENT;
  }
  return 0;
}

/* A text column copied into arena; NULL stays NULL. */
static int column_text(sqlite3_stmt *s, int col, struct kiln_arena *a,
                       const char **out)
{
  const unsigned char *v = sqlite3_column_text(s, col);
  *out = NULL;
  if (v == NULL)
    return 0;
  *out = kiln_arena_strndup(a, (const char *)v,
                            (size_t)sqlite3_column_bytes(s, col));
  return *out != NULL ? 0 : KILN_ENOMEM;
}

static int read_release(sqlite3_stmt *s, struct kiln_arena *a,
                        struct kiln_history_release *r)
{
  const char *outcome;
  int err = 0;
  memset(r, 0, sizeof(*r));
  r->id = sqlite3_column_int64(s, 0);
  r->lt_version = sqlite3_column_int64(s, 5);
  r->started_at_ms = sqlite3_column_int64(s, 7);
  r->ended_at_ms = sqlite3_column_int64(s, 8);
  err |= column_text(s, 1, a, &r->app);
  err |= column_text(s, 2, a, &r->commit);
  err |= column_text(s, 3, a, &r->digest);
  err |= column_text(s, 4, a, &r->ami);
  err |= column_text(s, 6, a, &r->refresh_id);
  err |= column_text(s, 10, a, &r->reason);
  outcome = (const char *)sqlite3_column_text(s, 9);
  r->outcome = outcome_of(outcome);
  return err != 0 ? KILN_ENOMEM : 0;
}

static int read_drift(sqlite3_stmt *s, struct kiln_arena *a,
                      struct kiln_history_drift_row *r)
{
  int err = 0;
  memset(r, 0, sizeof(*r));
  r->id = sqlite3_column_int64(s, 0);
  r->observed_at_ms = sqlite3_column_int64(s, 3);
  err |= column_text(s, 1, a, &r->app);
  err |= column_text(s, 2, a, &r->commit);
  err |= column_text(s, 4, a, &r->field);
  err |= column_text(s, 5, a, &r->desired);
  err |= column_text(s, 6, a, &r->actual);
  err |= column_text(s, 7, a, &r->cause);
  return err != 0 ? KILN_ENOMEM : 0;
}

typedef int row_reader(sqlite3_stmt *s, struct kiln_arena *a, void *row);

static int read_release_row(sqlite3_stmt *s, struct kiln_arena *a, void *row)
{
  return read_release(s, a, row);
}

static int read_drift_row(sqlite3_stmt *s, struct kiln_arena *a, void *row)
{
  return read_drift(s, a, row);
}

/* S_DRIFT_LAST's field, desired, actual, cause. */
static int read_last_row(sqlite3_stmt *s, struct kiln_arena *a, void *row)
{
  struct kiln_history_drift_row *r = row;
  memset(r, 0, sizeof(*r));
  if (column_text(s, 0, a, &r->field) != 0 ||
      column_text(s, 1, a, &r->desired) != 0 ||
      column_text(s, 2, a, &r->actual) != 0 ||
      column_text(s, 3, a, &r->cause) != 0)
    return KILN_ENOMEM;
  return 0;
}

/* Steps a bound query and collects its rows into an array in arena that
 * doubles as it grows (the old copies stay in the arena until it is
 * dropped, which bounds the waste to the final size). */
static int collect(struct kiln_history *h, sqlite3_stmt *s,
                   struct kiln_arena *a, size_t row_size, row_reader *read,
                   void **out, size_t *n)
{
  char *rows = NULL;
  size_t cap = 0, len = 0;
  int rc, err = 0;

  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (len == cap) {
      size_t ncap = cap == 0 ? 16 : cap * 2;
      char *grown = kiln_arena_alloc(a, ncap * row_size);
      if (grown == NULL) {
        err = KILN_ENOMEM;
        break;
      }
      if (len > 0)
        memcpy(grown, rows, len * row_size);
      rows = grown;
      cap = ncap;
    }
    if ((err = read(s, a, rows + len * row_size)) != 0)
      break;
    len++;
  }
  if (err == 0 && rc != SQLITE_DONE)
    err = sql_error(h, rc, "reading");
  if (err == KILN_ENOMEM)
    set_error(h, "%s: out of memory while reading", h->path);
  release_stmt(s);
  *out = err == 0 ? rows : NULL;
  *n = err == 0 ? len : 0;
  return err;
}

static int64_t sql_limit(size_t limit)
{
  return limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
}

/* Binds the parameters of a list statement: ?1 the app and ?2 the limit
 * when it is filtered by app, else ?1 the limit. */
static void bind_app_limit(sqlite3_stmt *s, const char *app, size_t limit)
{
  int limit_at = 1;

  if (app != NULL)
    bind_text(s, limit_at++, app);
  sqlite3_bind_int64(s, limit_at, sql_limit(limit));
}

int kiln_history_releases(struct kiln_history *h, const char *app, size_t limit,
                          struct kiln_arena *arena,
                          struct kiln_history_release **out, size_t *n)
{
  int err = 0;
  sqlite3_stmt *s = stmt(h, app != NULL ? S_RELEASES_APP : S_RELEASES, &err);
  void *rows;
  if (s == NULL)
    return err;
  bind_app_limit(s, app, limit);
  err = collect(h, s, arena, sizeof(**out), read_release_row, &rows, n);
  *out = rows;
  return err;
}

static int one_release(struct kiln_history *h, enum stmt_id id, const char *app,
                       struct kiln_arena *arena,
                       struct kiln_history_release *out)
{
  int err = 0, rc;
  sqlite3_stmt *s = stmt(h, id, &err);
  if (s == NULL)
    return err;
  bind_text(s, 1, app);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    if ((err = read_release(s, arena, out)) != 0)
      set_error(h, "%s: out of memory while reading", h->path);
  } else if (rc == SQLITE_DONE) {
    set_error(h, "%s: no release of %s", h->path, app);
    err = KILN_ENOENT;
  } else {
    err = sql_error(h, rc, "reading releases");
  }
  release_stmt(s);
  return err;
}

int kiln_history_release_latest(struct kiln_history *h, const char *app,
                                struct kiln_arena *arena,
                                struct kiln_history_release *out)
{
  return one_release(h, S_LATEST, app, arena, out);
}

int kiln_history_release_current(struct kiln_history *h, const char *app,
                                 struct kiln_arena *arena,
                                 struct kiln_history_release *out)
{
  return one_release(h, S_CURRENT, app, arena, out);
}

int kiln_history_release_latest_all(struct kiln_history *h,
                                    struct kiln_arena *arena,
                                    struct kiln_history_release **out,
                                    size_t *n)
{
  int err = 0;
  sqlite3_stmt *s = stmt(h, S_LATEST_ALL, &err);
  void *rows;
  if (s == NULL)
    return err;
  err = collect(h, s, arena, sizeof(**out), read_release_row, &rows, n);
  *out = rows;
  return err;
}

/* ---- drift ----------------------------------------------------------------
 */

int kiln_history_drift_list(struct kiln_history *h, const char *app,
                            size_t limit, struct kiln_arena *arena,
                            struct kiln_history_drift_row **out, size_t *n)
{
  int err = 0;
  sqlite3_stmt *s = stmt(h, app != NULL ? S_DRIFT_APP : S_DRIFT, &err);
  void *rows;
  if (s == NULL)
    return err;
  bind_app_limit(s, app, limit);
  err = collect(h, s, arena, sizeof(**out), read_drift_row, &rows, n);
  *out = rows;
  return err;
}

static bool str_eq(const char *a, const char *b)
{
  return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int insert_drift(struct kiln_history *h, const char *app,
                        const char *commit, int64_t now_ms, const char *field,
                        const char *desired, const char *actual,
                        const char *cause)
{
  int err = 0;
  sqlite3_stmt *s = stmt(h, S_DRIFT_INSERT, &err);
  if (s == NULL)
    return err;
  bind_text(s, 1, app);
  bind_text(s, 2, commit);
  sqlite3_bind_int64(s, 3, now_ms);
  bind_text(s, 4, field);
  bind_text(s, 5, desired);
  bind_text(s, 6, actual);
  bind_text(s, 7, cause);
  return run(h, s, "recording drift");
}

/* One app: compare with the last row of each field and write what
 * changed. */
static int drift_app(struct kiln_history *h,
                     const struct kiln_history_app_drift *d, int64_t now_ms,
                     struct kiln_arena *a, size_t *written)
{
  struct kiln_history_drift_row *last;
  size_t n_last = 0;
  int err = 0;
  sqlite3_stmt *s = stmt(h, S_DRIFT_LAST, &err);
  void *rows;

  if (s == NULL)
    return err;
  bind_text(s, 1, d->app);
  if ((err = collect(h, s, a, sizeof(*last), read_last_row, &rows, &n_last)) !=
      0)
    return err;
  last = rows;

  for (size_t i = 0; i < d->n; i++) {
    const struct kiln_history_drift *f = &d->drift[i];
    const struct kiln_history_drift_row *prev = NULL;
    bool dup = false;
    if (f->field == NULL || f->cause == NULL) {
      set_error(h, "%s: drift of %s needs a field and a cause", h->path,
                d->app);
      return KILN_EINVAL;
    }
    for (size_t j = 0; j < i && !dup; j++)
      dup = strcmp(d->drift[j].field, f->field) == 0;
    if (dup)
      continue;
    for (size_t j = 0; j < n_last && prev == NULL; j++)
      if (strcmp(last[j].field, f->field) == 0)
        prev = &last[j];
    if (prev != NULL && str_eq(prev->desired, f->desired) &&
        str_eq(prev->actual, f->actual) && str_eq(prev->cause, f->cause))
      continue;
    if ((err = insert_drift(h, d->app, d->commit, now_ms, f->field, f->desired,
                            f->actual, f->cause)) != 0)
      return err;
    (*written)++;
  }
  /* Fields that drifted at their last observation and no longer do. */
  for (size_t j = 0; j < n_last; j++) {
    bool still = false;
    if (str_eq(last[j].cause, "cleared"))
      continue;
    for (size_t i = 0; i < d->n && !still; i++)
      still = strcmp(d->drift[i].field, last[j].field) == 0;
    if (still)
      continue;
    if ((err = insert_drift(h, d->app, d->commit, now_ms, last[j].field, NULL,
                            NULL, "cleared")) != 0)
      return err;
    (*written)++;
  }
  return 0;
}

/* ---- drift already recorded ---------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
  /* NULL and "" differ: NULL hashes as one byte past any string's end. */
  if (s == NULL)
    return (h ^ 0xffu) * 1099511628211ULL;
  for (; *s != '\0'; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (h ^ 0u) * 1099511628211ULL;
}

static uint64_t drift_hash(const struct kiln_history_app_drift *d)
{
  uint64_t h = 14695981039346656037ULL;

  for (size_t i = 0; i < d->n; i++) {
    h = fnv1a(h, d->drift[i].field);
    h = fnv1a(h, d->drift[i].desired);
    h = fnv1a(h, d->drift[i].actual);
    h = fnv1a(h, d->drift[i].cause);
  }
  return h;
}

static int copy_hash(struct kiln_arena *a, const void *from, void *to)
{
  (void)a;
  memcpy(to, from, sizeof(uint64_t));
  return 0;
}

/* Another connection (kiln apply on the same state directory) may have
 * written drift since: then nothing remembered holds. */
static void drift_known_check(struct kiln_history *h)
{
  int64_t version = -1;

  if (pragma_int(h, "PRAGMA data_version", &version) != 0 ||
      version != h->drift_known_version) {
    kiln_keep_free(h->drift_known);
    h->drift_known = NULL;
    h->drift_known_version = version;
  }
  if (h->drift_known == NULL)
    h->drift_known = kiln_keep_new(sizeof(uint64_t), copy_hash);
}

static bool drift_known(const struct kiln_history *h,
                        const struct kiln_history_app_drift *d, uint64_t hash)
{
  const uint64_t *v = kiln_keep_get(h->drift_known, d->app);
  return v != NULL && *v == hash;
}

/* Remembered once the transaction commits. Out of memory only costs the
 * next pass a read. */
static void drift_known_later(struct kiln_history *h, const char *app,
                              uint64_t hash)
{
  char *copy;

  if (h->n_drift_pending == h->drift_pending_cap) {
    size_t cap = h->drift_pending_cap ? 2 * h->drift_pending_cap : 64;
    struct drift_known_put *grown =
        realloc(h->drift_pending, cap * sizeof(*grown));
    if (grown == NULL)
      return;
    h->drift_pending = grown;
    h->drift_pending_cap = cap;
  }
  if ((copy = strdup(app)) == NULL)
    return;
  h->drift_pending[h->n_drift_pending++] = (struct drift_known_put){copy, hash};
}

static void drift_known_settle(struct kiln_history *h, bool committed)
{
  for (size_t i = 0; i < h->n_drift_pending; i++) {
    struct drift_known_put *p = &h->drift_pending[i];
    if (!committed || h->drift_known == NULL ||
        kiln_keep_put(h->drift_known, p->app, &p->hash) != 0)
      kiln_keep_forget(h->drift_known, p->app);
    free(p->app);
  }
  h->n_drift_pending = 0;
}

int kiln_history_drift_record(struct kiln_history *h,
                              const struct kiln_history_app_drift *apps,
                              size_t n, int64_t now_ms, size_t *written)
{
  struct kiln_arena a;
  size_t count = 0;
  int err = check_time(h, now_ms);

  if (written != NULL)
    *written = 0;
  if (err != 0)
    return err;
  if ((err = tx_begin(h)) != 0)
    return err;
  drift_known_check(h);
  kiln_arena_init(&a, 0);
  for (size_t i = 0; err == 0 && i < n; i++) {
    uint64_t hash;
    if (apps[i].app == NULL || apps[i].commit == NULL) {
      set_error(h, "%s: drift needs an app and a commit", h->path);
      err = KILN_EINVAL;
      break;
    }
    hash = drift_hash(&apps[i]);
    if (drift_known(h, &apps[i], hash))
      continue;
    err = drift_app(h, &apps[i], now_ms, &a, &count);
    if (err == 0)
      drift_known_later(h, apps[i].app, hash);
  }
  kiln_arena_cleanup(&a);
  err = tx_end(h, err);
  if (err == 0 && written != NULL)
    *written = count;
  return err;
}

int kiln_history_record_collection(struct kiln_history *h,
                                   const struct kiln_history_collection *items,
                                   size_t n, int64_t now_ms)
{
  int err = check_time(h, now_ms);
  if (err != 0 || n == 0 || (err = tx_begin(h)) != 0)
    return err;
  for (size_t i = 0; err == 0 && i < n; i++) {
    const struct kiln_history_collection *c = &items[i];
    sqlite3_stmt *s = stmt(h, S_COLLECTION_INSERT, &err);
    if (s == NULL)
      break;
    if (c->region == NULL || c->kind == NULL || c->resource == NULL) {
      release_stmt(s);
      set_error(h, "%s: a deletion needs a region, a kind and a resource",
                h->path);
      err = KILN_EINVAL;
      break;
    }
    sqlite3_bind_int64(s, 1, now_ms);
    bind_text(s, 2, c->region);
    bind_text(s, 3, c->role_arn);
    bind_text(s, 4, c->kind);
    bind_text(s, 5, c->resource);
    bind_text(s, 6, c->app);
    bind_text(s, 7, c->reason);
    err = run(h, s, "recording a deletion");
  }
  return tx_end(h, err);
}

int kiln_history_collections_count(struct kiln_history *h, int64_t *count)
{
  int err = 0, rc;
  sqlite3_stmt *s = stmt(h, S_COLLECTIONS_COUNT, &err);
  *count = 0;
  if (s == NULL)
    return err;
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    *count = sqlite3_column_int64(s, 0);
  else
    err = sql_error(h, rc, "counting deletions");
  release_stmt(s);
  return err;
}

/* ---- recording a pass -----------------------------------------------------
 */

/* What release id learns from the app's plan and step this pass. */
static int learn(struct kiln_history *h, int64_t id,
                 const struct kiln_pass_app *pa)
{
  const struct kiln_action *act = &pa->plan.action;
  bool ok = pa->executed && pa->exec_err == 0;
  struct kiln_history_release_update u = {0};

  switch (act->type) {
  case KILN_ACTION_TAG_IMAGE:
    if (ok)
      u.ami = act->ami_id;
    break;
  case KILN_ACTION_LT_CREATE:
  case KILN_ACTION_LT_SET_DEFAULT:
    /* Known when the step landed (0 when it did not). */
    u.ami = act->ami_id;
    u.lt_version = pa->made_lt_version;
    break;
  case KILN_ACTION_ASG_CREATE:
  case KILN_ACTION_REFRESH_START:
    u.lt_version = act->lt_version;
    break;
  case KILN_ACTION_ASG_UPDATE:
    if (act->set_lt_version)
      u.lt_version = act->lt_version;
    break;
  case KILN_ACTION_WAIT_REFRESH:
    u.refresh_id = act->refresh_id;
    break;
  default:
    break;
  }
  /* Started by the step, or by the group's step that followed it. */
  if (pa->executed && pa->started_refresh_id != NULL)
    u.refresh_id = pa->started_refresh_id;
  if (u.ami == NULL && u.lt_version <= 0 && u.refresh_id == NULL)
    return 0;
  return kiln_history_release_update(h, id, &u);
}

/* When a release that succeeded became healthy: when AWS says it did (its
 * refresh's end), which a pass sees a little later; never before it
 * started nor after now. */
static int64_t healthy_at_ms(const struct kiln_plan *p, int64_t started_ms,
                             int64_t now_ms)
{
  int64_t at = p->release.healthy_since_s * 1000;
  if (p->release.state != KILN_RELEASE_HEALTHY || at <= 0 || at > now_ms)
    return now_ms;
  return at < started_ms ? started_ms : at;
}

static int record_release(struct kiln_history *h, const char *commit,
                          const struct kiln_pass_app *pa, int64_t now_ms,
                          struct kiln_arena *a)
{
  const struct kiln_plan *p = &pa->plan;
  const char *app = pa->spec->name;
  struct kiln_history_release latest;
  bool found, same, running;
  int64_t id;
  int err = kiln_history_release_latest(h, app, a, &latest);

  if (err != 0 && err != KILN_ENOENT)
    return err;
  found = err == 0;
  same = found && strcmp(latest.commit, commit) == 0 &&
         strcmp(latest.digest, p->digest) == 0;
  running = found && latest.outcome == KILN_HISTORY_IN_PROGRESS;

  switch (p->status) {
  case KILN_STATUS_PENDING:
  case KILN_STATUS_PROGRESSING:
  case KILN_STATUS_ROLLING_OUT:
  case KILN_STATUS_BAKING:
    /* Report-only apps are never changed, so nothing is released. A
     * release of this commit that has ended stays ended: what follows is a
     * correction of AWS, not a release. */
    if (pa->spec->drift == KILN_DRIFT_REPORT || (same && !running))
      return 0;
    if (same)
      id = latest.id;
    else if ((err = kiln_history_release_start(h, app, commit, p->digest,
                                               now_ms, &id)) != 0)
      return err;
    return learn(h, id, pa);
  case KILN_STATUS_IN_SYNC:
    if (!running)
      return 0;
    return kiln_history_release_end(
        h, latest.id, same ? KILN_HISTORY_SUCCEEDED : KILN_HISTORY_SUPERSEDED,
        same ? NULL
             : kiln_arena_printf(a, "commit %.12s is in sync without it",
                                 commit),
        same ? healthy_at_ms(p, latest.started_at_ms, now_ms) : now_ms);
  case KILN_STATUS_ERROR:
  case KILN_STATUS_FAILED:
  case KILN_STATUS_DEGRADED:
    if (!running || !same)
      return 0;
    return kiln_history_release_end(h, latest.id,
                                    p->status == KILN_STATUS_DEGRADED
                                        ? KILN_HISTORY_DEGRADED
                                        : KILN_HISTORY_FAILED,
                                    p->message, now_ms);
  default:
    return running && same ? learn(h, latest.id, pa) : 0;
  }
}

int kiln_history_record_pass(struct kiln_history *h, const char *commit,
                             const struct kiln_pass_app *apps, size_t n,
                             int64_t now_ms)
{
  struct kiln_arena a;
  struct kiln_history_app_drift *drift;
  size_t n_drift = 0;
  int err = check_time(h, now_ms);

  if (err != 0)
    return err;
  kiln_arena_init(&a, 0);
  if ((err = tx_begin(h)) != 0)
    goto done;
  drift = kiln_arena_alloc(&a, (n + 1) * sizeof(*drift));
  if (drift == NULL) {
    set_error(h, "%s: out of memory", h->path);
    err = KILN_ENOMEM;
  }
  for (size_t i = 0; err == 0 && i < n; i++) {
    const struct kiln_plan *p = &apps[i].plan;
    struct kiln_history_drift *d;
    if (apps[i].spec == NULL)
      continue;
    if ((err = record_release(h, commit, &apps[i], now_ms, &a)) != 0)
      break;
    /* An app in error without drift may not have been compared at all
     * (invalid spec, unresolvable parent): that says nothing about its
     * drift, so it must not clear any. */
    if (p->status == KILN_STATUS_ERROR && p->n_drift == 0)
      continue;
    d = kiln_arena_alloc(&a, (p->n_drift + 1) * sizeof(*d));
    if (d == NULL) {
      set_error(h, "%s: out of memory", h->path);
      err = KILN_ENOMEM;
      break;
    }
    for (size_t j = 0; j < p->n_drift; j++)
      d[j] = (struct kiln_history_drift){
          p->drift[j].field, p->drift[j].desired, p->drift[j].actual,
          kiln_plan_cause_name(p->drift[j].cause)};
    drift[n_drift++] = (struct kiln_history_app_drift){apps[i].spec->name,
                                                       commit, d, p->n_drift};
  }
  if (err == 0)
    err = kiln_history_drift_record(h, drift, n_drift, now_ms, NULL);
  err = tx_end(h, err);

done:
  kiln_arena_cleanup(&a);
  return err;
}
