/* See httpd.h. One thread, poll() over the listening socket, an eventfd that
 * asks it to stop, and at most max_conns connections, each a small state
 * machine: read the head (bounded), answer, write, close. */
#include "common/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/logging.h"
#include "common/tls_server.h"

struct hconn {
	int fd;
	int writing;           /* 0: reading the head, 1: writing the response */
	int64_t deadline;      /* clock_mono_ms() */
	size_t hlen;
	char *head;            /* HTTPD_MAX_HEAD + 1 */
	struct sbuf out;
	size_t sent;
	struct tls_conn *tls;  /* HTTPS */
	int handshaking;
	int want_write;        /* TLS needs the socket writable to go on */
};

struct httpd {
	int lfd, wakefd, port;
	unsigned max_conns, timeout_ms;
	httpd_handler fn;
	void *arg;
	struct tls_server *tls;  /* NULL: plain HTTP */
	pthread_t thread;
	struct hconn *c;       /* max_conns slots; fd < 0 = free */
	struct pollfd *pfd;    /* 2 + max_conns */
};

static const char *reason(unsigned code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return code < 500 ? "Client Error" : "Server Error";
	}
}

static void hconn_close(struct hconn *c)
{
	tls_conn_free(c->tls);
	c->tls = NULL;
	c->handshaking = c->want_write = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->head);
	c->head = NULL;
	sbuf_free(&c->out);
	c->hlen = c->sent = 0;
	c->writing = 0;
}

/* Builds the response; a body that could not be built (out of memory) is
 * answered 500 with no body rather than a truncated one. */
