/* Default state and cache directories. See include/kiln/paths.h. */
#include "kiln/paths.h"
#include "kiln/error.h"

#include <stdio.h>
#include <stdlib.h>

static const struct {
  const char *kiln_var; /* taken as given */
  const char *xdg_var;  /* + "/kiln" */
  const char *under_home;
} kinds[] = {
    [KILN_PATHS_STATE] = {"KILN_STATE_DIR", "XDG_STATE_HOME",
                          ".local/state/kiln"},
    [KILN_PATHS_CACHE] = {"KILN_CACHE_DIR", "XDG_CACHE_HOME", ".cache/kiln"},
};

static const char *env_set(const char *name)
{
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' ? v : NULL;
}

static const char *env_absolute(const char *name)
{
  const char *v = getenv(name);
  return v != NULL && v[0] == '/' ? v : NULL;
}

int kiln_paths_default_dir(enum kiln_paths_kind kind, char *buf, size_t size)
{
  const char *v;
  int n;

  if (size > 0)
    buf[0] = '\0';
  if ((unsigned)kind >= sizeof(kinds) / sizeof(kinds[0]))
    return KILN_EINVAL;
  if ((v = env_set(kinds[kind].kiln_var)) != NULL)
    n = snprintf(buf, size, "%s", v);
  else if ((v = env_absolute(kinds[kind].xdg_var)) != NULL)
    n = snprintf(buf, size, "%s/kiln", v);
  else if ((v = env_absolute("HOME")) != NULL)
    n = snprintf(buf, size, "%s/%s", v, kinds[kind].under_home);
  else
    return KILN_ENOENT;
  if (n < 0 || (size_t)n >= size) {
    if (size > 0)
      buf[0] = '\0';
    return KILN_ETOOBIG;
  }
  return 0;
}
