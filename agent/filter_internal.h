/* Private to the filter files: agent/filter.c (instances, chains, the loop
 * thread's way of running them) and agent/filter_thread.c (the filter
 * thread's way). */
#ifndef LOGSHIP_AGENT_FILTER_INTERNAL_H
#define LOGSHIP_AGENT_FILTER_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "agent/event.h"
#include "agent/filter.h"
#include "agent/module.h"
#include "common/sbuf.h"

struct filter_ctr {
	char name[64];
	_Atomic uint64_t v;
};

struct filter {
	struct filter_set *set;
	struct cfg_ref *cref;                 /* keeps conf alive */
	const struct agent_filter_conf *conf;
	const struct filter_module *mod;
	void *state;
	const char *name;
	_Atomic int ready;                    /* filter_ready() since the loop looked */
	_Atomic uint64_t events_in, dropped, waits, errors;
	pthread_mutex_t cmu;                  /* counter registration */
	_Atomic size_t nctr;
	struct filter_ctr ctr[FILTER_COUNTERS_MAX];
};

struct filter_chain {
	struct filter_set *set;
	struct filter **f;
	size_t n;
	struct filter *waiting;               /* the input waits on it */
	/* the held event: as offered (orig), and as far as `at` got */
	int held;
	size_t at;
	int64_t orig_ts, held_ts;
	struct sbuf orig, text, tmp;
};

struct filter_set {
	struct pipeline *p;
	int evfd;
	struct filter **f;                    /* every instance, config order */
	size_t n;
	struct filter_chain **chains;         /* owned here; inputs point at them */
	size_t nchains;
	struct event ev;                      /* the loop thread's */
	/* the filter thread (agent/filter_thread.c): NULL when the chains run
	 * on the loop thread; threaded: the current chains run there */
	struct filter_thread *ft;
	int threaded;
};

/* Runs ch's filters from *i on, counting each decision: FILTER_KEEP,
 * FILTER_DROP, or -EAGAIN with *i at the filter that waits. */
int filter_chain_run(struct filter_chain *ch, struct event *ev, size_t *i);

/* --- the filter thread (agent/filter_thread.c) -----------------------------------
 *
 * When no filter of the set can make an input wait (FILTER_MAY_WAIT), the
 * chains run on a thread of their own: the loop thread copies each event
 * into a queue and goes on reading, the filter thread runs the chain and
 * queues the result, and the loop thread hands the results, in the order
 * they were offered, to the batcher (pipeline_emit). So a chain's CPU is
 * spent beside the loop, not in it.
 *
 * Invariants. An event in the queues was accepted (input_emit returned 0)
 * but is not in the ring: an input position set after it waits in the
 * input (in->fq_pos) until the result of the last event before it reached
 * the batcher, so a checkpoint never covers an event the ring lacks (a
 * crash loses queued events, and the inputs read them again). Per input,
 * results reach the batcher in offer order. The queues hold at most
 * FT_QUEUE_BYTES of events: beyond it input_emit refuses (-EAGAIN, the
 * input pauses) as with a full ring. Filter instances and chains change
 * only after filter_thread_sync (no job left that points at them). */
struct filter_thread;
int filter_thread_start(struct filter_set *s, struct filter_thread **out);
/* Stops the thread once the batch at hand is done (jobs still queued and
 * results are dropped: their inputs read them again), joins it, frees it. */
void filter_thread_stop(struct filter_thread *t);
/* Queues an event of in for ch: 0, or -EAGAIN (full: refused, counted,
 * the input paused unless it cannot wait). */
int filter_thread_push(struct filter_thread *t, struct input *in, struct filter_chain *ch, int64_t ts,
		       const char *json, size_t len, int kept);
/* The same for a line event (input_emit_line): its three parts travel as
 * they are, the line not escaped (event_begin_line). */
int filter_thread_push_line(struct filter_thread *t, struct input *in, struct filter_chain *ch, int64_t ts,
			    const char *head, size_t hlen, const char *msg, size_t mlen, const char *tail, size_t tlen);
/* Refuses an event of in (-EAGAIN) until the thread gave room or in's
 * queued events back: counted, and the input paused unless it cannot wait
 * (then a drop). */
int filter_thread_refuse(struct filter_thread *t, struct input *in, int kept);
/* Hands the events queued by the loop thread to the filter thread. */
void filter_thread_publish(struct filter_thread *t);
/* Hands over, waits until the filter thread has nothing left, and emits
 * every result the ring takes. */
void filter_thread_sync(struct filter_thread *t);
/* Emits the results that came back, in order, until the ring refuses. */
void filter_thread_drain(struct filter_thread *t);
/* in is going away: its results are dropped (not emitted). */
void filter_thread_forget(struct filter_thread *t, struct input *in);

#endif
