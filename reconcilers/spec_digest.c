/* The content address of an app's image.
 *
 * The digest covers exactly what changes the bytes of the AMI and nothing
 * else: capacity, rollout, launch template and drift settings never change
 * it, so reverting them never bakes. The encoding is JSON built in a fixed
 * key order (json-c keeps insertion order), so YAML key order, comments and
 * whitespace cannot change it. A schema tag versions the encoding itself.
 */
#include "kiln/error.h"
#include "kiln/hash.h"
#include "kiln/spec.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST_SCHEMA "kiln.dev/image-digest/v1"

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_object *str_array(const struct kiln_strs *s, bool sorted)
{
  json_object *arr = json_object_new_array();
  const char **items = NULL;

  if (arr == NULL)
    return NULL;
  if (s->n > 0) {
    items = malloc(s->n * sizeof(*items));
    if (items == NULL)
      goto fail;
    memcpy(items, s->items, s->n * sizeof(*items));
    if (sorted)
      qsort(items, s->n, sizeof(*items), cmp_str);
  }
  for (size_t i = 0; i < s->n; i++)
    if (json_object_array_add(arr, json_object_new_string(items[i])) != 0)
      goto fail;
  free(items);
  return arr;
fail:
  free(items);
  json_object_put(arr);
  return NULL;
}

static json_object *nullable(const char *s)
{
  return s != NULL ? json_object_new_string(s) : NULL;
}

static json_object *component_json(const struct kiln_component_spec *c)
{
  json_object *o = json_object_new_object();
  json_object *params = json_object_new_object();
  char doc_hex[65];

  if (o == NULL || params == NULL)
    goto fail;
  /* Keys in byte order: arn, document_sha256, parameters. */
  json_object_object_add(o, "arn", nullable(c->arn));
  if (c->file != NULL) {
    if (kiln_sha256_hex(c->document != NULL ? c->document : "", c->document_len,
                        doc_hex) != 0)
      goto fail;
    json_object_object_add(o, "document_sha256",
                           json_object_new_string(doc_hex));
  } else {
    json_object_object_add(o, "document_sha256", NULL);
  }
  /* Parameters arrive sorted by name from the parser. */
  for (size_t i = 0; i < c->n_params; i++) {
    json_object *vals = str_array(&c->params[i].values, false);
    if (vals == NULL)
      goto fail;
    json_object_object_add(params, c->params[i].name, vals);
  }
  json_object_object_add(o, "parameters", params);
  return o;
fail:
  json_object_put(params);
  json_object_put(o);
  return NULL;
}

static json_object *build_json(const struct kiln_build_spec *b)
{
  json_object *o = json_object_new_object();
  if (o == NULL)
    return NULL;
  /* Image Builder tries instance types in the order given: keep it. */
  json_object_object_add(o, "instance_profile", nullable(b->instance_profile));
  json_object_object_add(o, "instance_types",
                         str_array(&b->instance_types, false));
  json_object_object_add(o, "security_groups",
                         str_array(&b->security_groups, true));
  json_object_object_add(o, "subnet", nullable(b->subnet));
  return o;
}

int kiln_spec_image_digest(const struct kiln_app_spec *app,
                           const char *resolved_parent, char digest_hex[65],
                           char **canonical)
{
  /* The memo is the snapshot's cache, not its meaning: writable. */
  struct kiln_digest_memo *memo = (struct kiln_digest_memo *)&app->digest_memo;
  const char *parent =
      resolved_parent != NULL ? resolved_parent : app->image.parent;
  json_object *root, *comps;
  const char *text;
  int err = KILN_ENOMEM;

  if (canonical != NULL)
    *canonical = NULL;
  if (app->image.parent == NULL || app->version == NULL)
    return KILN_EINVAL;
  if (canonical == NULL && memo->parent[0] != '\0' &&
      strcmp(memo->parent, parent) == 0) {
    memcpy(digest_hex, memo->hex, sizeof(memo->hex));
    return 0;
  }
  root = json_object_new_object();
  comps = json_object_new_array();
  if (root == NULL || comps == NULL)
    goto done;
  for (size_t i = 0; i < app->image.n_components; i++) {
    json_object *c = component_json(&app->image.components[i]);
    if (c == NULL || json_object_array_add(comps, c) != 0)
      goto done;
  }
  /* Keys in byte order. */
  json_object_object_add(root, "build", build_json(&app->image.build));
  json_object_object_add(root, "components", comps);
  comps = NULL;
  json_object_object_add(root, "parent", json_object_new_string(parent));
  /* The home's region: every environment of the app shares one digest. */
  json_object_object_add(root, "region",
                         nullable(app->image.home_region != NULL
                                      ? app->image.home_region
                                      : app->region));
  json_object_object_add(root, "schema", json_object_new_string(DIGEST_SCHEMA));
  json_object_object_add(root, "version", json_object_new_string(app->version));

  text = json_object_to_json_string_ext(
      root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  if (text == NULL)
    goto done;
  err = kiln_sha256_hex(text, strlen(text), digest_hex);
  if (err == 0 && strlen(parent) < sizeof(memo->parent)) {
    memcpy(memo->parent, parent, strlen(parent) + 1);
    memcpy(memo->hex, digest_hex, sizeof(memo->hex));
  }
  if (err == 0 && canonical != NULL) {
    *canonical = strdup(text);
    if (*canonical == NULL)
      err = KILN_ENOMEM;
  }
done:
  json_object_put(comps);
  json_object_put(root);
  return err;
}
