/* See backoff.h. */
#include "common/backoff.h"

#include <time.h>
#include <unistd.h>

void backoff_init(struct backoff *b, int64_t initial_ms, int64_t max_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	b->initial_ms = initial_ms > 0 ? initial_ms : 100;
	b->max_ms = max_ms >= b->initial_ms ? max_ms : b->initial_ms;
	b->attempt = 0;
	b->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
		 (uint64_t)(uintptr_t)b;
	if (!b->rng)
		b->rng = 0x9e3779b97f4a7c15ull;
}

static uint64_t next_rand(struct backoff *b)
{
	uint64_t x = b->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	b->rng = x;
	return x;
}

int64_t backoff_next(struct backoff *b)
{
	int64_t d = b->initial_ms;
	for (unsigned i = 0; i < b->attempt && d < b->max_ms; i++)
		d *= 2;
	if (d > b->max_ms)
		d = b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	int64_t half = d / 2;
	return half + (int64_t)(next_rand(b) % (uint64_t)(d - half + 1));
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
