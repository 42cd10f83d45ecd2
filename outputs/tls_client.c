/* See tls_client.h. TLS 1.2 or later; SSL_MODE_ENABLE_PARTIAL_WRITE and
 * ACCEPT_MOVING_WRITE_BUFFER so a write can be resumed from a moved buffer
 * after a WANT_WRITE, as a poll loop needs. */
#include "outputs/tls_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static void why_ssl(char *why, size_t n, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(why, n, "%s%s%s", what, *buf ? ": " : "", buf);
	ERR_clear_error();
}

int tlsc_ctx_init(struct tlsc_ctx *c, const struct out_tls *t, char *why, size_t whylen)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx) {
		why_ssl(why, whylen, "cannot create a TLS context");
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(c->ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	int ok = t->ca_file ? SSL_CTX_load_verify_locations(c->ctx, t->ca_file, NULL)
			    : SSL_CTX_set_default_verify_paths(c->ctx);
	if (ok != 1) {
		why_ssl(why, whylen, t->ca_file ? "cannot load tls.ca_file" : "cannot load the system's CAs");
		goto fail;
	}
	if (t->cert_file) {
		if (SSL_CTX_use_certificate_chain_file(c->ctx, t->cert_file) != 1) {
			why_ssl(why, whylen, "cannot load tls.cert_file");
			goto fail;
		}
		const char *key = t->key_file ? t->key_file : t->cert_file;
		if (SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(c->ctx) != 1) {
			why_ssl(why, whylen, "cannot load tls.key_file (or it does not match the certificate)");
			goto fail;
		}
	}
	return 0;
fail:
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
	return -EINVAL;
}

void tlsc_ctx_free(struct tlsc_ctx *c)
{
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
}

int tlsc_new(struct tlsc *s, struct tlsc_ctx *c, const struct out_tls *t, int fd, const char *host)
{
	const char *name = t->server_name ? t->server_name : host;
	s->ssl = SSL_new(c->ctx);
	if (!s->ssl || SSL_set_fd(s->ssl, fd) != 1) {
		tlsc_free(s);
		return -ENOMEM;
	}
	/* SNI only for names, not for IP literals (RFC 6066) */
	unsigned char ipbuf[16];
	int is_ip = inet_pton(AF_INET, name, ipbuf) == 1 || inet_pton(AF_INET6, name, ipbuf) == 1;
	if (!is_ip)
		SSL_set_tlsext_host_name(s->ssl, name);
	if (t->verify) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(s->ssl);
		int rc = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, name) : X509_VERIFY_PARAM_set1_host(vp, name, 0);
		if (rc != 1) {
			tlsc_free(s);
			return -EINVAL;
		}
	}
	SSL_set_connect_state(s->ssl);
	return 0;
}

void tlsc_free(struct tlsc *s)
{
	SSL_free(s->ssl);
	s->ssl = NULL;
	ERR_clear_error();
}

/* Maps an SSL_get_error result; why filled for real errors. */
static int map(struct tlsc *s, int ret, char *why, size_t whylen)
{
	int e = SSL_get_error(s->ssl, ret);
	switch (e) {
	case SSL_ERROR_WANT_READ: return TLSC_WANT_READ;
	case SSL_ERROR_WANT_WRITE: return TLSC_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN: ERR_clear_error(); return 0;
	default:
		if (why) {
			long vr = SSL_get_verify_result(s->ssl);
			if (vr != X509_V_OK)
				snprintf(why, whylen, "certificate verification failed: %s",
					 X509_verify_cert_error_string(vr));
			else
				why_ssl(why, whylen, e == SSL_ERROR_SYSCALL ? "connection lost during TLS" : "TLS error");
		}
		ERR_clear_error();
		return -EPROTO;
	}
}

int tlsc_handshake(struct tlsc *s, char *why, size_t whylen)
{
	int r = SSL_do_handshake(s->ssl);
	if (r == 1)
		return 0;
	int m = map(s, r, why, whylen);
	if (m == 0) {
		snprintf(why, whylen, "the server closed the connection during the TLS handshake");
		return -EPROTO;
	}
	return m;
}

ssize_t tlsc_write(struct tlsc *s, const void *buf, size_t n)
{
	size_t done = 0;
	int r = SSL_write_ex(s->ssl, buf, n, &done);
	if (r == 1)
		return (ssize_t)done;
	int m = map(s, r, NULL, 0);
	return m == TLSC_WANT_READ || m == TLSC_WANT_WRITE ? m : -EPIPE;
}

ssize_t tlsc_read(struct tlsc *s, void *buf, size_t n)
{
	size_t got = 0;
	int r = SSL_read_ex(s->ssl, buf, n, &got);
	if (r == 1)
		return (ssize_t)got;
	int m = map(s, r, NULL, 0);
	return m == 0 || m == TLSC_WANT_READ || m == TLSC_WANT_WRITE ? m : -EPIPE;
}
