/* The desired-state model: spec v1 (see shared/design.md).
 *
 * kiln_spec_load() reads a desired-state repository through a kiln_tree
 * (a directory or a git commit), validates it strictly and returns an
 * immutable snapshot. Every problem becomes a diagnostic
 * "path:line:col: error: message"; an app with any diagnostic is marked
 * invalid and must never be applied, while the other apps stay usable.
 */
#ifndef KILN_SPEC_H
#define KILN_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/arena.h"
#include "kiln/diag.h"

struct kiln_diags;
struct kiln_tree;

/* Size caps for files read from the repository. */
#define KILN_SPEC_MAX_YAML_BYTES      (64 * 1024)
#define KILN_SPEC_MAX_COMPONENT_BYTES 16000 /* CreateComponent's data limit */
#define KILN_SPEC_MAX_USER_DATA_BYTES (16 * 1024)
#define KILN_SPEC_MAX_APPS            20000
#define KILN_SPEC_MAX_TARGETS         50000 /* apps and their environments */
#define KILN_SPEC_MAX_TAGS            47 /* AWS allows 50; Kiln owns three kiln:* tags */

struct kiln_strs {
  const char **items;
  size_t n;
};

struct kiln_tag {
  const char *key;
  const char *value;
};

struct kiln_tags {
  struct kiln_tag *items;
  size_t n;
};

struct kiln_param {
  const char *name;
  struct kiln_strs values; /* after ${version} expansion */
};

struct kiln_component_spec {
  const char *file;     /* repository-relative path of the document, or NULL */
  const char *arn;      /* a managed or shared component, or NULL */
  const char *document; /* the document's bytes when file is set */
  size_t document_len;
  struct kiln_param *params; /* sorted by name */
  size_t n_params;
};

struct kiln_build_spec {
  struct kiln_strs instance_types;
  const char *instance_profile;
  const char *subnet; /* NULL: default VPC */
  struct kiln_strs security_groups;
};

enum kiln_parent_kind {
  KILN_PARENT_SSM, /* ssm:/path — resolved to an AMI id at observe time */
  KILN_PARENT_AMI, /* ami-... */
  KILN_PARENT_ARN, /* an Image Builder image ARN */
};

struct kiln_image_spec {
  enum kiln_parent_kind parent_kind;
  const char *parent;     /* as written */
  const char *parent_ref; /* without the "ssm:" prefix */
  struct kiln_component_spec *components;
  size_t n_components;
  struct kiln_build_spec build;
  /* The image's home: where it is baked and its digest computed (an ssm:
   * parent resolved). An app's own region; with environments, image.home
   * or the first environment's region and account. A target elsewhere
   * copies the home's AMI (kiln_spec_image_at_home()). */
  const char *home_region;
  const char *home_role_arn; /* NULL: Kiln's own account */
  const char *home_target;   /* the environment that bakes it: "hello/staging"
                                (NULL: the app itself) */
};

struct kiln_block_device {
  const char *device;
  int64_t size_gib;
  const char *type; /* gp3 by default */
  bool encrypted;
  bool delete_on_termination;
  int64_t iops;       /* 0: AWS default */
  int64_t throughput; /* MiB/s, gp3 only; 0: AWS default */
};

struct kiln_lt_spec {
  const char *name;
  const char *instance_type;
  const char *user_data_file; /* repository-relative, or NULL */
  const char *user_data;
  size_t user_data_len;
  struct kiln_strs security_groups;
  const char *instance_profile; /* NULL: none */
  struct kiln_block_device *block_devices;
  size_t n_block_devices;
  struct kiln_tags tags;   /* launch template and instance tags, sorted */
  const char *http_tokens; /* "required" (IMDSv2, default) or "optional" */
  int64_t http_hop_limit;  /* 1-64, default 2 */
};

struct kiln_asg_spec {
  const char *name;
  struct kiln_strs subnets;
  int64_t min;
  int64_t max;
  int64_t desired;
  bool has_desired; /* false: capacity left to scaling policies */
  /* Omitted (has_* false): left as they are in AWS. Listed: managed,
   * attached and detached to match. */
  bool has_target_groups;
  struct kiln_strs target_groups; /* ELBv2 target group ARNs */
  const char *health_check_type;  /* "EC2" or "ELB"; NULL: left alone */
  bool has_grace;
  int64_t grace_seconds; /* healthCheckGracePeriodSeconds */
};

