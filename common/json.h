/* Writing JSON: strings escaped per RFC 8259 with invalid UTF-8 made safe,
 * and the ECS timestamp format. Shared by every input that builds events and
 * by the status endpoint. Writing only: the agent never parses its events on
 * the hot path. */
#ifndef LOGSHIP_COMMON_JSON_H
#define LOGSHIP_COMMON_JSON_H
#include <stddef.h>
#include <stdint.h>

#include "common/sbuf.h"

/* Appends s[0..n) as a quoted JSON string. '"', '\\' and control characters
 * are escaped (\n \r \t \b \f, else \u00XX); valid UTF-8 is copied as is;
 * every byte that is not part of a valid UTF-8 sequence (stray continuation
 * bytes, overlong forms, surrogates, > U+10FFFF, truncated sequences) becomes
 * \ufffd, so the output is always valid JSON and valid UTF-8. */
void json_put_string(struct sbuf *b, const char *s, size_t n);
/* The same, without the surrounding quotes. */
void json_put_escaped(struct sbuf *b, const char *s, size_t n);
/* 1 if s[0..n) is valid UTF-8 (as json_put_string judges it: such text
 * comes back byte for byte from its escaped form), else 0; and then, if
 * ctl is not NULL, *ctl tells whether s holds a byte below 0x20 (found in
 * the same pass). */
int json_utf8_check(const char *s, size_t n, int *ctl);

/* The head of a line input's ECS event, up to its message's value:
 * {"@timestamp":"<ms as json_format_time>","message": into out[64]; returns
 * the length (what input_emit_line takes as head). */
size_t json_event_head(char *out, int64_t ms);
/* Appends a line event's text: head, the JSON string of msg[0..mlen), tail
 * (b->err set out of memory). */
void json_put_line(struct sbuf *b, const char *head, size_t hlen, const char *msg, size_t mlen, const char *tail,
		   size_t tlen);
/* "2026-11-24T23:41:07.123Z" (24 characters, no quotes) into out[32];
 * returns the length. Caches the calendar part per second, per thread. */
size_t json_format_time(char *out, int64_t ms);

/* Reading: the "\uXXXX" escape, shared by every JSON reader here. p points
 * just after "\u" and end bounds it. Decodes the four hex digits, and for a
 * high surrogate a following "\uDC00".."\uDFFF" low one, into UTF-8 in out;
 * a lone surrogate becomes U+FFFD. Returns the UTF-8 length (1-4) and sets
 * *used to the input bytes consumed (4, or 10 with a pair); -1 if the four
 * digits are not there or not hex. */
int json_decode_u(const char *p, const char *end, char out[4], size_t *used);

#endif
