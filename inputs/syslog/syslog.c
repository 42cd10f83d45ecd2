/* Input `syslog`: receives syslog over UDP, TCP, unix datagram and unix
 * stream sockets (RFC 5426, RFC 6587 with octet counting or LF framing
 * detected per frame, /dev/log style), parses RFC 5424 and RFC 3164
 * (syslog_parse.c) and hands each message over as an ECS event
 * (syslog_event.c). Sockets live in syslog_net.c; this file holds the config,
 * the lifecycle and backpressure.
 *
 * Backpressure. One instance may mix UDP (which cannot wait) with sources
 * that can, and module.h's INPUT_CANNOT_WAIT is per module, not per source.
 * So the module is flagged CANNOT_WAIT (the agent keeps calling it and counts
 * what UDP loses) and slows the other sources itself: when the ring refuses a
 * TCP, unix-stream or unix-datagram message, the message is kept, every such
 * socket is taken off the loop (their senders block once the kernel buffers
 * fill), and the kept messages are offered again when a UDP message gets in
 * or on a timer backing off from 10 ms to 500 ms. Nothing is read meanwhile,
 * so nothing accepted is ever lost. Kept messages go through input_offer(),
 * so only UDP's refusals count as drops.
 *
 * There is no source position to checkpoint: a sender that needs more than
 * TCP's guarantee uses its own queue (rsyslog's action queue). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "agent/module.h"
#include "common/logging.h"
#include "inputs/syslog/syslog_event.h"
#include "inputs/syslog/syslog_net.h"
#include "inputs/syslog/syslog_parse.h"

#define PROBE_MIN_MS 10
#define PROBE_MAX_MS 500

static const char *const format_choices[] = { "auto", "rfc5424", "rfc3164", NULL };

static const struct cfg_key tls_keys[] = {
	TLS_SERVER_KEYS(struct sl_conf, tls),
	{ .name = NULL },
};

static const struct cfg_key sl_keys[] = {
	{ "listen", CFG_T_STRLIST, offsetof(struct sl_conf, listen), NULL, CFG_REQUIRED, NULL, 0, 0, NULL,
	  "Where to receive: udp://HOST:PORT, tcp://HOST:PORT, unix:///PATH (datagrams, like /dev/log), "
	  "unix-stream:///PATH; one or a list. An empty HOST (udp://:514) means every interface." },
	{ "format", CFG_T_ENUM, offsetof(struct sl_conf, format), "auto", 0, format_choices, 0, 0, NULL,
	  "auto: RFC 5424 when the message says so (\"<PRI>1 \"), else RFC 3164; or only one of them. "
	  "What fits neither is kept whole in `message`, tagged _syslog_parse_failure." },
	{ "max_message_bytes", CFG_T_SIZE, offsetof(struct sl_conf, max_message_bytes), "64KiB", 0, NULL, 480,
	  16 << 20, NULL,
	  "Longest message: LF-framed ones are cut here (tagged _syslog_truncated), a larger octet count "
	  "closes the connection, datagrams are cut. Also each connection's buffer size." },
	{ "max_connections", CFG_T_INT, offsetof(struct sl_conf, max_connections), "1024", 0, NULL, 1, 1000000,
	  NULL, "Stream connections at once (all listeners of this input); more are closed at once." },
	{ "max_connections_per_address", CFG_T_INT, offsetof(struct sl_conf, max_connections_per_address), "0", 0,
	  NULL, 0, 1000000, NULL,
	  "Stream connections at once from one client IP address (a flood from one host cannot take every "
	  "slot); more are closed at once. 0 = no limit." },
	{ "idle_timeout", CFG_T_DURATION, offsetof(struct sl_conf, idle_timeout_ms), "0", 0, NULL, 0,
	  INT64_C(365) * 86400 * 1000, NULL,
	  "Close a stream connection silent this long; 0 = never (closing can cost plain-TCP senders "
	  "the next message they write)." },
	{ "receive_buffer", CFG_T_SIZE, offsetof(struct sl_conf, receive_buffer), "0", 0, NULL, 0, 1 << 30, NULL,
	  "SO_RCVBUF for datagram sockets: room for bursts while the agent is busy; 0 = system default." },
	{ "socket_mode", CFG_T_STRING, offsetof(struct sl_conf, socket_mode), "0666", 0, NULL, 0, 0, NULL,
	  "Permissions (octal) of unix socket files this input creates." },
	{ "tls", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, tls_keys,
	  "Server certificate and client verification for tls:// listeners (RFC 5425: syslog over TLS, "
	  "octet-counted). The files are read again when they change, for new connections." },
	{ "keep_original", CFG_T_BOOL, offsetof(struct sl_conf, keep_original), "false", 0, NULL, 0, 0, NULL,
	  "Also keep the whole received message in event.original." },
	{ "source_address", CFG_T_BOOL, offsetof(struct sl_conf, source_address), "true", 0, NULL, 0, 0, NULL,
	  "Add the sender's address as source.ip and source.port (UDP and TCP)." },
	{ .name = NULL },
};

int64_t sl_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sl_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct sl_conf *c = conf;
	const struct cfg_node *ln = cfg_get(map, "listen");
	if (c->listen.n == 0)
		return cfg_fail(err, ln ? ln : map, "listen: at least one address is needed");
	for (size_t i = 0; i < c->listen.n; i++) {
		const struct cfg_node *at = ln && ln->kind == CFG_SEQ && i < ln->n ? ln->items[i] : ln;
		char host[256], path[256];
		uint16_t port;
		enum sl_kind kind;
		const char *why = "";
		if (sl_parse_url(c->listen.v[i], &kind, host, sizeof(host), &port, path, sizeof(path), &why) < 0)
			return cfg_fail(err, at ? at : map, "listen: %s: %s", c->listen.v[i], why);
		if (kind == SL_TLS && (!c->tls.cert_file || !c->tls.key_file))
			return cfg_fail(err, at ? at : map, "listen: %s needs tls.cert_file and tls.key_file",
					c->listen.v[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->listen.v[i], c->listen.v[j]) == 0)
				return cfg_fail(err, at ? at : map, "listen: %s is listed twice", c->listen.v[i]);
	}
	const char *m = c->socket_mode;
	char *end;
	unsigned long mode = strtoul(m, &end, 8);
	if (!*m || *end || mode > 07777) {
		const struct cfg_node *mn = cfg_get(map, "socket_mode");
		return cfg_fail(err, mn ? mn : map, "socket_mode: expected octal permissions like 0660, got \"%s\"", m);
	}
	return 0;
}

int sl_emit(struct sl *s, int kept, const char *msg, size_t len, int truncated, const char *extra,
	    size_t extra_len, int64_t recv_ms, int64_t now_ns)
{
	struct syslog_msg m;
	syslog_parse(msg, len, (enum syslog_mode)s->c->format, now_ns, &m);
	struct syslog_event_in e = {
		.m = &m, .raw = msg, .raw_len = len, .truncated = truncated, .recv_ms = recv_ms,
		.extra = extra, .extra_len = extra_len, .keep_original = s->c->keep_original,
	};
	int64_t ts = syslog_event_build(&s->ev, &e);
	if (s->ev.err) {
		/* Out of memory for one event: refused like a full ring, retried. */
		sbuf_free(&s->ev);
		return -EAGAIN;
	}
	int rc = kept ? input_offer(s->in, ts, s->ev.p, s->ev.len) : input_emit(s->in, ts, s->ev.p, s->ev.len);
	return rc == -EAGAIN ? rc : 0;
}

