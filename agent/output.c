/* Output instances: one thread each, reading the ring from the output's
 * durable cursor and handing the records its `match` selects to the module's
 * send (agent/module.h has the contract). A synchronous module gets one run
 * at a time; an asynchronous one (kafka) keeps a window of runs in flight,
 * bounded by in_flight_bytes and OUTPUT_MAX_RUNS, so that reading and
 * decoding the next run overlaps with the destination's acknowledgement of
 * the previous ones. Verdicts may come back in any order; the cursor is
 * committed only past the longest prefix of runs whose every record was
 * acknowledged or rejected for good (invariant 2), rejects dead-lettered
 * first (invariant 4), at most every commit_interval, when the output
 * catches up, and when it stops. Failed records are sent again after a
 * capped exponential backoff with jitter (common/backoff.c), once nothing
 * else is in flight, before any new run; a dead destination therefore
 * holds the ring, which is how backpressure reaches the inputs. Idle:
 * blocked in log_wait. */
#include "agent/pipeline_internal.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/backoff.h"
#include "common/logging.h"
#include "common/metrics.h"

const char *output_name(const struct output *o)
{
	return o->name;
}

void output_error(struct output *o, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&o->mu);
	o->error_in_send = 1;
	int same = strcmp(o->last_error, msg) == 0;
	snprintf(o->last_error, sizeof(o->last_error), "%s", msg);
	o->last_error_ms = wall_ms();
	pthread_mutex_unlock(&o->mu);
	/* The same error again and again (a dead destination) is logged once
	 * per change, not once per retry; the count is in /metrics. */
	if (!same)
		LOG_WARN(o->name, "%s", msg);
	else
		LOG_DEBUG(o->name, "%s", msg);
}

/* Writes the rejected records of a send to the dead-letter log. A record
 * that cannot be written there is turned into a retry: it may not be lost. */
static size_t dead_letters(struct output *o, struct out_record *recs, size_t n)
{
	size_t written = 0;
	for (size_t i = 0; i < n; i++) {
		if (recs[i].status != OUT_REJECT) {
			free(recs[i].reason);  /* rejected, then changed to a retry */
			recs[i].reason = NULL;
			continue;
		}
		int rc = deadletter_write(&o->dl, o->name, &recs[i], recs[i].reason);
		if (rc < 0) {
			output_error(o, "cannot write to the dead-letter log %s: %s (the record is retried)",
				     o->dl.path, strerror(-rc));
			recs[i].status = OUT_RETRY;
		} else {
			written++;
			LOG_DEBUG(o->name, "ring offset %" PRId64 " dead-lettered: %s", recs[i].offset,
				  recs[i].reason ? recs[i].reason : "no reason given");
		}
		free(recs[i].reason);
		recs[i].reason = NULL;
	}
	return written;
}

/* --- match: which records this output takes ----------------------------------------- */

struct match_cache {
	uint64_t gen;
	int all;                       /* match has "*": everything */
	struct { char key[120]; int len; int yes; } e[32];
	int n;
	/* The last verdict, by a copy of its key: a pointer into the read
	 * buffer would compare a later read's bytes with themselves. */
	int last;                      /* e[last] holds it; -1 none */
};

static int match_compute(struct output *o, const char *key, int32_t len)
{
	char name[256];
	if (len < 0)
		len = 0;
	if ((size_t)len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, key, (size_t)len);
	name[len] = '\0';
	const char *tag = NULL;
	pthread_mutex_lock(&o->p->mu);
	pipeline_input_tag_locked(o->p, name, (size_t)len, &tag);
	int yes = agent_output_matches(o->conf, name, tag);
	pthread_mutex_unlock(&o->p->mu);
	return yes;
}

