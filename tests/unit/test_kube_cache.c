/* kubernetes filter, the per-pod cache (filters/kubernetes/kube_cache.c),
 * driven with a fake clock: a miss waits then goes on; requests are
 * de-duplicated; TTL expiry refreshes in the background without waiting;
 * 404s are remembered for negative_ttl; failures keep stale metadata and
 * retry; the LRU bound evicts the least recently used pod; an unknown
 * container ID refreshes a recreated pod. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/kubernetes/kube.h"

static const struct kube_policy P = {
	.ttl_ms = 60000, .negative_ttl_ms = 10000, .retry_ms = 2000, .wait_ms = 250, .min_refresh_ms = 5000,
};

static struct kube_meta *meta_with(const char *label, const char *id)
{
	struct kube_meta *m = calloc(1, sizeof(*m));
	kube_meta_add(m, "kubernetes.labels", label, strlen(label));
	if (id) {
		m->ids = calloc(1, sizeof(char *));
		m->ids[0] = strdup(id);
		m->nids = 1;
	}
	return m;
}

/* decide() for key at now: the verdict; *fetch and *e returned. */
static enum kube_verdict decide(struct kube_cache *c, const char *key, int64_t now, int no_wait, int *fetch,
				struct kube_entry **e)
{
	return kube_cache_decide(c, key, strlen(key), now, &P, NULL, 0, no_wait, fetch, e);
}

static int complete(struct kube_cache *c, const char *key, int64_t now, long status, struct kube_meta *m)
{
	return kube_cache_complete(c, key, strlen(key), now, &P, status, m);
}

static void test_miss_wait_then_ready(void **state)
{
	(void)state;
	struct kube_cache c;
	assert_int_equal(kube_cache_init(&c, 16), 0);
	int fetch;
	struct kube_entry *e;
	assert_int_equal(decide(&c, "shop/web-1", 1000, 0, &fetch, &e), KUBE_WAIT);
	assert_true(fetch);
	assert_int_equal(e->state, KUBE_PENDING);
	assert_int_equal(e->wait_until_ms, 1250);
	/* A second event of the same pod waits too, without a second request. */
	assert_int_equal(decide(&c, "shop/web-1", 1100, 0, &fetch, &e), KUBE_WAIT);
	assert_false(fetch);
	/* The answer comes while events wait: the caller must wake them. */
	assert_int_equal(complete(&c, "shop/web-1", 1200, 200, meta_with("{\"app\":\"web\"}", NULL)), 1);
	assert_int_equal(decide(&c, "shop/web-1", 1201, 0, &fetch, &e), KUBE_USE);
	assert_false(fetch);
	assert_non_null(e->meta);
	assert_string_equal(e->meta->f[0].json, "{\"app\":\"web\"}");
	kube_cache_free(&c);
}

static void test_wait_deadline(void **state)
{
	(void)state;
	struct kube_cache c;
	kube_cache_init(&c, 16);
	int fetch;
	struct kube_entry *e;
	assert_int_equal(decide(&c, "a/p", 0, 0, &fetch, &e), KUBE_WAIT);
	assert_int_equal(decide(&c, "a/p", 249, 0, &fetch, &e), KUBE_WAIT);
	/* The deadline passes: events go on unenriched, the fetch continues. */
	assert_int_equal(decide(&c, "a/p", 250, 0, &fetch, &e), KUBE_USE);
	assert_null(e->meta);
	assert_false(fetch);
	assert_true(e->queued);
	/* A late answer wakes nobody, and the next events are enriched. */
	assert_int_equal(complete(&c, "a/p", 5000, 200, meta_with("{}", NULL)), 0);
	assert_int_equal(decide(&c, "a/p", 5001, 0, &fetch, &e), KUBE_USE);
	assert_non_null(e->meta);
	/* While the API server is down, a new pod does not wait at all. */
	assert_int_equal(decide(&c, "a/q", 6000, 1, &fetch, &e), KUBE_USE);
	assert_true(fetch);
	kube_cache_free(&c);
}

