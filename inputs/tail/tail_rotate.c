/* Identity and rotation: what makes the tail input lose nothing when files
 * move under it.
 *
 *  - Identity is device + inode + a CRC-32C fingerprint of the first bytes
 *    (up to 1 KiB, grown as the file grows). A file whose head no longer
 *    matches is not the file we knew: its inode was reused, or it was
 *    truncated and written again faster than we looked.
 *  - rename + create: the renamed file keeps its descriptor and identity; it
 *    is read to its end, then released after rotate_wait without growth
 *    (if its new name is still matched by `paths`, it simply stays tracked).
 *  - copytruncate: the size drops below our offset (or the head changes):
 *    the copy is looked for in the same directory by its head fingerprint and
 *    read from where we were; then the file is read again from 0. Counted.
 *  - deleted while open: read to its end, then the descriptor is released
 *    so that the disk space comes back.
 *  - release only once the durable checkpoint covers the file's end: after
 *    close, a deleted file's bytes cannot be read again (invariant 1).
 *  - restart across a rotation: a checkpointed file that is not at a watched
 *    path any more is looked for by identity in the watched directories and
 *    read to its end from its checkpointed offset. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/crc32c.h"
#include "common/logging.h"
#include "inputs/tail/tail.h"

static ssize_t pread_full(int fd, char *b, size_t n, int64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, b + got, n - got, off + (int64_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int tail_fingerprint(int fd, int64_t size, uint32_t *len, uint32_t *hash)
{
	char b[TAIL_FP_MAX];
	size_t want = size < TAIL_FP_MAX ? (size_t)(size > 0 ? size : 0) : TAIL_FP_MAX;
	ssize_t n = pread_full(fd, b, want, 0);
	if (n < 0)
		return (int)n;
	*len = (uint32_t)n;
	*hash = crc32c(0, b, (size_t)n);
	return 0;
}

int tail_fp_check_grow(int fd, int64_t size, struct tail_id *id)
{
	if (id->fp_len >= TAIL_FP_MAX && size >= TAIL_FP_MAX) {
		/* Full fingerprint: still the same head? */
		char b[TAIL_FP_MAX];
		if (pread_full(fd, b, TAIL_FP_MAX, 0) != TAIL_FP_MAX)
			return 0;
		return crc32c(0, b, TAIL_FP_MAX) == id->fp_hash;
	}
	char b[TAIL_FP_MAX];
	size_t want = size < TAIL_FP_MAX ? (size_t)size : TAIL_FP_MAX;
	if (want < id->fp_len)
		return 0;
	ssize_t n = pread_full(fd, b, want, 0);
	if (n < (ssize_t)id->fp_len)
		return 0;
	uint32_t h = crc32c(0, b, id->fp_len);
	if (h != id->fp_hash)
		return 0;
	id->fp_hash = crc32c(h, b + id->fp_len, (size_t)n - id->fp_len);
	id->fp_len = (uint32_t)n;
	return 1;
}

/* 1 when fd's first id->fp_len bytes hash to id->fp_hash. */
static int head_matches(int fd, int64_t size, const struct tail_id *id)
{
	if (size < id->fp_len)
		return 0;
	char b[TAIL_FP_MAX];
	if (pread_full(fd, b, id->fp_len, 0) != (ssize_t)id->fp_len)
		return 0;
	return crc32c(0, b, id->fp_len) == id->fp_hash;
}

struct tail_file *tail_open_at(struct tail *t, const char *path, int fd, const struct stat *st,
			       int64_t off, unsigned flags, int orphan)
{
	struct tail_file *f = tail_file_new(t, path);
	if (!f) {
		close(fd);
		return NULL;
	}
	f->fd = fd;
	t->nopen++;
	f->id.dev = (uint64_t)st->st_dev;
	f->id.ino = (uint64_t)st->st_ino;
	tail_fingerprint(fd, st->st_size, &f->id.fp_len, &f->id.fp_hash);
	f->off = off;
	f->size = st->st_size;
	f->active_ms = tail_mono_ms();
	f->state = TF_DIRTY | (flags & TAIL_POS_SKIPPING ? TF_SKIPPING : 0) | (flags & TAIL_POS_COPY ? TF_COPY : 0);
	if (orphan || st->st_nlink == 0) {
		f->state |= TF_ORPHAN | (st->st_nlink == 0 ? TF_DELETED : 0);
		f->orphan_ms = tail_mono_ms();
	}
	if (tail_add_file(t, f) < 0) {
		tail_file_free(t, f);
		return NULL;
	}
	return f;
}

