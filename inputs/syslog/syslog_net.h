/* The syslog input's insides, shared by syslog.c (the module: config, events,
 * backpressure) and syslog_net.c (sockets: listeners, connections, reads).
 *
 * Sources come in two kinds. UDP cannot be slowed down: what the ring refuses
 * is dropped, and the agent counts it. Everything else can wait: a TCP or
 * unix-stream sender that is not read fills its socket buffers and blocks,
 * and a unix datagram sender blocks on a full receive queue (as it does on
 * /dev/log). So when the ring refuses a message from one of those, the input
 * keeps the message (in its framer or datagram batch), stops reading every
 * waitable source and offers the kept messages again later (see syslog.c). */
#ifndef LOGSHIP_INPUTS_SYSLOG_NET_H
#define LOGSHIP_INPUTS_SYSLOG_NET_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent/module.h"
#include "common/logging.h"
#include "common/sbuf.h"
#include "common/tls_server.h"
#include "inputs/syslog/syslog_frame.h"

struct sl_conf {
	struct cfg_strlist listen;
	int format;                    /* enum syslog_mode */
	uint64_t max_message_bytes;
	int64_t max_connections;
	int64_t max_connections_per_address;  /* 0: no limit */
	int64_t idle_timeout_ms;       /* 0: never */
	uint64_t receive_buffer;       /* SO_RCVBUF for datagram sockets, 0: system default */
	char *socket_mode;             /* octal, for unix socket files */
	int keep_original;
	int source_address;
	struct tls_server_conf tls;    /* the tls: block, for tls:// listeners */
};

enum sl_kind { SL_UDP, SL_TCP, SL_UNIX_DGRAM, SL_UNIX_STREAM, SL_TLS };  /* SL_TLS: TCP + TLS (RFC 5425) */

/* A batch of datagrams read by one recvmmsg; [next, n) not yet handed over. */
struct sl_dgram {
	unsigned n, next;
	size_t slot;                   /* bytes per datagram buffer */
	char *buf;
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_storage *names;
	int64_t recv_ms, now_ns;
	/* the last sender's ",source" fragment, reused while it keeps sending */
	struct sockaddr_storage last;
	socklen_t last_len;
	char extra[96];
	size_t extra_len;
	/* SO_RXQ_OVFL: datagrams the kernel dropped (receive buffer full) */
	char (*ctl)[64];
	uint32_t kernel_drops, kernel_drops_logged;
	int64_t drops_logged_ms;
};

struct sl_listener {
	enum sl_kind kind;
	int fd;
	int watched;
	char *url;
	char *path;                    /* unix: the socket file we made (removed at stop) */
	unsigned long ino;             /* its inode, so that we remove only our own */
	struct tls_server *tls;        /* SL_TLS: the context, refreshed when its files change */
	struct sl_dgram dg;            /* datagram kinds */
};

struct sl_conn {
	int fd;
	int watched;
	int eof;                       /* the peer closed; close once drained */
	struct tls_conn *tls;          /* SL_TLS */
	int handshaking;               /* SL_TLS: until the handshake is done */
	unsigned events;               /* EPOLL* it is watched for (0: EPOLLIN) */
	int64_t accepted_ms;           /* monotonic, for the handshake timeout */
	struct sl_listener *l;
	struct syslog_framer fr;
	const char *held;              /* a message the ring refused, in fr.buf */
	size_t held_len;
	int held_trunc;
	int64_t last_ms;               /* last read (monotonic), for idle_timeout */
	char peer[64];
	uint8_t ip[16];                /* the peer's address (inet only), for the per-address limit */
	uint8_t iplen;
	char extra[96];                /* ",\"source\":{...}" */
	size_t extra_len;
	struct sl_conn *prev, *next;
};

struct sl_fdref { uint8_t kind; void *p; };  /* kind: 0 none, 1 listener, 2 conn */

struct sl {
	struct input *in;
	const struct sl_conf *c;
	const char *name;
	struct sl_listener *ls;
	size_t nls;
	struct sl_conn *conns;         /* doubly linked */
	int64_t nconns;
	struct sl_fdref *byfd;
	size_t nbyfd;
	int blocked;                   /* a waitable source was refused: not reading */
	int64_t probe_ms;              /* next retry delay while blocked */
	int64_t next_sweep_ms;         /* idle sweep (monotonic) */
	int run_wanted;
	struct sbuf ev;
	uint64_t conns_refused, framing_errors, idle_closed;
	struct ratelimit refuse_log, addr_refuse_log;
	uint64_t tls_failed;           /* handshakes failed or timed out */
	struct ratelimit tls_fail_log;
	unsigned handshaking;          /* connections still in their handshake */
};

/* syslog_net.c */
/* Parses one listen URL; fills kind, host/port or path. 0 or -EINVAL with a
 * reason in *why. */
int sl_parse_url(const char *url, enum sl_kind *kind, char *host, size_t hostsz, uint16_t *port,
		 char *path, size_t pathsz, const char **why);
int sl_listener_open(struct sl *s, struct sl_listener *l);
void sl_listener_close(struct sl *s, struct sl_listener *l);
void sl_on_listener(struct sl *s, struct sl_listener *l);
void sl_on_conn(struct sl *s, struct sl_conn *c);
void sl_conn_close(struct sl *s, struct sl_conn *c, const char *why);
/* Offers again what a waitable source holds (no reads). 0 = all taken,
 * -EAGAIN = refused again. */
int sl_retry_held(struct sl *s);
void sl_sweep_idle(struct sl *s, int64_t now_ms);
/* TLS: closes connections whose handshake has not finished in time
 * (slowloris); reads what OpenSSL holds decrypted. */
#define SL_HANDSHAKE_TIMEOUT_MS 10000
void sl_sweep_handshakes(struct sl *s, int64_t now_ms);
void sl_drain_tls(struct sl *s);
void sl_watch_events(struct sl *s, struct sl_conn *c, unsigned events);
int sl_watch(struct sl *s, int fd, int *watched, int on);
void sl_fd_set(struct sl *s, int fd, int kind, void *p);

/* syslog.c */
/* Parses msg and hands it over. 0 taken (or dropped: too large), -EAGAIN refused. */
int sl_emit(struct sl *s, int kept, const char *msg, size_t len, int truncated, const char *extra,
	    size_t extra_len, int64_t recv_ms, int64_t now_ns);
/* A waitable source was refused: stop reading them all, retry later. */
void sl_block(struct sl *s);
/* (Re)arms the input's timer for what is pending: idle sweeps, retries,
 * handshake timeouts. */
void sl_arm_timer(struct sl *s);
/* A datagram from UDP got in while blocked: space is back, retry soon. */
void sl_space_seen(struct sl *s);
int64_t sl_mono_ms(void);

#endif
