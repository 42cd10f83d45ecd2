/* libFuzzer target: the RFC 6587 framer over arbitrary streams, fed in chunks
 * whose sizes come from the input itself. Messages must lie inside the
 * framer's buffer and never exceed max_msg; the buffer never grows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inputs/syslog/syslog_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct syslog_framer f;
	if (size < 1 || syslog_framer_init(&f, 1 + data[0] % 128) != 0)
		return 0;
	size_t cap = f.cap, off = 1;
	while (off < size) {
		size_t room, chunk = 1 + data[off] % 64;
		char *dst = syslog_framer_space(&f, &room);
		if (chunk > room)
			chunk = room;
		if (chunk > size - off)
			chunk = size - off;
		memcpy(dst, data + off, chunk);
		syslog_framer_commit(&f, chunk);
		off += chunk;
		const char *m;
		size_t len;
		int t, r;
		while ((r = syslog_framer_next(&f, &m, &len, &t)) == 1)
			if (len > f.max_msg || m < f.buf || m + len > f.buf + f.cap)
				abort();
		if (r < 0)
			break;
	}
	const char *m;
	size_t len;
	if (syslog_framer_flush(&f, &m, &len) && len > f.max_msg)
		abort();
	if (f.cap != cap)
		abort();
	syslog_framer_free(&f);
	return 0;
}
