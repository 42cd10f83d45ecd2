/* The Elasticsearch _bulk body builder (outputs/elasticsearch/es_bulk.c):
 * action lines with escaped index names, strftime index patterns on the
 * event time in UTC, ${field} indices, ids from a field and deterministic
 * dedupe ids (stable for the same ring record, different for anything
 * else), and the event bytes passed through verbatim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "outputs/elasticsearch/es_bulk.h"

#define TS_2026_11_24 1795563667123LL   /* 2026-11-24T23:41:07.123Z */

static struct out_record rec(int64_t off, int64_t ts, const char *key, const char *value)
{
	return (struct out_record){ .offset = off, .timestamp = ts, .key = key, .key_len = (int32_t)strlen(key),
				    .value = value, .value_len = (int32_t)strlen(value) };
}

static const char *build(const struct es_bulk_conf *c, const struct out_record *r, struct sbuf *out, int *with_id)
{
	struct es_bulk b;
	es_bulk_init(&b, c);
	sbuf_reset(out);
	int w = es_bulk_add(&b, r, out);
	if (with_id)
		*with_id = w;
	es_bulk_free(&b);
	return sbuf_cstr(out);
}

static void test_plain_index(void **state)
{
	(void)state;
	struct es_bulk_conf c = { .index = "logs" };
	struct sbuf out = { 0 };
	struct out_record r = rec(7, TS_2026_11_24, "app", "{\"message\":\"hi\"}");
	int w;
	assert_string_equal(build(&c, &r, &out, &w), "{\"index\":{\"_index\":\"logs\"}}\n{\"message\":\"hi\"}\n");
	assert_int_equal(w, 0);
	c.op_create = 1;
	assert_string_equal(build(&c, &r, &out, &w), "{\"create\":{\"_index\":\"logs\"}}\n{\"message\":\"hi\"}\n");
	sbuf_free(&out);
}

static void test_date_pattern_utc(void **state)
{
	(void)state;
	struct es_bulk_conf c = { .index = "logs-%Y.%m.%d" };
	struct es_bulk b;
	es_bulk_init(&b, &c);
	struct sbuf out = { 0 };
	struct out_record r = rec(0, TS_2026_11_24, "k", "{}");
	es_bulk_index(&b, &r, &out);
	assert_string_equal(sbuf_cstr(&out), "logs-2026.11.24");
	/* one hour later it is the next day in UTC, whatever the local zone */
	r.timestamp += 3600 * 1000;
	sbuf_reset(&out);
	es_bulk_index(&b, &r, &out);
	assert_string_equal(sbuf_cstr(&out), "logs-2026.11.25");
	/* epoch, and before it */
	r.timestamp = 0;
	sbuf_reset(&out);
	es_bulk_index(&b, &r, &out);
	assert_string_equal(sbuf_cstr(&out), "logs-1970.01.01");
	r.timestamp = -1;
	sbuf_reset(&out);
	es_bulk_index(&b, &r, &out);
	assert_string_equal(sbuf_cstr(&out), "logs-1969.12.31");
	es_bulk_free(&b);
	sbuf_free(&out);
}

static void test_field_index_and_escaping(void **state)
{
	(void)state;
	struct es_bulk_conf c = { .index = "k8s-${kubernetes.namespace}-%Y", .missing = "none" };
	struct sbuf out = { 0 };
	struct out_record r = rec(0, TS_2026_11_24, "k", "{\"kubernetes\":{\"namespace\":\"we\\\"ird\"}}");
	build(&c, &r, &out, NULL);
	assert_non_null(strstr(sbuf_cstr(&out), "{\"index\":{\"_index\":\"k8s-we\\\"ird-2026\"}}\n"));
	struct out_record r2 = rec(0, TS_2026_11_24, "k", "{\"message\":\"x\"}");
	build(&c, &r2, &out, NULL);
	assert_non_null(strstr(sbuf_cstr(&out), "\"_index\":\"k8s-none-2026\""));
	/* a % in a field value is not a strftime conversion */
	struct out_record r3 = rec(0, TS_2026_11_24, "k", "{\"kubernetes\":{\"namespace\":\"a%Yb\"}}");
	build(&c, &r3, &out, NULL);
	assert_non_null(strstr(sbuf_cstr(&out), "\"_index\":\"k8s-a%Yb-2026\""));
	sbuf_free(&out);
}

