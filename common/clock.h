/* Milliseconds, the two clocks every daemon needs: monotonic for deadlines,
 * timeouts and rates (never jumps with the wall clock), realtime for event
 * times. Header-only: one definition instead of a copy per file. (buffer/
 * keeps its own: it depends on nothing above it.) */
#ifndef LOGSHIP_COMMON_CLOCK_H
#define LOGSHIP_COMMON_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t clock_mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
static inline int64_t clock_wall_ms(void) { return clock_ms(CLOCK_REALTIME); }

#endif
