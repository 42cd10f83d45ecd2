/* The segmented log: segments, appends with group commit, reads, recovery,
 * capacity, retention. See log.h for the contract and invariants.
 *
 * Locking: l->mu guards all metadata. Appends write (pwrite to the page cache)
 * under l->mu, so readers always see whole batches below a segment's `size`.
 * Readers take a reference on a segment under l->mu and pread outside it.
 * fdatasync never runs under l->mu, and never in the appending thread (but
 * under fsync: always, where the append waits for it by definition): a roll
 * only marks the sealed segment `unsynced` and the directory dirty (so does
 * a segment deletion), and the next group commit (log_sync, from the
 * flusher) syncs the sealed segments, then the directory, then the active
 * segment, before it moves the durable offset. So the durable offset never
 * passes a byte that is not on disk, whichever segment holds it, and the
 * appender never waits for the disk. */
#include "buffer/log_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buffer/batch.h"

#define DEFAULT_SEGMENT_BYTES (64ull << 20)
#define DEFAULT_INTERVAL_MS 1000
#define DEFAULT_INDEX_BYTES 4096
#define SCAN_CHUNK (1u << 20)

void log_config_defaults(struct log_config *c)
{
	memset(c, 0, sizeof(*c));
	c->segment_bytes = DEFAULT_SEGMENT_BYTES;
	c->fsync = LOG_FSYNC_INTERVAL;
	c->fsync_interval_ms = DEFAULT_INTERVAL_MS;
	c->index_interval_bytes = DEFAULT_INDEX_BYTES;
}

void log_report(struct log *l, enum log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n = snprintf(msg, sizeof(msg), "log %s: ", l->dir);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (l->cfg.report)
		l->cfg.report(l->cfg.report_arg, level, msg);
}

void log_notify(struct log *l, unsigned events)
{
	if (l->cfg.notify)
		l->cfg.notify(l->cfg.notify_arg, events);
}

int log_sync_dir(struct log *l)
{
	return fsync(l->dirfd) < 0 ? -errno : 0;
}

/* With l->mu held: segments were deleted. The directory is synced by the next
 * group commit, not here: an fsync under l->mu would stall every appender
 * (and a reader committing its cursor) for as long as the disk takes. A
 * crash before that sync can only bring a deleted segment back, which is
 * harmless: every cursor is past it (or retention and drop_oldest chose it),
 * and it is deleted again. */