static int match_record(struct output *o, struct match_cache *mc, const char *key, int32_t len)
{
	if (mc->all)
		return 1;
	uint64_t gen = atomic_load(&o->p->inputs_gen);
	if (gen != mc->gen) {
		mc->gen = gen;
		mc->n = 0;
		mc->last = -1;
	}
	size_t n = (size_t)(len > 0 ? len : 0);
	if (mc->last >= 0 && mc->e[mc->last].len == len && memcmp(mc->e[mc->last].key, key, n) == 0)
		return mc->e[mc->last].yes;
	for (int i = 0; i < mc->n; i++)
		if (mc->e[i].len == len && memcmp(mc->e[i].key, key, n) == 0) {
			mc->last = i;
			return mc->e[i].yes;
		}
	int yes = match_compute(o, key, len);
	mc->last = -1;
	if (len >= 0 && (size_t)len < sizeof(mc->e[0].key)) {
		int i = mc->n < 32 ? mc->n++ : 0;
		memcpy(mc->e[i].key, key, n);
		mc->e[i].len = len;
		mc->e[i].yes = yes;
		mc->last = i;
	}
	return yes;
}

/* --- runs in flight ----------------------------------------------------------- */

/* One run: records read from the ring in one go and handed to send
 * together. Its records point into its own read buffer (or a compressed
 * batch's decompressed records), which it keeps until it is retired, so that
 * an asynchronous module may hold them while they are in flight. */
struct out_run {
	struct log_buf buf;            /* the ring bytes its records point into */
	struct batch_iter it;          /* a compressed batch's records (it.owned), else empty */
	struct out_record *recs;       /* after a round: the records left to retry */
	size_t n, cap;
	size_t pending;                /* handed to send, no verdict yet */
	size_t bytes;                  /* ring bytes, counted in o->in_flight_bytes */
	int64_t start, end;            /* ring offsets [start, end) */
	int round_open;                /* sent; its verdicts are not all counted yet */
	int round_rc;                  /* what send returned */
	int retry;                     /* recs[0..n) wait for o->retry_at */
};

static struct out_run *run_at(struct output *o, size_t i)
{
	return &o->runs[(o->run_head + i) % o->max_runs];
}

/* Read buffers and record arrays go round: a retired run's are kept for
 * the next run read (the circle of slots is larger than the window usually
 * needs, and each slot keeping its own would hold up to 64 of them). */
#define OUT_SPARE 8
struct out_mem {
	struct log_buf buf;
	struct out_record *recs;
	size_t cap;
};

static void mem_put(struct output *o, struct out_run *run)
{
	if (!run->buf.data && !run->recs)
		return;
	if (o->nspare < OUT_SPARE) {
		o->spare[o->nspare++] = (struct out_mem){ run->buf, run->recs, run->cap };
	} else {
		log_buf_free(&run->buf);
		free(run->recs);
	}
	memset(&run->buf, 0, sizeof(run->buf));
	run->recs = NULL;
	run->cap = 0;
}

static void mem_get(struct output *o, struct out_run *run)
{
	if (run->buf.data || run->recs || !o->nspare)
		return;
	struct out_mem *m = &o->spare[--o->nspare];
	run->buf = m->buf;
	run->recs = m->recs;
	run->cap = m->cap;
}

/* The run in flight that holds ring offset off. Reports mostly come for
 * the oldest runs, so the search starts there. */
static struct out_run *run_of(struct output *o, int64_t off)
{
	for (size_t i = 0; i < o->nruns; i++) {
		struct out_run *r = run_at(o, i);
		if (off >= r->start && off < r->end)
			return r;
	}
	return NULL;
}

static void bad_verdict(struct output *o, const struct out_record *r, const char *why)
{
	if (o->bad_verdicts++ == 0)
		LOG_ERROR(o->name, "module %s gave a verdict for ring offset %" PRId64 " %s (ignored; a bug)",
			  o->mod->type, r->offset, why);
}

/* Counts one verdict of an asynchronous module; the run is looked at once
 * all its verdicts are in (settle), outside the module's callbacks. */
static int take_verdict(struct output *o, struct out_record *r)
{
	if (r->status != OUT_PENDING) {
		bad_verdict(o, r, "that already had one");
		return -1;
	}
	struct out_run *run = run_of(o, r->offset);
	if (!run || !run->pending || r < run->recs || r >= run->recs + run->n) {
		bad_verdict(o, r, "that is not in flight");
		return -1;
	}
	run->pending--;
	o->pending--;
	return 0;
}

