/* Output `tcp`: events as lines over one TCP connection (optionally TLS),
 * as NDJSON (`format: json_lines`) or as the bare `message` field (`raw`,
 * one line per event: syslog-style collectors, netcat).
 *
 * Delivery: the weakest of the outputs. A plain byte stream has no
 * application acknowledgement, so a record counts as delivered when
 *   1. its bytes were written to the socket,
 *   2. the peer's TCP stack acknowledged every byte up to its last one (our
 *      socket's unacknowledged send queue, SIOCOUTQ, has drained past it),
 *   3. and a zero-timeout poll after that shows the connection still good:
 *      no POLLERR/POLLHUP, no end-of-file or reset readable.
 * A run is written in chunks (flushes); each check acknowledges the chunks
 * written before it, and at the end of send() we wait (up to `timeout`) for
 * the last chunk's bytes to be acknowledged, because the module contract
 * wants every record's verdict before send returns. What this cannot see:
 * bytes the peer's kernel acknowledged but the receiving process never read
 * (it crashed, or closed with data still buffered). Those are lost although
 * acknowledged. Use elasticsearch, http or kafka where that matters.
 *
 * A connection error makes every unacknowledged record RETRY and closes the
 * socket; the next send reconnects, after the agent's backoff. abort (at
 * shutdown) wakes every wait through an eventfd. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "agent/module.h"
#include "common/clock.h"
#include "common/json_path.h"
#include "common/logging.h"
#include "common/sbuf.h"
#include "outputs/tls_client.h"

#define TCP_CHUNK (256u << 10)     /* bytes per flush */

struct tcp_conf {
	char *host;
	int64_t port;
	int format;
	struct out_tls tls;
	int64_t timeout_ms;
	int tls_on;                    /* set by tcp_check: a `tls:` block was given */
};

static const char *const format_choices[] = { "json_lines", "raw", NULL };