void log_dir_changed_locked(struct log *l)
{
	if (l->cfg.fsync != LOG_FSYNC_NEVER)
		l->dir_unsynced = 1;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- segments ------------------------------------------------------------ */

static void seg_name(char *buf, size_t n, int64_t base)
{
	snprintf(buf, n, "%020" PRId64 ".log", base);
}

static int idx_add(struct segment *s, int64_t offset, uint64_t pos)
{
	if (s->nidx == s->idxcap) {
		size_t cap = s->idxcap ? s->idxcap * 2 : 64;
		struct idx_entry *p = realloc(s->idx, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->idx = p;
		s->idxcap = cap;
	}
	s->idx[s->nidx].offset = offset;
	s->idx[s->nidx].pos = pos;
	s->nidx++;
	s->last_idx_pos = pos;
	return 0;
}

/* Records a batch at pos in the segment's metadata and sparse index. */
static void seg_account(struct log *l, struct segment *s, const uint8_t *hdr, uint64_t pos, uint64_t len)
{
	struct batch_header h;
	batch_header_parse(hdr, BATCH_HEADER_SIZE, &h);
	if (s->nidx == 0 || pos - s->last_idx_pos >= l->cfg.index_interval_bytes)
		idx_add(s, h.base_offset, pos);  /* on ENOMEM the index is sparser: still correct */
	s->next = h.base_offset + h.last_offset_delta + 1;
	if (h.max_timestamp > s->max_ts)
		s->max_ts = h.max_timestamp;
	s->size = pos + len;
}

static void seg_free(struct segment *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->idx);
	free(s);
}

static void seg_unref_locked(struct segment *s)
{
	if (--s->refs == 0 && s->dead)
		seg_free(s);
}

static int segs_push(struct log *l, struct segment *s)
{
	if (l->nsegs == l->capsegs) {
		size_t cap = l->capsegs ? l->capsegs * 2 : 16;
		struct segment **p = realloc(l->segs, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->segs = p;
		l->capsegs = cap;
	}
	l->segs[l->nsegs++] = s;
	return 0;
}

static struct segment *seg_create(struct log *l, int64_t base)
{
	char name[64];
	seg_name(name, sizeof(name), base);
	struct segment *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base = s->next = base;
	s->max_ts = -1;
	s->fd = openat(l->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (s->fd < 0) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	return s;
}

/* Removes the oldest segment (index 0) from the log, unlinking its file. */
static void seg_drop_oldest_locked(struct log *l)
{
	struct segment *s = l->segs[0];
	char name[64];
	seg_name(name, sizeof(name), s->base);
	if (unlinkat(l->dirfd, name, 0) < 0 && errno != ENOENT)
		log_report(l, LOG_LEVEL_ERROR, "cannot delete segment %s: %s", name, strerror(errno));
	memmove(l->segs, l->segs + 1, (l->nsegs - 1) * sizeof(*l->segs));
	l->nsegs--;
	l->size -= s->size;
	l->st.dropped_segments++;
	l->start = l->nsegs ? l->segs[0]->base : l->end;
	if (s->refs > 0)
		s->dead = 1;
	else
		seg_free(s);
}

int log_free_behind_cursors_locked(struct log *l)
{
	if (!l->cursors)
		return 0;
	int64_t min = INT64_MAX;
	for (struct log_cursor *c = l->cursors; c; c = c->next)
		if (c->offset < min)
			min = c->offset;
	int n = 0;
	while (l->nsegs > 1 && l->segs[0]->next <= min) {
		seg_drop_oldest_locked(l);
		n++;
	}
	if (n)
		log_dir_changed_locked(l);
	return n;
}

/* --- recovery ------------------------------------------------------------ */

/* Scans a segment's batches from position 0. Sealed segments: headers only
 * (a corrupt batch inside is found and skipped by readers, which check every
 * CRC; a sealed segment cut short by a power loss before the group commit
 * that would have synced it held nothing acknowledged: the durable offset
 * never passes an unsynced segment, see the top). The last segment: every
 * CRC, and the file is cut at the first batch that is torn or corrupt, since
 * everything after it was never acknowledged under the fsync policy (an
 * append is durable only if all before it are). */
static int seg_scan(struct log *l, struct segment *s, int last)
{
	struct stat stb;
	if (fstat(s->fd, &stb) < 0)
		return -errno;
	uint64_t fsize = (uint64_t)stb.st_size, pos = 0;
	uint8_t *buf = malloc(SCAN_CHUNK);
	uint8_t *big = NULL;
	if (!buf)
		return -ENOMEM;
	const char *why = NULL;
	while (pos < fsize) {
		uint8_t hdr[BATCH_HEADER_SIZE];
		struct batch_header h;
		if (fsize - pos < BATCH_HEADER_SIZE) {
			why = "torn batch header";
			break;
		}
		if (pread(s->fd, hdr, sizeof(hdr), (off_t)pos) != (ssize_t)sizeof(hdr)) {
			why = "read error";
			break;
		}
		long size = batch_size(hdr, sizeof(hdr));
		int rc = size < 0 ? (int)size : batch_header_parse(hdr, sizeof(hdr), &h);
		if (rc < 0) {
			why = "impossible batch header (length or magic)";
			break;
		}
		if (pos + (uint64_t)size > fsize) {
			why = "torn batch";
			break;
		}
		if (h.base_offset < s->next && s->size > 0) {
			why = "offsets going backwards";
			break;
		}
		if (last) {
			uint8_t *b = (size_t)size <= SCAN_CHUNK ? buf : (big = realloc(big, (size_t)size));
			if (!b) {
				why = "out of memory";
				break;
			}
			if (pread(s->fd, b, (size_t)size, (off_t)pos) != size) {
				why = "read error";
				break;
			}
			if (batch_verify(b, (size_t)size) < 0) {
				why = "CRC mismatch";
				break;
			}
		}
		if (s->size == 0 && s->nidx == 0)
			s->base = h.base_offset;  /* trust the batches over the name */
		seg_account(l, s, hdr, pos, (uint64_t)size);
		pos += (uint64_t)size;
	}
	free(buf);
	free(big);
	if (!why)
		return 0;
	if (last) {
		uint64_t cut = fsize - pos;
		l->rec.truncated_bytes += cut;
		l->rec.truncated_at_offset = s->next;
		log_report(l, LOG_LEVEL_WARN,
			   "recovery: %s at byte %" PRIu64 " of segment %020" PRId64 ".log: truncated %" PRIu64
			   " bytes; the log ends at offset %" PRId64,
			   why, pos, s->base, cut, s->next);
		if (ftruncate(s->fd, (off_t)pos) < 0 || fdatasync(s->fd) < 0)
			return -errno;
	} else {
		l->rec.corrupt_batches++;
		log_report(l, LOG_LEVEL_ERROR,
			   "recovery: %s at byte %" PRIu64 " of sealed segment %020" PRId64
			   ".log: its remaining %" PRIu64 " bytes are unreadable and skipped",
			   why, pos, s->base, fsize - pos);
	}
	return 0;
}

static int cmp_base(const void *a, const void *b)
{
	int64_t x = (*(struct segment *const *)a)->base, y = (*(struct segment *const *)b)->base;
	return x < y ? -1 : x > y;
}

static int load_segments(struct log *l)
{
	int dfd = dup(l->dirfd);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n >= 4 && strcmp(e->d_name + n - 4, ".tmp") == 0) {
			unlinkat(l->dirfd, e->d_name, 0);  /* a cursor write cut short */
			continue;
		}
		if (n != 24 || strcmp(e->d_name + 20, ".log") != 0 ||
		    strspn(e->d_name, "0123456789") != 20)
			continue;
		struct segment *s = calloc(1, sizeof(*s));
		if (!s) {
			rc = -ENOMEM;
			break;
		}
		s->base = s->next = strtoll(e->d_name, NULL, 10);
		s->max_ts = -1;
		s->fd = openat(l->dirfd, e->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);  /* a planted link: ELOOP, refused */
		if (s->fd < 0 || segs_push(l, s) < 0) {
			rc = s->fd < 0 ? -errno : -ENOMEM;
			log_report(l, LOG_LEVEL_ERROR, "cannot open segment %s: %s", e->d_name, strerror(-rc));
			seg_free(s);
			break;
		}
	}
	closedir(d);
	if (rc < 0)
		return rc;
	if (l->nsegs)
		qsort(l->segs, l->nsegs, sizeof(*l->segs), cmp_base);
	for (size_t i = 0; i < l->nsegs; i++) {
		struct segment *s = l->segs[i];
		if ((rc = seg_scan(l, s, i == l->nsegs - 1)) < 0)
			return rc;
		s->trusted_pos = s->size;  /* found on disk: never trusted */
		if (s->max_ts < 0) {
			struct stat stb;
			if (fstat(s->fd, &stb) == 0)
				s->max_ts = (int64_t)stb.st_mtim.tv_sec * 1000;
		}
		l->size += s->size;
	}
	/* A sealed segment that scanned empty (all garbage) holds nothing: its
	 * offsets continue from the segment before it. */
	l->rec.segments = (uint32_t)l->nsegs;
	if (l->nsegs) {
		l->start = l->segs[0]->base;
		l->end = l->segs[l->nsegs - 1]->next;
		for (size_t i = 0; i + 1 < l->nsegs; i++)
			if (l->segs[i]->next > l->end)
				l->end = l->segs[i]->next;
	}
	l->durable = l->end;
	return 0;
}

/* --- open / close ---------------------------------------------------------- */

static void *flusher_main(void *arg);

static int mkdirs(const char *path)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int log_open(const char *dir, const struct log_config *cfg, struct log **out)
{
	int rc;
	struct log *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cfg = *cfg;
	if (!l->cfg.segment_bytes)
		l->cfg.segment_bytes = DEFAULT_SEGMENT_BYTES;
	if (!l->cfg.fsync_interval_ms)
		l->cfg.fsync_interval_ms = DEFAULT_INTERVAL_MS;
	if (!l->cfg.index_interval_bytes)
		l->cfg.index_interval_bytes = DEFAULT_INDEX_BYTES;
	l->rec.truncated_at_offset = -1;
	l->dirfd = -1;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->data_cond, &ca);
	pthread_cond_init(&l->flush_cond, &ca);
	pthread_cond_init(&l->sync_cond, &ca);
	pthread_condattr_destroy(&ca);
	l->dir = strdup(dir);
	if (!l->dir) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = mkdirs(dir)) < 0) {
		log_report(l, LOG_LEVEL_ERROR, "cannot create the directory: %s", strerror(-rc));
		goto fail;
	}
	l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0) {
		rc = -errno;
		log_report(l, LOG_LEVEL_ERROR, "cannot open the directory: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = load_segments(l)) < 0)
		goto fail;
	if ((rc = pthread_create(&l->flusher, NULL, flusher_main, l)) != 0) {
		rc = -rc;
		goto fail;
	}
	l->flusher_started = 1;
	*out = l;
	return 0;
fail:
	log_close(l);
	return rc;
}

const struct log_recovery *log_recovery(const struct log *l)
{
	return &l->rec;
}

int log_close(struct log *l)
{
	int rc = 0;
	if (!l)
		return 0;
	if (l->flusher_started) {
		pthread_mutex_lock(&l->mu);
		l->stop = 1;
		pthread_cond_broadcast(&l->flush_cond);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->flusher, NULL);
		if (l->cfg.fsync != LOG_FSYNC_NEVER)
			rc = log_sync(l);
	}
	while (l->cursors) {
		struct log_cursor *c = l->cursors;
		l->cursors = c->next;
		free(c->name);
		free(c);
	}
	for (size_t i = 0; i < l->nsegs; i++) {
		if (l->segs[i]->refs > 0)
			l->segs[i]->dead = 1;  /* a reader still holds it: it frees */
		else
			seg_free(l->segs[i]);
	}
	free(l->segs);
	if (l->dirfd >= 0)
		close(l->dirfd);
	pthread_cond_destroy(&l->data_cond);
	pthread_cond_destroy(&l->flush_cond);
	pthread_cond_destroy(&l->sync_cond);
	pthread_mutex_destroy(&l->mu);
	free(l->dir);
	free(l);
	return rc;
}

