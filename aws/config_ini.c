/* The AWS shared config/credentials file format (see kiln/aws_config.h).
 *
 * The parser works in one pass, line by line. Strings go into one pool
 * buffer and are referenced by offset while parsing (the pool may move as
 * it grows); pointers are fixed up at the end. A section's properties are
 * contiguous in the property array because properties always belong to
 * the most recent section.
 */
#include "kiln/aws_config.h"
#include "kiln/buf.h"
#include "kiln/error.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct raw_prop {
  size_t key, subkey, value; /* pool offsets; SIZE_MAX for no subkey */
  unsigned line;
};

struct raw_section {
  enum kiln_aws_section_kind kind;
  size_t name;
  int prefixed;
  size_t first_prop, prop_count;
  unsigned line;
};

struct parser {
  enum kiln_aws_ini_kind kind;
  struct kiln_buf pool;
  struct raw_section *sections;
  size_t section_count, section_cap;
  struct raw_prop *props;
  size_t prop_count, prop_cap;
  /* State of the property an indented line may continue. */
  int have_prop;      /* the last line was a top-level property or sub */
  int prop_has_subs;  /* it had an empty value, followed by sub-properties */
  size_t parent_prop; /* index of the top-level property */
};

static int is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *len)
{
  while (*len > 0 && is_space(**s)) {
    (*s)++;
    (*len)--;
  }
  while (*len > 0 && is_space((*s)[*len - 1]))
    (*len)--;
}

static int pool_add(struct parser *p, const char *s, size_t len, int lower,
                    size_t *off)
{
  size_t start = p->pool.len;
  int err = kiln_buf_append(&p->pool, s, len);
  if (err == 0)
    err = kiln_buf_append(&p->pool, "", 1); /* keep the NUL in the pool */
  if (err != 0)
    return err;
  if (lower) {
    for (size_t i = start; i < start + len; i++) {
      char c = p->pool.data[i];
      if (c >= 'A' && c <= 'Z')
        p->pool.data[i] = (char)(c - 'A' + 'a');
    }
  }
  *off = start;
  return 0;
}

static int grow(void **arr, size_t *cap, size_t count, size_t elem)
{
  size_t ncap;
  void *n;

  if (count < *cap)
    return 0;
  ncap = *cap != 0 ? *cap * 2 : 8;
  n = realloc(*arr, ncap * elem);
  if (n == NULL)
    return KILN_ENOMEM;
  *arr = n;
  *cap = ncap;
  return 0;
}

/* Splits "word rest" when s starts with word followed by whitespace. */
static int starts_with_word(const char *s, size_t len, const char *word,
                            const char **rest, size_t *rest_len)
{
  size_t wl = strlen(word);
  if (len <= wl || memcmp(s, word, wl) != 0 || !is_space(s[wl]))
    return 0;
  *rest = s + wl;
  *rest_len = len - wl;
  trim(rest, rest_len);
  return 1;
}

static int add_section(struct parser *p, const char *s, size_t len,
                       unsigned line)
{
  struct raw_section *sec;
  enum kiln_aws_section_kind kind = KILN_AWS_SECTION_PROFILE;
  const char *name = s;
  size_t name_len = len;
  int prefixed = 0, err;

  if (p->kind == KILN_AWS_INI_CONFIG) {
    if (len == 7 && memcmp(s, "default", 7) == 0) {
      /* the default profile, unprefixed */
    } else if (starts_with_word(s, len, "profile", &name, &name_len)) {
      prefixed = 1;
    } else if (starts_with_word(s, len, "services", &name, &name_len)) {
      kind = KILN_AWS_SECTION_SERVICES;
    } else if (starts_with_word(s, len, "sso-session", &name, &name_len)) {
      kind = KILN_AWS_SECTION_SSO_SESSION;
    } else {
      /* "[foo]" in the config file is not a profile for the SDKs. */
      kind = KILN_AWS_SECTION_OTHER;
    }
  }
  if (name_len == 0)
    kind = KILN_AWS_SECTION_OTHER;

  err = grow((void **)&p->sections, &p->section_cap, p->section_count,
             sizeof(*p->sections));
  if (err != 0)
    return err;
  sec = &p->sections[p->section_count];
  memset(sec, 0, sizeof(*sec));
  err = pool_add(p, name, name_len, 0, &sec->name);
  if (err != 0)
    return err;
  sec->kind = kind;
  sec->prefixed = prefixed;
  sec->first_prop = p->prop_count;
  sec->line = line;
  p->section_count++;
  p->have_prop = 0;
  return 0;
}

/* Adds a property; a sub-property passes its parent's key as key_off
 * (key is NULL then) because the pool may move while adding. */
