/* Input `journald`: reads the systemd journal with libsystemd's sd_journal,
 * the system journal or a directory of journal files (`path`), filtered by
 * `matches`, and ships each entry as an ECS event (journald_event.c).
 *
 * Position. The journal cursor of the last entry handed over is the input's
 * position; the agent checkpoints it once the ring holds that entry durably
 * (invariant 1). At start the input seeks to the checkpointed cursor and
 * skips the entry there if it is still in the journal (sd_journal_test_cursor);
 * if it was vacuumed meanwhile, the seek lands on the nearest later entry,
 * which has not been shipped, so nothing is skipped. Without a checkpoint it
 * starts at the head (read_from_head) or after the current tail.
 *
 * Waiting. sd_journal_get_fd is watched in the agent's loop; on readiness
 * sd_journal_process folds in appended entries, new files (rotation) and
 * deleted ones (vacuuming), then the input reads until the end. When the fd
 * alone is not enough (sd_journal_get_timeout: e.g. files on a network file
 * system), the input's timer covers it; an idle input costs no CPU.
 *
 * Backpressure. An entry the ring refuses stays current (the read pointer is
 * not moved past it) and is offered again when the agent resumes the input. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <systemd/sd-journal.h>
#include <time.h>

/* sd-journal.h pulls in <syslog.h>, whose LOG_INFO and LOG_DEBUG levels
 * clash with our logging macros; this file needs only ours. */
#undef LOG_INFO
#undef LOG_DEBUG
#include "agent/module.h"
#include "common/logging.h"
#include "inputs/journald/journald_event.h"

#define JD_BUDGET 2048   /* entries per loop turn */

struct jd_conf {
	char *path;
	struct cfg_strlist matches;
	int read_from_head;
	uint64_t max_field_bytes;
};

static const struct cfg_key jd_keys[] = {
	{ "path", CFG_T_STRING, offsetof(struct jd_conf, path), NULL, 0, NULL, 0, 0, NULL,
	  "A directory of journal files (e.g. /var/log/journal/<machine-id>); default: the local system journal." },
	{ "matches", CFG_T_STRLIST, offsetof(struct jd_conf, matches), NULL, 0, NULL, 0, 0, NULL,
	  "FIELD=value filters, as journalctl takes them: different fields must all match, the same "
	  "field listed twice matches either value, \"+\" starts an alternative set." },
	{ "read_from_head", CFG_T_BOOL, offsetof(struct jd_conf, read_from_head), "false", 0, NULL, 0, 0, NULL,
	  "Without a checkpoint, start at the oldest entry instead of only new ones." },
	{ "max_field_bytes", CFG_T_SIZE, offsetof(struct jd_conf, max_field_bytes), "64KiB", 0, NULL, 64,
	  16 << 20, NULL, "Longer field values are cut here (sd_journal_set_data_threshold)." },
	{ .name = NULL },
};

struct jd_off { size_t name, name_len, value, value_len; };

struct jd {
	struct input *in;
	const struct jd_conf *c;
	const char *name;
	sd_journal *j;
	int fd;
	int watched;
	int pending;                   /* the current entry was refused: offer it again */
	char *cursor;                  /* of the last entry handed over */
	int cursor_dirty;
	/* one entry's fields, copied (sd_journal's data is valid only briefly) */
	char *arena;
	size_t arena_len, arena_cap;
	struct jd_off *offs;
	struct jd_field *fields;
	size_t nf, capf;
	struct sbuf ev;
};

