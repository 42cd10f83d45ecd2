/* The per-pod metadata cache: a chained hash table of "namespace/pod" keys
 * with an LRU list bounding it to `cap` entries, and the decision every event
 * of a Kubernetes pod goes through. Not thread-safe: the client's mutex
 * guards it (kube_client_lock). Times are monotonic milliseconds passed in,
 * so the tests drive the clock.
 *
 * States and what an event of the pod gets:
 *   (absent)   -> PENDING, a fetch is queued; the event waits up to wait_ms
 *   PENDING    -> waits until wait_until_ms, then goes on unenriched
 *   READY      -> enriched; after ttl_ms it is refreshed in the background
 *                 while the old metadata keeps being used (never waits)
 *   GONE (404) -> unenriched until negative_ttl_ms, then asked again
 *   FAILED     -> the stale metadata if any, else unenriched; asked again
 *                 after retry_ms
 * Only a pod never seen makes events wait; every other case decides at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filters/kubernetes/kube.h"

static uint64_t hash_key(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

int kube_cache_init(struct kube_cache *c, size_t cap)
{
	*c = (struct kube_cache){ .cap = cap ? cap : 1 };
	size_t nb = 16;
	while (nb < c->cap * 2 && nb < ((size_t)1 << 24))
		nb <<= 1;
	c->buckets = calloc(nb, sizeof(*c->buckets));
	if (!c->buckets)
		return -ENOMEM;
	c->nbuckets = nb;
	return 0;
}

static void lru_unlink(struct kube_cache *c, struct kube_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(struct kube_cache *c, struct kube_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void entry_free(struct kube_entry *e)
{
	kube_meta_free(e->meta);
	free(e->key);
	free(e);
}

static void remove_entry(struct kube_cache *c, struct kube_entry *e)
{
	struct kube_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	c->n--;
	entry_free(e);
}

void kube_cache_free(struct kube_cache *c)
{
	struct kube_entry *e = c->head;
	while (e) {
		struct kube_entry *next = e->next;
		entry_free(e);
		e = next;
	}
	free(c->buckets);
	*c = (struct kube_cache){ 0 };
}

struct kube_entry *kube_cache_find(struct kube_cache *c, const char *key, size_t len)
{
	uint64_t h = hash_key(key, len);
	for (struct kube_entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && strlen(e->key) == len && memcmp(e->key, key, len) == 0) {
			if (c->head != e) {
				lru_unlink(c, e);
				lru_push_front(c, e);
			}
			return e;
		}
	return NULL;
}

/* A new PENDING entry at the front; the least recently used one goes when the
 * cache is full. An evicted entry with a request in flight is harmless: the
 * completion recreates it (the client holds keys, never entry pointers). */
static struct kube_entry *insert(struct kube_cache *c, const char *key, size_t len)
{
	if (c->n >= c->cap && c->tail) {
		remove_entry(c, c->tail);
		c->evictions++;
	}
	struct kube_entry *e = calloc(1, sizeof(*e));
	if (!e || !(e->key = malloc(len + 1))) {
		free(e);
		return NULL;
	}
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->hash = hash_key(key, len);
	e->state = KUBE_PENDING;
	struct kube_entry **b = &c->buckets[e->hash & (c->nbuckets - 1)];
	e->hnext = *b;
	*b = e;
	lru_push_front(c, e);
	c->n++;
	return e;
}

enum kube_verdict kube_cache_decide(struct kube_cache *c, const char *key, size_t len, int64_t now,
				    const struct kube_policy *p, const char *cid, size_t cid_len,
				    int no_wait, int *fetch, struct kube_entry **out)
{
	*fetch = 0;
	struct kube_entry *e = kube_cache_find(c, key, len);
	if (!e) {
		e = insert(c, key, len);
		*out = e;
		if (!e)
			return KUBE_USE;
		e->wait_until_ms = no_wait ? now : now + p->wait_ms;
		e->queued = 1;
		*fetch = 1;
		return no_wait || p->wait_ms <= 0 ? KUBE_USE : KUBE_WAIT;
	}
	*out = e;
	switch (e->state) {
	case KUBE_PENDING:
		return now < e->wait_until_ms ? KUBE_WAIT : KUBE_USE;
	case KUBE_READY: {
		int stale = now >= e->expires_ms;
		/* A container the pod does not list: the pod was deleted and
		 * recreated under the same name, or its status had not caught up
		 * when fetched. Refresh, at most every min_refresh_ms. */
		if (!stale && cid && cid_len && e->meta && !kube_meta_has_id(e->meta, cid, cid_len) &&
		    now - e->fetched_ms >= p->min_refresh_ms)
			stale = 1;
		if (stale && !e->queued)
			e->queued = *fetch = 1;
		return KUBE_USE;
	}
	case KUBE_GONE:
	case KUBE_FAILED:
		if (now >= e->expires_ms && !e->queued)
			e->queued = *fetch = 1;
		return KUBE_USE;
	}
	return KUBE_USE;
}

int kube_cache_complete(struct kube_cache *c, const char *key, size_t len, int64_t now,
			const struct kube_policy *p, long status, struct kube_meta *meta)
{
	struct kube_entry *e = kube_cache_find(c, key, len);
	if (!e && !(e = insert(c, key, len))) {
		kube_meta_free(meta);
		return 0;
	}
	int waiting = e->state == KUBE_PENDING && now < e->wait_until_ms;
	e->queued = 0;
	if (status == 200 && meta) {
		kube_meta_free(e->meta);
		e->meta = meta;
		e->state = KUBE_READY;
		e->fetched_ms = now;
		e->expires_ms = now + p->ttl_ms;
	} else if (status == 404) {
		kube_meta_free(e->meta);    /* the pod is gone: its labels no longer apply */
		kube_meta_free(meta);
		e->meta = NULL;
		e->state = KUBE_GONE;
		e->expires_ms = now + p->negative_ttl_ms;
	} else {
		kube_meta_free(meta);
		e->state = KUBE_FAILED;     /* keeps e->meta: stale beats nothing */
		e->expires_ms = now + p->retry_ms;
	}
	return waiting;
}

void kube_cache_unqueue(struct kube_cache *c, const char *key, size_t len, int64_t now,
			const struct kube_policy *p)
{
	struct kube_entry *e = kube_cache_find(c, key, len);
	if (!e)
		return;
	e->queued = 0;
	if (e->state == KUBE_PENDING || e->state == KUBE_FAILED) {
		e->state = KUBE_FAILED;
		e->expires_ms = now + p->retry_ms;
	}
}
