/* See kafka_native.h.
 *
 * Connections are keyed by address (host:port): the bootstrap addresses
 * first, then the brokers Metadata names, each with its node ids. A
 * connection's requests wait in a FIFO in the order they were written, since
 * Kafka answers in that order on a connection; an answer whose correlation id
 * is not the head's closes the connection. Closing a connection, for any
 * reason, gives every record it still held a RETRY: nothing is ever left
 * without a report, and nothing is reported twice (a request leaves its FIFO
 * exactly when its records get their reports).
 *
 * Write positions are absolute byte counts on the connection (wbase + woff),
 * so that an acks=0 request, which gets no answer, is done once the count
 * passed its end.
 *
 * Metadata is fetched synchronously (bounded by a deadline) when a run names
 * a topic not known yet, known to be stale (an error said the leader moved,
 * a connection dropped) or older than METADATA_MAX_AGE_MS; answers to
 * produce requests on other connections are served while it waits. */
#include "outputs/kafka/kafka_native.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "buffer/batch.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/logging.h"
#include "outputs/kafka/kafka_wire.h"

#define METADATA_MAX_AGE_MS (5 * 60 * 1000)
#define METADATA_WAIT_MS 10000          /* at most, per run that needs it */
#define CONNECT_TIMEOUT_MS 10000
#define BATCH_MAX 1000000               /* librdkafka's batch.size; Kafka's max.message.bytes is 1048588 */
#define RECORD_OVERHEAD 40              /* a record's varints and attributes, at most */
#define REQUEST_MAX (16 << 20)          /* a Produce request's partitions, in bytes, about */
#define LIMIT_MS (10 * 60 * 1000)       /* how long a topic keeps a smaller batch after an error */
#define TOPICS_MAX 4096                 /* templated topics: beyond this the table starts over */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

enum { REQ_VERSIONS, REQ_METADATA, REQ_PRODUCE };

struct kn_part { size_t topic; int32_t partition; size_t first, n, bytes; int done; };

struct kn_req {
	struct kn_req *next;
	int type, noreply;
	int32_t corr;
	uint64_t end;                  /* absolute write position past its last byte */
	int64_t deadline;
	struct kn_part *parts;
	size_t nparts;
	void **recs;                   /* the records' opaques, part by part */
	size_t nrecs;
};

struct kn_conn {
	char *host;
	int port;
	int fd;
	int ready;                     /* versions known: produce may go */
	int16_t produce_v, metadata_v;
	struct kwriter wq;             /* frames not fully written yet */
	size_t woff;
	uint64_t wbase;
	uint8_t *rbuf;
	size_t rlen, rcap;
	struct kn_req *head, *tail;
	int64_t retry_at;              /* no new connection before this */
	struct backoff bo;             /* reconnect delays; reset once ready */
	int down_logged;
	char why[200];                 /* why it is down */
	char logged_why[200];          /* the last reason logged */
};

struct kn_topic {
	char *name;
	int32_t npart;                 /* 0: none known (see error) */
	int32_t *leader;               /* node id per partition, -1: none */
	int16_t error;
	int stale;
	int64_t fetched_ms;
	int32_t sticky;                /* partition of keyless records in this run */
	uint64_t sticky_gen;
	size_t limit;                  /* batch bytes while limit_until; 0: one record a batch */
	int64_t limit_until;
};

struct kn_node { int32_t id; size_t conn; };

struct kn_entry { size_t conn, topic; int32_t partition; size_t i; };

struct kafka_native {
	const char *name;              /* for log lines */
	char *client_id;
	int compression;
	int16_t acks;
	int32_t timeout_ms;
	void (*report)(void *arg, const struct kafka_report *r);
	void *report_arg;

	struct kn_conn **conns;
	size_t nconns, nbootstrap, md_next;
	struct kn_node *nodes;
	size_t nnodes;
	struct kn_topic *topics;
	size_t ntopics;

	int32_t corr;
	uint64_t gen;                  /* produce calls, for sticky partitions */
	uint32_t rnd;
	size_t outstanding;
	uint64_t served;
	int md_state;                  /* 0 idle, 1 waiting, 2 done, 3 failed: of request md_corr */
	int32_t md_corr;
	char md_why[400];

	atomic_int aborted;
	int wakefd;
	struct pollfd *pfd;
	size_t *pconn, pfd_cap;        /* pfd[j] watches conns[pconn[j]] (j > 0) */
	struct kn_entry *ents;
	size_t ents_cap;
	struct batch_builder bb;
};

/* --- reports ---------------------------------------------------------------- */

static void report(struct kafka_native *k, void *opaque, enum kafka_status st, const char *why, int32_t partition,
		   int64_t offset)
{
	struct kafka_report r = { opaque, st, why ? why : "", partition, offset };
	k->outstanding--;
	k->served++;
	if (k->report)
		k->report(k->report_arg, &r);
}

static void req_free(struct kn_req *r)
{
	free(r->parts);
	free(r->recs);
	free(r);
}

/* Every record of r not reported yet gets st with why. */
static void req_finish(struct kafka_native *k, struct kn_req *r, enum kafka_status st, const char *why)
{
	for (size_t i = 0; i < r->nparts; i++) {
		struct kn_part *p = &r->parts[i];
		if (p->done)
			continue;
		p->done = 1;
		for (size_t j = 0; j < p->n; j++)
			report(k, r->recs[p->first + j], st, why, p->partition, -1);
	}
}

/* --- topics and nodes ------------------------------------------------------- */

static void topics_clear(struct kafka_native *k)
{
	for (size_t i = 0; i < k->ntopics; i++) {
		free(k->topics[i].name);
		free(k->topics[i].leader);
	}
	free(k->topics);
	k->topics = NULL;
	k->ntopics = 0;
}

