/* AWS endpoints: which URL to send a service's requests to, and the name
 * and region to sign them with.
 *
 * The URL comes from, in order (the AWS SDKs' "service-specific endpoints"):
 *   1. AWS_ENDPOINT_URL_<SERVICE> (EC2, AUTO_SCALING, IMAGEBUILDER, SSM, STS)
 *   2. AWS_ENDPOINT_URL
 *   3. endpoint_url under the service's key in the profile's services section
 *   4. endpoint_url in the profile
 *   5. the standard endpoint: https://<prefix>.<region>.<dns suffix>, with
 *      the DNS suffix of the region's partition (aws: amazonaws.com, aws-cn:
 *      amazonaws.com.cn, aws-us-gov: amazonaws.com, and the isolated
 *      partitions). STS is always regional.
 * Steps 1-4 are skipped when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (or the
 * profile's ignore_configured_endpoint_urls) is true.
 *
 * Pure functions; no I/O; reentrant.
 */
#ifndef KILN_AWS_ENDPOINT_H
#define KILN_AWS_ENDPOINT_H

#include "kiln/aws_config.h"

struct kiln_aws_service_info {
  const char *prefix;       /* endpoint prefix: "ec2", "autoscaling", ... */
  const char *signing_name; /* SigV4 service name */
  const char *env_suffix;   /* AWS_ENDPOINT_URL_<env_suffix> */
  const char *config_key;   /* key in a [services NAME] section */
  const char *display;      /* "EC2", "Auto Scaling", ... */
};

/* Static facts about a service; NULL for an out-of-range value. */
const struct kiln_aws_service_info *
kiln_aws_service_info(enum kiln_aws_service service);

/* Partition name ("aws", "aws-cn", "aws-us-gov", ...) and DNS suffix for a
 * region. A region that matches no partition's pattern is in "aws", as in
 * the SDKs. Returns 0, or KILN_EINVAL when region is not a lower-case DNS
 * label of at most 63 characters. */
int kiln_aws_partition_for_region(const char *region, const char **partition,
                                  const char **dns_suffix);

enum kiln_aws_endpoint_source {
  KILN_AWS_ENDPOINT_DEFAULT = 0,
  KILN_AWS_ENDPOINT_ENV_SERVICE,     /* AWS_ENDPOINT_URL_<SERVICE> */
  KILN_AWS_ENDPOINT_ENV_GLOBAL,      /* AWS_ENDPOINT_URL */
  KILN_AWS_ENDPOINT_PROFILE_SERVICE, /* services section */
  KILN_AWS_ENDPOINT_PROFILE_GLOBAL   /* profile endpoint_url */
};

#define KILN_AWS_ENDPOINT_URL_MAX 512

struct kiln_aws_endpoint {
  /* scheme://host[:port][/path], no trailing '/'. Requests append their
   * path ("/" for the query protocol). */
  char url[KILN_AWS_ENDPOINT_URL_MAX];
  /* host[:port] as it goes in the Host header (the port only when it is
   * not the scheme's default). */
  char host[256];
  char signing_region[64];
  const char *signing_name; /* static */
  const char *partition;    /* static */
  enum kiln_aws_endpoint_source source;
};

/* Resolves the endpoint of service in region (NULL: cfg->region) into out.
 * Returns 0, or KILN_EINVAL when there is no region or the region or a
 * configured URL is malformed (only http:// and https:// URLs with a host
 * and no user info, query or fragment are accepted). */
int kiln_aws_endpoint_resolve(const struct kiln_aws_config *cfg,
                              enum kiln_aws_service service, const char *region,
                              struct kiln_aws_endpoint *out);

/* Name of an endpoint source: "default", "AWS_ENDPOINT_URL_EC2",
 * "AWS_ENDPOINT_URL", "services section", "profile endpoint_url". For the
 * service-specific variable the name depends on the service, so this takes
 * both. Static string. */
const char *kiln_aws_endpoint_source_name(enum kiln_aws_endpoint_source src,
                                          enum kiln_aws_service service);

/* Splits an http(s) URL into scheme ("http"/"https"), host[:port] as a
 * Host header wants it, and the rest (path, "" when none). Returns 0 or
 * KILN_EINVAL. */
int kiln_aws_url_split(const char *url, char *scheme, size_t scheme_size,
                       char *host, size_t host_size, const char **path);

#endif
