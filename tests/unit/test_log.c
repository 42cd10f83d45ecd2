/* The segmented log: append/read, rolls and the sparse index, reads from the
 * middle across segments, recovery from torn and corrupt tails (every cut
 * point of the last batch), corrupt batches inside sealed segments, garbage
 * segment files, capacity in block and drop_oldest modes, retention, trim,
 * offsets by time, group commit under fsync=always, rolls that leave the
 * sealed segments' sync to the next group commit, appends of built batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer/batch.h"
#include "buffer/log.h"
#include "tests/unit/testutil.h"

/* A batch of n records "seq=<first+i>" with timestamps ts0 + i. */
static size_t make_batch(uint8_t **out, int first, int n, int64_t ts0, size_t pad)
{
	struct batch_builder b;
	batch_builder_init(&b, BATCH_COMPRESSION_NONE);
	char v[4096];
	for (int i = 0; i < n; i++) {
		int len = snprintf(v, sizeof(v), "seq=%d", first + i);
		if (pad && pad < sizeof(v) - 32) {
			memset(v + len, 'x', pad);
			len += (int)pad;
		}
		assert_int_equal(batch_builder_add(&b, ts0 + i, NULL, 0, v, len, NULL, 0), 0);
	}
	const uint8_t *p;
	size_t len;
	assert_int_equal(batch_builder_finish(&b, &p, &len), 0);
	*out = malloc(len);
	memcpy(*out, p, len);
	batch_builder_free(&b);
	return len;
}

static int64_t append_seq(struct log *l, int first, int n, int64_t ts0, size_t pad)
{
	uint8_t *b;
	size_t len = make_batch(&b, first, n, ts0, pad);
	int64_t base = -1;
	int rc = log_append(l, b, len, &base);
	free(b);
	return rc < 0 ? rc : base;
}

/* Reads the whole log from `from`, checking every record's sequence number
 * matches its offset (seq = offset + delta). Returns records seen. */
static int64_t read_all(struct log *l, int64_t from, int64_t delta, size_t max_bytes)
{
	struct log_buf buf = { 0 };
	int64_t off = from, seen = 0, expect = from;
	for (;;) {
		int64_t next;
		ssize_t r = log_read(l, off, max_bytes, &buf, &next);
		assert_true(r >= 0);
		if (r == 0)
			break;
		size_t pos = 0;
		while (pos < (size_t)r) {
			long bs = batch_verify(buf.data + pos, (size_t)r - pos);
			assert_true(bs > 0);
			struct batch_iter it;
			struct batch_record rec;
			assert_int_equal(batch_iter_init(&it, buf.data + pos, (size_t)bs), 0);
			while (batch_iter_next(&it, &rec) == 1) {
				if (rec.offset < off)
					continue;  /* the batch holding `from` starts before it */
				char want[32];
				snprintf(want, sizeof(want), "seq=%lld", (long long)(rec.offset + delta));
				assert_true(rec.value_len >= (int32_t)strlen(want));
				assert_memory_equal(rec.value, want, strlen(want));
				assert_int_equal(rec.offset, expect);
				expect++;
				seen++;
			}
			batch_iter_free(&it);
			pos += (size_t)bs;
		}
		off = next;
	}
	log_buf_free(&buf);
	return seen;
}

static struct log *open_log(const char *dir, uint64_t seg, uint64_t max, enum log_when_full wf,
			    enum log_fsync fs)
{
	struct log_config c;
	log_config_defaults(&c);
	c.segment_bytes = seg;
	c.max_bytes = max;
	c.when_full = wf;
	c.fsync = fs;
	c.report = tu_report;
	c.report_arg = NULL;
	struct log *l = NULL;
	assert_int_equal(log_open(dir, &c, &l), 0);
	return l;
}

/* Reads the whole log in batches, none of which may start in [lo, hi)
 * (a corrupt one, skipped by the reader). The records seen. */
