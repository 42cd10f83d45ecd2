/* Change detection by stat polling: for filesystems where inotify says
 * nothing (NFS, CIFS, FUSE, some overlay setups: changes made by another
 * host or another layer), when inotify cannot be used at all, and as a
 * safety net beside inotify every refresh_interval. Each tracked file is
 * fstat()ed (stat()ed by path when its descriptor was closed while idle);
 * a size or link count that changed marks it to be read. */
#include <errno.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "inputs/tail/tail.h"

void tail_poll(struct tail *t)
{
	for (size_t i = 0; i < t->nfiles; i++) {
		struct tail_file *f = t->files[i];
		struct stat st;
		if (f->fd >= 0) {
			if (fstat(f->fd, &st) < 0)
				continue;
			if (st.st_size != f->size || (st.st_nlink == 0 && !(f->state & TF_DELETED)) ||
			    st.st_size < f->off)
				f->state |= TF_DIRTY;
		} else if (stat(f->path, &st) == 0) {
			if ((uint64_t)st.st_ino != f->id.ino || (uint64_t)st.st_dev != f->id.dev ||
			    st.st_size != f->size)
				f->state |= TF_DIRTY;
		}
	}
}

/* Filesystems whose changes inotify may not see. */
int tail_fs_needs_poll(const char *dir)
{
	struct statfs s;
	if (statfs(dir, &s) < 0)
		return 0;
	switch ((unsigned long)s.f_type) {
	case 0x6969UL:      /* NFS */
	case 0x517BUL:      /* SMB */
	case 0xFF534D42UL:  /* CIFS */
	case 0xFE534D42UL:  /* SMB2 */
	case 0x65735546UL:  /* FUSE */
	case 0x01021997UL:  /* 9P (v9fs) */
	case 0x47504653UL:  /* GPFS */
	case 0x0BD00BD0UL:  /* Lustre */
		return 1;
	default:
		return 0;
	}
}
