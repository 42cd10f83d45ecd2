/* Input instances: the input side of module.h (emit, positions, fd watches,
 * the timer, scheduling) and the pausing that backpressure needs. A paused
 * input's fds are switched off in epoll (kept registered), its timer firing
 * is remembered, its runs are held back; resuming replays both. */
#include "agent/pipeline_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent/filter.h"
#include "common/json.h"
#include "common/logging.h"

const char *input_name(const struct input *in)
{
	return in->name;
}

/* An input with events at the filter thread goes through filter.c even
 * without a chain (a reload took it away): its events stay in order. */
int input_emit(struct input *in, int64_t ts_ms, const char *json, size_t len)
{
	if (in->chain || in->fq_pushed != in->fq_done)
		return filter_chain_emit(in, ts_ms, json, len, 0);
	return pipeline_emit(in->p, in, ts_ms, json, len, 0);
}

int input_emit_line(struct input *in, int64_t ts_ms, const char *head, size_t hlen, const char *msg, size_t mlen,
		    const char *tail, size_t tlen)
{
	int rc = filter_chain_emit_line(in, ts_ms, head, hlen, msg, mlen, tail, tlen);
	if (rc != 1)
		return rc;
	struct sbuf *b = &in->line;
	b->len = 0;
	b->err = 0;
	json_put_line(b, head, hlen, msg, mlen, tail, tlen);
	if (b->err)
		return 0;
	return input_emit(in, ts_ms, b->p, b->len);
}

int input_offer(struct input *in, int64_t ts_ms, const char *json, size_t len)
{
	if (in->chain || in->fq_pushed != in->fq_done)
		return filter_chain_emit(in, ts_ms, json, len, 1);
	return pipeline_emit(in->p, in, ts_ms, json, len, 1);
}

/* *buf (capacity *cap) becomes a copy of src[0..len). 0, or -ENOMEM with
 * *buf unchanged. */
static int bytes_set(uint8_t **buf, size_t *cap, size_t *blen, const void *src, size_t len)
{
	if (len > *cap || !*buf) {
		uint8_t *p = realloc(*buf, len ? len : 1);
		if (!p)
			return -ENOMEM;
		*buf = p;
		*cap = len;
	}
	memcpy(*buf, src, len);
	*blen = len;
	return 0;
}

void input_set_position(struct input *in, const void *pos, size_t len)
{
	if (len > INPUT_POSITION_MAX) {
		LOG_ERROR(in->name, "position of %zu bytes is too long; not checkpointed", len);
		return;
	}
	if (in->fq_pushed != in->fq_done) {
		/* Events before it are with the filter thread: the position waits
		 * for the last of them (agent/filter_internal.h). A newer one
		 * replaces it: it covers the same events and more. */
		if (bytes_set(&in->fq_pos, &in->fq_pos_cap, &in->fq_pos_len, pos, len) < 0)
			return;  /* keeps the older position: re-read, never skip */
		in->fq_pos_seq = in->fq_pushed;
		in->fq_pos_set = 1;
		return;
	}
	input_apply_position(in, pos, len);
}

void input_apply_position(struct input *in, const void *pos, size_t len)
{
	/* Under mu: the status thread shows it. */
	pthread_mutex_lock(&in->p->mu);
	int rc = bytes_set(&in->pos, &in->pos_cap, &in->pos_len, pos, len);
	pthread_mutex_unlock(&in->p->mu);
	if (rc == 0)
		pipeline_position(in->p, in);   /* else the older one stays: re-read, never skip */
}

int input_checkpoint(struct input *in, void *buf, size_t cap)
{
	return checkpoint_read(in->p->ckpt_dirfd, in->name, buf, cap);
}

static void on_fd(void *arg, int fd, unsigned events)
{
	struct input *in = arg;
	if (in->paused || in->stopped || !in->mod->on_fd)
		return;
	in->mod->on_fd(in->state, fd, events);
}

