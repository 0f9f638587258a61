/* EC2: DescribeImages, CreateTags, the launch template calls and
 * DescribeInstances over the EC2 query protocol. Lists go on the wire as
 * Name.N (1-based), nested members as Name.N.Member; responses list their
 * elements as <item>.
 */
#include "aws_ops_private.h"

#include "kiln/error.h"

#include <stdio.h>
#include <string.h>

/* ---- request helpers ---- */

static void strs(struct kiln__query *q, const char *prefix, const char **v,
                 size_t n)
{
  for (size_t i = 0; i < n; i++)
    kiln__query_str(q, v[i], "%s.%zu", prefix, i + 1);
}

static void tags(struct kiln__query *q, const char *prefix,
                 const struct kiln_aws_tag *t, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    kiln__query_str(q, t[i].key, "%s.%zu.Key", prefix, i + 1);
    kiln__query_str(q, t[i].value ? t[i].value : "", "%s.%zu.Value", prefix,
                    i + 1);
  }
}

static void filters(struct kiln__query *q, const struct kiln_ec2_filter *f,
                    size_t n)
{
  for (size_t i = 0; i < n; i++) {
    kiln__query_str(q, f[i].name, "Filter.%zu.Name", i + 1);
    for (size_t j = 0; j < f[i].value_count; j++)
      kiln__query_str(q, f[i].values[j], "Filter.%zu.Value.%zu", i + 1, j + 1);
  }
}

static void opt_int(struct kiln__query *q, struct kiln_aws_opt_int v,
                    const char *prefix, const char *name)
{
  if (v.set)
    kiln__query_i64(q, v.value, "%s.%s", prefix, name);
}

static void opt_bool(struct kiln__query *q, struct kiln_aws_opt_bool v,
                     const char *prefix, const char *name)
{
  if (v.set)
    kiln__query_bool(q, v.value, "%s.%s", prefix, name);
}

static void lt_data(struct kiln__query *q,
                    const struct kiln_ec2_launch_template_data *d)
{
  const char *p = "LaunchTemplateData";
  char pre[96];

  kiln__query_str(q, d->image_id, "%s.ImageId", p);
  kiln__query_str(q, d->instance_type, "%s.InstanceType", p);
  kiln__query_str(q, d->user_data, "%s.UserData", p);
  strs(q, "LaunchTemplateData.SecurityGroupId", d->security_group_ids,
       d->security_group_id_count);
  kiln__query_str(q, d->iam_instance_profile_name, "%s.IamInstanceProfile.Name",
                  p);
  kiln__query_str(q, d->iam_instance_profile_arn, "%s.IamInstanceProfile.Arn",
                  p);
  for (size_t i = 0; i < d->block_device_count; i++) {
    const struct kiln_ec2_block_device *b = &d->block_devices[i];

    snprintf(pre, sizeof(pre), "%s.BlockDeviceMapping.%zu", p, i + 1);
    kiln__query_str(q, b->device_name, "%s.DeviceName", pre);
    if (!b->has_ebs)
      continue;
    snprintf(pre, sizeof(pre), "%s.BlockDeviceMapping.%zu.Ebs", p, i + 1);
    opt_bool(q, b->encrypted, pre, "Encrypted");
    opt_bool(q, b->delete_on_termination, pre, "DeleteOnTermination");
    opt_int(q, b->iops, pre, "Iops");
    opt_int(q, b->volume_size_gib, pre, "VolumeSize");
    kiln__query_str(q, b->volume_type, "%s.VolumeType", pre);
    opt_int(q, b->throughput, pre, "Throughput");
  }
  kiln__query_str(q, d->http_tokens, "%s.MetadataOptions.HttpTokens", p);
  if (d->http_put_response_hop_limit.set)
    kiln__query_i64(q, d->http_put_response_hop_limit.value,
                    "%s.MetadataOptions.HttpPutResponseHopLimit", p);
  kiln__query_str(q, d->http_endpoint, "%s.MetadataOptions.HttpEndpoint", p);
  for (size_t i = 0; i < d->tag_spec_count; i++) {
    snprintf(pre, sizeof(pre), "%s.TagSpecification.%zu", p, i + 1);
    kiln__query_str(q, d->tag_specs[i].resource_type, "%s.ResourceType", pre);
    snprintf(pre, sizeof(pre), "%s.TagSpecification.%zu.Tag", p, i + 1);
    tags(q, pre, d->tag_specs[i].tags, d->tag_specs[i].tag_count);
  }
}

static void init(struct kiln__op_body *b, const char *action)
{
  kiln__op_body_init(b);
  kiln__query_init(&b->query, action, KILN_EC2_API_VERSION);
}

/* ---- response helpers ---- */

