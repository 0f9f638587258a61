/* AWS configuration: the shared config and credentials files, environment
 * variables, and what they resolve to (profile, region, endpoints' inputs,
 * retry settings, credential-source settings).
 *
 * Resolution is a pure function of two injected functions: an environment
 * lookup and a file reader. Nothing here reads the real environment or the
 * file system unless the caller passes kiln_aws_config_real_getenv() and
 * kiln_aws_config_real_read_file(). Tests pass tables.
 *
 * Files are parsed the way the AWS SDKs parse them:
 *   - in the config file, "[default]" and "[profile NAME]" are profiles
 *     ("[profile default]" wins over "[default]"), "[services NAME]" and
 *     "[sso-session NAME]" are their own kinds, any other section is
 *     ignored; in the credentials file every "[NAME]" is a profile;
 *   - lines starting with '#' or ';' are comments, as is the rest of a
 *     property line after whitespace followed by '#' or ';';
 *   - keys are case-insensitive (stored lower-case), keys and values are
 *     trimmed, a later duplicate key wins, duplicate sections merge;
 *   - an indented line continues the previous value, unless that value was
 *     empty ("s3 =") in which case indented "k = v" lines are nested
 *     sub-properties: kept for the services section, ignored elsewhere;
 *   - a file is at most KILN_AWS_CONFIG_MAX_FILE_BYTES.
 * A property found in the credentials file wins over the same property of
 * the same profile in the config file.
 *
 * Secrets (keys, tokens) read from files or the environment are wiped when
 * the config is cleaned up.
 *
 * Threading: none; the functions are reentrant.
 */
#ifndef KILN_AWS_CONFIG_H
#define KILN_AWS_CONFIG_H

#include <stddef.h>

struct kiln_buf;

#define KILN_AWS_CONFIG_MAX_FILE_BYTES (1024u * 1024u)

/* Returns the value of the environment variable name, or NULL when unset.
 * The result need only stay valid until the next call. */
typedef const char *kiln_aws_getenv_fn(void *arg, const char *name);

/* Appends the contents of the file at path to out (whose max_bytes bounds
 * the read). Returns 0, KILN_ENOENT when the file does not exist,
 * KILN_ETOOBIG, KILN_EPERM or KILN_EIO. */
typedef int kiln_aws_read_file_fn(void *arg, const char *path,
                                  struct kiln_buf *out);

/* The process environment (getenv(3)); arg is ignored. */
const char *kiln_aws_config_real_getenv(void *arg, const char *name);

/* Reads a real file with kiln_file_read(): like the AWS SDKs, any readable
 * file that is not a directory (/dev/null reads as empty; a FIFO or a
 * /proc/self/fd/N is read up to the limit); arg is ignored. */
int kiln_aws_config_real_read_file(void *arg, const char *path,
                                   struct kiln_buf *out);

/* ---- INI files -------------------------------------------------------- */

enum kiln_aws_ini_kind {
  KILN_AWS_INI_CONFIG,     /* ~/.aws/config rules */
  KILN_AWS_INI_CREDENTIALS /* ~/.aws/credentials rules */
};

enum kiln_aws_section_kind {
  KILN_AWS_SECTION_PROFILE,
  KILN_AWS_SECTION_SERVICES,
  KILN_AWS_SECTION_SSO_SESSION,
  KILN_AWS_SECTION_OTHER /* kept, never used for lookups */
};

struct kiln_aws_ini_prop {
  const char *key;    /* lower-case */
  const char *subkey; /* NULL for a top-level property, else nested key */
  const char *value;  /* "" when empty */
  unsigned line;
};

struct kiln_aws_ini_section {
  enum kiln_aws_section_kind kind;
  const char *name; /* profile/services name, without the "profile " */
  int prefixed;     /* config file "[profile NAME]" rather than "[NAME]" */
  struct kiln_aws_ini_prop *props;
  size_t prop_count;
  unsigned line;
};

