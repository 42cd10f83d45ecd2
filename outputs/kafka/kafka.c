/* Output `kafka`: events to logship-broker or any Kafka cluster, through
 * librdkafka (kafka_client.c).
 *
 * Delivery (invariant 2): send() returns only when every record of the run
 * has its delivery report, so the agent commits the ring cursor only past
 * records the cluster acknowledged, whatever order reports came back in. A
 * permanent error (message too large, authorization) rejects the record for
 * good (output_reject: the agent dead-letters it with the reason); anything else is retried from the ring
 * with backoff, forever. librdkafka's queue is bounded (queue_max_bytes) so
 * that the backlog waits in the ring on disk, not in RAM.
 *
 * Routing: `topic` may name event fields, "logs-${kubernetes.namespace}";
 * `key` names the field whose value keys the record (Kafka partitions by it);
 * by default the key is the event's source (the input's name). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/module.h"
#include "common/json_path.h"
#include "common/logging.h"
#include "common/sbuf.h"
#include "outputs/kafka/kafka_client.h"

struct kafka_conf {
	struct cfg_strlist brokers;
	char *topic;
	char *key;
	int compression;
	int acks;
	int64_t message_timeout_ms;
	int64_t linger_ms;
	uint64_t queue_max_bytes;
	char *client_id;
	char *missing;
	const struct cfg_node *rdkafka;
};

static const char *const compression_choices[] = { "none", "gzip", "zstd", "lz4", "snappy", NULL };
static const char *const acks_choices[] = { "all", "1", "0", NULL };

#define K(f) offsetof(struct kafka_conf, f)
static const struct cfg_key kafka_keys[] = {
	{ "brokers", CFG_T_STRLIST, K(brokers), NULL, CFG_REQUIRED, NULL, 0, 0, NULL,
	  "bootstrap brokers, host:port each (logship-broker or any Kafka cluster)" },
	{ "topic", CFG_T_STRING, K(topic), NULL, CFG_REQUIRED, NULL, 0, 0, NULL,
	  "topic, fixed or a template of event fields: logs-${kubernetes.namespace}" },
	{ "key", CFG_T_STRING, K(key), NULL, 0, NULL, 0, 0, NULL,
	  "event field whose value is the record key; default: the event's source (input name)" },
	{ "compression", CFG_T_ENUM, K(compression), "none", 0, compression_choices, 0, 0, NULL,
	  "batch compression: none, gzip, zstd, lz4, snappy" },
	{ "acks", CFG_T_ENUM, K(acks), "all", 0, acks_choices, 0, 0, NULL,
	  "all: the broker made it durable/replicated; 1: the leader wrote it; 0: no acknowledgement" },
	{ "message_timeout", CFG_T_DURATION, K(message_timeout_ms), "30s", 0, NULL, 1000, 3600000, NULL,
	  "a record not acknowledged by then is retried from the ring" },
	{ "linger", CFG_T_DURATION, K(linger_ms), "5ms", 0, NULL, 0, 10000, NULL,
	  "how long librdkafka waits to fill a batch" },
	{ "queue_max_bytes", CFG_T_SIZE, K(queue_max_bytes), "16MiB", 0, NULL, 1024, (int64_t)1 << 31, NULL,
	  "librdkafka's in-memory queue; the ring on disk holds the rest" },
	{ "client_id", CFG_T_STRING, K(client_id), "logship", 0, NULL, 0, 0, NULL, "Kafka client.id" },
	{ "missing_field", CFG_T_STRING, K(missing), "unknown", 0, NULL, 0, 0, NULL,
	  "what a topic template's absent field expands to" },
	{ "rdkafka", CFG_T_NODE, K(rdkafka), NULL, 0, NULL, 0, 0, NULL,
	  "any other librdkafka property, as a map (e.g. security.protocol: SASL_SSL)" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
#undef K

struct kafka_out {
	struct output *out;
	const struct kafka_conf *conf;
	struct kafka_client *client;
	int templated;
	struct kafka_msg *msgs;
	size_t cap;
	struct sbuf names;            /* topics and keys of the run, NUL-separated */
	size_t *topic_at, *key_at;    /* offsets into names, (size_t)-1: none */
};

