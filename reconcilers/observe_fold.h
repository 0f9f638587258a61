/* From AWS's answers to the observed model: what an observation keeps of a
 * page, copied out of it. observe.c parses each call into an arena of its
 * own and folds it into the observation as it arrives, so that the page's
 * memory goes at once: a pass over 10,000 apps never holds every group,
 * template and AMI AWS described, only what Kiln reads of them. Pure: no
 * I/O, no loop. Private to reconcilers/.
 */
#ifndef KILN_OBSERVE_FOLD_H
#define KILN_OBSERVE_FOLD_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/lt_cache.h"
#include "kiln/observe.h"
#include "kiln/observed.h"

struct kiln_arena;
struct kiln_asg_group;
struct kiln_ec2_launch_template;
struct kiln_ec2_launch_template_version;
struct kiln_ec2_images;

/* A launch template as round one saw it (before its default version is
 * read). Shared by the apps that name it. */
struct kiln_template_seen {
  const char *id;
  int64_t default_version;
  int64_t latest_version;
  int64_t kiln_version; /* its kiln:version tag; 0: none, or not a number */
  struct kiln_tags tags;
};

/* A kiln:version tag's value: a positive version number, else 0 (unknown;
 * tags can be edited by hand). */
int64_t kiln__version_tag(const char *v);

/* Each of these copies what it keeps into arena and borrows nothing from
 * its input. They return 0 or KILN_ENOMEM. */

int kiln__fold_template(struct kiln_arena *arena,
                        const struct kiln_ec2_launch_template *lt,
                        struct kiln_template_seen *out);

/* The group fields of out (asg_*), every instance's template version
 * among them; asg_instances_stale is left to the caller, who knows the
 * template's default version. */
int kiln__fold_group(struct kiln_arena *arena, const struct kiln_asg_group *g,
                     struct kiln_observed_app *out);

/* A default version as the cache keeps it. scratch holds what is only
 * needed on the way (the input's own arena will do). */
int kiln__fold_version(struct kiln_arena *arena, struct kiln_arena *scratch,
                       const struct kiln_ec2_launch_template_version *v,
                       struct kiln_lt_cached *out);

/* Kiln's AMIs among images (those tagged kiln:digest), as *out[0..*n). */
int kiln__fold_images(struct kiln_arena *arena,
                      const struct kiln_ec2_images *images,
                      struct kiln_observed_image **out, size_t *n);

/* obs->kiln_images: the n_lists lists joined in their order; and
 * obs->by_digest, their places by digest. */
int kiln__index_images(struct kiln_arena *arena,
                       struct kiln_observed_image *const *lists,
                       const size_t *lens, size_t n_lists,
                       struct kiln_observation *obs);

#endif
