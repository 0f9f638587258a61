#include "kiln/file.h"
#include "kiln/buf.h"
#include "kiln/error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

static int from_errno(int e)
{
  if (e == ENOENT || e == ENOTDIR)
    return KILN_ENOENT;
  if (e == EACCES || e == EPERM)
    return KILN_EPERM;
  if (e == EISDIR)
    return KILN_EINVAL;
  return KILN_EIO;
}

int kiln_file_read(const char *path, struct kiln_buf *out, struct stat *st)
{
  struct stat own;
  char chunk[4096];
  ssize_t n;
  int fd, err = 0;

  if (st == NULL)
    st = &own;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return from_errno(errno);
  /* The size is never trusted: /dev/null, FIFOs and /proc files say 0 or
   * nothing useful. The limit is enforced while reading. */
  if (fstat(fd, st) != 0) {
    err = KILN_EIO;
    goto done;
  }
  if (S_ISDIR(st->st_mode)) {
    err = KILN_EINVAL;
    goto done;
  }
  for (;;) {
    n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      err = from_errno(errno);
      break;
    }
    if (n == 0)
      break;
    if ((err = kiln_buf_append(out, chunk, (size_t)n)) != 0)
      break;
  }
done:
  OPENSSL_cleanse(chunk, sizeof(chunk));
  close(fd);
  return err;
}
