/* logship-broker: the shared state of the daemon and the request handler
 * interface between the network loop (server.c) and the Kafka API handlers
 * (handlers.c). Handlers see one request frame and write one response frame;
 * they never touch sockets, so they can be driven from a buffer (fuzzing,
 * unit tests) as well as from the event loop. */
#ifndef LOGSHIP_BROKER_BROKER_H
#define LOGSHIP_BROKER_BROKER_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "broker/acl.h"
#include "broker/groups.h"
#include "common/kafka_codec.h"
#include "broker/sasl.h"
#include "broker/topics.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/tls_server.h"


/* One entry of `listeners` (config.c binds it; docs come from its table). */
struct listener_config {
	char *name;
	char *address;
	int64_t port;
	char *advertised_host;
	int64_t advertised_port;
	int64_t max_connections;      /* 0: only the broker-wide limit */
	char *tls_cert_file, *tls_key_file, *tls_ca_file;
	int tls_client_auth;          /* enum tls_client_auth */
	int tls_min_version;          /* enum tls_min_version */
	struct cfg_strlist sasl_mechanisms;
	char *sasl_users_file;
	int has_tls, has_sasl;        /* the blocks are present */
	unsigned mechs;               /* 1 << enum sasl_mech, from sasl_mechanisms */
};

struct broker_config {
	char *listen;                 /* HOST:PORT: the one listener when `listeners` is absent */
	char *advertised_host;        /* "" = the listen host (0.0.0.0: the hostname) */
	int64_t advertised_port;      /* 0 = the listen port */
	char *data_dir;
	int64_t num_partitions;
	int auto_create_topics;
	int64_t retention_hours;
	uint64_t retention_bytes;
	int64_t retention_check_interval_ms;
	uint64_t segment_bytes;
	int fsync;                    /* enum log_fsync order: interval, always, never */
	int64_t fsync_interval_ms;
	uint64_t max_request_bytes;
	int64_t max_connections;
	int64_t max_connections_per_ip;
	char *metrics_listen;         /* "" : no metrics endpoint */
	int64_t auth_timeout_ms, request_timeout_ms, idle_timeout_ms;
	char *acl_file;
	int log_level;
	const struct cfg_node *listeners_node;   /* only during binding */
	struct listener_config *listeners;       /* NULL/0: one plaintext listener on `listen` */
	size_t nlisteners;
};

struct tls_server;

/* A listener at run time: what handlers need to know about the one a
 * request came in on (server.c owns the socket side). */
struct broker_listener {
	const struct listener_config *cfg;   /* NULL: the plaintext `listen` one */
	char name[64];
	char adv_host[256];
	int32_t adv_port;
	struct tls_server *tls;              /* NULL: plaintext */
	struct users users;                  /* SASL listeners: from users_file */
	unsigned mechs;                      /* SASL mechanisms offered; 0: no SASL */
	size_t nconns;
};

/* What one client connection is allowed, as the handlers see it. */
struct broker_session {
	const char *peer;
	struct broker_listener *lst;         /* NULL: tests and fuzzing (no SASL) */
	char principal[USER_NAME_MAX + 1];   /* ACL_ANONYMOUS until known */
	int authenticated;                   /* SASL done (or the listener has none) */
	int legacy;                          /* after SaslHandshake v0: raw tokens */
	int close_after;                     /* close once this response is sent */
	enum sasl_mech mech;                 /* chosen by SaslHandshake */
	struct sasl_conv *conv;              /* while a SASL exchange runs */
};


/* Connection and security counters: written on the loop thread, read by
 * the metrics endpoint's thread (metrics.c), logged at stop. */
struct broker_counters {
	_Atomic uint64_t accepted, open, refused_max, refused_listener, refused_ip;
	_Atomic uint64_t timeout_auth, timeout_request, timeout_idle;
	_Atomic uint64_t tls_failed, auth_ok, auth_failed, preauth_closed, acl_denied;
};

struct broker {
	struct broker_config cfg;
	struct topics topics;
	struct groups *groups;        /* consumer groups and committed offsets */
	char adv_host[256];
	int32_t adv_port;
	int32_t node_id;
	int wake_fd;                  /* eventfd of the loop; -1 when not running */
	struct log_buf fetch_buf;     /* Fetch reads land here (one loop thread) */
	_Atomic uint64_t requests, malformed;
	struct acl *acl;              /* NULL: no acl_file, everything allowed */
	/* The session of the request being handled: set by broker_handle_as for
	 * the length of one call (one loop thread), so that the group and
	 * log-dir handlers can check ACLs; NULL outside. */
	struct broker_session *ses;
	struct ratelimit acl_log;
	struct broker_counters ctr;
};

