/* Input `stdin`: one event per line read from standard input,
 *   {"@timestamp":"<read time>","message":"<the line>"}
 * A pipe or terminal is watched through the event loop; a regular file
 * (logship < file) cannot be polled, so it is read a chunk per loop turn.
 * Lines longer than max_line_bytes are cut there (the rest of the line is
 * skipped). A line the ring refuses (full) stays in the buffer and reading
 * stops until the agent resumes the input: nothing read is ever lost in the
 * agent. stdin has no position to come back to, so nothing is checkpointed.
 * At end of input the last partial line is handed over; with exit_on_eof the
 * agent then stops as on SIGTERM (shipping what it holds first). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "agent/module.h"
#include "common/clock.h"
#include "common/json.h"

struct stdin_conf {
	uint64_t max_line_bytes;
	int exit_on_eof;
};

static const struct cfg_key stdin_keys[] = {
	{ "max_line_bytes", CFG_T_SIZE, offsetof(struct stdin_conf, max_line_bytes), "1MiB", 0, NULL, 16,
	  16 << 20, NULL, "Longer lines are cut at this many bytes." },
	{ "exit_on_eof", CFG_T_BOOL, offsetof(struct stdin_conf, exit_on_eof), "false", 0, NULL, 0, 0, NULL,
	  "Stop the agent (after shipping what it holds) when input ends and every other input is done." },
	{ .name = NULL },
};

struct sin {
	struct input *in;
	const struct stdin_conf *c;
	int fd;
	int polled;                    /* watched through epoll (else: a regular file) */
	int eof;
	int skipping;                  /* discarding the rest of an over-long line */
	char *buf;
	size_t start, len, cap;        /* buf[start..len): read, not yet handed over */
};

/* 0 taken, -EAGAIN refused (ring full). */
static int emit_line(struct sin *s, const char *line, size_t n)
{
	if (n && line[n - 1] == '\r')
		n--;
	int64_t ts = clock_wall_ms();
	char head[64];
	size_t hl = json_event_head(head, ts);
	int rc = input_emit_line(s->in, ts, head, hl, line, n, "}", 1);
	return rc == -EAGAIN ? rc : 0;
}

/* Hands over the whole lines in the buffer. -EAGAIN: stopped at a refused line
 * (it stays in the buffer). */
static int drain_lines(struct sin *s)
{
	size_t max = s->c->max_line_bytes;
	while (s->start < s->len) {
		char *b = s->buf + s->start;
		size_t avail = s->len - s->start;
		char *nl = memchr(b, '\n', avail);
		if (s->skipping) {
			if (!nl) {
				s->start = s->len;
				break;
			}
			s->skipping = 0;
			s->start += (size_t)(nl - b) + 1;
			continue;
		}
		if (nl) {
			size_t linelen = (size_t)(nl - b);
			if (emit_line(s, b, linelen > max ? max : linelen) == -EAGAIN)
				return -EAGAIN;
			s->start += linelen + 1;
			continue;
		}
		if (avail < max && !s->eof)
			break;  /* wait for the rest of the line */
		/* Over-long (cut, the rest skipped) or the last line at EOF. */
		if (emit_line(s, b, avail > max ? max : avail) == -EAGAIN)
			return -EAGAIN;
		s->start = s->len;
		s->skipping = !s->eof;
	}
	if (s->start == s->len)
		s->start = s->len = 0;
	return 0;
}

static void finish(struct sin *s)
{
	if (s->polled) {
		input_unwatch_fd(s->in, s->fd);
		s->polled = 0;
	}
	input_done(s->in, s->c->exit_on_eof);
}

/* Reads what is there and hands over whole lines. */
static void pump(struct sin *s)
{
	if (drain_lines(s) == -EAGAIN)
		return;
	if (s->eof)
		return;
	for (int rounds = 0; rounds < 16; rounds++) {
		if (s->start > 0 && s->start == s->len)
			s->start = s->len = 0;
		if (s->start > 0 && s->len == s->cap) {
			memmove(s->buf, s->buf + s->start, s->len - s->start);
			s->len -= s->start;
			s->start = 0;
		}
		ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			s->eof = 1;
			if (drain_lines(s) == -EAGAIN)
				return;
			finish(s);
			return;
		}
		s->len += (size_t)n;
		if (drain_lines(s) == -EAGAIN)
			return;
		if (s->polled && (size_t)n < s->cap / 2)
			return;  /* a pipe: wait for epoll */
	}
	if (!s->polled)
		input_schedule(s->in);  /* a regular file: more on the next turn */
}

static int stdin_init(struct input *in, const void *conf, void **state)
{
	struct sin *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->in = in;
	s->c = conf;
	s->fd = STDIN_FILENO;
	s->cap = s->c->max_line_bytes + 65536;
	s->buf = malloc(s->cap);
	if (!s->buf) {
		free(s);
		return -ENOMEM;
	}
	*state = s;
	return 0;
}

static int stdin_start(void *state)
{
	struct sin *s = state;
	int fl = fcntl(s->fd, F_GETFL);
	if (fl < 0) {
		/* No stdin at all (closed): nothing to read. */
		s->eof = 1;
		finish(s);
		return 0;
	}
	int rc = input_watch_fd(s->in, s->fd, EPOLLIN);
	if (rc == 0) {
		s->polled = 1;
		fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
		return 0;
	}
	if (rc != -EPERM)
		return rc;
	input_schedule(s->in);  /* a regular file */
	return 0;
}

static void stdin_on_fd(void *state, int fd, unsigned events)
{
	(void)fd;
	(void)events;
	pump(state);
}

static void stdin_run(void *state)
{
	struct sin *s = state;
	pump(s);
	if (s->eof && s->len == 0)
		finish(s);
}

static void stdin_stop(void *state)
{
	struct sin *s = state;
	if (s->polled) {
		input_unwatch_fd(s->in, s->fd);
		s->polled = 0;
	}
}

static void stdin_destroy(void *state)
{
	struct sin *s = state;
	free(s->buf);
	free(s);
}

const struct input_module stdin_input = {
	.type = "stdin",
	.doc = "One event per line of standard input: `{\"@timestamp\", \"message\"}`. A pipe or "
	       "terminal is polled; a redirected regular file is read to its end. Nothing is "
	       "checkpointed (standard input cannot be read again).",
	.keys = stdin_keys,
	.conf_size = sizeof(struct stdin_conf),
	.init = stdin_init,
	.start = stdin_start,
	.on_fd = stdin_on_fd,
	.run = stdin_run,
	.stop = stdin_stop,
	.destroy = stdin_destroy,
};
