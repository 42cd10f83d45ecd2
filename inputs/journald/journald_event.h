/* Turning one journal entry (its fields as NAME=value pairs) into the ECS
 * JSON event the agent ships. Kept apart from libsystemd so that the exact
 * output is unit-tested with made-up entries. */
#ifndef LOGSHIP_INPUTS_JOURNALD_EVENT_H
#define LOGSHIP_INPUTS_JOURNALD_EVENT_H
#include <stddef.h>
#include <stdint.h>

#include "common/sbuf.h"

struct jd_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* Replaces b's contents with the event for the entry with these fields (in
 * any order; the array is sorted in place) and realtime timestamp (us since
 * the epoch). Returns the event time in ms. b->err says whether memory ran
 * out. */
int64_t jd_event_build(struct sbuf *b, struct jd_field *f, size_t n, uint64_t realtime_us);

/* 1 if v is text (valid UTF-8 without control characters but tab, CR, LF),
 * 0 if it is binary and gets base64-encoded. */
int jd_is_text(const char *v, size_t n);

#endif