static void parse_tags(struct kiln__px *px, const struct kiln_xml_node *n,
                       struct kiln_aws_tag **t, size_t *count)
{
  kiln__xml_tags(px, n, "tagSet", "key", "value", t, count);
}

static int opt_i(struct kiln__px *px, const struct kiln_xml_node *n,
                 const char *path, struct kiln_aws_opt_int *out)
{
  return out->set = kiln__xml_i64(px, n, path, &out->value);
}

static int opt_b(struct kiln__px *px, const struct kiln_xml_node *n,
                 const char *path, struct kiln_aws_opt_bool *out)
{
  return out->set = kiln__xml_bool(px, n, path, &out->value);
}

static void parse_lt_data(struct kiln__px *px, const struct kiln_xml_node *n,
                          struct kiln_ec2_launch_template_data *d)
{
  const struct kiln_xml_node *e;

  if (n == NULL)
    return;
  d->image_id = kiln__xml_str(px, n, "imageId");
  d->instance_type = kiln__xml_str(px, n, "instanceType");
  d->user_data = kiln__xml_str(px, n, "userData");
  kiln__xml_strs(px, n, "securityGroupIdSet", &d->security_group_ids,
                 &d->security_group_id_count);
  d->iam_instance_profile_name =
      kiln__xml_str(px, n, "iamInstanceProfile/name");
  d->iam_instance_profile_arn = kiln__xml_str(px, n, "iamInstanceProfile/arn");
  for (e = kiln__xml_first(kiln__xml_find(n, "blockDeviceMappingSet"), "item");
       e != NULL; e = kiln__xml_next(e)) {
    struct kiln_ec2_block_device *b = kiln__vec_push(
        px, &d->block_devices, &d->block_device_count, sizeof(*b));
    const struct kiln_xml_node *ebs;

    if (b == NULL)
      return;
    b->device_name = kiln__xml_str(px, e, "deviceName");
    ebs = kiln__xml_find(e, "ebs");
    if (ebs == NULL)
      continue;
    b->has_ebs = 1;
    opt_i(px, ebs, "volumeSize", &b->volume_size_gib);
    b->volume_type = kiln__xml_str(px, ebs, "volumeType");
    opt_b(px, ebs, "encrypted", &b->encrypted);
    opt_b(px, ebs, "deleteOnTermination", &b->delete_on_termination);
    opt_i(px, ebs, "iops", &b->iops);
    opt_i(px, ebs, "throughput", &b->throughput);
  }
  d->http_tokens = kiln__xml_str(px, n, "metadataOptions/httpTokens");
  d->http_endpoint = kiln__xml_str(px, n, "metadataOptions/httpEndpoint");
  opt_i(px, n, "metadataOptions/httpPutResponseHopLimit",
        &d->http_put_response_hop_limit);
  for (e = kiln__xml_first(kiln__xml_find(n, "tagSpecificationSet"), "item");
       e != NULL; e = kiln__xml_next(e)) {
    struct kiln_ec2_tag_spec *ts =
        kiln__vec_push(px, &d->tag_specs, &d->tag_spec_count, sizeof(*ts));

    if (ts == NULL)
      return;
    ts->resource_type = kiln__xml_str(px, e, "resourceType");
    parse_tags(px, e, &ts->tags, &ts->tag_count);
  }
}

/* The root must be the operation's response element. */
static int expect_root(const struct kiln_aws_response *res, const char *name)
{
  return res->xml != NULL && strcmp(res->xml->name, name) == 0;
}

/* ---- DescribeImages ---- */

int kiln__ec2_describe_images_body(
    const struct kiln_ec2_describe_images_request *r, struct kiln__op_body *b)
{
  init(b, "DescribeImages");
  strs(&b->query, "Owner", r->owners, r->owner_count);
  strs(&b->query, "ImageId", r->image_ids, r->image_id_count);
  filters(&b->query, r->filters, r->filter_count);
  if (r->max_results > 0)
    kiln__query_i64(&b->query, r->max_results, "MaxResults");
  return b->query.err;
}

