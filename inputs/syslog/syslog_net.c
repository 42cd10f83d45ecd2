/* The syslog input's sockets: listeners (UDP, TCP, unix datagram, unix
 * stream), accepted connections, and the reads. Everything is non-blocking
 * and runs on the agent's event loop; each handler reads a bounded amount and
 * returns, and epoll (level-triggered) calls it again if more is waiting.
 *
 * Memory is bounded per source: a connection owns one framer of
 * max_message_bytes (syslog_frame.c), a datagram listener one batch of
 * DGRAM_BATCH buffers; connections are capped at max_connections.
 *
 * A message the ring refuses stays where it was read into (the framer's
 * buffer, the datagram batch) and reading stops (sl_block); sl_retry_held
 * offers it again without reading anything new. */
#include "inputs/syslog/syslog_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/logging.h"

#define DGRAM_BATCH 32       /* datagrams per recvmmsg */
#define DGRAM_ROUNDS 8       /* recvmmsg calls per readiness */
#define CONN_ROUNDS 8        /* reads per connection per readiness */
#define ACCEPT_ROUNDS 64

static void recv_clock(int64_t *ms, int64_t *ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	*ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	*ms = *ns / 1000000;
}

int sl_parse_url(const char *url, enum sl_kind *kind, char *host, size_t hostsz, uint16_t *port,
		 char *path, size_t pathsz, const char **why)
{
	static const struct { const char *scheme; enum sl_kind kind; } schemes[] = {
		{ "udp://", SL_UDP }, { "tcp://", SL_TCP }, { "tls://", SL_TLS },
		{ "unix-stream://", SL_UNIX_STREAM }, { "unix://", SL_UNIX_DGRAM },
	};
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].scheme);
		if (strncmp(url, schemes[i].scheme, n) != 0)
			continue;
		const char *rest = url + n;
		*kind = schemes[i].kind;
		if (*kind == SL_UDP || *kind == SL_TCP || *kind == SL_TLS) {
			int rc = cfg_parse_hostport(rest, host, hostsz, port);
			if (rc == -ERANGE)
				*why = "port beyond 65535";
			else if (rc < 0)
				*why = "expected HOST:PORT after the scheme";
			return rc < 0 ? -EINVAL : 0;
		}
		size_t plen = strlen(rest);
		if (rest[0] != '/') {
			*why = "expected an absolute path (unix:///path)";
			return -EINVAL;
		}
		if (plen >= pathsz || plen >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			*why = "socket path too long";
			return -EINVAL;
		}
		memcpy(path, rest, plen + 1);
		return 0;
	}
	*why = "expected udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT, unix:///PATH or unix-stream:///PATH";
	return -EINVAL;
}

void sl_fd_set(struct sl *s, int fd, int kind, void *p)
{
	if (fd < 0)
		return;
	if ((size_t)fd >= s->nbyfd) {
		size_t n = s->nbyfd ? s->nbyfd : 64;
		while (n <= (size_t)fd)
			n *= 2;
		struct sl_fdref *v = realloc(s->byfd, n * sizeof(*v));
		if (!v)
			return;  /* cannot happen for fds below the limit we were given */
		memset(v + s->nbyfd, 0, (n - s->nbyfd) * sizeof(*v));
		s->byfd = v;
		s->nbyfd = n;
	}
	s->byfd[fd] = (struct sl_fdref){ (uint8_t)kind, p };
}

int sl_watch(struct sl *s, int fd, int *watched, int on)
{
	if (on && !*watched) {
		int rc = input_watch_fd(s->in, fd, EPOLLIN);
		if (rc < 0)
			return rc;
		*watched = 1;
	} else if (!on && *watched) {
		input_unwatch_fd(s->in, fd);
		*watched = 0;
	}
	return 0;
}

/* Changes what a watched connection waits for (a TLS handshake or read may
 * need the socket writable). */
void sl_watch_events(struct sl *s, struct sl_conn *c, unsigned events)
{
	if (!c->watched || c->events == events)
		return;
	input_unwatch_fd(s->in, c->fd);
	c->watched = 0;
	if (input_watch_fd(s->in, c->fd, events) == 0) {
		c->watched = 1;
		c->events = events;
	}
}

