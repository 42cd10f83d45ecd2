/* See es_response.h. A single forward pass with the bounded reader in
 * es_json.c: unknown keys are skipped whatever they hold, so the full and
 * the filter_path-pruned forms read the same. */
#include "outputs/elasticsearch/es_response.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "outputs/elasticsearch/es_json.h"

/* "error": {"type": "...", "reason": "...", ...}, or (rarely) a string. */
static int read_error(struct esj *j, struct es_item *it)
{
	if (esj_peek(j) == '"')
		return esj_string(j, it->reason, sizeof(it->reason));
	if (esj_peek(j) != '{')
		return esj_skip(j);
	char type[96] = "", reason[ES_REASON_MAX] = "", key[32];
	int first = 1, r;
	esj_expect(j, '{');
	while ((r = esj_next_key(j, &first, key, sizeof(key))) == 1) {
		if (strcmp(key, "type") == 0 && esj_peek(j) == '"')
			r = esj_string(j, type, sizeof(type));
		else if (strcmp(key, "reason") == 0 && esj_peek(j) == '"')
			r = esj_string(j, reason, sizeof(reason));
		else
			r = esj_skip(j);
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	/* "type: reason", cut to fit */
	size_t n = 0, cap = sizeof(it->reason) - 1;
	const char *parts[3] = { type, *type && *reason ? ": " : "", reason };
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(parts[i]);
		if (l > cap - n)
			l = cap - n;
		memcpy(it->reason + n, parts[i], l);
		n += l;
	}
	it->reason[n] = '\0';
	return 0;
}

/* {"<op>": {"status": N, "error": {...}, ...}} */
static int read_item(struct esj *j, struct es_item *it)
{
	char key[32];
	int first = 1, r, n_ops = 0;
	it->status = -1;
	it->reason[0] = '\0';
	if (esj_expect(j, '{') < 0)
		return -1;
	while ((r = esj_next_key(j, &first, key, sizeof(key))) == 1) {
		if (n_ops++ || esj_expect(j, '{') < 0)
			return -1;             /* one operation per item */
		int f2 = 1;
		while ((r = esj_next_key(j, &f2, key, sizeof(key))) == 1) {
			if (strcmp(key, "status") == 0) {
				int64_t s;
				if (esj_int(j, &s) < 0 || s < 100 || s > 599)
					return -1;
				it->status = (int)s;
			} else if (strcmp(key, "error") == 0) {
				r = read_error(j, it);
			} else {
				r = esj_skip(j);
			}
			if (r < 0 || j->err)
				return -1;
		}
		if (r < 0)
			return -1;
	}
	if (r < 0 || it->status < 0)
		return -1;
	return 0;
}

int es_response_parse(const char *buf, size_t len, struct es_item *items, size_t n)
{
	struct esj j;
	esj_init(&j, buf, len);
	char key[32];
	int first = 1, r, have_items = 0;
	size_t got = 0;
	if (esj_expect(&j, '{') < 0)
		return -EBADMSG;
	while ((r = esj_next_key(&j, &first, key, sizeof(key))) == 1) {
		if (strcmp(key, "items") != 0 || have_items) {
			if (esj_skip(&j) < 0)
				return -EBADMSG;
			continue;
		}
		have_items = 1;
		int f2 = 1;
		if (esj_expect(&j, '[') < 0)
			return -EBADMSG;
		while ((r = esj_next_elem(&j, &f2)) == 1) {
			struct es_item extra;
			if (read_item(&j, got < n ? &items[got] : &extra) < 0)
				return -EBADMSG;
			if (got++ == n)
				return -ERANGE;    /* more results than actions */
		}
		if (r < 0)
			return -EBADMSG;
	}
	if (r < 0)
		return -EBADMSG;
	if (esj_peek(&j) != 0)
		return -EBADMSG;           /* trailing bytes after the document */
	if (!have_items || got != n)
		return -ERANGE;
	return 0;
}

enum out_status es_item_verdict(int status, int create_with_id)
{
	if (status >= 200 && status < 300)
		return OUT_OK;
	if (status == 409 && create_with_id)
		return OUT_OK;
	if (status == 429 || status >= 500)
		return OUT_RETRY;
	if (status >= 400)
		return OUT_REJECT;
	return OUT_RETRY;              /* 1xx/3xx for one item: not a verdict */
}
