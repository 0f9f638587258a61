/* Format checks for AWS identifiers and names in the spec. Pure functions:
 * each returns NULL when s is acceptable, or a static phrase saying what the
 * value must look like (for "invalid X 'v': must ..." messages). */
#ifndef KILN_SPEC_CHECK_H
#define KILN_SPEC_CHECK_H

const char *kiln__check_region(const char *s);
const char *kiln__check_app_name(const char *s);
const char *kiln__check_version(const char *s);
const char *kiln__check_ami_id(const char *s);
const char *kiln__check_subnet_id(const char *s);
const char *kiln__check_sg_id(const char *s);
const char *kiln__check_ssm_name(const char *s);
/* kind: "component" or "image". On success *arn_region points into s at the
 * region field (length in *region_len). */
const char *kiln__check_imagebuilder_arn(const char *s, const char *kind,
                                         const char **arn_region,
                                         int *region_len);
const char *kiln__check_lt_name(const char *s);
const char *kiln__check_asg_name(const char *s);
const char *kiln__check_instance_type(const char *s);
const char *kiln__check_instance_profile(const char *s);
const char *kiln__check_tag_key(const char *s);
const char *kiln__check_tag_value(const char *s);
const char *kiln__check_device_name(const char *s);
const char *kiln__check_param_name(const char *s);

/* Edit distance, capped: returns cap+1 when the distance exceeds cap. */
int kiln__edit_distance(const char *a, const char *b, int cap);

#endif
