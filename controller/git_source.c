#include "kiln/git_source.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/file.h"
#include "kiln/hash.h"
#include "kiln/num.h"
#include "kiln/paths.h"

#include <errno.h>
#include <git2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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

/* A URL can carry secrets: a user and password
 * (https://user:token@host/...) or a token in its query string
 * (?access_token=...). Shown: scheme, host and path, and the query's keys
 * with every value replaced by "REDACTED"; a fragment is dropped. */
static void redact(const char *src, char *out, size_t size)
{
  const char *scheme = strstr(src, "://");
  const char *host = scheme != NULL ? scheme + 3 : src;
  const char *at = strchr(host, '@');
  const char *slash = strchr(host, '/');
  const char *query, *end;
  size_t n = 0;

#define SHOW(p, len)                                                           \
  n += (size_t)snprintf(out + (n < size ? n : size), n < size ? size - n : 0,  \
                        "%.*s", (int)(len), (p))
  out[0] = '\0';
  if (scheme != NULL && at != NULL && (slash == NULL || at < slash)) {
    SHOW(src, host - src);
    host = at + 1;
  } else {
    host = src;
  }
  query = strchr(host, '?');
  end = query != NULL ? query : host + strcspn(host, "#");
  SHOW(host, end - host);
  for (const char *p = query; p != NULL && (*p == '?' || *p == '&');) {
    size_t key = strcspn(p + 1, "=&#");
    SHOW(p, key + 1);
    p += 1 + key;
    if (*p == '=') {
      SHOW("=REDACTED", 9);
      p += 1 + strcspn(p + 1, "&#");
    }
  }
#undef SHOW
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
  char sha[65];
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
  kiln_sha256_hex(src, strlen(src), sha);
  size_t len = strlen(cache_dir) + 32;
  s->repo_path = malloc(len);
  if (s->repo_path == NULL)
    goto oom;
  snprintf(s->repo_path, len, "%s/%.16s.git", cache_dir, sha);
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

/* A mirror has to live somewhere even without a home directory, so the
 * cache, unlike the state directory, falls back to /tmp. */
void kiln_git_source_default_cache(char *out, size_t size)
{
  if (kiln_paths_default_dir(KILN_PATHS_CACHE, out, size) != 0)
    snprintf(out, size, "/tmp/kiln-cache-%u", (unsigned)getuid());
}

#define MIRROR_FETCHSPEC "+refs/heads/*:refs/heads/*"

/* The mirror, and an in-memory remote for one fetch. libgit2 1.5 (with
 * PCRE2) leaks a PCRE2 match block (about 20 KiB) for every config entry a
 * config regex does not match, and both git_remote_lookup() and
 * git_remote_create*() run two such regexes (url.*.insteadOf and
 * url.*.pushInsteadOf) over the whole config: about 250 KB a fetch under
 * the sanitizers, 114 KB in the release build, for as long as the daemon
 * runs. An anonymous remote made with GIT_REMOTE_CREATE_SKIP_INSTEADOF
 * reads no config at all. Kiln fetches the URL it was given, so insteadOf
 * rewrites in a user's gitconfig do not apply. The mirror's config still
 * names its origin (written directly, which runs no regex), for people who
 * look at it with git. */
static int open_or_init_mirror(const struct kiln_git_source *s,
                               git_repository **repo, git_remote **remote)
{
  git_remote_create_options o;

  if (git_repository_open_bare(repo, s->repo_path) != 0) {
    git_config *cfg = NULL;
    int rc;
    if (git_repository_init(repo, s->repo_path, 1) != 0)
      return -1;
    rc = git_repository_config(&cfg, *repo);
    if (rc == 0)
      rc = git_config_set_string(cfg, "remote.origin.url", s->src);
    if (rc == 0)
      rc = git_config_set_string(cfg, "remote.origin.fetch", MIRROR_FETCHSPEC);
    git_config_free(cfg);
    if (rc != 0)
      return -1;
  }
  git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
  o.repository = *repo;
  o.fetchspec = MIRROR_FETCHSPEC; /* every branch under its own name */
  o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
            GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  return git_remote_create_with_opts(remote, s->src, &o);
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
    /* A token longer than out is refused, not cut short. */
    struct kiln_buf b;
    kiln_buf_init_secret(&b, size - 1);
    if (kiln_file_read(path, &b, NULL) != 0) {
      kiln_buf_cleanup(&b);
      return -1;
    }
    n = b.len;
    if (n > 0)
      memcpy(out, b.data, n);
    out[n] = '\0';
    kiln_buf_cleanup(&b);
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

/* ---- SSH: a key, and the host key checked against known_hosts ---- */

static void home_path(char *out, size_t size, const char *env,
                      const char *fallback)
{
  const char *v = getenv(env), *home = getenv("HOME");
  if (v != NULL && v[0] != '\0')
    snprintf(out, size, "%s", v);
  else
    snprintf(out, size, "%s/%s", home != NULL ? home : "", fallback);
}

/* Does one known_hosts host pattern (plain, or hashed "|1|salt|hash") name
 * want ("host" or "[host]:port")? */
static bool host_matches(const char *pattern, size_t len, const char *want)
{
  if (len > 3 && strncmp(pattern, "|1|", 3) == 0) {
    unsigned char salt[64], hash[64], mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const char *bar = memchr(pattern + 3, '|', len - 3);
    int salt_len, hash_len;
    if (bar == NULL)
      return false;
    salt_len = EVP_DecodeBlock(salt, (const unsigned char *)pattern + 3,
                               (int)(bar - pattern - 3));
    hash_len = EVP_DecodeBlock(hash, (const unsigned char *)bar + 1,
                               (int)(pattern + len - bar - 1));
    if (salt_len < 20 || hash_len < 20 ||
        HMAC(EVP_sha1(), salt, 20, (const unsigned char *)want, strlen(want),
             mac, &mac_len) == NULL)
      return false;
    return mac_len == 20 && CRYPTO_memcmp(mac, hash, 20) == 0;
  }
  return strlen(want) == len && strncmp(pattern, want, len) == 0;
}

/* 0: the key is known for the host; KILN_ENOENT: the host is unknown;
 * KILN_EPERM: the host is known with another key. */
static int check_known_host(const char *path, const char *want,
                            const unsigned char *key, size_t key_len)
{
  char line[16384];
  bool host_seen = false;
  FILE *f = fopen(path, "re");

  if (f == NULL)
    return KILN_ENOENT;
  while (fgets(line, sizeof(line), f) != NULL) {
    char *hosts = strtok(line, " \t\r\n"), *type, *b64;
    unsigned char decoded[8192];
    int n;
    bool match = false;
    if (hosts == NULL || hosts[0] == '#' || hosts[0] == '@')
      continue;
    type = strtok(NULL, " \t\r\n");
    b64 = strtok(NULL, " \t\r\n");
    if (type == NULL || b64 == NULL || strlen(b64) > sizeof(decoded) / 4 * 3)
      continue;
    for (char *h = hosts; *h != '\0' && !match;) {
      size_t len = strcspn(h, ",");
      match = h[0] != '!' && host_matches(h, len, want);
      h += len + (h[len] == ',');
    }
    if (!match)
      continue;
    host_seen = true;
    n = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)strlen(b64));
    /* EVP_DecodeBlock counts each '=' of padding as a zero byte. */
    for (size_t k = strlen(b64); k > 0 && b64[k - 1] == '=' && n > 0; k--)
      n--;
    if (n > 0 && (size_t)n == key_len &&
        CRYPTO_memcmp(decoded, key, key_len) == 0) {
      fclose(f);
      return 0;
    }
  }
  fclose(f);
  return host_seen ? KILN_EPERM : KILN_ENOENT;
}

