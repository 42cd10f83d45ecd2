/* libFuzzer target: journal entry -> ECS event (journald_event.c). The input
 * is split at LF into NAME=value fields (a line without '=' is a name with an
 * empty value); repeated names, binary values and odd PRIORITY values all come
 * up. The event must end its object and never be empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sbuf.h"
#include "inputs/journald/journald_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct jd_field *f = calloc(size + 1, sizeof(*f));
	if (!buf || !f) {
		free(buf);
		free(f);
		return 0;
	}
	memcpy(buf, data, size);
	size_t n = 0, i = 0;
	while (i < size) {
		char *line = buf + i;
		char *nl = memchr(line, '\n', size - i);
		size_t len = nl ? (size_t)(nl - line) : size - i;
		char *eq = memchr(line, '=', len);
		size_t nlen = eq ? (size_t)(eq - line) : len;
		f[n++] = (struct jd_field){ line, nlen, eq ? eq + 1 : line + len, eq ? len - nlen - 1 : 0 };
		i += len + 1;
	}
	struct sbuf b = { 0 };
	jd_event_build(&b, f, n, (uint64_t)size * 1000003u);
	if (b.err || b.len < 2 || b.p[b.len - 1] != '}')
		abort();
	sbuf_free(&b);
	free(buf);
	free(f);
	return 0;
}
