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
#include "common/json.h"

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
	/* set "a.b" absent: the first root "a" (however written) takes it */
	{ "{\"a\":{\"q\":0},\"a\":{\"r\":1}}", SET, "a.b", "2", 0, "{\"a\":{\"q\":0,\"b\":2},\"a\":{\"r\":1}}" },
	{ "{\"x\":1,\"\\u0061\":{\"q\":0}}", SET, "a.b", "2", 0, "{\"x\":1,\"\\u0061\":{\"q\":0,\"b\":2}}" },
	{ "{\"ab\":{},\"a\":{}}", SET, "a.b", "2", 0, "{\"ab\":{},\"a\":{\"b\":2}}" },
	{ "{\"a\":1,\"a\":{}}", SET, "a.b", "2", -EEXIST, NULL },
	{ "{\"a.c\":1,\"a\":[]}", SET, "a.b", "2", -EEXIST, NULL },
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

/* event_merge_checked (validate + collect + remove + merge in one pass)
 * gives what the steps it fuses give one by one: event_json_compact, the
 * object check, event_remove, event_merge; and leaves the event as it was
 * when the text is not a valid object. */
static void test_merge_checked(void **state)
{
	(void)state;
	static const char *const texts[] = {
		"{\"a\":1,\"b\":{\"c\":[1,2]}}", " {\"message\":\"new\", \"x\" : \"y z\"} ", "{}",
		"{\n  \"a\": \"x y\\n\",\n\t\"b\": [1, 2]\n}\n", "{\"a\\\"q\":1,\"a\":2,\"a\":3}", "{\"k\\u00e9\":\"\\u00e9\"}",
		"{\"a\":1,\"b\":2,\"a\":3,\"message\":4,\"b\":5}", "[1,2]", "\"str\"", "42", "{\"a\":1", "{\"a\":01}", "{\"a\":\"b\nc\"}", "", "{\"a\":1}}", "{\"a\":1} x",
	};
	static const char *const events[] = { "{\"message\":\"m\",\"a\":0,\"z\":true}", "{\"b\":{\"c\":0},\"message\":1}",
					      "{}", "{\"x\":\"\\\"q\\\"\"}",
					      "{ \"a\" : 0 , \"message\" : \"m\" ,\n \"z\" : 1 }", "{\"message\":\"only\"}",
					      "{\"z\":1 , \"message\":\"last\" }" };
	static const char *const paths[] = { NULL, "", "b", "t.u" };
	static const char *const removes[] = { NULL, "message", "absent" };
	struct event a = { 0 }, b = { 0 };
	struct sbuf c = { 0 };
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++)
		for (size_t e = 0; e < sizeof(events) / sizeof(events[0]); e++)
			for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++)
				for (size_t r = 0; r < sizeof(removes) / sizeof(removes[0]); r++) {
					const char *in = events[e], *txt = texts[t];
					event_begin(&a, "in", NULL, 0, in, strlen(in));
					event_begin(&b, "in", NULL, 0, in, strlen(in));
					int ra = event_merge_checked(&a, paths[p], txt, strlen(txt), removes[r]);
					/* the reference: the steps one by one */
					sbuf_reset(&c);
					int rb;
					if (!event_json_compact(txt, strlen(txt), &c)) {
						rb = -EBADMSG;
					} else if (c.p[0] != '{') {
						rb = -EDOM;
					} else {
						if (removes[r])
							event_remove(&b, removes[r]);
						rb = event_merge(&b, paths[p], c.p, c.len);
					}
					if (ra != rb)
						fail_msg("merge_checked %s into %s at %s: %d, steps: %d", txt, in,
							 paths[p] ? paths[p] : "(root)", ra, rb);
					size_t la, lb;
					const char *ja = event_json(&a, &la), *jb = event_json(&b, &lb);
					if (la != lb || memcmp(ja, jb, la))
						fail_msg("merge_checked %s into %s: %.*s, steps: %.*s", txt, in, (int)la, ja,
							 (int)lb, jb);
					if (ra < 0 && (la != strlen(in) || memcmp(ja, in, la)))
						fail_msg("merge_checked %s changed %s on failure", txt, in);
					/* the index kept by the merge finds what a scan finds */
					char x[64], y[64];
					static const char *const look[] = { "a", "b.c", "message", "x", "z", "t.u.a" };
					for (size_t k = 0; k < sizeof(look) / sizeof(look[0]); k++) {
						ssize_t na = event_get_str(&a, look[k], x, sizeof(x));
						ssize_t nb = event_get_str(&b, look[k], y, sizeof(y));
						assert_int_equal(na, nb);
						if (na >= 0)
							assert_string_equal(x, y);
					}
				}
	event_free(&a);
	event_free(&b);
	sbuf_free(&c);
}

