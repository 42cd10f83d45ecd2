/* The tail input's shared state, split by concern like Fluent Bit's in_tail:
 *   tail.c           the module: config, start/stop, the loop handlers, timer
 *   tail_file.c      one file: open, read, split lines, parsers, multiline
 *   tail_event.c     building the ECS JSON event
 *   tail_scan.c      globs, excludes, new and vanished files
 *   tail_rotate.c    identity, truncation, copies, release, restart recovery
 *   tail_inotify.c   change detection with inotify
 *   tail_poll.c      change detection by stat polling
 *   tail_pos.c ...   pure codecs and parsers (tail_parse.h)
 *
 * The invariants every part keeps:
 *  - f->off only moves past bytes that are handed over (input_emit took
 *    their event) or held in f's own memory (a CRI/docker partial line, a
 *    multiline event in progress), and the checkpointed offset of a file is
 *    the start of the oldest such held piece (tail_file_ckpt_off): a restart
 *    re-reads what was held, never skips it (invariant 1).
 *  - An event the ring refuses (-EAGAIN) leaves every state as it was before
 *    the line that caused it: the line is read again on resume.
 *  - A file's descriptor is closed for good (released) only when its bytes
 *    are all read and the durable checkpoint says so: a deleted or
 *    rotated-away file cannot be found again after that.
 *  - A file is known by identity (dev, ino, head fingerprint), never by path
 *    alone: paths move under rotation, inodes get reused. */
#ifndef LOGSHIP_INPUTS_TAIL_H
#define LOGSHIP_INPUTS_TAIL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "agent/module.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/sbuf.h"
#include "inputs/tail/tail_parse.h"

#define TAIL_COMP "tail"

enum { TAIL_WATCH_AUTO, TAIL_WATCH_INOTIFY, TAIL_WATCH_POLL };
enum { TAIL_PARSER_NONE, TAIL_PARSER_CRI, TAIL_PARSER_DOCKER, TAIL_PARSER_AUTO };
enum { TAIL_LONG_SPLIT, TAIL_LONG_TRUNCATE };

struct tail_conf {
	struct cfg_strlist paths, exclude;
	int read_from_head;
	int64_t refresh_interval, poll_interval, rotate_wait, flush_timeout;
	uint64_t max_line_bytes, read_bytes;
	int long_lines;
	int watcher;
	int64_t max_open_files;
	int parser;
	/* multiline: */
	char *ml_start_pattern;
	int ml_preset;
	uint64_t ml_max_bytes;
	int64_t ml_flush_timeout;
};

/* f->state bits */
#define TF_ORPHAN     0x01u   /* no longer at any watched path (renamed away or deleted) */
#define TF_DELETED    0x02u   /* no links left (st_nlink == 0) */
#define TF_DIRTY      0x04u   /* may have bytes to read */
#define TF_SKIPPING   0x08u   /* discarding the rest of a truncated over-long line */
#define TF_SPLIT      0x10u   /* the line in progress was split (max_line_bytes) */
#define TF_CONTINUED  0x20u   /* an unterminated tail was shipped on timeout */
#define TF_GONE       0x40u   /* cannot be found any more: dropped after this turn */
#define TF_COPY       0x80u   /* a copytruncate copy, started at the original's offset:
			       * shorter than that while the copy is written */

/* event flags (log.flags) */
#define EV_MULTILINE  0x01u
#define EV_SPLIT      0x02u
#define EV_TRUNCATED  0x04u
#define EV_PARTIAL    0x08u   /* shipped without its newline (flush_timeout or end of file) */
#define EV_CONTINUED  0x10u   /* the rest of a line shipped before as EV_PARTIAL */

struct tail_file {
	char *path;                    /* where it was last found (the matched path) */
	char *rdir;                    /* directory of its resolved path (symlinks) */
	int fd;                        /* -1: closed while idle (max_open_files) */
	int wd;                        /* inotify watch, -1 */
	struct tail_id id;
	int64_t off;                   /* next byte to read (see the invariants above) */
	int64_t size;                  /* size at the last look */
	unsigned state;                /* TF_* */
	int seen;                      /* found by the scan in progress */
	int64_t active_ms;             /* monotonic: last time bytes were read */
	int64_t orphan_ms;             /* monotonic: when it became an orphan */
	int64_t tail_ms;               /* monotonic: an unterminated last line waits since */
	uint64_t lru;
	/* a runtime line in pieces (CRI "P", docker without "\n") */
	struct sbuf part;
	int part_active, part_stream;
	int64_t part_off, part_ts, part_ms;
	unsigned part_flags;
	/* a multiline event in progress */
	struct sbuf ml;
	int ml_active, ml_stream;
	int64_t ml_off, ml_ts, ml_ms;
	unsigned ml_flags;
	struct tail_ml_state mls;
	/* event pieces that do not change per line */
	char *meta;                    /* ,"log":{"file":{"path":"..."},"offset": */
	size_t meta_len;
	char *k8s;                     /* ,"kubernetes":{...},"container":{"id":"..."} or NULL */
	size_t k8s_len;
};

