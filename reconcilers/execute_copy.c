/* The copy of an image from its home to a target's region or account: the
 * home's AMI and its snapshots are shared with the target's account first
 * when it is another one (with the home's credentials: launch permission,
 * createVolumePermission), then CopyImage runs with the target's
 * credentials, tagged like the original. The client token is the digest,
 * the location and the attempt, so a copy retried after a crash or a
 * timeout is the same copy; each failed copy makes the next attempt a new
 * one. Granting what is granted already is no error, so every call of the
 * step may run again. */
#include "execute_private.h"

#include "kiln/arena.h"
#include "kiln/ec2.h"
#include "kiln/error.h"
#include "kiln/hash.h"

#include <stdio.h>
#include <string.h>

struct copy {
  struct kiln_aws_client *client;
  struct kiln_aws_client *home_client;
  const struct kiln_app_spec *spec;
  const char *commit;
  const struct kiln_plan *plan;
  struct kiln_arena *a;
  kiln_execute_cb *cb;
  void *data;
  size_t snapshot; /* next snapshot to share */
  struct kiln_ec2_copied_image made;
  bool starting; /* a failure while starting is returned, never called back */
  int start_err;
};

static void finish(struct copy *c, int err, const struct kiln_aws_response *res,
                   const char *what)
{
  struct kiln_execute_result r = {0};
  if (c->starting) {
    c->start_err = err != 0 ? err : KILN_EINTERNAL;
    return;
  }
  r.message =
      err == 0 ? what
               : kiln_arena_printf(c->a, "copy-image failed: %s%s",
                                   what != NULL ? what : "",
                                   res != NULL && res->message != NULL &&
                                           res->message[0] != '\0'
                                       ? res->message
                                       : kiln_strerror(err));
  if (r.message == NULL)
    r.message = "out of memory";
  c->cb(err, &r, c->data);
}

static void on_tagged(int err, const struct kiln_aws_response *res, void *data)
{
  struct copy *c = data;
  const struct kiln_action *a = &c->plan->action;
  finish(c, err, res,
         err == 0 ? kiln_arena_printf(
                        c->a, "copying image %.12s from %s (%s) as AMI %s",
                        c->plan->digest, a->source_region, a->source_ami,
                        c->made.image_id)
                  : kiln_arena_printf(c->a, "tagging the copy %s: ",
                                      c->made.image_id));
}

/* The copy carries its tags from the start (TagSpecification); tagging it
 * once more by id makes sure of it where a copy was made without them (an
 * API or emulator that ignores them): an untagged copy would be found by
 * no pass, and copied again. */
static void on_copied(int err, const struct kiln_aws_response *res, void *data)
{
  struct copy *c = data;
  size_t n_tags;
  struct kiln_aws_tag *tags;
  if (err != 0)
    return finish(c, err, res, NULL);
  tags = kiln__execute_tags(c->a, c->spec, c->commit, c->plan->digest, &n_tags);
  if (tags == NULL)
    return finish(c, KILN_ENOMEM, NULL, NULL);
  err = kiln_ec2_create_tags(
      c->client,
      &(struct kiln_ec2_create_tags_request){
          .resource_ids = &c->made.image_id,
          .resource_id_count = 1,
          .tags = tags,
          .tag_count = n_tags},
      on_tagged, c);
  if (err != 0)
    finish(c, err, NULL, NULL);
}

/* "kiln-<app>-<digest 16>[-<attempt>]": unique in the account and region
 * per digest and attempt, as AWS wants AMI names. */
static const char *copy_name(struct copy *c)
{
  const struct kiln_action *a = &c->plan->action;
  if (a->copy_attempt == 0)
    return kiln_arena_printf(c->a, "kiln-%s-%.16s",
                             kiln_spec_app_name(c->spec), c->plan->digest);
  return kiln_arena_printf(c->a, "kiln-%s-%.16s-%zu",
                           kiln_spec_app_name(c->spec), c->plan->digest,
                           a->copy_attempt + 1);
}

