/* The Kafka API handlers: ApiVersions, Metadata, Produce, Fetch, ListOffsets,
 * CreateTopics, DeleteTopics, in the non-flexible versions librdkafka 2.x and
 * kcat negotiate. Field layouts follow Kafka's message definitions
 * (clients/src/main/resources/common/message/ *.json); "vN+" comments mark
 * fields that exist from version N on.
 *
 * Every count and length comes through kafka_codec's bounded reader; a request
 * that does not parse is REQ_CLOSE (the connection goes, the broker stays). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/logdirs.h"
#include "buffer/batch.h"
#include "common/clock.h"
#include "common/logging.h"

struct api_range { int16_t key, min, max; };
static const struct api_range apis[] = {
	{ KAPI_PRODUCE, 3, 7 },
	{ KAPI_FETCH, 4, 11 },
	{ KAPI_LIST_OFFSETS, 1, 5 },
	{ KAPI_METADATA, 0, 8 },
	{ KAPI_API_VERSIONS, 0, 2 },
	{ KAPI_CREATE_TOPICS, 0, 4 },
	{ KAPI_DELETE_TOPICS, 0, 3 },
	{ KAPI_DESCRIBE_LOG_DIRS, 0, 1 },  /* logdirs.c */
	{ 8, 2, 7 },    /* OffsetCommit */
	{ 9, 1, 5 },    /* OffsetFetch */
	{ KAPI_FIND_COORDINATOR, 0, 2 },
	{ 11, 0, 5 },   /* JoinGroup */
	{ 12, 0, 3 },   /* Heartbeat */
	{ 13, 0, 3 },   /* LeaveGroup */
	{ 14, 0, 3 },   /* SyncGroup */
	{ 15, 0, 4 },   /* DescribeGroups */
	{ 16, 0, 2 },   /* ListGroups */
	{ KAPI_SASL_HANDSHAKE, 0, 1 },      /* auth.c */
	{ KAPI_SASL_AUTHENTICATE, 0, 1 },
};
#define NAPIS (sizeof(apis) / sizeof(apis[0]))

void req_wait_free(struct req_wait *w)
{
	free(w->parts);
	memset(w, 0, sizeof(*w));
}

