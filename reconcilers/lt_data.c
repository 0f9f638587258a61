/* Launch template data: what the spec asks for, and how it differs from what
 * a version holds. Lists AWS treats as sets (security groups, block devices
 * by device name) compare order-free; tags compare as maps (tag_map.c). */
#include "kiln/arena.h"
#include "kiln/str.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/hash.h"
#include "kiln/plan.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_tag(const void *a, const void *b)
{
  return strcmp(((const struct kiln_tag *)a)->key,
                ((const struct kiln_tag *)b)->key);
}

static int cmp_bdev(const void *a, const void *b)
{
  return strcmp(((const struct kiln_lt_bdev *)a)->device,
                ((const struct kiln_lt_bdev *)b)->device);
}

static char *base64(struct kiln_arena *a, const char *data, size_t len)
{
  char *out = kiln_arena_alloc(a, 4 * ((len + 2) / 3) + 1);
  if (out != NULL)
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data,
                    (int)len);
  return out;
}

/* Instance tags: kiln.yaml's tags, overridden by the launch template's, plus
 * kiln:app so every instance names its app. The commit is deliberately not
 * here: it would make every commit a new version and defeat reuse. */
static int merged_tags(const struct kiln_app_spec *spec, struct kiln_arena *a,
                       struct kiln_tags *out)
{
  size_t cap = spec->tags.n + spec->launch_template.tags.n + 1;
  out->items = kiln_arena_alloc(a, cap * sizeof(*out->items));
  if (out->items == NULL)
    return KILN_ENOMEM;
  out->n = 0;
  for (size_t i = 0; i < spec->launch_template.tags.n; i++)
    out->items[out->n++] = spec->launch_template.tags.items[i];
  for (size_t i = 0; i < spec->tags.n; i++) {
    bool overridden = false;
    for (size_t j = 0; j < spec->launch_template.tags.n; j++)
      overridden |= strcmp(spec->launch_template.tags.items[j].key,
                           spec->tags.items[i].key) == 0;
    if (!overridden)
      out->items[out->n++] = spec->tags.items[i];
  }
  out->items[out->n].key = "kiln:app";
  out->items[out->n++].value = kiln_spec_app_name(spec);
  qsort(out->items, out->n, sizeof(*out->items), cmp_tag);
  return 0;
}

int kiln_plan_lt_data(const struct kiln_app_spec *spec, const char *image_id,
                      struct kiln_arena *arena, struct kiln_lt_data *out)
{
  const struct kiln_lt_spec *lt = &spec->launch_template;

  memset(out, 0, sizeof(*out));
  out->image_id = image_id;
  out->instance_type = lt->instance_type;
  if (lt->user_data != NULL) {
    out->user_data_b64 = base64(arena, lt->user_data, lt->user_data_len);
    if (out->user_data_b64 == NULL)
      return KILN_ENOMEM;
  }
  out->security_groups = lt->security_groups;
  out->instance_profile = lt->instance_profile;
  out->http_tokens = lt->http_tokens;
  /* Kiln always sends it; the spec has no setting for it. */
  out->http_endpoint = "enabled";
  out->http_hop_limit = lt->http_hop_limit;
  if (lt->n_block_devices > 0) {
    out->bdevs =
        kiln_arena_alloc(arena, lt->n_block_devices * sizeof(*out->bdevs));
    if (out->bdevs == NULL)
      return KILN_ENOMEM;
    for (size_t i = 0; i < lt->n_block_devices; i++) {
      const struct kiln_block_device *d = &lt->block_devices[i];
      out->bdevs[i] = (struct kiln_lt_bdev){
          .device = d->device,
          .size_gib = d->size_gib,
          .type = d->type,
          .encrypted = d->encrypted,
          .delete_on_termination = d->delete_on_termination,
          .iops = d->iops,
          .throughput = d->throughput,
      };
    }
    out->n_bdevs = lt->n_block_devices;
  }
  return merged_tags(spec, arena, &out->instance_tags);
}

