/* Container runtime timestamps and the CRI log format written by containerd
 * and CRI-O under /var/log/pods:
 *     2024-01-01T00:00:00.123456789Z stdout F the message
 * The tag is P for a piece of a line the runtime split (its buffer is 16 KiB)
 * and F for the last piece; the reader joins the P pieces to the F that ends
 * them (tail_file.c). A line that does not have this form is not CRI. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "inputs/tail/tail_parse.h"

static int digits(const char *s, size_t n, size_t at, int count, int *out)
{
	int v = 0;
	if (at + (size_t)count > n)
		return -EINVAL;
	for (int i = 0; i < count; i++) {
		char c = s[at + (size_t)i];
		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (c - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * algorithm): no timegm, no TZ environment, thread-safe. */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + doe - 719468;
}

int tail_parse_rfc3339(const char *s, size_t n, int64_t *ms)
{
	int Y, M, D, h, m, sec;
	if (n < 20 || digits(s, n, 0, 4, &Y) || s[4] != '-' || digits(s, n, 5, 2, &M) || s[7] != '-' ||
	    digits(s, n, 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s, n, 11, 2, &h) || s[13] != ':' || digits(s, n, 14, 2, &m) || s[16] != ':' ||
	    digits(s, n, 17, 2, &sec))
		return -EINVAL;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -EINVAL;
	size_t at = 19;
	int frac_ms = 0, nd = 0;
	if (at < n && s[at] == '.') {
		at++;
		while (at < n && s[at] >= '0' && s[at] <= '9') {
			if (nd < 3)
				frac_ms = frac_ms * 10 + (s[at] - '0');
			nd++;
			at++;
		}
		if (nd == 0)
			return -EINVAL;
		for (int k = nd; k < 3; k++)
			frac_ms *= 10;
	}
	int off_min = 0;
	if (at < n && (s[at] == 'Z' || s[at] == 'z')) {
		at++;
	} else if (at < n && (s[at] == '+' || s[at] == '-')) {
		int oh, om;
		if (digits(s, n, at + 1, 2, &oh) || at + 3 >= n || s[at + 3] != ':' ||
		    digits(s, n, at + 4, 2, &om))
			return -EINVAL;
		off_min = (oh * 60 + om) * (s[at] == '-' ? -1 : 1);
		at += 6;
	} else {
		return -EINVAL;
	}
	if (at != n)
		return -EINVAL;
	int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + (sec > 59 ? 59 : sec);
	*ms = (t - (int64_t)off_min * 60) * 1000 + frac_ms;
	return 0;
}

int tail_cri_parse(const char *line, size_t n, struct tail_rt_line *out)
{
	const char *sp1 = memchr(line, ' ', n);
	if (!sp1)
		return -EINVAL;
	int64_t ts;
	if (tail_parse_rfc3339(line, (size_t)(sp1 - line), &ts) < 0)
		return -EINVAL;
	const char *s = sp1 + 1, *end = line + n;
	int stream;
	if (end - s >= 7 && memcmp(s, "stdout ", 7) == 0)
		stream = TAIL_STREAM_STDOUT;
	else if (end - s >= 7 && memcmp(s, "stderr ", 7) == 0)
		stream = TAIL_STREAM_STDERR;
	else
		return -EINVAL;
	s += 7;
	/* The tag: P or F, possibly followed by ':'-separated extras (the CRI
	 * spec leaves room for more tags); the message follows one space. */
	if (s >= end || (*s != 'P' && *s != 'F'))
		return -EINVAL;
	int partial = *s == 'P';
	while (s < end && *s != ' ')
		s++;
	if (s < end)
		s++;  /* the space; an empty message may lack it */
	*out = (struct tail_rt_line){ .msg = s, .len = (size_t)(end - s), .ts_ms = ts, .stream = stream,
				      .partial = partial };
	return 0;
}
