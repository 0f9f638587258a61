#include "kiln/git_source.h"
#include "kiln/error.h"

#include <errno.h>
#include <git2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const remote_prefixes[] = {"file://", "https://", "http://",
                                              "ssh://",  "git://",   NULL};

bool kiln_git_source_is_remote(const char *src)
{
  const char *colon, *slash;
  for (size_t i = 0; remote_prefixes[i] != NULL; i++)
    if (strncmp(src, remote_prefixes[i], strlen(remote_prefixes[i])) == 0)
      return true;
  /* scp-like: user@host:path, with no '/' before the ':'. */
  colon = strchr(src, ':');
  slash = strchr(src, '/');
  return colon != NULL && strchr(src, '@') != NULL &&
         (slash == NULL || slash > colon);
}

static void say(char *err, size_t size, const char *fmt, const char *a,
                const char *b)
{
  if (err != NULL && size > 0)
    snprintf(err, size, fmt, a, b);
}

static const char *git_reason(void)
{
  const git_error *e = git_error_last();
  return e != NULL && e->message != NULL ? e->message : "unknown error";
}

/* A URL can carry a user and password (https://user:token@host/...): show
 * only scheme, host and path. */
static void redact(const char *src, char *out, size_t size)
{
  const char *scheme = strstr(src, "://");
  const char *at = scheme != NULL ? strchr(scheme + 3, '@') : NULL;
  const char *slash = scheme != NULL ? strchr(scheme + 3, '/') : NULL;
  if (at != NULL && (slash == NULL || at < slash))
    snprintf(out, size, "%.*s%s", (int)(scheme + 3 - src), src, at + 1);
  else
    snprintf(out, size, "%s", src);
}

static int mkdir_p(const char *dir)
{
  char tmp[4096];
  size_t n = (size_t)snprintf(tmp, sizeof(tmp), "%s", dir);
  if (n >= sizeof(tmp))
    return KILN_EINVAL;
  for (char *p = tmp + 1; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
      return KILN_EIO;
    *p = '/';
  }
  if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
    return KILN_EIO;
  return 0;
}

int kiln_git_source_open(struct kiln_git_source *s, const char *src,
                         const char *cache_dir, char *err, size_t err_size)
{
  unsigned char md[32];
  unsigned int md_len = 0;
  char shown[1024];

  memset(s, 0, sizeof(*s));
  git_libgit2_init();
  s->git_initialized = true;
  s->src = strdup(src);
  redact(src, shown, sizeof(shown));
  s->display = strdup(shown);
  if (s->src == NULL || s->display == NULL)
    goto oom;
  if (!kiln_git_source_is_remote(src)) {
    s->repo_path = strdup(src);
    if (s->repo_path == NULL)
      goto oom;
    return 0;
  }
  if (cache_dir == NULL || mkdir_p(cache_dir) != 0) {
    say(err, err_size, "cannot create the cache directory %s for %s",
        cache_dir != NULL ? cache_dir : "(none)", shown);
    kiln_git_source_close(s);
    return KILN_EIO;
  }
  /* One mirror per address, named by its hash. */
  EVP_Digest(src, strlen(src), md, &md_len, EVP_sha256(), NULL);
  size_t len = strlen(cache_dir) + 32;
  s->repo_path = malloc(len);
  if (s->repo_path == NULL)
    goto oom;
  snprintf(s->repo_path, len, "%s/%02x%02x%02x%02x%02x%02x%02x%02x.git",
           cache_dir, md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7]);
  s->mirrored = true;
  return 0;
oom:
  kiln_git_source_close(s);
  return KILN_ENOMEM;
}

void kiln_git_source_close(struct kiln_git_source *s)
{
  free(s->src);
  free(s->display);
  free(s->repo_path);
  if (s->git_initialized)
    git_libgit2_shutdown();
  memset(s, 0, sizeof(*s));
}

void kiln_git_source_default_cache(char *out, size_t size)
{
  const char *v;
  if ((v = getenv("KILN_CACHE_DIR")) != NULL && v[0] != '\0')
    snprintf(out, size, "%s", v);
  else if ((v = getenv("XDG_CACHE_HOME")) != NULL && v[0] == '/')
    snprintf(out, size, "%s/kiln", v);
  else if ((v = getenv("HOME")) != NULL && v[0] == '/')
    snprintf(out, size, "%s/.cache/kiln", v);
  else
    snprintf(out, size, "/tmp/kiln-cache-%u", (unsigned)getuid());
}