static void test_ttl_refresh_in_background(void **state)
{
	(void)state;
	struct kube_cache c;
	kube_cache_init(&c, 16);
	int fetch;
	struct kube_entry *e;
	decide(&c, "ns/p", 0, 0, &fetch, &e);
	complete(&c, "ns/p", 100, 200, meta_with("{\"v\":\"1\"}", NULL));
	assert_int_equal(decide(&c, "ns/p", 100 + 59999, 0, &fetch, &e), KUBE_USE);
	assert_false(fetch);
	/* Expired: the old labels are used while one refresh is queued. */
	assert_int_equal(decide(&c, "ns/p", 100 + 60000, 0, &fetch, &e), KUBE_USE);
	assert_true(fetch);
	assert_string_equal(e->meta->f[0].json, "{\"v\":\"1\"}");
	assert_int_equal(decide(&c, "ns/p", 100 + 60001, 0, &fetch, &e), KUBE_USE);
	assert_false(fetch);        /* de-duplicated */
	assert_int_equal(complete(&c, "ns/p", 60200, 200, meta_with("{\"v\":\"2\"}", NULL)), 0);
	decide(&c, "ns/p", 60201, 0, &fetch, &e);
	assert_string_equal(e->meta->f[0].json, "{\"v\":\"2\"}");
	assert_int_equal(e->expires_ms, 60200 + 60000);
	kube_cache_free(&c);
}

static void test_negative_and_failed(void **state)
{
	(void)state;
	struct kube_cache c;
	kube_cache_init(&c, 16);
	int fetch;
	struct kube_entry *e;
	/* 404: the pod is gone, remembered for negative_ttl. */
	decide(&c, "ns/gone", 0, 0, &fetch, &e);
	assert_int_equal(complete(&c, "ns/gone", 50, 404, NULL), 1);
	assert_int_equal(decide(&c, "ns/gone", 60, 0, &fetch, &e), KUBE_USE);
	assert_int_equal(e->state, KUBE_GONE);
	assert_null(e->meta);
	assert_false(fetch);
	assert_int_equal(decide(&c, "ns/gone", 50 + 9999, 0, &fetch, &e), KUBE_USE);
	assert_false(fetch);
	assert_int_equal(decide(&c, "ns/gone", 50 + 10000, 0, &fetch, &e), KUBE_USE);   /* asked again, no wait */
	assert_true(fetch);

	/* A failure (401, timeout: status 0) after metadata was known keeps it. */
	decide(&c, "ns/p", 0, 0, &fetch, &e);
	complete(&c, "ns/p", 10, 200, meta_with("{\"x\":\"1\"}", NULL));
	decide(&c, "ns/p", 60010, 0, &fetch, &e);
	assert_true(fetch);
	assert_int_equal(complete(&c, "ns/p", 60020, 401, NULL), 0);
	assert_int_equal(decide(&c, "ns/p", 60030, 0, &fetch, &e), KUBE_USE);
	assert_int_equal(e->state, KUBE_FAILED);
	assert_string_equal(e->meta->f[0].json, "{\"x\":\"1\"}");
	assert_false(fetch);
	assert_int_equal(decide(&c, "ns/p", 60020 + 2000, 0, &fetch, &e), KUBE_USE);    /* retry_ms */
	assert_true(fetch);
	assert_int_equal(complete(&c, "ns/p", 62100, 0, NULL), 0);
	assert_non_null(e->meta);

	/* A failure for a pod never known: unenriched, retried later. */
	decide(&c, "ns/q", 0, 0, &fetch, &e);
	assert_int_equal(complete(&c, "ns/q", 100, 503, NULL), 1);
	assert_int_equal(decide(&c, "ns/q", 200, 0, &fetch, &e), KUBE_USE);
	assert_null(e->meta);
	assert_false(fetch);
	/* A queue that was full: unqueue makes it FAILED, asked again later. */
	decide(&c, "ns/r", 0, 0, &fetch, &e);
	kube_cache_unqueue(&c, "ns/r", 4, 0, &P);
	assert_int_equal(decide(&c, "ns/r", 1, 0, &fetch, &e), KUBE_USE);
	assert_false(fetch);
	assert_int_equal(decide(&c, "ns/r", 2000, 0, &fetch, &e), KUBE_USE);
	assert_true(fetch);
	kube_cache_free(&c);
}

