/* The broker's metrics endpoint: /metrics in Prometheus text and /health,
 * on common/httpd.c's thread, off unless metrics_listen is set. It reads
 * only the atomic counters of struct broker (requests, connections,
 * refusals, timeouts, TLS, SASL, ACL), never the loop's own structures, so
 * it needs no lock and cannot slow the loop. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "common/httpd.h"
#include "common/logging.h"
#include "common/metrics.h"

static void counter(struct sbuf *b, const char *name, const char *help, const char *const *labels, uint64_t v)
{
	if (help)
		metrics_family(b, name, "counter", help);
	metrics_sample(b, name, labels, (double)v);
}

static void write_metrics(struct broker *br, struct sbuf *b)
{
	const struct broker_counters *k = &br->ctr;
	counter(b, "logship_broker_requests_total", "Kafka requests handled", NULL, br->requests);
	counter(b, "logship_broker_malformed_requests_total", "Requests that did not parse (connection closed)", NULL,
		br->malformed);
	counter(b, "logship_broker_connections_accepted_total", "Connections accepted", NULL, k->accepted);
	metrics_family(b, "logship_broker_connections_open", "gauge", "Connections open now");
	metrics_sample(b, "logship_broker_connections_open", NULL, (double)k->open);
	static const char *const r_max[] = { "reason", "max_connections", NULL };
	static const char *const r_lst[] = { "reason", "listener_max_connections", NULL };
	static const char *const r_ip[] = { "reason", "max_connections_per_ip", NULL };
	counter(b, "logship_broker_connections_refused_total", "Connections refused by a limit", r_max, k->refused_max);
	counter(b, "logship_broker_connections_refused_total", NULL, r_lst, k->refused_listener);
	counter(b, "logship_broker_connections_refused_total", NULL, r_ip, k->refused_ip);
	static const char *const t_auth[] = { "timeout", "auth_timeout", NULL };
	static const char *const t_req[] = { "timeout", "request_timeout", NULL };
	static const char *const t_idle[] = { "timeout", "idle_timeout", NULL };
	counter(b, "logship_broker_connections_timed_out_total", "Connections closed for a timeout", t_auth,
		k->timeout_auth);
	counter(b, "logship_broker_connections_timed_out_total", NULL, t_req, k->timeout_request);
	counter(b, "logship_broker_connections_timed_out_total", NULL, t_idle, k->timeout_idle);
	counter(b, "logship_broker_tls_handshakes_failed_total", "TLS handshakes that failed", NULL, k->tls_failed);
	static const char *const ok[] = { "result", "ok", NULL };
	static const char *const bad[] = { "result", "failed", NULL };
	counter(b, "logship_broker_sasl_authentications_total", "SASL authentications", ok, k->auth_ok);
	counter(b, "logship_broker_sasl_authentications_total", NULL, bad, k->auth_failed);
	counter(b, "logship_broker_preauth_closed_total",
		"Connections closed for a request other than SASL before authenticating", NULL, k->preauth_closed);
	counter(b, "logship_broker_acl_denied_total", "Requests (or parts) an ACL denied", NULL, k->acl_denied);
}

static unsigned handle(void *arg, const char *method, const char *path, struct sbuf *b, const char **ctype)
{
	(void)method;
	if (!strcmp(path, "/health")) {
		sbuf_puts(b, "ok\n");
		return 200;
	}
	if (!strcmp(path, "/metrics")) {
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
		write_metrics(arg, b);
		return 200;
	}
	sbuf_puts(b, "not found: try /health /metrics\n");
	return 404;
}

int broker_metrics_start(struct broker *b, struct httpd **out)
{
	*out = NULL;
	if (!b->cfg.metrics_listen || !b->cfg.metrics_listen[0])
		return 0;
	char err[256];
	struct httpd_options opt = { .max_conns = 16, .timeout_ms = 10000 };
	struct httpd *h = httpd_start(b->cfg.metrics_listen, &opt, handle, b, err, sizeof(err));
	if (!h) {
		LOG_ERROR("broker", "metrics endpoint: %s", err);
		return -EADDRINUSE;
	}
	LOG_INFO("broker", "metrics on http://%s/metrics", b->cfg.metrics_listen);
	*out = h;
	return 0;
}

void broker_metrics_stop(struct httpd *h)
{
	httpd_stop(h);
}
