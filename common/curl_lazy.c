/* libcurl, loaded on first use. The agent's code calls curl_* as usual; the
 * binaries are not linked with -lcurl and these definitions stand in for
 * the library: the first call dlopen()s libcurl.so.4 and every call forwards
 * to the real function.
 *
 * Why: libcurl pulls in ~20 libraries (GnuTLS through librtmp, Kerberos,
 * LDAP, libssh2, nghttp2, ...) whose loading and initialisers cost the agent
 * ~2.5 MiB of RSS, measured, while most agents never speak HTTP (only the
 * elasticsearch and http outputs and the kubernetes filter do). With this
 * file an agent shipping to Kafka never maps them.
 *
 * Invariants: a function that is needed and missing from this table fails
 * at link time (no -lcurl to fall back on); when the library cannot be
 * loaded, calls fail the way libcurl reports failure (NULL handles,
 * CURLE_FAILED_INIT) and the reason is logged once. The variadic setopt
 * functions forward their argument by the option's type range, exactly as
 * libcurl reads it.
 *
 * The loading itself (dlopen once, log once, the symbol table) is
 * common/lazy_lib.c's, shared with the OpenSSL and librdkafka tables
 * (agent/openssl_lazy.c, outputs/kafka/rdkafka_lazy.c). */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <stdarg.h>

#include "common/lazy_lib.h"

/* (return type, name, parameters, arguments, value when not loaded) */
#define CURL_FUNCS(X)                                                                            \
	X(CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)                   \
	X(CURL *, curl_easy_init, (void), (), NULL)                                              \
	X(CURLcode, curl_easy_perform, (CURL * h), (h), CURLE_FAILED_INIT)                       \
	X(CURL *, curl_easy_duphandle, (CURL * h), (h), NULL)                                    \
	X(const char *, curl_easy_strerror, (CURLcode c), (c), "libcurl could not be loaded")   \
	X(char *, curl_easy_escape, (CURL * h, const char *s, int n), (h, s, n), NULL)           \
	X(char *, curl_easy_unescape, (CURL * h, const char *s, int n, int *o), (h, s, n, o), NULL) \
	X(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s), NULL) \
	X(time_t, curl_getdate, (const char *p, const time_t *unused), (p, unused), -1)          \
	X(CURLU *, curl_url, (void), (), NULL)                                                   \
	X(CURLU *, curl_url_dup, (CURLU * u), (u), NULL)                                    \
	X(CURLUcode, curl_url_get, (CURLU * u, CURLUPart w, char **p, unsigned int f), (u, w, p, f), CURLUE_OUT_OF_MEMORY) \
	X(CURLUcode, curl_url_set, (CURLU * u, CURLUPart w, const char *p, unsigned int f), (u, w, p, f), CURLUE_OUT_OF_MEMORY) \
	X(CURLM *, curl_multi_init, (void), (), NULL)                                            \
	X(CURLMcode, curl_multi_add_handle, (CURLM * m, CURL * h), (m, h), CURLM_INTERNAL_ERROR) \
	X(CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL * h), (m, h), CURLM_INTERNAL_ERROR) \
	X(CURLMcode, curl_multi_perform, (CURLM * m, int *r), (m, r), CURLM_INTERNAL_ERROR)     \
	X(CURLMcode, curl_multi_poll, (CURLM * m, struct curl_waitfd * e, unsigned int n, int t, int *r), (m, e, n, t, r), CURLM_INTERNAL_ERROR) \
	X(CURLMcode, curl_multi_wait, (CURLM * m, struct curl_waitfd * e, unsigned int n, int t, int *r), (m, e, n, t, r), CURLM_INTERNAL_ERROR) \
	X(CURLMcode, curl_multi_wakeup, (CURLM * m), (m), CURLM_INTERNAL_ERROR)                  \
	X(CURLMsg *, curl_multi_info_read, (CURLM * m, int *q), (m, q), NULL)                    \
	X(CURLMcode, curl_multi_cleanup, (CURLM * m), (m), CURLM_INTERNAL_ERROR)                 \
	X(const char *, curl_multi_strerror, (CURLMcode c), (c), "libcurl could not be loaded")

/* void functions: nothing to do when the library is not there (then no
 * handle or list of its can exist either). */
#define CURL_VOIDS(X)                                                            \
	X(curl_global_cleanup, (void), ())                                      \
	X(curl_easy_cleanup, (CURL * h), (h))                                   \
	X(curl_easy_reset, (CURL * h), (h))                                     \
	X(curl_free, (void *p), (p))                                            \
	X(curl_slist_free_all, (struct curl_slist * l), (l))                    \
	X(curl_url_cleanup, (CURLU * u), (u))

static struct {
	CURL_FUNCS(LAZY_PTR)
	CURL_VOIDS(LAZY_VPTR)
	CURLcode (*curl_easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*curl_easy_getinfo)(CURL *, CURLINFO, ...);
	CURLMcode (*curl_multi_setopt)(CURLM *, CURLMoption, ...);
} fn;

#define LAZY_FN fn
#define LAZY_LIB curl
static const struct lazy_sym syms[] = {
	CURL_FUNCS(LAZY_SYM)
	CURL_VOIDS(LAZY_VSYM)
	{ "curl_easy_setopt", (void **)&fn.curl_easy_setopt },
	{ "curl_easy_getinfo", (void **)&fn.curl_easy_getinfo },
	{ "curl_multi_setopt", (void **)&fn.curl_multi_setopt },
};

static struct lazy_lib curl = {
	.soname = "libcurl.so.4", .package = "libcurl4", .module = "curl",
	.syms = syms, .nsyms = LAZY_COUNT(syms),
};

static int ready(void)
{
	return lazy_lib_ready(&curl);
}

CURL_FUNCS(LAZY_DEF)
CURL_VOIDS(LAZY_DEFV)

/* libcurl reads the argument as its option's type range says: long,
 * object pointer, function pointer, curl_off_t, blob pointer. */
typedef void (*any_fn)(void);
#define FORWARD_BY_TYPE(call, h, opt, ap)                                  \
	((opt) < CURLOPTTYPE_OBJECTPOINT   ? call(h, opt, va_arg(ap, long))        \
	 : (opt) < CURLOPTTYPE_FUNCTIONPOINT ? call(h, opt, va_arg(ap, void *))    \
	 : (opt) < CURLOPTTYPE_OFF_T        ? call(h, opt, va_arg(ap, any_fn))    \
	 : (opt) < CURLOPTTYPE_BLOB         ? call(h, opt, va_arg(ap, curl_off_t)) \
					    : call(h, opt, va_arg(ap, void *)))

LAZY_HIDDEN CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	if (!ready())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, opt);
	CURLcode rc = FORWARD_BY_TYPE(fn.curl_easy_setopt, h, opt, ap);
	va_end(ap);
	return rc;
}

LAZY_HIDDEN CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
	if (!ready())
		return CURLM_INTERNAL_ERROR;
	va_list ap;
	va_start(ap, opt);
	CURLMcode rc = FORWARD_BY_TYPE(fn.curl_multi_setopt, m, opt, ap);
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes one pointer. */
LAZY_HIDDEN CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	if (!ready())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, info);
	void *out = va_arg(ap, void *);
	va_end(ap);
	return fn.curl_easy_getinfo(h, info, out);
}
