/* A small HTTP/1.1 server for the agent's status endpoint (/health /ready
 * /metrics /status): GET and HEAD only, one response per connection
 * (Connection: close), served by one thread that sleeps in poll() while
 * nothing happens (no timer wake-ups at idle).
 *
 * Why not libmicrohttpd: on Debian it links GnuTLS, whose initialisers and
 * relocations alone cost the agent ~2.5 MiB of its idle RSS (measured, see
 * docs/architecture.md), for an endpoint that answers four read-only paths.
 *
 * Untrusted bytes are bounded: a request head larger than HTTPD_MAX_HEAD is
 * answered 431, a connection that has not sent its head within
 * `timeout_ms` (slowloris) or not taken its response by then is closed, and at
 * most `max_conns` connections are open (further ones are accepted and closed
 * at once, so the backlog cannot fill).
 *
 * HTTPS (optional): the same, over server-side TLS (common/tls_server.c);
 * the handshake counts against the same timeout, and certificate files that
 * change are read again for the next connection. */
#ifndef LOGSHIP_COMMON_HTTPD_H
#define LOGSHIP_COMMON_HTTPD_H
#include <stddef.h>

#include "common/sbuf.h"

#define HTTPD_MAX_HEAD 8192

/* Answers one request: path is the target without its query string. Writes
 * the body into `body`, may point *ctype at a static content type (default
 * text/plain), and returns the status code. Called on the server's thread. */
typedef unsigned (*httpd_handler)(void *arg, const char *method, const char *path,
				  struct sbuf *body, const char **ctype);

struct tls_server_conf;
struct httpd_options {
	unsigned max_conns;    /* 0: 32 */
	unsigned timeout_ms;   /* 0: 10000; from accept to the last byte sent */
	const struct tls_server_conf *tls;  /* NULL: plain HTTP; else HTTPS (common/tls_server.h) */
};

struct httpd;

/* Listens on "host:port" ("[v6]:port", ":port" for every address) and
 * starts the thread. NULL on failure, with the reason in err. */
struct httpd *httpd_start(const char *listen, const struct httpd_options *opt, httpd_handler fn,
			  void *arg, char *err, size_t errlen);
/* The port it listens on (useful with port 0). */
int httpd_port(const struct httpd *h);
/* Stops the thread, closes every connection. NULL is fine. */
void httpd_stop(struct httpd *h);

#endif
