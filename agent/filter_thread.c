/* The filter thread: chains run beside the event loop (filter_internal.h
 * has the contract and the invariants).
 *
 * Three byte queues of packed records, each handed over whole by swapping
 * buffers under one mutex (no lock per event):
 *   local  (loop thread)   jobs offered since the last publish
 *   todo   (shared)        jobs for the filter thread
 *   done   (shared)        results for the loop thread, in job order
 * The loop thread publishes local into todo once per loop round (and when
 * local grows large), and takes done whole when the set's eventfd says
 * results came; it emits them from its own copy (mine), keeping its place
 * there when the ring refuses. A job and its result are one record shape:
 * the filter thread rewrites the text and the flags. */
#include "agent/filter_internal.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/pipeline_internal.h"
#include "common/logging.h"
#include "common/metrics.h"

/* What may be away at once (jobs and results), and how much the loop
 * thread gathers before it hands jobs over (besides once per round) and
 * the filter thread before it hands results back (besides at the end of
 * its batch). Each hand-over to a sleeping thread is a wake-up, which on
 * a virtual machine costs as much as hundreds of events (agent_bench's
 * filters part, 2026-12-03: with a 1 MiB window and 64 KiB hand-overs the
 * filter thread sat idle a third of the time and the loop thread's kernel
 * time tripled): a 4 MiB window (~16000 events) and 256 KiB hand-overs
 * keep both busy. The cost is memory under load: the six buffers can each
 * grow to the window (peak RSS ~38 MiB under a saturating chain, against
 * ~15 MiB without filters). */
#define FT_QUEUE_BYTES (4u << 20)
#define FT_PUBLISH_BYTES (256u << 10)
/* Buffers larger than this are freed once idle for FT_IDLE_MS (nothing
 * away, for the loop thread's; no work, for the filter thread's): a burst
 * does not stay in the agent's RSS, and a steady load keeps its buffers.
 * Not sooner: the queue empties for a moment now and then under load, and
 * buffers freed then and grown again cost their page faults each time
 * (the loop thread's kernel time tripled, and the rate halved). */
#define FT_KEEP_BYTES (1u << 20)
#define FT_IDLE_MS 1000

struct ft_rec {
	struct input *in;             /* NULL in a result: forgotten (the input went away) */
	struct filter_chain *ch;
	const char *name, *tag;
	int64_t ts;
	uint64_t seq;
	uint32_t len;                 /* text bytes after the header */
	uint32_t cost;                /* the job's record size, counted in t->away */
	/* a job that is a line (input_emit_line): its bytes are the head
	 * (hlen), the raw line (mlen) and the tail; 0 in a result */
	uint32_t hlen, mlen;
	uint8_t line, kept, dropped;
};

struct filter_thread {
	struct filter_set *set;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake, idle;
	int stop, busy;               /* under mu */
	struct sbuf todo, done;       /* under mu */
	/* filter thread only */
	struct sbuf work, out;
	struct event ev;
	/* loop thread only */
	struct sbuf local, mine;
	struct loop_timer trim_timer;  /* armed once idle with big buffers */
	int trim_armed;
	size_t moff;                  /* next record of mine to emit */
	size_t away;                  /* bytes of jobs not emitted yet */
	int draining, waiters;
};

static size_t rec_size(size_t len)
{
	return (sizeof(struct ft_rec) + len + 7) & ~(size_t)7;
}

static void swap(struct sbuf *a, struct sbuf *b)
{
	struct sbuf x = *a;
	*a = *b;
	*b = x;
}

/* An empty buffer that grew in a burst is given back (and then, with
 * malloc_trim, to the kernel: free() alone keeps such chunks in the heap,
 * once glibc raised its mmap threshold after the first big free). */
static void trim(struct sbuf *b)
{
	if (!b->len && b->cap > FT_KEEP_BYTES)
		sbuf_free(b);
}

/* --- the filter thread ------------------------------------------------------------- */

/* Hands the results in out to the loop thread (appended to done), and
 * tells it when done was empty (else it has been told already). */
