/* kiln validate [--format text|json] [DIR] */
#include "cli.h"

#include "kiln/json_text.h"
#include "kiln/buf.h"
#include "kiln/diag.h"
#include "kiln/error.h"
#include "kiln/git_source.h"
#include "kiln/spec.h"
#include "kiln/tree.h"
#include "kiln/tree_git.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: kiln validate [--format text|json] [--ref REF] [DIR]\n"
    "       kiln validate [--format text|json] --repo SRC [--ref REF]\n"
    "\n"
    "Checks the desired-state repository in DIR (default: the current\n"
    "directory): kiln.yaml and every apps/<name>/app.yaml with the files they\n"
    "name. Every problem is reported as FILE:LINE:COL: error: MESSAGE.\n"
    "\n"
    "Options:\n"
    "  --format text|json  output format (default: text)\n"
    "  --ref REF           check the tree committed at REF (a branch, tag or\n"
    "                      commit) of the git repository DIR, not the files\n"
    "                      on disk: what Kiln itself would read\n"
    "  --repo SRC          check the committed state of the git repository "
    "SRC\n"
    "                      (a path, file://, https://, ssh:// or "
    "git@host:path;\n"
    "                      remotes are mirrored under $KILN_CACHE_DIR); REF\n"
    "                      defaults to its default branch\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 valid, 1 invalid, 64 usage error.\n";

static void print_text(const char *dir, const char *commit,
                       const struct kiln_spec_repo *repo,
                       const struct kiln_diags *diags)
{
  struct kiln_buf out;
  size_t valid = repo != NULL ? kiln_spec_repo_valid_apps(repo) : 0;
  size_t total = repo != NULL ? repo->n_apps : 0;
  size_t apps = 0; /* an app's environments are targets of one app */

  for (size_t i = 0; i < total; i++)
    apps += repo->apps[i].env == NULL || i == 0 ||
            strcmp(kiln_spec_app_name(&repo->apps[i]),
                   kiln_spec_app_name(&repo->apps[i - 1])) != 0;
  kiln_buf_init(&out, 0);
  if (kiln_diags_format_text(diags, &out) == 0 && repo != NULL)
    kiln_diags_format_text_as(&repo->warnings, "warning", &out);
  if (out.len > 0)
    fputs(out.data, stdout);
  kiln_buf_cleanup(&out);
  if (commit != NULL)
    printf("%s at commit %.12s: ", dir, commit);
  else
    printf("%s: ", dir);
  if (diags->n == 0 && apps != total)
    printf("valid (%zu app%s, %zu deployment targets)\n", apps,
           apps == 1 ? "" : "s", total);
  else if (diags->n == 0)
    printf("valid (%zu app%s)\n", total, total == 1 ? "" : "s");
  else
    printf("invalid: %zu error%s; %zu of %zu app%s valid\n",
           diags->n + diags->dropped, diags->n + diags->dropped == 1 ? "" : "s",
           valid, total, total == 1 ? "" : "s");
}

/* [{"file", "line", "column", "app", "message"}, ...] */
static json_object *diags_json(const struct kiln_diags *diags)
{
  json_object *out = json_object_new_array();
  for (size_t i = 0; i < diags->n; i++) {
    const struct kiln_diag *d = &diags->items[i];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "file", kiln_json_string(d->file));
    json_object_object_add(o, "line", json_object_new_int(d->line));
    json_object_object_add(o, "column", json_object_new_int(d->col));
    json_object_object_add(o, "app",
                           d->app != NULL ? kiln_json_string(d->app) : NULL);
    json_object_object_add(o, "message", kiln_json_string(d->message));
    json_object_array_add(out, o);
  }
  return out;
}

