/* Webhook verification for POST /hooks/github, /hooks/gitlab and
 * /hooks/generic.
 *
 * Pure functions: no I/O except kiln_webhook_secret_load(), no logging, no
 * global state. A verified hook only proves who sent it; its payload is
 * never trusted as state (a hook only triggers a fetch).
 *
 * Every comparison with secret material runs in constant time
 * (CRYPTO_memcmp over equal-length digests). An empty or missing secret
 * rejects everything, so a daemon started without --webhook-secret-file
 * can never be triggered by an unsigned request.
 */
#ifndef KILN_WEBHOOK_H
#define KILN_WEBHOOK_H

#include <stddef.h>

/* Longest secret accepted, from a file or memory. */
#define KILN_WEBHOOK_MAX_SECRET_BYTES 4096u

enum kiln_webhook_scheme {
  /* X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)> */
  KILN_WEBHOOK_GITHUB,
  /* X-Gitlab-Token: <the secret itself> */
  KILN_WEBHOOK_GITLAB,
  /* X-Kiln-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)> */
  KILN_WEBHOOK_GENERIC
};

/* A shared secret. Its bytes are wiped (OPENSSL_cleanse) by
 * kiln_webhook_secret_cleanup(); never print them. */
struct kiln_webhook_secret {
  unsigned char *data; /* NULL when empty */
  size_t len;
};

/* Prepares caller-owned storage as an empty secret (which rejects every
 * hook). */
void kiln_webhook_secret_init(struct kiln_webhook_secret *s);

/* Wipes and frees the secret; s is empty afterwards. Safe to call twice. */
void kiln_webhook_secret_cleanup(struct kiln_webhook_secret *s);

/* Replaces s with a copy of len bytes. Returns 0, KILN_ETOOBIG (over
 * KILN_WEBHOOK_MAX_SECRET_BYTES) or KILN_ENOMEM; s is unchanged on error. */
int kiln_webhook_secret_set(struct kiln_webhook_secret *s, const void *data,
                            size_t len);

/* Reads the secret from path into s (which must be initialised; a previous
 * secret is wiped). One trailing newline ("\n" or "\r\n") is removed; the
 * rest is used byte for byte. Like ssh with private keys, the file must be a
 * regular file owned by the current user (or root) and not readable or
 * writable by group or others. Blocks on disk I/O.
 *
 * Returns 0, KILN_ENOENT, KILN_EPERM (unsafe permissions or ownership, or
 * unreadable), KILN_EINVAL (not a regular file, or empty), KILN_ETOOBIG
 * (over KILN_WEBHOOK_MAX_SECRET_BYTES), KILN_EIO or KILN_ENOMEM, with a
 * sentence naming the file and what to do in err (which never contains
 * secret bytes). s is unchanged on error. */
int kiln_webhook_secret_load(struct kiln_webhook_secret *s, const char *path,
                             char *err, size_t err_size);

/* The request header scheme reads ("X-Hub-Signature-256", ...). */
const char *kiln_webhook_header_name(enum kiln_webhook_scheme scheme);

/* Verifies a hook: header_value is the value of
 * kiln_webhook_header_name(scheme) (NULL when the header is missing), body
 * the raw request body exactly as received.
 *
 * For the HMAC schemes header_value must be "sha256=" followed by exactly
 * 64 hex digits (either case) and nothing else. For GitLab it must equal
 * the secret.
 *
 * Returns 0 when the hook is authentic, KILN_EPARSE when the header is
 * missing or malformed, KILN_EPERM when the secret is empty or the
 * signature or token does not match, KILN_EINVAL for an unknown scheme, or
 * KILN_EINTERNAL if OpenSSL fails. Anything but 0 means reject. */
int kiln_webhook_verify(enum kiln_webhook_scheme scheme,
                        const struct kiln_webhook_secret *secret,
                        const char *header_value, const void *body,
                        size_t body_len);

/* The same verification, with the body fed as it arrives, so that a hook's
 * body never has to be held: only the HMAC state is kept (GitLab's token
 * needs no body at all). */
struct kiln_webhook_verifier;

/* Starts verifying a hook of scheme signed with header_value (copied;
 * NULL when the header is missing). secret is read here and not kept.
 * Returns 0 with *out, KILN_EINVAL (unknown scheme) or KILN_ENOMEM. A
 * verifier is made even when the header is already wrong: finish() then
 * says so, whatever the body. */
int kiln_webhook_verifier_new(enum kiln_webhook_scheme scheme,
                              const struct kiln_webhook_secret *secret,
                              const char *header_value,
                              struct kiln_webhook_verifier **out);

/* Feeds len more bytes of the raw body. */
void kiln_webhook_verifier_update(struct kiln_webhook_verifier *v,
                                  const void *data, size_t len);

/* The verdict on the body fed so far, as kiln_webhook_verify() returns it.
 * Call it once. */
int kiln_webhook_verifier_finish(struct kiln_webhook_verifier *v);

/* Frees v (NULL is fine); the key material in it is wiped. */
void kiln_webhook_verifier_free(struct kiln_webhook_verifier *v);

/* Parses "sha256=<64 hex digits>" into digest. Returns 0 or KILN_EPARSE. */
int kiln_webhook_parse_sha256(const char *header_value,
                              unsigned char digest[32]);

#endif
