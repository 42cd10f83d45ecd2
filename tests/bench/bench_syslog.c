/* bench_syslog: the syslog input's CPU path without sockets or the ring:
 * framing, parsing and ECS event building, per message, for RFC 5424 and
 * RFC 3164 messages of the size the load generator sends. The end-to-end
 * figures (TCP and UDP into the agent's ring, beside rsyslog) come from
 * syslog_bench.py. Prints "name: figure unit". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sbuf.h"
#include "inputs/syslog/syslog_event.h"
#include "inputs/syslog/syslog_frame.h"
#include "inputs/syslog/syslog_parse.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run(const char *name, const char *msg, int iters)
{
	size_t len = strlen(msg);
	/* one stream of octet-counted frames */
	size_t per = len + 8, nframes = 4096;
	char *stream = malloc(per * nframes);
	size_t slen = 0;
	for (size_t i = 0; i < nframes; i++)
		slen += (size_t)sprintf(stream + slen, "%zu %s", len, msg);
	struct syslog_framer f;
	struct sbuf ev = { 0 };
	syslog_framer_init(&f, 65536);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	double t0 = now_s(), tparse = 0, tbuild = 0;
	uint64_t n = 0, bytes = 0;
	for (int it = 0; it < iters; it++) {
		size_t off = 0;
		while (off < slen) {
			size_t room;
			char *p = syslog_framer_space(&f, &room);
			size_t k = slen - off < room ? slen - off : room;
			memcpy(p, stream + off, k);
			syslog_framer_commit(&f, k);
			off += k;
			const char *m;
			size_t ml;
			int tr;
			while (syslog_framer_next(&f, &m, &ml, &tr) == 1) {
				struct syslog_msg sm;
				syslog_parse(m, ml, SYSLOG_MODE_AUTO, now_ns, &sm);
				struct syslog_event_in e = { .m = &sm, .raw = m, .raw_len = ml, .recv_ms = now_ns / 1000000,
							     .extra = ",\"source\":{\"ip\":\"127.0.0.1\",\"port\":51234}",
							     .extra_len = 41 };
				syslog_event_build(&ev, &e);
				bytes += ev.len;
				n++;
			}
		}
	}
	double total = now_s() - t0;
	/* parse alone */
	struct syslog_msg sm;
	t0 = now_s();
	for (uint64_t i = 0; i < n; i++)
		syslog_parse(msg, len, SYSLOG_MODE_AUTO, now_ns, &sm);
	tparse = now_s() - t0;
	struct syslog_event_in e = { .m = &sm, .raw = msg, .raw_len = len, .recv_ms = now_ns / 1000000 };
	t0 = now_s();
	for (uint64_t i = 0; i < n; i++)
		syslog_event_build(&ev, &e);
	tbuild = now_s() - t0;
	printf("syslog_%s_frame_parse_build: %.0f ns/msg (%.2f M msgs/s on one core, %.0f bytes/event)\n", name,
	       total / (double)n * 1e9, (double)n / total / 1e6, (double)bytes / (double)n);
	printf("syslog_%s_parse: %.0f ns/msg\n", name, tparse / (double)n * 1e9);
	printf("syslog_%s_build: %.0f ns/msg\n", name, tbuild / (double)n * 1e9);
	syslog_framer_free(&f);
	sbuf_free(&ev);
	free(stream);
}

int main(void)
{
	run("rfc5424",
	    "<134>1 2026-11-25T11:00:00.123456Z host01.example.com loadgen 4242 ID47 - seq=0000000001 "
	    "lorem ipsum dolor sit amet, consectetur adipiscing elit lorem ipsum dolor sit amet, consectetur adip",
	    250);
	run("rfc3164",
	    "<134>Nov 25 11:00:00 host01.example.com loadgen[4242]: seq=0000000001 lorem ipsum dolor sit amet, "
	    "consectetur adipiscing elit lorem ipsum dolor sit amet, consectetur adipiscing elit lorem ipsum dol",
	    250);
	return 0;
}
