/* Output `http`: events POSTed (or PUT) to any HTTP endpoint in batches,
 * as NDJSON or as one JSON array, through libcurl (outputs/httpc.c).
 *
 * Delivery (invariant 2): the endpoint's status code is the verdict for the
 * whole batch. 2xx acknowledges every record of it; 429, 5xx, 408, 3xx and
 * transport failures (refused, dropped, timeout) make every record RETRY;
 * any other 4xx rejects every record of the batch for good (output_reject),
 * with the status and the first bytes of the response body as the reason
 * (the agent dead-letters them). 413 first splits the batch in halves, down to one
 * record; 401/403/404 are retried (a configuration problem must not
 * dead-letter the backlog).
 *
 * Retry-After (429, 503): the module contract has no way to hand a delay to
 * the agent's backoff, so the module keeps it: the next send first waits
 * until the time the server asked for (at most max_retry_after; abort cuts
 * the wait short). As the agent's own backoff runs before that send, the
 * effective delay is max(backoff, Retry-After). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/module.h"
#include "common/clock.h"
#include "common/logging.h"
#include "outputs/httpc.h"

struct http_conf {
	char *url;
	int method;
	const struct cfg_node *headers;
	int format;
	int compress;
	char *user, *password, *password_file;
	struct out_tls tls;
	int64_t timeout_ms;
	uint64_t max_batch_bytes;
	int64_t max_retry_after_ms;
};

static const char *const method_choices[] = { "POST", "PUT", NULL };
static const char *const format_choices[] = { "ndjson", "json_array", NULL };
static const char *const compress_choices[] = { "none", "gzip", NULL };

#define H(f) offsetof(struct http_conf, f)
static const struct cfg_key http_tls_keys[] = {
	OUT_TLS_KEYS(struct http_conf, tls),
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
static const struct cfg_key http_keys[] = {
	{ "url", CFG_T_STRING, H(url), NULL, CFG_REQUIRED, NULL, 0, 0, NULL,
	  "the endpoint, http:// or https://" },
	{ "method", CFG_T_ENUM, H(method), "POST", 0, method_choices, 0, 0, NULL, "POST or PUT" },
	{ "headers", CFG_T_NODE, H(headers), NULL, 0, NULL, 0, 0, NULL,
	  "extra request headers, a map of name: value" },
	{ "format", CFG_T_ENUM, H(format), "ndjson", 0, format_choices, 0, 0, NULL,
	  "ndjson (one event per line, application/x-ndjson) or json_array (application/json)" },
	{ "compress", CFG_T_ENUM, H(compress), "none", 0, compress_choices, 0, 0, NULL,
	  "request body compression: none or gzip (Content-Encoding: gzip)" },
	{ "user", CFG_T_STRING, H(user), NULL, 0, NULL, 0, 0, NULL, "basic auth user" },
	{ "password", CFG_T_STRING, H(password), NULL, 0, NULL, 0, 0, NULL, "basic auth password" },
	{ "password_file", CFG_T_STRING, H(password_file), NULL, 0, NULL, 0, 0, NULL,
	  "file holding the password (first line)" },
	{ "tls", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, http_tls_keys, "TLS for an https:// url" },
	{ "timeout", CFG_T_DURATION, H(timeout_ms), "30s", 0, NULL, 100, 3600000, NULL,
	  "a request not answered by then is retried" },
	{ "max_batch_bytes", CFG_T_SIZE, H(max_batch_bytes), "1MiB", 0, NULL, 1024, (int64_t)1 << 30, NULL,
	  "largest request body (before compression); a larger run is sent as several requests" },
	{ "max_retry_after", CFG_T_DURATION, H(max_retry_after_ms), "60s", 0, NULL, 0, 3600000, NULL,
	  "the longest Retry-After that is honoured" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
#undef H

struct http_out {
	struct output *out;
	const struct http_conf *c;
	struct httpc_opts opts;
	struct httpc_abort abort;
	struct httpc_conn conn;
	char *password;
	struct curl_slist *headers;
	struct sbuf body, gz;
	struct httpc_resp resp;
	int64_t not_before_ms;         /* monotonic: Retry-After */
};

enum { BATCH_DONE, BATCH_STOP };

