/* What the executors share (not a public header). */
#ifndef KILN_EXECUTE_PRIVATE_H
#define KILN_EXECUTE_PRIVATE_H

#include "kiln/aws_client.h"
#include "kiln/execute.h"

/* The tags of everything Kiln makes for spec at commit: kiln.yaml's tags,
 * kiln:app, kiln:commit and, with digest, kiln:digest. Arena-owned; NULL
 * when out of memory. */
struct kiln_aws_tag *kiln__execute_tags(struct kiln_arena *a,
                                        const struct kiln_app_spec *spec,
                                        const char *commit, const char *digest,
                                        size_t *n);

/* The COPY_IMAGE step (execute_copy.c); as kiln_execute_start(). */
int kiln__execute_copy_start(struct kiln_aws_client *client,
                             struct kiln_aws_client *home_client,
                             const struct kiln_app_spec *spec,
                             const char *commit, const struct kiln_plan *plan,
                             struct kiln_arena *arena, kiln_execute_cb *cb,
                             void *data);

#endif
