/* Server-side TLS with OpenSSL, non-blocking, for an epoll or poll loop:
 * the broker's listeners, the syslog input's tls:// listeners (RFC 5425) and
 * the agent's status endpoint share it. the handshake is a connection state, and every read or write may
 * answer "try again when the socket is readable / writable" (OpenSSL's
 * WANT_READ / WANT_WRITE; a read can need a write and the other way round).
 *
 * A listener's context (certificate, key, CA, client-auth mode, minimum
 * version) is rebuilt by tls_server_reload() on SIGHUP; connections made
 * before keep the context they started with (OpenSSL counts references), new
 * ones get the new one. A reload that fails keeps the old context. */
#ifndef LOGSHIP_COMMON_TLS_SERVER_H
#define LOGSHIP_COMMON_TLS_SERVER_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"

enum tls_client_auth { TLS_CLIENT_AUTH_NONE, TLS_CLIENT_AUTH_OPTIONAL, TLS_CLIENT_AUTH_REQUIRED };
enum tls_min_version { TLS_MIN_1_2, TLS_MIN_1_3 };

/* A listener's TLS settings (copied by tls_server_new). */
struct tls_server_conf {
	char *cert_file;         /* PEM chain, required */
	char *key_file;          /* PEM private key, required */
	char *ca_file;           /* PEM CAs to verify client certificates with; NULL: none */
	int client_auth;         /* enum tls_client_auth */
	int min_version;         /* enum tls_min_version */
};

/* The keys of a server-side `tls:` block, the same in every module that has
 * one (syslog input, status endpoint): T is the module's config struct, F
 * its struct tls_server_conf member. cert_file/key_file presence is checked
 * by the module (only its TLS listeners need them). */
extern const char *const tls_client_auth_choices[];   /* none optional required */
extern const char *const tls_min_version_choices[];   /* "1.2" "1.3" */
#define TLS_SERVER_KEYS(T, F) \
	{ "cert_file", CFG_T_STRING, offsetof(T, F.cert_file), NULL, 0, NULL, 0, 0, NULL, \
	  "The server certificate chain (PEM). Re-read on SIGHUP." }, \
	{ "key_file", CFG_T_STRING, offsetof(T, F.key_file), NULL, 0, NULL, 0, 0, NULL, \
	  "Its private key (PEM). Re-read on SIGHUP." }, \
	{ "ca_file", CFG_T_STRING, offsetof(T, F.ca_file), NULL, 0, NULL, 0, 0, NULL, \
	  "CA certificates (PEM) that client certificates are verified against." }, \
	{ "client_auth", CFG_T_ENUM, offsetof(T, F.client_auth), "none", 0, tls_client_auth_choices, 0, 0, NULL, \
	  "none; optional (a certificate sent is verified); required (mutual TLS: no verified certificate, no connection)." }, \
	{ "min_version", CFG_T_ENUM, offsetof(T, F.min_version), "1.2", 0, tls_min_version_choices, 0, 0, NULL, \
	  "Oldest TLS version accepted: 1.2 or 1.3." }

struct tls_server;
struct tls_conn;

/* Builds a listener's context. 0, or -EINVAL with err naming the file and
 * OpenSSL's reason. tls_server_reload() reads the same files again. */
int tls_server_new(const struct tls_server_conf *conf, struct tls_server **out, char *err, size_t errlen);
int tls_server_reload(struct tls_server *t, char *err, size_t errlen);
/* Reloads only when the files changed since the context was built (a
 * stat each; cheap enough per accepted connection): 1 reloaded, 0 the
 * same, < 0 the new files are bad (err says why; the old context stays and
 * the same bad files are not reported again). */
int tls_server_refresh(struct tls_server *t, char *err, size_t errlen);
void tls_server_free(struct tls_server *t);

/* A server-side TLS connection on a connected non-blocking socket. NULL on
 * allocation failure. */
struct tls_conn *tls_conn_new(struct tls_server *t, int fd);
void tls_conn_free(struct tls_conn *c);

/* The wants a call left behind: TLS_WANT_READ / TLS_WANT_WRITE bits. */
#define TLS_WANT_READ 1u
#define TLS_WANT_WRITE 2u

/* 1 when the handshake is done, 0 while it goes on (*want says on what),
 * -1 when it failed (err says why, as OpenSSL tells it). */
int tls_conn_handshake(struct tls_conn *c, unsigned *want, char *err, size_t errlen);
/* As read(2)/send(2): bytes, 0 at a clean end (read), -1 with errno EAGAIN
 * (*want says on what) or EIO/ECONNRESET. */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t n, unsigned *want);
ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t n, unsigned *want);
/* Whether decrypted bytes wait inside OpenSSL (the socket may be quiet). */
int tls_conn_pending(struct tls_conn *c);
/* The verified client certificate's subject CN, if one was presented and
 * verified: 0, or -1. */
int tls_conn_peer_cn(struct tls_conn *c, char *out, size_t n);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384", for log lines. */
void tls_conn_describe(struct tls_conn *c, char *out, size_t n);

#endif