static int parse_images(struct kiln__px *px, void *out,
                        const struct kiln_aws_response *res, const char **next)
{
  struct kiln_ec2_images *o = out;

  if (!expect_root(res, "DescribeImagesResponse"))
    return KILN_EPARSE;
  for (const struct kiln_xml_node *e =
           kiln__xml_first(kiln__xml_find(res->xml, "imagesSet"), "item");
       e != NULL; e = kiln__xml_next(e)) {
    struct kiln_ec2_image *im =
        kiln__vec_push(px, &o->images, &o->count, sizeof(*im));

    if (im == NULL)
      break;
    im->image_id = kiln__xml_str(px, e, "imageId");
    im->name = kiln__xml_str(px, e, "name");
    im->state = kiln__xml_str(px, e, "imageState");
    im->state_reason = kiln__xml_str(px, e, "stateReason/message");
    im->creation_date = kiln__xml_str(px, e, "creationDate");
    im->owner_id = kiln__xml_str(px, e, "imageOwnerId");
    parse_tags(px, e, &im->tags, &im->tag_count);
    for (const struct kiln_xml_node *m =
             kiln__xml_first(kiln__xml_find(e, "blockDeviceMapping"), "item");
         m != NULL; m = kiln__xml_next(m)) {
      const char *snap = kiln__xml_str(px, m, "ebs/snapshotId");
      const char **slot;
      int64_t *gib;
      size_t n = im->snapshot_count;
      if (snap == NULL)
        continue;
      gib = kiln__vec_push(px, &im->snapshot_gib, &n, sizeof(*gib));
      slot = kiln__vec_push(px, &im->snapshot_ids, &im->snapshot_count,
                            sizeof(*slot));
      if (slot == NULL || gib == NULL)
        break;
      *slot = snap;
      if (!kiln__xml_i64(px, m, "ebs/volumeSize", gib))
        *gib = 0;
    }
    if (im->image_id == NULL && px->err == 0)
      px->err = KILN_EPARSE;
  }
  *next = kiln__xml_str(px, res->xml, "nextToken");
  return px->err;
}

const struct kiln__op_desc kiln__ec2_describe_images_desc = {
    KILN_AWS_EC2, "DescribeImages", NULL, NULL, "NextToken", parse_images};

int kiln_ec2_describe_images(struct kiln_aws_client *client,
                             const struct kiln_ec2_describe_images_request *req,
                             struct kiln_arena *arena,
                             struct kiln_ec2_images *out, kiln_aws_done_cb *cb,
                             void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_describe_images_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_describe_images_desc, &b, arena, out,
                        sizeof(*out), cb, data);
}

/* ---- CopyImage ---- */

int kiln__ec2_copy_image_body(const struct kiln_ec2_copy_image_request *r,
                              struct kiln__op_body *b)
{
  char pre[64];

  init(b, "CopyImage");
  if (r->source_region == NULL || r->source_image_id == NULL || r->name == NULL)
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->client_token, "ClientToken");
  kiln__query_str(&b->query, r->description, "Description");
  kiln__query_str(&b->query, r->name, "Name");
  kiln__query_str(&b->query, r->source_image_id, "SourceImageId");
  kiln__query_str(&b->query, r->source_region, "SourceRegion");
  for (size_t i = 0; i < r->tag_spec_count; i++) {
    snprintf(pre, sizeof(pre), "TagSpecification.%zu", i + 1);
    kiln__query_str(&b->query, r->tag_specs[i].resource_type, "%s.ResourceType",
                    pre);
    snprintf(pre, sizeof(pre), "TagSpecification.%zu.Tag", i + 1);
    tags(&b->query, pre, r->tag_specs[i].tags, r->tag_specs[i].tag_count);
  }
  return b->query.err;
}

static int parse_copied(struct kiln__px *px, void *out,
                        const struct kiln_aws_response *res, const char **next)
{
  struct kiln_ec2_copied_image *o = out;

  (void)next;
  if (!expect_root(res, "CopyImageResponse"))
    return KILN_EPARSE;
  o->image_id = kiln__xml_str(px, res->xml, "imageId");
  return px->err != 0 ? px->err : o->image_id == NULL ? KILN_EPARSE : 0;
}

const struct kiln__op_desc kiln__ec2_copy_image_desc = {
    KILN_AWS_EC2, "CopyImage", NULL, NULL, NULL, parse_copied};

int kiln_ec2_copy_image(struct kiln_aws_client *client,
                        const struct kiln_ec2_copy_image_request *req,
                        struct kiln_arena *arena,
                        struct kiln_ec2_copied_image *out, kiln_aws_done_cb *cb,
                        void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_copy_image_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_copy_image_desc, &b, arena, out,
                        sizeof(*out), cb, data);
}

/* ---- ModifyImageAttribute / ModifySnapshotAttribute ---- */

static int parse_return(struct kiln__px *px, void *out,
                        const struct kiln_aws_response *res, const char **next);

/* LaunchPermission.Add.N.UserId for an AMI; for a snapshot, the form
 * every EC2 implementation takes: Attribute, OperationType and UserId.N
 * (AWS takes CreateVolumePermission.Add.N.UserId too). */
