/* See kafka_client.h. One rd_kafka_t producer per output instance, driven
 * from the output's own thread: produce records as they come, serve delivery
 * reports when asked (kafka_client_poll) or while the queue is full. The
 * report callback runs inside rd_kafka_poll/flush on that same thread, so
 * nothing here is shared with librdkafka's threads but through librdkafka.
 *
 * Values are produced without RD_KAFKA_MSG_F_COPY: they point into the ring
 * read buffer, which the agent keeps until the record has its report (a
 * purge included), after which librdkafka holds no message.
 * message.copy.max.bytes is raised so that librdkafka always copies a value
 * into its request buffer rather than referencing it from there: a purged
 * in-flight request may outlive its messages. That saves a malloc, a copy
 * and a free per record. Topic handles are kept (a few dozen names), so
 * that producing does not look the topic up by name for every record. */
#include "outputs/kafka/kafka_client.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

#define TOPIC_CACHE 32

struct kafka_client {
	rd_kafka_t *rk;
	int64_t message_timeout_ms;
	size_t outstanding;            /* produced, report not yet served */
	uint64_t served;               /* reports served, ever */
	atomic_int abort;
	int purged;                    /* purged after abort */
	struct { char *name; rd_kafka_topic_t *rkt; } topics[TOPIC_CACHE];
	int ntopics, last_topic;
	void (*log)(void *arg, int level, const char *fac, const char *msg);
	void *log_arg;
	void (*report)(void *arg, const struct kafka_report *r);
	void *report_arg;
};

int kafka_error_is_permanent(int e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
	/* As the native engine classifies them (kafka_wire.c): */
	case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
	case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
		return 1;
	default:
		return 0;
	}
}

static void report(struct kafka_client *c, void *opaque, enum kafka_status st, const char *reason,
		   int32_t partition, int64_t offset)
{
	c->served++;
	if (!c->report)
		return;
	struct kafka_report r = { .opaque = opaque, .status = st, .reason = reason,
				  .partition = partition, .offset = offset };
	c->report(c->report_arg, &r);
}

static void report_error(struct kafka_client *c, void *opaque, rd_kafka_resp_err_t e, const char *what)
{
	char why[200];
	snprintf(why, sizeof(why), "%s%s: %s", what, rd_kafka_err2name(e), rd_kafka_err2str(e));
	report(c, opaque, kafka_error_is_permanent(e) ? KAFKA_REJECT : KAFKA_RETRY, why, -1, -1);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_client *c = opaque;
	(void)rk;
	c->outstanding--;
	if (!m->err)
		report(c, m->_private, KAFKA_OK, "", m->partition, m->offset);
	else
		report_error(c, m->_private, m->err, "");
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct kafka_client *c = rd_kafka_opaque(rk);
	if (c && c->log)
		c->log(c->log_arg, level, fac, buf);
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
	if (rd_kafka_conf_set(conf, k, v, err, errlen) != RD_KAFKA_CONF_OK)
		return -EINVAL;
	return 0;
}

/* librdkafka's conf from ours: every property checked by rd_kafka_conf_set
 * (a bad name or value names itself in err). NULL on error. */
