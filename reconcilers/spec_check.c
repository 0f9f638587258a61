#include "spec_check.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool all_chars(const char *s, size_t n, const char *extra, bool upper)
{
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (islower(c) || isdigit(c) || (upper && isupper(c)))
      continue;
    if (c != '\0' && extra != NULL && strchr(extra, c) != NULL)
      continue;
    return false;
  }
  return true;
}

static bool is_hex_id(const char *s, const char *prefix)
{
  size_t p = strlen(prefix), n;
  if (strncmp(s, prefix, p) != 0)
    return false;
  n = strlen(s + p);
  if (n != 8 && n != 17)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isxdigit((unsigned char)s[p + i]) || isupper((unsigned char)s[p + i]))
      return false;
  return true;
}

const char *kiln__check_region(const char *s)
{
  /* us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5, cn-north-1 */
  const char *why = "must look like us-east-1";
  size_t n = strlen(s), i = 0, dashes = 0;
  if (n < 9 || n > 25 || !islower((unsigned char)s[0]) ||
      !islower((unsigned char)s[1]) || s[2] != '-')
    return why;
  for (i = 0; i < n; i++) {
    if (s[i] == '-') {
      if (i + 1 == n || s[i + 1] == '-')
        return why;
      dashes++;
    } else if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i])) {
      return why;
    }
  }
  /* The last part is the number, every other part letters. */
  const char *last = strrchr(s, '-') + 1;
  if (dashes < 2 || !all_chars(last, strlen(last), NULL, false) ||
      !isdigit((unsigned char)last[0]) || strlen(last) > 2)
    return why;
  for (const char *p = s; p < last - 1; p++)
    if (isdigit((unsigned char)*p))
      return why;
  return NULL;
}

const char *kiln__check_app_name(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 63 || !all_chars(s, n, "-", false) || s[0] == '-' ||
      s[n - 1] == '-')
    return "must be 1-63 lowercase letters, digits and '-', starting and "
           "ending with a letter or digit";
  return NULL;
}

const char *kiln__check_version(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 128 || !all_chars(s, n, "._+-~", true))
    return "must be 1-128 letters, digits and . _ + - ~";
  return NULL;
}

const char *kiln__check_ami_id(const char *s)
{
  return is_hex_id(s, "ami-") ? NULL
                              : "must be ami- followed by 8 or 17 hex digits";
}

const char *kiln__check_subnet_id(const char *s)
{
  return is_hex_id(s, "subnet-")
             ? NULL
             : "must be subnet- followed by 8 or 17 hex digits";
}

const char *kiln__check_sg_id(const char *s)
{
  return is_hex_id(s, "sg-") ? NULL
                             : "must be sg- followed by 8 or 17 hex digits";
}

const char *kiln__check_ssm_name(const char *s)
{
  /* SSM parameter names: letters, digits, . - _ and '/' separated
   * hierarchy levels (at most 15), 1011 characters in all. */
  size_t n = strlen(s), levels = 0;
  const char *why = "must be an SSM parameter name such as "
                    "/aws/service/ami-amazon-linux-latest/"
                    "al2023-ami-kernel-default-x86_64";
  if (n == 0 || n > 1011 || !all_chars(s, n, "._-/", true))
    return why;
  if (strstr(s, "//") != NULL || s[n - 1] == '/')
    return why;
  for (size_t i = 0; i < n; i++)
    levels += s[i] == '/';
  if (levels > 15)
    return "must have at most 15 hierarchy levels";
  return NULL;
}

/* One semantic version field: digits without leading zeros, or "x" when
 * wildcards are allowed. */
static bool version_field(const char *s, size_t n, bool wildcard)
{
  if (n == 1 && s[0] == 'x' && wildcard)
    return true;
  if (n == 0 || n > 9 || (n > 1 && s[0] == '0'))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i]))
      return false;
  return true;
}

static bool semver(const char *s, size_t n, bool wildcard)
{
  const char *end = s + n;
  for (int field = 0; field < 3; field++) {
    const char *dot = memchr(s, '.', (size_t)(end - s));
    const char *stop = field < 2 ? dot : end;
    if (stop == NULL || !version_field(s, (size_t)(stop - s), wildcard))
      return false;
    s = stop + 1;
  }
  return true;
}