static void test_id_field(void **state)
{
	(void)state;
	struct es_bulk_conf c = { .index = "logs", .op_create = 1, .id_field = "event.id" };
	struct sbuf out = { 0 };
	int w;
	struct out_record r = rec(0, 0, "k", "{\"event\":{\"id\":\"a\\\"b\\n\"}}");
	build(&c, &r, &out, &w);
	assert_int_equal(w, 1);
	assert_non_null(strstr(sbuf_cstr(&out), "{\"create\":{\"_index\":\"logs\",\"_id\":\"a\\\"b\\n\"}}\n"));
	struct out_record r2 = rec(0, 0, "k", "{\"event\":{\"sequence\":3}}");
	build(&c, &r2, &out, &w);
	assert_int_equal(w, 0);              /* absent: Elasticsearch makes one */
	assert_null(strstr(sbuf_cstr(&out), "_id"));
	sbuf_free(&out);
}

static void test_dedupe_ids(void **state)
{
	(void)state;
	char a[ES_ID_LEN + 1], b[ES_ID_LEN + 1];
	struct out_record r = rec(42, 5, "app", "{\"message\":\"same\"}");
	es_bulk_dedupe_id(&r, a);
	assert_int_equal(strlen(a), ES_ID_LEN);
	for (int i = 0; i < ES_ID_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
	/* the same ring record sent again (replay after a crash): the same id */
	struct out_record again = rec(42, 5, "app", "{\"message\":\"same\"}");
	es_bulk_dedupe_id(&again, b);
	assert_string_equal(a, b);
	/* the same bytes at another ring offset: another document */
	struct out_record other = rec(43, 5, "app", "{\"message\":\"same\"}");
	es_bulk_dedupe_id(&other, b);
	assert_string_not_equal(a, b);
	/* another source, other bytes: another id */
	struct out_record src = rec(42, 5, "ap", "{\"message\":\"same\"}");
	es_bulk_dedupe_id(&src, b);
	assert_string_not_equal(a, b);
	struct out_record val = rec(42, 5, "app", "{\"message\":\"samE\"}");
	es_bulk_dedupe_id(&val, b);
	assert_string_not_equal(a, b);
	/* with log.offset the ring offset does not matter (a file re-read) */
	struct out_record f1 = rec(10, 5, "tail", "{\"log\":{\"offset\":100,\"file\":{\"path\":\"/x\"}}}");
	struct out_record f2 = rec(99, 5, "tail", "{\"log\":{\"offset\":100,\"file\":{\"path\":\"/x\"}}}");
	es_bulk_dedupe_id(&f1, a);
	es_bulk_dedupe_id(&f2, b);
	assert_string_equal(a, b);
	/* in the body */
	struct es_bulk_conf c = { .index = "logs", .op_create = 1, .dedupe = 1 };
	struct sbuf out = { 0 };
	int w;
	build(&c, &r, &out, &w);
	es_bulk_dedupe_id(&r, a);
	char want[128];
	snprintf(want, sizeof(want), "{\"create\":{\"_index\":\"logs\",\"_id\":\"%s\"}}\n", a);
	assert_int_equal(w, 1);
	assert_memory_equal(sbuf_cstr(&out), want, strlen(want));
	sbuf_free(&out);
}

static void test_many_records(void **state)
{
	(void)state;
	struct es_bulk_conf c = { .index = "logs-%Y" };
	struct es_bulk b;
	es_bulk_init(&b, &c);
	struct sbuf out = { 0 };
	char v[64];
	for (int i = 0; i < 1000; i++) {
		snprintf(v, sizeof(v), "{\"event\":{\"sequence\":%d}}", i);
		struct out_record r = rec(i, TS_2026_11_24 + i, "g", v);
		es_bulk_add(&b, &r, &out);
	}
	size_t lines = 0;
	for (size_t i = 0; i < out.len; i++)
		lines += out.p[i] == '\n';
	assert_int_equal(lines, 2000);
	assert_int_equal(out.p[out.len - 1], '\n');
	assert_non_null(strstr(sbuf_cstr(&out), "{\"event\":{\"sequence\":999}}\n"));
	es_bulk_free(&b);
	sbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_index),
		cmocka_unit_test(test_date_pattern_utc),
		cmocka_unit_test(test_field_index_and_escaping),
		cmocka_unit_test(test_id_field),
		cmocka_unit_test(test_dedupe_ids),
		cmocka_unit_test(test_many_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
