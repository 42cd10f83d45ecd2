/* make bench, storage engine: CRC-32C (hardware and software), log appends
 * of 100-byte records in 256 KiB batches under fsync interval and always,
 * sequential reads from the page cache, and the disk's raw sequential write
 * bandwidth measured beside them (dd ... conv=fdatasync of the same size), so
 * the append figure is read as a fraction of what the disk can do.
 * Prints figures; asserts nothing. BENCH_DIR: scratch directory on the disk
 * to measure (default /var/tmp); BENCH_MB: data size (default 1024). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "buffer/batch.h"
#include "buffer/crc32c.h"
#include "buffer/log.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void bench_crc(void)
{
	size_t n = 64 << 20;
	uint8_t *b = malloc(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 2654435761u >> 13);
	uint32_t c = 0;
	if (crc32c_hw_available()) {
		double t = now();
		for (int i = 0; i < 16; i++)
			c = crc32c_hw(c, b, n);
		printf("crc32c hardware (SSE4.2): %.1f GiB/s   (target >= 8)\n", 16.0 * (double)n / (now() - t) / (1 << 30));
	} else {
		printf("crc32c hardware: not available on this CPU\n");
	}
	double t = now();
	for (int i = 0; i < 2; i++)
		c = crc32c_sw(c, b, n);
	printf("crc32c software (slicing-by-8): %.2f GiB/s  (%08x)\n", 2.0 * (double)n / (now() - t) / (1 << 30), c);
	free(b);
}

/* One 256 KiB batch of 100-byte records, built once and appended again and
 * again (the log rewrites only its base offset). */
static uint8_t *make_batch(size_t *len, int *records)
{
	struct batch_builder b;
	batch_builder_init(&b, BATCH_COMPRESSION_NONE);
	char v[100];
	memset(v, 'x', sizeof(v));
	int n = 0;
	while (batch_builder_size(&b) + 110 < 256 * 1024) {
		batch_builder_add(&b, 1700000000000LL + n, NULL, 0, v, sizeof(v), NULL, 0);
		n++;
	}
	const uint8_t *p;
	batch_builder_finish(&b, &p, len);
	uint8_t *out = malloc(*len);
	memcpy(out, p, *len);
	batch_builder_free(&b);
	*records = n;
	return out;
}

static double bench_append(const char *dir, enum log_fsync fs, size_t total, const char *name)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 0;
	struct log_config c;
	log_config_defaults(&c);
	c.fsync = fs;
	c.segment_bytes = 256 << 20;
	struct log *l;
	if (log_open(dir, &c, &l) < 0) {
		printf("append %s: cannot open %s\n", name, dir);
		return 0;
	}
	size_t len;
	int records;
	uint8_t *b = make_batch(&len, &records);
	size_t n = total / len;
	double t = now(), c0 = cpu();
	for (size_t i = 0; i < n; i++) {
		int64_t base;
		if (log_append(l, b, len, &base) < 0) {
			printf("append %s: failed\n", name);
			break;
		}
	}
	log_sync(l);  /* count the time to make it all durable */
	double dt = now() - t, dc = cpu() - c0;
	struct log_stats st;
	log_get_stats(l, &st);
	double mib = (double)(n * len) / (1 << 20);
	printf("append fsync=%-8s %8.0f MiB/s %8.0f batches/s %10.0f records/s  (%" PRIu64 " fdatasyncs, CPU %.2f s/GiB)\n",
	       name, mib / dt, (double)n / dt, (double)n * records / dt, st.syncs, dc / (mib / 1024));
	log_close(l);
	free(b);
	return mib / dt;
}

static void bench_read(const char *dir)
{
	struct log_config c;
	log_config_defaults(&c);
	c.fsync = LOG_FSYNC_NEVER;
	struct log *l;
	if (log_open(dir, &c, &l) < 0)
		return;
	struct log_buf buf = { 0 };
	int64_t next;
	size_t bytes = 0;
	/* Twice: the first pass may fault pages in; report the second. */
	double t = 0, c0 = 0;
	for (int pass = 0; pass < 2; pass++) {
		bytes = 0;
		t = now();
		c0 = cpu();
		int64_t off = log_start_offset(l);
		ssize_t r;
		while ((r = log_read(l, off, 4 << 20, &buf, &next)) > 0) {
			bytes += (size_t)r;
			off = next;
		}
	}
	double dt = now() - t;
	printf("read (page cache, CRC checked) %6.2f GiB/s   (target >= 2; CPU %.2f s/GiB)\n",
	       (double)bytes / dt / (1 << 30), (cpu() - c0) / ((double)bytes / (1 << 30)));
	log_buf_free(&buf);
	log_close(l);
}

static double bench_dd(const char *dir, size_t total)
{
	char cmd[4300];
	snprintf(cmd, sizeof(cmd),
		 "dd if=/dev/zero of='%s/dd.bin' bs=1M count=%zu conv=fdatasync 2>/dev/null; rm -f '%s/dd.bin'",
		 dir, total >> 20, dir);
	double t = now();
	if (system(cmd) != 0)
		return 0;
	double mib = (double)total / (1 << 20), r = mib / (now() - t);
	printf("raw disk (dd conv=fdatasync)  %8.0f MiB/s\n", r);
	return r;
}

int main(void)
{
	const char *base = getenv("BENCH_DIR");
	const char *mb = getenv("BENCH_MB");
	size_t total = (size_t)(mb ? atol(mb) : 1024) << 20;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/bench-log", base && *base ? base : "/var/tmp");
	printf("bench_buffer: %zu MiB per run in %s\n", total >> 20, dir);
	bench_crc();
	double raw = bench_dd(base && *base ? base : "/var/tmp", total);
	double iv = bench_append(dir, LOG_FSYNC_INTERVAL, total, "interval");
	bench_read(dir);
	double al = bench_append(dir, LOG_FSYNC_ALWAYS, total / 4, "always");
	if (raw > 0)
		printf("append/raw: interval %.0f%% (target >= 80%%), always %.0f%%\n", 100 * iv / raw, 100 * al / raw);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 0;
}
