/* OpenSSL (libssl.so.3, libcrypto.so.3), loaded on first use, for the agent.
 * The agent's code (common/tls_server.c, outputs/tls_client.c, outputs/tcp.c,
 * outputs/elasticsearch/es_bulk.c) calls SSL_* / X509_* / ERR_* / EVP_* /
 * BIO_* as usual; the agent is not linked with -lssl -lcrypto and these
 * definitions stand in: the first call dlopen()s the library and every call
 * forwards to the real function. The pattern and the loader are shared with
 * common/curl_lazy.c (see common/lazy_lib.h).
 *
 * Why: merely linking libcrypto and libssl costs every agent ~1.7 MiB of RSS
 * (their symbol tables and relro, touched by relocation at start), measured,
 * while only an agent with a TLS listener or output, or an elasticsearch
 * output, ever calls them.
 *
 * Where: in libagent.a, never in libcommon.a: the broker links libcommon.a
 * (common/tls_server.c included) and its own OpenSSL calls (TLS, SCRAM) must
 * bind to the real library it links, which it does because it never links
 * libagent.a. The agent's link groups libagent.a with libcommon.a so that
 * common/tls_server.c's calls find these definitions.
 *
 * Invariants: a function the agent needs and this table lacks fails at link
 * time (no -lssl to fall back on); SSL_CTX_set_mode, SSL_CTX_set_min_proto_version,
 * SSL_set_tlsext_host_name and the like are macros over SSL_CTX_ctrl/SSL_ctrl.
 * OpenSSL 3 initialises itself on its first call (SSL_CTX_new), which is the
 * call that loads it here. When the library cannot be loaded the reason is
 * logged once and calls return OpenSSL's own failure values (NULL, 0 or -1,
 * SSL_ERROR_SSL); without a library no SSL_CTX, SSL or digest context can
 * exist, so only the constructors' failures are ever seen. Two libraries,
 * two tables: a digest (es_bulk.c) maps libcrypto only. */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>

#include "common/lazy_lib.h"

#define NOT_LOADED "OpenSSL could not be loaded"

/* libcrypto: (return type, name, parameters, arguments, value when not loaded) */
#define CRYPTO_FUNCS(X)                                                                          \
	X(unsigned long, ERR_get_error, (void), (), 0)                                          \
	X(unsigned long, ERR_peek_error, (void), (), 0)                                         \
	X(const char *, X509_verify_cert_error_string, (long n), (n), NOT_LOADED)               \
	X(uint64_t, BIO_number_written, (BIO * b), (b), 0)                                      \
	X(EVP_MD_CTX *, EVP_MD_CTX_new, (void), (), NULL)                                       \
	X(const EVP_MD *, EVP_sha256, (void), (), NULL)                                         \
	X(int, EVP_DigestInit_ex, (EVP_MD_CTX * c, const EVP_MD *t, ENGINE *e), (c, t, e), 0)   \
	X(int, EVP_DigestUpdate, (EVP_MD_CTX * c, const void *d, size_t n), (c, d, n), 0)       \
	X(int, EVP_DigestFinal_ex, (EVP_MD_CTX * c, unsigned char *md, unsigned int *n), (c, md, n), 0) \
	X(X509_NAME *, X509_get_subject_name, (const X509 *x), (x), NULL)                       \
	X(int, X509_NAME_get_text_by_NID, (const X509_NAME *n, int nid, char *buf, int len), (n, nid, buf, len), -1) \
	X(int, X509_VERIFY_PARAM_set1_host, (X509_VERIFY_PARAM * p, const char *name, size_t len), (p, name, len), 0) \
	X(int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM * p, const char *ip), (p, ip), 0)

#define CRYPTO_VOIDS(X)                                         \
	X(ERR_clear_error, (void), ())                          \
	X(EVP_MD_CTX_free, (EVP_MD_CTX * c), (c))               \
	X(X509_free, (X509 * x), (x))

