/* EC2 operations Kiln uses (query protocol, API version 2016-11-15).
 *
 * Every operation has the same shape:
 *
 *   int kiln_ec2_OP(client, &request, arena, &result, cb, data);
 *
 * The request is serialised before the function returns (the caller may
 * free it then). On success cb(0, res, data) runs with result filled:
 * every page of a paginated call followed and accumulated, strings and
 * arrays allocated in arena. arena and result must stay valid until cb
 * runs. Returns 0 (cb will run exactly once, never before the return),
 * KILN_EINVAL or KILN_ENOMEM (cb will not run). See kiln/aws_client.h for
 * the callback's err values.
 *
 * Request arrays are read-only in practice: they are declared without
 * const so that results can use the same structs.
 */
#ifndef KILN_EC2_H
#define KILN_EC2_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/aws_client.h"

#define KILN_EC2_API_VERSION "2016-11-15"

/* EC2 refuses more filter values than this in one call
 * (FilterLimitExceeded). */
#define KILN_EC2_MAX_FILTER_VALUES 200

struct kiln_ec2_filter {
  const char *name; /* "tag:kiln:digest", "tag-key", "name", ... */
  const char **values;
  size_t value_count;
};

/* ---- DescribeImages ---- */

struct kiln_ec2_describe_images_request {
  const char **owners; /* "self" */
  size_t owner_count;
  const char **image_ids;
  size_t image_id_count;
  struct kiln_ec2_filter *filters;
  size_t filter_count;
  /* Per page; 0: AWS's default (everything in one page). AWS refuses it
   * together with image_ids. */
  int max_results;
};

struct kiln_ec2_image {
  const char *image_id;
  const char *name;
  const char *state; /* "pending", "available", "failed", ... */
  const char *state_reason; /* stateReason's message (a failed copy) */
  const char *creation_date;
  const char *owner_id;
  struct kiln_aws_tag *tags;
  size_t tag_count;
  /* The EBS snapshots of its block device mappings, and their volume
   * sizes (GiB; 0: not said). */
  const char **snapshot_ids;
  int64_t *snapshot_gib;
  size_t snapshot_count;
};

struct kiln_ec2_images {
  struct kiln_ec2_image *images;
  size_t count;
};

int kiln_ec2_describe_images(struct kiln_aws_client *client,
                             const struct kiln_ec2_describe_images_request *req,
                             struct kiln_arena *arena,
                             struct kiln_ec2_images *out, kiln_aws_done_cb *cb,
                             void *data);

/* ---- CopyImage ---- */

/* Copies source_image_id of source_region into the client's region and
 * account (the source shared with it when it is another account's). */
struct kiln_ec2_copy_image_request {
  const char *source_region;
  const char *source_image_id;
  const char *name;
  const char *description;
  const char *client_token; /* sent as is; NULL: none */
  /* TagSpecification: tags of the new AMI and of its snapshots. */
  struct kiln_ec2_tag_spec *tag_specs;
  size_t tag_spec_count;
};

struct kiln_ec2_copied_image {
  const char *image_id;
};

int kiln_ec2_copy_image(struct kiln_aws_client *client,
                        const struct kiln_ec2_copy_image_request *req,
                        struct kiln_arena *arena,
                        struct kiln_ec2_copied_image *out, kiln_aws_done_cb *cb,
                        void *data);

/* ---- ModifyImageAttribute / ModifySnapshotAttribute ---- */

/* Grants accounts launch permission on an AMI (LaunchPermission.Add), or
 * create-volume permission on a snapshot (CreateVolumePermission.Add).
 * Granting what is granted already is no error. */
struct kiln_ec2_share_request {
  const char *resource_id; /* ami-... or snap-... */
  const char **account_ids;
  size_t account_count;
};

/* No result: arena and out are not taken. */
int kiln_ec2_share_image(struct kiln_aws_client *client,
                         const struct kiln_ec2_share_request *req,
                         kiln_aws_done_cb *cb, void *data);
int kiln_ec2_share_snapshot(struct kiln_aws_client *client,
                            const struct kiln_ec2_share_request *req,
                            kiln_aws_done_cb *cb, void *data);

/* ---- CreateTags ---- */

struct kiln_ec2_create_tags_request {
  const char **resource_ids;
  size_t resource_id_count;
  struct kiln_aws_tag *tags;
  size_t tag_count;
};

/* No result: arena and out are not taken. */
int kiln_ec2_create_tags(struct kiln_aws_client *client,
                         const struct kiln_ec2_create_tags_request *req,
                         kiln_aws_done_cb *cb, void *data);

