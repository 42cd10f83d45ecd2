/* See logging.h. The level is process-wide configuration (set once at start
 * and on reload); lines are written with one write(2) so that threads do not
 * interleave within a line. */
#include "common/logging.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int current_level = LOG_LEVEL_INFO;
static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void logging_set_level(enum log_level level) { atomic_store(&current_level, (int)level); }
enum log_level logging_level(void) { return (enum log_level)atomic_load(&current_level); }

int logging_parse_level(const char *s, enum log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void vwrite_line(enum log_level level, const char *component, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[level],
			 component ? component : "logship");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	/* One line each: messages never carry their own newlines. */
	for (size_t i = (size_t)n; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

void logging_write(enum log_level level, const char *component, const char *fmt, ...)
{
	if ((int)level > atomic_load(&current_level))
		return;
	va_list ap;
	va_start(ap, fmt);
	vwrite_line(level, component, fmt, ap);
	va_end(ap);
}

void logging_report(void *component, enum log_level level, const char *msg)
{
	logging_write(level, (const char *)component, "%s", msg);
}

int ratelimit_ok(struct ratelimit *r, int64_t now_ms, int64_t interval_ms, uint64_t *suppressed)
{
	if (now_ms < r->next_ms) {
		r->suppressed++;
		return 0;
	}
	*suppressed = r->suppressed;
	r->suppressed = 0;
	r->next_ms = now_ms + interval_ms;
	return 1;
}

const char *ratelimit_note(uint64_t suppressed, char *buf, size_t n)
{
	if (!suppressed)
		buf[0] = '\0';
	else
		snprintf(buf, n, "; %llu more since the last line", (unsigned long long)suppressed);
	return buf;
}
