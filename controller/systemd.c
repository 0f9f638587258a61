#include "systemd.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void kiln_systemd_notify(const char *state)
{
  const char *path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  socklen_t len;
  int fd;

  if (path == NULL || (path[0] != '/' && path[0] != '@') ||
      strlen(path) >= sizeof(addr.sun_path))
    return;
  memcpy(addr.sun_path, path, strlen(path));
  if (path[0] == '@')
    addr.sun_path[0] = '\0'; /* abstract namespace */
  len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, len);
  close(fd);
}

uint64_t kiln_systemd_watchdog_ms(void)
{
  const char *usec = getenv("WATCHDOG_USEC");
  char *end;
  unsigned long long us;

  if (usec == NULL || usec[0] < '0' || usec[0] > '9')
    return 0;
  us = strtoull(usec, &end, 10);
  if (*end != '\0' || us == 0 || us > 86400000000ull)
    return 0;
  return us / 2000 + 1;
}