static int share_body(const struct kiln_ec2_share_request *r,
                      struct kiln__op_body *b, const char *action,
                      const char *id_member, const char *list)
{
  init(b, action);
  if (r->resource_id == NULL || r->account_count == 0)
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->resource_id, "%s", id_member);
  if (list == NULL) {
    kiln__query_str(&b->query, "createVolumePermission", "Attribute");
    kiln__query_str(&b->query, "add", "OperationType");
  }
  for (size_t i = 0; i < r->account_count; i++)
    if (list != NULL)
      kiln__query_str(&b->query, r->account_ids[i], "%s.Add.%zu.UserId", list,
                      i + 1);
    else
      kiln__query_str(&b->query, r->account_ids[i], "UserId.%zu", i + 1);
  return b->query.err;
}

int kiln__ec2_share_image_body(const struct kiln_ec2_share_request *r,
                               struct kiln__op_body *b)
{
  return share_body(r, b, "ModifyImageAttribute", "ImageId",
                    "LaunchPermission");
}

int kiln__ec2_share_snapshot_body(const struct kiln_ec2_share_request *r,
                                  struct kiln__op_body *b)
{
  return share_body(r, b, "ModifySnapshotAttribute", "SnapshotId", NULL);
}

const struct kiln__op_desc kiln__ec2_share_image_desc = {
    KILN_AWS_EC2, "ModifyImageAttribute", NULL, NULL, NULL, parse_return};
const struct kiln__op_desc kiln__ec2_share_snapshot_desc = {
    KILN_AWS_EC2, "ModifySnapshotAttribute", NULL, NULL, NULL, parse_return};

int kiln_ec2_share_image(struct kiln_aws_client *client,
                         const struct kiln_ec2_share_request *req,
                         kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_share_image_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_share_image_desc, &b, NULL, NULL, 0,
                        cb, data);
}

int kiln_ec2_share_snapshot(struct kiln_aws_client *client,
                            const struct kiln_ec2_share_request *req,
                            kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_share_snapshot_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_share_snapshot_desc, &b, NULL, NULL,
                        0, cb, data);
}

/* ---- CreateTags ---- */

int kiln__ec2_create_tags_body(const struct kiln_ec2_create_tags_request *r,
                               struct kiln__op_body *b)
{
  init(b, "CreateTags");
  if (r->resource_id_count == 0 || r->tag_count == 0)
    b->query.err = KILN_EINVAL;
  strs(&b->query, "ResourceId", r->resource_ids, r->resource_id_count);
  tags(&b->query, "Tag", r->tags, r->tag_count);
  return b->query.err;
}

/* CreateTags and DeleteTags answer <...Response> with <return>true</return>
 * (botocore models no output, and some emulators leave it out). */
static int parse_return(struct kiln__px *px, void *out,
                        const struct kiln_aws_response *res, const char **next)
{
  int ok = 1;

  (void)out;
  (void)next;
  char root[64];

  snprintf(root, sizeof(root), "%sResponse", res->action);
  if (!expect_root(res, root))
    return KILN_EPARSE;
  kiln__xml_bool(px, res->xml, "return", &ok);
  return px->err != 0 ? px->err : ok ? 0 : KILN_EPARSE;
}

const struct kiln__op_desc kiln__ec2_create_tags_desc = {
    KILN_AWS_EC2, "CreateTags", NULL, NULL, NULL, parse_return};

int kiln_ec2_create_tags(struct kiln_aws_client *client,
                         const struct kiln_ec2_create_tags_request *req,
                         kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_create_tags_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_create_tags_desc, &b, NULL, NULL, 0,
                        cb, data);
}

/* ---- DeleteTags ---- */

int kiln__ec2_delete_tags_body(const struct kiln_ec2_delete_tags_request *r,
                               struct kiln__op_body *b)
{
  init(b, "DeleteTags");
  if (r->resource_id_count == 0 || r->key_count == 0)
    b->query.err = KILN_EINVAL;
  strs(&b->query, "ResourceId", r->resource_ids, r->resource_id_count);
  for (size_t i = 0; i < r->key_count; i++)
    kiln__query_str(&b->query, r->keys[i], "Tag.%zu.Key", i + 1);
  return b->query.err;
}

const struct kiln__op_desc kiln__ec2_delete_tags_desc = {
    KILN_AWS_EC2, "DeleteTags", NULL, NULL, NULL, parse_return};

int kiln_ec2_delete_tags(struct kiln_aws_client *client,
                         const struct kiln_ec2_delete_tags_request *req,
                         kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_delete_tags_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_delete_tags_desc, &b, NULL, NULL, 0,
                        cb, data);
}

/* ---- DescribeLaunchTemplates ---- */

int kiln__ec2_describe_launch_templates_body(
    const struct kiln_ec2_describe_launch_templates_request *r,
    struct kiln__op_body *b)
{
  init(b, "DescribeLaunchTemplates");
  strs(&b->query, "LaunchTemplateName", r->names, r->name_count);
  strs(&b->query, "LaunchTemplateId", r->ids, r->id_count);
  filters(&b->query, r->filters, r->filter_count);
  if (r->max_results > 0)
    kiln__query_i64(&b->query, r->max_results, "MaxResults");
  return b->query.err;
}