/* --- the fused decode of a JSON object in a string (parse json) ------------- */

/* One event: the root `layout` with %s replaced by inner escaped into a
 * JSON string; parsed as parse json does (event_get_decoded, then
 * event_merge_checked into target removing `remove`), fresh (the fused
 * path) and indexed first (the decode, check and merge one by one): the
 * same rc, the same text. Returns whether the fused path was taken. */
static int fused_vs_steps(const char *layout, const char *inner, size_t ilen, const char *target,
			  const char *remove)
{
	struct sbuf in = { 0 }, da = { 0 }, db = { 0 };
	const char *pct = strstr(layout, "%s");
	sbuf_put(&in, layout, (size_t)(pct - layout));
	json_put_string(&in, inner, ilen);
	sbuf_puts(&in, pct + 2);
	struct event a = { 0 }, b = { 0 };
	event_begin(&a, "in", NULL, 0, in.p, in.len);
	event_begin(&b, "in", NULL, 0, in.p, in.len);
	(void)event_has(&b, "zzz");   /* indexed: no fused decode */
	const char *va, *vb;
	size_t la, lb;
	int deca, decb;
	int ra = event_get_decoded(&a, "message", &va, &la, &da, &deca);
	int fused = a.fz_obj != NULL;
	int rb = event_get_decoded(&b, "message", &vb, &lb, &db, &decb);
	assert_int_equal(ra, rb);
	assert_int_equal(deca, decb);
	assert_int_equal(da.len, db.len);
	assert_memory_equal(da.p ? da.p : "", db.p ? db.p : "", da.len);
	assert_null(b.fz_obj);
	if (ra == 0 && deca) {
		ra = event_merge_checked(&a, target, da.p ? da.p : "", da.len, remove);
		rb = event_merge_checked(&b, target, db.p ? db.p : "", db.len, remove);
		if (ra != rb)
			fail_msg("fused %.*s: %d, steps %d", (int)in.len, in.p, ra, rb);
	}
	const char *ja = event_json(&a, &la), *jb = event_json(&b, &lb);
	if (la != lb || memcmp(ja, jb, la))
		fail_msg("fused %.*s: %.*s, steps %.*s", (int)in.len, in.p, (int)la, ja, (int)lb, jb);
	/* the index the fused merge leaves finds what a scan finds */
	static const char *const look[] = { "a", "b", "message", "level", "x.y", "t.a", "z" };
	for (size_t k = 0; k < sizeof(look) / sizeof(look[0]); k++) {
		char x[64], y[64];
		ssize_t nx = event_get_str(&a, look[k], x, sizeof(x));
		ssize_t ny = event_get_str(&b, look[k], y, sizeof(y));
		assert_int_equal(nx, ny);
		if (nx >= 0)
			assert_string_equal(x, y);
	}
	event_free(&a);
	event_free(&b);
	sbuf_free(&in);
	sbuf_free(&da);
	sbuf_free(&db);
	return fused;
}

static const char *const fused_layouts[] = {
	"{\"@timestamp\":\"t\",\"message\":%s}", "{\"message\":%s,\"a\":0,\"z\":true}",
	"{\"a\":0,\"message\":%s,\"z\":{\"q\":1}}", "{ \"a\" : 0 , \"message\" : %s }", "{\"message\":%s}",
	"{\"level\":\"x\",\"message\":%s,\"b\":[1]}", "{\"x.y\":1,\"message\":%s,\"message\":\"again\"}",
	"{\"me\\u0073sage\":1,\"message\":%s}",
};

/* Decoded texts the fused path takes (plain objects, escapes in keys and
 * values, nesting, keys that collide with the root's or with each other)
 * and ones it leaves to the steps (blanks to squeeze, escapes that decode
 * to structure, invalid JSON, not an object). */
