/* EC2 Image Builder operations Kiln uses (REST-JSON: PUT /CreateX with a
 * camelCase JSON body, POST /ListX, GET /GetX?arn=...). Same shape and
 * guarantees as kiln/ec2.h. The List calls follow nextToken to the end.
 */
#ifndef KILN_IMAGEBUILDER_H
#define KILN_IMAGEBUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/aws_client.h"

/* An ARN or id returned by a Create/Update call. */
struct kiln_ib_arn_result {
  const char *arn;
  const char *client_token;
  const char *request_id;
};

/* ---- List* (components, image recipes, infrastructure configurations) */

struct kiln_ib_filter {
  const char *name; /* "name", "platform", "version", ... */
  const char **values;
  size_t value_count;
};

struct kiln_ib_list_request {
  const char *owner; /* "Self", "Amazon", ...; NULL: the API's default
                        (ListInfrastructureConfigurations has none) */
  struct kiln_ib_filter *filters;
  size_t filter_count;
  int max_results; /* per page; 0: the API's default */
};

/* One summary of a List call; fields a resource kind lacks stay NULL. */
struct kiln_ib_summary {
  const char *arn;
  const char *name;
  const char *version;      /* components */
  const char *platform;     /* components, recipes */
  const char *owner;        /* components, recipes */
  const char *parent_image; /* recipes */
  const char *description;  /* components, infrastructure configurations */
  const char *date_created;
  const char *instance_profile_name; /* infrastructure configurations */
  const char **instance_types;       /* infrastructure configurations */
  size_t instance_type_count;
  struct kiln_aws_tag *tags;
  size_t tag_count;
};

struct kiln_ib_summaries {
  struct kiln_ib_summary *items;
  size_t count;
};

int kiln_ib_list_components(struct kiln_aws_client *client,
                            const struct kiln_ib_list_request *req,
                            struct kiln_arena *arena,
                            struct kiln_ib_summaries *out, kiln_aws_done_cb *cb,
                            void *data);
int kiln_ib_list_image_recipes(struct kiln_aws_client *client,
                               const struct kiln_ib_list_request *req,
                               struct kiln_arena *arena,
                               struct kiln_ib_summaries *out,
                               kiln_aws_done_cb *cb, void *data);
