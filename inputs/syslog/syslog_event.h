/* Turning one parsed syslog message into the ECS JSON event the agent ships.
 * Kept apart from the sockets so that the exact output is unit-tested and the
 * hot path (one call per message) can be profiled on its own. */
#ifndef LOGSHIP_INPUTS_SYSLOG_EVENT_H
#define LOGSHIP_INPUTS_SYSLOG_EVENT_H
#include <stddef.h>
#include <stdint.h>

#include "common/sbuf.h"
#include "inputs/syslog/syslog_parse.h"

struct syslog_event_in {
	const struct syslog_msg *m;    /* as syslog_parse filled it */
	const char *raw;               /* the whole frame (for event.original) */
	size_t raw_len;
	int truncated;                 /* the frame was cut at max_message_bytes */
	int64_t recv_ms;               /* receive time: @timestamp when m has none */
	const char *extra;             /* pre-formatted ",\"source\":{...}" or NULL */
	size_t extra_len;
	int keep_original;             /* add event.original */
};

/* Replaces b's contents with the event; returns its timestamp (ms, the
 * record's time). b->err says whether memory ran out. */
int64_t syslog_event_build(struct sbuf *b, const struct syslog_event_in *e);

#endif
