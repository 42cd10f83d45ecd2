/* librdkafka (librdkafka.so.1), loaded on first use, for the agent. The kafka
 * output (kafka.c, kafka_client.c) calls rd_kafka_* as usual; the agent is not
 * linked with -lrdkafka and these definitions stand in: the first call
 * dlopen()s the library and every call forwards to the real function. The
 * pattern and the loader are shared with common/curl_lazy.c (see
 * common/lazy_lib.h).
 *
 * Why: linking librdkafka and what it needs (libsasl2, liblz4, OpenSSL) costs
 * every agent ~1 MiB of RSS on top of OpenSSL's, measured, while only an
 * agent with a kafka output calls it.
 *
 * Where: in libagent.a, beside its only callers; the CLI and the test tools
 * that speak Kafka link -lrdkafka themselves and never link libagent.a.
 *
 * Invariants: a function the agent needs and this table lacks fails at link
 * time (no -lrdkafka to fall back on). When the library cannot be loaded
 * the reason is logged once and calls fail the way librdkafka does: NULL
 * handles, RD_KAFKA_CONF_INVALID / RD_KAFKA_RESP_ERR__FAIL, with errstr
 * filled where the function has one, so the output's own error says why.
 * rd_kafka_producev() is variadic and librdkafka has no va_list variant:
 * its (vtype, value...) list is read exactly as librdkafka reads it and
 * passed to rd_kafka_produceva(), which librdkafka keeps in step with
 * producev (same defaults, same ownership of the headers on failure). */
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/lazy_lib.h"

#define NOT_LOADED "librdkafka could not be loaded"

/* (return type, name, parameters, arguments, value when not loaded) */
#define RDK_FUNCS(X)                                                                             \
	X(rd_kafka_conf_t *, rd_kafka_conf_new, (void), (), NULL)                                \
	X(void *, rd_kafka_opaque, (const rd_kafka_t *rk), (rk), NULL)                           \
	X(int, rd_kafka_poll, (rd_kafka_t * rk, int ms), (rk, ms), 0)                            \
	X(rd_kafka_resp_err_t, rd_kafka_flush, (rd_kafka_t * rk, int ms), (rk, ms), RD_KAFKA_RESP_ERR__FAIL) \
	X(rd_kafka_resp_err_t, rd_kafka_purge, (rd_kafka_t * rk, int flags), (rk, flags), RD_KAFKA_RESP_ERR__FAIL) \
	X(rd_kafka_topic_t *, rd_kafka_topic_new, (rd_kafka_t * rk, const char *t, rd_kafka_topic_conf_t *c), (rk, t, c), NULL) \
	X(rd_kafka_headers_t *, rd_kafka_headers_new, (size_t n), (n), NULL)                     \
	X(rd_kafka_resp_err_t, rd_kafka_header_add, (rd_kafka_headers_t * h, const char *name, ssize_t nlen, const void *val, ssize_t vlen), (h, name, nlen, val, vlen), RD_KAFKA_RESP_ERR__FAIL) \
	X(const char *, rd_kafka_err2str, (rd_kafka_resp_err_t e), (e), NOT_LOADED)             \
	X(const char *, rd_kafka_err2name, (rd_kafka_resp_err_t e), (e), "_FAIL")

#define RDK_VOIDS(X)                                                                             \
	X(rd_kafka_conf_destroy, (rd_kafka_conf_t * c), (c))                                     \
	X(rd_kafka_conf_set_opaque, (rd_kafka_conf_t * c, void *o), (c, o))                      \
	X(rd_kafka_conf_set_dr_msg_cb, (rd_kafka_conf_t * c, void (*cb)(rd_kafka_t *, const rd_kafka_message_t *, void *)), (c, cb)) \
	X(rd_kafka_conf_set_log_cb, (rd_kafka_conf_t * c, void (*cb)(const rd_kafka_t *, int, const char *, const char *)), (c, cb)) \
	X(rd_kafka_destroy, (rd_kafka_t * rk), (rk))                                             \
	X(rd_kafka_topic_destroy, (rd_kafka_topic_t * t), (t))                                   \
	X(rd_kafka_headers_destroy, (rd_kafka_headers_t * h), (h))

/* Reached only from the stand-ins below. */
#define RDK_INTERNAL(X)                                                                          \
	X(rd_kafka_conf_res_t, rd_kafka_conf_set, (rd_kafka_conf_t * c, const char *k, const char *v, char *err, size_t n), (c, k, v, err, n), RD_KAFKA_CONF_INVALID) \
	X(rd_kafka_t *, rd_kafka_new, (rd_kafka_type_t t, rd_kafka_conf_t *c, char *err, size_t n), (t, c, err, n), NULL) \
	X(rd_kafka_error_t *, rd_kafka_produceva, (rd_kafka_t * rk, const rd_kafka_vu_t *vus, size_t n), (rk, vus, n), NULL) \
	X(rd_kafka_resp_err_t, rd_kafka_error_code, (const rd_kafka_error_t *e), (e), RD_KAFKA_RESP_ERR__FAIL) \
	X(void, rd_kafka_error_destroy, (rd_kafka_error_t * e), (e), )

