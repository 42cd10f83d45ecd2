/* Consumer groups on a single node: the group coordinator of Kafka's classic
 * protocol (FindCoordinator answers with this broker; JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup; the client leader runs the assignor and the broker
 * stores and hands out its assignment), committed offsets (OffsetCommit,
 * OffsetFetch) kept durable in an internal log, and DescribeGroups /
 * ListGroups for tools.
 *
 * Committed offsets live in data_dir/__consumer_offsets/ (no "-N" suffix, so
 * topics_open() never mistakes it for a topic), one record per commit, the
 * way Kafka's __consumer_offsets does; open() replays it into memory.
 * Everything here runs on the broker's event-loop thread. */
#ifndef LOGSHIP_BROKER_GROUPS_H
#define LOGSHIP_BROKER_GROUPS_H
#include <stdint.h>

#include "common/kafka_codec.h"

struct broker;
struct groups;
struct req_wait;

/* Opens (and replays) the offsets log under data_dir. 0 or -errno. */
int groups_open(struct broker *b);
void groups_close(struct broker *b);

/* Whether key is a group API this module answers. */
int groups_api(int16_t key);
/* Handles one group request (the header already read from r). Returns an
 * enum req_result (REQ_WAIT for a JoinGroup or SyncGroup that must wait for
 * the rest of the group: the loop runs it again on broker_wake() and with
 * final=1 at wait->deadline_ms). now_ms is monotonic. */
int groups_handle(struct broker *b, int16_t key, int16_t v, struct kreader *r, struct kwriter *w,
		  int final, int64_t now_ms, const char *peer, struct kstr client_id, struct req_wait *wait);

/* Session expiry and rebalance deadlines; returns the next time (monotonic
 * ms) it wants to be called, or INT64_MAX. */
int64_t groups_tick(struct broker *b, int64_t now_ms);
/* The offsets log is compacted (live offsets rewritten, older segments
 * dropped) once it is twice its size after the last compaction and at
 * least this big (default 32 MiB). For tests. */
void groups_set_compact_bytes(struct broker *b, uint64_t bytes);
/* Forgets committed offsets of a deleted topic (as Kafka does). */
void groups_topic_deleted(struct broker *b, const char *topic);

#endif