static void set_watch_all(struct sl *s, int on)
{
	for (size_t i = 0; i < s->nls; i++)
		if (s->ls[i].kind != SL_UDP && s->ls[i].fd >= 0)
			sl_watch(s, s->ls[i].fd, &s->ls[i].watched, on);
	for (struct sl_conn *c = s->conns; c; c = c->next) {
		sl_watch(s, c->fd, &c->watched, on);
		c->events = 0;  /* EPOLLIN again */
	}
}

void sl_arm_timer(struct sl *s)
{
	int64_t delay = -1;
	if (s->c->idle_timeout_ms) {
		delay = s->next_sweep_ms - sl_mono_ms();
		if (delay < 0)
			delay = 0;
	}
	if (s->blocked && (delay < 0 || s->probe_ms < delay))
		delay = s->probe_ms;
	if (s->handshaking && (delay < 0 || delay > 1000))
		delay = 1000;  /* sl_sweep_handshakes */
	input_timer_set(s->in, delay);
}

void sl_block(struct sl *s)
{
	if (s->blocked)
		return;
	s->blocked = 1;
	s->probe_ms = PROBE_MIN_MS;
	set_watch_all(s, 0);
	sl_arm_timer(s);
}

void sl_space_seen(struct sl *s)
{
	if (!s->run_wanted) {
		s->run_wanted = 1;
		input_schedule(s->in);
	}
}

