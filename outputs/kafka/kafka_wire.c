/* See kafka_wire.h. Field lists follow the Kafka protocol's JSON message
 * definitions (Kafka's clients/src/main/resources/common/message/) version
 * by version; the `v >= N` tests below are where a field appears. */
#include "outputs/kafka/kafka_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t kwire_begin(struct kwriter *w, int16_t api, int16_t version, int32_t corr, const char *client_id)
{
	size_t start = w->len;
	kw_i32(w, 0);
	kw_i16(w, api);
	kw_i16(w, version);
	kw_i32(w, corr);
	kw_cstring(w, client_id);
	return start;
}

void kwire_end(struct kwriter *w, size_t start)
{
	if (!w->err)
		kw_put_i32_at(w, start, (int32_t)(w->len - start - 4));
}

long kwire_frame_size(const uint8_t *p, size_t n)
{
	if (n < 4)
		return -1;
	int32_t v = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
	if (v < 4 || v > KWIRE_MAX_FRAME)
		return -EPROTO;
	return v;
}

int kwire_api_versions_decode(const uint8_t *p, size_t n, struct kwire_versions *out)
{
	struct kreader r;
	kr_init(&r, p, n);
	out->error = kr_i16(&r);
	out->metadata_min = out->metadata_max = out->produce_min = out->produce_max = -1;
	int32_t cnt = kr_array(&r, 6, NULL);
	for (int32_t i = 0; i < cnt && !r.err; i++) {
		int16_t key = kr_i16(&r), lo = kr_i16(&r), hi = kr_i16(&r);
		if (key == KAPI_METADATA)
			out->metadata_min = lo, out->metadata_max = hi;
		else if (key == KAPI_PRODUCE)
			out->produce_min = lo, out->produce_max = hi;
	}
	return r.err ? -EPROTO : 0;
}

void kwire_api_versions_request(struct kwriter *w, int32_t corr, const char *client_id)
{
	kwire_end(w, kwire_begin(w, KAPI_API_VERSIONS, 0, corr, client_id));
}

void kwire_metadata_request(struct kwriter *w, int16_t version, int32_t corr, const char *client_id,
			    const char *const *topics, size_t n)
{
	size_t start = kwire_begin(w, KAPI_METADATA, version, corr, client_id);
	kw_i32(w, (int32_t)n);
	for (size_t i = 0; i < n; i++)
		kw_cstring(w, topics[i]);
	if (version >= 4)
		kw_i8(w, 1);            /* allow_auto_topic_creation */
	if (version >= 8) {
		kw_i8(w, 0);            /* include_cluster_authorized_operations */
		kw_i8(w, 0);            /* include_topic_authorized_operations */
	}
	kwire_end(w, start);
}

/* Skips an array of i32 (replicas, isr, offline replicas). */
static void skip_i32s(struct kreader *r)
{
	int32_t n = kr_array(r, 4, NULL);
	for (int32_t i = 0; i < n && !r->err; i++)
		kr_i32(r);
}

static int decode_partitions(struct kreader *r, int16_t v, struct kwire_topic *t)
{
	t->npart = kr_array(r, 2 + 4 + 4 + 4 + 4, NULL);
	if (r->err || t->npart == 0)
		return r->err ? -EPROTO : 0;
	if (!(t->parts = calloc((size_t)t->npart, sizeof(*t->parts))))
		return -ENOMEM;
	for (int32_t i = 0; i < t->npart && !r->err; i++) {
		struct kwire_partition *pt = &t->parts[i];
		pt->error = kr_i16(r);
		pt->id = kr_i32(r);
		pt->leader = kr_i32(r);
		if (v >= 7)
			kr_i32(r);      /* leader_epoch */
		skip_i32s(r);           /* replica_nodes */
		skip_i32s(r);           /* isr_nodes */
		if (v >= 5)
			skip_i32s(r);   /* offline_replicas */
	}
	return r->err ? -EPROTO : 0;
}

