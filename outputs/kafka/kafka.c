/* Output `kafka`: events to logship-broker or any Kafka cluster, through one
 * of two engines: the native producer (kafka_native.c: plaintext, none/gzip/
 * zstd, one RecordBatch per partition per run) or librdkafka
 * (kafka_client.c: TLS, SASL, lz4/snappy, any `rdkafka:` property).
 * `engine: auto` (the default) takes the native one unless the config asks
 * for something only librdkafka does; both give the same reports, so
 * everything below the engine choice is shared.
 *
 * Asynchronous (agent/module.h): send() produces a run and returns; the
 * agent keeps several runs in flight and calls poll(), which serves
 * librdkafka's delivery reports and turns each into the record's verdict,
 * in whatever order they come. The agent commits the ring cursor only past
 * runs whose records the cluster all acknowledged (invariant 2). A
 * permanent error (message too large, authorization) rejects the record for
 * good (output_reject: the agent dead-letters it with the reason); anything
 * else is retried from the ring with backoff, forever. librdkafka's queue is
 * bounded (queue_max_bytes) and the agent's window too (in_flight_bytes),
 * so that the backlog waits in the ring on disk, not in RAM.
 *
 * Security: the `tls:` block (the same keys as the other network outputs)
 * and a `sasl:` block become librdkafka's security.protocol, ssl.* and
 * sasl.* properties; the `rdkafka:` map comes after them and may override.
 *
 * Routing: `topic` may name event fields, "logs-${kubernetes.namespace}";
 * `key` names the field whose value keys the record (Kafka partitions by it);
 * by default the key is the event's source (the input's name). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/module.h"
#include "common/json_path.h"
#include "common/logging.h"
#include "common/sbuf.h"
#include "outputs/httpc.h"
#include "outputs/kafka/kafka_client.h"
#include "outputs/kafka/kafka_native.h"
#include "outputs/out_tls.h"

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
	struct out_tls tls;
	struct {
		int mechanism;
		char *username, *password, *password_file;
	} sasl;
	int engine;                    /* ENGINE_*, as configured */
	int tls_on, sasl_on;           /* set by kafka_check: the blocks were given */
	int native;                    /* set by kafka_check: the engine chosen */
};

enum { ENGINE_AUTO, ENGINE_NATIVE, ENGINE_LIBRDKAFKA };
static const char *const engine_choices[] = { "auto", "native", "librdkafka", NULL };

static const char *const compression_choices[] = { "none", "gzip", "zstd", "lz4", "snappy", NULL };
static const char *const acks_choices[] = { "all", "1", "0", NULL };
static const char *const sasl_mech_choices[] = { "SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", NULL };