static void retry(struct sl *s)
{
	if (!s->blocked)
		return;
	if (sl_retry_held(s) < 0) {
		s->probe_ms = s->probe_ms * 2 > PROBE_MAX_MS ? PROBE_MAX_MS : s->probe_ms * 2;
		sl_arm_timer(s);
		return;
	}
	s->blocked = 0;
	set_watch_all(s, 1);
	sl_arm_timer(s);
}

static void sl_run(void *state)
{
	struct sl *s = state;
	s->run_wanted = 0;
	retry(s);
	if (!s->blocked)
		sl_drain_tls(s);
}

static void sl_on_timer(void *state)
{
	struct sl *s = state;
	int64_t now = sl_mono_ms();
	if (s->c->idle_timeout_ms && now >= s->next_sweep_ms) {
		sl_sweep_idle(s, now);
		int64_t step = s->c->idle_timeout_ms / 4;
		s->next_sweep_ms = now + (step < 100 ? 100 : step > 10000 ? 10000 : step);
	}
	if (s->handshaking)
		sl_sweep_handshakes(s, now);
	if (s->blocked)
		retry(s);  /* re-arms */
	else
		sl_arm_timer(s);
}

static void sl_on_fd(void *state, int fd, unsigned events)
{
	struct sl *s = state;
	if (fd < 0 || (size_t)fd >= s->nbyfd)
		return;
	struct sl_fdref r = s->byfd[fd];
	if (r.kind == 1)
		sl_on_listener(s, r.p);
	else if (r.kind == 2)
		sl_on_conn(s, r.p);
}

static int sl_init(struct input *in, const void *conf, void **state)
{
	const struct sl_conf *c = conf;
	struct sl *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->in = in;
	s->c = c;
	s->name = input_name(in);
	s->ls = calloc(c->listen.n, sizeof(*s->ls));
	if (!s->ls) {
		free(s);
		return -ENOMEM;
	}
	s->nls = c->listen.n;
	for (size_t i = 0; i < s->nls; i++) {
		s->ls[i].fd = -1;
		s->ls[i].url = c->listen.v[i];
	}
	*state = s;
	return 0;
}

static void close_all(struct sl *s)
{
	while (s->conns)
		sl_conn_close(s, s->conns, NULL);
	for (size_t i = 0; i < s->nls; i++)
		sl_listener_close(s, &s->ls[i]);
}

static void sl_stop(void *state)
{
	struct sl *s = state;
	close_all(s);
	input_timer_set(s->in, -1);
}

static int sl_start(void *state)
{
	struct sl *s = state;
	for (size_t i = 0; i < s->nls; i++) {
		int rc = sl_listener_open(s, &s->ls[i]);
		if (rc < 0) {
			close_all(s);
			return rc;
		}
	}
	if (s->c->idle_timeout_ms) {
		s->next_sweep_ms = sl_mono_ms() + 100;
		sl_arm_timer(s);
	}
	return 0;
}

static void sl_destroy(void *state)
{
	struct sl *s = state;
	close_all(s);
	for (size_t i = 0; i < s->nls; i++) {
		struct sl_dgram *d = &s->ls[i].dg;
		free(d->buf);
		free(d->msgs);
		free(d->iov);
		free(d->names);
		free(d->ctl);
	}
	free(s->ls);
	free(s->byfd);
	sbuf_free(&s->ev);
	free(s);
}

const struct input_module syslog_input = {
	.type = "syslog",
	.doc = "Receives syslog over UDP, TCP (RFC 6587 octet counting or LF framing, detected per "
	       "message), unix datagram sockets (like /dev/log) and unix stream sockets, parses "
	       "RFC 5424 and RFC 3164 and ships ECS events: `message`, `log.syslog.{priority, "
	       "facility, severity, hostname, appname, procid, msgid, structured_data}`, "
	       "`source.ip`. Stream and unix senders are slowed down under backpressure (not "
	       "read); UDP cannot be, and what it loses is counted in logship_input_dropped_total.",
	.keys = sl_keys,
	.conf_size = sizeof(struct sl_conf),
	.flags = INPUT_CANNOT_WAIT,
	.check = sl_check,
	.init = sl_init,
	.start = sl_start,
	.on_fd = sl_on_fd,
	.on_timer = sl_on_timer,
	.run = sl_run,
	.stop = sl_stop,
	.destroy = sl_destroy,
};
