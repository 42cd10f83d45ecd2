/* Input `tail`: follows log files matched by globs and ships one event per
 * line (or per multiline event), losing nothing across rotation, truncation,
 * deletion, restarts and crashes. The module glue: config keys and checks,
 * the instance's life cycle, and the one loop every handler runs
 * (tail_process): scan if due, poll if due, ship what timers made due, read
 * the files marked dirty within a byte budget, release finished files,
 * publish the position, arm the timer for the next deadline.
 * See tail.h for the invariants and the map of the other files. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/logging.h"
#include "inputs/tail/tail.h"

#define RUN_BUDGET (16u << 20)   /* bytes read per loop turn, across files */
#define RELEASE_CHECK_MS 200

static const char *const watcher_names[] = { "auto", "inotify", "poll", NULL };
static const char *const parser_names[] = { "none", "cri", "docker", "auto", NULL };
static const char *const long_names[] = { "split", "truncate", NULL };
static const char *const preset_names[] = { "none", "java", "python", "go", NULL };

static const struct cfg_key ml_keys[] = {
	{ "start_pattern", CFG_T_STRING, offsetof(struct tail_conf, ml_start_pattern), NULL, 0, NULL, 0, 0, NULL,
	  "POSIX extended regex matching the first line of each event; other lines join the event before." },
	{ "preset", CFG_T_ENUM, offsetof(struct tail_conf, ml_preset), "none", 0, preset_names, 0, 0, NULL,
	  "Built-in rules instead of a pattern: java (stack traces), python (tracebacks), go (panics)." },
	{ "max_bytes", CFG_T_SIZE, offsetof(struct tail_conf, ml_max_bytes), "1MiB", 0, NULL, 64, 32 << 20, NULL,
	  "Largest multiline event; a longer one is shipped in parts (flag split)." },
	{ "flush_timeout", CFG_T_DURATION, offsetof(struct tail_conf, ml_flush_timeout), "1s", 0, NULL, 1,
	  3600000, NULL, "An event with no new line for this long is shipped." },
	{ .name = NULL },
};

static const struct cfg_key tail_keys[] = {
	{ "paths", CFG_T_STRLIST, offsetof(struct tail_conf, paths), NULL, CFG_REQUIRED, NULL, 0, 0, NULL,
	  "Files to follow: glob patterns (*, ?, [..], {a,b}); symlinks are followed." },
	{ "exclude", CFG_T_STRLIST, offsetof(struct tail_conf, exclude), NULL, 0, NULL, 0, 0, NULL,
	  "Glob patterns of files to leave alone (on the full path if the pattern has a '/', else on the name)." },
	{ "read_from_head", CFG_T_BOOL, offsetof(struct tail_conf, read_from_head), "false", 0, NULL, 0, 0, NULL,
	  "Read files found at the agent's first start from their beginning (files appearing later always are)." },
	{ "refresh_interval", CFG_T_DURATION, offsetof(struct tail_conf, refresh_interval), "5s", 0, NULL, 100,
	  86400000, NULL, "How often the globs are expanded again (inotify also triggers it at once)." },
	{ "watcher", CFG_T_ENUM, offsetof(struct tail_conf, watcher), "auto", 0, watcher_names, 0, 0, NULL,
	  "Change detection: inotify, poll (stat), or auto (inotify, poll where it cannot work: NFS, CIFS, FUSE)." },
	{ "poll_interval", CFG_T_DURATION, offsetof(struct tail_conf, poll_interval), "250ms", 0, NULL, 10,
	  3600000, NULL, "How often files are stat()ed in poll mode." },
	{ "rotate_wait", CFG_T_DURATION, offsetof(struct tail_conf, rotate_wait), "5s", 0, NULL, 0, 86400000, NULL,
	  "A file renamed away keeps being read until it has not grown for this long." },
	{ "flush_timeout", CFG_T_DURATION, offsetof(struct tail_conf, flush_timeout), "5s", 0, NULL, 1, 86400000,
	  NULL, "A last line without its newline is shipped after this long (flag partial)." },
	{ "max_line_bytes", CFG_T_SIZE, offsetof(struct tail_conf, max_line_bytes), "1MiB", 0, NULL, 64, 32 << 20,
	  NULL, "Longer lines are split or truncated (see long_lines), and flagged in log.flags." },
	{ "long_lines", CFG_T_ENUM, offsetof(struct tail_conf, long_lines), "split", 0, long_names, 0, 0, NULL,
	  "split: ship an over-long line in max_line_bytes parts; truncate: ship its head, skip the rest." },
	{ "read_bytes", CFG_T_SIZE, offsetof(struct tail_conf, read_bytes), "512KiB", 0, NULL, 4096, 16 << 20,
	  NULL, "Bytes asked for by each read(2)." },
	{ "max_open_files", CFG_T_INT, offsetof(struct tail_conf, max_open_files), "1024", 0, NULL, 1, 1000000,
	  NULL, "Descriptors kept open at most; the idlest files are closed first (and reopened on change)." },
	{ "parser", CFG_T_ENUM, offsetof(struct tail_conf, parser), "none", 0, parser_names, 0, 0, NULL,
	  "none; cri (containerd/CRI-O); docker (json-file); auto (each line: docker if it starts with '{', else "
	  "CRI if it parses). Runtime-split lines are joined; the runtime's time becomes the event time." },
	{ "multiline", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, ml_keys, "Joining lines into one event." },
	{ .name = NULL },
};