static int http_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct http_conf *c = conf;
	if (strstr(c->url, "://") && strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8))
		return cfg_fail(err, cfg_at(map, "url"), "url: \"%s\" is not an http:// or https:// URL", c->url);
	if (!*c->url)
		return cfg_fail(err, cfg_at(map, "url"), "url must not be empty");
	if (c->headers && !cfg_is_null(c->headers)) {
		if (c->headers->kind != CFG_MAP)
			return cfg_fail(err, c->headers, "headers: expected a map of name: value");
		for (size_t i = 0; i < c->headers->n; i++) {
			const struct cfg_node *k = c->headers->pairs[i].key, *v = c->headers->pairs[i].value;
			if (v->kind != CFG_SCALAR || strpbrk(k->value, ": \r\n") || !*k->value ||
			    (v->value && strpbrk(v->value, "\r\n")))
				return cfg_fail(err, v, "headers.%s: expected a header name and a one-line value",
						k->value);
		}
	}
	if (c->password && c->password_file)
		return cfg_fail(err, cfg_at(map, "password_file"), "password and password_file: use one");
	if ((c->password || c->password_file) && !c->user)
		return cfg_fail(err, cfg_at(map, "password"), "a password needs a user");
	if (c->password_file && access(c->password_file, R_OK) < 0)
		return cfg_fail(err, cfg_at(map, "password_file"), "password_file: cannot read %s: %s",
				c->password_file, strerror(errno));
	if (out_tls_given(map) && strncmp(c->url, "https://", 8) != 0)
		return cfg_fail(err, cfg_at(map, "tls"), "tls: given, but the url is not https://");
	return 0;
}

static void http_destroy(void *state)
{
	struct http_out *h = state;
	httpc_conn_free(&h->conn);
	curl_slist_free_all(h->headers);
	sbuf_free(&h->body);
	sbuf_free(&h->gz);
	httpc_resp_free(&h->resp);
	if (h->password)
		explicit_bzero(h->password, strlen(h->password));
	free(h->password);
	httpc_abort_destroy(&h->abort);
	free(h);
}

/* "name: value"; value NULL appends name as is ("Expect:" removes a header). */
static int add_header(struct curl_slist **l, const char *name, const char *value)
{
	struct sbuf s = { 0 };
	if (value)
		sbuf_printf(&s, "%s: %s", name, value);
	else
		sbuf_puts(&s, name);
	struct curl_slist *t = s.err ? NULL : curl_slist_append(*l, sbuf_cstr(&s));
	sbuf_free(&s);
	if (!t)
		return -ENOMEM;
	*l = t;
	return 0;
}

static int http_init(struct output *out, const void *conf, void **state)
{
	const struct http_conf *c = conf;
	struct http_out *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->out = out;
	h->c = c;
	httpc_abort_init(&h->abort);
	int rc = 0;
	if (c->password_file && (rc = httpc_read_secret(c->password_file, &h->password)) < 0) {
		LOG_ERROR(output_name(out), "cannot read password_file %s: %s", c->password_file, strerror(-rc));
		goto fail;
	}
	if (c->password && !(h->password = strdup(c->password)))
		goto nomem;
	h->opts = (struct httpc_opts){ .tls = &c->tls, .user = c->user, .password = h->password,
				       .timeout_ms = c->timeout_ms, .abort = &h->abort };
	if ((rc = httpc_conn_init(&h->conn, c->url, &h->opts)) < 0)
		goto fail;
	if (add_header(&h->headers, "Content-Type", c->format ? "application/json" : "application/x-ndjson") < 0 ||
	    add_header(&h->headers, "Expect:", NULL) < 0 ||
	    (c->compress && add_header(&h->headers, "Content-Encoding", "gzip") < 0))
		goto nomem;
	for (size_t i = 0; c->headers && c->headers->kind == CFG_MAP && i < c->headers->n; i++) {
		const struct cfg_pair *p = &c->headers->pairs[i];
		if (add_header(&h->headers, p->key->value, p->value->value ? p->value->value : "") < 0)
			goto nomem;
	}
	h->resp.max_body = 4096;       /* enough for a reason; the rest is read and dropped */
	*state = h;
	return 0;
nomem:
	rc = -ENOMEM;
fail:
	http_destroy(h);
	return rc;
}

static void http_abort(void *state)
{
	struct http_out *h = state;
	httpc_abort(&h->abort);
}

static void mark(struct out_record *recs, size_t n, enum out_status st)
{
	for (size_t i = 0; i < n; i++)
		recs[i].status = st;
}

static void build(struct http_out *h, const struct out_record *recs, size_t n)
{
	sbuf_reset(&h->body);
	if (h->c->format)
		sbuf_putc(&h->body, '[');
	for (size_t i = 0; i < n; i++) {
		if (h->c->format && i)
			sbuf_putc(&h->body, ',');
		if (recs[i].value_len > 0)
			sbuf_put(&h->body, recs[i].value, (size_t)recs[i].value_len);
		else
			sbuf_puts(&h->body, "null");
		if (!h->c->format)
			sbuf_putc(&h->body, '\n');
	}
	if (h->c->format)
		sbuf_putc(&h->body, ']');
}

static int send_batch(struct http_out *h, struct out_record *recs, size_t n);

