/* Output instances: one thread each, reading the ring from the output's
 * durable cursor and handing the records its `match` selects to the module's
 * send (agent/module.h has the contract). The cursor is committed only past
 * runs whose every record was acknowledged or rejected for good (invariant
 * 2), at most every commit_interval, when the output catches up, and when it
 * stops. Failed records are sent again after a capped exponential backoff
 * with jitter (common/backoff.c); a dead destination therefore holds the ring,
 * which is how backpressure reaches the inputs. Idle: blocked in log_wait. */
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

void output_reject(struct output *o, struct out_record *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(r->reason);
	r->reason = strdup(msg);  /* NULL on ENOMEM: the dead letter says "no reason" */
	r->status = OUT_REJECT;
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

/* --- the thread ---------------------------------------------------------------- */

/* Hands free heap memory back to the kernel once an output has rested.
 * Under load malloc keeps freed buffers for reuse (agent/main.c raises the
 * trim threshold, so that ring reads and librdkafka's requests do not fault
 * in fresh pages each time); once an output has shipped and committed
 * everything and nothing new came for 5 s, what the burst left behind is
 * released, so that an idle agent's RSS goes back down. Not sooner: trimming
 * at every catch-up costs more than the page faults it was meant to avoid
 * (measured: +20% CPU at 450k events/s). At most once a second across all
 * outputs. */
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

/* Sends recs[0..n) until every record is OK or REJECT. 0, or -ECANCELED when
 * told to stop first (nothing of this run may then be committed). */
static int ship(struct output *o, struct out_record *recs, size_t n, struct backoff *bo)
{
	while (n > 0) {
		for (size_t i = 0; i < n; i++) {
			recs[i].status = OUT_PENDING;
			recs[i].reason = NULL;
		}
		o->error_in_send = 0;
		int rc = o->mod->send(o->state, recs, n);
		METRIC_ADD(o->sends, 1);
		for (size_t i = 0; i < n; i++)
			if (recs[i].status == OUT_PENDING)
				recs[i].status = rc < 0 ? OUT_RETRY : OUT_OK;
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
		if (!retry) {
			backoff_reset(bo);
			return 0;
		}
		METRIC_ADD(o->send_failures, 1);
		METRIC_ADD(o->events_retried, retry);
		if (rc < 0 && !o->error_in_send)
			output_error(o, "send failed: %s", strerror(-rc));
		n = retry;
		int64_t d = backoff_next(bo);
		LOG_DEBUG(o->name, "retrying %zu event(s) in %" PRId64 "ms", n, d);
		if (pause_ms(o, d) < 0)
			return -ECANCELED;
	}
	return 0;
}

static void *output_main(void *arg)
{
	struct output *o = arg;
	char tname[16];
	snprintf(tname, sizeof(tname), "out:%s", o->name);
	pthread_setname_np(pthread_self(), tname);  /* top -H, /proc/PID/task */
	struct log *ring = o->p->ring;
	const struct agent_output_conf *oc = o->conf;
	struct match_cache mc = { .gen = UINT64_MAX, .last = -1 };
	for (size_t i = 0; i < oc->match.n; i++)
		if (strcmp(oc->match.v[i], "*") == 0)
			mc.all = 1;
	struct backoff bo;
	backoff_init(&bo, oc->retry_initial_ms, oc->retry_max_ms);
	struct log_buf buf = { 0 };
	struct out_record *recs = NULL;
	size_t cap = 0;
	int64_t off = log_cursor_offset(o->cursor);
	int trimmed = 0;               /* release_memory done since the last read */
	/* The first catch-up after a start commits at once: a restart loop of
	 * short runs must still move the cursor (bounded re-shipping). */
	int64_t last_commit = loop_now_ms() - oc->commit_interval_ms;
	atomic_store(&o->acked_offset, off);
	while (!atomic_load(&o->stop)) {
		int64_t next;
		ssize_t n = log_read(ring, off, oc->read_bytes, &buf, &next);
		if (n == -ERANGE) {
			int64_t s = log_start_offset(ring), e = log_end_offset(ring);
			if (off < s) {
				output_error(o, "events %" PRId64 "..%" PRId64 " were dropped from the ring "
					     "before this output shipped them (buffer.when_full: drop_oldest)",
					     off, s - 1);
				METRIC_ADD(o->events_skipped, (uint64_t)(s - off));
				off = s;
			} else {
				off = e;
			}
			continue;
		}
		if (n < 0) {
			output_error(o, "cannot read the ring at %" PRId64 ": %s", off, strerror((int)-n));
			if (pause_ms(o, backoff_next(&bo)) < 0)
				break;
			continue;
		}
		if (n == 0) {
			/* Caught up: make the position durable (at most every
			 * commit_interval, so a trickle of events does not cost
			 * three fsyncs each), then sleep until something is
			 * appended or drain/stop wakes us: no timer when idle. */
			if (off != atomic_load(&o->committed_offset)) {
				int64_t wait = last_commit + oc->commit_interval_ms - loop_now_ms();
				if (wait > 0 && !atomic_load(&o->drain)) {
					log_wait(ring, off, (int)wait);
					continue;
				}
				commit(o, off);
				last_commit = loop_now_ms();  /* a failure is retried an interval later */
			}
			if (atomic_load(&o->drain))
				break;
			int rest = off == atomic_load(&o->committed_offset);
			if (rest && !trimmed) {
				/* At rest for 5 s (one wake-up, not a timer):
				 * give back what the last burst left. */
				if (log_wait(ring, off, 5000) == 0 && !atomic_load(&o->stop)) {
					release_memory();
					trimmed = 1;
				}
				continue;
			}
			log_wait(ring, off, rest ? -1 : (int)oc->commit_interval_ms);
			continue;
		}
		trimmed = 0;
		size_t nrec = 0;
		const uint8_t *b = buf.data, *end = buf.data + buf.len;
		while (b < end) {
			long sz = batch_size(b, (size_t)(end - b));
			if (sz <= 0)
				break;
			struct batch_iter it;
			memset(&it, 0, sizeof(it));
			if (batch_iter_init(&it, b, (size_t)sz) == 0) {
				struct batch_record r;
				while (batch_iter_next(&it, &r) == 1) {
					if (r.offset < off)
						continue;
					if (!match_record(o, &mc, (const char *)r.key, r.key_len))
						continue;
					if (nrec == cap) {
						size_t nc = cap ? cap * 2 : 4096;
						struct out_record *v = realloc(recs, nc * sizeof(*v));
						if (!v)
							break;
						recs = v;
						cap = nc;
					}
					recs[nrec++] = (struct out_record){
						.offset = r.offset, .timestamp = r.timestamp,
						.key = (const char *)r.key, .key_len = r.key_len,
						.value = (const char *)r.value, .value_len = r.value_len,
					};
				}
			}
			/* A compressed batch owns its decompressed buffer: send
			 * before freeing it. The agent writes uncompressed
			 * batches, so this is one iteration per read. */
			if (it.owned && nrec) {
				if (ship(o, recs, nrec, &bo) < 0) {
					batch_iter_free(&it);
					goto stopped;
				}
				nrec = 0;
			}
			batch_iter_free(&it);
			b += sz;
		}
		if (nrec && ship(o, recs, nrec, &bo) < 0)
			goto stopped;
		off = next;
		atomic_store(&o->acked_offset, off);
		if (loop_now_ms() - last_commit >= oc->commit_interval_ms) {
			commit(o, off);
			last_commit = loop_now_ms();
		}
	}
stopped:
	commit(o, off);
	log_buf_free(&buf);
	free(recs);
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
	rc = o->mod->init(o, oc->conf, &o->state);
	if (rc < 0) {
		LOG_ERROR(o->name, "cannot create output (%s): %s", o->mod->type, strerror(-rc));
		log_cursor_close(o->cursor);
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
	cfg_ref_put(o->cref);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->mu);
	free(o);
}
