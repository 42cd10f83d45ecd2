/* The pipeline: one event loop in the main thread drives the inputs, the
 * batcher, checkpoints, signals and reloads; outputs run in their own threads
 * (output.c). The path of an event:
 *
 *   input_emit -> batcher (one RecordBatch v2, key = input name, timestamp =
 *   event time) -> flushed at buffer.batch_max_bytes or buffer.batch_timeout ->
 *   log_append into data_dir/ring -> each output's thread reads it.
 *
 * Invariant 1 (checkpoint only what the ring holds durably): an input's
 * position rides with the batch that holds the events it covers; once
 * appended, (batch end offset, position) waits in a queue until the ring's
 * durable offset passes it (LOG_EV_DURABLE, told through an eventfd), and only
 * then is it written to data_dir/checkpoints/<name>.pos.
 *
 * Backpressure: when the ring refuses a batch (full under when_full: block,
 * or a disk error) the batch stays in memory, every input that can wait is
 * paused, and input_emit refuses (-EAGAIN; UDP-like inputs count drops). When
 * an output's commit frees segments (LOG_EV_SPACE) or the retry timer fires,
 * the append is tried again and, once it succeeds, the inputs resume. */
#include "agent/pipeline_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/filter.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/notify.h"

#define COMP "agent"

int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct cfg_ref *cfg_ref_new(struct agent_config *c)
{
	struct cfg_ref *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cfg = c;
	r->refs = 1;
	return r;
}

void cfg_ref_put(struct cfg_ref *r)
{
	if (r && --r->refs == 0) {
		agent_config_free(r->cfg);
		free(r);
	}
}

static const struct agent_config *cfg(const struct pipeline *p)
{
	return p->cref->cfg;
}

/* --- checkpoints -------------------------------------------------------------------- */

static int ckq_push(struct pipeline *p, int64_t end, struct input *in)
{
	if (p->ckq_len == p->ckq_cap) {
		size_t cap = p->ckq_cap ? p->ckq_cap * 2 : 64;
		struct ckpt_entry *v = malloc(cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < p->ckq_len; i++)
			v[i] = p->ckq[(p->ckq_head + i) % p->ckq_cap];
		free(p->ckq);
		p->ckq = v;
		p->ckq_cap = cap;
		p->ckq_head = 0;
	}
	uint8_t *pos = malloc(in->pos_len ? in->pos_len : 1);
	if (!pos)
		return -ENOMEM;
	memcpy(pos, in->pos, in->pos_len);
	p->ckq[(p->ckq_head + p->ckq_len) % p->ckq_cap] =
		(struct ckpt_entry){ .end = end, .in = in, .pos = pos, .len = in->pos_len };
	p->ckq_len++;
	return 0;
}

static void ckpt_written(void *arg, const char *name, uint8_t **pos, size_t len, int64_t done_ms)
{
	struct pipeline *p = arg;
	if (!done_ms)
		return;  /* reported by checkpoint_write */
	METRIC_ADD(p->checkpoint_writes, 1);
	for (size_t i = 0; i < p->ninputs; i++) {
		struct input *in = p->inputs[i];
		if (strcmp(in->name, name) != 0)
			continue;
		pthread_mutex_lock(&p->mu);  /* the status thread reads them */
		in->ckpt_written_ms = done_ms;
		free(in->ckpt_disk);
		in->ckpt_disk = *pos;        /* the writer's copy becomes the input's */
		in->ckpt_disk_len = len;
		*pos = NULL;
		pthread_mutex_unlock(&p->mu);
		return;   /* names are unique */
	}
}

/* Moves every queued position the ring's durable offset covers into its
 * input's checkpoint, then hands the checkpoints that changed to the writer
 * thread (so the loop never waits for their fsyncs). */
