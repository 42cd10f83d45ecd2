/* libFuzzer target: the syslog parsers (both modes and auto) and the
 * structured-data walker over arbitrary bytes. Every view the parser hands out
 * must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inputs/syslog/syslog_parse.h"

static void inside(const uint8_t *d, size_t n, struct syslog_str s)
{
	if (s.len && ((const uint8_t *)s.p < d || (const uint8_t *)s.p + s.len > d + n))
		abort();
}

static void nop_elem(void *a, struct syslog_str id) { (void)a; (void)id; }
static void nop_param(void *a, struct syslog_str k, struct syslog_str v)
{
	char buf[4096];
	(void)a;
	(void)k;
	if (v.len <= sizeof(buf))
		syslog_sd_unescape(v, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly `size` bytes so that ASan sees any overread. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (int mode = 0; mode < 3; mode++) {
		struct syslog_msg m;
		syslog_parse(buf, size, (enum syslog_mode)mode, 1795521600LL * 1000000000LL, &m);
		const uint8_t *d = (const uint8_t *)buf;
		inside(d, size, m.hostname);
		inside(d, size, m.appname);
		inside(d, size, m.procid);
		inside(d, size, m.msgid);
		inside(d, size, m.structured_data);
		inside(d, size, m.msg);
		struct syslog_sd_visitor v = { nop_elem, nop_param, NULL };
		if (m.structured_data.len && syslog_sd_walk(m.structured_data, &v) != 0)
			abort();  /* the parser validated it: the walker must agree */
	}
	free(buf);
	return 0;
}
