/* The agent's output thread (agent/output.c) against fake output modules, on
 * a real ring in a temp dir:
 *   - an asynchronous module (one with `poll`) that holds several runs and
 *     gives verdicts out of order (newest first, a few at a time), fails some
 *     records for a while (RETRY) and rejects others for good: every record
 *     ends up OK or dead-lettered with its reason, the window really held
 *     several runs, and at every moment the committed cursor was at or
 *     before the first record without a final verdict (invariant 2: only
 *     past the longest acknowledged prefix, whatever order reports came in);
 *   - the same module stopped with records in flight: whatever it had not
 *     acknowledged is shipped again by the next output on the same cursor,
 *     nothing is lost;
 *   - a synchronous module with retries and rejects: unchanged behaviour
 *     (one run at a time, everything delivered or dead-lettered). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/pipeline_internal.h"
#include "buffer/batch.h"
#include "buffer/log.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "testutil.h"

#define NREC 20000
#define PER_BATCH 500

/* What a fake module saw, per ring offset. */
struct fake {
	struct output *out;
	int async;
	atomic_int stopped;            /* abort was called (from another thread) */
	struct out_record **held;      /* records in flight (async) */
	size_t nheld, cap;
	unsigned char final[NREC];     /* 1: OK or REJECT given */
	unsigned char attempts[NREC];
	size_t ok, rejected, retried, out_of_order;
	_Atomic size_t verdicts;       /* also read by the test's thread */
	size_t max_runs;               /* most runs in flight seen by send */
	size_t violations;             /* commits past a record without its final verdict */
	size_t stall_after;            /* 0, or: no verdict after this many until stopped */
	int64_t last_verdict_off;
};

static struct fake *g_fake;        /* the instance init made (one at a time) */

static int fake_init(struct output *out, const void *conf, void **state)
{
	(void)conf;
	struct fake *f = g_fake;
	f->out = out;
	*state = f;
	return 0;
}

/* Invariant 2, checked at every call: nothing at or past the first offset
 * without a final verdict is ever committed. */
static void check_commit(struct fake *f)
{
	int64_t c = atomic_load(&f->out->committed_offset);
	for (int64_t i = 0; i < c && i < NREC; i++)
		if (!f->final[i]) {
			f->violations++;
			return;
		}
}

/* Which records fail: every 97th fails on its first two tries, every
 * 1009th is refused for good. */
static enum out_status fate(struct fake *f, const struct out_record *r)
{
	int64_t off = r->offset;
	if (off % 1009 == 5)
		return OUT_REJECT;
	if (off % 97 == 3 && f->attempts[off] <= 2)
		return OUT_RETRY;
	return OUT_OK;
}

static void give(struct fake *f, struct out_record *r, enum out_status st)
{
	f->verdicts++;
	if (f->verdicts > 1 && r->offset < f->last_verdict_off)
		f->out_of_order++;
	f->last_verdict_off = r->offset;
	if (st == OUT_REJECT) {
		f->final[r->offset] = 1;
		f->rejected++;
		output_reject(f->out, r, "fake: offset %lld refused", (long long)r->offset);
		return;
	}
	if (st == OUT_OK) {
		f->final[r->offset] = 1;
		f->ok++;
	} else {
		f->retried++;
	}
	output_verdict(f->out, r, st);
}

static int fake_send(void *state, struct out_record *recs, size_t n)
{
	struct fake *f = state;
	check_commit(f);
	if (f->out->nruns > f->max_runs)
		f->max_runs = f->out->nruns;
	for (size_t i = 0; i < n; i++) {
		assert_true(recs[i].offset >= 0 && recs[i].offset < NREC);
		assert_int_equal(recs[i].status, OUT_PENDING);
		char want[64];
		snprintf(want, sizeof(want), "{\"n\":%lld}", (long long)recs[i].offset);
		assert_int_equal(recs[i].value_len, (int32_t)strlen(want));
		assert_memory_equal(recs[i].value, want, strlen(want));
		f->attempts[recs[i].offset]++;
		if (!f->async) {
			enum out_status st = fate(f, &recs[i]);
			give(f, &recs[i], st);
			continue;
		}
		if (atomic_load(&f->stopped)) {
			give(f, &recs[i], OUT_RETRY);
			continue;
		}
		if (f->nheld == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 1024;
			f->held = realloc(f->held, f->cap * sizeof(*f->held));
			assert_non_null(f->held);
		}
		f->held[f->nheld++] = &recs[i];
	}
	return 0;
}