static rd_kafka_conf_t *build_conf(const struct kafka_client_config *cfg, char *err, size_t errlen)
{
	char num[32];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	snprintf(num, sizeof(num), "%lld", (long long)(cfg->message_timeout_ms > 0 ? cfg->message_timeout_ms : 30000));
	if (set(conf, "bootstrap.servers", cfg->brokers, err, errlen) ||
	    set(conf, "client.id", cfg->client_id ? cfg->client_id : "logship", err, errlen) ||
	    set(conf, "compression.codec", cfg->compression ? cfg->compression : "none", err, errlen) ||
	    set(conf, "acks", cfg->acks ? cfg->acks : "all", err, errlen) ||
	    set(conf, "message.timeout.ms", num, err, errlen))
		goto bad;
	snprintf(num, sizeof(num), "%lld", (long long)(cfg->linger_ms >= 0 ? cfg->linger_ms : 5));
	if (set(conf, "linger.ms", num, err, errlen))
		goto bad;
	/* The ring is the buffer: librdkafka holds at most this much in RAM. */
	uint64_t kb = cfg->queue_max_bytes ? cfg->queue_max_bytes / 1024 : 16384;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)(kb ? kb : 1));
	if (set(conf, "queue.buffering.max.kbytes", num, err, errlen))
		goto bad;
	for (size_t i = 0; i < cfg->nprops; i++) {
		char key[256];
		const char *eq = strchr(cfg->props[i], '=');
		size_t kl = eq ? (size_t)(eq - cfg->props[i]) : 0;
		if (!eq || kl == 0 || kl >= sizeof(key)) {
			snprintf(err, errlen, "rdkafka property '%s': expected key=value", cfg->props[i]);
			goto bad;
		}
		memcpy(key, cfg->props[i], kl);
		key[kl] = 0;
		if (set(conf, key, eq + 1, err, errlen))
			goto bad;
	}
	/* After the user's properties: values are not copied (see the top). */
	if (set(conf, "message.copy.max.bytes", "1000000000", err, errlen))
		goto bad;
	return conf;
bad:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

int kafka_client_check(const struct kafka_client_config *cfg, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = build_conf(cfg, err, errlen);
	if (!conf)
		return -EINVAL;
	rd_kafka_conf_destroy(conf);
	return 0;
}

int kafka_client_new(const struct kafka_client_config *cfg, struct kafka_client **out,
		     char *err, size_t errlen)
{
	struct kafka_client *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->message_timeout_ms = cfg->message_timeout_ms > 0 ? cfg->message_timeout_ms : 30000;
	c->log = cfg->log;
	c->log_arg = cfg->log_arg;
	c->report = cfg->report;
	c->report_arg = cfg->report_arg;
	c->last_topic = -1;
	rd_kafka_conf_t *conf = build_conf(cfg, err, errlen);
	if (!conf) {
		free(c);
		return -EINVAL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_opaque(conf, c);
	c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (!c->rk)
		goto bad;
	*out = c;
	return 0;
bad:
	rd_kafka_conf_destroy(conf);
	free(c);
	return -EINVAL;
}

/* The producer's handle on topic name, kept for the next records; NULL
 * when the cache is full (or librdkafka refuses the name): produce by name. */
static rd_kafka_topic_t *topic_get(struct kafka_client *c, const char *name)
{
	if (c->last_topic >= 0 && strcmp(c->topics[c->last_topic].name, name) == 0)
		return c->topics[c->last_topic].rkt;
	for (int i = 0; i < c->ntopics; i++)
		if (strcmp(c->topics[i].name, name) == 0) {
			c->last_topic = i;
			return c->topics[i].rkt;
		}
	if (c->ntopics == TOPIC_CACHE)
		return NULL;
	char *dup = strdup(name);
	rd_kafka_topic_t *rkt = dup ? rd_kafka_topic_new(c->rk, name, NULL) : NULL;
	if (!rkt) {
		free(dup);
		return NULL;
	}
	c->topics[c->ntopics].name = dup;
	c->topics[c->ntopics].rkt = rkt;
	c->last_topic = c->ntopics++;
	return rkt;
}

static rd_kafka_resp_err_t produce1(struct kafka_client *c, const struct kafka_msg *m)
{
	rd_kafka_headers_t *hdrs = NULL;
	if (m->header_count) {
		hdrs = rd_kafka_headers_new(m->header_count);
		for (size_t h = 0; h < m->header_count; h++)
			rd_kafka_header_add(hdrs, m->headers[h].name, -1, m->headers[h].value,
					    (ssize_t)m->headers[h].value_len);
	}
	rd_kafka_topic_t *rkt = topic_get(c, m->topic);
	rd_kafka_resp_err_t e;
	if (rkt)
		e = rd_kafka_producev(c->rk, RD_KAFKA_V_RKT(rkt),
			RD_KAFKA_V_KEY(m->key, m->key ? m->key_len : 0),
			RD_KAFKA_V_VALUE((void *)m->value, m->value_len),
			RD_KAFKA_V_MSGFLAGS(0),  /* no copy: see the top of this file */
			RD_KAFKA_V_TIMESTAMP(m->timestamp_ms),
			RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(m->opaque), RD_KAFKA_V_END);
	else
		e = rd_kafka_producev(c->rk, RD_KAFKA_V_TOPIC(m->topic),
			RD_KAFKA_V_KEY(m->key, m->key ? m->key_len : 0),
			RD_KAFKA_V_VALUE((void *)m->value, m->value_len),
			RD_KAFKA_V_MSGFLAGS(0),
			RD_KAFKA_V_TIMESTAMP(m->timestamp_ms),
			RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(m->opaque), RD_KAFKA_V_END);
	if (e && hdrs)
		rd_kafka_headers_destroy(hdrs);  /* not queued: still ours */
	return e;                                /* queued: the headers are the message's */
}

void kafka_client_produce(struct kafka_client *c, const struct kafka_msg *msgs, size_t n)
{
	int64_t full_since = 0;
	for (size_t i = 0; i < n;) {
		const struct kafka_msg *m = &msgs[i];
		if (atomic_load(&c->abort)) {
			report(c, m->opaque, KAFKA_RETRY, "not sent: shutting down", -1, -1);
			i++;
			continue;
		}
		rd_kafka_resp_err_t e = produce1(c, m);
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			/* The queue is bounded on purpose: serve reports, which
			 * make room, then go on. librdkafka times every queued
			 * record out by message.timeout.ms, so room comes; if
			 * it did not, the record is retried from the ring. */
			int64_t now = clock_mono_ms();
			if (!full_since)
				full_since = now;
			if (now - full_since > c->message_timeout_ms + 5000) {
				report(c, m->opaque, KAFKA_RETRY,
				       "not sent: producer queue full until the timeout", -1, -1);
				i++;
				full_since = 0;
				continue;
			}
			rd_kafka_poll(c->rk, 50);
			continue;
		}
		full_since = 0;
		if (e)
			report_error(c, m->opaque, e, "not queued: ");  /* no report will come */
		else
			c->outstanding++;
		i++;
		/* Delivery reports free queue room; serving them per record
		 * costs a lock and a clock read each: every 1024 is enough. */
		if ((i & 1023) == 0)
			rd_kafka_poll(c->rk, 0);
	}
}

