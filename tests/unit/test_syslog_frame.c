/* RFC 6587 framing: LF and octet counting, fed in every chunking, mixed on one
 * connection; over-long messages, absurd and malformed octet counts, half
 * frames at EOF. The framer's memory is fixed at init whatever arrives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inputs/syslog/syslog_frame.h"

struct out { char msgs[16][256]; int trunc[16]; int n; int err; };

/* Feeds `in` in chunks of `chunk` bytes, collecting messages. */
static void feed(struct syslog_framer *f, const char *in, size_t n, size_t chunk, struct out *o)
{
	size_t off = 0;
	while (off < n && !o->err) {
		size_t room;
		char *dst = syslog_framer_space(f, &room);
		size_t k = n - off < chunk ? n - off : chunk;
		if (k > room)
			k = room;
		memcpy(dst, in + off, k);
		syslog_framer_commit(f, k);
		off += k;
		const char *m;
		size_t len;
		int t, r;
		while ((r = syslog_framer_next(f, &m, &len, &t)) == 1) {
			assert_true(o->n < 16);
			snprintf(o->msgs[o->n], sizeof(o->msgs[0]), "%.*s", (int)len, m);
			o->trunc[o->n++] = t;
		}
		if (r < 0)
			o->err = r;
	}
}

static void test_lf_and_octet_every_chunking(void **state)
{
	(void)state;
	const char in[] = "<13>one\n<13>two\r\n\n"
			  "9 <13>three"
			  "9 <13>fo\nur"        /* an LF inside an octet-counted frame is data */
			  "<13>five\n";
	for (size_t chunk = 1; chunk <= sizeof(in); chunk++) {
		struct syslog_framer f;
		struct out o = { .n = 0 };
		assert_int_equal(syslog_framer_init(&f, 64), 0);
		feed(&f, in, sizeof(in) - 1, chunk, &o);
		assert_int_equal(o.err, 0);
		assert_int_equal(o.n, 5);
		assert_string_equal(o.msgs[0], "<13>one");
		assert_string_equal(o.msgs[1], "<13>two");
		assert_string_equal(o.msgs[2], "<13>three");
		assert_string_equal(o.msgs[3], "<13>fo\nur");
		assert_string_equal(o.msgs[4], "<13>five");
		syslog_framer_free(&f);
	}
}

static void test_overlong_lf_is_cut_and_rest_skipped(void **state)
{
	(void)state;
	char in[300];
	memset(in, 'x', 200);
	memcpy(in, "<13>", 4);
	strcpy(in + 200, "\n<13>next\n");
	for (size_t chunk = 1; chunk <= 64; chunk *= 2) {
		struct syslog_framer f;
		struct out o = { .n = 0 };
		assert_int_equal(syslog_framer_init(&f, 50), 0);
		size_t cap = f.cap;
		feed(&f, in, strlen(in), chunk, &o);
		assert_int_equal(o.err, 0);
		assert_int_equal(o.n, 2);
		assert_int_equal(strlen(o.msgs[0]), 50);
		assert_int_equal(o.trunc[0], 1);
		assert_string_equal(o.msgs[1], "<13>next");
		assert_int_equal(o.trunc[1], 0);
		assert_int_equal(f.truncated, 1);
		assert_int_equal(f.cap, cap);  /* memory did not grow */
		syslog_framer_free(&f);
	}
}

static void test_bad_octet_counts(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"1099511627776 <13>x",   /* 2^40 */
		"99999999999999999999999 x",
		"65 <13>more than max",   /* > max_msg 64 */
		"12x<13>x",
		"12\n<13>x\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct syslog_framer f;
		struct out o = { .n = 0 };
		assert_int_equal(syslog_framer_init(&f, 64), 0);
		feed(&f, bad[i], strlen(bad[i]), 3, &o);
		assert_int_equal(o.err, -EPROTO);
		assert_non_null(f.error);
		assert_int_equal(o.n, 0);
		syslog_framer_free(&f);
	}
}

static void test_flush_at_eof(void **state)
{
	(void)state;
	struct syslog_framer f;
	struct out o = { .n = 0 };
	const char *m;
	size_t len;
	assert_int_equal(syslog_framer_init(&f, 64), 0);
	feed(&f, "<13>a\n<13>no newline", 20, 5, &o);
	assert_int_equal(o.n, 1);
	assert_int_equal(syslog_framer_flush(&f, &m, &len), 1);
	assert_int_equal(len, strlen("<13>no newline"));
	assert_memory_equal(m, "<13>no newline", len);
	assert_int_equal(syslog_framer_flush(&f, &m, &len), 0);  /* never twice */
	syslog_framer_free(&f);

	/* A torn octet-counted frame is not a message. */
	struct out o2 = { .n = 0 };
	assert_int_equal(syslog_framer_init(&f, 64), 0);
	feed(&f, "20 <13>half", 11, 4, &o2);
	assert_int_equal(o2.n, 0);
	assert_int_equal(syslog_framer_flush(&f, &m, &len), 0);
	syslog_framer_free(&f);
}

static void test_random_streams(void **state)
{
	(void)state;
	/* Random messages, random framing per message, random chunking: every
	 * message comes out, byte for byte, in order. */
	srand(42);
	for (int round = 0; round < 200; round++) {
		char in[8192], want[16][64];
		size_t n = 0;
		int count = 1 + rand() % 15;
		for (int i = 0; i < count; i++) {
			int len = 1 + rand() % 40;
			snprintf(want[i], sizeof(want[i]), "<%d>", rand() % 191);
			size_t l = strlen(want[i]);
			for (; l < (size_t)len + 4; l++)
				want[i][l] = (char)('a' + rand() % 26);
			want[i][l] = 0;
			if (rand() % 2)
				n += (size_t)sprintf(in + n, "%zu %s", l, want[i]);
			else
				n += (size_t)sprintf(in + n, "%s\n", want[i]);
		}
		struct syslog_framer f;
		struct out o = { .n = 0 };
		assert_int_equal(syslog_framer_init(&f, 60), 0);
		feed(&f, in, n, 1 + (size_t)(rand() % 50), &o);
		assert_int_equal(o.err, 0);
		assert_int_equal(o.n, count);
		for (int i = 0; i < count; i++)
			assert_string_equal(o.msgs[i], want[i]);
		syslog_framer_free(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lf_and_octet_every_chunking),
		cmocka_unit_test(test_overlong_lf_is_cut_and_rest_skipped),
		cmocka_unit_test(test_bad_octet_counts),
		cmocka_unit_test(test_flush_at_eof),
		cmocka_unit_test(test_random_streams),
	};
	return cmocka_run_group_tests_name("syslog_frame", tests, NULL, NULL);
}