struct kiln_aws_ini {
  struct kiln_aws_ini_section *sections;
  size_t section_count;
  /* Private: storage, strings wiped on cleanup. */
  struct kiln_aws_ini_prop *props_;
  char *strings_;
  size_t strings_cap_;
};

/* Parses text[0..len) into ini (caller's storage, filled on success only).
 * Returns 0, KILN_ETOOBIG (over KILN_AWS_CONFIG_MAX_FILE_BYTES), KILN_ENOMEM
 * or KILN_EPARSE; on KILN_EPARSE *err_line (if not NULL) is the 1-based
 * line. text is not kept. */
int kiln_aws_ini_parse(struct kiln_aws_ini *ini, enum kiln_aws_ini_kind kind,
                       const char *text, size_t len, unsigned *err_line);

/* Wipes and frees. Safe on a zeroed struct. */
void kiln_aws_ini_cleanup(struct kiln_aws_ini *ini);

/* Value of top-level key in the section(s) of kind and name, or NULL. For
 * profiles in a config file, "[profile NAME]" sections hide "[NAME]"
 * sections. Later sections and later keys win. */
const char *kiln_aws_ini_get(const struct kiln_aws_ini *ini,
                             enum kiln_aws_section_kind kind, const char *name,
                             const char *key);

/* Value of a nested key ("ec2 =\n  endpoint_url = ..."), or NULL. */
const char *kiln_aws_ini_get_sub(const struct kiln_aws_ini *ini,
                                 enum kiln_aws_section_kind kind,
                                 const char *name, const char *key,
                                 const char *subkey);

/* 1 when a section of kind and name exists, else 0. */
int kiln_aws_ini_has(const struct kiln_aws_ini *ini,
                     enum kiln_aws_section_kind kind, const char *name);

/* ---- Resolved configuration ------------------------------------------- */

/* The services Kiln talks to. */
enum kiln_aws_service {
  KILN_AWS_EC2 = 0,
  KILN_AWS_AUTOSCALING,
  KILN_AWS_IMAGEBUILDER,
  KILN_AWS_SSM,
  KILN_AWS_STS,
  KILN_AWS_SERVICE_COUNT
};

enum kiln_aws_retry_mode {
  KILN_AWS_RETRY_STANDARD = 0,
  KILN_AWS_RETRY_LEGACY,
  KILN_AWS_RETRY_ADAPTIVE
};

#define KILN_AWS_DEFAULT_MAX_ATTEMPTS 3

struct kiln_aws_config_options {
  kiln_aws_getenv_fn *getenv; /* required */
  void *getenv_arg;
  kiln_aws_read_file_fn *read_file; /* required */
  void *read_file_arg;
};

/* The result of resolution. Every string is owned by the struct; NULL
 * means "not set". Fields named after a variable come from it, or from the
 * profile key in parentheses. */
struct kiln_aws_config {
  const char *profile;             /* AWS_PROFILE, else "default" */
  int profile_explicit;            /* AWS_PROFILE was set */
  int profile_exists;              /* in either file */
  const char *config_path;         /* AWS_CONFIG_FILE, else ~/.aws/config */
  const char *credentials_path;    /* AWS_SHARED_CREDENTIALS_FILE, else
                                      ~/.aws/credentials */
  struct kiln_aws_ini config_file; /* empty when the file is absent */
  struct kiln_aws_ini credentials_file; /* empty when the file is absent */

  const char *region;        /* AWS_REGION, AWS_DEFAULT_REGION, (region) */
  const char *region_source; /* "AWS_REGION", "AWS_DEFAULT_REGION",
                                "profile NAME" or NULL */
  const char *ca_bundle;     /* AWS_CA_BUNDLE (ca_bundle) */
  int max_attempts;          /* AWS_MAX_ATTEMPTS (max_attempts), >= 1 */
  enum kiln_aws_retry_mode retry_mode; /* AWS_RETRY_MODE (retry_mode) */