static void ckpt_process(struct pipeline *p)
{
	int64_t durable = log_durable_offset(p->ring);
	while (p->ckq_len) {
		struct ckpt_entry *e = &p->ckq[p->ckq_head];
		if (e->end > durable)
			break;
		struct input *in = e->in;
		if (in) {
			pthread_mutex_lock(&p->mu);
			free(in->ckpt);
			in->ckpt = e->pos;
			in->ckpt_len = e->len;
			pthread_mutex_unlock(&p->mu);
			in->ckpt_dirty = 1;
		} else {
			free(e->pos);
		}
		p->ckq_head = (p->ckq_head + 1) % p->ckq_cap;
		p->ckq_len--;
	}
	for (size_t i = 0; i < p->ninputs; i++) {
		struct input *in = p->inputs[i];
		if (!in->ckpt_dirty)
			continue;
		in->ckpt_dirty = 0;
		int rc = ckpt_writer_submit(p->ckw, in->name, in->ckpt, in->ckpt_len);
		if (rc < 0)
			LOG_ERROR(in->name, "checkpoint not written (%s): a restart re-reads more", strerror(-rc));
		/* Nothing newer pending: the checkpoint has caught up. */
		int pending = in->pos_in_batch;
		for (size_t k = 0; k < p->ckq_len && !pending; k++)
			pending = p->ckq[(p->ckq_head + k) % p->ckq_cap].in == in;
		if (!pending)
			in->unckpt_since_ms = 0;
	}
}

/* An input going away: its queued positions are forgotten (never written:
 * the next instance re-reads from the older checkpoint, never skips). */
static void ckq_forget(struct pipeline *p, struct input *in)
{
	for (size_t k = 0; k < p->ckq_len; k++) {
		struct ckpt_entry *e = &p->ckq[(p->ckq_head + k) % p->ckq_cap];
		if (e->in == in)
			e->in = NULL;
	}
}

static void ckq_clear(struct pipeline *p)
{
	while (p->ckq_len) {
		free(p->ckq[p->ckq_head].pos);
		p->ckq_head = (p->ckq_head + 1) % p->ckq_cap;
		p->ckq_len--;
	}
}

void pipeline_position(struct pipeline *p, struct input *in)
{
	if (!in->unckpt_since_ms)
		in->unckpt_since_ms = wall_ms();
	if (p->batch_records || p->batch_finished) {
		in->pos_in_batch = 1;
		return;
	}
	/* Nothing of this input waits in memory: the position covers only what
	 * is already in the ring. */
	in->pos_in_batch = 0;
	if (ckq_push(p, p->appended_end, in) == 0 && log_durable_offset(p->ring) >= p->appended_end)
		ckpt_process(p);
}

/* --- the batcher ---------------------------------------------------------------------- */

static void set_blocked(struct pipeline *p, int rc)
{
	p->append_error = rc;
	if (!p->blocked) {
		p->blocked = 1;
		p->blocked_since_ms = wall_ms();
		p->retry_delay_ms = 100;
		if (rc == -ENOSPC && cfg(p)->max_bytes && log_size_bytes(p->ring) + p->batch.out_len > cfg(p)->max_bytes)
			LOG_WARN(COMP, "the ring is full (buffer.max_bytes %" PRIu64 " bytes): inputs paused "
				 "until outputs ship and free space", cfg(p)->max_bytes);
		else
			LOG_ERROR(COMP, "cannot write to the ring: %s; inputs paused, retrying", strerror(-rc));
		for (size_t i = 0; i < p->ninputs; i++)
			input_pause(p->inputs[i]);
	} else if (p->retry_delay_ms < 1000) {
		p->retry_delay_ms *= 2;
	}
	/* LOG_EV_SPACE normally ends the wait; the timer covers disk errors. */
	loop_timer_arm(p->loop, &p->retry_timer, p->retry_delay_ms);
}

static void set_unblocked(struct pipeline *p)
{
	p->append_error = 0;
	if (!p->blocked)
		return;
	p->blocked = 0;
	loop_timer_disarm(p->loop, &p->retry_timer);
	/* Events the filter thread already passed go first; if they fill the
	 * ring again, the inputs stay paused (set_blocked ran meanwhile). */
	filters_ring_ready(p);
	if (p->blocked)
		return;
	LOG_INFO(COMP, "the ring takes events again: inputs resumed (paused for %" PRId64 "ms)",
		 wall_ms() - p->blocked_since_ms);
	for (size_t i = 0; i < p->ninputs; i++)
		input_resume(p->inputs[i]);
}

/* Writes the batch in memory to the ring. On success its inputs' positions
 * join the checkpoint queue; on failure it stays (blocked). */
