/* The syslog input's ECS events: the exact JSON for RFC 5424 (with structured
 * data and escapes), RFC 3164, a message that parses in neither format
 * (kept whole, tagged, error.message), truncation, event.original and the
 * source fragment; and the fast SSE2 escaper held byte for byte to
 * common/json.c's json_put_escaped over random and awkward bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "inputs/syslog/syslog_event.h"
#include "inputs/syslog/syslog_parse.h"

#define NOW_NS (1795521600LL * 1000000000LL)  /* 2026-11-24T12:00:00Z */

static const char *build(struct sbuf *b, const char *in, enum syslog_mode mode, int trunc, int orig,
			 const char *extra)
{
	struct syslog_msg m;
	syslog_parse(in, strlen(in), mode, NOW_NS, &m);
	struct syslog_event_in e = { .m = &m, .raw = in, .raw_len = strlen(in), .truncated = trunc,
				     .recv_ms = NOW_NS / 1000000 + 5, .extra = extra,
				     .extra_len = extra ? strlen(extra) : 0, .keep_original = orig };
	syslog_event_build(b, &e);
	assert_int_equal(b->err, 0);
	return sbuf_cstr(b);
}

static void test_shapes(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	assert_string_equal(
		build(&b, "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
			  "[exampleSDID@32473 iut=\"3\" eventSource=\"Appli\\\"cation\"][ex@1 a=\"b\\\\c\\]\"] "
			  "\xEF\xBB\xBF" "An application event", SYSLOG_MODE_AUTO, 0, 0, NULL),
		"{\"@timestamp\":\"2003-10-11T22:14:15.003Z\",\"message\":\"An application event\","
		"\"log\":{\"syslog\":{\"priority\":165,\"facility\":{\"code\":20,\"name\":\"local4\"},"
		"\"severity\":{\"code\":5,\"name\":\"Notice\"},\"hostname\":\"mymachine.example.com\","
		"\"appname\":\"evntslog\",\"msgid\":\"ID47\",\"version\":\"1\",\"structured_data\":"
		"{\"exampleSDID@32473\":{\"iut\":\"3\",\"eventSource\":\"Appli\\\"cation\"},"
		"\"ex@1\":{\"a\":\"b\\\\c]\"}}}}}");
	assert_string_equal(
		build(&b, "<30>Nov 24 23:40:00 host sshd[1234]: Accepted \"key\"", SYSLOG_MODE_AUTO, 0, 0,
		      ",\"source\":{\"ip\":\"192.0.2.1\",\"port\":514}"),
		"{\"@timestamp\":\"2026-11-24T23:40:00.000Z\",\"message\":\"Accepted \\\"key\\\"\","
		"\"log\":{\"syslog\":{\"priority\":30,\"facility\":{\"code\":3,\"name\":\"daemon\"},"
		"\"severity\":{\"code\":6,\"name\":\"Informational\"},\"hostname\":\"host\",\"appname\":\"sshd\","
		"\"procid\":\"1234\"}},\"source\":{\"ip\":\"192.0.2.1\",\"port\":514}}");
	/* no PRI: kept whole, receive time, flagged */
	assert_string_equal(build(&b, "hello\tworld", SYSLOG_MODE_AUTO, 0, 0, NULL),
			    "{\"@timestamp\":\"2026-11-24T12:00:00.005Z\",\"message\":\"hello\\tworld\","
			    "\"tags\":[\"_syslog_parse_failure\"],\"error\":{\"message\":\"no valid PRI\"}}");
	/* PRI 999 is no PRI either */
	assert_string_equal(build(&b, "<999>x", SYSLOG_MODE_AUTO, 0, 0, NULL),
			    "{\"@timestamp\":\"2026-11-24T12:00:00.005Z\",\"message\":\"<999>x\","
			    "\"tags\":[\"_syslog_parse_failure\"],\"error\":{\"message\":\"no valid PRI\"}}");
	/* strict 5424 on a 3164 message: PRI kept, text whole, truncated, original */
	assert_string_equal(build(&b, "<13>Nov 24 23:40:00 h a: m", SYSLOG_MODE_RFC5424, 1, 1, NULL),
			    "{\"@timestamp\":\"2026-11-24T12:00:00.005Z\",\"message\":\"Nov 24 23:40:00 h a: m\","
			    "\"log\":{\"syslog\":{\"priority\":13,\"facility\":{\"code\":1,\"name\":\"user\"},"
			    "\"severity\":{\"code\":5,\"name\":\"Notice\"}}},"
			    "\"tags\":[\"_syslog_parse_failure\",\"_syslog_truncated\"],"
			    "\"error\":{\"message\":\"not RFC 5424\"},"
			    "\"event\":{\"original\":\"<13>Nov 24 23:40:00 h a: m\"}}");
	/* no PRI-derived fields but a tag: the leading comma goes */
	assert_string_equal(build(&b, "<13>1 - - app - - -", SYSLOG_MODE_AUTO, 0, 0, NULL),
			    "{\"@timestamp\":\"2026-11-24T12:00:00.005Z\",\"message\":\"\","
			    "\"log\":{\"syslog\":{\"priority\":13,\"facility\":{\"code\":1,\"name\":\"user\"},"
			    "\"severity\":{\"code\":5,\"name\":\"Notice\"},\"appname\":\"app\",\"version\":\"1\"}}}");
	sbuf_free(&b);
}

/* The message field must be exactly what json_put_string makes. */
static void check_escape(const char *s, size_t n)
{
	struct sbuf got = { 0 }, want = { 0 };
	struct syslog_msg m;
	memset(&m, 0, sizeof(m));
	m.pri = m.facility = m.severity = -1;
	m.format = SYSLOG_FMT_RFC3164;
	m.msg.p = s;
	m.msg.len = n;
	struct syslog_event_in e = { .m = &m, .recv_ms = 0 };
	syslog_event_build(&got, &e);
	sbuf_puts(&want, "{\"@timestamp\":\"1970-01-01T00:00:00.000Z\",\"message\":");
	json_put_string(&want, s, n);
	sbuf_putc(&want, '}');
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.p, want.p, want.len);
	sbuf_free(&got);
	sbuf_free(&want);
}

static void test_escape_matches_json_c(void **state)
{
	(void)state;
	static const char *const fixed[] = {
		"", "plain ascii that is longer than sixteen bytes for the vector path",
		"quote\" backslash\\ nl\n cr\r tab\t bs\b ff\f nul", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ok",
		"\xff\xfe bad \xc0\xaf overlong \xed\xa0\x80 surrogate \xf4\x90\x80\x80 big \xe2\x82 cut",
		"0123456789abcde\xc3", "0123456789abcdef\"", "\x7f del and \x1f unit separator",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_escape(fixed[i], strlen(fixed[i]));
	check_escape("a\0b", 3);
	srand(7);
	char buf[300];
	for (int it = 0; it < 20000; it++) {
		size_t n = (size_t)(rand() % 300);
		int mode = rand() % 3;
		for (size_t i = 0; i < n; i++) {
			int r = rand();
			buf[i] = mode == 0 ? (char)r : mode == 1 ? (char)(32 + r % 95) : (char)("a\"\\\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x80"[r % 15]);
		}
		check_escape(buf, n);
	}
}

/* A 1 MiB message of every byte value: bounded output, valid. */
static void test_big(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *p = malloc(n);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i * 7);
	check_escape(p, n);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_escape_matches_json_c),
		cmocka_unit_test(test_big),
	};
	return cmocka_run_group_tests_name("syslog_event", tests, NULL, NULL);
}
