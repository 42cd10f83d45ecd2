/* DescribeLogDirs: see logdirs.h.
 *
 * Request v0-1: topics (nullable array: null = every topic) of
 * { topic string, partitions [int32] }. Response: throttle_time_ms, then one
 * result per log directory: { error_code, log_dir, topics [ { name,
 * partitions [ { partition_index, partition_size int64, offset_lag int64,
 * is_future_key bool } ] } ] }. As in Kafka, partitions this broker does not
 * hold are left out of the answer rather than reported as errors. */
#include "broker/logdirs.h"

#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"

static void put_partition(struct kwriter *w, struct log *l, int32_t p)
{
	kw_i32(w, p);
	kw_i64(w, (int64_t)log_size_bytes(l));
	kw_i64(w, 0);  /* offset_lag: only a future replica lags */
	kw_i8(w, 0);   /* is_future_key */
}

static void put_topic_all(struct kwriter *w, const struct topic *tp)
{
	kw_cstring(w, tp->name);
	kw_i32(w, tp->nparts);
	for (int32_t p = 0; p < tp->nparts; p++)
		put_partition(w, tp->parts[p], p);
}

int logdirs_describe(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w)
{
	int all = 0;
	int32_t nt = kr_array(r, 6, &all);
	if (r->err)
		return REQ_CLOSE;
	kw_i32(w, 0);  /* throttle_time_ms */
	kw_i32(w, 1);  /* one log directory */
	if (!broker_authorized(b, ACL_DESCRIBE, ACL_CLUSTER, NULL, 0)) {
		kw_i16(w, KERR_CLUSTER_AUTHORIZATION_FAILED);  /* Kafka asks for Describe on the cluster */
		kw_cstring(w, b->cfg.data_dir);
		kw_i32(w, 0);
		return REQ_RESPOND;
	}
	kw_i16(w, KERR_NONE);
	kw_cstring(w, b->cfg.data_dir);
	size_t count_pos = w->len;
	kw_i32(w, 0);
	int32_t listed = 0;
	if (all) {
		for (size_t i = 0; i < b->topics.n; i++, listed++)
			put_topic_all(w, b->topics.v[i]);
	}
	for (int32_t t = 0; t < nt; t++) {
		struct kstr name = kr_string(r);
		int32_t np = kr_array(r, 4, NULL);
		if (r->err)
			return REQ_CLOSE;
		struct topic *tp = name.len > 0 ? topics_find(&b->topics, name.p, (size_t)name.len) : NULL;
		size_t np_pos = 0;
		int32_t held = 0;
		if (tp) {
			kw_cstring(w, tp->name);
			np_pos = w->len;
			kw_i32(w, 0);
			listed++;
		}
		for (int32_t i = 0; i < np; i++) {
			int32_t p = kr_i32(r);
			if (r->err)
				return REQ_CLOSE;
			if (!tp || p < 0 || p >= tp->nparts)
				continue;
			put_partition(w, tp->parts[p], p);
			held++;
		}
		if (tp)
			kw_put_i32_at(w, np_pos, held);
	}
	kw_put_i32_at(w, count_pos, listed);
	(void)v;  /* v1 differs from v0 only in when the client applies throttling */
	return REQ_RESPOND;
}