/* The topic's index (made, stale, if new); (size_t)-1 when out of memory. */
static size_t topic_get(struct kafka_native *k, const char *name)
{
	for (size_t i = 0; i < k->ntopics; i++)
		if (strcmp(k->topics[i].name, name) == 0)
			return i;
	if (k->ntopics >= TOPICS_MAX)
		return (size_t)-1;  /* the caller retries; produce clears the table once idle */
	struct kn_topic *t = realloc(k->topics, (k->ntopics + 1) * sizeof(*t));
	if (!t)
		return (size_t)-1;
	k->topics = t;
	t = &k->topics[k->ntopics];
	memset(t, 0, sizeof(*t));
	if (!(t->name = strdup(name)))
		return (size_t)-1;
	t->stale = 1;
	return k->ntopics++;
}

static void topics_all_stale(struct kafka_native *k)
{
	for (size_t i = 0; i < k->ntopics; i++)
		k->topics[i].stale = 1;
}

static size_t conn_get(struct kafka_native *k, const char *host, int port);

static long node_conn(struct kafka_native *k, int32_t id)
{
	for (size_t i = 0; i < k->nnodes; i++)
		if (k->nodes[i].id == id)
			return (long)k->nodes[i].conn;
	return -1;
}

static void apply_metadata(struct kafka_native *k, const struct kwire_metadata *m)
{
	if (m->nbrokers > 0) {
		struct kn_node *nodes = calloc((size_t)m->nbrokers, sizeof(*nodes));
		size_t n = 0;
		for (int32_t i = 0; nodes && i < m->nbrokers; i++) {
			size_t c = conn_get(k, m->brokers[i].host, m->brokers[i].port);
			if (c != (size_t)-1)
				nodes[n].id = m->brokers[i].id, nodes[n++].conn = c;
		}
		if (nodes) {
			free(k->nodes);
			k->nodes = nodes;
			k->nnodes = n;
		}
	}
	int64_t now = clock_mono_ms();
	for (int32_t i = 0; i < m->ntopics; i++) {
		const struct kwire_topic *mt = &m->topics[i];
		struct kn_topic *t = NULL;
		for (size_t j = 0; j < k->ntopics && !t; j++)
			if (strcmp(k->topics[j].name, mt->name) == 0)
				t = &k->topics[j];
		if (!t)
			continue;
		/* Kafka lists partitions 0..n-1, in any order; anything else
		 * (holes, ids past the count) is not a topic to hash keys over. */
		int32_t np = mt->npart, bad = 0;
		int32_t *leader = np ? malloc((size_t)np * sizeof(*leader)) : NULL;
		if (np && !leader)
			continue;
		for (int32_t j = 0; j < np; j++)
			leader[j] = INT32_MIN;
		for (int32_t j = 0; j < np; j++) {
			int32_t id = mt->parts[j].id;
			if (id < 0 || id >= np || leader[id] != INT32_MIN)
				bad = 1;
			else
				leader[id] = mt->parts[j].leader;
		}
		if (bad) {
			free(leader);
			leader = NULL;
			np = 0;
		}
		free(t->leader);
		t->leader = leader;
		t->npart = mt->error ? 0 : np;
		t->error = mt->error;
		if (!mt->error && !np)
			t->error = mt->npart ? KERR_UNKNOWN_SERVER_ERROR : KERR_LEADER_NOT_AVAILABLE;
		t->stale = t->error != 0;
		t->fetched_ms = now;
		t->sticky_gen = 0;
	}
}

/* --- connections ------------------------------------------------------------ */