static const struct {
	const char *text;
	int fused;
} fused_texts[] = {
	{ "{\"level\":\"info\",\"msg\":\"GET /a 200\",\"n\":-1.5e3,\"ok\":true,\"no\":false,\"nil\":null}", 1 },
	{ "{}", 1 },
	{ " { } ", 1 },
	{ "{\"a\":{},\"b\":[],\"c\":[{}],\"d\":{\"e\":[1,{\"f\":\"g\"}]}}", 1 },
	{ "{\"q\":\"say \\\"hi\\\" \\\\ back\\/slash\"}", 1 },
	{ "{\"u\":\"\\u00e9 \\ud83d\\ude00 \\n\\t\\b\\f\\r\"}", 1 },
	{ "{\"k\\\"ey\":1,\"k\\u00e9\":2}", 1 },
	{ "{\"\xc3\xa9t\xc3\xa9\":\"\xf0\x9f\x98\x80\"}", 1 },
	{ "{\"a\":1,\"a\":2,\"b\":3,\"a\":4}", 1 },
	{ "{\"message\":\"inner\",\"z\":0}", 1 },
	{ "{\"@timestamp\":\"new\",\"level\":\"y\"}", 1 },
	{ "{\"x.y\":2,\"x\":{\"y\":3}}", 1 },
	{ " {\"a\" : 1 , \"b\":[ 1 , 2 ] } ", 1 },
	{ "{\n\"a\":1}", 0 },
	{ "{\"a\":1}\t", 0 },
	{ "{\"a\":\"b\nc\"}", 0 },
	{ "[1,2]", 0 },
	{ "\"str\"", 0 },
	{ "42", 0 },
	{ "", 0 },
	{ "{\"a\":1", 0 },
	{ "{\"a\":01}", 0 },
	{ "{\"a\":1}}", 0 },
	{ "{\"a\":1} x", 0 },
	{ "{\"a\":tru}", 0 },
	{ "{\"a\":\"\\x\"}", 0 },
	{ "{\"a\" 1}", 0 },
	{ "{a:1}", 0 },
	{ "{\"a\":1,}", 0 },
	{ "{\"a\":\"\\u12\"}", 0 },
	{ "{\"a\":\"x\x01y\"}", 0 },
	{ "{\"a\":\"\\ud800\"}", 1 },
	{ "{\"a\":\"\x7f\"}", 1 },
	{ "{\"a\\\\\":[true,false,null,0,-0,1.25,2E+2]}", 1 },
};

static void test_fused_table(void **state)
{
	(void)state;
	/* an escaped "message" first: it is the field (the plain one, which
	 * the index build decodes, is not), its decoded text as long as the
	 * other's but shaped differently */
	assert_int_equal(fused_vs_steps("{\"me\\u0073sage\":\"{\\\"a\\\":12}\",\"message\":%s}", "{\"bc\":1}", 8,
					NULL, "message"), 0);
	assert_int_equal(fused_vs_steps("{\"me\\u0073sage\":\"{\\\"a\\\":12}\",\"message\":%s}", "{\"bc\":1}", 8,
					"t", NULL), 0);
	static const char *const targets[] = { NULL, "t" };
	static const char *const removes[] = { "message", NULL };
	for (size_t t = 0; t < sizeof(fused_texts) / sizeof(fused_texts[0]); t++)
		for (size_t l = 0; l < sizeof(fused_layouts) / sizeof(fused_layouts[0]); l++)
			for (size_t g = 0; g < 2; g++)
				for (size_t r = 0; r < 2; r++) {
					const char *x = fused_texts[t].text;
					int f = fused_vs_steps(fused_layouts[l], x, strlen(x), targets[g], removes[r]);
					/* an escaped "message" first is the field: not the
					 * one decoded while indexing */
					int want = fused_texts[t].fused && !strstr(fused_layouts[l], "u0073");
					if (f != want)
						fail_msg("%s in %s: fused %d, expected %d", x, fused_layouts[l], f, want);
				}
}

/* Nesting around the depth limit (the object at depth 0, its member's
 * arrays at 1..d-1: 64 is the deepest allowed), both ways. */
static void test_fused_depth(void **state)
{
	(void)state;
	char buf[512];
	for (int d = 60; d <= 68; d++) {
		size_t n = 0;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"a\":");
		for (int i = 1; i < d; i++)
			buf[n++] = '[';
		for (int i = 1; i < d; i++)
			buf[n++] = ']';
		buf[n++] = '}';
		buf[n] = 0;
		fused_vs_steps("{\"message\":%s,\"z\":1}", buf, n, NULL, "message");
		assert_int_equal(event_json_valid(buf, n), d <= 65);
	}
}

