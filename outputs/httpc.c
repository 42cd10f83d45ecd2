/* See httpc.h. The one place that knows libcurl's options: keep-alive (one
 * easy handle per destination, never reset between requests, so its
 * connection cache keeps the socket), TLS from the `tls:` block, an abort
 * polled by libcurl's progress callback (called about once a second even on
 * a silent connection), and the response body captured up to a bound so a
 * huge or hostile response cannot grow memory without limit. */
#include "outputs/httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void httpc_global_init(void)
{
	pthread_once(&global_once, global_init_once);
}

/* --- abort --------------------------------------------------------------------- */

void httpc_abort_init(struct httpc_abort *a)
{
	atomic_init(&a->flag, 0);
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
}

void httpc_abort_destroy(struct httpc_abort *a)
{
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mu);
}

void httpc_abort(struct httpc_abort *a)
{
	pthread_mutex_lock(&a->mu);
	atomic_store(&a->flag, 1);
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
}

int httpc_wait_ms(struct httpc_abort *a, int64_t ms)
{
	if (ms <= 0)
		return httpc_aborted(a) ? -ECANCELED : 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&a->mu);
	while (!atomic_load(&a->flag) && pthread_cond_timedwait(&a->cond, &a->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&a->mu);
	return httpc_aborted(a) ? -ECANCELED : 0;
}

/* --- connections ------------------------------------------------------------------ */

char *httpc_normalize_url(const char *url)
{
	struct sbuf b = { 0 };
	if (!strstr(url, "://"))
		sbuf_puts(&b, "http://");
	sbuf_puts(&b, url);
	while (b.len > 0 && b.p[b.len - 1] == '/' && !(b.len >= 3 && memcmp(b.p + b.len - 3, "://", 3) == 0))
		b.len--;
	char *s = b.err ? NULL : strdup(sbuf_cstr(&b));
	sbuf_free(&b);
	return s;
}

/* tls.server_name: the request goes to server_name (SNI, certificate check,
 * Host header) while the TCP connection goes to the configured host. */
static int set_server_name(struct httpc_conn *c, const char *name)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *target = NULL;
	int rc = -EINVAL;
	if (!u || curl_url_set(u, CURLUPART_URL, c->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, name, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &target, 0) != CURLUE_OK)
		goto out;
	size_t n = strlen(name) + strlen(host) + 2 * strlen(port) + 4;
	c->connect_to = malloc(n);
	if (!c->connect_to) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(c->connect_to, n, "%s:%s:%s:%s", name, port, host, port);
	c->connect_list = curl_slist_append(NULL, c->connect_to);
	c->target = strdup(target);
	rc = c->connect_list && c->target ? 0 : -ENOMEM;
	/* curl_url_get keeps a trailing '/' for an empty path: drop it */
	size_t tl = c->target ? strlen(c->target) : 0;
	if (tl && c->target[tl - 1] == '/' && c->url[strlen(c->url) - 1] != '/')
		c->target[tl - 1] = '\0';
out:
	curl_free(host);
	curl_free(port);
	curl_free(target);
	if (u)
		curl_url_cleanup(u);
	return rc;
}

int httpc_conn_init(struct httpc_conn *c, const char *url, const struct httpc_opts *o)
{
	memset(c, 0, sizeof(*c));
	httpc_global_init();
	c->url = httpc_normalize_url(url);
	c->curl = curl_easy_init();
	if (!c->url || !c->curl) {
		httpc_conn_free(c);
		return -ENOMEM;
	}
	if (o->tls && o->tls->server_name && strncasecmp(c->url, "https://", 8) == 0) {
		int rc = set_server_name(c, o->tls->server_name);
		if (rc < 0) {
			httpc_conn_free(c);
			return rc;
		}
	}
	return 0;
}

void httpc_conn_free(struct httpc_conn *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->connect_list);
	free(c->connect_to);
	free(c->target);
	free(c->url);
	memset(c, 0, sizeof(*c));
}

void httpc_resp_free(struct httpc_resp *r)
{
	sbuf_free(&r->body);
}