/* ",\"source\":{\"ip\":\"...\",\"port\":N}" for an inet peer, else empty. */
static size_t source_fragment(const struct sockaddr_storage *ss, char *out, size_t cap,
			      char *peer, size_t peercap)
{
	char ip[INET6_ADDRSTRLEN] = "";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		port = ntohs(a->sin6_port);
		if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip, '.'))
			memmove(ip, ip + 7, strlen(ip + 7) + 1);
	}
	if (peer)
		snprintf(peer, peercap, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
	if (!ip[0] || !out)
		return 0;
	int n = snprintf(out, cap, ",\"source\":{\"ip\":\"%s\",\"port\":%u}", ip, port);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* --- opening ------------------------------------------------------------------------- */

static int dgram_alloc(struct sl *s, struct sl_dgram *d)
{
	d->slot = s->c->max_message_bytes < 65536 ? s->c->max_message_bytes : 65536;
	d->buf = malloc(DGRAM_BATCH * d->slot);
	d->msgs = calloc(DGRAM_BATCH, sizeof(*d->msgs));
	d->iov = calloc(DGRAM_BATCH, sizeof(*d->iov));
	d->names = calloc(DGRAM_BATCH, sizeof(*d->names));
	d->ctl = calloc(DGRAM_BATCH, sizeof(*d->ctl));
	return d->buf && d->msgs && d->iov && d->names && d->ctl ? 0 : -ENOMEM;
}

static int open_inet(struct sl *s, struct sl_listener *l, const char *host, uint16_t port)
{
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	struct addrinfo hints = { 0 }, *res = NULL;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	hints.ai_socktype = l->kind == SL_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int gr = getaddrinfo(host[0] ? host : NULL, ps, &hints, &res);
	if (gr != 0) {
		LOG_ERROR(s->name, "%s: cannot resolve the address: %s", l->url, gai_strerror(gr));
		return -EINVAL;
	}
	int rc = -EADDRNOTAVAIL;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		int one = 1, zero = 0;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (a->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (l->kind == SL_UDP)
			setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
		if (l->kind == SL_UDP && s->c->receive_buffer) {
			int sz = s->c->receive_buffer > (1u << 30) ? 1 << 30 : (int)s->c->receive_buffer;
			if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
				setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		}
		if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 ||
		    (l->kind != SL_UDP && listen(fd, 1024) < 0)) {
			rc = -errno;
			close(fd);
			continue;
		}
		l->fd = fd;
		rc = 0;
		break;
	}
	freeaddrinfo(res);
	if (rc < 0)
		LOG_ERROR(s->name, "%s: cannot listen: %s", l->url, strerror(-rc));
	return rc;
}

static int open_unix(struct sl *s, struct sl_listener *l, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			LOG_ERROR(s->name, "%s: %s exists and is not a socket", l->url, path);
			return -EEXIST;
		}
		unlink(path);  /* a socket left behind by an earlier run */
	}
	int type = l->kind == SL_UNIX_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (l->kind == SL_UNIX_DGRAM && s->c->receive_buffer) {
		int sz = s->c->receive_buffer > (1u << 30) ? 1 << 30 : (int)s->c->receive_buffer;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;
		LOG_ERROR(s->name, "%s: cannot bind: %s", l->url, strerror(-rc));
		close(fd);
		return rc;
	}
	l->path = strdup(path);
	if (stat(path, &st) == 0)
		l->ino = st.st_ino;
	mode_t mode = (mode_t)strtoul(s->c->socket_mode, NULL, 8);
	if (chmod(path, mode) < 0)
		LOG_WARN(s->name, "%s: cannot set mode %s: %s", l->url, s->c->socket_mode, strerror(errno));
	if (l->kind == SL_UNIX_STREAM && listen(fd, 1024) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	l->fd = fd;
	return 0;
}

int sl_listener_open(struct sl *s, struct sl_listener *l)
{
	char host[256], path[256];
	uint16_t port = 0;
	const char *why = NULL;
	int rc = sl_parse_url(l->url, &l->kind, host, sizeof(host), &port, path, sizeof(path), &why);
	if (rc < 0)
		return rc;  /* check() reported it already */
	if ((l->kind == SL_UDP || l->kind == SL_UNIX_DGRAM) && (rc = dgram_alloc(s, &l->dg)) < 0)
		return rc;
	if (l->kind == SL_TLS) {
		char err[512];
		if ((rc = tls_server_new(&s->c->tls, &l->tls, err, sizeof(err))) < 0) {
			LOG_ERROR(s->name, "%s: %s", l->url, err);
			return rc;
		}
	}
	rc = l->kind == SL_UDP || l->kind == SL_TCP || l->kind == SL_TLS ? open_inet(s, l, host, port)
									 : open_unix(s, l, path);
	if (rc < 0)
		return rc;
	sl_fd_set(s, l->fd, 1, l);
	if ((rc = sl_watch(s, l->fd, &l->watched, 1)) < 0)
		return rc;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char where[80] = "";
	if (l->path)
		snprintf(where, sizeof(where), "%s", l->path);
	else if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) == 0)
		source_fragment(&ss, NULL, 0, where, sizeof(where));
	LOG_INFO(s->name, "listening on %s (%s)", l->url, where);
	return 0;
}

