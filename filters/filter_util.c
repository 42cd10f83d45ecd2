/* See filter_util.h. */
#include "filters/filter_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"

int fre_compile(struct fre *re, const char *pat, char *err, size_t errlen)
{
	int ec;
	PCRE2_SIZE off;
	memset(re, 0, sizeof(*re));
	/* UTF-8 mode; not PCRE2_MATCH_INVALID_UTF: with it, PCRE2 10.42's JIT
	 * misses matches after multi-byte characters. Event text is valid
	 * UTF-8 (inputs make it so); a value that is not fails the match. */
	re->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &off, NULL);
	if (!re->code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)off);
		return -EINVAL;
	}
	/* JIT is 3-10x faster; where it is unavailable the interpreter runs. */
	re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
	re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
	if (!re->md) {
		pcre2_code_free(re->code);
		re->code = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int fre_match(struct fre *re, const char *s, size_t n)
{
	int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, 0, 0, re->md, NULL)
			 : pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, re->md, NULL);
	if (rc >= 0)
		return 1;
	return rc == PCRE2_ERROR_NOMATCH ? 0 : -EINVAL;
}

void fre_free(struct fre *re)
{
	if (re->md)
		pcre2_match_data_free(re->md);
	if (re->code)
		pcre2_code_free(re->code);
	memset(re, 0, sizeof(*re));
}

int fre_check(const struct cfg_node *node, char *err, size_t errlen, struct cfg_error *cerr)
{
	if (!node || node->kind != CFG_SCALAR || !node->value || !*node->value)
		return cfg_fail(cerr, node, "expected a regular expression (PCRE2 syntax)");
	struct fre re;
	if (fre_compile(&re, node->value, err, errlen) < 0)
		return cfg_fail(cerr, node, "bad regular expression '%s': %s", node->value, err);
	fre_free(&re);
	return 0;
}

static int is_number(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (!(*p >= '0' && *p <= '9'))
		return 0;
	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return 0;   /* 007: a string (JSON has no leading zeros) */
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == 0;
}

void fval_json(const struct cfg_node *n, struct sbuf *out)
{
	if (!n) {
		sbuf_puts(out, "null");
		return;
	}
	if (n->kind == CFG_SEQ) {
		sbuf_putc(out, '[');
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				sbuf_putc(out, ',');
			fval_json(n->items[i], out);
		}
		sbuf_putc(out, ']');
		return;
	}
	if (n->kind == CFG_MAP) {
		sbuf_putc(out, '{');
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				sbuf_putc(out, ',');
			const char *k = n->pairs[i].key->value ? n->pairs[i].key->value : "";
			json_put_string(out, k, strlen(k));
			sbuf_putc(out, ':');
			fval_json(n->pairs[i].value, out);
		}
		sbuf_putc(out, '}');
		return;
	}
	const char *v = n->value ? n->value : "";
	if (n->plain && (cfg_is_null(n) || !strcmp(v, "true") || !strcmp(v, "false") || is_number(v))) {
		sbuf_puts(out, cfg_is_null(n) ? "null" : v);
		return;
	}
	json_put_string(out, v, strlen(v));
}

int fcheck_path(const struct cfg_node *at, const char *path, const char *what, struct cfg_error *err)
{
	size_t n = path ? strlen(path) : 0;
	if (!n || path[0] == '.' || path[n - 1] == '.' || strstr(path, ".."))
		return cfg_fail(err, at, "%s: '%s' is not a field path (dotted names: a.b.c)", what, path ? path : "");
	return 0;
}

int fcheck_map(const struct cfg_node *node, const char *what, int values_any, struct cfg_error *err)
{
	if (!node || cfg_is_null(node))
		return 0;
	if (node->kind != CFG_MAP)
		return cfg_fail(err, node, "'%s' must be a map of field: value", what);
	for (size_t i = 0; i < node->n; i++) {
		const struct cfg_node *k = node->pairs[i].key, *v = node->pairs[i].value;
		int rc = fcheck_path(k, k->value, what, err);
		if (rc < 0)
			return rc;
		if (!values_any && v->kind != CFG_SCALAR)
			return cfg_fail(err, v, "%s: the value of '%s' must be a single value", what, k->value);
	}
	return 0;
}
