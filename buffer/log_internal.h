/* Internals of the segmented log shared by log.c (segments, appends, reads,
 * recovery) and cursor.c (durable named positions). Not part of the API. */
#ifndef LOGSHIP_BUFFER_LOG_INTERNAL_H
#define LOGSHIP_BUFFER_LOG_INTERNAL_H
#include <pthread.h>
#include <stdint.h>

#include "buffer/log.h"

struct idx_entry { int64_t offset; uint64_t pos; };

/* One segment file. base..next are the offsets it holds; size its bytes.
 * A segment removed from the log while a reader holds it (refs > 0) is
 * unlinked at once and closed by the last reader. */
struct segment {
	int64_t base, next;
	uint64_t size;
	int64_t max_ts;               /* newest record time in it, ms; -1 unknown */
	int fd;
	struct idx_entry *idx;        /* sparse: one entry per index_interval_bytes */
	size_t nidx, idxcap;
	uint64_t last_idx_pos;
	/* Bytes from here on were appended by this process (log_append
	 * verified each batch, log_append_built took it from the builder that
	 * had just computed its CRC, and wrote it from memory): readers skip
	 * their CRC. Below it, what recovery found on disk: every read verifies. */
	uint64_t trusted_pos;
	/* Sealed by a roll with bytes not yet fdatasynced: the next group
	 * commit (log_sync) syncs it before the active segment, so the durable
	 * offset never passes it while it is not on disk. */
	int unsynced;
	int refs, dead;
};

struct log_cursor {
	struct log *log;
	char *name;
	int64_t offset;
	struct log_cursor *next;
};

struct log {
	char *dir;
	int dirfd;
	struct log_config cfg;
	pthread_mutex_t mu;           /* segments, offsets, size, stats, cursors */
	pthread_cond_t data_cond;     /* end moved, or wakeup */
	pthread_cond_t flush_cond;    /* the flusher: dirty, requested, or stop */
	struct segment **segs;
	size_t nsegs, capsegs;
	int64_t start, end, durable;
	uint64_t size;
	uint64_t wakeups;             /* log_wakeup generation */
	/* group commit */
	int syncing;                  /* a thread is in fdatasync for everyone */
	int dir_unsynced;             /* a segment was created since the last directory fsync */
	pthread_cond_t sync_cond;
	int sync_requested, stop;
	pthread_t flusher;
	int flusher_started;
	struct log_cursor *cursors;
	struct log_stats st;
	struct log_recovery rec;
};

void log_report(struct log *l, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_notify(struct log *l, unsigned events);
/* With l->mu held: deletes segments every cursor is past (never the active
 * one). Returns how many; the caller notifies LOG_EV_SPACE when > 0. */
int log_free_behind_cursors_locked(struct log *l);
/* fsyncs the log directory (after create, rename, unlink). */
int log_sync_dir(struct log *l);
/* With l->mu held: segment files were deleted; the next group commit syncs
 * the directory (see log.c). */
void log_dir_changed_locked(struct log *l);

#endif