/* --- append ---------------------------------------------------------------- */

/* Makes room for len bytes under the capacity policy. With l->mu held. */
static int make_room_locked(struct log *l, size_t len, unsigned *events)
{
	if (!l->cfg.max_bytes || l->size + len <= l->cfg.max_bytes)
		return 0;
	if (log_free_behind_cursors_locked(l) > 0)
		*events |= LOG_EV_SPACE;
	if (l->size + len <= l->cfg.max_bytes)
		return 0;
	if (l->cfg.when_full == LOG_FULL_DROP_OLDEST) {
		uint64_t records = 0;
		int n = 0;
		while (l->nsegs > 1 && l->size + len > l->cfg.max_bytes) {
			records += (uint64_t)(l->segs[0]->next - l->segs[0]->base);
			seg_drop_oldest_locked(l);
			n++;
		}
		if (n) {
			l->st.dropped_records += records;
			log_dir_changed_locked(l);
			log_report(l, LOG_LEVEL_WARN,
				   "full (max_bytes %" PRIu64 "): dropped the %d oldest segment(s), %" PRIu64
				   " records; the log now starts at offset %" PRId64,
				   l->cfg.max_bytes, n, records, l->start);
		}
		/* A single active segment larger than the cap: accept anyway, it
		 * rolls and the next append drops it. */
		return 0;
	}
	l->st.full_refusals++;
	return -ENOSPC;
}

