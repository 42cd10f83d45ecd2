/* See kafka_client.h. One rd_kafka_t producer per output instance, driven
 * from the output's own thread: produce a run, then poll delivery reports
 * until none is outstanding. The report callback runs inside rd_kafka_poll on
 * this same thread, so the records it writes to are never shared.
 *
 * Values are produced without RD_KAFKA_MSG_F_COPY: they point into the ring
 * read buffer, which the agent keeps until send() returns, and send() returns
 * only once every message has its delivery report (a purge included), after
 * which librdkafka holds no message. message.copy.max.bytes is raised so that
 * librdkafka always copies a value into its request buffer rather than
 * referencing it from there: a purged in-flight request may outlive its
 * messages. That saves a malloc, a copy and a free per record. */
#include "outputs/kafka/kafka_client.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

struct kafka_client {
	rd_kafka_t *rk;
	int64_t message_timeout_ms;
	size_t outstanding;            /* produced, report not yet seen */
	atomic_int abort;
	void (*log)(void *arg, int level, const char *fac, const char *msg);
	void *log_arg;
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
		return 1;
	default:
		return 0;
	}
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_client *c = opaque;
	struct kafka_msg *msg = m->_private;
	(void)rk;
	c->outstanding--;
	if (!msg)
		return;
	if (!m->err) {
		msg->status = KAFKA_OK;
		msg->partition = m->partition;
		msg->offset = m->offset;
		msg->reason[0] = 0;
		return;
	}
	msg->status = kafka_error_is_permanent(m->err) ? KAFKA_REJECT : KAFKA_RETRY;
	snprintf(msg->reason, sizeof(msg->reason), "%s: %s", rd_kafka_err2name(m->err),
		 rd_kafka_err2str(m->err));
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

int kafka_client_new(const struct kafka_client_config *cfg, struct kafka_client **out,
		     char *err, size_t errlen)
{
	char num[32];
	struct kafka_client *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->message_timeout_ms = cfg->message_timeout_ms > 0 ? cfg->message_timeout_ms : 30000;
	c->log = cfg->log;
	c->log_arg = cfg->log_arg;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	snprintf(num, sizeof(num), "%lld", (long long)c->message_timeout_ms);
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

static void fail_local(struct kafka_msg *m, rd_kafka_resp_err_t e)
{
	m->status = kafka_error_is_permanent(e) ? KAFKA_REJECT : KAFKA_RETRY;
	snprintf(m->reason, sizeof(m->reason), "%s: %s", rd_kafka_err2name(e), rd_kafka_err2str(e));
}

size_t kafka_client_send(struct kafka_client *c, struct kafka_msg *msgs, size_t n)
{
	/* Wait for reports up to the message timeout plus a margin: librdkafka
	 * reports every message by then; after it, purge what is left. */
	int64_t deadline = clock_mono_ms() + c->message_timeout_ms + 5000;
	size_t i = 0;
	for (i = 0; i < n; i++)
		msgs[i].status = KAFKA_PENDING;
	for (i = 0; i < n && !atomic_load(&c->abort);) {
		struct kafka_msg *m = &msgs[i];
		rd_kafka_headers_t *hdrs = NULL;
		if (m->header_count) {
			hdrs = rd_kafka_headers_new(m->header_count);
			for (size_t h = 0; h < m->header_count; h++)
				rd_kafka_header_add(hdrs, m->headers[h].name, -1, m->headers[h].value,
						    (ssize_t)m->headers[h].value_len);
		}
		rd_kafka_resp_err_t e = rd_kafka_producev(c->rk, RD_KAFKA_V_TOPIC(m->topic),
			RD_KAFKA_V_KEY(m->key, m->key ? m->key_len : 0),
			RD_KAFKA_V_VALUE((void *)m->value, m->value_len),
			RD_KAFKA_V_MSGFLAGS(0),  /* no copy: see the top of this file */
			RD_KAFKA_V_TIMESTAMP(m->timestamp_ms),
			RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			/* The queue is bounded on purpose: wait for reports, then go on. */
			if (hdrs)
				rd_kafka_headers_destroy(hdrs);
			rd_kafka_poll(c->rk, 50);
			if (clock_mono_ms() > deadline)
				break;
			continue;
		}
		if (e) {
			/* Not queued: librdkafka keeps no reference, no report will come. */
			if (hdrs)
				rd_kafka_headers_destroy(hdrs);
			fail_local(m, e);
		} else {
			c->outstanding++;  /* the headers now belong to the message */
		}
		i++;
		/* Delivery reports free queue room; serving them per message
		 * costs a lock and a clock read each: every 1024 is enough. */
		if ((i & 1023) == 0)
			rd_kafka_poll(c->rk, 0);
	}
	for (size_t k = i; k < n; k++) {
		msgs[k].status = KAFKA_RETRY;
		snprintf(msgs[k].reason, sizeof(msgs[k].reason), "not sent: %s",
			 atomic_load(&c->abort) ? "shutting down" : "producer queue full until the timeout");
	}
	while (c->outstanding > 0) {
		if (atomic_load(&c->abort) || clock_mono_ms() > deadline) {
			rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			deadline = clock_mono_ms() + 60000;  /* purged reports come promptly */
		}
		/* flush, not poll: the run is complete, so what is queued goes
		 * out now instead of lingering (linger.ms only helps while a
		 * run is being produced); it serves the reports as they come. */
		rd_kafka_flush(c->rk, 100);
	}
	size_t ok = 0;
	for (size_t k = 0; k < n; k++) {
		if (msgs[k].status == KAFKA_OK)
			ok++;
		else if (msgs[k].status == KAFKA_PENDING) {
			msgs[k].status = KAFKA_RETRY;  /* cannot happen: every message reported */
			snprintf(msgs[k].reason, sizeof(msgs[k].reason), "no delivery report");
		}
	}
	return ok;
}

void kafka_client_abort(struct kafka_client *c)
{
	atomic_store(&c->abort, 1);
}

void kafka_client_free(struct kafka_client *c)
{
	if (!c)
		return;
	rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(c->rk, 1000);
	rd_kafka_destroy(c->rk);
	free(c);
}
