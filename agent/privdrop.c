/* Dropping root (the `user:` key). An agent started as root (a container,
 * a hand start) needs root only to bind privileged ports and perhaps to open
 * its first files; everything after runs as an ordinary user whose groups
 * (adm, systemd-journal) grant reading the logs. The order matters:
 *   1. the ring, checkpoints and listeners are open (pipeline_new);
 *   2. data_dir is handed to the user (lchown, never following a symlink:
 *      a link planted there must not give away a file elsewhere), so that
 *      new segments, checkpoints and dead letters can be created later;
 *   3. supplementary groups, then the gid, then the uid (in that order: once
 *      the uid is gone, the groups can no longer be changed);
 *   4. a check that root cannot be regained.
 * glibc applies set*id to every thread, so the output and status threads
 * started in step 1 drop too. */
#include "agent/privdrop.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/logging.h"

static uid_t chown_uid;
static gid_t chown_gid;
static int chown_errors;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_SL || flag == FTW_SLN)
		return 0;  /* the link is left as it is and never followed */
	if ((st->st_uid != chown_uid || st->st_gid != chown_gid) && lchown(path, chown_uid, chown_gid) < 0) {
		LOG_ERROR("agent", "user: cannot hand %s to uid %u: %s", path, (unsigned)chown_uid, strerror(errno));
		chown_errors++;
	}
	return 0;
}

int privdrop(const char *user, const char *data_dir)
{
	if (!user)
		return 0;
	if (geteuid() != 0) {
		LOG_INFO("agent", "user: %s is ignored: not running as root", user);
		return 0;
	}
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		LOG_ERROR("agent", "user: no user named '%s'%s%s", user, errno ? ": " : "", errno ? strerror(errno) : "");
		return -ENOENT;
	}
	if (pw->pw_uid == 0)
		return 0;  /* root asked to stay root */
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	chown_errors = 0;
	if (nftw(data_dir, chown_one, 16, FTW_PHYS | FTW_MOUNT) < 0) {
		LOG_ERROR("agent", "user: cannot walk %s: %s", data_dir, strerror(errno));
		return -errno;
	}
	if (chown_errors)
		return -EPERM;
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		int e = errno;
		LOG_ERROR("agent", "user: cannot switch to %s: %s", user, strerror(e));
		return -e;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		LOG_ERROR("agent", "user: root could be regained after switching to %s; refusing to go on", user);
		return -EPERM;
	}
	gid_t groups[64];
	int n = getgroups(64, groups);
	char names[512] = "";
	size_t len = 0;
	for (int i = 0; i < n && len < sizeof(names) - 40; i++) {
		struct group *g = getgrgid(groups[i]);
		int w = g ? snprintf(names + len, sizeof(names) - len, "%s%s", len ? "," : "", g->gr_name)
			  : snprintf(names + len, sizeof(names) - len, "%s%u", len ? "," : "", (unsigned)groups[i]);
		if (w > 0)
			len += (size_t)w;
	}
	LOG_INFO("agent", "running as %s (uid %u, gid %u, groups %s)", pw->pw_name, (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_gid, n > 0 ? names : "none");
	return 0;
}
