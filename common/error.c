#include "kiln/error.h"

const char *kiln_strerror(int err)
{
  switch (err) {
  case KILN_OK:
    return "success";
#define XX(name, msg)                                                          \
  case KILN_##name:                                                            \
    return msg;
    KILN_ERRNO_MAP(XX)
#undef XX
  default:
    return "unknown error";
  }
}

const char *kiln_err_name(int err)
{
  switch (err) {
  case KILN_OK:
    return "KILN_OK";
#define XX(name, msg)                                                          \
  case KILN_##name:                                                            \
    return "KILN_" #name;
    KILN_ERRNO_MAP(XX)
#undef XX
  default:
    return "KILN_EUNKNOWN";
  }
}
