/* The broker's configuration: one table of keys, from which binding,
 * validation (file:line:column errors), `--check` output and
 * docs/broker.md's table all come. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/logging.h"

static const char *const fsync_choices[] = { "interval", "always", "never", NULL };
static const char *const level_choices[] = { "error", "warn", "info", "debug", NULL };
static const char *const client_auth_choices[] = { "none", "optional", "required", NULL };
static const char *const tls_version_choices[] = { "1.2", "1.3", NULL };

#define K(field) offsetof(struct broker_config, field)
const struct cfg_key broker_config_keys[] = {
	{ "listen", CFG_T_HOSTPORT, K(listen), "127.0.0.1:9092", 0, NULL, 0, 0, NULL,
	  "address the plaintext Kafka listener binds when `listeners` is absent; 0.0.0.0:9092 for every interface" },
	{ "listeners", CFG_T_NODE, K(listeners_node), NULL, 0, NULL, 0, 0, NULL,
	  "a list of listeners, each with its own address, port, tls and sasl blocks (table below); replaces `listen`" },
	{ "advertised_host", CFG_T_STRING, K(advertised_host), "", 0, NULL, 0, 0, NULL,
	  "host clients are told to connect to (Metadata); empty: the listen host, or the hostname for 0.0.0.0" },
	{ "advertised_port", CFG_T_INT, K(advertised_port), "0", 0, NULL, 0, 65535, NULL,
	  "port clients are told to connect to; 0: the listen port" },
	{ "data_dir", CFG_T_STRING, K(data_dir), "/var/lib/logship-broker", 0, NULL, 0, 0, NULL,
	  "where partitions live, one directory <topic>-<partition> each" },
	{ "num_partitions", CFG_T_INT, K(num_partitions), "1", 0, NULL, 1, 10000, NULL,
	  "partitions of an auto-created topic" },
	{ "auto_create_topics", CFG_T_BOOL, K(auto_create_topics), "true", 0, NULL, 0, 0, NULL,
	  "create a topic when a client first names it (Metadata, Produce)" },
	{ "retention_hours", CFG_T_INT, K(retention_hours), "168", 0, NULL, 0, 1000000, NULL,
	  "delete whole segments whose newest record is older; 0: no age limit" },
	{ "retention_bytes", CFG_T_SIZE, K(retention_bytes), "0", 0, NULL, 0, 0, NULL,
	  "per partition: delete oldest segments beyond this size; 0: no size limit" },
	{ "retention_check_interval", CFG_T_DURATION, K(retention_check_interval_ms), "5m", 0, NULL, 100, 86400000, NULL,
	  "how often retention runs" },
	{ "segment_bytes", CFG_T_SIZE, K(segment_bytes), "128MiB", 0, NULL, 4096, (int64_t)1 << 40, NULL,
	  "segment roll size (the unit retention deletes)" },
	{ "fsync", CFG_T_ENUM, K(fsync), "interval", 0, fsync_choices, 0, 0, NULL,
	  "when appends reach the disk: interval (group commit every fsync_interval), always (before acks=1 answers too), never (the OS decides)" },
	{ "fsync_interval", CFG_T_DURATION, K(fsync_interval_ms), "1s", 0, NULL, 1, 3600000, NULL,
	  "the interval policy's period; acks=-1 never waits for it (it asks for a sync at once)" },
	{ "max_request_bytes", CFG_T_SIZE, K(max_request_bytes), "100MiB", 0, NULL, 1024, (int64_t)1 << 30, NULL,
	  "largest request accepted; a bigger size prefix closes the connection" },
	{ "max_connections", CFG_T_INT, K(max_connections), "1000", 0, NULL, 1, 1000000, NULL,
	  "connections beyond this (all listeners together) are refused" },
	{ "max_connections_per_ip", CFG_T_INT, K(max_connections_per_ip), "100", 0, NULL, 0, 1000000, NULL,
	  "connections from one client address beyond this are refused; 0: no per-address limit" },
	{ "auth_timeout", CFG_T_DURATION, K(auth_timeout_ms), "10s", 0, NULL, 100, 3600000, NULL,
	  "a connection must finish its TLS handshake and SASL authentication within this, or it is closed" },
	{ "request_timeout", CFG_T_DURATION, K(request_timeout_ms), "60s", 0, NULL, 100, 3600000, NULL,
	  "a request whose first bytes arrived must arrive whole within this, or the connection is closed (slow clients)" },
	{ "idle_timeout", CFG_T_DURATION, K(idle_timeout_ms), "10m", 0, NULL, 1000, 604800000, NULL,
	  "a connection with no request for this long is closed (Kafka's connections.max.idle.ms)" },
	{ "metrics_listen", CFG_T_STRING, K(metrics_listen), "", 0, NULL, 0, 0, NULL,
	  "host:port of an HTTP endpoint with /metrics (Prometheus text: requests, connections, refusals, timeouts, SASL and ACL counters) and /health; empty: off" },
	{ "acl_file", CFG_T_STRING, K(acl_file), "", 0, NULL, 0, 0, NULL,
	  "access control rules (docs/security.md), read at start and on SIGHUP; empty: every client may do everything" },
	{ "log_level", CFG_T_ENUM, K(log_level), "info", 0, level_choices, 0, 0, NULL,
	  "error, warn, info or debug (stderr)" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
#undef K

#define L(field) offsetof(struct listener_config, field)
static const struct cfg_key tls_keys[] = {
	{ "cert_file", CFG_T_STRING, L(tls_cert_file), NULL, 0, NULL, 0, 0, NULL,
	  "the server certificate (PEM; the chain may follow it); required with tls" },
	{ "key_file", CFG_T_STRING, L(tls_key_file), NULL, 0, NULL, 0, 0, NULL,
	  "its private key (PEM); required with tls" },
	{ "ca_file", CFG_T_STRING, L(tls_ca_file), NULL, 0, NULL, 0, 0, NULL,
	  "CA certificates (PEM) that client certificates must chain to; required unless client_auth is none" },
	{ "client_auth", CFG_T_ENUM, L(tls_client_auth), "none", 0, client_auth_choices, 0, 0, NULL,
	  "client certificates: none (not asked), optional (checked if sent), required (no certificate, no connection)" },
	{ "min_version", CFG_T_ENUM, L(tls_min_version), "1.2", 0, tls_version_choices, 0, 0, NULL,
	  "oldest TLS version accepted" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};

static const struct cfg_key sasl_keys[] = {
	{ "mechanisms", CFG_T_STRLIST, L(sasl_mechanisms), "[SCRAM-SHA-256]", 0, NULL, 0, 0, NULL,
	  "SASL mechanisms offered: PLAIN, SCRAM-SHA-256 (PLAIN sends the password itself: use it over TLS only)" },
	{ "users_file", CFG_T_STRING, L(sasl_users_file), NULL, 0, NULL, 0, 0, NULL,
	  "users and their salted SCRAM credentials (logship-broker --add-user writes it); required with sasl" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};

const struct cfg_key broker_listener_keys[] = {
	{ "name", CFG_T_STRING, L(name), "", 0, NULL, 0, 0, NULL,
	  "a name for log lines; default: address:port" },
	{ "address", CFG_T_STRING, L(address), "127.0.0.1", 0, NULL, 0, 0, NULL,
	  "the address to bind; 0.0.0.0 or :: for every interface" },
	{ "port", CFG_T_INT, L(port), NULL, CFG_REQUIRED, NULL, 0, 65535, NULL,
	  "the TCP port (0: any free port, for tests)" },
	{ "advertised_host", CFG_T_STRING, L(advertised_host), "", 0, NULL, 0, 0, NULL,
	  "host clients of this listener are told to connect to; empty: the top-level advertised_host, else the bound host" },
	{ "advertised_port", CFG_T_INT, L(advertised_port), "0", 0, NULL, 0, 65535, NULL,
	  "port clients of this listener are told to connect to; 0: the bound port" },
	{ "max_connections", CFG_T_INT, L(max_connections), "0", 0, NULL, 0, 1000000, NULL,
	  "connections to this listener beyond this are refused; 0: only the broker-wide max_connections" },
	{ "tls", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, tls_keys,
	  "present: clients speak TLS (security.protocol SSL or SASL_SSL)" },
	{ "sasl", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, sasl_keys,
	  "present: clients must authenticate (SASL_SSL with tls, else SASL_PLAINTEXT)" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
#undef L

void broker_config_doc(FILE *f)
{
	cfg_doc(f, broker_config_keys);
	fputs("\nEach entry of `listeners`:\n\n", f);
	cfg_doc(f, broker_listener_keys);
}

/* Binds one `listeners` entry and checks what the key table cannot: the
 * tls block's files, the mechanisms' names. */