int64_t tail_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int tail_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct tail_conf *c = conf;
	const struct cfg_node *ml = cfg_get(map, "multiline");
	if (c->paths.n == 0)
		return cfg_fail(err, cfg_get(map, "paths") ? cfg_get(map, "paths") : map,
				"paths: at least one pattern is needed");
	for (size_t i = 0; i < c->paths.n; i++)
		if (c->paths.v[i][0] != '/')
			return cfg_fail(err, cfg_get(map, "paths"), "paths: \"%s\" is not an absolute path",
					c->paths.v[i]);
	if (c->ml_start_pattern && c->ml_preset)
		return cfg_fail(err, ml, "multiline: start_pattern and preset exclude each other");
	if (c->ml_start_pattern) {
		struct tail_ml_rules r;
		char msg[256];
		if (tail_ml_rules_init(&r, TAIL_ML_PATTERN, c->ml_start_pattern, msg, sizeof(msg)) < 0)
			return cfg_fail(err, cfg_get(ml, "start_pattern"), "multiline.start_pattern: %s", msg);
		tail_ml_rules_free(&r);
	}
	return 0;
}

/* --- the file table ------------------------------------------------------------ */

int tail_add_file(struct tail *t, struct tail_file *f)
{
	if (t->nfiles == t->capfiles) {
		size_t cap = t->capfiles ? t->capfiles * 2 : 16;
		struct tail_file **v = realloc(t->files, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->files = v;
		t->capfiles = cap;
	}
	t->files[t->nfiles++] = f;
	f->lru = ++t->lru_clock;
	tail_inotify_watch_file(t, f);
	return 0;
}

void tail_remove_file(struct tail *t, struct tail_file *f)
{
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i] == f) {
			memmove(&t->files[i], &t->files[i + 1], (t->nfiles - i - 1) * sizeof(*t->files));
			t->nfiles--;
			break;
		}
	tail_file_free(t, f);
}

struct tail_file *tail_find_devino(struct tail *t, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < t->nfiles; i++) {
		struct tail_file *f = t->files[i];
		if (f->id.dev == dev && f->id.ino == ino && !(f->state & TF_GONE))
			return f;
	}
	return NULL;
}

/* --- position -------------------------------------------------------------------- */

static unsigned pos_flags(const struct tail_file *f)
{
	return (f->state & TF_SKIPPING ? TAIL_POS_SKIPPING : 0) | (f->state & TF_COPY ? TAIL_POS_COPY : 0);
}

