/* Output `elasticsearch`: events to Elasticsearch (or OpenSearch) through
 * the `_bulk` API, with libcurl (outputs/httpc.c).
 *
 * Delivery (invariant 2). Nothing counts as shipped before Elasticsearch
 * said so, per item: a run from the agent is cut into requests of at most
 * max_batch_events / max_batch_bytes, and each record's verdict is read from
 * its own item in the response (es_response.c):
 *   2xx                                 OUT_OK
 *   409 with op_type create and an _id  OUT_OK (already indexed: a replay)
 *   429, 5xx                            OUT_RETRY (only those items)
 *   other 4xx (mapper_parsing_exception, ...)  OUT_REJECT through
 *                                       output_reject with "HTTP 400 type: reason"
 *                                       (the agent dead-letters it), also logged
 *                                       with the record's ring offset
 * A whole-request failure (connection refused or dropped, timeout, a
 * truncated or garbled response, HTTP 429/5xx) makes every record of that
 * request RETRY; a connection failure first fails over to the next host.
 * 413 (request too large) splits the request in halves until one record is
 * left, which is then rejected. 401/403/404 are configuration problems:
 * retried (the events wait in the ring), never dead-lettered.
 *
 * Hosts are used round robin; a host whose connection failed is skipped
 * until its own backoff (1s doubling to 60s) has passed, then tried again.
 * Each host keeps one CURL handle, so its keep-alive connection is reused. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/module.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/logging.h"
#include "outputs/elasticsearch/es_bulk.h"
#include "outputs/elasticsearch/es_response.h"
#include "outputs/httpc.h"

/* The response is read into memory up to this bound (per request): with
 * filter_path an item is ~30 bytes, an error item a few hundred. Beyond it
 * the request is retried with fewer events per request. */
#define ES_RESP_BASE   (64u << 10)
#define ES_RESP_ITEM   2048u
#define ES_FILTER_PATH "filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason"

struct es_conf {
	struct cfg_strlist hosts;
	char *index;
	int op_type;
	char *pipeline;
	char *id_field;
	int dedupe;
	char *user, *password, *password_file;
	char *api_key, *api_key_file;
	struct out_tls tls;
	int compress;
	uint64_t max_batch_bytes;
	int64_t max_batch_events;
	int64_t timeout_ms;
	char *missing;
};

static const char *const op_choices[] = { "index", "create", NULL };
static const char *const compress_choices[] = { "none", "gzip", NULL };

