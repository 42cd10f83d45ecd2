/* The tail input's pure pieces: the position encoding (round trips, size,
 * hostile blobs), CRI and docker json-file lines, RFC 3339 times, Kubernetes
 * metadata from /var/log/containers names, and the multiline rules (pattern,
 * java, python, go) on real traces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/module.h"
#include "inputs/tail/tail_parse.h"

/* --- position ---------------------------------------------------------------- */

static void test_pos_roundtrip(void **st)
{
	(void)st;
	struct tail_pos_entry e[3] = {
		{ { 2049, 500, 1024, 0xdeadbeef }, 123456789, 0 },
		{ { 2049, 17, 12, 0x01020304 }, 0, TAIL_POS_SKIPPING },
		{ { 64768, 1ull << 40, 0, 0 }, (uint64_t)INT64_MAX, 0 },
	};
	uint8_t buf[256];
	int n = tail_pos_encode(e, 3, buf, sizeof(buf));
	assert_true(n > 0 && n < 64);
	struct tail_pos_entry d[8];
	assert_int_equal(tail_pos_decode(buf, (size_t)n, d, 8), 3);
	/* sorted by (dev, ino) */
	assert_int_equal(d[0].id.ino, 17);
	assert_int_equal(d[0].flags, TAIL_POS_SKIPPING);
	assert_int_equal(d[0].id.fp_len, 12);
	assert_int_equal(d[0].id.fp_hash, 0x01020304);
	assert_int_equal(d[1].id.ino, 500);
	assert_int_equal(d[1].off, 123456789);
	assert_int_equal(d[1].id.fp_hash, 0xdeadbeef);
	assert_int_equal(d[2].id.dev, 64768);
	assert_int_equal(d[2].id.ino, 1ull << 40);
	assert_true(d[2].off == (uint64_t)INT64_MAX);
}

static void test_pos_compact(void **st)
{
	(void)st;
	/* 4000 files on one device with plausible inodes and offsets fit in
	 * one position (INPUT_POSITION_MAX, 64 KiB). */
	enum { N = 4000 };
	struct tail_pos_entry *e = malloc(N * sizeof(*e)), *d = malloc(N * sizeof(*d));
	uint8_t *buf = malloc(INPUT_POSITION_MAX);
	assert_non_null(e);
	assert_non_null(d);
	assert_non_null(buf);
	for (int i = 0; i < N; i++)
		e[i] = (struct tail_pos_entry){ { 2049, 1000000 + (uint64_t)i * 37, 1024, 0x9e3779b9u * (uint32_t)i },
						(uint64_t)i * 1000003, 0 };
	int n = tail_pos_encode(e, N, buf, INPUT_POSITION_MAX);
	assert_true(n > 0);
	assert_true(n <= 16 * N);
	assert_int_equal(tail_pos_decode(buf, (size_t)n, d, INPUT_POSITION_MAX / 8), N);
	for (int i = 0; i < N; i++)
		assert_true(d[i].off == (uint64_t)i * 1000003);
	/* Too small a buffer is an error, not a truncated blob. */
	assert_int_equal(tail_pos_encode(e, N, buf, 100), -ENOBUFS);
	free(e);
	free(d);
	free(buf);
}

