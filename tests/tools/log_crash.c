/* Helper for tests/crash/log_crash.py.
 *
 *   log_crash append DIR FIRST_SEQ   appends batches of random size holding
 *       records "seq=N" (N = FIRST_SEQ, FIRST_SEQ+1, ...) with fsync: always,
 *       and after each append returns prints "ACK <base_offset> <last_seq>"
 *       on stdout: the batch is durable. Runs until killed.
 *   log_crash verify DIR   opens (recovers) the log, reads it all and checks
 *       that offsets are contiguous from the start, that every record's
 *       content is "seq=<its offset>" (the child starts at seq = log end),
 *       and that every returned batch passes its CRC. Prints
 *       "END <end_offset> TRUNCATED <bytes>" and exits 0, or says what is
 *       wrong and exits 1. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffer/batch.h"
#include "buffer/log.h"

static void report(void *arg, enum log_level level, const char *msg)
{
	(void)arg;
	fprintf(stderr, "[%d] %s\n", (int)level, msg);
}

static struct log *open_dir(const char *dir)
{
	struct log_config c;
	log_config_defaults(&c);
	c.fsync = LOG_FSYNC_ALWAYS;
	c.segment_bytes = 1 << 20;  /* rolls often: recovery across segments */
	c.report = report;
	struct log *l;
	int rc = log_open(dir, &c, &l);
	if (rc < 0) {
		fprintf(stderr, "log_open %s: %s\n", dir, strerror(-rc));
		exit(1);
	}
	return l;
}

static int do_append(const char *dir, int64_t seq)
{
	struct log *l = open_dir(dir);
	struct batch_builder b;
	batch_builder_init(&b, BATCH_COMPRESSION_NONE);
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	char v[160];
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		int n = 1 + rand() % (rand() % 4 == 0 ? 2000 : 50);
		batch_builder_reset(&b);
		for (int i = 0; i < n; i++) {
			int len = snprintf(v, sizeof(v), "seq=%" PRId64 " ", seq + i);
			memset(v + len, 'p', 100 - (size_t)len);
			if (batch_builder_add(&b, 1700000000000LL + seq + i, NULL, 0, v, 100, NULL, 0) < 0)
				return 1;
		}
		const uint8_t *p;
		size_t len;
		if (batch_builder_finish(&b, &p, &len) < 0)
			return 1;
		int64_t base;
		int rc = log_append(l, (uint8_t *)p, len, &base);
		if (rc < 0) {
			fprintf(stderr, "append: %s\n", strerror(-rc));
			return 1;
		}
		if (base != seq) {
			fprintf(stderr, "append: base offset %" PRId64 " but seq %" PRId64 "\n", base, seq);
			return 1;
		}
		printf("ACK %" PRId64 " %" PRId64 "\n", base, seq + n - 1);
		seq += n;
	}
}

static int do_verify(const char *dir)
{
	struct log *l = open_dir(dir);
	struct log_buf buf = { 0 };
	int64_t off = log_start_offset(l), next, expect = off;
	ssize_t r;
	while ((r = log_read(l, off, 4 << 20, &buf, &next)) > 0) {
		for (size_t pos = 0; pos < (size_t)r;) {
			long bs = batch_verify(buf.data + pos, (size_t)r - pos);
			if (bs < 0) {
				printf("BAD batch returned at offset %" PRId64 ": %s\n", off, strerror((int)-bs));
				return 1;
			}
			struct batch_iter it;
			struct batch_record rec;
			if (batch_iter_init(&it, buf.data + pos, (size_t)bs) < 0)
				return 1;
			int rc;
			while ((rc = batch_iter_next(&it, &rec)) == 1) {
				char want[40];
				int wl = snprintf(want, sizeof(want), "seq=%" PRId64 " ", rec.offset);
				if (rec.offset != expect || rec.value_len != 100 || memcmp(rec.value, want, (size_t)wl)) {
					printf("BAD record at offset %" PRId64 " (expected %" PRId64 "): %.*s\n",
					       rec.offset, expect, rec.value_len > 0 ? 20 : 0, (const char *)rec.value);
					return 1;
				}
				expect++;
			}
			batch_iter_free(&it);
			if (rc < 0) {
				printf("BAD records in batch at %" PRId64 "\n", off);
				return 1;
			}
			pos += (size_t)bs;
		}
		off = next;
	}
	if (r < 0 || expect != log_end_offset(l)) {
		printf("BAD read ended at %" PRId64 " (%zd) but the log ends at %" PRId64 "\n", expect, r,
		       log_end_offset(l));
		return 1;
	}
	printf("END %" PRId64 " TRUNCATED %" PRIu64 "\n", expect, log_recovery(l)->truncated_bytes);
	log_buf_free(&buf);
	log_close(l);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "append") == 0)
		return do_append(argv[2], strtoll(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return do_verify(argv[2]);
	fprintf(stderr, "usage: log_crash append DIR FIRST_SEQ | verify DIR\n");
	return 2;
}