static int wait_add(struct req_wait *w, const char *topic, int32_t p, int64_t offset)
{
	struct req_wait_part *v = realloc(w->parts, (w->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	w->parts = v;
	snprintf(v[w->n].topic, sizeof(v[w->n].topic), "%s", topic);
	v[w->n].partition = p;
	v[w->n].offset = offset;
	w->n++;
	return 0;
}

static struct log *part_log(struct broker *b, struct kstr name, int32_t p, struct topic **tp_out)
{
	if (name.len <= 0)
		return NULL;
	struct topic *tp = topics_find(&b->topics, name.p, (size_t)name.len);
	if (tp_out)
		*tp_out = tp;
	if (!tp || p < 0 || p >= tp->nparts)
		return NULL;
	return tp->parts[p];
}

int broker_wait_durable_done(struct broker *b, const struct req_wait *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct kstr k = { w->parts[i].topic, (int32_t)strlen(w->parts[i].topic) };
		struct log *l = part_log(b, k, w->parts[i].partition, NULL);
		if (l && log_durable_offset(l) < w->parts[i].offset)
			return 0;
	}
	return 1;
}

/* --- authorization ----------------------------------------------------------- */

static const char *const res_names[] = { "topic", "group", "cluster" };

int broker_authorized(struct broker *b, enum acl_op op, enum acl_res res, const char *name, size_t len)
{
	const struct broker_session *s = b->ses;
	if (!b->acl || !s)
		return 1;
	if (acl_allowed(b->acl, s->principal, op, res, name ? name : "", name ? len : 0))
		return 1;
	b->ctr.acl_denied++;
	uint64_t more;
	char note[64];
	if (ratelimit_ok(&b->acl_log, clock_mono_ms(), 1000, &more))
		LOG_WARN("broker", "%s: %s may not %s %s%s%.*s (ACL)%s", s->peer,
			 s->principal, acl_op_name(op), res_names[res], res == ACL_CLUSTER ? "" : " ",
			 res == ACL_CLUSTER ? 0 : (int)(len > 255 ? 255 : len), name ? name : "",
			 ratelimit_note(more, note, sizeof(note)));
	return 0;
}

#define TOPIC_OK(b, op, name) broker_authorized(b, op, ACL_TOPIC, (name).p, (name).len > 0 ? (size_t)(name).len : 0)

/* --- ApiVersions ------------------------------------------------------------ */

static void api_versions(int16_t version, struct kwriter *w)
{
	/* A version we do not know (librdkafka opens with v3, a flexible one):
	 * UNSUPPORTED_VERSION in the v0 shape, with our list, so that the client
	 * retries with a version from it (KIP-511). */
	kw_i16(w, version > 2 ? KERR_UNSUPPORTED_VERSION : KERR_NONE);
	kw_i32(w, (int32_t)NAPIS);
	for (size_t i = 0; i < NAPIS; i++) {
		kw_i16(w, apis[i].key);
		kw_i16(w, apis[i].min);
		kw_i16(w, apis[i].max);
	}
	if (version >= 1 && version <= 2)
		kw_i32(w, 0);  /* throttle_time_ms */
}

/* --- Metadata --------------------------------------------------------------- */

/* A topic Metadata may create: the principal may produce to it, or
 * administer it (Kafka asks for Create; a producer of logs-* creating
 * logs-new is the common case here). */
static int may_create(struct broker *b, struct kstr name)
{
	if (!b->acl || !b->ses)
		return 1;
	const char *who = b->ses->principal;
	return acl_allowed(b->acl, who, ACL_PRODUCE, ACL_TOPIC, name.p, (size_t)name.len) ||
	       acl_allowed(b->acl, who, ACL_ADMIN, ACL_TOPIC, name.p, (size_t)name.len);
}

static void metadata_topic(struct broker *b, int16_t v, struct kwriter *w, struct topic *tp,
			   struct kstr name, int16_t err)
{
	kw_i16(w, err);
	if (tp)
		kw_cstring(w, tp->name);
	else
		kw_string(w, name.p, name.len);
	if (v >= 1)
		kw_i8(w, 0);  /* is_internal */
	int32_t n = tp && !err ? tp->nparts : 0;
	kw_i32(w, n);
	for (int32_t p = 0; p < n; p++) {
		kw_i16(w, KERR_NONE);
		kw_i32(w, p);
		kw_i32(w, b->node_id);           /* leader */
		if (v >= 7)
			kw_i32(w, 0);            /* leader_epoch */
		kw_i32(w, 1);                    /* replicas */
		kw_i32(w, b->node_id);
		kw_i32(w, 1);                    /* isr */
		kw_i32(w, b->node_id);
		if (v >= 5)
			kw_i32(w, 0);            /* offline replicas */
	}
	if (v >= 8)
		kw_i32(w, -2147483648);          /* topic_authorized_operations: not asked */
}

static enum req_result metadata(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w)
{
	int is_null = 0;
	int32_t n = kr_array(r, 2, &is_null);
	struct kstr names[1024];
	if (n > 1024)
		return REQ_CLOSE;
	for (int32_t i = 0; i < n; i++)
		names[i] = kr_string(r);
	int allow_create = 1;
	if (v >= 4)
		allow_create = kr_i8(r);
	if (v >= 8) {
		kr_i8(r);
		kr_i8(r);
	}
	if (r->err)
		return REQ_CLOSE;
	int all = (v == 0 && n == 0) || (v >= 1 && is_null);
	if (v >= 3)
		kw_i32(w, 0);  /* throttle */
	/* The broker as the listener the request came through advertises it
	 * (Kafka's rule: a client stays on the listener it chose). */
	const struct broker_listener *lst = b->ses ? b->ses->lst : NULL;
	kw_i32(w, 1);          /* brokers: this one */
	kw_i32(w, b->node_id);
	kw_cstring(w, lst ? lst->adv_host : b->adv_host);
	kw_i32(w, lst ? lst->adv_port : b->adv_port);
	if (v >= 1)
		kw_string(w, NULL, -1);  /* rack */
	if (v >= 2)
		kw_cstring(w, "logship");  /* cluster_id */
	if (v >= 1)
		kw_i32(w, b->node_id);     /* controller */
	if (all) {
		/* Every topic the principal may describe; the others are not
		 * mentioned (Kafka hides them from an all-topics request). */
		size_t pos = w->len;
		int32_t shown = 0;
		kw_i32(w, 0);
		for (size_t i = 0; i < b->topics.n; i++) {
			struct topic *tp = b->topics.v[i];
			if (b->acl && b->ses && !acl_allowed(b->acl, b->ses->principal, ACL_DESCRIBE, ACL_TOPIC, tp->name,
							       strlen(tp->name)))
				continue;
			metadata_topic(b, v, w, tp, (struct kstr){ NULL, -1 }, KERR_NONE);
			shown++;
		}
		kw_put_i32_at(w, pos, shown);
	} else {
		kw_i32(w, n);
		for (int32_t i = 0; i < n; i++) {
			struct topic *tp = names[i].len > 0 ? topics_find(&b->topics, names[i].p, (size_t)names[i].len) : NULL;
			int16_t err = KERR_NONE;
			if (names[i].len > 0 && !TOPIC_OK(b, ACL_DESCRIBE, names[i])) {
				tp = NULL;
				err = KERR_TOPIC_AUTHORIZATION_FAILED;
			} else if (!tp) {
				if (names[i].len <= 0 || !topics_name_ok(names[i].p, (size_t)names[i].len))
					err = KERR_INVALID_TOPIC_EXCEPTION;
				else if (b->cfg.auto_create_topics && allow_create && may_create(b, names[i]) &&
					 topics_create(&b->topics, names[i].p, (size_t)names[i].len,
						       (int32_t)b->cfg.num_partitions, &tp) == 0)
					err = KERR_NONE;
				else
					err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			}
			metadata_topic(b, v, w, tp, names[i], err);
		}
	}
	if (v >= 8)
		kw_i32(w, -2147483648);
	return REQ_RESPOND;
}

/* --- Produce ---------------------------------------------------------------- */

/* Verifies every batch of a record set; returns the count, or -1. */
static int records_check(uint8_t *p, size_t len)
{
	size_t pos = 0;
	int n = 0;
	while (pos < len) {
		long bs = batch_verify(p + pos, len - pos);
		if (bs < 0)
			return -1;
		pos += (size_t)bs;
		n++;
	}
	return n;
}

/* Appends one partition's record set; returns a Kafka error code and the
 * first assigned offset in *base. A set is taken whole or not at all: when
 * it holds several batches, all are verified before the first is appended.
 * The usual set is one batch (librdkafka sends one per partition), and
 * log_append verifies it anyway, so its CRC is computed once, not twice. */
/* A full disk fails every Produce: one line a second says so. Requests are
 * handled on the loop thread only. */
static struct ratelimit storage_log;

static int16_t produce_records(struct log *l, const char *topic, int32_t p, uint8_t *recs, size_t len,
			       int64_t *base)
{
	long first = batch_size(recs, len);
	if (first <= 0 || ((size_t)first != len && records_check(recs, len) < 0))
		return KERR_CORRUPT_MESSAGE;
	for (size_t pos = 0; pos < len;) {
		long bs = batch_size(recs + pos, len - pos);
		int64_t off;
		int rc = log_append(l, recs + pos, (size_t)bs, &off);
		if (rc == -EBADMSG || rc == -EILSEQ || rc == -ENODATA)
			return KERR_CORRUPT_MESSAGE;  /* a lone batch, checked here first */
		if (rc < 0) {
			uint64_t more;
			char note[64];
			if (ratelimit_ok(&storage_log, clock_mono_ms(), 1000, &more))
				LOG_ERROR("broker", "append to %s-%d: %s: answered KAFKA_STORAGE_ERROR (retriable)%s",
					  topic, p, strerror(-rc), ratelimit_note(more, note, sizeof(note)));
			return KERR_KAFKA_STORAGE_ERROR;
		}
		if (*base < 0)
			*base = off;
		pos += (size_t)bs;
	}
	return KERR_NONE;
}

/* One partition of a Produce request: its records appended, and for
 * acks=-1 the durable offset its response waits for. A Kafka error code. */
static int16_t produce_partition(struct log *l, const char *topic, int32_t p, struct kstr recs, int16_t acks,
				 struct req_wait *wait, int64_t *base, const char *peer)
{
	int16_t err = recs.len > 0 ? produce_records(l, topic, p, (uint8_t *)recs.p, (size_t)recs.len, base)
				   : KERR_CORRUPT_MESSAGE;
	if (err == KERR_CORRUPT_MESSAGE)
		LOG_WARN("broker", "%s: produce to %s-%d: corrupt record batch (%d bytes) refused", peer, topic, p,
			 recs.len);
	if (err || acks != -1)
		return err;
	if (wait_add(wait, topic, p, log_end_offset(l)) < 0)
		return KERR_KAFKA_STORAGE_ERROR;
	log_sync_request(l);
	return KERR_NONE;
}

static enum req_result produce(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w,
			       struct req_wait *wait, const char *peer)
{
	kr_string(r);                 /* transactional_id */
	int16_t acks = kr_i16(r);
	kr_i32(r);                    /* timeout_ms */
	int32_t nt = kr_array(r, 6, NULL);
	if (r->err)
		return REQ_CLOSE;
	kw_i32(w, nt);
	for (int32_t t = 0; t < nt; t++) {
		struct kstr name = kr_string(r);
		int32_t np = kr_array(r, 8, NULL);
		if (r->err)
			return REQ_CLOSE;
		kw_string(w, name.p, name.len);
		kw_i32(w, np);
		struct topic *tp = NULL;
		int allowed = TOPIC_OK(b, ACL_PRODUCE, name);
		if (allowed && name.len > 0 && !topics_find(&b->topics, name.p, (size_t)name.len) &&
		    b->cfg.auto_create_topics && topics_name_ok(name.p, (size_t)name.len))
			topics_create(&b->topics, name.p, (size_t)name.len, (int32_t)b->cfg.num_partitions, &tp);
		for (int32_t i = 0; i < np; i++) {
			int32_t p = kr_i32(r);
			struct kstr recs = kr_bytes(r);
			if (r->err)
				return REQ_CLOSE;
			int64_t base = -1;
			struct log *l = part_log(b, name, p, &tp);
			if (!allowed)
				l = NULL;
			int16_t err = acks != 0 && acks != 1 && acks != -1 ? KERR_INVALID_REQUIRED_ACKS
				    : !allowed ? KERR_TOPIC_AUTHORIZATION_FAILED
				    : !l ? KERR_UNKNOWN_TOPIC_OR_PARTITION
				    : produce_partition(l, tp->name, p, recs, acks, wait, &base, peer);
			kw_i32(w, p);
			kw_i16(w, err);
			kw_i64(w, base);
			kw_i64(w, -1);   /* log_append_time: CreateTime topics */
			if (v >= 5)
				kw_i64(w, l ? log_start_offset(l) : -1);
		}
	}
	kw_i32(w, 0);  /* throttle */
	if (acks == 0)
		return REQ_NO_RESPONSE;
	if (wait->n) {
		wait->kind = WAIT_DURABLE;
		return REQ_WAIT;
	}
	return REQ_RESPOND;
}

/* --- ListOffsets ------------------------------------------------------------ */

static enum req_result list_offsets(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w)
{
	kr_i32(r);  /* replica_id */
	if (v >= 2)
		kr_i8(r);
	int32_t nt = kr_array(r, 6, NULL);
	if (r->err)
		return REQ_CLOSE;
	if (v >= 2)
		kw_i32(w, 0);
	kw_i32(w, nt);
	for (int32_t t = 0; t < nt; t++) {
		struct kstr name = kr_string(r);
		int32_t np = kr_array(r, 12, NULL);
		if (r->err)
			return REQ_CLOSE;
		kw_string(w, name.p, name.len);
		kw_i32(w, np);
		int allowed = TOPIC_OK(b, ACL_DESCRIBE, name);
		for (int32_t i = 0; i < np; i++) {
			int32_t p = kr_i32(r);
			if (v >= 4)
				kr_i32(r);
			int64_t ts = kr_i64(r);
			if (r->err)
				return REQ_CLOSE;
			struct log *l = allowed ? part_log(b, name, p, NULL) : NULL;
			int16_t err = KERR_NONE;
			int64_t off = -1, rts = -1;
			if (!allowed)
				err = KERR_TOPIC_AUTHORIZATION_FAILED;
			else if (!l)
				err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			else if (ts == -2)
				off = log_start_offset(l);
			else if (ts == -1)
				off = log_end_offset(l);
			else if (log_offset_for_time(l, ts, &off) == 0)
				rts = ts;
			else
				off = -1;
			kw_i32(w, p);
			kw_i16(w, err);
			kw_i64(w, rts);
			kw_i64(w, off);
			if (v >= 4)
				kw_i32(w, 0);  /* leader_epoch */
		}
	}
	return REQ_RESPOND;
}

/* --- Fetch ------------------------------------------------------------------ */

static enum req_result fetch(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w,
			     int final, int64_t now_ms, struct req_wait *wait)
{
	kr_i32(r);  /* replica_id */
	int32_t max_wait = kr_i32(r), min_bytes = kr_i32(r), max_bytes = kr_i32(r);
	kr_i8(r);   /* isolation_level: no transactions here, both read the same */
	if (v >= 7) {
		kr_i32(r);  /* session_id */
		kr_i32(r);  /* session_epoch */
	}
	int32_t nt = kr_array(r, 6, NULL);
	if (r->err)
		return REQ_CLOSE;
	if (max_bytes <= 0)
		max_bytes = 52428800;
	size_t total = 0, size_pos;
	int any_error = 0;
	kw_i32(w, 0);  /* throttle */
	if (v >= 7) {
		kw_i16(w, KERR_NONE);
		kw_i32(w, 0);  /* session_id: sessionless (KIP-227 not used) */
	}
	kw_i32(w, nt);
	struct log_buf *buf = &b->fetch_buf;
	for (int32_t t = 0; t < nt; t++) {
		struct kstr name = kr_string(r);
		int32_t np = kr_array(r, 16, NULL);
		if (r->err)
			return REQ_CLOSE;
		kw_string(w, name.p, name.len);
		kw_i32(w, np);
		int allowed = TOPIC_OK(b, ACL_CONSUME, name);
		for (int32_t i = 0; i < np; i++) {
			int32_t p = kr_i32(r);
			if (v >= 9)
				kr_i32(r);  /* current_leader_epoch */
			int64_t off = kr_i64(r);
			if (v >= 5)
				kr_i64(r);  /* log_start_offset (of a follower) */
			int32_t pmax = kr_i32(r);
			if (r->err)
				return REQ_CLOSE;
			struct log *l = allowed ? part_log(b, name, p, NULL) : NULL;
			int16_t err = KERR_NONE;
			int64_t hw = -1, start = -1;
			ssize_t n = 0;
			if (!allowed) {
				err = KERR_TOPIC_AUTHORIZATION_FAILED;
			} else if (!l) {
				err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			} else {
				hw = log_end_offset(l);
				start = log_start_offset(l);
				size_t room = total < (size_t)max_bytes ? (size_t)max_bytes - total : 0;
				size_t lim = pmax > 0 && (size_t)pmax < room ? (size_t)pmax : room;
				int64_t next;
				if (off < start || off > hw)
					err = KERR_OFFSET_OUT_OF_RANGE;
				else if (lim > 0 || total == 0)
					n = log_read(l, off, lim ? lim : 1, buf, &next);
				if (n < 0) {
					err = n == -ERANGE ? KERR_OFFSET_OUT_OF_RANGE : KERR_KAFKA_STORAGE_ERROR;
					n = 0;
				}
				/* The first batch goes out even if larger than the limits
				 * (KIP-74); after that, the response budget holds. */
				if (n > 0 && total > 0 && total + (size_t)n > (size_t)max_bytes)
					n = 0;
			}
			any_error |= err != KERR_NONE;
			kw_i32(w, p);
			kw_i16(w, err);
			kw_i64(w, hw);
			kw_i64(w, hw);          /* last_stable_offset */
			if (v >= 5)
				kw_i64(w, start);
			kw_i32(w, -1);          /* aborted_transactions: null */
			if (v >= 11)
				kw_i32(w, -1);  /* preferred_read_replica */
			size_pos = w->len;
			kw_bytes(w, n > 0 ? buf->data : NULL, n > 0 ? (int32_t)n : 0);
			(void)size_pos;
			total += (size_t)n;
		}
	}
	if (v >= 7) {
		int32_t nf = kr_array(r, 6, NULL);  /* forgotten topics */
		for (int32_t i = 0; i < nf && !r->err; i++) {
			kr_string(r);
			int32_t k = kr_array(r, 4, NULL);
			for (int32_t j = 0; j < k && !r->err; j++)
				kr_i32(r);
		}
	}
	if (r->err)
		return REQ_CLOSE;
	if (!final && !any_error && max_wait > 0 && total < (size_t)(min_bytes > 0 ? min_bytes : 1)) {
		wait->kind = WAIT_FETCH;
		wait->deadline_ms = now_ms + max_wait;
		return REQ_WAIT;
	}
	return REQ_RESPOND;
}

/* --- CreateTopics / DeleteTopics -------------------------------------------- */

static enum req_result create_topics(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w)
{
	int32_t nt = kr_array(r, 12, NULL);
	if (r->err || nt > 10000)
		return REQ_CLOSE;
	struct { struct kstr name; int32_t parts; int16_t rf; } *req = calloc((size_t)nt + 1, sizeof(*req));
	if (!req)
		return REQ_CLOSE;
	for (int32_t i = 0; i < nt; i++) {
		req[i].name = kr_string(r);
		req[i].parts = kr_i32(r);
		req[i].rf = kr_i16(r);
		int32_t na = kr_array(r, 8, NULL);
		for (int32_t a = 0; a < na && !r->err; a++) {
			kr_i32(r);
			int32_t nb = kr_array(r, 4, NULL);
			for (int32_t k = 0; k < nb && !r->err; k++)
				kr_i32(r);
		}
		if (na > 0 && req[i].parts == -1)
			req[i].parts = na;
		int32_t nc = kr_array(r, 4, NULL);
		for (int32_t c = 0; c < nc && !r->err; c++) {
			kr_string(r);
			kr_string(r);  /* per-topic configs: not applied (broker-wide settings) */
		}
	}
	kr_i32(r);  /* timeout */
	int validate_only = v >= 1 ? kr_i8(r) : 0;
	if (r->err) {
		free(req);
		return REQ_CLOSE;
	}
	if (v >= 2)
		kw_i32(w, 0);
	kw_i32(w, nt);
	for (int32_t i = 0; i < nt; i++) {
		int16_t err = KERR_NONE;
		const char *msg = NULL;
		int32_t parts = req[i].parts == -1 ? (int32_t)b->cfg.num_partitions : req[i].parts;
		struct kstr n = req[i].name;
		if (n.len <= 0 || !topics_name_ok(n.p, (size_t)n.len)) {
			err = KERR_INVALID_TOPIC_EXCEPTION;
			msg = "topic names are 1-249 characters of [a-zA-Z0-9._-], not . or ..";
		} else if (!TOPIC_OK(b, ACL_ADMIN, n)) {
			err = KERR_TOPIC_AUTHORIZATION_FAILED;
			msg = "not authorized to create this topic (ACL: admin)";
		} else if (topics_find(&b->topics, n.p, (size_t)n.len)) {
			err = KERR_TOPIC_ALREADY_EXISTS;
			msg = "the topic exists";
		} else if (parts < 1 || parts > TOPIC_PARTITIONS_MAX) {
			err = KERR_INVALID_PARTITIONS;
			msg = "partitions must be 1..10000";
		} else if (req[i].rf != -1 && req[i].rf != 1) {
			err = KERR_INVALID_REPLICATION_FACTOR;
			msg = "logship-broker is a single node: replication factor 1";
		} else if (!validate_only) {
			int rc = topics_create(&b->topics, n.p, (size_t)n.len, parts, NULL);
			if (rc < 0) {
				err = KERR_KAFKA_STORAGE_ERROR;
				msg = "cannot create the partition logs";
			}
		}
		kw_string(w, n.p, n.len);
		kw_i16(w, err);
		if (v >= 1)
			kw_cstring(w, msg);
	}
	free(req);
	return REQ_RESPOND;
}

static enum req_result delete_topics(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w)
{
	int32_t nt = kr_array(r, 2, NULL);
	if (r->err)
		return REQ_CLOSE;
	if (v >= 1)
		kw_i32(w, 0);
	kw_i32(w, nt);
	for (int32_t i = 0; i < nt; i++) {
		struct kstr n = kr_string(r);
		if (r->err)
			return REQ_CLOSE;
		int16_t err = KERR_NONE;
		char name[TOPIC_NAME_MAX + 1];
		if (n.len > 0 && !TOPIC_OK(b, ACL_ADMIN, n)) {
			err = KERR_TOPIC_AUTHORIZATION_FAILED;
		} else if (n.len <= 0 || n.len > TOPIC_NAME_MAX || topics_delete(&b->topics, n.p, (size_t)n.len) < 0) {
			err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		} else {
			snprintf(name, sizeof(name), "%.*s", n.len, n.p);
			groups_topic_deleted(b, name);
		}
		kw_string(w, n.p, n.len);
		kw_i16(w, err);
	}
	kr_i32(r);  /* timeout */
	return REQ_RESPOND;
}

/* --- dispatch --------------------------------------------------------------- */

enum req_result broker_handle(struct broker *b, uint8_t *req, size_t len, int final, int64_t now_ms,
			      const char *peer, struct kwriter *out, struct req_wait *wait)
{
	struct broker_session s = { .peer = peer, .authenticated = 1 };
	snprintf(s.principal, sizeof(s.principal), "%s", ACL_ANONYMOUS);
	enum req_result r = broker_handle_as(b, &s, req, len, final, now_ms, out, wait);
	broker_session_free(&s);
	return r;
}

/* Before authentication on a SASL listener only these may come. */
static int preauth_api(int16_t key)
{
	return key == KAPI_API_VERSIONS || key == KAPI_SASL_HANDSHAKE || key == KAPI_SASL_AUTHENTICATE;
}

static enum req_result dispatch(struct broker *b, struct broker_session *ses, int16_t key, int16_t version,
				struct kreader *r, struct kstr client, int final, int64_t now_ms, struct kwriter *out,
				struct req_wait *wait)
{
	const char *peer = ses->peer;
	switch (key) {
	case KAPI_METADATA: return metadata(b, version, r, out);
	case KAPI_PRODUCE: return produce(b, version, r, out, wait, peer);
	case KAPI_FETCH: return fetch(b, version, r, out, final, now_ms, wait);
	case KAPI_LIST_OFFSETS: return list_offsets(b, version, r, out);
	case KAPI_CREATE_TOPICS: return create_topics(b, version, r, out);
	case KAPI_DELETE_TOPICS: return delete_topics(b, version, r, out);
	case KAPI_DESCRIBE_LOG_DIRS: return (enum req_result)logdirs_describe(b, version, r, out);
	case KAPI_SASL_HANDSHAKE: return auth_handshake(b, ses, version, r, out);
	case KAPI_SASL_AUTHENTICATE: return auth_authenticate(b, ses, version, r, out);
	default:
		return groups_api(key) ? (enum req_result)groups_handle(b, key, version, r, out, final, now_ms, peer,
									client, wait)
				       : REQ_CLOSE;
	}
}

enum req_result broker_handle_as(struct broker *b, struct broker_session *ses, uint8_t *req, size_t len, int final,
				 int64_t now_ms, struct kwriter *out, struct req_wait *wait)
{
	const char *peer = ses->peer;
	memset(wait, 0, sizeof(*wait));
	if (ses->legacy && ses->conv)
		return auth_legacy_token(b, ses, req, len, out);
	struct kreader r;
	kr_init(&r, req, len);
	int16_t key = kr_i16(&r), version = kr_i16(&r);
	int32_t corr = kr_i32(&r);
	struct kstr client = kr_string(&r);
	if (r.err) {
		b->malformed++;
		LOG_WARN("broker", "%s: request header does not parse (%zu bytes): closing", peer, len);
		return REQ_CLOSE;
	}
	if (!ses->authenticated && !preauth_api(key)) {
		/* Kafka's SaslServerAuthenticator: anything else before the
		 * exchange is done ends the connection. */
		b->ctr.preauth_closed++;
		LOG_WARN("broker", "%s: API %d before SASL authentication on listener %s: closing", peer, key,
			 ses->lst ? ses->lst->name : "?");
		return REQ_CLOSE;
	}
	b->requests++;
	kw_reset(out);
	kw_i32(out, 0);        /* frame size, filled in below */
	kw_i32(out, corr);
	const struct api_range *api = NULL;
	for (size_t i = 0; i < NAPIS; i++)
		if (apis[i].key == key)
			api = &apis[i];
	enum req_result res;
	if (key == KAPI_API_VERSIONS) {
		api_versions(version, out);
		res = REQ_RESPOND;
	} else if (!api || version < api->min || version > api->max) {
		/* Clients pick versions from ApiVersions, so this is a client that
		 * did not: answer with the error code rather than a dropped line. */
		LOG_WARN("broker", "%s: unsupported API %d version %d: answered UNSUPPORTED_VERSION", peer, key, version);
		kw_i16(out, KERR_UNSUPPORTED_VERSION);
		res = REQ_RESPOND;
	} else {
		b->ses = ses;
		res = dispatch(b, ses, key, version, &r, client, final, now_ms, out, wait);
		b->ses = NULL;
	}
	if (res == REQ_CLOSE) {
		b->malformed++;
		LOG_WARN("broker", "%s: malformed request (API %d v%d, %zu bytes): closing the connection",
			 peer, key, version, len);
		req_wait_free(wait);
		return REQ_CLOSE;
	}
	if (out->err)
		return REQ_CLOSE;
	kw_put_i32_at(out, 0, (int32_t)(out->len - 4));
	return res;
}
