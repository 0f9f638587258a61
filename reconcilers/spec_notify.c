/* kiln.yaml's notifications: where Kiln tells people what happened.
 *
 *   notifications:
 *     - {type: github, repository: acme/fleet, tokenFile: /etc/kiln/gh,
 *        apiUrl: "https://api.github.com"}
 *     - {type: gitlab, project: acme/fleet, tokenFile: /etc/kiln/gl,
 *        apiUrl: "https://gitlab.com/api/v4"}
 *     - {type: webhook, url: "https://hooks.example.com/kiln",
 *        secretFile: /etc/kiln/hook-secret}
 *     - {type: slack, urlFile: /etc/kiln/slack-url}
 *
 * Secrets are files on Kiln's host, named here by absolute path and read
 * when a notification is sent (never from git, never logged). URLs are
 * https, or http to a loopback address only.
 */
#include "spec_parse.h"

#include "kiln/diag.h"

#include <stdio.h>
#include <string.h>

#define MAX_NOTIFIERS 16

static const char *const type_names[] = {"github", "gitlab", "webhook",
                                         "slack", NULL};
static const char *const keys[] = {"type",       "repository", "project",
                                   "tokenFile",  "apiUrl",     "url",
                                   "secretFile", "urlFile",    NULL};

/* https://..., or http:// to 127.0.0.0/8, [::1] or localhost. */
const char *kiln__check_notify_url(const char *u)
{
  static const char *const loopback[] = {"127.", "[::1]", "localhost", NULL};
  const char *host;
  if (strncmp(u, "https://", 8) == 0)
    host = u + 8;
  else if (strncmp(u, "http://", 7) == 0)
    host = u + 7;
  else
    return "must be an https:// URL (or http:// to a loopback address)";
  if (*host == '\0' || *host == '/' || strpbrk(u, " \t\r\n") != NULL ||
      strlen(u) > 2048)
    return "must be an https:// URL with a host";
  if (host == u + 7) {
    bool local = false;
    for (const char *const *l = loopback; *l != NULL; l++)
      if (strncmp(host, *l, strlen(*l)) == 0 &&
          (strcmp(*l, "127.") == 0 || host[strlen(*l)] == ':' ||
           host[strlen(*l)] == '/' || host[strlen(*l)] == '\0'))
        local = true;
    if (!local)
      return "is plain http to a host that is not this one: use https";
  }
  return NULL;
}

static const char *check_file(const char *s)
{
  return s[0] == '/' ? NULL
                     : "must be an absolute path to a file on Kiln's host";
}

/* "owner/name" (GitHub) or "group/.../project" (GitLab). */
static const char *check_repository(const char *s)
{
  const char *slash = strchr(s, '/');
  if (slash == NULL || slash == s || slash[1] == '\0' || strlen(s) > 255 ||
      strpbrk(s, " \t?#%") != NULL || strstr(s, "..") != NULL)
    return "must be owner/name";
  return NULL;
}

static const char *get(struct pctx *c, const struct kiln_ynode *map,
                       const char *key, const char *path, bool required,
                       const char *(*check)(const char *))
{
  const char *v = kiln__get_str(c, map, key, path, required);
  const char *why;
  if (v != NULL && (why = check(v)) != NULL) {
    kiln__perr(c, kiln_ynode_get(map, key), "%s.%s: '%.100s' %s", path, key, v,
               why);
    return NULL;
  }
  return v;
}

static void parse_one(struct pctx *c, const struct kiln_ynode *n, size_t i,
                      struct kiln_notifier_spec *out)
{
  char path[48];
  const char *type;

  snprintf(path, sizeof(path), "notifications[%zu]", i);
  if (!kiln__expect_map(c, n, path))
    return;
  kiln__check_keys(c, n, path, keys);
  type = kiln__get_str(c, n, "type", path, true);
  if (type == NULL)
    return;
  for (int t = 0; type_names[t] != NULL; t++)
    if (strcmp(type, type_names[t]) == 0)
      out->type = (enum kiln_notifier_type)t, out->line = n->line;
  if (out->line == 0) {
    kiln__perr(c, kiln_ynode_get(n, "type"),
               "%s.type: '%.40s' is not github, gitlab, webhook or slack",
               path, type);
    return;
  }
  switch (out->type) {
  case KILN_NOTIFY_GITHUB:
  case KILN_NOTIFY_GITLAB:
    out->repository =
        get(c, n, out->type == KILN_NOTIFY_GITHUB ? "repository" : "project",
            path, true, check_repository);
    out->token_file = get(c, n, "tokenFile", path, true, check_file);
    out->url = get(c, n, "apiUrl", path, false, kiln__check_notify_url);
    if (out->url == NULL && kiln_ynode_get(n, "apiUrl") == NULL)
      out->url = out->type == KILN_NOTIFY_GITHUB ? "https://api.github.com"
                                                 : "https://gitlab.com/api/v4";
    break;
  case KILN_NOTIFY_WEBHOOK:
    out->url = get(c, n, "url", path, true, kiln__check_notify_url);
    out->secret_file = get(c, n, "secretFile", path, true, check_file);
    break;
  case KILN_NOTIFY_SLACK:
    out->url_file = get(c, n, "urlFile", path, true, check_file);
    break;
  }
}

void kiln__spec_parse_notifications(struct pctx *c,
                                    const struct kiln_ynode *root,
                                    struct kiln_spec_defaults *d)
{
  const struct kiln_ynode *list = kiln_ynode_get(root, "notifications");
  if (kiln__is_null(list))
    return;
  if (list->kind != KILN_YNODE_SEQ) {
    kiln__perr(c, list, "notifications: expected a list");
    return;
  }
  if (list->n > MAX_NOTIFIERS) {
    kiln__perr(c, list, "notifications: %zu targets; at most %d", list->n,
               MAX_NOTIFIERS);
    return;
  }
  d->notifiers = kiln_arena_alloc(c->arena, (list->n + 1) * sizeof(*d->notifiers));
  if (d->notifiers == NULL) {
    c->oom = true;
    return;
  }
  for (size_t i = 0; i < list->n; i++) {
    struct kiln_notifier_spec *n = &d->notifiers[d->n_notifiers];
    memset(n, 0, sizeof(*n));
    parse_one(c, list->vals[i], i, n);
    if (n->line != 0)
      d->n_notifiers++;
  }
}
