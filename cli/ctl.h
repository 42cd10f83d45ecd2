/* logshipctl: the operator's command-line tool. It speaks the Kafka protocol
 * through librdkafka, so it works against logship-broker and against any Apache
 * Kafka cluster alike. Each subcommand lives in its own file; this header is
 * what they share: the global options and a few librdkafka helpers. */
#ifndef LOGSHIP_CLI_CTL_H
#define LOGSHIP_CLI_CTL_H
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_MAX_PROPS 64

struct ctl {
	const char *bootstrap;   /* --bootstrap, $LOGSHIP_BOOTSTRAP, 127.0.0.1:9092 */
	const char *agent;       /* --agent, for `status` */
	int json;                /* --json: machine-readable output */
	int timeout_ms;          /* --timeout, per request */
	const char *props[CTL_MAX_PROPS];  /* -X key=value, passed to librdkafka */
	int nprops;
};

/* Exit codes: 0 ok, 1 the operation failed, 2 usage error. */
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2

/* A librdkafka configuration with bootstrap and -X properties applied;
 * prints the error and returns NULL on a bad property. */
rd_kafka_conf_t *ctl_conf(const struct ctl *c);
/* A client of the given type (producer for admin work); NULL after printing why. */
rd_kafka_t *ctl_client(const struct ctl *c, rd_kafka_type_t type, rd_kafka_conf_t *conf);
/* Waits for an admin result event of `type` on q; NULL (printed) on timeout. */
rd_kafka_event_t *ctl_admin_wait(const struct ctl *c, rd_kafka_queue_t *q, rd_kafka_event_type_t type);
/* Metadata of one topic (md->topics[0] is it); NULL after printing why,
 * naming the topic and, when unreachable, the broker. */
const struct rd_kafka_metadata *ctl_topic_metadata(const struct ctl *c, rd_kafka_t *rk, const char *topic);
/* Prints "logshipctl: " + message to stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes s as a JSON string (quoted, escaped; invalid UTF-8 bytes as \u00XX). */
void ctl_json_str(FILE *f, const char *s, size_t len);

/* logdirs.c: each partition's size on disk (DescribeLogDirs to its leader)
 * into sizes[i] for t->partitions[i], -1 where unknown; on failure *why says
 * what went wrong. 0 or -errno. */
int ctl_partition_sizes(const struct ctl *c, const struct rd_kafka_metadata *md,
			const struct rd_kafka_metadata_topic *t, int64_t *sizes, const char **why);

int ctl_topics(struct ctl *c, int argc, char **argv);
int ctl_groups(struct ctl *c, int argc, char **argv);
int ctl_consume(struct ctl *c, int argc, char **argv);
int ctl_produce(struct ctl *c, int argc, char **argv);
int ctl_status(struct ctl *c, int argc, char **argv);

#endif
