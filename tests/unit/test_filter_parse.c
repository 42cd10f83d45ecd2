/* Filter parse: json, logfmt and regex into the root or a target, keep_original,
 * time fields into @timestamp and the event time; lines that do not parse stay
 * as they were plus the reason, never dropped; invalid JSON, a regex that
 * matches nothing, huge fields, deep nesting, non-string values; bad configs
 * refused at their position. */
#include "tests/unit/filter_testlib.h"

#define E "\"event\":{\"parse_error\":"

static void test_json_root(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"@timestamp\":\"t\",\"message\":\"{\\\"level\\\":\\\"info\\\",\\\"n\\\":3,\\\"o\\\":{\\\"a\\\":[1,null]}}\"}",
		  FILTER_KEEP, "{\"@timestamp\":\"t\",\"level\":\"info\",\"n\":3,\"o\":{\"a\":[1,null]}}" },
		/* a parsed key replaces the same key, message included */
		{ "{\"level\":\"x\",\"message\":\"{\\\"level\\\":\\\"warn\\\",\\\"message\\\":\\\"inner\\\"}\"}",
		  FILTER_KEEP, "{\"level\":\"warn\",\"message\":\"inner\"}" },
		/* pretty-printed JSON becomes one line */
		{ "{\"message\":\"{\\n  \\\"a\\\": 1\\n}\"}", FILTER_KEEP, "{\"a\":1}" },
		/* invalid JSON, not an object, not a string: unchanged plus the reason */
		{ "{\"message\":\"{\\\"a\\\":\"}", FILTER_KEEP, "{\"message\":\"{\\\"a\\\":\"," E "\"message: not valid JSON\"}}" },
		{ "{\"message\":\"plain text\"}", FILTER_KEEP, "{\"message\":\"plain text\"," E "\"message: not valid JSON\"}}" },
		{ "{\"message\":\"[1,2]\"}", FILTER_KEEP, "{\"message\":\"[1,2]\"," E "\"message: JSON but not an object\"}}" },
		{ "{\"message\":42}", FILTER_KEEP, "{\"message\":42," E "\"message: not a string\"}}" },
		/* already an object: merged as is */
		{ "{\"message\":{\"a\":1}}", FILTER_KEEP, "{\"a\":1}" },
		/* no such field: untouched, not flagged */
		{ "{\"msg\":\"{}\"}", FILTER_KEEP, NULL },
		/* the event itself is not JSON: untouched */
		{ "{\"message\":", FILTER_KEEP, NULL },
	};
	ftest_table("{type: parse}", c, sizeof(c) / sizeof(c[0]));
}

static void test_json_target_keep(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"log\":\"{\\\"a\\\":1}\"}", FILTER_KEEP, "{\"log\":\"{\\\"a\\\":1}\",\"app\":{\"a\":1}}" },
		{ "{\"log\":\"{\\\"a\\\":1}\",\"app\":{\"a\":0,\"b\":2}}", FILTER_KEEP,
		  "{\"log\":\"{\\\"a\\\":1}\",\"app\":{\"a\":1,\"b\":2}}" },
		{ "{\"log\":\"{\\\"a\\\":1}\",\"app\":\"scalar\"}", FILTER_KEEP,
		  "{\"log\":\"{\\\"a\\\":1}\",\"app\":{\"a\":1}}" },
	};
	ftest_table("{type: parse, field: log, target: app, keep_original: true}", c, sizeof(c) / sizeof(c[0]));
}

static void test_logfmt(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"message\":\"level=info msg=\\\"hello \\\\\\\"you\\\\\\\"\\\" n=3 flag\"}", FILTER_KEEP,
		  "{\"level\":\"info\",\"msg\":\"hello \\\"you\\\"\",\"n\":\"3\",\"flag\":true}" },
		{ "{\"message\":\"  a=  b=x \"}", FILTER_KEEP, "{\"a\":\"\",\"b\":\"x\"}" },
		{ "{\"message\":\"just words\"}", FILTER_KEEP,
		  "{\"message\":\"just words\"," E "\"message: logfmt: no key=value pair\"}}" },
		{ "{\"message\":\"a=\\\"open\"}", FILTER_KEEP,
		  "{\"message\":\"a=\\\"open\"," E "\"message: logfmt: unterminated quoted value\"}}" },
		{ "{\"message\":\"=x\"}", FILTER_KEEP,
		  "{\"message\":\"=x\"," E "\"message: logfmt: expected a key at column 1\"}}" },
	};
	ftest_table("{type: parse, format: logfmt}", c, sizeof(c) / sizeof(c[0]));
}

static void test_regex(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"message\":\"10.0.0.1 GET /a?b=\\\"c\\\" 200\"}", FILTER_KEEP,
		  "{\"message\":\"10.0.0.1 GET /a?b=\\\"c\\\" 200\",\"http\":{\"client\":\"10.0.0.1\",\"method\":\"GET\","
		  "\"path\":\"/a?b=\\\"c\\\"\",\"status\":\"200\"}}" },
		/* an optional group that did not take part is left out */
		{ "{\"message\":\"10.0.0.1 GET /\"}", FILTER_KEEP,
		  "{\"message\":\"10.0.0.1 GET /\",\"http\":{\"client\":\"10.0.0.1\",\"method\":\"GET\",\"path\":\"/\"}}" },
		{ "{\"message\":\"garbage\"}", FILTER_KEEP,
		  "{\"message\":\"garbage\"," E "\"message: pattern did not match\"}}" },
		{ "{\"message\":\"\\u00e9t\\u00e9 GET /\"}", FILTER_KEEP,
		  "{\"message\":\"\\u00e9t\\u00e9 GET /\",\"http\":{\"client\":\"\xc3\xa9t\xc3\xa9\",\"method\":\"GET\",\"path\":\"/\"}}" },
	};
	ftest_table("{type: parse, format: regex, target: http, keep_original: true, "
		    "pattern: '^(?<client>\\S+) (?<method>[A-Z]+) (?<path>\\S+)(?: (?<status>\\d+))?$'}",
		    c, sizeof(c) / sizeof(c[0]));
}