int input_watch_fd(struct input *in, int fd, unsigned events)
{
	if (in->nfds == in->capfds) {
		size_t cap = in->capfds ? in->capfds * 2 : 4;
		struct input_fd *v = realloc(in->fds, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		in->fds = v;
		in->capfds = cap;
	}
	int rc = loop_add_fd(in->p->loop, fd, in->paused ? 0 : events, on_fd, in);
	if (rc < 0)
		return rc;
	in->fds[in->nfds++] = (struct input_fd){ fd, events };
	return 0;
}

void input_unwatch_fd(struct input *in, int fd)
{
	for (size_t i = 0; i < in->nfds; i++)
		if (in->fds[i].fd == fd) {
			loop_del_fd(in->p->loop, fd);
			in->fds[i] = in->fds[--in->nfds];
			return;
		}
}

static void on_timer(void *arg)
{
	struct input *in = arg;
	if (in->stopped)
		return;
	if (in->paused) {
		in->timer_due = 1;
		return;
	}
	if (in->mod->on_timer)
		in->mod->on_timer(in->state);
}

void input_timer_set(struct input *in, int64_t delay_ms)
{
	in->timer_due = 0;
	if (delay_ms < 0)
		loop_timer_disarm(in->p->loop, &in->timer);
	else
		loop_timer_arm(in->p->loop, &in->timer, delay_ms);
}

void input_schedule(struct input *in)
{
	if (!in->scheduled && !in->stopped) {
		in->scheduled = 1;
		in->p->nscheduled++;
	}
}

void input_done(struct input *in, int exit_agent)
{
	if (in->done)
		return;
	in->done = 1;
	pipeline_input_done(in->p, in, exit_agent);
}

void input_run_scheduled(struct input *in)
{
	if (!in->scheduled || in->paused || in->stopped)
		return;
	in->scheduled = 0;
	in->p->nscheduled--;
	if (in->mod->run)
		in->mod->run(in->state);
}

void input_pause(struct input *in)
{
	if (in->paused || (in->mod->flags & INPUT_CANNOT_WAIT))
		return;
	in->paused = 1;
	for (size_t i = 0; i < in->nfds; i++)
		loop_mod_fd(in->p->loop, in->fds[i].fd, 0);
}

void input_resume(struct input *in)
{
	if (!in->paused)
		return;
	in->paused = 0;
	if (in->stopped)
		return;
	for (size_t i = 0; i < in->nfds; i++)
		loop_mod_fd(in->p->loop, in->fds[i].fd, in->fds[i].events);
	if (in->timer_due) {
		in->timer_due = 0;
		loop_timer_arm(in->p->loop, &in->timer, 0);
	}
	/* An event refused with -EAGAIN is held by the module: let it retry. */
	if (in->mod->run)
		input_schedule(in);
}

int input_create(struct pipeline *p, struct cfg_ref *cref, const struct agent_input_conf *ic,
		 struct input **out)
{
	struct input *in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->p = p;
	in->cref = cref;
	cref->refs++;
	in->conf = ic;
	in->mod = ic->mod;
	in->name = ic->name;
	in->name_len = strlen(ic->name);
	in->tag = ic->tag;
	loop_timer_init(&in->timer, on_timer, in);
	/* The checkpoint we start from is also what /status shows until the
	 * first new one. */
	uint8_t *buf = malloc(INPUT_POSITION_MAX);
	int n = buf ? checkpoint_read(p->ckpt_dirfd, in->name, buf, INPUT_POSITION_MAX) : -ENOMEM;
	if (n > 0 && (in->ckpt = malloc((size_t)n)) && (in->ckpt_disk = malloc((size_t)n))) {
		memcpy(in->ckpt, buf, (size_t)n);
		in->ckpt_len = (size_t)n;
		memcpy(in->ckpt_disk, buf, (size_t)n);
		in->ckpt_disk_len = (size_t)n;
	}
	free(buf);
	int rc = in->mod->init(in, ic->conf, &in->state);
	if (rc < 0) {
		LOG_ERROR(in->name, "cannot create input (%s): %s", in->mod->type, strerror(-rc));
		cfg_ref_put(cref);
		free(in->ckpt);
		free(in->ckpt_disk);
		free(in);
		return rc;
	}
	*out = in;
	return 0;
}

int input_start_instance(struct input *in)
{
	int rc = in->mod->start ? in->mod->start(in->state) : 0;
	if (rc < 0) {
		LOG_ERROR(in->name, "cannot start input: %s", strerror(-rc));
		return rc;
	}
	in->started = 1;
	LOG_INFO(in->name, "input started (%s)", in->mod->type);
	return 0;
}

void input_stop_instance(struct input *in)
{
	if (in->stopped)
		return;
	if (in->started && in->mod->stop)
		in->mod->stop(in->state);
	in->stopped = 1;
	while (in->nfds)
		input_unwatch_fd(in, in->fds[0].fd);
	loop_timer_disarm(in->p->loop, &in->timer);
	if (in->scheduled) {
		in->scheduled = 0;
		in->p->nscheduled--;
	}
}

void input_destroy_instance(struct input *in)
{
	if (!in)
		return;
	input_stop_instance(in);
	if (in->mod->destroy)
		in->mod->destroy(in->state);
	cfg_ref_put(in->cref);
	free(in->fds);
	free(in->pos);
	free(in->ckpt);
	free(in->ckpt_disk);
	free(in->fq_pos);
	sbuf_free(&in->line);
	free(in);
}
