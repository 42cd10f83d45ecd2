/* The native Kafka producer's codec (outputs/kafka/kafka_wire.c): requests
 * as Kafka's message definitions lay them out, answers decoded version by
 * version, and hostile answers (every truncation, absurd counts, null
 * names) refused with -EPROTO without reading past the end or allocating
 * for a count the bytes cannot hold. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "outputs/kafka/kafka_wire.h"

/* Reads a request frame back: size, header; leaves r at the body. */
static void read_header(struct kreader *r, const struct kwriter *w, int16_t api, int16_t ver, int32_t corr)
{
	kr_init(r, w->buf, w->len);
	assert_int_equal(kr_i32(r), (int32_t)w->len - 4);
	assert_int_equal(kr_i16(r), api);
	assert_int_equal(kr_i16(r), ver);
	assert_int_equal(kr_i32(r), corr);
	struct kstr cid = kr_string(r);
	assert_int_equal(cid.len, 7);
	assert_memory_equal(cid.p, "logship", 7);
}

static void test_metadata_request(void **state)
{
	(void)state;
	const char *topics[] = { "logs", "audit" };
	for (int16_t v = 1; v <= 8; v++) {
		struct kwriter w;
		kw_init(&w);
		kw_i8(&w, 42);  /* frames append: what is there stays */
		kwire_metadata_request(&w, v, 7, "logship", topics, 2);
		assert_int_equal(w.err, 0);
		assert_int_equal(w.buf[0], 42);
		struct kwriter body = { w.buf + 1, w.len - 1, w.len - 1, 0 };
		struct kreader r;
		read_header(&r, &body, KAPI_METADATA, v, 7);
		assert_int_equal(kr_i32(&r), 2);
		assert_true(kr_kstr_eq(kr_string(&r), "logs"));
		assert_true(kr_kstr_eq(kr_string(&r), "audit"));
		if (v >= 4)
			assert_int_equal(kr_i8(&r), 1);  /* allow_auto_topic_creation */
		if (v >= 8) {
			assert_int_equal(kr_i8(&r), 0);
			assert_int_equal(kr_i8(&r), 0);
		}
		assert_int_equal(kr_left(&r), 0);
		assert_int_equal(r.err, 0);
		kw_free(&w);
	}
}

/* A Metadata answer of version v: brokers 1 and 2, topic "logs" with
 * partitions 2, 0, 1 (out of order; 1 has no leader), topic "gone" with
 * UNKNOWN_TOPIC_OR_PARTITION. */
static void metadata_answer(struct kwriter *w, int16_t v)
{
	kw_init(w);
	if (v >= 3)
		kw_i32(w, 0);
	kw_i32(w, 2);
	for (int i = 1; i <= 2; i++) {
		kw_i32(w, i);
		kw_cstring(w, i == 1 ? "127.0.0.1" : "broker-2.example");
		kw_i32(w, 9091 + i);
		kw_cstring(w, NULL);
	}
	if (v >= 2)
		kw_cstring(w, "cluster");
	kw_i32(w, 1);
	kw_i32(w, 2);
	kw_i16(w, 0);
	kw_cstring(w, "logs");
	kw_i8(w, 0);
	kw_i32(w, 3);
	const int32_t ids[] = { 2, 0, 1 }, leaders[] = { 2, 1, -1 };
	for (int i = 0; i < 3; i++) {
		kw_i16(w, leaders[i] < 0 ? KERR_LEADER_NOT_AVAILABLE : 0);
		kw_i32(w, ids[i]);
		kw_i32(w, leaders[i]);
		if (v >= 7)
			kw_i32(w, 5);
		kw_i32(w, 2), kw_i32(w, 1), kw_i32(w, 2);   /* replicas */
		kw_i32(w, 1), kw_i32(w, 1);                 /* isr */
		if (v >= 5)
			kw_i32(w, 0);
	}
	if (v >= 8)
		kw_i32(w, -2147483648);
	kw_i16(w, KERR_UNKNOWN_TOPIC_OR_PARTITION);
	kw_cstring(w, "gone");
	kw_i8(w, 0);
	kw_i32(w, 0);
	if (v >= 8)
		kw_i32(w, -2147483648);
	if (v >= 8)
		kw_i32(w, -2147483648);
}

