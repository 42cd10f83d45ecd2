/* The broker's network loop: one epoll loop, non-blocking sockets, no thread
 * per connection.
 *
 * A connection reads size-prefixed Kafka request frames into one buffer and
 * hands each complete frame to broker_handle() at once, so pipelined Produce
 * requests share one group-committed fdatasync. Responses must leave in
 * request order (Kafka's rule), so every request that answers gets a slot in
 * the connection's FIFO; a slot is sent only when it and every slot before it
 * are ready. Slots wait for two things:
 *   - durability (Produce acks=-1): ready once each partition's
 *     durable_offset covers the batch; the log's flusher thread tells us
 *     through an eventfd (LOG_EV_DURABLE);
 *   - a long poll (Fetch with max_wait_ms/min_bytes, a JoinGroup waiting for
 *     its peers): the handler is run again on every wake-up and once more
 *     with final=1 at the deadline.
 * While a long poll is parked, that connection handles no further requests
 * (its later responses could not go out anyway) and its socket is not read
 * once a whole frame is buffered, so memory per connection stays bounded by
 * max_request_bytes plus MAX_SLOTS responses.
 *
 * Listeners (several, each plaintext or TLS, with or without SASL): a TLS
 * connection does its handshake first (a connection state; tls.c does the
 * OpenSSL side), then reads and writes through tls.c. Before a connection
 * on a SASL listener has authenticated, its frames are bounded by
 * PREAUTH_MAX_FRAME, and the handlers close it on anything but ApiVersions
 * and the SASL requests.
 *
 * Limits, checked where bytes or connections arrive: max_connections (all
 * listeners), a listener's own max_connections, max_connections_per_ip
 * (refusals logged at most once a second, and counted); auth_timeout from
 * accept to authenticated (TLS handshake and SASL), request_timeout from a
 * request's first byte to its last (slowloris), idle_timeout without a
 * request. A sweep once a second closes what is past its time.
 *
 * Invariants: a frame size is checked against max_request_bytes before any
 * buffer grows for it; a malformed request closes only its own connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/connlimit.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/notify.h"

#define MAX_SLOTS 64            /* responses queued per connection */
#define READ_CHUNK (64 * 1024)
#define SHUTDOWN_MS 4500        /* SIGTERM to exit: well inside 5 s */
#define PREAUTH_MAX_FRAME (SASL_TOKEN_MAX + 1024)  /* before SASL is done */
#define SWEEP_MS 1000

enum slot_state { SLOT_READY, SLOT_DURABLE, SLOT_POLL };

struct slot {
	struct slot *next;
	enum slot_state state;
	struct kwriter resp;
	struct req_wait wait;
	uint8_t *req;             /* SLOT_POLL: the request, to run again */
	size_t req_len;
};

struct listener {
	struct broker_listener pub;   /* what handlers see (sessions point here) */
	int fd;
	char bound[300];
	struct ratelimit refused_log;
};

enum conn_state { CONN_TLS_HANDSHAKE, CONN_OPEN };

struct conn {
	struct conn *prev, *next;
	int fd;
	uint32_t events;          /* what epoll watches now */
	enum conn_state state;
	struct listener *lst;
	struct tls_conn *tls;     /* NULL: plaintext */
	unsigned tls_want;        /* what the last TLS call waits for */
	struct connlimit_key addr;
	struct broker_session ses;
	int64_t accepted_ms, frame_start_ms, active_ms;
	int closing;              /* answer what is queued, then close */
	char peer[64];
	uint8_t *in;
	size_t in_len, in_cap;
	struct slot *head, *tail;
	size_t nslots, sent;      /* sent: bytes of head->resp already written */
	int polls;                /* parked long polls in the FIFO */
	int dead;
};

struct server {
	struct broker *b;
	int ep, sfd, wfd;
	struct listener *lst;
	size_t nlst;
	struct connlimit *per_ip;
	struct conn *conns;
	size_t nconns;
	int polls;                /* parked slots of any kind, all connections */
	int stopping;
	int64_t stop_deadline, next_retention, next_group, next_sweep;
	struct ratelimit timeout_log;
};

/* Called by the logs from any thread: nudge the loop. LOG_EV_APPEND alone
 * needs no nudge: appends happen on the loop thread itself (Produce, offset
 * commits), and the loop runs check_parked() after every round of events,
 * so parked fetches see new data without a write(2) per appended batch. */