/* Random objects (random keys and values from a pool of plain bytes,
 * quotes, backslashes, UTF-8 and control bytes; blanks; nesting), some
 * mutated by one byte: the fused path and the steps agree on all. */
static void rand_value(struct sbuf *b, unsigned *seed, int depth)
{
	static const char pool[] = "ab \"\\\n\t\x01/\xc3\xa9{}[]:,message";
	*seed = *seed * 1103515245u + 12345u;
	unsigned r = (*seed >> 16) % (depth > 4 ? 4 : 7);
	if (r == 0 || r == 1) {
		char s[16];
		size_t n = (*seed >> 8) % 12;
		for (size_t i = 0; i < n; i++) {
			*seed = *seed * 1103515245u + 12345u;
			s[i] = pool[(*seed >> 16) % (sizeof(pool) - 1)];
		}
		json_put_string(b, s, n);
	} else if (r == 2) {
		sbuf_puts(b, (*seed >> 20) % 2 ? "-12.5e1" : "7");
	} else if (r == 3) {
		sbuf_puts(b, (*seed >> 20) % 3 == 0 ? "true" : (*seed >> 20) % 3 == 1 ? "null" : "false");
	} else {
		int obj = r != 4;
		size_t n = (*seed >> 10) % 4;
		sbuf_putc(b, obj ? '{' : '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				sbuf_puts(b, (*seed >> 12) % 5 ? "," : " , ");
			if (obj) {
				static const char *const keys[] = { "a", "b", "message", "level", "x.y", "k\"q", "\xc3\xa9", "z" };
				*seed = *seed * 1103515245u + 12345u;
				const char *k = keys[(*seed >> 16) % 8];
				json_put_string(b, k, strlen(k));
				sbuf_putc(b, ':');
			}
			rand_value(b, seed, depth + 1);
		}
		sbuf_putc(b, obj ? '}' : ']');
	}
}

static void test_fused_random(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	unsigned seed = 11;
	static const char mut[] = "\"\\{}[],: \n0a";
	int nfused = 0;
	for (int round = 0; round < 4000; round++) {
		sbuf_reset(&b);
		sbuf_putc(&b, '{');
		size_t n = 1 + round % 5;
		for (size_t i = 0; i < n; i++) {
			if (i)
				sbuf_putc(&b, ',');
			static const char *const keys[] = { "a", "b", "message", "level", "@timestamp", "z", "x.y" };
			const char *k = keys[(round + i * 3) % 7];
			json_put_string(&b, k, strlen(k));
			sbuf_putc(&b, ':');
			rand_value(&b, &seed, 1);
		}
		sbuf_putc(&b, '}');
		if (round % 3 == 0 && b.len > 1) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % b.len;
			char c = mut[(seed >> 20) % (sizeof(mut) - 1)];
			if ((seed >> 4) % 2)
				b.p[at] = c;
			else
				memmove(b.p + at, b.p + at + 1, --b.len - at);
		}
		const char *layout = fused_layouts[(size_t)round % (sizeof(fused_layouts) / sizeof(fused_layouts[0]))];
		nfused += fused_vs_steps(layout, b.p, b.len, round % 7 == 0 ? "t" : NULL, round % 5 == 0 ? NULL : "message");
	}
	/* both ways were taken, many times */
	assert_true(nfused > 400 && nfused < 3600);
	sbuf_free(&b);
}

/* event_move gives what event_get_raw, event_remove and event_set_json of
 * the value give, one by one: the same rc, the same text, an index that
 * finds what a scan finds; fresh and indexed events. */
/* event_batch: which events it takes (1) and which it leaves to the ops
 * one by one (0, text unchanged), and that what it writes is what those ops
 * write: event_move, event_set_json, event_remove in order. */
