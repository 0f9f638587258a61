#include "kiln/naming.h"
#include "kiln/error.h"
#include "kiln/hash.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long hex_bits(const char *hex, size_t from, size_t n)
{
  unsigned long v = 0;
  for (size_t i = from; i < from + n && hex[i] != '\0'; i++) {
    char c = hex[i];
    v = v * 16 + (unsigned long)(isdigit((unsigned char)c)
                                     ? c - '0'
                                     : (c | 32) - 'a' + 10);
  }
  return v;
}

void kiln_naming_version(const char *digest_hex, char out[32])
{
  snprintf(out, 32, "1.%lu.%lu", hex_bits(digest_hex, 0, 6),
           hex_bits(digest_hex, 6, 6));
}

static void base_of(const char *file, char *out, size_t size)
{
  const char *slash = strrchr(file, '/');
  const char *name = slash != NULL ? slash + 1 : file;
  const char *dot = strrchr(name, '.');
  size_t n = dot != NULL && dot != name ? (size_t)(dot - name) : strlen(name);
  size_t o = 0;

  for (size_t i = 0; i < n && o + 1 < size; i++) {
    unsigned char c = (unsigned char)name[i];
    out[o++] = isalnum(c) ? (char)tolower(c) : '-';
  }
  out[o] = '\0';
}

void kiln_naming_component(const struct kiln_app_spec *app, size_t index,
                           char *out, size_t size)
{
  char base[64], other[64];
  bool shared = false;
  const struct kiln_component_spec *c = &app->image.components[index];

  base_of(c->file != NULL ? c->file : "component", base, sizeof(base));
  for (size_t i = 0; i < app->image.n_components; i++) {
    const struct kiln_component_spec *o = &app->image.components[i];
    if (i == index || o->file == NULL)
      continue;
    base_of(o->file, other, sizeof(other));
    shared |= strcmp(base, other) == 0;
  }
  if (shared)
    snprintf(out, size, "kiln-%.40s-%s-%zu", kiln_spec_app_name(app), base,
             index);
  else
    snprintf(out, size, "kiln-%.40s-%s", kiln_spec_app_name(app), base);
}

void kiln_naming_recipe(const struct kiln_app_spec *app, char *out, size_t size)
{
  snprintf(out, size, "kiln-%s", kiln_spec_app_name(app));
}

void kiln_naming_lt_description(const char *commit, const char *digest_hex,
                                char *out, size_t size)
{
  snprintf(out, size, "kiln commit=%.40s digest=%.64s", commit, digest_hex);
}

int kiln_naming_parse_lt_description(const char *description,
                                     char commit_out[41], char digest_out[65])
{
  const char *p;
  if (description == NULL || strncmp(description, "kiln commit=", 12) != 0)
    return KILN_ENOENT;
  p = description + 12;
  if (strspn(p, "0123456789abcdef") != 40 || p[40] != ' ')
    return KILN_ENOENT;
  memcpy(commit_out, p, 40);
  commit_out[40] = '\0';
  if (digest_out != NULL) {
    digest_out[0] = '\0';
    p += 41;
    if (strncmp(p, "digest=", 7) == 0 &&
        strspn(p + 7, "0123456789abcdef") == 64) {
      memcpy(digest_out, p + 7, 64);
      digest_out[64] = '\0';
    }
  }
  return 0;
}