void output_verdict(struct output *o, struct out_record *r, enum out_status st)
{
	if (st != OUT_OK && st != OUT_RETRY && st != OUT_REJECT) {
		bad_verdict(o, r, "with an invalid status");
		st = OUT_RETRY;
	}
	if (o->mod->poll && take_verdict(o, r) < 0)
		return;
	r->status = st;
}

void output_reject(struct output *o, struct out_record *r, const char *fmt, ...)
{
	if (o->mod->poll && take_verdict(o, r) < 0)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(r->reason);
	r->reason = strdup(msg);  /* NULL on ENOMEM: the dead letter says "no reason" */
	r->status = OUT_REJECT;
}

/* Every verdict of run's round is in: count them, dead-letter the rejects,
 * keep the retries at the front for the next round. */
static void round_done(struct output *o, struct out_run *run, struct backoff *bo)
{
	struct out_record *recs = run->recs;
	size_t n = run->n;
	run->round_open = 0;
	size_t dead = dead_letters(o, recs, n);
	size_t ok = 0, rej = 0, retry = 0;
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		switch (recs[i].status) {
		case OUT_OK:
			ok++;
			bytes += (uint64_t)(recs[i].value_len > 0 ? recs[i].value_len : 0);
			break;
		case OUT_REJECT: rej++; break;
		default: recs[retry++] = recs[i]; break;  /* keep the retries in front */
		}
	}
	METRIC_ADD(o->events_out, ok);
	METRIC_ADD(o->bytes_out, bytes);
	if (rej) {
		METRIC_ADD(o->events_rejected, rej);
		LOG_WARN(o->name, "%zu event(s) rejected for good by the destination: %zu written to %s",
			 rej, dead, o->dl.path);
	}
	run->n = retry;
	if (!retry) {
		if (!o->retry_runs)
			backoff_reset(bo);
		return;
	}
	METRIC_ADD(o->send_failures, 1);
	METRIC_ADD(o->events_retried, retry);
	if (run->round_rc < 0 && !o->error_in_send)
		output_error(o, "send failed: %s", strerror(-run->round_rc));
	run->retry = 1;
	o->retry_runs++;
	if (!o->retry_at) {
		int64_t d = backoff_next(bo);
		o->retry_at = loop_now_ms() + d;
		LOG_DEBUG(o->name, "retrying failed events in %" PRId64 "ms", d);
	}
}

/* Counts the rounds whose verdicts are all in. */
static void settle(struct output *o, struct backoff *bo)
{
	for (size_t i = 0; i < o->nruns; i++) {
		struct out_run *run = run_at(o, i);
		if (run->round_open && !run->pending)
			round_done(o, run, bo);
	}
}

/* Hands recs[0..n) of run to the module: one round. */
static void send_round(struct output *o, struct out_run *run, struct backoff *bo)
{
	size_t n = run->n;
	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		run->recs[i].status = OUT_PENDING;
		run->recs[i].reason = NULL;
	}
	run->pending = n;
	o->pending += n;
	run->round_open = 1;
	o->error_in_send = 0;
	int rc = o->mod->send(o->state, run->recs, n);
	METRIC_ADD(o->sends, 1);
	run->round_rc = rc;
	if (!o->mod->poll || rc < 0) {
		/* Synchronous: every record has its verdict now, the ones left
		 * pending take the return value. Asynchronous and failed: the
		 * module kept none of those it left pending. */
		for (size_t i = 0; i < n; i++)
			if (run->recs[i].status == OUT_PENDING) {
				run->recs[i].status = rc < 0 ? OUT_RETRY : OUT_OK;
				if (o->mod->poll) {
					run->pending--;
					o->pending--;
				}
			}
		if (!o->mod->poll) {
			o->pending -= run->pending;
			run->pending = 0;
		}
	}
	settle(o, bo);
}