static void flush(struct pipeline *p)
{
	loop_timer_disarm(p->loop, &p->batch_timer);
	if (!p->batch_records)
		return;
	if (!p->batch_finished) {
		const uint8_t *b;
		size_t len;
		int rc = batch_builder_finish(&p->batch, &b, &len);
		if (rc < 0) {
			set_blocked(p, rc);
			return;
		}
		p->batch_finished = 1;
	}
	int64_t base;
	int rc = log_append_built(p->ring, p->batch.out, p->batch.out_len, &base);
	if (rc < 0) {
		set_blocked(p, rc);
		return;
	}
	p->appended_end = base + p->batch_records;
	METRIC_ADD(p->batches, 1);
	for (size_t i = 0; i < p->ninputs; i++) {
		struct input *in = p->inputs[i];
		if (in->pos_in_batch) {
			in->pos_in_batch = 0;
			ckq_push(p, p->appended_end, in);
		}
	}
	batch_builder_reset(&p->batch);
	p->batch_finished = 0;
	p->batch_records = 0;
	set_unblocked(p);
}

static void on_batch_timer(void *arg)
{
	flush(arg);
}

/* How long a batch lingers once the inputs have gone quiet (see batch_idle). */
#define BATCH_IDLE_LINGER_MS 10

/* The loop is about to wait with a batch in memory that is not full: the
 * inputs have handed over everything they had. The batch leaves at most
 * BATCH_IDLE_LINGER_MS from now (never later than batch_timeout after its
 * first event), so at a moderate rate events reach the ring, and the
 * outputs, within milliseconds, while events arriving close together still
 * share a batch (one append, one output wake-up per linger, not per event).
 * A busy loop never gets here and fills its batches to batch_max_bytes.
 * Only the first idle moment of a batch moves its deadline: a steady trickle
 * cannot postpone it. */
static void batch_idle(struct pipeline *p)
{
	if (!p->batch_records || p->batch_finished || p->blocked)
		return;
	int64_t due = loop_now_ms() + BATCH_IDLE_LINGER_MS;
	if (p->batch_timer.armed && p->batch_timer.deadline <= due)
		return;
	loop_timer_arm(p->loop, &p->batch_timer, BATCH_IDLE_LINGER_MS);
}

static void on_retry_timer(void *arg)
{
	struct pipeline *p = arg;
	if (p->blocked)
		flush(p);
}

int pipeline_emit(struct pipeline *p, struct input *in, int64_t ts, const char *json, size_t len, int kept)
{
	if (in->stopped)
		return -EPIPE;
	return pipeline_emit_accepted(p, in, ts, json, len, kept);
}

int pipeline_emit_accepted(struct pipeline *p, struct input *in, int64_t ts, const char *json, size_t len,
			   int kept)
{
	size_t klen = in->name_len;
	if (len + klen + 64 > BATCH_MAX_BYTES - BATCH_HEADER_SIZE) {
		METRIC_ADD(in->dropped, 1);
		LOG_WARN(in->name, "event of %zu bytes is larger than a batch may be; dropped", len);
		return -E2BIG;
	}
	if (!p->blocked && p->batch_records &&
	    batch_builder_size(&p->batch) + len + klen + 32 > cfg(p)->batch_max_bytes)
		flush(p);
	if (p->blocked) {
		if ((in->mod->flags & INPUT_CANNOT_WAIT) && !kept)
			METRIC_ADD(in->dropped, 1);
		else
			METRIC_ADD(in->refused, 1);
		return -EAGAIN;
	}
	int rc = batch_builder_add(&p->batch, ts, in->name, (int32_t)klen, json, (int32_t)len, NULL, 0);
	if (rc < 0) {
		/* Out of memory: refused like a full ring, retried by the input. */
		set_blocked(p, rc);
		return -EAGAIN;
	}
	if (p->batch_records++ == 0)
		loop_timer_arm(p->loop, &p->batch_timer, cfg(p)->batch_timeout_ms);
	METRIC_ADD(in->events_in, 1);
	METRIC_ADD(in->bytes_in, len);
	return 0;
}

void pipeline_input_done(struct pipeline *p, struct input *in, int exit_agent)
{
	LOG_INFO(in->name, "input has nothing more to read%s", exit_agent ? "; the agent stops when every input is done" : "");
	if (exit_agent)
		p->exit_when_done = 1;
	if (!p->exit_when_done)
		return;
	for (size_t i = 0; i < p->ninputs; i++)
		if (!p->inputs[i]->done)
			return;
	p->quit = 1;
}

