/* Names and versions Kiln derives for what it creates in AWS. All pure and
 * deterministic: the same desired state always maps to the same names, so
 * a crash or a retry between two calls finds what the first attempt made
 * instead of making it twice. (Idempotency tokens are derived by the AWS
 * client from the whole request: see derive_token in kiln/imagebuilder.h
 * and kiln/ec2.h.)
 */
#ifndef KILN_NAMING_H
#define KILN_NAMING_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/spec.h"

/* Image Builder semantic version "1.X.Y" from the first 48 bits of a hex
 * digest (X and Y below 2^24, within Image Builder's per-field limit). */
void kiln_naming_version(const char *digest_hex, char out[32]);

/* Image Builder resource name for an app's component: "kiln-APP-BASE",
 * BASE the file name without extension, lowercased, other characters
 * replaced by '-', and "-N" (N = index) appended when two components of the
 * app share BASE. At most 126 characters. */
void kiln_naming_component(const struct kiln_app_spec *app, size_t index,
                           char *out, size_t size);

/* "kiln-APP": the image recipe and infrastructure configuration name. */
void kiln_naming_recipe(const struct kiln_app_spec *app, char *out,
                        size_t size);

/* Launch template version description: "kiln commit=SHA digest=HEX". */
void kiln_naming_lt_description(const char *commit, const char *digest_hex,
                                char *out, size_t size);

/* Parses a description made by kiln_naming_lt_description(): copies the
 * commit (40 hex) into commit_out and the digest (64 hex, or "" when
 * absent) into digest_out (may be NULL) and returns 0, or KILN_ENOENT when
 * the description is not Kiln's. */
int kiln_naming_parse_lt_description(const char *description,
                                     char commit_out[41], char digest_out[65]);

#endif