const char *kiln__check_imagebuilder_arn(const char *s, const char *kind,
                                         const char **arn_region,
                                         int *region_len)
{
  /* arn:PARTITION:imagebuilder:REGION:(aws|ACCOUNT):KIND/NAME/VERSION[/BUILD]
   */
  const char *why = strcmp(kind, "image") == 0
                        ? "must be arn:aws:imagebuilder:REGION:ACCOUNT:"
                          "image/NAME/VERSION"
                        : "must be arn:aws:imagebuilder:REGION:ACCOUNT:"
                          "component/NAME/VERSION";
  const char *f[6];
  size_t len[6];
  const char *p = s;
  char region[32];

  for (int i = 0; i < 6; i++) {
    const char *c = i < 5 ? strchr(p, ':') : p + strlen(p);
    if (c == NULL)
      return why;
    f[i] = p;
    len[i] = (size_t)(c - p);
    p = c + 1;
  }
  if (len[0] != 3 || strncmp(f[0], "arn", 3) != 0)
    return why;
  if (!((len[1] == 3 && strncmp(f[1], "aws", 3) == 0) ||
        (len[1] == 6 && strncmp(f[1], "aws-cn", 6) == 0) ||
        (len[1] == 10 && strncmp(f[1], "aws-us-gov", 10) == 0)))
    return why;
  if (len[2] != 12 || strncmp(f[2], "imagebuilder", 12) != 0)
    return why;
  if (len[3] >= sizeof(region))
    return why;
  memcpy(region, f[3], len[3]);
  region[len[3]] = '\0';
  if (kiln__check_region(region) != NULL)
    return why;
  if (!(len[4] == 3 && strncmp(f[4], "aws", 3) == 0) &&
      !(len[4] == 12 && all_chars(f[4], 12, NULL, false) &&
        strspn(f[4], "0123456789") >= 12))
    return why;

  /* Resource: KIND/NAME/VERSION[/BUILD] */
  const char *res = f[5];
  size_t klen = strlen(kind);
  if (strncmp(res, kind, klen) != 0 || res[klen] != '/')
    return why;
  const char *name = res + klen + 1;
  const char *slash = strchr(name, '/');
  if (slash == NULL || slash == name || (size_t)(slash - name) > 128 ||
      !all_chars(name, (size_t)(slash - name), "-_", false))
    return why;
  const char *ver = slash + 1;
  const char *build = strchr(ver, '/');
  size_t vlen = build != NULL ? (size_t)(build - ver) : strlen(ver);
  if (!semver(ver, vlen, true))
    return "must name a semantic version such as 1.0.0 or x.x.x";
  if (build != NULL && !version_field(build + 1, strlen(build + 1), false))
    return why;
  *arn_region = f[3];
  *region_len = (int)len[3];
  return NULL;
}

const char *kiln__check_lt_name(const char *s)
{
  size_t n = strlen(s);
  if (n < 3 || n > 128 || !all_chars(s, n, "().-/_", true))
    return "must be 3-128 letters, digits and ( ) . - / _";
  return NULL;
}

const char *kiln__check_asg_name(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 255)
    return "must be 1-255 characters";
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == ':')
      return "must not contain control characters or ':'";
  return NULL;
}

const char *kiln__check_instance_type(const char *s)
{
  /* family[-variant].size: t3.micro, m7i-flex.large, u-6tb1.metal */
  const char *dot = strchr(s, '.');
  size_t n = strlen(s);
  if (n < 4 || n > 64 || dot == NULL || dot == s || dot[1] == '\0' ||
      strchr(dot + 1, '.') != NULL || !islower((unsigned char)s[0]) ||
      !all_chars(s, (size_t)(dot - s), "-", false) ||
      !all_chars(dot + 1, strlen(dot + 1), "-", false))
    return "must look like t3.micro";
  return NULL;
}

const char *kiln__check_instance_profile(const char *s)
{
  size_t n = strlen(s);
  if (strncmp(s, "arn:", 4) == 0) {
    if (strstr(s, ":iam::") == NULL ||
        strstr(s, ":instance-profile/") == NULL || n > 2048)
      return "must be an instance profile name or "
             "arn:aws:iam::ACCOUNT:instance-profile/NAME";
    return NULL;
  }
  if (n == 0 || n > 128 || !all_chars(s, n, "+=,.@-_", true))
    return "must be 1-128 letters, digits and + = , . @ - _";
  return NULL;
}

const char *kiln__check_tag_key(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 128)
    return "must be 1-128 characters";
  if (strncasecmp(s, "aws:", 4) == 0)
    return "must not start with 'aws:', which AWS reserves";
  if (strncasecmp(s, "kiln:", 5) == 0)
    return "must not start with 'kiln:', which Kiln reserves for its own "
           "tags";
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return "must not contain control characters";
  return NULL;
}

const char *kiln__check_tag_value(const char *s)
{
  size_t n = strlen(s);
  if (n > 256)
    return "must be at most 256 characters";
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return "must not contain control characters";
  return NULL;
}

const char *kiln__check_device_name(const char *s)
{
  size_t n = strlen(s);
  if (n < 7 || n > 32 || strncmp(s, "/dev/", 5) != 0 ||
      !all_chars(s + 5, n - 5, NULL, false))
    return "must be a device name such as /dev/xvda or /dev/sdf";
  return NULL;
}

const char *kiln__check_param_name(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 256 || !all_chars(s, n, "_-.", true))
    return "must be 1-256 letters, digits and _ - .";
  return NULL;
}

int kiln__edit_distance(const char *a, const char *b, int cap)
{
  size_t la = strlen(a), lb = strlen(b);
  int row[65];

  if (la > 64 || lb > 64)
    return cap + 1;
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int prev = row[0], best;
    row[0] = (int)i;
    best = row[0];
    for (size_t j = 1; j <= lb; j++) {
      int cur = row[j];
      int sub = prev + (tolower((unsigned char)a[i - 1]) ==
                                tolower((unsigned char)b[j - 1])
                            ? 0
                            : 1);
      int del = row[j] + 1, ins = row[j - 1] + 1;
      row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
      if (row[j] < best)
        best = row[j];
      prev = cur;
    }
    if (best > cap)
      return cap + 1;
  }
  return row[lb] <= cap ? row[lb] : cap + 1;
}