int pipeline_input_tag_locked(struct pipeline *p, const char *name, size_t len, const char **tag)
{
	for (size_t i = 0; i < p->ninputs; i++) {
		struct input *in = p->inputs[i];
		if (strlen(in->name) == len && memcmp(in->name, name, len) == 0) {
			*tag = in->tag;
			return 1;
		}
	}
	*tag = NULL;
	return 0;
}

/* --- the ring ------------------------------------------------------------------------- */

/* From any thread: only DURABLE and SPACE matter to the loop. */
static void ring_notify(void *arg, unsigned events)
{
	struct pipeline *p = arg;
	events &= LOG_EV_DURABLE | LOG_EV_SPACE;
	if (!events)
		return;
	atomic_fetch_or(&p->ring_events, events);
	uint64_t one = 1;
	ssize_t w = write(p->evfd, &one, sizeof(one));
	(void)w;
}

static void on_ring_event(void *arg, int fd, unsigned ev)
{
	struct pipeline *p = arg;
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
	(void)ev;
	unsigned events = atomic_exchange(&p->ring_events, 0);
	ckpt_writer_collect(p->ckw, ckpt_written, p);  /* the writer uses this eventfd too */
	if (events & LOG_EV_DURABLE)
		ckpt_process(p);
	if ((events & LOG_EV_SPACE) && p->blocked)
		flush(p);
}

static int ring_open(struct pipeline *p, const struct agent_config *c)
{
	if (mkdir(c->data_dir, 0755) < 0 && errno != EEXIST) {
		int rc = -errno;
		LOG_ERROR(COMP, "cannot create data_dir %s: %s", c->data_dir, strerror(errno));
		return rc;
	}
	struct log_config lc;
	log_config_defaults(&lc);
	lc.segment_bytes = c->segment_bytes;
	lc.max_bytes = c->max_bytes;
	lc.when_full = c->when_full == 1 ? LOG_FULL_DROP_OLDEST : LOG_FULL_BLOCK;
	lc.fsync = (enum log_fsync)c->fsync;
	lc.fsync_interval_ms = (uint32_t)c->fsync_interval_ms;
	lc.report = logging_report;
	lc.report_arg = (void *)"ring";
	lc.notify = ring_notify;
	lc.notify_arg = p;
	char *dir = NULL;
	if (asprintf(&dir, "%s/ring", c->data_dir) < 0)
		return -ENOMEM;
	int rc = log_open(dir, &lc, &p->ring);
	if (rc < 0) {
		LOG_ERROR(COMP, "cannot open the ring in %s: %s", dir, strerror(-rc));
		free(dir);
		return rc;
	}
	rc = checkpoint_dir_open(c->data_dir, &p->ckpt_dirfd);
	if (rc == 0 && (rc = ckpt_writer_start(p->ckpt_dirfd, p->evfd, &p->ckw)) < 0) {
		close(p->ckpt_dirfd);
		p->ckpt_dirfd = -1;
	}
	if (rc < 0) {
		LOG_ERROR(COMP, "cannot open %s/checkpoints: %s", c->data_dir, strerror(-rc));
		log_close(p->ring);
		p->ring = NULL;
		free(dir);
		return rc;
	}
	free(p->ring_dir);
	p->ring_dir = dir;
	p->appended_end = log_end_offset(p->ring);
	struct log_stats st;
	log_get_stats(p->ring, &st);
	LOG_INFO(COMP, "ring %s: offsets %" PRId64 "..%" PRId64 ", %" PRIu64 " bytes in %u segment(s)",
		 dir, st.start_offset, st.end_offset, st.size_bytes, st.segments);
	return 0;
}

static void ring_close(struct pipeline *p)
{
	if (p->ring) {
		log_close(p->ring);
		p->ring = NULL;
	}
	if (p->ckw) {
		ckpt_writer_stop(p->ckw);  /* writes what is pending first */
		p->ckw = NULL;
	}
	if (p->ckpt_dirfd >= 0) {
		close(p->ckpt_dirfd);
		p->ckpt_dirfd = -1;
	}
}

/* --- instances -------------------------------------------------------------------------- */

/* Creates the instances of cfg that are not in keep_in/keep_out (NULL: all)
 * and appends them to the lists. strict: fail on the first error (start-up);
 * else log and go on (reload). */
