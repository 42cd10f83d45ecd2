/* rdk_client: a librdkafka client for the broker's tests and benchmarks, so
 * that what talks to logship-broker is real Kafka client code, not ours.
 *
 *   rdk_client produce BROKERS TOPIC COUNT [opts]   numbered messages "<prefix><n>"
 *       prints "ack <partition> <offset> <n>" per successful delivery report,
 *       "fail <n> <error>" per failed one; line-buffered so a crash test sees
 *       every ack printed before it kills the broker. SIGTERM stops producing
 *       new messages and waits (up to --timeout) for the ones in flight; the
 *       last line is "produced <count>" (numbers start .. start+count-1).
 *   rdk_client consume BROKERS TOPIC PARTITION OFFSET COUNT [opts]
 *       assign() at an explicit offset (or "beginning"/"end"); prints
 *       "msg <offset> <value>" per message, "error <code> <name>" on a
 *       partition error, "eof <offset>" at the end of the partition.
 *   rdk_client group-consume BROKERS TOPIC GROUP COUNT [opts]
 *       subscribe() as a member of GROUP (session.timeout.ms etc. via -X);
 *       prints "assigned T/P,..." and "revoked T/P,..." at each rebalance,
 *       "msg <partition> <offset> <value>" per message, and commits each
 *       message's offset synchronously before reading on ("commit-error
 *       <name>" if that fails). COUNT 0: until SIGTERM/SIGINT or --timeout.
 *       Exits through consumer_close() (LeaveGroup) unless killed.
 *   rdk_client bench-produce BROKERS TOPIC COUNT SIZE ACKS
 *   rdk_client bench-consume BROKERS TOPIC PARTITIONS COUNT
 *       print one "figure" line with msgs/s and MiB/s.
 * opts: -X key=value (any librdkafka property), --start N (first number),
 *       --timeout S (give up after S seconds), --prefix P,
 *       --rate N (produce at most N messages per second),
 *       --first P (bench-consume: assign partitions P..P+PARTITIONS-1).
 * Exit: 0 when every message was delivered/read, 1 otherwise, 2 usage. */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
	const char *props[32][2];
	int nprops;
	long long start;
	double timeout;
	const char *prefix;
	double rate;
	int first;        /* bench-consume: first partition assigned */
};

static long long delivered, failed;
static volatile sig_atomic_t stop_producing;

static void on_term(int sig)
{
	stop_producing = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_opts(int argc, char **argv, int i, struct opts *o)
{
	o->start = 1;
	o->timeout = 120;
	o->prefix = "";
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "-X") && i + 1 < argc && o->nprops < 32) {
			char *eq = strchr(argv[++i], '=');
			if (!eq)
				return -1;
			*eq = 0;
			o->props[o->nprops][0] = argv[i];
			o->props[o->nprops++][1] = eq + 1;
		} else if (!strcmp(argv[i], "--start") && i + 1 < argc) {
			o->start = atoll(argv[++i]);
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			o->timeout = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--prefix") && i + 1 < argc) {
			o->prefix = argv[++i];
		} else if (!strcmp(argv[i], "--rate") && i + 1 < argc) {
			o->rate = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--first") && i + 1 < argc) {
			o->first = atoi(argv[++i]);
		} else {
			return -1;
		}
	}
	return 0;
}

