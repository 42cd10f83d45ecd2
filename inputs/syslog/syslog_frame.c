/* RFC 6587 framing; see syslog_frame.h.
 *
 * Invariant: buf[start..len) holds bytes received and not yet handed out.
 * next() hands out views into buf and moves start past them; space() compacts
 * (moves the unconsumed bytes to the front) before the caller reads more, which
 * is why a message stays valid only until the next space()/next() call.
 * cap = max_msg + PREFIX_MAX + a little, so a whole octet-counted frame of the
 * largest allowed size always fits: a full buffer with no complete message is
 * only possible for LF framing, where it means "too long: cut". */
#include "inputs/syslog/syslog_frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX_MAX 12  /* "99999999999 ": counts are bounded by max_msg anyway */

int syslog_framer_init(struct syslog_framer *f, size_t max_msg)
{
	memset(f, 0, sizeof(*f));
	f->max_msg = max_msg;
	f->cap = max_msg + PREFIX_MAX + 4;
	f->buf = malloc(f->cap);
	return f->buf ? 0 : -ENOMEM;
}

void syslog_framer_free(struct syslog_framer *f)
{
	free(f->buf);
	f->buf = NULL;
}

char *syslog_framer_space(struct syslog_framer *f, size_t *room)
{
	if (f->start) {
		memmove(f->buf, f->buf + f->start, f->len - f->start);
		f->len -= f->start;
		f->start = 0;
	}
	*room = f->cap - f->len;
	return f->buf + f->len;
}

void syslog_framer_commit(struct syslog_framer *f, size_t n)
{
	f->len += n;
}

int syslog_framer_next(struct syslog_framer *f, const char **msg, size_t *len, int *truncated)
{
	*truncated = 0;
	if (f->error)
		return -EPROTO;
	if (f->skipping) {
		/* The tail of an over-long LF message: thrown away up to its LF. */
		char *nl = memchr(f->buf + f->start, '\n', f->len - f->start);
		if (!nl) {
			f->start = f->len;
			return 0;
		}
		f->start = (size_t)(nl - f->buf) + 1;
		f->skipping = 0;
	}
	/* Blank lines between messages: keep-alives, CRLF and NUL leftovers. */
	while (f->start < f->len &&
	       (f->buf[f->start] == '\n' || f->buf[f->start] == '\r' || f->buf[f->start] == '\0'))
		f->start++;
	char *p = f->buf + f->start;
	size_t avail = f->len - f->start;
	if (avail == 0)
		return 0;
	if (p[0] >= '1' && p[0] <= '9') {
		/* Octet counting: MSG-LEN = NONZERO-DIGIT *DIGIT, then SP, then MSG. */
		size_t i = 0;
		uint64_t n = 0;
		while (i < avail && i < PREFIX_MAX && p[i] >= '0' && p[i] <= '9')
			n = n * 10 + (uint64_t)(p[i++] - '0');
		if (i == avail && i < PREFIX_MAX)
			return 0;  /* the count is not complete yet */
		if (i >= PREFIX_MAX) {
			f->error = "octet count larger than the maximum message size";
			return -EPROTO;
		}
		if (p[i] != ' ') {
			f->error = "octet count not followed by a space";
			return -EPROTO;
		}
		if (n > f->max_msg) {
			f->error = "octet count larger than the maximum message size";
			return -EPROTO;
		}
		if (avail - i - 1 < n)
			return 0;  /* wait for the rest: it fits, see cap */
		f->last = SYSLOG_FRAMING_OCTET;
		*msg = p + i + 1;
		*len = (size_t)n;
		f->start += i + 1 + (size_t)n;
		return 1;
	}
	char *nl = memchr(p, '\n', avail);
	if (!nl) {
		if (avail < f->max_msg)
			return 0;
		/* Longer than allowed with no end in sight: cut here, skip the rest. */
		f->last = SYSLOG_FRAMING_LF;
		f->truncated++;
		*truncated = 1;
		*msg = p;
		*len = f->max_msg;
		f->start += f->max_msg;
		f->skipping = 1;
		return 1;
	}
	size_t n = (size_t)(nl - p);
	f->last = SYSLOG_FRAMING_LF;
	*msg = p;
	*len = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
	if (*len > f->max_msg) {
		*len = f->max_msg;
		*truncated = 1;
		f->truncated++;
	}
	f->start += n + 1;
	return 1;
}

int syslog_framer_flush(struct syslog_framer *f, const char **msg, size_t *len)
{
	if (f->error || f->skipping || f->start >= f->len)
		return 0;
	/* Only an LF-framed tail can be complete without its terminator. */
	char *p = f->buf + f->start;
	if (p[0] >= '1' && p[0] <= '9') {
		size_t i = 0;
		while (f->start + i < f->len && p[i] >= '0' && p[i] <= '9')
			i++;
		if (f->start + i < f->len && p[i] == ' ')
			return 0;  /* a torn octet-counted frame: its sender died mid-way */
	}
	*msg = p;
	*len = f->len - f->start;
	if (*len > f->max_msg)
		*len = f->max_msg;
	f->start = f->len;
	return 1;
}
