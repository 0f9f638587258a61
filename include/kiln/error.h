/* Kiln error codes.
 *
 * Every function that can fail returns int: 0 on success or one of the
 * negative KILN_E... codes below. Errors from libraries (CURLcode, git_error,
 * uv, OpenSSL) are translated once, at the edge of the module that calls
 * them. The list is an X-macro so names and messages never drift apart.
 */
#ifndef KILN_ERROR_H
#define KILN_ERROR_H

#define KILN_ERRNO_MAP(XX)                                                     \
  XX(EINVAL, "invalid argument")                                               \
  XX(ENOMEM, "out of memory")                                                  \
  XX(EIO, "input/output error")                                                \
  XX(ENOENT, "no such file or object")                                         \
  XX(EEXIST, "already exists")                                                 \
  XX(ETOOBIG, "input exceeds its size limit")                                  \
  XX(EPARSE, "malformed input")                                                \
  XX(ESPEC, "invalid desired-state specification")                             \
  XX(EPERM, "permission denied")                                               \
  XX(EUNSUPPORTED, "not supported")                                            \
  XX(EAWS, "AWS returned an error")                                            \
  XX(ETHROTTLED, "request throttled by AWS")                                   \
  XX(ECREDENTIALS, "no usable AWS credentials")                                \
  XX(ETIMEDOUT, "operation timed out")                                         \
  XX(ECONN, "connection failed")                                               \
  XX(ETLS, "TLS verification failed")                                          \
  XX(EHTTP, "unexpected HTTP response")                                        \
  XX(EGIT, "git operation failed")                                             \
  XX(ECANCELED, "operation canceled")                                          \
  XX(EAGAIN, "resource temporarily unavailable")                               \
  XX(EINTERNAL, "internal error")                                              \
  XX(ERANGE, "number out of range")                                            \
  XX(ELINK, "symbolic link not followed")

enum kiln_errno {
  KILN_OK = 0,
#define XX(name, msg) KILN_##name,
  KILN__ERRNO_FIRST = -1000,
  KILN_ERRNO_MAP(XX)
#undef XX
      KILN__ERRNO_LAST
};

/* Static, human-readable message for an error code; never NULL. */
const char *kiln_strerror(int err);

/* Static symbolic name ("KILN_EINVAL") for an error code; never NULL. */
const char *kiln_err_name(int err);

#endif
