/* Building an Elasticsearch `_bulk` request body: per record, an action line
 *   {"index":{"_index":"logs-2026.11.24","_id":"..."}}      (or "create")
 * and the event itself as the source line, verbatim from the ring (inputs
 * never put a raw newline in an event: JSON escapes it).
 *
 * Index: `index` is expanded with strftime(3) on the event time in UTC
 * ("logs-%Y.%m.%d"), then "${field}" references are expanded from the
 * event. A fixed name (a data stream, with op_type create) passes through.
 *
 * Document ids (optional):
 *   id_field  the value of an event field (json_path_get);
 *   dedupe    a deterministic id: the first 120 bits of SHA-256 over
 *             (record key, ring offset, event bytes), base64url, 20 chars
 *             (the length of Elasticsearch's own ids). After a crash the
 *             agent re-sends the same ring records from its cursor: same key,
 *             same offset, same bytes, so the same id, and with op_type
 *             create Elasticsearch answers 409 for what it already has. The
 *             ring offset keeps two identical events (a repeated syslog line in
 *             one millisecond) two documents; the event bytes keep a ring that
 *             was wiped and restarted at offset 0 from colliding with old
 *             documents (which would drop new events as "already there"). When
 *             the event has `log.offset` (a position in its source file), the
 *             ring offset is left out: a line re-read from the file after a
 *             crash (same path, offset, bytes) is then deduplicated too.
 *             What it cannot see: an event re-read with different bytes (a new
 *             @timestamp) is a new document; that duplicate is the at-least-
 *             once bound of invariant 3. */
#ifndef LOGSHIP_OUTPUTS_ES_BULK_H
#define LOGSHIP_OUTPUTS_ES_BULK_H
#include <stddef.h>
#include <stdint.h>

#include "agent/module.h"
#include "common/sbuf.h"

#define ES_ID_LEN 20
#define ES_INDEX_MAX 255         /* Elasticsearch's limit on index names (bytes) */

struct es_bulk_conf {
	const char *index;           /* pattern */
	int op_create;               /* "create" instead of "index" */
	const char *id_field;        /* NULL: none */
	int dedupe;
	const char *missing;         /* what an absent ${field} expands to */
};

struct es_bulk {
	const struct es_bulk_conf *c;
	int has_time, has_fields;    /* the pattern has '%' / "${" */
	int64_t cached_sec;          /* strftime result cache, by second */
	char cached[ES_INDEX_MAX + 1];
	struct sbuf tmp;
};

void es_bulk_init(struct es_bulk *b, const struct es_bulk_conf *c);
void es_bulk_free(struct es_bulk *b);

/* The index name for one record into out (appended; not escaped). */
void es_bulk_index(struct es_bulk *b, const struct out_record *r, struct sbuf *out);
/* The dedupe id of one record: ES_ID_LEN characters + NUL into id. */
void es_bulk_dedupe_id(const struct out_record *r, char id[ES_ID_LEN + 1]);
/* Appends the action and source lines of r to body. 1 if the action carries
 * an _id, else 0. */
int es_bulk_add(struct es_bulk *b, const struct out_record *r, struct sbuf *body);
/* Bytes es_bulk_add will roughly add for r (for batch sizing). */
size_t es_bulk_estimate(const struct out_record *r);

#endif
