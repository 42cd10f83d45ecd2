/* The tail input's event, ECS JSON without allocation per line:
 *   {"@timestamp":"...","message":"...","log":{"file":{"path":"..."},
 *    "offset":N,"flags":["multiline"]},"host":{"name":"..."},"stream":"stdout",
 *    "kubernetes":{"namespace":"...","pod":{"name":"..."},"container":{"name":"..."}},
 *    "container":{"id":"..."}}
 * The parts that do not change per line (the path, Kubernetes fields from the
 * path, the host) are escaped once per file and copied. log.offset is the
 * byte offset of the event's first line in the file; log.flags say what was
 * done to it: multiline (joined lines), split / truncated (max_line_bytes),
 * partial (shipped without its newline), continued (the rest of a partial).
 * The text is built here in one buffer; when the input's chain runs on the
 * filter thread, the event goes there as three parts instead (the head up
 * to "message":, the raw line, and the rest: input_emit_line). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "inputs/tail/tail.h"

static void put_json_field(struct sbuf *b, const char *name, const char *v, size_t n)
{
	sbuf_putc(b, '"');
	sbuf_puts(b, name);
	sbuf_puts(b, "\":");
	json_put_string(b, v, n);
}

int tail_event_prepare(struct tail *t, struct tail_file *f)
{
	(void)t;
	struct sbuf b = { 0 };
	sbuf_puts(&b, ",\"log\":{\"file\":{\"path\":");
	json_put_string(&b, f->path, strlen(f->path));
	sbuf_puts(&b, "},\"offset\":");
	if (b.err) {
		sbuf_free(&b);
		return -ENOMEM;
	}
	free(f->meta);
	f->meta = b.p;
	f->meta_len = b.len;

	free(f->k8s);
	f->k8s = NULL;
	f->k8s_len = 0;
	struct tail_k8s k;
	if (tail_k8s_parse(f->path, &k) == 0) {
		struct sbuf m = { 0 };
		sbuf_puts(&m, ",\"kubernetes\":{");
		put_json_field(&m, "namespace", k.ns, k.ns_len);
		sbuf_puts(&m, ",\"pod\":{");
		put_json_field(&m, "name", k.pod, k.pod_len);
		sbuf_puts(&m, "},\"container\":{");
		put_json_field(&m, "name", k.container, k.container_len);
		sbuf_puts(&m, "}},\"container\":{");
		put_json_field(&m, "id", k.id, k.id_len);
		sbuf_putc(&m, '}');
		if (m.err) {
			sbuf_free(&m);
			return -ENOMEM;
		}
		f->k8s = m.p;
		f->k8s_len = m.len;
	}
	return 0;
}

/* Decimal digits of v, two at a time (log.offset of every event). */
static char *put_u64(char *p, uint64_t v)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char d[24];
	int n = 24;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		n -= 2;
		memcpy(d + n, pairs + 2 * r, 2);
	}
	if (v >= 10) {
		n -= 2;
		memcpy(d + n, pairs + 2 * v, 2);
	} else {
		d[--n] = (char)('0' + v);
	}
	memcpy(p, d + n, (size_t)(24 - n));
	return p + (24 - n);
}

/* What follows the message's string: log (path, offset, flags), host,
 * stream, Kubernetes, and the closing brace, at p (room reserved). */
static char *put_rest(const struct tail *t, const struct tail_file *f, char *p, int64_t off, int stream,
		      unsigned flags)
{
	memcpy(p, f->meta, f->meta_len);
	p += f->meta_len;
	p = put_u64(p, (uint64_t)off);
	if (flags) {
		static const char *const names[] = { "multiline", "split", "truncated", "partial", "continued" };
		memcpy(p, ",\"flags\":[", 10);
		p += 10;
		int first = 1;
		for (unsigned i = 0; i < 5; i++) {
			if (!(flags & (1u << i)))
				continue;
			if (!first)
				*p++ = ',';
			first = 0;
			*p++ = '"';
			size_t l = strlen(names[i]);
			memcpy(p, names[i], l);
			p += l;
			*p++ = '"';
		}
		*p++ = ']';
	}
	*p++ = '}';
	memcpy(p, t->host_json, t->host_json_len);
	p += t->host_json_len;
	if (stream == TAIL_STREAM_STDOUT) {
		memcpy(p, ",\"stream\":\"stdout\"", 18);
		p += 18;
	} else if (stream == TAIL_STREAM_STDERR) {
		memcpy(p, ",\"stream\":\"stderr\"", 18);
		p += 18;
	}
	if (f->k8s_len) {
		memcpy(p, f->k8s, f->k8s_len);
		p += f->k8s_len;
	}
	*p++ = '}';
	return p;
}

int tail_event_emit(struct tail *t, struct tail_file *f, const char *msg, size_t n, int64_t off,
		    int64_t ts_ms, int stream, unsigned flags)
{
	struct sbuf *b = &t->ev;
	int64_t ts = ts_ms ? ts_ms : t->now_wall;
	sbuf_reset(b);
	const size_t fixed = f->meta_len + f->k8s_len + t->host_json_len + 160;
	if (ts != t->ev_head_ts || !t->ev_head_len) {
		/* Lines read together share their millisecond: the event's head,
		 * up to the message, is formatted once per distinct time. */
		t->ev_head_len = json_event_head(t->ev_head, ts);
		t->ev_head_ts = ts;
	}
	int rc;
	if (input_takes_lines(t->in)) {
		/* to the filter thread: the line as it is, the rest built here
		 * (a chain that parses it as JSON never escapes it) */
		if (sbuf_reserve(b, fixed) < 0)
			return 0;  /* out of memory: nothing sensible to retry with */
		b->len = (size_t)(put_rest(t, f, b->p, off, stream, flags) - b->p);
		rc = input_emit_line(t->in, ts, t->ev_head, t->ev_head_len, msg, n, b->p, b->len);
	} else {
		/* the whole text in one buffer, room for everything but the
		 * message's rarer escapes reserved in one go */
		if (sbuf_reserve(b, t->ev_head_len + 2 * n + fixed) < 0)
			return 0;
		memcpy(b->p, t->ev_head, t->ev_head_len);
		b->p[t->ev_head_len] = '"';
		b->len = t->ev_head_len + 1;
		json_put_escaped(b, msg, n);
		if (sbuf_reserve(b, fixed) < 0)
			return 0;
		b->p[b->len++] = '"';
		b->len = (size_t)(put_rest(t, f, b->p + b->len, off, stream, flags) - b->p);
		rc = input_emit(t->in, ts, b->p, b->len);
	}
	if (rc == -EAGAIN)
		return rc;
	return 0;  /* taken, or too large (dropped and counted by the agent) */
}