#define E(f) offsetof(struct es_conf, f)
static const struct cfg_key es_tls_keys[] = {
	OUT_TLS_KEYS(struct es_conf, tls),
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
static const struct cfg_key es_keys[] = {
	{ "hosts", CFG_T_STRLIST, E(hosts), "[\"http://127.0.0.1:9200\"]", 0, NULL, 0, 0, NULL,
	  "Elasticsearch URLs (http:// or https://; a bare host:port means http), used round robin" },
	{ "index", CFG_T_STRING, E(index), "logship-%Y.%m.%d", 0, NULL, 0, 0, NULL,
	  "index or data stream; strftime patterns on the event time (UTC) and ${field} references" },
	{ "op_type", CFG_T_ENUM, E(op_type), "index", 0, op_choices, 0, 0, NULL,
	  "index, or create (data streams; with ids, replays answer 409 = already there)" },
	{ "pipeline", CFG_T_STRING, E(pipeline), NULL, 0, NULL, 0, 0, NULL, "ingest pipeline to run" },
	{ "id_field", CFG_T_STRING, E(id_field), NULL, 0, NULL, 0, 0, NULL,
	  "event field whose value is the document _id" },
	{ "dedupe", CFG_T_BOOL, E(dedupe), "false", 0, NULL, 0, 0, NULL,
	  "deterministic _id per record (see docs/outputs.md), so replays after a crash are not duplicated" },
	{ "user", CFG_T_STRING, E(user), NULL, 0, NULL, 0, 0, NULL, "basic auth user" },
	{ "password", CFG_T_STRING, E(password), NULL, 0, NULL, 0, 0, NULL, "basic auth password" },
	{ "password_file", CFG_T_STRING, E(password_file), NULL, 0, NULL, 0, 0, NULL,
	  "file holding the password (first line)" },
	{ "api_key", CFG_T_STRING, E(api_key), NULL, 0, NULL, 0, 0, NULL,
	  "API key (the base64 \"id:key\" form), sent as Authorization: ApiKey" },
	{ "api_key_file", CFG_T_STRING, E(api_key_file), NULL, 0, NULL, 0, 0, NULL,
	  "file holding the API key (first line)" },
	{ "tls", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, es_tls_keys, "TLS for https:// hosts" },
	{ "compress", CFG_T_ENUM, E(compress), "none", 0, compress_choices, 0, 0, NULL,
	  "request body compression: none or gzip" },
	{ "max_batch_bytes", CFG_T_SIZE, E(max_batch_bytes), "5MiB", 0, NULL, 1024, (int64_t)1 << 30, NULL,
	  "largest _bulk request body (before compression)" },
	{ "max_batch_events", CFG_T_INT, E(max_batch_events), "1000", 0, NULL, 1, 100000, NULL,
	  "most events per _bulk request" },
	{ "timeout", CFG_T_DURATION, E(timeout_ms), "60s", 0, NULL, 100, 3600000, NULL,
	  "a request not answered by then is retried (every record of it)" },
	{ "missing_field", CFG_T_STRING, E(missing), "unknown", 0, NULL, 0, 0, NULL,
	  "what an index template's absent field expands to" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
#undef E

struct es_host {
	struct httpc_conn conn;
	int64_t down_until_ms;         /* monotonic; 0 = up */
	struct backoff bo;
};

struct es_out {
	struct output *out;
	const struct es_conf *c;
	struct es_bulk_conf bc;
	struct es_bulk bulk;
	struct httpc_opts opts;
	struct httpc_abort abort;
	char *password, *api_key;      /* resolved secrets */
	struct es_host *hosts;
	size_t nhosts, next_host;
	char *suffix;                  /* "/_bulk?filter_path=...&pipeline=..." */
	struct curl_slist *headers, *headers_gz;
	struct sbuf body, gz;
	struct httpc_resp resp;
	struct es_item *items;
	int *with_id;
	size_t items_cap;
	size_t max_events;             /* lowered for good after a 413 or a too-large response */
};

enum { CHUNK_DONE, CHUNK_STOP };   /* go on with the next request / stop this send */

/* --- config ------------------------------------------------------------------------ */

static int check_file(const char *path, const struct cfg_node *map, const char *key, struct cfg_error *err)
{
	if (path && access(path, R_OK) < 0)
		return cfg_fail(err, cfg_at(map, key), "%s: cannot read %s: %s", key, path, strerror(errno));
	return 0;
}

static int es_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct es_conf *c = conf;
	int any_https = 0, rc;
	if (c->hosts.n == 0)
		return cfg_fail(err, cfg_at(map, "hosts"), "hosts: at least one URL is needed");
	for (size_t i = 0; i < c->hosts.n; i++) {
		const char *h = c->hosts.v[i];
		if (!*h || (strstr(h, "://") && strncmp(h, "http://", 7) && strncmp(h, "https://", 8)))
			return cfg_fail(err, cfg_at(map, "hosts"), "hosts: \"%s\" is not an http:// or https:// URL", h);
		any_https |= strncmp(h, "https://", 8) == 0;
	}
	if (!*c->index)
		return cfg_fail(err, cfg_at(map, "index"), "index must not be empty");
	if (c->id_field && c->dedupe)
		return cfg_fail(err, cfg_at(map, "dedupe"), "dedupe and id_field both choose the _id: use one");
	if (c->password && c->password_file)
		return cfg_fail(err, cfg_at(map, "password_file"), "password and password_file: use one");
	if (c->api_key && c->api_key_file)
		return cfg_fail(err, cfg_at(map, "api_key_file"), "api_key and api_key_file: use one");
	if ((c->password || c->password_file) && !c->user)
		return cfg_fail(err, cfg_at(map, "password"), "a password needs a user");
	if (c->user && (c->api_key || c->api_key_file))
		return cfg_fail(err, cfg_at(map, "api_key"), "basic auth (user) and api_key: use one");
	if (out_tls_given(map) && !any_https)
		return cfg_fail(err, cfg_at(map, "tls"), "tls: given, but no host is an https:// URL");
	if ((rc = check_file(c->password_file, map, "password_file", err)) < 0 ||
	    (rc = check_file(c->api_key_file, map, "api_key_file", err)) < 0)
		return rc;
	return 0;
}

/* --- lifecycle ------------------------------------------------------------------------ */

static void es_destroy(void *state)
{
	struct es_out *e = state;
	for (size_t i = 0; i < e->nhosts; i++)
		httpc_conn_free(&e->hosts[i].conn);
	free(e->hosts);
	es_bulk_free(&e->bulk);
	curl_slist_free_all(e->headers);
	curl_slist_free_all(e->headers_gz);
	sbuf_free(&e->body);
	sbuf_free(&e->gz);
	httpc_resp_free(&e->resp);
	free(e->items);
	free(e->with_id);
	free(e->suffix);
	if (e->password)
		explicit_bzero(e->password, strlen(e->password));
	if (e->api_key)
		explicit_bzero(e->api_key, strlen(e->api_key));
	free(e->password);
	free(e->api_key);
	httpc_abort_destroy(&e->abort);
	free(e);
}

/* Appends one header line; on failure (or line NULL: out of memory before)
 * the list is freed and *l is NULL. */
static void add_header(struct curl_slist **l, const char *line)
{
	struct curl_slist *t = line ? curl_slist_append(*l, line) : NULL;
	if (!t) {
		curl_slist_free_all(*l);
		*l = NULL;
		return;
	}
	*l = t;
}

/* The request's URL suffix and its two header lists (plain and gzip). */
static int build_request(struct es_out *e)
{
	const struct es_conf *c = e->c;
	struct sbuf s = { 0 };
	sbuf_puts(&s, "/_bulk?" ES_FILTER_PATH);
	if (c->pipeline) {
		char *p = curl_easy_escape(NULL, c->pipeline, 0);
		sbuf_printf(&s, "&pipeline=%s", p ? p : "");
		curl_free(p);
	}
	e->suffix = s.err ? NULL : strdup(sbuf_cstr(&s));
	sbuf_free(&s);
	struct sbuf auth = { 0 };
	if (e->api_key)
		sbuf_printf(&auth, "Authorization: ApiKey %s", e->api_key);
	for (int gz = 0; gz < 2; gz++) {
		struct curl_slist *h = NULL;
		add_header(&h, "Content-Type: application/x-ndjson");
		if (h)
			add_header(&h, "Expect:");
		if (h && e->api_key)
			add_header(&h, auth.err ? NULL : sbuf_cstr(&auth));
		if (h && gz)
			add_header(&h, "Content-Encoding: gzip");
		*(gz ? &e->headers_gz : &e->headers) = h;
	}
	if (auth.p)
		explicit_bzero(auth.p, auth.cap);
	sbuf_free(&auth);
	return e->suffix && e->headers && e->headers_gz ? 0 : -ENOMEM;
}

static int es_init(struct output *out, const void *conf, void **state)
{
	const struct es_conf *c = conf;
	struct es_out *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->out = out;
	e->c = c;
	httpc_abort_init(&e->abort);
	int rc = 0;
	if (c->password_file && (rc = httpc_read_secret(c->password_file, &e->password)) < 0)
		LOG_ERROR(output_name(out), "cannot read password_file %s: %s", c->password_file, strerror(-rc));
	else if (c->api_key_file && (rc = httpc_read_secret(c->api_key_file, &e->api_key)) < 0)
		LOG_ERROR(output_name(out), "cannot read api_key_file %s: %s", c->api_key_file, strerror(-rc));
	if (rc < 0)
		goto fail;
	if (c->password && !(e->password = strdup(c->password)))
		goto nomem;
	if (c->api_key && !(e->api_key = strdup(c->api_key)))
		goto nomem;
	e->opts = (struct httpc_opts){ .tls = &c->tls, .user = c->user, .password = e->password,
				       .timeout_ms = c->timeout_ms, .abort = &e->abort };
	e->bc = (struct es_bulk_conf){ .index = c->index, .op_create = c->op_type == 1,
				       .id_field = c->id_field, .dedupe = c->dedupe, .missing = c->missing };
	es_bulk_init(&e->bulk, &e->bc);
	e->max_events = (size_t)c->max_batch_events;
	e->resp.stop_at_max = 1;
	if (!(e->hosts = calloc(c->hosts.n, sizeof(*e->hosts))))
		goto nomem;
	for (size_t i = 0; i < c->hosts.n; i++) {
		if ((rc = httpc_conn_init(&e->hosts[i].conn, c->hosts.v[i], &e->opts)) < 0)
			goto fail;
		backoff_init(&e->hosts[i].bo, 1000, 60000);
		e->nhosts++;
	}
	if ((rc = build_request(e)) < 0)
		goto fail;
	*state = e;
	return 0;
nomem:
	rc = -ENOMEM;
fail:
	es_destroy(e);
	return rc;
}

static void es_abort(void *state)
{
	struct es_out *e = state;
	httpc_abort(&e->abort);
}

/* --- sending ---------------------------------------------------------------------------- */

/* The next host to use: round robin over the hosts that are up; when all
 * are down, the one that comes back first (the agent's backoff paces us). */
static struct es_host *pick_host(struct es_out *e, size_t *idx)
{
	int64_t now = clock_mono_ms();
	size_t best = e->next_host % e->nhosts;
	for (size_t k = 0; k < e->nhosts; k++) {
		size_t i = (e->next_host + k) % e->nhosts;
		if (e->hosts[i].down_until_ms <= now) {
			best = i;
			break;
		}
		if (e->hosts[i].down_until_ms < e->hosts[best].down_until_ms)
			best = i;
	}
	e->next_host = best + 1;
	*idx = best;
	return &e->hosts[best];
}

static void mark(struct out_record *recs, size_t n, enum out_status st)
{
	for (size_t i = 0; i < n; i++)
		recs[i].status = st;
}

static int grow_items(struct es_out *e, size_t n)
{
	if (n <= e->items_cap)
		return 0;
	struct es_item *it = realloc(e->items, n * sizeof(*it));
	if (it)
		e->items = it;
	int *w = realloc(e->with_id, n * sizeof(*w));
	if (w)
		e->with_id = w;
	if (!it || !w)
		return -ENOMEM;
	e->items_cap = n;
	return 0;
}

/* POSTs the body to a host, failing over on connection errors. 0 with
 * e->resp holding a status, or < 0 (every host tried failed, or aborted). */
static int post(struct es_out *e, size_t n)
{
	const void *body = e->body.p;
	size_t len = e->body.len;
	struct curl_slist *hdrs = e->headers;
	if (e->c->compress == 1) {
		sbuf_reset(&e->gz);
		if (httpc_gzip(e->body.p, e->body.len, &e->gz) < 0)
			return -ENOMEM;
		body = e->gz.p;
		len = e->gz.len;
		hdrs = e->headers_gz;
	}
	size_t cap = ES_RESP_BASE + n * ES_RESP_ITEM;
	e->resp.max_body = cap > (64u << 20) ? (64u << 20) : cap;
	int rc = -EIO;
	for (size_t tries = 0; tries < e->nhosts; tries++) {
		size_t idx;
		struct es_host *h = pick_host(e, &idx);
		rc = httpc_perform(&h->conn, &e->opts, "POST", e->suffix, hdrs, body, len, &e->resp);
		if (rc == -ECANCELED)
			return rc;
		if (rc == 0) {
			backoff_reset(&h->bo);
			h->down_until_ms = 0;
			return 0;
		}
		int64_t d = backoff_next(&h->bo);
		h->down_until_ms = clock_mono_ms() + d;
		output_error(e->out, "%s: %s; %zu event(s) to retry%s", h->conn.url, e->resp.error, n,
			     e->nhosts > 1 ? ", trying the next host" : "");
		if (rc == -ETIMEDOUT)
			break;     /* it may have been indexed: do not double the load elsewhere now */
	}
	return rc;
}

/* A refusal for good: the reason goes with the record to the dead-letter
 * log (output_reject) and, with the ring offset, to the agent's log. */
static void report_reject(struct es_out *e, struct out_record *r, const char *why)
{
	output_reject(e->out, r, "%s", why);
	output_error(e->out, "event at ring offset %" PRId64 " rejected for good: %s", r->offset, why);
}

static int send_chunk(struct es_out *e, struct out_record *recs, size_t n);

/* 413, or another 4xx for the whole request: halve until one record is left. */
static int split(struct es_out *e, struct out_record *recs, size_t n, const char *why)
{
	if (n == 1) {
		report_reject(e, &recs[0], why);
		return CHUNK_DONE;
	}
	size_t half = n / 2;
	if (send_chunk(e, recs, half) == CHUNK_STOP) {
		mark(recs + half, n - half, OUT_RETRY);
		return CHUNK_STOP;
	}
	return send_chunk(e, recs + half, n - half);
}

/* Per-item verdicts from a 200 response. */
static int verdicts(struct es_out *e, struct out_record *recs, size_t n)
{
	int rc = e->resp.truncated ? -EMSGSIZE :
		es_response_parse(e->resp.body.p ? e->resp.body.p : "", e->resp.body.len, e->items, n);
	if (rc < 0) {
		mark(recs, n, OUT_RETRY);
		if (rc == -EMSGSIZE && e->max_events > 1)
			e->max_events = n / 2 ? n / 2 : 1;
		output_error(e->out, "unreadable _bulk response (%s, %zu bytes%s): %zu event(s) to retry",
			     rc == -ERANGE ? "item count differs from the request" :
			     rc == -EMSGSIZE ? "larger than its bound" : "malformed or truncated JSON",
			     e->resp.body.len, e->resp.truncated ? ", cut" : "", n);
		return CHUNK_DONE;
	}
	size_t retry = 0, rejected = 0;
	const char *retry_why = "";
	for (size_t i = 0; i < n; i++) {
		const struct es_item *it = &e->items[i];
		enum out_status v = es_item_verdict(it->status, e->bc.op_create && e->with_id[i]);
		recs[i].status = v;
		if (v == OUT_REJECT) {
			char why[ES_REASON_MAX + 32];
			snprintf(why, sizeof(why), "HTTP %d %s", it->status, it->reason[0] ? it->reason : "(no reason given)");
			report_reject(e, &recs[i], why);
			rejected++;
		} else if (recs[i].status == OUT_RETRY) {
			retry++;
			retry_why = it->reason;
		}
	}
	if (retry)
		output_error(e->out, "%zu of %zu event(s) refused for now (e.g. %s): retrying them",
			     retry, n, *retry_why ? retry_why : "429/5xx");
	return CHUNK_DONE;
}

/* One _bulk request for recs[0..n): every record gets a verdict. */
static int send_chunk(struct es_out *e, struct out_record *recs, size_t n)
{
	if (grow_items(e, n) < 0) {
		mark(recs, n, OUT_RETRY);
		return CHUNK_STOP;
	}
	sbuf_reset(&e->body);
	for (size_t i = 0; i < n; i++)
		e->with_id[i] = es_bulk_add(&e->bulk, &recs[i], &e->body);
	if (e->body.err || e->bulk.tmp.err) {
		sbuf_free(&e->body);
		mark(recs, n, OUT_RETRY);
		return CHUNK_STOP;
	}
	int rc = post(e, n);
	if (rc < 0) {
		mark(recs, n, OUT_RETRY);
		return CHUNK_STOP;
	}
	long st = e->resp.status;
	if (st == 200)
		return verdicts(e, recs, n);
	char why[200];
	snprintf(why, sizeof(why), "HTTP %ld: %.*s", st, (int)(e->resp.body.len < 120 ? e->resp.body.len : 120),
		 e->resp.body.p ? e->resp.body.p : "");
	for (char *p = why; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (st == 413) {
		if (n > 1 && e->max_events > n / 2)
			e->max_events = n / 2;
		return split(e, recs, n, "HTTP 413: a single event larger than the server's http.max_content_length");
	}
	if (st == 400 || (st > 404 && st < 500 && st != 405 && st != 408 && st != 429))
		return split(e, recs, n, why);
	/* 429, 5xx, and the configuration problems (401, 403, 404, ...):
	 * the next request would fare no better; the agent backs off. */
	mark(recs, n, OUT_RETRY);
	output_error(e->out, "_bulk request refused (%s): %zu event(s) to retry", why, n);
	return CHUNK_STOP;
}

static int es_send(void *state, struct out_record *recs, size_t n)
{
	struct es_out *e = state;
	uint64_t max_bytes = e->c->max_batch_bytes;
	size_t i = 0;
	while (i < n) {
		if (httpc_aborted(&e->abort)) {
			mark(recs + i, n - i, OUT_RETRY);
			return -ECANCELED;
		}
		size_t k = 0;
		uint64_t bytes = 0;
		while (i + k < n && k < e->max_events) {
			size_t sz = es_bulk_estimate(&recs[i + k]);
			if (k > 0 && bytes + sz > max_bytes)
				break;
			bytes += sz;
			k++;
		}
		if (send_chunk(e, recs + i, k) == CHUNK_STOP) {
			for (size_t j = i + k; j < n; j++)
				recs[j].status = OUT_RETRY;
			break;
		}
		i += k;
	}
	return 0;
}

const struct output_module elasticsearch_output = {
	.type = "elasticsearch",
	.doc = "Events to Elasticsearch through the _bulk API (libcurl), acknowledged per item: "
	       "429/5xx items are retried with backoff, rejected items (mapping errors) are "
	       "dead-lettered with their reason. Date-patterned indices or data streams "
	       "(op_type: create), basic auth or API key, TLS, gzip, several hosts.",
	.keys = es_keys,
	.conf_size = sizeof(struct es_conf),
	.check = es_check,
	.init = es_init,
	.send = es_send,
	.abort = es_abort,
	.destroy = es_destroy,
};
