/* Partition sizes on disk for `logshipctl topics describe`, through the Kafka
 * protocol's DescribeLogDirs (API 35), the request Kafka's own kafka-log-dirs
 * tool sends. librdkafka 2.0 has no admin call for it, so this file sends it
 * itself: one short plaintext connection to each partition leader, ApiVersions
 * v0 first (to learn whether the broker knows API 35 at all), then
 * DescribeLogDirs v1 for just the partitions that broker leads.
 *
 * Sizes are best effort: when a broker cannot be asked (TLS or SASL
 * listeners, which this small client does not speak; an old broker; no
 * authorization for DESCRIBE on the cluster) they stay -1 and the caller
 * prints "-" with the reason, never a made-up figure. */
#include "cli/ctl.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define LD_API_VERSIONS 18
#define LD_DESCRIBE_LOG_DIRS 35
#define LD_MAX_RESPONSE (64u << 20)

struct wbuf { uint8_t b[65536]; size_t n; int over; };

static void w_raw(struct wbuf *w, const void *p, size_t n)
{
	if (w->n + n > sizeof(w->b)) {
		w->over = 1;
		return;
	}
	memcpy(w->b + w->n, p, n);
	w->n += n;
}
static void w_i16(struct wbuf *w, int16_t v) { uint8_t b[2] = { (uint8_t)((uint16_t)v >> 8), (uint8_t)v }; w_raw(w, b, 2); }
static void w_i32(struct wbuf *w, int32_t v)
{
	uint32_t u = (uint32_t)v;
	uint8_t b[4] = { (uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u };
	w_raw(w, b, 4);
}
static void w_str(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);
	w_i16(w, (int16_t)n);
	w_raw(w, s, n);
}

struct rbuf { const uint8_t *p, *end; int err; };

static uint64_t r_n(struct rbuf *r, size_t n)
{
	uint64_t v = 0;
	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v = v << 8 | *r->p++;
	return v;
}
static int16_t r_i16(struct rbuf *r) { return (int16_t)r_n(r, 2); }
static int32_t r_i32(struct rbuf *r) { return (int32_t)r_n(r, 4); }
static int64_t r_i64(struct rbuf *r) { return (int64_t)r_n(r, 8); }
static void r_skip_str(struct rbuf *r)
{
	int16_t n = r_i16(r);
	if (n > 0 && !r->err) {
		if (r->end - r->p < n)
			r->err = 1;
		else
			r->p += n;
	}
}
/* A string into out (truncated); 0 or -1 when null/short. */
static int r_str(struct rbuf *r, char *out, size_t cap)
{
	int16_t n = r_i16(r);
	if (r->err || n < 0 || r->end - r->p < n) {
		r->err = 1;
		return -1;
	}
	size_t k = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
	memcpy(out, r->p, k);
	out[k] = 0;
	r->p += n;
	return 0;
}

static int ld_connect(const char *host, int port, int timeout_ms)
{
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	if (getaddrinfo(host, ps, &hints, &res) != 0)
		return -EHOSTUNREACH;
	int fd = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (s < 0)
			continue;
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));  /* bounds connect() too */
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
			fd = s;
			break;
		}
		fd = -errno;
		close(s);
	}
	freeaddrinfo(res);
	return fd;
}

