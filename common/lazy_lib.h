/* A shared library loaded on first use: the one loader behind the stand-in
 * tables common/curl_lazy.c (libcurl), agent/openssl_lazy.c (libssl,
 * libcrypto) and outputs/kafka/rdkafka_lazy.c (librdkafka).
 *
 * The pattern: a binary is not linked with the library; a table file defines
 * the library's functions the binary calls, under their own names, and each
 * definition asks lazy_lib_ready() and forwards through a pointer dlsym()ed
 * from the library. Linking and relocating a big library costs every process
 * RSS whether it calls it or not (libcrypto alone ~1.5 MiB); a stand-in
 * costs nothing until called.
 *
 * Invariants:
 *  - the library is dlopen()ed once, on the first call of any of its
 *    stand-ins, from whichever thread; RTLD_LOCAL, never dlclose()d;
 *  - every symbol of the table must be found, or none is used: the reason
 *    is logged once and every stand-in returns the library's own failure
 *    value from then on (NULL handles, error codes);
 *  - the loader calls no stand-in (only dlopen, dlsym and the logger) and
 *    holds a non-recursive lock: a stand-in must never be reached from a
 *    library's constructor or from the logger;
 *  - stand-ins are hidden (LAZY_HIDDEN): they bind the calls of the binary
 *    that contains them and are never exported, so a library that is linked
 *    as well (the unit tests link -lssl and -lrdkafka) or loaded later
 *    (libcurl and librdkafka use libssl) always binds to the real functions.
 *
 * A table file lists its functions once, as X-macro entries
 *   F(ret, name, (params), (args), value when the library is missing)
 *   V(name, (params), (args))                          (void functions)
 * then #defines LAZY_FN (its struct of pointers) and LAZY_LIB (its struct
 * lazy_lib) and expands the list with the helpers below. */
#ifndef LOGSHIP_COMMON_LAZY_LIB_H
#define LOGSHIP_COMMON_LAZY_LIB_H
#include <stdatomic.h>
#include <stddef.h>

struct lazy_sym {
	const char *name;
	void **slot;                 /* the function pointer dlsym() fills */
};

struct lazy_lib {
	const char *soname;          /* "libssl.so.3" */
	const char *package;         /* the Debian package, for the error message */
	const char *module;          /* log component */
	const struct lazy_sym *syms;
	size_t nsyms;
	atomic_int state;            /* 0 not tried, 1 loaded, -1 failed (for good) */
};

/* 1 when every symbol of l is bound, 0 when the library or a symbol is
 * missing. Loads on the first call; thread-safe; cheap after. */
int lazy_lib_ready(struct lazy_lib *l);

#define LAZY_HIDDEN __attribute__((visibility("hidden")))
#define LAZY_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* struct members: LAZY_FN's function pointers */
#define LAZY_PTR(ret, name, params, args, fail) ret(*name) params;
#define LAZY_VPTR(name, params, args) void(*name) params;
/* struct lazy_sym entries */
#define LAZY_SYM(ret, name, params, args, fail) { #name, (void **)&LAZY_FN.name },
#define LAZY_VSYM(name, params, args) { #name, (void **)&LAZY_FN.name },
/* the stand-ins */
#define LAZY_DEF(ret, name, params, args, fail) \
	LAZY_HIDDEN ret name params             \
	{                                       \
		if (!lazy_lib_ready(&LAZY_LIB)) \
			return fail;            \
		return LAZY_FN.name args;       \
	}
#define LAZY_DEFV(name, params, args)          \
	LAZY_HIDDEN void name params           \
	{                                      \
		if (lazy_lib_ready(&LAZY_LIB)) \
			LAZY_FN.name args;     \
	}

#endif