static int bind_listener(struct listener_config *l, const struct cfg_node *n, struct cfg_error *err)
{
	if (n->kind != CFG_MAP)
		return cfg_fail(err, n, "listeners: each entry must be a map (address, port, tls, sasl)");
	int rc = cfg_bind(n, broker_listener_keys, l, NULL, err);
	if (rc < 0)
		return rc;
	const struct cfg_node *tls = cfg_get(n, "tls"), *sasl = cfg_get(n, "sasl");
	l->has_tls = tls != NULL;
	l->has_sasl = sasl != NULL;
	if (l->has_tls && (!l->tls_cert_file || !l->tls_key_file))
		return cfg_fail(err, tls, "tls: cert_file and key_file are required");
	if (l->has_tls && l->tls_client_auth != TLS_CLIENT_AUTH_NONE && !l->tls_ca_file)
		return cfg_fail(err, tls, "tls: client_auth %s needs ca_file (the CA client certificates chain to)",
				client_auth_choices[l->tls_client_auth]);
	if (!l->has_tls && (cfg_get(n, "cert_file") || cfg_get(n, "key_file")))
		return cfg_fail(err, n, "cert_file and key_file go inside a tls: block");
	if (l->has_sasl) {
		if (!l->sasl_users_file)
			return cfg_fail(err, sasl, "sasl: users_file is required");
		const struct cfg_node *mn = cfg_at(sasl, "mechanisms");
		for (size_t i = 0; i < l->sasl_mechanisms.n; i++) {
			const char *m = l->sasl_mechanisms.v[i];
			enum sasl_mech k = sasl_mech_parse(m, strlen(m));
			if (k == SASL_MECH_NONE)
				return cfg_fail(err, mn, "sasl.mechanisms: '%s' is not offered (PLAIN, SCRAM-SHA-256)", m);
			l->mechs |= 1u << k;
		}
		if (!l->mechs)
			return cfg_fail(err, mn, "sasl.mechanisms: name at least one (PLAIN, SCRAM-SHA-256)");
	}
	return 0;
}

