/* Shared by the spec parser's files: the parse context and typed getters
 * that turn YAML nodes into values, reporting every problem. */
#ifndef KILN_SPEC_PARSE_H
#define KILN_SPEC_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln/spec.h"
#include "kiln/ydoc.h"

struct pctx {
  struct kiln_arena *arena; /* the snapshot's: output lives here */
  struct kiln_spec_repo *repo; /* NULL: file contents not shared */
  struct kiln_diags *diags;
  struct kiln_diags *warnings;  /* NULL: not collected */
  const struct kiln_tree *tree; /* NULL: file references not read */
  const char *file;             /* file being parsed, for diagnostics */
  const char *dir;              /* the app's directory */
  const char *app;              /* app name for diagnostics, or NULL */
  size_t errors;
  bool oom;
  bool repo_defaults_valid; /* false: skip checks that rely on kiln.yaml */
  /* The image's home while an app's environments are parsed (NULL: the
   * target's own region and account). */
  const char *home_region;
  const char *home_role_arn;
};

/* Why a file behind a symbolic link is refused, for every file the spec
 * reads (app.yaml, kiln.yaml, userData, component documents). */
#define KILN__LINK_REFUSED                                                     \
  "is a symbolic link that leads outside the repository or in a loop: "        \
  "such links are not followed"

/* Adds an invalid app for the app directory dir ("apps/<name>") whose
 * app.yaml cannot be read or which is no directory at all, so that it is
 * listed (as an error) like an app whose app.yaml is invalid. NULL when out
 * of memory. */
struct kiln_app_spec *kiln__spec_add_invalid_app(struct kiln_spec_repo *repo,
                                                 const char *dir);

/* Everything one deployment target says, from root (an app's, or the app's
 * merged with one environment's). */
void kiln__spec_parse_target(struct pctx *c, struct kiln_spec_repo *repo,
                             const struct kiln_ynode *root,
                             struct kiln_app_spec *app);

/* The launch template's and group's name when the spec names none: the
 * target's name, or "<app>-<env>" for an environment. */
const char *kiln__default_resource_name(struct pctx *c,
                                        const struct kiln_app_spec *app);

/* environments: of the app whose root this is, parsed into repo->apps
 * [index] (the app's own slot, made by the caller) and new slots after it,
 * one per environment. c carries the app-level errors found so far (they
 * make every environment invalid). scratch holds root. Returns 0 or
 * KILN_ENOMEM. (spec_env.c) */
int kiln__spec_parse_environments(struct pctx *c, struct kiln_spec_repo *repo,
                                  const struct kiln_ynode *root, size_t index,
                                  struct kiln_arena *scratch);

/* kiln.yaml's notifications into d (spec_notify.c). */
void kiln__spec_parse_notifications(struct pctx *c,
                                    const struct kiln_ynode *root,
                                    struct kiln_spec_defaults *d);

/* A notification URL: https, or http to a loopback address; NULL when
 * fine, else why not. */
const char *kiln__check_notify_url(const char *u);

/* A new, zeroed app slot of repo (the array may move); NULL when out of
 * memory. */
struct kiln_app_spec *kiln__spec_new_app(struct kiln_spec_repo *repo);

/* "path: message" at node n (or at the file when n is NULL). */
void kiln__perr(struct pctx *c, const struct kiln_ynode *n, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));

/* A warning at node n: valid, but likely not what was meant. */
void kiln__pwarn(struct pctx *c, const struct kiln_ynode *n, const char *fmt,
                 ...) __attribute__((format(printf, 3, 4)));

bool kiln__expect_map(struct pctx *c, const struct kiln_ynode *n,
                      const char *path);
/* Reports keys of map not in allowed (NULL-terminated), with a suggestion. */
void kiln__check_keys(struct pctx *c, const struct kiln_ynode *map,
                      const char *path, const char *const *allowed);
/* A string scalar (arena copy), or NULL when absent/null/invalid. */
const char *kiln__get_str(struct pctx *c, const struct kiln_ynode *map,
                          const char *key, const char *path, bool required);
const char *kiln__scalar_str(struct pctx *c, const struct kiln_ynode *n,
                             const char *path, bool allow_expansion);
/* Integer in [min, max]; returns false when absent or invalid (*out left). */
/* The integer scalar n (kp names it in errors) in [min, max]. */
bool kiln__scalar_int(struct pctx *c, const struct kiln_ynode *n,
                      const char *kp, int64_t min, int64_t max, int64_t *out);
bool kiln__get_int(struct pctx *c, const struct kiln_ynode *map,
                   const char *key, const char *path, int64_t min, int64_t max,
                   bool required, int64_t *out);
bool kiln__get_bool(struct pctx *c, const struct kiln_ynode *map,
                    const char *key, const char *path, bool *out);
/* A list of strings, each checked by check (may be NULL); no duplicates. */
typedef const char *kiln__check_fn(const char *s);
bool kiln__get_strs(struct pctx *c, const struct kiln_ynode *map,
                    const char *key, const char *path, kiln__check_fn *check,
                    const char *what, bool required, struct kiln_strs *out);
void kiln__get_tags(struct pctx *c, const struct kiln_ynode *map,
                    const char *key, const char *path, struct kiln_tags *out);
/* True for a null-like value (absent key, ~, null, empty plain scalar). */
bool kiln__is_null(const struct kiln_ynode *n);

/* Reads a file referenced from the app's spec into the arena. Reports and
 * returns NULL when it is missing, escapes the repository, is not a regular
 * file or exceeds max_bytes. *path_out gets the repository path. */
const char *kiln__read_ref(struct pctx *c, const struct kiln_ynode *n,
                           const char *ref, size_t max_bytes, const char *what,
                           size_t *len, const char **path_out);

void kiln__parse_build(struct pctx *c, const struct kiln_ynode *map,
                       const char *path, struct kiln_build_spec *out);

#endif
