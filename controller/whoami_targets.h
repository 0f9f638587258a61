/* kiln whoami --repo: who Kiln is in each deployment target's location. */
#ifndef KILN_CONTROLLER_WHOAMI_TARGETS_H
#define KILN_CONTROLLER_WHOAMI_TARGETS_H

#include <json-c/json.h>

#include "session.h"

/* Asks STS GetCallerIdentity in every location of s (opened on a repo),
 * with each location's credentials, on s's loop. Prints a text section to
 * stdout, or (json_out not NULL) makes a JSON array of the targets:
 * {name, app, environment, region, role_arn, account, arn, error}.
 * Returns 0 when every location answered, KILN_ECREDENTIALS when one did
 * not (its targets carry the reason), or KILN_ENOMEM. */
int kiln_whoami_targets(struct kiln_session *s, json_object **json_out);

#endif