static void test_batch(void **state)
{
	(void)state;
	static const struct { const char *in; int rc; } cases[] = {
		{ "{\"@timestamp\":\"t\",\"logger\":\"h\",\"msg\":\"GET\",\"trace\":{\"id\":\"1\"}}", 1 },
		{ "{\"msg\":\"m\"}", 1 },               /* the only member moves */
		{ "{\"logger\":1}", 1 },                /* the only member goes */
		{ "{}", 1 },
		{ "{\"a\":1}", 1 },                     /* nothing to take: only the writes */
		{ "{\"a\":1, \"msg\":2}", 0 },          /* a blank between members */
		{ " {\"a\":1}", 0 },                    /* around the braces */
		{ "{\"a\":1}\n", 0 },
		{ "{\"m\\u0073g\":1}", 0 },             /* an escaped key */
		{ "{\"msg\":1,\"msg\":2}", 0 },          /* a repeated key */
		{ "{\"service\":{\"id\":7}}", 0 },      /* a write's name is there */
		{ "{\"service.id\":7}", 0 },
		{ "{\"message\":\"old\",\"msg\":1}", 0 },/* the move's target is there */
		{ "{\"msg.x\":1}", 0 },                 /* a key under the moved name */
		{ "{\"logger\":{\"a\":1}}", 1 },        /* a value may be anything */
		{ "{\"loggers\":1,\"ms\":2,\"servic\":3}", 1 },   /* names that only start alike */
		{ "{\"p\":1}", 0 },                     /* a nested write's first name is there */
		{ "[1]", 0 }, { "{\"a\":", 0 },
	};
	struct event_plan ops = { 0 };
	assert_int_equal(event_plan_add(&ops, EVENT_OP_MOVE, "msg", "message", NULL, 0), 0);
	const char *svc = "{\"name\":\"shop\"}";
	assert_int_equal(event_plan_add(&ops, EVENT_OP_PUT, "service", NULL, svc, strlen(svc)), 0);
	assert_int_equal(event_plan_add(&ops, EVENT_OP_PUT, "p.q.r", NULL, "[1]", 3), 0);
	assert_int_equal(event_plan_add(&ops, EVENT_OP_REMOVE, "logger", NULL, NULL, 0), 0);
	/* names sharing a first segment with one the plan has are refused,
	 * and the plan stays as it was */
	assert_int_equal(event_plan_add(&ops, EVENT_OP_REMOVE, "service.id", NULL, NULL, 0), -EEXIST);
	assert_int_equal(event_plan_add(&ops, EVENT_OP_MOVE, "x", "message.y", NULL, 0), -EEXIST);
	assert_int_equal(event_plan_add(&ops, EVENT_OP_MOVE, "a.b", "a.c", NULL, 0), -EEXIST);
	assert_int_equal(event_plan_add(&ops, EVENT_OP_PUT, "p", NULL, "1", 1), -EEXIST);
	assert_int_equal(ops.n, 4);
	struct event a = { 0 }, b = { 0 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *in = cases[i].in;
		event_begin(&a, "in", NULL, 0, in, strlen(in));
		int rc = event_batch(&a, &ops);
		size_t la, lb;
		const char *ja = event_json(&a, &la);
		if (rc != cases[i].rc)
			fail_msg("case %zu %s: rc %d, want %d", i, in, rc, cases[i].rc);
		if (rc == 0) {
			assert_true(ja == in && la == strlen(in));   /* untouched */
			continue;
		}
		event_begin(&b, "in", NULL, 0, in, strlen(in));
		event_move(&b, "msg", "message");
		assert_int_equal(event_set_json(&b, "service", svc, strlen(svc)), 0);
		assert_int_equal(event_set_json(&b, "p.q.r", "[1]", 3), 0);
		event_remove(&b, "logger");
		const char *jb = event_json(&b, &lb);
		if (la != lb || memcmp(ja, jb, la))
			fail_msg("case %zu %s:\n batch %.*s\n ops   %.*s", i, in, (int)la, ja, (int)lb, jb);
		/* the index is rebuilt for what comes next */
		assert_int_equal(event_has(&a, "service.name"), 1);
		assert_int_equal(event_has(&a, "logger"), 0);
	}
	event_plan_free(&ops);
	event_free(&a);
	event_free(&b);
}

/* A line event (event_begin_line): its text written out is head + the
 * line's JSON string + tail; event_parse_line merges a JSON line from the
 * raw bytes, and must give what the usual way gives from that text
 * (event_get_decoded + event_merge_checked with the message's removal),
 * result code and text, or decline (1) and leave the line as it was. */
