/* See json.h. The escaper copies runs of plain ASCII in one memcpy and
 * validates multi-byte UTF-8 by the table in RFC 3629 section 4 (no overlong
 * forms, no surrogates, nothing above U+10FFFF); anything else is one \ufffd
 * per offending byte, never dropped silently and never passed through raw. */
#include "common/json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

void json_put_escaped(struct sbuf *b, const char *str, size_t n)
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

void json_put_string(struct sbuf *b, const char *s, size_t n)
{
	sbuf_putc(b, '"');
	json_put_escaped(b, s, n);
	sbuf_putc(b, '"');
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