static const struct cfg_key kafka_tls_keys[] = {
	OUT_TLS_KEYS(struct kafka_conf, tls),
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
static const struct cfg_key kafka_sasl_keys[] = {
	{ "mechanism", CFG_T_ENUM, offsetof(struct kafka_conf, sasl.mechanism), "SCRAM-SHA-256", 0, sasl_mech_choices,
	  0, 0, NULL, "SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN (PLAIN sends the password itself: only with tls)" },
	{ "username", CFG_T_STRING, offsetof(struct kafka_conf, sasl.username), NULL, 0, NULL, 0, 0, NULL,
	  "the SASL user" },
	{ "password", CFG_T_STRING, offsetof(struct kafka_conf, sasl.password), NULL, 0, NULL, 0, 0, NULL,
	  "its password (prefer ${ENV} or password_file to writing it here)" },
	{ "password_file", CFG_T_STRING, offsetof(struct kafka_conf, sasl.password_file), NULL, 0, NULL, 0, 0, NULL,
	  "a file holding the password (its first line), read when the output starts" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};

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
	{ "tls", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, kafka_tls_keys,
	  "TLS to the brokers (security.protocol SSL, or SASL_SSL with sasl); the broker's certificate and host "
	  "name are verified unless verify: false" },
	{ "sasl", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, kafka_sasl_keys,
	  "SASL authentication (security.protocol SASL_SSL with tls, else SASL_PLAINTEXT)" },
	{ "rdkafka", CFG_T_NODE, K(rdkafka), NULL, 0, NULL, 0, 0, NULL,
	  "any other librdkafka property, as a map; applied after tls and sasl, so it may override them "
	  "(librdkafka engine only)" },
	{ "engine", CFG_T_ENUM, K(engine), "auto", 0, engine_choices, 0, 0, NULL,
	  "native: the Kafka protocol spoken by logship itself (plaintext; compression none, gzip or zstd; "
	  "linger and queue_max_bytes do not apply); librdkafka: everything else; auto: native unless tls, "
	  "sasl, rdkafka or lz4/snappy compression is set" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
#undef K

struct kafka_out {
	struct output *out;
	const struct kafka_conf *conf;
	struct kafka_client *client;   /* one of the two engines */
	struct kafka_native *native;
	int templated;
	struct kafka_msg *msgs;
	size_t cap;
	struct sbuf names;            /* topics and keys of the run, NUL-separated */
	size_t *topic_at, *key_at;    /* offsets into names, (size_t)-1: none */
	size_t failed;                /* RETRY reports since the last poll, and why */
	char last_failure[200];
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

/* The tls and sasl blocks as librdkafka properties, prepended to the
 * rdkafka: map's (so that the map may override them). */
static int security_props(const struct kafka_conf *c, char ***props, size_t *nprops)
{
	char *password = NULL;
	if (c->sasl_on && c->sasl.password_file) {
		int rc = httpc_read_secret(c->sasl.password_file, &password);
		if (rc < 0) {
			LOG_ERROR("kafka", "sasl.password_file %s: %s", c->sasl.password_file, strerror(-rc));
			return rc;
		}
	}
	const char *kv[16][2];
	size_t n = 0;
	if (c->tls_on || c->sasl_on)
		kv[n][0] = "security.protocol",
		kv[n++][1] = c->sasl_on ? (c->tls_on ? "SASL_SSL" : "SASL_PLAINTEXT") : "SSL";
	if (c->tls_on) {
		if (c->tls.ca_file)
			kv[n][0] = "ssl.ca.location", kv[n++][1] = c->tls.ca_file;
		if (c->tls.cert_file)
			kv[n][0] = "ssl.certificate.location", kv[n++][1] = c->tls.cert_file;
		if (c->tls.key_file || c->tls.cert_file)
			kv[n][0] = "ssl.key.location", kv[n++][1] = c->tls.key_file ? c->tls.key_file : c->tls.cert_file;
		kv[n][0] = "enable.ssl.certificate.verification", kv[n++][1] = c->tls.verify ? "true" : "false";
		kv[n][0] = "ssl.endpoint.identification.algorithm", kv[n++][1] = c->tls.verify ? "https" : "none";
	}
	if (c->sasl_on) {
		kv[n][0] = "sasl.mechanism", kv[n++][1] = sasl_mech_choices[c->sasl.mechanism];
		kv[n][0] = "sasl.username", kv[n++][1] = c->sasl.username;
		kv[n][0] = "sasl.password", kv[n++][1] = password ? password : c->sasl.password;
	}
	char **v = realloc(*props, (*nprops + n + 1) * sizeof(*v));
	if (!v) {
		free(password);
		return -ENOMEM;
	}
	memmove(v + n, v, *nprops * sizeof(*v));
	*props = v;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(kv[i][0]) + strlen(kv[i][1]) + 2;
		if (!(v[i] = malloc(len))) {
			for (size_t j = 0; j < i; j++)
				free(v[j]);
			memmove(v, v + n, *nprops * sizeof(*v));
			free(password);
			return -ENOMEM;
		}
		snprintf(v[i], len, "%s=%s", kv[i][0], kv[i][1]);
	}
	*nprops += n;
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	return 0;
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
	if (rc == 0 && (rc = security_props(c, props, nprops)) < 0)
		props_free(*props, *nprops);
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

/* Validates the properties with librdkafka (kafka_client_check: no
 * producer, no connection) so that a bad one is a config error at the
 * rdkafka: map rather than a runtime surprise; the tls and sasl files are
 * checked for readability here. */
static int kafka_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	struct kafka_conf *c = (struct kafka_conf *)conf;
	if (c->brokers.n == 0)
		return cfg_fail(err, cfg_get(map, "brokers") ? cfg_get(map, "brokers") : map,
				"brokers: at least one host:port is needed");
	c->tls_on = out_tls_given(map);
	c->sasl_on = !cfg_is_null(cfg_get(map, "sasl"));
	const char *needs = c->tls_on ? "tls" : c->sasl_on ? "sasl" : c->rdkafka ? "rdkafka"
			  : c->compression > 2 ? "compression" : NULL;
	if (c->engine == ENGINE_NATIVE && needs)
		return cfg_fail(err, cfg_at(map, needs), "%s: needs engine: librdkafka (the native engine speaks "
				"plaintext, with compression none, gzip or zstd)", needs);
	c->native = c->engine == ENGINE_NATIVE || (c->engine == ENGINE_AUTO && !needs);
	struct kafka_client_config kc;
	char *brokers, **props;
	size_t nprops;
	char why[512];
	int rc;
	if (c->native) {
		/* No I/O: this parses the broker addresses. */
		rc = client_config(c, &kc, &brokers, &props, &nprops, err);
		if (rc < 0)
			return rc;
		struct kafka_native *kn;
		rc = kafka_native_new(&kc, &kn, why, sizeof(why));
		if (rc == 0)
			kafka_native_free(kn);
		else
			rc = cfg_fail(err, cfg_at(map, "brokers"), "kafka: %s", why);
		props_free(props, nprops);
		free(brokers);
		return rc;
	}
	const struct cfg_node *t = cfg_get(map, "tls"), *s = cfg_get(map, "sasl");
	if (c->tls_on && c->tls.server_name)
		return cfg_fail(err, cfg_at(t, "server_name"),
				"tls.server_name: librdkafka verifies the broker's own (advertised) host name; "
				"it cannot be set");
	if (c->tls_on && c->tls.key_file && !c->tls.cert_file)
		return cfg_fail(err, cfg_at(t, "key_file"), "tls.key_file without tls.cert_file");
	const char *files[] = { c->tls.ca_file, c->tls.cert_file, c->tls.key_file };
	const char *names[] = { "ca_file", "cert_file", "key_file" };
	for (int i = 0; c->tls_on && i < 3; i++)
		if (files[i] && access(files[i], R_OK) < 0)
			return cfg_fail(err, cfg_at(t, names[i]), "tls.%s: %s: %s", names[i], files[i], strerror(errno));
	if (c->sasl_on && !c->sasl.username)
		return cfg_fail(err, s, "sasl: username is needed");
	if (c->sasl_on && !c->sasl.password == !c->sasl.password_file)
		return cfg_fail(err, s, "sasl: give password or password_file (one of them)");
	if (c->sasl_on && c->sasl.password_file && access(c->sasl.password_file, R_OK) < 0)
		return cfg_fail(err, cfg_at(s, "password_file"), "sasl.password_file: %s: %s", c->sasl.password_file,
				strerror(errno));
	rc = client_config(c, &kc, &brokers, &props, &nprops, err);
	if (rc < 0)
		return rc;
	rc = kafka_client_check(&kc, why, sizeof(why));
	if (rc < 0)
		rc = cfg_fail(err, c->rdkafka ? c->rdkafka : map, "kafka: %s", why);
	props_free(props, nprops);
	free(brokers);
	return rc;
}

/* A delivery report is the record's verdict (inside send or poll, on the
 * output's thread). */
static void on_report(void *arg, const struct kafka_report *r)
{
	struct kafka_out *k = arg;
	struct out_record *rec = r->opaque;
	switch (r->status) {
	case KAFKA_OK:
		output_verdict(k->out, rec, OUT_OK);
		break;
	case KAFKA_REJECT:
		output_reject(k->out, rec, "kafka: %s", r->reason);
		break;
	default:
		output_verdict(k->out, rec, OUT_RETRY);
		k->failed++;
		snprintf(k->last_failure, sizeof(k->last_failure), "%s", r->reason);
		break;
	}
}

static void report_failures(struct kafka_out *k)
{
	if (!k->failed)
		return;
	output_error(k->out, "%zu record(s) not delivered, retrying: %s", k->failed, k->last_failure);
	k->failed = 0;
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
	kc.report = on_report;
	kc.report_arg = k;
	char why[512];
	if (c->native)
		rc = kafka_native_new(&kc, &k->native, why, sizeof(why));
	else
		rc = kafka_client_new(&kc, &k->client, why, sizeof(why));
	props_free(props, nprops);
	free(brokers);
	if (rc < 0) {
		LOG_ERROR(output_name(out), "%s", why);
		free(k);
		return rc;
	}
	LOG_INFO(output_name(out), "kafka engine: %s", c->native ? "native" : "librdkafka");
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
		return -ENOMEM;  /* nothing was produced */
	for (size_t i = 0; i < n; i++) {
		struct kafka_msg *m = &k->msgs[i];
		m->topic = k->topic_at[i] != (size_t)-1 ? k->names.p + k->topic_at[i] : k->conf->topic;
		m->key = NULL;
		m->key_len = 0;
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
		m->headers = NULL;
		m->header_count = 0;
		m->opaque = &recs[i];
	}
	/* Both engines copy topic names and keys: k->names and k->msgs are
	 * free again when this returns. */
	if (k->native)
		kafka_native_produce(k->native, k->msgs, n);
	else
		kafka_client_produce(k->client, k->msgs, n);
	report_failures(k);
	return 0;
}

static int kafka_poll(void *state, int timeout_ms)
{
	struct kafka_out *k = state;
	size_t n = k->native ? kafka_native_poll(k->native, timeout_ms) : kafka_client_poll(k->client, timeout_ms);
	report_failures(k);
	return (int)(n > INT32_MAX ? INT32_MAX : n);
}

static void kafka_abort(void *state)
{
	struct kafka_out *k = state;
	if (k->native)
		kafka_native_abort(k->native);
	else
		kafka_client_abort(k->client);
}

static void kafka_destroy(void *state)
{
	struct kafka_out *k = state;
	if (k->native)
		kafka_native_free(k->native);
	else
		kafka_client_free(k->client);
	sbuf_free(&k->names);
	free(k->msgs);
	free(k->topic_at);
	free(k->key_at);
	free(k);
}

const struct output_module kafka_output = {
	.type = "kafka",
	.doc = "Events to logship-broker or any Apache Kafka cluster, through logship's own Kafka producer "
	       "or librdkafka, acknowledged per record by the partition leader (acks=all by default).",
	.keys = kafka_keys,
	.conf_size = sizeof(struct kafka_conf),
	.check = kafka_check,
	.init = kafka_init,
	.send = kafka_send,
	.poll = kafka_poll,
	.abort = kafka_abort,
	.destroy = kafka_destroy,
};