void sl_listener_close(struct sl *s, struct sl_listener *l)
{
	if (l->fd >= 0) {
		sl_watch(s, l->fd, &l->watched, 0);
		sl_fd_set(s, l->fd, 0, NULL);
		close(l->fd);
		l->fd = -1;
	}
	tls_server_free(l->tls);
	l->tls = NULL;
	if (l->path) {
		/* Only our own socket file: a later instance may have replaced it. */
		struct stat st;
		if (lstat(l->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == l->ino)
			unlink(l->path);
		free(l->path);
		l->path = NULL;
	}
}

/* --- datagrams ----------------------------------------------------------------------- */

/* Hands over [next, n) of the batch. -EAGAIN: a waitable source was refused
 * (next is the refused one). UDP refusals are drops, counted by the agent. */
static int dgram_deliver(struct sl *s, struct sl_listener *l)
{
	struct sl_dgram *d = &l->dg;
	int udp = l->kind == SL_UDP;
	for (; d->next < d->n; d->next++) {
		unsigned i = d->next;
		size_t len = d->msgs[i].msg_len;
		int trunc = (d->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
		if (len > d->slot)
			len = d->slot;
		const char *extra = NULL;
		size_t extra_len = 0;
		if (udp && s->c->source_address) {
			socklen_t nl = d->msgs[i].msg_hdr.msg_namelen;
			if (nl != d->last_len || memcmp(&d->names[i], &d->last, nl) != 0) {
				memcpy(&d->last, &d->names[i], nl);
				d->last_len = nl;
				d->extra_len = source_fragment(&d->names[i], d->extra, sizeof(d->extra), NULL, 0);
			}
			extra = d->extra;
			extra_len = d->extra_len;
		}
		int rc = sl_emit(s, !udp, d->buf + i * d->slot, len, trunc, extra, extra_len, d->recv_ms, d->now_ns);
		if (rc == -EAGAIN && !udp) {
			sl_block(s);
			return -EAGAIN;
		}
		if (rc == 0 && udp && s->blocked)
			sl_space_seen(s);
	}
	return 0;
}

/* The kernel's count of datagrams dropped on this socket before we could
 * read them (receive buffer full): logged, at most every 10 s, since the
 * agent's drop counter only sees what the ring refused. */
static void kernel_drops(struct sl *s, struct sl_listener *l, struct msghdr *h)
{
	struct sl_dgram *d = &l->dg;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
			memcpy(&d->kernel_drops, CMSG_DATA(c), sizeof(d->kernel_drops));
	int64_t now = sl_mono_ms();
	if (d->kernel_drops != d->kernel_drops_logged && now - d->drops_logged_ms >= 10000) {
		LOG_WARN(s->name, "%s: %u datagram(s) dropped by the kernel (receive buffer full; "
			 "%u in all): raise receive_buffer", l->url, d->kernel_drops - d->kernel_drops_logged,
			 d->kernel_drops);
		d->kernel_drops_logged = d->kernel_drops;
		d->drops_logged_ms = now;
	}
}

static void dgram_read(struct sl *s, struct sl_listener *l)
{
	struct sl_dgram *d = &l->dg;
	if (d->next < d->n && dgram_deliver(s, l) < 0)
		return;
	for (int round = 0; round < DGRAM_ROUNDS; round++) {
		for (unsigned i = 0; i < DGRAM_BATCH; i++) {
			d->iov[i] = (struct iovec){ d->buf + i * d->slot, d->slot };
			d->msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &d->names[i], .msg_namelen = sizeof(d->names[i]),
				.msg_iov = &d->iov[i], .msg_iovlen = 1,
				.msg_control = d->ctl[i], .msg_controllen = sizeof(d->ctl[i]),
			};
		}
		int n = recvmmsg(l->fd, d->msgs, DGRAM_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOG_WARN(s->name, "%s: receive: %s", l->url, strerror(errno));
			return;
		}
		d->n = (unsigned)n;
		d->next = 0;
		recv_clock(&d->recv_ms, &d->now_ns);
		if (l->kind == SL_UDP)
			kernel_drops(s, l, &d->msgs[n - 1].msg_hdr);
		if (dgram_deliver(s, l) < 0 || n < DGRAM_BATCH)
			return;
	}
}

/* --- connections --------------------------------------------------------------------- */

void sl_conn_close(struct sl *s, struct sl_conn *c, const char *why)
{
	if (why)
		LOG_DEBUG(s->name, "%s: connection from %s closed: %s", c->l->url, c->peer, why);
	sl_watch(s, c->fd, &c->watched, 0);
	sl_fd_set(s, c->fd, 0, NULL);
	if (c->handshaking)
		s->handshaking--;
	tls_conn_free(c->tls);
	close(c->fd);
	syslog_framer_free(&c->fr);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	free(c);
}

/* --- TLS (RFC 5425) ------------------------------------------------------------------ */

/* A handshake failure, counted and logged at most once per 10 s (a port
 * scanner or a plaintext sender must not flood the log). */
static void tls_failed(struct sl *s, struct sl_conn *c, const char *why)
{
	s->tls_failed++;
	uint64_t more;
	if (ratelimit_ok(&s->tls_fail_log, sl_mono_ms(), 10000, &more))
		LOG_WARN(s->name, "%s: TLS with %s failed: %s (%llu failed handshakes so far)", c->l->url, c->peer, why,
			 (unsigned long long)s->tls_failed);
}

/* A new connection on a tls:// listener: the context is refreshed first if
 * its certificate or key files changed (a renewal takes effect for new
 * connections without a restart), then the handshake starts. */
static int tls_start(struct sl *s, struct sl_listener *l, struct sl_conn *c, int fd)
{
	char err[512];
	int rc = tls_server_refresh(l->tls, err, sizeof(err));
	if (rc < 0)
		LOG_ERROR(s->name, "%s: the new certificate files are refused, the old ones stay in use: %s", l->url, err);
	else if (rc > 0)
		LOG_INFO(s->name, "%s: certificate files changed: reloaded", l->url);
	if (!(c->tls = tls_conn_new(l->tls, fd))) {
		LOG_WARN(s->name, "%s: out of memory for a TLS connection", l->url);
		return -ENOMEM;
	}
	c->handshaking = 1;
	if (s->handshaking++ == 0)
		sl_arm_timer(s);  /* sl_sweep_handshakes runs from the timer */
	return 0;
}

/* Drives the handshake. 1 done, 0 goes on (watching what OpenSSL waits
 * for), -1 failed (closed). */
static int tls_step(struct sl *s, struct sl_conn *c)
{
	char err[512] = "";
	unsigned want = 0;
	int rc = tls_conn_handshake(c->tls, &want, err, sizeof(err));
	if (rc < 0) {
		tls_failed(s, c, err);
		sl_conn_close(s, c, NULL);
		return -1;
	}
	if (rc == 0) {
		if (want & TLS_WANT_WRITE)
			sl_watch_events(s, c, EPOLLIN | EPOLLOUT);
		return 0;
	}
	c->handshaking = 0;
	s->handshaking--;
	sl_watch_events(s, c, EPOLLIN);
	if (logging_level() >= LOG_LEVEL_DEBUG) {
		char d[128];
		tls_conn_describe(c->tls, d, sizeof(d));
		LOG_DEBUG(s->name, "%s: TLS with %s: %s", c->l->url, c->peer, d);
	}
	return 1;
}

/* Reads like recv(2) from a plain or TLS connection. */
static ssize_t conn_recv(struct sl *s, struct sl_conn *c, char *p, size_t room)
{
	if (!c->tls)
		return recv(c->fd, p, room, 0);
	unsigned want = 0;
	ssize_t n = tls_conn_read(c->tls, p, room, &want);
	if (n < 0 && errno == EAGAIN)
		sl_watch_events(s, c, (want & TLS_WANT_WRITE) ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return n;
}

void sl_sweep_handshakes(struct sl *s, int64_t now_ms)
{
	struct sl_conn *c = s->conns, *next;
	for (; c && s->handshaking; c = next) {
		next = c->next;
		if (c->handshaking && now_ms - c->accepted_ms >= SL_HANDSHAKE_TIMEOUT_MS) {
			tls_failed(s, c, "no handshake within 10 s");
			sl_conn_close(s, c, NULL);
		}
	}
}

/* The peer's IP address bytes (none for unix sockets). */
static uint8_t peer_ip(const struct sockaddr_storage *ss, uint8_t ip[16])
{
	if (ss->ss_family == AF_INET) {
		memcpy(ip, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(ip, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return 16;
	}
	return 0;
}

/* Whether one more connection from this address is over the limit. */
static int over_address_limit(const struct sl *s, const uint8_t *ip, uint8_t iplen)
{
	if (!s->c->max_connections_per_address || !iplen)
		return 0;
	int64_t n = 0;
	for (const struct sl_conn *c = s->conns; c; c = c->next)
		if (c->iplen == iplen && memcmp(c->ip, ip, iplen) == 0 && ++n >= s->c->max_connections_per_address)
			return 1;
	return 0;
}

/* Counts and logs a refused connection, at most once per 10 s per limit. */
static void refused(struct sl *s, struct sl_listener *l, const char *limit, int64_t value,
		    const struct sockaddr_storage *ss, struct ratelimit *rl)
{
	s->conns_refused++;
	uint64_t more;
	if (!ratelimit_ok(rl, sl_mono_ms(), 10000, &more))
		return;
	char peer[64] = "a local process";
	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)
		source_fragment(ss, NULL, 0, peer, sizeof(peer));
	LOG_WARN(s->name, "%s: %s (%lld) reached: connection from %s refused (%llu refused so far)", l->url, limit,
		 (long long)value, peer, (unsigned long long)s->conns_refused);
	(void)more;  /* the running total says it */
}

static void accept_conns(struct sl *s, struct sl_listener *l)
{
	for (int i = 0; i < ACCEPT_ROUNDS && !s->blocked; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOG_WARN(s->name, "%s: accept: %s", l->url, strerror(errno));
			return;
		}
		uint8_t ip[16], iplen = peer_ip(&ss, ip);
		if (s->nconns >= s->c->max_connections) {
			refused(s, l, "max_connections", s->c->max_connections, &ss, &s->refuse_log);
			close(fd);
			continue;
		}
		if (over_address_limit(s, ip, iplen)) {
			refused(s, l, "max_connections_per_address", s->c->max_connections_per_address, &ss,
				&s->addr_refuse_log);
			close(fd);
			continue;
		}
		struct sl_conn *c = calloc(1, sizeof(*c));
		if (!c || syslog_framer_init(&c->fr, s->c->max_message_bytes) < 0) {
			LOG_WARN(s->name, "%s: out of memory for a connection", l->url);
			free(c);
			close(fd);
			return;
		}
		if (l->kind == SL_TLS && tls_start(s, l, c, fd) < 0) {
			syslog_framer_free(&c->fr);
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->l = l;
		c->last_ms = c->accepted_ms = sl_mono_ms();
		memcpy(c->ip, ip, iplen);
		c->iplen = iplen;
		if (l->kind == SL_TCP || l->kind == SL_TLS)
			c->extra_len = source_fragment(&ss, s->c->source_address ? c->extra : NULL,
						       sizeof(c->extra), c->peer, sizeof(c->peer));
		else
			snprintf(c->peer, sizeof(c->peer), "a local process");
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		sl_fd_set(s, fd, 2, c);
		if (sl_watch(s, fd, &c->watched, 1) < 0) {
			sl_conn_close(s, c, "cannot watch");
			continue;
		}
		LOG_DEBUG(s->name, "%s: connection from %s", l->url, c->peer);
	}
}

/* Emits what the connection holds and (read set) reads more. Returns
 * -EAGAIN when refused (the message is held, reading stopped), 1 when the
 * connection was closed, 0 otherwise. */
static int conn_process(struct sl *s, struct sl_conn *c, int read)
{
	int64_t recv_ms = 0, now_ns = 0;
	recv_clock(&recv_ms, &now_ns);
	if (c->held) {
		if (sl_emit(s, 1, c->held, c->held_len, c->held_trunc, c->extra, c->extra_len, recv_ms, now_ns) < 0) {
			sl_block(s);
			return -EAGAIN;
		}
		c->held = NULL;
	}
	for (int round = 0; round < CONN_ROUNDS; round++) {
		const char *m;
		size_t len;
		int trunc, r;
		while ((r = syslog_framer_next(&c->fr, &m, &len, &trunc)) == 1) {
			if (sl_emit(s, 1, m, len, trunc, c->extra, c->extra_len, recv_ms, now_ns) < 0) {
				c->held = m;
				c->held_len = len;
				c->held_trunc = trunc;
				sl_block(s);
				return -EAGAIN;
			}
		}
		if (r < 0) {
			s->framing_errors++;
			LOG_WARN(s->name, "%s: connection from %s closed: %s", c->l->url, c->peer, c->fr.error);
			sl_conn_close(s, c, NULL);
			return 1;
		}
		if (c->eof) {
			if (syslog_framer_flush(&c->fr, &m, &len) &&
			    sl_emit(s, 1, m, len, 0, c->extra, c->extra_len, recv_ms, now_ns) < 0) {
				c->held = m;
				c->held_len = len;
				c->held_trunc = 0;
				sl_block(s);
				return -EAGAIN;
			}
			sl_conn_close(s, c, "end of stream");
			return 1;
		}
		if (!read || s->blocked)
			return 0;
		size_t room;
		char *p = syslog_framer_space(&c->fr, &room);
		ssize_t n = conn_recv(s, c, p, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			c->eof = 1;  /* reset: hand over what arrived, then close */
			continue;
		}
		if (n == 0) {
			c->eof = 1;
			continue;
		}
		syslog_framer_commit(&c->fr, (size_t)n);
		c->last_ms = sl_mono_ms();
		recv_clock(&recv_ms, &now_ns);
		if ((size_t)n < room && !(c->tls && tls_conn_pending(c->tls))) {
			/* Most likely drained (OpenSSL holds nothing decrypted either);
			 * hand this over and let epoll say when more comes. */
			while ((r = syslog_framer_next(&c->fr, &m, &len, &trunc)) == 1) {
				if (sl_emit(s, 1, m, len, trunc, c->extra, c->extra_len, recv_ms, now_ns) < 0) {
					c->held = m;
					c->held_len = len;
					c->held_trunc = trunc;
					sl_block(s);
					return -EAGAIN;
				}
			}
			if (r == 0)
				return 0;
		}
	}
	return 0;
}

void sl_on_conn(struct sl *s, struct sl_conn *c)
{
	if (s->blocked)
		return;
	if (c->handshaking && tls_step(s, c) <= 0)
		return;
	if (conn_process(s, c, 1) == 0 && c->tls && tls_conn_pending(c->tls))
		sl_space_seen(s);  /* decrypted bytes wait in OpenSSL, not in the socket: come back */
}

/* Connections whose decrypted bytes wait inside OpenSSL (epoll cannot
 * tell): read on. */
void sl_drain_tls(struct sl *s)
{
	struct sl_conn *c = s->conns, *next;
	int again = 0;
	for (; c && !s->blocked; c = next) {
		next = c->next;
		if (c->tls && !c->handshaking && tls_conn_pending(c->tls) && conn_process(s, c, 1) == 0 &&
		    tls_conn_pending(c->tls))
			again = 1;
	}
	if (again)
		sl_space_seen(s);
}

void sl_on_listener(struct sl *s, struct sl_listener *l)
{
	if (l->kind == SL_UDP) {
		dgram_read(s, l);
		return;
	}
	if (s->blocked)
		return;
	if (l->kind == SL_UNIX_DGRAM)
		dgram_read(s, l);
	else
		accept_conns(s, l);
}

int sl_retry_held(struct sl *s)
{
	for (size_t i = 0; i < s->nls; i++) {
		struct sl_listener *l = &s->ls[i];
		if (l->kind == SL_UNIX_DGRAM && l->dg.next < l->dg.n && dgram_deliver(s, l) < 0)
			return -EAGAIN;
	}
	struct sl_conn *c = s->conns, *next;
	for (; c; c = next) {
		next = c->next;
		if (conn_process(s, c, 0) == -EAGAIN)
			return -EAGAIN;
	}
	return 0;
}

void sl_sweep_idle(struct sl *s, int64_t now_ms)
{
	struct sl_conn *c = s->conns, *next;
	for (; c; c = next) {
		next = c->next;
		if (!c->held && now_ms - c->last_ms >= s->c->idle_timeout_ms) {
			s->idle_closed++;
			LOG_DEBUG(s->name, "%s: closing idle connection from %s", c->l->url, c->peer);
			sl_conn_close(s, c, NULL);
		}
	}
}
