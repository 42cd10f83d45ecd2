/* The Elasticsearch _bulk response reader (outputs/elasticsearch/
 * es_response.c, es_json.c): per-item mixed results in the full and the
 * filter_path-pruned forms, error type + reason, the verdict per status
 * (409 with create + ids = already there), and every way a response can be
 * unusable: truncated at each byte, garbled, wrong item counts, a huge item
 * count (stops at n + 1), deep nesting (bounded). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "outputs/elasticsearch/es_json.h"
#include "outputs/elasticsearch/es_response.h"

static const char full[] =
	"{\"took\":30,\"errors\":true,\"items\":["
	"{\"index\":{\"_index\":\"logs\",\"_id\":\"1\",\"_version\":1,\"result\":\"created\","
	"\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":0,\"_primary_term\":1,\"status\":201}},"
	"{\"index\":{\"_index\":\"logs\",\"_id\":\"2\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\","
	"\"reason\":\"failed to parse field [n] of type [long] in document with id '2'. Preview of field's value: 'x'\","
	"\"caused_by\":{\"type\":\"illegal_argument_exception\",\"reason\":\"For input string: \\\"x\\\"\"}}}},"
	"{\"create\":{\"_index\":\"logs\",\"_id\":\"3\",\"status\":429,\"error\":{\"type\":\"es_rejected_execution_exception\","
	"\"reason\":\"rejected execution of coordinating operation\"}}},"
	"{\"create\":{\"_index\":\"logs\",\"_id\":\"4\",\"status\":409,\"error\":{\"type\":\"version_conflict_engine_exception\","
	"\"reason\":\"[4]: version conflict, document already exists (current version [1])\"}}},"
	"{\"index\":{\"_index\":\"logs\",\"_id\":\"5\",\"status\":503,\"error\":{\"type\":\"unavailable_shards_exception\","
	"\"reason\":\"primary shard is not active\"}}},"
	"{\"index\":{\"_index\":\"logs\",\"_id\":\"6\",\"status\":200,\"result\":\"updated\"}}"
	"]}";

static void test_full_mixed(void **state)
{
	(void)state;
	struct es_item it[6];
	assert_int_equal(es_response_parse(full, strlen(full), it, 6), 0);
	int want[6] = { 201, 400, 429, 409, 503, 200 };
	for (int i = 0; i < 6; i++)
		assert_int_equal(it[i].status, want[i]);
	assert_string_equal(it[0].reason, "");
	assert_non_null(strstr(it[1].reason, "mapper_parsing_exception: failed to parse field [n]"));
	assert_null(strstr(it[1].reason, "For input string"));   /* caused_by is skipped */
	assert_string_equal(it[2].reason, "es_rejected_execution_exception: rejected execution of coordinating operation");
	assert_int_equal(es_item_verdict(it[0].status, 0), OUT_OK);
	assert_int_equal(es_item_verdict(it[1].status, 0), OUT_REJECT);
	assert_int_equal(es_item_verdict(it[2].status, 0), OUT_RETRY);
	assert_int_equal(es_item_verdict(it[3].status, 1), OUT_OK);      /* create + our id: already there */
	assert_int_equal(es_item_verdict(it[3].status, 0), OUT_REJECT);  /* a real conflict */
	assert_int_equal(es_item_verdict(it[4].status, 0), OUT_RETRY);
	assert_int_equal(es_item_verdict(it[5].status, 0), OUT_OK);
	assert_int_equal(es_item_verdict(404, 0), OUT_REJECT);
	assert_int_equal(es_item_verdict(302, 0), OUT_RETRY);
}

static void test_filtered_form(void **state)
{
	(void)state;
	static const char s[] = " {\"errors\":false,\"items\":[{\"create\":{\"status\":201}},\n"
				"{\"create\":{\"status\":201}} ] } \n";
	struct es_item it[2];
	assert_int_equal(es_response_parse(s, strlen(s), it, 2), 0);
	assert_int_equal(it[0].status, 201);
	assert_int_equal(it[1].status, 201);
	/* items before other keys, unicode escapes and a long reason cut to fit */
	char big[2048];
	char reason[1200];
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	snprintf(big, sizeof(big), "{\"items\":[{\"index\":{\"status\":400,\"error\":{\"reason\":\"\\u00e9\\ud83d\\ude00 %s\","
		 "\"type\":\"t\"}}}],\"took\":1}", reason);
	assert_int_equal(es_response_parse(big, strlen(big), it, 1), 0);
	assert_int_equal(strlen(it[0].reason), ES_REASON_MAX - 1);
	assert_memory_equal(it[0].reason, "t: \xc3\xa9\xf0\x9f\x98\x80 rrr", 13);
}

static void test_truncated_everywhere(void **state)
{
	(void)state;
	struct es_item it[6];
	size_t n = strlen(full);
	for (size_t cut = 0; cut < n; cut++) {
		char *p = malloc(cut ? cut : 1);   /* exact size: ASan sees any overread */
		memcpy(p, full, cut);
		int rc = es_response_parse(p, cut, it, 6);
		assert_true(rc == -EBADMSG || rc == -ERANGE);
		free(p);
	}
}