static int64_t read_skipping(struct log *l, int64_t lo, int64_t hi, struct log_buf *buf)
{
	int64_t off = 0, next, seen = 0;
	ssize_t r;
	while ((r = log_read(l, off, 100000, buf, &next)) > 0) {
		for (size_t pos = 0; pos < (size_t)r;) {
			long bs = batch_verify(buf->data + pos, (size_t)r - pos);
			assert_true(bs > 0);
			int64_t base = batch_base_offset(buf->data + pos);
			assert_true(base < lo || base >= hi);
			seen += batch_last_offset(buf->data + pos) - base + 1;
			pos += (size_t)bs;
		}
		off = next;
	}
	assert_int_equal(r, 0);
	return seen;
}

static void test_append_read_roll_reopen(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir, 16 << 10, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	assert_int_equal(log_start_offset(l), 0);
	assert_int_equal(log_end_offset(l), 0);
	int seq = 0;
	for (int i = 0; i < 200; i++) {
		int n = 1 + i % 37;
		assert_int_equal(append_seq(l, seq, n, 1000, 50), seq);
		seq += n;
	}
	struct log_stats st;
	log_get_stats(l, &st);
	assert_int_equal(st.end_offset, seq);
	assert_true(st.segments > 10);  /* it rolled */
	assert_int_equal(read_all(l, 0, 0, 1 << 20), seq);
	assert_int_equal(read_all(l, 0, 0, 1), seq);  /* one batch at a time */
	/* From the middle of batches, in every segment. */
	for (int64_t from = 0; from < seq; from += 97)
		assert_int_equal(read_all(l, from, 0, 8192), seq - from);
	/* Out of range. */
	struct log_buf b = { 0 };
	int64_t next;
	assert_int_equal(log_read(l, seq + 1, 100, &b, &next), -ERANGE);
	assert_int_equal(log_read(l, seq, 100, &b, &next), 0);
	log_buf_free(&b);
	assert_int_equal(log_close(l), 0);
	/* Reopen: the same log. */
	l = open_log(dir, 16 << 10, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	assert_int_equal(log_end_offset(l), seq);
	assert_int_equal(log_recovery(l)->truncated_bytes, 0);
	assert_int_equal(read_all(l, 0, 0, 65536), seq);
	assert_int_equal(append_seq(l, seq, 5, 1000, 0), seq);
	assert_int_equal(read_all(l, 0, 0, 65536), seq + 5);
	log_close(l);
	tu_rmrf(dir);
}

static void test_rejects_bad_batches(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir, 0, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	uint8_t *b;
	size_t len = make_batch(&b, 0, 3, 1, 0);
	int64_t base;
	assert_int_equal(log_append(l, b, len - 1, &base), -ENODATA);
	b[len - 1] ^= 1;
	assert_int_equal(log_append(l, b, len, &base), -EILSEQ);
	b[len - 1] ^= 1;
	b[16] = 1;  /* magic */
	assert_int_equal(log_append(l, b, len, &base), -EBADMSG);
	uint8_t zeros[100] = { 0 };
	assert_int_equal(log_append(l, zeros, sizeof(zeros), &base), -EBADMSG);
	assert_int_equal(log_end_offset(l), 0);
	free(b);
	log_close(l);
	tu_rmrf(dir);
}

/* Cut the last batch at every byte: each reopen keeps exactly the batches
 * before it, reports the cut, and goes on appending at the right offset. */
static void test_torn_tail_every_cut(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir, 0, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	assert_int_equal(append_seq(l, 0, 10, 1, 0), 0);
	assert_int_equal(append_seq(l, 10, 7, 1, 0), 10);
	log_close(l);
	char seg[4200];
	snprintf(seg, sizeof(seg), "%s/%020d.log", dir, 0);
	struct stat st;
	assert_int_equal(stat(seg, &st), 0);
	uint8_t *b;
	size_t last = make_batch(&b, 10, 7, 1, 0);
	free(b);
	off_t good = st.st_size - (off_t)last;
	for (off_t cut = good + 1; cut < st.st_size; cut++) {
		/* Restore the full file, then cut. */
		l = open_log(dir, 0, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
		while (log_end_offset(l) < 17)
			assert_true(append_seq(l, (int)log_end_offset(l), 7, 1, 0) >= 0);
		log_close(l);
		assert_int_equal(truncate(seg, cut), 0);
		l = open_log(dir, 0, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
		assert_int_equal(log_end_offset(l), 10);
		assert_int_equal(log_recovery(l)->truncated_bytes, (uint64_t)(cut - good));
		assert_int_equal(log_recovery(l)->truncated_at_offset, 10);
		assert_int_equal(read_all(l, 0, 0, 1 << 20), 10);
		log_close(l);
		assert_int_equal(stat(seg, &st), 0);
		assert_int_equal(st.st_size, good);
	}
	tu_rmrf(dir);
}

static void corrupt_byte(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	uint8_t c;
	assert_int_equal(pread(fd, &c, 1, at), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, at), 1);
	close(fd);
}

static void test_corrupt_tail_and_sealed(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	/* Small segments: each batch (~600 B) rolls into its own segment. */
	struct log *l = open_log(dir, 512, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	for (int i = 0; i < 6; i++)
		assert_int_equal(append_seq(l, i * 10, 10, 1, 40), i * 10);
	log_close(l);
	char seg[4200];
	/* A bad CRC in the tail (last segment): cut at recovery. */
	snprintf(seg, sizeof(seg), "%s/%020d.log", dir, 50);
	corrupt_byte(seg, 100);
	/* A bad CRC inside a sealed segment: kept, skipped by readers. */
	snprintf(seg, sizeof(seg), "%s/%020d.log", dir, 20);
	corrupt_byte(seg, 100);
	l = open_log(dir, 512, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	assert_int_equal(log_end_offset(l), 50);
	assert_int_equal(log_recovery(l)->truncated_at_offset, 50);
	/* Reading all: offsets 20..29 are skipped, never returned. */
	struct log_buf buf = { 0 };
	assert_int_equal(read_skipping(l, 20, 30, &buf), 40);
	int64_t next;
	struct log_stats st;
	log_get_stats(l, &st);
	assert_true(st.corrupt_skipped >= 1);
	/* Reading from inside the corrupt batch goes on after it. */
	assert_true(log_read(l, 25, 100000, &buf, &next) > 0);
	assert_int_equal(batch_base_offset(buf.data), 30);
	log_buf_free(&buf);
	/* Appends continue at 50. */
	assert_int_equal(append_seq(l, 50, 3, 1, 0), 50);
	log_close(l);
	tu_rmrf(dir);
}

/* Readers check the CRC of every batch that was on disk when the log was
 * opened, and trust what this process appended since (log_append verified
 * it). Appending after a reopen must not make old data trusted: a batch
 * corrupted on disk stays skipped, the new ones are returned. */
static void test_verify_on_disk_trust_own_appends(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir, 512, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	for (int i = 0; i < 3; i++)
		assert_int_equal(append_seq(l, i * 10, 10, 1, 40), i * 10);
	log_close(l);
	char seg[4200];
	snprintf(seg, sizeof(seg), "%s/%020d.log", dir, 10);
	corrupt_byte(seg, 100);
	l = open_log(dir, 512, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	assert_int_equal(log_end_offset(l), 30);
	for (int i = 3; i < 6; i++)
		assert_int_equal(append_seq(l, i * 10, 10, 1, 40), i * 10);
	struct log_buf buf = { 0 };
	assert_int_equal(read_skipping(l, 10, 20, &buf), 50);
	struct log_stats st;
	log_get_stats(l, &st);
	assert_true(st.corrupt_skipped >= 1);
	log_buf_free(&buf);
	log_close(l);
	/* And after the next restart the batches appended above are on-disk
	 * data like any other: read back whole. */
	l = open_log(dir, 512, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	assert_int_equal(read_all(l, 30, 0, 1 << 20), 30);
	log_close(l);
	tu_rmrf(dir);
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static void test_garbage_segments(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	char seg[4200];
	mkdir(dir, 0755);
	/* A segment of zeros. */
	static uint8_t zeros[100000];
	snprintf(seg, sizeof(seg), "%s/%020d.log", dir, 0);
	write_file(seg, zeros, sizeof(zeros));
	struct log *l = open_log(dir, 0, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	assert_int_equal(log_end_offset(l), 0);
	assert_int_equal(log_recovery(l)->truncated_bytes, sizeof(zeros));
	assert_int_equal(append_seq(l, 0, 4, 1, 0), 0);
	assert_int_equal(read_all(l, 0, 0, 4096), 4);
	log_close(l);
	/* A batch header claiming 2 GiB, and random bytes. */
	uint8_t hdr[61] = { 0 };
	hdr[8] = 0x7f; hdr[9] = 0xff; hdr[10] = 0xff; hdr[11] = 0xff;
	hdr[16] = 2;
	write_file(seg, hdr, sizeof(hdr));
	l = open_log(dir, 0, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	assert_int_equal(log_end_offset(l), 0);
	log_close(l);
	uint8_t rnd[5000];
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)rand();
	write_file(seg, rnd, sizeof(rnd));
	l = open_log(dir, 0, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	assert_int_equal(log_end_offset(l), 0);
	/* Stray files are ignored. */
	char stray[4200];
	snprintf(stray, sizeof(stray), "%s/notes.txt", dir);
	write_file(stray, "hi", 2);
	log_close(l);
	l = open_log(dir, 0, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	log_close(l);
	tu_rmrf(dir);
}

static void test_capacity_block(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir, 4096, 16384, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	struct log_cursor *c;
	assert_int_equal(log_cursor_open(l, "out", &c), 0);
	int64_t seq = 0, rc;
	while ((rc = append_seq(l, (int)seq, 10, 1, 100)) >= 0)
		seq += 10;
	assert_int_equal(rc, -ENOSPC);
	assert_true(log_size_bytes(l) <= 16384);
	struct log_stats st;
	log_get_stats(l, &st);
	assert_true(st.full_refusals >= 1);
	assert_int_equal(st.dropped_records, 0);
	/* The consumer catches up: space comes back, nothing was lost. */
	assert_int_equal(read_all(l, 0, 0, 1 << 20), seq);
	assert_int_equal(log_cursor_commit(c, seq), 0);
	assert_int_equal(append_seq(l, (int)seq, 10, 1, 100), seq);
	assert_true(log_start_offset(l) > 0);
	log_cursor_close(c);
	log_close(l);
	tu_rmrf(dir);
}

static void test_capacity_drop_oldest(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir, 4096, 16384, LOG_FULL_DROP_OLDEST, LOG_FSYNC_NEVER);
	struct log_cursor *c;
	assert_int_equal(log_cursor_open(l, "slow", &c), 0);
	int seq = 0;
	for (int i = 0; i < 100; i++, seq += 10)
		assert_int_equal(append_seq(l, seq, 10, 1, 100), seq);
	assert_true(log_size_bytes(l) <= 16384 + 4096);
	struct log_stats st;
	log_get_stats(l, &st);
	assert_true(st.dropped_records > 0);
	assert_int_equal(st.start_offset + (int64_t)0, log_start_offset(l));
	assert_int_equal((uint64_t)log_start_offset(l), st.dropped_records);
	/* The slow cursor is behind the start: reads say so. */
	struct log_buf b = { 0 };
	int64_t next;
	assert_int_equal(log_read(l, log_cursor_offset(c), 100, &b, &next), -ERANGE);
	assert_int_equal(read_all(l, log_start_offset(l), 0, 1 << 20), seq - log_start_offset(l));
	log_buf_free(&b);
	log_cursor_close(c);
	log_close(l);
	tu_rmrf(dir);
}

static void test_retention_trim_time(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir, 1024, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	/* 20 batches of 10 records; batch i has timestamps 1000*i .. 1000*i+9. */
	for (int i = 0; i < 20; i++)
		assert_int_equal(append_seq(l, i * 10, 10, 1000 * i, 100), i * 10);
	int64_t off;
	assert_int_equal(log_offset_for_time(l, 0, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(log_offset_for_time(l, 5005, &off), 0);
	assert_int_equal(off, 55);
	assert_int_equal(log_offset_for_time(l, 19009, &off), 0);
	assert_int_equal(off, 199);
	assert_int_equal(log_offset_for_time(l, 19010, &off), -ENOENT);
	/* Age: everything older than 10000 ms before now=20000 goes (whole
	 * segments only, never the active one). */
	int n = log_retain(l, 20000, 10000, 0);
	assert_true(n > 0);
	int64_t start = log_start_offset(l);
	assert_true(start > 0 && start <= 100);
	assert_int_equal(read_all(l, start, 0, 1 << 20), 200 - start);
	/* Size. */
	log_retain(l, 20000, -1, 3000);
	assert_true(log_size_bytes(l) <= 3000 + 1024);
	/* Trim. */
	int64_t end = log_end_offset(l);
	log_trim_before(l, end);
	struct log_stats st;
	log_get_stats(l, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(log_end_offset(l), end);
	log_close(l);
	/* Reopen keeps the new start. */
	l = open_log(dir, 1024, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	assert_int_equal(log_end_offset(l), end);
	assert_true(log_start_offset(l) > start);
	log_close(l);
	tu_rmrf(dir);
}

struct appender { struct log *l; int id, n; };

static void *append_thread(void *arg)
{
	struct appender *a = arg;
	for (int i = 0; i < a->n; i++)
		if (append_seq(a->l, 0, 1, 1, 10) < 0)
			return (void *)1;
	return NULL;
}

static void test_group_commit(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir, 0, 0, LOG_FULL_BLOCK, LOG_FSYNC_ALWAYS);
	pthread_t t[8];
	struct appender a[8];
	for (int i = 0; i < 8; i++) {
		a[i] = (struct appender){ l, i, 50 };
		pthread_create(&t[i], NULL, append_thread, &a[i]);
	}
	for (int i = 0; i < 8; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_null(r);
	}
	struct log_stats st;
	log_get_stats(l, &st);
	assert_int_equal(st.appended_batches, 400);
	assert_int_equal(st.durable_offset, 400);
	/* One fdatasync covered several appends at least once. */
	assert_true(st.syncs < st.appended_batches);
	print_message("group commit: %llu appends, %llu fdatasyncs\n",
		      (unsigned long long)st.appended_batches, (unsigned long long)st.syncs);
	log_close(l);
	tu_rmrf(dir);
}

/* A roll does not wait for the disk: under fsync: interval the durable
 * offset stays where it was across rolls (the sealed segments are not
 * synced yet), and one group commit then covers the sealed segments and the
 * active one together. */
static void test_roll_defers_sync(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log_config c;
	log_config_defaults(&c);
	c.segment_bytes = 8 << 10;
	c.fsync = LOG_FSYNC_INTERVAL;
	c.fsync_interval_ms = 3600000;  /* the flusher stays out of the way */
	c.report = tu_report;
	struct log *l = NULL;
	assert_int_equal(log_open(dir, &c, &l), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(append_seq(l, i * 10, 10, 1000, 64), i * 10);
	struct log_stats st;
	log_get_stats(l, &st);
	assert_true(st.segments >= 5);
	assert_int_equal(st.durable_offset, 0);
	assert_int_equal(st.syncs, 0);
	assert_int_equal(log_sync(l), 0);
	log_get_stats(l, &st);
	assert_int_equal(st.durable_offset, 400);
	assert_int_equal(st.syncs, 1);
	/* Nothing left to sync: a second call costs nothing. */
	assert_int_equal(log_sync(l), 0);
	log_get_stats(l, &st);
	assert_int_equal(st.syncs, 1);
	assert_int_equal(read_all(l, 0, 0, 1 << 20), 400);
	log_close(l);
	l = open_log(dir, 8 << 10, 0, LOG_FULL_BLOCK, LOG_FSYNC_INTERVAL);
	assert_int_equal(log_end_offset(l), 400);
	assert_int_equal(read_all(l, 0, 0, 1 << 20), 400);
	log_close(l);
	tu_rmrf(dir);
}

/* log_append_built: the builder's batch goes in without a second CRC pass,
 * but a batch whose header does not hold up is still refused. */
static void test_append_built(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir, 0, 0, LOG_FULL_BLOCK, LOG_FSYNC_NEVER);
	uint8_t *b;
	size_t len = make_batch(&b, 0, 5, 1000, 0);
	int64_t base = -1;
	assert_int_equal(log_append_built(l, b, len, &base), 0);
	assert_int_equal(base, 0);
	assert_int_equal(log_append_built(l, b, len - 1, &base), -EBADMSG);
	b[16] = 1;  /* magic */
	assert_int_equal(log_append_built(l, b, len, &base), -EBADMSG);
	free(b);
	assert_int_equal(log_end_offset(l), 5);
	assert_int_equal(read_all(l, 0, 0, 1 << 20), 5);
	log_close(l);
	tu_rmrf(dir);
}

static int durable_events;
static void count_durable(void *arg, unsigned ev)
{
	(void)arg;
	if (ev & LOG_EV_DURABLE)
		__atomic_add_fetch(&durable_events, 1, __ATOMIC_SEQ_CST);
}

static void test_sync_request_and_wait(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log_config c;
	log_config_defaults(&c);
	c.fsync = LOG_FSYNC_INTERVAL;
	c.fsync_interval_ms = 60000;  /* only a request can make it durable soon */
	c.notify = count_durable;
	c.report = tu_report;
	struct log *l;
	assert_int_equal(log_open(dir, &c, &l), 0);
	assert_int_equal(append_seq(l, 0, 5, 1, 0), 0);
	assert_int_equal(log_durable_offset(l), 0);
	log_sync_request(l);
	for (int i = 0; i < 500 && log_durable_offset(l) < 5; i++)
		usleep(10000);
	assert_int_equal(log_durable_offset(l), 5);
	assert_true(__atomic_load_n(&durable_events, __ATOMIC_SEQ_CST) >= 1);
	/* log_wait: data there at once; none after, times out; wakeup ends it. */
	assert_int_equal(log_wait(l, 0, 0), 1);
	assert_int_equal(log_wait(l, 5, 10), 0);
	log_close(l);
	tu_rmrf(dir);
}

/* A segment planted as a symbolic link is refused at open, and its target
 * is neither read nor written. */
static void test_symlinked_segment_refused(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), target[4200], link[4200];
	snprintf(target, sizeof(target), "%s.target", dir);
	FILE *f = fopen(target, "w");
	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
	snprintf(link, sizeof(link), "%s/00000000000000000000.log", dir);
	assert_int_equal(symlink(target, link), 0);
	struct log_config c;
	log_config_defaults(&c);
	c.report = tu_report;
	struct log *l = NULL;
	assert_int_equal(log_open(dir, &c, &l), -ELOOP);
	struct stat st;
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 9);
	unlink(target);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_read_roll_reopen),
		cmocka_unit_test(test_rejects_bad_batches),
		cmocka_unit_test(test_torn_tail_every_cut),
		cmocka_unit_test(test_corrupt_tail_and_sealed),
		cmocka_unit_test(test_verify_on_disk_trust_own_appends),
		cmocka_unit_test(test_garbage_segments),
		cmocka_unit_test(test_capacity_block),
		cmocka_unit_test(test_capacity_drop_oldest),
		cmocka_unit_test(test_retention_trim_time),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_sync_request_and_wait),
		cmocka_unit_test(test_roll_defers_sync),
		cmocka_unit_test(test_append_built),
		cmocka_unit_test(test_symlinked_segment_refused),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
