/* Cursors: created at the log's start, durable across reopen, atomic files
 * (a leftover temp file is harmless), garbage files detected and reset to the
 * start (re-ship, never skip), unsafe names refused, segments freed only when
 * every cursor is past them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/batch.h"
#include "buffer/log.h"
#include "tests/unit/testutil.h"

static struct log *open_log(const char *dir)
{
	struct log_config c;
	log_config_defaults(&c);
	c.segment_bytes = 2048;
	c.fsync = LOG_FSYNC_NEVER;
	c.report = tu_report;
	struct log *l;
	assert_int_equal(log_open(dir, &c, &l), 0);
	return l;
}

static void fill(struct log *l, int batches)
{
	struct batch_builder b;
	batch_builder_init(&b, BATCH_COMPRESSION_NONE);
	char v[300];
	memset(v, 'v', sizeof(v));
	for (int i = 0; i < batches; i++) {
		batch_builder_reset(&b);
		for (int k = 0; k < 3; k++)
			assert_int_equal(batch_builder_add(&b, 1, NULL, 0, v, sizeof(v), NULL, 0), 0);
		const uint8_t *p;
		size_t len;
		assert_int_equal(batch_builder_finish(&b, &p, &len), 0);
		uint8_t *copy = malloc(len);
		memcpy(copy, p, len);
		int64_t base;
		assert_int_equal(log_append(l, copy, len, &base), 0);
		free(copy);
	}
	batch_builder_free(&b);
}

static void write_at(const char *dir, const char *name, const void *data, size_t n)
{
	char p[4300];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static void test_durable_and_frees_segments(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir);
	fill(l, 30);  /* ~900 B batches in 2 KiB segments: many segments */
	struct log_cursor *a, *b;
	assert_int_equal(log_cursor_open(l, "es", &a), 0);
	assert_int_equal(log_cursor_open(l, "kafka", &b), 0);
	assert_int_equal(log_cursor_open(l, "kafka", &b), -EEXIST);
	assert_int_equal(log_cursor_offset(a), 0);
	struct log_stats st0, st1;
	log_get_stats(l, &st0);
	/* One cursor far ahead frees nothing while the other lags. */
	assert_int_equal(log_cursor_commit(a, 60), 0);
	log_get_stats(l, &st1);
	assert_int_equal(st1.segments, st0.segments);
	assert_int_equal(log_start_offset(l), 0);
	/* Both past: segments below the slower one go. */
	assert_int_equal(log_cursor_commit(b, 30), 0);
	log_get_stats(l, &st1);
	assert_true(st1.segments < st0.segments);
	assert_true(log_start_offset(l) > 0 && log_start_offset(l) <= 30);
	assert_int_equal(log_cursor_commit(b, log_end_offset(l) + 1), -ERANGE);
	log_cursor_close(a);
	log_cursor_close(b);
	log_close(l);
	/* Reopen: positions survive; a leftover temp file is cleaned away. */
	write_at(dir, "es.cursor.tmp", "partial", 7);
	l = open_log(dir);
	assert_int_equal(log_cursor_open(l, "es", &a), 0);
	assert_int_equal(log_cursor_offset(a), 60);
	char p[4300];
	snprintf(p, sizeof(p), "%s/es.cursor.tmp", dir);
	assert_int_equal(access(p, F_OK), -1);
	log_cursor_close(a);
	assert_int_equal(log_cursor_remove(l, "es"), 0);
	assert_int_equal(log_cursor_open(l, "es", &a), 0);
	assert_int_equal(log_cursor_offset(a), log_start_offset(l));
	log_cursor_close(a);
	log_close(l);
	tu_rmrf(dir);
}

static void test_garbage_cursor_restarts_at_start(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir);
	fill(l, 3);
	log_close(l);
	static const char *const garbage[] = { "", "x", "LSCURSOR\x01\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\xde\xad\xbe\xef",
					       "this is not a cursor file at all, no" };
	static const size_t lens[] = { 0, 1, 24, 36 };
	for (size_t i = 0; i < 4; i++) {
		write_at(dir, "out.cursor", garbage[i], lens[i]);
		l = open_log(dir);
		struct log_cursor *c;
		assert_int_equal(log_cursor_open(l, "out", &c), 1);
		assert_int_equal(log_cursor_offset(c), 0);
		log_cursor_close(c);
		/* The reset was written: the next open is clean. */
		assert_int_equal(log_cursor_open(l, "out", &c), 0);
		log_cursor_close(c);
		log_close(l);
	}
	tu_rmrf(dir);
}

/* A link planted in the log's directory is never followed: not to read a
 * cursor, not to write one. */
static void test_symlinks_are_not_followed(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir);
	fill(l, 3);
	char target[4200], link[4200], tmp[4200];
	snprintf(target, sizeof(target), "%s.target", dir);
	FILE *f = fopen(target, "w");
	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
	snprintf(link, sizeof(link), "%s/out.cursor", dir);
	assert_int_equal(symlink(target, link), 0);
	struct log_cursor *c;
	assert_int_equal(log_cursor_open(l, "out", &c), -ELOOP);
	unlink(link);
	/* The temporary file of a commit, planted as a link: the commit fails. */
	assert_int_equal(log_cursor_open(l, "out", &c), 0);
	snprintf(tmp, sizeof(tmp), "%s/out.cursor.tmp", dir);
	assert_int_equal(symlink(target, tmp), 0);
	assert_true(log_cursor_commit(c, 2) < 0);
	char buf[64] = "";
	f = fopen(target, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "precious\n");
	log_cursor_close(c);
	log_close(l);
	unlink(target);
	tu_rmrf(dir);
}

static void test_cursor_past_end_is_clamped(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir);
	fill(l, 3);
	struct log_cursor *c;
	assert_int_equal(log_cursor_open(l, "out", &c), 0);
	assert_int_equal(log_cursor_commit(c, 9), 0);
	log_cursor_close(c);
	log_close(l);
	/* Lose the log's tail (the last segment, base 6, after the commit freed
	 * the first): the cursor cannot point past the end. */
	char seg[4300];
	snprintf(seg, sizeof(seg), "%s/%020d.log", dir, 6);
	assert_int_equal(truncate(seg, 100), 0);
	l = open_log(dir);
	assert_true(log_end_offset(l) < 9);
	assert_int_equal(log_cursor_open(l, "out", &c), 0);
	assert_int_equal(log_cursor_offset(c), log_end_offset(l));
	log_cursor_close(c);
	log_close(l);
	tu_rmrf(dir);
}

static void test_names(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct log *l = open_log(dir);
	struct log_cursor *c;
	static const char *const bad[] = { "", "../escape", "a/b", ".hidden", "sp ace", "semi;colon" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(log_cursor_open(l, bad[i], &c), -EINVAL);
	assert_int_equal(log_cursor_open(l, "es_out-1.v2", &c), 0);
	log_cursor_close(c);
	log_close(l);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durable_and_frees_segments),
		cmocka_unit_test(test_garbage_cursor_restarts_at_start),
		cmocka_unit_test(test_cursor_past_end_is_clamped),
		cmocka_unit_test(test_symlinks_are_not_followed),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests_name("cursor", tests, NULL, NULL);
}
