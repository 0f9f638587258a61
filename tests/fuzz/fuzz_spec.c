/* libFuzzer target: arbitrary bytes as an app.yaml (and, split at a NUL-free
 * marker, as kiln.yaml), through the whole spec loader with an in-memory
 * repository that also serves a component document and user data. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kiln/diag.h"
#include "kiln/spec.h"
#include "mem_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char comp_yaml[] =
    "name: c\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps: []\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  const char *split = memchr(text, '\x01', size);
  size_t app_len = split != NULL ? (size_t)(split - text) : size;
  struct mem_file files[] = {
      {"kiln.yaml", split != NULL ? split + 1 : "apiVersion: kiln.dev/v1\n",
       split != NULL ? size - app_len - 1 : 0},
      {"apps/a/app.yaml", text, app_len},
      {"apps/a/comp.yaml", comp_yaml, 0},
      {"apps/a/ud.sh", "#!/bin/sh\n", 0},
  };
  struct mem_tree t;
  struct kiln_spec_repo *repo = NULL;
  struct kiln_diags diags;

  /* mem_tree treats len 0 as a C string; keep empty inputs empty. */
  if (app_len == 0 || (split != NULL && size - app_len - 1 == 0))
    return 0;
  mem_tree_init(&t, files, 4);
  kiln_diags_init(&diags, 0);
  if (kiln_spec_load(&t.tree, &diags, &repo) == 0 && repo != NULL) {
    for (size_t i = 0; i < repo->n_apps; i++) {
      char digest[65];
      if (repo->apps[i].valid)
        kiln_spec_image_digest(&repo->apps[i], NULL, digest, NULL);
    }
  }
  kiln_spec_repo_free(repo);
  kiln_diags_cleanup(&diags);
  return 0;
}
