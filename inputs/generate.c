/* Input `generate`: synthetic events for tests and benchmarks. Each event is
 *   {"@timestamp":"...","message":"<size bytes>","event":{"sequence":N}}
 * with N = 1, 2, 3, ... across restarts: the position (checkpoint) is the last
 * sequence number handed over, so after a crash the input resumes after the
 * last one the ring holds durably and a test can count every number at the
 * far end. `count` 0 = endless; `rate` events/s, 0 = as fast as the ring
 * takes them (runs of GEN_BUDGET events per loop turn, so signals and timers
 * are still served). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/module.h"
#include "common/clock.h"
#include "common/json.h"

#define GEN_BUDGET 8192

struct gen_conf {
	int64_t count, rate, size;
};

static const struct cfg_key gen_keys[] = {
	{ "count", CFG_T_INT, offsetof(struct gen_conf, count), "0", 0, NULL, 0, 1000000000000000LL, NULL,
	  "How many events in all (counting those before a restart); 0 = endless." },
	{ "rate", CFG_T_INT, offsetof(struct gen_conf, rate), "1", 0, NULL, 0, 100000000, NULL,
	  "Events per second; 0 = as fast as the pipeline takes them." },
	{ "size", CFG_T_INT, offsetof(struct gen_conf, size), "100", 0, NULL, 0, 1 << 20, NULL,
	  "Bytes of each event's message." },
	{ .name = NULL },
};

struct gen {
	struct input *in;
	const struct gen_conf *c;
	uint64_t seq;                  /* last sequence handed over */
	char *msg;                     /* size bytes of filler */
	char *ev;                      /* event buffer */
	size_t evcap;
	int64_t t0_ms;                 /* rate: start of the current run of ticks */
	uint64_t seq0;                 /* rate: seq at t0 */
	int done;
};

static int gen_init(struct input *in, const void *conf, void **state)
{
	const struct gen_conf *c = conf;
	struct gen *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->in = in;
	g->c = c;
	g->msg = malloc((size_t)c->size + 1);
	g->evcap = (size_t)c->size + 128;
	g->ev = malloc(g->evcap);
	if (!g->msg || !g->ev) {
		free(g->msg);
		free(g->ev);
		free(g);
		return -ENOMEM;
	}
	static const char pat[] = "logship generate event abcdefghijklmnopqrstuvwxyz 0123456789 ";
	for (int64_t i = 0; i < c->size; i++)
		g->msg[i] = pat[i % (sizeof(pat) - 1)];
	char pos[32];
	int n = input_checkpoint(in, pos, sizeof(pos) - 1);
	if (n > 0) {
		pos[n] = '\0';
		char *end;
		unsigned long long v = strtoull(pos, &end, 10);
		if (*end == '\0')
			g->seq = v;
	}
	*state = g;
	return 0;
}

/* Hands over up to `max` events; returns how many were taken. */
static uint64_t produce(struct gen *g, uint64_t max)
{
	uint64_t taken = 0;
	int64_t ts = clock_ms(CLOCK_REALTIME_COARSE);  /* per batch of events: coarse is enough */
	char tsbuf[32];
	json_format_time(tsbuf, ts);
	size_t size = (size_t)g->c->size;
	while (taken < max) {
		if (g->c->count && g->seq >= (uint64_t)g->c->count)
			break;
		char *p = g->ev;
		memcpy(p, "{\"@timestamp\":\"", 15);
		p += 15;
		memcpy(p, tsbuf, 24);
		p += 24;
		memcpy(p, "\",\"message\":\"", 13);
		p += 13;
		memcpy(p, g->msg, size);
		p += size;
		memcpy(p, "\",\"event\":{\"sequence\":", 22);
		p += 22;
		char digits[24];
		int nd = 0;
		uint64_t v = g->seq + 1;
		do {
			digits[nd++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		while (nd)
			*p++ = digits[--nd];
		*p++ = '}';
		*p++ = '}';
		int rc = input_emit(g->in, ts, g->ev, (size_t)(p - g->ev));
		if (rc == -EAGAIN)
			break;  /* ring full: this one is held, offered again on resume */
		g->seq++;
		taken++;
		if (rc < 0)
			continue;  /* too large: counted as dropped by the agent */
	}
	if (taken) {
		char pos[24];
		int n = snprintf(pos, sizeof(pos), "%" PRIu64, g->seq);
		input_set_position(g->in, pos, (size_t)n);
	}
	if (g->c->count && g->seq >= (uint64_t)g->c->count && !g->done) {
		g->done = 1;
		input_done(g->in, 0);
	}
	return taken;
}

/* Rate mode: hand over what is due since t0, tick again soon. */
static void gen_tick(struct gen *g)
{
	int64_t now = clock_mono_ms();
	uint64_t due = g->seq0 + (uint64_t)((now - g->t0_ms) * g->c->rate / 1000);
	if (due > g->seq) {
		uint64_t want = due - g->seq;
		uint64_t got = produce(g, want > GEN_BUDGET ? GEN_BUDGET : want);
		if (got < want && !g->done && got == GEN_BUDGET) {
			input_schedule(g->in);  /* more due now */
			return;
		}
		if (got < want && !g->done) {
			/* Refused (ring full): do not build a burst for later. */
			g->t0_ms = now;
			g->seq0 = g->seq;
		}
	}
	if (g->done)
		return;
	int64_t tick = 1000 / g->c->rate;
	if (tick < 10)
		tick = 10;
	if (tick > 1000)
		tick = 1000;
	input_timer_set(g->in, tick);
}

static void gen_run(void *state)
{
	struct gen *g = state;
	if (g->done)
		return;
	if (g->c->rate) {
		gen_tick(g);
		return;
	}
	if (produce(g, GEN_BUDGET) == GEN_BUDGET)
		input_schedule(g->in);
}

static void gen_on_timer(void *state)
{
	gen_run(state);
}

static int gen_start(void *state)
{
	struct gen *g = state;
	g->t0_ms = clock_mono_ms();
	g->seq0 = g->seq;
	if (g->c->count && g->seq >= (uint64_t)g->c->count) {
		g->done = 1;
		input_done(g->in, 0);
		return 0;
	}
	input_schedule(g->in);
	return 0;
}

static void gen_destroy(void *state)
{
	struct gen *g = state;
	free(g->msg);
	free(g->ev);
	free(g);
}

const struct input_module generate_input = {
	.type = "generate",
	.doc = "Synthetic events for tests and benchmarks: `{\"@timestamp\", \"message\", "
	       "\"event\": {\"sequence\": N}}` with N = 1, 2, 3, ... The position is the last "
	       "sequence number, checkpointed once the ring holds it durably, so numbering "
	       "continues across restarts and a test can count every number at the far end.",
	.keys = gen_keys,
	.conf_size = sizeof(struct gen_conf),
	.init = gen_init,
	.start = gen_start,
	.on_timer = gen_on_timer,
	.run = gen_run,
	.destroy = gen_destroy,
};