/* Waits up to timeout_ms for verdicts of an asynchronous module. */
static void poll_module(struct output *o, int timeout_ms, struct backoff *bo)
{
	if (!o->mod->poll || !o->pending)
		return;
	o->mod->poll(o->state, timeout_ms);
	settle(o, bo);
}

/* Sends the retries of every run that has some, oldest first: one round each. */
static void resend(struct output *o, struct backoff *bo)
{
	o->retry_at = 0;
	for (size_t i = 0; i < o->nruns; i++) {
		struct out_run *run = run_at(o, i);
		if (!run->retry)
			continue;
		run->retry = 0;
		o->retry_runs--;
		send_round(o, run, bo);
	}
}

/* Retires the oldest runs whose records are all OK or REJECT: the cursor
 * may move to the end of the last one (invariant 2, in ring order whatever
 * order the verdicts came in). */
static void retire(struct output *o)
{
	while (o->nruns) {
		struct out_run *run = run_at(o, 0);
		if (run->pending || run->round_open || run->retry)
			break;
		o->acked = run->end;
		o->in_flight_bytes -= run->bytes;
		batch_iter_free(&run->it);
		memset(&run->it, 0, sizeof(run->it));
		run->n = 0;
		mem_put(o, run);
		o->run_head = (o->run_head + 1) % o->max_runs;
		o->nruns--;
	}
	if (!o->nruns)
		o->acked = o->read_off;  /* past anything skipped (drop_oldest) too */
	atomic_store(&o->acked_offset, o->acked);
}

/* Gives the runs' buffers back (at rest, or at the end). */
static void runs_release(struct output *o)
{
	for (size_t i = 0; i < o->max_runs; i++) {
		log_buf_free(&o->runs[i].buf);
		free(o->runs[i].recs);
		o->runs[i].recs = NULL;
		o->runs[i].cap = 0;
	}
	while (o->nspare) {
		struct out_mem *m = &o->spare[--o->nspare];
		log_buf_free(&m->buf);
		free(m->recs);
	}
}

