/* libFuzzer target: the filter thread's shortcuts in agent/event.c and
 * agent/event_batch.c, against the long way, over arbitrary bytes.
 *   - A line event (event_begin_line) parsed from the raw line
 *     (event_parse_line) must give what the written-out text gives through
 *     event_get_decoded + event_merge_checked (rc and text), or decline (1)
 *     for a line that is not valid UTF-8 and leave the line as it was.
 *   - event_batch on the bytes as an event's text must either decline (0,
 *     text untouched) or give what event_move, event_set_json and
 *     event_remove give one after the other.
 *   - json_put_escaped of the bytes is a valid JSON string that decodes
 *     back to them when they are valid UTF-8.
 * Any text these write from a valid object must be a valid object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/event.h"
#include "common/json.h"
#include "common/sbuf.h"

static struct event a, b;
static struct sbuf text, dec, q;
static struct event_plan ops;
static int ops_ready;
static const char svc[] = "{\"name\":\"shop\"}";

static void same(const struct event *x, const struct event *y)
{
	size_t lx, ly;
	const char *jx = event_json(x, &lx), *jy = event_json(y, &ly);
	if (lx != ly || memcmp(jx, jy, lx) != 0)
		abort();
}

/* The index a merge left finds what a fresh scan of the same text finds:
 * the keys of the lines this target is seeded with, and the heads'. */
static struct event c;
static void indexed_as_scanned(const struct event *x)
{
	static const char *const keys[] = { "@timestamp", "message", "level", "msg", "a", "b", "log",
					    "host", "parsed", "trace", "log.offset", "host.name", "x.y" };
	size_t l;
	const char *j = event_json(x, &l);
	event_begin(&c, "in", NULL, 1, j, l);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *va = NULL, *vc = NULL;
		size_t la = 0, lc = 0;
		int ra = event_get_raw(x, keys[i], &va, &la), rc = event_get_raw(&c, keys[i], &vc, &lc);
		if (ra != rc || la != lc || (ra == 0 && va - j != vc - j))
			abort();
	}
}

static void line_event(const char *s, size_t n, int shape)
{
	static const char *const heads[] = { "{\"@timestamp\":\"t\",\"message\":", "{\"message\":" };
	static const char *const tails[] = { "}", ",\"log\":{\"offset\":1},\"host\":{\"name\":\"h\"}}" };
	static const char *const targets[] = { NULL, "parsed", "host" };
	const char *hd = heads[shape & 1], *tl = tails[(shape >> 1) & 1], *tg = targets[(shape >> 2) % 3];
	sbuf_reset(&text);
	sbuf_puts(&text, hd);
	json_put_string(&text, s, n);
	sbuf_puts(&text, tl);
	if (text.err)
		return;
	event_begin_line(&a, "in", NULL, 1, hd, strlen(hd), s, n, tl, strlen(tl));
	int ra = event_parse_line(&a, "message", tg);
	event_begin(&b, "in", NULL, 1, text.p, text.len);
	if (!json_utf8_check(s, n, NULL)) {
		size_t l;
		const char *j = event_json(&a, &l);
		if (ra != 1 || l != text.len || memcmp(j, text.p, l) != 0)
			abort();
		return;
	}
	const char *v;
	size_t vn;
	int decoded;
	sbuf_reset(&dec);
	if (event_get_decoded(&b, "message", &v, &vn, &dec, &decoded) < 0 || !decoded)
		abort();   /* the text holds the line as a valid string */
	int rb = event_merge_checked(&b, tg, dec.p ? dec.p : "", dec.len, "message");
	if (ra != rb)
		abort();
	same(&a, &b);
	size_t l;
	const char *j = event_json(&a, &l);
	if (!event_json_valid(j, l))
		abort();
	indexed_as_scanned(&a);
}

static void batch(const char *s, size_t n)
{
	if (!ops_ready) {
		if (event_plan_add(&ops, EVENT_OP_MOVE, "msg", "message", NULL, 0) < 0 ||
		    event_plan_add(&ops, EVENT_OP_PUT, "service", NULL, svc, strlen(svc)) < 0 ||
		    event_plan_add(&ops, EVENT_OP_PUT, "p.q.r", NULL, "[1]", 3) < 0 ||
		    event_plan_add(&ops, EVENT_OP_REMOVE, "logger", NULL, NULL, 0) < 0)
			abort();
		ops_ready = 1;
	}
	event_begin(&a, "in", NULL, 1, s, n);
	int valid = event_json_valid(s, n) && n && s[0] == '{';
	int rc = event_batch(&a, &ops);
	if (rc < 0)
		return;   /* out of memory */
	if (rc == 0) {
		size_t l;
		const char *j = event_json(&a, &l);
		if (j != s || l != n)
			abort();   /* declined: untouched */
		return;
	}
	event_begin(&b, "in", NULL, 1, s, n);
	event_move(&b, "msg", "message");
	event_set_json(&b, "service", svc, strlen(svc));
	event_set_json(&b, "p.q.r", "[1]", 3);
	event_remove(&b, "logger");
	same(&a, &b);
	size_t l;
	const char *j = event_json(&a, &l);
	if (valid && !event_json_valid(j, l))
		abort();
}

static void escape(const char *s, size_t n)
{
	sbuf_reset(&q);
	json_put_string(&q, s, n);
	if (q.err)
		return;
	if (!event_json_valid(q.p, q.len))
		abort();
	sbuf_reset(&dec);
	if (!event_decode_str(q.p, q.len, &dec))
		abort();
	if (json_utf8_check(s, n, NULL) && (dec.len != n || (n && memcmp(dec.p, s, n) != 0)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	/* the first byte picks the line event's shape; the rest is the bytes */
	int shape = data[0];
	char *s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	line_event(s, size - 1, shape);
	batch(s, size - 1);
	escape(s, size - 1);
	free(s);
	return 0;
}