static void test_lru_bound(void **state)
{
	(void)state;
	struct kube_cache c;
	kube_cache_init(&c, 3);
	int fetch;
	struct kube_entry *e;
	const char *keys[] = { "n/a", "n/b", "n/c" };
	for (int i = 0; i < 3; i++) {
		decide(&c, keys[i], i, 0, &fetch, &e);
		complete(&c, keys[i], i, 200, meta_with("{}", NULL));
	}
	/* Touch a: b is now the least recently used. */
	assert_non_null(kube_cache_find(&c, "n/a", 3));
	decide(&c, "n/d", 10, 0, &fetch, &e);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.evictions, 1);
	assert_null(kube_cache_find(&c, "n/b", 3));
	assert_non_null(kube_cache_find(&c, "n/a", 3));
	assert_non_null(kube_cache_find(&c, "n/c", 3));
	assert_non_null(kube_cache_find(&c, "n/d", 3));
	/* An answer for an evicted pod recreates it (and evicts another). */
	complete(&c, "n/b", 20, 200, meta_with("{\"b\":\"1\"}", NULL));
	assert_int_equal(c.n, 3);
	e = kube_cache_find(&c, "n/b", 3);
	assert_non_null(e);
	assert_int_equal(e->state, KUBE_READY);
	/* Many pods through a small cache: bounded, and each still findable
	 * right after it was added (hash chains stay consistent). */
	for (int i = 0; i < 10000; i++) {
		char key[32];
		int n = snprintf(key, sizeof(key), "ns/pod-%d", i);
		kube_cache_decide(&c, key, (size_t)n, 100 + i, &P, NULL, 0, 0, &fetch, &e);
		assert_true(fetch);
		assert_int_equal(kube_cache_complete(&c, key, (size_t)n, 100 + i, &P, i % 2 ? 200 : 404,
						     i % 2 ? meta_with("{}", NULL) : NULL), 1);
		assert_true(c.n <= 3);
	}
	assert_non_null(kube_cache_find(&c, "ns/pod-9999", 11));
	assert_null(kube_cache_find(&c, "ns/pod-0", 8));
	kube_cache_free(&c);
}

static void test_recreated_pod(void **state)
{
	(void)state;
	struct kube_cache c;
	kube_cache_init(&c, 16);
	int fetch;
	struct kube_entry *e;
	const char *old_id = "aaaa", *new_id = "bbbb";
	kube_cache_decide(&c, "db/db-0", 7, 0, &P, old_id, 4, 0, &fetch, &e);
	kube_cache_complete(&c, "db/db-0", 7, 100, &P, 200, meta_with("{\"rev\":\"1\"}", old_id));
	/* The known container: nothing to do. */
	kube_cache_decide(&c, "db/db-0", 7, 200, &P, old_id, 4, 0, &fetch, &e);
	assert_false(fetch);
	/* A new container ID soon after the fetch: status may lag; no storm. */
	kube_cache_decide(&c, "db/db-0", 7, 1000, &P, new_id, 4, 0, &fetch, &e);
	assert_false(fetch);
	/* Later: the pod was recreated under its name, refresh (old labels meanwhile). */
	assert_int_equal(kube_cache_decide(&c, "db/db-0", 7, 5100, &P, new_id, 4, 0, &fetch, &e), KUBE_USE);
	assert_true(fetch);
	assert_string_equal(e->meta->f[0].json, "{\"rev\":\"1\"}");
	kube_cache_decide(&c, "db/db-0", 7, 5200, &P, new_id, 4, 0, &fetch, &e);
	assert_false(fetch);
	kube_cache_complete(&c, "db/db-0", 7, 5300, &P, 200, meta_with("{\"rev\":\"2\"}", new_id));
	kube_cache_decide(&c, "db/db-0", 7, 20000, &P, new_id, 4, 0, &fetch, &e);
	assert_false(fetch);
	assert_string_equal(e->meta->f[0].json, "{\"rev\":\"2\"}");
	kube_cache_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_miss_wait_then_ready),
		cmocka_unit_test(test_wait_deadline),
		cmocka_unit_test(test_ttl_refresh_in_background),
		cmocka_unit_test(test_negative_and_failed),
		cmocka_unit_test(test_lru_bound),
		cmocka_unit_test(test_recreated_pod),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