int kwire_metadata_decode(const uint8_t *p, size_t n, int16_t v, struct kwire_metadata *m)
{
	struct kreader r;
	memset(m, 0, sizeof(*m));
	kr_init(&r, p, n);
	if (v >= 3)
		kr_i32(&r);             /* throttle_time_ms */
	m->nbrokers = kr_array(&r, 4 + 2 + 4 + 2, NULL);
	if (m->nbrokers && !(m->brokers = calloc((size_t)m->nbrokers, sizeof(*m->brokers))))
		goto nomem;
	for (int32_t i = 0; i < m->nbrokers && !r.err; i++) {
		m->brokers[i].id = kr_i32(&r);
		struct kstr host = kr_string(&r);
		m->brokers[i].port = kr_i32(&r);
		kr_string(&r);          /* rack */
		if (r.err)
			break;
		if (host.len < 0)
			goto fail;
		if (!(m->brokers[i].host = kr_strdup(host)))
			goto nomem;
	}
	if (v >= 2)
		kr_string(&r);          /* cluster_id */
	kr_i32(&r);                     /* controller_id */
	m->ntopics = kr_array(&r, 2 + 2 + 1 + 4, NULL);
	if (m->ntopics && !r.err && !(m->topics = calloc((size_t)m->ntopics, sizeof(*m->topics))))
		goto nomem;
	for (int32_t i = 0; i < m->ntopics && !r.err; i++) {
		struct kwire_topic *t = &m->topics[i];
		t->error = kr_i16(&r);
		struct kstr name = kr_string(&r);
		kr_i8(&r);              /* is_internal */
		if (r.err)
			break;
		if (name.len < 0)
			goto fail;
		if (!(t->name = kr_strdup(name)))
			goto nomem;
		if (decode_partitions(&r, v, t) == -ENOMEM)
			goto nomem;
		if (v >= 8)
			kr_i32(&r);     /* topic_authorized_operations */
	}
	if (v >= 8)
		kr_i32(&r);             /* cluster_authorized_operations */
	if (r.err)
		goto fail;
	return 0;
nomem:
	kwire_metadata_free(m);
	return -ENOMEM;
fail:
	kwire_metadata_free(m);
	return -EPROTO;
}

void kwire_metadata_free(struct kwire_metadata *m)
{
	for (int32_t i = 0; m->brokers && i < m->nbrokers; i++)
		free(m->brokers[i].host);
	for (int32_t i = 0; m->topics && i < m->ntopics; i++) {
		free(m->topics[i].name);
		free(m->topics[i].parts);
	}
	free(m->brokers);
	free(m->topics);
	memset(m, 0, sizeof(*m));
}

size_t kwire_produce_begin(struct kwriter *w, int16_t version, int32_t corr, const char *client_id, int16_t acks,
			   int32_t timeout_ms, int32_t ntopics)
{
	size_t start = kwire_begin(w, KAPI_PRODUCE, version, corr, client_id);
	kw_string(w, NULL, -1);         /* transactional_id */
	kw_i16(w, acks);
	kw_i32(w, timeout_ms);
	kw_i32(w, ntopics);
	return start;
}

void kwire_produce_topic(struct kwriter *w, const char *topic, int32_t npartitions)
{
	kw_cstring(w, topic);
	kw_i32(w, npartitions);
}

void kwire_produce_partition(struct kwriter *w, int32_t partition, const uint8_t *batch, size_t len)
{
	kw_i32(w, partition);
	kw_bytes(w, batch, (int32_t)len);
}

