/* The group coordinator driven from buffers (no sockets): the error codes
 * clients rely on (INVALID_SESSION_TIMEOUT, UNKNOWN_MEMBER_ID,
 * ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION), a
 * two-member rebalance with a parked JoinGroup run again, and the offsets
 * log: durable across reopen, compacted without losing a live offset or
 * bringing back a deleted one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "tests/unit/testutil.h"

enum { API_COMMIT = 8, API_FETCH = 9, API_JOIN = 11, API_HEARTBEAT = 12, API_SYNC = 14 };

struct fx {
	struct broker b;
	char *dir;
	char data[4200];
};

static void fx_open(struct fx *f)
{
	struct log_config lc;
	broker_log_config(&f->b, &lc);
	lc.report = tu_report;
	assert_int_equal(topics_open(&f->b.topics, f->data, &lc), 0);
	assert_int_equal(groups_open(&f->b), 0);
}

static void fx_close(struct fx *f)
{
	groups_close(&f->b);
	topics_close(&f->b.topics);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->dir = tu_tmpdir();
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	f->b.cfg.data_dir = f->data;
	f->b.cfg.segment_bytes = 4096;
	f->b.cfg.fsync = LOG_FSYNC_NEVER;
	f->b.cfg.fsync_interval_ms = 1000;
	f->b.wake_fd = -1;
	fx_open(f);
	assert_int_equal(topics_create(&f->b.topics, "t", 1, 2, NULL), 0);
	assert_int_equal(topics_create(&f->b.topics, "u", 1, 1, NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fx_close(f);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

/* Runs one request body through groups_handle; the response lands in *resp. */
static int call(struct fx *f, int16_t key, int16_t v, struct kwriter *req, struct kwriter *resp, const char *peer,
		int final, struct kreader *out)
{
	struct kreader r;
	struct req_wait wait;
	memset(&wait, 0, sizeof(wait));
	kr_init(&r, req->buf, req->len);
	kw_reset(resp);
	int res = groups_handle(&f->b, key, v, &r, resp, final, 1000, peer, (struct kstr){ "unit", 4 }, &wait);
	req_wait_free(&wait);
	kr_init(out, resp->buf, resp->len);
	return res;
}

/* JoinGroup v0 (no KIP-394 round trip): member "" or an id. */
static void join_req(struct kwriter *w, const char *member, int32_t session)
{
	kw_reset(w);
	kw_cstring(w, "g");
	kw_i32(w, session);
	kw_cstring(w, member);
	kw_cstring(w, "consumer");
	kw_i32(w, 1);
	kw_cstring(w, "range");
	kw_bytes(w, "meta", 4);
}

struct join_resp { int16_t err; int32_t gen; char leader[128], member[128]; int32_t nmembers; };

static void read_join(struct kreader *r, struct join_resp *j)
{
	j->err = kr_i16(r);
	j->gen = kr_i32(r);
	kr_string(r);
	struct kstr l = kr_string(r), m = kr_string(r);
	snprintf(j->leader, sizeof(j->leader), "%.*s", l.len, l.p);
	snprintf(j->member, sizeof(j->member), "%.*s", m.len, m.p);
	j->nmembers = kr_i32(r);
}

static int16_t heartbeat(struct fx *f, const char *member, int32_t gen)
{
	struct kwriter w, resp;
	struct kreader r;
	kw_init(&w);
	kw_init(&resp);
	kw_cstring(&w, "g");
	kw_i32(&w, gen);
	kw_cstring(&w, member);
	assert_int_equal(call(f, API_HEARTBEAT, 0, &w, &resp, "p", 0, &r), REQ_RESPOND);
	int16_t e = kr_i16(&r);
	kw_free(&w);
	kw_free(&resp);
	return e;
}

/* OffsetCommit v2 of one partition; returns its error code. */
static int16_t commit(struct fx *f, const char *group, int32_t gen, const char *member, const char *topic,
		      int32_t p, int64_t off)
{
	struct kwriter w, resp;
	struct kreader r;
	kw_init(&w);
	kw_init(&resp);
	kw_cstring(&w, group);
	kw_i32(&w, gen);
	kw_cstring(&w, member);
	kw_i64(&w, -1);
	kw_i32(&w, 1);
	kw_cstring(&w, topic);
	kw_i32(&w, 1);
	kw_i32(&w, p);
	kw_i64(&w, off);
	kw_cstring(&w, "m");
	assert_int_equal(call(f, API_COMMIT, 2, &w, &resp, "p", 0, &r), REQ_RESPOND);
	kr_i32(&r);     /* topics */
	kr_string(&r);
	kr_i32(&r);     /* partitions */
	kr_i32(&r);
	int16_t e = kr_i16(&r);
	assert_int_equal(r.err, 0);
	kw_free(&w);
	kw_free(&resp);
	return e;
}

/* OffsetFetch v1 of one partition: the committed offset or -1. */
static int64_t fetch(struct fx *f, const char *group, const char *topic, int32_t p)
{
	struct kwriter w, resp;
	struct kreader r;
	kw_init(&w);
	kw_init(&resp);
	kw_cstring(&w, group);
	kw_i32(&w, 1);
	kw_cstring(&w, topic);
	kw_i32(&w, 1);
	kw_i32(&w, p);
	assert_int_equal(call(f, API_FETCH, 1, &w, &resp, "p", 0, &r), REQ_RESPOND);
	kr_i32(&r);
	kr_string(&r);
	kr_i32(&r);
	kr_i32(&r);
	int64_t off = kr_i64(&r);
	kr_string(&r);
	assert_int_equal(kr_i16(&r), 0);
	assert_int_equal(r.err, 0);
	kw_free(&w);
	kw_free(&resp);
	return off;
}