static int full_io(int fd, void *p, size_t n, int wr)
{
	uint8_t *b = p;
	while (n) {
		ssize_t k = wr ? send(fd, b, n, MSG_NOSIGNAL) : recv(fd, b, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k == 0 ? -ECONNRESET : -errno;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Sends one request (w holds it from the api key on) and reads its response
 * body (after the correlation id) into *out (malloc'd). */
static int ld_call(int fd, struct wbuf *w, int32_t corr, uint8_t **out, size_t *len)
{
	uint8_t sz[4];
	uint32_t n = (uint32_t)w->n;
	sz[0] = (uint8_t)(n >> 24), sz[1] = (uint8_t)(n >> 16), sz[2] = (uint8_t)(n >> 8), sz[3] = (uint8_t)n;
	int rc = full_io(fd, sz, 4, 1);
	if (!rc)
		rc = full_io(fd, w->b, w->n, 1);
	if (!rc)
		rc = full_io(fd, sz, 4, 0);
	if (rc)
		return rc;
	uint32_t rlen = (uint32_t)sz[0] << 24 | (uint32_t)sz[1] << 16 | (uint32_t)sz[2] << 8 | sz[3];
	if (rlen < 4 || rlen > LD_MAX_RESPONSE)
		return -EPROTO;
	uint8_t *buf = malloc(rlen);
	if (!buf)
		return -ENOMEM;
	rc = full_io(fd, buf, rlen, 0);
	struct rbuf r = { buf, buf + rlen, 0 };
	if (!rc && r_i32(&r) != corr)
		rc = -EPROTO;
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = rlen;
	return 0;
}

static void header(struct wbuf *w, int16_t key, int16_t ver, int32_t corr)
{
	w->n = 0;
	w->over = 0;
	w_i16(w, key);
	w_i16(w, ver);
	w_i32(w, corr);
	w_str(w, "logshipctl");
}

/* Asks one broker for the sizes of topic t's partitions it leads. */
static int ld_ask(const struct ctl *c, const char *host, int port, int32_t node,
		  const struct rd_kafka_metadata_topic *t, int64_t *sizes, const char **why)
{
	int fd = ld_connect(host, port, c->timeout_ms);
	if (fd < 0) {
		*why = "cannot connect to the partition leader";
		return fd;
	}
	struct wbuf *w = malloc(sizeof(*w));
	uint8_t *resp = NULL;
	size_t len = 0;
	int rc = w ? 0 : -ENOMEM;
	if (!rc) {
		header(w, LD_API_VERSIONS, 0, 1);
		rc = ld_call(fd, w, 1, &resp, &len);
	}
	int16_t maxv = -1;
	if (!rc) {
		struct rbuf r = { resp + 4, resp + len, 0 };
		int16_t err = r_i16(&r);
		int32_t n = r_i32(&r);
		for (int32_t i = 0; i < n && !r.err; i++) {
			int16_t key = r_i16(&r), lo = r_i16(&r), hi = r_i16(&r);
			if (key == LD_DESCRIBE_LOG_DIRS && lo <= 1)
				maxv = hi >= 1 ? 1 : hi;
		}
		if (err || r.err)
			rc = -EPROTO;
		free(resp);
		resp = NULL;
	}
	if (!rc && maxv < 0) {
		*why = "the broker does not support DescribeLogDirs";
		rc = -EOPNOTSUPP;
	}
	if (!rc) {
		header(w, LD_DESCRIBE_LOG_DIRS, maxv, 2);
		w_i32(w, 1);
		w_str(w, t->topic);
		int32_t np = 0;
		for (int p = 0; p < t->partition_cnt; p++)
			np += t->partitions[p].leader == node;
		w_i32(w, np);
		for (int p = 0; p < t->partition_cnt; p++)
			if (t->partitions[p].leader == node)
				w_i32(w, t->partitions[p].id);
		rc = w->over ? -E2BIG : ld_call(fd, w, 2, &resp, &len);
	}
	if (!rc) {
		struct rbuf r = { resp + 4, resp + len, 0 };
		r_i32(&r);  /* throttle */
		int32_t ndirs = r_i32(&r);
		for (int32_t d = 0; d < ndirs && !r.err; d++) {
			int16_t err = r_i16(&r);
			r_skip_str(&r);  /* log_dir */
			if (err == 31)   /* CLUSTER_AUTHORIZATION_FAILED */
				*why = "not authorized to describe the cluster's log dirs";
			int32_t nt = r_i32(&r);
			for (int32_t k = 0; k < nt && !r.err; k++) {
				char name[256];
				r_str(&r, name, sizeof(name));
				int32_t np = r_i32(&r);
				for (int32_t i = 0; i < np && !r.err; i++) {
					int32_t p = r_i32(&r);
					int64_t size = r_i64(&r);
					r_i64(&r);  /* offset_lag */
					int future = (int8_t)r_n(&r, 1);
					if (r.err || future || err || strcmp(name, t->topic))
						continue;
					for (int q = 0; q < t->partition_cnt; q++)
						if (t->partitions[q].id == p)
							sizes[q] = (sizes[q] < 0 ? 0 : sizes[q]) + size;
				}
			}
		}
		if (r.err) {
			*why = "the DescribeLogDirs answer does not parse";
			rc = -EPROTO;
		}
		free(resp);
	}
	if (rc && !*why)
		*why = "DescribeLogDirs failed";
	free(w);
	close(fd);
	return rc;
}

int ctl_partition_sizes(const struct ctl *c, const struct rd_kafka_metadata *md,
			const struct rd_kafka_metadata_topic *t, int64_t *sizes, const char **why)
{
	*why = NULL;
	for (int p = 0; p < t->partition_cnt; p++)
		sizes[p] = -1;
	for (int i = 0; i < c->nprops; i++)
		if (!strncmp(c->props[i], "security.protocol=", 18) && strcasecmp(c->props[i] + 18, "plaintext")) {
			*why = "sizes need a plaintext listener (DescribeLogDirs is sent without librdkafka)";
			return -EOPNOTSUPP;
		}
	int rc = 0;
	for (int b = 0; b < md->broker_cnt; b++) {
		int leads = 0;
		for (int p = 0; p < t->partition_cnt; p++)
			leads |= t->partitions[p].leader == md->brokers[b].id;
		if (!leads)
			continue;
		int r = ld_ask(c, md->brokers[b].host, md->brokers[b].port, md->brokers[b].id, t, sizes, why);
		if (r < 0)
			rc = r;
	}
	return rc;
}