static void respond(struct hconn *c, unsigned code, const char *ctype, struct sbuf *body,
		    int head_only, const char *extra)
{
	if (body->err) {
		code = 500;
		sbuf_reset(body);
	}
	sbuf_printf(&c->out, "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		    "Connection: close\r\n\r\n", code, reason(code), ctype, body->len, extra ? extra : "");
	if (!head_only && body->len)
		sbuf_put(&c->out, body->p, body->len);
	c->writing = 1;
	c->sent = 0;
}

static int token_char(unsigned char ch)
{
	return ch > 32 && ch < 127 && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

/* The head is complete in c->head[0..hlen): parse the request line and answer. */
static void answer(struct httpd *h, struct hconn *c)
{
	struct sbuf body = { 0 };
	const char *ctype = "text/plain; charset=utf-8";
	char *line = c->head, *eol = strpbrk(line, "\r\n");
	if (eol)
		*eol = '\0';
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	int ok = sp1 && sp2 && sp1 > line && sp2 > sp1 + 1 && sp1[1] == '/' &&
		 (strcmp(sp2 + 1, "HTTP/1.1") == 0 || strcmp(sp2 + 1, "HTTP/1.0") == 0);
	for (char *q = line; ok && q < sp1; q++)
		ok = token_char((unsigned char)*q);
	if (!ok) {
		sbuf_puts(&body, "bad request line\n");
		respond(c, 400, ctype, &body, 0, NULL);
		sbuf_free(&body);
		return;
	}
	*sp1 = *sp2 = '\0';
	char *path = sp1 + 1, *query = strchr(path, '?');
	if (query)
		*query = '\0';
	int head_only = strcmp(line, "HEAD") == 0;
	if (!head_only && strcmp(line, "GET") != 0) {
		sbuf_printf(&body, "method %s not allowed: GET or HEAD\n", line);
		respond(c, 405, ctype, &body, 0, "Allow: GET, HEAD\r\n");
	} else {
		unsigned code = h->fn(h->arg, line, path, &body, &ctype);
		respond(c, code, ctype, &body, head_only, NULL);
	}
	sbuf_free(&body);
}

/* recv/send over plain TCP or TLS; -1 with EAGAIN when the socket is not
 * ready (want_write says which way TLS waits). */
static ssize_t conn_read(struct hconn *c, void *p, size_t n)
{
	if (!c->tls)
		return recv(c->fd, p, n, 0);
	unsigned want = 0;
	ssize_t r = tls_conn_read(c->tls, p, n, &want);
	c->want_write = r < 0 && (want & TLS_WANT_WRITE);
	return r;
}

static ssize_t conn_write(struct hconn *c, const void *p, size_t n)
{
	if (!c->tls)
		return send(c->fd, p, n, MSG_NOSIGNAL);
	unsigned want = 0;
	ssize_t r = tls_conn_write(c->tls, p, n, &want);
	c->want_write = r < 0 && (want & TLS_WANT_WRITE);
	return r;
}

/* 1 when the handshake is done, 0 while it goes on, -1 failed (closed). */
static int handshake(struct hconn *c)
{
	char err[256];
	unsigned want = 0;
	int rc = tls_conn_handshake(c->tls, &want, err, sizeof(err));
	c->want_write = rc == 0 && (want & TLS_WANT_WRITE);
	if (rc < 0) {
		LOG_DEBUG("http", "TLS handshake failed: %s", err);
		hconn_close(c);
		return -1;
	}
	if (rc == 1)
		c->handshaking = 0;
	return rc;
}

static void on_readable(struct httpd *h, struct hconn *c)
{
	if (c->handshaking && handshake(c) <= 0)
		return;
	ssize_t n = conn_read(c, c->head + c->hlen, HTTPD_MAX_HEAD - c->hlen);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		hconn_close(c);
		return;
	}
	if (n < 0)
		return;
	size_t from = c->hlen > 3 ? c->hlen - 3 : 0;
	c->hlen += (size_t)n;
	c->head[c->hlen] = '\0';
	/* The blank line that ends the head; bare LF lines are accepted too. */
	if (strstr(c->head + from, "\r\n\r\n") || strstr(c->head + from, "\n\n")) {
		answer(h, c);
	} else if (c->hlen == HTTPD_MAX_HEAD) {
		struct sbuf body = { 0 };
		sbuf_printf(&body, "request head larger than %d bytes\n", HTTPD_MAX_HEAD);
		respond(c, 431, "text/plain; charset=utf-8", &body, 0, NULL);
		sbuf_free(&body);
	}
}

static void on_writable(struct hconn *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = conn_write(c, c->out.p + c->sent, c->out.len - c->sent);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			break;
		}
		c->sent += (size_t)n;
	}
	/* All sent (or the peer is gone): a half-close first so that the
	 * response is not cut by a reset if the peer sent more than its head. */
	if (!c->tls)
		shutdown(c->fd, SHUT_WR);  /* TLS: tls_conn_free sends close_notify */
	char sink[4096];
	for (int i = 0; i < 16 && recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++) {
		/* unread request bytes would turn close() into a reset */
	}
	hconn_close(c);
}

static void on_accept(struct httpd *h)
{
	for (;;) {
		int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;  /* EAGAIN, or EMFILE and the like: retried on the next readiness */
		struct hconn *c = NULL;
		for (unsigned i = 0; i < h->max_conns && !c; i++)
			if (h->c[i].fd < 0)
				c = &h->c[i];
		if (!c || !(c->head = malloc(HTTPD_MAX_HEAD + 1))) {
			close(fd);  /* over the limit: refused at once */
			continue;
		}
		if (h->tls) {
			char err[256];
			if (tls_server_refresh(h->tls, err, sizeof(err)) < 0)
				LOG_ERROR("http", "new certificate files refused, the old ones stay in use: %s", err);
			if (!(c->tls = tls_conn_new(h->tls, fd))) {
				free(c->head);
				c->head = NULL;
				close(fd);
				continue;
			}
			c->handshaking = 1;
		}
		c->fd = fd;
		c->deadline = clock_mono_ms() + h->timeout_ms;
	}
}

