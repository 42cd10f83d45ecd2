/* agent/event.c: reading and changing an event's JSON text in place (get,
 * set, remove, merge, validate), as tables of input event + operation ->
 * expected text; plus malformed text, deep nesting, huge values, escapes
 * in keys, and that the borrowed input text is never written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/event.h"

enum op { SET, SETSTR, REMOVE, MERGE };

struct change_case {
	const char *in;
	enum op op;
	const char *path, *arg;
	int rc;
	const char *out;   /* NULL: unchanged */
};

static const struct change_case changes[] = {
	/* set: replace in place, nested, flat ECS keys, mixed */
	{ "{\"a\":1,\"b\":2}", SET, "a", "\"x\"", 0, "{\"a\":\"x\",\"b\":2}" },
	{ "{\"a\":{\"b\":1}}", SET, "a.b", "[1,2]", 0, "{\"a\":{\"b\":[1,2]}}" },
	{ "{\"log.level\":\"info\"}", SET, "log.level", "\"warn\"", 0, "{\"log.level\":\"warn\"}" },
	{ "{\"k8s\":{\"pod.name\":\"a\"}}", SET, "k8s.pod.name", "\"b\"", 0, "{\"k8s\":{\"pod.name\":\"b\"}}" },
	/* set: absent -> added to the deepest existing object, nested */
	{ "{\"a\":1}", SET, "b", "true", 0, "{\"a\":1,\"b\":true}" },
	{ "{}", SET, "b", "null", 0, "{\"b\":null}" },
	{ "{ }", SET, "x.y.z", "1", 0, "{ \"x\":{\"y\":{\"z\":1}}}" },
	{ "{\"a\":{\"b\":{}}}", SET, "a.b.c.d", "1", 0, "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}" },
	{ "{\"a\":{\"q\":0}}", SET, "a.b", "2", 0, "{\"a\":{\"q\":0,\"b\":2}}" },
	/* set: a scalar in the way, bad paths, bad text */
	{ "{\"a\":\"s\"}", SET, "a.b", "1", -EEXIST, NULL },
	{ "{\"a\":1}", SET, "a..b", "1", -EINVAL, NULL },
	{ "{\"a\":1}", SET, ".a", "1", -EINVAL, NULL },
	{ "[1,2]", SET, "a", "1", -EINVAL, NULL },
	{ "{\"a\":", SET, "b", "1", -EINVAL, NULL },
	{ "not json", SET, "b", "1", -EINVAL, NULL },
	/* set_str escapes */
	{ "{}", SETSTR, "m", "say \"hi\"\n", 0, "{\"m\":\"say \\\"hi\\\"\\n\"}" },
	/* remove: first, middle, last, only, nested, whitespace */
	{ "{\"a\":1,\"b\":2,\"c\":3}", REMOVE, "a", NULL, 0, "{\"b\":2,\"c\":3}" },
	{ "{\"a\":1,\"b\":2,\"c\":3}", REMOVE, "b", NULL, 0, "{\"a\":1,\"c\":3}" },
	{ "{\"a\":1,\"b\":2,\"c\":3}", REMOVE, "c", NULL, 0, "{\"a\":1,\"b\":2}" },
	{ "{\"a\":1}", REMOVE, "a", NULL, 0, "{}" },
	{ "{\"a\":{\"b\":1,\"c\":2}}", REMOVE, "a.c", NULL, 0, "{\"a\":{\"b\":1}}" },
	{ "{ \"a\" : 1 , \"b\" : 2 }", REMOVE, "b", NULL, 0, "{ \"a\" : 1 }" },
	{ "{\"a\":1}", REMOVE, "z", NULL, -ENOENT, NULL },
	/* merge into the root and under a key */
	{ "{\"a\":1,\"b\":2}", MERGE, "", "{\"b\":\"B\",\"c\":{\"d\":1}}", 0, "{\"a\":1,\"b\":\"B\",\"c\":{\"d\":1}}" },
	{ "{}", MERGE, "", "{\"x\":1}", 0, "{\"x\":1}" },
	{ "{\"a\":1}", MERGE, "", "{}", 0, "{\"a\":1}" },
	{ "{\"a\":1}", MERGE, "", "{\"k\":1,\"k\":2}", 0, "{\"a\":1,\"k\":2}" },
	{ "{\"a\":1}", MERGE, "p", "{\"x\":1}", 0, "{\"a\":1,\"p\":{\"x\":1}}" },
	{ "{\"p\":{\"x\":0,\"y\":0}}", MERGE, "p", "{\"x\":1}", 0, "{\"p\":{\"x\":1,\"y\":0}}" },
	{ "{\"a\":1}", MERGE, "", "{\"log.level\":\"e\"}", 0, "{\"a\":1,\"log.level\":\"e\"}" },
	{ "{\"a\":1}", MERGE, "", "[1]", -EINVAL, NULL },
	{ "{\"a\":1}", MERGE, "", "{\"x\":", -EINVAL, NULL },
	{ "{\"a\\u0062\":1}", MERGE, "", "{\"ab\":2}", 0, "{\"a\\u0062\":2}" },
};

