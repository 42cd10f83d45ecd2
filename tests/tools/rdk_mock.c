/* rdk_mock: librdkafka's built-in mock Kafka cluster as a process, so that
 * the agent's kafka output can be tested against a second broker
 * implementation that nobody here wrote.
 *
 *   rdk_mock BROKERS TOPIC PARTITIONS
 * Prints "bootstrap HOST:PORT,..." on stdout once the cluster listens, then
 * serves until SIGTERM/SIGINT. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: rdk_mock BROKERS TOPIC PARTITIONS\n");
		return 2;
	}
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "rdk_mock: %s\n", err);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, atoi(argv[1]));
	if (!mc) {
		fprintf(stderr, "rdk_mock: cannot create the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, argv[2], atoi(argv[3]), 1);
	if (e) {
		fprintf(stderr, "rdk_mock: topic %s: %s\n", argv[2], rd_kafka_err2str(e));
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	while (!stop)
		pause();
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
