/* Retry delays: capped exponential backoff with jitter, shared by every
 * output (and anything else that retries). Delay n is drawn uniformly from
 * [d/2, d] where d = min(max, initial * 2^n) ("equal jitter"): it grows fast,
 * never exceeds the cap, and many agents retrying one dead destination do not
 * hammer it in step. Not thread-safe: one per retrying thread. */
#ifndef LOGSHIP_COMMON_BACKOFF_H
#define LOGSHIP_COMMON_BACKOFF_H
#include <stdint.h>

struct backoff {
	int64_t initial_ms, max_ms;
	unsigned attempt;          /* failures since the last success */
	uint64_t rng;              /* xorshift state */
};

/* initial_ms <= 0 means 100; max_ms < initial_ms means initial_ms. */
void backoff_init(struct backoff *b, int64_t initial_ms, int64_t max_ms);
/* The delay before the next attempt; counts one more failure. */
int64_t backoff_next(struct backoff *b);
/* A success: the next failure starts again at initial_ms. */
void backoff_reset(struct backoff *b);

#endif
