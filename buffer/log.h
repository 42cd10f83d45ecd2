/* The segmented log: logship's on-disk ring (agent) and partition log (broker).
 *
 * A log is one directory of segments named by their first offset
 * (00000000000000000000.log), each a run of RecordBatch v2 batches (batch.h),
 * rolled at segment_bytes. Offsets count records: a batch of n records takes
 * offsets [base, base + n). Invariants:
 *   - start_offset <= durable_offset <= end_offset; reads never see past
 *     end_offset and never return a batch whose CRC fails (every batch found
 *     on disk at open is checked when read; one this process appended since
 *     was checked by log_append and is not checked again).
 *   - After a crash, open() truncates the last segment at the first torn or
 *     corrupt batch, so every batch acknowledged under fsync policy survives.
 *   - A segment is deleted only when every cursor is past its last offset, or by
 *     trim/retention (broker) or when_full = drop_oldest (agent); never the
 *     active segment.
 * Thread safety: every function may be called from any thread; appends are
 * serialised, reads run concurrently with appends and with fsync.
 * Errors are negative errno values; details go to config.report. */
#ifndef LOGSHIP_BUFFER_LOG_H
#define LOGSHIP_BUFFER_LOG_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum log_fsync { LOG_FSYNC_INTERVAL = 0, LOG_FSYNC_ALWAYS, LOG_FSYNC_NEVER };
enum log_when_full { LOG_FULL_BLOCK = 0, LOG_FULL_DROP_OLDEST };
enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

struct log_config {
	uint64_t segment_bytes;        /* roll threshold; 0 = 64 MiB */
	uint64_t max_bytes;            /* capacity on disk; 0 = unlimited */
	enum log_when_full when_full;
	enum log_fsync fsync;
	uint32_t fsync_interval_ms;    /* LOG_FSYNC_INTERVAL period; 0 = 1000 */
	uint32_t index_interval_bytes; /* sparse index step; 0 = 4096 */
	/* Where recovery reports, drops and I/O errors are told (may be NULL). */
	void (*report)(void *arg, enum log_level level, const char *msg);
	void *report_arg;
	/* Called (from any thread, no lock held) when something a waiter may want
	 * happened: LOG_EV_* bits. Keep it short: write to an eventfd, signal. */
	void (*notify)(void *arg, unsigned events);
	void *notify_arg;
};
#define LOG_EV_APPEND  1u   /* end_offset moved */
#define LOG_EV_DURABLE 2u   /* durable_offset moved */
#define LOG_EV_SPACE   4u   /* segments were freed: a blocked appender may retry */

void log_config_defaults(struct log_config *c);

struct log;

/* What open() found and did; also reported through config.report. */
struct log_recovery {
	uint64_t truncated_bytes;      /* cut from the tail of the last segment */
	int64_t truncated_at_offset;   /* first offset lost to truncation, -1 if none */
	uint64_t corrupt_batches;      /* bad batches found inside sealed segments */
	uint32_t segments;
};

struct log_stats {
	int64_t start_offset, end_offset, durable_offset;
	uint64_t size_bytes;           /* on disk, all segments */
	uint32_t segments;
	uint64_t appended_batches, appended_bytes;
	uint64_t syncs;                /* fdatasync calls (group commit: <= appends) */
	uint64_t dropped_segments, dropped_records;  /* drop_oldest, retention, trim */
	uint64_t corrupt_skipped;      /* batches skipped by readers for a bad CRC */
	uint64_t full_refusals;        /* appends refused with -ENOSPC (block mode) */
};

/* Opens (creating the directory if needed) and recovers. */
int log_open(const char *dir, const struct log_config *cfg, struct log **out);
const struct log_recovery *log_recovery(const struct log *l);
/* Syncs (unless fsync=never), stops the flusher, frees. */
int log_close(struct log *l);

