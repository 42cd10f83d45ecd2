/* The tail input's event, ECS JSON in one pass without allocation per line:
 *   {"@timestamp":"...","message":"...","log":{"file":{"path":"..."},
 *    "offset":N,"flags":["multiline"]},"host":{"name":"..."},"stream":"stdout",
 *    "kubernetes":{"namespace":"...","pod":{"name":"..."},"container":{"name":"..."}},
 *    "container":{"id":"..."}}
 * The parts that do not change per line (the path, Kubernetes fields from the
 * path, the host) are escaped once per file and copied. log.offset is the
 * byte offset of the event's first line in the file; log.flags say what was
 * done to it: multiline (joined lines), split / truncated (max_line_bytes),
 * partial (shipped without its newline), continued (the rest of a partial). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* Index of the first byte of s[from, n) that JSON does not take as it is
 * (anything but printable ASCII other than '"' and '\\'), or n. 16 bytes at
 * a time where SSE2 is there (every x86-64): most log lines are plain ASCII
 * and cost one pass and one memcpy. The bytes before `from` are part of the
 * same message, so a short rest is checked with one load of s's last 16
 * bytes (overlapping bytes already known plain: their mask bits are shifted
 * out) instead of byte by byte. */
#if defined(__SSE2__)
static unsigned special_mask(const char *p)
{
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), below = _mm_set1_epi8(0x20);
	__m128i v = _mm_loadu_si128((const __m128i *)p);
	/* bytes >= 0x80 have the sign bit; < 0x20 compare below 0x20 as
	 * signed (0x80.. are negative and already caught) */
	__m128i bad = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash));
	bad = _mm_or_si128(bad, _mm_cmpgt_epi8(below, v));
	return (unsigned)(_mm_movemask_epi8(bad) | _mm_movemask_epi8(v));
}
#endif

static size_t next_special(const char *s, size_t from, size_t n)
{
	size_t i = from;
#if defined(__SSE2__)
	for (; i + 16 <= n; i += 16) {
		unsigned mask = special_mask(s + i);
		if (mask)
			return i + (size_t)__builtin_ctz(mask);
	}
	if (i < n && n >= 16) {
		unsigned mask = special_mask(s + n - 16) >> (16 - (n - i));
		return mask ? i + (size_t)__builtin_ctz(mask) : n;
	}
#endif
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
			break;
	}
	return i;
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

int tail_event_emit(struct tail *t, struct tail_file *f, const char *msg, size_t n, int64_t off,
		    int64_t ts_ms, int stream, unsigned flags)
{
	struct sbuf *b = &t->ev;
	int64_t ts = ts_ms ? ts_ms : t->now_wall;
	sbuf_reset(b);
	/* Room for everything but the message's escapes in one go. */
	const size_t fixed = f->meta_len + f->k8s_len + t->host_json_len + 160;
	if (sbuf_reserve(b, 2 * n + fixed) < 0)
		return 0;  /* out of memory: nothing sensible to retry with */
	char *p = b->p;
	if (ts != t->ev_head_ts || !t->ev_head_len) {
		/* Lines read together share their millisecond: the event's head,
		 * up to the message, is formatted once per distinct time. */
		char *h = t->ev_head;
		memcpy(h, "{\"@timestamp\":\"", 15);
		h += 15;
		h += json_format_time(h, ts);
		memcpy(h, "\",\"message\":\"", 13);
		t->ev_head_len = (size_t)(h + 13 - t->ev_head);
		t->ev_head_ts = ts;
	}
	memcpy(p, t->ev_head, t->ev_head_len);
	p += t->ev_head_len;
	/* Runs of plain ASCII copied whole, '"' and '\\' escaped here (room
	 * for 2n was reserved); control bytes and non-ASCII go through
	 * json_put_escaped (UTF-8 validation, \u escapes), which grows b. */
	for (size_t i = 0; i < n;) {
		size_t k = next_special(msg, i, n) - i;
		memcpy(p, msg + i, k);
		p += k;
		i += k;
		if (i == n)
			break;
		char c = msg[i];
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = c;
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < n && (unsigned char)msg[j] >= 0x80)
			j++;
		b->len = (size_t)(p - b->p);
		json_put_escaped(b, msg + i, j - i);
		if (sbuf_reserve(b, 2 * (n - j) + fixed) < 0)
			return 0;
		p = b->p + b->len;
		i = j;
	}
	b->len = (size_t)(p - b->p);
	sbuf_putc(b, '"');
	sbuf_reserve(b, f->meta_len + f->k8s_len + t->host_json_len + 128);
	if (b->err)
		return 0;
	p = b->p + b->len;
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
	b->len = (size_t)(p - b->p);
	int rc = input_emit(t->in, ts, b->p, b->len);
	if (rc == -EAGAIN)
		return rc;
	return 0;  /* taken, or too large (dropped and counted by the agent) */
}