struct tail {
	struct input *in;
	const char *name;              /* the input's name, for logs */
	const struct tail_conf *c;
	struct tail_ml_rules ml;
	char *host_json;               /* ,"host":{"name":"..."} */
	size_t host_json_len;
	struct tail_file **files;
	size_t nfiles, capfiles, nopen;
	uint64_t lru_clock;
	size_t rr;                     /* round robin start among files */
	char *buf;                     /* the one read buffer: read_bytes + max_line_bytes */
	size_t bufcap;
	struct sbuf ev, scratch;
	int64_t now_wall;              /* wall ms for @timestamp, per read round */
	char ev_head[64];              /* {"@timestamp":"...","message": for ev_head_ts */
	size_t ev_head_len;
	int64_t ev_head_ts;
	/* change detection */
	int ifd;                       /* inotify, -1 in poll mode */
	int *dir_wds;
	size_t ndir_wds, capdir_wds;
	int poll_mode;
	int64_t next_scan, next_poll;  /* monotonic ms */
	int scan_due;
	int started;
	/* start-up */
	int first_start;               /* no checkpoint: files found now start at their end */
	int initial_scan;
	struct tail_pos_entry *restore;
	size_t nrestore;
	/* positions */
	uint8_t *pos, *pos_last;
	size_t pos_last_len;
	struct tail_pos_entry *pe;
	size_t pe_cap;
	int pos_overflow_warned, fd_limit_warned;
	int release_pending;
	int64_t next_release_check;
	/* counters, logged */
	uint64_t n_truncated, n_rotated, n_released, n_copies;
	uint64_t n_denied;             /* matches that could not be opened (permissions) */
	struct ratelimit denied_log;
};

/* tail.c */
int64_t tail_mono_ms(void);
int tail_add_file(struct tail *t, struct tail_file *f);
void tail_remove_file(struct tail *t, struct tail_file *f);
struct tail_file *tail_find_devino(struct tail *t, uint64_t dev, uint64_t ino);

/* tail_file.c */
struct tail_file *tail_file_new(struct tail *t, const char *path);
void tail_file_free(struct tail *t, struct tail_file *f);
int tail_file_set_path(struct tail *t, struct tail_file *f, const char *path);
/* Reads what f holds and hands its events over, up to *budget bytes
 * (decremented). 0: at the end or budget spent; -EAGAIN: the ring is full. */
int tail_file_read(struct tail *t, struct tail_file *f, size_t *budget);
/* Ships what waits on timers (multiline event, partial runtime line) when
 * due (or all of it with force). 0 or -EAGAIN. */
int tail_file_flush(struct tail *t, struct tail_file *f, int64_t now, int force);
/* The next monotonic ms at which f has something due, or INT64_MAX. */
int64_t tail_file_deadline(struct tail *t, struct tail_file *f);
uint64_t tail_file_ckpt_off(const struct tail_file *f);
/* Start offset for a file found with no history: the end, at a line start. */
int64_t tail_file_end_offset(int fd, int64_t size);

/* tail_event.c */
int tail_event_emit(struct tail *t, struct tail_file *f, const char *msg, size_t n, int64_t off,
		    int64_t ts_ms, int stream, unsigned flags);
int tail_event_prepare(struct tail *t, struct tail_file *f);

/* tail_rotate.c */
/* Fingerprint of fd's first bytes: reads min(size, TAIL_FP_MAX). */
int tail_fingerprint(int fd, int64_t size, uint32_t *len, uint32_t *hash);
/* 1 when fd's first id->fp_len bytes hash to id->fp_hash; then grows the
 * fingerprint to min(size, TAIL_FP_MAX) bytes. 0: the head changed. */
int tail_fp_check_grow(int fd, int64_t size, struct tail_id *id);
/* Opens path as a tracked file at offset off (flags TAIL_POS_*); orphan:
 * not at a watched path (read to its end, then released). NULL on error. */
struct tail_file *tail_open_at(struct tail *t, const char *path, int fd, const struct stat *st,
			       int64_t off, unsigned flags, int orphan);
/* f's size went below its offset or its head changed (copytruncate): ships
 * what f holds in memory, looks for the copy, then starts f again from 0.
 * 0 or -EAGAIN (the ring refused what was held: try again later). */
int tail_truncated(struct tail *t, struct tail_file *f, int64_t size);
/* A new file: if it is a copy of a tracked file's content (copytruncate),
 * the offset to start it at; else -1. */
int64_t tail_copy_offset(struct tail *t, int fd, const struct stat *st);
/* Start-up: restore entries not found at a watched path are looked for by
 * identity (rotated while the agent was down). */
void tail_recover(struct tail *t);
/* Reopens a file closed while idle: by path, else by identity in its
 * directory. 0, or -ENOENT (it is gone). */
int tail_reopen(struct tail *t, struct tail_file *f);
/* Releases files read to their end that are gone from watched paths, once
 * the durable checkpoint covers them. */
void tail_release_check(struct tail *t, int64_t now);
/* Keeps open descriptors within max_open_files (closes the idlest). */
void tail_limit_open(struct tail *t);

/* tail_scan.c */
void tail_scan(struct tail *t);
int tail_excluded(const struct tail *t, const char *path);
/* 1 when path is matched by `paths` and not excluded. */
int tail_path_matches(const struct tail *t, const char *path);
/* The directories the globs look in (for inotify and the restart search);
 * calls fn for each. */
void tail_glob_dirs(struct tail *t, void (*fn)(struct tail *t, const char *dir, void *arg), void *arg);

/* tail_inotify.c */
int tail_inotify_start(struct tail *t);
void tail_inotify_stop(struct tail *t);
void tail_inotify_watch_dirs(struct tail *t);
void tail_inotify_watch_file(struct tail *t, struct tail_file *f);
void tail_inotify_unwatch_file(struct tail *t, struct tail_file *f);
void tail_inotify_read(struct tail *t);

/* tail_poll.c */
void tail_poll(struct tail *t);
int tail_fs_needs_poll(const char *dir);

#endif
