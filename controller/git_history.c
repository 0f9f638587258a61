#include "git_history.h"

#include "kiln/arena.h"
#include "kiln/error.h"

#include <git2.h>
#include <stdio.h>

int kiln_git_first_parents(const char *repo_path, const char *commit,
                           size_t limit, struct kiln_arena *a,
                           const char ***out, size_t *n)
{
  git_repository *repo = NULL;
  git_revwalk *walk = NULL;
  git_oid oid;
  const char **list = kiln_arena_alloc(a, (limit + 1) * sizeof(*list));
  int err = 0;

  *n = 0;
  *out = list;
  if (list == NULL)
    return KILN_ENOMEM;
  if (git_oid_fromstr(&oid, commit) != 0 ||
      git_repository_open(&repo, repo_path) != 0 ||
      git_revwalk_new(&walk, repo) != 0 ||
      git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL) != 0 ||
      git_revwalk_simplify_first_parent(walk) != 0 ||
      git_revwalk_push(walk, &oid) != 0)
    err = KILN_EIO;
  while (err == 0 && *n < limit && git_revwalk_next(&oid, walk) == 0) {
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), &oid);
    if ((list[*n] = kiln_arena_strdup(a, hex)) == NULL)
      err = KILN_ENOMEM;
    else
      (*n)++;
  }
  git_revwalk_free(walk);
  git_repository_free(repo);
  return err;
}

/* Has commit hex a file at path? -1 when the commit cannot be read. */
static int has_path(git_repository *repo, const char *hex, const char *path,
                    int64_t *time_s)
{
  git_oid oid;
  git_commit *c = NULL;
  git_tree *tree = NULL;
  git_tree_entry *e = NULL;
  int found = -1;

  if (git_oid_fromstr(&oid, hex) == 0 &&
      git_commit_lookup(&c, repo, &oid) == 0 &&
      git_commit_tree(&tree, c) == 0) {
    found = git_tree_entry_bypath(&e, tree, path) == 0;
    *time_s = (int64_t)git_commit_time(c);
  }
  git_tree_entry_free(e);
  git_tree_free(tree);
  git_commit_free(c);
  return found;
}

int kiln_git_app_removed_at(const char *repo_path, const char *const *history,
                            size_t n, const char *app, bool *seen,
                            int64_t *removed_at_s)
{
  git_repository *repo = NULL;
  char path[512];
  int64_t newer_time = 0, t = 0;

  *seen = false;
  *removed_at_s = 0;
  if (snprintf(path, sizeof(path), "apps/%s/app.yaml", app) >=
          (int)sizeof(path) ||
      git_repository_open(&repo, repo_path) != 0)
    return KILN_EIO;
  for (size_t i = 0; i < n; i++) {
    int has = has_path(repo, history[i], path, &t);
    if (has < 0)
      break;
    if (has) {
      *seen = true;
      *removed_at_s = newer_time; /* the commit after it took it away */
      break;
    }
    newer_time = t;
  }
  git_repository_free(repo);
  return 0;
}
