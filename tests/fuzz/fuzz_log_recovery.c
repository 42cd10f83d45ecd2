/* libFuzzer target: log recovery over arbitrary segment bytes. The input is
 * split in two: a sealed segment and the last (active) segment, plus a cursor
 * file from its first bytes; the log is opened (recovered), read end to end,
 * appended to, and reopened. Invariants: no crash, every batch log_read
 * returns passes batch_verify, offsets only grow, the append lands at the
 * recovered end, and the reopened log agrees. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer/batch.h"
#include "buffer/log.h"

static char dir[256];

static void put(const char *name, const uint8_t *d, size_t n)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		abort();
	if (n && write(fd, d, n) != (ssize_t)n)
		abort();
	close(fd);
}

static void clean(void)
{
	char p[512];
	const char *names[] = { "00000000000000000000.log", "00000000000000000100.log", "out.cursor",
				"out.cursor.tmp" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
}

static void remove_dir(void)
{
	clean();
	rmdir(dir);
}

static void read_all(struct log *l)
{
	struct log_buf b = { 0 };
	int64_t off = log_start_offset(l), next, last = -1;
	ssize_t r;
	int guard = 0;
	while ((r = log_read(l, off, 1 << 16, &b, &next)) > 0 && guard++ < 100000) {
		for (size_t pos = 0; pos < (size_t)r;) {
			long bs = batch_verify(b.data + pos, (size_t)r - pos);
			if (bs <= 0)
				abort();  /* a bad batch was returned */
			if (batch_base_offset(b.data + pos) <= last)
				abort();
			last = batch_last_offset(b.data + pos);
			pos += (size_t)bs;
		}
		if (next <= off)
			abort();  /* no progress */
		off = next;
	}
	log_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-log-%d", (int)getpid());
		mkdir(dir, 0755);
		atexit(remove_dir);
	}
	clean();
	size_t half = size / 2;
	put("00000000000000000000.log", data, half);
	put("00000000000000000100.log", data + half, size - half);
	put("out.cursor", data, size < 24 ? size : 24);
	struct log_config c;
	log_config_defaults(&c);
	c.fsync = LOG_FSYNC_NEVER;
	struct log *l;
	if (log_open(dir, &c, &l) < 0)
		return 0;
	struct log_cursor *cur;
	if (log_cursor_open(l, "out", &cur) >= 0)
		log_cursor_close(cur);
	read_all(l);
	int64_t end = log_end_offset(l);
	struct batch_builder bb;
	batch_builder_init(&bb, BATCH_COMPRESSION_NONE);
	batch_builder_add(&bb, 1, "k", 1, "v", 1, NULL, 0);
	const uint8_t *p;
	size_t len;
	batch_builder_finish(&bb, &p, &len);
	uint8_t *copy = malloc(len);
	memcpy(copy, p, len);
	int64_t base;
	if (log_append(l, copy, len, &base) == 0 && base != end)
		abort();
	free(copy);
	batch_builder_free(&bb);
	int64_t end2 = log_end_offset(l);
	log_close(l);
	if (log_open(dir, &c, &l) < 0)
		abort();  /* what we recovered and appended must open again */
	if (log_end_offset(l) != end2)
		abort();
	read_all(l);
	log_close(l);
	return 0;
}