static const char *show(const char *s)
{
  return s != NULL ? s : "(none)";
}

static size_t count_str(const struct kiln_strs *s, const char *x)
{
  size_t n = 0;
  for (size_t i = 0; i < s->n; i++)
    n += strcmp(s->items[i], x) == 0;
  return n;
}

bool kiln_plan_same_set(const struct kiln_strs *a, const struct kiln_strs *b)
{
  if (a->n != b->n)
    return false;
  /* Sets of a few ids: counting beats sorting copies. */
  for (size_t i = 0; i < a->n; i++)
    if (count_str(a, a->items[i]) != count_str(b, a->items[i]))
      return false;
  return true;
}

const char *kiln_plan_set_text(struct kiln_arena *a, const struct kiln_strs *s)
{
  struct kiln_buf b;
  const char **items;
  const char *out;

  if (s->n == 0)
    return "(none)";
  items = malloc(s->n * sizeof(*items));
  if (items == NULL)
    return NULL;
  memcpy(items, s->items, s->n * sizeof(*items));
  qsort(items, s->n, sizeof(*items), cmp_str);
  kiln_buf_init(&b, 0);
  for (size_t i = 0; i < s->n; i++)
    kiln_buf_printf(&b, "%s%s", i > 0 ? "," : "", items[i]);
  out = kiln_arena_strdup(a, b.data != NULL ? b.data : "");
  kiln_buf_cleanup(&b);
  free(items);
  return out;
}

static const char *render_bdevs(struct kiln_arena *a,
                                const struct kiln_lt_bdev *d, size_t n)
{
  struct kiln_buf b;
  struct kiln_lt_bdev *items;
  const char *out;

  if (n == 0)
    return "(none)";
  items = malloc(n * sizeof(*items));
  if (items == NULL)
    return NULL;
  memcpy(items, d, n * sizeof(*items));
  qsort(items, n, sizeof(*items), cmp_bdev);
  kiln_buf_init(&b, 0);
  for (size_t i = 0; i < n; i++) {
    kiln_buf_printf(&b, "%s%s:%lldGiB:%s%s%s", i > 0 ? "," : "",
                    items[i].device, (long long)items[i].size_gib,
                    show(items[i].type), items[i].encrypted ? ":encrypted" : "",
                    items[i].delete_on_termination ? "" : ":keep");
    if (items[i].iops != 0)
      kiln_buf_printf(&b, ":iops=%lld", (long long)items[i].iops);
    if (items[i].throughput != 0)
      kiln_buf_printf(&b, ":throughput=%lld", (long long)items[i].throughput);
  }
  out = kiln_arena_strdup(a, b.data != NULL ? b.data : "");
  kiln_buf_cleanup(&b);
  free(items);
  return out;
}

/* The same as render_bdevs() shows them. */
static bool bdev_eq(const struct kiln_lt_bdev *x, const struct kiln_lt_bdev *y)
{
  return strcmp(x->device, y->device) == 0 && x->size_gib == y->size_gib &&
         strcmp(show(x->type), show(y->type)) == 0 &&
         x->encrypted == y->encrypted &&
         x->delete_on_termination == y->delete_on_termination &&
         x->iops == y->iops && x->throughput == y->throughput;
}

static size_t count_bdev(const struct kiln_lt_bdev *d, size_t n,
                         const struct kiln_lt_bdev *x)
{
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    c += bdev_eq(&d[i], x);
  return c;
}

static bool same_bdevs(const struct kiln_lt_data *want,
                       const struct kiln_lt_data *have)
{
  if (want->n_bdevs != have->n_bdevs)
    return false;
  for (size_t i = 0; i < want->n_bdevs; i++)
    if (count_bdev(want->bdevs, want->n_bdevs, &want->bdevs[i]) !=
        count_bdev(have->bdevs, have->n_bdevs, &want->bdevs[i]))
      return false;
  return true;
}