static int run_push(struct out_run *run, const struct batch_record *r)
{
	if (run->n == run->cap) {
		size_t nc = run->cap ? run->cap * 2 : 4096;
		struct out_record *v = realloc(run->recs, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		run->recs = v;
		run->cap = nc;
	}
	run->recs[run->n++] = (struct out_record){
		.offset = r->offset, .timestamp = r->timestamp,
		.key = (const char *)r->key, .key_len = r->key_len,
		.value = (const char *)r->value, .value_len = r->value_len,
	};
	return 0;
}

/* Decodes run->buf (n bytes read at run->start, next = the offset after
 * them) into run->recs: the records this output's match selects. A
 * compressed batch ends the run (the run keeps its decompressed records).
 * Sets run->end; 0, or -ENOMEM with nothing decoded. */
static int run_decode(struct output *o, struct match_cache *mc, struct out_run *run, int64_t next)
{
	const uint8_t *b = run->buf.data, *end = run->buf.data + run->buf.len;
	run->n = 0;
	run->end = next;
	while (b < end) {
		long sz = batch_size(b, (size_t)(end - b));
		if (sz <= 0)
			break;
		memset(&run->it, 0, sizeof(run->it));
		if (batch_iter_init(&run->it, b, (size_t)sz) == 0) {
			struct batch_record r;
			while (batch_iter_next(&run->it, &r) == 1) {
				if (r.offset < run->start)
					continue;
				if (!match_record(o, mc, (const char *)r.key, r.key_len))
					continue;
				if (run_push(run, &r) < 0) {
					/* End the run before this record; it is read
					 * again next time. */
					run->end = r.offset;
					if (!run->it.owned || run->n == 0) {
						batch_iter_free(&run->it);
						memset(&run->it, 0, sizeof(run->it));
					}
					return run->end > run->start ? 0 : -ENOMEM;
				}
			}
		}
		if (run->it.owned) {
			run->end = batch_last_offset(b) + 1;
			if (!run->n) {
				batch_iter_free(&run->it);
				memset(&run->it, 0, sizeof(run->it));
			}
			break;
		}
		b += sz;
	}
	return 0;
}

/* --- the thread ---------------------------------------------------------------- */

/* Hands free heap memory back to the kernel once an output has rested.
 * Under load malloc keeps freed buffers for reuse (agent/main.c raises the
 * trim threshold, so that ring reads and librdkafka's requests do not fault
 * in fresh pages each time); once an output has shipped and committed
 * everything and nothing new came for 5 s, what the burst left behind is
 * released (with the output's own read buffers), so that an idle agent's
 * RSS goes back down. Not sooner: trimming at every catch-up costs more than
 * the page faults it was meant to avoid (measured: +20% CPU at 450k
 * events/s). At most once a second across all outputs. */
static void release_memory(void)
{
	static _Atomic int64_t last;
	int64_t now = loop_now_ms(), prev = atomic_load(&last);
	if (now - prev < 1000 || !atomic_compare_exchange_strong(&last, &prev, now))
		return;
	malloc_trim(0);
}

/* Sleeps up to ms unless stopped; returns 0, or -ECANCELED when stopping. */
static int pause_ms(struct output *o, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&o->mu);
	while (!atomic_load(&o->stop) &&
	       pthread_cond_timedwait(&o->cond, &o->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&o->mu);
	return atomic_load(&o->stop) ? -ECANCELED : 0;
}

static int commit(struct output *o, int64_t offset)
{
	if (offset == atomic_load(&o->committed_offset))
		return 0;
	int dl = deadletter_sync(&o->dl);
	if (dl < 0) {
		output_error(o, "cannot make the dead-letter log durable before committing: %s", strerror(-dl));
		return dl;
	}
	if (o->mod->sync) {
		int rc = o->mod->sync(o->state);
		if (rc < 0) {
			output_error(o, "cannot make written events durable before committing: %s",
				     strerror(-rc));
			return rc;
		}
	}
	int rc = log_cursor_commit(o->cursor, offset);
	if (rc < 0) {
		output_error(o, "cannot commit its cursor at %" PRId64 ": %s", offset, strerror(-rc));
		return rc;
	}
	atomic_store(&o->committed_offset, offset);
	METRIC_ADD(o->commits, 1);
	return 0;
}

/* Waits up to timeout_ms for verdicts of records in flight. */
static void wait_verdicts(struct output *o, int timeout_ms, struct backoff *bo)
{
	if (o->pending) {
		poll_module(o, timeout_ms, bo);
		return;
	}
	/* Runs wait with nothing in flight: cannot happen (they retire or
	 * retry); never spin on it. */
	pause_ms(o, timeout_ms);
}

static void *output_main(void *arg)
{
	struct output *o = arg;
	char tname[16];
	snprintf(tname, sizeof(tname), "out:%s", o->name);
	pthread_setname_np(pthread_self(), tname);  /* top -H, /proc/PID/task */
	struct log *ring = o->p->ring;
	const struct agent_output_conf *oc = o->conf;
	int async = o->mod->poll != NULL;
	struct match_cache mc = { .gen = UINT64_MAX, .last = -1 };
	for (size_t i = 0; i < oc->match.n; i++)
		if (strcmp(oc->match.v[i], "*") == 0)
			mc.all = 1;
	struct backoff bo;
	backoff_init(&bo, oc->retry_initial_ms, oc->retry_max_ms);
	/* An asynchronous output reads smaller runs, so that several fit in
	 * its window and one is being sent while others wait for reports. */
	size_t window = oc->in_flight_bytes ? oc->in_flight_bytes : 8u << 20;
	size_t read_bytes = oc->read_bytes;
	if (async && read_bytes > window / 4)
		read_bytes = window / 4 > 4096 ? window / 4 : 4096;
	o->read_off = o->acked = log_cursor_offset(o->cursor);
	int trimmed = 0;               /* release_memory done since the last read */
	/* The first catch-up after a start commits at once: a restart loop of
	 * short runs must still move the cursor (bounded re-shipping). */
	int64_t last_commit = loop_now_ms() - oc->commit_interval_ms;
	atomic_store(&o->acked_offset, o->acked);
	while (!atomic_load(&o->stop)) {
		poll_module(o, 0, &bo);
		retire(o);
		if (o->acked != atomic_load(&o->committed_offset) &&
		    loop_now_ms() - last_commit >= oc->commit_interval_ms) {
			commit(o, o->acked);
			last_commit = loop_now_ms();  /* a failure is retried an interval later */
		}
		if (o->retry_runs) {
			/* Retries go first, once nothing is in flight: a failure
			 * reorders no more than the failed records. */
			if (o->pending) {
				wait_verdicts(o, 100, &bo);
				continue;
			}
			int64_t wait = o->retry_at - loop_now_ms();
			if (wait > 0) {
				if (pause_ms(o, wait) < 0)
					break;
				continue;
			}
			resend(o, &bo);
			continue;
		}
		if (o->nruns && (o->nruns == o->max_runs || o->in_flight_bytes + read_bytes > window)) {
			wait_verdicts(o, 100, &bo);  /* the window is full */
			continue;
		}
		struct out_run *run = run_at(o, o->nruns);
		mem_get(o, run);
		int64_t next;
		ssize_t n = log_read(ring, o->read_off, read_bytes, &run->buf, &next);
		if (n == -ERANGE) {
			int64_t s = log_start_offset(ring), e = log_end_offset(ring);
			if (o->read_off < s) {
				output_error(o, "events %" PRId64 "..%" PRId64 " were dropped from the ring "
					     "before this output shipped them (buffer.when_full: drop_oldest)",
					     o->read_off, s - 1);
				METRIC_ADD(o->events_skipped, (uint64_t)(s - o->read_off));
				o->read_off = s;
			} else {
				o->read_off = e;
			}
			continue;
		}
		if (n < 0) {
			output_error(o, "cannot read the ring at %" PRId64 ": %s", o->read_off, strerror((int)-n));
			if (pause_ms(o, backoff_next(&bo)) < 0)
				break;
			continue;
		}
		if (n == 0 && o->nruns) {
			/* Caught up with runs in flight: wait for their reports,
			 * briefly, so that new events are not kept waiting. */
			wait_verdicts(o, 5, &bo);
			continue;
		}
		if (n == 0) {
			/* Caught up: make the position durable (at most every
			 * commit_interval, so a trickle of events does not cost
			 * three fsyncs each), then sleep until something is
			 * appended or drain/stop wakes us: no timer when idle. */
			if (o->acked != atomic_load(&o->committed_offset)) {
				int64_t wait = last_commit + oc->commit_interval_ms - loop_now_ms();
				if (wait > 0 && !atomic_load(&o->drain)) {
					log_wait(ring, o->read_off, (int)wait);
					continue;
				}
				commit(o, o->acked);
				last_commit = loop_now_ms();  /* a failure is retried an interval later */
			}
			if (atomic_load(&o->drain))
				break;
			int rest = o->acked == atomic_load(&o->committed_offset);
			if (rest && !trimmed) {
				/* At rest for 5 s (one wake-up, not a timer):
				 * give back what the last burst left. */
				if (log_wait(ring, o->read_off, 5000) == 0 && !atomic_load(&o->stop)) {
					runs_release(o);
					release_memory();
					trimmed = 1;
				}
				continue;
			}
			log_wait(ring, o->read_off, rest ? -1 : (int)oc->commit_interval_ms);
			continue;
		}
		trimmed = 0;
		run->start = o->read_off;
		if (run_decode(o, &mc, run, next) < 0) {
			output_error(o, "cannot decode the ring at %" PRId64 ": %s", o->read_off, strerror(ENOMEM));
			if (pause_ms(o, backoff_next(&bo)) < 0)
				break;
			continue;
		}
		run->bytes = (size_t)n;
		run->pending = 0;
		run->round_open = run->retry = 0;
		o->in_flight_bytes += run->bytes;
		o->nruns++;
		o->read_off = run->end;
		send_round(o, run, &bo);
	}
	/* No record may stay with the module past this thread: an asynchronous
	 * one gives every verdict now (after abort, promptly: RETRY). */
	while (o->pending)
		poll_module(o, 100, &bo);
	retire(o);
	commit(o, o->acked);
	for (size_t i = 0; i < o->max_runs; i++)
		batch_iter_free(&o->runs[i].it);
	runs_release(o);
	atomic_store(&o->exited, 1);
	return NULL;
}

/* --- lifecycle (main thread) --------------------------------------------------------- */

int output_create(struct pipeline *p, struct cfg_ref *cref, const struct agent_output_conf *oc,
		  struct output **out)
{
	struct output *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->p = p;
	o->conf = oc;
	o->mod = oc->mod;
	o->name = oc->name;
	pthread_mutex_init(&o->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cond, &ca);
	pthread_condattr_destroy(&ca);
	int rc = log_cursor_open(p->ring, o->name, &o->cursor);
	if (rc < 0) {
		LOG_ERROR(o->name, "cannot open its cursor in the ring: %s", strerror(-rc));
		goto fail;
	}
	atomic_store(&o->committed_offset, log_cursor_offset(o->cursor));
	atomic_store(&o->acked_offset, log_cursor_offset(o->cursor));
	o->max_runs = o->mod->poll ? OUTPUT_MAX_RUNS : 1;
	o->runs = calloc(o->max_runs, sizeof(*o->runs));
	o->spare = calloc(OUT_SPARE, sizeof(*o->spare));
	if (!o->runs || !o->spare) {
		free(o->runs);
		free(o->spare);
		rc = -ENOMEM;
		log_cursor_close(o->cursor);
		goto fail;
	}
	rc = o->mod->init(o, oc->conf, &o->state);
	if (rc < 0) {
		LOG_ERROR(o->name, "cannot create output (%s): %s", o->mod->type, strerror(-rc));
		log_cursor_close(o->cursor);
		free(o->runs);
		free(o->spare);
		goto fail;
	}
	o->cref = cref;
	cref->refs++;
	deadletter_init(&o->dl, cref->cfg->data_dir, o->name);
	*out = o;
	return 0;
fail:
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->mu);
	free(o);
	return rc;
}