static size_t conn_get(struct kafka_native *k, const char *host, int port)
{
	for (size_t i = 0; i < k->nconns; i++)
		if (k->conns[i]->port == port && strcmp(k->conns[i]->host, host) == 0)
			return i;
	struct kn_conn **v = realloc(k->conns, (k->nconns + 1) * sizeof(*v));
	if (!v)
		return (size_t)-1;
	k->conns = v;
	struct kn_conn *c = calloc(1, sizeof(*c));
	if (!c || !(c->host = strdup(host))) {
		free(c);
		return (size_t)-1;
	}
	c->port = port;
	c->fd = -1;
	kw_init(&c->wq);
	backoff_init(&c->bo, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
	k->conns[k->nconns] = c;
	return k->nconns++;
}

static void conn_close(struct kafka_native *k, struct kn_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conn_close(struct kafka_native *k, struct kn_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->ready = 0;
	while (c->head) {
		struct kn_req *r = c->head;
		c->head = r->next;
		if (r->type == REQ_PRODUCE)
			req_finish(k, r, KAFKA_RETRY, c->why);
		else if (r->type == REQ_METADATA && k->md_state == 1 && r->corr == k->md_corr) {
			k->md_state = 3;
			snprintf(k->md_why, sizeof(k->md_why), "%s", c->why);
		}
		req_free(r);
	}
	c->tail = NULL;
	kw_reset(&c->wq);
	c->woff = 0;
	c->wbase = 0;
	c->rlen = 0;
	c->retry_at = clock_mono_ms() + backoff_next(&c->bo);
	/* A leader may have moved with it: ask again before the next records. */
	topics_all_stale(k);
	/* Once per streak and reason: a broker that stays down is not a flood. */
	if (!c->down_logged || strcmp(c->logged_why, c->why) != 0) {
		LOG_WARN(k->name, "kafka %s:%d: %s", c->host, c->port, c->why);
		memcpy(c->logged_why, c->why, sizeof(c->why));
		c->down_logged = 1;
	}
}

static struct kn_req *req_queue(struct kafka_native *k, struct kn_conn *c, int type, int32_t corr)
{
	struct kn_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->type = type;
	r->corr = corr;
	r->noreply = type == REQ_PRODUCE && k->acks == 0;
	r->end = c->wbase + c->wq.len;
	r->deadline = clock_mono_ms() + k->timeout_ms + 5000;  /* the broker's own timeout, then some */
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	return r;
}

/* Requests at the head that get no answer and are fully written are done. */
static void complete_noreply(struct kafka_native *k, struct kn_conn *c)
{
	while (c->head && c->head->noreply && c->wbase + c->woff >= c->head->end) {
		struct kn_req *r = c->head;
		c->head = r->next;
		if (!c->head)
			c->tail = NULL;
		req_finish(k, r, KAFKA_OK, NULL);
		req_free(r);
	}
}

static int conn_write(struct kafka_native *k, struct kn_conn *c)
{
	while (c->fd >= 0 && c->woff < c->wq.len) {
		ssize_t n = send(c->fd, c->wq.buf + c->woff, c->wq.len - c->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(k, c, "send: %s", strerror(errno));
			return -1;
		}
		c->woff += (size_t)n;
	}
	if (c->fd >= 0 && c->woff == c->wq.len) {
		c->wbase += c->wq.len;
		c->woff = 0;
		kw_reset(&c->wq);
	} else if (c->fd >= 0 && c->woff >= (1u << 20) && c->woff * 2 >= c->wq.len) {
		/* A socket that never quite drains: drop what was written, so
		 * that the queue holds only what is unsent (positions are
		 * absolute: wbase moves with it). */
		memmove(c->wq.buf, c->wq.buf + c->woff, c->wq.len - c->woff);
		c->wq.len -= c->woff;
		c->wbase += c->woff;
		c->woff = 0;
	}
	if (c->fd >= 0)
		complete_noreply(k, c);
	return 0;
}

struct produce_ctx { struct kafka_native *k; struct kn_conn *c; struct kn_req *r; };

static void on_partition(void *arg, const struct kwire_produce_result *res)
{
	struct produce_ctx *x = arg;
	struct kafka_native *k = x->k;
	struct kn_req *r = x->r;
	for (size_t i = 0; i < r->nparts; i++) {
		struct kn_part *p = &r->parts[i];
		const char *name = k->topics[p->topic].name;
		if (p->done || p->partition != res->partition || (size_t)res->topic.len != strlen(name) ||
		    memcmp(res->topic.p, name, (size_t)res->topic.len) != 0)
			continue;
		if (res->error == 0) {
			p->done = 1;
			for (size_t j = 0; j < p->n; j++)
				report(k, r->recs[p->first + j], KAFKA_OK, NULL, p->partition,
				       res->base_offset < 0 ? -1 : res->base_offset + (int64_t)j);
			return;
		}
		char nb[32], why[600];
		const char *en = kwire_error_name(res->error, nb, sizeof(nb));
		snprintf(why, sizeof(why), "%s (%d) from %s:%d for %s [%d]", en, res->error, x->c->host, x->c->port,
			 name, p->partition);
		enum kafka_status st = KAFKA_RETRY;
		struct kn_topic *t = &k->topics[p->topic];
		int64_t now = clock_mono_ms();
		if ((res->error == KERR_MESSAGE_TOO_LARGE || res->error == KERR_RECORD_LIST_TOO_LARGE) && p->n > 1) {
			/* Too large together, maybe not alone: this topic's batches
			 * get smaller (once per size: answers in flight for batches
			 * of the old size do not halve it again). */
			size_t half = p->bytes / 2;
			if (now >= t->limit_until || half < t->limit)
				t->limit = half;
			t->limit_until = now + LIMIT_MS;
		} else if (kwire_error_record(res->error) && p->n > 1) {
			/* Kafka refuses the batch for one record (Produce v3..v7
			 * cannot say which): one record a batch for a while, so
			 * that only the bad one is rejected. */
			t->limit = 0;
			t->limit_until = now + LIMIT_MS;
		} else if (kwire_error_permanent(res->error)) {
			st = KAFKA_REJECT;
		}
		if (kwire_error_stale(res->error))
			k->topics[p->topic].stale = 1;
		p->done = 1;
		for (size_t j = 0; j < p->n; j++)
			report(k, r->recs[p->first + j], st, why, p->partition, -1);
		return;
	}
}

/* One answer frame (after its size prefix) from c. */
static void dispatch(struct kafka_native *k, struct kn_conn *c, const uint8_t *p, size_t n)
{
	complete_noreply(k, c);
	struct kn_req *r = c->head;
	int32_t corr = n >= 4 ? (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) : -1;
	if (!r || r->noreply || r->corr != corr) {
		conn_close(k, c, "answer with correlation id %d, expected %d", corr, r ? r->corr : -1);
		return;
	}
	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	p += 4;
	n -= 4;
	if (r->type == REQ_VERSIONS) {
		struct kwire_versions v;
		req_free(r);
		if (kwire_api_versions_decode(p, n, &v) < 0 || v.error) {
			conn_close(k, c, "ApiVersions failed (error %d)", v.error);
			return;
		}
		c->produce_v = v.produce_max < KWIRE_PRODUCE_MAX ? v.produce_max : KWIRE_PRODUCE_MAX;
		c->metadata_v = v.metadata_max < KWIRE_METADATA_MAX ? v.metadata_max : KWIRE_METADATA_MAX;
		if (c->produce_v < KWIRE_PRODUCE_MIN || c->produce_v < v.produce_min ||
		    c->metadata_v < KWIRE_METADATA_MIN || c->metadata_v < v.metadata_min) {
			conn_close(k, c, "the broker speaks Produce v%d..v%d and Metadata v%d..v%d; this client needs "
				   "Produce v%d..v%d and Metadata v%d..v%d (use engine: librdkafka)",
				   v.produce_min, v.produce_max, v.metadata_min, v.metadata_max, KWIRE_PRODUCE_MIN,
				   KWIRE_PRODUCE_MAX, KWIRE_METADATA_MIN, KWIRE_METADATA_MAX);
			return;
		}
		if (k->compression == BATCH_COMPRESSION_ZSTD && c->produce_v < 7) {
			conn_close(k, c, "compression zstd needs Produce v7 (Kafka 2.1 or later); the broker speaks up "
				   "to v%d", v.produce_max);
			return;
		}
		c->ready = 1;
		backoff_reset(&c->bo);
		if (c->down_logged)
			LOG_INFO(k->name, "kafka %s:%d: connected", c->host, c->port);
		c->down_logged = 0;
		return;
	}
	if (r->type == REQ_METADATA) {
		struct kwire_metadata m;
		int mine = k->md_state == 1 && r->corr == k->md_corr;
		req_free(r);
		int rc = kwire_metadata_decode(p, n, c->metadata_v, &m);
		if (rc < 0) {
			if (mine) {
				k->md_state = 3;
				snprintf(k->md_why, sizeof(k->md_why), "bad Metadata answer from %s:%d", c->host, c->port);
			}
			if (rc == -EPROTO)
				conn_close(k, c, "malformed Metadata answer");
			return;
		}
		apply_metadata(k, &m);
		kwire_metadata_free(&m);
		if (mine)
			k->md_state = 2;
		return;
	}
	/* Decoded once to check it, then to report: a malformed answer
	 * acknowledges nothing. */
	struct produce_ctx x = { k, c, r };
	int rc = kwire_produce_decode(p, n, c->produce_v, NULL, NULL);
	if (rc == 0)
		kwire_produce_decode(p, n, c->produce_v, on_partition, &x);
	char why[200];
	snprintf(why, sizeof(why), "%s from %s:%d", rc < 0 ? "malformed Produce answer" : "no result for the partition",
		 c->host, c->port);
	req_finish(k, r, KAFKA_RETRY, why);
	req_free(r);
	if (rc < 0)
		conn_close(k, c, "malformed Produce answer");
}

static void conn_read(struct kafka_native *k, struct kn_conn *c)
{
	for (;;) {
		if (c->rcap - c->rlen < 65536) {
			size_t cap = c->rcap ? c->rcap * 2 : 131072;
			uint8_t *b = realloc(c->rbuf, cap);
			if (!b) {
				conn_close(k, c, "out of memory for answers");
				return;
			}
			c->rbuf = b;
			c->rcap = cap;
		}
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
		if (n == 0) {
			conn_close(k, c, "connection closed by the broker");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(k, c, "recv: %s", strerror(errno));
			return;
		}
		c->rlen += (size_t)n;
		size_t at = 0;
		for (;;) {
			long fs = kwire_frame_size(c->rbuf + at, c->rlen - at);
			if (fs == -EPROTO) {
				conn_close(k, c, "answer of impossible size");
				return;
			}
			if (fs < 0 || c->rlen - at < 4 + (size_t)fs)
				break;
			dispatch(k, c, c->rbuf + at + 4, (size_t)fs);
			if (c->fd < 0)
				return;
			complete_noreply(k, c);  /* acks=0 requests behind the answered one */
			at += 4 + (size_t)fs;
		}
		memmove(c->rbuf, c->rbuf + at, c->rlen - at);
		c->rlen -= at;
		if (c->rlen >= 4) {
			long fs = kwire_frame_size(c->rbuf, c->rlen);
			while (fs > 0 && c->rcap < 4 + (size_t)fs + 65536) {
				uint8_t *b = realloc(c->rbuf, c->rcap * 2);
				if (!b) {
					conn_close(k, c, "out of memory for answers");
					return;
				}
				c->rbuf = b;
				c->rcap *= 2;
			}
		}
	}
}

/* One round of waiting: writes what can go, reads and serves answers, and
 * closes connections whose oldest request is overdue. Waits up to
 * timeout_ms (less, to the next deadline). */
static void pump(struct kafka_native *k, int timeout_ms)
{
	if (k->pfd_cap < k->nconns + 1) {
		struct pollfd *p = realloc(k->pfd, (k->nconns + 1) * sizeof(*p));
		if (p)
			k->pfd = p;
		size_t *pc = realloc(k->pconn, (k->nconns + 1) * sizeof(*pc));
		if (pc)
			k->pconn = pc;
		if (!p || !pc)
			return;
		k->pfd_cap = k->nconns + 1;
	}
	int64_t now = clock_mono_ms();
	size_t n = 0;
	k->pfd[n++] = (struct pollfd){ .fd = k->wakefd, .events = POLLIN };
	for (size_t i = 0; i < k->nconns; i++) {
		struct kn_conn *c = k->conns[i];
		if (c->fd < 0)
			continue;
		if (c->head && c->head->deadline - now < timeout_ms)
			timeout_ms = c->head->deadline - now > 0 ? (int)(c->head->deadline - now) : 0;
		k->pconn[n] = i;
		k->pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN | (c->woff < c->wq.len ? POLLOUT : 0) };
	}
	int rc = poll(k->pfd, n, timeout_ms);
	if (rc < 0)
		return;
	if (k->pfd[0].revents & POLLIN) {
		uint64_t v;
		(void)!read(k->wakefd, &v, sizeof(v));
	}
	now = clock_mono_ms();
	for (size_t j = 1; j < n; j++) {
		struct kn_conn *c = k->conns[k->pconn[j]];
		if (c->fd != k->pfd[j].fd)
			continue;  /* closed (and maybe reopened) meanwhile */
		short re = k->pfd[j].revents;
		if (re & POLLOUT)
			conn_write(k, c);
		if (c->fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
			conn_read(k, c);
		if (c->fd >= 0 && c->head && now >= c->head->deadline)
			conn_close(k, c, "no answer within %d ms", (int)k->timeout_ms + 5000);
	}
}

/* Connects c (synchronously, bounded by deadline) and learns its versions.
 * 0 when ready, -1 with c->why set. */
static int conn_open(struct kafka_native *k, struct kn_conn *c, int64_t deadline)
{
	if (c->fd >= 0 && c->ready)
		return 0;
	if (c->fd < 0) {
		int64_t now = clock_mono_ms();
		if (now < c->retry_at)
			return -1;  /* c->why still says why */
		char port[16];
		snprintf(port, sizeof(port), "%d", c->port);
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
		int g = getaddrinfo(c->host, port, &hints, &ai);
		if (g) {
			conn_close(k, c, "cannot resolve: %s", gai_strerror(g));
			return -1;
		}
		/* Every address in turn (a name may resolve to ::1 first while the
		 * broker listens on 127.0.0.1), within one connect timeout. */
		int64_t until = now + CONNECT_TIMEOUT_MS < deadline ? now + CONNECT_TIMEOUT_MS : deadline;
		int fd = -1, err = ENOENT;
		for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
			if (atomic_load(&k->aborted)) {
				err = ECANCELED;
				break;
			}
			fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			err = fd < 0 ? errno : 0;
			if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS)
				err = errno;
			if (!err) {
				now = clock_mono_ms();
				struct pollfd p[2] = { { .fd = fd, .events = POLLOUT }, { .fd = k->wakefd, .events = POLLIN } };
				int rc = poll(p, 2, until > now ? (int)(until - now) : 0);
				socklen_t len = sizeof(err);
				if (rc <= 0 || !(p[0].revents & (POLLOUT | POLLERR | POLLHUP)))
					err = atomic_load(&k->aborted) ? ECANCELED : ETIMEDOUT;
				else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
					err = errno;
			}
			if (err && fd >= 0) {
				close(fd);
				fd = -1;
			}
		}
		freeaddrinfo(ai);
		if (fd < 0) {
			conn_close(k, c, "cannot connect: %s", strerror(err));
			return -1;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		int32_t corr = ++k->corr;
		kwire_api_versions_request(&c->wq, corr, k->client_id);
		if (c->wq.err || !req_queue(k, c, REQ_VERSIONS, corr)) {
			conn_close(k, c, "out of memory");
			return -1;
		}
	}
	while (c->fd >= 0 && !c->ready && !atomic_load(&k->aborted)) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0) {
			conn_close(k, c, "no ApiVersions answer in time");
			break;
		}
		conn_write(k, c);
		if (c->fd >= 0)
			pump(k, (int)left);
	}
	return c->ready ? 0 : -1;
}

