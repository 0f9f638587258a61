#include "kiln/tree.h"
#include "kiln/error.h"

#include <stdio.h>
#include <string.h>

#define MAX_REF_BYTES 1024

static int reject(const char **why, const char *text)
{
  *why = text;
  return KILN_EINVAL;
}

int kiln_tree_join(const char *base, const char *ref, char *out,
                   size_t out_size, const char **why)
{
  size_t len = strlen(ref);
  const char *seg = ref;

  if (len == 0)
    return reject(why, "file reference is empty");
  if (len > MAX_REF_BYTES)
    return reject(why, "file reference is longer than 1024 bytes");
  if (ref[0] == '/')
    return reject(why, "file reference must be relative to the app's "
                       "directory, not absolute");
  for (const char *p = ref; *p != '\0'; p++) {
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      return reject(why, "file reference contains a control character");
    if (*p == '\\')
      return reject(why, "file reference contains a backslash; use '/'");
  }
  /* Every component must be a plain name: no "", ".", or "..". */
  while (*seg != '\0') {
    const char *end = strchr(seg, '/');
    size_t n = end != NULL ? (size_t)(end - seg) : strlen(seg);
    if (n == 0)
      return reject(why, "file reference has an empty path component");
    if (n == 2 && seg[0] == '.' && seg[1] == '.')
      return reject(why, "file reference may not contain '..'; files must "
                         "stay inside the app's directory tree");
    if (n == 1 && seg[0] == '.')
      return reject(why, "file reference may not contain '.' components");
    seg += n;
    if (*seg == '/')
      seg++;
  }
  if (ref[len - 1] == '/')
    return reject(why, "file reference names a directory");
  if ((size_t)snprintf(out, out_size, "%s%s%s", base,
                       base[0] != '\0' ? "/" : "", ref) >= out_size)
    return reject(why, "file reference is too long");
  return 0;
}
