/* Input checkpoints: the last source position of each input whose events are
 * all durable in the ring (invariant 1), one small file per input,
 * data_dir/checkpoints/<name>.pos:
 *     "LSPOS1 <crc32c of the position, 8 hex> <length>\n" <position bytes>
 * replaced atomically like the ring's cursors: write <name>.pos.tmp, fsync,
 * rename over the old one, fsync the directory. A crash leaves the old or the
 * new position, never a mix. A file that does not check out is reported and
 * ignored: the input starts over from where it starts without a checkpoint
 * (re-reads rather than skips). The writes run in their own thread (the
 * writer, at the end of this file), off the event loop. */
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

static int checkpoint_parse(const char *name, const char *file, char *data, size_t n, void *buf, size_t cap);

int checkpoint_read(int dirfd, const char *name, void *buf, size_t cap)
{
	char file[256];
	snprintf(file, sizeof(file), "%s.pos", name);
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	char *data = malloc(INPUT_POSITION_MAX + 65);  /* + header, + NUL for sscanf */
	if (!data) {
		close(fd);
		return -ENOMEM;
	}
	ssize_t n = 0, r;
	/* A position of up to 64 KiB may take more than one read. */
	while ((r = read(fd, data + n, INPUT_POSITION_MAX + 64 - (size_t)n)) > 0 ||
	       (r < 0 && errno == EINTR))
		if (r > 0)
			n += r;
	int e = errno;
	close(fd);
	if (r < 0) {
		free(data);
		return -e;
	}
	data[n] = '\0';
	int rc = checkpoint_parse(name, file, data, (size_t)n, buf, cap);
	free(data);
	return rc;
}

/* Checks a checkpoint file's bytes and copies the position into buf. */
static int checkpoint_parse(const char *name, const char *file, char *data, size_t n, void *buf, size_t cap)
{
	unsigned crc;
	size_t len;
	int hdr = 0;
	char *nl = memchr(data, '\n', n);
	if (!nl || sscanf(data, "LSPOS1 %8x %zu%n", &crc, &len, &hdr) != 2 || data + hdr != nl ||
	    len > INPUT_POSITION_MAX || (size_t)(data + n - (nl + 1)) != len ||
	    crc32c(0, nl + 1, len) != crc) {
		LOG_ERROR("checkpoint", "input '%s': checkpoint file %s is not valid (%zu bytes); "
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
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
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

/* --- the writer thread ----------------------------------------------------------------
 *
 * A checkpoint write is two fsyncs, and on a disk busy with the ring's own
 * writeback one fsync can take hundreds of milliseconds (ext4 commits the
 * journal for it). The event loop must not wait for that: it hands the
 * position over (ckpt_writer_submit) and goes on reading. The positions it
 * hands over are already durable in the ring, so writing them later keeps
 * invariant 1; writing them late only widens what a crash re-reads.
 *
 * One job per input name: a newer position replaces a pending older one
 * (only the newest matters), and the one thread writes a name's positions
 * in order, so a checkpoint never goes backwards. Completions are handed
 * back (ckpt_writer_collect) for the loop to apply to its inputs: this
 * thread never touches an input, which may be gone by then. */

struct ckpt_job {
	char *name;
	uint8_t *pos;
	size_t len;
	int64_t done_ms;               /* completions: when written, 0 = failed */
};

struct ckpt_writer {
	int dirfd;
	int notify_fd;                 /* eventfd told of each completion, -1 */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;           /* jobs, stop, or idle */
	struct ckpt_job *jobs, *done;
	size_t njobs, capjobs, ndone, capdone;
	int busy, stop;
};

static void job_free(struct ckpt_job *j)
{
	free(j->name);
	free(j->pos);
}

static int jobs_push(struct ckpt_job **v, size_t *n, size_t *cap, struct ckpt_job j)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		struct ckpt_job *nv = realloc(*v, c * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = j;
	return 0;
}

static void *writer_main(void *arg)
{
	struct ckpt_writer *w = arg;
	pthread_setname_np(pthread_self(), "ckpt-writer");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (!w->njobs) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->cond, &w->mu);
			continue;
		}
		struct ckpt_job j = w->jobs[0];
		memmove(w->jobs, w->jobs + 1, (w->njobs - 1) * sizeof(*w->jobs));
		w->njobs--;
		w->busy = 1;
		pthread_mutex_unlock(&w->mu);
		int rc = checkpoint_write(w->dirfd, j.name, j.pos, j.len);
		j.done_ms = rc == 0 ? wall_ms() : 0;  /* the position goes back with it */
		pthread_mutex_lock(&w->mu);
		if (jobs_push(&w->done, &w->ndone, &w->capdone, j) < 0)
			job_free(&j);  /* only the status display misses it */
		w->busy = 0;
		pthread_cond_broadcast(&w->cond);
		if (w->notify_fd >= 0) {
			uint64_t one = 1;
			ssize_t r = write(w->notify_fd, &one, sizeof(one));
			(void)r;
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int ckpt_writer_start(int dirfd, int notify_fd, struct ckpt_writer **out)
{
	struct ckpt_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->dirfd = dirfd;
	w->notify_fd = notify_fd;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	int rc = pthread_create(&w->thread, NULL, writer_main, w);
	if (rc != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return -rc;
	}
	*out = w;
	return 0;
}

int ckpt_writer_submit(struct ckpt_writer *w, const char *name, const void *pos, size_t len)
{
	if (!w)
		return -EBADF;  /* no ring open */
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, pos, len);
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->njobs; i++)
		if (strcmp(w->jobs[i].name, name) == 0) {
			free(w->jobs[i].pos);
			w->jobs[i].pos = copy;
			w->jobs[i].len = len;
			pthread_mutex_unlock(&w->mu);
			return 0;
		}
	char *n = strdup(name);
	int rc = n ? jobs_push(&w->jobs, &w->njobs, &w->capjobs,
			       (struct ckpt_job){ .name = n, .pos = copy, .len = len }) : -ENOMEM;
	if (rc == 0)
		pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	if (rc < 0) {
		free(n);
		free(copy);
	}
	return rc;
}

void ckpt_writer_drain(struct ckpt_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	while (w->njobs || w->busy)
		pthread_cond_wait(&w->cond, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

void ckpt_writer_collect(struct ckpt_writer *w,
			 void (*fn)(void *arg, const char *name, uint8_t **pos, size_t len, int64_t done_ms),
			 void *arg)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	struct ckpt_job *v = w->done;
	size_t n = w->ndone;
	w->done = NULL;
	w->ndone = w->capdone = 0;
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < n; i++) {
		fn(arg, v[i].name, &v[i].pos, v[i].len, v[i].done_ms);
		job_free(&v[i]);   /* pos too, unless fn took it */
	}
	free(v);
}

void ckpt_writer_stop(struct ckpt_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);  /* it writes every pending job first */
	for (size_t i = 0; i < w->ndone; i++)
		job_free(&w->done[i]);
	free(w->done);
	free(w->jobs);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
