/* systemd's Type=notify protocol (sd_notify(3)) without libsystemd:
 * readiness, stopping and the watchdog. Every call is a no-op when not run
 * by systemd. */
#ifndef KILN_CONTROLLER_SYSTEMD_H
#define KILN_CONTROLLER_SYSTEMD_H

#include <stdint.h>

/* Sends a state line ("READY=1", "STOPPING=1", "WATCHDOG=1") to
 * $NOTIFY_SOCKET. */
void kiln_systemd_notify(const char *state);

/* The interval at which to ping the watchdog (half of $WATCHDOG_USEC), in
 * ms; 0 when there is no watchdog. */
uint64_t kiln_systemd_watchdog_ms(void);

#endif