static void test_line_events(void **state)
{
	(void)state;
	static const char *const heads[] = { "{\"@timestamp\":\"t\",\"message\":", "{\"message\":",
					     "{\"a\":1,\"message\":" };
	static const char *const tails[] = { "}", ",\"log\":{\"offset\":7},\"host\":{\"name\":\"h\"}}" };
	static const char *const lines[] = {
		"{\"level\":\"info\",\"msg\":\"GET /\",\"n\":1}", "{}", "{ \"a\" : [1, {\"b\": null}] }",
		"{\"message\":\"inner\",\"x\":1}", "{\"a\":2}", "{\"t\":\"\\u00e9\\\"\"}", "{\"tab\":\t1}",
		"{\"caf\xc3\xa9\":\"\xe2\x82\xac\"}", "{\"bad\":\"\xff\"}", "{\"ctl\":\"\x01\"}", "[1]", "\"s\"", "{\"a\":",
		"", "not json", "{\"a\":1}  ", "{\"deep\":{\"er\":{\"est\":[[[]]]}}}",
	};
	static const char *const targets[] = { NULL, "parsed", "a" };
	struct event a = { 0 }, b = { 0 };
	struct sbuf text = { 0 }, dec = { 0 };
	size_t taken = 0;   /* merged from the raw line */
	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++)
		for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++)
			for (size_t l = 0; l < sizeof(lines) / sizeof(lines[0]); l++)
				for (size_t g = 0; g < sizeof(targets) / sizeof(targets[0]); g++) {
					const char *hd = heads[h], *tl = tails[t], *ln = lines[l];
					sbuf_reset(&text);
					sbuf_puts(&text, hd);
					json_put_string(&text, ln, strlen(ln));
					sbuf_puts(&text, tl);
					event_begin_line(&a, "in", NULL, 5, hd, strlen(hd), ln, strlen(ln), tl, strlen(tl));
					int ra = event_parse_line(&a, "message", targets[g]);
					event_begin(&b, "in", NULL, 5, text.p, text.len);
					const char *v;
					size_t vn;
					int decoded;
					sbuf_reset(&dec);
					assert_int_equal(event_get_decoded(&b, "message", &v, &vn, &dec, &decoded), 0);
					assert_true(decoded);
					int rb = event_merge_checked(&b, targets[g], dec.p ? dec.p : "", dec.len, "message");
					size_t la, lb;
					const char *ja = event_json(&a, &la), *jb = event_json(&b, &lb);
					int utf8 = json_utf8_check(ln, strlen(ln), NULL);
					if (!utf8) {
						/* declined: the line is written out as it came */
						assert_int_equal(ra, 1);
						assert_true(la == text.len && !memcmp(ja, text.p, la));
						continue;
					}
					if (ra != rb || la != lb || memcmp(ja, jb, la))
						fail_msg("%s | %s | %s -> %s\n line  %d %.*s\n usual %d %.*s", hd, ln, tl,
							 targets[g] ? targets[g] : "(root)", ra, (int)la, ja, rb, (int)lb, jb);
					if (ra == -EBADMSG || ra == -EDOM)
						assert_true(la == text.len && !memcmp(ja, text.p, la));
					taken += ra == 0;
				}
	assert_true(taken >= 60);
	/* another field, or an event something changed already: declined */
	const char *hd = heads[0], *ln = lines[0];
	event_begin_line(&a, "in", NULL, 5, hd, strlen(hd), ln, strlen(ln), "}", 1);
	assert_int_equal(event_parse_line(&a, "msg", NULL), 1);
	assert_int_equal(event_has(&a, "message"), 1);   /* written out now */
	assert_int_equal(event_parse_line(&a, "message", NULL), 1);
	/* the written-out text of a line with escapes */
	event_begin_line(&a, "in", NULL, 5, hd, strlen(hd), "q\"\\\n\xff", 5, "}", 1);
	size_t n;
	const char *j = event_json(&a, &n);
	const char *want = "{\"@timestamp\":\"t\",\"message\":\"q\\\"\\\\\\n\\ufffd\"}";
	assert_true(n == strlen(want) && !memcmp(j, want, n));
	sbuf_free(&text);
	sbuf_free(&dec);
	event_free(&a);
	event_free(&b);
}