static void post(struct filter_thread *t)
{
	if (!t->out.len)
		return;
	pthread_mutex_lock(&t->mu);
	int was_empty = !t->done.len;
	if (was_empty) {
		swap(&t->done, &t->out);
	} else {
		/* no memory to append: wait for it (the loop thread takes
		 * done meanwhile, and refuses new events when full) */
		while (t->done.len && (t->done.err = 0, sbuf_reserve(&t->done, t->out.len) < 0)) {
			pthread_mutex_unlock(&t->mu);
			usleep(10000);
			pthread_mutex_lock(&t->mu);
		}
		was_empty = !t->done.len;
		if (was_empty) {
			swap(&t->done, &t->out);
		} else {
			memcpy(t->done.p + t->done.len, t->out.p, t->out.len);
			t->done.len += t->out.len;
		}
	}
	t->out.len = 0;
	pthread_mutex_unlock(&t->mu);
	if (was_empty) {
		uint64_t one = 1;
		ssize_t w = write(t->set->evfd, &one, sizeof(one));
		(void)w;
	}
}

static void run_jobs(struct filter_thread *t)
{
	struct event *ev = &t->ev;
	t->out.len = 0;
	for (size_t off = 0; off < t->work.len;) {
		struct ft_rec *j = (struct ft_rec *)(t->work.p + off);
		size_t js = rec_size(j->len);
		off += js;
		struct ft_rec r = *j;
		size_t n, i = 0;
		const char *b = (const char *)(j + 1);
		if (j->line)
			event_begin_line(ev, j->name, j->tag, j->ts, b, j->hlen, b + j->hlen, j->mlen, b + j->hlen + j->mlen,
					 j->len - j->hlen - j->mlen);
		else
			event_begin(ev, j->name, j->tag, j->ts, b, j->len);
		/* -EAGAIN cannot come (no filter of a threaded set waits);
		 * should one, the event goes on as it is */
		r.dropped = filter_chain_run(j->ch, ev, &i) == FILTER_DROP;
		r.ts = event_time(ev);
		const char *text = event_json(ev, &n);
		if (r.dropped)
			n = 0;   /* only the decision travels */
		r.len = (uint32_t)n;
		r.line = 0;
		r.hlen = r.mlen = 0;
		size_t rs = rec_size(n);
		/* no memory: wait for it (a result cannot be skipped: order
		 * and positions depend on it; the loop thread refuses new
		 * events meanwhile, once the queue is full) */
		while (sbuf_reserve(&t->out, rs) < 0) {
			t->out.err = 0;
			usleep(10000);
		}
		char *dst = t->out.p + t->out.len;
		memcpy(dst, &r, sizeof(r));
		memcpy(dst + sizeof(r), text, n);
		t->out.len += rs;
		/* results go back as they come, not once per batch: the loop
		 * thread emits them, frees room and reads on meanwhile */
		if (t->out.len >= FT_PUBLISH_BYTES)
			post(t);
	}
	t->work.len = 0;
	post(t);
}

static void *worker(void *arg)
{
	struct filter_thread *t = arg;
	pthread_setname_np(pthread_self(), "filters");
	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->todo.len && !t->stop) {
			t->busy = 0;
			pthread_cond_broadcast(&t->idle);
			/* A timed wait only while a buffer is worth giving back:
			 * an idle agent's filter thread never wakes. */
			if (t->work.cap <= FT_KEEP_BYTES && t->out.cap <= FT_KEEP_BYTES &&
			    t->todo.cap <= FT_KEEP_BYTES && t->done.cap <= FT_KEEP_BYTES) {
				pthread_cond_wait(&t->wake, &t->mu);
				continue;
			}
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += FT_IDLE_MS / 1000;
			if (pthread_cond_timedwait(&t->wake, &t->mu, &ts) == ETIMEDOUT && !t->todo.len) {
				trim(&t->work);
				trim(&t->out);
				trim(&t->todo);
				trim(&t->done);
				malloc_trim(0);
			}
		}
		if (t->stop)
			break;
		swap(&t->todo, &t->work);
		t->busy = 1;
		pthread_mutex_unlock(&t->mu);
		run_jobs(t);
		pthread_mutex_lock(&t->mu);
	}
	t->busy = 0;
	pthread_cond_broadcast(&t->idle);
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static void trim_idle(void *arg)
{
	struct filter_thread *t = arg;
	t->trim_armed = 0;
	if (!t->local.len && !t->away) {
		trim(&t->local);
		trim(&t->mine);
		malloc_trim(0);
	}
}