/* What a request needs before its response may go out. */
struct req_wait_part { char topic[TOPIC_NAME_MAX + 1]; int32_t partition; int64_t offset; };
struct req_wait {
	enum { WAIT_NONE = 0, WAIT_DURABLE, WAIT_FETCH } kind;
	struct req_wait_part *parts;  /* WAIT_DURABLE: durable_offset >= offset for each */
	size_t n;
	int64_t deadline_ms;          /* WAIT_FETCH: answer by then whatever there is */
};
void req_wait_free(struct req_wait *w);

enum req_result {
	REQ_RESPOND,      /* out holds the response frame: send it */
	REQ_NO_RESPONSE,  /* Produce with acks=0 */
	REQ_WAIT,         /* see *wait: durable -> send out when satisfied;
			     fetch -> call again with final=1 by the deadline, or
			     sooner (final=0) when data arrives */
	REQ_CLOSE,        /* malformed: log and close the connection */
};

/* Handles one request (the frame without its size prefix; the buffer is
 * writable: produced batches get their offsets written in place). `final`: a
 * parked long poll answering at its deadline, never parks again. now_ms is
 * monotonic; wait->deadline_ms is on the same clock. `peer` names the
 * client in log lines. */
enum req_result broker_handle(struct broker *b, uint8_t *req, size_t len, int final, int64_t now_ms,
			      const char *peer, struct kwriter *out, struct req_wait *wait);
/* The same for a connection's session: SASL requests move its state, a
 * request before authentication on a SASL listener (other than ApiVersions,
 * SaslHandshake, SaslAuthenticate) closes it, and ACLs apply to its
 * principal. broker_handle() is this with no session (everything allowed). */
enum req_result broker_handle_as(struct broker *b, struct broker_session *ses, uint8_t *req, size_t len, int final,
				 int64_t now_ms, struct kwriter *out, struct req_wait *wait);
/* Whether the current request's principal may do op on the resource; a
 * denial is counted and logged (rate-limited). */
int broker_authorized(struct broker *b, enum acl_op op, enum acl_res res, const char *name, size_t len);
/* Frees a session's SASL state. */
void broker_session_free(struct broker_session *s);

/* auth.c: SaslHandshake, SaslAuthenticate, and the raw tokens that follow a
 * SaslHandshake v0 (Kafka's framing before KIP-152). */
enum req_result auth_handshake(struct broker *b, struct broker_session *s, int16_t v, struct kreader *r,
			       struct kwriter *w);
enum req_result auth_authenticate(struct broker *b, struct broker_session *s, int16_t v, struct kreader *r,
				  struct kwriter *w);
/* A raw token frame; out gets the raw answer (size prefix + token). */
enum req_result auth_legacy_token(struct broker *b, struct broker_session *s, const uint8_t *tok, size_t len,
				  struct kwriter *out);
/* Whether a WAIT_DURABLE is satisfied (or moot: its partition is gone). */
int broker_wait_durable_done(struct broker *b, const struct req_wait *w);

/* config.c: the broker's keys (docs and --check come from this table). */
extern const struct cfg_key broker_config_keys[];
/* Binds a parsed config file (NULL: all defaults) onto c; -EINVAL with err. */
int broker_config_bind(struct broker_config *c, const struct cfg_node *root, struct cfg_error *err);
void broker_config_free(struct broker_config *c);
/* The keys of one `listeners` entry (its tls and sasl blocks included). */
extern const struct cfg_key broker_listener_keys[];
/* --doc-config: both tables. */
void broker_config_doc(FILE *f);
/* The log settings every partition is opened with. */
void broker_log_config(const struct broker *b, struct log_config *lc);

/* metrics.c: /metrics (Prometheus text) and /health on metrics_listen, in
 * their own thread. NULL when off; logs and returns -errno on failure. */
struct httpd;
int broker_metrics_start(struct broker *b, struct httpd **out);
void broker_metrics_stop(struct httpd *h);

/* server.c: runs the event loop until SIGTERM/SIGINT; 0 on a clean stop. */
int broker_run(struct broker *b);
/* Makes the loop re-run its parked long polls soon (e.g. a group changed). */
void broker_wake(struct broker *b);

#endif