static void print_json(const char *dir, const char *commit,
                       const struct kiln_spec_repo *repo,
                       const struct kiln_diags *diags)
{
  json_object *root = json_object_new_object();
  json_object *apps = json_object_new_array();

  json_object_object_add(root, "valid", json_object_new_boolean(diags->n == 0));
  json_object_object_add(root, "root", kiln_json_string(dir));
  json_object_object_add(root, "commit",
                         commit != NULL ? kiln_json_string(commit) : NULL);
  for (size_t i = 0; repo != NULL && i < repo->n_apps; i++) {
    const struct kiln_app_spec *a = &repo->apps[i];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", kiln_json_string(a->name));
    json_object_object_add(o, "file", kiln_json_string(a->file));
    json_object_object_add(o, "valid", json_object_new_boolean(a->valid));
    json_object_array_add(apps, o);
  }
  json_object_object_add(root, "apps", apps);
  json_object_object_add(root, "errors", diags_json(diags));
  json_object_object_add(root, "warnings",
                         repo != NULL ? diags_json(&repo->warnings)
                                      : json_object_new_array());
  puts(json_object_to_json_string_ext(
      root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(root);
}

int kiln_cmd_validate(int argc, char **argv)
{
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"ref", required_argument, NULL, 'r'},
                                       {"repo", required_argument, NULL, 'R'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  enum kiln_format format = KILN_FORMAT_TEXT;
  struct kiln_spec_repo *repo = NULL;
  struct kiln_diags diags;
  struct kiln_tree tree;
  const char *dir = ".", *ref = NULL, *src = NULL;
  struct kiln_git_source source = {0};
  char cache[1024];
  char commit[41], why[512];
  int c, err, rc;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      if (!kiln_cli_parse_format("validate", optarg, &format))
        return KILN_EXIT_USAGE;
      break;
    case 'r':
      ref = optarg;
      break;
    case 'R':
      src = optarg;
      break;
    case 'h':
      fputs(usage, stdout);
      return KILN_EXIT_OK;
    default:
      return kiln_cli_usage_error("validate", "unknown option");
    }
  }
  if (optind < argc && src != NULL)
    return kiln_cli_usage_error("validate", "give either --repo SRC or DIR");
  if (optind < argc)
    dir = argv[optind++];
  if (optind < argc)
    return kiln_cli_usage_error("validate", "unexpected argument '%s'",
                                argv[optind]);

  if (src != NULL) {
    kiln_git_source_default_cache(cache, sizeof(cache));
    if (kiln_git_source_open(&source, src, cache, why, sizeof(why)) != 0 ||
        kiln_git_source_fetch(&source, why, sizeof(why)) != 0 ||
        kiln_git_source_resolve(&source, ref, commit, why, sizeof(why)) != 0) {
      fprintf(stderr, "kiln validate: %s\n", why);
      kiln_git_source_close(&source);
      return KILN_EXIT_FAILED;
    }
    dir = source.display;
    ref = commit;
    err = kiln_tree_git_open(&tree, source.repo_path, commit, commit, why,
                             sizeof(why));
    if (err != 0) {
      fprintf(stderr, "kiln validate: %s\n", why);
      kiln_git_source_close(&source);
      return KILN_EXIT_FAILED;
    }
  } else if (ref != NULL) {
    err = kiln_tree_git_open(&tree, dir, ref, commit, why, sizeof(why));
    if (err != 0) {
      fprintf(stderr, "kiln validate: %s\n", why);
      return KILN_EXIT_FAILED;
    }
  } else if (kiln_tree_fs_open(&tree, dir) != 0) {
    fprintf(stderr, "kiln validate: %s: not a readable directory\n", dir);
    return KILN_EXIT_FAILED;
  }
  kiln_diags_init(&diags, 0);
  err = kiln_spec_load(&tree, &diags, &repo);
  if (err != 0 && err != KILN_ENOENT && err != KILN_ETOOBIG) {
    fprintf(stderr, "kiln validate: %s: %s\n", dir, kiln_strerror(err));
    rc = KILN_EXIT_FAILED;
    goto done;
  }
  kiln_diags_sort(&diags);
  if (repo != NULL)
    kiln_diags_sort(&repo->warnings);
  if (format == KILN_FORMAT_JSON)
    print_json(dir, ref != NULL ? commit : NULL, repo, &diags);
  else
    print_text(dir, ref != NULL ? commit : NULL, repo, &diags);
  rc = diags.n == 0 && err == 0 ? KILN_EXIT_OK : KILN_EXIT_FAILED;
done:
  kiln_spec_repo_free(repo);
  kiln_diags_cleanup(&diags);
  if (ref != NULL)
    kiln_tree_git_close(&tree);
  else
    kiln_tree_fs_close(&tree);
  kiln_git_source_close(&source);
  return rc;
}