static void test_metadata_decode(void **state)
{
	(void)state;
	for (int16_t v = 1; v <= 8; v++) {
		struct kwriter w;
		metadata_answer(&w, v);
		struct kwire_metadata m;
		assert_int_equal(kwire_metadata_decode(w.buf, w.len, v, &m), 0);
		assert_int_equal(m.nbrokers, 2);
		assert_int_equal(m.brokers[1].id, 2);
		assert_string_equal(m.brokers[1].host, "broker-2.example");
		assert_int_equal(m.brokers[1].port, 9093);
		assert_int_equal(m.ntopics, 2);
		assert_string_equal(m.topics[0].name, "logs");
		assert_int_equal(m.topics[0].npart, 3);
		assert_int_equal(m.topics[0].parts[0].id, 2);
		assert_int_equal(m.topics[0].parts[0].leader, 2);
		assert_int_equal(m.topics[0].parts[2].leader, -1);
		assert_int_equal(m.topics[0].parts[2].error, KERR_LEADER_NOT_AVAILABLE);
		assert_int_equal(m.topics[1].error, KERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_int_equal(m.topics[1].npart, 0);
		kwire_metadata_free(&m);
		/* Every truncation is refused, none is read past. */
		for (size_t cut = 0; cut < w.len; cut++) {
			uint8_t *b = malloc(cut ? cut : 1);
			memcpy(b, w.buf, cut);
			assert_int_equal(kwire_metadata_decode(b, cut, v, &m), -EPROTO);
			free(b);
		}
		kw_free(&w);
	}
}

static void test_metadata_hostile(void **state)
{
	(void)state;
	struct kwriter w;
	struct kwire_metadata m;
	/* 2^31-1 brokers in 8 bytes: refused before any allocation. */
	kw_init(&w);
	kw_i32(&w, 0x7fffffff);
	kw_i32(&w, 0);
	assert_int_equal(kwire_metadata_decode(w.buf, w.len, 1, &m), -EPROTO);
	/* A null host name. */
	kw_reset(&w);
	kw_i32(&w, 1);
	kw_i32(&w, 1);
	kw_cstring(&w, NULL);
	kw_i32(&w, 9092);
	kw_cstring(&w, NULL);
	kw_i32(&w, 1);
	kw_i32(&w, 0);
	assert_int_equal(kwire_metadata_decode(w.buf, w.len, 1, &m), -EPROTO);
	/* A topic claiming a million partitions with nothing after it. */
	kw_reset(&w);
	kw_i32(&w, 0);
	kw_i32(&w, 1);
	kw_i32(&w, 1);
	kw_i16(&w, 0);
	kw_cstring(&w, "logs");
	kw_i8(&w, 0);
	kw_i32(&w, 1000000);
	assert_int_equal(kwire_metadata_decode(w.buf, w.len, 1, &m), -EPROTO);
	kw_free(&w);
}

static void test_produce_request(void **state)
{
	(void)state;
	const uint8_t batch[] = { 1, 2, 3, 4, 5 };
	struct kwriter w;
	kw_init(&w);
	size_t start = kwire_produce_begin(&w, 7, 99, "logship", -1, 30000, 2);
	kwire_produce_topic(&w, "logs", 2);
	kwire_produce_partition(&w, 0, batch, sizeof(batch));
	kwire_produce_partition(&w, 3, batch, 2);
	kwire_produce_topic(&w, "audit", 1);
	kwire_produce_partition(&w, 1, batch, 1);
	kwire_end(&w, start);
	assert_int_equal(start, 0);
	struct kreader r;
	read_header(&r, &w, KAPI_PRODUCE, 7, 99);
	assert_int_equal(kr_string(&r).len, -1);  /* transactional_id */
	assert_int_equal(kr_i16(&r), -1);
	assert_int_equal(kr_i32(&r), 30000);
	assert_int_equal(kr_i32(&r), 2);
	assert_true(kr_kstr_eq(kr_string(&r), "logs"));
	assert_int_equal(kr_i32(&r), 2);
	assert_int_equal(kr_i32(&r), 0);
	struct kstr b = kr_bytes(&r);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.p, batch, 5);
	assert_int_equal(kr_i32(&r), 3);
	assert_int_equal(kr_bytes(&r).len, 2);
	assert_true(kr_kstr_eq(kr_string(&r), "audit"));
	assert_int_equal(kr_i32(&r), 1);
	assert_int_equal(kr_i32(&r), 1);
	assert_int_equal(kr_bytes(&r).len, 1);
	assert_int_equal(kr_left(&r), 0);
	assert_int_equal(r.err, 0);
	kw_free(&w);
}

struct results { int n; struct kwire_produce_result r[8]; char topics[8][16]; };

static void collect(void *arg, const struct kwire_produce_result *res)
{
	struct results *x = arg;
	if (x->n >= 8)
		return;
	x->r[x->n] = *res;
	snprintf(x->topics[x->n], sizeof(x->topics[0]), "%.*s", res->topic.len, res->topic.p);
	x->n++;
}

static void produce_answer(struct kwriter *w, int16_t v)
{
	kw_init(w);
	kw_i32(w, 2);
	kw_cstring(w, "logs");
	kw_i32(w, 2);
	kw_i32(w, 0), kw_i16(w, 0), kw_i64(w, 1000);
	if (v >= 2)
		kw_i64(w, -1);
	if (v >= 5)
		kw_i64(w, 0);
	kw_i32(w, 3), kw_i16(w, KERR_NOT_LEADER_OR_FOLLOWER), kw_i64(w, -1);
	if (v >= 2)
		kw_i64(w, -1);
	if (v >= 5)
		kw_i64(w, 0);
	kw_cstring(w, "audit");
	kw_i32(w, 1);
	kw_i32(w, 1), kw_i16(w, KERR_MESSAGE_TOO_LARGE), kw_i64(w, -1);
	if (v >= 2)
		kw_i64(w, -1);
	if (v >= 5)
		kw_i64(w, 0);
	kw_i32(w, 0);  /* throttle_time_ms */
}