static void test_changes(void **state)
{
	(void)state;
	struct event ev = { 0 };
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		const struct change_case *c = &changes[i];
		char *copy = strdup(c->in);
		event_begin(&ev, "in", NULL, 1, copy, strlen(copy));
		int rc = -1;
		switch (c->op) {
		case SET: rc = event_set_json(&ev, c->path, c->arg, strlen(c->arg)); break;
		case SETSTR: rc = event_set_str(&ev, c->path, c->arg, strlen(c->arg)); break;
		case REMOVE: rc = event_remove(&ev, c->path); break;
		case MERGE: rc = event_merge(&ev, c->path, c->arg, strlen(c->arg)); break;
		}
		size_t len;
		const char *j = event_json(&ev, &len);
		char *got = strndup(j, len);
		if (rc != c->rc || strcmp(got, c->out ? c->out : c->in) != 0)
			fail_msg("case %zu (%s on %s): rc %d (want %d), got %s want %s", i, c->path, c->in, rc,
				 c->rc, got, c->out ? c->out : c->in);
		/* the borrowed text is never written */
		assert_string_equal(copy, c->in);
		if (c->out)
			assert_true(event_json_valid(j, len));
		free(got);
		free(copy);
	}
	event_free(&ev);
}

struct get_case {
	const char *in, *path;
	ssize_t rc;
	const char *val;
};

static const struct get_case gets[] = {
	{ "{\"a\":\"x\"}", "a", 1, "x" },
	{ "{\"a\":{\"b\":{\"c\":\"deep\"}}}", "a.b.c", 4, "deep" },
	{ "{\"a.b\":{\"c\":\"mixed\"}}", "a.b.c", 5, "mixed" },
	{ "{\"n\":-1.5e3}", "n", 6, "-1.5e3" },
	{ "{\"t\":true}", "t", 4, "true" },
	{ "{\"z\":null}", "z", -ENOENT, NULL },
	{ "{\"o\":{}}", "o", -ENOENT, NULL },
	{ "{\"l\":[1]}", "l", -ENOENT, NULL },
	{ "{\"e\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\"}", "e", 11, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80" },
	{ "{\"e\":\"\\uZZZZ\"}", "e", -ENOENT, NULL },
	{ "{\"a\":\"x\"", "b", -ENOENT, NULL },
	{ "{\"a\":", "a", -ENOENT, NULL },
	{ "", "a", -ENOENT, NULL },
	{ "{\"x\":\"0123456789abcdef\"}", "x", -ENOSPC, NULL },
};

static void test_gets(void **state)
{
	(void)state;
	struct event ev = { 0 };
	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		const struct get_case *c = &gets[i];
		char buf[16];
		event_begin(&ev, "in", "tag", 7, c->in, strlen(c->in));
		ssize_t n = event_get_str(&ev, c->path, buf, sizeof(buf));
		if (n != c->rc)
			fail_msg("case %zu: %s in %s: %zd, want %zd", i, c->path, c->in, n, c->rc);
		if (c->val)
			assert_string_equal(buf, c->val);
	}
	assert_string_equal(event_input(&ev), "in");
	assert_string_equal(event_tag(&ev), "tag");
	assert_int_equal(event_time(&ev), 7);
	event_set_time(&ev, 9);
	assert_int_equal(event_time(&ev), 9);
	event_free(&ev);
}

