/* The AWS client against a local HTTP server: signing and protocol
 * headers, parsed bodies and errors, retries, cancellation, closing with
 * calls in flight or in backoff, pagination and its cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "aws_client_private.h" /* struct kiln_xml_node */
#include "http_test_server.h"
#include "kiln/arena.h"
#include "kiln/autoscaling.h"
#include "kiln/aws_client.h"
#include "kiln/aws_credentials.h"
#include "kiln/ec2.h"
#include "kiln/error.h"

enum mode {
  M_IMAGES,      /* a DescribeImages answer */
  M_JSON,        /* {} */
  M_STALL,       /* never answer */
  M_THROTTLE,    /* always RequestLimitExceeded */
  M_GARBAGE,     /* 200 with a body that is not XML */
  M_BADPARAM,    /* 400 InvalidParameterValue */
  M_PAGES,       /* DescribeLaunchTemplates in 3 pages */
  M_BAD_VERSION, /* a refresh whose desired version is not a number */
  M_ENDLESS      /* DescribeLaunchTemplates with a next token, forever */
};

struct fx {
  uv_loop_t loop;
  struct ts_server server;
  enum mode mode;
  char port[16];
  char endpoint[64];
  struct kiln_aws_config cfg;
  struct kiln_aws_credentials_provider *creds;
  struct kiln_aws_client *client;
  int done, err, closed, attempts;
  char code[128], request_id[128], message[512], root[64];
  int have_json;
  char paths[4][512];
  char bodies[4][512];
};

static void handler(struct ts_server *s, const struct ts_request *req,
                    struct ts_response *res)
{
  struct fx *f = s->data;
  static char page[512];
  unsigned n = s->requests;

  if (n <= 4) {
    snprintf(f->paths[n - 1], sizeof(f->paths[0]), "%s", req->path);
    snprintf(f->bodies[n - 1], sizeof(f->bodies[0]), "%.*s", (int)req->body_len,
             req->body);
  }
  switch (f->mode) {
  case M_IMAGES:
    res->extra_headers = "x-amzn-requestid: hdr-1\r\n";
    res->body = "<DescribeImagesResponse><requestId>r-1</requestId>"
                "<imagesSet/></DescribeImagesResponse>";
    break;
  case M_JSON:
    res->body = "{}";
    break;
  case M_STALL:
    res->action = TS_STALL;
    break;
  case M_THROTTLE:
    res->status = 503;
    res->body = "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
                "<Message>slow down</Message></Error></Errors>"
                "<RequestID>t-1</RequestID></Response>";
    break;
  case M_GARBAGE:
    res->body = "this is not <xml";
    break;
  case M_BADPARAM:
    res->status = 400;
    res->body = "<Response><Errors><Error><Code>InvalidParameterValue</Code>"
                "<Message>bad &amp; wrong</Message></Error></Errors>"
                "<RequestID>b-1</RequestID></Response>";
    break;
  case M_BAD_VERSION:
    res->extra_headers = "x-amzn-requestid: v-1\r\n";
    res->body =
        "<DescribeInstanceRefreshesResponse><DescribeInstanceRefreshesResult>"
        "<InstanceRefreshes><member><InstanceRefreshId>r-1</InstanceRefreshId>"
        "<Status>InProgress</Status><DesiredConfiguration><LaunchTemplate>"
        "<LaunchTemplateId>lt-1</LaunchTemplateId><Version>12abc</Version>"
        "</LaunchTemplate></DesiredConfiguration></member></InstanceRefreshes>"
        "</DescribeInstanceRefreshesResult></"
        "DescribeInstanceRefreshesResponse>";
    break;
  case M_PAGES:
  case M_ENDLESS:
    snprintf(page, sizeof(page),
             "<DescribeLaunchTemplatesResponse><launchTemplates><item>"
             "<launchTemplateId>lt-%u</launchTemplateId>"
             "<launchTemplateName>n%u</launchTemplateName></item>"
             "</launchTemplates>%s%s%s</DescribeLaunchTemplatesResponse>",
             n, n, f->mode == M_ENDLESS || n < 3 ? "<nextToken>t/" : "",
             f->mode == M_ENDLESS || n < 3 ? "+" : "",
             f->mode == M_ENDLESS || n < 3 ? "</nextToken>" : "");
    res->body = page;
    break;
  }
}

static const char *env(void *arg, const char *name)
{
  struct fx *f = arg;

  if (strcmp(name, "AWS_REGION") == 0)
    return "us-east-1";
  if (strcmp(name, "AWS_ENDPOINT_URL") == 0)
    return f->endpoint;
  if (strcmp(name, "AWS_MAX_ATTEMPTS") == 0)
    return "3";
  return NULL;
}