static void *serve(void *arg)
{
	struct httpd *h = arg;
	for (;;) {
		nfds_t n = 0;
		h->pfd[n++] = (struct pollfd){ .fd = h->wakefd, .events = POLLIN };
		h->pfd[n++] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
		int64_t now = clock_mono_ms(), next = -1;
		for (unsigned i = 0; i < h->max_conns; i++) {
			struct hconn *c = &h->c[i];
			if (c->fd < 0)
				continue;
			if (c->deadline <= now) {
				hconn_close(c);  /* slow or stalled client */
				continue;
			}
			if (next < 0 || c->deadline < next)
				next = c->deadline;
			h->pfd[n++] = (struct pollfd){ .fd = c->fd,
						       .events = c->writing || c->want_write ? POLLOUT : POLLIN };
		}
		int timeout = next < 0 ? -1 : (int)(next - now);
		if (poll(h->pfd, n, timeout) < 0 && errno != EINTR)
			break;
		if (h->pfd[0].revents)
			break;
		for (nfds_t k = 2; k < n; k++) {
			if (!h->pfd[k].revents)
				continue;
			for (unsigned i = 0; i < h->max_conns; i++) {
				struct hconn *c = &h->c[i];
				if (c->fd != h->pfd[k].fd)
					continue;
				if (c->writing)
					on_writable(c);
				else
					on_readable(h, c);
				/* Bytes OpenSSL already decrypted do not wake poll. */
				while (c->fd >= 0 && !c->writing && c->tls && !c->handshaking &&
				       tls_conn_pending(c->tls))
					on_readable(h, c);
				if (c->fd >= 0 && c->writing && !(h->pfd[k].events & POLLOUT))
					on_writable(c);  /* usually goes out at once */
				break;
			}
		}
		if (h->pfd[1].revents)
			on_accept(h);
	}
	return NULL;
}

static int listen_on(const char *addr, int *port, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(host) || !colon[1]) {
		snprintf(err, errlen, "bad listen address '%s': want host:port", addr);
		return -1;
	}
	size_t hl = (size_t)(colon - addr);
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &ai);
	if (g != 0) {
		snprintf(err, errlen, "cannot resolve listen address '%s': %s", addr, gai_strerror(g));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	*port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

struct httpd *httpd_start(const char *listen, const struct httpd_options *opt, httpd_handler fn,
			  void *arg, char *err, size_t errlen)
{
	struct httpd *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->max_conns = opt && opt->max_conns ? opt->max_conns : 32;
	h->timeout_ms = opt && opt->timeout_ms ? opt->timeout_ms : 10000;
	h->fn = fn;
	h->arg = arg;
	h->wakefd = -1;
	h->lfd = -1;
	if (opt && opt->tls && tls_server_new(opt->tls, &h->tls, err, errlen) < 0) {
		free(h);
		return NULL;
	}
	h->lfd = listen_on(listen, &h->port, err, errlen);
	h->c = calloc(h->max_conns, sizeof(*h->c));
	h->pfd = calloc(2 + (size_t)h->max_conns, sizeof(*h->pfd));
	if (h->lfd >= 0 && (!h->c || !h->pfd))
		snprintf(err, errlen, "out of memory");
	if (h->lfd >= 0 && h->c && h->pfd && (h->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
	for (unsigned i = 0; h->c && i < h->max_conns; i++)
		h->c[i].fd = -1;
	int rc = h->wakefd >= 0 ? pthread_create(&h->thread, NULL, serve, h) : -1;
	if (rc > 0)
		snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
	if (rc != 0) {
		if (h->lfd >= 0)
			close(h->lfd);
		if (h->wakefd >= 0)
			close(h->wakefd);
		free(h->c);
		free(h->pfd);
		tls_server_free(h->tls);
		free(h);
		return NULL;
	}
	return h;
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	uint64_t one = 1;
	if (write(h->wakefd, &one, sizeof(one)) < 0) {
		/* an eventfd write fails only on overflow: it is already signalled */
	}
	pthread_join(h->thread, NULL);
	for (unsigned i = 0; i < h->max_conns; i++)
		hconn_close(&h->c[i]);
	close(h->lfd);
	close(h->wakefd);
	free(h->c);
	free(h->pfd);
	tls_server_free(h->tls);
	free(h);
}
