/* The kafka output's producer against librdkafka's built-in mock cluster (an
 * independent implementation of the broker side of the Kafka protocol, shipped
 * in Debian's librdkafka): every record gets exactly one report, OK records
 * really are in the partition log, transient broker errors are retried by the
 * client, permanent ones are reported as rejections with a reason, a dead
 * broker gives RETRY within the message timeout, never a hang, and an abort
 * gives every record in flight its RETRY promptly. Several runs are produced
 * before their reports are served, as the agent's output window does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outputs/kafka/kafka_client.h"

#define KAFKA_API_PRODUCE 0  /* the Produce API key (librdkafka keeps its enum private) */

/* What the reports said, per record (indexed by the opaque). */
struct verdicts {
	size_t n, reports, twice;
	int *status;                   /* -1: no report yet */
	char (*reason)[200];
	int64_t *offset;
};

struct fixture {
	rd_kafka_t *mock_owner;
	rd_kafka_mock_cluster_t *mc;
	struct kafka_client *kc;
	struct verdicts v;
};

static void on_report(void *arg, const struct kafka_report *r)
{
	struct verdicts *v = arg;
	size_t i = (size_t)(uintptr_t)r->opaque;
	assert_true(i < v->n);
	if (v->status[i] != -1)
		v->twice++;
	v->status[i] = (int)r->status;
	snprintf(v->reason[i], sizeof(v->reason[i]), "%s", r->reason);
	v->offset[i] = r->offset;
	v->reports++;
}

static void verdicts_reset(struct verdicts *v, size_t n)
{
	free(v->status);
	free(v->reason);
	free(v->offset);
	v->status = NULL;
	v->reason = NULL;
	v->offset = NULL;
	v->n = n;
	if (!n)
		return;
	v->reports = v->twice = 0;
	v->status = malloc(n * sizeof(*v->status));
	v->reason = calloc(n, sizeof(*v->reason));
	v->offset = calloc(n, sizeof(*v->offset));
	for (size_t i = 0; i < n; i++)
		v->status[i] = -1;
}

static int setup(void **state)
{
	char err[512];
	struct fixture *f = calloc(1, sizeof(*f));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
	f->mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(f->mock_owner);
	f->mc = rd_kafka_mock_cluster_new(f->mock_owner, 1);
	assert_non_null(f->mc);
	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "logs", 2, 1), 0);
	static const char *const props[] = { "log_level=0", "retry.backoff.ms=10" };
	struct kafka_client_config cfg = {
		.brokers = rd_kafka_mock_cluster_bootstraps(f->mc),
		.compression = "none", .acks = "all", .message_timeout_ms = 3000, .linger_ms = 1,
		.props = props, .nprops = 2,
		.report = on_report, .report_arg = &f->v,
	};
	assert_int_equal(kafka_client_new(&cfg, &f->kc, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	kafka_client_free(f->kc);
	verdicts_reset(&f->v, 0);
	rd_kafka_mock_cluster_destroy(f->mc);
	rd_kafka_destroy(f->mock_owner);
	free(f);
	return 0;
}

static struct kafka_msg *make_msgs(size_t n, char (*vals)[64])
{
	struct kafka_msg *m = calloc(n, sizeof(*m));
	static const struct kafka_header hdr = { "logship.input", "gen", 3 };
	for (size_t i = 0; i < n; i++) {
		snprintf(vals[i], 64, "{\"event\":{\"sequence\":%zu}}", i + 1);
		m[i].topic = "logs";
		m[i].key = "src";
		m[i].key_len = 3;
		m[i].value = vals[i];
		m[i].value_len = strlen(vals[i]);
		m[i].headers = &hdr;
		m[i].header_count = 1;
		m[i].opaque = (void *)(uintptr_t)i;
	}
	return m;
}

/* Total records in both partitions, from the mock's watermarks. */
static int64_t stored(struct fixture *f)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(f->mc), NULL, 0);
	rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
	rd_kafka_t *q = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(q);
	int64_t total = 0;
	for (int p = 0; p < 2; p++) {
		int64_t lo, hi;
		assert_int_equal(rd_kafka_query_watermark_offsets(q, "logs", p, &lo, &hi, 5000), 0);
		total += hi - lo;
	}
	rd_kafka_destroy(q);
	return total;
}

/* Produces msgs[0..n) in runs of `run` and serves reports until every one
 * has come (bounded: the message timeout is 3 s); returns how many are OK. */
static size_t send_all(struct fixture *f, struct kafka_msg *m, size_t n, size_t run)
{
	verdicts_reset(&f->v, n);
	for (size_t i = 0; i < n; i += run)
		kafka_client_produce(f->kc, m + i, n - i < run ? n - i : run);
	for (int guard = 0; f->v.reports < n && guard < 1000; guard++)
		kafka_client_poll(f->kc, 100);
	assert_int_equal(f->v.reports, n);
	assert_int_equal(f->v.twice, 0);
	assert_int_equal(kafka_client_outstanding(f->kc), 0);
	size_t ok = 0;
	for (size_t i = 0; i < n; i++)
		ok += f->v.status[i] == KAFKA_OK;
	return ok;
}