static void parse_template(struct kiln__px *px, const struct kiln_xml_node *e,
                           struct kiln_ec2_launch_template *t)
{
  t->id = kiln__xml_str(px, e, "launchTemplateId");
  t->name = kiln__xml_str(px, e, "launchTemplateName");
  kiln__xml_i64(px, e, "defaultVersionNumber", &t->default_version);
  kiln__xml_i64(px, e, "latestVersionNumber", &t->latest_version);
  t->create_time = kiln__xml_str(px, e, "createTime");
  parse_tags(px, e, &t->tags, &t->tag_count);
  if (t->id == NULL && px->err == 0)
    px->err = KILN_EPARSE;
}

static int parse_templates(struct kiln__px *px, void *out,
                           const struct kiln_aws_response *res,
                           const char **next)
{
  struct kiln_ec2_launch_templates *o = out;

  if (!expect_root(res, "DescribeLaunchTemplatesResponse"))
    return KILN_EPARSE;
  for (const struct kiln_xml_node *e =
           kiln__xml_first(kiln__xml_find(res->xml, "launchTemplates"), "item");
       e != NULL; e = kiln__xml_next(e)) {
    struct kiln_ec2_launch_template *t =
        kiln__vec_push(px, &o->templates, &o->count, sizeof(*t));

    if (t == NULL)
      break;
    parse_template(px, e, t);
  }
  *next = kiln__xml_str(px, res->xml, "nextToken");
  return px->err;
}

const struct kiln__op_desc kiln__ec2_describe_launch_templates_desc = {
    KILN_AWS_EC2,   "DescribeLaunchTemplates", NULL, NULL, "NextToken",
    parse_templates};

int kiln_ec2_describe_launch_templates(
    struct kiln_aws_client *client,
    const struct kiln_ec2_describe_launch_templates_request *req,
    struct kiln_arena *arena, struct kiln_ec2_launch_templates *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_describe_launch_templates_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_describe_launch_templates_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}

/* ---- DescribeLaunchTemplateVersions ---- */

int kiln__ec2_describe_launch_template_versions_body(
    const struct kiln_ec2_describe_launch_template_versions_request *r,
    struct kiln__op_body *b)
{
  init(b, "DescribeLaunchTemplateVersions");
  kiln__query_str(&b->query, r->launch_template_id, "LaunchTemplateId");
  kiln__query_str(&b->query, r->launch_template_name, "LaunchTemplateName");
  strs(&b->query, "LaunchTemplateVersion", r->versions, r->version_count);
  if (r->max_results > 0)
    kiln__query_i64(&b->query, r->max_results, "MaxResults");
  return b->query.err;
}

static void parse_version(struct kiln__px *px, const struct kiln_xml_node *e,
                          struct kiln_ec2_launch_template_version *v)
{
  v->launch_template_id = kiln__xml_str(px, e, "launchTemplateId");
  v->launch_template_name = kiln__xml_str(px, e, "launchTemplateName");
  if (!kiln__xml_i64(px, e, "versionNumber", &v->version_number) &&
      px->err == 0)
    px->err = KILN_EPARSE;
  kiln__xml_bool(px, e, "defaultVersion", &v->default_version);
  v->description = kiln__xml_str(px, e, "versionDescription");
  v->create_time = kiln__xml_str(px, e, "createTime");
  parse_lt_data(px, kiln__xml_find(e, "launchTemplateData"), &v->data);
}

static int parse_versions(struct kiln__px *px, void *out,
                          const struct kiln_aws_response *res,
                          const char **next)
{
  struct kiln_ec2_launch_template_versions *o = out;

  if (!expect_root(res, "DescribeLaunchTemplateVersionsResponse"))
    return KILN_EPARSE;
  for (const struct kiln_xml_node *e = kiln__xml_first(
           kiln__xml_find(res->xml, "launchTemplateVersionSet"), "item");
       e != NULL; e = kiln__xml_next(e)) {
    struct kiln_ec2_launch_template_version *v =
        kiln__vec_push(px, &o->versions, &o->count, sizeof(*v));

    if (v == NULL)
      break;
    parse_version(px, e, v);
  }
  *next = kiln__xml_str(px, res->xml, "nextToken");
  return px->err;
}

const struct kiln__op_desc kiln__ec2_describe_launch_template_versions_desc = {
    KILN_AWS_EC2,  "DescribeLaunchTemplateVersions", NULL, NULL, "NextToken",
    parse_versions};