struct remote_ctx {
  struct auth auth;
  int ssh_port; /* from the URL; 22 when not given */
};

static int on_certificate(git_cert *cert, int valid, const char *host,
                          void *payload)
{
  struct remote_ctx *r = payload;
  git_cert_hostkey *hk = (git_cert_hostkey *)cert;
  char known[1024], want[512];
  int rc;

  if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
    return GIT_PASSTHROUGH; /* TLS: libgit2 verifies against the CA store */
  if (!(hk->type & GIT_CERT_SSH_RAW)) {
    git_error_set_str(GIT_ERROR_SSH, "the server's host key is not available "
                                     "to check");
    return -1;
  }
  home_path(known, sizeof(known), "KILN_GIT_SSH_KNOWN_HOSTS",
            ".ssh/known_hosts");
  if (r->ssh_port == 22)
    snprintf(want, sizeof(want), "%s", host);
  else
    snprintf(want, sizeof(want), "[%s]:%d", host, r->ssh_port);
  rc = check_known_host(known, want, (const unsigned char *)hk->hostkey,
                        hk->hostkey_len);
  if (rc == 0)
    return 0;
  git_error_set_str(GIT_ERROR_SSH,
                    rc == KILN_EPERM
                        ? "the host key does not match known_hosts: refusing "
                          "(someone may be impersonating the server)"
                        : "the host is not in known_hosts: add its key "
                          "(ssh-keyscan) to $KILN_GIT_SSH_KNOWN_HOSTS or "
                          "~/.ssh/known_hosts");
  return -1;
}

