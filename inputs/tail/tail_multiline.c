/* Multiline: which lines belong to the event before them. Either a POSIX
 * extended regex that matches the first line of every event (any other line
 * continues the event in progress), or a built-in preset that recognises the
 * continuation lines of a stack trace:
 *   java    indented frames ("\tat ...", "\t... 5 more"), "Caused by: ...",
 *           and the exception line "java.lang.IllegalStateException: boom";
 *   python  "Traceback (most recent call last):", its indented frames, the
 *           final "ValueError: ..." line, and chained tracebacks ("During
 *           handling of the above exception ...");
 *   go      "panic: ..." / "fatal error: ..." then goroutine dumps: blank
 *           lines, "goroutine N [running]:", frames, "\t/path.go:12 +0x1d",
 *           "created by ...", "exit status 2".
 * The joining itself (buffer, size cap, flush timeout) is the reader's
 * (tail_file.c); this file only classifies lines, without side effects. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "inputs/tail/tail_parse.h"

int tail_ml_rules_init(struct tail_ml_rules *r, enum tail_ml_mode mode, const char *pattern,
		       char *err, size_t errsz)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	if (mode != TAIL_ML_PATTERN)
		return 0;
	int rc = regcomp(&r->start, pattern ? pattern : "", REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		regerror(rc, &r->start, err, errsz);
		return -EINVAL;
	}
	r->compiled = 1;
	return 0;
}

void tail_ml_rules_free(struct tail_ml_rules *r)
{
	if (r->compiled)
		regfree(&r->start);
	r->compiled = 0;
}

static int starts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

static int indented(const char *s, size_t n)
{
	return n > 0 && (s[0] == ' ' || s[0] == '\t');
}

static int ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '$';
}

/* "a.b.FooException", "a.b.Foo$BarError: msg", "java.lang.Throwable". */
static int java_exception_line(const char *s, size_t n)
{
	size_t i = 0;
	int dots = 0;
	while (i < n && (ident_char(s[i]) || s[i] == '.')) {
		dots += s[i] == '.';
		i++;
	}
	if (i == 0 || !dots || (i < n && s[i] != ':'))
		return 0;
	static const char *const ends[] = { "Exception", "Error", "Throwable" };
	for (size_t k = 0; k < 3; k++) {
		size_t l = strlen(ends[k]);
		if (i >= l && memcmp(s + i - l, ends[k], l) == 0)
			return 1;
	}
	return 0;
}

static int java(int have, const char *s, size_t n)
{
	if (!have)
		return 0;
	return indented(s, n) || starts(s, n, "Caused by: ") || starts(s, n, "Suppressed: ") ||
	       java_exception_line(s, n);
}

/* in_trace: 1 inside a traceback's frames, 2 after its exception line. */
static int python(int have, const struct tail_ml_state *st, const char *s, size_t n,
		  struct tail_ml_state *next)
{
	if (starts(s, n, "Traceback (most recent call last):")) {
		next->in_trace = 1;
		return have;
	}
	if (st->in_trace == 1) {
		if (indented(s, n))
			return have;
		next->in_trace = 2;  /* the exception line ends the frames */
		return have;
	}
	if (st->in_trace == 2) {
		if (n == 0)
			return have;
		if (starts(s, n, "During handling of the above exception") ||
		    starts(s, n, "The above exception was the direct cause")) {
			next->in_trace = 2;
			return have;
		}
	}
	next->in_trace = 0;
	return 0;
}

static int go_frame(const char *s, size_t n)
{
	/* "main.main()", "main.f(0x1, ...)", "panic({0x4a2f40, 0xc000012345})" */
	return n >= 3 && s[n - 1] == ')' && memchr(s, '(', n) != NULL && s[0] != ' ';
}

static int go(int have, const struct tail_ml_state *st, const char *s, size_t n,
	      struct tail_ml_state *next)
{
	if (starts(s, n, "panic: ") || starts(s, n, "fatal error: ")) {
		next->in_trace = 1;
		return have && st->in_trace;  /* a nested panic continues, a new one starts */
	}
	if (st->in_trace && (n == 0 || indented(s, n) || starts(s, n, "goroutine ") ||
			     starts(s, n, "created by ") || starts(s, n, "[signal ") ||
			     starts(s, n, "exit status ") || starts(s, n, "...additional frames") ||
			     go_frame(s, n))) {
		next->in_trace = 1;
		return have;
	}
	next->in_trace = 0;
	return 0;
}

int tail_ml_continues(const struct tail_ml_rules *r, const struct tail_ml_state *st, int have_event,
		      const char *line, size_t n, struct tail_ml_state *next)
{
	*next = *st;
	switch (r->mode) {
	case TAIL_ML_PATTERN: {
		regmatch_t m = { .rm_so = 0, .rm_eo = (regoff_t)n };
		int match = regexec(&r->start, line, 1, &m, REG_STARTEND) == 0;
		return have_event && !match;
	}
	case TAIL_ML_JAVA:
		return java(have_event, line, n);
	case TAIL_ML_PYTHON:
		return python(have_event, st, line, n, next);
	case TAIL_ML_GO:
		return go(have_event, st, line, n, next);
	default:
		return 0;
	}
}