static void test_produce_decode(void **state)
{
	(void)state;
	for (int16_t v = 3; v <= 7; v++) {
		struct kwriter w;
		produce_answer(&w, v);
		struct results x = { 0 };
		assert_int_equal(kwire_produce_decode(w.buf, w.len, v, collect, &x), 0);
		assert_int_equal(x.n, 3);
		assert_string_equal(x.topics[0], "logs");
		assert_int_equal(x.r[0].partition, 0);
		assert_int_equal(x.r[0].error, 0);
		assert_int_equal(x.r[0].base_offset, 1000);
		assert_int_equal(x.r[1].partition, 3);
		assert_int_equal(x.r[1].error, KERR_NOT_LEADER_OR_FOLLOWER);
		assert_string_equal(x.topics[2], "audit");
		assert_int_equal(x.r[2].error, KERR_MESSAGE_TOO_LARGE);
		for (size_t cut = 0; cut < w.len; cut++) {
			struct results y = { 0 };
			uint8_t *b = malloc(cut ? cut : 1);
			memcpy(b, w.buf, cut);
			assert_int_equal(kwire_produce_decode(b, cut, v, collect, &y), -EPROTO);
			assert_true(y.n <= 3);
			free(b);
		}
		kw_free(&w);
	}
}

static void test_api_versions(void **state)
{
	(void)state;
	struct kwriter w;
	kw_init(&w);
	kwire_api_versions_request(&w, 1, "logship");
	struct kreader r;
	read_header(&r, &w, KAPI_API_VERSIONS, 0, 1);
	assert_int_equal(kr_left(&r), 0);
	kw_reset(&w);
	kw_i16(&w, 0);
	kw_i32(&w, 3);
	kw_i16(&w, KAPI_PRODUCE), kw_i16(&w, 3), kw_i16(&w, 12);
	kw_i16(&w, KAPI_FETCH), kw_i16(&w, 4), kw_i16(&w, 17);
	kw_i16(&w, KAPI_METADATA), kw_i16(&w, 0), kw_i16(&w, 12);
	struct kwire_versions v;
	assert_int_equal(kwire_api_versions_decode(w.buf, w.len, &v), 0);
	assert_int_equal(v.error, 0);
	assert_int_equal(v.produce_min, 3);
	assert_int_equal(v.produce_max, 12);
	assert_int_equal(v.metadata_max, 12);
	assert_int_equal(kwire_api_versions_decode(w.buf, w.len - 1, &v), -EPROTO);
	kw_free(&w);
}

static void test_frames_and_errors(void **state)
{
	(void)state;
	const uint8_t small[] = { 0, 0, 0 }, ok[] = { 0, 0, 1, 0 }, neg[] = { 0xff, 0xff, 0xff, 0xfe },
		      huge[] = { 0x7f, 0, 0, 0 }, tiny[] = { 0, 0, 0, 3 };
	assert_int_equal(kwire_frame_size(small, 3), -1);
	assert_int_equal(kwire_frame_size(ok, 4), 256);
	assert_int_equal(kwire_frame_size(neg, 4), -EPROTO);
	assert_int_equal(kwire_frame_size(huge, 4), -EPROTO);
	assert_int_equal(kwire_frame_size(tiny, 4), -EPROTO);  /* no room for a correlation id */
	char buf[32];
	assert_string_equal(kwire_error_name(KERR_NOT_LEADER_OR_FOLLOWER, buf, sizeof(buf)), "NOT_LEADER_OR_FOLLOWER");
	assert_string_equal(kwire_error_name(12345, buf, sizeof(buf)), "error 12345");
	assert_false(kwire_error_permanent(KERR_NOT_LEADER_OR_FOLLOWER));
	assert_true(kwire_error_stale(KERR_NOT_LEADER_OR_FOLLOWER));
	assert_true(kwire_error_permanent(KERR_MESSAGE_TOO_LARGE));
	assert_true(kwire_error_permanent(KERR_TOPIC_AUTHORIZATION_FAILED));
	assert_false(kwire_error_permanent(KERR_REQUEST_TIMED_OUT));
	assert_false(kwire_error_permanent(12345));  /* unknown: retried */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metadata_request), cmocka_unit_test(test_metadata_decode),
		cmocka_unit_test(test_metadata_hostile), cmocka_unit_test(test_produce_request),
		cmocka_unit_test(test_produce_decode),   cmocka_unit_test(test_api_versions),
		cmocka_unit_test(test_frames_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