#define T(f) offsetof(struct tcp_conf, f)
static const struct cfg_key tcp_tls_keys[] = {
	OUT_TLS_KEYS(struct tcp_conf, tls),
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
static const struct cfg_key tcp_keys[] = {
	{ "host", CFG_T_STRING, T(host), NULL, CFG_REQUIRED, NULL, 0, 0, NULL, "host name or address to connect to" },
	{ "port", CFG_T_INT, T(port), NULL, CFG_REQUIRED, NULL, 1, 65535, NULL, "TCP port" },
	{ "format", CFG_T_ENUM, T(format), "json_lines", 0, format_choices, 0, 0, NULL,
	  "json_lines (one JSON event per line) or raw (the event's message field per line)" },
	{ "tls", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, tcp_tls_keys,
	  "TLS (OpenSSL); giving the block turns TLS on" },
	{ "timeout", CFG_T_DURATION, T(timeout_ms), "10s", 0, NULL, 100, 3600000, NULL,
	  "connect, write and acknowledgement wait bound; past it the connection is dropped and retried" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
#undef T

/* One flush of a send: recs[first..end) whose bytes end at stream position pos. */
struct chunk { size_t first, end; uint64_t pos; };

struct tcp_out {
	struct output *out;
	const struct tcp_conf *c;
	int fd;                        /* -1: not connected */
	int efd;                       /* eventfd: abort */
	struct tlsc_ctx tctx;
	struct tlsc tls;
	uint64_t written;              /* plain bytes written on this connection */
	struct sbuf buf;
	struct chunk *chunks;
	size_t nchunks, chunks_cap;
	char why[256];
};

static int aborted(struct tcp_out *t)
{
	struct pollfd p = { .fd = t->efd, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

/* Waits for events on the socket until deadline (monotonic ms); the abort
 * eventfd wakes it. revents, 0 on timeout, -ECANCELED, -errno. */
static int wait_fd(struct tcp_out *t, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clock_mono_ms();
		if (left < 0)
			left = 0;
		struct pollfd p[2] = { { .fd = t->fd, .events = events }, { .fd = t->efd, .events = POLLIN } };
		int r = poll(p, 2, (int)(left > 1000000 ? 1000000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (p[1].revents)
			return -ECANCELED;
		if (r == 0)
			return left == 0 ? 0 : wait_fd(t, events, deadline);
		return p[0].revents;
	}
}

/* --- config / lifecycle ------------------------------------------------------------------ */

static int tcp_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct tcp_conf *c = conf;
	if (!*c->host)
		return cfg_fail(err, cfg_get(map, "host") ? cfg_get(map, "host") : map, "host must not be empty");
	/* The one place that sees the map: record whether `tls:` was given
	 * (the conf is this instance's own, allocated by the agent). */
	((struct tcp_conf *)conf)->tls_on = out_tls_given(map);
	if (c->tls.key_file && !c->tls.cert_file)
		return cfg_fail(err, cfg_get(map, "tls"), "tls.key_file needs tls.cert_file");
	return 0;
}

static void disconnect(struct tcp_out *t)
{
	if (t->tls.ssl)
		tlsc_free(&t->tls);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->written = 0;
}

static void tcp_destroy(void *state)
{
	struct tcp_out *t = state;
	disconnect(t);
	tlsc_ctx_free(&t->tctx);
	if (t->efd >= 0)
		close(t->efd);
	sbuf_free(&t->buf);
	free(t->chunks);
	free(t);
}

static int tcp_init(struct output *out, const void *conf, void **state)
{
	const struct tcp_conf *c = conf;
	struct tcp_out *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->out = out;
	t->c = c;
	t->fd = -1;
	t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->efd < 0) {
		int rc = -errno;
		free(t);
		return rc;
	}
	if (c->tls_on && tlsc_ctx_init(&t->tctx, &c->tls, t->why, sizeof(t->why)) < 0) {
		LOG_ERROR(output_name(out), "%s", t->why);
		tcp_destroy(t);
		return -EINVAL;
	}
	*state = t;
	return 0;
}

static void tcp_abort(void *state)
{
	struct tcp_out *t = state;
	uint64_t one = 1;
	if (write(t->efd, &one, sizeof(one)) < 0) {
		/* the counter is already set: nothing to do */
	}
}

/* --- connecting ------------------------------------------------------------------------ */

static int connect_one(struct tcp_out *t, const struct addrinfo *ai, int64_t deadline)
{
	t->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (t->fd < 0)
		return -errno;
	int one = 1;
	setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(t->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	if (connect(t->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
		return -errno;
	int r = wait_fd(t, POLLOUT, deadline);
	if (r <= 0)
		return r == 0 ? -ETIMEDOUT : r;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	return soerr ? -soerr : 0;
}

static int handshake(struct tcp_out *t, int64_t deadline)
{
	int rc = tlsc_new(&t->tls, &t->tctx, &t->c->tls, t->fd, t->c->host);
	if (rc < 0) {
		snprintf(t->why, sizeof(t->why), "cannot set up a TLS session");
		return rc;
	}
	for (;;) {
		rc = tlsc_handshake(&t->tls, t->why, sizeof(t->why));
		if (rc == 0)
			return 0;
		if (rc != TLSC_WANT_READ && rc != TLSC_WANT_WRITE)
			return rc;
		int r = wait_fd(t, rc == TLSC_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (r == 0) {
			snprintf(t->why, sizeof(t->why), "TLS handshake timed out");
			return -ETIMEDOUT;
		}
		if (r < 0)
			return r;
	}
}

static int reconnect(struct tcp_out *t)
{
	disconnect(t);
	char port[16];
	snprintf(port, sizeof(port), "%lld", (long long)t->c->port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	int g = getaddrinfo(t->c->host, port, &hints, &res);
	if (g != 0) {
		output_error(t->out, "cannot resolve %s: %s", t->c->host, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	int64_t deadline = clock_mono_ms() + t->c->timeout_ms;
	int rc = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		rc = connect_one(t, ai, deadline);
		if (rc == 0 || rc == -ECANCELED)
			break;
		disconnect(t);
	}
	freeaddrinfo(res);
	if (rc == 0 && t->c->tls_on && (rc = handshake(t, deadline)) < 0) {
		if (rc != -ECANCELED)
			output_error(t->out, "TLS with %s:%lld failed: %s", t->c->host, (long long)t->c->port, t->why);
		disconnect(t);
		return rc;
	}
	if (rc < 0) {
		if (rc != -ECANCELED)
			output_error(t->out, "cannot connect to %s:%lld: %s", t->c->host, (long long)t->c->port,
				     strerror(-rc));
		disconnect(t);
		return rc;
	}
	LOG_INFO(output_name(t->out), "connected to %s:%lld%s", t->c->host, (long long)t->c->port,
		 t->c->tls_on ? " (TLS)" : "");
	return 0;
}

/* --- the connection's health ----------------------------------------------------------- */

/* Zero-timeout check: 0 if the connection is still good, -EPIPE if the
 * peer closed or reset it. Anything the peer sent us is read and dropped. */
static int conn_good(struct tcp_out *t)
{
	for (;;) {
		struct pollfd p = { .fd = t->fd, .events = POLLIN };
		if (poll(&p, 1, 0) < 0)
			return errno == EINTR ? 0 : -EPIPE;
		if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
			return -EPIPE;
		if (!(p.revents & POLLIN))
			return 0;
		char scratch[4096];
		ssize_t r;
		if (t->tls.ssl)
			r = tlsc_read(&t->tls, scratch, sizeof(scratch));
		else
			r = recv(t->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (r == 0)
			return -EPIPE;         /* end of file: the peer closed */
		if (r == TLSC_WANT_READ || r == TLSC_WANT_WRITE)
			return 0;              /* a TLS record that was not data (session ticket) */
		if (r < 0)
			return (errno == EAGAIN || errno == EINTR) && !t->tls.ssl ? 0 : -EPIPE;
	}
}

/* Bytes of the stream the peer's TCP has acknowledged. */
static uint64_t peer_acked(struct tcp_out *t)
{
	int outq = 0;
	if (ioctl(t->fd, SIOCOUTQ, &outq) < 0)
		outq = 0;
	uint64_t sent = t->written;
	if (t->tls.ssl)
		sent = BIO_number_written(SSL_get_wbio(t->tls.ssl));
	return sent > (uint64_t)outq ? sent - (uint64_t)outq : 0;
}

static uint64_t stream_pos(struct tcp_out *t)
{
	return t->tls.ssl ? BIO_number_written(SSL_get_wbio(t->tls.ssl)) : t->written;
}

/* Acknowledges the pending chunks whose bytes the peer has. */
static int ack_chunks(struct tcp_out *t, struct out_record *recs, size_t *done)
{
	if (conn_good(t) < 0)
		return -EPIPE;
	uint64_t acked = peer_acked(t);
	size_t k = *done;
	for (; k < t->nchunks && t->chunks[k].pos <= acked; k++)
		for (size_t i = t->chunks[k].first; i < t->chunks[k].end; i++)
			recs[i].status = OUT_OK;
	*done = k;
	return 0;
}

/* --- writing ---------------------------------------------------------------------------- */

static int write_all(struct tcp_out *t, const char *p, size_t n)
{
	int64_t deadline = clock_mono_ms() + t->c->timeout_ms;
	while (n > 0) {
		ssize_t w;
		short want = POLLOUT;
		if (t->tls.ssl) {
			w = tlsc_write(&t->tls, p, n);
			if (w == TLSC_WANT_READ || w == TLSC_WANT_WRITE) {
				want = w == TLSC_WANT_READ ? POLLIN : POLLOUT;
				w = -EAGAIN;
			}
		} else {
			w = send(t->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0)
				w = -errno;
		}
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			if (!t->tls.ssl)
				t->written += (uint64_t)w;
			continue;
		}
		if (w == -EINTR)
			continue;
		if (w != -EAGAIN)
			return w == 0 ? -EPIPE : (int)w;
		int r = wait_fd(t, want, deadline);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return r;
		if (!(r & want) && (r & (POLLERR | POLLHUP)))
			return -EPIPE;
	}
	return 0;
}

static void line(struct tcp_out *t, const struct out_record *r)
{
	size_t vlen = r->value_len > 0 ? (size_t)r->value_len : 0;
	if (t->c->format == 1 && vlen && json_path_get(r->value, vlen, "message", &t->buf)) {
		sbuf_putc(&t->buf, '\n');
		return;
	}
	/* json_lines, or raw for an event without a message: the event itself */
	if (vlen)
		sbuf_put(&t->buf, r->value, vlen);
	else
		sbuf_puts(&t->buf, "{}");
	sbuf_putc(&t->buf, '\n');
}

static int add_chunk(struct tcp_out *t, size_t first, size_t end)
{
	if (t->nchunks == t->chunks_cap) {
		size_t nc = t->chunks_cap ? t->chunks_cap * 2 : 16;
		struct chunk *v = realloc(t->chunks, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->chunks = v;
		t->chunks_cap = nc;
	}
	t->chunks[t->nchunks++] = (struct chunk){ first, end, stream_pos(t) };
	return 0;
}

/* Waits (up to timeout) until the peer acknowledged every byte written. */
static int drain(struct tcp_out *t, struct out_record *recs, size_t *done)
{
	int64_t deadline = clock_mono_ms() + t->c->timeout_ms, step = 1;
	for (;;) {
		int rc = ack_chunks(t, recs, done);
		if (rc < 0 || *done == t->nchunks)
			return rc;
		if (clock_mono_ms() >= deadline) {
			output_error(t->out, "%s:%lld did not acknowledge what was written within %lldms",
				     t->c->host, (long long)t->c->port, (long long)t->c->timeout_ms);
			return -ETIMEDOUT;
		}
		/* the ACK has no event of its own: wake on the peer's close, or after step */
		int r = wait_fd(t, POLLIN, clock_mono_ms() + step);
		if (r == -ECANCELED)
			return r;
		step = step < 50 ? step * 2 : 50;
	}
}

static int tcp_send(void *state, struct out_record *recs, size_t n)
{
	struct tcp_out *t = state;
	if (aborted(t))
		return -ECANCELED;
	/* a connection that went bad while idle is replaced before writing */
	if (t->fd >= 0 && conn_good(t) < 0) {
		LOG_INFO(output_name(t->out), "connection to %s:%lld closed by the peer; reconnecting",
			 t->c->host, (long long)t->c->port);
		disconnect(t);
	}
	int rc;
	if (t->fd < 0 && (rc = reconnect(t)) < 0)
		return rc;
	t->nchunks = 0;
	size_t done = 0, first = 0;
	sbuf_reset(&t->buf);
	for (size_t i = 0; i < n && rc >= 0; i++) {
		line(t, &recs[i]);
		if (t->buf.len < TCP_CHUNK && i + 1 < n)
			continue;
		if (t->buf.err) {
			sbuf_free(&t->buf);
			rc = -ENOMEM;
			break;
		}
		rc = write_all(t, t->buf.p, t->buf.len);
		sbuf_reset(&t->buf);
		if (rc == 0)
			rc = add_chunk(t, first, i + 1);
		first = i + 1;
		/* check before acknowledging what earlier flushes wrote */
		if (rc == 0)
			rc = ack_chunks(t, recs, &done);
	}
	if (rc == 0)
		rc = drain(t, recs, &done);
	if (rc < 0) {
		/* everything not acknowledged stays PENDING: RETRY by the return */
		size_t left = 0;
		for (size_t i = 0; i < n; i++)
			left += recs[i].status != OUT_OK;
		if (rc != -ECANCELED && rc != -ETIMEDOUT)
			output_error(t->out, "connection to %s:%lld lost: %s; %zu event(s) to retry",
				     t->c->host, (long long)t->c->port, strerror(-rc), left);
		disconnect(t);
		return rc;
	}
	return 0;
}

const struct output_module tcp_output = {
	.type = "tcp",
	.doc = "Events as lines over TCP (optionally TLS): NDJSON or the raw message. A record "
	       "is acknowledged once the peer's TCP acknowledged its bytes and the connection is "
	       "still good: the weakest guarantee of the outputs (see docs/outputs.md).",
	.keys = tcp_keys,
	.conf_size = sizeof(struct tcp_conf),
	.check = tcp_check,
	.init = tcp_init,
	.send = tcp_send,
	.abort = tcp_abort,
	.destroy = tcp_destroy,
};