  /* Endpoint inputs; see kiln/aws_endpoint.h for how they combine. */
  int ignore_configured_endpoint_urls; /* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
                                          (ignore_configured_endpoint_urls) */
  const char *endpoint_url_env;        /* AWS_ENDPOINT_URL */
  const char *endpoint_url_profile;    /* (endpoint_url) */
  const char *services_section;        /* (services) */
  /* AWS_ENDPOINT_URL_<EC2|AUTO_SCALING|IMAGEBUILDER|SSM|STS> */
  const char *endpoint_url_service_env[KILN_AWS_SERVICE_COUNT];
  /* endpoint_url nested under the service's key (ec2, auto_scaling,
   * imagebuilder, ssm, sts) in the profile's [services NAME] section */
  const char *endpoint_url_service_profile[KILN_AWS_SERVICE_COUNT];

  /* Environment credentials. */
  const char *env_access_key_id;     /* AWS_ACCESS_KEY_ID */
  const char *env_secret_access_key; /* AWS_SECRET_ACCESS_KEY */
  const char *env_session_token;     /* AWS_SESSION_TOKEN */
  const char *env_account_id;        /* AWS_ACCOUNT_ID */

  /* Web identity from the environment. */
  const char *web_identity_token_file; /* AWS_WEB_IDENTITY_TOKEN_FILE */
  const char *role_arn;                /* AWS_ROLE_ARN */
  const char *role_session_name;       /* AWS_ROLE_SESSION_NAME */

  /* Container credentials. */
  const char
      *container_relative_uri;      /* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI */
  const char *container_full_uri;   /* AWS_CONTAINER_CREDENTIALS_FULL_URI */
  const char *container_token;      /* AWS_CONTAINER_AUTHORIZATION_TOKEN */
  const char *container_token_file; /* AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE */

  /* Instance metadata (IMDSv2 only). */
  int imds_disabled;         /* AWS_EC2_METADATA_DISABLED=true */
  const char *imds_endpoint; /* AWS_EC2_METADATA_SERVICE_ENDPOINT
                                (ec2_metadata_service_endpoint), else from
                                the endpoint mode */
  long imds_timeout_ms;      /* AWS_METADATA_SERVICE_TIMEOUT (s), 1000 */

  /* Private: owned strings, wiped on cleanup. */
  struct kiln_aws_config_str *strings_;
  char error_[256];
};

/* Resolves the configuration into cfg (caller's storage). On failure cfg
 * needs no cleanup and kiln_aws_config_error(cfg) says what and where.
 * Returns 0, KILN_EINVAL (a bad value: AWS_MAX_ATTEMPTS=0, an unknown retry
 * mode, a region that is not a DNS label, a "services" key naming a missing
 * section), KILN_EPARSE (malformed file), KILN_ETOOBIG, KILN_ENOMEM or the
 * reader's error other than KILN_ENOENT. AWS_PROFILE naming a profile that
 * does not exist is not an error here: credential resolution reports it. */
int kiln_aws_config_resolve(struct kiln_aws_config *cfg,
                            const struct kiln_aws_config_options *opts);

/* Sets the region after resolution (e.g. from kiln_aws_imds_region()
 * when cfg->region is NULL); source says where it came from ("imds").
 * Returns 0, KILN_EINVAL (not a region name) or KILN_ENOMEM. */
int kiln_aws_config_set_region(struct kiln_aws_config *cfg, const char *region,
                               const char *source);

/* Wipes and frees everything cfg owns. Safe after a failed resolve. */
void kiln_aws_config_cleanup(struct kiln_aws_config *cfg);

/* The last error's message ("" when none); owned by cfg. */
const char *kiln_aws_config_error(const struct kiln_aws_config *cfg);

/* A property of a profile: the credentials file first, then the config
 * file. NULL when unset. Owned by cfg. */
const char *kiln_aws_config_profile_get(const struct kiln_aws_config *cfg,
                                        const char *profile, const char *key);

/* 1 when the profile exists in either file. */
int kiln_aws_config_profile_exists(const struct kiln_aws_config *cfg,
                                   const char *profile);

/* Name of a retry mode: "standard", "legacy", "adaptive". */
const char *kiln_aws_retry_mode_name(enum kiln_aws_retry_mode mode);

#endif
