/* logshipctl consume and produce: events in and out of a topic, one per line.
 * consume without --group reads every partition by assignment (no group state
 * is touched); with --group it joins the consumer group and commits as it goes. */
#include "cli/ctl.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static const char consume_usage[] =
	"usage: logshipctl consume TOPIC [--from-beginning] [--group GROUP] [--partition N]\n"
	"                          [--offset N] [--max-messages N] [--exit] [--key]\n"
	"  --from-beginning  start at the earliest retained offset (default: only new events)\n"
	"  --group GROUP     consume as a member of GROUP, committing offsets\n"
	"  --partition N     only partition N (without --group)\n"
	"  --offset N        start at offset N (with --partition)\n"
	"  --max-messages N  exit after N events\n"
	"  --exit            exit when every partition is read to its end\n"
	"  --key             print KEY<tab>VALUE\n"
	"Prints each event's value on one line; --json (global) prints topic, partition,\n"
	"offset, timestamp, key and value as one JSON object per line.\n";

/* A whole decimal number in [min, max]; else a usage message and -1. */
static int num_arg(const char *opt, const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		ctl_err("%s %s: expected a number from %lld to %lld", opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static void print_message(const struct ctl *c, const rd_kafka_message_t *m, int with_key)
{
	if (c->json) {
		fputs("{\"topic\":", stdout);
		const char *t = rd_kafka_topic_name(m->rkt);
		ctl_json_str(stdout, t, strlen(t));
		rd_kafka_timestamp_type_t tt;
		printf(",\"partition\":%d,\"offset\":%lld,\"timestamp\":%lld,\"key\":", m->partition,
		       (long long)m->offset, (long long)rd_kafka_message_timestamp(m, &tt));
		if (m->key)
			ctl_json_str(stdout, m->key, m->key_len);
		else
			fputs("null", stdout);
		fputs(",\"value\":", stdout);
		if (m->payload)
			ctl_json_str(stdout, m->payload, m->len);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
		return;
	}
	if (with_key) {
		if (m->key)
			fwrite(m->key, 1, m->key_len, stdout);
		fputc('\t', stdout);
	}
	if (m->payload)
		fwrite(m->payload, 1, m->len, stdout);
	fputc('\n', stdout);
}

int ctl_consume(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from-beginning", no_argument, NULL, 'B' },
		{ "group", required_argument, NULL, 'g' },
		{ "partition", required_argument, NULL, 'p' },
		{ "offset", required_argument, NULL, 'o' },
		{ "max-messages", required_argument, NULL, 'n' },
		{ "exit", no_argument, NULL, 'e' },
		{ "key", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int from_beginning = 0, exit_at_end = 0, with_key = 0, o;
	long partition = -1;
	long long offset = -1, max = -1, num;
	const char *group = NULL;
	while ((o = getopt_long(argc, argv, "Bg:p:o:n:ekh", opts, NULL)) != -1) {
		switch (o) {
		case 'B': from_beginning = 1; break;
		case 'g': group = optarg; break;
		case 'p':
			if (num_arg("--partition", optarg, 0, INT32_MAX, &num) < 0)
				return CTL_EXIT_USAGE;
			partition = (long)num;
			break;
		case 'o':
			if (num_arg("--offset", optarg, 0, INT64_MAX, &offset) < 0)
				return CTL_EXIT_USAGE;
			break;
		case 'n':
			if (num_arg("--max-messages", optarg, 1, INT64_MAX, &max) < 0)
				return CTL_EXIT_USAGE;
			break;
		case 'e': exit_at_end = 1; break;
		case 'k': with_key = 1; break;
		case 'h': fputs(consume_usage, stdout); return 0;
		default: fputs(consume_usage, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (group && (partition >= 0 || offset >= 0)) || (offset >= 0 && partition < 0)) {
		fputs(consume_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	const char *topic = argv[optind];
	rd_kafka_conf_t *conf = ctl_conf(c);
	if (!conf)
		return CTL_EXIT_USAGE;
	char err[512];
	rd_kafka_conf_set(conf, "group.id", group ? group : "logshipctl", NULL, 0);
	rd_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, 0);
	rd_kafka_conf_set(conf, "auto.offset.reset", from_beginning ? "earliest" : "latest", NULL, 0);
	if (!group)
		rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
	rd_kafka_t *rk = ctl_client(c, RD_KAFKA_CONSUMER, conf);
	if (!rk)
		return CTL_EXIT_FAIL;
	rd_kafka_poll_set_consumer(rk);
	int rc = 0, parts = 0;
	rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(16);
	/* The topic must exist (and the broker answer) before we wait on it. */
	const struct rd_kafka_metadata *md = ctl_topic_metadata(c, rk, topic);
	if (!md) {
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	if (group) {
		rd_kafka_metadata_destroy(md);
		rd_kafka_topic_partition_list_add(tl, topic, RD_KAFKA_PARTITION_UA);
		rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, tl);
		if (e) {
			ctl_err("subscribe to '%s': %s", topic, rd_kafka_err2str(e));
			rc = CTL_EXIT_FAIL;
			goto out;
		}
	} else {
		rd_kafka_resp_err_t e;
		int64_t start = from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
		if (offset >= 0)
			start = offset;
		for (int i = 0; i < md->topics[0].partition_cnt; i++) {
			int32_t id = md->topics[0].partitions[i].id;
			if (partition >= 0 && id != partition)
				continue;
			rd_kafka_topic_partition_list_add(tl, topic, id)->offset = start;
		}
		rd_kafka_metadata_destroy(md);
		if (tl->cnt == 0) {
			ctl_err("topic '%s' has no partition %ld", topic, partition);
			rc = CTL_EXIT_FAIL;
			goto out;
		}
		e = rd_kafka_assign(rk, tl);
		if (e) {
			ctl_err("assign: %s", rd_kafka_err2str(e));
			rc = CTL_EXIT_FAIL;
			goto out;
		}
		parts = tl->cnt;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, on_signal);
	long long seen = 0;
	int at_end = 0;
	while (!stop_requested && (max < 0 || seen < max)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			/* With a group the assignment is only known once joined. */
			if (group) {
				rd_kafka_topic_partition_list_t *a = NULL;
				if (!rd_kafka_assignment(rk, &a) && a) {
					parts = a->cnt;
					rd_kafka_topic_partition_list_destroy(a);
				}
			}
			if (++at_end >= parts && exit_at_end)
				stop_requested = 1;
		} else if (m->err) {
			ctl_err("%s", rd_kafka_message_errstr(m));
			if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT) {
				rc = CTL_EXIT_FAIL;
				stop_requested = 1;
			}
		} else {
			print_message(c, m, with_key);
			seen++;
		}
		rd_kafka_message_destroy(m);
	}
	fflush(stdout);
	(void)err;
out:
	rd_kafka_topic_partition_list_destroy(tl);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

static const char produce_usage[] =
	"usage: logshipctl produce TOPIC [--key KEY] [--partition N]\n"
	"Sends each line of standard input as one event (acks=all) and waits for every\n"
	"delivery report; exits 1 if any event was not delivered.\n";

struct produce_state { long long delivered, failed; };

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct produce_state *st = opaque;
	(void)rk;
	if (m->err) {
		if (st->failed++ < 5)
			ctl_err("delivery failed: %s", rd_kafka_err2str(m->err));
	} else {
		st->delivered++;
	}
}

int ctl_produce(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "partition", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL;
	int32_t partition = RD_KAFKA_PARTITION_UA;
	int o;
	while ((o = getopt_long(argc, argv, "k:p:h", opts, NULL)) != -1) {
		switch (o) {
		case 'k': key = optarg; break;
		case 'p': {
			long long num;
			if (num_arg("--partition", optarg, 0, INT32_MAX, &num) < 0)
				return CTL_EXIT_USAGE;
			partition = (int32_t)num;
			break;
		}
		case 'h': fputs(produce_usage, stdout); return 0;
		default: fputs(produce_usage, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(produce_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	struct produce_state st = { 0, 0 };
	rd_kafka_conf_t *conf = ctl_conf(c);
	if (!conf)
		return CTL_EXIT_USAGE;
	rd_kafka_conf_set(conf, "acks", "all", NULL, 0);
	/* Producing to a new topic creates it where the broker allows that
	 * (logship-broker's auto_create_topics, Kafka's auto.create.topics.enable),
	 * as Kafka's console producer does; -X allow.auto.create.topics=false wins. */
	int user_set = 0;
	for (int i = 0; i < c->nprops; i++)
		user_set |= !strncmp(c->props[i], "allow.auto.create.topics=", 25);
	if (!user_set)
		rd_kafka_conf_set(conf, "allow.auto.create.topics", "true", NULL, 0);
	/* A dead broker fails the run within the flush bound below rather than
	 * after librdkafka's default of five minutes per message. */
	int tmo_set = 0;
	for (int i = 0; i < c->nprops; i++)
		tmo_set |= !strncmp(c->props[i], "message.timeout.ms=", 19);
	if (!tmo_set) {
		char ms[24];
		snprintf(ms, sizeof(ms), "%d", c->timeout_ms * 3);
		rd_kafka_conf_set(conf, "message.timeout.ms", ms, NULL, 0);
	}
	rd_kafka_conf_set(conf, "linger.ms", "5", NULL, 0);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, &st);
	rd_kafka_t *rk = ctl_client(c, RD_KAFKA_PRODUCER, conf);
	if (!rk)
		return CTL_EXIT_FAIL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long long sent = 0, refused = 0;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		for (;;) {
			rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[optind]),
				RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_VALUE(line, (size_t)n),
				RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_END);
			if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				rd_kafka_poll(rk, 100);
				continue;
			}
			if (e) {
				ctl_err("produce to '%s': %s", argv[optind], rd_kafka_err2str(e));
				refused++;
			} else {
				sent++;
			}
			break;
		}
		rd_kafka_poll(rk, 0);
	}
	free(line);
	rd_kafka_flush(rk, c->timeout_ms * 3 + 1000);
	long long pending = rd_kafka_outq_len(rk);
	rd_kafka_destroy(rk);
	/* Every line read was either refused at once, failed its delivery
	 * report, or is still queued: all of them count as not delivered. */
	long long lines = sent + refused, lost = lines - st.delivered;
	if (c->json)
		printf("{\"sent\":%lld,\"delivered\":%lld,\"failed\":%lld}\n", lines, st.delivered, lost);
	else
		fprintf(stderr, "logshipctl: %lld events delivered, %lld failed\n", st.delivered, lost);
	if (lost)
		ctl_err("%lld of %lld event(s) not delivered to topic '%s' at %s%s", lost, lines, argv[optind],
			c->bootstrap, pending ? " (some still queued at the timeout)" : "");
	return lost ? CTL_EXIT_FAIL : 0;
}