static void listener_free(struct listener_config *l)
{
	cfg_unbind(broker_listener_keys, l);
}

int broker_config_bind(struct broker_config *c, const struct cfg_node *root, struct cfg_error *err)
{
	memset(c, 0, sizeof(*c));
	int rc = cfg_bind(root, broker_config_keys, c, NULL, err);
	if (rc == 0 && c->metrics_listen && c->metrics_listen[0] &&
	    cfg_parse_hostport(c->metrics_listen, NULL, 0, NULL) < 0)
		rc = cfg_fail(err, cfg_at(root, "metrics_listen"), "metrics_listen: expected host:port like 127.0.0.1:9644");
	const struct cfg_node *ln = c->listeners_node;
	c->listeners_node = NULL;  /* points into the tree, which the caller frees */
	if (rc < 0 || !ln)
		return rc;
	if (cfg_get(root, "listen"))
		return cfg_fail(err, cfg_at(root, "listen"), "listen and listeners: use one (listeners replaces listen)");
	if (ln->kind != CFG_SEQ || ln->n == 0 || ln->n > 64)
		return cfg_fail(err, ln, "listeners: expected a list of 1 to 64 listeners");
	c->listeners = calloc(ln->n, sizeof(*c->listeners));
	if (!c->listeners)
		return cfg_fail(err, ln, "out of memory");
	c->nlisteners = ln->n;
	for (size_t i = 0; i < ln->n; i++) {
		rc = bind_listener(&c->listeners[i], ln->items[i], err);
		if (rc < 0)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (c->listeners[k].port && c->listeners[k].port == c->listeners[i].port &&
			    !strcmp(c->listeners[k].address, c->listeners[i].address))
				return cfg_fail(err, ln->items[i], "listeners: %s:%lld is listed twice",
						c->listeners[i].address, (long long)c->listeners[i].port);
	}
	return 0;
}

void broker_config_free(struct broker_config *c)
{
	for (size_t i = 0; i < c->nlisteners; i++)
		listener_free(&c->listeners[i]);
	free(c->listeners);
	cfg_unbind(broker_config_keys, c);
	memset(c, 0, sizeof(*c));
}

void broker_log_config(const struct broker *b, struct log_config *lc)
{
	log_config_defaults(lc);
	lc->segment_bytes = b->cfg.segment_bytes;
	lc->fsync = (enum log_fsync)b->cfg.fsync;
	lc->fsync_interval_ms = (uint32_t)b->cfg.fsync_interval_ms;
	lc->report = logging_report;
	lc->report_arg = (void *)"broker";
}
