/* Docker's json-file log driver: one JSON object per line,
 *     {"log":"the message\n","stream":"stdout","time":"2024-01-01T00:00:00.123Z"}
 * Docker splits lines longer than 16 KiB into several objects; all but the
 * last lack the final "\n" in "log", which is how the reader knows to join
 * them. This is a small, strict parser for that one shape: the three keys in
 * any order, others (attrs) skipped, strings unescaped (\uXXXX and surrogate
 * pairs to UTF-8). Whatever does not parse is not a docker line. */
#include <errno.h>
#include <string.h>

#include "common/json.h"
#include "inputs/tail/tail_parse.h"

struct jp {
	const char *s, *end;
};

static void ws(struct jp *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\r' || *p->s == '\n'))
		p->s++;
}

/* A string at p->s ('"'); unescaped into out when out is set. */
static int str(struct jp *p, struct sbuf *out)
{
	if (p->s >= p->end || *p->s != '"')
		return -EINVAL;
	p->s++;
	for (;;) {
		const char *run = p->s;
		while (p->s < p->end && *p->s != '"' && *p->s != '\\')
			p->s++;
		if (out && p->s > run)
			sbuf_put(out, run, (size_t)(p->s - run));
		if (p->s >= p->end)
			return -EINVAL;
		if (*p->s == '"') {
			p->s++;
			return 0;
		}
		p->s++;  /* backslash */
		if (p->s >= p->end)
			return -EINVAL;
		char c = *p->s++, o;
		switch (c) {
		case '"': o = '"'; break;
		case '\\': o = '\\'; break;
		case '/': o = '/'; break;
		case 'b': o = '\b'; break;
		case 'f': o = '\f'; break;
		case 'n': o = '\n'; break;
		case 'r': o = '\r'; break;
		case 't': o = '\t'; break;
		case 'u': {
			char u[4];
			size_t used;
			int ul = json_decode_u(p->s, p->end, u, &used);
			if (ul < 0)
				return -EINVAL;
			p->s += used;
			if (out)
				sbuf_put(out, u, (size_t)ul);
			continue;
		}
		default:
			return -EINVAL;
		}
		if (out)
			sbuf_putc(out, o);
	}
}

/* Skips any value (attrs may be an object); depth-bounded. */
static int skip(struct jp *p, int depth)
{
	ws(p);
	if (p->s >= p->end || depth > 16)
		return -EINVAL;
	char c = *p->s;
	if (c == '"')
		return str(p, NULL);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		p->s++;
		ws(p);
		if (p->s < p->end && *p->s == close) {
			p->s++;
			return 0;
		}
		for (;;) {
			if (c == '{') {
				ws(p);
				if (str(p, NULL) < 0)
					return -EINVAL;
				ws(p);
				if (p->s >= p->end || *p->s++ != ':')
					return -EINVAL;
			}
			if (skip(p, depth + 1) < 0)
				return -EINVAL;
			ws(p);
			if (p->s >= p->end)
				return -EINVAL;
			if (*p->s == ',') {
				p->s++;
				continue;
			}
			if (*p->s++ != close)
				return -EINVAL;
			return 0;
		}
	}
	/* number, true, false, null */
	const char *st = p->s;
	while (p->s < p->end && *p->s != ',' && *p->s != '}' && *p->s != ']' && *p->s != ' ')
		p->s++;
	return p->s > st ? 0 : -EINVAL;
}

int tail_docker_parse(const char *line, size_t n, struct sbuf *scratch, struct tail_rt_line *out)
{
	struct jp p = { line, line + n };
	int have_log = 0, stream = TAIL_STREAM_NONE;
	int64_t ts = 0;
	sbuf_reset(scratch);
	ws(&p);
	if (p.s >= p.end || *p.s++ != '{')
		return -EINVAL;
	ws(&p);
	if (p.s < p.end && *p.s == '}')
		return -EINVAL;
	for (;;) {
		ws(&p);
		const char *k = p.s + 1;
		if (str(&p, NULL) < 0)
			return -EINVAL;
		size_t klen = (size_t)(p.s - 1 - k);
		ws(&p);
		if (p.s >= p.end || *p.s++ != ':')
			return -EINVAL;
		ws(&p);
		if (klen == 3 && memcmp(k, "log", 3) == 0) {
			if (have_log || str(&p, scratch) < 0)
				return -EINVAL;
			have_log = 1;
		} else if (klen == 6 && memcmp(k, "stream", 6) == 0) {
			const char *v = p.s + 1;
			if (str(&p, NULL) < 0)
				return -EINVAL;
			size_t vl = (size_t)(p.s - 1 - v);
			stream = vl == 6 && memcmp(v, "stdout", 6) == 0 ? TAIL_STREAM_STDOUT :
				 vl == 6 && memcmp(v, "stderr", 6) == 0 ? TAIL_STREAM_STDERR : TAIL_STREAM_NONE;
		} else if (klen == 4 && memcmp(k, "time", 4) == 0) {
			const char *v = p.s + 1;
			if (str(&p, NULL) < 0)
				return -EINVAL;
			if (tail_parse_rfc3339(v, (size_t)(p.s - 1 - v), &ts) < 0)
				ts = 0;
		} else if (skip(&p, 0) < 0) {
			return -EINVAL;
		}
		ws(&p);
		if (p.s >= p.end)
			return -EINVAL;
		if (*p.s == ',') {
			p.s++;
			continue;
		}
		if (*p.s++ != '}')
			return -EINVAL;
		break;
	}
	ws(&p);
	if (p.s != p.end || !have_log || scratch->err)
		return -EINVAL;
	size_t len = scratch->len;
	int partial = 1;
	if (len && scratch->p[len - 1] == '\n') {
		len--;
		partial = 0;
		if (len && scratch->p[len - 1] == '\r')
			len--;
	}
	*out = (struct tail_rt_line){ .msg = scratch->p ? scratch->p : "", .len = len, .ts_ms = ts,
				      .stream = stream, .partial = partial };
	return 0;
}