static rd_kafka_conf_t *make_conf(const char *brokers, const struct opts *o)
{
	char err[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof(err)) != RD_KAFKA_CONF_OK)
		goto bad;
	for (int i = 0; i < o->nprops; i++)
		if (rd_kafka_conf_set(c, o->props[i][0], o->props[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
			goto bad;
	return c;
bad:
	fprintf(stderr, "rdk_client: %s\n", err);
	rd_kafka_conf_destroy(c);
	return NULL;
}

static void dr_print(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	long long n = (long long)(intptr_t)m->_private;
	if (m->err) {
		failed++;
		printf("fail %lld %s\n", n, rd_kafka_err2name(m->err));
	} else {
		delivered++;
		printf("ack %d %" PRId64 " %lld\n", (int)m->partition, m->offset, n);
	}
}

static void dr_count(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	if (m->err)
		failed++;
	else
		delivered++;
}

static rd_kafka_t *new_producer(const char *brokers, const struct opts *o, int print)
{
	char err[512];
	rd_kafka_conf_t *c = make_conf(brokers, o);
	if (!c)
		return NULL;
	rd_kafka_conf_set_dr_msg_cb(c, print ? dr_print : dr_count);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (!rk)
		fprintf(stderr, "rdk_client: %s\n", err);
	return rk;
}

/* Waits until message i may go under --rate (serving delivery reports). */
static void pace(rd_kafka_t *rk, const struct opts *o, double t0, long long i)
{
	if (o->rate <= 0)
		return;
	double due = t0 + (double)i / o->rate;
	double now;
	while ((now = now_s()) < due && !stop_producing)
		rd_kafka_poll(rk, (int)((due - now) * 1000) + 1);
}

/* Produces count messages (fewer if stopped: *sent says how many); returns
 * the number of those not delivered. */
static long long produce(rd_kafka_t *rk, const char *topic, long long count, size_t size,
			 const struct opts *o, long long *sent)
{
	char buf[65536];
	double t0 = now_s(), deadline = t0 + o->timeout;
	*sent = 0;
	for (long long i = 0; i < count && !stop_producing; i++) {
		pace(rk, o, t0, i);
		long long n = o->start + i;
		int len = size ? (int)size : snprintf(buf, sizeof(buf), "%s%lld", o->prefix, n);
		if (size)
			memset(buf, 'x', size < sizeof(buf) ? size : sizeof(buf));
		for (;;) {
			rd_kafka_resp_err_t e = rd_kafka_producev(
				rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(buf, (size_t)len),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_OPAQUE((void *)(intptr_t)n), RD_KAFKA_V_END);
			if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
				break;
			if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				fprintf(stderr, "rdk_client: produce: %s\n", rd_kafka_err2str(e));
				return *sent + 1 - delivered;
			}
			rd_kafka_poll(rk, 10);
			if (now_s() > deadline)
				return *sent + 1 - delivered;
		}
		++*sent;
		rd_kafka_poll(rk, 0);
	}
	while (rd_kafka_outq_len(rk) > 0 && now_s() < deadline)
		rd_kafka_poll(rk, 50);
	fflush(stdout);
	return *sent - delivered;
}

static int cmd_produce(int argc, char **argv)
{
	struct opts o = { 0 };
	if (argc < 5 || parse_opts(argc, argv, 5, &o) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_term);
	rd_kafka_t *rk = new_producer(argv[2], &o, 1);
	if (!rk)
		return 2;
	long long sent;
	long long missing = produce(rk, argv[3], atoll(argv[4]), 0, &o, &sent);
	printf("produced %lld\n", sent);
	fprintf(stderr, "rdk_client: %lld delivered, %lld failed\n", delivered, failed);
	rd_kafka_destroy(rk);
	return missing ? 1 : 0;
}

static int64_t parse_offset(const char *s)
{
	if (!strcmp(s, "beginning"))
		return RD_KAFKA_OFFSET_BEGINNING;
	if (!strcmp(s, "end"))
		return RD_KAFKA_OFFSET_END;
	return atoll(s);
}

/* A consumer for assign(): partition EOFs reported, CRCs checked, nothing
 * committed; -X properties given on the command line win over these. */
static rd_kafka_t *new_consumer(const char *brokers, const struct opts *o)
{
	static const char *const defaults[][2] = {
		{ "enable.partition.eof", "true" }, { "check.crcs", "true" },
		{ "group.id", "rdk_client" }, { "enable.auto.commit", "false" },
	};
	struct opts all = *o;
	all.nprops = 0;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		all.props[all.nprops][0] = defaults[i][0];
		all.props[all.nprops++][1] = defaults[i][1];
	}
	for (int i = 0; i < o->nprops && all.nprops < 32; i++) {
		all.props[all.nprops][0] = o->props[i][0];
		all.props[all.nprops++][1] = o->props[i][1];
	}
	char err[512];
	rd_kafka_conf_t *c = make_conf(brokers, &all);
	if (!c)
		return NULL;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	if (!rk)
		fprintf(stderr, "rdk_client: %s\n", err);
	return rk;
}