static int cmp_keep(const void *a, const void *b)
{
	/* Files with unread or held bytes first; then the most recently active. */
	const struct tail_file *x = *(struct tail_file *const *)a, *y = *(struct tail_file *const *)b;
	int xb = tail_file_ckpt_off(x) < (uint64_t)x->size || (x->state & TF_ORPHAN);
	int yb = tail_file_ckpt_off(y) < (uint64_t)y->size || (y->state & TF_ORPHAN);
	if (xb != yb)
		return yb - xb;
	return x->lru < y->lru ? 1 : x->lru > y->lru ? -1 : 0;
}

static void publish_position(struct tail *t)
{
	if (t->pe_cap < t->nfiles) {
		struct tail_pos_entry *v = realloc(t->pe, t->nfiles * sizeof(*v));
		if (!v)
			return;  /* keeps the older position: re-read, never skip */
		t->pe = v;
		t->pe_cap = t->nfiles;
	}
	size_t n = 0;
	for (size_t i = 0; i < t->nfiles; i++) {
		struct tail_file *f = t->files[i];
		if (f->state & TF_GONE)
			continue;
		t->pe[n++] = (struct tail_pos_entry){ .id = f->id, .off = tail_file_ckpt_off(f),
						      .flags = pos_flags(f) };
	}
	int len = tail_pos_encode(t->pe, n, t->pos, INPUT_POSITION_MAX);
	if (len == -ENOBUFS) {
		/* Too many files for one position: keep those with something
		 * unread, then the most recently active. A dropped file is read
		 * again from its head after a restart (duplicates, never loss). */
		struct tail_file **v = malloc(t->nfiles * sizeof(*v));
		if (!v)
			return;
		size_t k = 0;
		for (size_t i = 0; i < t->nfiles; i++)
			if (!(t->files[i]->state & TF_GONE))
				v[k++] = t->files[i];
		qsort(v, k, sizeof(*v), cmp_keep);
		while (len == -ENOBUFS && k > 0) {
			k = k * 9 / 10;
			for (size_t i = 0; i < k; i++)
				t->pe[i] = (struct tail_pos_entry){ .id = v[i]->id, .off = tail_file_ckpt_off(v[i]),
								    .flags = pos_flags(v[i]) };
			len = tail_pos_encode(t->pe, k, t->pos, INPUT_POSITION_MAX);
		}
		free(v);
		if (!t->pos_overflow_warned)
			LOG_WARN(t->name, "%zu files are more than one position (%d bytes) holds: only %zu are "
				 "checkpointed; the others would be read again from their head after a restart",
				 n, INPUT_POSITION_MAX, k);
		t->pos_overflow_warned = 1;
	}
	if (len < 0)
		return;
	if ((size_t)len == t->pos_last_len && memcmp(t->pos, t->pos_last, (size_t)len) == 0)
		return;
	memcpy(t->pos_last, t->pos, (size_t)len);
	t->pos_last_len = (size_t)len;
	input_set_position(t->in, t->pos, (size_t)len);
}

/* --- the loop ---------------------------------------------------------------------- */

static void arm_timer(struct tail *t, int64_t now)
{
	int64_t next = t->next_scan;
	if (t->poll_mode && t->next_poll < next)
		next = t->next_poll;
	if (t->release_pending && t->next_release_check < next)
		next = t->next_release_check;
	for (size_t i = 0; i < t->nfiles; i++) {
		int64_t d = tail_file_deadline(t, t->files[i]);
		if (d < next)
			next = d;
	}
	input_timer_set(t->in, next > now ? next - now : 0);
}

static void drop_gone(struct tail *t)
{
	for (size_t i = 0; i < t->nfiles;) {
		struct tail_file *f = t->files[i];
		if (f->state & TF_GONE)
			tail_remove_file(t, f);
		else
			i++;
	}
}