int kiln_ec2_describe_launch_template_versions(
    struct kiln_aws_client *client,
    const struct kiln_ec2_describe_launch_template_versions_request *req,
    struct kiln_arena *arena, struct kiln_ec2_launch_template_versions *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_describe_launch_template_versions_body(req, &b);
  return kiln__op_start(client,
                        &kiln__ec2_describe_launch_template_versions_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}

/* ---- CreateLaunchTemplate ---- */

int kiln__ec2_create_launch_template_body(
    const struct kiln_ec2_create_launch_template_request *r,
    struct kiln__op_body *b)
{
  init(b, "CreateLaunchTemplate");
  if (r->name == NULL)
    b->query.err = KILN_EINVAL;
  kiln__op_token(b, "ClientToken", r->client_token, r->derive_token);
  kiln__query_str(&b->query, r->name, "LaunchTemplateName");
  kiln__query_str(&b->query, r->version_description, "VersionDescription");
  lt_data(&b->query, &r->data);
  if (r->tag_count > 0) {
    kiln__query_str(&b->query, "launch-template",
                    "TagSpecification.1.ResourceType");
    tags(&b->query, "TagSpecification.1.Tag", r->tags, r->tag_count);
  }
  return b->query.err;
}

static int parse_one_template(struct kiln__px *px, void *out,
                              const struct kiln_aws_response *res,
                              const char **next)
{
  const struct kiln_xml_node *e = kiln__xml_find(res->xml, "launchTemplate");

  (void)next;
  if (e == NULL)
    return KILN_EPARSE;
  parse_template(px, e, out);
  return px->err;
}

const struct kiln__op_desc kiln__ec2_create_launch_template_desc = {
    KILN_AWS_EC2, "CreateLaunchTemplate", NULL, NULL, NULL, parse_one_template};

int kiln_ec2_create_launch_template(
    struct kiln_aws_client *client,
    const struct kiln_ec2_create_launch_template_request *req,
    struct kiln_arena *arena, struct kiln_ec2_launch_template *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_create_launch_template_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_create_launch_template_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}

/* ---- CreateLaunchTemplateVersion ---- */

int kiln__ec2_create_launch_template_version_body(
    const struct kiln_ec2_create_launch_template_version_request *r,
    struct kiln__op_body *b)
{
  init(b, "CreateLaunchTemplateVersion");
  if ((r->launch_template_id == NULL) == (r->launch_template_name == NULL))
    b->query.err = KILN_EINVAL;
  kiln__op_token(b, "ClientToken", r->client_token, r->derive_token);
  kiln__query_str(&b->query, r->launch_template_id, "LaunchTemplateId");
  kiln__query_str(&b->query, r->launch_template_name, "LaunchTemplateName");
  kiln__query_str(&b->query, r->source_version, "SourceVersion");
  kiln__query_str(&b->query, r->version_description, "VersionDescription");
  lt_data(&b->query, &r->data);
  return b->query.err;
}

static int parse_one_version(struct kiln__px *px, void *out,
                             const struct kiln_aws_response *res,
                             const char **next)
{
  const struct kiln_xml_node *e =
      kiln__xml_find(res->xml, "launchTemplateVersion");

  (void)next;
  if (e == NULL)
    return KILN_EPARSE;
  parse_version(px, e, out);
  return px->err;
}

const struct kiln__op_desc kiln__ec2_create_launch_template_version_desc = {
    KILN_AWS_EC2,     "CreateLaunchTemplateVersion", NULL, NULL, NULL,
    parse_one_version};

int kiln_ec2_create_launch_template_version(
    struct kiln_aws_client *client,
    const struct kiln_ec2_create_launch_template_version_request *req,
    struct kiln_arena *arena, struct kiln_ec2_launch_template_version *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_create_launch_template_version_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_create_launch_template_version_desc,
                        &b, arena, out, sizeof(*out), cb, data);
}

/* ---- ModifyLaunchTemplate ---- */

int kiln__ec2_modify_launch_template_body(
    const struct kiln_ec2_modify_launch_template_request *r,
    struct kiln__op_body *b)
{
  init(b, "ModifyLaunchTemplate");
  if ((r->launch_template_id == NULL) == (r->launch_template_name == NULL) ||
      r->default_version == NULL)
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->client_token, "ClientToken");
  kiln__query_str(&b->query, r->launch_template_id, "LaunchTemplateId");
  kiln__query_str(&b->query, r->launch_template_name, "LaunchTemplateName");
  kiln__query_str(&b->query, r->default_version, "SetDefaultVersion");
  return b->query.err;
}

const struct kiln__op_desc kiln__ec2_modify_launch_template_desc = {
    KILN_AWS_EC2, "ModifyLaunchTemplate", NULL, NULL, NULL, parse_one_template};

