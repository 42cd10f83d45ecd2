/* json_path: field lookup in event JSON for routing (topic templates, keys,
 * ids): nested and flat ECS keys, escapes, absent and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/json_path.h"

static const char *get(const char *json, const char *path, struct sbuf *b)
{
	sbuf_reset(b);
	if (!json_path_get(json, strlen(json), path, b))
		return NULL;
	return sbuf_cstr(b);
}

static void test_nested_and_flat(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	const char *ev = "{\"@timestamp\":\"2026-11-25T10:00:00Z\",\"kubernetes\":{\"namespace\":\"prod\","
			 "\"pod\":{\"name\":\"web-1\"}},\"log.file.path\":\"/var/log/a.log\",\"n\":42,"
			 "\"ok\":true,\"nul\":null,\"arr\":[1,2],\"host\":{\"name\":\"h\\\"1\"}}";
	assert_string_equal(get(ev, "kubernetes.namespace", &b), "prod");
	assert_string_equal(get(ev, "kubernetes.pod.name", &b), "web-1");
	assert_string_equal(get(ev, "log.file.path", &b), "/var/log/a.log");
	assert_string_equal(get(ev, "n", &b), "42");
	assert_string_equal(get(ev, "ok", &b), "true");
	assert_string_equal(get(ev, "host.name", &b), "h\"1");
	assert_null(get(ev, "nul", &b));
	assert_null(get(ev, "arr", &b));
	assert_null(get(ev, "kubernetes", &b));
	assert_null(get(ev, "kubernetes.namespaces", &b));
	assert_null(get(ev, "missing.field", &b));
	sbuf_free(&b);
}

static void test_escapes(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	const char *ev = "{\"m\":\"a\\nb\\u00e9\\ud83d\\ude00\\/\",\"bad\":\"\\ud800x\"}";
	assert_string_equal(get(ev, "m", &b), "a\nb\xc3\xa9\xf0\x9f\x98\x80/");
	assert_string_equal(get(ev, "bad", &b), "\xef\xbf\xbdx");
	/* keys are matched decoded: escaped, flat and nested, long */
	static const struct { const char *json, *path, *want; } c[] = {
		{ "{\"a\\u002eb\":\"flat\"}", "a.b", "flat" },
		{ "{\"k\\\"q\":{\"x\":1}}", "k\"q.x", "1" },
		{ "{\"\\u0061\":{\"b\":\"n\"}}", "a.b", "n" },
		{ "{\"a\":\"bad \\x escape\"}", "a", NULL },
		/* a value only skipped is not decoded: its escapes are not checked */
		{ "{\"s\":\"bad \\x\",\"a\":\"ok\"}", "a", "ok" },
		{ "{\"s\":\"\\\"x\\\\\",\"a\":\"ok\\\"\"}", "a", "ok\"" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const char *got = get(c[i].json, c[i].path, &b);
		if (c[i].want ? !got || strcmp(got, c[i].want) : got != NULL)
			fail_msg("%s %s: %s, want %s", c[i].json, c[i].path, got ? got : "(absent)",
				 c[i].want ? c[i].want : "(absent)");
	}
	char lk[400], doc[900];
	memset(lk, 'k', 300);
	lk[300] = 0;
	snprintf(doc, sizeof(doc), "{\"%s\":1,\"%s\\n\":2}", lk, lk);
	assert_null(get(doc, lk, &b));   /* keys longer than 256 bytes never match, plain or escaped */
	snprintf(doc, sizeof(doc), "{\"%s\":1,\"a\":2}", lk);
	assert_string_equal(get(doc, "a", &b), "2");
	sbuf_free(&b);
}

static void test_malformed(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	const char *bad[] = { "", "{", "{\"a\"", "{\"a\":", "{\"a\":\"x", "[\"a\"]", "{\"a\":1,}", "{\"x\":{\"y\":",
			      "{\"a\":\"\\u12\"}", "nonsense" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(get(bad[i], "a.b", &b));
	/* Deep nesting is refused, not recursed without bound. */
	char deep[1000];
	size_t n = 0;
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "[");
	deep[n] = 0;
	char doc[1200];
	snprintf(doc, sizeof(doc), "{\"z\":%s,\"a\":1}", deep);
	assert_null(get(doc, "a", &b));
	/* A truncated buffer is never read past its length. */
	const char *ev = "{\"a\":\"value\"}";
	sbuf_reset(&b);
	assert_int_equal(json_path_get(ev, 8, "a", &b), 0);
	sbuf_free(&b);
}

static void test_expand(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	const char *ev = "{\"kubernetes\":{\"namespace\":\"prod\"},\"app\":\"web\"}";
	json_path_expand("logs-${kubernetes.namespace}-${app}", ev, strlen(ev), "unknown", &b);
	assert_string_equal(sbuf_cstr(&b), "logs-prod-web");
	sbuf_reset(&b);
	json_path_expand("logs-${nope}", ev, strlen(ev), "unknown", &b);
	assert_string_equal(sbuf_cstr(&b), "logs-unknown");
	sbuf_reset(&b);
	json_path_expand("cost-$${x}", ev, strlen(ev), "unknown", &b);
	assert_string_equal(sbuf_cstr(&b), "cost-${x}");
	assert_true(json_path_is_template("logs-${a}"));
	assert_false(json_path_is_template("logs"));
	assert_false(json_path_is_template("logs-$${a}"));
	sbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_and_flat),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_expand),
	};
	return cmocka_run_group_tests_name("json_path", tests, NULL, NULL);
}