static struct {
	RDK_FUNCS(LAZY_PTR)
	RDK_VOIDS(LAZY_VPTR)
	RDK_INTERNAL(LAZY_PTR)
} fn;

#define LAZY_FN fn
#define LAZY_LIB rdkafka
static const struct lazy_sym syms[] = {
	RDK_FUNCS(LAZY_SYM)
	RDK_VOIDS(LAZY_VSYM)
	RDK_INTERNAL(LAZY_SYM)
};

static struct lazy_lib rdkafka = {
	.soname = "librdkafka.so.1", .package = "librdkafka1", .module = "kafka",
	.syms = syms, .nsyms = LAZY_COUNT(syms),
};

RDK_FUNCS(LAZY_DEF)
RDK_VOIDS(LAZY_DEFV)

static void not_loaded(char *err, size_t n)
{
	if (err && n)
		snprintf(err, n, "%s", NOT_LOADED);
}

LAZY_HIDDEN rd_kafka_conf_res_t rd_kafka_conf_set(rd_kafka_conf_t *c, const char *k, const char *v,
						  char *err, size_t n)
{
	if (lazy_lib_ready(&rdkafka))
		return fn.rd_kafka_conf_set(c, k, v, err, n);
	not_loaded(err, n);
	return RD_KAFKA_CONF_INVALID;
}

LAZY_HIDDEN rd_kafka_t *rd_kafka_new(rd_kafka_type_t t, rd_kafka_conf_t *c, char *err, size_t n)
{
	if (lazy_lib_ready(&rdkafka))
		return fn.rd_kafka_new(t, c, err, n);
	not_loaded(err, n);
	return NULL;
}

/* Every vtype librdkafka 2.0 knows, read as its producev reads them. */
#define MAX_VUS 16

LAZY_HIDDEN rd_kafka_resp_err_t rd_kafka_producev(rd_kafka_t *rk, ...)
{
	if (!lazy_lib_ready(&rdkafka))
		return RD_KAFKA_RESP_ERR__FAIL;
	rd_kafka_vu_t vus[MAX_VUS];
	size_t n = 0;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	va_list ap;
	va_start(ap, rk);
	for (;;) {
		rd_kafka_vtype_t t = va_arg(ap, rd_kafka_vtype_t);
		if (t == RD_KAFKA_VTYPE_END)
			break;
		if (n == MAX_VUS) {
			err = RD_KAFKA_RESP_ERR__INVALID_ARG;
			break;
		}
		rd_kafka_vu_t *vu = &vus[n++];
		vu->vtype = t;
		switch (t) {
		case RD_KAFKA_VTYPE_TOPIC:     vu->u.cstr = va_arg(ap, const char *); break;
		case RD_KAFKA_VTYPE_RKT:       vu->u.rkt = va_arg(ap, rd_kafka_topic_t *); break;
		case RD_KAFKA_VTYPE_PARTITION: vu->u.i32 = va_arg(ap, int32_t); break;
		case RD_KAFKA_VTYPE_VALUE:
		case RD_KAFKA_VTYPE_KEY:
			vu->u.mem.ptr = va_arg(ap, void *);
			vu->u.mem.size = va_arg(ap, size_t);
			break;
		case RD_KAFKA_VTYPE_OPAQUE:    vu->u.ptr = va_arg(ap, void *); break;
		case RD_KAFKA_VTYPE_MSGFLAGS:  vu->u.i = va_arg(ap, int); break;
		case RD_KAFKA_VTYPE_TIMESTAMP: vu->u.i64 = va_arg(ap, int64_t); break;
		case RD_KAFKA_VTYPE_HEADER:
			vu->u.header.name = va_arg(ap, const char *);
			vu->u.header.val = va_arg(ap, const void *);
			vu->u.header.size = va_arg(ap, ssize_t);
			break;
		case RD_KAFKA_VTYPE_HEADERS:   vu->u.headers = va_arg(ap, rd_kafka_headers_t *); break;
		default:
			/* its arguments are unknown: the list cannot be read on */
			err = RD_KAFKA_RESP_ERR__INVALID_ARG;
			break;
		}
		if (err)
			break;
	}
	va_end(ap);
	if (err)
		return err;
	rd_kafka_error_t *e = fn.rd_kafka_produceva(rk, vus, n);
	if (!e)
		return RD_KAFKA_RESP_ERR_NO_ERROR;
	err = fn.rd_kafka_error_code(e);
	fn.rd_kafka_error_destroy(e);
	return err;
}