/* Appends one verified batch (batch_verify must pass: else -EBADMSG/-EILSEQ/
 * -ENODATA). Writes the assigned base offset into batch[0..8) and returns it in
 * *base_offset. Under fsync=always it returns once the batch is durable (one
 * fdatasync shared by every concurrent appender). When the log is full:
 * when_full=block frees segments all cursors are past, else returns -ENOSPC
 * (retry after LOG_EV_SPACE); drop_oldest deletes the oldest segments. Disk
 * errors (-ENOSPC from the filesystem, -EIO) leave the log as it was before
 * the call: a partial write is cut off again. */
int log_append(struct log *l, uint8_t *batch, size_t len, int64_t *base_offset);
/* log_append for a batch this process has just built with batch_builder
 * (its CRC computed from these very bytes): the header is checked, the CRC
 * is not computed a second time. Anything received from elsewhere goes
 * through log_append. */
int log_append_built(struct log *l, uint8_t *batch, size_t len, int64_t *base_offset);

/* fdatasync now: on return every batch appended before the call is durable.
 * Concurrent callers share one fdatasync (group commit). */
int log_sync(struct log *l);
/* Ask the background flusher for a sync soon; LOG_EV_DURABLE tells when. */
void log_sync_request(struct log *l);

/* A growable buffer that log_read fills; reuse it across reads. */
struct log_buf { uint8_t *data; size_t len, cap; };
void log_buf_free(struct log_buf *b);

/* Reads whole batches, the first being the one that contains `offset`, up to
 * max_bytes in total, but always at least one whole batch (a batch larger than
 * max_bytes is returned alone). Fills out->data/len; *next_offset = the offset
 * after the last returned batch. Returns bytes read, 0 when offset ==
 * end_offset (nothing new), -ERANGE when offset < start_offset or > end_offset.
 * Batches with a bad CRC are skipped (counted, reported), never returned. */
ssize_t log_read(struct log *l, int64_t offset, size_t max_bytes, struct log_buf *out,
		 int64_t *next_offset);

/* Blocks until end_offset > offset, or timeout_ms passes (-1 = forever).
 * Returns 1 if data is there, 0 on timeout. log_wakeup() ends every wait. */
int log_wait(struct log *l, int64_t offset, int timeout_ms);
void log_wakeup(struct log *l);

int64_t log_start_offset(struct log *l);
int64_t log_end_offset(struct log *l);
int64_t log_durable_offset(struct log *l);
uint64_t log_size_bytes(struct log *l);
void log_get_stats(struct log *l, struct log_stats *st);

/* First offset whose batch maxTimestamp >= ts_ms (Kafka ListOffsets by time);
 * returns 0 and sets *offset, or -ENOENT if none. */
int log_offset_for_time(struct log *l, int64_t ts_ms, int64_t *offset);

/* Deletes whole segments that lie entirely below offset. Returns count. */
int log_trim_before(struct log *l, int64_t offset);
/* Broker retention: deletes the oldest sealed segments whose newest record is
 * older than now_ms - max_age_ms (max_age_ms < 0: no age limit), then while
 * the log is larger than max_bytes (0: no size limit). Returns count. */
int log_retain(struct log *l, int64_t now_ms, int64_t max_age_ms, uint64_t max_bytes);

/* Durable named positions (one per agent output). Stored as <dir>/<name>.cursor,
 * replaced atomically (temp file, fsync, rename, fsync dir). Opening one that
 * does not exist creates it at start_offset. A cursor file that is garbage is
 * reported and the cursor restarts at start_offset (re-ship, never lose):
 * log_cursor_open then returns 1 instead of 0. While cursors exist, segments
 * are freed only when every cursor is past them. */
struct log_cursor;
int log_cursor_open(struct log *l, const char *name, struct log_cursor **out);
int64_t log_cursor_offset(const struct log_cursor *c);
/* Makes `offset` durable as the cursor's position and frees segments every
 * cursor is past (LOG_EV_SPACE). offset must be within [start, end]. */
int log_cursor_commit(struct log_cursor *c, int64_t offset);
void log_cursor_close(struct log_cursor *c);
/* Removes a cursor for good (an output taken out of the config). */
int log_cursor_remove(struct log *l, const char *name);

#endif