size_t kafka_client_poll(struct kafka_client *c, int timeout_ms)
{
	uint64_t before = c->served;
	int64_t end = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int slice = 1;
	for (;;) {
		if (atomic_load(&c->abort) && !c->purged && c->outstanding) {
			rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			c->purged = 1;
		}
		rd_kafka_poll(c->rk, 0);
		if (c->served != before || !c->outstanding)
			break;
		int64_t left = end - clock_mono_ms();
		if (left <= 0)
			break;
		/* flush, not poll: while the agent waits, what librdkafka holds
		 * back to fill a batch (linger.ms) goes out now. flush returns
		 * only when everything is delivered or at its timeout, so it is
		 * called in short slices (growing while nothing comes back:
		 * a dead broker does not cost a wake-up per millisecond). */
		rd_kafka_flush(c->rk, (int)(left < slice ? left : slice));
		if (c->served != before)
			break;
		if (slice < 64)
			slice *= 2;
	}
	return (size_t)(c->served - before);
}

size_t kafka_client_outstanding(const struct kafka_client *c)
{
	return c->outstanding;
}

void kafka_client_abort(struct kafka_client *c)
{
	atomic_store(&c->abort, 1);
}

void kafka_client_free(struct kafka_client *c)
{
	if (!c)
		return;
	c->report = NULL;  /* whatever is left is nobody's business any more */
	rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(c->rk, 1000);
	for (int i = 0; i < c->ntopics; i++) {
		rd_kafka_topic_destroy(c->topics[i].rkt);
		free(c->topics[i].name);
	}
	rd_kafka_destroy(c->rk);
	free(c);
}