struct kiln_rollout_spec {
  int64_t min_healthy_percent; /* default 90 */
  int64_t max_healthy_percent; /* default 200 */
  int64_t warmup_seconds;      /* default 300 */
  bool skip_matching;          /* default true */
  bool auto_rollback;          /* default true */
  /* Safe delivery, passed to StartInstanceRefresh: CloudWatch alarms that
   * fail (and, with auto_rollback, roll back) the refresh; checkpoints
   * (ascending percentages; 100 is appended when the last is lower, so the
   * whole group is always replaced) with the wait at each; the time alarms
   * are still watched after the last replacement. */
  struct kiln_strs alarms; /* at most 10 */
  int64_t checkpoints[10]; /* ascending, unique, 1..100 */
  size_t n_checkpoints;
  bool has_checkpoint_delay;
  int64_t checkpoint_delay_seconds; /* 0..172800; AWS's default 3600 */
  bool has_bake_time;
  int64_t bake_time_seconds; /* 0..172800 */
};

enum kiln_drift_mode {
  KILN_DRIFT_CORRECT,
  KILN_DRIFT_REPORT,
};

/* retention: which images garbage collection keeps (kiln gc). */
struct kiln_retention_spec {
  int64_t releases;     /* the last N distinct digests released; default 5 */
  int64_t min_age_days; /* nothing younger is deleted; default 7 */
};

#define KILN_RETENTION_RELEASES 5
#define KILN_RETENTION_MIN_AGE_DAYS 7

/* promote: an environment rolls out a digest only once environment `from`
 * has run it as a healthy release for soak_seconds. */
struct kiln_promote_spec {
  const char *from; /* NULL: not gated */
  int64_t soak_seconds;
};

/* One deployment target: an app without environments, or one environment
 * of an app (its launchTemplate, autoscaling, rollout, drift, suspend,
 * region and version merged over the app's: maps key by key, lists and
 * scalars replaced). */
struct kiln_app_spec {
  const char *name; /* the target: "hello", or "hello/prod" */
  const char *app;  /* the app: "hello" (its images, kiln:app) */
  const char *env;  /* the environment, or NULL: the app has none */
  const char *dir;  /* "apps/<dir>" */
  const char *file; /* "apps/<dir>/app.yaml" */
  bool valid;       /* false: never apply; see the diagnostics */
  const char *region;
  const char *version;
  struct kiln_image_spec image;
  struct kiln_lt_spec launch_template;
  struct kiln_asg_spec autoscaling;
  struct kiln_rollout_spec rollout;
  enum kiln_drift_mode drift;
  bool suspend;
  struct kiln_tags tags; /* from kiln.yaml: on every resource Kiln creates */
  struct kiln_promote_spec promote;
  struct kiln_retention_spec retention; /* kiln.yaml's, then the app's */
  /* account: the environment's AWS account, through this role; NULL:
   * Kiln's own credentials. */
  const char *role_arn;
  const char *external_id;
  /* The digest last worked out for this spec, and the parent it was for:
   * a snapshot's spec never changes and its parent seldom does, so a pass
   * over thousands of apps need not encode them all again. Written by
   * kiln_spec_image_digest() (see there). */
  struct kiln_digest_memo {
    char parent[64]; /* "": none yet */
    char hex[65];
  } digest_memo;
};

/* The app a target belongs to: its images and kiln:app tag are the
 * app's, shared by its environments. */
static inline const char *kiln_spec_app_name(const struct kiln_app_spec *s)
{
  return s->app != NULL ? s->app : s->name;
}

/* Does target s run in region, in the account of role_arn (NULL: Kiln's
 * own)? */
bool kiln_spec_runs_in(const struct kiln_app_spec *s, const char *region,
                       const char *role_arn);

/* Is target s where its image is baked (same region and account)? */
bool kiln_spec_image_at_home(const struct kiln_app_spec *s);

/* Does target s belong to the selection (only_app: an app's name or a
 * target's "app/env"; only_env: an environment's name; NULL: any)? */
bool kiln_spec_selects(const struct kiln_app_spec *s, const char *only_app,
                       const char *only_env);

/* kiln.yaml's notifications: where Kiln says what happened. */
enum kiln_notifier_type {
  KILN_NOTIFY_GITHUB,  /* commit statuses: repository, token_file, url */
  KILN_NOTIFY_GITLAB,  /* commit statuses: repository (project), ... */
  KILN_NOTIFY_WEBHOOK, /* signed JSON: url, secret_file */
  KILN_NOTIFY_SLACK,   /* an incoming webhook's URL in url_file */
};