static int add_prop(struct parser *p, const char *key, size_t key_len,
                    size_t key_off, const char *sub, size_t sub_len,
                    const char *value, size_t value_len, unsigned line)
{
  struct raw_prop *prop;
  int err;

  err =
      grow((void **)&p->props, &p->prop_cap, p->prop_count, sizeof(*p->props));
  if (err != 0)
    return err;
  prop = &p->props[p->prop_count];
  prop->line = line;
  prop->subkey = SIZE_MAX;
  prop->key = key_off;
  if (key != NULL && (err = pool_add(p, key, key_len, 1, &prop->key)) != 0)
    return err;
  if (sub != NULL && (err = pool_add(p, sub, sub_len, 1, &prop->subkey)) != 0)
    return err;
  /* The value goes last so that a continuation line can extend it. */
  if ((err = pool_add(p, value, value_len, 0, &prop->value)) != 0)
    return err;
  p->sections[p->section_count - 1].prop_count++;
  p->prop_count++;
  return 0;
}

/* Cuts an inline comment: '#' or ';' preceded by whitespace. */
static void cut_comment(const char *s, size_t *len)
{
  for (size_t i = 1; i < *len; i++) {
    if ((s[i] == '#' || s[i] == ';') && is_space(s[i - 1])) {
      *len = i;
      return;
    }
  }
}

static int split_prop(const char *s, size_t len, const char **key,
                      size_t *key_len, const char **val, size_t *val_len)
{
  const char *eq = memchr(s, '=', len);
  if (eq == NULL)
    return KILN_EPARSE;
  *key = s;
  *key_len = (size_t)(eq - s);
  trim(key, key_len);
  *val = eq + 1;
  *val_len = len - (size_t)(eq + 1 - s);
  cut_comment(*val, val_len);
  trim(val, val_len);
  return *key_len == 0 ? KILN_EPARSE : 0;
}

static int parse_line(struct parser *p, const char *s, size_t len,
                      unsigned line)
{
  const char *t = s, *key, *val;
  size_t tl = len, key_len, val_len;
  int indented = len > 0 && is_space(s[0]);
  int err;

  trim(&t, &tl);
  if (tl == 0) {
    p->have_prop = 0;
    return 0;
  }
  if (t[0] == '#' || t[0] == ';')
    return 0;

  if (t[0] == '[') {
    const char *close = memchr(t, ']', tl);
    const char *after;
    size_t after_len;

    if (close == NULL)
      return KILN_EPARSE;
    after = close + 1;
    after_len = tl - (size_t)(after - t);
    trim(&after, &after_len);
    if (after_len != 0 && after[0] != '#' && after[0] != ';')
      return KILN_EPARSE;
    key = t + 1;
    key_len = (size_t)(close - key);
    trim(&key, &key_len);
    return add_section(p, key, key_len, line);
  }

  if (p->section_count == 0)
    return KILN_EPARSE; /* a property before any section */

  if (indented && p->have_prop) {
    struct raw_prop *parent = &p->props[p->parent_prop];
    if (parent->value + 1 == p->pool.len && !p->prop_has_subs &&
        memchr(t, '=', tl) != NULL && p->prop_count - 1 == p->parent_prop) {
      /* The parent's value is empty: this starts nested properties. */
      p->prop_has_subs = 1;
    }
    if (p->prop_has_subs) {
      if ((err = split_prop(t, tl, &key, &key_len, &val, &val_len)) != 0)
        return err;
      return add_prop(p, NULL, 0, parent->key, key, key_len, val, val_len,
                      line);
    }
    /* A continuation: the value is the last string in the pool, so drop
     * its NUL and extend it. */
    p->pool.len--;
    if ((err = kiln_buf_append(&p->pool, "\n", 1)) != 0 ||
        (err = kiln_buf_append(&p->pool, t, tl)) != 0 ||
        (err = kiln_buf_append(&p->pool, "", 1)) != 0)
      return err;
    return 0;
  }

  if ((err = split_prop(t, tl, &key, &key_len, &val, &val_len)) != 0)
    return err;
  if ((err = add_prop(p, key, key_len, 0, NULL, 0, val, val_len, line)) != 0)
    return err;
  p->have_prop = 1;
  p->prop_has_subs = 0;
  p->parent_prop = p->prop_count - 1;
  return 0;
}

