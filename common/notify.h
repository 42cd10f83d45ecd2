/* systemd's service notification protocol (sd_notify(3)), shared by both
 * daemons. Every call is a no-op unless the service manager set NOTIFY_SOCKET
 * (Type=notify units; tests bind a datagram socket and set it themselves), so
 * the daemons behave the same from a shell, a container or a test.
 *
 *   READY=1      once the daemon serves (agent: ring open, inputs started;
 *                broker: listening)
 *   RELOADING=1  ... READY=1 around a SIGHUP reload (agent)
 *   STOPPING=1   on SIGTERM/SIGINT, before draining
 *   WATCHDOG=1   every notify_watchdog_interval_ms() from the event loop
 *                (WatchdogSec= in the unit sets WATCHDOG_USEC)
 *
 * Main thread only (the event loop's). */
#ifndef LOGSHIP_COMMON_NOTIFY_H
#define LOGSHIP_COMMON_NOTIFY_H
#include <stdint.h>

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
/* "STATUS=..." (shown by systemctl status). */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Half the watchdog timeout systemd asked for (WATCHDOG_USEC, for this PID),
 * in ms, or 0 when no watchdog is enabled. Read once, then cached. */
int64_t notify_watchdog_interval_ms(void);
/* Sends WATCHDOG=1. */
void notify_watchdog(void);
/* For loops with their own timeout computation: sends WATCHDOG=1 when one is
 * due at monotonic time now_ms, and returns timeout_ms cut down so that the
 * loop wakes for the next one (-1 = infinite stays infinite when disabled). */
int notify_watchdog_tick(int64_t now_ms, int timeout_ms);

#endif