static int add_instances(struct pipeline *p, struct cfg_ref *cref, struct input **in_v,
			 struct output **out_v, int strict)
{
	const struct agent_config *c = cref->cfg;
	for (size_t i = 0; i < c->noutputs; i++) {
		if (out_v[i])
			continue;
		int rc = output_create(p, cref, &c->outputs[i], &out_v[i]);
		if (rc < 0 && strict)
			return rc;
	}
	for (size_t i = 0; i < c->ninputs; i++) {
		if (in_v[i])
			continue;
		int rc = input_create(p, cref, &c->inputs[i], &in_v[i]);
		if (rc < 0 && strict)
			return rc;
	}
	return 0;
}

/* Publishes new instance lists (copies of the non-NULL entries) for the
 * loop and the status thread. */
static void install_lists(struct pipeline *p, struct input **in_v, size_t nin, struct output **out_v,
			  size_t nout)
{
	struct input **iv = calloc(nin + 1, sizeof(*iv));
	struct output **ov = calloc(nout + 1, sizeof(*ov));
	size_t ni = 0, no = 0;
	if (!iv || !ov) {
		/* Cannot happen in practice (a few pointers); keep the old lists. */
		free(iv);
		free(ov);
		LOG_ERROR(COMP, "out of memory publishing the module lists");
		return;
	}
	for (size_t i = 0; i < nin; i++)
		if (in_v[i])
			iv[ni++] = in_v[i];
	for (size_t i = 0; i < nout; i++)
		if (out_v[i])
			ov[no++] = out_v[i];
	pthread_mutex_lock(&p->mu);
	free(p->inputs);
	free(p->outputs);
	p->inputs = iv;
	p->ninputs = ni;
	p->outputs = ov;
	p->noutputs = no;
	atomic_fetch_add(&p->inputs_gen, 1);
	pthread_mutex_unlock(&p->mu);
}

static int start_new(struct pipeline *p, int strict)
{
	for (size_t i = 0; i < p->noutputs; i++) {
		struct output *o = p->outputs[i];
		if (!o->thread_started && !atomic_load(&o->exited)) {
			int rc = output_start_thread(o);
			if (rc < 0 && strict)
				return rc;
		}
	}
	for (size_t i = 0; i < p->ninputs; i++) {
		struct input *in = p->inputs[i];
		if (!in->started && !in->stopped) {
			int rc = input_start_instance(in);
			if (rc < 0) {
				if (strict)
					return rc;
				input_stop_instance(in);
			} else if (p->blocked) {
				input_pause(in);
			}
		}
	}
	return 0;
}

static void remove_input(struct pipeline *p, struct input *in)
{
	input_stop_instance(in);
	ckq_forget(p, in);
	filters_forget_input(p, in);
	input_destroy_instance(in);
}

/* --- status endpoint ---------------------------------------------------------------- */

static void status_apply(struct pipeline *p)
{
	/* Restarted when its address or TLS settings change (a certificate
	 * renewed in the same files is picked up without a restart). */
	const struct agent_config *c = cfg(p);
	const struct tls_server_conf *t = &c->http_tls;
	char want[2048];
	if (c->http_listen)
		snprintf(want, sizeof(want), "%s|%s|%s|%s|%d|%d", c->http_listen, t->cert_file ? t->cert_file : "",
			 t->key_file ? t->key_file : "", t->ca_file ? t->ca_file : "", t->client_auth, t->min_version);
	if (p->status && c->http_listen && p->status_listen && strcmp(want, p->status_listen) == 0)
		return;
	if (p->status) {
		status_stop(p->status);
		p->status = NULL;
		free(p->status_listen);
		p->status_listen = NULL;
	}
	if (!c->http_listen)
		return;
	if (status_start(p, c->http_listen, t->cert_file ? t : NULL, &p->status) == 0)
		p->status_listen = strdup(want);
}

/* --- reload (SIGHUP) ----------------------------------------------------------------- */

static struct input *find_input(struct pipeline *p, const char *name)
{
	for (size_t i = 0; i < p->ninputs; i++)
		if (p->inputs[i] && strcmp(p->inputs[i]->name, name) == 0)
			return p->inputs[i];
	return NULL;
}

