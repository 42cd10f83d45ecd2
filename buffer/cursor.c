/* Cursors: durable named positions in a log (one per agent output).
 *
 * File <dir>/<name>.cursor, 24 bytes: magic "LSCURSOR"(8) | version u32 |
 * offset i64 | crc32c of the 20 bytes before it (u32), little-endian.
 * Replaced atomically: write <name>.cursor.tmp, fsync it, rename over the old,
 * fsync the directory. A crash at any point leaves either the old or the new
 * cursor, never a mix; a leftover .tmp is deleted when the log opens.
 * A cursor file that does not check out (garbage, truncated, wrong version)
 * is reported and the cursor restarts at the log's start: the output re-ships
 * rather than skips, which is the at-least-once side to err on. */
#include "buffer/log_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/crc32c.h"

#define CURSOR_MAGIC "LSCURSOR"
#define CURSOR_VERSION 1u
#define CURSOR_SIZE 24
#define NAME_MAX_LEN 200

/* Names become file names: keep them to a safe alphabet, so that no name can
 * point outside the log directory. */
static int name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > NAME_MAX_LEN || name[0] == '.')
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static void encode(uint8_t *b, int64_t offset)
{
	memcpy(b, CURSOR_MAGIC, 8);
	uint32_t v = CURSOR_VERSION;
	uint64_t o = (uint64_t)offset;
	for (int i = 0; i < 4; i++)
		b[8 + i] = (uint8_t)(v >> (8 * i));
	for (int i = 0; i < 8; i++)
		b[12 + i] = (uint8_t)(o >> (8 * i));
	uint32_t c = crc32c(0, b, 20);
	for (int i = 0; i < 4; i++)
		b[20 + i] = (uint8_t)(c >> (8 * i));
}

static int decode(const uint8_t *b, size_t n, int64_t *offset)
{
	if (n != CURSOR_SIZE || memcmp(b, CURSOR_MAGIC, 8) != 0)
		return -EBADMSG;
	uint32_t v = 0, c = 0;
	uint64_t o = 0;
	for (int i = 0; i < 4; i++) {
		v |= (uint32_t)b[8 + i] << (8 * i);
		c |= (uint32_t)b[20 + i] << (8 * i);
	}
	for (int i = 0; i < 8; i++)
		o |= (uint64_t)b[12 + i] << (8 * i);
	if (v != CURSOR_VERSION || crc32c(0, b, 20) != c || (int64_t)o < 0)
		return -EBADMSG;
	*offset = (int64_t)o;
	return 0;
}

static int write_file(struct log *l, const char *name, int64_t offset)
{
	char tmp[NAME_MAX_LEN + 32], final[NAME_MAX_LEN + 32];
	uint8_t b[CURSOR_SIZE];
	snprintf(tmp, sizeof(tmp), "%s.cursor.tmp", name);
	snprintf(final, sizeof(final), "%s.cursor", name);
	encode(b, offset);
	/* O_NOFOLLOW: a link planted in the log's directory is never written through. */
	int fd = openat(l->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
		rc = errno ? -errno : -EIO;
	else if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && renameat(l->dirfd, tmp, l->dirfd, final) < 0)
		rc = -errno;
	if (rc == 0)
		rc = log_sync_dir(l);
	if (rc < 0) {
		unlinkat(l->dirfd, tmp, 0);
		log_report(l, LOG_LEVEL_ERROR, "cannot write cursor '%s': %s", name, strerror(-rc));
	}
	return rc;
}

int log_cursor_open(struct log *l, const char *name, struct log_cursor **out)
{
	if (!name_ok(name))
		return -EINVAL;
	char file[NAME_MAX_LEN + 32];
	snprintf(file, sizeof(file), "%s.cursor", name);
	int reset = 0, rc;
	int64_t offset = -1;
	int fd = openat(l->dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		uint8_t b[CURSOR_SIZE + 1];
		ssize_t n = read(fd, b, sizeof(b));
		close(fd);
		if (n < 0 || decode(b, (size_t)n, &offset) < 0) {
			log_report(l, LOG_LEVEL_ERROR,
				   "cursor '%s': the file is not a valid cursor (%zd bytes); restarting it at "
				   "the log's start, so its output re-ships rather than skips", name, n);
			offset = -1;
			reset = 1;
		}
	} else if (errno == ELOOP) {
		log_report(l, LOG_LEVEL_ERROR, "cursor '%s': %s is a symbolic link: refused (links in the log's "
			   "directory are never followed)", name, file);
		return -ELOOP;
	} else if (errno != ENOENT) {
		return -errno;
	}
	pthread_mutex_lock(&l->mu);
	for (struct log_cursor *c = l->cursors; c; c = c->next)
		if (strcmp(c->name, name) == 0) {
			pthread_mutex_unlock(&l->mu);
			return -EEXIST;
		}
	if (offset < 0)
		offset = l->start;
	if (offset > l->end) {
		/* The log lost its tail (recovery cut a torn write) below where this
		 * cursor had got to: nothing past end exists, so end is where it is. */
		log_report(l, LOG_LEVEL_WARN, "cursor '%s' at %" PRId64 " is past the log's end %" PRId64
			   "; moved back to the end", name, offset, l->end);
		offset = l->end;
	}
	struct log_cursor *c = calloc(1, sizeof(*c));
	char *nm = strdup(name);
	if (!c || !nm) {
		pthread_mutex_unlock(&l->mu);
		free(c);
		free(nm);
		return -ENOMEM;
	}
	c->log = l;
	c->name = nm;
	c->offset = offset;
	c->next = l->cursors;
	l->cursors = c;
	pthread_mutex_unlock(&l->mu);
	if (fd < 0 || reset) {
		if ((rc = write_file(l, name, offset)) < 0) {
			log_cursor_close(c);
			return rc;
		}
	}
	*out = c;
	return reset;
}

int64_t log_cursor_offset(const struct log_cursor *c)
{
	return c->offset;
}

int log_cursor_commit(struct log_cursor *c, int64_t offset)
{
	struct log *l = c->log;
	pthread_mutex_lock(&l->mu);
	int bad = offset < 0 || offset > l->end;
	pthread_mutex_unlock(&l->mu);
	if (bad)
		return -ERANGE;
	int rc = write_file(l, c->name, offset);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&l->mu);
	c->offset = offset;
	int freed = log_free_behind_cursors_locked(l);
	pthread_mutex_unlock(&l->mu);
	if (freed)
		log_notify(l, LOG_EV_SPACE);
	return 0;
}

void log_cursor_close(struct log_cursor *c)
{
	if (!c)
		return;
	struct log *l = c->log;
	pthread_mutex_lock(&l->mu);
	for (struct log_cursor **p = &l->cursors; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	pthread_mutex_unlock(&l->mu);
	free(c->name);
	free(c);
}

int log_cursor_remove(struct log *l, const char *name)
{
	char file[NAME_MAX_LEN + 32];
	if (!name_ok(name))
		return -EINVAL;
	snprintf(file, sizeof(file), "%s.cursor", name);
	if (unlinkat(l->dirfd, file, 0) < 0)
		return -errno;
	return log_sync_dir(l);
}
