/* Filter grep: include/exclude regexes on fields, tables of events ->
 * kept or dropped; absent and non-string fields; regexes that match nothing;
 * bad configs refused at their position; drops counted. */
#include "tests/unit/filter_testlib.h"

static void test_include(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"message\":\"ERROR disk full\"}", FILTER_KEEP, NULL },
		{ "{\"message\":\"all good\"}", FILTER_DROP, NULL },
		{ "{\"other\":\"ERROR\"}", FILTER_DROP, NULL },               /* absent field */
		{ "{\"message\":{\"ERROR\":1}}", FILTER_DROP, NULL },         /* an object is no string */
		{ "{\"message\":\"warn: x\",\"n\":1}", FILTER_KEEP, NULL },
		{ "{\"message\":\"\\u0045RROR x\"}", FILTER_KEEP, NULL },      /* decoded before matching */
		{ "{\"message\":", FILTER_DROP, NULL },                      /* invalid JSON */
	};
	ftest_table("{type: grep, include: {message: '(?i)^(error|warn)'}}", c, sizeof(c) / sizeof(c[0]));
}

static void test_include_all_and_numbers(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"status\":503,\"kubernetes\":{\"namespace\":\"prod\"}}", FILTER_KEEP, NULL },
		{ "{\"status\":200,\"kubernetes\":{\"namespace\":\"prod\"}}", FILTER_DROP, NULL },
		{ "{\"status\":503,\"kubernetes.namespace\":\"dev\"}", FILTER_DROP, NULL },
		{ "{\"status\":\"503\",\"kubernetes.namespace\":\"prod\"}", FILTER_KEEP, NULL },
		{ "{\"status\":true,\"kubernetes.namespace\":\"prod\"}", FILTER_DROP, NULL },
	};
	ftest_table("{type: grep, include: {status: '^5\\d\\d$', kubernetes.namespace: '^prod$'}}", c,
		    sizeof(c) / sizeof(c[0]));
}

static void test_exclude(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"message\":\"GET /healthz 200\"}", FILTER_DROP, NULL },
		{ "{\"message\":\"GET /api 200\"}", FILTER_KEEP, NULL },
		{ "{\"path\":\"/healthz\"}", FILTER_KEEP, NULL },
		{ "{\"message\":\"x\",\"log\":{\"level\":\"debug\"}}", FILTER_DROP, NULL },
	};
	ftest_table("{type: grep, exclude: {message: healthz, log.level: '^debug$'}}", c, sizeof(c) / sizeof(c[0]));
}

static void test_matches_nothing(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"message\":\"anything\"}", FILTER_DROP, NULL },
		{ "{\"message\":\"\"}", FILTER_DROP, NULL },
	};
	ftest_table("{type: grep, include: {message: 'a^'}}", c, 2);
}

static void test_huge_field_and_count(void **state)
{
	(void)state;
	struct ftest t;
	ftest_new(&t, "{type: grep, include: {message: 'needle$'}}");
	size_t n = 2u << 20;
	char *big = malloc(n + 64);
	int k = sprintf(big, "{\"message\":\"");
	memset(big + k, 'h', n);
	strcpy(big + k + n, "needle\"}");
	char *out;
	assert_int_equal(ftest_run(&t, big, &out), FILTER_KEEP);
	free(out);
	big[k + n] = 'x';
	assert_int_equal(ftest_run(&t, big, &out), FILTER_DROP);
	free(out);
	assert_int_equal(filter_instance_stat(t.f, "events"), 2);
	assert_int_equal(filter_instance_stat(t.f, "dropped"), 1);
	free(big);
	ftest_free(&t);
}

static void test_bad_configs(void **state)
{
	(void)state;
	ftest_bad("{type: grep}", "grep needs 'include' or 'exclude'");
	ftest_bad("{type: grep, include: {message: '(unclosed'}}", "bad regular expression '(unclosed'");
	ftest_bad("{type: grep, include: [message]}", "'include' must be a map");
	ftest_bad("{type: grep, exclude: {a..b: x}}", "is not a field path");
	ftest_bad("{type: grep, include: {a: x}, colour: red}", "colour");
	ftest_bad("{type: grep, match: [nope], include: {a: x}}", "no input is named or tagged 'nope'");
	ftest_bad("{type: grepp}", "unknown filter type 'grepp'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_include_all_and_numbers),
		cmocka_unit_test(test_exclude),
		cmocka_unit_test(test_matches_nothing),
		cmocka_unit_test(test_huge_field_and_count),
		cmocka_unit_test(test_bad_configs),
	};
	return cmocka_run_group_tests_name("filter_grep", tests, NULL, NULL);
}
