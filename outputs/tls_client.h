/* A TLS client session over a non-blocking socket, with OpenSSL, for the
 * outputs that speak a plain byte stream (tcp). The caller owns the socket
 * and its poll(2) loop: every call here is non-blocking and says which way
 * it wants to wait (TLSC_WANT_READ / TLSC_WANT_WRITE) when it cannot go on.
 * The `tls:` block (outputs/out_tls.h) configures trust, client
 * certificate, verification and the name checked (server_name, else the
 * host connected to). */
#ifndef LOGSHIP_OUTPUTS_TLS_CLIENT_H
#define LOGSHIP_OUTPUTS_TLS_CLIENT_H
#include <stddef.h>
#include <sys/types.h>

#include "outputs/out_tls.h"

struct ssl_ctx_st;
struct ssl_st;

struct tlsc_ctx { struct ssl_ctx_st *ctx; };
struct tlsc { struct ssl_st *ssl; };

#define TLSC_WANT_READ  (-1000)
#define TLSC_WANT_WRITE (-1001)

/* Loads trust and the client certificate. 0, or -EINVAL with why filled. */
int tlsc_ctx_init(struct tlsc_ctx *c, const struct out_tls *t, char *why, size_t whylen);
void tlsc_ctx_free(struct tlsc_ctx *c);

/* A session on fd for host (the name verified/sent unless t->server_name). */
int tlsc_new(struct tlsc *s, struct tlsc_ctx *c, const struct out_tls *t, int fd, const char *host);
void tlsc_free(struct tlsc *s);
/* 0 = done, TLSC_WANT_*, or -EPROTO with why filled (certificate, alert). */
int tlsc_handshake(struct tlsc *s, char *why, size_t whylen);
/* Bytes written (> 0), TLSC_WANT_*, or -EPIPE. */
ssize_t tlsc_write(struct tlsc *s, const void *buf, size_t n);
/* Bytes read (> 0), 0 = the peer closed, TLSC_WANT_*, or -EPIPE. */
ssize_t tlsc_read(struct tlsc *s, void *buf, size_t n);

#endif
