/* Discovery: the `paths` globs are expanded at start, every
 * refresh_interval, and whenever inotify reports a change in a watched
 * directory. Each match is stat()ed through symlinks (Kubernetes links
 * /var/log/containers/ *.log to the runtime's files) and known by identity:
 *   - a known identity at a new path was renamed within the globs: it keeps
 *     its offset (no re-read after logrotate's rename to a matched name);
 *   - an unknown identity is a new file: read from its head, except at the
 *     agent's very first start without read_from_head (then from its end);
 *     a checkpointed identity (start-up) resumes at its offset;
 *   - a tracked file no longer matched anywhere was renamed away or deleted:
 *     it becomes an orphan, read to its end and released (tail_rotate.c).
 * Known identities are settled before new files are looked at, so a copy
 * made by copytruncate is recognised as one, not shipped again from 0. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/logging.h"
#include "inputs/tail/tail.h"

struct match {
	char *path;
	struct stat st;
	int done;
};

int tail_excluded(const struct tail *t, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < t->c->exclude.n; i++) {
		const char *pat = t->c->exclude.v[i];
		if (fnmatch(pat, strchr(pat, '/') ? path : base, 0) == 0)
			return 1;
	}
	return 0;
}

int tail_path_matches(const struct tail *t, const char *path)
{
	for (size_t i = 0; i < t->c->paths.n; i++)
		if (fnmatch(t->c->paths.v[i], path, FNM_PATHNAME) == 0)
			return !tail_excluded(t, path);
	return 0;
}

static int has_magic(const char *s)
{
	return strpbrk(s, "*?[{") != NULL;
}

void tail_glob_dirs(struct tail *t, void (*fn)(struct tail *t, const char *dir, void *arg), void *arg)
{
	for (size_t i = 0; i < t->c->paths.n; i++) {
		char *c = strdup(t->c->paths.v[i]);
		if (!c)
			continue;
		char *dir = dirname(c);
		if (!has_magic(dir)) {
			fn(t, dir, arg);
		} else {
			glob_t g;
			if (glob(dir, GLOB_ONLYDIR | GLOB_NOSORT | GLOB_BRACE, NULL, &g) == 0) {
				for (size_t k = 0; k < g.gl_pathc; k++)
					fn(t, g.gl_pathv[k], arg);
				globfree(&g);
			}
		}
		free(c);
	}
}

static int collect(struct tail *t, struct match **out, size_t *nout)
{
	struct match *m = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < t->c->paths.n; i++) {
		glob_t g;
		int rc = glob(t->c->paths.v[i], GLOB_NOSORT | GLOB_BRACE, NULL, &g);
		if (rc == GLOB_NOMATCH)
			continue;
		if (rc != 0) {
			LOG_WARN(t->name, "%s: cannot expand the pattern (glob error %d)", t->c->paths.v[i], rc);
			continue;
		}
		for (size_t k = 0; k < g.gl_pathc; k++) {
			const char *p = g.gl_pathv[k];
			struct stat st;
			if (tail_excluded(t, p) || stat(p, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			int dup = 0;
			for (size_t j = 0; j < n && !dup; j++)
				dup = m[j].st.st_dev == st.st_dev && m[j].st.st_ino == st.st_ino;
			if (dup)
				continue;  /* one file under two names (a link and its target) */
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct match *v = realloc(m, nc * sizeof(*v));
				if (!v)
					break;
				m = v;
				cap = nc;
			}
			m[n].path = strdup(p);
			if (!m[n].path)
				break;
			m[n].st = st;
			m[n].done = 0;
			n++;
		}
		globfree(&g);
	}
	*out = m;
	*nout = n;
	return 0;
}

/* Opens m and checks it is still what stat saw. -1 if not. A file the
 * agent may not read (a root-only log after `user:` dropped root) is retried
 * at every scan and logged at most once a minute, so that the operator
 * learns of it without a line per scan. */
static int open_match(struct tail *t, struct match *m)
{
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EACCES || errno == EPERM) {
			t->n_denied++;
			uint64_t more;
			if (ratelimit_ok(&t->denied_log, clock_mono_ms(), 60000, &more))
				LOG_WARN(t->name, "%s: cannot open: %s (%" PRIu64 " refusal(s) so far; "
					 "retried at every scan)", m->path, strerror(errno), t->n_denied);
		}
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_dev != m->st.st_dev || st.st_ino != m->st.st_ino) {
		close(fd);
		return -1;  /* replaced in between: the next scan sees the new one */
	}
	m->st = st;
	return fd;
}

static void known(struct tail *t, struct tail_file *f, struct match *m)
{
	f->seen = 1;
	m->done = 1;
	if (strcmp(f->path, m->path) != 0) {
		LOG_INFO(t->name, "%s: renamed to %s (still watched): keeps its offset %" PRId64, f->path, m->path,
			 f->off);
		tail_file_set_path(t, f, m->path);
	}
	if ((f->state & TF_ORPHAN) && !(f->state & TF_DELETED)) {
		f->state &= ~TF_ORPHAN;
		f->orphan_ms = 0;
	}
	if (m->st.st_size != f->size)
		f->state |= TF_DIRTY;
}