static int no_file(void *arg, const char *path, struct kiln_buf *out)
{
  return KILN_ENOENT;
}

/* Retry jitter: 0 makes every backoff 0 ms; 0.99 makes it almost the
 * whole base. */
static double jitter;

static double fixed_jitter(void *data)
{
  return jitter;
}

static int setup_with(void **state, uint32_t base_ms, int static_creds)
{
  struct fx *f = calloc(1, sizeof(*f));
  struct kiln_aws_config_options co = {env, f, no_file, NULL};
  struct kiln_aws_credentials_options o;
  struct kiln_aws_client_options ao;

  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(ts_start(&f->server, &f->loop, handler, f), 0);
  snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%d",
           f->server.port);
  assert_int_equal(kiln_aws_config_resolve(&f->cfg, &co), 0);
  memset(&o, 0, sizeof(o));
  o.loop = &f->loop;
  o.config = &f->cfg;
  if (static_creds)
    assert_int_equal(kiln_aws_credentials_provider_new_static(
                         &o, "AKIDEXAMPLE", "SECRETEXAMPLE", "TOKENEXAMPLE",
                         "test", &f->creds),
                     0);
  else
    assert_int_equal(kiln_aws_credentials_provider_new_env(&o, &f->creds), 0);
  memset(&ao, 0, sizeof(ao));
  ao.loop = &f->loop;
  ao.config = &f->cfg;
  ao.credentials = f->creds;
  ao.timeout_ms = 2000;
  ao.retry_base_ms = base_ms;
  ao.disable_rate_limit = 1;
  ao.random01 = fixed_jitter;
  jitter = base_ms > 1000 ? 0.99 : 0.0;
  assert_int_equal(kiln_aws_client_new(&ao, &f->client), 0);
  *state = f;
  return 0;
}

static int setup(void **state)
{
  return setup_with(state, 1, 1);
}

static void on_closed(void *data)
{
  ((struct fx *)data)->closed++;
}

static void on_guard(uv_timer_t *t)
{
}