/* Seals the active segment and starts a new one at l->end. Nothing here
 * waits for the disk: the sealed segment and the directory entry of the new
 * one are made durable by the next group commit (see the top). */
static int roll_locked(struct log *l)
{
	struct segment *old = l->nsegs ? l->segs[l->nsegs - 1] : NULL;
	struct segment *s = seg_create(l, l->end);
	if (!s)
		return -errno;
	if (segs_push(l, s) < 0) {
		char name[64];
		seg_name(name, sizeof(name), s->base);
		unlinkat(l->dirfd, name, 0);
		seg_free(s);
		return -ENOMEM;
	}
	if (l->cfg.fsync != LOG_FSYNC_NEVER) {
		if (old && old->size > 0)
			old->unsynced = 1;
		l->dir_unsynced = 1;
	}
	return 0;
}

static int append(struct log *l, uint8_t *batch, size_t len, int64_t *base_offset);

int log_append(struct log *l, uint8_t *batch, size_t len, int64_t *base_offset)
{
	long v = batch_verify(batch, len);
	if (v < 0)
		return (int)v;
	if ((size_t)v != len)
		return -EBADMSG;  /* exactly one batch per append */
	return append(l, batch, len, base_offset);
}

int log_append_built(struct log *l, uint8_t *batch, size_t len, int64_t *base_offset)
{
	struct batch_header h;
	long v = batch_size(batch, len);
	if (v < 0)
		return (int)v;
	if ((size_t)v != len)
		return -EBADMSG;
	int rc = batch_header_parse(batch, len, &h);
	return rc < 0 ? rc : append(l, batch, len, base_offset);
}