/* ---- DeleteTags ---- */

struct kiln_ec2_delete_tags_request {
  const char **resource_ids;
  size_t resource_id_count;
  const char *const *keys; /* every value of these keys goes */
  size_t key_count;
};

int kiln_ec2_delete_tags(struct kiln_aws_client *client,
                         const struct kiln_ec2_delete_tags_request *req,
                         kiln_aws_done_cb *cb, void *data);

/* ---- launch template data (the fields Kiln manages) ---- */

struct kiln_ec2_block_device {
  const char *device_name;
  int has_ebs;
  struct kiln_aws_opt_int volume_size_gib;
  const char *volume_type; /* NULL: unset */
  struct kiln_aws_opt_bool encrypted;
  struct kiln_aws_opt_bool delete_on_termination;
  struct kiln_aws_opt_int iops;
  struct kiln_aws_opt_int throughput;
};

struct kiln_ec2_tag_spec {
  const char *resource_type; /* "instance", "volume", "launch-template" */
  struct kiln_aws_tag *tags;
  size_t tag_count;
};

struct kiln_ec2_launch_template_data {
  const char *image_id;
  const char *instance_type;
  const char *user_data; /* base64, as on the wire */
  const char **security_group_ids;
  size_t security_group_id_count;
  const char *iam_instance_profile_name;
  const char *iam_instance_profile_arn;
  struct kiln_ec2_block_device *block_devices;
  size_t block_device_count;
  const char *http_tokens;   /* metadata options: "required", "optional" */
  const char *http_endpoint; /* "enabled", "disabled" */
  struct kiln_aws_opt_int http_put_response_hop_limit;
  struct kiln_ec2_tag_spec *tag_specs;
  size_t tag_spec_count;
};

/* ---- DescribeLaunchTemplates ---- */

struct kiln_ec2_describe_launch_templates_request {
  /* Names AWS must know (one it does not fails the call); none: every
   * launch template, or those the filters match. */
  const char **names;
  size_t name_count;
  const char **ids;
  size_t id_count;
  struct kiln_ec2_filter *filters; /* "launch-template-name", "tag:…" */
  size_t filter_count;
  int max_results; /* per page; 0: AWS's default */
};

struct kiln_ec2_launch_template {
  const char *id;
  const char *name;
  int64_t default_version;
  int64_t latest_version;
  const char *create_time;
  struct kiln_aws_tag *tags;
  size_t tag_count;
};

struct kiln_ec2_launch_templates {
  struct kiln_ec2_launch_template *templates;
  size_t count;
};

