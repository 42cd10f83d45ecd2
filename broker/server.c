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
#include "common/clock.h"
#include "common/logging.h"
#include "common/notify.h"

#define MAX_SLOTS 64            /* responses queued per connection */
#define READ_CHUNK (64 * 1024)
#define SHUTDOWN_MS 4500        /* SIGTERM to exit: well inside 5 s */

enum slot_state { SLOT_READY, SLOT_DURABLE, SLOT_POLL };

struct slot {
	struct slot *next;
	enum slot_state state;
	struct kwriter resp;
	struct req_wait wait;
	uint8_t *req;             /* SLOT_POLL: the request, to run again */
	size_t req_len;
};

struct conn {
	struct conn *prev, *next;
	int fd;
	uint32_t events;          /* what epoll watches now */
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
	int ep, lfd, sfd, wfd;
	struct conn *conns;
	size_t nconns;
	int polls;                /* parked slots of any kind, all connections */
	int stopping;
	int64_t stop_deadline, next_retention, next_group;
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
	close(c->fd);
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

static void accept_all(struct server *s)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(s->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				LOG_WARN("broker", "accept: %s", strerror(errno));
			return;
		}
		char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
		getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
		if ((int64_t)s->nconns >= s->b->cfg.max_connections) {
			LOG_WARN("broker", "%s:%s: refused: max_connections (%lld) reached", host, port,
				 (long long)s->b->cfg.max_connections);
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		snprintf(c->peer, sizeof(c->peer), "%.46s:%.8s", host, port);  /* an IPv6 literal fits */
		c->events = EPOLLIN;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		LOG_DEBUG("broker", "%s: connected", c->peer);
	}
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
	enum req_result r = broker_handle(s->b, req, len, s->stopping, clock_mono_ms(), c->peer, &sl->resp, &sl->wait);
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
	while (!c->polls && c->nslots < MAX_SLOTS && c->in_len - pos >= 4) {
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
		if (frame_complete(c) && (c->polls || c->nslots >= MAX_SLOTS))
			return 0;  /* blocked: let TCP push back */
		size_t want = fs >= 0 ? (size_t)fs + 4 - c->in_len : 4 - c->in_len;
		if (want < READ_CHUNK)
			want = READ_CHUNK;
		if (c->in_len + want > c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap : READ_CHUNK;
			while (cap < c->in_len + want)
				cap *= 2;
			uint8_t *p = realloc(c->in, cap);
			if (!p)
				return -1;
			c->in = p;
			c->in_cap = cap;
		}
		ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n == 0) {
			if (c->in_len)  /* a truncated request: worth a line, as any malformed one */
				LOG_INFO("broker", "%s: closed mid-request (%zu bytes of a frame buffered)", c->peer,
					 c->in_len);
			return -1;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
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
			ssize_t n = send(c->fd, sl->resp.buf + c->sent, sl->resp.len - c->sent, MSG_NOSIGNAL);
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
	for (;;) {
		if (conn_write(s, c) < 0 || c->dead) {
			conn_close(s, c);
			return -1;
		}
		size_t before = c->nslots;
		if (!s->stopping && frame_complete(c) && !c->polls && c->nslots < MAX_SLOTS) {
			if (conn_process(s, c) < 0) {
				conn_close(s, c);
				return -1;
			}
		}
		if (c->nslots == before || !(c->head && c->head->state == SLOT_READY))
			break;
	}
	uint32_t want = 0;
	if (!s->stopping && !(frame_complete(c) && (c->polls || c->nslots >= MAX_SLOTS)))
		want |= EPOLLIN;
	if (c->head && c->head->state == SLOT_READY)
		want |= EPOLLOUT;
	conn_watch(s, c, want);
	return 0;
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
				enum req_result r = broker_handle(s->b, sl->req, sl->req_len, final, mono,
								  c->peer, &sl->resp, &sl->wait);
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

/* The host and port clients are told to connect to (Metadata). */
static void advertise(struct broker *b, const char *bound)
{
	const char *colon = strrchr(bound, ':');
	int port = colon ? atoi(colon + 1) : 9092;
	b->adv_port = b->cfg.advertised_port > 0 ? (int32_t)b->cfg.advertised_port : port;
	if (b->cfg.advertised_host && b->cfg.advertised_host[0]) {
		snprintf(b->adv_host, sizeof(b->adv_host), "%s", b->cfg.advertised_host);
		return;
	}
	size_t hl = colon ? (size_t)(colon - bound) : strlen(bound);
	snprintf(b->adv_host, sizeof(b->adv_host), "%.*s", (int)hl, bound);
	if (b->adv_host[0] == '[') {  /* [::1] -> ::1 */
		size_t n = strlen(b->adv_host);
		memmove(b->adv_host, b->adv_host + 1, n);
		b->adv_host[n - 2] = 0;
	}
	if (!strcmp(b->adv_host, "0.0.0.0") || !strcmp(b->adv_host, "::") || !b->adv_host[0])
		if (gethostname(b->adv_host, sizeof(b->adv_host)) < 0)
			snprintf(b->adv_host, sizeof(b->adv_host), "localhost");
}

/* --- the loop -------------------------------------------------------------- */

static int handle_signals(struct server *s, int64_t mono)
{
	struct signalfd_siginfo si;
	while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			LOG_INFO("broker", "SIGHUP: nothing to reload (restart to change the config)");
			continue;
		}
		if (!s->stopping) {
			LOG_INFO("broker", "%s: stopping (in-flight requests are answered first)",
				 strsignal((int)si.ssi_signo));
			notify_stopping();
			s->stopping = 1;
			s->stop_deadline = mono + SHUTDOWN_MS;
			epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd, NULL);
			close(s->lfd);
			s->lfd = -1;
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
	s->lfd = s->sfd = s->wfd = s->ep = -1;
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
	if (s->sfd < 0 || s->wfd < 0 || s->ep < 0)
		return -errno;
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
	if (s->lfd >= 0)
		close(s->lfd);
	close(s->sfd);
	close(s->wfd);
	close(s->ep);
	s->b->wake_fd = -1;
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
	char bound[300];
	s.lfd = listen_on(b->cfg.listen, bound, sizeof(bound));
	if (s.lfd < 0) {
		server_free(&s);
		groups_close(b);
		topics_close(&b->topics);
		return s.lfd;
	}
	advertise(b, bound);
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &s.lfd };
	epoll_ctl(s.ep, EPOLL_CTL_ADD, s.lfd, &lev);
	LOG_INFO("broker", "listening on %s (advertised as %s:%d), data in %s, %zu topic(s)", bound,
		 b->adv_host, b->adv_port, b->cfg.data_dir, b->topics.n);
	notify_ready();
	s.next_retention = clock_mono_ms() + 1000;

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
		int woke = 0;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &s.lfd) {
				accept_all(&s);
			} else if (p == &s.sfd) {
				handle_signals(&s, mono);
			} else if (p == &s.wfd) {
				uint64_t v;
				if (read(s.wfd, &v, sizeof(v)) < 0) {
					/* spurious */
				}
				woke = 1;
			} else {
				struct conn *c = p;
				if (evs[i].events & EPOLLIN && !s.stopping && conn_read(&s, c) < 0) {
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
		(void)woke;
		if (s.stopping)
			topics_sync_all(&b->topics);  /* acks=-1 waits end now */
		s.next_group = groups_tick(b, mono);
		check_parked(&s, mono);
		retention(&s, mono);
		if (s.stopping && drained(&s, mono))
			break;
	}
	server_free(&s);
	groups_close(b);
	topics_sync_all(&b->topics);
	topics_close(&b->topics);
	LOG_INFO("broker", "stopped: %llu requests served, %llu malformed", (unsigned long long)b->requests,
		 (unsigned long long)b->malformed);
	return rc;
}
