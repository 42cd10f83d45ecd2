/* One tailed file: reading it and turning its bytes into events.
 *
 * The read path is built for throughput: large preads into the input's one
 * buffer (no per-file buffers: a thousand idle files cost no memory), memchr
 * for line ends, the event built straight from the buffer (no copy, no
 * allocation per line). An unterminated last line is not kept in memory: the
 * file's offset stays at its start and it is read again next time, until its
 * newline comes or flush_timeout ships it as it is (flag "partial"; the rest,
 * when it comes, is flagged "continued", so no byte is shipped twice).
 *
 * Each line passes through, in order:
 *   physical line -> runtime parser (CRI / docker: pieces of one line are
 *   joined) -> multiline (lines of one event joined) -> event.
 * A stage that holds bytes (a partial runtime line, a multiline event in
 * progress) remembers the file offset where they start; the checkpoint never
 * passes it (tail_file_ckpt_off). When the ring refuses an event, every stage
 * is left as it was before the line that produced it, and the line is read
 * again later. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/logging.h"
#include "inputs/tail/tail.h"

#define TAIL_SBUF_KEEP (64u << 10)   /* larger scratch buffers are freed after use */

static char *dir_of(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return NULL;
	char *d = strdup(dirname(copy));
	free(copy);
	return d;
}

struct tail_file *tail_file_new(struct tail *t, const char *path)
{
	struct tail_file *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->fd = -1;
	f->wd = -1;
	f->path = strdup(path);
	char real[PATH_MAX];
	f->rdir = dir_of(realpath(path, real) ? real : path);
	if (!f->path || !f->rdir || tail_event_prepare(t, f) < 0) {
		tail_file_free(t, f);
		return NULL;
	}
	return f;
}

void tail_file_free(struct tail *t, struct tail_file *f)
{
	if (!f)
		return;
	if (f->wd >= 0)
		tail_inotify_unwatch_file(t, f);
	if (f->fd >= 0) {
		close(f->fd);
		t->nopen--;
	}
	sbuf_free(&f->part);
	sbuf_free(&f->ml);
	free(f->meta);
	free(f->k8s);
	free(f->path);
	free(f->rdir);
	free(f);
}

int tail_file_set_path(struct tail *t, struct tail_file *f, const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	free(f->path);
	f->path = p;
	return tail_event_prepare(t, f);
}

uint64_t tail_file_ckpt_off(const struct tail_file *f)
{
	if (f->ml_active)
		return (uint64_t)f->ml_off;
	if (f->part_active)
		return (uint64_t)f->part_off;
	return (uint64_t)f->off;
}

int64_t tail_file_end_offset(int fd, int64_t size)
{
	char b[65536];
	int64_t from = size > (int64_t)sizeof(b) ? size - (int64_t)sizeof(b) : 0;
	ssize_t n = pread(fd, b, (size_t)(size - from), from);
	if (n <= 0)
		return size;
	char *nl = memrchr(b, '\n', (size_t)n);
	if (nl)
		return from + (nl - b) + 1;
	return from == 0 ? 0 : size;
}

static void sbuf_trim(struct sbuf *b)
{
	if (b->cap > TAIL_SBUF_KEEP)
		sbuf_free(b);
	else
		sbuf_reset(b);
}

/* --- the stages --------------------------------------------------------------- */

static int ml_emit(struct tail *t, struct tail_file *f)
{
	int rc = tail_event_emit(t, f, f->ml.p ? f->ml.p : "", f->ml.len, f->ml_off, f->ml_ts, f->ml_stream,
				 f->ml_flags);
	if (rc)
		return rc;
	f->ml_active = 0;
	sbuf_trim(&f->ml);
	return 0;
}

/* A logical line (runtime pieces joined) at file offset off. */
static int feed_logical(struct tail *t, struct tail_file *f, const char *msg, size_t n, int64_t off,
			int64_t ts, int stream, unsigned flags)
{
	if (t->ml.mode == TAIL_ML_NONE)
		return tail_event_emit(t, f, msg, n, off, ts, stream, flags);
	struct tail_ml_state next;
	int cont = tail_ml_continues(&t->ml, &f->mls, f->ml_active, msg, n, &next);
	if (cont && f->ml.len + 1 + n <= t->c->ml_max_bytes) {
		sbuf_putc(&f->ml, '\n');
		sbuf_put(&f->ml, msg, n);
		f->ml_flags |= EV_MULTILINE | flags;
		f->mls = next;
		f->ml_ms = tail_mono_ms();
		return 0;
	}
	if (f->ml_active) {
		int rc = ml_emit(t, f);
		if (rc)
			return rc;
	}
	if (cont)
		flags |= EV_SPLIT;  /* a continuation past multiline.max_bytes starts a new event */
	sbuf_reset(&f->ml);
	sbuf_put(&f->ml, msg, n);
	f->ml_active = 1;
	f->ml_off = off;
	f->ml_ts = ts;
	f->ml_stream = stream;
	f->ml_flags = flags;
	f->ml_ms = tail_mono_ms();
	f->mls = next;
	return 0;
}

