/* SSM Parameter Store reads (JSON 1.1, X-Amz-Target AmazonSSM.<Action>).
 * Same shape and guarantees as kiln/ec2.h.
 */
#ifndef KILN_SSM_H
#define KILN_SSM_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/aws_client.h"

#define KILN_SSM_MAX_NAMES 10 /* per GetParameters call */

struct kiln_ssm_parameter {
  const char *name;
  const char *type; /* "String", "StringList", "SecureString" */
  const char *value;
  int64_t version;
  const char *arn;
  const char *data_type; /* "text", "aws:ec2:image" */
};

struct kiln_ssm_get_parameters_request {
  const char **names; /* 1 to KILN_SSM_MAX_NAMES */
  size_t name_count;
  int with_decryption;
};

struct kiln_ssm_parameters {
  struct kiln_ssm_parameter *parameters; /* the ones found */
  size_t count;
  const char **invalid; /* names AWS did not find */
  size_t invalid_count;
};

int kiln_ssm_get_parameters(struct kiln_aws_client *client,
                            const struct kiln_ssm_get_parameters_request *req,
                            struct kiln_arena *arena,
                            struct kiln_ssm_parameters *out,
                            kiln_aws_done_cb *cb, void *data);

struct kiln_ssm_get_parameter_request {
  const char *name;
  int with_decryption;
};

/* A missing parameter is KILN_EAWS with code ParameterNotFound. */
int kiln_ssm_get_parameter(struct kiln_aws_client *client,
                           const struct kiln_ssm_get_parameter_request *req,
                           struct kiln_arena *arena,
                           struct kiln_ssm_parameter *out, kiln_aws_done_cb *cb,
                           void *data);

#endif