static void test_valid_and_compact(void **state)
{
	(void)state;
	static const char *const good[] = { "{}", "[]", "1", "-0.5e+3", "\"\\u00e9\"", "{\"a\":[true,false,null]}",
					    " { \"a\" : 1 } " };
	static const char *const bad[] = { "", "{", "{\"a\"}", "{\"a\":}", "[1,]", "01", "1.", "tru", "\"a\nb\"",
					   "\"\\x\"", "{\"a\":1}}", "nul", "{'a':1}" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(event_json_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (event_json_valid(bad[i], strlen(bad[i])))
			fail_msg("valid: %s", bad[i]);
	struct sbuf b = { 0 };
	const char *pretty = "{\n  \"a\": \"x y\\n\",\n\t\"b\": [1, 2]\n}\n";
	assert_true(event_json_compact(pretty, strlen(pretty), &b));
	assert_string_equal(sbuf_cstr(&b), "{\"a\":\"x y\\n\",\"b\":[1,2]}");
	sbuf_reset(&b);
	assert_false(event_json_compact("{\"a\":1", 6, &b));
	sbuf_free(&b);
}

/* Nesting beyond 64 levels: a field behind it is absent, the text is not
 * valid for event_json_valid, and nothing crashes or recurses deeper. */
static void test_deep_nesting(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	sbuf_puts(&b, "{\"x\":1,\"d\":");
	for (int i = 0; i < 10000; i++)
		sbuf_puts(&b, "{\"d\":");
	sbuf_puts(&b, "1");
	for (int i = 0; i < 10000; i++)
		sbuf_putc(&b, '}');
	sbuf_putc(&b, '}');
	struct event ev = { 0 };
	event_begin(&ev, "in", NULL, 0, b.p, b.len);
	char buf[8];
	assert_int_equal(event_get_str(&ev, "d.d.d", buf, sizeof(buf)), -ENOENT);
	assert_false(event_json_valid(b.p, b.len));
	/* the root's bounds are its first and last bytes: a write still goes in */
	assert_int_equal(event_set_json(&ev, "y", "1", 1), 0);
	size_t len;
	const char *j = event_json(&ev, &len);
	assert_memory_equal(j + len - 9, "}},\"y\":1}", 9);
	event_free(&ev);
	sbuf_free(&b);
}

/* A 4 MiB field: read, copied, removed without a limit but the caller's. */
static void test_huge_field(void **state)
{
	(void)state;
	size_t n = 4u << 20;
	struct sbuf b = { 0 };
	sbuf_puts(&b, "{\"message\":\"");
	for (size_t i = 0; i < n; i++)
		sbuf_putc(&b, (char)('a' + i % 26));
	sbuf_puts(&b, "\",\"k\":1}");
	struct event ev = { 0 };
	event_begin(&ev, "in", NULL, 0, b.p, b.len);
	char small[64];
	assert_int_equal(event_get_str(&ev, "message", small, sizeof(small)), -ENOSPC);
	struct sbuf v = { 0 };
	assert_true(event_get_sbuf(&ev, "message", &v));
	assert_int_equal(v.len, n);
	assert_int_equal(event_set_json(&ev, "copy", b.p + 11, n + 2), 0);
	assert_int_equal(event_remove(&ev, "message"), 0);
	size_t len;
	const char *j = event_json(&ev, &len);
	assert_int_equal(len, strlen("{\"k\":1,\"copy\":\"\"}") + n);
	assert_true(event_json_valid(j, len));
	sbuf_free(&v);
	event_free(&ev);
	sbuf_free(&b);
}

/* Changes chain: each sees the previous, buffers are reused. */
static void test_sequence(void **state)
{
	(void)state;
	struct event ev = { 0 };
	const char *in = "{\"@timestamp\":\"t\",\"message\":\"m\"}";
	for (int round = 0; round < 3; round++) {
		event_begin(&ev, "in", NULL, 0, in, strlen(in));
		assert_int_equal(event_set_json(&ev, "kubernetes.pod.name", "\"p\"", 3), 0);
		assert_int_equal(event_set_json(&ev, "kubernetes.namespace", "\"ns\"", 4), 0);
		assert_int_equal(event_remove(&ev, "message"), 0);
		assert_int_equal(event_merge(&ev, "kubernetes", "{\"labels\":{\"app\":\"a\"}}", 22), 0);
		assert_true(event_has(&ev, "kubernetes.labels.app"));
		const char *v;
		size_t vn;
		assert_int_equal(event_get_raw(&ev, "kubernetes.labels", &v, &vn), 0);
		assert_int_equal(vn, strlen("{\"app\":\"a\"}"));
		size_t len;
		const char *j = event_json(&ev, &len);
		char *s = strndup(j, len);
		assert_string_equal(s, "{\"@timestamp\":\"t\",\"kubernetes\":{\"pod\":{\"name\":\"p\"},\"namespace\":\"ns\","
				       "\"labels\":{\"app\":\"a\"}}}");
		free(s);
	}
	event_free(&ev);
}

/* The root index (kept across changes) against a fresh scan for every
 * operation: a long random run of sets, removes and merges on nested and
 * flat paths must give the same text both ways. */
static void test_index_consistency(void **state)
{
	(void)state;
	static const char *const paths[] = { "a", "b", "a.x", "a.y.z", "c.d", "log.level", "m", "b.q", "e", "a.x.w" };
	static const char *const vals[] = { "1", "\"s\\\"q\"", "{}", "{\"k\":[1,{\"j\":2}]}", "null", "\"\"" };
	struct event a = { 0 }, b = { 0 };
	const char *in = "{\"@timestamp\":\"t\",\"message\":\"x \\\" y\",\"log.level\":\"i\"}";
	uint32_t r = 12345;
	for (int round = 0; round < 50; round++) {
		event_begin(&a, "in", NULL, 0, in, strlen(in));
		event_begin(&b, "in", NULL, 0, in, strlen(in));
		for (int step = 0; step < 40; step++) {
			r = r * 1103515245u + 12345u;
			const char *path = paths[(r >> 8) % 10], *val = vals[(r >> 16) % 6];
			int op = (int)((r >> 24) % 4);
			b.ridx_state = 0;   /* b always rescans */
			int ra, rb;
			if (op == 0 || op == 1) {
				ra = event_set_json(&a, path, val, strlen(val));
				rb = event_set_json(&b, path, val, strlen(val));
			} else if (op == 2) {
				ra = event_remove(&a, path);
				rb = event_remove(&b, path);
			} else {
				const char *obj = "{\"m\":2,\"n\":{\"o\":3}}";
				ra = event_merge(&a, (r & 1) ? "" : path, obj, strlen(obj));
				rb = event_merge(&b, (r & 1) ? "" : path, obj, strlen(obj));
			}
			if (ra != rb || a.len != b.len || memcmp(a.json, b.json, a.len) != 0)
				fail_msg("round %d step %d op %d %s: %d/%d\n %.*s\n %.*s", round, step, op, path, ra, rb,
					 (int)a.len, a.json, (int)b.len, b.json);
			char x[64], y[64];
			for (int k = 0; k < 10; k++) {
				b.ridx_state = 0;
				ssize_t na = event_get_str(&a, paths[k], x, sizeof(x));
				ssize_t nb = event_get_str(&b, paths[k], y, sizeof(y));
				assert_int_equal(na, nb);
				if (na >= 0)
					assert_string_equal(x, y);
			}
		}
		assert_true(event_json_valid(a.json, a.len));
	}
	event_free(&a);
	event_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_gets),
		cmocka_unit_test(test_valid_and_compact),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_huge_field),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_index_consistency),
	};
	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