static const char *copy_token(struct copy *c)
{
  char key[512], hex[65];
  int n = snprintf(key, sizeof(key), "copy|%s|%s|%s|%zu", c->plan->digest,
                   c->spec->region,
                   c->spec->role_arn != NULL ? c->spec->role_arn : "",
                   c->plan->action.copy_attempt);
  if (n < 0 || (size_t)n >= sizeof(key) ||
      kiln_sha256_hex(key, (size_t)n, hex) != 0)
    return NULL;
  return kiln_arena_printf(c->a, "kiln-%.48s", hex);
}

static void copy_now(struct copy *c)
{
  const struct kiln_action *a = &c->plan->action;
  size_t n_tags;
  struct kiln_aws_tag *tags =
      kiln__execute_tags(c->a, c->spec, c->commit, c->plan->digest, &n_tags);
  struct kiln_ec2_tag_spec *spec = kiln_arena_alloc(c->a, sizeof(*spec));
  const char *name = copy_name(c), *token = copy_token(c);
  int err;

  if (tags == NULL || spec == NULL || name == NULL || token == NULL)
    return finish(c, KILN_ENOMEM, NULL, NULL);
  *spec = (struct kiln_ec2_tag_spec){"image", tags, n_tags};
  err = kiln_ec2_copy_image(
      c->client,
      &(struct kiln_ec2_copy_image_request){
          .source_region = a->source_region,
          .source_image_id = a->source_ami,
          .name = name,
          .description = kiln_arena_printf(
              c->a, "Kiln image %.12s of %s, copied from %s in %s",
              c->plan->digest, kiln_spec_app_name(c->spec), a->source_ami,
              a->source_region),
          .client_token = token,
          .tag_specs = spec,
          .tag_spec_count = 1},
      c->a, &c->made, on_copied, c);
  if (err != 0)
    finish(c, err, NULL, NULL);
}

static void share_next(struct copy *c);

static void on_shared(int err, const struct kiln_aws_response *res, void *data)
{
  struct copy *c = data;
  if (err != 0)
    return finish(c, err, res,
                  kiln_arena_printf(c->a, "sharing %s with account %s: ",
                                    c->snapshot == 0
                                        ? c->plan->action.source_ami
                                        : c->plan->action
                                              .source_snapshots[c->snapshot - 1],
                                    c->plan->action.share_with));
  share_next(c);
}

/* The AMI first, then each snapshot, then the copy. */
static void share_next(struct copy *c)
{
  const struct kiln_action *a = &c->plan->action;
  const char **to = kiln_arena_alloc(c->a, sizeof(*to));
  size_t i = c->snapshot++;
  int err;

  if (to == NULL)
    return finish(c, KILN_ENOMEM, NULL, NULL);
  to[0] = a->share_with;
  if (i == 0)
    err = kiln_ec2_share_image(
        c->home_client,
        &(struct kiln_ec2_share_request){a->source_ami, to, 1}, on_shared, c);
  else if (i <= a->n_source_snapshots)
    err = kiln_ec2_share_snapshot(
        c->home_client,
        &(struct kiln_ec2_share_request){a->source_snapshots[i - 1], to, 1},
        on_shared, c);
  else
    return copy_now(c);
  if (err != 0)
    finish(c, err, NULL, NULL);
}

int kiln__execute_copy_start(struct kiln_aws_client *client,
                             struct kiln_aws_client *home_client,
                             const struct kiln_app_spec *spec,
                             const char *commit, const struct kiln_plan *plan,
                             struct kiln_arena *arena, kiln_execute_cb *cb,
                             void *data)
{
  struct copy *c = kiln_arena_alloc(arena, sizeof(*c));
  if (c == NULL)
    return KILN_ENOMEM;
  if (plan->action.share_with != NULL && home_client == NULL)
    return KILN_EINVAL;
  *c = (struct copy){.client = client,
                     .home_client = home_client,
                     .spec = spec,
                     .commit = commit,
                     .plan = plan,
                     .a = arena,
                     .cb = cb,
                     .data = data,
                     .starting = true};
  if (plan->action.share_with != NULL)
    share_next(c);
  else
    copy_now(c);
  c->starting = false;
  return c->start_err;
}