static void test_regex_matches_nothing(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"message\":\"x\"}", FILTER_KEEP, "{\"message\":\"x\"," E "\"message: pattern did not match\"}}" },
	};
	ftest_table("{type: parse, format: regex, pattern: '(?<a>x)(?!)'}", c, 1);
}

static void test_time(void **state)
{
	(void)state;
	struct ftest t;
	ftest_new(&t, "{type: parse, time_field: ts, time_keep: false}");
	char *out;
	assert_int_equal(ftest_run(&t, "{\"@timestamp\":\"old\",\"message\":\"{\\\"ts\\\":\\\"2026-01-02T03:04:05.678+01:00\\\",\\\"a\\\":1}\"}", &out), 0);
	assert_string_equal(out, "{\"@timestamp\":\"2026-01-02T02:04:05.678Z\",\"a\":1}");
	assert_int_equal(event_time(&t.ev), 1767319445678LL);
	free(out);
	/* no fraction, Z */
	assert_int_equal(ftest_run(&t, "{\"message\":\"{\\\"ts\\\":\\\"2026-01-02T03:04:05Z\\\"}\"}", &out), 0);
	assert_string_equal(out, "{\"@timestamp\":\"2026-01-02T03:04:05.000Z\"}");
	free(out);
	/* a bad time: fields parsed, time flagged, event time unchanged */
	assert_int_equal(ftest_run(&t, "{\"message\":\"{\\\"ts\\\":\\\"yesterday\\\",\\\"a\\\":1}\"}", &out), 0);
	assert_string_equal(out, "{\"ts\":\"yesterday\",\"a\":1," E "\"ts: 'yesterday' does not match time_format\"}}");
	assert_int_equal(event_time(&t.ev), 1000);
	free(out);
	assert_int_equal(filter_instance_stat(t.f, "parse_time_failed"), 1);
	ftest_free(&t);

	static const struct fcase c[] = {
		{ "{\"message\":\"t=1767323045.5\"}", FILTER_KEEP, "{\"t\":\"1767323045.5\",\"@timestamp\":\"2026-01-02T03:04:05.500Z\"}" },
	};
	ftest_table("{type: parse, format: logfmt, time_field: t, time_format: unix}", c, 1);
	static const struct fcase d[] = {
		{ "{\"message\":\"25/Nov/2026:10:00:01 +0000 x\"}", FILTER_KEEP,
		  "{\"message\":\"25/Nov/2026:10:00:01 +0000 x\",\"when\":\"25/Nov/2026:10:00:01 +0000\","
		  "\"@timestamp\":\"2026-11-25T10:00:01.000Z\"}" },
	};
	ftest_table("{type: parse, format: regex, keep_original: true, pattern: '^(?<when>[^ ]+ [^ ]+) ', "
		    "time_field: when, time_format: '%d/%b/%Y:%H:%M:%S %z'}", d, 1);
}

static void test_huge_and_deep(void **state)
{
	(void)state;
	struct ftest t;
	ftest_new(&t, "{type: parse}");
	/* a 1 MiB string value inside the parsed JSON */
	struct sbuf b = { 0 };
	sbuf_puts(&b, "{\"message\":\"{\\\"big\\\":\\\"");
	for (int i = 0; i < (1 << 20); i++)
		sbuf_putc(&b, 'x');
	sbuf_puts(&b, "\\\"}\"}");
	char *out;
	assert_int_equal(ftest_run(&t, sbuf_cstr(&b), &out), 0);
	assert_int_equal(strlen(out), (size_t)(1 << 20) + strlen("{\"big\":\"\"}"));
	free(out);
	/* nesting deeper than 64: refused as invalid, event kept */
	sbuf_reset(&b);
	sbuf_puts(&b, "{\"message\":\"");
	for (int i = 0; i < 100; i++)
		sbuf_puts(&b, "[");
	for (int i = 0; i < 100; i++)
		sbuf_puts(&b, "]");
	sbuf_puts(&b, "\"}");
	assert_int_equal(ftest_run(&t, sbuf_cstr(&b), &out), 0);
	assert_non_null(strstr(out, "\"parse_error\":\"message: not valid JSON\""));
	free(out);
	assert_int_equal(filter_instance_stat(t.f, "parse_failed"), 1);
	sbuf_free(&b);
	ftest_free(&t);
}

static void test_bad_configs(void **state)
{
	(void)state;
	ftest_bad("{type: parse, format: regex}", "format: regex needs a 'pattern'");
	ftest_bad("{type: parse, format: regex, pattern: '(a'}", "bad regular expression");
	ftest_bad("{type: parse, format: regex, pattern: '(a)'}", "pattern has no named group");
	ftest_bad("{type: parse, pattern: '(?<a>x)'}", "'pattern' is for format: regex only");
	ftest_bad("{type: parse, format: xml}", "xml");
	ftest_bad("{type: parse, time_format: '%s'}", "time_format needs time_field");
	ftest_bad("{type: parse, time_field: t, time_format: iso}", "has no % directive");
	ftest_bad("{type: parse, field: 'a.'}", "is not a field path");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_root),
		cmocka_unit_test(test_json_target_keep),
		cmocka_unit_test(test_logfmt),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_regex_matches_nothing),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_huge_and_deep),
		cmocka_unit_test(test_bad_configs),
	};
	return cmocka_run_group_tests_name("filter_parse", tests, NULL, NULL);
}