/* Fetches metadata for the topics at idx[0..n). 0, or -1 with k->md_why. */
static int metadata_fetch(struct kafka_native *k, const size_t *idx, size_t n)
{
	int64_t deadline = clock_mono_ms() + (k->timeout_ms < METADATA_WAIT_MS ? k->timeout_ms : METADATA_WAIT_MS);
	/* A ready connection with nothing in flight answers at once; one busy
	 * with acks=all requests answers after them. */
	struct kn_conn *c = NULL;
	for (size_t i = 0; i < k->nconns && !c; i++)
		if (k->conns[i]->ready && !k->conns[i]->head)
			c = k->conns[i];
	for (size_t i = 0; i < k->nconns && !c; i++)
		if (k->conns[i]->ready)
			c = k->conns[i];
	for (size_t tries = 0; !c && tries < k->nconns; tries++) {
		if (atomic_load(&k->aborted) || clock_mono_ms() >= deadline) {
			snprintf(k->md_why, sizeof(k->md_why), "%s",
				 atomic_load(&k->aborted) ? "shutting down" : "no broker answered in time");
			break;
		}
		struct kn_conn *t = k->conns[k->md_next++ % k->nconns];
		if (conn_open(k, t, deadline) == 0)
			c = t;
		else
			snprintf(k->md_why, sizeof(k->md_why), "%s:%d: %s", t->host, t->port, t->why);
	}
	if (!c)
		return -1;
	const char **names = malloc(n * sizeof(*names));
	if (!names) {
		snprintf(k->md_why, sizeof(k->md_why), "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = k->topics[idx[i]].name;
	int32_t corr = ++k->corr;
	kwire_metadata_request(&c->wq, c->metadata_v, corr, k->client_id, names, n);
	free(names);
	if (c->wq.err || !req_queue(k, c, REQ_METADATA, corr)) {
		conn_close(k, c, "out of memory");
		snprintf(k->md_why, sizeof(k->md_why), "out of memory");
		return -1;
	}
	k->md_state = 1;
	k->md_corr = corr;
	conn_write(k, c);
	while (k->md_state == 1 && !atomic_load(&k->aborted)) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0)
			break;
		pump(k, (int)left);
	}
	int ok = k->md_state == 2;
	if (k->md_state == 1)
		snprintf(k->md_why, sizeof(k->md_why), "no Metadata answer from %s:%d in time", c->host, c->port);
	k->md_state = 0;  /* a late answer is applied all the same */
	return ok ? 0 : -1;
}