int kiln_ec2_describe_launch_templates(
    struct kiln_aws_client *client,
    const struct kiln_ec2_describe_launch_templates_request *req,
    struct kiln_arena *arena, struct kiln_ec2_launch_templates *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- DescribeLaunchTemplateVersions ---- */

struct kiln_ec2_describe_launch_template_versions_request {
  /* One of them names the template; with neither, versions must be
   * "$Default" and/or "$Latest" and AWS answers for every template. */
  const char *launch_template_id;
  const char *launch_template_name;
  const char **versions; /* "3", "$Default", "$Latest" */
  size_t version_count;
  int max_results; /* per page; 0: AWS's default */
};

struct kiln_ec2_launch_template_version {
  const char *launch_template_id;
  const char *launch_template_name;
  int64_t version_number;
  int default_version;     /* 1: this is the template's default version */
  const char *description; /* NULL when none */
  const char *create_time;
  struct kiln_ec2_launch_template_data data;
};

struct kiln_ec2_launch_template_versions {
  struct kiln_ec2_launch_template_version *versions;
  size_t count;
};

int kiln_ec2_describe_launch_template_versions(
    struct kiln_aws_client *client,
    const struct kiln_ec2_describe_launch_template_versions_request *req,
    struct kiln_arena *arena, struct kiln_ec2_launch_template_versions *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- CreateLaunchTemplate ---- */

struct kiln_ec2_create_launch_template_request {
  const char *name;
  const char *client_token; /* idempotency; NULL: none */
  const char *version_description;
  struct kiln_ec2_launch_template_data data;
  /* Tags of the launch template itself (TagSpecification, resource type
   * launch-template). */
  struct kiln_aws_tag *tags;
  size_t tag_count;
  /* 1: client_token is a key, and the token sent is derived from it and
   * from everything else the request carries (AWS refuses a token reused
   * with a different request). 0: client_token is sent as is. */
  int derive_token;
};

int kiln_ec2_create_launch_template(
    struct kiln_aws_client *client,
    const struct kiln_ec2_create_launch_template_request *req,
    struct kiln_arena *arena, struct kiln_ec2_launch_template *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- CreateLaunchTemplateVersion ---- */

struct kiln_ec2_create_launch_template_version_request {
  const char *launch_template_id; /* or the name */
  const char *launch_template_name;
  const char *client_token;
  const char *version_description;
  const char *source_version; /* NULL: the data is complete */
  struct kiln_ec2_launch_template_data data;
  /* 1: client_token is a key, and the token sent is derived from it and
   * from everything else the request carries (AWS refuses a token reused
   * with a different request). 0: client_token is sent as is. */
  int derive_token;
};

int kiln_ec2_create_launch_template_version(
    struct kiln_aws_client *client,
    const struct kiln_ec2_create_launch_template_version_request *req,
    struct kiln_arena *arena, struct kiln_ec2_launch_template_version *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- ModifyLaunchTemplate (SetDefaultVersion) ---- */

struct kiln_ec2_modify_launch_template_request {
  const char *launch_template_id; /* or the name */
  const char *launch_template_name;
  const char *default_version; /* "4" */
  const char *client_token;
};

int kiln_ec2_modify_launch_template(
    struct kiln_aws_client *client,
    const struct kiln_ec2_modify_launch_template_request *req,
    struct kiln_arena *arena, struct kiln_ec2_launch_template *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- DescribeInstances ---- */

struct kiln_ec2_describe_instances_request {
  const char **instance_ids;
  size_t instance_id_count;
  struct kiln_ec2_filter *filters; /* "image-id", "instance-state-name" */
  size_t filter_count;
  /* Per page; 0: AWS's default. AWS refuses it together with ids. */
  int max_results;
};

struct kiln_ec2_instance {
  const char *instance_id;
  const char *state; /* "pending", "running", "terminated", ... */
  const char *image_id;
  const char *subnet_id;
  /* From the aws:ec2launchtemplate:id and :version tags; NULL when the
   * instance was not launched from a template. */
  const char *launch_template_id;
  const char *launch_template_version;
  struct kiln_aws_tag *tags;
  size_t tag_count;
};

struct kiln_ec2_instances {
  struct kiln_ec2_instance *instances;
  size_t count;
};

int kiln_ec2_describe_instances(
    struct kiln_aws_client *client,
    const struct kiln_ec2_describe_instances_request *req,
    struct kiln_arena *arena, struct kiln_ec2_instances *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- DeregisterImage / DeleteSnapshot ---- */

/* No result: arena and out are not taken. */
int kiln_ec2_deregister_image(struct kiln_aws_client *client,
                              const char *image_id, kiln_aws_done_cb *cb,
                              void *data);
int kiln_ec2_delete_snapshot(struct kiln_aws_client *client,
                             const char *snapshot_id, kiln_aws_done_cb *cb,
                             void *data);

/* ---- DescribeSnapshots ---- */

struct kiln_ec2_describe_snapshots_request {
  const char **owners; /* "self" */
  size_t owner_count;
  struct kiln_ec2_filter *filters;
  size_t filter_count;
  int max_results; /* per page; 0: AWS's default */
};

struct kiln_ec2_snapshot {
  const char *snapshot_id;
  int64_t volume_gib;
  struct kiln_aws_tag *tags;
  size_t tag_count;
};

struct kiln_ec2_snapshots {
  struct kiln_ec2_snapshot *snapshots;
  size_t count;
};

int kiln_ec2_describe_snapshots(
    struct kiln_aws_client *client,
    const struct kiln_ec2_describe_snapshots_request *req,
    struct kiln_arena *arena, struct kiln_ec2_snapshots *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- DeleteLaunchTemplateVersions ---- */

/* At most 200 versions a call, never the default (AWS refuses it). */
struct kiln_ec2_delete_launch_template_versions_request {
  const char *launch_template_id;
  const int64_t *versions;
  size_t version_count;
};

struct kiln_ec2_deleted_versions {
  int64_t *deleted; /* versions AWS deleted */
  size_t n_deleted;
  int64_t *refused; /* and those it did not, with why */
  const char **refused_why;
  size_t n_refused;
};

int kiln_ec2_delete_launch_template_versions(
    struct kiln_aws_client *client,
    const struct kiln_ec2_delete_launch_template_versions_request *req,
    struct kiln_arena *arena, struct kiln_ec2_deleted_versions *out,
    kiln_aws_done_cb *cb, void *data);

#endif