static void test_move(void **state)
{
	(void)state;
	static const char *const events[] = {
		"{\"msg\":\"m\",\"a\":0,\"z\":true}", "{\"a\":0,\"msg\":[1,{\"b\":2}],\"z\":1}", "{\"a\":0,\"msg\":\"last\"}",
		"{\"msg\":\"only\"}", "{ \"msg\" : 1 ,\n \"a\" : 2 }", "{\"a\":{\"b\":1},\"msg\":\"x\"}", "{\"a\":1 , \"msg\":2 }",
		"{\"m\\u0073g\":1,\"msg\":2}", "{\"msg\":1,\"msg\":2}", "{\"x\":{\"msg\":1}}", "{\"a\":{}}", "{}", "[1]",
		"{\"a.b\":1,\"msg\":\"\\\"q\\\"\"}", "{\"msg\":{}}",
	};
	static const char *const froms[] = { "msg", "a", "a.b", "x.msg", "absent" };
	static const char *const tos[] = { "message", "a", "a.b", "c.d.e", "msg", "a..b", "", "t\"q", "z" };
	struct event a = { 0 }, b = { 0 };
	struct sbuf v = { 0 };
	for (size_t e = 0; e < sizeof(events) / sizeof(events[0]); e++)
		for (size_t f = 0; f < sizeof(froms) / sizeof(froms[0]); f++)
			for (size_t t = 0; t < sizeof(tos) / sizeof(tos[0]); t++)
				for (int pre = 0; pre < 2; pre++) {
					const char *in = events[e];
					event_begin(&a, "in", NULL, 0, in, strlen(in));
					event_begin(&b, "in", NULL, 0, in, strlen(in));
					if (pre)
						(void)event_has(&a, "zzz");
					int ra = event_move(&a, froms[f], tos[t]);
					const char *raw;
					size_t rl;
					int rb = event_get_raw(&b, froms[f], &raw, &rl);
					if (rb == 0) {
						sbuf_reset(&v);
						sbuf_put(&v, raw, rl);
						event_remove(&b, froms[f]);
						rb = event_set_json(&b, tos[t], v.p, v.len);
					}
					size_t la, lb;
					const char *ja = event_json(&a, &la), *jb = event_json(&b, &lb);
					if (ra != rb || la != lb || memcmp(ja, jb, la))
						fail_msg("move %s -> %s in %s: %d %.*s, steps %d %.*s", froms[f], tos[t], in, ra,
							 (int)la, ja, rb, (int)lb, jb);
					static const char *const look[] = { "msg", "message", "a", "a.b", "c.d.e", "z", "x" };
					for (size_t k = 0; k < sizeof(look) / sizeof(look[0]); k++) {
						const char *xa, *xb;
						size_t na, nb;
						int ga = event_get_raw(&a, look[k], &xa, &na), gb = event_get_raw(&b, look[k], &xb, &nb);
						assert_int_equal(ga, gb);
						if (ga == 0) {
							assert_int_equal(na, nb);
							assert_memory_equal(xa, xb, na);
						}
					}
					/* and a write after it lands where it would */
					assert_int_equal(event_set_json(&a, "w.v", "1", 1), event_set_json(&b, "w.v", "1", 1));
					ja = event_json(&a, &la);
					jb = event_json(&b, &lb);
					assert_int_equal(la, lb);
					assert_memory_equal(ja, jb, la);
				}
	event_free(&a);
	event_free(&b);
	sbuf_free(&v);
}

/* The word-at-a-time string scans (end, decode, validate) at every
 * alignment: strings of random plain bytes, quotes, backslashes, control
 * characters and UTF-8, written by json_put_string, decode back to what was
 * written and are valid; with a raw control byte in them they are not. */
