/* Change detection with inotify. Two kinds of watches:
 *   - each directory the globs look in: a file created, moved in or out, or
 *     deleted there means "scan again" (new files, renames);
 *   - each open file, through /proc/self/fd/N so that the watch is on the
 *     inode we hold, not on whatever the path names now: writes
 *     (IN_MODIFY) mark it to be read; IN_MOVE_SELF / IN_DELETE_SELF (it was
 *     renamed or unlinked) also ask for a scan. The inode watch follows the
 *     file through renames, and through symlinks into directories we do not
 *     watch (Kubernetes' /var/log/pods behind /var/log/containers).
 * Events only mark work; reading happens in the input's run (tail.c). A
 * queue overflow marks every file and asks for a scan: nothing is missed,
 * only looked at again. A watch that cannot be added (the per-user limit)
 * leaves that file to the stat polling that runs every refresh_interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/logging.h"
#include "inputs/tail/tail.h"

#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
#define DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR)

int tail_inotify_start(struct tail *t)
{
	t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (t->ifd < 0)
		return -errno;
	int rc = input_watch_fd(t->in, t->ifd, EPOLLIN);
	if (rc < 0) {
		close(t->ifd);
		t->ifd = -1;
		return rc;
	}
	return 0;
}

void tail_inotify_stop(struct tail *t)
{
	if (t->ifd < 0)
		return;
	input_unwatch_fd(t->in, t->ifd);
	close(t->ifd);
	t->ifd = -1;
	for (size_t i = 0; i < t->nfiles; i++)
		t->files[i]->wd = -1;
	t->ndir_wds = 0;
}

static void watch_dir(struct tail *t, const char *dir, void *arg)
{
	(void)arg;
	int wd = inotify_add_watch(t->ifd, dir, DIR_MASK);
	if (wd < 0) {
		if (errno != ENOENT)
			LOG_WARN(t->name, "%s: cannot watch the directory (%s); new files are found every "
				 "refresh_interval", dir, strerror(errno));
		return;
	}
	for (size_t i = 0; i < t->ndir_wds; i++)
		if (t->dir_wds[i] == wd)
			return;
	if (t->ndir_wds == t->capdir_wds) {
		size_t cap = t->capdir_wds ? t->capdir_wds * 2 : 8;
		int *v = realloc(t->dir_wds, cap * sizeof(*v));
		if (!v)
			return;
		t->dir_wds = v;
		t->capdir_wds = cap;
	}
	t->dir_wds[t->ndir_wds++] = wd;
}

void tail_inotify_watch_dirs(struct tail *t)
{
	if (t->ifd >= 0)
		tail_glob_dirs(t, watch_dir, NULL);
}

void tail_inotify_watch_file(struct tail *t, struct tail_file *f)
{
	if (t->ifd < 0 || f->fd < 0 || f->wd >= 0)
		return;
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", f->fd);
	f->wd = inotify_add_watch(t->ifd, p, FILE_MASK);
	if (f->wd < 0 && !t->fd_limit_warned) {
		LOG_WARN(t->name, "%s: cannot watch it with inotify (%s); it is polled every refresh_interval",
			 f->path, strerror(errno));
	}
}

void tail_inotify_unwatch_file(struct tail *t, struct tail_file *f)
{
	if (t->ifd >= 0 && f->wd >= 0) {
		/* Another tracked file may share the watch only if it is the same
		 * inode, which identity tracking rules out. */
		inotify_rm_watch(t->ifd, f->wd);
	}
	f->wd = -1;
}

static struct tail_file *by_wd(struct tail *t, int wd)
{
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i]->wd == wd)
			return t->files[i];
	return NULL;
}

static int is_dir_wd(struct tail *t, int wd)
{
	for (size_t i = 0; i < t->ndir_wds; i++)
		if (t->dir_wds[i] == wd)
			return 1;
	return 0;
}

void tail_inotify_read(struct tail *t)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = read(t->ifd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		struct tail_file *last = NULL;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				for (size_t i = 0; i < t->nfiles; i++)
					t->files[i]->state |= TF_DIRTY;
				t->scan_due = 1;
				continue;
			}
			if (is_dir_wd(t, ev->wd)) {
				if (ev->mask & IN_IGNORED) {
					for (size_t i = 0; i < t->ndir_wds; i++)
						if (t->dir_wds[i] == ev->wd)
							t->dir_wds[i] = t->dir_wds[--t->ndir_wds];
				}
				t->scan_due = 1;
				continue;
			}
			struct tail_file *f = last && last->wd == ev->wd ? last : by_wd(t, ev->wd);
			if (!f)
				continue;
			last = f;
			if (ev->mask & IN_IGNORED) {
				f->wd = -1;
				continue;
			}
			f->state |= TF_DIRTY;
			if (ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF))
				t->scan_due = 1;
		}
	}
}