static void test_garbled(void **state)
{
	(void)state;
	struct es_item it[2];
	static const char *bad[] = {
		"",
		"<html>502 Bad Gateway</html>",
		"{\"items\":[{\"index\":{\"status\":\"201\"}}]}",          /* status not a number */
		"{\"items\":[{\"index\":{\"_id\":\"1\"}}]}",               /* no status */
		"{\"items\":[{\"index\":{\"status\":201},\"create\":{\"status\":201}}]}",  /* two ops */
		"{\"items\":[{\"index\":{\"status\":201}},]}",             /* trailing comma */
		"{\"items\":[{\"index\":{\"status\":201}}]}garbage",
		"{\"items\":[{\"index\":{\"status\":2.5}}]}",
		"{\"items\":[{\"index\":{\"status\":99999999999999999999999}}]}",
		"{\"items\":[{\"index\":{\"status\":201,\"error\":{\"reason\":\"a\x01\"}}}]}",  /* raw control char */
		"{\"items\":[{\"index\":{\"status\":201,\"x\":\"\\q\"}}]}",    /* bad escape */
		"{\"items\":[{\"index\":{\"status\":201,\"x\":tru}}]}",
		"{\"items\" [{\"index\":{\"status\":201}}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (es_response_parse(bad[i], strlen(bad[i]), it, 1) != -EBADMSG)
			fail_msg("case %zu: %s", i, bad[i]);
}

static void test_counts(void **state)
{
	(void)state;
	struct es_item it[3];
	static const char two[] = "{\"items\":[{\"index\":{\"status\":201}},{\"index\":{\"status\":201}}]}";
	assert_int_equal(es_response_parse(two, strlen(two), it, 3), -ERANGE);   /* fewer */
	assert_int_equal(es_response_parse(two, strlen(two), it, 1), -ERANGE);   /* more */
	static const char none[] = "{\"took\":1,\"errors\":false}";
	assert_int_equal(es_response_parse(none, strlen(none), it, 1), -ERANGE);
	static const char empty[] = "{\"items\":[]}";
	assert_int_equal(es_response_parse(empty, 0 + strlen(empty), it, 0), 0);
}

static void test_huge_item_count_bounded(void **state)
{
	(void)state;
	/* a million items for 10 actions: parsing stops at the 11th */
	const char *one = "{\"index\":{\"status\":201}},";
	size_t ol = strlen(one), n = 1000000;
	char *p = malloc(n * ol + 32);
	size_t len = 0;
	memcpy(p, "{\"items\":[", 10);
	len = 10;
	for (size_t i = 0; i < n; i++, len += ol)
		memcpy(p + len, one, ol);
	memcpy(p + len - 1, "]}", 2);
	len += 1;
	struct es_item it[10];
	assert_int_equal(es_response_parse(p, len, it, 10), -ERANGE);
	free(p);
}

static void test_deep_nesting_bounded(void **state)
{
	(void)state;
	size_t depth = 100000;
	char *p = malloc(2 * depth + 64);
	size_t len = 0;
	len += (size_t)sprintf(p, "{\"x\":");
	for (size_t i = 0; i < depth; i++)
		p[len++] = '[';
	for (size_t i = 0; i < depth; i++)
		p[len++] = ']';
	len += (size_t)sprintf(p + len, ",\"items\":[]}");
	struct es_item it[1];
	assert_int_equal(es_response_parse(p, len, it, 0), -EBADMSG);
	free(p);
	/* within the bound, skipped fine */
	static const char ok[] = "{\"x\":[[[{\"a\":[1,2,{\"b\":null}]}]]],\"items\":[{\"index\":{\"status\":201,"
				 "\"y\":{\"z\":[true,false,-1.5e3,\"s\"]}}}]}";
	assert_int_equal(es_response_parse(ok, strlen(ok), it, 1), 0);
	assert_int_equal(it[0].status, 201);
}

static void test_reader_basics(void **state)
{
	(void)state;
	struct esj j;
	char s[8];
	esj_init(&j, "\"abcdefghij\"", 12);
	assert_int_equal(esj_string(&j, s, sizeof(s)), 0);
	assert_string_equal(s, "abcdefg");          /* cut to fit, NUL-terminated */
	esj_init(&j, "\"\\ud800x\"", 9);            /* lone surrogate */
	assert_int_equal(esj_string(&j, s, sizeof(s)), 0);
	assert_string_equal(s, "\xef\xbf\xbdx");
	int64_t v;
	esj_init(&j, "-42,", 4);
	assert_int_equal(esj_int(&j, &v), 0);
	assert_int_equal(v, -42);
	esj_init(&j, "{}", 2);
	assert_int_equal(esj_skip(&j), 0);
	esj_init(&j, "{", 1);
	assert_int_equal(esj_skip(&j), -1);
	assert_int_equal(esj_expect(&j, '{'), -1);    /* sticky */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_mixed),
		cmocka_unit_test(test_filtered_form),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_garbled),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_huge_item_count_bounded),
		cmocka_unit_test(test_deep_nesting_bounded),
		cmocka_unit_test(test_reader_basics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
