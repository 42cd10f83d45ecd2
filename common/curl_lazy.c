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
 * libcurl reads it. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>

#include "common/logging.h"

#define CURL_SONAME "libcurl.so.4"

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
#define PTR(ret, name, params, args, fail) ret(*name) params;
#define VPTR(name, params, args) void(*name) params;
	CURL_FUNCS(PTR)
	CURL_VOIDS(VPTR)
#undef PTR
#undef VPTR
	CURLcode (*curl_easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*curl_easy_getinfo)(CURL *, CURLINFO, ...);
	CURLMcode (*curl_multi_setopt)(CURLM *, CURLMoption, ...);
} fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

static void load(void)
{
	void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		LOG_ERROR("curl", "cannot load %s (Debian package libcurl4): %s", CURL_SONAME, dlerror());
		return;
	}
	int missing = 0;
#define SYM(name)                                                                  \
	do {                                                                       \
		*(void **)&fn.name = dlsym(lib, #name);                            \
		if (!fn.name) {                                                    \
			LOG_ERROR("curl", "%s has no %s: too old?", CURL_SONAME, #name); \
			missing = 1;                                               \
		}                                                                  \
	} while (0)
#define LOADF(ret, name, params, args, fail) SYM(name);
#define LOADV(name, params, args) SYM(name);
	CURL_FUNCS(LOADF)
	CURL_VOIDS(LOADV)
	SYM(curl_easy_setopt);
	SYM(curl_easy_getinfo);
	SYM(curl_multi_setopt);
#undef LOADF
#undef LOADV
#undef SYM
	loaded = !missing;  /* the library stays mapped for the process's life */
}

static int ready(void)
{
	pthread_once(&once, load);
	return loaded;
}

#define DEFF(ret, name, params, args, fail) \
	ret name params                     \
	{                                   \
		if (!ready())               \
			return fail;        \
		return fn.name args;        \
	}
#define DEFV(name, params, args) \
	void name params         \
	{                        \
		if (ready())     \
			fn.name args; \
	}
CURL_FUNCS(DEFF)
CURL_VOIDS(DEFV)
#undef DEFF
#undef DEFV

/* libcurl reads the argument as its option's type range says: long,
 * object pointer, function pointer, curl_off_t, blob pointer. */
typedef void (*any_fn)(void);
#define FORWARD_BY_TYPE(call, h, opt, ap)                                  \
	((opt) < CURLOPTTYPE_OBJECTPOINT   ? call(h, opt, va_arg(ap, long))        \
	 : (opt) < CURLOPTTYPE_FUNCTIONPOINT ? call(h, opt, va_arg(ap, void *))    \
	 : (opt) < CURLOPTTYPE_OFF_T        ? call(h, opt, va_arg(ap, any_fn))    \
	 : (opt) < CURLOPTTYPE_BLOB         ? call(h, opt, va_arg(ap, curl_off_t)) \
					    : call(h, opt, va_arg(ap, void *)))

CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	if (!ready())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, opt);
	CURLcode rc = FORWARD_BY_TYPE(fn.curl_easy_setopt, h, opt, ap);
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
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
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	if (!ready())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, info);
	void *out = va_arg(ap, void *);
	va_end(ap);
	return fn.curl_easy_getinfo(h, info, out);
}
