/* See notify.h. Thin wrappers over libsystemd's sd_notify(). */
#include "common/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "common/logging.h"

static void notify_send(const char *state)
{
	int rc = sd_notify(0, state);
	if (rc < 0)
		LOG_WARN("notify", "sd_notify(%s): %d", state, rc);
}

void notify_ready(void)
{
	notify_send("READY=1");
}

void notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void notify_reloading(void)
{
	/* MONOTONIC_USEC: what Type=notify-reload (systemd 253+) wants beside
	 * RELOADING=1; older managers ignore it. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char buf[96];
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	notify_send(buf);
}

void notify_status(const char *fmt, ...)
{
	char buf[512] = "STATUS=";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + 7, sizeof(buf) - 7, fmt, ap);
	va_end(ap);
	notify_send(buf);
}

int64_t notify_watchdog_interval_ms(void)
{
	static int64_t cached = -1;
	if (cached < 0) {
		uint64_t usec = 0;
		cached = 0;
		if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
			cached = (int64_t)(usec / 2000);   /* half the timeout, as sd_watchdog_enabled(3) advises */
			if (cached < 1)
				cached = 1;
		}
	}
	return cached;
}

void notify_watchdog(void)
{
	notify_send("WATCHDOG=1");
}

int notify_watchdog_tick(int64_t now_ms, int timeout_ms)
{
	static int64_t next;
	int64_t iv = notify_watchdog_interval_ms();
	if (!iv)
		return timeout_ms;
	if (now_ms >= next) {
		notify_watchdog();
		next = now_ms + iv;
	}
	int64_t d = next - now_ms;
	if (timeout_ms < 0 || d < timeout_ms)
		return (int)d;
	return timeout_ms;
}