/* --- produce ---------------------------------------------------------------- */

/* Topic names of one run are mostly one pointer (a fixed topic). */
static int same_name(const char *a, const char *b)
{
	return a && (a == b || strcmp(a, b) == 0);
}

static int32_t pick_partition(struct kafka_native *k, struct kn_topic *t, const struct kafka_msg *m)
{
	/* librdkafka's consistent_random: an empty key is no key. */
	if (m->key && m->key_len)
		return (int32_t)(crc32(0, m->key, (uInt)m->key_len) % (uint32_t)t->npart);
	if (t->sticky_gen != k->gen || t->sticky >= t->npart) {
		/* A random partition with a leader, if one has. */
		k->rnd = k->rnd * 1103515245u + 12345u;
		int32_t p = (int32_t)((k->rnd >> 8) % (uint32_t)t->npart);
		for (int32_t i = 0; i < t->npart; i++)
			if (t->leader[(p + i) % t->npart] >= 0) {
				p = (p + i) % t->npart;
				break;
			}
		t->sticky = p;
		t->sticky_gen = k->gen;
	}
	return t->sticky;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct kn_entry *x = a, *y = b;
	if (x->conn != y->conn)
		return x->conn < y->conn ? -1 : 1;
	if (x->topic != y->topic)
		return x->topic < y->topic ? -1 : 1;
	if (x->partition != y->partition)
		return x->partition < y->partition ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* How many of the entries e[0..n) (one partition's) go into one batch. */
static size_t batch_take(const struct kafka_native *k, const struct kafka_msg *msgs, const struct kn_entry *e, size_t n,
			 int64_t now, size_t *bytes_out)
{
	const struct kn_topic *t = &k->topics[e[0].topic];
	size_t max = now < t->limit_until && t->limit < BATCH_MAX ? t->limit : BATCH_MAX;
	size_t bytes = BATCH_HEADER_SIZE, i = 0;
	for (; i < n; i++) {
		const struct kafka_msg *m = &msgs[e[i].i];
		size_t sz = m->key_len + m->value_len + RECORD_OVERHEAD;
		if (i && bytes + sz > max)
			break;
		bytes += sz;
	}
	*bytes_out = bytes;
	return i;
}

/* Writes one Produce request to c for the partitions of e[0..n) (sorted by
 * topic, partition), taking at most one batch's worth from each; advances
 * *taken[]-style cursors in cur (per entry group start). Returns 0, or -1 if
 * it could not be built (out of memory: the caller retries them). */
static int produce_request(struct kafka_native *k, struct kn_conn *c, const struct kafka_msg *msgs,
			   struct kn_entry *e, size_t *gs, size_t *ge, size_t ng)
{
	/* gs[g]..ge[g]: what is left of partition group g. The request takes
	 * one batch from each group with records left, in order, until it
	 * holds about REQUEST_MAX (at least one batch): groups from gend on
	 * wait for the next request. */
	int64_t now = clock_mono_ms();
	size_t ntop = 0, nparts = 0, nrecs = 0, total = 0, gend = 0, bytes;
	size_t last_topic = (size_t)-1;
	for (; gend < ng; gend++) {
		if (gs[gend] == ge[gend])
			continue;
		if (nparts && total > REQUEST_MAX)
			break;
		nparts++;
		nrecs += batch_take(k, msgs, e + gs[gend], ge[gend] - gs[gend], now, &bytes);
		total += bytes;
		if (e[gs[gend]].topic != last_topic)
			ntop++, last_topic = e[gs[gend]].topic;
	}
	if (!nparts)
		return 0;
	struct kn_part *parts = calloc(nparts, sizeof(*parts));
	void **recs = malloc(nrecs * sizeof(*recs));
	if (!parts || !recs) {
		free(parts);
		free(recs);
		return -1;
	}
	size_t start_len = c->wq.len;
	int32_t corr = ++k->corr;
	size_t start = kwire_produce_begin(&c->wq, c->produce_v, corr, k->client_id, k->acks, k->timeout_ms,
					   (int32_t)ntop);
	size_t pi = 0, ri = 0;
	int err = 0;
	int64_t wall = 0;
	for (size_t g = 0; g < gend && !err; g++) {
		if (gs[g] == ge[g])
			continue;
		struct kn_entry *ge0 = e + gs[g];
		if (pi == 0 || parts[pi - 1].topic != ge0->topic) {
			int32_t np = 0;
			for (size_t h = g; h < gend && e[ge[h] - 1].topic == ge0->topic; h++)
				np += gs[h] < ge[h];
			kwire_produce_topic(&c->wq, k->topics[ge0->topic].name, np);
		}
		size_t take = batch_take(k, msgs, ge0, ge[g] - gs[g], now, &bytes);
		batch_builder_reset(&k->bb);
		struct kn_part *p = &parts[pi++];
		p->topic = ge0->topic;
		p->partition = ge0->partition;
		p->first = ri;
		p->n = take;
		p->bytes = bytes;
		/* Every record of the batch is in recs before anything can fail,
		 * so that a failure reports each exactly once (below). */
		for (size_t j = 0; j < take; j++)
			recs[ri++] = msgs[ge0[j].i].opaque;
		for (size_t j = 0; j < take && !err; j++) {
			const struct kafka_msg *m = &msgs[ge0[j].i];
			int64_t ts = m->timestamp_ms;
			if (!ts)
				ts = wall ? wall : (wall = clock_wall_ms());
			err = batch_builder_add(&k->bb, ts, m->key, m->key ? (int32_t)m->key_len : -1, m->value,
						(int32_t)m->value_len, NULL, 0);
		}
		const uint8_t *batch;
		size_t blen;
		if (!err)
			err = batch_builder_finish(&k->bb, &batch, &blen);
		if (!err)
			kwire_produce_partition(&c->wq, p->partition, batch, blen);
		gs[g] += take;
	}
	kwire_end(&c->wq, start);
	struct kn_req *r = NULL;
	if (err || c->wq.err || !(r = req_queue(k, c, REQ_PRODUCE, corr))) {
		/* Nothing of it was sent: un-write it. Its records retry; the
		 * caller retries what no request took yet. */
		c->wq.len = start_len;
		c->wq.err = 0;
		for (size_t i = 0; i < pi; i++)
			for (size_t j = 0; j < parts[i].n; j++)
				report(k, recs[parts[i].first + j], KAFKA_RETRY,
				       err == -EMSGSIZE ? "a record too large for a batch" : "out of memory building a request",
				       parts[i].partition, -1);
		free(parts);
		free(recs);
		return -1;
	}
	r->parts = parts;
	r->nparts = pi;
	r->recs = recs;
	r->nrecs = ri;
	return 0;
}

/* The records of e[0..n), all for connection c, as Produce requests. */
static void produce_conn(struct kafka_native *k, struct kn_conn *c, const struct kafka_msg *msgs, struct kn_entry *e,
			 size_t n)
{
	size_t ng = 0;
	for (size_t i = 0; i < n; i++)
		if (!i || e[i].topic != e[i - 1].topic || e[i].partition != e[i - 1].partition)
			ng++;
	size_t *gs = malloc(2 * ng * sizeof(*gs));
	if (!gs) {
		for (size_t i = 0; i < n; i++)
			report(k, msgs[e[i].i].opaque, KAFKA_RETRY, "out of memory", -1, -1);
		return;
	}
	size_t *ge = gs + ng, g = 0;
	for (size_t i = 0; i < n; i++) {
		if (!i || e[i].topic != e[i - 1].topic || e[i].partition != e[i - 1].partition)
			gs[g++] = i;
		ge[g - 1] = i + 1;
	}
	for (;;) {
		int left = 0;
		for (size_t h = 0; h < ng; h++)
			left |= gs[h] < ge[h];
		if (!left)
			break;
		if (produce_request(k, c, msgs, e, gs, ge, ng) < 0) {
			/* Out of memory: what is left of this connection retries. */
			for (size_t h = 0; h < ng; h++)
				for (size_t i = gs[h]; i < ge[h]; i++)
					report(k, msgs[e[i].i].opaque, KAFKA_RETRY, "out of memory", -1, -1);
			break;
		}
	}
	free(gs);
	conn_write(k, c);
}

void kafka_native_produce(struct kafka_native *k, const struct kafka_msg *msgs, size_t n)
{
	/* Templated topics beyond count: learn them again, once no request
	 * in flight refers to the table (parts keep topic indexes). */
	if (k->ntopics >= TOPICS_MAX && !k->outstanding)
		topics_clear(k);
	/* Answers that came, and connections the broker closed while idle
	 * (connections.max.idle.ms), are seen before anything is written. */
	for (size_t i = 0; i < k->nconns; i++)
		if (k->conns[i]->fd >= 0) {
			pump(k, 0);
			break;
		}
	k->outstanding += n;
	k->gen++;
	if (atomic_load(&k->aborted)) {
		for (size_t i = 0; i < n; i++)
			report(k, msgs[i].opaque, KAFKA_RETRY, "shutting down", -1, -1);
		return;
	}
	if (k->ents_cap < n) {
		struct kn_entry *v = realloc(k->ents, n * sizeof(*v));
		if (!v) {
			for (size_t i = 0; i < n; i++)
				report(k, msgs[i].opaque, KAFKA_RETRY, "out of memory", -1, -1);
			return;
		}
		k->ents = v;
		k->ents_cap = n;
	}
	/* Topics of the run, and which need metadata first. */
	size_t *need = (size_t *)k->ents, nneed = 0;  /* borrowed until the entries are filled */
	int64_t now = clock_mono_ms();
	size_t last = (size_t)-1;
	const char *last_name = NULL;
	for (size_t i = 0; i < n; i++) {
		size_t t = same_name(last_name, msgs[i].topic) ? last : topic_get(k, msgs[i].topic);
		last = t, last_name = msgs[i].topic;
		if (t == (size_t)-1)
			continue;
		struct kn_topic *tp = &k->topics[t];
		if (tp->stale || now - tp->fetched_ms > METADATA_MAX_AGE_MS) {
			size_t j = 0;
			while (j < nneed && need[j] != t)
				j++;
			if (j == nneed)
				need[nneed++] = t;
		}
	}
	const char *md_why = NULL;
	if (nneed && metadata_fetch(k, need, nneed) < 0)
		md_why = k->md_why;
	size_t ne = 0;
	int sorted = 1;
	char why[1024];
	last_name = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct kafka_msg *m = &msgs[i];
		size_t t = same_name(last_name, m->topic) ? last : topic_get(k, m->topic);
		last = t, last_name = m->topic;
		if (t == (size_t)-1) {
			report(k, m->opaque, KAFKA_RETRY, "out of memory for topics", -1, -1);
			continue;
		}
		struct kn_topic *tp = &k->topics[t];
		if (tp->npart <= 0) {
			char nb[32];
			if (tp->error && kwire_error_permanent(tp->error)) {
				snprintf(why, sizeof(why), "topic %s: %s (%d)", tp->name,
					 kwire_error_name(tp->error, nb, sizeof(nb)), tp->error);
				report(k, m->opaque, KAFKA_REJECT, why, -1, -1);
			} else {
				if (tp->error)
					snprintf(why, sizeof(why), "topic %s: %s (%d)", tp->name,
						 kwire_error_name(tp->error, nb, sizeof(nb)), tp->error);
				else
					snprintf(why, sizeof(why), "topic %s: no metadata: %s", tp->name,
						 md_why ? md_why : "not known yet");
				report(k, m->opaque, KAFKA_RETRY, why, -1, -1);
			}
			continue;
		}
		int32_t p = pick_partition(k, tp, m);
		long c = tp->leader[p] >= 0 ? node_conn(k, tp->leader[p]) : -1;
		if (c < 0) {
			tp->stale = 1;
			snprintf(why, sizeof(why), "topic %s [%d]: no leader known%s%s", tp->name, p,
				 md_why ? ": " : "", md_why ? md_why : "");
			report(k, m->opaque, KAFKA_RETRY, why, p, -1);
			continue;
		}
		k->ents[ne] = (struct kn_entry){ (size_t)c, t, p, i };
		if (ne && sorted && ent_cmp(&k->ents[ne - 1], &k->ents[ne]) > 0)
			sorted = 0;
		ne++;
	}
	if (!sorted)  /* one topic and partition, the common case, needs no sort */
		qsort(k->ents, ne, sizeof(*k->ents), ent_cmp);
	int64_t deadline = clock_mono_ms() + CONNECT_TIMEOUT_MS;
	for (size_t a = 0, b; a < ne; a = b) {
		for (b = a; b < ne && k->ents[b].conn == k->ents[a].conn; b++)
			;
		struct kn_conn *c = k->conns[k->ents[a].conn];
		if (conn_open(k, c, deadline) < 0) {
			snprintf(why, sizeof(why), "kafka %s:%d: %s", c->host, c->port, c->why);
			for (size_t i = a; i < b; i++)
				report(k, msgs[k->ents[i].i].opaque, KAFKA_RETRY, why, k->ents[i].partition, -1);
			continue;
		}
		produce_conn(k, c, msgs, k->ents + a, b - a);
	}
}

size_t kafka_native_poll(struct kafka_native *k, int timeout_ms)
{
	uint64_t before = k->served;
	if (atomic_load(&k->aborted)) {
		for (size_t i = 0; i < k->nconns; i++)
			if (k->conns[i]->fd >= 0 || k->conns[i]->head)
				conn_close(k, k->conns[i], "shutting down");
		return (size_t)(k->served - before);
	}
	/* One readiness may be half an answer: wait on until a report came
	 * or the time is up. */
	int64_t deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	while (k->outstanding && k->served == before && !atomic_load(&k->aborted)) {
		int64_t left = deadline - clock_mono_ms();
		pump(k, left > 0 ? (int)left : 0);
		if (left <= 0)
			break;
	}
	return (size_t)(k->served - before);
}

size_t kafka_native_outstanding(const struct kafka_native *k)
{
	return k->outstanding;
}

void kafka_native_abort(struct kafka_native *k)
{
	atomic_store(&k->aborted, 1);
	uint64_t one = 1;
	(void)!write(k->wakefd, &one, sizeof(one));
}

/* --- life ------------------------------------------------------------------- */

/* "host:port" or "[v6]:port" into host and port; -EINVAL if malformed. */
static int split_address(const char *s, char *host, size_t cap, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || !colon[1])
		return -EINVAL;
	const char *h = s;
	size_t hl = (size_t)(colon - s);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']')
		h++, hl -= 2;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < 1 || p > 65535 || hl == 0 || hl >= cap)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = (int)p;
	return 0;
}

