/* What the filters share: PCRE2 regexes (compiled once, JIT where the CPU
 * allows, one match block per regex: filters run on the loop thread only),
 * YAML values turned into JSON values, and config checks at positions. */
#ifndef LOGSHIP_FILTERS_FILTER_UTIL_H
#define LOGSHIP_FILTERS_FILTER_UTIL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/config.h"
#include "common/sbuf.h"

struct fre {
	pcre2_code *code;
	pcre2_match_data *md;
	int jit;
};

/* Compiles pat (UTF-8, PCRE2 syntax; named groups "(?<name>...)"). 0, or
 * -EINVAL with the reason and the offset in pat written to err. */
int fre_compile(struct fre *re, const char *pat, char *err, size_t errlen);
/* 1 if s[0..n) matches, 0 if not, < 0 on a match error (PCRE2's match
 * limit hit, or s is not valid UTF-8), which callers treat as no match. */
int fre_match(struct fre *re, const char *s, size_t n);
void fre_free(struct fre *re);
/* Compiles node's value as a regex, or fails at its position. */
int fre_check(const struct cfg_node *node, char *err, size_t errlen, struct cfg_error *cerr);

/* A YAML scalar as a JSON value: an unquoted integer, decimal, true, false
 * or null is written as such; anything else, or any quoted scalar, as a
 * JSON string. A sequence or map becomes an array or object the same way.
 * Appends to out. */
void fval_json(const struct cfg_node *n, struct sbuf *out);

/* Checks that node (may be NULL) is a map of non-empty scalar keys to
 * scalar values (maps/lists allowed if values_any); errors name key `what`. */
int fcheck_map(const struct cfg_node *node, const char *what, int values_any, struct cfg_error *err);
/* Checks a field path: non-empty, no leading/trailing/double dot. */
int fcheck_path(const struct cfg_node *at, const char *path, const char *what, struct cfg_error *err);

#endif