static void wake_notify(void *arg, unsigned events)
{
	struct server *s = arg;
	if (events == LOG_EV_APPEND)
		return;
	uint64_t one = 1;
	if (write(s->wfd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the loop will wake. */
	}
}

void broker_wake(struct broker *b)
{
	if (b->wake_fd >= 0) {
		uint64_t one = 1;
		if (write(b->wake_fd, &one, sizeof(one)) < 0) {
			/* already pending */
		}
	}
}

/* --- connections ----------------------------------------------------------- */

static void conn_watch(struct server *s, struct conn *c, uint32_t want)
{
	if (c->events == want)
		return;
	struct epoll_event ev = { .events = want, .data.ptr = c };
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

static void slot_free(struct slot *sl)
{
	kw_free(&sl->resp);
	req_wait_free(&sl->wait);
	free(sl->req);
	free(sl);
}

static void conn_close(struct server *s, struct conn *c)
{
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	tls_conn_free(c->tls);
	close(c->fd);
	broker_session_free(&c->ses);
	connlimit_put(s->per_ip, &c->addr);
	c->lst->pub.nconns--;
	s->b->ctr.open--;
	while (c->head) {
		struct slot *sl = c->head;
		c->head = sl->next;
		if (sl->state != SLOT_READY)
			s->polls--;
		slot_free(sl);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	LOG_DEBUG("broker", "%s: connection closed", c->peer);
	free(c->in);
	free(c);
}

/* Logs a refused connection, at most once a second per listener. */
static void refused(struct server *s, struct listener *l, const char *host, const char *why, long long limit)
{
	uint64_t more;
	char note[64];
	if (ratelimit_ok(&l->refused_log, clock_mono_ms(), 1000, &more))
		LOG_WARN("broker", "%s: refused: %s (%lld) reached on listener %s%s", host, why, limit, l->pub.name,
			 ratelimit_note(more, note, sizeof(note)));
}

static void accept_all(struct server *s, struct listener *l)
{
	struct broker_config *cfg = &s->b->cfg;
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(l->fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				LOG_WARN("broker", "accept on %s: %s", l->pub.name, strerror(errno));
			return;
		}
		char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
		getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
		struct connlimit_key key = connlimit_key_of((struct sockaddr *)&sa);
		int64_t lmax = l->pub.cfg ? l->pub.cfg->max_connections : 0;
		if ((int64_t)s->nconns >= cfg->max_connections) {
			s->b->ctr.refused_max++;
			refused(s, l, host, "max_connections", (long long)cfg->max_connections);
			close(fd);
			continue;
		}
		if (lmax > 0 && (int64_t)l->pub.nconns >= lmax) {
			s->b->ctr.refused_listener++;
			refused(s, l, host, "listener max_connections", (long long)lmax);
			close(fd);
			continue;
		}
		int taken = connlimit_take(s->per_ip, &key, cfg->max_connections_per_ip);
		if (taken <= 0) {
			if (taken == 0) {
				s->b->ctr.refused_ip++;
				refused(s, l, host, "max_connections_per_ip", (long long)cfg->max_connections_per_ip);
			}
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		if (c && l->pub.tls && !(c->tls = tls_conn_new(l->pub.tls, fd))) {
			free(c);
			c = NULL;
		}
		if (!c) {
			connlimit_put(s->per_ip, &key);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->lst = l;
		c->addr = key;
		c->state = c->tls ? CONN_TLS_HANDSHAKE : CONN_OPEN;
		c->accepted_ms = c->active_ms = clock_mono_ms();
		snprintf(c->peer, sizeof(c->peer), "%.46s:%.8s", host, port);  /* an IPv6 literal fits */
		c->ses.peer = c->peer;
		c->ses.lst = &l->pub;
		c->ses.authenticated = l->pub.mechs == 0;
		snprintf(c->ses.principal, sizeof(c->ses.principal), "%s", ACL_ANONYMOUS);
		c->events = EPOLLIN;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			connlimit_put(s->per_ip, &key);
			tls_conn_free(c->tls);
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		l->pub.nconns++;
		s->b->ctr.accepted++;
		s->b->ctr.open++;
		LOG_DEBUG("broker", "%s: connected to listener %s", c->peer, l->pub.name);
	}
}

/* The socket or TLS side of a connection, as read(2)/send(2). */
static ssize_t conn_recv(struct conn *c, void *buf, size_t n)
{
	if (c->tls)
		return tls_conn_read(c->tls, buf, n, &c->tls_want);
	return read(c->fd, buf, n);
}

static ssize_t conn_send(struct conn *c, const void *buf, size_t n)
{
	if (c->tls)
		return tls_conn_write(c->tls, buf, n, &c->tls_want);
	return send(c->fd, buf, n, MSG_NOSIGNAL);
}

/* Advances a TLS handshake. Returns -1 when the connection must go. */
static int conn_handshake(struct server *s, struct conn *c)
{
	char err[300];
	int rc = tls_conn_handshake(c->tls, &c->tls_want, err, sizeof(err));
	if (rc < 0) {
		s->b->ctr.tls_failed++;
		LOG_WARN("broker", "%s: TLS handshake failed on listener %s: %s", c->peer, c->lst->pub.name, err);
		return -1;
	}
	if (rc == 0)
		return 0;
	c->state = CONN_OPEN;
	c->tls_want = 0;
	char cn[USER_NAME_MAX + 1], desc[128];
	/* Without SASL a verified client certificate names the principal. */
	if (!c->lst->pub.mechs && tls_conn_peer_cn(c->tls, cn, sizeof(cn)) == 0) {
		if (users_name_ok(cn, strlen(cn)))
			snprintf(c->ses.principal, sizeof(c->ses.principal), "%s", cn);
		else
			LOG_WARN("broker", "%s: client certificate CN has blanks, ':' or control characters: "
				 "principal stays %s", c->peer, ACL_ANONYMOUS);
	}
	tls_conn_describe(c->tls, desc, sizeof(desc));
	LOG_DEBUG("broker", "%s: TLS established (%s), principal %s", c->peer, desc, c->ses.principal);
	return 0;
}

/* The size of the frame at the front of the input buffer, or -1 if its size
 * prefix is not complete yet. */
static int64_t frame_size(const struct conn *c)
{
	if (c->in_len < 4)
		return -1;
	return (int32_t)((uint32_t)c->in[0] << 24 | (uint32_t)c->in[1] << 16 |
			 (uint32_t)c->in[2] << 8 | c->in[3]);
}

static int frame_complete(const struct conn *c)
{
	int64_t n = frame_size(c);
	return n >= 0 && c->in_len >= (size_t)n + 4;
}

static void slot_push(struct conn *c, struct slot *sl)
{
	if (c->tail)
		c->tail->next = sl;
	else
		c->head = sl;
	c->tail = sl;
	c->nslots++;
}

/* Runs one request into a new slot. Returns -1 when the connection must go. */
static int handle_frame(struct server *s, struct conn *c, uint8_t *req, size_t len)
{
	struct slot *sl = calloc(1, sizeof(*sl));
	if (!sl)
		return -1;
	kw_init(&sl->resp);
	int64_t now = clock_mono_ms();
	c->active_ms = now;
	enum req_result r = broker_handle_as(s->b, &c->ses, req, len, s->stopping, now, &sl->resp, &sl->wait);
	if (c->ses.close_after)
		c->closing = 1;
	switch (r) {
	case REQ_CLOSE:
		slot_free(sl);
		return -1;
	case REQ_NO_RESPONSE:
		slot_free(sl);
		return 0;
	case REQ_RESPOND:
		sl->state = SLOT_READY;
		break;
	case REQ_WAIT:
		if (sl->wait.kind == WAIT_DURABLE) {
			sl->state = SLOT_DURABLE;
		} else {
			sl->state = SLOT_POLL;
			sl->req = malloc(len);
			if (!sl->req) {
				slot_free(sl);
				return -1;
			}
			memcpy(sl->req, req, len);
			sl->req_len = len;
			c->polls++;
		}
		s->polls++;
		break;
	}
	slot_push(c, sl);
	return 0;
}

/* Handles every complete frame it may: stops at a parked long poll or a full
 * FIFO, and leaves the rest buffered. */
static int conn_process(struct server *s, struct conn *c)
{
	size_t pos = 0;
	int rc = 0;
	while (!c->polls && !c->closing && c->nslots < MAX_SLOTS && c->in_len - pos >= 4) {
		const uint8_t *p = c->in + pos;
		int32_t n = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
		if (c->in_len - pos - 4 < (size_t)n)
			break;
		rc = handle_frame(s, c, c->in + pos + 4, (size_t)n);
		pos += 4 + (size_t)n;
		if (rc < 0)
			break;
	}
	if (pos) {
		memmove(c->in, c->in + pos, c->in_len - pos);
		c->in_len -= pos;
		c->frame_start_ms = clock_mono_ms();  /* what is left started now */
		if (c->in_len == 0 && c->in_cap > 4 * READ_CHUNK) {
			/* After a large request: an idle connection keeps no big buffer. */
			free(c->in);
			c->in = NULL;
			c->in_cap = 0;
		}
	}
	return rc;
}

/* Reads what the socket has, bounded by the frame being assembled. Returns -1
 * when the connection must go (EOF, error, oversized frame). */
static int conn_read(struct server *s, struct conn *c)
{
	for (;;) {
		int64_t fs = frame_size(c);
		if (fs < 0 && c->in_len >= 4) {
			LOG_WARN("broker", "%s: negative request size %lld: closing", c->peer, (long long)fs);
			s->b->malformed++;
			return -1;
		}
		if (fs > (int64_t)s->b->cfg.max_request_bytes) {
			LOG_WARN("broker", "%s: request of %lld bytes exceeds max_request_bytes (%llu): closing",
				 c->peer, (long long)fs, (unsigned long long)s->b->cfg.max_request_bytes);
			s->b->malformed++;
			return -1;
		}
		if (!c->ses.authenticated && fs > PREAUTH_MAX_FRAME) {
			LOG_WARN("broker", "%s: request of %lld bytes before SASL authentication (at most %d): closing",
				 c->peer, (long long)fs, PREAUTH_MAX_FRAME);
			s->b->malformed++;
			return -1;
		}
		if (c->closing || (frame_complete(c) && (c->polls || c->nslots >= MAX_SLOTS)))
			return 0;  /* blocked: let TCP push back */
		/* Room for one more chunk, the buffer doubling as bytes arrive: a
		 * size prefix alone never allocates what it claims, so a
		 * connection's memory follows what its client actually sent
		 * (at most twice that, plus a chunk). */
		if (c->in_cap - c->in_len < READ_CHUNK) {
			size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
			while (cap - c->in_len < READ_CHUNK)
				cap *= 2;
			uint8_t *p = realloc(c->in, cap);
			if (!p)
				return -1;
			c->in = p;
			c->in_cap = cap;
		}
		ssize_t n = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
		if (n == 0) {
			if (c->in_len)  /* a truncated request: worth a line, as any malformed one */
				LOG_INFO("broker", "%s: closed mid-request (%zu bytes of a frame buffered)", c->peer,
					 c->in_len);
			return -1;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (c->in_len == 0)
			c->frame_start_ms = clock_mono_ms();
		c->in_len += (size_t)n;
		if (conn_process(s, c) < 0)
			return -1;
	}
}

/* Writes ready responses in FIFO order. Returns -1 on a write error. */
static int conn_write(struct server *s, struct conn *c)
{
	while (c->head && c->head->state == SLOT_READY) {
		struct slot *sl = c->head;
		while (c->sent < sl->resp.len) {
			ssize_t n = conn_send(c, sl->resp.buf + c->sent, sl->resp.len - c->sent);
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : -1;
			c->sent += (size_t)n;
		}
		c->sent = 0;
		c->head = sl->next;
		if (!c->head)
			c->tail = NULL;
		c->nslots--;
		slot_free(sl);
	}
	return 0;
}

/* After anything happened on c: write, process what was blocked, set the
 * epoll mask. Returns -1 if c was closed. */
static int conn_update(struct server *s, struct conn *c)
{
	if (c->state == CONN_TLS_HANDSHAKE) {
		conn_watch(s, c, c->tls_want & TLS_WANT_WRITE ? EPOLLOUT : EPOLLIN);
		return 0;
	}
	for (;;) {
		if (conn_write(s, c) < 0 || c->dead || (c->closing && !c->head)) {
			conn_close(s, c);
			return -1;
		}
		size_t before = c->nslots;
		if (!s->stopping && !c->closing && frame_complete(c) && !c->polls && c->nslots < MAX_SLOTS) {
			if (conn_process(s, c) < 0) {
				conn_close(s, c);
				return -1;
			}
		}
		/* Bytes OpenSSL has decrypted already never wake epoll again:
		 * read them now that reading is allowed. */
		if (c->tls && !s->stopping && !c->closing && tls_conn_pending(c->tls) &&
		    !(frame_complete(c) && (c->polls || c->nslots >= MAX_SLOTS))) {
			if (conn_read(s, c) < 0) {
				conn_close(s, c);
				return -1;
			}
			continue;
		}
		if (c->nslots == before || !(c->head && c->head->state == SLOT_READY))
			break;
	}
	uint32_t want = 0;
	if (!s->stopping && !c->closing && !(frame_complete(c) && (c->polls || c->nslots >= MAX_SLOTS)))
		want |= EPOLLIN;
	if (c->head && c->head->state == SLOT_READY)
		want |= EPOLLOUT;
	/* A TLS read may wait for the socket to be writable and a write for
	 * it to be readable. */
	if (c->tls_want & TLS_WANT_WRITE)
		want |= EPOLLOUT;
	if (c->tls_want & TLS_WANT_READ)
		want |= EPOLLIN;
	conn_watch(s, c, want);
	return 0;
}

/* Closes connections past their auth, request or idle deadline. */
static void sweep(struct server *s, int64_t mono)
{
	if (mono < s->next_sweep)
		return;
	s->next_sweep = mono + SWEEP_MS;
	const struct broker_config *cfg = &s->b->cfg;
	struct conn *next;
	for (struct conn *c = s->conns; c; c = next) {
		next = c->next;
		const char *why = NULL;
		_Atomic uint64_t *ctr = NULL;
		if ((c->state != CONN_OPEN || !c->ses.authenticated) && mono - c->accepted_ms > cfg->auth_timeout_ms) {
			why = c->state != CONN_OPEN ? "TLS handshake not done within auth_timeout"
						     : "SASL authentication not done within auth_timeout";
			ctr = &s->b->ctr.timeout_auth;
		} else if (c->in_len > 0 && !frame_complete(c) && mono - c->frame_start_ms > cfg->request_timeout_ms) {
			why = "request not complete within request_timeout";
			ctr = &s->b->ctr.timeout_request;
		} else if (!c->head && c->in_len == 0 && mono - c->active_ms > cfg->idle_timeout_ms) {
			why = "idle for idle_timeout";
			ctr = &s->b->ctr.timeout_idle;
		}
		if (!why)
			continue;
		(*ctr)++;
		uint64_t more;
		char note[64];
		if (ratelimit_ok(&s->timeout_log, mono, 1000, &more))
			LOG_INFO("broker", "%s: closing: %s%s", c->peer, why, ratelimit_note(more, note, sizeof(note)));
		conn_close(s, c);
	}
}

/* Re-examines parked slots: durable waits, and long polls (run again; at
 * their deadline or when stopping, for the last time). */
static void check_parked(struct server *s, int64_t mono)
{
	if (!s->polls)
		return;
	struct conn *next;
	for (struct conn *c = s->conns; c; c = next) {
		next = c->next;
		int changed = 0;
		for (struct slot *sl = c->head; sl; sl = sl->next) {
			if (sl->state == SLOT_DURABLE) {
				if (broker_wait_durable_done(s->b, &sl->wait)) {
					sl->state = SLOT_READY;
					s->polls--;
					changed = 1;
				}
			} else if (sl->state == SLOT_POLL) {
				int final = s->stopping || mono >= sl->wait.deadline_ms;
				int64_t deadline = sl->wait.deadline_ms;
				req_wait_free(&sl->wait);
				enum req_result r = broker_handle_as(s->b, &c->ses, sl->req, sl->req_len, final, mono,
								     &sl->resp, &sl->wait);
				if (r == REQ_WAIT) {
					sl->wait.deadline_ms = deadline;  /* the first deadline holds */
					continue;
				}
				s->polls--;
				c->polls--;
				free(sl->req);
				sl->req = NULL;
				if (r == REQ_CLOSE)
					c->dead = 1;
				sl->state = SLOT_READY;
				changed = 1;
			}
		}
		if (changed)
			conn_update(s, c);
	}
}

/* Milliseconds until the next deadline the loop must act on. */
static int next_timeout(struct server *s, int64_t mono)
{
	int64_t t = s->next_retention;
	if (s->next_group < t)
		t = s->next_group;
	if (s->nconns && s->next_sweep < t)
		t = s->next_sweep;
	if (s->stopping)
		t = mono + 50;
	for (struct conn *c = s->conns; c && s->polls; c = c->next)
		for (struct slot *sl = c->head; sl; sl = sl->next)
			if (sl->state == SLOT_POLL && sl->wait.deadline_ms < t)
				t = sl->wait.deadline_ms;
	int64_t d = t - mono;
	return d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
}

static void retention(struct server *s, int64_t mono)
{
	if (mono < s->next_retention)
		return;
	s->next_retention = mono + s->b->cfg.retention_check_interval_ms;
	int64_t age = s->b->cfg.retention_hours > 0 ? s->b->cfg.retention_hours * 3600 * 1000 : -1;
	int n = topics_retain(&s->b->topics, clock_wall_ms(), age, s->b->cfg.retention_bytes);
	if (n > 0)
		LOG_INFO("broker", "retention: %d segment(s) deleted", n);
}

/* --- listen ---------------------------------------------------------------- */

static int listen_on(const char *hostport, char *bound, size_t boundlen)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	if (!colon)
		return -EINVAL;
	size_t hl = (size_t)(colon - hostport);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hostport, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai;
	int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (rc != 0) {
		LOG_ERROR("broker", "listen %s: %s", hostport, gai_strerror(rc));
		return -EINVAL;
	}
	int fd = -1;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 512) == 0)
			break;
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		LOG_ERROR("broker", "cannot listen on %s: %s", hostport, strerror(rc ? -rc : EINVAL));
		return rc ? rc : -EINVAL;
	}
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	char h[NI_MAXHOST], p[NI_MAXSERV];
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&sa, sl, h, sizeof(h), p, sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(bound, boundlen, strchr(h, ':') ? "[%s]:%s" : "%s:%s", h, p);
	else
		snprintf(bound, boundlen, "%s", hostport);
	return fd;
}

/* The host and port clients of a listener are told to connect to
 * (Metadata, FindCoordinator): the listener's own advertised_*, else the
 * top-level ones, else what it is bound to (0.0.0.0: the hostname). */
static void advertise(struct broker *b, struct listener *l)
{
	const struct listener_config *lc = l->pub.cfg;
	const char *bound = l->bound;
	const char *colon = strrchr(bound, ':');
	int port = colon ? atoi(colon + 1) : 9092;
	int64_t aport = lc && lc->advertised_port > 0 ? lc->advertised_port : !lc ? b->cfg.advertised_port : 0;
	const char *ahost = lc && lc->advertised_host && lc->advertised_host[0] ? lc->advertised_host
											: b->cfg.advertised_host;
	struct broker_listener *p = &l->pub;
	p->adv_port = aport > 0 ? (int32_t)aport : port;
	if (ahost && ahost[0]) {
		snprintf(p->adv_host, sizeof(p->adv_host), "%s", ahost);
		return;
	}
	size_t hl = colon ? (size_t)(colon - bound) : strlen(bound);
	snprintf(p->adv_host, sizeof(p->adv_host), "%.*s", (int)hl, bound);
	if (p->adv_host[0] == '[') {  /* [::1] -> ::1 */
		size_t n = strlen(p->adv_host);
		memmove(p->adv_host, p->adv_host + 1, n);
		p->adv_host[n - 2] = 0;
	}
	if (!strcmp(p->adv_host, "0.0.0.0") || !strcmp(p->adv_host, "::") || !p->adv_host[0])
		if (gethostname(p->adv_host, sizeof(p->adv_host)) < 0)
			snprintf(p->adv_host, sizeof(p->adv_host), "localhost");
}

/* Loads (or reloads) what a listener reads from files: its TLS context and
 * its users. On a reload a file that fails keeps the old state. */
static int listener_load(struct listener *l, int reload)
{
	const struct listener_config *lc = l->pub.cfg;
	char err[1200];
	int rc = 0;
	if (!lc)
		return 0;
	if (lc->has_tls) {
		if (!reload)
			rc = tls_server_new(&(struct tls_server_conf){ lc->tls_cert_file, lc->tls_key_file, lc->tls_ca_file,
								      lc->tls_client_auth, lc->tls_min_version },
					    &l->pub.tls, err, sizeof(err));
		else
			rc = tls_server_reload(l->pub.tls, err, sizeof(err));
		if (rc < 0) {
			LOG_ERROR("broker", "listener %s: %s%s", l->pub.name, err, reload ? " (the old certificates stay)" : "");
			if (!reload)
				return rc;
		} else if (reload) {
			LOG_INFO("broker", "listener %s: TLS certificates reloaded (new connections use them)", l->pub.name);
		}
	}
	if (lc->has_sasl) {
		struct users u;
		rc = users_load(lc->sasl_users_file, &u, err, sizeof(err));
		if (rc < 0) {
			LOG_ERROR("broker", "listener %s: users_file %s%s", l->pub.name, err,
				  reload ? " (the old users stay)" : "");
			return reload ? 0 : rc;
		}
		users_free(&l->pub.users);
		l->pub.users = u;
		if (reload)
			LOG_INFO("broker", "listener %s: %zu SASL user(s) reloaded", l->pub.name, u.n);
	}
	return 0;
}

static int acl_reload(struct broker *b, int reload)
{
	if (!b->cfg.acl_file || !b->cfg.acl_file[0])
		return 0;
	char err[600];
	struct acl *a;
	int rc = acl_load(b->cfg.acl_file, &a, err, sizeof(err));
	if (rc < 0) {
		LOG_ERROR("broker", "acl_file %s%s", err, reload ? " (the old rules stay)" : "");
		return reload ? 0 : rc;
	}
	acl_free(b->acl);
	b->acl = a;
	LOG_INFO("broker", "ACL: %zu rule(s) from %s", a->n, b->cfg.acl_file);
	return 0;
}

/* Binds every configured listener (or the one plaintext `listen`). */
static int listeners_open(struct server *s)
{
	struct broker_config *cfg = &s->b->cfg;
	s->nlst = cfg->nlisteners ? cfg->nlisteners : 1;
	s->lst = calloc(s->nlst, sizeof(*s->lst));
	if (!s->lst)
		return -ENOMEM;
	for (size_t i = 0; i < s->nlst; i++)
		s->lst[i].fd = -1;
	for (size_t i = 0; i < s->nlst; i++) {
		struct listener *l = &s->lst[i];
		const struct listener_config *lc = cfg->nlisteners ? &cfg->listeners[i] : NULL;
		char hp[300];
		if (lc)
			snprintf(hp, sizeof(hp), strchr(lc->address, ':') ? "[%s]:%lld" : "%s:%lld", lc->address,
				 (long long)lc->port);
		else
			snprintf(hp, sizeof(hp), "%s", cfg->listen);
		l->pub.cfg = lc;
		l->pub.mechs = lc && lc->has_sasl ? lc->mechs : 0;
		snprintf(l->pub.name, sizeof(l->pub.name), "%.63s", lc && lc->name && lc->name[0] ? lc->name : hp);
		int rc = listener_load(l, 0);
		if (rc < 0)
			return rc;
		l->fd = listen_on(hp, l->bound, sizeof(l->bound));
		if (l->fd < 0)
			return l->fd;
		advertise(s->b, l);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
		epoll_ctl(s->ep, EPOLL_CTL_ADD, l->fd, &ev);
		if (lc && lc->has_sasl && !lc->has_tls && (lc->mechs & (1u << SASL_MECH_PLAIN)))
			LOG_WARN("broker", "listener %s: SASL PLAIN without TLS sends passwords in clear text",
				 l->pub.name);
		LOG_INFO("broker", "listening on %s (%s%s%s, advertised as %s:%d)", l->bound,
			 lc && lc->has_tls ? "TLS" : "plaintext", l->pub.mechs ? ", SASL " : "",
			 !l->pub.mechs ? "" : l->pub.mechs == 6 ? "PLAIN SCRAM-SHA-256" :
			 l->pub.mechs & 2 ? "PLAIN" : "SCRAM-SHA-256", l->pub.adv_host, l->pub.adv_port);
	}
	/* Handlers without a session (tests) advertise the first listener. */
	snprintf(s->b->adv_host, sizeof(s->b->adv_host), "%s", s->lst[0].pub.adv_host);
	s->b->adv_port = s->lst[0].pub.adv_port;
	return 0;
}

static void listeners_close(struct server *s)
{
	for (size_t i = 0; i < s->nlst; i++) {
		struct listener *l = &s->lst[i];
		if (l->fd >= 0) {
			epoll_ctl(s->ep, EPOLL_CTL_DEL, l->fd, NULL);
			close(l->fd);
			l->fd = -1;
		}
	}
}

static void listeners_free(struct server *s)
{
	listeners_close(s);
	for (size_t i = 0; i < s->nlst; i++) {
		tls_server_free(s->lst[i].pub.tls);
		users_free(&s->lst[i].pub.users);
	}
	free(s->lst);
	s->lst = NULL;
	s->nlst = 0;
}

static struct listener *listener_of(struct server *s, void *p)
{
	for (size_t i = 0; i < s->nlst; i++)
		if (p == &s->lst[i])
			return &s->lst[i];
	return NULL;
}

/* --- the loop -------------------------------------------------------------- */

static int handle_signals(struct server *s, int64_t mono)
{
	struct signalfd_siginfo si;
	while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			LOG_INFO("broker", "SIGHUP: reloading certificates, users and ACLs (other settings need a restart)");
			for (size_t i = 0; i < s->nlst; i++)
				listener_load(&s->lst[i], 1);
			acl_reload(s->b, 1);
			continue;
		}
		if (!s->stopping) {
			LOG_INFO("broker", "%s: stopping (in-flight requests are answered first)",
				 strsignal((int)si.ssi_signo));
			notify_stopping();
			s->stopping = 1;
			s->stop_deadline = mono + SHUTDOWN_MS;
			listeners_close(s);
		}
	}
	return 0;
}