/* The rdkafka: map as "key=value" strings; errors at the offending node. */
static int rdkafka_props(const struct cfg_node *map, char ***out, size_t *n, struct cfg_error *err)
{
	*out = NULL;
	*n = 0;
	if (!map)
		return 0;
	if (map->kind != CFG_MAP)
		return err ? cfg_fail(err, map, "rdkafka: expected a map of librdkafka properties") : -EINVAL;
	char **v = calloc(map->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < map->n; i++) {
		const struct cfg_node *k = map->pairs[i].key, *val = map->pairs[i].value;
		if (val->kind != CFG_SCALAR) {
			free(v);
			return err ? cfg_fail(err, val, "rdkafka.%s: expected a scalar value", k->value) : -EINVAL;
		}
		size_t len = strlen(k->value) + strlen(val->value ? val->value : "") + 2;
		if (!(v[i] = malloc(len))) {
			for (size_t j = 0; j < i; j++)
				free(v[j]);
			free(v);
			return -ENOMEM;
		}
		snprintf(v[i], len, "%s=%s", k->value, val->value ? val->value : "");
	}
	*out = v;
	*n = map->n;
	return 0;
}

static void props_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void on_rdkafka_log(void *arg, int level, const char *fac, const char *msg)
{
	const char *name = arg;
	/* librdkafka says "error" for what is, to the agent, a transient state
	 * (a broker down): the ring holds the events and the output retries,
	 * so it is a warning; the output's own last_error tells /status. */
	if (level <= 4)
		LOG_WARN(name, "librdkafka %s: %s", fac, msg);
	else
		LOG_DEBUG(name, "librdkafka %s: %s", fac, msg);
}

static int client_config(const struct kafka_conf *c, struct kafka_client_config *kc, char **brokers,
			 char ***props, size_t *nprops, struct cfg_error *err)
{
	struct sbuf b = { 0 };
	for (size_t i = 0; i < c->brokers.n; i++) {
		if (i)
			sbuf_putc(&b, ',');
		sbuf_puts(&b, c->brokers.v[i]);
	}
	*brokers = strdup(sbuf_cstr(&b));
	sbuf_free(&b);
	if (!*brokers)
		return -ENOMEM;
	int rc = rdkafka_props(c->rdkafka, props, nprops, err);
	if (rc < 0) {
		free(*brokers);
		return rc;
	}
	memset(kc, 0, sizeof(*kc));
	kc->brokers = *brokers;
	kc->compression = compression_choices[c->compression];
	kc->acks = acks_choices[c->acks];
	kc->message_timeout_ms = c->message_timeout_ms;
	kc->linger_ms = c->linger_ms;
	kc->queue_max_bytes = c->queue_max_bytes;
	kc->client_id = c->client_id;
	kc->props = (const char *const *)*props;
	kc->nprops = *nprops;
	return 0;
}

/* Builds a throwaway producer so that a bad librdkafka property is a config
 * error (at the rdkafka: map) rather than a runtime surprise. */
static int kafka_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct kafka_conf *c = conf;
	if (c->brokers.n == 0)
		return cfg_fail(err, cfg_get(map, "brokers") ? cfg_get(map, "brokers") : map,
				"brokers: at least one host:port is needed");
	struct kafka_client_config kc;
	char *brokers, **props;
	size_t nprops;
	int rc = client_config(c, &kc, &brokers, &props, &nprops, err);
	if (rc < 0)
		return rc;
	struct kafka_client *client;
	char why[512];
	rc = kafka_client_new(&kc, &client, why, sizeof(why));
	if (rc == 0)
		kafka_client_free(client);
	else
		rc = cfg_fail(err, c->rdkafka ? c->rdkafka : map, "kafka: %s", why);
	props_free(props, nprops);
	free(brokers);
	return rc;
}

static int kafka_init(struct output *out, const void *conf, void **state)
{
	const struct kafka_conf *c = conf;
	struct kafka_out *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->out = out;
	k->conf = c;
	k->templated = json_path_is_template(c->topic);
	struct kafka_client_config kc;
	char *brokers, **props;
	size_t nprops;
	int rc = client_config(c, &kc, &brokers, &props, &nprops, NULL);
	if (rc < 0) {
		free(k);
		return rc;
	}
	kc.log = on_rdkafka_log;
	kc.log_arg = (void *)output_name(out);
	char why[512];
	rc = kafka_client_new(&kc, &k->client, why, sizeof(why));
	props_free(props, nprops);
	free(brokers);
	if (rc < 0) {
		LOG_ERROR(output_name(out), "%s", why);
		free(k);
		return rc;
	}
	*state = k;
	return 0;
}