int filter_thread_start(struct filter_set *s, struct filter_thread **out)
{
	struct filter_thread *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->set = s;
	loop_timer_init(&t->trim_timer, trim_idle, t);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->wake, NULL);
	pthread_cond_init(&t->idle, NULL);
	int rc = pthread_create(&t->thread, NULL, worker, t);
	if (rc) {
		pthread_cond_destroy(&t->idle);
		pthread_cond_destroy(&t->wake);
		pthread_mutex_destroy(&t->mu);
		free(t);
		return -rc;
	}
	*out = t;
	return 0;
}

void filter_thread_stop(struct filter_thread *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	loop_timer_disarm(t->set->p->loop, &t->trim_timer);
	pthread_cond_destroy(&t->idle);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->mu);
	sbuf_free(&t->todo);
	sbuf_free(&t->done);
	sbuf_free(&t->work);
	sbuf_free(&t->out);
	sbuf_free(&t->local);
	sbuf_free(&t->mine);
	event_free(&t->ev);
	free(t);
}

/* --- the loop thread --------------------------------------------------------------- */

int filter_thread_refuse(struct filter_thread *t, struct input *in, int kept)
{
	if ((in->mod->flags & INPUT_CANNOT_WAIT) && !kept) {
		METRIC_ADD(in->dropped, 1);
	} else {
		METRIC_ADD(in->refused, 1);
		in->fq_wait = 1;
		t->waiters = 1;
		input_pause(in);
	}
	filter_thread_publish(t);   /* so that what frees room is under way */
	return -EAGAIN;
}

/* Queues a job of up to three parts (a line's head, line and tail; or a
 * text in the first part alone). */
static int push(struct filter_thread *t, struct input *in, struct filter_chain *ch, int64_t ts, int kept,
		const char *a, size_t an, const char *m, size_t mn, const char *z, size_t zn, int line)
{
	size_t len = an + mn + zn, rs = rec_size(len);
	t->local.err = 0;
	if ((t->away && t->away + rs > FT_QUEUE_BYTES) || len > UINT32_MAX || sbuf_reserve(&t->local, rs) < 0)
		return filter_thread_refuse(t, in, kept);
	struct ft_rec r = { in, ch, in->name, in->tag, ts, ++in->fq_pushed, (uint32_t)len, (uint32_t)rs,
			    (uint32_t)an, (uint32_t)mn, (uint8_t)line, (uint8_t)kept, 0 };
	char *dst = t->local.p + t->local.len;
	memcpy(dst, &r, sizeof(r));
	dst += sizeof(r);
	memcpy(dst, a, an);
	if (mn)
		memcpy(dst + an, m, mn);
	if (zn)
		memcpy(dst + an + mn, z, zn);
	t->local.len += rs;
	t->away += rs;
	if (t->local.len >= FT_PUBLISH_BYTES)
		filter_thread_publish(t);
	return 0;
}

int filter_thread_push(struct filter_thread *t, struct input *in, struct filter_chain *ch, int64_t ts,
		       const char *json, size_t len, int kept)
{
	return push(t, in, ch, ts, kept, json, len, NULL, 0, NULL, 0, 0);
}

int filter_thread_push_line(struct filter_thread *t, struct input *in, struct filter_chain *ch, int64_t ts,
			    const char *head, size_t hlen, const char *msg, size_t mlen, const char *tail, size_t tlen)
{
	return push(t, in, ch, ts, 0, head, hlen, msg, mlen, tail, tlen, 1);
}

