/* logship-broker: the shared state of the daemon and the request handler
 * interface between the network loop (server.c) and the Kafka API handlers
 * (handlers.c). Handlers see one request frame and write one response frame;
 * they never touch sockets, so they can be driven from a buffer (fuzzing,
 * unit tests) as well as from the event loop. */
#ifndef LOGSHIP_BROKER_BROKER_H
#define LOGSHIP_BROKER_BROKER_H
#include <stddef.h>
#include <stdint.h>

#include "broker/groups.h"
#include "broker/kafka_codec.h"
#include "broker/topics.h"
#include "common/config.h"

struct broker_config {
	char *listen;                 /* HOST:PORT */
	char *advertised_host;        /* "" = the listen host (0.0.0.0: the hostname) */
	int64_t advertised_port;      /* 0 = the listen port */
	char *data_dir;
	int64_t num_partitions;
	int auto_create_topics;
	int64_t retention_hours;
	uint64_t retention_bytes;
	int64_t retention_check_interval_ms;
	uint64_t segment_bytes;
	int fsync;                    /* enum log_fsync order: interval, always, never */
	int64_t fsync_interval_ms;
	uint64_t max_request_bytes;
	int64_t max_connections;
	int log_level;
};

struct broker {
	struct broker_config cfg;
	struct topics topics;
	struct groups *groups;        /* consumer groups and committed offsets */
	char adv_host[256];
	int32_t adv_port;
	int32_t node_id;
	int wake_fd;                  /* eventfd of the loop; -1 when not running */
	struct log_buf fetch_buf;     /* Fetch reads land here (one loop thread) */
	uint64_t requests, malformed;
};

/* What a request needs before its response may go out. */
struct req_wait_part { char topic[TOPIC_NAME_MAX + 1]; int32_t partition; int64_t offset; };
struct req_wait {
	enum { WAIT_NONE = 0, WAIT_DURABLE, WAIT_FETCH } kind;
	struct req_wait_part *parts;  /* WAIT_DURABLE: durable_offset >= offset for each */
	size_t n;
	int64_t deadline_ms;          /* WAIT_FETCH: answer by then whatever there is */
};
void req_wait_free(struct req_wait *w);

enum req_result {
	REQ_RESPOND,      /* out holds the response frame: send it */
	REQ_NO_RESPONSE,  /* Produce with acks=0 */
	REQ_WAIT,         /* see *wait: durable -> send out when satisfied;
			     fetch -> call again with final=1 by the deadline, or
			     sooner (final=0) when data arrives */
	REQ_CLOSE,        /* malformed: log and close the connection */
};

/* Handles one request (the frame without its size prefix; the buffer is
 * writable: produced batches get their offsets written in place). `final`: a
 * parked long poll answering at its deadline, never parks again. now_ms is
 * monotonic; wait->deadline_ms is on the same clock. `peer` names the
 * client in log lines. */
enum req_result broker_handle(struct broker *b, uint8_t *req, size_t len, int final, int64_t now_ms,
			      const char *peer, struct kwriter *out, struct req_wait *wait);
/* Whether a WAIT_DURABLE is satisfied (or moot: its partition is gone). */
int broker_wait_durable_done(struct broker *b, const struct req_wait *w);

/* config.c: the broker's keys (docs and --check come from this table). */
extern const struct cfg_key broker_config_keys[];
/* Binds a parsed config file (NULL: all defaults) onto c; -EINVAL with err. */
int broker_config_bind(struct broker_config *c, const struct cfg_node *root, struct cfg_error *err);
void broker_config_free(struct broker_config *c);
/* The log settings every partition is opened with. */
void broker_log_config(const struct broker *b, struct log_config *lc);

/* server.c: runs the event loop until SIGTERM/SIGINT; 0 on a clean stop. */
int broker_run(struct broker *b);
/* Makes the loop re-run its parked long polls soon (e.g. a group changed). */
void broker_wake(struct broker *b);

#endif