/* Start-up: m is a checkpointed identity; resume it. */
static void restore(struct tail *t, struct tail_pos_entry *e, struct match *m)
{
	m->done = 1;
	unsigned flags = e->flags;
	e->flags = UINT32_MAX;  /* found */
	int fd = open_match(t, m);
	if (fd < 0)
		return;
	struct tail_id id = e->id;
	int same = tail_fp_check_grow(fd, m->st.st_size, &id);
	if (same && (m->st.st_size >= (int64_t)e->off || (flags & TAIL_POS_COPY))) {
		struct tail_file *f = tail_open_at(t, m->path, fd, &m->st, (int64_t)e->off, flags, 0);
		if (f)
			f->seen = 1;
		return;
	}
	/* Same inode, other content: truncated (copytruncate) while we were
	 * down, or the inode was reused. The old content's rest may live in a
	 * copy (tail_recover looks); this one is new: from its head. */
	LOG_INFO(t->name, "%s: %s since the last checkpoint (offset %" PRIu64 "): reading it from the start",
		 m->path, same ? "truncated" : "replaced (same inode, other content)", e->off);
	t->n_truncated++;
	struct tail_file *f = tail_open_at(t, m->path, fd, &m->st, 0, 0, 0);
	if (f)
		f->seen = 1;
	e->flags = 0;  /* let tail_recover look for a copy of the old content */
	e->id.ino = UINT64_MAX;  /* ... by its head only: the inode is this file's now */
	e->id.dev = UINT64_MAX;
}

static void new_file(struct tail *t, struct match *m)
{
	int fd = open_match(t, m);
	if (fd < 0)
		return;
	if (tail_find_devino(t, (uint64_t)m->st.st_dev, (uint64_t)m->st.st_ino)) {
		close(fd);
		return;
	}
	int64_t off = 0;
	unsigned flags = 0;
	const char *why = "new file";
	if (t->initial_scan && t->first_start && !t->c->read_from_head) {
		off = tail_file_end_offset(fd, m->st.st_size);
		why = "found at first start";
	} else {
		int64_t c = tail_copy_offset(t, fd, &m->st);
		if (c >= 0) {
			off = c;
			flags = TAIL_POS_COPY;
			why = "copy of a tracked file";
		}
	}
	struct tail_file *f = tail_open_at(t, m->path, fd, &m->st, off, flags, 0);
	if (f) {
		f->seen = 1;
		LOG_INFO(t->name, "%s: %s, reading from offset %" PRId64, m->path, why, off);
	}
}

void tail_scan(struct tail *t)
{
	struct match *m;
	size_t n;
	collect(t, &m, &n);
	for (size_t i = 0; i < t->nfiles; i++)
		t->files[i]->seen = 0;
	/* 1. identities we track or had checkpointed */
	for (size_t i = 0; i < n; i++) {
		struct tail_file *f = tail_find_devino(t, (uint64_t)m[i].st.st_dev, (uint64_t)m[i].st.st_ino);
		if (f) {
			known(t, f, &m[i]);
			continue;
		}
		for (size_t k = 0; k < t->nrestore; k++) {
			struct tail_pos_entry *e = &t->restore[k];
			if (e->flags != UINT32_MAX && e->id.dev == (uint64_t)m[i].st.st_dev &&
			    e->id.ino == (uint64_t)m[i].st.st_ino) {
				restore(t, e, &m[i]);
				break;
			}
		}
	}
	/* 2. files we did not know (first the rest of start-up's recovery: a
	 * copy of a checkpointed file must not count as new) */
	if (t->nrestore)
		tail_recover(t);
	for (size_t i = 0; i < n; i++)
		if (!m[i].done && !tail_find_devino(t, (uint64_t)m[i].st.st_dev, (uint64_t)m[i].st.st_ino))
			new_file(t, &m[i]);
	/* 3. tracked files matched nowhere: renamed away or deleted */
	int64_t now = tail_mono_ms();
	for (size_t i = 0; i < t->nfiles; i++) {
		struct tail_file *f = t->files[i];
		if (f->seen || (f->state & (TF_ORPHAN | TF_GONE)))
			continue;
		if (f->fd < 0 && tail_reopen(t, f) < 0)
			continue;
		if (f->state & TF_ORPHAN)
			continue;  /* reopen found it elsewhere */
		f->state |= TF_ORPHAN | TF_DIRTY;
		f->orphan_ms = now;
		t->n_rotated++;
		LOG_INFO(t->name, "%s: no longer at a watched path (rotated or deleted): reading it to its end",
			 f->path);
	}
	for (size_t i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}