static int open_or_init_mirror(const struct kiln_git_source *s,
                               git_repository **repo, git_remote **remote)
{
  if (git_repository_open_bare(repo, s->repo_path) == 0)
    return git_remote_lookup(remote, *repo, "origin");
  if (git_repository_init(repo, s->repo_path, 1) != 0)
    return -1;
  /* Mirror every branch and tag under their own names. */
  return git_remote_create_with_fetchspec(remote, *repo, "origin", s->src,
                                          "+refs/heads/*:refs/heads/*");
}

/* HTTPS credentials: a token from $KILN_GIT_TOKEN_FILE (preferred: it can
 * be rotated and stays out of the process environment) or $KILN_GIT_TOKEN,
 * sent as the password of HTTP basic auth, as GitHub ("x-access-token") and
 * GitLab ("oauth2") accept it. Offered once per fetch: a refused token ends
 * the fetch instead of looping. Never logged. */
struct auth {
  int offered;
};

static int read_token(char *out, size_t size)
{
  const char *path = getenv("KILN_GIT_TOKEN_FILE");
  const char *env = getenv("KILN_GIT_TOKEN");
  size_t n = 0;

  out[0] = '\0';
  if (path != NULL && path[0] != '\0') {
    FILE *f = fopen(path, "re");
    if (f == NULL)
      return -1;
    n = fread(out, 1, size - 1, f);
    fclose(f);
    out[n] = '\0';
  } else if (env != NULL) {
    snprintf(out, size, "%s", env);
    n = strlen(out);
  }
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
    out[--n] = '\0';
  return n > 0 ? 0 : -1;
}

static int on_credentials(git_credential **out, const char *url,
                          const char *username_from_url,
                          unsigned int allowed_types, void *payload)
{
  struct auth *a = payload;
  char token[4096];
  int rc;

  if (a->offered++ > 0 ||
      !(allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) ||
      read_token(token, sizeof(token)) != 0)
    return GIT_PASSTHROUGH;
  rc = git_credential_userpass_plaintext_new(
      out,
      username_from_url != NULL && username_from_url[0] != '\0'
          ? username_from_url
          : "x-access-token",
      token);
  OPENSSL_cleanse(token, sizeof(token));
  return rc;
}

int kiln_git_source_fetch(struct kiln_git_source *s, char *err, size_t err_size)
{
  struct auth auth = {0};
  git_repository *repo = NULL;
  git_remote *remote = NULL;
  git_fetch_options opts;
  git_buf head = {0};
  char shown[1024];
  int rc = 0;

  if (!s->mirrored)
    return 0;
  git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
  opts.callbacks.credentials = on_credentials;
  opts.callbacks.payload = &auth;
  snprintf(shown, sizeof(shown), "%s", s->display);
  if (open_or_init_mirror(s, &repo, &remote) != 0) {
    say(err, err_size, "cannot prepare the mirror of %s: %s", shown,
        git_reason());
    rc = KILN_EGIT;
    goto done;
  }
  opts.prune = GIT_FETCH_PRUNE;
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
  if (git_remote_fetch(remote, NULL, &opts, "kiln fetch") != 0) {
    say(err, err_size, "cannot fetch %s: %s", shown, git_reason());
    rc = KILN_EGIT;
    goto done;
  }
  /* The remote's HEAD names its default branch; point ours at it. The
   * connection of the fetch is still usable for this. */
  auth.offered = 0; /* a new connection may ask again */
  if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &opts.callbacks,
                         &opts.proxy_opts, NULL) == 0 &&
      git_remote_default_branch(&head, remote) == 0)
    git_repository_set_head(repo, head.ptr);
  git_remote_disconnect(remote);
done:
  git_buf_dispose(&head);
  git_remote_free(remote);
  git_repository_free(repo);
  return rc;
}

int kiln_git_source_resolve(const struct kiln_git_source *s, const char *ref,
                            char commit_hex[41], char *err, size_t err_size)
{
  git_repository *repo = NULL;
  git_object *obj = NULL, *commit = NULL;
  const char *what = ref != NULL ? ref : "the default branch (HEAD)";
  int rc = 0;

  if (git_repository_open_ext(&repo, s->repo_path,
                              GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
    say(err, err_size, "cannot open git repository %s: %s", s->repo_path,
        git_reason());
    return KILN_ENOENT;
  }
  if (git_revparse_single(&obj, repo, ref != NULL ? ref : "HEAD") != 0) {
    say(err, err_size, "cannot resolve %s: %s", what, git_reason());
    rc = KILN_ENOENT;
    goto done;
  }
  if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) != 0) {
    say(err, err_size, "%s does not name a commit: %s", what, git_reason());
    rc = KILN_EGIT;
    goto done;
  }
  git_oid_tostr(commit_hex, 41, git_object_id(commit));
done:
  git_object_free(commit);
  git_object_free(obj);
  git_repository_free(repo);
  return rc;
}