static int part_flush(struct tail *t, struct tail_file *f, unsigned extra)
{
	int rc = feed_logical(t, f, f->part.p ? f->part.p : "", f->part.len, f->part_off, f->part_ts,
			      f->part_stream, f->part_flags | extra);
	if (rc)
		return rc;
	f->part_active = 0;
	sbuf_trim(&f->part);
	return 0;
}

/* A physical line [s, s+n) at file offset off; eol: it ended with '\n'. */
static int feed_physical(struct tail *t, struct tail_file *f, const char *s, size_t n, int64_t off,
			 unsigned flags, int eol)
{
	if (eol && n && s[n - 1] == '\r')
		n--;
	int parser = t->c->parser;
	if (parser == TAIL_PARSER_NONE)
		return feed_logical(t, f, s, n, off, 0, TAIL_STREAM_NONE, flags);
	struct tail_rt_line rt;
	int rc = -EINVAL;
	if (parser == TAIL_PARSER_CRI || (parser == TAIL_PARSER_AUTO && n && s[0] != '{'))
		rc = tail_cri_parse(s, n, &rt);
	else
		rc = tail_docker_parse(s, n, &t->scratch, &rt);
	if (rc < 0)  /* not a runtime line: shipped as it is */
		return feed_logical(t, f, s, n, off, 0, TAIL_STREAM_NONE, flags);
	if (rt.partial) {
		if (f->part_active && f->part.len + rt.len > t->c->max_line_bytes) {
			rc = part_flush(t, f, EV_SPLIT);
			if (rc)
				return rc;
			flags |= EV_SPLIT;
		}
		if (!f->part_active) {
			sbuf_reset(&f->part);
			f->part_active = 1;
			f->part_off = off;
			f->part_ts = rt.ts_ms;
			f->part_stream = rt.stream;
			f->part_flags = flags;
			f->part_ms = tail_mono_ms();
		}
		sbuf_put(&f->part, rt.msg, rt.len);
		return 0;
	}
	if (!f->part_active)
		return feed_logical(t, f, rt.msg, rt.len, off, rt.ts_ms, rt.stream, flags);
	size_t keep = f->part.len;
	sbuf_put(&f->part, rt.msg, rt.len);
	rc = feed_logical(t, f, f->part.p ? f->part.p : "", f->part.len, f->part_off, f->part_ts,
			  f->part_stream, f->part_flags | flags);
	if (rc) {
		f->part.len = keep;  /* as before this line: it is offered again */
		return rc;
	}
	f->part_active = 0;
	sbuf_trim(&f->part);
	return 0;
}

/* At most max bytes of s, not cutting a UTF-8 sequence in two. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t cut = max;
	for (int k = 0; k < 3 && cut > 1 && ((unsigned char)s[cut] & 0xc0) == 0x80; k++)
		cut--;
	if (((unsigned char)s[cut] & 0xc0) == 0x80)
		cut = max;  /* not UTF-8 anyway */
	return cut;
}

/* Splits buf[*start, have) (file offset base + index) into lines and feeds
 * them. Stops at an unterminated tail shorter than max_line_bytes. */
static int split_lines(struct tail *t, struct tail_file *f, int64_t base, size_t *start, size_t have)
{
	const size_t max = t->c->max_line_bytes;
	while (*start < have) {
		char *s = t->buf + *start;
		size_t avail = have - *start;
		char *nl = memchr(s, '\n', avail);
		if (f->state & TF_SKIPPING) {
			if (!nl) {
				*start = have;
				return 0;
			}
			*start += (size_t)(nl - s) + 1;
			f->state &= ~TF_SKIPPING;
			continue;
		}
		size_t len = nl ? (size_t)(nl - s) : avail;
		unsigned fl = (f->state & TF_SPLIT ? EV_SPLIT : 0) | (f->state & TF_CONTINUED ? EV_CONTINUED : 0);
		if (len > max || (!nl && len == max)) {
			/* Over-long: ship max_line_bytes of it, then split or skip the rest. */
			size_t cut = utf8_cut(s, len, max);
			int truncate = t->c->long_lines == TAIL_LONG_TRUNCATE;
			int rc = feed_physical(t, f, s, cut, base + (int64_t)*start,
					       fl | (truncate ? EV_TRUNCATED : EV_SPLIT), 0);
			if (rc)
				return rc;
			f->state &= ~TF_CONTINUED;
			if (truncate) {
				if (nl) {
					*start += len + 1;
				} else {
					*start = have;
					f->state |= TF_SKIPPING;
				}
			} else {
				*start += cut;
				f->state |= TF_SPLIT;
			}
			continue;
		}
		if (!nl)
			return 0;  /* an unterminated tail: wait for the rest */
		if ((f->state & TF_CONTINUED) && (len == 0 || (len == 1 && s[0] == '\r'))) {
			/* Only the newline of a line shipped on timeout: nothing new. */
			f->state &= ~TF_CONTINUED;
			*start += len + 1;
			continue;
		}
		int rc = feed_physical(t, f, s, len, base + (int64_t)*start, fl, 1);
		if (rc)
			return rc;
		f->state &= ~(TF_SPLIT | TF_CONTINUED);
		*start += len + 1;
		f->tail_ms = 0;
	}
	return 0;
}

