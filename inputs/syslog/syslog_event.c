/* ECS events from syslog messages; see syslog_event.h. The shape:
 *
 *   {"@timestamp":"2026-11-24T23:40:00.123Z","message":"...",
 *    "log":{"syslog":{"priority":13,"facility":{"code":1,"name":"user"},
 *           "severity":{"code":5,"name":"Notice"},"hostname":"h","appname":"a",
 *           "procid":"1","msgid":"ID47","version":"1",
 *           "structured_data":{"id@1":{"k":"v"}}}},
 *    "source":{"ip":"192.0.2.1","port":514},
 *    "tags":["_syslog_parse_failure"],"error":{"message":"no valid PRI"},
 *    "event":{"original":"<13>..."}}
 *
 * Empty fields are left out, not written as "": an event carries what the
 * sender sent. A message that parsed in neither format keeps its text whole
 * in `message` and is flagged by the tag and error.message, never dropped.
 *
 * This runs once per message at up to a million messages a second, so it
 * reserves the worst case once (6 bytes per input byte, \u00XX) and then
 * writes through a plain pointer; strings are escaped 16 bytes at a time
 * with SSE2 where the CPU has it. The escaping is byte for byte the same as
 * common/json.c's json_put_escaped (the unit test holds them together). */
#include "inputs/syslog/syslog_event.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/json.h"

#define LIT(o, s) (memcpy((o), (s), sizeof(s) - 1), (o) += sizeof(s) - 1)

static const unsigned char special[256] = {
	[0 ... 31] = 1, ['"'] = 1, ['\\'] = 1, [128 ... 255] = 1,
};

/* Length of the valid UTF-8 sequence at s (2..4), or 0 (RFC 3629 table). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0;  /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;  /* overlong, > U+10FFFF */
		return 4;
	}
	return 0;
}

/* Writes the special byte at s[0] (n bytes left); returns bytes consumed. */
static size_t esc_one(char **op, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o = *op;
	unsigned char c = s[0];
	size_t used = 1;
	if (c >= 0x80) {
		size_t u = utf8_len(s, n);
		if (u) {
			memcpy(o, s, u);
			o += u;
			used = u;
		} else {
			LIT(o, "\\ufffd");
		}
	} else {
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		default:
			*o++ = 'u'; *o++ = '0'; *o++ = '0';
			*o++ = hex[c >> 4]; *o++ = hex[c & 15];
		}
	}
	*op = o;
	return used;
}

/* s[0..n) escaped (no quotes) at o; returns the new end. Room: 6n. */
static char *esc(char *o, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
#if defined(__SSE2__)
	const __m128i lo = _mm_set1_epi8(0x20), q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
	while (i + 16 <= n) {
		__m128i x = _mm_loadu_si128((const __m128i *)(s + i));
		/* signed: bytes >= 0x80 are negative, so "< 0x20" catches them too */
		__m128i m = _mm_or_si128(_mm_cmplt_epi8(x, lo),
					 _mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)));
		unsigned mask = (unsigned)_mm_movemask_epi8(m);
		_mm_storeu_si128((__m128i *)o, x);
		if (!mask) {
			o += 16;
			i += 16;
			continue;
		}
		unsigned k = (unsigned)__builtin_ctz(mask);
		o += k;
		i += k;
		i += esc_one(&o, s + i, n - i);
	}
#endif
	while (i < n) {
		if (!special[s[i]]) {
			*o++ = (char)s[i++];
			continue;
		}
		i += esc_one(&o, s + i, n - i);
	}
	return o;
}

static char *str(char *o, const char *s, size_t n)
{
	*o++ = '"';
	o = esc(o, s, n);
	*o++ = '"';
	return o;
}