/* User data can be large: show its size and a short hash, not the bytes. */
static const char *render_user_data(struct kiln_arena *a, const char *b64)
{
  char sha[65];
  if (b64 == NULL)
    return "(none)";
  kiln_sha256_hex(b64, strlen(b64), sha);
  return kiln_arena_printf(a, "%zu bytes base64, sha256 %.8s", strlen(b64),
                           sha);
}

struct differ {
  struct kiln_arena *a;
  struct kiln_drift **drift;
  size_t *n;
  enum kiln_drift_cause cause;
  int err;
};

static void add(struct differ *d, const char *field, const char *desired,
                const char *actual)
{
  struct kiln_drift *grown;
  if (d->err != 0)
    return;
  if (desired == NULL || actual == NULL) {
    d->err = KILN_ENOMEM;
    return;
  }
  grown = kiln_arena_alloc(d->a, (*d->n + 1) * sizeof(*grown));
  if (grown == NULL) {
    d->err = KILN_ENOMEM;
    return;
  }
  if (*d->n > 0)
    memcpy(grown, *d->drift, *d->n * sizeof(*grown));
  grown[*d->n] = (struct kiln_drift){field, desired, actual, d->cause};
  *d->drift = grown;
  (*d->n)++;
}

int kiln_plan_lt_diff(const struct kiln_lt_data *want,
                      const struct kiln_lt_data *have,
                      enum kiln_drift_cause cause, struct kiln_arena *arena,
                      struct kiln_drift **drift, size_t *n)
{
  struct differ d = {arena, drift, n, cause, 0};

  if (!kiln_str_eq(want->image_id, have->image_id))
    add(&d, "launchTemplate.imageId", show(want->image_id),
        show(have->image_id));
  if (!kiln_str_eq(want->instance_type, have->instance_type))
    add(&d, "launchTemplate.instanceType", show(want->instance_type),
        show(have->instance_type));
  if (!kiln_str_eq(want->user_data_b64, have->user_data_b64))
    add(&d, "launchTemplate.userData",
        render_user_data(arena, want->user_data_b64),
        render_user_data(arena, have->user_data_b64));
  if (!kiln_plan_same_set(&want->security_groups, &have->security_groups))
    add(&d, "launchTemplate.securityGroups",
        kiln_plan_set_text(arena, &want->security_groups),
        kiln_plan_set_text(arena, &have->security_groups));
  if (!kiln_str_eq(want->instance_profile, have->instance_profile))
    add(&d, "launchTemplate.instanceProfile", show(want->instance_profile),
        show(have->instance_profile));
  if (!same_bdevs(want, have))
    add(&d, "launchTemplate.blockDevices",
        render_bdevs(arena, want->bdevs, want->n_bdevs),
        render_bdevs(arena, have->bdevs, have->n_bdevs));
  if (!kiln_str_eq(want->http_tokens, have->http_tokens))
    add(&d, "launchTemplate.metadata.httpTokens", show(want->http_tokens),
        show(have->http_tokens));
  if (!kiln_str_eq(want->http_endpoint, have->http_endpoint))
    add(&d, "launchTemplate.metadata.httpEndpoint", show(want->http_endpoint),
        show(have->http_endpoint));
  if (want->http_hop_limit != have->http_hop_limit)
    add(&d, "launchTemplate.metadata.hopLimit",
        kiln_arena_printf(arena, "%lld", (long long)want->http_hop_limit),
        kiln_arena_printf(arena, "%lld", (long long)have->http_hop_limit));
  if (!kiln_tags_equal(&want->instance_tags, &have->instance_tags))
    add(&d, "launchTemplate.tags", kiln_tags_json(arena, &want->instance_tags),
        kiln_tags_json(arena, &have->instance_tags));
  return d.err;
}