/* --- searching directories ------------------------------------------------------ */

struct dirset {
	char **v;
	size_t n, cap;
};

static void dirset_add(struct dirset *s, const char *d)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], d) == 0)
			return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		char **v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return;
		s->v = v;
		s->cap = cap;
	}
	char *c = strdup(d);
	if (c)
		s->v[s->n++] = c;
}

static void dirset_free(struct dirset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static void dirset_add_of(struct dirset *s, const char *path)
{
	char *c = strdup(path);
	if (!c)
		return;
	dirset_add(s, dirname(c));
	free(c);
}

static void add_glob_dir(struct tail *t, const char *dir, void *arg)
{
	(void)t;
	dirset_add(arg, dir);
}

/* What a search looks for: by identity (dev+ino, head verified) or, for a
 * copy, by head fingerprint alone (any inode not tracked). */
struct want {
	struct tail_id id;
	int by_copy;
	int64_t min_size;
	/* result */
	char path[4096];
	struct stat st;
	int fd;
};

static int search_dir(struct tail *t, const char *dir, struct want *w)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (w->by_copy) {
			if (tail_find_devino(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino) ||
			    st.st_size < w->min_size || st.st_size < (int64_t)w->id.fp_len)
				continue;
		} else if ((uint64_t)st.st_dev != w->id.dev || (uint64_t)st.st_ino != w->id.ino) {
			continue;
		}
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct stat fst;
		if (fstat(fd, &fst) < 0 || fst.st_ino != st.st_ino || fst.st_dev != st.st_dev ||
		    !head_matches(fd, fst.st_size, &w->id)) {
			close(fd);
			continue;
		}
		snprintf(w->path, sizeof(w->path), "%s/%s", dir, de->d_name);
		w->st = fst;
		w->fd = fd;
		found = 1;
	}
	closedir(d);
	return found;
}

static int search(struct tail *t, struct dirset *dirs, struct want *w)
{
	w->fd = -1;
	for (size_t i = 0; i < dirs->n; i++)
		if (search_dir(t, dirs->v[i], w))
			return 1;
	return 0;
}

/* --- copytruncate ------------------------------------------------------------------ */

/* Looks for a copy of the content identified by id, read up to off, and
 * tracks it from there. */
static void adopt_copy(struct tail *t, struct dirset *dirs, const struct tail_id *id, int64_t off,
		       const char *of)
{
	if (id->fp_len == 0 || off == 0)
		return;
	struct want w = { .id = *id, .by_copy = 1, .min_size = id->fp_len };
	if (!search(t, dirs, &w))
		return;
	/* Its bytes before off are the ones already read from the original
	 * (the copy may still be being written, and shorter for now). */
	int64_t at = off;
	int orphan = !tail_path_matches(t, w.path);
	if (tail_open_at(t, w.path, w.fd, &w.st, at, TAIL_POS_COPY, orphan)) {
		t->n_copies++;
		LOG_INFO(t->name, "%s: its copy %s holds what was not read yet: reading it from offset %" PRId64,
			 of, w.path, at);
	}
}

