/* The daemons' own log lines, on stderr, one per line, plain and greppable:
 *   2026-11-24T23:41:07.123Z INFO  broker: listening on 127.0.0.1:9092
 * journald and Kubernetes collect stderr; no syslog, no files. */
#ifndef LOGSHIP_COMMON_LOGGING_H
#define LOGSHIP_COMMON_LOGGING_H
#include <stdint.h>

#include "buffer/log.h"   /* enum log_level */

void logging_set_level(enum log_level level);
/* "error", "warn", "info", "debug" -> 0, or -EINVAL. */
int logging_parse_level(const char *s, enum log_level *out);
enum log_level logging_level(void);
void logging_write(enum log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Adapter for struct log_config.report: arg is the component name (const char *). */
void logging_report(void *component, enum log_level level, const char *msg);

#define LOG_ERROR(comp, ...) logging_write(LOG_LEVEL_ERROR, comp, __VA_ARGS__)
#define LOG_WARN(comp, ...)  logging_write(LOG_LEVEL_WARN, comp, __VA_ARGS__)
#define LOG_INFO(comp, ...)  logging_write(LOG_LEVEL_INFO, comp, __VA_ARGS__)
#define LOG_DEBUG(comp, ...) do { if (logging_level() >= LOG_LEVEL_DEBUG) \
	logging_write(LOG_LEVEL_DEBUG, comp, __VA_ARGS__); } while (0)

/* At most one log line per interval_ms for one kind of event (a flood of
 * refusals must not flood the log too); the events in between are counted
 * and *suppressed says how many when the next line may go out. A zeroed
 * struct is ready. */
struct ratelimit { int64_t next_ms; uint64_t suppressed; };
int ratelimit_ok(struct ratelimit *r, int64_t now_ms, int64_t interval_ms, uint64_t *suppressed);
/* "" when suppressed is 0, else "; N more since the last line": for the
 * end of the line ratelimit_ok let through. Returns buf. */
const char *ratelimit_note(uint64_t suppressed, char *buf, size_t n);

#endif
