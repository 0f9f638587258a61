/* kiln whoami [--format text|json]: which credentials, account, ARN,
 * region and endpoints Kiln would use, checked with STS
 * GetCallerIdentity. Never prints a secret.
 */
#include "cli.h"

#include "kiln/aws_config.h"
#include "kiln/aws_credentials.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/http.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

static const char usage[] =
    "Usage: kiln whoami [--format text|json]\n"
    "\n"
    "Shows which AWS credentials Kiln finds (their source and a redacted\n"
    "access key, never the secret), the account and ARN that STS\n"
    "GetCallerIdentity reports for them, the region, and the endpoint of\n"
    "each service Kiln calls (EC2, Auto Scaling, Image Builder, SSM, STS).\n"
    "Configuration follows the AWS SDKs: AWS_PROFILE, AWS_REGION, the shared\n"
    "config and credentials files, AWS_ENDPOINT_URL[_<SERVICE>], ...\n"
    "\n"
    "Options:\n"
    "  --format text|json  output format (default: text)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 the credentials work, 1 they do not (the reason is\n"
    "printed), 64 usage error.\n";

struct whoami_run {
  enum kiln_format format;
  int status;
  int done;
  struct kiln_http_client *http;
};

static void on_http_closed(struct kiln_http_client *http, void *data)
{
  (void)http;
  (void)data;
}

static void on_whoami(const struct kiln_aws_whoami *who, void *data)
{
  struct whoami_run *r = data;
  struct kiln_buf out;

  kiln_buf_init(&out, 0);
  if (kiln_aws_whoami_format(who, r->format == KILN_FORMAT_JSON, &out) == 0 &&
      out.len > 0) {
    fputs(out.data, stdout);
    if (out.data[out.len - 1] != '\n')
      fputc('\n', stdout);
  }
  kiln_buf_cleanup(&out);
  r->status = who->status;
  if (who->status != 0)
    fprintf(stderr, "kiln whoami: %s\n",
            who->message[0] != '\0' ? who->message
                                    : kiln_strerror(who->status));
  r->done = 1;
  kiln_http_client_close(r->http, on_http_closed, NULL);
}

static int run(enum kiln_format format)
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
  if (err == 0 && r.done && r.status == 0)
    rc = KILN_EXIT_OK;

fail:
  if (err != 0)
    fprintf(stderr, "kiln whoami: %s\n", kiln_strerror(err));
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    fprintf(stderr, "kiln whoami: internal error: handles left open\n");
  kiln_aws_config_cleanup(&cfg);
  return rc;
}

int kiln_cmd_whoami(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"format", required_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  enum kiln_format format = KILN_FORMAT_TEXT;
  int c;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'f':
      if (!kiln_cli_parse_format("whoami", optarg, &format))
        return KILN_EXIT_USAGE;
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
  return run(format);
}