static int split(struct http_out *h, struct out_record *recs, size_t n)
{
	if (n == 1) {
		static const char why[] = "HTTP 413 (larger than the endpoint accepts)";
		output_reject(h->out, &recs[0], "%s", why);
		output_error(h->out, "event at ring offset %" PRId64 " rejected for good: %s", recs[0].offset, why);
		return BATCH_DONE;
	}
	size_t half = n / 2;
	if (send_batch(h, recs, half) == BATCH_STOP) {
		mark(recs + half, n - half, OUT_RETRY);
		return BATCH_STOP;
	}
	return send_batch(h, recs + half, n - half);
}

static int send_batch(struct http_out *h, struct out_record *recs, size_t n)
{
	build(h, recs, n);
	const char *body = h->body.p;
	size_t len = h->body.len;
	if (h->c->compress) {
		sbuf_reset(&h->gz);
		if (!h->body.err && httpc_gzip(h->body.p, h->body.len, &h->gz) < 0)
			h->gz.err = -ENOMEM;
		body = h->gz.p;
		len = h->gz.len;
	}
	if (h->body.err || h->gz.err) {
		sbuf_free(&h->body);
		sbuf_free(&h->gz);
		mark(recs, n, OUT_RETRY);
		return BATCH_STOP;
	}
	const char *method = h->c->method ? "PUT" : "POST";
	int rc = httpc_perform(&h->conn, &h->opts, method, "", h->headers, body, len, &h->resp);
	if (rc < 0) {
		mark(recs, n, OUT_RETRY);
		if (rc != -ECANCELED)
			output_error(h->out, "%s: %s; %zu event(s) to retry", h->conn.url, h->resp.error, n);
		return BATCH_STOP;
	}
	long st = h->resp.status;
	if (st >= 200 && st < 300) {
		mark(recs, n, OUT_OK);
		return BATCH_DONE;
	}
	char why[200];
	int bl = (int)(h->resp.body.len < 120 ? h->resp.body.len : 120);
	snprintf(why, sizeof(why), "HTTP %ld: %.*s", st, bl, h->resp.body.p ? h->resp.body.p : "");
	for (char *p = why; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (st == 413)
		return split(h, recs, n);
	if (st >= 400 && st < 500 && st != 401 && st != 403 && st != 404 && st != 408 && st != 429) {
		for (size_t i = 0; i < n; i++) {
			output_reject(h->out, &recs[i], "%s", why);
			output_error(h->out, "event at ring offset %" PRId64 " rejected for good: %s",
				     recs[i].offset, why);
		}
		return BATCH_DONE;
	}
	if ((st == 429 || st == 503) && h->resp.retry_after_ms >= 0) {
		int64_t d = h->resp.retry_after_ms;
		if (d > h->c->max_retry_after_ms)
			d = h->c->max_retry_after_ms;
		h->not_before_ms = clock_mono_ms() + d;
		output_error(h->out, "%s; %zu event(s) to retry after %" PRId64 "ms (Retry-After)", why, n, d);
	} else {
		output_error(h->out, "%s; %zu event(s) to retry", why, n);
	}
	mark(recs, n, OUT_RETRY);
	return BATCH_STOP;
}

static int http_send(void *state, struct out_record *recs, size_t n)
{
	struct http_out *h = state;
	int64_t wait = h->not_before_ms - clock_mono_ms();
	if (wait > 0 && httpc_wait_ms(&h->abort, wait) < 0)
		return -ECANCELED;
	h->not_before_ms = 0;
	size_t i = 0;
	while (i < n) {
		if (httpc_aborted(&h->abort)) {
			mark(recs + i, n - i, OUT_RETRY);
			return -ECANCELED;
		}
		size_t k = 0;
		uint64_t bytes = 0;
		while (i + k < n) {
			uint64_t sz = (uint64_t)(recs[i + k].value_len > 0 ? recs[i + k].value_len : 4) + 1;
			if (k > 0 && bytes + sz > h->c->max_batch_bytes)
				break;
			bytes += sz;
			k++;
		}
		if (send_batch(h, recs + i, k) == BATCH_STOP) {
			mark(recs + i + k, n - i - k, OUT_RETRY);
			break;
		}
		i += k;
	}
	return 0;
}

const struct output_module http_output = {
	.type = "http",
	.doc = "Events in batches to any HTTP endpoint (NDJSON or a JSON array): 2xx acknowledges "
	       "the batch, 429/5xx retry it (honouring Retry-After), other 4xx reject it.",
	.keys = http_keys,
	.conf_size = sizeof(struct http_conf),
	.check = http_check,
	.init = http_init,
	.send = http_send,
	.abort = http_abort,
	.destroy = http_destroy,
};