static void test_string_scan_alignment(void **state)
{
	(void)state;
	static const char pool[] = "ab \"\\\n\t\x01/\xc3\xa9xyz{}:,";
	struct sbuf ev = { 0 }, dec = { 0 };
	struct event e = { 0 };
	unsigned seed = 7;
	for (int len = 0; len < 48; len++)
		for (int round = 0; round < 40; round++) {
			char s[64];
			for (int i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				char ch = pool[(seed >> 16) % (sizeof(pool) - 1)];
				s[i] = ch == '\xc3' || ch == '\xa9' ? 'u' : ch;   /* no torn UTF-8 */
			}
			if (len >= 2 && round % 3 == 0)
				memcpy(s + len / 2 - 1, "\xc3\xa9", 2);
			sbuf_reset(&ev);
			sbuf_puts(&ev, "{\"pad\":\"");
			for (int i = 0; i < round % 9; i++)
				sbuf_putc(&ev, 'p');      /* shifts the value's alignment */
			sbuf_puts(&ev, "\",\"v\":");
			size_t vs = ev.len;
			json_put_string(&ev, s, (size_t)len);
			size_t ve = ev.len;
			sbuf_putc(&ev, '}');
			assert_true(event_json_valid(ev.p, ev.len));
			event_begin(&e, "in", NULL, 0, ev.p, ev.len);
			const char *raw;
			size_t rl;
			assert_int_equal(event_get_raw(&e, "v", &raw, &rl), 0);
			assert_int_equal(rl, ve - vs);
			sbuf_reset(&dec);
			assert_true(event_decode_str(raw, rl, &dec));
			assert_int_equal(dec.len, (size_t)len);
			assert_memory_equal(dec.p ? dec.p : "", s, (size_t)len);
			/* a raw control byte anywhere in the string body: not
			 * valid JSON (after a backslash it is a bad escape) */
			if (len > 0) {
				ev.p[vs + 1 + (size_t)round % (ve - vs - 2)] = '\x02';
				assert_false(event_json_valid(ev.p, ev.len));
			}
		}
	event_free(&e);
	sbuf_free(&ev);
	sbuf_free(&dec);
}

/* event_get_decoded (the field decoded while the root index is built)
 * gives what event_get_raw + event_decode_str give, whether or not the
 * event was indexed before, and the index it builds finds what a scan
 * finds. */
static void test_get_decoded(void **state)
{
	(void)state;
	static const char *const events[] = {
		"{\"message\":\"{\\\"a\\\":1}\",\"b\":2}", "{\"b\":2,\"message\":\"x\\ty\\u00e9\"}",
		"{\"message\":\"bad \\x escape\",\"z\":1}", "{\"message\":{\"o\":1}}", "{\"message\":12}",
		"{\"message\":\"first\",\"message\":\"second\"}", "{\"a.b\":\"flat\",\"a\":{\"b\":\"nested\"}}",
		"{\"me\\u0073sage\":\"escaped key\",\"message\":\"plain\"}", "not an object", "{\"message\":\"unterminated}",
		"{}", " { \"message\" : \"sp aced\" } ",
	};
	static const char *const paths[] = { "message", "b", "a.b", "a", "absent" };
	struct event a = { 0 }, b = { 0 };
	struct sbuf da = { 0 }, db = { 0 };
	for (size_t e = 0; e < sizeof(events) / sizeof(events[0]); e++)
		for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++)
			for (int pre = 0; pre < 2; pre++) {
				const char *in = events[e];
				event_begin(&a, "in", NULL, 0, in, strlen(in));
				event_begin(&b, "in", NULL, 0, in, strlen(in));
				if (pre)
					(void)event_has(&a, "zzz");   /* indexes first */
				sbuf_reset(&da);
				sbuf_reset(&db);
				sbuf_puts(&da, "keep:");
				sbuf_puts(&db, "keep:");
				const char *va, *vb;
				size_t la = 0, lb = 0;
				int dec;
				int ra = event_get_decoded(&a, paths[p], &va, &la, &da, &dec);
				int rb = event_get_raw(&b, paths[p], &vb, &lb);
				assert_int_equal(ra, rb);
				if (ra == 0) {
					assert_int_equal(la, lb);
					assert_memory_equal(va, vb, la);
					int db_ok = *vb == '"' && event_decode_str(vb, lb, &db);
					if (dec != db_ok)
						fail_msg("%s in %s: decoded %d, steps %d", paths[p], in, dec, db_ok);
				}
				assert_int_equal(da.len, db.len);
				assert_memory_equal(da.p, db.p, da.len);
				for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
					char x[64], y[64];
					ssize_t nx = event_get_str(&a, paths[k], x, sizeof(x));
					ssize_t ny = event_get_str(&b, paths[k], y, sizeof(y));
					assert_int_equal(nx, ny);
					if (nx >= 0)
						assert_string_equal(x, y);
				}
			}
	event_free(&a);
	event_free(&b);
	sbuf_free(&da);
	sbuf_free(&db);
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
		cmocka_unit_test(test_merge_checked),
		cmocka_unit_test(test_fused_table),
		cmocka_unit_test(test_fused_depth),
		cmocka_unit_test(test_fused_random),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_line_events),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_get_decoded),
		cmocka_unit_test(test_string_scan_alignment),
	};
	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
