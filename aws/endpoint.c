/* Endpoint resolution (see kiln/aws_endpoint.h). The partition table is
 * the part of botocore's endpoints.json that Kiln's five services need:
 * each of them is "<prefix>.<region>.<dnsSuffix>" in every partition.
 */
#include "kiln/aws_endpoint.h"
#include "kiln/error.h"

#include <stdio.h>
#include <string.h>

static const struct kiln_aws_service_info services[KILN_AWS_SERVICE_COUNT] = {
    [KILN_AWS_EC2] = {"ec2", "ec2", "EC2", "ec2", "EC2"},
    [KILN_AWS_AUTOSCALING] = {"autoscaling", "autoscaling", "AUTO_SCALING",
                              "auto_scaling", "Auto Scaling"},
    [KILN_AWS_IMAGEBUILDER] = {"imagebuilder", "imagebuilder", "IMAGEBUILDER",
                               "imagebuilder", "imagebuilder"},
    [KILN_AWS_SSM] = {"ssm", "ssm", "SSM", "ssm", "SSM"},
    [KILN_AWS_STS] = {"sts", "sts", "STS", "sts", "STS"},
};

const struct kiln_aws_service_info *
kiln_aws_service_info(enum kiln_aws_service service)
{
  if ((int)service < 0 || service >= KILN_AWS_SERVICE_COUNT)
    return NULL;
  return &services[service];
}

struct partition {
  const char *name;
  const char *dns_suffix;
  /* Region prefixes this partition's pattern accepts, each matched as
   * "<prefix>-<word>-<digits>". */
  const char *prefixes[10];
};

/* Most specific first: "us-gov-west-1" must not reach "aws" (whose pattern
 * rejects it anyway, but order keeps the intent plain). */
static const struct partition partitions[] = {
    {"aws-us-gov", "amazonaws.com", {"us-gov"}},
    {"aws-iso-b", "sc2s.sgov.gov", {"us-isob"}},
    {"aws-iso-f", "csp.hci.ic.gov", {"us-isof"}},
    {"aws-iso", "c2s.ic.gov", {"us-iso"}},
    {"aws-iso-e", "cloud.adc-e.uk", {"eu-isoe"}},
    {"aws-cn", "amazonaws.com.cn", {"cn"}},
    {"aws-eusc", "amazonaws.eu", {"eusc-de"}},
    {"aws",
     "amazonaws.com",
     {"us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"}},
};

static int is_word_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* region == prefix "-" word "-" digits */
static int region_matches(const char *region, const char *prefix)
{
  size_t pl = strlen(prefix);
  const char *p;

  if (strncmp(region, prefix, pl) != 0 || region[pl] != '-')
    return 0;
  p = region + pl + 1;
  if (!is_word_char(*p))
    return 0;
  while (is_word_char(*p))
    p++;
  if (*p++ != '-' || !(*p >= '0' && *p <= '9'))
    return 0;
  while (*p >= '0' && *p <= '9')
    p++;
  return *p == '\0';
}

static int valid_region(const char *r)
{
  size_t n = r != NULL ? strlen(r) : 0;
  if (n == 0 || n > 63 || r[0] == '-' || r[n - 1] == '-')
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = r[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return 0;
  }
  return 1;
}

int kiln_aws_partition_for_region(const char *region, const char **partition,
                                  const char **dns_suffix)
{
  const size_t count = sizeof(partitions) / sizeof(partitions[0]);

  if (!valid_region(region))
    return KILN_EINVAL;
  for (size_t i = 0; i < count; i++) {
    for (size_t j = 0; partitions[i].prefixes[j] != NULL; j++) {
      if (region_matches(region, partitions[i].prefixes[j])) {
        *partition = partitions[i].name;
        *dns_suffix = partitions[i].dns_suffix;
        return 0;
      }
    }
  }
  *partition = "aws";
  *dns_suffix = "amazonaws.com";
  return 0;
}

int kiln_aws_url_split(const char *url, char *scheme, size_t scheme_size,
                       char *host, size_t host_size, const char **path)
{
  const char *h, *end, *colon;
  size_t hl;
  int https;

  if (url == NULL)
    return KILN_EINVAL;
  if (strncmp(url, "https://", 8) == 0) {
    https = 1;
    h = url + 8;
  } else if (strncmp(url, "http://", 7) == 0) {
    https = 0;
    h = url + 7;
  } else {
    return KILN_EINVAL;
  }
  for (const char *p = url; *p != '\0'; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= ' ' || c == 0x7f || c == '"' || c == '\\' || c == '#' || c == '?')
      return KILN_EINVAL;
  }
  end = h + strcspn(h, "/");
  hl = (size_t)(end - h);
  if (hl == 0 || memchr(h, '@', hl) != NULL)
    return KILN_EINVAL;
  /* Drop a port equal to the scheme's default: the Host header (and so the
   * signature) must match what curl sends. */
  colon = NULL;
  for (const char *p = end; p > h; p--) {
    if (p[-1] == ']')
      break;
    if (p[-1] == ':') {
      colon = p - 1;
      break;
    }
  }
  if (colon != NULL) {
    size_t port_len = (size_t)(end - colon - 1);
    if (port_len == 0)
      hl = (size_t)(colon - h);
    else if ((https && port_len == 3 && memcmp(colon + 1, "443", 3) == 0) ||
             (!https && port_len == 2 && memcmp(colon + 1, "80", 2) == 0))
      hl = (size_t)(colon - h);
    for (const char *p = colon + 1; p < end; p++)
      if (*p < '0' || *p > '9')
        return KILN_EINVAL;
  }
  if (hl == 0 || hl >= host_size || scheme_size < 6)
    return KILN_EINVAL;
  memcpy(host, h, hl);
  host[hl] = '\0';
  strcpy(scheme, https ? "https" : "http");
  if (path != NULL)
    *path = end;
  return 0;
}