struct kiln_notifier_spec {
  enum kiln_notifier_type type;
  const char *repository; /* github: owner/name; gitlab: the project path */
  const char *token_file;
  const char *url; /* github/gitlab: the API's base URL; webhook: its URL */
  const char *secret_file;
  const char *url_file;
  int line; /* in kiln.yaml */
};

struct kiln_spec_defaults {
  bool present; /* kiln.yaml exists */
  struct kiln_notifier_spec *notifiers;
  size_t n_notifiers;
  const char *region;
  struct kiln_retention_spec retention;
  struct kiln_tags tags;
  struct kiln_build_spec build;
};

struct kiln_intern;

struct kiln_spec_repo {
  unsigned refs;           /* kiln_spec_repo_ref(); the last _free frees */
  struct kiln_arena arena; /* owns everything below */
  /* What is valid but likely not what was meant (alarms that cannot roll
   * back without autoRollback): never makes an app invalid. */
  struct kiln_diags warnings;
  struct kiln_spec_defaults defaults;
  bool defaults_valid;
  struct kiln_app_spec *apps; /* sorted by name; valid and invalid */
  size_t n_apps;
  size_t apps_cap;
  /* The files apps refer to (component documents, user data), each
   * distinct content stored once in the arena (kiln/intern.h); NULL until
   * the first is read. */
  struct kiln_intern *contents;
};

/* Loads and validates the repository visible through tree. Returns a new
 * snapshot in *out (free with kiln_spec_repo_free) even when apps are
 * invalid; diagnostics go to diags. Returns 0 when the repository could be
 * read (check each app's valid flag and diags), KILN_ENOMEM, or
 * KILN_ENOENT when it has no apps/ directory (also a diagnostic). */
int kiln_spec_load(const struct kiln_tree *tree, struct kiln_diags *diags,
                   struct kiln_spec_repo **out);

/* Loads kiln.yaml and only the apps whose directories are named in names
 * (apps/<name>/app.yaml; a directory that is missing is a diagnostic), with
 * no check across apps: enough to read what an older commit said of a few
 * apps. An app whose name differs from its directory is not found this
 * way; the caller falls back to kiln_spec_load(). Returns as
 * kiln_spec_load(). */
int kiln_spec_load_apps(const struct kiln_tree *tree, const char *const *names,
                        size_t n_names, struct kiln_diags *diags,
                        struct kiln_spec_repo **out);

/* Another reference to repo (returned), for whoever must keep reading it
 * after its owner lets go: a pass keeps the snapshot it started with.
 * References are taken and dropped on one thread (the loop's). */
struct kiln_spec_repo *kiln_spec_repo_ref(struct kiln_spec_repo *repo);

/* Drops a reference; the last one frees the snapshot. NULL is fine. */
void kiln_spec_repo_free(struct kiln_spec_repo *repo);

/* Number of valid apps. */
size_t kiln_spec_repo_valid_apps(const struct kiln_spec_repo *repo);

/* The app named name, or NULL. */
const struct kiln_app_spec *kiln_spec_repo_find(const struct kiln_spec_repo *r,
                                                const char *name);

/* Parses one app file's text (the loader's pure core, used by the loader,
 * the fuzzer and tests). dir is the app's directory ("apps/hello"); files it
 * names are read through tree (may be NULL: then file references are only
 * checked for form). Adds the app to repo; diagnostics go to diags. */
int kiln_spec_parse_app(struct kiln_spec_repo *repo,
                        const struct kiln_tree *tree, const char *dir,
                        const char *text, size_t len, struct kiln_diags *diags);

/* Parses kiln.yaml's text into repo->defaults. */
int kiln_spec_parse_defaults(struct kiln_spec_repo *repo, const char *text,
                             size_t len, struct kiln_diags *diags);

/* Canonical image digest: lowercase hex sha256 (64 chars + NUL) over a
 * canonical JSON encoding of everything that goes into the AMI — region,
 * parent (resolved_parent: the AMI id an ssm: parent resolves to; NULL
 * means use the parent as written), component documents' bytes and
 * parameters, component ARNs, app version, build settings — and nothing
 * else. Writes the canonical encoding to *canonical (malloc'd; may be NULL
 * to skip). Returns 0 or KILN_ENOMEM / KILN_EINVAL. Remembers the digest
 * in app->digest_memo, so it must not run on one snapshot from two
 * threads at once (it runs on the loop's thread). */
int kiln_spec_image_digest(const struct kiln_app_spec *app,
                           const char *resolved_parent, char digest_hex[65],
                           char **canonical);

#endif