int kiln_ec2_modify_launch_template(
    struct kiln_aws_client *client,
    const struct kiln_ec2_modify_launch_template_request *req,
    struct kiln_arena *arena, struct kiln_ec2_launch_template *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_modify_launch_template_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_modify_launch_template_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}

/* ---- DescribeInstances ---- */

int kiln__ec2_describe_instances_body(
    const struct kiln_ec2_describe_instances_request *r,
    struct kiln__op_body *b)
{
  init(b, "DescribeInstances");
  strs(&b->query, "InstanceId", r->instance_ids, r->instance_id_count);
  filters(&b->query, r->filters, r->filter_count);
  if (r->max_results > 0)
    kiln__query_i64(&b->query, r->max_results, "MaxResults");
  return b->query.err;
}

static int parse_instances(struct kiln__px *px, void *out,
                           const struct kiln_aws_response *res,
                           const char **next)
{
  struct kiln_ec2_instances *o = out;

  if (!expect_root(res, "DescribeInstancesResponse"))
    return KILN_EPARSE;
  for (const struct kiln_xml_node *r =
           kiln__xml_first(kiln__xml_find(res->xml, "reservationSet"), "item");
       r != NULL; r = kiln__xml_next(r)) {
    for (const struct kiln_xml_node *e =
             kiln__xml_first(kiln__xml_find(r, "instancesSet"), "item");
         e != NULL; e = kiln__xml_next(e)) {
      struct kiln_ec2_instance *in =
          kiln__vec_push(px, &o->instances, &o->count, sizeof(*in));

      if (in == NULL)
        return px->err;
      in->instance_id = kiln__xml_str(px, e, "instanceId");
      in->state = kiln__xml_str(px, e, "instanceState/name");
      in->image_id = kiln__xml_str(px, e, "imageId");
      in->subnet_id = kiln__xml_str(px, e, "subnetId");
      parse_tags(px, e, &in->tags, &in->tag_count);
      for (size_t i = 0; i < in->tag_count; i++) {
        if (strcmp(in->tags[i].key, "aws:ec2launchtemplate:id") == 0)
          in->launch_template_id = in->tags[i].value;
        else if (strcmp(in->tags[i].key, "aws:ec2launchtemplate:version") == 0)
          in->launch_template_version = in->tags[i].value;
      }
      if (in->instance_id == NULL && px->err == 0)
        px->err = KILN_EPARSE;
    }
  }
  *next = kiln__xml_str(px, res->xml, "nextToken");
  return px->err;
}

const struct kiln__op_desc kiln__ec2_describe_instances_desc = {
    KILN_AWS_EC2, "DescribeInstances", NULL,
    NULL,         "NextToken",         parse_instances};

int kiln_ec2_describe_instances(
    struct kiln_aws_client *client,
    const struct kiln_ec2_describe_instances_request *req,
    struct kiln_arena *arena, struct kiln_ec2_instances *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_describe_instances_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_describe_instances_desc, &b, arena,
                        out, sizeof(*out), cb, data);
}

/* ---- DeregisterImage / DeleteSnapshot ---- */

const struct kiln__op_desc kiln__ec2_deregister_image_desc = {
    KILN_AWS_EC2, "DeregisterImage", NULL, NULL, NULL, parse_return};
const struct kiln__op_desc kiln__ec2_delete_snapshot_desc = {
    KILN_AWS_EC2, "DeleteSnapshot", NULL, NULL, NULL, parse_return};

static int one_id_call(struct kiln_aws_client *client,
                       const struct kiln__op_desc *desc, const char *member,
                       const char *id, kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (id == NULL)
    return KILN_EINVAL;
  init(&b, desc->action);
  kiln__query_str(&b.query, id, "%s", member);
  return kiln__op_start(client, desc, &b, NULL, NULL, 0, cb, data);
}

int kiln_ec2_deregister_image(struct kiln_aws_client *client,
                              const char *image_id, kiln_aws_done_cb *cb,
                              void *data)
{
  return one_id_call(client, &kiln__ec2_deregister_image_desc, "ImageId",
                     image_id, cb, data);
}

int kiln_ec2_delete_snapshot(struct kiln_aws_client *client,
                             const char *snapshot_id, kiln_aws_done_cb *cb,
                             void *data)
{
  return one_id_call(client, &kiln__ec2_delete_snapshot_desc, "SnapshotId",
                     snapshot_id, cb, data);
}

/* ---- DescribeSnapshots ---- */

int kiln__ec2_describe_snapshots_body(
    const struct kiln_ec2_describe_snapshots_request *r,
    struct kiln__op_body *b)
{
  init(b, "DescribeSnapshots");
  strs(&b->query, "Owner", r->owners, r->owner_count);
  filters(&b->query, r->filters, r->filter_count);
  if (r->max_results > 0)
    kiln__query_i64(&b->query, r->max_results, "MaxResults");
  return b->query.err;
}