static void tail_process(struct tail *t)
{
	int64_t now = tail_mono_ms();
	if (t->scan_due || now >= t->next_scan) {
		int timed = now >= t->next_scan;
		t->scan_due = 0;
		tail_scan(t);
		tail_inotify_watch_dirs(t);
		t->next_scan = now + t->c->refresh_interval;
		if (timed && !t->poll_mode)
			tail_poll(t);  /* safety net: events inotify could not give */
	}
	if (t->poll_mode && now >= t->next_poll) {
		tail_poll(t);
		t->next_poll = now + t->c->poll_interval;
	}
	size_t budget = RUN_BUDGET;
	int rc = 0;
	size_t n = t->nfiles;
	for (size_t k = 0; k < n && rc == 0; k++) {
		struct tail_file *f = t->files[(t->rr + k) % n];
		if (f->state & TF_GONE)
			continue;
		if (tail_file_deadline(t, f) <= now) {
			if (f->tail_ms)
				f->state |= TF_DIRTY;  /* the read ships the unterminated line */
			rc = tail_file_flush(t, f, now, 0);
		}
		while (rc == 0 && (f->state & TF_DIRTY) && budget > 0 && !(f->state & TF_GONE))
			rc = tail_file_read(t, f, &budget);
	}
	if (n)
		t->rr = (t->rr + 1) % n;
	if (rc == 0 && (t->release_pending || now >= t->next_release_check)) {
		tail_release_check(t, now);
		t->next_release_check = now + RELEASE_CHECK_MS;
	}
	publish_position(t);
	drop_gone(t);
	tail_limit_open(t);
	if (rc == -EAGAIN)
		return;  /* the ring is full: the agent calls run when it has room */
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i]->state & TF_DIRTY) {
			input_schedule(t->in);
			break;
		}
	arm_timer(t, now);
}

/* --- life cycle ------------------------------------------------------------------------ */

static void tail_destroy(void *state);

static int tail_init(struct input *in, const void *conf, void **state)
{
	const struct tail_conf *c = conf;
	struct tail *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->in = in;
	t->name = input_name(in);
	t->c = c;
	t->ifd = -1;
	char err[256];
	enum tail_ml_mode mode = c->ml_start_pattern ? TAIL_ML_PATTERN : (enum tail_ml_mode)(c->ml_preset ? c->ml_preset + 1 : 0);
	if (tail_ml_rules_init(&t->ml, mode, c->ml_start_pattern, err, sizeof(err)) < 0) {
		LOG_ERROR(input_name(in), "multiline.start_pattern: %s", err);
		free(t);
		return -EINVAL;
	}
	char host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	struct sbuf h = { 0 };
	sbuf_puts(&h, ",\"host\":{\"name\":");
	json_put_string(&h, host, strlen(host));
	sbuf_putc(&h, '}');
	t->host_json = h.p;
	t->host_json_len = h.len;
	/* Pages of the buffer beyond what lines need are never touched. */
	t->bufcap = c->max_line_bytes + c->read_bytes;
	t->buf = malloc(t->bufcap);
	t->pos = malloc(INPUT_POSITION_MAX);
	t->pos_last = malloc(INPUT_POSITION_MAX);
	if (h.err || !t->buf || !t->pos || !t->pos_last) {
		tail_destroy(t);
		return -ENOMEM;
	}
	uint8_t *blob = malloc(INPUT_POSITION_MAX);
	int n = blob ? input_checkpoint(in, blob, INPUT_POSITION_MAX) : -ENOMEM;
	t->first_start = n == 0;
	if (n > 0) {
		t->restore = malloc(sizeof(*t->restore) * (INPUT_POSITION_MAX / 8));
		int k = t->restore ? tail_pos_decode(blob, (size_t)n, t->restore, INPUT_POSITION_MAX / 8) : -ENOMEM;
		if (k < 0) {
			LOG_WARN(input_name(in), "the checkpoint is not a tail position; every file is read from its head");
			k = 0;
		}
		t->nrestore = (size_t)k;
	}
	free(blob);
	*state = t;
	return 0;
}

struct poll_probe { int needs; };

