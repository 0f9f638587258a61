/* kiln status [--server URL] [--format text|json] */
#include "cli.h"

#include "kiln/buf.h"
#include "kiln/error.h"

#include <curl/curl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATUS_BYTES (16u * 1024 * 1024)

static const char usage[] =
    "Usage: kiln status [--server URL] [--format text|json]\n"
    "\n"
    "Shows what a running `kiln run` sees: the commit it applies and, per "
    "app,\n"
    "its status, the operation in flight with its progress, and every field\n"
    "that drifts from git with its cause.\n"
    "\n"
    "Options:\n"
    "  --server URL        the daemon's --listen address (default:\n"
    "                      $KILN_SERVER, else http://127.0.0.1:8080)\n"
    "  --format text|json  output format (default: text)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 every app in sync, 2 some app is not, 1 error.\n";

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
  return kiln_buf_append(arg, data, size * n) == 0 ? size * n : 0;
}

static const char *str(json_object *o, const char *key)
{
  json_object *v;
  return json_object_object_get_ex(o, key, &v) && v != NULL
             ? json_object_get_string(v)
             : "";
}

static int render(json_object *root)
{
  json_object *apps;
  int rc = KILN_EXIT_OK;

  printf("commit %s\n\n%-24s %-11s %s\n", str(root, "commit"), "APP", "STATUS",
         "NOW");
  if (!json_object_object_get_ex(root, "apps", &apps))
    return KILN_EXIT_FAILED;
  for (size_t i = 0; i < json_object_array_length(apps); i++) {
    json_object *app = json_object_array_get_idx(apps, i), *drift;
    const char *status = str(app, "status");
    printf("%-24s %-11s %s\n", str(app, "name"), status, str(app, "message"));
    if (json_object_object_get_ex(app, "drift", &drift))
      for (size_t j = 0; j < json_object_array_length(drift); j++) {
        json_object *d = json_object_array_get_idx(drift, j);
        printf("%-24s   %-34s %s -> %s  [%s]\n", "", str(d, "field"),
               str(d, "actual"), str(d, "desired"), str(d, "cause"));
      }
    if (strcmp(status, "error") == 0)
      rc = KILN_EXIT_FAILED;
    else if (strcmp(status, "in-sync") != 0 && rc == KILN_EXIT_OK)
      rc = KILN_EXIT_DRIFT;
  }
  return rc;
}

int kiln_cmd_status(int argc, char **argv)
{
  static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                       {"format", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  enum kiln_format format = KILN_FORMAT_TEXT;
  const char *server = getenv("KILN_SERVER");
  char url[2048], errbuf[CURL_ERROR_SIZE] = "";
  struct kiln_buf body;
  json_object *root = NULL;
  long code = 0;
  CURL *curl;
  int c, rc = KILN_EXIT_FAILED;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      server = optarg;
      break;
    case 'f':
      if (!kiln_cli_parse_format("status", optarg, &format))
        return KILN_EXIT_USAGE;
      break;
    case 'h':
      fputs(usage, stdout);
      return KILN_EXIT_OK;
    default:
      return kiln_cli_usage_error("status", "unknown option");
    }
  }
  if (optind < argc)
    return kiln_cli_usage_error("status", "unexpected argument '%s'",
                                argv[optind]);
  if (server == NULL || server[0] == '\0')
    server = "http://127.0.0.1:8080";
  {
    size_t n = strlen(server);
    while (n > 0 && server[n - 1] == '/')
      n--;
    snprintf(url, sizeof(url), "%.*s/api/v1/apps", (int)n, server);
  }

  kiln_buf_init(&body, MAX_STATUS_BYTES);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl = curl_easy_init();
  if (curl == NULL)
    goto done;
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  if (curl_easy_perform(curl) != CURLE_OK) {
    fprintf(stderr, "kiln status: cannot reach %s: %s\n", server, errbuf);
    goto done;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  root = body.data != NULL ? json_tokener_parse(body.data) : NULL;
  if (code != 200 || root == NULL) {
    fprintf(stderr, "kiln status: %s answered %ld%s%s\n", server, code,
            root != NULL ? ": " : "", root != NULL ? str(root, "error") : "");
    goto done;
  }
  if (format == KILN_FORMAT_JSON) {
    puts(json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    rc = KILN_EXIT_OK;
  } else {
    rc = render(root);
  }
done:
  json_object_put(root);
  if (curl != NULL)
    curl_easy_cleanup(curl);
  curl_global_cleanup();
  kiln_buf_cleanup(&body);
  return rc;
}
