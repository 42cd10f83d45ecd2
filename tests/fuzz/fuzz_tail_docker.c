/* libFuzzer target: the docker json-file line parser over arbitrary bytes,
 * with one scratch buffer reused across lines as the reader does. Each input
 * is tried as a line, then as the "log" value of a line built around it
 * (JSON-escaped, so that the parser must give every byte back).
 * Invariants: the message lies inside the scratch buffer, unescaping never
 * grows the text, partial is exactly "no final newline", and the built line
 * round-trips: parse(escape(x) + "\n") == x, less a final '\r'. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inputs/tail/tail_parse.h"

static struct sbuf scratch;  /* reused, as tail_file.c's t->scratch */

static void check(const char *line, size_t n, const struct tail_rt_line *r)
{
	if (scratch.len > n)
		abort();  /* every escape is longer than what it stands for */
	if (r->len > scratch.len || (r->len && r->msg != scratch.p))
		abort();
	if (r->stream < TAIL_STREAM_NONE || r->stream > TAIL_STREAM_STDERR)
		abort();
	size_t strip = scratch.len - r->len;
	if (r->partial ? strip != 0 || (scratch.len && scratch.p[scratch.len - 1] == '\n')
		       : strip < 1 || strip > 2 || scratch.p[scratch.len - 1] != '\n' ||
				 (strip == 2 && scratch.p[scratch.len - 2] != '\r'))
		abort();
	(void)line;
}

/* {"log":"<x escaped>[\n]","stream":"stderr","time":"..."} */
static char *build(const uint8_t *d, size_t n, int nl, size_t *outn)
{
	static const char head[] = "{\"log\":\"", tail[] = "\",\"stream\":\"stderr\",\"time\":\"2024-05-06T07:08:09.123456789Z\"}";
	char *b = malloc(sizeof(head) + 6 * n + 2 + sizeof(tail));
	if (!b)
		return NULL;
	size_t k = 0;
	memcpy(b, head, sizeof(head) - 1);
	k = sizeof(head) - 1;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = d[i];
		if (c == '"' || c == '\\') {
			b[k++] = '\\';
			b[k++] = (char)c;
		} else if (c == '\n') {
			b[k++] = '\\';
			b[k++] = 'n';
		} else if (c == '/' && (i & 1)) {
			b[k++] = '\\';  /* optional escape, either form */
			b[k++] = '/';
		} else if (c < 0x20 || c == 0x7f) {
			k += (size_t)snprintf(b + k, 7, "\\u%04X", c);
		} else {
			b[k++] = (char)c;
		}
	}
	if (nl) {
		b[k++] = '\\';
		b[k++] = 'n';
	}
	memcpy(b + k, tail, sizeof(tail) - 1);
	k += sizeof(tail) - 1;
	*outn = k;
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tail_rt_line r;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (tail_docker_parse(buf, size, &scratch, &r) == 0)
		check(buf, size, &r);
	free(buf);

	for (int nl = 1; nl >= 0; nl--) {
		size_t n;
		char *l = build(data, size, nl, &n);
		if (!l)
			return 0;
		if (tail_docker_parse(l, n, &scratch, &r) != 0)
			abort();  /* a well-formed line */
		check(l, n, &r);
		if (r.stream != TAIL_STREAM_STDERR || r.ts_ms != 1714979289123LL)
			abort();
		/* What the line carried: x, plus "\n" when nl. The parser drops
		 * a final "\n" (then the line is whole) and a "\r" before it. */
		size_t want = size;
		int partial = !nl;
		if (!nl && size && data[size - 1] == '\n') {
			want--;
			partial = 0;
		}
		if (!partial && want && data[want - 1] == '\r')
			want--;
		if (r.partial != partial || r.len != want || (want && memcmp(r.msg, data, want) != 0))
			abort();
		free(l);
	}
	return 0;
}