static struct output *find_output(struct pipeline *p, const char *name)
{
	for (size_t i = 0; i < p->noutputs; i++)
		if (p->outputs[i] && strcmp(p->outputs[i]->name, name) == 0)
			return p->outputs[i];
	return NULL;
}

static void stop_all_outputs(struct pipeline *p)
{
	for (size_t i = 0; i < p->noutputs; i++)
		output_stop(p->outputs[i]);
}

static int in_list(void *const *v, size_t n, const void *x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return 1;
	return 0;
}

static void reload(struct pipeline *p)
{
	struct agent_config *nc;
	struct cfg_error err;
	METRIC_ADD(p->reloads, 1);
	LOG_INFO(COMP, "SIGHUP: reloading %s", p->main_file);
	if (agent_config_load(p->main_file, p->conf_dir, &nc, &err) < 0) {
		METRIC_ADD(p->reload_failures, 1);
		LOG_ERROR("config", "%s", err.msg);
		LOG_ERROR(COMP, "reload failed: the config in force stays (nothing changed)");
		return;
	}
	struct cfg_ref *nr = cfg_ref_new(nc);
	struct input **in_v = calloc(nc->ninputs + 1, sizeof(*in_v));
	struct output **out_v = calloc(nc->noutputs + 1, sizeof(*out_v));
	size_t old_nin = p->ninputs, old_nout = p->noutputs;
	struct input **old_in = malloc((old_nin + 1) * sizeof(*old_in));
	struct output **old_out = malloc((old_nout + 1) * sizeof(*old_out));
	if (!nr || !in_v || !out_v || !old_in || !old_out) {
		LOG_ERROR(COMP, "reload: out of memory; the config in force stays");
		free(in_v);
		free(out_v);
		free(old_in);
		free(old_out);
		if (nr)
			cfg_ref_put(nr);
		else
			agent_config_free(nc);
		return;
	}
	memcpy(old_in, p->inputs, old_nin * sizeof(*old_in));
	memcpy(old_out, p->outputs, old_nout * sizeof(*old_out));
	filters_sync(p);   /* what the filter thread has joins the batch */
	/* What is in memory goes to the ring first, so that inputs about to be
	 * restarted leave nothing behind (if the ring is full it stays queued;
	 * a stopped input's positions are then simply not checkpointed). */
	flush(p);
	if (!p->blocked && log_sync(p->ring) == 0) {
		ckpt_process(p);  /* restarted inputs resume exactly where they were */
		ckpt_writer_drain(p->ckw);
	}
	int ring_changed = agent_config_ring_changed(cfg(p), nc);
	size_t kept = 0, restarted = 0, removed = 0;
	if (!ring_changed) {
		/* Unchanged instances (same name, same effective config) keep
		 * running; changed ones are restarted, removed ones stopped. */
		for (size_t i = 0; i < nc->ninputs; i++) {
			struct input *in = find_input(p, nc->inputs[i].name);
			if (in && strcmp(in->conf->fingerprint, nc->inputs[i].fingerprint) == 0) {
				in_v[i] = in;
				kept++;
			}
		}
		for (size_t i = 0; i < nc->noutputs; i++) {
			struct output *o = find_output(p, nc->outputs[i].name);
			if (o && strcmp(o->conf->fingerprint, nc->outputs[i].fingerprint) == 0) {
				out_v[i] = o;
				kept++;
			}
		}
	} else {
		LOG_INFO(COMP, "data_dir or buffer settings changed: every module restarts on the new ring");
		for (size_t i = 0; i < old_nin; i++)
			input_stop_instance(old_in[i]);
		flush(p);
		if (p->blocked)
			LOG_WARN(COMP, "%u event(s) in memory could not be written to the old ring; their inputs "
				 "read them again from their checkpoints", p->batch_records);
		log_sync(p->ring);
		ckpt_process(p);
	}
	/* Only the kept instances stay published while the others go. */
	install_lists(p, in_v, nc->ninputs, out_v, nc->noutputs);
	for (size_t i = 0; i < old_nin; i++) {
		struct input *in = old_in[i];
		if (in_list((void *const *)in_v, nc->ninputs, in))
			continue;
		int again = 0;
		for (size_t k = 0; k < nc->ninputs; k++)
			again |= strcmp(nc->inputs[k].name, in->name) == 0;
		again ? restarted++ : removed++;
		LOG_INFO(in->name, "input %s", again ? "changed: restarting" : "removed");
		remove_input(p, in);
	}
	for (size_t i = 0; i < old_nout; i++) {
		struct output *o = old_out[i];
		if (in_list((void *const *)out_v, nc->noutputs, o))
			continue;
		int again = 0;
		for (size_t k = 0; k < nc->noutputs; k++)
			again |= strcmp(nc->outputs[k].name, o->name) == 0;
		again ? restarted++ : removed++;
		LOG_INFO(o->name, "output %s", again ? "changed: restarting at its cursor"
						     : "removed: its cursor is deleted");
		char *name = strdup(o->name);
		output_destroy(o);
		if (!again && !ring_changed && name)
			log_cursor_remove(p->ring, name);
		free(name);
	}
	free(old_in);
	free(old_out);
	if (ring_changed) {
		ckq_clear(p);
		batch_builder_reset(&p->batch);
		p->batch_finished = 0;
		p->batch_records = 0;
		p->blocked = 0;
		loop_timer_disarm(p->loop, &p->retry_timer);
		loop_timer_disarm(p->loop, &p->batch_timer);
		pthread_mutex_lock(&p->mu);
		ring_close(p);
		int rc = ring_open(p, nc);
		pthread_mutex_unlock(&p->mu);
		if (rc < 0) {
			LOG_ERROR(COMP, "cannot open the new ring; stopping");
			free(in_v);
			free(out_v);
			struct cfg_ref *old = p->cref;
			p->cref = nr;
			cfg_ref_put(old);
			p->quit = 1;
			return;
		}
	}
	add_instances(p, nr, in_v, out_v, 0);
	install_lists(p, in_v, nc->ninputs, out_v, nc->noutputs);
	filters_apply(p, nr, 0);   /* changed filters restart; every input gets its chain */
	free(in_v);
	free(out_v);
	struct cfg_ref *old = p->cref;
	p->cref = nr;
	cfg_ref_put(old);
	logging_set_level((enum log_level)nc->log_level);
	start_new(p, 0);
	status_apply(p);
	p->ready = 1;
	LOG_INFO(COMP, "reloaded: %zu module(s) kept running, %zu restarted, %zu added, %zu removed",
		 kept, restarted, nc->ninputs + nc->noutputs - kept - restarted, removed);
}

