/* e2e_latency: the two ends of tests/bench/e2e_bench.py's latency run
 * (file -> agent tail -> kafka output -> logship-broker -> a Kafka consumer).
 *
 *   e2e_latency write FILE RATE SECONDS [--warmup S] [--size BYTES]
 *       appends lines to FILE at RATE lines/s for SECONDS (after --warmup S,
 *       default 1, of lines marked "warm" that the consumer ignores). Every
 *       line carries the wall-clock time it was written at, in ns:
 *         "e2e seq=<n> wt=<ns> <padding>\n"   (padded to --size, default 100)
 *       Lines are written once per millisecond tick, each write holding the
 *       lines due by then, each stamped just before its write(2).
 *       Prints "written <count>" (measured lines, warm-up excluded).
 *   e2e_latency consume BROKERS TOPIC COUNT [--timeout S] [-X key=value]
 *       waits until TOPIC exists, assign()s every partition at the beginning,
 *       and for every record whose value holds "wt=<ns>" (and not "warm")
 *       takes arrival - wt (CLOCK_REALTIME, so both ends are on this
 *       machine). Stops after COUNT such records or --timeout S (default
 *       120) and prints one line:
 *         "latency n=<n> p50=<ms> p90=<ms> p99=<ms> p999=<ms> max=<ms>"
 *       (ms with three decimals). Prints "ready" once assigned.
 * Exit: 0 when COUNT records were measured, 1 otherwise, 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t mono)
{
	struct timespec ts = { mono / 1000000000, mono % 1000000000 };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int cmd_write(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	const char *path = argv[2];
	double rate = atof(argv[3]), secs = atof(argv[4]), warm = 1;
	size_t size = 100;
	for (int i = 5; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--warmup"))
			warm = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--size"))
			size = (size_t)atol(argv[i + 1]);
		else
			return 2;
	}
	if (rate <= 0 || secs <= 0 || size < 64 || size > 60000)
		return 2;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	char *buf = malloc(1 << 20);
	if (!buf)
		return 1;
	long long warm_n = (long long)(rate * warm), total = warm_n + (long long)(rate * secs), done = 0;
	int64_t t0 = mono_ns();
	while (done < total) {
		int64_t t = mono_ns();
		long long due = (long long)((double)(t - t0) * rate / 1e9) + 1;
		if (due > total)
			due = total;
		size_t len = 0;
		int64_t wt = wall_ns();
		for (; done < due && len + size <= (1 << 20); done++) {
			int n = snprintf(buf + len, size, "e2e seq=%lld wt=%lld %s", done,
					 (long long)wt, done < warm_n ? "warm " : "");
			memset(buf + len + n, 'x', size - 1 - (size_t)n);
			buf[len + size - 1] = '\n';
			len += size;
		}
		for (size_t off = 0; off < len;) {
			ssize_t w = write(fd, buf + off, len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				perror("write");
				return 1;
			}
			off += (size_t)w;
		}
		sleep_until(mono_ns() + 1000000);
	}
	close(fd);
	printf("written %lld\n", total - warm_n);
	return 0;
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1e6;
}

static int cmd_consume(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	const char *brokers = argv[2], *topic = argv[3];
	long long want = atoll(argv[4]);
	double timeout = 120;
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "group.id", "e2e-latency", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	for (int i = 5; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--timeout")) {
			timeout = atof(argv[i + 1]);
		} else if (!strcmp(argv[i], "-X")) {
			char *eq = strchr(argv[i + 1], '=');
			if (!eq)
				return 2;
			*eq = 0;
			if (rd_kafka_conf_set(conf, argv[i + 1], eq + 1, err, sizeof(err))) {
				fprintf(stderr, "%s\n", err);
				return 2;
			}
		} else {
			return 2;
		}
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	int64_t deadline = mono_ns() + (int64_t)(timeout * 1e9);
	/* The topic appears with the first record the agent produces. */
	int parts = 0;
	while (!stop && mono_ns() < deadline) {
		rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
		const struct rd_kafka_metadata *md = NULL;
		if (rd_kafka_metadata(rk, 0, t, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (md->topic_cnt == 1 && !md->topics[0].err)
				parts = md->topics[0].partition_cnt;
			rd_kafka_metadata_destroy(md);
		}
		rd_kafka_topic_destroy(t);
		if (parts > 0)
			break;
		usleep(50000);
	}
	if (parts <= 0) {
		fprintf(stderr, "topic %s did not appear\n", topic);
		rd_kafka_destroy(rk);
		return 1;
	}
	rd_kafka_topic_partition_list_t *pl = rd_kafka_topic_partition_list_new(parts);
	for (int p = 0; p < parts; p++)
		rd_kafka_topic_partition_list_add(pl, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, pl);
	rd_kafka_topic_partition_list_destroy(pl);
	printf("ready\n");
	fflush(stdout);
	int64_t *lat = malloc((size_t)(want > 0 ? want : 1) * sizeof(*lat));
	if (!lat)
		return 1;
	long long n = 0, warm = 0, other = 0;
	while (!stop && n < want && mono_ns() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		int64_t now = wall_ns();
		if (!m->err && m->payload) {
			const char *v = m->payload;
			size_t len = m->len;
			const char *w = memmem(v, len, "wt=", 3);
			if (!w)
				other++;
			else if (memmem(v, len, " warm ", 6))
				warm++;
			else
				lat[n++] = now - strtoll(w + 3, NULL, 10);
		}
		rd_kafka_message_destroy(m);
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
	printf("latency n=%lld p50=%.3f p90=%.3f p99=%.3f p999=%.3f max=%.3f warm=%lld other=%lld\n", n,
	       pct(lat, (size_t)n, 0.50), pct(lat, (size_t)n, 0.90), pct(lat, (size_t)n, 0.99),
	       pct(lat, (size_t)n, 0.999), n ? (double)lat[n - 1] / 1e6 : 0.0, warm, other);
	fflush(stdout);
	free(lat);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return n >= want ? 0 : 1;
}

int main(int argc, char **argv)
{
	int rc = 2;
	if (argc >= 2 && !strcmp(argv[1], "write"))
		rc = cmd_write(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "consume"))
		rc = cmd_consume(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: e2e_latency write FILE RATE SECONDS [--warmup S] [--size N]\n"
				"       e2e_latency consume BROKERS TOPIC COUNT [--timeout S] [-X k=v]\n");
	return rc;
}
