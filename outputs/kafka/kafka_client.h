/* The kafka output's producer: librdkafka wrapped so that the agent can hand
 * it a run of records from the ring and learn, for each one, whether the
 * destination acknowledged it (advance the cursor), failed for now (retry
 * later, with backoff, from the ring) or rejected it for good (dead letter).
 *
 * librdkafka's own queue is kept small (queue.buffering.max.*), so that the
 * ring, not RAM, holds the backlog, and kafka_client_send() returns only when
 * every record it was given has its delivery report: no callback can ever
 * touch a record after the call. */
#ifndef LOGSHIP_OUTPUTS_KAFKA_CLIENT_H
#define LOGSHIP_OUTPUTS_KAFKA_CLIENT_H
#include <stddef.h>
#include <stdint.h>

enum kafka_status { KAFKA_PENDING = -1, KAFKA_OK = 0, KAFKA_RETRY = 1, KAFKA_REJECT = 2 };

struct kafka_header { const char *name; const void *value; size_t value_len; };

struct kafka_msg {
	const char *topic;
	const void *key; size_t key_len;      /* key NULL: no key */
	const void *value; size_t value_len;
	int64_t timestamp_ms;                 /* 0: librdkafka's now */
	const struct kafka_header *headers; size_t header_count;
	/* filled by kafka_client_send */
	enum kafka_status status;
	char reason[160];                     /* why, when not KAFKA_OK */
	int32_t partition; int64_t offset;    /* where it landed, when OK */
};

struct kafka_client_config {
	const char *brokers;           /* "host:port,host:port" */
	const char *compression;       /* none | gzip | zstd | lz4 | snappy */
	const char *acks;              /* all | 1 | 0 (Kafka's -1 = all) */
	int64_t message_timeout_ms;    /* a record not acknowledged by then: RETRY */
	int64_t linger_ms;
	uint64_t queue_max_bytes;      /* librdkafka's in-memory queue bound */
	const char *client_id;
	const char *const *props;      /* extra librdkafka properties "key=value" */
	size_t nprops;
	/* Where librdkafka's own log lines go (may be NULL: dropped). */
	void (*log)(void *arg, int level, const char *fac, const char *msg);
	void *log_arg;
};

struct kafka_client;

/* 0, or -EINVAL with the reason in err (a bad property names itself). */
int kafka_client_new(const struct kafka_client_config *cfg, struct kafka_client **out,
		     char *err, size_t errlen);
/* Produces msgs[0..n) and waits for every delivery report, at most
 * message_timeout_ms + a margin (what is still in flight then is purged and
 * reported RETRY). Sets each msgs[i].status; returns how many are KAFKA_OK. */
size_t kafka_client_send(struct kafka_client *c, struct kafka_msg *msgs, size_t n);
/* Aborts a send in progress from another thread (shutdown): what is not yet
 * acknowledged comes back RETRY. */
void kafka_client_abort(struct kafka_client *c);
void kafka_client_free(struct kafka_client *c);

/* Whether a delivery error can never succeed by retrying the same record. */
int kafka_error_is_permanent(int rd_kafka_resp_err);

#endif
