/* The kafka output's producer: librdkafka wrapped so that the agent can keep
 * runs of records from the ring in flight and learn, for each record,
 * whether the destination acknowledged it (advance the cursor), failed for
 * now (retry later, with backoff, from the ring) or rejected it for good
 * (dead letter).
 *
 * Every record handed to kafka_client_produce() gets exactly one report,
 * through the config's `report` callback, on the caller's thread: at once
 * when it cannot be queued, else from inside a later kafka_client_produce()
 * or kafka_client_poll(). librdkafka's own queue is kept small
 * (queue.buffering.max.*), so that the ring, not RAM, holds the backlog:
 * produce waits (serving reports) while it is full. */
#ifndef LOGSHIP_OUTPUTS_KAFKA_CLIENT_H
#define LOGSHIP_OUTPUTS_KAFKA_CLIENT_H
#include <stddef.h>
#include <stdint.h>

enum kafka_status { KAFKA_OK = 0, KAFKA_RETRY = 1, KAFKA_REJECT = 2 };

struct kafka_header { const char *name; const void *value; size_t value_len; };

struct kafka_msg {
	const char *topic;
	const void *key; size_t key_len;      /* key NULL: no key */
	const void *value; size_t value_len;  /* not copied: valid until its report */
	int64_t timestamp_ms;                 /* 0: librdkafka's now */
	const struct kafka_header *headers; size_t header_count;
	void *opaque;                         /* given back with the report */
};

/* One delivery report. reason says why when st != KAFKA_OK (else "");
 * partition/offset say where an acknowledged record landed (-1 unknown). */
struct kafka_report {
	void *opaque;
	enum kafka_status status;
	const char *reason;
	int32_t partition;
	int64_t offset;
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
	/* Where delivery reports go (NULL: nowhere, for a client only built to
	 * check a config). */
	void (*report)(void *arg, const struct kafka_report *r);
	void *report_arg;
};

struct kafka_client;

/* Checks the config as librdkafka reads it, without making a producer (no
 * threads, no connections: what `--check` and every SIGHUP do). 0, or
 * -EINVAL with the reason in err. */
int kafka_client_check(const struct kafka_client_config *cfg, char *err, size_t errlen);
/* 0, or -EINVAL with the reason in err (a bad property names itself). */
int kafka_client_new(const struct kafka_client_config *cfg, struct kafka_client **out,
		     char *err, size_t errlen);
/* Queues msgs[0..n); each gets its report later, or at once when it cannot
 * be queued (a bad topic name, shutting down). While librdkafka's queue is
 * full it serves reports and waits for room. */
void kafka_client_produce(struct kafka_client *c, const struct kafka_msg *msgs, size_t n);
/* Serves the reports that have come in; if none has, waits up to
 * timeout_ms for one. While it waits, what librdkafka holds back to fill
 * batches (linger) goes out at once. After kafka_client_abort() it purges
 * everything in flight, whose reports (RETRY) then come promptly. Returns
 * the number of reports served. */
size_t kafka_client_poll(struct kafka_client *c, int timeout_ms);
/* Records produced whose report has not been served yet. */
size_t kafka_client_outstanding(const struct kafka_client *c);
/* From any thread (shutdown): makes produce and poll give up; what is not
 * acknowledged comes back RETRY. */
void kafka_client_abort(struct kafka_client *c);
/* Purges what is left; no report is made after this call starts. */
void kafka_client_free(struct kafka_client *c);

/* Whether a delivery error can never succeed by retrying the same record. */
int kafka_error_is_permanent(int rd_kafka_resp_err);

#endif
