/* The small shared pieces the agent's modules use: JSON string escaping
 * (control characters, quotes, every kind of invalid UTF-8 made \ufffd),
 * ECS timestamps, capped exponential backoff with jitter, Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/backoff.h"
#include "common/json.h"
#include "common/metrics.h"
#include "common/sbuf.h"

static void check_escape(const char *in, size_t n, const char *want)
{
	struct sbuf b = { 0 };
	json_put_string(&b, in, n);
	assert_string_equal(sbuf_cstr(&b), want);
	sbuf_free(&b);
}

static void test_json_escape(void **state)
{
	(void)state;
	check_escape("plain", 5, "\"plain\"");
	check_escape("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	check_escape("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
	check_escape("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
	check_escape("nul\0x", 5, "\"nul\\u0000x\"");
	check_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	check_escape("\xff", 1, "\"\\ufffd\"");                       /* never valid */
	check_escape("\x80x", 2, "\"\\ufffdx\"");                     /* stray continuation */
	check_escape("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");            /* overlong '/' */
	check_escape("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* overlong, 3 bytes */
	check_escape("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
	check_escape("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
	check_escape("ab\xe2\x82", 4, "\"ab\\ufffd\\ufffd\"");        /* truncated at the end */
}

/* Reference escaper, one byte at a time (RFC 8259; UTF-8 by RFC 3629's
 * table), against which the fast one (SSE2 scan, runs copied whole) is
 * checked on strings long enough for its 16-byte loads, with every kind of
 * byte at every offset; and json_utf8_check against the same table (and
 * its word on bytes below 0x20). */
static size_t ref_utf8(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	if (!len || n < len)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
	    (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return len;
}

static int ref_escape(const unsigned char *s, size_t n, struct sbuf *b)
{
	int valid = 1;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		char e[8];
		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			sbuf_put(b, e, 2);
		} else if (c < 0x20) {
			const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b"
					   : c == '\f' ? "\\f" : NULL;
			if (named) {
				sbuf_puts(b, named);
			} else {
				snprintf(e, sizeof(e), "\\u%04x", c);
				sbuf_puts(b, e);
			}
		} else if (c < 0x80) {
			sbuf_putc(b, (char)c);
		} else {
			size_t u = ref_utf8(s + i, n - i);
			if (u) {
				sbuf_put(b, s + i, u);
				i += u;
				continue;
			}
			sbuf_puts(b, "\\ufffd");
			valid = 0;
		}
		i++;
	}
	return valid;
}

static void test_json_escape_fast(void **state)
{
	(void)state;
	static const char *const pieces[] = { "a", "plain text ", "\"", "\\", "\n", "\x01", "\x1f", "\x7f",
					      "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\x80",
					      "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "0123456789abcdef" };
	uint64_t seed = 42;
	struct sbuf in = { 0 }, got = { 0 }, want = { 0 };
	for (int round = 0; round < 20000; round++) {
		sbuf_reset(&in);
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		size_t parts = (size_t)(seed >> 59);
		for (size_t k = 0; k < parts; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			sbuf_puts(&in, pieces[(seed >> 33) % (sizeof(pieces) / sizeof(pieces[0]))]);
		}
		sbuf_reset(&got);
		sbuf_reset(&want);
		sbuf_puts(&got, "x");   /* appends after what is there */
		sbuf_puts(&want, "x");
		json_put_escaped(&got, in.p ? in.p : "", in.len);
		int valid = ref_escape((const unsigned char *)(in.p ? in.p : ""), in.len, &want);
		if (got.len != want.len || memcmp(got.p, want.p, got.len))
			fail_msg("round %d: %zu bytes in\n got  %.*s\n want %.*s", round, in.len, (int)got.len, got.p,
				 (int)want.len, want.p);
		assert_int_equal(json_utf8_check(in.p ? in.p : "", in.len, NULL), valid);
		int ctl = -1, want_ctl = 0;
		for (size_t k = 0; k < in.len; k++)
			want_ctl |= (unsigned char)in.p[k] < 0x20;
		assert_int_equal(json_utf8_check(in.p ? in.p : "", in.len, &ctl), valid);
		if (valid && ctl != want_ctl)
			fail_msg("round %d: json_utf8_check says ctl %d, want %d", round, ctl, want_ctl);
	}
	sbuf_free(&in);
	sbuf_free(&got);
	sbuf_free(&want);
}

static void test_json_time(void **state)
{
	(void)state;
	char t[32];
	assert_int_equal(json_format_time(t, 0), 24);
	assert_string_equal(t, "1970-01-01T00:00:00.000Z");
	json_format_time(t, 1795563667123LL);
	assert_string_equal(t, "2026-11-24T23:41:07.123Z");
	json_format_time(t, 1795563667999LL);  /* same second, from the cache */
	assert_string_equal(t, "2026-11-24T23:41:07.999Z");
	json_format_time(t, 1795563668005LL);
	assert_string_equal(t, "2026-11-24T23:41:08.005Z");
}

static void test_backoff(void **state)
{
	(void)state;
	struct backoff b;
	backoff_init(&b, 100, 1000);
	int64_t caps[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
	for (int round = 0; round < 50; round++) {
		backoff_reset(&b);
		for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
			int64_t d = backoff_next(&b);
			assert_true(d >= caps[i] / 2);
			assert_true(d <= caps[i]);
		}
	}
	/* jitter: not every draw is the same */
	int64_t first = -1;
	int differ = 0;
	for (int i = 0; i < 20; i++) {
		backoff_reset(&b);
		backoff_next(&b);
		backoff_next(&b);
		backoff_next(&b);
		int64_t d = backoff_next(&b);
		if (first < 0)
			first = d;
		differ |= d != first;
	}
	assert_true(differ);
	/* many failures never overflow past the cap */
	for (int i = 0; i < 200; i++)
		assert_true(backoff_next(&b) <= 1000);
}

static void test_metrics_text(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	metrics_family(&b, "x_total", "counter", "Things");
	const char *l[] = { "input", "a\"b\\c\nd", "type", "t", NULL };
	metrics_sample(&b, "x_total", l, 42);
	metrics_sample(&b, "x_total", NULL, 0.5);
	assert_string_equal(sbuf_cstr(&b), "# HELP x_total Things\n# TYPE x_total counter\n"
					   "x_total{input=\"a\\\"b\\\\c\\nd\",type=\"t\"} 42\nx_total 0.5\n");
	sbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_escape_fast),
		cmocka_unit_test(test_json_time),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_metrics_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
