/* Output `stdout`: every event as one line of NDJSON on standard output, for
 * debugging and for piping into other tools. A failed write (a closed pipe)
 * is retried with backoff like any destination; the events wait in the ring. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outputs/ndjson.h"

struct sout {
	struct output *out;
	struct sbuf buf;
};

static const struct cfg_key stdout_keys[] = { { .name = NULL } };

static int stdout_init(struct output *out, const void *conf, void **state)
{
	(void)conf;
	struct sout *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->out = out;
	*state = s;
	return 0;
}

static int stdout_send(void *state, struct out_record *recs, size_t n)
{
	struct sout *s = state;
	size_t first = 0;
	for (size_t i = 0; i < n; i++) {
		ndjson_line(&s->buf, &recs[i]);
		if (s->buf.len >= NDJSON_CHUNK || i + 1 == n) {
			if (s->buf.err)
				return s->buf.err;
			int rc = ndjson_write_all(STDOUT_FILENO, s->buf.p, s->buf.len);
			sbuf_reset(&s->buf);
			if (rc < 0) {
				output_error(s->out, "cannot write to standard output: %s", strerror(-rc));
				return rc;
			}
			for (; first <= i; first++)
				recs[first].status = OUT_OK;
		}
	}
	return 0;
}

static void stdout_destroy(void *state)
{
	struct sout *s = state;
	sbuf_free(&s->buf);
	free(s);
}

const struct output_module stdout_output = {
	.type = "stdout",
	.doc = "Every event as one line of NDJSON on standard output (debugging, pipes).",
	.keys = stdout_keys,
	.conf_size = 0,
	.init = stdout_init,
	.send = stdout_send,
	.destroy = stdout_destroy,
};