static char *put_uint(char *o, unsigned v)
{
	char d[12];
	int n = 0;
	do {
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(o, d + sizeof(d) - n, (size_t)n);
	return o + n;
}

/* ,"key":"value" when value is not empty. */
static char *put_field(char *o, const char *key, size_t klen, struct syslog_str v)
{
	if (!v.len)
		return o;
	memcpy(o, key, klen);
	return str(o + klen, v.p, v.len);
}

struct sd_writer {
	char *o;
	int elems, params;
	char tmp[256];
};

static void sd_elem(void *arg, struct syslog_str id)
{
	struct sd_writer *w = arg;
	if (w->elems++)
		LIT(w->o, "},");
	w->o = str(w->o, id.p, id.len);
	LIT(w->o, ":{");
	w->params = 0;
}

static void sd_param(void *arg, struct syslog_str name, struct syslog_str value)
{
	struct sd_writer *w = arg;
	if (w->params++)
		*w->o++ = ',';
	w->o = str(w->o, name.p, name.len);
	*w->o++ = ':';
	/* Values without escapes (nearly all) go straight through. */
	if (!memchr(value.p, '\\', value.len)) {
		w->o = str(w->o, value.p, value.len);
		return;
	}
	*w->o++ = '"';
	while (value.len) {
		/* Unescape in pieces; never split a backslash from what it escapes. */
		size_t n = value.len < sizeof(w->tmp) ? value.len : sizeof(w->tmp) - 1;
		if (n < value.len && value.p[n - 1] == '\\') {
			size_t k = n;
			while (k && value.p[k - 1] == '\\')
				k--;
			if ((n - k) % 2)
				n--;
		}
		struct syslog_str part = { value.p, n };
		w->o = esc(w->o, w->tmp, syslog_sd_unescape(part, w->tmp));
		value.p += n;
		value.len -= n;
	}
	*w->o++ = '"';
}

static char *put_sd(char *o, struct syslog_str sd)
{
	struct sd_writer w = { .o = o };
	struct syslog_sd_visitor v = { sd_elem, sd_param, &w };
	LIT(w.o, ",\"structured_data\":{");
	if (syslog_sd_walk(sd, &v) < 0) {
		/* Cannot happen for what syslog_parse accepted; keep it raw anyway. */
		LIT(o, ",\"structured_data_raw\":");
		return str(o, sd.p, sd.len);
	}
	if (w.elems)
		*w.o++ = '}';
	*w.o++ = '}';
	return w.o;
}

static char *put_syslog(char *o, const struct syslog_msg *m)
{
	char *mark = o;
	LIT(o, ",\"log\":{\"syslog\":{");
	char *open = o;
	if (m->pri >= 0) {
		LIT(o, "\"priority\":");
		o = put_uint(o, (unsigned)m->pri);
		LIT(o, ",\"facility\":{\"code\":");
		o = put_uint(o, (unsigned)m->facility);
		LIT(o, ",\"name\":\"");
		const char *fn = syslog_facility_name(m->facility);
		size_t fl = strlen(fn);
		memcpy(o, fn, fl);
		o += fl;
		LIT(o, "\"},\"severity\":{\"code\":");
		o = put_uint(o, (unsigned)m->severity);
		LIT(o, ",\"name\":\"");
		const char *sn = syslog_severity_name(m->severity);
		size_t sl = strlen(sn);
		memcpy(o, sn, sl);
		o += sl;
		LIT(o, "\"}");
	}
	/* Each field below starts with a comma; the first one drops it. */
	char *first = o;
	o = put_field(o, ",\"hostname\":", 12, m->hostname);
	o = put_field(o, ",\"appname\":", 11, m->appname);
	o = put_field(o, ",\"procid\":", 10, m->procid);
	o = put_field(o, ",\"msgid\":", 9, m->msgid);
	if (m->format == SYSLOG_FMT_RFC5424)
		LIT(o, ",\"version\":\"1\"");
	if (m->structured_data.len)
		o = put_sd(o, m->structured_data);
	if (o == open)
		return mark;  /* nothing at all: no "log" object */
	if (first == open) {
		memmove(open, open + 1, (size_t)(o - open - 1));
		o--;
	}
	LIT(o, "}}");
	return o;
}

int64_t syslog_event_build(struct sbuf *b, const struct syslog_event_in *e)
{
	const struct syslog_msg *m = e->m;
	int64_t ts = m->has_time ? m->time_ns / 1000000 : e->recv_ms;
	if (m->has_time && m->time_ns < 0 && m->time_ns % 1000000)
		ts--;  /* floor, for times before 1970 */
	sbuf_reset(b);
	/* Worst case: every byte a \u escape, plus the fixed keys (under 512). */
	size_t need = 6 * (m->msg.len + m->hostname.len + m->appname.len + m->procid.len +
			   m->msgid.len + m->structured_data.len) + 1024 + e->extra_len;
	if (e->keep_original)
		need += 6 * e->raw_len + 32;
	const char *why = m->error ? m->error : "not syslog";
	size_t whylen = strlen(why);
	need += 6 * whylen;
	if (sbuf_reserve(b, need + 16) < 0)
		return ts;
	char *o = b->p;
	char t[32];
	json_format_time(t, ts);
	LIT(o, "{\"@timestamp\":\"");
	memcpy(o, t, 24);
	o += 24;
	LIT(o, "\",\"message\":");
	o = str(o, m->msg.p, m->msg.len);
	o = put_syslog(o, m);
	if (e->extra_len) {
		memcpy(o, e->extra, e->extra_len);
		o += e->extra_len;
	}
	int failed = m->format == SYSLOG_FMT_NONE;
	if (failed || e->truncated) {
		LIT(o, ",\"tags\":[");
		if (failed)
			LIT(o, "\"_syslog_parse_failure\"");
		if (failed && e->truncated)
			*o++ = ',';
		if (e->truncated)
			LIT(o, "\"_syslog_truncated\"");
		*o++ = ']';
	}
	if (failed) {
		LIT(o, ",\"error\":{\"message\":");
		o = str(o, why, whylen);
		*o++ = '}';
	}
	if (e->keep_original) {
		LIT(o, ",\"event\":{\"original\":");
		o = str(o, e->raw, e->raw_len);
		*o++ = '}';
	}
	*o++ = '}';
	b->len = (size_t)(o - b->p);
	return ts;
}
