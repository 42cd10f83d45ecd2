/* Filter throttle: token buckets per key template; bursts, refill over
 * time (measured against the monotonic clock, so the refill step waits a
 * real interval), the bounded key table with recycling and the overflow
 * bucket, bad configs. */
#include <time.h>

#include "tests/unit/filter_testlib.h"

static int run(struct ftest *t, const char *in)
{
	char *out;
	int rc = ftest_run(t, in, &out);
	assert_string_equal(out, in);   /* throttle never changes an event */
	free(out);
	return rc;
}

static void test_per_key(void **state)
{
	(void)state;
	struct ftest t;
	/* 3 per hour: no refill during the test */
	ftest_new(&t, "{type: throttle, rate: 3, interval: 1h, key: '${kubernetes.pod.name}'}");
	const char *a = "{\"kubernetes\":{\"pod\":{\"name\":\"a\"}}}", *b = "{\"kubernetes.pod.name\":\"b\"}";
	for (int i = 0; i < 3; i++)
		assert_int_equal(run(&t, a), FILTER_KEEP);
	assert_int_equal(run(&t, a), FILTER_DROP);
	assert_int_equal(run(&t, a), FILTER_DROP);
	/* the noisy pod does not starve another */
	for (int i = 0; i < 3; i++)
		assert_int_equal(run(&t, b), FILTER_KEEP);
	assert_int_equal(run(&t, b), FILTER_DROP);
	/* events without the field share the "" bucket */
	assert_int_equal(run(&t, "{}"), FILTER_KEEP);
	assert_int_equal(filter_instance_stat(t.f, "dropped"), 3);
	assert_int_equal(filter_instance_stat(t.f, "events"), 10);
	ftest_free(&t);
}

static void test_refill_and_burst(void **state)
{
	(void)state;
	struct ftest t;
	/* 1 per 50ms with a burst of 2; key default: the input */
	ftest_new(&t, "{type: throttle, rate: 1, interval: 50ms, burst: 2}");
	const char *e = "{\"m\":1}";
	assert_int_equal(run(&t, e), FILTER_KEEP);
	assert_int_equal(run(&t, e), FILTER_KEEP);
	assert_int_equal(run(&t, e), FILTER_DROP);
	struct timespec ts = { 0, 120 * 1000000L };   /* >= 2 intervals: refilled to the burst */
	nanosleep(&ts, NULL);
	assert_int_equal(run(&t, e), FILTER_KEEP);
	assert_int_equal(run(&t, e), FILTER_KEEP);
	assert_int_equal(run(&t, e), FILTER_DROP);
	ftest_free(&t);
}

static void test_bounded_keys(void **state)
{
	(void)state;
	struct ftest t;
	ftest_new(&t, "{type: throttle, rate: 1, interval: 1h, max_keys: 2, key: '${f.k}'}");
	assert_int_equal(run(&t, "{\"f.k\":\"a\"}"), FILTER_KEEP);
	assert_int_equal(run(&t, "{\"f.k\":\"b\"}"), FILTER_KEEP);
	/* table full of buckets in use: new keys share the overflow bucket */
	assert_int_equal(run(&t, "{\"f.k\":\"c\"}"), FILTER_KEEP);
	assert_int_equal(run(&t, "{\"f.k\":\"d\"}"), FILTER_DROP);
	assert_int_equal(filter_instance_stat(t.f, "throttle_overflow"), 2);
	/* the known keys keep their own buckets */
	assert_int_equal(run(&t, "{\"f.k\":\"a\"}"), FILTER_DROP);
	ftest_free(&t);

	/* full buckets are recycled: 1000 distinct keys through a table of 4 */
	ftest_new(&t, "{type: throttle, rate: 1000, interval: 1ms, burst: 1, max_keys: 4, key: '${f.k}'}");
	char ev[64];
	int kept = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(ev, sizeof(ev), "{\"f.k\":\"key-%d\"}", i);
		kept += run(&t, ev) == FILTER_KEEP;
		struct timespec ts = { 0, 20000 };
		nanosleep(&ts, NULL);
	}
	assert_true(kept > 0);
	assert_int_equal(kept + (int)filter_instance_stat(t.f, "dropped"), 1000);
	ftest_free(&t);
}

static void test_bad_configs(void **state)
{
	(void)state;
	ftest_bad("{type: throttle}", "rate");
	ftest_bad("{type: throttle, rate: 0}", "rate");
	ftest_bad("{type: throttle, rate: 10, key: ''}", "key: an empty template");
	ftest_bad("{type: throttle, rate: 10, max_keys: 0}", "max_keys");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_key),
		cmocka_unit_test(test_refill_and_burst),
		cmocka_unit_test(test_bounded_keys),
		cmocka_unit_test(test_bad_configs),
	};
	return cmocka_run_group_tests_name("filter_throttle", tests, NULL, NULL);
}