int tail_truncated(struct tail *t, struct tail_file *f, int64_t size)
{
	/* What f holds in memory belongs to the old content: ship it first. */
	int rc = tail_file_flush(t, f, tail_mono_ms(), 1);
	if (rc)
		return rc;
	t->n_truncated++;
	LOG_INFO(t->name, "%s: truncated (offset %" PRId64 ", size now %" PRId64 "; copytruncate?): "
		 "reading it again from the start (%" PRIu64 " truncations so far)", f->path, f->off, size,
		 t->n_truncated);
	struct dirset dirs = { 0 };
	dirset_add(&dirs, f->rdir);
	dirset_add_of(&dirs, f->path);
	adopt_copy(t, &dirs, &f->id, f->off, f->path);
	dirset_free(&dirs);
	f->off = 0;
	f->size = size;
	f->state &= ~(TF_SKIPPING | TF_SPLIT | TF_CONTINUED);
	f->tail_ms = 0;
	memset(&f->mls, 0, sizeof(f->mls));
	tail_fingerprint(f->fd, size, &f->id.fp_len, &f->id.fp_hash);
	return 0;
}

int64_t tail_copy_offset(struct tail *t, int fd, const struct stat *st)
{
	if (st->st_size < TAIL_FP_MAX)
		return -1;
	char b[TAIL_FP_MAX];
	if (pread_full(fd, b, TAIL_FP_MAX, 0) != TAIL_FP_MAX)
		return -1;
	uint32_t h = crc32c(0, b, TAIL_FP_MAX);
	/* Only a full fingerprint is trusted here: nothing was seen truncated,
	 * so a short common head (a banner) must not make a new file skip. */
	for (size_t i = 0; i < t->nfiles; i++) {
		struct tail_file *f = t->files[i];
		if (f->id.fp_len == TAIL_FP_MAX && f->id.fp_hash == h) {
			/* Its bytes before f->off were read from f (if it is still
			 * being copied, it gets there). */
			int64_t at = f->off;
			t->n_copies++;
			LOG_INFO(t->name, "new file with the head of %s (a copy): reading it from offset %" PRId64,
				 f->path, at);
			return at;
		}
	}
	return -1;
}

/* --- restart ------------------------------------------------------------------------ */

void tail_recover(struct tail *t)
{
	struct dirset dirs = { 0 };
	size_t left = 0;
	for (size_t i = 0; i < t->nrestore; i++)
		left += t->restore[i].flags != UINT32_MAX;
	if (!left)
		goto out;
	tail_glob_dirs(t, add_glob_dir, &dirs);
	for (size_t i = 0; i < t->nfiles; i++) {
		dirset_add(&dirs, t->files[i]->rdir);
		dirset_add_of(&dirs, t->files[i]->path);
	}
	for (size_t i = 0; i < t->nrestore; i++) {
		struct tail_pos_entry *e = &t->restore[i];
		if (e->flags == UINT32_MAX)
			continue;  /* found at a watched path */
		struct want w = { .id = e->id };
		if (search(t, &dirs, &w)) {
			if (w.st.st_size < (int64_t)e->off && !(e->flags & TAIL_POS_COPY)) {
				LOG_WARN(t->name, "%s: was at offset %" PRIu64 " at the last checkpoint but is now %lld "
					 "bytes; reading it from the start", w.path, e->off, (long long)w.st.st_size);
				e->off = 0;
			}
			LOG_INFO(t->name, "%s: rotated while the agent was down; reading it from offset %" PRIu64
				 " to its end", w.path, e->off);
			t->n_rotated++;
			tail_open_at(t, w.path, w.fd, &w.st, (int64_t)e->off, e->flags, 1);
			continue;
		}
		size_t before = t->nfiles;
		adopt_copy(t, &dirs, &e->id, (int64_t)e->off, "a checkpointed file");
		if (e->id.dev == UINT64_MAX)
			continue;  /* its inode holds other content now (said so already) */
		if (t->nfiles == before && e->off > 0)
			LOG_WARN(t->name, "a checkpointed file (device %" PRIu64 ", inode %" PRIu64 ", offset %" PRIu64
				 ") is gone from the watched directories; whatever it held past that offset was "
				 "not read", e->id.dev, e->id.ino, e->off);
	}
out:
	dirset_free(&dirs);
	free(t->restore);
	t->restore = NULL;
	t->nrestore = 0;
}

/* --- closed idle files, release ---------------------------------------------------------- */

