/* kiln-creds-probe: drives the credential providers for the pytest suite in
 * this folder, with the real environment and real files, a real HTTP
 * client, and an injectable clock.
 *
 *   kiln-creds-probe [--provider NAME] [--now UNIX_SECONDS]
 *                    [--retry-base-ms MS] STEP...
 *
 * NAME: default (the default, cached chain; the default), env, profile,
 * web-identity, container, imds, chain (uncached). Steps run in order:
 *   get            one get; prints one JSON line
 *   concurrent N   N gets at once; prints N JSON lines when all are done
 *   advance S      moves the injected clock S seconds forward
 *   whoami         kiln_aws_whoami(), human-readable
 *   whoami-json    kiln_aws_whoami(), JSON
 *   config         the resolved region, retry settings and endpoints, JSON
 *   imds-region    kiln_aws_imds_region(); prints one JSON line
 * Secrets are never printed: a get line shows SHA-256 digests of the secret
 * key and session token so tests can compare them with what they served.
 * Exit status: 0, or 2 on a usage or setup error.
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <uv.h>

#include "kiln/aws_config.h"
#include "kiln/aws_credentials.h"
#include "kiln/aws_endpoint.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/http.h"

static int64_t fake_now_ms;
static int use_fake_clock;
static uint32_t retry_base_ms;

static int64_t probe_clock(void *arg)
{
  return fake_now_ms;
}

static void sha256_hex(const char *s, char out[65])
{
  unsigned char d[SHA256_DIGEST_LENGTH];
  if (s == NULL) {
    out[0] = '\0';
    return;
  }
  SHA256((const unsigned char *)s, strlen(s), d);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

struct get_result {
  int done;
  json_object *line;
};

static void on_get(int status, struct kiln_aws_credentials *creds,
                   const char *message, void *data)
{
  struct get_result *r = data;
  json_object *o = json_object_new_object();
  char hex[65], desc[256];

  json_object_object_add(o, "status",
                         json_object_new_string(kiln_err_name(status)));
  json_object_object_add(o, "message", json_object_new_string(message));
  if (creds != NULL) {
    json_object_object_add(o, "access_key_id",
                           json_object_new_string(creds->access_key_id));
    sha256_hex(creds->secret_access_key, hex);
    json_object_object_add(o, "secret_sha256", json_object_new_string(hex));
    sha256_hex(creds->session_token, hex);
    json_object_object_add(o, "token_sha256", json_object_new_string(hex));
    json_object_object_add(o, "account_id",
                           creds->account_id != NULL
                               ? json_object_new_string(creds->account_id)
                               : NULL);
    json_object_object_add(o, "expiration_ms",
                           json_object_new_int64(creds->expiration_ms));
    json_object_object_add(o, "source", json_object_new_string(creds->source));
    kiln_aws_credentials_describe(creds, desc, sizeof(desc));
    json_object_object_add(o, "describe", json_object_new_string(desc));
  }
  r->line = o;
  r->done = 1;
}

static void print_line(json_object *o)
{
  printf("%s\n",
         json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                               JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(o);
}

static int run_gets(uv_loop_t *loop, struct kiln_aws_credentials_provider *p,
                    int n)
{
  struct get_result *r = calloc((size_t)n, sizeof(*r));
  int err = 0;

  if (r == NULL)
    return KILN_ENOMEM;
  for (int i = 0; i < n; i++) {
    err = kiln_aws_credentials_get(p, on_get, &r[i]);
    if (err != 0) {
      json_object *o = json_object_new_object();
      json_object_object_add(o, "status",
                             json_object_new_string(kiln_err_name(err)));
      json_object_object_add(o, "message",
                             json_object_new_string("get() failed"));
      r[i].line = o;
      r[i].done = 1;
    }
  }
  uv_run(loop, UV_RUN_DEFAULT);
  for (int i = 0; i < n; i++) {
    if (!r[i].done) {
      fprintf(stderr, "kiln-creds-probe: a callback never ran\n");
      exit(2);
    }
    print_line(r[i].line);
  }
  free(r);
  return 0;
}

struct whoami_result {
  int json;
  int done;
};

static void on_whoami(const struct kiln_aws_whoami *who, void *data)
{
  struct whoami_result *r = data;
  struct kiln_buf out;

  kiln_buf_init(&out, 0);
  if (kiln_aws_whoami_format(who, r->json, &out) == 0)
    printf("%s%s", out.data, r->json ? "\n" : "");
  kiln_buf_cleanup(&out);
  r->done = 1;
}

static void on_region(int status, const char *region, const char *message,
                      void *data)
{
  json_object *o = json_object_new_object();
  json_object_object_add(o, "status",
                         json_object_new_string(kiln_err_name(status)));
  json_object_object_add(
      o, "region", region != NULL ? json_object_new_string(region) : NULL);
  json_object_object_add(o, "message", json_object_new_string(message));
  print_line(o);
  *(int *)data = 1;
}

static void print_config(const struct kiln_aws_config *cfg)
{
  json_object *o = json_object_new_object(), *eps = json_object_new_object();

  json_object_object_add(o, "profile", json_object_new_string(cfg->profile));
  json_object_object_add(
      o, "region",
      cfg->region != NULL ? json_object_new_string(cfg->region) : NULL);
  json_object_object_add(o, "max_attempts",
                         json_object_new_int(cfg->max_attempts));
  json_object_object_add(
      o, "retry_mode",
      json_object_new_string(kiln_aws_retry_mode_name(cfg->retry_mode)));
  json_object_object_add(
      o, "ca_bundle",
      cfg->ca_bundle != NULL ? json_object_new_string(cfg->ca_bundle) : NULL);
  for (int s = 0; s < KILN_AWS_SERVICE_COUNT; s++) {
    struct kiln_aws_endpoint ep;
    if (kiln_aws_endpoint_resolve(cfg, s, NULL, &ep) != 0) {
      json_object_object_add(eps, kiln_aws_service_info(s)->prefix, NULL);
      continue;
    }
    json_object *e = json_object_new_object();
    json_object_object_add(e, "url", json_object_new_string(ep.url));
    json_object_object_add(e, "host", json_object_new_string(ep.host));
    json_object_object_add(e, "signing_name",
                           json_object_new_string(ep.signing_name));
    json_object_object_add(
        e, "source",
        json_object_new_string(kiln_aws_endpoint_source_name(ep.source, s)));
    json_object_object_add(eps, kiln_aws_service_info(s)->prefix, e);
  }
  json_object_object_add(o, "endpoints", eps);
  print_line(o);
}

static int make_provider(const char *name,
                         const struct kiln_aws_credentials_options *o,
                         struct kiln_aws_credentials_provider **out)
{
  if (strcmp(name, "default") == 0)
    return kiln_aws_credentials_provider_new_default(o, out);
  if (strcmp(name, "env") == 0)
    return kiln_aws_credentials_provider_new_env(o, out);
  if (strcmp(name, "profile") == 0)
    return kiln_aws_credentials_provider_new_profile(o, out);
  if (strcmp(name, "web-identity") == 0)
    return kiln_aws_credentials_provider_new_web_identity(o, NULL, NULL, NULL,
                                                          out);
  if (strcmp(name, "container") == 0)
    return kiln_aws_credentials_provider_new_container(o, out);
  if (strcmp(name, "imds") == 0)
    return kiln_aws_credentials_provider_new_imds(o, out);
  return KILN_EINVAL;
}

static void usage(void)
{
  fprintf(stderr, "usage: kiln-creds-probe [--provider NAME] [--now SECONDS] "
                  "get|concurrent N|advance S|whoami|whoami-json|config...\n");
  exit(2);
}

int main(int argc, char **argv)
{
  struct kiln_aws_config_options co = {kiln_aws_config_real_getenv, NULL,
                                       kiln_aws_config_real_read_file, NULL};
  struct kiln_aws_credentials_provider *p = NULL;
  struct kiln_aws_credentials_options o;
  struct kiln_http_client_options ho;
  struct kiln_http_client *http = NULL;
  struct kiln_aws_config cfg;
  const char *provider = "default";
  uv_loop_t loop;
  int i = 1, err, rc = 0;

  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--provider") == 0 && i + 1 < argc) {
      provider = argv[++i];
    } else if (strcmp(argv[i], "--retry-base-ms") == 0 && i + 1 < argc) {
      retry_base_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc) {
      use_fake_clock = 1;
      fake_now_ms = strtoll(argv[++i], NULL, 10) * 1000;
    } else {
      usage();
    }
  }
  if (i == argc)
    usage();

  err = kiln_aws_config_resolve(&cfg, &co);
  if (err != 0) {
    json_object *line = json_object_new_object();
    char msg[400];
    snprintf(msg, sizeof(msg), "config: %s", kiln_aws_config_error(&cfg));
    json_object_object_add(line, "status",
                           json_object_new_string(kiln_err_name(err)));
    json_object_object_add(line, "message", json_object_new_string(msg));
    print_line(line);
    return 0;
  }
  uv_loop_init(&loop);
  memset(&ho, 0, sizeof(ho));
  ho.ca_bundle = cfg.ca_bundle;
  if ((err = kiln_http_client_new(&loop, &ho, &http)) != 0) {
    fprintf(stderr, "kiln-creds-probe: http client: %s\n", kiln_strerror(err));
    return 2;
  }
  memset(&o, 0, sizeof(o));
  o.loop = &loop;
  o.config = &cfg;
  o.http = http;
  if (use_fake_clock)
    o.clock = probe_clock;
  o.retry_base_ms = retry_base_ms;
  if ((err = make_provider(provider, &o, &p)) != 0) {
    fprintf(stderr, "kiln-creds-probe: provider %s: %s\n", provider,
            kiln_strerror(err));
    return 2;
  }

  for (; i < argc; i++) {
    if (strcmp(argv[i], "get") == 0) {
      run_gets(&loop, p, 1);
    } else if (strcmp(argv[i], "concurrent") == 0 && i + 1 < argc) {
      run_gets(&loop, p, atoi(argv[++i]));
    } else if (strcmp(argv[i], "advance") == 0 && i + 1 < argc) {
      fake_now_ms += strtoll(argv[++i], NULL, 10) * 1000;
    } else if (strcmp(argv[i], "whoami") == 0 ||
               strcmp(argv[i], "whoami-json") == 0) {
      struct whoami_result wr = {strcmp(argv[i], "whoami-json") == 0, 0};
      err = kiln_aws_whoami(&o, p, on_whoami, &wr);
      if (err == 0)
        uv_run(&loop, UV_RUN_DEFAULT);
      if (!wr.done) {
        fprintf(stderr, "kiln-creds-probe: whoami: %s\n", kiln_strerror(err));
        rc = 2;
      }
    } else if (strcmp(argv[i], "imds-region") == 0) {
      int done = 0;
      err = kiln_aws_imds_region(&o, on_region, &done);
      if (err == 0)
        uv_run(&loop, UV_RUN_DEFAULT);
      else
        printf("{\"status\":\"%s\",\"region\":null}\n", kiln_err_name(err));
    } else if (strcmp(argv[i], "config") == 0) {
      print_config(&cfg);
    } else {
      usage();
    }
    fflush(stdout);
  }

  kiln_aws_credentials_provider_unref(p);
  kiln_http_client_close(http, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) {
    fprintf(stderr, "kiln-creds-probe: handles left open\n");
    rc = 2;
  }
  kiln_aws_config_cleanup(&cfg);
  return rc;
}