/* Everything answered and written, or out of time. */
static int drained(struct server *s, int64_t mono)
{
	if (mono >= s->stop_deadline)
		return 1;
	for (struct conn *c = s->conns; c; c = c->next)
		if (c->head)
			return 0;
	return 1;
}

static int server_init(struct server *s, struct broker *b)
{
	memset(s, 0, sizeof(*s));
	s->b = b;
	s->sfd = s->wfd = s->ep = -1;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	s->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->per_ip = connlimit_new();
	if (s->sfd < 0 || s->wfd < 0 || s->ep < 0 || !s->per_ip)
		return s->per_ip ? -errno : -ENOMEM;
	b->wake_fd = s->wfd;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->sfd };
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sfd, &ev);
	ev.data.ptr = &s->wfd;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->wfd, &ev);
	return 0;
}

static void server_free(struct server *s)
{
	while (s->conns)
		conn_close(s, s->conns);
	listeners_free(s);
	connlimit_free(s->per_ip);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->wfd >= 0)
		close(s->wfd);
	if (s->ep >= 0)
		close(s->ep);
	s->b->wake_fd = -1;
	acl_free(s->b->acl);
	s->b->acl = NULL;
}

static void log_counters(const struct broker *b)
{
	const struct broker_counters *k = &b->ctr;
	LOG_INFO("broker",
		 "connections: %llu accepted, refused %llu (max_connections) %llu (listener) %llu (per ip); "
		 "closed for timeouts: %llu auth, %llu request, %llu idle; TLS handshakes failed %llu; "
		 "SASL %llu ok, %llu failed; %llu closed before authenticating; %llu ACL denials",
		 (unsigned long long)k->accepted, (unsigned long long)k->refused_max,
		 (unsigned long long)k->refused_listener, (unsigned long long)k->refused_ip,
		 (unsigned long long)k->timeout_auth, (unsigned long long)k->timeout_request,
		 (unsigned long long)k->timeout_idle, (unsigned long long)k->tls_failed, (unsigned long long)k->auth_ok,
		 (unsigned long long)k->auth_failed, (unsigned long long)k->preauth_closed,
		 (unsigned long long)k->acl_denied);
}