/* libssl */
#define SSL_FUNCS(X)                                                                             \
	X(const SSL_METHOD *, TLS_client_method, (void), (), NULL)                              \
	X(const SSL_METHOD *, TLS_server_method, (void), (), NULL)                              \
	X(SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *m), (m), NULL)                             \
	X(long, SSL_CTX_ctrl, (SSL_CTX * c, int cmd, long l, void *p), (c, cmd, l, p), 0)       \
	X(uint64_t, SSL_CTX_set_options, (SSL_CTX * c, uint64_t o), (c, o), 0)                  \
	X(int, SSL_CTX_set_num_tickets, (SSL_CTX * c, size_t n), (c, n), 0)                     \
	X(int, SSL_CTX_load_verify_locations, (SSL_CTX * c, const char *f, const char *d), (c, f, d), 0) \
	X(int, SSL_CTX_set_default_verify_paths, (SSL_CTX * c), (c), 0)                         \
	X(int, SSL_CTX_use_certificate_chain_file, (SSL_CTX * c, const char *f), (c, f), 0)     \
	X(int, SSL_CTX_use_PrivateKey_file, (SSL_CTX * c, const char *f, int t), (c, f, t), 0)  \
	X(int, SSL_CTX_check_private_key, (const SSL_CTX *c), (c), 0)                           \
	X(STACK_OF(X509_NAME) *, SSL_load_client_CA_file, (const char *f), (f), NULL)           \
	X(SSL *, SSL_new, (SSL_CTX * c), (c), NULL)                                             \
	X(long, SSL_ctrl, (SSL * s, int cmd, long l, void *p), (s, cmd, l, p), 0)               \
	X(int, SSL_set_fd, (SSL * s, int fd), (s, fd), 0)                                       \
	X(int, SSL_do_handshake, (SSL * s), (s), -1)                                            \
	X(int, SSL_is_init_finished, (const SSL *s), (s), 0)                                    \
	X(int, SSL_read_ex, (SSL * s, void *b, size_t n, size_t *got), (s, b, n, got), 0)       \
	X(int, SSL_write_ex, (SSL * s, const void *b, size_t n, size_t *put), (s, b, n, put), 0) \
	X(int, SSL_pending, (const SSL *s), (s), 0)                                             \
	X(int, SSL_shutdown, (SSL * s), (s), -1)                                                \
	X(int, SSL_get_error, (const SSL *s, int rc), (s, rc), SSL_ERROR_SSL)                   \
	X(long, SSL_get_verify_result, (const SSL *s), (s), X509_V_ERR_UNSPECIFIED)             \
	X(X509 *, SSL_get1_peer_certificate, (const SSL *s), (s), NULL)                         \
	X(X509_VERIFY_PARAM *, SSL_get0_param, (SSL * s), (s), NULL)                            \
	X(const SSL_CIPHER *, SSL_get_current_cipher, (const SSL *s), (s), NULL)                \
	X(const char *, SSL_CIPHER_get_name, (const SSL_CIPHER *c), (c), "(NONE)")              \
	X(const char *, SSL_get_version, (const SSL *s), (s), "unknown")                        \
	X(BIO *, SSL_get_wbio, (const SSL *s), (s), NULL)

#define SSL_VOIDS(X)                                                                     \
	X(SSL_CTX_free, (SSL_CTX * c), (c))                                             \
	X(SSL_CTX_set_verify, (SSL_CTX * c, int mode, SSL_verify_cb cb), (c, mode, cb)) \
	X(SSL_CTX_set_client_CA_list, (SSL_CTX * c, STACK_OF(X509_NAME) * l), (c, l))   \
	X(SSL_free, (SSL * s), (s))                                                     \
	X(SSL_set_accept_state, (SSL * s), (s))                                         \
	X(SSL_set_connect_state, (SSL * s), (s))

static struct {
	CRYPTO_FUNCS(LAZY_PTR)
	CRYPTO_VOIDS(LAZY_VPTR)
	void (*ERR_error_string_n)(unsigned long e, char *buf, size_t len);
} crypto_fn;

static struct {
	SSL_FUNCS(LAZY_PTR)
	SSL_VOIDS(LAZY_VPTR)
} ssl_fn;

#define LAZY_FN crypto_fn
static const struct lazy_sym crypto_syms[] = {
	CRYPTO_FUNCS(LAZY_SYM)
	CRYPTO_VOIDS(LAZY_VSYM)
	{ "ERR_error_string_n", (void **)&crypto_fn.ERR_error_string_n },
};
#undef LAZY_FN

#define LAZY_FN ssl_fn
static const struct lazy_sym ssl_syms[] = {
	SSL_FUNCS(LAZY_SYM)
	SSL_VOIDS(LAZY_VSYM)
};
#undef LAZY_FN

static struct lazy_lib crypto = {
	.soname = "libcrypto.so.3", .package = "libssl3", .module = "openssl",
	.syms = crypto_syms, .nsyms = LAZY_COUNT(crypto_syms),
};

static struct lazy_lib ssl = {
	.soname = "libssl.so.3", .package = "libssl3", .module = "openssl",
	.syms = ssl_syms, .nsyms = LAZY_COUNT(ssl_syms),
};

#define LAZY_FN crypto_fn
#define LAZY_LIB crypto
CRYPTO_FUNCS(LAZY_DEF)
CRYPTO_VOIDS(LAZY_DEFV)
#undef LAZY_FN
#undef LAZY_LIB

#define LAZY_FN ssl_fn
#define LAZY_LIB ssl
SSL_FUNCS(LAZY_DEF)
SSL_VOIDS(LAZY_DEFV)
#undef LAZY_FN
#undef LAZY_LIB

/* The callers print buf whatever the error was: say why there is none. */
LAZY_HIDDEN void ERR_error_string_n(unsigned long e, char *buf, size_t len)
{
	if (lazy_lib_ready(&crypto))
		crypto_fn.ERR_error_string_n(e, buf, len);
	else if (len)
		snprintf(buf, len, "%s", NOT_LOADED);
}