static int jd_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct jd_conf *c = conf;
	const struct cfg_node *mn = cfg_get(map, "matches");
	for (size_t i = 0; i < c->matches.n; i++) {
		const char *m = c->matches.v[i];
		const struct cfg_node *at = mn && mn->kind == CFG_SEQ && i < mn->n ? mn->items[i] : mn;
		if (strcmp(m, "+") == 0)
			continue;
		const char *eq = strchr(m, '=');
		int ok = eq && eq > m;
		for (const char *p = m; ok && p < eq; p++)
			ok = (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
		if (!ok)
			return cfg_fail(err, at ? at : map, "matches: \"%s\": expected FIELD=value with an upper-case "
					"field name (like _SYSTEMD_UNIT=nginx.service), or \"+\"", m);
	}
	return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Copies the current entry's fields. 0 or -errno. */
static int read_fields(struct jd *d)
{
	const void *data;
	size_t len;
	d->arena_len = 0;
	d->nf = 0;
	sd_journal_restart_data(d->j);
	int r;
	while ((r = sd_journal_enumerate_data(d->j, &data, &len)) > 0) {
		const char *eq = memchr(data, '=', len);
		if (!eq)
			continue;
		if (grow((void **)&d->arena, &d->arena_cap, d->arena_len + len, 1) < 0)
			return -ENOMEM;
		if (d->nf == d->capf) {
			size_t cap = d->capf ? d->capf * 2 : 64;
			struct jd_off *o = realloc(d->offs, cap * sizeof(*o));
			if (o)
				d->offs = o;
			struct jd_field *f = realloc(d->fields, cap * sizeof(*f));
			if (f)
				d->fields = f;
			if (!o || !f)
				return -ENOMEM;
			d->capf = cap;
		}
		memcpy(d->arena + d->arena_len, data, len);
		size_t nl = (size_t)(eq - (const char *)data);
		d->offs[d->nf++] = (struct jd_off){ d->arena_len, nl, d->arena_len + nl + 1, len - nl - 1 };
		d->arena_len += len;
	}
	if (r < 0)
		return r;
	/* The arena has stopped moving: now the pointers (in entry order, which
	 * jd_event_build relies on for repeated fields). */
	for (size_t i = 0; i < d->nf; i++)
		d->fields[i] = (struct jd_field){ d->arena + d->offs[i].name, d->offs[i].name_len,
						  d->arena + d->offs[i].value, d->offs[i].value_len };
	return 0;
}

/* Hands over the current entry. 0 taken (or skipped: unreadable, too
 * large), -EAGAIN refused. */
static int emit_current(struct jd *d)
{
	uint64_t usec = 0;
	int r = read_fields(d);
	if (r == 0)
		r = sd_journal_get_realtime_usec(d->j, &usec);
	if (r < 0) {
		LOG_WARN(d->name, "cannot read a journal entry (%s); skipped", strerror(-r));
		return 0;
	}
	int64_t ts = jd_event_build(&d->ev, d->fields, d->nf, usec);
	if (d->ev.err) {
		sbuf_free(&d->ev);
		return -EAGAIN;
	}
	r = input_emit(d->in, ts, d->ev.p, d->ev.len);
	if (r == -EAGAIN)
		return r;
	char *cur = NULL;
	if (sd_journal_get_cursor(d->j, &cur) >= 0) {
		free(d->cursor);
		d->cursor = cur;
		d->cursor_dirty = 1;
	}
	return 0;
}

static void set_position(struct jd *d)
{
	if (d->cursor_dirty && d->cursor) {
		input_set_position(d->in, d->cursor, strlen(d->cursor));
		d->cursor_dirty = 0;
	}
}

static void arm_timeout(struct jd *d)
{
	uint64_t t;
	if (sd_journal_get_timeout(d->j, &t) < 0 || t == UINT64_MAX) {
		input_timer_set(d->in, -1);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	input_timer_set(d->in, t > now ? (int64_t)((t - now) / 1000 + 1) : 0);
}

/* Reads up to JD_BUDGET entries. */
static void pump(struct jd *d)
{
	int n = 0;
	while (n < JD_BUDGET) {
		if (!d->pending) {
			int r = sd_journal_next(d->j);
			if (r < 0) {
				LOG_WARN(d->name, "reading the journal: %s", strerror(-r));
				break;
			}
			if (r == 0)
				break;  /* at the end: wait for the fd */
		}
		if (emit_current(d) == -EAGAIN) {
			d->pending = 1;
			break;  /* the agent pauses us and calls run on resume */
		}
		d->pending = 0;
		n++;
	}
	set_position(d);
	if (n == JD_BUDGET)
		input_schedule(d->in);
}

static void jd_on_fd(void *state, int fd, unsigned events)
{
	struct jd *d = state;
	int r = sd_journal_process(d->j);
	if (r < 0)
		LOG_WARN(d->name, "sd_journal_process: %s", strerror(-r));
	pump(d);
	arm_timeout(d);
}

static void jd_on_timer(void *state)
{
	jd_on_fd(state, -1, 0);
}

static void jd_run(void *state)
{
	pump(state);
}

/* Seeks where the checkpoint (or read_from_head) says. */
static int seek_start(struct jd *d)
{
	char buf[INPUT_POSITION_MAX + 1];
	int n = input_checkpoint(d->in, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		int r = sd_journal_seek_cursor(d->j, buf);
		if (r >= 0) {
			/* Land on the entry at (or after) the cursor; skip it if it is
			 * the one we shipped last. */
			r = sd_journal_next(d->j);
			if (r > 0 && sd_journal_test_cursor(d->j, buf) > 0) {
				d->pending = 0;
			} else if (r > 0) {
				LOG_WARN(d->name, "the checkpointed entry is no longer in the journal (vacuumed?); "
					 "resuming at the next one");
				d->pending = 1;  /* not shipped yet: offer it */
			}
			d->cursor = strdup(buf);
			LOG_INFO(d->name, "resuming after the checkpointed cursor");
			return 0;
		}
		LOG_WARN(d->name, "cannot seek to the checkpointed cursor (%s); starting %s", strerror(-r),
			 d->c->read_from_head ? "at the head" : "at the tail");
	}
	if (d->c->read_from_head)
		return sd_journal_seek_head(d->j);
	int r = sd_journal_seek_tail(d->j);
	if (r >= 0)
		sd_journal_previous(d->j);  /* next() then returns only new entries */
	return r;
}

static int add_matches(struct jd *d)
{
	for (size_t i = 0; i < d->c->matches.n; i++) {
		const char *m = d->c->matches.v[i];
		int r = strcmp(m, "+") == 0 ? sd_journal_add_disjunction(d->j) : sd_journal_add_match(d->j, m, 0);
		if (r < 0) {
			LOG_ERROR(d->name, "matches: \"%s\": %s", m, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int jd_init(struct input *in, const void *conf, void **state)
{
	struct jd *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->in = in;
	d->c = conf;
	d->name = input_name(in);
	d->fd = -1;
	*state = d;
	return 0;
}

static int jd_start(void *state)
{
	struct jd *d = state;
	int r = d->c->path ? sd_journal_open_directory(&d->j, d->c->path, 0)
			   : sd_journal_open(&d->j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		LOG_ERROR(d->name, "cannot open the journal%s%s: %s", d->c->path ? " in " : "",
			  d->c->path ? d->c->path : "", strerror(-r));
		return r;
	}
	sd_journal_set_data_threshold(d->j, (size_t)d->c->max_field_bytes);
	if ((r = add_matches(d)) < 0 || (r = seek_start(d)) < 0)
		return r;
	d->fd = sd_journal_get_fd(d->j);
	if (d->fd < 0) {
		LOG_ERROR(d->name, "sd_journal_get_fd: %s", strerror(-d->fd));
		return d->fd;
	}
	int ev = sd_journal_get_events(d->j);
	if ((r = input_watch_fd(d->in, d->fd, ev > 0 ? (unsigned)ev : EPOLLIN)) < 0)
		return r;
	d->watched = 1;
	LOG_INFO(d->name, "reading the journal%s%s", d->c->path ? " in " : "", d->c->path ? d->c->path : "");
	input_schedule(d->in);  /* what is there already */
	arm_timeout(d);
	return 0;
}

static void jd_stop(void *state)
{
	struct jd *d = state;
	if (d->watched) {
		input_unwatch_fd(d->in, d->fd);
		d->watched = 0;
	}
	input_timer_set(d->in, -1);
}

static void jd_destroy(void *state)
{
	struct jd *d = state;
	if (d->j)
		sd_journal_close(d->j);
	free(d->cursor);
	free(d->arena);
	free(d->offs);
	free(d->fields);
	sbuf_free(&d->ev);
	free(d);
}

const struct input_module journald_input = {
	.type = "journald",
	.doc = "Reads the systemd journal (sd_journal): the local system journal or a directory of "
	       "journal files, filtered by `matches`. Events: `message` (MESSAGE), `@timestamp` (the "
	       "entry's realtime), `host.name`, `log.syslog.priority` (PRIORITY), every other field "
	       "under `journald.*` (binary values base64, named in journald.binary_fields). The cursor "
	       "is checkpointed once the ring holds the entry durably and resumed after restarts.",
	.keys = jd_keys,
	.conf_size = sizeof(struct jd_conf),
	.check = jd_check,
	.init = jd_init,
	.start = jd_start,
	.on_fd = jd_on_fd,
	.on_timer = jd_on_timer,
	.run = jd_run,
	.stop = jd_stop,
	.destroy = jd_destroy,
};