/* --- signals and the loop --------------------------------------------------------------- */

static void on_signal(void *arg, int fd, unsigned ev)
{
	struct pipeline *p = arg;
	struct signalfd_siginfo si;
	(void)ev;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			notify_reloading();
			reload(p);
			notify_ready();
		} else {
			LOG_INFO(COMP, "%s: stopping", strsignal((int)si.ssi_signo));
			notify_stopping();
			p->quit = 1;
		}
	}
}

int pipeline_new(struct agent_config *c, const char *main_file, const char *conf_dir,
		 struct pipeline **out)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	if (!p) {
		agent_config_free(c);
		return -ENOMEM;
	}
	p->cref = cfg_ref_new(c);
	if (!p->cref) {
		free(p);
		agent_config_free(c);
		return -ENOMEM;
	}
	p->main_file = main_file;
	p->conf_dir = conf_dir;
	p->sigfd = p->evfd = p->ckpt_dirfd = -1;
	p->started_ms = wall_ms();
	pthread_mutex_init(&p->mu, NULL);
	batch_builder_init(&p->batch, BATCH_COMPRESSION_NONE);
	loop_timer_init(&p->batch_timer, on_batch_timer, p);
	loop_timer_init(&p->retry_timer, on_retry_timer, p);
	logging_set_level((enum log_level)c->log_level);
	int rc = loop_new(&p->loop);
	if (rc < 0)
		goto fail;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	p->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->sigfd < 0 || p->evfd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = loop_add_fd(p->loop, p->sigfd, EPOLLIN, on_signal, p)) < 0 ||
	    (rc = loop_add_fd(p->loop, p->evfd, EPOLLIN, on_ring_event, p)) < 0)
		goto fail;
	if ((rc = ring_open(p, c)) < 0)
		goto fail;
	struct input **in_v = calloc(c->ninputs + 1, sizeof(*in_v));
	struct output **out_v = calloc(c->noutputs + 1, sizeof(*out_v));
	if (!in_v || !out_v) {
		free(in_v);
		free(out_v);
		rc = -ENOMEM;
		goto fail;
	}
	rc = add_instances(p, p->cref, in_v, out_v, 1);
	install_lists(p, in_v, c->ninputs, out_v, c->noutputs);
	free(in_v);
	free(out_v);
	if (rc < 0 || (rc = filters_apply(p, p->cref, 1)) < 0)
		goto fail;
	if (!c->ninputs)
		LOG_WARN(COMP, "no inputs configured");
	if (!c->noutputs)
		LOG_WARN(COMP, "no outputs configured: the ring fills up and then inputs wait");
	if ((rc = start_new(p, 1)) < 0)
		goto fail;
	status_apply(p);
	if (c->http_listen && !p->status) {
		rc = -EADDRINUSE;
		goto fail;
	}
	p->ready = 1;
	*out = p;
	return 0;
