/* kiln whoami [--repo SRC [--ref REF]] [--format text|json]: which
 * credentials, account, ARN, region and endpoints Kiln would use, checked
 * with STS GetCallerIdentity; with a repository, also each deployment
 * target's region, account and identity there. Never prints a secret.
 */
#include "cli.h"
#include "whoami_targets.h"

#include "kiln/aws_config.h"
#include "kiln/aws_credentials.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/http.h"

#include <json-c/json.h>

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

static const char usage[] =
    "Usage: kiln whoami [--repo SRC [--ref REF]] [--format text|json]\n"
    "\n"
    "Shows which AWS credentials Kiln finds (their source and a redacted\n"
    "access key, never the secret), the account and ARN that STS\n"
    "GetCallerIdentity reports for them, the region, and the endpoint of\n"
    "each service Kiln calls (EC2, Auto Scaling, Image Builder, SSM, STS).\n"
    "Configuration follows the AWS SDKs: AWS_PROFILE, AWS_REGION, the shared\n"
    "config and credentials files, AWS_ENDPOINT_URL[_<SERVICE>], ...\n"
    "\n"
    "With --repo, also lists every deployment target of the repository\n"
    "(each environment of each app): its region, its account (Kiln's own,\n"
    "or the role it names, assumed as the controller assumes it) and the\n"
    "identity STS reports there.\n"
    "\n"
    "Options:\n"
    "  --repo SRC          a desired-state repository (path or git URL)\n"
    "  --ref REF           its branch, tag or commit (default: its HEAD)\n"
    "  --format text|json  output format (default: text); with --repo the\n"
    "                      JSON object gains \"targets\": [{name, app,\n"
    "                      environment, region, role_arn, account, arn,\n"
    "                      error}]\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 the credentials work, 1 they do not (the reason is\n"
    "printed), 64 usage error.\n";

struct whoami_run {
  enum kiln_format format;
  int status;
  int done;
  struct kiln_http_client *http;
  struct kiln_buf out; /* the report, printed once everything is known */
};

static void on_http_closed(struct kiln_http_client *http, void *data)
{
  (void)http;
  (void)data;
}

static void on_whoami(const struct kiln_aws_whoami *who, void *data)
{
  struct whoami_run *r = data;

  if (kiln_aws_whoami_format(who, r->format == KILN_FORMAT_JSON, &r->out) != 0)
    r->out.len = 0;
  r->status = who->status;
  if (who->status != 0)
    fprintf(stderr, "kiln whoami: %s\n",
            who->message[0] != '\0' ? who->message
                                    : kiln_strerror(who->status));
  r->done = 1;
  kiln_http_client_close(r->http, on_http_closed, NULL);
}

/* Prints the report: Kiln's own identity, and with a repository each
 * target's (one JSON object when asked for JSON). Returns non-zero when a
 * target's identity could not be had. */
static int report(struct whoami_run *r, const char *src, const char *ref)
{
  struct kiln_session s;
  json_object *doc = NULL, *targets = NULL;
  int err = 0;

  if (src != NULL) {
    err = kiln_session_open(&s, "whoami", src, ref, NULL, NULL);
    if (err == 0)
      err = kiln_whoami_targets(
          &s, r->format == KILN_FORMAT_JSON ? &targets : NULL);
    if (err != 0 && err != KILN_ECREDENTIALS)
      fprintf(stderr, "kiln whoami: %s: %s\n", src, kiln_strerror(err));
  }
  if (r->format == KILN_FORMAT_JSON && r->out.len > 0) {
    doc = json_tokener_parse(r->out.data);
    if (doc != NULL && src != NULL)
      json_object_object_add(doc, "targets",
                             targets != NULL ? targets
                                             : json_object_new_array());
    else
      json_object_put(targets);
    if (doc != NULL)
      printf("%s\n", json_object_to_json_string_ext(
                         doc, JSON_C_TO_STRING_PRETTY |
                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(doc);
  } else if (r->out.len > 0) {
    fputs(r->out.data, stdout);
    if (r->out.data[r->out.len - 1] != '\n')
      fputc('\n', stdout);
  }
  if (src != NULL)
    kiln_session_close(&s);
  return err;
}

static int run(enum kiln_format format, const char *src, const char *ref)
{
  struct kiln_aws_config_options co = {kiln_aws_config_real_getenv, NULL,
                                       kiln_aws_config_real_read_file, NULL};
  struct kiln_aws_credentials_provider *provider = NULL;
  struct kiln_aws_credentials_options o;
  struct kiln_http_client_options ho;
  struct whoami_run r;
  struct kiln_aws_config cfg;
  uv_loop_t loop;
  int err, rc = KILN_EXIT_FAILED;

  memset(&r, 0, sizeof(r));
  r.format = format;
  kiln_buf_init(&r.out, 0);
  err = kiln_aws_config_resolve(&cfg, &co);
  if (err != 0) {
    fprintf(stderr, "kiln whoami: %s\n", kiln_aws_config_error(&cfg));
    return KILN_EXIT_FAILED;
  }
  if (uv_loop_init(&loop) != 0) {
    kiln_aws_config_cleanup(&cfg);
    return KILN_EXIT_FAILED;
  }
  memset(&ho, 0, sizeof(ho));
  ho.ca_bundle = cfg.ca_bundle;
  err = kiln_http_client_new(&loop, &ho, &r.http);
  if (err != 0)
    goto fail;
  memset(&o, 0, sizeof(o));
  o.loop = &loop;
  o.config = &cfg;
  o.http = r.http;
  err = kiln_aws_credentials_provider_new_default(&o, &provider);
  if (err == 0)
    err = kiln_aws_whoami(&o, provider, on_whoami, &r);
  if (err != 0)
    kiln_http_client_close(r.http, on_http_closed, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  kiln_aws_credentials_provider_unref(provider);
  if (err == 0 && r.done && report(&r, src, ref) == 0 && r.status == 0)
    rc = KILN_EXIT_OK;

fail:
  if (err != 0)
    fprintf(stderr, "kiln whoami: %s\n", kiln_strerror(err));
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    fprintf(stderr, "kiln whoami: internal error: handles left open\n");
  kiln_aws_config_cleanup(&cfg);
  kiln_buf_cleanup(&r.out);
  return rc;
}

int kiln_cmd_whoami(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"format", required_argument, NULL, 'f'},
      {"repo", required_argument, NULL, 'r'},
      {"ref", required_argument, NULL, 'R'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  enum kiln_format format = KILN_FORMAT_TEXT;
  const char *src = NULL, *ref = NULL;
  int c;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'f':
      if (!kiln_cli_parse_format("whoami", optarg, &format))
        return KILN_EXIT_USAGE;
      break;
    case 'r':
      src = optarg;
      break;
    case 'R':
      ref = optarg;
      break;
    case 'h':
      fputs(usage, stdout);
      return KILN_EXIT_OK;
    default:
      return kiln_cli_usage_error("whoami", "unknown option '%s'",
                                  argv[optind - 1]);
    }
  }
  if (optind < argc)
    return kiln_cli_usage_error("whoami", "unexpected argument '%s'",
                                argv[optind]);
  if (ref != NULL && src == NULL)
    return kiln_cli_usage_error("whoami", "--ref needs --repo");
  return run(format, src, ref);
}