static int on_ssh_or_token(git_credential **out, const char *url,
                           const char *username_from_url,
                           unsigned int allowed_types, void *payload)
{
  struct remote_ctx *r = payload;
  const char *user = username_from_url != NULL && username_from_url[0] != '\0'
                         ? username_from_url
                         : "git";
  if (allowed_types & GIT_CREDENTIAL_USERNAME)
    return git_credential_username_new(out, user);
  if (allowed_types & GIT_CREDENTIAL_SSH_KEY) {
    char key[1024];
    if (r->auth.offered++ > 0)
      return GIT_PASSTHROUGH;
    home_path(key, sizeof(key), "KILN_GIT_SSH_KEY", ".ssh/id_ed25519");
    return git_credential_ssh_key_new(out, user, NULL, key, NULL);
  }
  return on_credentials(out, url, username_from_url, allowed_types, &r->auth);
}

/* The port of an ssh:// URL; 22 for scp-like addresses and the default.
 * A port that is not one (libgit2 refuses the URL itself) is also 22 here,
 * never atoi()'s guess. */
static int ssh_port_of(const char *src)
{
  const char *host, *colon, *slash;
  int64_t port;
  if (strncmp(src, "ssh://", 6) != 0)
    return 22;
  host = strchr(src + 6, '@');
  host = host != NULL ? host + 1 : src + 6;
  slash = strchr(host, '/');
  colon = strchr(host, ':');
  if (colon == NULL || (slash != NULL && colon > slash))
    return 22;
  if (kiln_num_parse_i64n(colon + 1,
                          slash != NULL ? (size_t)(slash - colon - 1)
                                        : strlen(colon + 1),
                          1, 65535, &port) != 0)
    return 22;
  return (int)port;
}

int kiln_git_source_fetch(struct kiln_git_source *s, char *err, size_t err_size)
{
  struct remote_ctx ctx = {.ssh_port = ssh_port_of(s->src)};
  git_repository *repo = NULL;
  git_remote *remote = NULL;
  git_fetch_options opts;
  git_buf head = {0};
  char shown[1024];
  int rc = 0;

  if (!s->mirrored)
    return 0;
  git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
  opts.callbacks.credentials = on_ssh_or_token;
  opts.callbacks.certificate_check = on_certificate;
  opts.callbacks.payload = &ctx;
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
  ctx.auth.offered = 0; /* a new connection may ask again */
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