int kwire_produce_decode(const uint8_t *p, size_t n, int16_t v,
			 void (*each)(void *arg, const struct kwire_produce_result *r), void *arg)
{
	struct kreader r;
	kr_init(&r, p, n);
	size_t per = 4 + 2 + 8 + (v >= 2 ? 8 : 0) + (v >= 5 ? 8 : 0);
	int32_t nt = kr_array(&r, 2 + 4, NULL);
	for (int32_t i = 0; i < nt && !r.err; i++) {
		struct kwire_produce_result res;
		res.topic = kr_string(&r);
		int32_t np = kr_array(&r, per, NULL);
		for (int32_t j = 0; j < np && !r.err; j++) {
			res.partition = kr_i32(&r);
			res.error = kr_i16(&r);
			res.base_offset = kr_i64(&r);
			if (v >= 2)
				kr_i64(&r);     /* log_append_time_ms */
			if (v >= 5)
				kr_i64(&r);     /* log_start_offset */
			if (each && !r.err && res.topic.len >= 0)
				each(arg, &res);
		}
	}
	kr_i32(&r);                     /* throttle_time_ms */
	return r.err ? -EPROTO : 0;
}

/* permanent: retrying cannot help; record: said of a whole batch for what
 * may be one record's fault (its key, its timestamp); stale: the metadata
 * is out of date. Codes not listed are retried. */
static const struct { int16_t code; const char *name; int permanent, stale, record; } errors[] = {
	{ -1, "UNKNOWN_SERVER_ERROR", 0, 0, 0 },
	{ 1, "OFFSET_OUT_OF_RANGE", 0, 0, 0 },
	{ 2, "CORRUPT_MESSAGE", 0, 0, 0 },
	{ 3, "UNKNOWN_TOPIC_OR_PARTITION", 0, 1, 0 },
	{ 5, "LEADER_NOT_AVAILABLE", 0, 1, 0 },
	{ 6, "NOT_LEADER_OR_FOLLOWER", 0, 1, 0 },
	{ 7, "REQUEST_TIMED_OUT", 0, 0, 0 },
	{ 8, "BROKER_NOT_AVAILABLE", 0, 1, 0 },
	{ 10, "MESSAGE_TOO_LARGE", 1, 0, 0 },
	{ 13, "NETWORK_EXCEPTION", 0, 1, 0 },
	{ 17, "INVALID_TOPIC_EXCEPTION", 1, 0, 0 },
	{ 18, "RECORD_LIST_TOO_LARGE", 1, 0, 0 },
	{ 19, "NOT_ENOUGH_REPLICAS", 0, 0, 0 },
	{ 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", 0, 0, 0 },
	{ 21, "INVALID_REQUIRED_ACKS", 1, 0, 0 },
	{ 32, "INVALID_TIMESTAMP", 1, 0, 1 },
	{ 29, "TOPIC_AUTHORIZATION_FAILED", 1, 0, 0 },
	{ 31, "CLUSTER_AUTHORIZATION_FAILED", 1, 0, 0 },
	{ 35, "UNSUPPORTED_VERSION", 1, 0, 0 },
	{ 42, "INVALID_REQUEST", 1, 0, 0 },
	{ 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", 1, 0, 0 },
	{ 44, "POLICY_VIOLATION", 1, 0, 0 },
	{ 56, "KAFKA_STORAGE_ERROR", 0, 1, 0 },
	{ 74, "FENCED_LEADER_EPOCH", 0, 1, 0 },
	{ 75, "UNKNOWN_LEADER_EPOCH", 0, 1, 0 },
	{ 76, "UNSUPPORTED_COMPRESSION_TYPE", 1, 0, 0 },
	{ 87, "INVALID_RECORD", 1, 0, 1 },
	{ 89, "THROTTLING_QUOTA_EXCEEDED", 0, 0, 0 },
};

static int error_index(int16_t code)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code)
			return (int)i;
	return -1;
}

const char *kwire_error_name(int16_t code, char *buf, size_t cap)
{
	int i = error_index(code);
	if (i >= 0)
		return errors[i].name;
	snprintf(buf, cap, "error %d", code);
	return buf;
}

int kwire_error_permanent(int16_t code)
{
	int i = error_index(code);
	return i >= 0 && errors[i].permanent;
}

int kwire_error_record(int16_t code)
{
	int i = error_index(code);
	return i >= 0 && errors[i].record;
}

int kwire_error_stale(int16_t code)
{
	int i = error_index(code);
	return i >= 0 && errors[i].stale;
}