static int grow(struct kafka_out *k, size_t n)
{
	if (n <= k->cap)
		return 0;
	struct kafka_msg *m = realloc(k->msgs, n * sizeof(*m));
	if (m)
		k->msgs = m;
	size_t *t = realloc(k->topic_at, n * sizeof(*t));
	if (t)
		k->topic_at = t;
	size_t *ky = realloc(k->key_at, n * sizeof(*ky));
	if (ky)
		k->key_at = ky;
	if (!m || !t || !ky)
		return -ENOMEM;
	k->cap = n;
	return 0;
}

/* Resolves each record's topic and key into k->names; pointers are taken
 * only after the buffer stopped growing. */
static int route(struct kafka_out *k, struct out_record *recs, size_t n)
{
	const struct kafka_conf *c = k->conf;
	sbuf_reset(&k->names);
	for (size_t i = 0; i < n; i++) {
		k->topic_at[i] = (size_t)-1;
		if (k->templated) {
			k->topic_at[i] = k->names.len;
			json_path_expand(c->topic, recs[i].value, (size_t)recs[i].value_len, c->missing, &k->names);
			sbuf_putc(&k->names, 0);
		}
		k->key_at[i] = (size_t)-1;
		if (c->key) {
			size_t at = k->names.len;
			if (json_path_get(recs[i].value, (size_t)recs[i].value_len, c->key, &k->names)) {
				k->key_at[i] = at;
				sbuf_putc(&k->names, 0);
			}
		}
	}
	return k->names.err;
}

static int kafka_send(void *state, struct out_record *recs, size_t n)
{
	struct kafka_out *k = state;
	if (grow(k, n) < 0 || route(k, recs, n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct kafka_msg *m = &k->msgs[i];
		memset(m, 0, sizeof(*m));
		m->topic = k->topic_at[i] != (size_t)-1 ? k->names.p + k->topic_at[i] : k->conf->topic;
		if (k->key_at[i] != (size_t)-1) {
			m->key = k->names.p + k->key_at[i];
			m->key_len = strlen(m->key);
		} else if (!k->conf->key) {
			m->key = recs[i].key;
			m->key_len = recs[i].key_len > 0 ? (size_t)recs[i].key_len : 0;
		}
		m->value = recs[i].value;
		m->value_len = (size_t)recs[i].value_len;
		m->timestamp_ms = recs[i].timestamp;
	}
	kafka_client_send(k->client, k->msgs, n);
	const char *last = NULL;
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		switch (k->msgs[i].status) {
		case KAFKA_OK:
			recs[i].status = OUT_OK;
			break;
		case KAFKA_REJECT:
			output_reject(k->out, &recs[i], "kafka: %s", k->msgs[i].reason);
			break;
		default:
			recs[i].status = OUT_RETRY;
			failed++;
			last = k->msgs[i].reason;
			break;
		}
	}
	if (failed)
		output_error(k->out, "%zu of %zu records not delivered, retrying: %s", failed, n, last ? last : "");
	return 0;
}

static void kafka_abort(void *state)
{
	struct kafka_out *k = state;
	kafka_client_abort(k->client);
}

static void kafka_destroy(void *state)
{
	struct kafka_out *k = state;
	kafka_client_free(k->client);
	sbuf_free(&k->names);
	free(k->msgs);
	free(k->topic_at);
	free(k->key_at);
	free(k);
}

const struct output_module kafka_output = {
	.type = "kafka",
	.doc = "Events to logship-broker or any Apache Kafka cluster through librdkafka, "
	       "acknowledged per record by delivery reports (acks=all by default).",
	.keys = kafka_keys,
	.conf_size = sizeof(struct kafka_conf),
	.check = kafka_check,
	.init = kafka_init,
	.send = kafka_send,
	.abort = kafka_abort,
	.destroy = kafka_destroy,
};
