/* Server-side TLS for the broker's listeners, the syslog input and the
 * status endpoint (see tls_server.h). OpenSSL keeps an error queue per
 * thread; every call here starts with it empty, so a reason printed is the
 * reason of this connection's failure and not a leftover. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/tls_server.h"

const char *const tls_client_auth_choices[] = { "none", "optional", "required", NULL };
const char *const tls_min_version_choices[] = { "1.2", "1.3", NULL };

struct tls_server {
	struct tls_server_conf conf;   /* the strings are copies */
	SSL_CTX *ctx;
	uint64_t stamp;                /* of the files the context was built from */
};

/* A stamp of the files' identities and change times: a certificate renewed
 * in place or swapped by rename (certbot, cert-manager) changes it. */
static uint64_t files_stamp(const struct tls_server_conf *c)
{
	const char *f[] = { c->cert_file, c->key_file, c->ca_file };
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < 3; i++) {
		struct stat st;
		if (!f[i] || stat(f[i], &st) < 0)
			continue;
		uint64_t v[] = { (uint64_t)st.st_ino, (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
				 (uint64_t)st.st_mtim.tv_nsec, (uint64_t)st.st_ctim.tv_nsec };
		for (int k = 0; k < 5; k++)
			h = (h ^ v[k]) * 1099511628211ULL;
	}
	return h;
}

struct tls_conn {
	SSL *ssl;
};

static void ossl_reason(char *out, size_t n)
{
	unsigned long e = ERR_get_error();
	if (!e) {
		snprintf(out, n, "unknown reason");
		return;
	}
	ERR_error_string_n(e, out, n);
	ERR_clear_error();
}