/* Consumes from assigned partitions; print: one line per message. Returns
 * messages read; stops at count, at EOF of every partition (if stop_eof), on
 * a partition error, or at the timeout. */
static long long consume(rd_kafka_t *rk, long long count, int nparts, int print, int stop_eof, double timeout)
{
	long long got = 0;
	int eofs = 0;
	double deadline = now_s() + timeout;
	while (got < count && now_s() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (print)
				printf("eof %" PRId64 "\n", m->offset);
			if (stop_eof && ++eofs >= nparts) {
				rd_kafka_message_destroy(m);
				break;
			}
		} else if (m->err) {
			rd_kafka_resp_err_t e = m->err;
			if (print)
				printf("error %d %s\n", e, rd_kafka_err2name(e));
			rd_kafka_message_destroy(m);
			if (e != RD_KAFKA_RESP_ERR__TRANSPORT)
				break;
			continue;
		} else {
			got++;
			if (print)
				printf("msg %" PRId64 " %.*s\n", m->offset, (int)m->len, (const char *)m->payload);
		}
		rd_kafka_message_destroy(m);
	}
	return got;
}

static int cmd_consume(int argc, char **argv)
{
	struct opts o = { 0 };
	if (argc < 7 || parse_opts(argc, argv, 7, &o) < 0)
		return 2;
	rd_kafka_t *rk = new_consumer(argv[2], &o);
	if (!rk)
		return 2;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, argv[3], atoi(argv[4]))->offset = parse_offset(argv[5]);
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	long long want = atoll(argv[6]);
	long long got = consume(rk, want, 1, 1, 1, o.timeout);
	fflush(stdout);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return got >= want ? 0 : 1;
}

static volatile sig_atomic_t gc_stop;
static void gc_on_signal(int sig) { (void)sig; gc_stop = 1; }

static void gc_print_list(const char *what, const rd_kafka_topic_partition_list_t *l)
{
	printf("%s ", what);
	for (int i = 0; i < l->cnt; i++)
		printf("%s%s/%d", i ? "," : "", l->elems[i].topic, (int)l->elems[i].partition);
	printf("\n");
}

static void gc_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
			 void *opaque)
{
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		gc_print_list("assigned", parts);
		rd_kafka_assign(rk, parts);
	} else {
		gc_print_list("revoked", parts);
		rd_kafka_assign(rk, NULL);
	}
}

static int cmd_group_consume(int argc, char **argv)
{
	struct opts o = { 0 };
	char err[512];
	if (argc < 6 || parse_opts(argc, argv, 6, &o) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
	rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof(err));
	rd_kafka_conf_set(c, "check.crcs", "true", err, sizeof(err));
	if (rd_kafka_conf_set(c, "bootstrap.servers", argv[2], err, sizeof(err)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(c, "group.id", argv[4], err, sizeof(err)) != RD_KAFKA_CONF_OK)
		goto bad;
	for (int i = 0; i < o.nprops; i++)
		if (rd_kafka_conf_set(c, o.props[i][0], o.props[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
			goto bad;
	rd_kafka_conf_set_rebalance_cb(c, gc_rebalance);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "rdk_client: %s\n", err);
		return 2;
	}
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, argv[3], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		fprintf(stderr, "rdk_client: subscribe: %s\n", rd_kafka_err2str(e));
		rd_kafka_destroy(rk);
		return 1;
	}
	signal(SIGTERM, gc_on_signal);
	signal(SIGINT, gc_on_signal);
	long long want = atoll(argv[5]), got = 0;
	double deadline = now_s() + o.timeout;
	while (!gc_stop && (want == 0 || got < want) && now_s() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				printf("error %d %s\n", m->err, rd_kafka_err2name(m->err));
		} else {
			got++;
			printf("msg %d %" PRId64 " %.*s\n", (int)m->partition, m->offset, (int)m->len,
			       (const char *)m->payload);
			e = rd_kafka_commit_message(rk, m, 0);
			if (e)
				printf("commit-error %s\n", rd_kafka_err2name(e));
		}
		rd_kafka_message_destroy(m);
	}
	fflush(stdout);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	printf("closed %lld\n", got);
	return want == 0 || got >= want ? 0 : 1;
bad:
	fprintf(stderr, "rdk_client: %s\n", err);
	rd_kafka_conf_destroy(c);
	return 2;
}

