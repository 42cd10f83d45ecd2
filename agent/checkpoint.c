/* Input checkpoints: the last source position of each input whose events are
 * all durable in the ring (invariant 1), one small file per input,
 * data_dir/checkpoints/<name>.pos:
 *     "LSPOS1 <crc32c of the position, 8 hex> <length>\n" <position bytes>
 * replaced atomically like the ring's cursors: write <name>.pos.tmp, fsync,
 * rename over the old one, fsync the directory. A crash leaves the old or the
 * new position, never a mix. A file that does not check out is reported and
 * ignored: the input starts over from where it starts without a checkpoint
 * (re-reads rather than skips). */
#include "agent/pipeline_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer/crc32c.h"
#include "common/logging.h"

int checkpoint_dir_open(const char *data_dir, int *dirfd)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/checkpoints", data_dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*dirfd = fd;
	return 0;
}

int checkpoint_read(int dirfd, const char *name, void *buf, size_t cap)
{
	char file[256];
	snprintf(file, sizeof(file), "%s.pos", name);
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	char data[INPUT_POSITION_MAX + 64];
	ssize_t n = read(fd, data, sizeof(data));
	close(fd);
	if (n < 0)
		return -errno;
	unsigned crc;
	size_t len;
	int hdr = 0;
	char *nl = memchr(data, '\n', (size_t)n);
	if (!nl || sscanf(data, "LSPOS1 %8x %zu%n", &crc, &len, &hdr) != 2 || data + hdr != nl ||
	    len > INPUT_POSITION_MAX || (size_t)(data + n - (nl + 1)) != len ||
	    crc32c(0, nl + 1, len) != crc) {
		LOG_ERROR("checkpoint", "input '%s': checkpoint file %s is not valid (%zd bytes); "
			  "ignoring it, the input starts without a checkpoint", name, file, n);
		return 0;
	}
	if (len > cap)
		return -ENOBUFS;
	memcpy(buf, nl + 1, len);
	return (int)len;
}

int checkpoint_write(int dirfd, const char *name, const void *pos, size_t len)
{
	char tmp[256], file[256], hdr[64];
	snprintf(tmp, sizeof(tmp), "%s.pos.tmp", name);
	snprintf(file, sizeof(file), "%s.pos", name);
	int h = snprintf(hdr, sizeof(hdr), "LSPOS1 %08x %zu\n", crc32c(0, pos, len), len);
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc = 0;
	struct part {
		const void *b;
		size_t n;
	} parts[2] = { { hdr, (size_t)h }, { pos, len } };
	for (int i = 0; i < 2 && rc == 0; i++) {
		size_t done = 0;
		while (done < parts[i].n) {
			ssize_t w = write(fd, (const char *)parts[i].b + done, parts[i].n - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = w < 0 ? -errno : -EIO;
				break;
			}
			done += (size_t)w;
		}
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && renameat(dirfd, tmp, dirfd, file) < 0)
		rc = -errno;
	if (rc == 0 && fsync(dirfd) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(dirfd, tmp, 0);
		LOG_ERROR("checkpoint", "input '%s': cannot write its checkpoint: %s", name, strerror(-rc));
	}
	return rc;
}