int tail_reopen(struct tail *t, struct tail_file *f)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_dev == f->id.dev &&
	    (uint64_t)st.st_ino == f->id.ino && head_matches(fd, st.st_size, &f->id)) {
		f->fd = fd;
		t->nopen++;
		tail_inotify_watch_file(t, f);
		return 0;
	}
	if (fd >= 0)
		close(fd);
	struct dirset dirs = { 0 };
	dirset_add(&dirs, f->rdir);
	dirset_add_of(&dirs, f->path);
	struct want w = { .id = f->id };
	int found = search(t, &dirs, &w);
	dirset_free(&dirs);
	if (!found) {
		LOG_INFO(t->name, "%s: gone while closed (idle); it had been read to offset %" PRId64, f->path,
			 f->off);
		f->state |= TF_GONE;
		return -ENOENT;
	}
	f->fd = w.fd;
	t->nopen++;
	if (!tail_path_matches(t, w.path)) {
		f->state |= TF_ORPHAN;
		f->orphan_ms = tail_mono_ms();
	}
	tail_file_set_path(t, f, w.path);
	tail_inotify_watch_file(t, f);
	return 0;
}

void tail_limit_open(struct tail *t)
{
	while (t->nopen > (size_t)t->c->max_open_files) {
		struct tail_file *best = NULL;
		for (size_t i = 0; i < t->nfiles; i++) {
			struct tail_file *f = t->files[i];
			if (f->fd < 0 || (f->state & (TF_ORPHAN | TF_DIRTY)) || f->off != f->size || f->tail_ms)
				continue;
			if (!best || f->lru < best->lru)
				best = f;
		}
		if (!best) {
			if (!t->fd_limit_warned)
				LOG_WARN(t->name, "%zu files open, above max_open_files (%" PRId64 "): none is idle "
					 "enough to close", t->nopen, t->c->max_open_files);
			t->fd_limit_warned = 1;
			return;
		}
		close(best->fd);
		best->fd = -1;
		t->nopen--;
	}
}

void tail_release_check(struct tail *t, int64_t now)
{
	t->release_pending = 0;
	struct tail_pos_entry *e = NULL;
	int ne = -1;
	for (size_t i = 0; i < t->nfiles; i++) {
		struct tail_file *f = t->files[i];
		if (!(f->state & TF_ORPHAN) || f->fd < 0)
			continue;
		t->release_pending = 1;
		int at_end = f->off >= f->size && !f->tail_ms && !f->part_active && !f->ml_active &&
			     !(f->state & TF_DIRTY);
		if (!at_end || (!(f->state & TF_DELETED) && now - f->active_ms < t->c->rotate_wait))
			continue;
		/* Still at its end? (a last look before letting go) */
		struct stat st;
		if (fstat(f->fd, &st) == 0 && st.st_size != f->size) {
			f->state |= TF_DIRTY;
			continue;
		}
		if (ne < 0) {
			uint8_t *buf = malloc(INPUT_POSITION_MAX);
			int n = buf ? input_checkpoint(t->in, buf, INPUT_POSITION_MAX) : -ENOMEM;
			e = malloc(sizeof(*e) * (INPUT_POSITION_MAX / 8));
			ne = n > 0 && e ? tail_pos_decode(buf, (size_t)n, e, INPUT_POSITION_MAX / 8) : 0;
			free(buf);
			if (ne < 0)
				ne = 0;
		}
		int durable = 0;
		for (int k = 0; k < ne && !durable; k++)
			durable = e[k].id.dev == f->id.dev && e[k].id.ino == f->id.ino &&
				  e[k].off >= (uint64_t)f->off;
		if (!durable)
			continue;  /* the checkpoint has not caught up yet */
		LOG_INFO(t->name, "%s: %s, read to its end (offset %" PRId64 "): released", f->path,
			 f->state & TF_DELETED ? "deleted" : "rotated away", f->off);
		t->n_released++;
		if (f->wd >= 0)
			tail_inotify_unwatch_file(t, f);
		close(f->fd);
		f->fd = -1;
		t->nopen--;
		f->state |= TF_GONE;
	}
	free(e);
}
