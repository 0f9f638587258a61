/* The one way Kiln reads a whole file it is pointed at (shared AWS config
 * and credentials files, token files, webhook secrets): bounded, and like
 * the AWS SDKs, indifferent to what kind of file it is. /dev/null reads as
 * empty (the usual way to switch the shared AWS files off); a FIFO from a
 * secrets manager, a /proc/self/fd/N or a character device is read up to
 * the limit. Only a directory is refused.
 */
#ifndef KILN_FILE_H
#define KILN_FILE_H

#include <sys/stat.h>

struct kiln_buf;

/* Appends the contents of path to out, reading until end of file; out's
 * max_bytes is the limit. Returns 0; KILN_ENOENT (path or a directory on
 * it missing); KILN_EPERM (not readable); KILN_EINVAL (a directory);
 * KILN_ETOOBIG (more than out->max_bytes: reading stops there, so an
 * endless device is an error, not a hang); KILN_EIO; KILN_ENOMEM. On error
 * out may hold part of the file: clean it up (wiped, if secret). When st is
 * not NULL it receives fstat() of the file read, so a caller can judge the
 * very file it read (owner, mode). Blocks until a FIFO has a writer and
 * until it closes. The read scratch is wiped. */
int kiln_file_read(const char *path, struct kiln_buf *out, struct stat *st);

#endif
