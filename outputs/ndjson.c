/* See ndjson.h. */
#include "outputs/ndjson.h"

#include <errno.h>
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
	if (r->value_len > 0)
		sbuf_put(b, r->value, (size_t)r->value_len);
	else
		sbuf_puts(b, "null");
	sbuf_putc(b, '\n');
}
