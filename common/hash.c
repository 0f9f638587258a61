#include "kiln/hash.h"
#include "kiln/error.h"

#include <openssl/evp.h>

int kiln_sha256_hex(const void *data, size_t len, char out[65])
{
  static const char digits[] = "0123456789abcdef";
  unsigned char md[32];
  unsigned int md_len = 0;

  out[0] = '\0';
  if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
      md_len != sizeof(md))
    return KILN_EINTERNAL;
  for (size_t i = 0; i < sizeof(md); i++) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 15];
  }
  out[64] = '\0';
  return 0;
}

int kiln_hex_value(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}