void filter_thread_publish(struct filter_thread *t)
{
	if (!t->local.len) {
		if (!t->away && !t->trim_armed && (t->local.cap > FT_KEEP_BYTES || t->mine.cap > FT_KEEP_BYTES)) {
			t->trim_armed = 1;
			loop_timer_arm(t->set->p->loop, &t->trim_timer, FT_IDLE_MS);
		}
		return;
	}
	pthread_mutex_lock(&t->mu);
	t->todo.err = 0;
	if (!t->todo.len) {
		swap(&t->todo, &t->local);
	} else if (sbuf_reserve(&t->todo, t->local.len) == 0) {
		memcpy(t->todo.p + t->todo.len, t->local.p, t->local.len);
		t->todo.len += t->local.len;
	} else {
		/* no memory: local stays, handed over next time */
		pthread_cond_signal(&t->wake);
		pthread_mutex_unlock(&t->mu);
		return;
	}
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
	t->local.len = 0;
}

/* Inputs refused for want of room go on once a quarter of it is free. */
static void wake_waiters(struct filter_thread *t)
{
	struct pipeline *p = t->set->p;
	if (!t->waiters || t->away > FT_QUEUE_BYTES / 4 * 3 || p->blocked)
		return;
	t->waiters = 0;
	for (size_t k = 0; k < p->ninputs; k++) {
		struct input *in = p->inputs[k];
		if (!in->fq_wait)
			continue;
		in->fq_wait = 0;
		if (in->paused)
			input_resume(in);
		else if (in->mod->run)
			input_schedule(in);
	}
}

void filter_thread_drain(struct filter_thread *t)
{
	struct pipeline *p = t->set->p;
	if (t->draining)
		return;    /* pipeline_emit flushed, the ring took it, and resumed us */
	t->draining = 1;
	while (!p->blocked) {
		if (t->moff == t->mine.len) {
			t->mine.len = 0;
			t->moff = 0;
			pthread_mutex_lock(&t->mu);
			swap(&t->done, &t->mine);
			pthread_mutex_unlock(&t->mu);
			if (!t->mine.len)
				break;
		}
		struct ft_rec *r = (struct ft_rec *)(t->mine.p + t->moff);
		struct input *in = r->in;
		if (in && !r->dropped) {
			int rc = pipeline_emit_accepted(p, in, r->ts, (const char *)(r + 1), r->len, r->kept);
			if (rc == -EAGAIN && !((in->mod->flags & INPUT_CANNOT_WAIT) && !r->kept))
				break;   /* the ring is full: it stays first in line */
		}
		t->moff += rec_size(r->len);
		t->away -= r->cost;
		if (in) {
			in->fq_done = r->seq;
			if (in->fq_pos_set && in->fq_pos_seq == r->seq) {
				in->fq_pos_set = 0;
				input_apply_position(in, in->fq_pos, in->fq_pos_len);
			}
		}
	}
	if (t->moff == t->mine.len)
		t->mine.len = t->moff = 0;
	t->draining = 0;
	wake_waiters(t);
}

/* Everything queued handed over and run, the thread idle after. A publish
 * that found no memory to append leaves local; once todo is empty, the
 * next one is a swap, which needs none. */
static void run_all(struct filter_thread *t)
{
	for (;;) {
		filter_thread_publish(t);
		pthread_mutex_lock(&t->mu);
		while (t->todo.len || t->busy)
			pthread_cond_wait(&t->idle, &t->mu);
		pthread_mutex_unlock(&t->mu);
		if (!t->local.len)
			return;
	}
}

void filter_thread_sync(struct filter_thread *t)
{
	run_all(t);
	filter_thread_drain(t);
}

static void forget_in(struct sbuf *b, size_t from, struct input *in)
{
	for (size_t off = from; off < b->len;) {
		struct ft_rec *r = (struct ft_rec *)(b->p + off);
		if (r->in == in)
			r->in = NULL;
		off += rec_size(r->len);
	}
}

void filter_thread_forget(struct filter_thread *t, struct input *in)
{
	run_all(t);
	pthread_mutex_lock(&t->mu);
	forget_in(&t->done, 0, in);
	pthread_mutex_unlock(&t->mu);
	forget_in(&t->mine, t->moff, in);
	in->fq_done = in->fq_pushed;
	in->fq_pos_set = 0;
	in->fq_wait = 0;
}