static void test_all_delivered(void **state)
{
	struct fixture *f = *state;
	size_t n = 5000;
	char (*vals)[64] = calloc(n, 64);
	struct kafka_msg *m = make_msgs(n, vals);
	/* five runs in flight before any report is served */
	assert_int_equal(send_all(f, m, n, 1000), n);
	for (size_t i = 0; i < n; i++)
		assert_true(f->v.offset[i] >= 0);
	assert_int_equal(stored(f), (int64_t)n);
	free(m);
	free(vals);
}

static void test_poll_returns_when_reports_come(void **state)
{
	struct fixture *f = *state;
	char vals[3][64];
	struct kafka_msg *m = make_msgs(3, vals);
	verdicts_reset(&f->v, 3);
	kafka_client_produce(f->kc, m, 3);
	assert_int_equal(kafka_client_outstanding(f->kc), 3);
	/* A long timeout, but the reports come within milliseconds. */
	size_t got = 0;
	for (int guard = 0; got < 3 && guard < 50; guard++)
		got += kafka_client_poll(f->kc, 60000);
	assert_int_equal(got, 3);
	assert_int_equal(kafka_client_outstanding(f->kc), 0);
	/* Nothing outstanding: poll does not wait. */
	assert_int_equal(kafka_client_poll(f->kc, 60000), 0);
	free(m);
}

static void test_transient_errors_retried_by_client(void **state)
{
	struct fixture *f = *state;
	char vals[10][64];
	struct kafka_msg *m = make_msgs(10, vals);
	rd_kafka_mock_push_request_errors(f->mc, KAFKA_API_PRODUCE, 3,
		RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
		RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	assert_int_equal(send_all(f, m, 10, 10), 10);
	free(m);
}

static void test_permanent_error_is_rejected_with_reason(void **state)
{
	struct fixture *f = *state;
	char vals[1][64];
	struct kafka_msg *m = make_msgs(1, vals);
	rd_kafka_mock_push_request_errors(f->mc, KAFKA_API_PRODUCE, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
	assert_int_equal(send_all(f, m, 1, 1), 0);
	assert_int_equal(f->v.status[0], KAFKA_REJECT);
	assert_non_null(strstr(f->v.reason[0], "MSG_SIZE_TOO_LARGE"));
	free(m);
}

static void test_dead_broker_gives_retry(void **state)
{
	struct fixture *f = *state;
	char vals[20][64];
	struct kafka_msg *m = make_msgs(20, vals);
	rd_kafka_mock_broker_set_down(f->mc, 1);
	assert_int_equal(send_all(f, m, 20, 7), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(f->v.status[i], KAFKA_RETRY);
		assert_true(f->v.reason[i][0] != 0);
	}
	/* Back up: the same records go through on a retry, as the agent
	 * retries them from the ring. librdkafka reconnects with its own
	 * backoff (up to reconnect.backoff.max.ms), which on a loaded machine
	 * may outlast one 3 s message timeout: a few tries are allowed. */
	rd_kafka_mock_broker_set_up(f->mc, 1);
	size_t ok = 0;
	for (int attempt = 0; attempt < 5 && ok < 20; attempt++)
		ok = send_all(f, m, 20, 20);
	assert_int_equal(ok, 20);
	free(m);
}

static void test_abort_reports_everything_retry(void **state)
{
	struct fixture *f = *state;
	char vals[50][64];
	struct kafka_msg *m = make_msgs(50, vals);
	rd_kafka_mock_broker_set_down(f->mc, 1);  /* nothing can be acknowledged */
	verdicts_reset(&f->v, 50);
	kafka_client_produce(f->kc, m, 30);
	kafka_client_abort(f->kc);
	kafka_client_produce(f->kc, m + 30, 20);  /* refused at once */
	for (int guard = 0; f->v.reports < 50 && guard < 20; guard++)
		kafka_client_poll(f->kc, 100);    /* well before the 3 s timeout */
	assert_int_equal(f->v.reports, 50);
	assert_int_equal(f->v.twice, 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(f->v.status[i], KAFKA_RETRY);
	assert_non_null(strstr(f->v.reason[40], "shutting down"));
	free(m);
}

static void test_bad_property_is_named(void **state)
{
	(void)state;
	char err[512];
	struct kafka_client *c = NULL;
	static const char *const props[] = { "no.such.property=1" };
	struct kafka_client_config cfg = { .brokers = "127.0.0.1:1", .props = props, .nprops = 1 };
	assert_int_equal(kafka_client_new(&cfg, &c, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "no.such.property"));
	static const char *const bad[] = { "=x" };
	cfg.props = bad;
	assert_int_equal(kafka_client_new(&cfg, &c, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "expected key=value"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_returns_when_reports_come, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transient_errors_retried_by_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permanent_error_is_rejected_with_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_broker_gives_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_reports_everything_retry, setup, teardown),
		cmocka_unit_test(test_bad_property_is_named),
	};
	return cmocka_run_group_tests_name("kafka_client", tests, NULL, NULL);
}