static void probe_dir(struct tail *t, const char *dir, void *arg)
{
	(void)t;
	struct poll_probe *p = arg;
	if (tail_fs_needs_poll(dir))
		p->needs = 1;
}

static int tail_start(void *state)
{
	struct tail *t = state;
	const struct tail_conf *c = t->c;
	t->poll_mode = c->watcher == TAIL_WATCH_POLL;
	if (c->watcher == TAIL_WATCH_AUTO) {
		struct poll_probe p = { 0 };
		tail_glob_dirs(t, probe_dir, &p);
		if (p.needs) {
			LOG_INFO(input_name(t->in), "a watched directory is on a network or FUSE filesystem: "
				 "polling (watcher: poll)");
			t->poll_mode = 1;
		}
	}
	if (!t->poll_mode) {
		int rc = tail_inotify_start(t);
		if (rc < 0) {
			if (c->watcher == TAIL_WATCH_INOTIFY) {
				LOG_ERROR(input_name(t->in), "inotify: %s", strerror(-rc));
				return rc;
			}
			LOG_WARN(input_name(t->in), "inotify cannot be used (%s): polling instead", strerror(-rc));
			t->poll_mode = 1;
		}
	}
	int64_t now = tail_mono_ms();
	t->initial_scan = 1;
	tail_inotify_watch_dirs(t);  /* before the scan: no file created in between is missed */
	tail_scan(t);
	t->initial_scan = 0;
	t->next_scan = now + c->refresh_interval;
	t->next_poll = now + c->poll_interval;
	t->next_release_check = now;
	t->started = 1;
	LOG_INFO(input_name(t->in), "tailing %zu files (%s)", t->nfiles, t->poll_mode ? "polling" : "inotify");
	input_schedule(t->in);
	return 0;
}

static void tail_run(void *state)
{
	tail_process(state);
}

static void tail_on_timer(void *state)
{
	tail_process(state);
}

static void tail_on_fd(void *state, int fd, unsigned events)
{
	struct tail *t = state;
	(void)fd;
	(void)events;
	tail_inotify_read(t);
	tail_process(t);
}

static void tail_stop(void *state)
{
	struct tail *t = state;
	/* A multiline event or runtime-split line in progress is not shipped
	 * cut short: the checkpoint is at its first byte, so the next start
	 * reads it again whole. */
	publish_position(t);
	tail_inotify_stop(t);
}

static void tail_destroy(void *state)
{
	struct tail *t = state;
	if (!t)
		return;
	if (t->ifd >= 0)
		close(t->ifd);
	for (size_t i = 0; i < t->nfiles; i++) {
		t->files[i]->wd = -1;
		tail_file_free(t, t->files[i]);
	}
	free(t->files);
	free(t->dir_wds);
	tail_ml_rules_free(&t->ml);
	free(t->host_json);
	free(t->buf);
	free(t->pos);
	free(t->pos_last);
	free(t->pe);
	free(t->restore);
	sbuf_free(&t->ev);
	sbuf_free(&t->scratch);
	free(t);
}

const struct input_module tail_input = {
	.type = "tail",
	.doc = "Follows files matched by glob patterns, one event per line (or per multiline event), with "
	       "`log.file.path`, `log.offset` and `host.name`. Survives rename and copytruncate rotation, "
	       "deletion while open, symlinks, inode reuse (identity is device + inode + a fingerprint of "
	       "the file's head) and restarts: each file's offset is checkpointed only once its events are "
	       "durable in the ring. inotify, or stat polling where inotify cannot work. Optional CRI and "
	       "docker json-file parsing with Kubernetes metadata from /var/log/containers names.",
	.keys = tail_keys,
	.conf_size = sizeof(struct tail_conf),
	.check = tail_check,
	.init = tail_init,
	.start = tail_start,
	.on_fd = tail_on_fd,
	.on_timer = tail_on_timer,
	.run = tail_run,
	.stop = tail_stop,
	.destroy = tail_destroy,
};
