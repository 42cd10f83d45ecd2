/* Reading an Elasticsearch `_bulk` response: one result per action, in the
 * order the actions were sent, as Elasticsearch documents it:
 *   {"took":3,"errors":true,"items":[
 *     {"index":{"_index":"logs","_id":"1","status":201,"result":"created",...}},
 *     {"create":{"_index":"logs","_id":"2","status":400,
 *                "error":{"type":"mapper_parsing_exception","reason":"failed to parse ...",
 *                         "caused_by":{...}}}}]}
 * (or the same pruned by ?filter_path=errors,items.*.status,items.*.error.type,
 * items.*.error.reason, which the output asks for to keep responses small).
 *
 * The response must hold exactly as many items as actions were sent and
 * every item must have a status; anything else (truncated, garbled, more or
 * fewer items) is an error and the whole request is retried: a verdict is
 * only ever taken from a response that is whole. */
#ifndef LOGSHIP_OUTPUTS_ES_RESPONSE_H
#define LOGSHIP_OUTPUTS_ES_RESPONSE_H
#include <stddef.h>

#include "agent/module.h"

#define ES_REASON_MAX 256        /* "type: reason", cut to fit */

struct es_item {
	int status;                  /* HTTP status of this action */
	char reason[ES_REASON_MAX];  /* "type: reason" for an error, else "" */
};

/* Parses buf[0..len) into items[0..n). 0 when exactly n items with a status
 * were read; -EBADMSG for malformed/truncated JSON or an item without a
 * status; -ERANGE when the item count is not n (reading stops at n + 1, so
 * a response with a huge item count costs nothing more). */
int es_response_parse(const char *buf, size_t len, struct es_item *items, size_t n);

/* The verdict for one item. create_with_id: op_type create and a document id
 * we chose (id_field or dedupe), so a 409 means "already indexed" (a replay
 * after a crash) and counts as done. */
enum out_status es_item_verdict(int status, int create_with_id);

#endif