static void run_until(struct fx *f, const int *flag, uint64_t ms)
{
  uv_timer_t guard;
  uint64_t end;

  uv_update_time(&f->loop);
  end = uv_now(&f->loop) + ms;
  uv_timer_init(&f->loop, &guard);
  uv_timer_start(&guard, on_guard, 5, 5);
  while (!*flag && uv_now(&f->loop) < end)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

static int teardown(void **state)
{
  struct fx *f = *state;

  if (f->client != NULL)
    kiln_aws_client_close(f->client, on_closed, f);
  ts_stop(&f->server);
  run_until(f, &f->closed, 5000);
  assert_int_equal(f->closed, 1);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  kiln_aws_credentials_provider_unref(f->creds);
  kiln_aws_config_cleanup(&f->cfg);
  free(f);
  return 0;
}

static void on_call(int err, const struct kiln_aws_response *res, void *data)
{
  struct fx *f = data;

  f->done++;
  f->err = err;
  f->attempts = res->attempts;
  snprintf(f->code, sizeof(f->code), "%s",
           res->error != NULL ? res->error->code : "");
  snprintf(f->request_id, sizeof(f->request_id), "%s", res->request_id);
  snprintf(f->message, sizeof(f->message), "%s", res->message);
  snprintf(f->root, sizeof(f->root), "%s",
           res->xml != NULL ? res->xml->name : "");
  f->have_json = res->json != NULL;
}

static int call(struct fx *f, enum kiln_aws_service s, const char *action,
                const char *body, struct kiln_aws_call **out)
{
  struct kiln_aws_request r;

  memset(&r, 0, sizeof(r));
  r.service = s;
  r.action = action;
  r.body = body;
  r.body_len = body != NULL ? strlen(body) : 0;
  if (s == KILN_AWS_IMAGEBUILDER) {
    r.method = "GET";
    r.path = "/GetImage";
    r.query = "imageBuildVersionArn=a%3Ab";
  }
  return kiln_aws_call(f->client, &r, on_call, f, out);
}

static void test_query_call_is_signed_parsed_and_async(void **state)
{
  struct fx *f = *state;
  const struct kiln_aws_action_stats *st;
  const char *body = "Action=DescribeImages&Version=2016-11-15&Owner.1=self";

  f->mode = M_IMAGES;
  assert_int_equal(call(f, KILN_AWS_EC2, "DescribeImages", body, NULL), 0);
  assert_int_equal(f->done, 0); /* never before kiln_aws_call returns */
  run_until(f, &f->done, 5000);
  assert_int_equal(f->done, 1);
  assert_int_equal(f->err, 0);
  assert_string_equal(f->root, "DescribeImagesResponse");
  assert_string_equal(f->request_id, "hdr-1");
  assert_string_equal(f->message, "");
  assert_string_equal(f->paths[0], "/");
  assert_string_equal(f->bodies[0], body);
  assert_non_null(strstr(f->server.last_head.data,
                         "Authorization: AWS4-HMAC-SHA256 Credential="
                         "AKIDEXAMPLE/"));
  assert_non_null(strstr(f->server.last_head.data, "/us-east-1/ec2/"));
  assert_non_null(
      strstr(f->server.last_head.data, "X-Amz-Security-Token: TOKENEXAMPLE"));
  assert_non_null(strstr(f->server.last_head.data,
                         "Content-Type: application/x-www-form-urlencoded"));
  assert_null(strstr(f->server.last_head.data, "SECRETEXAMPLE"));
  assert_int_equal(kiln_aws_client_stats(f->client, &st), 1);
  assert_string_equal(st[0].action, "DescribeImages");
  assert_int_equal(st[0].calls[KILN_AWS_OUTCOME_OK], 1);
  assert_int_equal(st[0].attempts, 1);
  assert_string_equal(kiln_aws_client_endpoint(f->client, KILN_AWS_SSM),
                      f->endpoint);
  assert_string_equal(kiln_aws_client_region(f->client), "us-east-1");
}

static void test_json_and_rest_requests(void **state)
{
  struct fx *f = *state;

  f->mode = M_JSON;
  assert_int_equal(
      call(f, KILN_AWS_SSM, "GetParameters", "{\"Names\":[]}", NULL), 0);
  run_until(f, &f->done, 5000);
  assert_int_equal(f->err, 0);
  assert_true(f->have_json);
  assert_non_null(strstr(f->server.last_head.data,
                         "X-Amz-Target: AmazonSSM.GetParameters"));
  assert_non_null(strstr(f->server.last_head.data,
                         "Content-Type: application/x-amz-json-1.1"));
  f->done = 0;
  assert_int_equal(call(f, KILN_AWS_IMAGEBUILDER, "GetImage", NULL, NULL), 0);
  run_until(f, &f->done, 5000);
  assert_int_equal(f->err, 0);
  assert_string_equal(f->paths[1], "/GetImage?imageBuildVersionArn=a%3Ab");
  assert_non_null(strstr(f->server.last_head.data, "GET /GetImage?"));
  assert_non_null(strstr(f->server.last_head.data, "/imagebuilder/"));
}

static void test_invalid_calls(void **state)
{
  struct fx *f = *state;
  struct kiln_aws_request r;

  memset(&r, 0, sizeof(r));
  r.service = KILN_AWS_EC2;
  assert_int_equal(kiln_aws_call(f->client, &r, on_call, f, NULL),
                   KILN_EINVAL); /* no action */
  r.action = "X";
  r.service = KILN_AWS_SERVICE_COUNT;
  assert_int_equal(kiln_aws_call(f->client, &r, on_call, f, NULL), KILN_EINVAL);
  r.service = KILN_AWS_IMAGEBUILDER; /* REST needs method and path */
  assert_int_equal(kiln_aws_call(f->client, &r, on_call, f, NULL), KILN_EINVAL);
  assert_int_equal(f->done, 0);
}

static void test_aws_error_and_garbage(void **state)
{
  struct fx *f = *state;
  const struct kiln_aws_action_stats *st;

  f->mode = M_BADPARAM;
  assert_int_equal(call(f, KILN_AWS_EC2, "DescribeImages", "Action=x", NULL),
                   0);
  run_until(f, &f->done, 5000);
  assert_int_equal(f->err, KILN_EAWS);
  assert_int_equal(f->attempts, 1); /* not retryable */
  assert_string_equal(f->code, "InvalidParameterValue");
  assert_string_equal(f->request_id, "b-1");
  assert_non_null(strstr(f->message, "DescribeImages"));
  assert_non_null(strstr(f->message, "bad & wrong"));
  assert_non_null(strstr(f->message, "b-1"));
  f->done = 0;
  f->mode = M_GARBAGE;
  assert_int_equal(call(f, KILN_AWS_EC2, "DescribeImages", "Action=x", NULL),
                   0);
  run_until(f, &f->done, 5000);
  assert_int_equal(f->err, KILN_EPARSE);
  assert_non_null(strstr(f->message, "not valid XML"));
  assert_int_equal(kiln_aws_client_stats(f->client, &st), 1);
  assert_int_equal(st[0].calls[KILN_AWS_OUTCOME_AWS_ERROR], 1);
  assert_int_equal(st[0].calls[KILN_AWS_OUTCOME_FAILED], 1);
}

static void test_throttling_retried_then_reported(void **state)
{
  struct fx *f = *state;
  const struct kiln_aws_action_stats *st;

  f->mode = M_THROTTLE;
  assert_int_equal(call(f, KILN_AWS_EC2, "DescribeImages", "Action=x", NULL),
                   0);
  run_until(f, &f->done, 5000);
  assert_int_equal(f->err, KILN_ETHROTTLED);
  assert_int_equal(f->attempts, 3);
  assert_int_equal(f->server.requests, 3);
  assert_string_equal(f->code, "RequestLimitExceeded");
  kiln_aws_client_stats(f->client, &st);
  assert_int_equal(st[0].attempts, 3);
  assert_int_equal(st[0].retries, 2);
  assert_int_equal(st[0].calls[KILN_AWS_OUTCOME_THROTTLED], 1);
}

static void test_cancel_in_flight(void **state)
{
  struct fx *f = *state;
  struct kiln_aws_call *c;
  int got_request = 0;

  f->mode = M_STALL;
  assert_int_equal(call(f, KILN_AWS_EC2, "DescribeImages", "Action=x", &c), 0);
  while (!got_request) {
    run_until(f, &f->done, 20);
    got_request = f->server.requests == 1;
  }
  kiln_aws_call_cancel(c);
  assert_int_equal(f->done, 0); /* the callback comes from the loop */
  run_until(f, &f->done, 5000);
  assert_int_equal(f->err, KILN_ECANCELED);
}

/* At most KILN_AWS_MAX_IN_FLIGHT calls are sent at once; the others wait,
 * unsent, and the longest waiting takes the slot a call gives back. A
 * waiting call can be cancelled. */
static void test_in_flight_capped(void **state)
{
  struct fx *f = *state;
  struct kiln_aws_call *c[KILN_AWS_MAX_IN_FLIGHT + 4];
  int never = 0;

  f->mode = M_STALL;
  for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
    assert_int_equal(
        call(f, KILN_AWS_EC2, "DescribeImages", "Action=DescribeImages", &c[i]),
        0);
  for (int i = 0; i < 100 && f->server.requests < KILN_AWS_MAX_IN_FLIGHT; i++)
    run_until(f, &never, 20);
  assert_int_equal(f->server.requests, KILN_AWS_MAX_IN_FLIGHT);
  run_until(f, &never, 200); /* nothing more goes */
  assert_int_equal(f->server.requests, KILN_AWS_MAX_IN_FLIGHT);
  assert_int_equal(f->done, 0);

  /* A waiting call, cancelled, ends unsent. */
  kiln_aws_call_cancel(c[KILN_AWS_MAX_IN_FLIGHT + 3]);
  run_until(f, &f->done, 2000);
  assert_int_equal(f->done, 1);
  assert_int_equal(f->err, KILN_ECANCELED);
  assert_int_equal(f->attempts, 0);
  assert_int_equal(f->server.requests, KILN_AWS_MAX_IN_FLIGHT);

  /* A sent call, cancelled, gives its slot to the next. */
  kiln_aws_call_cancel(c[0]);
  for (int i = 0; i < 100 && f->server.requests < KILN_AWS_MAX_IN_FLIGHT + 1;
       i++)
    run_until(f, &never, 20);
  assert_int_equal(f->done, 2);
  assert_int_equal(f->server.requests, KILN_AWS_MAX_IN_FLIGHT + 1);
  /* Closing ends the rest, sent or waiting. */
  kiln_aws_client_close(f->client, on_closed, f);
  f->client = NULL;
  run_until(f, &f->closed, 5000);
  assert_int_equal(f->done, (int)(sizeof(c) / sizeof(c[0])));
  assert_int_equal(f->server.requests, KILN_AWS_MAX_IN_FLIGHT + 1);
}

/* A call waiting out a long backoff ends at once when the client closes. */
static void test_close_cancels_backoff_and_in_flight(void **state)
{
  struct fx *f;
  uint64_t t0;
  int two = 0;

  setup_with(state, 60000, 1);
  f = *state;
  f->mode = M_THROTTLE;
  assert_int_equal(call(f, KILN_AWS_EC2, "DescribeImages", "Action=x", NULL),
                   0);
  run_until(f, &two, 300); /* first attempt throttled, now in backoff */
  assert_int_equal(f->server.requests, 1);
  assert_int_equal(f->done, 0);
  f->mode = M_STALL;
  assert_int_equal(call(f, KILN_AWS_SSM, "GetParameters", "{}", NULL), 0);
  while (f->server.requests < 2)
    run_until(f, &two, 20);
  uv_update_time(&f->loop);
  t0 = uv_now(&f->loop);
  kiln_aws_client_close(f->client, on_closed, f);
  f->client = NULL;
  assert_int_equal(f->done, 0);
  run_until(f, &f->closed, 5000);
  assert_int_equal(f->done, 2);
  assert_int_equal(f->err, KILN_ECANCELED);
  assert_int_equal(f->closed, 1);
  assert_true(uv_now(&f->loop) - t0 < 2000);
}

static void test_no_credentials(void **state)
{
  struct fx *f;

  setup_with(state, 1, 0);
  f = *state;
  f->mode = M_IMAGES;
  assert_int_equal(call(f, KILN_AWS_EC2, "DescribeImages", "Action=x", NULL),
                   0);
  run_until(f, &f->done, 5000);
  assert_int_equal(f->err, KILN_ECREDENTIALS);
  assert_int_equal(f->server.requests, 0);
  assert_non_null(strstr(f->message, "credentials"));
}

static void on_op(int err, const struct kiln_aws_response *res, void *data)
{
  struct fx *f = data;

  f->done++;
  f->err = err;
  snprintf(f->message, sizeof(f->message), "%s", res->message);
}

static void test_pages_followed_and_capped(void **state)
{
  struct fx *f = *state;
  struct kiln_ec2_describe_launch_templates_request r = {0};
  struct kiln_ec2_launch_templates out;
  struct kiln_arena arena;

  kiln_arena_init(&arena, 0);
  f->mode = M_PAGES;
  r.max_results = 1;
  assert_int_equal(
      kiln_ec2_describe_launch_templates(f->client, &r, &arena, &out, on_op, f),
      0);
  run_until(f, &f->done, 5000);
  assert_int_equal(f->err, 0);
  assert_int_equal(out.count, 3);
  assert_string_equal(out.templates[2].id, "lt-3");
  assert_string_equal(f->bodies[0], "Action=DescribeLaunchTemplates&Version="
                                    "2016-11-15&MaxResults=1");
  assert_string_equal(f->bodies[1],
                      "Action=DescribeLaunchTemplates&Version="
                      "2016-11-15&MaxResults=1&NextToken=t%2F%2B");
  f->done = 0;
  f->mode = M_ENDLESS;
  f->server.requests = 0;
  assert_int_equal(
      kiln_ec2_describe_launch_templates(f->client, &r, &arena, &out, on_op, f),
      0);
  run_until(f, &f->done, 60000);
  assert_int_equal(f->err, KILN_ETOOBIG);
  assert_int_equal(f->server.requests, KILN_AWS_MAX_PAGES);
  assert_non_null(strstr(f->message, "too many pages"));
  kiln_arena_cleanup(&arena);
}

/* A number AWS sends that is not one fails the call, and the error says
 * which action, field and value. */
static void test_garbage_number_names_action_and_field(void **state)
{
  struct fx *f = *state;
  struct kiln_asg_describe_instance_refreshes_request r = {.group_name = "g"};
  struct kiln_asg_instance_refreshes out;
  struct kiln_arena arena;

  kiln_arena_init(&arena, 0);
  f->mode = M_BAD_VERSION;
  assert_int_equal(kiln_asg_describe_instance_refreshes(f->client, &r, &arena,
                                                        &out, on_op, f),
                   0);
  run_until(f, &f->done, 5000);
  assert_int_equal(f->err, KILN_EPARSE);
  assert_string_equal(f->message,
                      "DescribeInstanceRefreshes: "
                      "DesiredConfiguration.LaunchTemplate.Version \"12abc\" "
                      "is not a version number (request id v-1)");
  kiln_arena_cleanup(&arena);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_query_call_is_signed_parsed_and_async, setup, teardown),
      cmocka_unit_test_setup_teardown(test_json_and_rest_requests, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_invalid_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_aws_error_and_garbage, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_throttling_retried_then_reported,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(test_in_flight_capped, setup, teardown),
      cmocka_unit_test_teardown(test_close_cancels_backoff_and_in_flight,
                                teardown),
      cmocka_unit_test_teardown(test_no_credentials, teardown),
      cmocka_unit_test_setup_teardown(test_pages_followed_and_capped, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_garbage_number_names_action_and_field, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