int broker_run(struct broker *b)
{
	struct server s;
	int rc = server_init(&s, b);
	if (rc < 0) {
		LOG_ERROR("broker", "cannot set up the event loop: %s", strerror(-rc));
		server_free(&s);
		return rc;
	}
	rc = acl_reload(b, 0);
	if (rc < 0) {
		server_free(&s);
		return rc;
	}
	struct log_config lc;
	broker_log_config(b, &lc);
	lc.notify = wake_notify;
	lc.notify_arg = &s;
	rc = topics_open(&b->topics, b->cfg.data_dir, &lc);
	if (rc == 0)
		rc = groups_open(b);
	if (rc < 0) {
		groups_close(b);
		server_free(&s);
		topics_close(&b->topics);
		return rc;
	}
	rc = listeners_open(&s);
	if (rc < 0) {
		server_free(&s);
		groups_close(b);
		topics_close(&b->topics);
		return rc;
	}
	struct httpd *metrics = NULL;
	if (broker_metrics_start(b, &metrics) < 0) {
		server_free(&s);
		groups_close(b);
		topics_close(&b->topics);
		return -EADDRINUSE;
	}
	LOG_INFO("broker", "serving %zu listener(s), data in %s, %zu topic(s)", s.nlst, b->cfg.data_dir, b->topics.n);
	notify_ready();
	s.next_retention = clock_mono_ms() + 1000;
	s.next_sweep = clock_mono_ms() + SWEEP_MS;

	struct epoll_event evs[64];
	for (;;) {
		int64_t mono = clock_mono_ms();
		int n = epoll_wait(s.ep, evs, 64, notify_watchdog_tick(mono, next_timeout(&s, mono)));
		if (n < 0 && errno != EINTR) {
			LOG_ERROR("broker", "epoll_wait: %s", strerror(errno));
			rc = -errno;
			break;
		}
		mono = clock_mono_ms();
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			struct listener *l;
			if (p == &s.sfd) {
				handle_signals(&s, mono);
			} else if (p == &s.wfd) {
				uint64_t v;
				if (read(s.wfd, &v, sizeof(v)) < 0) {
					/* spurious */
				}
			} else if ((l = listener_of(&s, p))) {
				if (l->fd >= 0)
					accept_all(&s, l);
			} else {
				struct conn *c = p;
				if (c->state == CONN_TLS_HANDSHAKE) {
					if (conn_handshake(&s, c) < 0) {
						conn_close(&s, c);
						continue;
					}
					if (c->state == CONN_TLS_HANDSHAKE) {
						conn_update(&s, c);
						continue;
					}
					/* done: the client's first request may be here already */
					if (!s.stopping && conn_read(&s, c) < 0) {
						conn_close(&s, c);
						continue;
					}
					conn_update(&s, c);
					continue;
				}
				int readable = evs[i].events & EPOLLIN || (c->tls && c->tls_want & TLS_WANT_WRITE &&
									    evs[i].events & EPOLLOUT);
				if (readable && !s.stopping && conn_read(&s, c) < 0) {
					conn_close(&s, c);
					continue;
				}
				if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) {
					conn_close(&s, c);
					continue;
				}
				conn_update(&s, c);
			}
		}
		if (s.stopping)
			topics_sync_all(&b->topics);  /* acks=-1 waits end now */
		s.next_group = groups_tick(b, mono);
		check_parked(&s, mono);
		retention(&s, mono);
		sweep(&s, mono);
		if (s.stopping && drained(&s, mono))
			break;
	}
	broker_metrics_stop(metrics);
	server_free(&s);
	groups_close(b);
	topics_sync_all(&b->topics);
	topics_close(&b->topics);
	log_counters(b);
	LOG_INFO("broker", "stopped: %llu requests served, %llu malformed", (unsigned long long)b->requests,
		 (unsigned long long)b->malformed);
	return rc;
}
