/* OpenSSL and librdkafka loaded on first use (agent/openssl_lazy.c,
 * outputs/kafka/rdkafka_lazy.c, common/lazy_lib.c): this binary links them
 * like every unit test, but its own calls bind to the agent's stand-ins
 * (hidden, so the libraries never bind back to them), and --as-needed
 * leaves the libraries unmapped until the first call. After it, a TLS
 * context and connection object are made and configured through the ctrl
 * macros, a SHA-256 digest of a known string matches, and librdkafka's
 * variadic producev reaches the library argument for argument (a delivery
 * report comes back with the opaque, the key and the value given). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static void test_ssl_ctx(void **state)
{
	(void)state;
	assert_false(tu_mapped("/libssl.so"));
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	assert_true(tu_mapped("/libssl.so"));
	assert_int_equal(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION), 1);   /* SSL_CTX_ctrl */
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	long mode = SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	assert_true(mode & SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

	/* A missing file fails the way OpenSSL says, through ERR_*. */
	ERR_clear_error();
	assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, "/nonexistent/cert.pem"), 0);
	unsigned long e = ERR_get_error();
	assert_true(e != 0);
	char buf[256] = "";
	ERR_error_string_n(e, buf, sizeof(buf));
	assert_non_null(strstr(buf, "error:"));
	ERR_clear_error();

	SSL *s = SSL_new(ctx);
	assert_non_null(s);
	assert_int_equal(SSL_set_tlsext_host_name(s, "broker.example"), 1);         /* SSL_ctrl */
	SSL_set_connect_state(s);
	assert_int_equal(SSL_is_init_finished(s), 0);
	assert_int_equal(SSL_pending(s), 0);
	SSL_free(s);
	SSL_CTX_free(ctx);
}

static void test_sha256(void **state)
{
	(void)state;
	static const unsigned char want[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, "a", 1), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, "bc", 2), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &n), 1);
	EVP_MD_CTX_free(ctx);
	assert_int_equal(n, 32);
	assert_memory_equal(md, want, 32);            /* SHA-256("abc"), FIPS 180-2 */
	assert_string_equal(X509_verify_cert_error_string(X509_V_OK), "ok");
}

struct report {
	int n;
	rd_kafka_resp_err_t err;
	void *opaque;
	char key[16], value[16];
};

static void on_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *arg)
{
	struct report *r = rd_kafka_opaque(rk);
	assert_ptr_equal(r, arg);
	r->n++;
	r->err = m->err;
	r->opaque = m->_private;
	snprintf(r->key, sizeof(r->key), "%.*s", (int)m->key_len, (const char *)m->key);
	snprintf(r->value, sizeof(r->value), "%.*s", (int)m->len, (const char *)m->payload);
}

static void test_rdkafka_producev(void **state)
{
	(void)state;
	char err[256] = "";
	struct report r = { 0 };
	assert_false(tu_mapped("/librdkafka.so"));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_non_null(conf);
	assert_true(tu_mapped("/librdkafka.so"));
	assert_int_equal(rd_kafka_conf_set(conf, "no.such.property", "1", err, sizeof(err)),
			 RD_KAFKA_CONF_UNKNOWN);
	assert_non_null(strstr(err, "no.such.property"));           /* the library's own errstr */
	assert_int_equal(rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err)), RD_KAFKA_CONF_OK);
	rd_kafka_conf_set_opaque(conf, &r);
	rd_kafka_conf_set_dr_msg_cb(conf, on_report);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(rk);

	/* No broker: the message waits in the queue until purged. */
	rd_kafka_headers_t *h = rd_kafka_headers_new(1);
	assert_int_equal(rd_kafka_header_add(h, "k", -1, "v", 1), RD_KAFKA_RESP_ERR_NO_ERROR);
	int tag;
	assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("logs"), RD_KAFKA_V_PARTITION(0),
					   RD_KAFKA_V_KEY("key1", 4), RD_KAFKA_V_VALUE("value1", 6),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					   RD_KAFKA_V_TIMESTAMP(1700000000000), RD_KAFKA_V_HEADERS(h),
					   RD_KAFKA_V_OPAQUE(&tag), RD_KAFKA_V_END),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	/* An error from the library comes back as producev's code. */
	assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_VALUE("x", 1), RD_KAFKA_V_END),
			 RD_KAFKA_RESP_ERR__INVALID_ARG);                /* no topic */
	assert_int_equal(rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE), RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int i = 0; i < 50 && !r.n; i++)
		rd_kafka_poll(rk, 100);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.err, RD_KAFKA_RESP_ERR__PURGE_QUEUE);
	assert_ptr_equal(r.opaque, &tag);
	assert_string_equal(r.key, "key1");
	assert_string_equal(r.value, "value1");
	assert_string_equal(rd_kafka_err2name(RD_KAFKA_RESP_ERR__PURGE_QUEUE), "_PURGE_QUEUE");
	assert_int_equal(rd_kafka_flush(rk, 1000), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(rk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssl_ctx),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_rdkafka_producev),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
