/* What older commits said of apps: the specs that tell a change made in
 * git (cause `commit`) from one made in AWS (cause `out-of-band`).
 *
 * A group names the commit Kiln last applied to it (kiln:commit); the
 * planner needs that app's spec at that commit. Reading an old commit
 * means git object reads and YAML parsing, so it runs on the uv thread
 * pool, and only the apps asked for are read (apps/<name>/, falling back to
 * the whole tree when an app's name is not its directory's).
 *
 * The results are cached by (commit, app) in bounded memory: at most
 * max_entries entries, the least recently used evicted first, except
 * entries looked up since the last kiln_prev_specs_new_pass(), which the
 * pass in flight may still read. A miss is simply loaded again.
 *
 * Everything but the load's work runs on the loop's thread.
 */
#ifndef KILN_CONTROLLER_PREV_SPECS_H
#define KILN_CONTROLLER_PREV_SPECS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct kiln_app_spec;
struct kiln_spec_repo;

#define KILN_PREV_SPECS_DEFAULT_MAX 1024

struct kiln_prev_entry {
  char commit[41];
  char *app;
  struct kiln_spec_repo *repo;      /* a reference; NULL: unreadable */
  const struct kiln_app_spec *spec; /* NULL: not in that commit */
  uint64_t last_used;               /* the cache's clock */
  uint64_t pass;                    /* pass that last looked it up */
};

struct kiln_prev_specs {
  uv_loop_t *loop;
  char *repo_path; /* the git repository (mirror) to read */
  struct kiln_prev_entry *entries;
  size_t n, cap, max_entries;
  uint64_t clock, pass;
  size_t loads_in_flight;
  uint64_t loads, hits, misses, evictions; /* for metrics and tests */
};

/* One app at one commit a pass needs. */
struct kiln_prev_want {
  const char *commit; /* 40 hex digits */
  const char *app;
};

void kiln_prev_specs_init(struct kiln_prev_specs *ps, uv_loop_t *loop,
                          size_t max_entries);

/* The git repository later loads read; 0 or KILN_ENOMEM. */
int kiln_prev_specs_set_repo(struct kiln_prev_specs *ps, const char *repo_path);

/* Frees every entry. No load may be in flight. */
void kiln_prev_specs_cleanup(struct kiln_prev_specs *ps);

/* A pass begins: entries it looks up from now on are kept until the next
 * call. */
void kiln_prev_specs_new_pass(struct kiln_prev_specs *ps);

/* The spec of app at commit when cached (*known true; NULL when the app is
 * not in that commit or the commit cannot be read), else *known false. */
const struct kiln_app_spec *kiln_prev_specs_find(struct kiln_prev_specs *ps,
                                                 const char *commit,
                                                 const char *app, bool *known);

typedef void kiln_prev_specs_cb(void *data);

/* Reads wants[0..n) on the thread pool (the strings are copied) and caches
 * them; cb runs on the loop afterwards, never before this returns, also
 * when some could not be read (they are cached as unreadable). Returns 0,
 * or KILN_ENOMEM / KILN_EINTERNAL and cb never runs. */
int kiln_prev_specs_load(struct kiln_prev_specs *ps,
                         const struct kiln_prev_want *wants, size_t n,
                         kiln_prev_specs_cb *cb, void *data);

#endif
