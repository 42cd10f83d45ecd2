/* See json.h. The escaper finds the bytes that need escaping 16 at a
 * time (SSE2), copies runs of plain ASCII in one memcpy and
 * validates multi-byte UTF-8 by the table in RFC 3629 section 4 (no overlong
 * forms, no surrogates, nothing above U+10FFFF); anything else is one \ufffd
 * per offending byte, never dropped silently and never passed through raw. */
#include "common/json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* 1: byte needs attention (escape, or start of a multi-byte sequence). */
static const unsigned char special[256] = {
	[0 ... 31] = 1, ['"'] = 1, ['\\'] = 1, [128 ... 255] = 1,
};

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;  /* overlong */
		if (c == 0xed && s[1] > 0x9f)
			return 0;  /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;  /* overlong */
		if (c == 0xf4 && s[1] > 0x8f)
			return 0;  /* > U+10FFFF */
		return 4;
	}
	return 0;
}

int json_utf8_check(const char *str, size_t n, int *ctl)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	int low = 0;
	while (i < n) {
		/* ASCII 16 (SSE2) or 8 bytes at a time: the usual line has
		 * nothing else; a byte below 0x20 is, among ASCII bytes, one
		 * that compares below 0x20 as signed */
#if defined(__SSE2__)
		for (; i + 16 <= n; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(s + i));
			if (_mm_movemask_epi8(v))
				break;
			low |= _mm_movemask_epi8(_mm_cmpgt_epi8(_mm_set1_epi8(0x20), v));
		}
#endif
		for (; i + 8 <= n; i += 8) {
			uint64_t x;
			memcpy(&x, s + i, 8);
			if (x & 0x8080808080808080ull)
				break;
			low |= ((x - 0x2020202020202020ull) & ~x & 0x8080808080808080ull) != 0;
		}
		for (; i < n && s[i] < 0x80; i++)
			low |= s[i] < 0x20;
		if (i == n)
			break;
		size_t u = utf8_len(s + i, n - i);
		if (!u)
			return 0;
		i += u;
	}
	if (ctl)
		*ctl = low != 0;
	return 1;
}

/* Index of the first byte of s[from, n) that JSON does not take as it is
 * (anything but printable ASCII other than '"' and '\\'), or n. 16 bytes at
 * a time where SSE2 is there (every x86-64): most log lines are plain ASCII
 * and cost one pass and one memcpy. The bytes before `from` are part of the
 * same string, so a short rest is checked with one load of s's last 16
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

/* Control bytes and non-ASCII, one at a time (sbuf_put grows b). */
static void put_escaped_slow(struct sbuf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && !special[s[j]])
			j++;
		if (j > i)
			sbuf_put(b, s + i, j - i);
		if (j >= n)
			break;
		unsigned char c = s[j];
		if (c >= 0x80) {
			size_t u = utf8_len(s + j, n - j);
			if (u) {
				sbuf_put(b, s + j, u);
				i = j + u;
			} else {
				sbuf_put(b, "\\ufffd", 6);
				i = j + 1;
			}
			continue;
		}
		char esc[6] = { '\\', 0 };
		size_t el = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
			esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
			el = 6;
		}
		sbuf_put(b, esc, el);
		i = j + 1;
	}
}

void json_put_escaped(struct sbuf *b, const char *s, size_t n)
{
	/* Runs of plain ASCII copied whole and '"', '\\' escaped in place
	 * (room for 2n reserved: neither grows a byte by more); control
	 * bytes and runs of non-ASCII (whole UTF-8 sequences: every byte of
	 * one is >= 0x80) go the slow way, which grows b as it needs. */
	if (sbuf_reserve(b, 2 * n) < 0)
		return;
	char *p = b->p + b->len;
	for (size_t i = 0; i < n;) {
		size_t k = next_special(s, i, n) - i;
		memcpy(p, s + i, k);
		p += k;
		i += k;
		if (i == n)
			break;
		char c = s[i];
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = c;
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < n && (unsigned char)s[j] >= 0x80)
			j++;
		b->len = (size_t)(p - b->p);
		put_escaped_slow(b, s + i, j - i);
		if (sbuf_reserve(b, 2 * (n - j)) < 0)
			return;
		p = b->p + b->len;
		i = j;
	}
	b->len = (size_t)(p - b->p);
}

void json_put_string(struct sbuf *b, const char *s, size_t n)
{
	sbuf_putc(b, '"');
	json_put_escaped(b, s, n);
	sbuf_putc(b, '"');
}

void json_put_line(struct sbuf *b, const char *head, size_t hlen, const char *msg, size_t mlen, const char *tail,
		   size_t tlen)
{
	if (sbuf_reserve(b, hlen + mlen + tlen + 2) < 0)
		return;
	sbuf_put(b, head, hlen);
	json_put_string(b, msg, mlen);
	sbuf_put(b, tail, tlen);
}

size_t json_event_head(char *out, int64_t ms)
{
	memcpy(out, "{\"@timestamp\":\"", 15);
	size_t n = 15 + json_format_time(out + 15, ms);
	memcpy(out + n, "\",\"message\":", 12);
	return n + 12;
}

size_t json_format_time(char *out, int64_t ms)
{
	static __thread int64_t cached_sec = INT64_MIN;
	static __thread char cached[80];
	int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int frac = (int)(ms - sec * 1000);
	if (sec != cached_sec) {
		time_t t = (time_t)sec;
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		cached_sec = sec;
	}
	memcpy(out, cached, 20);
	out[20] = (char)('0' + frac / 100);
	out[21] = (char)('0' + frac / 10 % 10);
	out[22] = (char)('0' + frac % 10);
	out[23] = 'Z';
	out[24] = '\0';
	return 24;
}

/* --- reading ------------------------------------------------------------------ */

static int hex4(const char *p, const char *end, unsigned *v)
{
	if (end - p < 4)
		return -1;
	unsigned r = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		r <<= 4;
		if (c >= '0' && c <= '9')
			r |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			r |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			r |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*v = r;
	return 0;
}

int json_decode_u(const char *p, const char *end, char out[4], size_t *used)
{
	unsigned cp, lo;
	if (hex4(p, end, &cp) < 0)
		return -1;
	*used = 4;
	if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 10 && p[4] == '\\' && p[5] == 'u' &&
	    hex4(p + 6, end, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		*used = 10;
	} else if (cp >= 0xD800 && cp <= 0xDFFF) {
		cp = 0xFFFD;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}