int kiln_aws_ini_parse(struct kiln_aws_ini *ini, enum kiln_aws_ini_kind kind,
                       const char *text, size_t len, unsigned *err_line)
{
  struct parser p;
  struct kiln_aws_ini_section *secs = NULL;
  struct kiln_aws_ini_prop *props = NULL;
  unsigned line = 0;
  size_t pos = 0;
  int err = 0;

  memset(&p, 0, sizeof(p));
  p.kind = kind;
  if (len > KILN_AWS_CONFIG_MAX_FILE_BYTES)
    return KILN_ETOOBIG;
  /* The pool never holds more than the text plus a NUL per string and a
   * lower-cased copy of section keys for each sub-property. */
  kiln_buf_init_secret(&p.pool, 0);
  if ((err = kiln_buf_append(&p.pool, "", 1)) != 0) /* offset 0 is "" */
    goto fail;

  while (pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl != NULL ? (size_t)(nl - text) : len;
    size_t ll = end - pos;

    line++;
    if (ll > 0 && text[pos + ll - 1] == '\r')
      ll--;
    if (memchr(text + pos, '\0', ll) != NULL) {
      err = KILN_EPARSE;
      goto fail;
    }
    if ((err = parse_line(&p, text + pos, ll, line)) != 0)
      goto fail;
    pos = end + 1;
  }

  if (p.section_count != 0) {
    secs = calloc(p.section_count, sizeof(*secs));
    if (secs == NULL) {
      err = KILN_ENOMEM;
      goto fail;
    }
  }
  if (p.prop_count != 0) {
    props = calloc(p.prop_count, sizeof(*props));
    if (props == NULL) {
      err = KILN_ENOMEM;
      goto fail;
    }
  }
  for (size_t i = 0; i < p.prop_count; i++) {
    props[i].key = p.pool.data + p.props[i].key;
    props[i].subkey =
        p.props[i].subkey == SIZE_MAX ? NULL : p.pool.data + p.props[i].subkey;
    props[i].value = p.pool.data + p.props[i].value;
    props[i].line = p.props[i].line;
  }
  for (size_t i = 0; i < p.section_count; i++) {
    secs[i].kind = p.sections[i].kind;
    secs[i].name = p.pool.data + p.sections[i].name;
    secs[i].prefixed = p.sections[i].prefixed;
    secs[i].props = props != NULL ? props + p.sections[i].first_prop : NULL;
    secs[i].prop_count = p.sections[i].prop_count;
    secs[i].line = p.sections[i].line;
  }
  memset(ini, 0, sizeof(*ini));
  ini->sections = secs;
  ini->section_count = p.section_count;
  ini->props_ = props;
  ini->strings_ = p.pool.data;
  ini->strings_cap_ = p.pool.cap;
  free(p.sections);
  free(p.props);
  return 0;

fail:
  if (err == KILN_EPARSE && err_line != NULL)
    *err_line = line;
  free(secs);
  free(props);
  free(p.sections);
  free(p.props);
  kiln_buf_cleanup_secret(&p.pool);
  return err;
}

void kiln_aws_ini_cleanup(struct kiln_aws_ini *ini)
{
  if (ini->strings_ != NULL)
    OPENSSL_cleanse(ini->strings_, ini->strings_cap_);
  free(ini->strings_);
  free(ini->props_);
  free(ini->sections);
  memset(ini, 0, sizeof(*ini));
}

/* For profiles in a config file, "[profile NAME]" hides "[NAME]" (only
 * "default" can be written both ways). */
static int hide_unprefixed(const struct kiln_aws_ini *ini,
                           enum kiln_aws_section_kind kind, const char *name)
{
  if (kind != KILN_AWS_SECTION_PROFILE)
    return 0;
  for (size_t i = 0; i < ini->section_count; i++) {
    const struct kiln_aws_ini_section *s = &ini->sections[i];
    if (s->kind == kind && s->prefixed && strcmp(s->name, name) == 0)
      return 1;
  }
  return 0;
}

static const char *lookup(const struct kiln_aws_ini *ini,
                          enum kiln_aws_section_kind kind, const char *name,
                          const char *key, const char *subkey)
{
  const char *found = NULL;
  int hide;

  if (ini == NULL || name == NULL)
    return NULL;
  hide = hide_unprefixed(ini, kind, name);
  for (size_t i = 0; i < ini->section_count; i++) {
    const struct kiln_aws_ini_section *s = &ini->sections[i];
    if (s->kind != kind || strcmp(s->name, name) != 0 || (hide && !s->prefixed))
      continue;
    for (size_t j = 0; j < s->prop_count; j++) {
      const struct kiln_aws_ini_prop *pr = &s->props[j];
      if (strcmp(pr->key, key) != 0)
        continue;
      if (subkey == NULL
              ? pr->subkey == NULL
              : pr->subkey != NULL && strcmp(pr->subkey, subkey) == 0)
        found = pr->value;
    }
  }
  return found;
}

const char *kiln_aws_ini_get(const struct kiln_aws_ini *ini,
                             enum kiln_aws_section_kind kind, const char *name,
                             const char *key)
{
  return lookup(ini, kind, name, key, NULL);
}

const char *kiln_aws_ini_get_sub(const struct kiln_aws_ini *ini,
                                 enum kiln_aws_section_kind kind,
                                 const char *name, const char *key,
                                 const char *subkey)
{
  return lookup(ini, kind, name, key, subkey);
}

int kiln_aws_ini_has(const struct kiln_aws_ini *ini,
                     enum kiln_aws_section_kind kind, const char *name)
{
  for (size_t i = 0; ini != NULL && i < ini->section_count; i++) {
    const struct kiln_aws_ini_section *s = &ini->sections[i];
    if (s->kind == kind && strcmp(s->name, name) == 0)
      return 1;
  }
  return 0;
}
