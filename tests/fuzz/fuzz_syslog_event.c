/* libFuzzer target: syslog message -> ECS event (syslog_event.c) over
 * arbitrary bytes, in every parse mode, with and without event.original.
 * Differential: the event's "message" must be exactly what common/json.c's
 * json_put_string makes of the parsed message (the SSE2 escaper and the
 * reference escaper agree byte for byte). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/sbuf.h"
#include "inputs/syslog/syslog_event.h"
#include "inputs/syslog/syslog_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct sbuf ev = { 0 }, want = { 0 };
	for (int mode = 0; mode < 3; mode++) {
		struct syslog_msg m;
		syslog_parse(buf, size, (enum syslog_mode)mode, 1795521600LL * 1000000000LL, &m);
		struct syslog_event_in e = { .m = &m, .raw = buf, .raw_len = size, .truncated = mode == 1,
					     .recv_ms = 1795521600000LL, .keep_original = mode == 2,
					     .extra = ",\"source\":{\"ip\":\"::1\",\"port\":1}", .extra_len = 31 };
		syslog_event_build(&ev, &e);
		if (ev.err)
			abort();
		sbuf_reset(&want);
		sbuf_puts(&want, ",\"message\":");
		json_put_string(&want, m.msg.p, m.msg.len);
		/* {"@timestamp":"<24>", then the message */
		if (ev.len < 15 + 24 + 1 + want.len || memcmp(ev.p + 40, want.p, want.len) != 0)
			abort();
		if (ev.p[ev.len - 1] != '}')
			abort();
	}
	sbuf_free(&ev);
	sbuf_free(&want);
	free(buf);
	return 0;
}
