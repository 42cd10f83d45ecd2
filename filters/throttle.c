/* Filter `throttle`: a rate limit per key, so one noisy source cannot starve
 * the rest. Each key (a template over the event's fields, default: the
 * input's name) has a token bucket: `rate` events per `interval`, bursts up
 * to `burst`. An event finding its bucket empty is dropped and counted.
 *
 * The key table is bounded (`max_keys`). A bucket refilled to `burst`
 * carries no state (a new bucket starts full), so such buckets are freed by
 * a sweep whenever the table is full; if every bucket is still in use, new
 * keys share one overflow bucket (counted in throttle_overflow), so memory
 * stays bounded whatever the keys. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/event.h"
#include "agent/module.h"
#include "common/clock.h"
#include "common/json_path.h"
#include "filters/filter_util.h"

struct throttle_conf {
	int64_t rate, burst, interval_ms, max_keys;
	char *key;
};

#define KT(f) offsetof(struct throttle_conf, f)
static const struct cfg_key throttle_keys[] = {
	{ "rate", CFG_T_INT, KT(rate), NULL, CFG_REQUIRED, NULL, 1, 1000000000, NULL,
	  "Events let through per interval, per key (the bucket's refill)." },
	{ "interval", CFG_T_DURATION, KT(interval_ms), "1s", 0, NULL, 1, 86400000, NULL,
	  "The period `rate` is counted over." },
	{ "burst", CFG_T_INT, KT(burst), "0", 0, NULL, 0, 1000000000, NULL,
	  "Bucket size: events a quiet key may send at once; 0 = rate." },
	{ "key", CFG_T_STRING, KT(key), NULL, 0, NULL, 0, 0, NULL,
	  "Template naming the bucket from event fields, e.g. \"${kubernetes.namespace}/${kubernetes.pod.name}\" (absent fields expand to \"\"); default: the input's name." },
	{ "max_keys", CFG_T_INT, KT(max_keys), "10000", 0, NULL, 1, 10000000, NULL,
	  "Buckets kept at most; beyond, idle (full) buckets are recycled, then new keys share one overflow bucket." },
	{ .name = NULL },
};
#undef KT

struct bucket {
	uint64_t hash;
	char *key;
	double tokens;
	int64_t last_ms;
	uint32_t next;                 /* chain in the hash table; 0 = end (index + 1) */
};

struct throttle {
	const struct throttle_conf *c;
	double per_ms, burst;
	struct bucket *b;              /* max_keys entries */
	uint32_t *heads;               /* hash table, nheads (power of two) */
	uint32_t nheads, used, free_head;  /* free list through next */
	struct bucket overflow;
	_Atomic uint64_t *overflowed;
	struct sbuf key;
};

static int throttle_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct throttle_conf *c = conf;
	if (c->burst && c->burst < 1)
		return cfg_fail(err, cfg_at(map, "burst"), "burst must be at least 1");
	if (c->key && !*c->key)
		return cfg_fail(err, cfg_at(map, "key"), "key: an empty template puts every event in one bucket; leave it out instead");
	return 0;
}

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static void refill(struct throttle *t, struct bucket *b, int64_t now)
{
	if (now > b->last_ms) {
		b->tokens += (double)(now - b->last_ms) * t->per_ms;
		if (b->tokens > t->burst)
			b->tokens = t->burst;
		b->last_ms = now;
	}
}

static void throttle_destroy(void *state)
{
	struct throttle *t = state;
	if (!t)
		return;
	for (uint32_t i = 0; t->b && i < (uint32_t)t->c->max_keys; i++)
		free(t->b[i].key);
	free(t->b);
	free(t->heads);
	sbuf_free(&t->key);
	free(t);
}

