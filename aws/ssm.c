/* SSM over JSON 1.1: GetParameters and GetParameter. */
#include "aws_ops_private.h"

#include "kiln/error.h"

#include <json-c/json.h>

static int parse_param(struct kiln__px *px, struct json_object *o,
                       struct kiln_ssm_parameter *p)
{
  if (o == NULL || !json_object_is_type(o, json_type_object))
    return px->err = KILN_EPARSE;
  p->name = kiln__json_str(px, o, "Name");
  p->type = kiln__json_str(px, o, "Type");
  p->value = kiln__json_str(px, o, "Value");
  kiln__json_i64(px, o, "Version", &p->version);
  p->arn = kiln__json_str(px, o, "ARN");
  p->data_type = kiln__json_str(px, o, "DataType");
  if ((p->name == NULL || p->value == NULL) && px->err == 0)
    px->err = KILN_EPARSE;
  return px->err;
}

/* ---- GetParameters ---- */

int kiln__ssm_get_parameters_body(
    const struct kiln_ssm_get_parameters_request *r, struct kiln__op_body *b)
{
  int err = 0;

  kiln__op_body_init(b);
  if (r->name_count == 0 || r->name_count > KILN_SSM_MAX_NAMES)
    return b->query.err = KILN_EINVAL;
  b->json = kiln__json_obj(&err);
  kiln__json_add_strs(&err, b->json, "Names", r->names, r->name_count);
  if (r->with_decryption)
    kiln__json_add_bool(&err, b->json, "WithDecryption", 1);
  return b->query.err = err;
}

static int parse_parameters(struct kiln__px *px, void *out,
                            const struct kiln_aws_response *res,
                            const char **next)
{
  struct kiln_ssm_parameters *o = out;
  struct json_object *a = kiln__json_get(res->json, "Parameters");

  (void)next;
  if (a != NULL && !json_object_is_type(a, json_type_array))
    return KILN_EPARSE;
  for (size_t i = 0; a != NULL && i < json_object_array_length(a); i++) {
    struct kiln_ssm_parameter *p =
        kiln__vec_push(px, &o->parameters, &o->count, sizeof(*p));

    if (p == NULL || parse_param(px, json_object_array_get_idx(a, i), p) != 0)
      return px->err;
  }
  kiln__json_strs(px, res->json, "InvalidParameters", &o->invalid,
                  &o->invalid_count);
  return px->err;
}

const struct kiln__op_desc kiln__ssm_get_parameters_desc = {
    KILN_AWS_SSM, "GetParameters", NULL, NULL, NULL, parse_parameters};

int kiln_ssm_get_parameters(struct kiln_aws_client *client,
                            const struct kiln_ssm_get_parameters_request *req,
                            struct kiln_arena *arena,
                            struct kiln_ssm_parameters *out,
                            kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ssm_get_parameters_body(req, &b);
  return kiln__op_start(client, &kiln__ssm_get_parameters_desc, &b, arena, out,
                        sizeof(*out), cb, data);
}

/* ---- GetParameter ---- */

int kiln__ssm_get_parameter_body(const struct kiln_ssm_get_parameter_request *r,
                                 struct kiln__op_body *b)
{
  int err = 0;

  kiln__op_body_init(b);
  if (r->name == NULL)
    return b->query.err = KILN_EINVAL;
  b->json = kiln__json_obj(&err);
  kiln__json_add_str(&err, b->json, "Name", r->name);
  if (r->with_decryption)
    kiln__json_add_bool(&err, b->json, "WithDecryption", 1);
  return b->query.err = err;
}

static int parse_parameter(struct kiln__px *px, void *out,
                           const struct kiln_aws_response *res,
                           const char **next)
{
  (void)next;
  return parse_param(px, kiln__json_get(res->json, "Parameter"), out);
}

const struct kiln__op_desc kiln__ssm_get_parameter_desc = {
    KILN_AWS_SSM, "GetParameter", NULL, NULL, NULL, parse_parameter};

int kiln_ssm_get_parameter(struct kiln_aws_client *client,
                           const struct kiln_ssm_get_parameter_request *req,
                           struct kiln_arena *arena,
                           struct kiln_ssm_parameter *out, kiln_aws_done_cb *cb,
                           void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ssm_get_parameter_body(req, &b);
  return kiln__op_start(client, &kiln__ssm_get_parameter_desc, &b, arena, out,
                        sizeof(*out), cb, data);
}