int kiln_ib_list_infrastructure_configurations(
    struct kiln_aws_client *client, const struct kiln_ib_list_request *req,
    struct kiln_arena *arena, struct kiln_ib_summaries *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- components ---- */

struct kiln_ib_create_component_request {
  const char *name;
  const char *semantic_version; /* "1.0.0" */
  const char *platform;         /* NULL: "Linux" */
  const char *data;             /* the AWSTOE YAML document */
  const char *description;
  struct kiln_aws_tag *tags;
  size_t tag_count;
  const char *client_token; /* required */
  /* 1: client_token is a key, and the token sent is derived from it and
   * from everything else the request carries (AWS refuses a token reused
   * with a different request). 0: client_token is sent as is. */
  int derive_token;
};

/* out->arn is the componentBuildVersionArn. */
int kiln_ib_create_component(struct kiln_aws_client *client,
                             const struct kiln_ib_create_component_request *req,
                             struct kiln_arena *arena,
                             struct kiln_ib_arn_result *out,
                             kiln_aws_done_cb *cb, void *data);

struct kiln_ib_get_component_request {
  const char *component_build_version_arn;
};

struct kiln_ib_component {
  const char *arn;
  const char *name;
  const char *version;
  const char *platform;
  const char *description;
  const char *data;
  const char *owner;
  const char *date_created;
  const char *state_status; /* NULL when the service sends no state */
  struct kiln_aws_tag *tags;
  size_t tag_count;
};

int kiln_ib_get_component(struct kiln_aws_client *client,
                          const struct kiln_ib_get_component_request *req,
                          struct kiln_arena *arena,
                          struct kiln_ib_component *out, kiln_aws_done_cb *cb,
                          void *data);

/* ---- image recipes ---- */

struct kiln_ib_component_parameter {
  const char *name;
  const char **values;
  size_t value_count;
};

struct kiln_ib_recipe_component {
  const char *component_arn;
  struct kiln_ib_component_parameter *parameters;
  size_t parameter_count;
};

struct kiln_ib_block_device {
  const char *device_name;
  struct kiln_aws_opt_int volume_size_gib;
  const char *volume_type;
  struct kiln_aws_opt_bool encrypted;
  struct kiln_aws_opt_bool delete_on_termination;
  struct kiln_aws_opt_int iops;
  struct kiln_aws_opt_int throughput;
};

struct kiln_ib_create_image_recipe_request {
  const char *name;
  const char *semantic_version;
  const char *parent_image; /* AMI id or Image Builder image ARN */
  const char *description;
  struct kiln_ib_recipe_component *components;
  size_t component_count;
  struct kiln_ib_block_device *block_devices; /* optional */
  size_t block_device_count;
  struct kiln_aws_tag *tags;
  size_t tag_count;
  const char *client_token; /* required */
  /* 1: client_token is a key, and the token sent is derived from it and
   * from everything else the request carries (AWS refuses a token reused
   * with a different request). 0: client_token is sent as is. */
  int derive_token;
};

/* out->arn is the imageRecipeArn. */
int kiln_ib_create_image_recipe(
    struct kiln_aws_client *client,
    const struct kiln_ib_create_image_recipe_request *req,
    struct kiln_arena *arena, struct kiln_ib_arn_result *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- infrastructure configurations ---- */

struct kiln_ib_infrastructure_configuration_request {
  const char *arn;  /* Update only: which one */
  const char *name; /* Create only */
  const char *description;
  const char **instance_types;
  size_t instance_type_count;
  const char *instance_profile_name; /* required */
  const char *subnet_id;
  const char **security_group_ids;
  size_t security_group_id_count;
  struct kiln_aws_opt_bool terminate_instance_on_failure;
  struct kiln_aws_tag *tags; /* Create only (Update cannot change tags) */
  size_t tag_count;
  const char *client_token; /* required */
  /* 1: client_token is a key, and the token sent is derived from it and
   * from everything else the request carries (AWS refuses a token reused
   * with a different request). 0: client_token is sent as is. */
  int derive_token;
};

/* out->arn is the infrastructureConfigurationArn. */
int kiln_ib_create_infrastructure_configuration(
    struct kiln_aws_client *client,
    const struct kiln_ib_infrastructure_configuration_request *req,
    struct kiln_arena *arena, struct kiln_ib_arn_result *out,
    kiln_aws_done_cb *cb, void *data);
int kiln_ib_update_infrastructure_configuration(
    struct kiln_aws_client *client,
    const struct kiln_ib_infrastructure_configuration_request *req,
    struct kiln_arena *arena, struct kiln_ib_arn_result *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- images ---- */

struct kiln_ib_create_image_request {
  const char *image_recipe_arn;
  const char *infrastructure_configuration_arn;
  struct kiln_aws_tag *tags;
  size_t tag_count;
  const char *client_token; /* required */
  /* 1: client_token is a key, and the token sent is derived from it and
   * from everything else the request carries (AWS refuses a token reused
   * with a different request). 0: client_token is sent as is. */
  int derive_token;
};

/* out->arn is the imageBuildVersionArn. */
int kiln_ib_create_image(struct kiln_aws_client *client,
                         const struct kiln_ib_create_image_request *req,
                         struct kiln_arena *arena,
                         struct kiln_ib_arn_result *out, kiln_aws_done_cb *cb,
                         void *data);

struct kiln_ib_get_image_request {
  const char *image_build_version_arn;
};

struct kiln_ib_ami {
  const char *image; /* "ami-..." */
  const char *region;
  const char *name;
  const char *account_id;
};

struct kiln_ib_image {
  const char *arn;
  const char *name;
  const char *version;
  const char *state_status; /* "PENDING", "BUILDING", ..., "AVAILABLE",
                               "FAILED", "CANCELLED" */
  const char *state_reason;
  const char *image_recipe_arn;
  const char *infrastructure_configuration_arn;
  struct kiln_ib_ami *amis;
  size_t ami_count;
  struct kiln_aws_tag *tags;
  size_t tag_count;
};

int kiln_ib_get_image(struct kiln_aws_client *client,
                      const struct kiln_ib_get_image_request *req,
                      struct kiln_arena *arena, struct kiln_ib_image *out,
                      kiln_aws_done_cb *cb, void *data);

/* ---- what garbage collection uses ---- */

/* The build versions of one image version ("arn:...:image/kiln-hello/1.2.3"),
 * each with its state. */
struct kiln_ib_build {
  const char *arn;
  const char *state_status; /* "AVAILABLE", "BUILDING", ... */
};

struct kiln_ib_builds {
  struct kiln_ib_build *items;
  size_t count;
};

int kiln_ib_list_image_build_versions(struct kiln_aws_client *client,
                                      const char *image_version_arn,
                                      struct kiln_arena *arena,
                                      struct kiln_ib_builds *out,
                                      kiln_aws_done_cb *cb, void *data);

/* The component ARNs an image recipe names. */
struct kiln_ib_recipe {
  const char *arn;
  const char **components;
  size_t component_count;
};

int kiln_ib_get_image_recipe(struct kiln_aws_client *client,
                             const char *image_recipe_arn,
                             struct kiln_arena *arena,
                             struct kiln_ib_recipe *out, kiln_aws_done_cb *cb,
                             void *data);

/* DeleteImage (an image build version: its AMI stays), DeleteImageRecipe,
 * DeleteComponent (a component build version). No result. */
int kiln_ib_delete_image(struct kiln_aws_client *client,
                         const char *image_build_version_arn,
                         kiln_aws_done_cb *cb, void *data);
int kiln_ib_delete_image_recipe(struct kiln_aws_client *client,
                                const char *image_recipe_arn,
                                kiln_aws_done_cb *cb, void *data);
int kiln_ib_delete_component(struct kiln_aws_client *client,
                             const char *component_build_version_arn,
                             kiln_aws_done_cb *cb, void *data);

#endif
