/* The dead-letter log (invariant 4): records a destination refused for good
 * (an Elasticsearch mapping error, a message too large for Kafka, an HTTP
 * 400) are never dropped silently and never retried forever. Each goes, with
 * the reason, into data_dir/deadletter/<output>.ndjson, one JSON object a
 * line:
 *   {"@timestamp":"<when rejected>","output":"es","reason":"...",
 *    "ring_offset":123,"source":"varlog","event":<the event as shipped>}
 * The file is fdatasync'd before the output's cursor moves past the record,
 * so a crash can repeat a dead letter but never lose one. An operator
 * replays them with any NDJSON tool (jq -c .event). */
#ifndef LOGSHIP_AGENT_DEADLETTER_H
#define LOGSHIP_AGENT_DEADLETTER_H
#include <stdint.h>

#include "agent/module.h"

struct deadletter {
	int fd;                  /* -1 until the first dead letter */
	int dirty;               /* written since the last sync */
	char path[4096];
};

/* Sets up (no file is created until something is rejected). */
void deadletter_init(struct deadletter *d, const char *data_dir, const char *output_name);
/* Appends one record; reason NULL means "no reason given". 0 or -errno. */
int deadletter_write(struct deadletter *d, const char *output_name, const struct out_record *r,
		     const char *reason);
/* fdatasync if anything was written since the last call. 0 or -errno. */
int deadletter_sync(struct deadletter *d);
void deadletter_close(struct deadletter *d);

#endif