int output_start_thread(struct output *o)
{
	int rc = pthread_create(&o->thread, NULL, output_main, o);
	if (rc) {
		LOG_ERROR(o->name, "cannot start its thread: %s", strerror(rc));
		return -rc;
	}
	o->thread_started = 1;
	LOG_INFO(o->name, "output started (%s) at ring offset %" PRId64, o->mod->type,
		 log_cursor_offset(o->cursor));
	return 0;
}

void output_request_drain(struct output *o)
{
	atomic_store(&o->drain, 1);
	log_wakeup(o->p->ring);
}

/* 1 once the thread has exited, 0 at the deadline. Wakes the ring's waiters
 * on every round, which also closes the window between the thread's check of
 * drain and its log_wait. */
int output_wait_exit(struct output *o, int64_t deadline_ms)
{
	while (o->thread_started && !atomic_load(&o->exited)) {
		if (loop_now_ms() >= deadline_ms)
			return 0;
		log_wakeup(o->p->ring);
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return 1;
}

void output_stop(struct output *o)
{
	if (!o->thread_started)
		return;
	atomic_store(&o->stop, 1);
	pthread_mutex_lock(&o->mu);
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->mu);
	if (o->mod->abort && !atomic_load(&o->exited))
		o->mod->abort(o->state);
	while (!atomic_load(&o->exited)) {
		log_wakeup(o->p->ring);
		struct timespec ts = { 0, 5 * 1000000 };
		nanosleep(&ts, NULL);
	}
	pthread_join(o->thread, NULL);
	o->thread_started = 0;
}

void output_destroy(struct output *o)
{
	if (!o)
		return;
	output_stop(o);
	if (o->mod->destroy)
		o->mod->destroy(o->state);
	log_cursor_close(o->cursor);
	deadletter_close(&o->dl);
	free(o->runs);
	free(o->spare);
	cfg_ref_put(o->cref);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->mu);
	free(o);
}