static void test_pos_hostile(void **st)
{
	(void)st;
	struct tail_pos_entry d[4];
	struct tail_pos_entry e[1] = { { { 1, 2, 3, 4 }, 5, 0 } };
	uint8_t buf[64];
	int n = tail_pos_encode(e, 1, buf, sizeof(buf));
	assert_true(n > 0);
	/* every truncation fails */
	for (int k = 0; k < n; k++)
		assert_int_equal(tail_pos_decode(buf, (size_t)k, d, 4), -EINVAL);
	/* trailing garbage fails */
	buf[n] = 0;
	assert_int_equal(tail_pos_decode(buf, (size_t)n + 1, d, 4), -EINVAL);
	/* a count above max fails before anything is written */
	assert_int_equal(tail_pos_decode((const uint8_t *)"T1\x05", 3, d, 4), -EINVAL);
	/* another input's position (generate's "123") */
	assert_int_equal(tail_pos_decode((const uint8_t *)"123", 3, d, 4), -EINVAL);
	/* fp_len beyond TAIL_FP_MAX */
	uint8_t bad[] = { 'T', '1', 1, 1, 1, 0xff, 0x7f, 0, 0, 0, 0, 0, 0 };
	assert_int_equal(tail_pos_decode(bad, sizeof(bad), d, 4), -EINVAL);
	/* an over-long varint */
	uint8_t ov[] = { 'T', '1', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	assert_int_equal(tail_pos_decode(ov, sizeof(ov), d, 4), -EINVAL);
}

/* --- runtime lines ---------------------------------------------------------------- */

static void test_rfc3339(void **st)
{
	(void)st;
	int64_t ms;
	assert_int_equal(tail_parse_rfc3339("1970-01-01T00:00:00Z", 20, &ms), 0);
	assert_int_equal(ms, 0);
	const char *s = "2024-05-06T07:08:09.123456789Z";
	assert_int_equal(tail_parse_rfc3339(s, strlen(s), &ms), 0);
	assert_int_equal(ms, 1714979289123LL);
	s = "2024-05-06T09:08:09.5+02:00";
	assert_int_equal(tail_parse_rfc3339(s, strlen(s), &ms), 0);
	assert_int_equal(ms, 1714979289500LL);
	s = "2000-02-29T23:59:59-00:30";
	assert_int_equal(tail_parse_rfc3339(s, strlen(s), &ms), 0);
	assert_int_equal(ms, 951870599000LL);
	const char *bad[] = { "2024-05-06", "2024-13-06T07:08:09Z", "2024-05-06T07:08:09", "2024-05-06T07:08:09.Z",
			      "2024-05-06T07:08:09Zjunk", "x024-05-06T07:08:09Z" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(tail_parse_rfc3339(bad[i], strlen(bad[i]), &ms), -EINVAL);
}

static void test_cri(void **st)
{
	(void)st;
	struct tail_rt_line r;
	const char *l = "2024-05-06T07:08:09.123456789Z stdout F hello world";
	assert_int_equal(tail_cri_parse(l, strlen(l), &r), 0);
	assert_int_equal(r.stream, TAIL_STREAM_STDOUT);
	assert_int_equal(r.partial, 0);
	assert_int_equal(r.ts_ms, 1714979289123LL);
	assert_int_equal(r.len, 11);
	assert_memory_equal(r.msg, "hello world", 11);
	l = "2024-05-06T07:08:09Z stderr P  two spaces kept ";
	assert_int_equal(tail_cri_parse(l, strlen(l), &r), 0);
	assert_int_equal(r.stream, TAIL_STREAM_STDERR);
	assert_int_equal(r.partial, 1);
	assert_int_equal(r.len, strlen(" two spaces kept "));
	l = "2024-05-06T07:08:09Z stdout F";  /* empty message */
	assert_int_equal(tail_cri_parse(l, strlen(l), &r), 0);
	assert_int_equal(r.len, 0);
	const char *bad[] = { "hello", "2024-05-06T07:08:09Z stdin F x", "2024-05-06T07:08:09Z stdout X x",
			      "notatime stdout F x", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(tail_cri_parse(bad[i], strlen(bad[i]), &r), -EINVAL);
}

static void test_docker(void **st)
{
	(void)st;
	struct sbuf sc = { 0 };
	struct tail_rt_line r;
	const char *l = "{\"log\":\"hello \\\"q\\\" \\u00e9 \\ud83d\\ude00\\n\",\"stream\":\"stderr\","
			"\"time\":\"2024-05-06T07:08:09.5Z\"}";
	assert_int_equal(tail_docker_parse(l, strlen(l), &sc, &r), 0);
	const char *want = "hello \"q\" \xc3\xa9 \xf0\x9f\x98\x80";
	assert_int_equal(r.len, strlen(want));
	assert_memory_equal(r.msg, want, r.len);
	assert_int_equal(r.partial, 0);
	assert_int_equal(r.stream, TAIL_STREAM_STDERR);
	assert_int_equal(r.ts_ms, 1714979289500LL);
	/* no final newline: partial; keys in another order; attrs skipped */
	l = "{\"time\":\"2024-05-06T07:08:09Z\",\"attrs\":{\"a\":[1,{\"b\":null}]},\"stream\":\"stdout\",\"log\":\"part\"}";
	assert_int_equal(tail_docker_parse(l, strlen(l), &sc, &r), 0);
	assert_int_equal(r.partial, 1);
	assert_int_equal(r.len, 4);
	assert_int_equal(r.stream, TAIL_STREAM_STDOUT);
	/* a lone surrogate becomes U+FFFD */
	l = "{\"log\":\"\\ud800x\\n\"}";
	assert_int_equal(tail_docker_parse(l, strlen(l), &sc, &r), 0);
	assert_int_equal(r.len, 4);
	assert_memory_equal(r.msg, "\xef\xbf\xbdx", 4);
	const char *bad[] = { "{}", "{\"stream\":\"stdout\"}", "{\"log\":\"x\"", "{\"log\":\"x\"} junk",
			      "{\"log\":\"\\q\"}", "{\"log\":\"\\u12\"}", "not json", "{\"log\":1}",
			      "{\"log\":\"a\",\"log\":\"b\"}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(tail_docker_parse(bad[i], strlen(bad[i]), &sc, &r), -EINVAL);
	/* deep nesting is refused, not recursed into without bound */
	char deep[200];
	int k = snprintf(deep, sizeof(deep), "{\"log\":\"x\",\"a\":");
	for (int i = 0; i < 40; i++)
		deep[k++] = '[';
	deep[k] = 0;
	assert_int_equal(tail_docker_parse(deep, strlen(deep), &sc, &r), -EINVAL);
	sbuf_free(&sc);
}

/* --- Kubernetes path ----------------------------------------------------------------- */

static void test_k8s(void **st)
{
	(void)st;
	const char *id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char p[512];
	snprintf(p, sizeof(p), "/var/log/containers/web-7d4b9-xk2p_kube-system_my-app-sidecar-%s.log", id);
	struct tail_k8s k;
	assert_int_equal(tail_k8s_parse(p, &k), 0);
	assert_int_equal(k.pod_len, strlen("web-7d4b9-xk2p"));
	assert_memory_equal(k.pod, "web-7d4b9-xk2p", k.pod_len);
	assert_memory_equal(k.ns, "kube-system", k.ns_len);
	assert_int_equal(k.ns_len, 11);
	assert_int_equal(k.container_len, strlen("my-app-sidecar"));
	assert_memory_equal(k.container, "my-app-sidecar", k.container_len);
	assert_memory_equal(k.id, id, 64);
	const char *bad[] = { "/var/log/syslog", "/var/log/containers/a_b_c-0123.log",
			      "/var/log/containers/nounderscore-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log",
			      "/var/log/containers/a_b_c-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX.log",
			      "/var/log/containers/_b_c-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log",
			      "/var/log/containers/a_b_-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(tail_k8s_parse(bad[i], &k), -EINVAL);
}

/* --- multiline ------------------------------------------------------------------------ */

/* Groups lines by the rules: returns the number of events and writes each
 * line's event index into idx. */
static int group(const struct tail_ml_rules *r, const char *const *lines, int n, int *idx)
{
	struct tail_ml_state s = { 0 }, next;
	int ev = -1;
	for (int i = 0; i < n; i++) {
		int cont = tail_ml_continues(r, &s, ev >= 0, lines[i], strlen(lines[i]), &next);
		s = next;
		if (!cont)
			ev++;
		idx[i] = ev;
	}
	return ev + 1;
}

static void check_groups(enum tail_ml_mode mode, const char *pattern, const char *const *lines, int n,
			 const int *want)
{
	struct tail_ml_rules r;
	char err[128];
	assert_int_equal(tail_ml_rules_init(&r, mode, pattern, err, sizeof(err)), 0);
	int idx[64];
	group(&r, lines, n, idx);
	for (int i = 0; i < n; i++) {
		if (idx[i] != want[i])
			fail_msg("line %d \"%s\": event %d, want %d", i, lines[i], idx[i], want[i]);
	}
	tail_ml_rules_free(&r);
}

static void test_ml_java(void **st)
{
	(void)st;
	const char *l[] = {
		"2024-01-01 12:00:00 INFO starting",
		"2024-01-01 12:00:01 ERROR request failed",
		"java.lang.IllegalStateException: boom",
		"\tat com.example.Foo.bar(Foo.java:10)",
		"\tat com.example.Main.main(Main.java:5)",
		"Caused by: java.io.IOException: disk full",
		"\tat com.example.Disk.write(Disk.java:3)",
		"\t... 2 more",
		"2024-01-01 12:00:02 INFO next",
		"Exception in thread \"main\" java.lang.NullPointerException",
		"\tat Main.main(Main.java:1)",
	};
	const int want[] = { 0, 1, 1, 1, 1, 1, 1, 1, 2, 3, 3 };
	check_groups(TAIL_ML_JAVA, NULL, l, 11, want);
}

static void test_ml_python(void **st)
{
	(void)st;
	const char *l[] = {
		"ERROR:root:failed",
		"Traceback (most recent call last):",
		"  File \"x.py\", line 3, in <module>",
		"    f()",
		"ValueError: bad value",
		"",
		"During handling of the above exception, another exception occurred:",
		"",
		"Traceback (most recent call last):",
		"  File \"x.py\", line 5, in <module>",
		"KeyError: 'k'",
		"ERROR:root:again",              /* logging.exception: the traceback joins it */
		"Traceback (most recent call last):",
		"  File \"y.py\", line 1, in <module>",
		"SystemExit",
		"INFO:root:after",
	};
	const int want[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2 };
	check_groups(TAIL_ML_PYTHON, NULL, l, 16, want);
}

static void test_ml_go(void **st)
{
	(void)st;
	const char *l[] = {
		"2024/01/01 12:00:00 serving",
		"panic: runtime error: index out of range [5] with length 3",
		"",
		"goroutine 1 [running]:",
		"main.handler(0xc000010000, 0x3)",
		"\t/app/main.go:12 +0x1d",
		"main.main()",
		"\t/app/main.go:20 +0x25",
		"exit status 2",
		"2024/01/01 12:00:01 restarted",
		"panic: second",
	};
	const int want[] = { 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3 };
	check_groups(TAIL_ML_GO, NULL, l, 11, want);
}

static void test_ml_pattern(void **st)
{
	(void)st;
	const char *l[] = {
		"continuation before any start",
		"[2024-01-01] one",
		"  more",
		"more, not indented",
		"[2024-01-02] two",
		"[2024-01-03] three",
	};
	const int want[] = { 0, 1, 1, 1, 2, 3 };
	check_groups(TAIL_ML_PATTERN, "^\\[[0-9]{4}-", l, 6, want);
	struct tail_ml_rules r;
	char err[128];
	assert_int_equal(tail_ml_rules_init(&r, TAIL_ML_PATTERN, "([unclosed", err, sizeof(err)), -EINVAL);
	assert_true(err[0] != 0);
	/* A line is matched as bytes, not up to a NUL: REG_STARTEND. */
	assert_int_equal(tail_ml_rules_init(&r, TAIL_ML_PATTERN, "^start", err, sizeof(err)), 0);
	struct tail_ml_state s = { 0 }, next;
	assert_int_equal(tail_ml_continues(&r, &s, 1, "start\0x", 7, &next), 0);
	assert_int_equal(tail_ml_continues(&r, &s, 1, "sta", 3, &next), 1);
	tail_ml_rules_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pos_roundtrip),
		cmocka_unit_test(test_pos_compact),
		cmocka_unit_test(test_pos_hostile),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_cri),
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_k8s),
		cmocka_unit_test(test_ml_java),
		cmocka_unit_test(test_ml_python),
		cmocka_unit_test(test_ml_go),
		cmocka_unit_test(test_ml_pattern),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
