/* The JSON string scanners shared by agent/event.c and common/json_path.c:
 * blanks, the end of a string (16 bytes a step with SSE2, else eight), and
 * its decoding (eight bytes a step).
 * Header-only, so that each scanner's loops inline the small ones: they
 * are where the time of reading an event's fields goes. The three larger
 * ones are plain static (marked unused for includers that need only some):
 * inlining them everywhere measured slower. Bounded: no function reads at
 * or past `end`. */
#ifndef LOGSHIP_COMMON_JSON_SCAN_H
#define LOGSHIP_COMMON_JSON_SCAN_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "common/json.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline const char *ws(const char *p, const char *end)
{
	if (__builtin_expect(p < end && (unsigned char)*p > ' ', 1))
		return p;   /* the usual: compact JSON has no blanks */
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Eight bytes at a time: which bytes of x are '"' or '\\' (or, for
 * special_ctl_mask, also below 0x20), as the high bit of each byte. The
 * classic "has zero byte" test on x xor the byte searched for. Strings are
 * most of an event's bytes, so this is where scanning time goes. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
static inline uint64_t has_zero(uint64_t v)
{
	return (v - ONES) & ~v & HIGHS;
}

static inline uint64_t load8(const char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	return x;
}

/* The offset of the first special byte in the word at p (the lowest flag:
 * the borrows of the tests above only run upward, so the lowest flagged
 * byte is a true one), given a non-zero mask. Byte order: the word is
 * loaded little-endian on the machines we build for; elsewhere the byte
 * loops below do the work. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR_POS 1
static inline uint64_t special_mask(uint64_t x)
{
	return has_zero(x ^ (ONES * '"')) | has_zero(x ^ (ONES * '\\'));
}
static inline uint64_t special_ctl_mask(uint64_t x)
{
	return special_mask(x) | ((x - ONES * 0x20) & ~x & HIGHS);
}
static inline size_t first_flag(uint64_t m)
{
	return (size_t)__builtin_ctzll(m) >> 3;
}
#else
#define SWAR_POS 0
#endif

/* The first '"' or '\\' (with ctl, or byte below 0x20) in [p, end), or end.
 * Always inlined with a constant ctl: each scanner gets its own loop. */
static inline __attribute__((always_inline)) const char *next_special(const char *p, const char *end, int ctl)
{
#if defined(__SSE2__)
	/* 16 bytes a step where SSE2 is (every x86-64): a byte below 0x20 is
	 * one whose saturating subtraction of 0x1f leaves 0 */
	while (end - p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)p);
		__m128i m = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
		if (ctl)
			m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_subs_epu8(x, _mm_set1_epi8(0x1f)), _mm_setzero_si128()));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		if (bits)
			return p + __builtin_ctz(bits);
		p += 16;
	}
#endif
#if SWAR_POS
	while (end - p >= 8) {
		uint64_t x = load8(p);
		uint64_t m = ctl ? special_ctl_mask(x) : special_mask(x);
		if (m)
			return p + first_flag(m);
		p += 8;
	}
#endif
	while (p < end && *p != '"' && *p != '\\' && (!ctl || (unsigned char)*p >= 0x20))
		p++;
	return p;
}

/* p at an opening quote: the position after the closing one, or NULL.
 * *esc tells whether the string holds a backslash. It jumps from one '"'
 * or '\\' to the next, eight bytes a step: escape-dense text (JSON inside
 * a string) costs a few instructions per escape, not per byte. (Resolving
 * every backslash of a word from exact bit masks at once measured slower
 * on such text: the masks cost more than the jumps they save.) */
static __attribute__((unused)) const char *str_end(const char *p, const char *end, int *esc)
{
	int e = 0;
	for (p++;;) {
		p = next_special(p, end, 0);
		if (p >= end)
			return NULL;
		if (*p == '"') {
			if (esc)
				*esc = e;
			return p + 1;
		}
		e = 1;
		if (end - p < 2)
			return NULL;
		p += 2;   /* the escaped byte cannot end the string */
	}
}

/* The character a one-letter JSON escape stands for; 0 if none. */
static const char esc_tab[256] = {
	['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
	['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

static inline char esc_char(char c)
{
	return esc_tab[(unsigned char)c];
}

/* Decodes the JSON string body at p (after the opening quote) up to its
 * closing quote into out (at most cap bytes written); returns the decoded
 * length, or -1 if malformed. The decoded text is never longer than the raw. */
static ssize_t unescape_end(const char *p, const char *end, char *out, size_t cap, const char **qend);

static __attribute__((unused)) ssize_t unescape(const char *p, const char *end, char *out, size_t cap)
{
	const char *qe;
	return unescape_end(p, end, out, cap, &qe);
}

/* unescape, telling where the string ends (after its closing quote). */
static __attribute__((unused)) ssize_t unescape_end(const char *p, const char *end, char *out, size_t cap, const char **qend)
{
	size_t n = 0;
	for (;;) {
#if SWAR_POS
		/* eight plain bytes at a time while they fit; the word is
		 * stored whole, and the count moves past its plain part */
		while (end - p >= 8 && n + 8 <= cap) {
			uint64_t x = load8(p);
			uint64_t m = special_mask(x);
			memcpy(out + n, &x, 8);
			if (m) {
				size_t k = first_flag(m);
				p += k;
				n += k;
				goto special;
			}
			p += 8;
			n += 8;
		}
#endif
		while (p < end && *p != '"' && *p != '\\') {
			if (n < cap)
				out[n] = *p;
			n++;
			p++;
		}
		if (p >= end)
			return -1;
#if SWAR_POS
special:
#endif
		if (*p == '"') {
			*qend = p + 1;
			return (ssize_t)n;
		}
		if (++p >= end)
			return -1;
		char c = *p++;
		char e = esc_char(c);
		if (e) {
			if (n < cap)
				out[n] = e;
			n++;
			continue;
		}
		char u[4];
		size_t used;
		int r = c == 'u' ? json_decode_u(p, end, u, &used) : -1;
		if (r < 0)
			return -1;
		p += used;
		for (int i = 0; i < r; i++, n++)
			if (n < cap)
				out[n] = u[i];
	}
}

#endif