static int cmd_bench_produce(int argc, char **argv)
{
	struct opts o = { 0 };
	if (argc < 7 || parse_opts(argc, argv, 7, &o) < 0)
		return 2;
	o.props[o.nprops][0] = "acks";
	o.props[o.nprops++][1] = argv[6];
	o.props[o.nprops][0] = "linger.ms";
	o.props[o.nprops++][1] = "5";
	o.props[o.nprops][0] = "queue.buffering.max.messages";
	o.props[o.nprops++][1] = "1000000";
	rd_kafka_t *rk = new_producer(argv[2], &o, 0);
	if (!rk)
		return 2;
	long long count = atoll(argv[4]);
	size_t size = (size_t)atol(argv[5]);
	double t0 = now_s();
	long long sent;
	long long missing = produce(rk, argv[3], count, size, &o, &sent);
	double dt = now_s() - t0;
	printf("broker produce acks=%s: %lld msgs of %zu B in %.2f s: %.0f msgs/s, %.1f MiB/s%s\n", argv[6], count,
	       size, dt, count / dt, count * (double)size / dt / 1048576.0, missing ? " (SOME NOT DELIVERED)" : "");
	rd_kafka_destroy(rk);
	return missing ? 1 : 0;
}

/* The benchmark's read loop: messages in batches off the consumer queue (one
 * queue lock and one clock read per batch, not per message), so that the
 * figure is the broker's and not this loop's. Stops at count, or once every
 * one of nparts partitions reached its end. Returns messages read. */
static long long consume_batches(rd_kafka_t *rk, long long count, int nparts, double timeout, double *t_first)
{
	enum { BATCH = 4096 };
	static rd_kafka_message_t *ms[BATCH];
	rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
	long long got = 0;
	int eofs = 0;
	double deadline = now_s() + timeout;
	while (got < count && eofs < nparts && now_s() < deadline) {
		ssize_t n = rd_kafka_consume_batch_queue(q, 100, ms, BATCH);
		for (ssize_t i = 0; i < n; i++) {
			if (!ms[i]->err) {
				if (!got++)
					*t_first = now_s();
			} else if (ms[i]->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
				eofs++;
			else
				fprintf(stderr, "rdk_client: %s\n", rd_kafka_err2name(ms[i]->err));
			rd_kafka_message_destroy(ms[i]);
		}
	}
	rd_kafka_queue_destroy(q);
	return got;
}

static int cmd_bench_consume(int argc, char **argv)
{
	struct opts o = { 0 };
	if (argc < 6 || parse_opts(argc, argv, 6, &o) < 0)
		return 2;
	rd_kafka_t *rk = new_consumer(argv[2], &o);
	if (!rk)
		return 2;
	int nparts = atoi(argv[4]);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
	for (int p = o.first; p < o.first + nparts; p++)
		rd_kafka_topic_partition_list_add(l, argv[3], p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	long long count = atoll(argv[5]);
	double t0 = now_s(), t1 = t0;
	long long got = consume_batches(rk, count, nparts, o.timeout, &t1);
	double t2 = now_s();
	printf("broker consume: %lld msgs in %.2f s: %.0f msgs/s (%.0f msgs/s counting the %.0f ms to the first)\n",
	       got, t2 - t1, got / (t2 - t1), got / (t2 - t0), (t1 - t0) * 1000);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return got >= count ? 0 : 1;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	int rc = 2;
	if (argc >= 2 && !strcmp(argv[1], "produce"))
		rc = cmd_produce(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "consume"))
		rc = cmd_consume(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "group-consume"))
		rc = cmd_group_consume(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "bench-produce"))
		rc = cmd_bench_produce(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "bench-consume"))
		rc = cmd_bench_consume(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: see the top of tests/tools/rdk_client.c\n");
	return rc;
}