static int throttle_init(struct filter *f, const void *conf, void **state)
{
	const struct throttle_conf *c = conf;
	struct throttle *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->c = c;
	t->per_ms = (double)c->rate / (double)c->interval_ms;
	t->burst = (double)(c->burst ? c->burst : c->rate);
	t->nheads = 16;
	while (t->nheads < (uint64_t)c->max_keys && t->nheads < (1u << 30))
		t->nheads <<= 1;
	t->b = calloc((size_t)c->max_keys, sizeof(*t->b));
	t->heads = calloc(t->nheads, sizeof(*t->heads));
	if (!t->b || !t->heads) {
		throttle_destroy(t);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < (uint32_t)c->max_keys; i++)
		t->b[i].next = i + 2 <= (uint32_t)c->max_keys ? i + 2 : 0;
	t->free_head = 1;
	t->overflow.tokens = t->burst;
	t->overflow.last_ms = clock_mono_ms();
	t->overflowed = filter_counter(f, "throttle_overflow");
	*state = t;
	return 0;
}

/* Frees every bucket back at full tokens; how many. */
static uint32_t sweep(struct throttle *t, int64_t now)
{
	uint32_t freed = 0;
	for (uint32_t h = 0; h < t->nheads; h++) {
		uint32_t *link = &t->heads[h];
		while (*link) {
			struct bucket *b = &t->b[*link - 1];
			refill(t, b, now);
			if (b->tokens >= t->burst) {
				uint32_t idx = *link;
				*link = b->next;
				free(b->key);
				b->key = NULL;
				b->next = t->free_head;
				t->free_head = idx;
				t->used--;
				freed++;
			} else {
				link = &b->next;
			}
		}
	}
	return freed;
}

static struct bucket *lookup(struct throttle *t, const char *k, size_t n, int64_t now)
{
	uint64_t h = fnv(k, n);
	uint32_t slot = (uint32_t)(h & (t->nheads - 1));
	for (uint32_t i = t->heads[slot]; i; i = t->b[i - 1].next) {
		struct bucket *b = &t->b[i - 1];
		if (b->hash == h && strlen(b->key) == n && memcmp(b->key, k, n) == 0)
			return b;
	}
	if (!t->free_head && !sweep(t, now)) {
		if (t->overflowed)
			atomic_fetch_add_explicit(t->overflowed, 1, memory_order_relaxed);
		return &t->overflow;
	}
	uint32_t idx = t->free_head;
	struct bucket *b = &t->b[idx - 1];
	char *key = strndup(k, n);
	if (!key)
		return &t->overflow;
	t->free_head = b->next;
	*b = (struct bucket){ .hash = h, .key = key, .tokens = t->burst, .last_ms = now, .next = t->heads[slot] };
	t->heads[slot] = idx;
	t->used++;
	return b;
}

static int throttle_apply(void *state, struct event *ev)
{
	struct throttle *t = state;
	int64_t now = clock_mono_ms();
	const char *k;
	size_t n;
	if (t->c->key) {
		size_t len;
		const char *json = event_json(ev, &len);
		t->key.len = 0;
		t->key.err = 0;
		json_path_expand(t->c->key, json, len, "", &t->key);
		k = t->key.p ? t->key.p : "";
		n = t->key.len;
	} else {
		k = event_input(ev);
		n = strlen(k);
	}
	struct bucket *b = lookup(t, k, n, now);
	refill(t, b, now);
	if (b->tokens < 1.0)
		return FILTER_DROP;
	b->tokens -= 1.0;
	return FILTER_KEEP;
}

const struct filter_module filter_throttle = {
	.type = "throttle",
	.doc = "Rate limit per key: a token bucket of `burst` events refilled at `rate` per `interval` "
	       "for each value of the `key` template; events over the limit are dropped and counted "
	       "(`logship_filter_dropped_total`). At most `max_keys` buckets are kept.",
	.keys = throttle_keys,
	.conf_size = sizeof(struct throttle_conf),
	.check = throttle_check,
	.init = throttle_init,
	.apply = throttle_apply,
	.destroy = throttle_destroy,
};
