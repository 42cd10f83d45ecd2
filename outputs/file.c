/* Output `file`: every event as one line of NDJSON appended to `path`,
 * rotated by size (path -> path.1 -> path.2 ... up to rotate_keep files).
 *
 * Acknowledgement is the write(2) succeeding; before the agent commits the
 * output's cursor it calls sync, which fdatasyncs the file (fsync: true), so
 * a committed cursor never points past events the file could lose in a power
 * cut. The file is opened lazily and reopened after any error, so a path that
 * cannot be written (a missing directory, a full disk) is an error that is
 * retried with backoff while the events wait in the ring (backpressure), and
 * the output picks up by itself when the path works again. A failed write is
 * cut off again (ftruncate to the size before it), so no half line remains;
 * a half line left by a crash is ended with a newline when the file is
 * reopened, so the next event starts on a line of its own. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outputs/ndjson.h"

struct file_conf {
	char *path;
	uint64_t rotate_bytes;
	int64_t rotate_keep;
	int fsync;
};

static const struct cfg_key file_keys[] = {
	{ "path", CFG_T_STRING, offsetof(struct file_conf, path), NULL, CFG_REQUIRED, NULL, 0, 0, NULL,
	  "The file events are appended to, one JSON object per line." },
	{ "rotate_bytes", CFG_T_SIZE, offsetof(struct file_conf, rotate_bytes), "100MiB", 0, NULL, 0,
	  INT64_MAX, NULL, "Rotate when the file would grow past this size (path.1 is the newest old file); 0 = never." },
	{ "rotate_keep", CFG_T_INT, offsetof(struct file_conf, rotate_keep), "5", 0, NULL, 1, 1000, NULL,
	  "How many rotated files to keep (path.1 .. path.N)." },
	{ "fsync", CFG_T_BOOL, offsetof(struct file_conf, fsync), "true", 0, NULL, 0, 0, NULL,
	  "fdatasync the file before the output's cursor is committed." },
	{ .name = NULL },
};

struct fout {
	struct output *out;
	const struct file_conf *c;
	int fd;
	uint64_t size;
	int dirty;                     /* written since the last fdatasync */
	struct sbuf buf;
};

static int file_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct file_conf *c = conf;
	if (c->path && !*c->path)
		return cfg_fail(err, cfg_get(map, "path") ? cfg_get(map, "path") : map, "path must not be empty");
	return 0;
}

static void close_file(struct fout *f)
{
	if (f->fd >= 0) {
		if (f->dirty && f->c->fsync)
			fdatasync(f->fd);
		close(f->fd);
	}
	f->fd = -1;
	f->dirty = 0;
}

static int open_file(struct fout *f)
{
	if (f->fd >= 0)
		return 0;
	int fd = open(f->c->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		int rc = -errno;
		output_error(f->out, "cannot open %s: %s", f->c->path, strerror(errno));
		return rc;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	f->size = (uint64_t)st.st_size;
	if (st.st_size > 0) {
		char last;
		if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
			/* a half line left by a crash: end it */
			if (ndjson_write_all(fd, "\n", 1) == 0)
				f->size++;
		}
	}
	f->fd = fd;
	return 0;
}

static int rotate(struct fout *f)
{
	close_file(f);
	char from[4096], to[4096];
	for (int64_t i = f->c->rotate_keep - 1; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%lld", f->c->path, (long long)i);
		snprintf(to, sizeof(to), "%s.%lld", f->c->path, (long long)(i + 1));
		if (rename(from, to) < 0 && errno != ENOENT)
			return -errno;
	}
	snprintf(to, sizeof(to), "%s.1", f->c->path);
	if (rename(f->c->path, to) < 0 && errno != ENOENT) {
		int rc = -errno;
		output_error(f->out, "cannot rotate %s: %s", f->c->path, strerror(errno));
		return rc;
	}
	return open_file(f);
}

/* Writes the gathered lines, which hold recs[first..upto). */
static int write_buf(struct fout *f, struct out_record *recs, size_t *first, size_t upto)
{
	if (f->buf.err) {
		sbuf_free(&f->buf);
		return -ENOMEM;
	}
	if (!f->buf.len)
		return 0;
	int rc = ndjson_write_all(f->fd, f->buf.p, f->buf.len);
	if (rc < 0) {
		output_error(f->out, "cannot write to %s: %s", f->c->path, strerror(-rc));
		if (ftruncate(f->fd, (off_t)f->size) < 0) {
			/* cannot cut it: the next open ends the half line */
		}
		close_file(f);
		sbuf_reset(&f->buf);
		return rc;
	}
	f->size += f->buf.len;
	f->dirty = 1;
	sbuf_reset(&f->buf);
	for (; *first < upto; (*first)++)
		recs[*first].status = OUT_OK;
	return 0;
}

static int file_send(void *state, struct out_record *recs, size_t n)
{
	struct fout *f = state;
	int rc = open_file(f);
	if (rc < 0)
		return rc;
	size_t first = 0;
	for (size_t i = 0; i < n; i++) {
		size_t line = (recs[i].value_len > 0 ? (size_t)recs[i].value_len : 4) + 1;
		if (f->c->rotate_bytes && f->size + f->buf.len > 0 &&
		    f->size + f->buf.len + line > f->c->rotate_bytes) {
			if ((rc = write_buf(f, recs, &first, i)) < 0)
				return rc;
			if (f->size > 0 && (rc = rotate(f)) < 0)
				return rc;
		}
		ndjson_line(&f->buf, &recs[i]);
		if (f->buf.len >= NDJSON_CHUNK && (rc = write_buf(f, recs, &first, i + 1)) < 0)
			return rc;
	}
	return write_buf(f, recs, &first, n);
}

static int file_sync(void *state)
{
	struct fout *f = state;
	if (f->fd < 0 || !f->dirty || !f->c->fsync)
		return 0;
	if (fdatasync(f->fd) < 0) {
		int rc = -errno;
		close_file(f);
		return rc;
	}
	f->dirty = 0;
	return 0;
}

static int file_init(struct output *out, const void *conf, void **state)
{
	struct fout *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->out = out;
	f->c = conf;
	f->fd = -1;
	*state = f;
	return 0;
}

static void file_destroy(void *state)
{
	struct fout *f = state;
	close_file(f);
	sbuf_free(&f->buf);
	free(f);
}

const struct output_module file_output = {
	.type = "file",
	.doc = "Every event as one line of NDJSON appended to a file, rotated by size. "
	       "The file is fdatasync'ed before the cursor moves (fsync: true). A path that "
	       "cannot be written is retried with backoff while the ring holds the events.",
	.keys = file_keys,
	.conf_size = sizeof(struct file_conf),
	.check = file_check,
	.init = file_init,
	.send = file_send,
	.sync = file_sync,
	.destroy = file_destroy,
};
