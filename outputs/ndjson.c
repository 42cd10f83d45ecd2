/* See ndjson.h. */
#include "outputs/ndjson.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int ndjson_write_all(int fd, const char *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		done += (size_t)w;
	}
	return 0;
}

void ndjson_line(struct sbuf *b, const struct out_record *r)
{
	const char *v = r->value_len > 0 ? r->value : "null";
	size_t n = r->value_len > 0 ? (size_t)r->value_len : 4;
	if (sbuf_reserve(b, n + 1) < 0)
		return;  /* b->err is set: the caller reports it */
	memcpy(b->p + b->len, v, n);  /* one reserve and one copy per line */
	b->p[b->len + n] = '\n';
	b->len += n + 1;
}