/* Appends one batch known to be whole and sound (see the two callers). */
static int append(struct log *l, uint8_t *batch, size_t len, int64_t *base_offset)
{
	unsigned events = 0;
	pthread_mutex_lock(&l->mu);
	int rc = make_room_locked(l, len, &events);
	if (rc < 0)
		goto out;
	struct segment *s = l->nsegs ? l->segs[l->nsegs - 1] : NULL;
	if (!s || (s->size > 0 && s->size + len > l->cfg.segment_bytes)) {
		if ((rc = roll_locked(l)) < 0) {
			log_report(l, LOG_LEVEL_ERROR, "cannot start a new segment: %s", strerror(-rc));
			goto out;
		}
		s = l->segs[l->nsegs - 1];
	}
	int64_t base = l->end;
	batch_set_base_offset(batch, base);
	size_t done = 0;
	while (done < len) {
		ssize_t w = pwrite(s->fd, batch + done, len - done, (off_t)(s->size + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			/* Leave the file as it was: a partial batch must not stay. */
			if (ftruncate(s->fd, (off_t)s->size) < 0)
				log_report(l, LOG_LEVEL_ERROR, "cannot cut a failed append: %s", strerror(errno));
			log_report(l, LOG_LEVEL_ERROR, "append of %zu bytes failed: %s", len, strerror(-rc));
			goto out;
		}
		done += (size_t)w;
	}
	seg_account(l, s, batch, s->size, len);
	int was_clean = l->durable >= l->end;
	l->end = s->next;
	l->size += len;
	if (l->cfg.fsync == LOG_FSYNC_NEVER)
		l->durable = l->end;
	l->st.appended_batches++;
	l->st.appended_bytes += len;
	*base_offset = base;
	events |= LOG_EV_APPEND | (l->cfg.fsync == LOG_FSYNC_NEVER ? LOG_EV_DURABLE : 0);
	pthread_cond_broadcast(&l->data_cond);
	/* The flusher starts its timer on the first undurable append; later
	 * ones need not wake it (a wake-up per append costs the appender a
	 * futex call and a fight for l->mu). After a sync it looks again. */
	if (l->cfg.fsync == LOG_FSYNC_INTERVAL && was_clean)
		pthread_cond_signal(&l->flush_cond);
out:
	pthread_mutex_unlock(&l->mu);
	if (events)
		log_notify(l, events);
	if (rc == 0 && l->cfg.fsync == LOG_FSYNC_ALWAYS)
		rc = log_sync(l);
	return rc;
}

/* --- group commit ---------------------------------------------------------- */

/* The group commit: the calling thread (the leader) makes everything
 * appended so far durable for everyone: sealed segments not yet synced (in
 * order), the directory if a segment was created, then the active segment.
 * Others calling meanwhile wait for it and go again if it did not cover
 * them. */
int log_sync(struct log *l)
{
	int rc = 0;
	pthread_mutex_lock(&l->mu);
	int64_t target = l->end;
	while (l->durable < target) {
		if (l->syncing) {
			pthread_cond_wait(&l->sync_cond, &l->mu);
			continue;
		}
		l->syncing = 1;
		/* What this round covers: every segment with bytes below l->end
		 * not yet on disk. Referenced, so that a segment dropped or
		 * deleted meanwhile stays open until we are done with it. */
		size_t n = 0;
		for (size_t i = 0; i < l->nsegs; i++)
			n += l->segs[i]->unsynced || i == l->nsegs - 1;
		struct segment *one, **v = n > 1 ? malloc(n * sizeof(*v)) : &one;
		if (!v) {
			l->syncing = 0;
			pthread_cond_broadcast(&l->sync_cond);
			rc = -ENOMEM;
			break;
		}
		size_t k = 0;
		for (size_t i = 0; i < l->nsegs; i++)
			if (l->segs[i]->unsynced || i == l->nsegs - 1) {
				v[k++] = l->segs[i];
				l->segs[i]->refs++;
			}
		int dir = l->dir_unsynced;
		l->dir_unsynced = 0;
		int64_t covers = l->end;
		pthread_mutex_unlock(&l->mu);
		int r = 0;
		for (size_t i = 0; i + 1 < k && r == 0; i++)
			if (!v[i]->dead && fdatasync(v[i]->fd) < 0)
				r = -errno;
		if (r == 0 && dir)
			r = log_sync_dir(l);
		if (r == 0 && k && fdatasync(v[k - 1]->fd) < 0)
			r = -errno;
		pthread_mutex_lock(&l->mu);
		for (size_t i = 0; i < k; i++) {
			if (r == 0 && i + 1 < k)
				v[i]->unsynced = 0;
			seg_unref_locked(v[i]);
		}
		if (v != &one)
			free(v);
		l->syncing = 0;
		l->st.syncs++;
		if (r < 0) {
			if (dir)
				l->dir_unsynced = 1;
			rc = r;
			pthread_cond_broadcast(&l->sync_cond);
			log_report(l, LOG_LEVEL_ERROR, "fdatasync failed: %s", strerror(-r));
			break;
		}
		if (covers > l->durable)
			l->durable = covers;
		pthread_cond_broadcast(&l->sync_cond);
		pthread_mutex_unlock(&l->mu);
		log_notify(l, LOG_EV_DURABLE);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void log_sync_request(struct log *l)
{
	pthread_mutex_lock(&l->mu);
	if (l->durable >= l->end) {
		pthread_mutex_unlock(&l->mu);
		log_notify(l, LOG_EV_DURABLE);  /* nothing to wait for */
		return;
	}
	l->sync_requested = 1;
	pthread_cond_signal(&l->flush_cond);
	pthread_mutex_unlock(&l->mu);
}

/* The flusher sleeps until there is something to make durable: at most
 * fsync_interval_ms after the first undurable append (interval policy), or at
 * once when asked (log_sync_request). An idle log costs no wakeups. */
static void *flusher_main(void *arg)
{
	struct log *l = arg;
	pthread_setname_np(pthread_self(), "log-flusher");  /* for top, /proc and the benchmarks */
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		int dirty = l->durable < l->end;
		if (!dirty || (!l->sync_requested && l->cfg.fsync != LOG_FSYNC_INTERVAL)) {
			l->sync_requested = 0;
			pthread_cond_wait(&l->flush_cond, &l->mu);
			continue;
		}
		if (!l->sync_requested) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += l->cfg.fsync_interval_ms / 1000;
			ts.tv_nsec += (long)(l->cfg.fsync_interval_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			while (!l->stop && !l->sync_requested &&
			       pthread_cond_timedwait(&l->flush_cond, &l->mu, &ts) != ETIMEDOUT)
				;
			if (l->stop)
				break;
		}
		l->sync_requested = 0;
		pthread_mutex_unlock(&l->mu);
		log_sync(l);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* --- read ------------------------------------------------------------------ */

void log_buf_free(struct log_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int buf_reserve(struct log_buf *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	size_t n = b->cap ? b->cap : 65536;
	while (n < need)
		n *= 2;
	uint8_t *p = realloc(b->data, n);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = n;
	return 0;
}

/* Index of the segment holding offset (the last with base <= offset). */
static size_t seg_find_locked(struct log *l, int64_t offset)
{
	size_t lo = 0, hi = l->nsegs;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (l->segs[mid]->base <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t idx_find(const struct segment *s, int64_t offset)
{
	size_t lo = 0, hi = s->nidx;
	if (hi == 0 || s->idx[0].offset > offset)
		return 0;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (s->idx[mid].offset <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return s->idx[lo].pos;
}

/* Reads from one segment, from the batch holding offset: appends whole,
 * verified batches to out (at most max_bytes, but at least one). Corrupt
 * batches are skipped (counted, reported). Verified means: the CRC is checked
 * for every batch that was on disk when the log was opened (a crash, a torn
 * write, a bad disk may have left anything there); a batch this process
 * appended since (at or past the segment's trusted_pos) was verified by
 * log_append and went from memory to the page cache, so the agent's outputs
 * do not pay a second CRC pass over what the agent itself just wrote. After
 * a restart everything is on-disk data again and verified. *next_offset is set past the last
 * batch consumed, accepted or skipped, so a caller always makes progress.
 * Returns the bytes in out, 0 if nothing readable, or -errno. */
static ssize_t seg_read(struct log *l, struct segment *s, uint64_t limit, int64_t offset,
			size_t max_bytes, struct log_buf *out, int64_t *next_offset)
{
	uint64_t pos = idx_find(s, offset);
	uint8_t hdr[BATCH_HEADER_SIZE];
	/* Skip whole batches that end before offset (a few: the index is sparse). */
	for (;;) {
		if (pos + BATCH_HEADER_SIZE > limit)
			return 0;
		if (pread(s->fd, hdr, sizeof(hdr), (off_t)pos) != (ssize_t)sizeof(hdr))
			return -EIO;
		long size = batch_size(hdr, sizeof(hdr));
		if (size < 0)
			return 0;  /* the unreadable rest of a sealed segment, reported at open */
		if (batch_last_offset(hdr) >= offset)
			break;
		pos += (uint64_t)size;
	}
	out->len = 0;
	while (pos + BATCH_LOG_OVERHEAD <= limit && out->len < max_bytes) {
		if (pread(s->fd, hdr, BATCH_LOG_OVERHEAD, (off_t)pos) != BATCH_LOG_OVERHEAD)
			return -EIO;
		long first = batch_size(hdr, BATCH_LOG_OVERHEAD);
		if (first < 0 || pos + (uint64_t)first > limit)
			break;
		/* One pread for as many batches as max_bytes allows. */
		size_t want = max_bytes - out->len;
		if (want < (size_t)first)
			want = (size_t)first;
		if (want > limit - pos)
			want = (size_t)(limit - pos);
		if (buf_reserve(out, out->len + want) < 0)
			return -ENOMEM;
		uint8_t *chunk = out->data + out->len;
		ssize_t r = pread(s->fd, chunk, want, (off_t)pos);
		if (r < first)
			return r < 0 ? -errno : -EIO;
		size_t walked = 0, kept = 0;
		while (walked + BATCH_LOG_OVERHEAD <= (size_t)r) {
			uint8_t *b = chunk + walked;
			long bs = batch_size(b, (size_t)r - walked);
			if (bs < 0 || walked + (size_t)bs > (size_t)r)
				break;
			if (out->len + kept > 0 && out->len + kept + (size_t)bs > max_bytes)
				break;
			int64_t last = batch_last_offset(b);
			/* Trusted by position, not by anything the bytes say. */
			int trusted = pos + walked >= s->trusted_pos;
			if (!trusted && batch_verify(b, (size_t)bs) < 0) {
				pthread_mutex_lock(&l->mu);
				l->st.corrupt_skipped++;
				pthread_mutex_unlock(&l->mu);
				log_report(l, LOG_LEVEL_ERROR,
					   "corrupt batch at byte %" PRIu64 " of segment %020" PRId64
					   ".log skipped (offsets up to %" PRId64 ")", pos + walked, s->base, last);
			} else {
				if (chunk + kept != b)
					memmove(chunk + kept, b, (size_t)bs);
				kept += (size_t)bs;
			}
			walked += (size_t)bs;
			*next_offset = last + 1;
		}
		out->len += kept;
		pos += walked;
		if (walked == 0 || walked < (size_t)r)
			break;  /* a batch did not fit max_bytes (or the rest is unreadable) */
	}
	return (ssize_t)out->len;
}

ssize_t log_read(struct log *l, int64_t offset, size_t max_bytes, struct log_buf *out,
		 int64_t *next_offset)
{
	out->len = 0;
	if (max_bytes == 0)
		max_bytes = 1;
	pthread_mutex_lock(&l->mu);
	if (offset < l->start || offset > l->end) {
		pthread_mutex_unlock(&l->mu);
		return -ERANGE;
	}
	for (;;) {
		if (offset >= l->end || l->nsegs == 0) {
			pthread_mutex_unlock(&l->mu);
			return 0;
		}
		size_t i = seg_find_locked(l, offset);
		struct segment *s = l->segs[i];
		uint64_t limit = s->size;
		s->refs++;
		pthread_mutex_unlock(&l->mu);
		int64_t next = offset;
		ssize_t r = seg_read(l, s, limit, offset, max_bytes, out, &next);
		pthread_mutex_lock(&l->mu);
		seg_unref_locked(s);
		if (r != 0) {
			pthread_mutex_unlock(&l->mu);
			if (r > 0)
				*next_offset = next;
			return r;
		}
		/* Nothing readable at offset: corrupt batches were skipped (go on
		 * after them) or the segment's tail is unreadable (go on in the next
		 * segment). Either way, progress, never a loop on one spot. */
		if (next > offset)
			offset = next;
		else if (i + 1 < l->nsegs)
			offset = l->segs[i + 1]->base;
		else {
			pthread_mutex_unlock(&l->mu);
			return 0;
		}
	}
}

int log_wait(struct log *l, int64_t offset, int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (timeout_ms >= 0) {
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&l->mu);
	uint64_t gen = l->wakeups;
	int rc = 0;
	while (l->end <= offset && l->wakeups == gen && !l->stop) {
		if (timeout_ms < 0)
			pthread_cond_wait(&l->data_cond, &l->mu);
		else if (pthread_cond_timedwait(&l->data_cond, &l->mu, &ts) == ETIMEDOUT)
			break;
	}
	rc = l->end > offset;
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void log_wakeup(struct log *l)
{
	pthread_mutex_lock(&l->mu);
	l->wakeups++;
	pthread_cond_broadcast(&l->data_cond);
	pthread_mutex_unlock(&l->mu);
}

/* --- metadata ---------------------------------------------------------------- */

#define GETTER(name, field, type)                 \
	type name(struct log *l)                  \
	{                                         \
		pthread_mutex_lock(&l->mu);       \
		type v = l->field;                \
		pthread_mutex_unlock(&l->mu);     \
		return v;                         \
	}
GETTER(log_start_offset, start, int64_t)
GETTER(log_end_offset, end, int64_t)
GETTER(log_durable_offset, durable, int64_t)
GETTER(log_size_bytes, size, uint64_t)

void log_get_stats(struct log *l, struct log_stats *st)
{
	pthread_mutex_lock(&l->mu);
	*st = l->st;
	st->start_offset = l->start;
	st->end_offset = l->end;
	st->durable_offset = l->durable;
	st->size_bytes = l->size;
	st->segments = (uint32_t)l->nsegs;
	pthread_mutex_unlock(&l->mu);
}

int log_offset_for_time(struct log *l, int64_t ts_ms, int64_t *offset)
{
	pthread_mutex_lock(&l->mu);
	size_t i = 0;
	while (i < l->nsegs && l->segs[i]->max_ts < ts_ms)
		i++;
	if (i == l->nsegs) {
		pthread_mutex_unlock(&l->mu);
		return -ENOENT;
	}
	struct segment *s = l->segs[i];
	uint64_t limit = s->size;
	s->refs++;
	pthread_mutex_unlock(&l->mu);
	int rc = -ENOENT;
	uint64_t pos = 0;
	uint8_t hdr[BATCH_HEADER_SIZE];
	struct log_buf b = { 0 };
	while (pos + BATCH_HEADER_SIZE <= limit) {
		if (pread(s->fd, hdr, sizeof(hdr), (off_t)pos) != (ssize_t)sizeof(hdr))
			break;
		struct batch_header h;
		long size = batch_size(hdr, sizeof(hdr));
		if (size < 0 || batch_header_parse(hdr, sizeof(hdr), &h) < 0)
			break;
		if (h.max_timestamp >= ts_ms) {
			/* The first record at or after ts inside this batch. */
			*offset = h.base_offset;
			rc = 0;
			if (buf_reserve(&b, (size_t)size) == 0 &&
			    pread(s->fd, b.data, (size_t)size, (off_t)pos) == size) {
				struct batch_iter it;
				struct batch_record r;
				if (batch_iter_init(&it, b.data, (size_t)size) == 0) {
					while (batch_iter_next(&it, &r) == 1)
						if (r.timestamp >= ts_ms) {
							*offset = r.offset;
							break;
						}
					batch_iter_free(&it);
				}
			}
			break;
		}
		pos += (uint64_t)size;
	}
	log_buf_free(&b);
	pthread_mutex_lock(&l->mu);
	seg_unref_locked(s);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int log_trim_before(struct log *l, int64_t offset)
{
	int n = 0;
	uint64_t records = 0;
	pthread_mutex_lock(&l->mu);
	while (l->nsegs > 1 && l->segs[0]->next <= offset) {
		records += (uint64_t)(l->segs[0]->next - l->segs[0]->base);
		seg_drop_oldest_locked(l);
		n++;
	}
	l->st.dropped_records += records;
	if (n)
		log_dir_changed_locked(l);
	pthread_mutex_unlock(&l->mu);
	if (n)
		log_notify(l, LOG_EV_SPACE);
	return n;
}

int log_retain(struct log *l, int64_t now_ms, int64_t max_age_ms, uint64_t max_bytes)
{
	int n = 0;
	uint64_t records = 0;
	pthread_mutex_lock(&l->mu);
	if (now_ms <= 0)
		now_ms = wall_ms();
	while (l->nsegs > 1) {
		struct segment *s = l->segs[0];
		int old = max_age_ms >= 0 && s->max_ts < now_ms - max_age_ms;
		int big = max_bytes > 0 && l->size > max_bytes;
		if (!old && !big)
			break;
		records += (uint64_t)(s->next - s->base);
		seg_drop_oldest_locked(l);
		n++;
	}
	l->st.dropped_records += records;
	if (n) {
		log_dir_changed_locked(l);
		log_report(l, LOG_LEVEL_INFO, "retention: deleted %d segment(s), %" PRIu64
			   " records; the log now starts at offset %" PRId64, n, records, l->start);
	}
	pthread_mutex_unlock(&l->mu);
	if (n)
		log_notify(l, LOG_EV_SPACE);
	return n;
}