/* --- one request ------------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct httpc_resp *r = arg;
	size_t len = size * n, room = r->max_body > r->body.len ? r->max_body - r->body.len : 0;
	if (len > room) {
		r->truncated = 1;
		sbuf_put(&r->body, p, room);
		/* returning less than len makes libcurl stop with a write error */
		return r->stop_at_max ? 0 : len;
	}
	sbuf_put(&r->body, p, len);
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct httpc_resp *r = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	if (len > sizeof(name) - 1 && len < 256 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		char v[256];
		size_t vl = len - (sizeof(name) - 1);
		memcpy(v, p + sizeof(name) - 1, vl);
		v[vl] = '\0';
		r->retry_after_ms = httpc_parse_retry_after(v, (int64_t)time(NULL));
	}
	return len;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct httpc_abort *a = arg;
	return a && httpc_aborted(a) ? 1 : 0;
}

static void apply_tls(CURL *h, const struct out_tls *t)
{
	if (!t)
		return;
	if (t->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
	if (t->cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, t->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLKEY, t->key_file ? t->key_file : t->cert_file);
	}
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, t->verify ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, t->verify ? 2L : 0L);
}

int httpc_perform(struct httpc_conn *c, const struct httpc_opts *o, const char *method,
		  const char *url_suffix, struct curl_slist *headers, const void *body, size_t len,
		  struct httpc_resp *resp)
{
	sbuf_reset(&resp->body);
	resp->status = 0;
	resp->truncated = 0;
	resp->retry_after_ms = -1;
	resp->error[0] = '\0';
	if (o->abort && httpc_aborted(o->abort))
		return -ECANCELED;
	struct sbuf url = { 0 };
	sbuf_puts(&url, c->target ? c->target : c->url);
	sbuf_puts(&url, url_suffix ? url_suffix : "");
	if (url.err) {
		sbuf_free(&url);
		return -ENOMEM;
	}
	CURL *h = c->curl;
	c->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, sbuf_cstr(&url));
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->timeout_ms < 10000 ? o->timeout_ms : 10000));
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, o->abort);
	if (c->connect_list)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_list);
	if (o->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, o->password ? o->password : "");
	}
	apply_tls(h, o->tls);
	CURLcode cc = curl_easy_perform(h);
	sbuf_free(&url);
	if (cc == CURLE_WRITE_ERROR && resp->truncated) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		return 0;              /* a status and a cut-off body: the caller decides */
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(resp->error, sizeof(resp->error), "aborted (shutting down)");
		return -ECANCELED;
	}
	if (cc != CURLE_OK) {
		snprintf(resp->error, sizeof(resp->error), "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
		size_t el = strlen(resp->error);
		if (el && resp->error[el - 1] == '\n')
			resp->error[el - 1] = '\0';
		switch (cc) {
		case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
		case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
		case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
		case CURLE_OUT_OF_MEMORY: return -ENOMEM;
		default: return -EIO;
		}
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	return resp->body.err ? -ENOMEM : 0;
}

/* --- helpers ------------------------------------------------------------------------ */

int64_t httpc_parse_retry_after(const char *v, int64_t now_s)
{
	while (*v == ' ' || *v == '\t')
		v++;
	char buf[128];
	size_t n = strcspn(v, "\r\n");
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, v, n);
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	if (buf[0] >= '0' && buf[0] <= '9') {
		char *end;
		errno = 0;
		long long s = strtoll(buf, &end, 10);
		if (*end || errno || s < 0)
			return -1;
		if (s > 86400 * 365)
			s = 86400 * 365;
		return (int64_t)s * 1000;
	}
	time_t t = curl_getdate(buf, NULL);
	if (t < 0)
		return -1;
	return (int64_t)t > now_s ? ((int64_t)t - now_s) * 1000 : 0;
}

int httpc_gzip(const void *src, size_t n, struct sbuf *out)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	size_t bound = deflateBound(&z, (uLong)n);
	if (sbuf_reserve(out, bound) < 0) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out->p + out->len;
	z.avail_out = (uInt)bound;
	int zr = deflate(&z, Z_FINISH);
	size_t made = bound - z.avail_out;
	deflateEnd(&z);
	if (zr != Z_STREAM_END)
		return -EIO;
	out->len += made;
	return 0;
}

int httpc_read_secret(const char *path, char **out)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[65536];
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = -errno;
			close(fd);
			return rc;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == sizeof(buf) - 1) {
			close(fd);
			return -EFBIG;
		}
	}
	close(fd);
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 0 : -ENOMEM;
}