static void test_errors_and_rebalance(void **state)
{
	struct fx *f = *state;
	struct kwriter w, resp;
	struct kreader r;
	struct join_resp j1, j2;
	kw_init(&w);
	kw_init(&resp);

	join_req(&w, "", 500);
	assert_int_equal(call(f, API_JOIN, 0, &w, &resp, "peer1", 0, &r), REQ_RESPOND);
	read_join(&r, &j1);
	assert_int_equal(j1.err, 26);  /* INVALID_SESSION_TIMEOUT: below 1000 ms */

	join_req(&w, "", 6000);
	assert_int_equal(call(f, API_JOIN, 0, &w, &resp, "peer1", 0, &r), REQ_RESPOND);
	read_join(&r, &j1);
	assert_int_equal(j1.err, 0);   /* alone: the generation completes at once */
	assert_int_equal(j1.gen, 1);
	assert_string_equal(j1.leader, j1.member);
	assert_int_equal(j1.nmembers, 1);

	assert_int_equal(heartbeat(f, j1.member, 1), 0);
	assert_int_equal(heartbeat(f, "nobody", 1), 25);     /* UNKNOWN_MEMBER_ID */
	assert_int_equal(heartbeat(f, j1.member, 7), 22);    /* ILLEGAL_GENERATION */

	/* A second member: its join waits for the first to rejoin. */
	join_req(&w, "", 6000);
	struct kwriter parked;
	kw_init(&parked);
	memcpy(kw_reserve(&parked, w.len), w.buf, w.len);
	assert_int_equal(call(f, API_JOIN, 0, &parked, &resp, "peer2", 0, &r), REQ_WAIT);
	assert_int_equal(heartbeat(f, j1.member, 1), 27);    /* REBALANCE_IN_PROGRESS */
	assert_int_equal(commit(f, "g", -1, "", "t", 0, 5), 25);  /* admin commit into a live group */
	assert_int_equal(call(f, API_JOIN, 0, &parked, &resp, "peer2", 0, &r), REQ_WAIT);  /* re-run: still waits */

	join_req(&w, j1.member, 6000);
	assert_int_equal(call(f, API_JOIN, 0, &w, &resp, "peer1", 0, &r), REQ_RESPOND);
	read_join(&r, &j1);
	assert_int_equal(j1.err, 0);
	assert_int_equal(j1.gen, 2);
	assert_int_equal(j1.nmembers, 2);    /* the leader sees both */
	assert_int_equal(call(f, API_JOIN, 0, &parked, &resp, "peer2", 0, &r), REQ_RESPOND);
	read_join(&r, &j2);
	assert_int_equal(j2.err, 0);
	assert_int_equal(j2.gen, 2);
	assert_string_equal(j2.leader, j1.member);
	assert_string_not_equal(j2.member, j1.member);
	assert_int_equal(j2.nmembers, 0);    /* followers get no member list */

	/* Member commits: the generation counts; unknown topics are refused. */
	assert_int_equal(commit(f, "g", 1, j2.member, "t", 0, 5), 22);
	assert_int_equal(commit(f, "g", 2, j2.member, "t", 0, 5), 0);
	assert_int_equal(commit(f, "g", 2, j2.member, "nosuch", 0, 5), 3);
	assert_int_equal(commit(f, "g", 2, j2.member, "t", 9, 5), 3);
	assert_int_equal(fetch(f, "g", "t", 0), 5);
	assert_int_equal(fetch(f, "g", "t", 1), -1);
	kw_free(&parked);
	kw_free(&w);
	kw_free(&resp);
}

static void test_offsets_compaction(void **state)
{
	struct fx *f = *state;
	const char *groups[] = { "a", "b", "c" };
	int64_t want[3][2];
	groups_set_compact_bytes(&f->b, 64 * 1024);
	for (int i = 0; i < 3000; i++) {
		int g = i % 3, p = (i / 3) % 2;
		want[g][p] = i;
		assert_int_equal(commit(f, groups[g], -1, "", "t", p, i), 0);
	}
	assert_int_equal(commit(f, "a", -1, "", "u", 0, 77), 0);
	topics_delete(&f->b.topics, "u", 1);
	groups_topic_deleted(&f->b, "u");
	char dir[4300];
	snprintf(dir, sizeof(dir), "%s/__consumer_offsets", f->data);
	/* 3000 commits of ~100 bytes: without compaction ~300 KB. */
	fx_close(f);
	struct log_config lc;
	log_config_defaults(&lc);
	lc.report = tu_report;
	struct log *l;
	assert_int_equal(log_open(dir, &lc, &l), 0);
	uint64_t size = log_size_bytes(l);
	int64_t start = log_start_offset(l);
	log_close(l);
	print_message("offsets log after 3000 commits: %llu bytes, start offset %lld\n", (unsigned long long)size,
		      (long long)start);
	assert_true(size < 150 * 1024);
	assert_true(start > 0);
	fx_open(f);
	for (int g = 0; g < 3; g++)
		for (int p = 0; p < 2; p++)
			assert_int_equal(fetch(f, groups[g], "t", p), want[g][p]);
	assert_int_equal(fetch(f, "a", "u", 0), -1);  /* the tombstone held through compaction */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errors_and_rebalance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets_compaction, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
