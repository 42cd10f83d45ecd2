/* make bench: the filters alone, in process (no ring, no threads): events/s
 * and ns per event through `parse` (json) + `modify`, and through each of
 * parse json, parse logfmt, parse regex, grep, throttle, on ~200-byte
 * events like the ones stdin makes from JSON log lines, given as the filter
 * thread gets them (event_begin_line: head, raw line, tail). CPU time of this
 * thread (CLOCK_THREAD_CPUTIME_ID), best of 3: the machine is shared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/config.h"
#include "agent/event.h"
#include "agent/filter.h"
#include "common/logging.h"

static int N = 400000;   /* BENCH_FILTERS_N overrides (callgrind runs) */

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(const char *name, const char *filters, int logfmt)
{
	/* BENCH_FILTERS_CASE=name runs one case only (for perf). */
	const char *only = getenv("BENCH_FILTERS_CASE");
	if (only && strcmp(only, name) != 0)
		return;
	char text[4096];
	snprintf(text, sizeof(text), "data_dir: /tmp\ninputs:\n  - {type: stdin, name: in}\nfilters:\n%s", filters);
	struct agent_config *cfg;
	struct cfg_error err;
	if (agent_config_parse("bench.yaml", text, &cfg, &err) < 0) {
		printf("bench_filters %s: %s\n", name, err.msg);
		return;
	}
	struct filter *f[4] = { 0 };
	for (size_t i = 0; i < cfg->nfilters; i++)
		if (filter_instance_new(&cfg->filters[i], &f[i]) < 0)
			return;
	/* the events, as stdin hands them over */
	enum { K = 1024 };
	static struct sbuf evs[K];
	static const char head[] = "{\"@timestamp\":\"2026-11-25T10:00:00.000Z\",\"message\":";
	for (int i = 0; i < K; i++) {
		char line[512];
		if (logfmt)
			snprintf(line, sizeof(line), "level=info logger=http msg=\"GET /api/v1/items/%d 200\" user=u%d "
				 "latency_ms=%d", i, i % 100, i % 300);
		else
			snprintf(line, sizeof(line), "{\"level\":\"info\",\"logger\":\"http\",\"msg\":\"GET /api/v1/items/%d 200\","
				 "\"user\":\"u%d\",\"latency_ms\":%d,\"trace\":{\"id\":\"%016x\"}}", i, i % 100, i % 300,
				 (unsigned)i * 2654435761u);
		sbuf_reset(&evs[i]);
		sbuf_puts(&evs[i], line);
	}
	struct event ev = { 0 };
	/* BENCH_FILTERS_DUMP=1: the K output events, once, to stdout (to
	 * compare the outputs of two builds byte for byte) */
	if (getenv("BENCH_FILTERS_DUMP")) {
		for (int n = 0; n < K; n++) {
			event_begin_line(&ev, "in", NULL, 0, head, sizeof(head) - 1, evs[n].p, evs[n].len, "}", 1);
			int rc = 0;
			for (size_t i = 0; i < cfg->nfilters && rc == 0; i++)
				rc = filter_instance_apply(f[i], &ev);
			size_t len;
			const char *j = event_json(&ev, &len);
			printf("%s %d %.*s\n", name, rc, (int)len, j);
		}
	}
	double best = 1e9;
	size_t bytes = 0, kept = 0;
	for (int round = 0; round < 3; round++) {
		double t0 = cpu_now();
		kept = bytes = 0;
		for (int n = 0; n < N; n++) {
			struct sbuf *e = &evs[n % K];
			event_begin_line(&ev, "in", NULL, 0, head, sizeof(head) - 1, e->p, e->len, "}", 1);
			int rc = 0;
			for (size_t i = 0; i < cfg->nfilters && rc == 0; i++)
				rc = filter_instance_apply(f[i], &ev);
			size_t len;
			event_json(&ev, &len);   /* as the filter thread takes it */
			kept += rc == 0;
			bytes += len;
		}
		double t = cpu_now() - t0;
		if (t < best)
			best = t;
	}
	printf("bench_filters %s: %.0f events/s per core, %.0f ns per event (%.0f-byte events, %zu of %d kept)\n",
	       name, N / best, best * 1e9 / N, (double)bytes / N, kept, N);
	event_free(&ev);
	for (size_t i = 0; i < cfg->nfilters; i++)
		filter_instance_free(f[i]);
	agent_config_free(cfg);
}

int main(void)
{
	logging_set_level(LOG_LEVEL_ERROR);
	if (getenv("BENCH_FILTERS_N"))
		N = atoi(getenv("BENCH_FILTERS_N"));
	run("parse json + modify", "  - {type: parse, format: json}\n"
	    "  - {type: modify, rename: {msg: message}, set: {service.name: shop, service.environment: prod}, "
	    "remove: [logger]}\n", 0);
	run("parse json", "  - {type: parse, format: json}\n", 0);
	run("modify", "  - {type: modify, rename: {msg: message}, set: {service.name: shop, "
	    "service.environment: prod}, remove: [logger]}\n", 0);
	run("parse logfmt", "  - {type: parse, format: logfmt}\n", 1);
	run("parse regex", "  - {type: parse, format: regex, pattern: '^level=(?<level>\\S+) logger=(?<logger>\\S+) "
	    "msg=\"(?<msg>[^\"]*)\"'}\n", 1);
	run("grep", "  - {type: grep, include: {message: 'items/\\d+ 200'}, exclude: {message: healthz}}\n", 0);
	run("throttle", "  - {type: throttle, rate: 1000000000, key: '${kubernetes.pod.name}'}\n", 0);
	return 0;
}