/* A slow destination: nothing comes back before three runs' worth is in
 * flight (unless the agent waits: then it is caught up or full); then
 * verdicts come newest first, at most 700 a call, so that later runs are
 * acknowledged before earlier ones. */
static int fake_poll(void *state, int timeout_ms)
{
	struct fake *f = state;
	check_commit(f);
	if (timeout_ms == 0 && f->nheld < 3 * PER_BATCH && !atomic_load(&f->stopped))
		return 0;
	if (f->stall_after && f->verdicts >= f->stall_after && !atomic_load(&f->stopped)) {
		/* a destination that went quiet: the agent waits in poll */
		struct timespec ts = { 0, (timeout_ms < 5 ? timeout_ms : 5) * 1000000L };
		nanosleep(&ts, NULL);
		return 0;
	}
	size_t k = 0;
	while (f->nheld && k < 700) {
		struct out_record *r = f->held[--f->nheld];
		give(f, r, atomic_load(&f->stopped) ? OUT_RETRY : fate(f, r));
		k++;
	}
	return (int)k;
}

static void fake_abort(void *state)
{
	struct fake *f = state;
	atomic_store(&f->stopped, 1);
}

static void fake_destroy(void *state)
{
	struct fake *f = state;
	free(f->held);
	f->held = NULL;
	f->nheld = f->cap = 0;
}

static const struct output_module fake_async = {
	.type = "fake_async", .init = fake_init, .send = fake_send, .poll = fake_poll,
	.abort = fake_abort, .destroy = fake_destroy,
};
static const struct output_module fake_sync = {
	.type = "fake_sync", .init = fake_init, .send = fake_send, .destroy = fake_destroy,
};

struct env {
	char *dir;
	struct pipeline p;
	struct agent_config cfg;
	struct cfg_ref cref;
	struct agent_output_conf oc;
	char *match[1];
};

static void env_open(struct env *e, const struct output_module *mod)
{
	memset(e, 0, sizeof(*e));
	e->dir = tu_tmpdir();
	char ring[4200];
	snprintf(ring, sizeof(ring), "%s/ring", e->dir);
	struct log_config lc;
	log_config_defaults(&lc);
	lc.fsync = LOG_FSYNC_NEVER;
	lc.report = tu_report;
	assert_int_equal(log_open(ring, &lc, &e->p.ring), 0);
	pthread_mutex_init(&e->p.mu, NULL);
	/* NREC records {"n":offset}, key "src", in batches of PER_BATCH */
	struct batch_builder b;
	batch_builder_init(&b, BATCH_COMPRESSION_NONE);
	for (int i = 0; i < NREC; i++) {
		char v[64];
		int n = snprintf(v, sizeof(v), "{\"n\":%d}", i);
		assert_int_equal(batch_builder_add(&b, 1700000000000LL + i, "src", 3, v, n, NULL, 0), 0);
		if ((i + 1) % PER_BATCH == 0) {
			const uint8_t *bb;
			size_t len;
			int64_t base;
			assert_int_equal(batch_builder_finish(&b, &bb, &len), 0);
			assert_int_equal(log_append(e->p.ring, (uint8_t *)bb, len, &base), 0);
			batch_builder_reset(&b);
		}
	}
	batch_builder_free(&b);
	e->cfg.data_dir = e->dir;
	e->cref.cfg = &e->cfg;
	e->cref.refs = 1;  /* ours: never freed through cfg_ref_put */
	e->match[0] = "*";
	e->oc = (struct agent_output_conf){
		.mod = mod, .name = "fake", .match = { e->match, 1 },
		.retry_initial_ms = 5, .retry_max_ms = 20, .commit_interval_ms = 2,
		/* small runs (a batch or two), several in flight */
		.read_bytes = 16 << 10, .in_flight_bytes = 96 << 10,
	};
}

static void env_close(struct env *e)
{
	log_close(e->p.ring);
	pthread_mutex_destroy(&e->p.mu);
	tu_rmrf(e->dir);
}

/* Runs an output until it has shipped the whole ring (drain), then stops it. */
static struct output *run_output(struct env *e)
{
	struct output *o;
	assert_int_equal(output_create(&e->p, &e->cref, &e->oc, &o), 0);
	assert_int_equal(output_start_thread(o), 0);
	return o;
}

static int64_t cursor_on_disk(struct env *e)
{
	struct log_cursor *c;
	assert_true(log_cursor_open(e->p.ring, "fake", &c) >= 0);
	int64_t off = log_cursor_offset(c);
	log_cursor_close(c);
	return off;
}

