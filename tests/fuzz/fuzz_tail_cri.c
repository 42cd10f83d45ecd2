/* libFuzzer target: the CRI (containerd / CRI-O) line parser, the RFC 3339
 * timestamp parser and the multiline presets over arbitrary bytes. The input
 * is cut into physical lines as the reader does (tail_file.c: '\n', a final
 * '\r' dropped), each line parsed as CRI and its message classified by every
 * multiline preset. Invariants: the message lies inside its line and ends
 * where the line does, the timestamp is the one of the first field, a
 * well-formed UTC time converts to the same calendar fields as gmtime, and
 * no line continues an event when there is none. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inputs/tail/tail_parse.h"

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int num(const char *s, int k)
{
	int v = 0;
	for (int i = 0; i < k; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* A time that parsed: when it is UTC ('Z') and a real calendar date without
 * a leap second, gmtime of the result must give back its fields. */
static void check_time(const char *s, size_t n, int64_t ms)
{
	if (s[n - 1] != 'Z' && s[n - 1] != 'z')
		return;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int Y = num(s, 4), M = num(s + 5, 2), D = num(s + 8, 2), h = num(s + 11, 2), m = num(s + 14, 2),
	    sec = num(s + 17, 2);
	if (sec > 59 || D > mdays[M - 1] + (M == 2 && leap(Y)))
		return;
	int64_t fl = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	if (ms - fl * 1000 < 0 || ms - fl * 1000 > 999)
		abort();
	time_t t = (time_t)fl;
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		abort();
	if (tm.tm_year + 1900 != Y || tm.tm_mon + 1 != M || tm.tm_mday != D || tm.tm_hour != h ||
	    tm.tm_min != m || tm.tm_sec != sec)
		abort();
}

static struct tail_ml_rules rules[4];

static void classify(struct tail_ml_state *st, int *have, const char *s, size_t n)
{
	/* The sanitizers' regexec interceptor checks strlen(string) + 1 bytes
	 * even with REG_STARTEND (glibc itself reads only [0, n)): the pattern
	 * rule gets a NUL-terminated copy, the presets the exact bytes. */
	char *z = malloc(n + 1);
	if (!z)
		abort();
	memcpy(z, s, n);
	z[n] = 0;
	for (int k = 0; k < 4; k++) {
		struct tail_ml_state next;
		int c = tail_ml_continues(&rules[k], &st[k], have[k], k == 3 ? z : s, n, &next);
		if (c != 0 && c != 1)
			abort();
		if (c && !have[k])
			abort();  /* nothing to continue */
		st[k] = next;
		have[k] = 1;
	}
	free(z);
}

static void line(const char *s, size_t n, struct tail_ml_state *st, int *have)
{
	struct tail_rt_line r;
	int64_t ts;
	if (tail_parse_rfc3339(s, n, &ts) == 0)
		check_time(s, n, ts);
	if (tail_cri_parse(s, n, &r) < 0) {
		classify(st, have, s, n);
		return;
	}
	if (r.msg < s || r.msg > s + n || r.len != (size_t)(s + n - r.msg))
		abort();
	if ((r.stream != TAIL_STREAM_STDOUT && r.stream != TAIL_STREAM_STDERR) ||
	    (r.partial != 0 && r.partial != 1))
		abort();
	const char *sp = memchr(s, ' ', n);
	if (!sp || tail_parse_rfc3339(s, (size_t)(sp - s), &ts) != 0 || ts != r.ts_ms)
		abort();
	check_time(s, (size_t)(sp - s), ts);
	classify(st, have, r.msg, r.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		char err[128];
		if (tail_ml_rules_init(&rules[0], TAIL_ML_JAVA, NULL, err, sizeof(err)) ||
		    tail_ml_rules_init(&rules[1], TAIL_ML_PYTHON, NULL, err, sizeof(err)) ||
		    tail_ml_rules_init(&rules[2], TAIL_ML_GO, NULL, err, sizeof(err)) ||
		    tail_ml_rules_init(&rules[3], TAIL_ML_PATTERN, "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]", err,
				       sizeof(err)))
			abort();
		init = 1;
	}
	struct tail_ml_state st[4] = { { 0 } };
	int have[4] = { 0 };
	/* The whole input as one line, then line by line, each in a buffer of
	 * exactly its size so that ASan sees any overread. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	line(buf, size, st, have);
	free(buf);
	memset(st, 0, sizeof(st));
	memset(have, 0, sizeof(have));
	const uint8_t *p = data, *end = data + size;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t m = nl && n && p[n - 1] == '\r' ? n - 1 : n;
		char *l = malloc(m ? m : 1);
		if (!l)
			return 0;
		memcpy(l, p, m);
		line(l, m, st, have);
		free(l);
		p += n + (nl != NULL);
	}
	return 0;
}