static int parse_snapshots(struct kiln__px *px, void *out,
                           const struct kiln_aws_response *res,
                           const char **next)
{
  struct kiln_ec2_snapshots *o = out;

  if (!expect_root(res, "DescribeSnapshotsResponse"))
    return KILN_EPARSE;
  for (const struct kiln_xml_node *e =
           kiln__xml_first(kiln__xml_find(res->xml, "snapshotSet"), "item");
       e != NULL; e = kiln__xml_next(e)) {
    struct kiln_ec2_snapshot *sn =
        kiln__vec_push(px, &o->snapshots, &o->count, sizeof(*sn));
    if (sn == NULL)
      break;
    sn->snapshot_id = kiln__xml_str(px, e, "snapshotId");
    if (!kiln__xml_i64(px, e, "volumeSize", &sn->volume_gib))
      sn->volume_gib = 0;
    parse_tags(px, e, &sn->tags, &sn->tag_count);
    if (sn->snapshot_id == NULL && px->err == 0)
      px->err = KILN_EPARSE;
  }
  *next = kiln__xml_str(px, res->xml, "nextToken");
  return px->err;
}

const struct kiln__op_desc kiln__ec2_describe_snapshots_desc = {
    KILN_AWS_EC2, "DescribeSnapshots", NULL, NULL, "NextToken",
    parse_snapshots};

int kiln_ec2_describe_snapshots(
    struct kiln_aws_client *client,
    const struct kiln_ec2_describe_snapshots_request *req,
    struct kiln_arena *arena, struct kiln_ec2_snapshots *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_describe_snapshots_body(req, &b);
  return kiln__op_start(client, &kiln__ec2_describe_snapshots_desc, &b, arena,
                        out, sizeof(*out), cb, data);
}

/* ---- DeleteLaunchTemplateVersions ---- */

int kiln__ec2_delete_launch_template_versions_body(
    const struct kiln_ec2_delete_launch_template_versions_request *r,
    struct kiln__op_body *b)
{
  init(b, "DeleteLaunchTemplateVersions");
  if (r->launch_template_id == NULL || r->version_count == 0 ||
      r->version_count > 200)
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->launch_template_id, "LaunchTemplateId");
  for (size_t i = 0; i < r->version_count; i++)
    kiln__query_i64(&b->query, r->versions[i], "LaunchTemplateVersion.%zu",
                    i + 1);
  return b->query.err;
}

static int parse_deleted_versions(struct kiln__px *px, void *out,
                                  const struct kiln_aws_response *res,
                                  const char **next)
{
  struct kiln_ec2_deleted_versions *o = out;

  (void)next;
  if (!expect_root(res, "DeleteLaunchTemplateVersionsResponse"))
    return KILN_EPARSE;
  for (const struct kiln_xml_node *e = kiln__xml_first(
           kiln__xml_find(res->xml,
                          "successfullyDeletedLaunchTemplateVersionSet"),
           "item");
       e != NULL; e = kiln__xml_next(e)) {
    int64_t *v = kiln__vec_push(px, &o->deleted, &o->n_deleted, sizeof(*v));
    if (v == NULL || !kiln__xml_i64(px, e, "versionNumber", v))
      break;
  }
  for (const struct kiln_xml_node *e = kiln__xml_first(
           kiln__xml_find(res->xml,
                          "unsuccessfullyDeletedLaunchTemplateVersionSet"),
           "item");
       e != NULL; e = kiln__xml_next(e)) {
    size_t n = o->n_refused;
    const char **why =
        kiln__vec_push(px, &o->refused_why, &n, sizeof(*why));
    int64_t *v = kiln__vec_push(px, &o->refused, &o->n_refused, sizeof(*v));
    if (v == NULL || why == NULL)
      break;
    kiln__xml_i64(px, e, "versionNumber", v);
    *why = kiln__xml_str(px, e, "responseError/message");
  }
  return px->err;
}

const struct kiln__op_desc kiln__ec2_delete_launch_template_versions_desc = {
    KILN_AWS_EC2, "DeleteLaunchTemplateVersions", NULL, NULL, NULL,
    parse_deleted_versions};

int kiln_ec2_delete_launch_template_versions(
    struct kiln_aws_client *client,
    const struct kiln_ec2_delete_launch_template_versions_request *req,
    struct kiln_arena *arena, struct kiln_ec2_deleted_versions *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__ec2_delete_launch_template_versions_body(req, &b);
  return kiln__op_start(client,
                        &kiln__ec2_delete_launch_template_versions_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}