static size_t dead_letters(struct env *e)
{
	char path[4300], line[4096];
	snprintf(path, sizeof(path), "%s/deadletter/fake.ndjson", e->dir);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return 0;
	size_t n = 0;
	while (fgets(line, sizeof(line), fp)) {
		assert_non_null(strstr(line, "\"reason\":\"fake: offset "));
		n++;
	}
	fclose(fp);
	return n;
}

static void check_all_final(struct fake *f)
{
	size_t missing = 0;
	for (int i = 0; i < NREC; i++)
		missing += !f->final[i];
	assert_int_equal(missing, 0);
}

static void drain(struct output *o)
{
	output_request_drain(o);
	assert_int_equal(output_wait_exit(o, loop_now_ms() + 60000), 1);
}

static void test_async_out_of_order(void **state)
{
	(void)state;
	struct env e;
	struct fake *f = calloc(1, sizeof(*f));
	f->async = 1;
	g_fake = f;
	env_open(&e, &fake_async);
	struct output *o = run_output(&e);
	drain(o);
	assert_int_equal(o->pending, 0);
	assert_int_equal(o->nruns, 0);
	assert_int_equal(atomic_load(&o->committed_offset), NREC);
	uint64_t out = METRIC_GET(o->events_out), rej = METRIC_GET(o->events_rejected);
	uint64_t retried = METRIC_GET(o->events_retried);
	output_destroy(o);
	check_all_final(f);
	assert_int_equal(f->violations, 0);
	assert_true(f->max_runs >= 3);           /* a window, not stop-and-wait */
	assert_true(f->out_of_order > 0);        /* reports came back out of order */
	assert_true(f->retried > 0);
	assert_int_equal(retried, f->retried);
	assert_int_equal(rej, f->rejected);
	assert_int_equal(out, f->ok);
	assert_int_equal(f->ok + f->rejected, NREC);  /* no record OK'd twice: retries only resend failures */
	assert_int_equal(dead_letters(&e), f->rejected);
	assert_int_equal(cursor_on_disk(&e), NREC);
	env_close(&e);
	free(f);
}

static void test_async_stop_in_flight_loses_nothing(void **state)
{
	(void)state;
	struct env e;
	struct fake *f = calloc(1, sizeof(*f));
	f->async = 1;
	f->stall_after = NREC / 3;
	g_fake = f;
	env_open(&e, &fake_async);
	/* First life: the destination goes quiet after a third; the output is
	 * stopped with records in flight. */
	struct output *o = run_output(&e);
	for (int i = 0; i < 20000 && f->verdicts < NREC / 3; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	output_stop(o);
	assert_int_equal(o->pending, 0);      /* every record got its verdict before the thread ended */
	output_destroy(o);
	assert_int_equal(f->violations, 0);
	int64_t c = cursor_on_disk(&e);
	assert_true(c < NREC);
	for (int64_t i = 0; i < c; i++)
		assert_true(f->final[i]);         /* the cursor covers only final verdicts */
	/* Second life from the cursor: everything not yet final is shipped. */
	struct fake *g = calloc(1, sizeof(*g));
	g->async = 1;
	memcpy(g->final, f->final, sizeof(g->final));
	g_fake = g;
	o = run_output(&e);
	drain(o);
	output_destroy(o);
	assert_int_equal(g->violations, 0);
	check_all_final(g);
	for (int64_t i = 0; i < c; i++)
		assert_int_equal(g->attempts[i], 0);  /* nothing before the cursor again */
	assert_int_equal(cursor_on_disk(&e), NREC);
	env_close(&e);
	free(f);
	free(g);
}

static void test_sync_unchanged(void **state)
{
	(void)state;
	struct env e;
	struct fake *f = calloc(1, sizeof(*f));
	g_fake = f;
	env_open(&e, &fake_sync);
	struct output *o = run_output(&e);
	drain(o);
	assert_int_equal(atomic_load(&o->committed_offset), NREC);
	output_destroy(o);
	check_all_final(f);
	assert_int_equal(f->violations, 0);
	assert_int_equal(f->max_runs, 1);            /* one run at a time */
	assert_true(f->retried > 0);
	assert_int_equal(f->ok + f->rejected, NREC);
	assert_int_equal(dead_letters(&e), f->rejected);
	assert_int_equal(cursor_on_disk(&e), NREC);
	env_close(&e);
	free(f);
}

int main(void)
{
	logging_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_async_out_of_order),
		cmocka_unit_test(test_async_stop_in_flight_loses_nothing),
		cmocka_unit_test(test_sync_unchanged),
	};
	return cmocka_run_group_tests_name("output", tests, NULL, NULL);
}