int kiln_aws_endpoint_resolve(const struct kiln_aws_config *cfg,
                              enum kiln_aws_service service, const char *region,
                              struct kiln_aws_endpoint *out)
{
  const struct kiln_aws_service_info *info = kiln_aws_service_info(service);
  const char *url = NULL, *partition, *suffix, *path;
  enum kiln_aws_endpoint_source src = KILN_AWS_ENDPOINT_DEFAULT;
  char scheme[8];
  size_t n;
  int err, len;

  if (info == NULL || cfg == NULL)
    return KILN_EINVAL;
  if (region == NULL)
    region = cfg->region;
  if ((err = kiln_aws_partition_for_region(region, &partition, &suffix)) != 0)
    return err;
  memset(out, 0, sizeof(*out));

  if (!cfg->ignore_configured_endpoint_urls) {
    if (cfg->endpoint_url_service_env[service] != NULL) {
      url = cfg->endpoint_url_service_env[service];
      src = KILN_AWS_ENDPOINT_ENV_SERVICE;
    } else if (cfg->endpoint_url_env != NULL) {
      url = cfg->endpoint_url_env;
      src = KILN_AWS_ENDPOINT_ENV_GLOBAL;
    } else if (cfg->endpoint_url_service_profile[service] != NULL) {
      url = cfg->endpoint_url_service_profile[service];
      src = KILN_AWS_ENDPOINT_PROFILE_SERVICE;
    } else if (cfg->endpoint_url_profile != NULL) {
      url = cfg->endpoint_url_profile;
      src = KILN_AWS_ENDPOINT_PROFILE_GLOBAL;
    }
  }

  if (url != NULL) {
    err = kiln_aws_url_split(url, scheme, sizeof(scheme), out->host,
                             sizeof(out->host), &path);
    if (err != 0)
      return err;
    n = strlen(path);
    while (n > 0 && path[n - 1] == '/')
      n--;
    len = snprintf(out->url, sizeof(out->url), "%s://%s%.*s", scheme, out->host,
                   (int)n, path);
  } else {
    len = snprintf(out->host, sizeof(out->host), "%s.%s.%s", info->prefix,
                   region, suffix);
    if (len < 0 || (size_t)len >= sizeof(out->host))
      return KILN_EINVAL;
    len = snprintf(out->url, sizeof(out->url), "https://%s", out->host);
  }
  if (len < 0 || (size_t)len >= sizeof(out->url))
    return KILN_EINVAL;
  snprintf(out->signing_region, sizeof(out->signing_region), "%s", region);
  out->signing_name = info->signing_name;
  out->partition = partition;
  out->source = src;
  return 0;
}

const char *kiln_aws_endpoint_source_name(enum kiln_aws_endpoint_source src,
                                          enum kiln_aws_service service)
{
  static const char *const service_vars[KILN_AWS_SERVICE_COUNT] = {
      [KILN_AWS_EC2] = "AWS_ENDPOINT_URL_EC2",
      [KILN_AWS_AUTOSCALING] = "AWS_ENDPOINT_URL_AUTO_SCALING",
      [KILN_AWS_IMAGEBUILDER] = "AWS_ENDPOINT_URL_IMAGEBUILDER",
      [KILN_AWS_SSM] = "AWS_ENDPOINT_URL_SSM",
      [KILN_AWS_STS] = "AWS_ENDPOINT_URL_STS",
  };

  switch (src) {
  case KILN_AWS_ENDPOINT_ENV_SERVICE:
    if ((int)service >= 0 && service < KILN_AWS_SERVICE_COUNT)
      return service_vars[service];
    return "AWS_ENDPOINT_URL_<SERVICE>";
  case KILN_AWS_ENDPOINT_ENV_GLOBAL:
    return "AWS_ENDPOINT_URL";
  case KILN_AWS_ENDPOINT_PROFILE_SERVICE:
    return "services section";
  case KILN_AWS_ENDPOINT_PROFILE_GLOBAL:
    return "profile endpoint_url";
  default:
    return "default";
  }
}