static SSL_CTX *build(const struct tls_server_conf *c, char *err, size_t errlen)
{
	ERR_clear_error();
	char why[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ossl_reason(why, sizeof(why));
		snprintf(err, errlen, "TLS context: %s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, c->min_version == TLS_MIN_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
	/* No renegotiation (a CPU sink for a client to trigger), no session
	 * tickets (Kafka clients keep their connections; tickets cost a write
	 * and memory per connection for nothing). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_num_tickets(ctx, 0);
	/* Partial writes let conn_write() send what fits and come back;
	 * released buffers keep an idle TLS connection at a few KiB. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	const char *what = c->cert_file;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1)
		goto fail;
	what = c->key_file;
	if (SSL_CTX_use_PrivateKey_file(ctx, c->key_file, SSL_FILETYPE_PEM) != 1)
		goto fail;
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	if (c->ca_file) {
		what = c->ca_file;
		if (SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1)
			goto fail;
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->ca_file);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
	}
	int mode = SSL_VERIFY_NONE;
	if (c->client_auth == TLS_CLIENT_AUTH_OPTIONAL)
		mode = SSL_VERIFY_PEER;
	else if (c->client_auth == TLS_CLIENT_AUTH_REQUIRED)
		mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	return ctx;
fail:
	ossl_reason(why, sizeof(why));
	snprintf(err, errlen, "TLS: %s: %s", what, why);
	SSL_CTX_free(ctx);
	return NULL;
}

static void conf_free(struct tls_server_conf *c)
{
	free(c->cert_file);
	free(c->key_file);
	free(c->ca_file);
}

int tls_server_new(const struct tls_server_conf *conf, struct tls_server **out, char *err, size_t errlen)
{
	struct tls_server *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->conf = *conf;
	t->conf.cert_file = conf->cert_file ? strdup(conf->cert_file) : NULL;
	t->conf.key_file = conf->key_file ? strdup(conf->key_file) : NULL;
	t->conf.ca_file = conf->ca_file ? strdup(conf->ca_file) : NULL;
	if ((conf->cert_file && !t->conf.cert_file) || (conf->key_file && !t->conf.key_file) ||
	    (conf->ca_file && !t->conf.ca_file)) {
		snprintf(err, errlen, "out of memory");
		conf_free(&t->conf);
		free(t);
		return -ENOMEM;
	}
	t->stamp = files_stamp(&t->conf);
	if (!(t->ctx = build(&t->conf, err, errlen))) {
		conf_free(&t->conf);
		free(t);
		return -EINVAL;
	}
	*out = t;
	return 0;
}

int tls_server_reload(struct tls_server *t, char *err, size_t errlen)
{
	uint64_t stamp = files_stamp(&t->conf);
	SSL_CTX *ctx = build(&t->conf, err, errlen);
	if (!ctx)
		return -EINVAL;
	t->stamp = stamp;
	SSL_CTX_free(t->ctx);  /* connections hold their own reference */
	t->ctx = ctx;
	return 0;
}

int tls_server_refresh(struct tls_server *t, char *err, size_t errlen)
{
	if (files_stamp(&t->conf) == t->stamp)
		return 0;
	int rc = tls_server_reload(t, err, errlen);
	if (rc < 0)
		t->stamp = files_stamp(&t->conf);  /* reported once, not at every call */
	return rc < 0 ? rc : 1;
}

void tls_server_free(struct tls_server *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	conf_free(&t->conf);
	free(t);
}

struct tls_conn *tls_conn_new(struct tls_server *t, int fd)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	ERR_clear_error();
	c->ssl = SSL_new(t->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_accept_state(c->ssl);
	return c;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	/* A close_notify if it fits at once; never waits for the peer's. */
	if (SSL_is_init_finished(c->ssl))
		SSL_shutdown(c->ssl);
	SSL_free(c->ssl);
	ERR_clear_error();
	free(c);
}

/* Maps an SSL_get_error() result to -1 with errno (and *want). */
static int io_error(struct tls_conn *c, int rc, unsigned *want)
{
	int e = SSL_get_error(c->ssl, rc);
	*want = 0;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = TLS_WANT_READ;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = TLS_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;  /* close_notify: a clean end */
	case SSL_ERROR_SYSCALL:
		errno = errno ? errno : ECONNRESET;
		ERR_clear_error();
		return -1;
	default:
		ERR_clear_error();
		errno = EIO;
		return -1;
	}
}

int tls_conn_handshake(struct tls_conn *c, unsigned *want, char *err, size_t errlen)
{
	ERR_clear_error();
	errno = 0;
	int rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		*want = 0;
		return 1;
	}
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want = e == SSL_ERROR_WANT_READ ? TLS_WANT_READ : TLS_WANT_WRITE;
		return 0;
	}
	if (e == SSL_ERROR_SYSCALL && !ERR_peek_error())
		snprintf(err, errlen, "%s", errno ? strerror(errno) : "the client closed the connection");
	else
		ossl_reason(err, errlen);
	long vr = SSL_get_verify_result(c->ssl);
	if (vr != X509_V_OK) {
		size_t l = strlen(err);
		snprintf(err + l, errlen - l, " (client certificate: %s)", X509_verify_cert_error_string(vr));
	}
	ERR_clear_error();
	return -1;
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t n, unsigned *want)
{
	ERR_clear_error();
	errno = 0;
	size_t got = 0;
	int rc = SSL_read_ex(c->ssl, buf, n, &got);
	if (rc == 1) {
		*want = 0;
		return (ssize_t)got;
	}
	return io_error(c, rc, want);
}

ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t n, unsigned *want)
{
	ERR_clear_error();
	errno = 0;
	size_t put = 0;
	int rc = SSL_write_ex(c->ssl, buf, n, &put);
	if (rc == 1) {
		*want = 0;
		return (ssize_t)put;
	}
	int r = io_error(c, rc, want);
	if (r == 0) {  /* the peer closed: a write cannot succeed */
		errno = EPIPE;
		return -1;
	}
	return r;
}

int tls_conn_pending(struct tls_conn *c)
{
	return SSL_pending(c->ssl) > 0;
}

int tls_conn_peer_cn(struct tls_conn *c, char *out, size_t n)
{
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	if (!cert)
		return -1;
	int rc = -1;
	if (SSL_get_verify_result(c->ssl) == X509_V_OK) {
		X509_NAME *name = X509_get_subject_name(cert);
		int len = name ? X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)n) : -1;
		/* A CN with a NUL inside, or one that does not fit, is no name. */
		rc = len > 0 && (size_t)len < n && strlen(out) == (size_t)len ? 0 : -1;
	}
	X509_free(cert);
	return rc;
}

void tls_conn_describe(struct tls_conn *c, char *out, size_t n)
{
	snprintf(out, n, "%s %s", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
}
