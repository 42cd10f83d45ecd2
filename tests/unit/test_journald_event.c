/* Journal entries to ECS events: the mapped fields (MESSAGE, _HOSTNAME,
 * PRIORITY, SYSLOG_FACILITY), journald.* for the rest in name order,
 * repeated fields as arrays in entry order, binary values base64 and listed,
 * a binary MESSAGE readable in `message` and exact in journald.MESSAGE, bad
 * PRIORITY values left in journald.*, and the text/binary rule itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "inputs/journald/journald_event.h"

/* Fields from "NAME=value" strings laid out in one buffer in order (as the
 * input copies them), n given explicitly so values may hold NULs. */
struct entry { char buf[1024]; struct jd_field f[16]; size_t n, used; };

static void add(struct entry *e, const char *name, const char *value, size_t vlen)
{
	size_t nl = strlen(name);
	char *p = e->buf + e->used;
	memcpy(p, name, nl);
	p[nl] = '=';
	memcpy(p + nl + 1, value, vlen);
	e->f[e->n++] = (struct jd_field){ p, nl, p + nl + 1, vlen };
	e->used += nl + 1 + vlen;
}
#define ADD(e, n, v) add((e), (n), (v), sizeof(v) - 1)

static void test_entry(void **state)
{
	(void)state;
	struct entry e = { .n = 0 };
	ADD(&e, "_SYSTEMD_UNIT", "nginx.service");
	ADD(&e, "MESSAGE", "GET / 200");
	ADD(&e, "TAG", "one");
	ADD(&e, "PRIORITY", "6");
	ADD(&e, "_HOSTNAME", "web1");
	ADD(&e, "BLOB", "a\0b\nc");
	ADD(&e, "SYSLOG_FACILITY", "3");
	ADD(&e, "TAG", "two");
	ADD(&e, "_PID", "42");
	struct sbuf b = { 0 };
	int64_t ts = jd_event_build(&b, e.f, e.n, 1795521600123456ULL);
	assert_int_equal(ts, 1795521600123LL);
	assert_string_equal(sbuf_cstr(&b),
		"{\"@timestamp\":\"2026-11-24T12:00:00.123Z\",\"message\":\"GET / 200\",\"host\":{\"name\":\"web1\"},"
		"\"log\":{\"syslog\":{\"priority\":6,\"severity\":{\"code\":6,\"name\":\"Informational\"},"
		"\"facility\":{\"code\":3,\"name\":\"daemon\"}}},"
		"\"journald\":{\"BLOB\":\"YQBiCmM=\",\"SYSLOG_FACILITY\":\"3\",\"TAG\":[\"one\",\"two\"],"
		"\"_PID\":\"42\",\"_SYSTEMD_UNIT\":\"nginx.service\",\"binary_fields\":[\"BLOB\"]}}");
	sbuf_free(&b);
}

static void test_odd(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	/* binary MESSAGE, bad PRIORITY, no host */
	struct entry e = { .n = 0 };
	ADD(&e, "MESSAGE", "bad \xff\x1b[0m");
	ADD(&e, "PRIORITY", "9");
	jd_event_build(&b, e.f, e.n, 0);
	assert_string_equal(sbuf_cstr(&b),
		"{\"@timestamp\":\"1970-01-01T00:00:00.000Z\",\"message\":\"bad \\ufffd\\u001b[0m\","
		"\"journald\":{\"MESSAGE\":\"YmFkIP8bWzBt\",\"PRIORITY\":\"9\",\"binary_fields\":[\"MESSAGE\"]}}");
	/* nothing at all */
	jd_event_build(&b, NULL, 0, 1000);
	assert_string_equal(sbuf_cstr(&b), "{\"@timestamp\":\"1970-01-01T00:00:00.001Z\"}");
	/* base64 paddings */
	struct entry e2 = { .n = 0 };
	ADD(&e2, "A", "\x01");
	ADD(&e2, "B", "\x01\x02");
	ADD(&e2, "C", "\x01\x02\x03");
	ADD(&e2, "D", "");
	jd_event_build(&b, e2.f, e2.n, 0);
	assert_string_equal(sbuf_cstr(&b),
		"{\"@timestamp\":\"1970-01-01T00:00:00.000Z\",\"journald\":{\"A\":\"AQ==\",\"B\":\"AQI=\","
		"\"C\":\"AQID\",\"D\":\"\",\"binary_fields\":[\"A\",\"B\",\"C\"]}}");
	sbuf_free(&b);
}

static void test_is_text(void **state)
{
	(void)state;
	assert_true(jd_is_text("plain\ttab\nnl\r", 13));
	assert_true(jd_is_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
	assert_true(jd_is_text("", 0));
	assert_false(jd_is_text("nul\0", 4));
	assert_false(jd_is_text("esc\x1b", 4));
	assert_false(jd_is_text("del\x7f", 4));
	assert_false(jd_is_text("\xc0\xaf", 2));           /* overlong */
	assert_false(jd_is_text("\xed\xa0\x80", 3));       /* surrogate */
	assert_false(jd_is_text("\xf4\x90\x80\x80", 4));   /* > U+10FFFF */
	assert_false(jd_is_text("\xe2\x82", 2));           /* cut */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry),
		cmocka_unit_test(test_odd),
		cmocka_unit_test(test_is_text),
	};
	return cmocka_run_group_tests_name("journald_event", tests, NULL, NULL);
}