fail:
	if (rc != -EADDRINUSE && rc != -EINVAL)
		LOG_ERROR(COMP, "cannot start: %s", strerror(-rc));
	pipeline_free(p);
	return rc;
}

/* SIGTERM: inputs stop, memory goes to the ring (waiting for space at most
 * shutdown_timeout), positions are checkpointed, outputs drain what the ring
 * holds until shutdown_timeout and commit. */
static void shutdown_all(struct pipeline *p)
{
	int64_t t0 = loop_now_ms(), deadline = t0 + cfg(p)->shutdown_timeout_ms;
	filters_sync(p);
	for (size_t i = 0; i < p->ninputs; i++)
		input_stop_instance(p->inputs[i]);
	filters_sync(p);   /* what the inputs emitted as they stopped */
	flush(p);
	while (p->blocked && loop_now_ms() < deadline) {
		struct pollfd pf = { .fd = p->evfd, .events = POLLIN };
		poll(&pf, 1, 100);
		uint64_t v;
		ssize_t r = read(p->evfd, &v, sizeof(v));
		(void)r;
		flush(p);
	}
	if (p->blocked)
		LOG_WARN(COMP, "%u event(s) in memory could not be written to the full ring before "
			 "shutdown_timeout; their inputs read them again from their checkpoints", p->batch_records);
	log_sync(p->ring);
	ckpt_process(p);
	for (size_t i = 0; i < p->noutputs; i++)
		output_request_drain(p->outputs[i]);
	int drained = 1;
	for (size_t i = 0; i < p->noutputs; i++)
		drained &= output_wait_exit(p->outputs[i], deadline);
	if (!drained)
		LOG_WARN(COMP, "shutdown_timeout (%" PRId64 "ms) reached with events left to ship; "
			 "they stay in the ring for the next start", cfg(p)->shutdown_timeout_ms);
	stop_all_outputs(p);
	LOG_INFO(COMP, "stopped in %" PRId64 "ms", loop_now_ms() - t0);
}

int pipeline_run(struct pipeline *p)
{
	LOG_INFO(COMP, "running: %zu input(s), %zu output(s)", p->ninputs, p->noutputs);
	while (!p->quit) {
		filters_publish(p);   /* the round's events go to the filter thread */
		if (p->nscheduled == 0)
			batch_idle(p);
		int rc = loop_run_once(p->loop, p->nscheduled > 0);
		if (rc < 0) {
			LOG_ERROR(COMP, "event loop: %s", strerror(-rc));
			break;
		}
		for (size_t i = 0; p->nscheduled && i < p->ninputs && !p->quit; i++)
			input_run_scheduled(p->inputs[i]);
	}
	shutdown_all(p);
	return 0;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	if (p->status)
		status_stop(p->status);
	free(p->status_listen);
	for (size_t i = 0; i < p->ninputs; i++)
		remove_input(p, p->inputs[i]);
	filters_free(p);
	stop_all_outputs(p);
	for (size_t i = 0; i < p->noutputs; i++)
		output_destroy(p->outputs[i]);
	free(p->inputs);
	free(p->outputs);
	ckq_clear(p);
	free(p->ckq);
	ring_close(p);
	free(p->ring_dir);
	batch_builder_free(&p->batch);
	if (p->sigfd >= 0)
		close(p->sigfd);
	if (p->evfd >= 0)
		close(p->evfd);
	loop_free(p->loop);
	cfg_ref_put(p->cref);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