int kafka_native_new(const struct kafka_client_config *cfg, struct kafka_native **out, char *err, size_t errlen)
{
	struct kafka_native *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->name = cfg->log_arg ? (const char *)cfg->log_arg : "kafka";
	k->report = cfg->report;
	k->report_arg = cfg->report_arg;
	k->acks = strcmp(cfg->acks, "all") == 0 ? -1 : (int16_t)atoi(cfg->acks);
	k->timeout_ms = (int32_t)cfg->message_timeout_ms;
	k->rnd = (uint32_t)clock_mono_ms() ^ (uint32_t)getpid();
	k->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int rc = -EINVAL;
	if (strcmp(cfg->compression, "none") == 0)
		k->compression = BATCH_COMPRESSION_NONE;
	else if (strcmp(cfg->compression, "gzip") == 0)
		k->compression = BATCH_COMPRESSION_GZIP;
	else if (strcmp(cfg->compression, "zstd") == 0)
		k->compression = BATCH_COMPRESSION_ZSTD;
	else {
		snprintf(err, errlen, "compression %s needs engine: librdkafka", cfg->compression);
		goto fail;
	}
	if (cfg->nprops) {
		snprintf(err, errlen, "librdkafka properties need engine: librdkafka");
		goto fail;
	}
	if (k->wakefd < 0 || !(k->client_id = strdup(cfg->client_id ? cfg->client_id : "logship"))) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	batch_builder_init(&k->bb, (enum batch_compression)k->compression);
	char *list = strdup(cfg->brokers), *save = NULL;
	if (!list) {
		rc = -ENOMEM;
		goto fail;
	}
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char host[256];
		int port;
		while (*tok == ' ')
			tok++;
		if (split_address(tok, host, sizeof(host), &port) < 0) {
			snprintf(err, errlen, "broker address %s: expected host:port", tok);
			free(list);
			goto fail;
		}
		if (conn_get(k, host, port) == (size_t)-1) {
			free(list);
			rc = -ENOMEM;
			goto fail;
		}
	}
	free(list);
	if (!k->nconns) {
		snprintf(err, errlen, "no broker address");
		goto fail;
	}
	k->nbootstrap = k->nconns;
	*out = k;
	return 0;
fail:
	k->report = NULL;
	kafka_native_free(k);
	return rc;
}

void kafka_native_free(struct kafka_native *k)
{
	if (!k)
		return;
	k->report = NULL;  /* no report after this */
	for (size_t i = 0; i < k->nconns; i++) {
		struct kn_conn *c = k->conns[i];
		c->down_logged = 1;
		snprintf(c->logged_why, sizeof(c->logged_why), "closed");
		conn_close(k, c, "closed");
		kw_free(&c->wq);
		free(c->rbuf);
		free(c->host);
		free(c);
	}
	free(k->conns);
	free(k->nodes);
	topics_clear(k);
	batch_builder_free(&k->bb);
	free(k->pfd);
	free(k->pconn);
	free(k->ents);
	free(k->client_id);
	if (k->wakefd >= 0)
		close(k->wakefd);
	free(k);
}