static int64_t wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Looks at the file before reading: deleted? truncated? head replaced? */
static int check_file(struct tail *t, struct tail_file *f)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0) {
		LOG_WARN(t->name, "%s: fstat: %s", f->path, strerror(errno));
		return -errno;
	}
	if (st.st_nlink == 0 && !(f->state & TF_DELETED)) {
		f->state |= TF_DELETED | TF_ORPHAN;
		if (!f->orphan_ms)
			f->orphan_ms = tail_mono_ms();
		LOG_INFO(t->name, "%s: deleted; reading it to its end, then releasing it", f->path);
	}
	int64_t size = st.st_size;
	if ((f->state & TF_COPY) && size < f->off && tail_fp_check_grow(f->fd, size, &f->id)) {
		f->size = size;  /* a copy still being written: not there yet */
		return 1;
	}
	f->state &= ~TF_COPY;
	if (size < f->off || (size != f->size && !tail_fp_check_grow(f->fd, size, &f->id))) {
		int rc = tail_truncated(t, f, size);
		if (rc)
			return rc;
	}
	f->size = size;
	return 0;
}

int tail_file_read(struct tail *t, struct tail_file *f, size_t *budget)
{
	if (f->fd < 0 && tail_reopen(t, f) < 0)
		return 0;
	f->state &= ~TF_DIRTY;
	int rc = check_file(t, f);
	if (rc == -EAGAIN) {
		f->state |= TF_DIRTY;
		return rc;
	}
	if (rc)
		return 0;  /* (1: nothing to read yet) */
	const size_t chunk = t->c->read_bytes;
	int64_t base = f->off;
	size_t have = 0;
	t->now_wall = wall_now();
	f->lru = ++t->lru_clock;
	for (;;) {
		if (*budget == 0 && base + (int64_t)have < f->size) {
			f->state |= TF_DIRTY;  /* more next turn */
			return 0;
		}
		size_t want = t->bufcap - have < chunk ? t->bufcap - have : chunk;
		ssize_t n = pread(f->fd, t->buf + have, want, base + (int64_t)have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			LOG_WARN(t->name, "%s: read: %s", f->path, strerror(errno));
			return 0;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		*budget = (size_t)n >= *budget ? 0 : *budget - (size_t)n;
		f->active_ms = tail_mono_ms();
		if (base + (int64_t)have > f->size)
			f->size = base + (int64_t)have;
		size_t start = 0;
		rc = split_lines(t, f, base, &start, have);
		base += (int64_t)start;
		have -= start;
		if (have && start)
			memmove(t->buf, t->buf + start, have);
		f->off = base;
		if (rc) {
			f->state |= TF_DIRTY;
			return rc;
		}
	}
	/* At the end of the file. An unterminated last line waits for its
	 * newline, at most flush_timeout. */
	if (!have) {
		f->tail_ms = 0;
		return 0;
	}
	int64_t now = tail_mono_ms();
	if (!f->tail_ms)
		f->tail_ms = now;
	if (now - f->tail_ms < t->c->flush_timeout)
		return 0;
	unsigned fl = EV_PARTIAL | (f->state & TF_SPLIT ? EV_SPLIT : 0) | (f->state & TF_CONTINUED ? EV_CONTINUED : 0);
	rc = feed_physical(t, f, t->buf, have, base, fl, 0);
	if (rc) {
		f->state |= TF_DIRTY;
		return rc;
	}
	f->off = base + (int64_t)have;
	f->state = (f->state & ~TF_SPLIT) | TF_CONTINUED;
	f->tail_ms = 0;
	return 0;
}

int tail_file_flush(struct tail *t, struct tail_file *f, int64_t now, int force)
{
	t->now_wall = wall_now();
	if (f->part_active && (force || now - f->part_ms >= t->c->flush_timeout)) {
		int rc = part_flush(t, f, EV_PARTIAL);
		if (rc)
			return rc;
	}
	if (f->ml_active && (force || now - f->ml_ms >= t->c->ml_flush_timeout))
		return ml_emit(t, f);
	return 0;
}

int64_t tail_file_deadline(struct tail *t, struct tail_file *f)
{
	int64_t d = INT64_MAX;
	if (f->part_active && f->part_ms + t->c->flush_timeout < d)
		d = f->part_ms + t->c->flush_timeout;
	if (f->ml_active && f->ml_ms + t->c->ml_flush_timeout < d)
		d = f->ml_ms + t->c->ml_flush_timeout;
	if (f->tail_ms && f->tail_ms + t->c->flush_timeout < d)
		d = f->tail_ms + t->c->flush_timeout;
	return d;
}
