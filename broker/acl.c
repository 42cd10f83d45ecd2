/* The ACL file and its matcher (format and decision rule in acl.h). Rules
 * are few (hundreds at most) and checked per topic per request: a linear
 * scan of short glob matches costs less than a request's parsing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/acl.h"

#define ACL_FILE_MAX (4u << 20)
#define ACL_RULES_MAX 100000

static const char *const op_names[] = { "produce", "consume", "describe", "admin" };

const char *acl_op_name(enum acl_op op)
{
	return op_names[op];
}

/* Iterative '*' matcher with one backtrack point: linear in practice,
 * O(len * pattern) worst case, no recursion for hostile patterns. */
int acl_glob(const char *pat, const char *s, size_t len)
{
	const char *star = NULL;
	size_t i = 0, mark = 0;
	while (i < len) {
		if (*pat == '*') {
			star = ++pat;
			mark = i;
		} else if (*pat && *pat == s[i]) {
			pat++;
			i++;
		} else if (star) {
			pat = star;
			i = ++mark;
		} else {
			return 0;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == 0;
}

void acl_free(struct acl *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].principal);
		free(a->v[i].pattern);
	}
	free(a->v);
	free(a);
}

/* Splits line into at most 5 blank-separated words. */
static int words(char *line, char **w, int max)
{
	int n = 0;
	for (char *p = line;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return max + 1;
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = 0;
	}
}

static int parse_rule(char *line, struct acl_rule *r, char *why, size_t whylen)
{
	char *w[4];
	memset(r, 0, sizeof(*r));
	int n = words(line, w, 4);
	if (n != 4) {
		snprintf(why, whylen, "expected 'allow|deny PRINCIPAL OPERATION RESOURCE', got %d word(s)", n);
		return -EINVAL;
	}
	if (!strcmp(w[0], "allow"))
		r->allow = 1;
	else if (strcmp(w[0], "deny")) {
		snprintf(why, whylen, "'%.40s': expected allow or deny", w[0]);
		return -EINVAL;
	}
	size_t k;
	for (k = 0; k < 4 && strcmp(w[2], op_names[k]); k++)
		;
	if (k == 4) {
		snprintf(why, whylen, "operation '%.40s': expected produce, consume, describe or admin", w[2]);
		return -EINVAL;
	}
	r->op = (enum acl_op)k;
	const char *pat = w[3];
	if (!strcmp(w[3], "cluster")) {
		r->res = ACL_CLUSTER;
		pat = "";
		if (r->op == ACL_PRODUCE || r->op == ACL_CONSUME) {
			snprintf(why, whylen, "the cluster takes describe or admin, not %s", w[2]);
			return -EINVAL;
		}
	} else if (!strncmp(w[3], "group:", 6)) {
		r->res = ACL_GROUP;
		pat = w[3] + 6;
		if (r->op == ACL_PRODUCE || r->op == ACL_ADMIN) {
			snprintf(why, whylen, "a group takes consume or describe, not %s", w[2]);
			return -EINVAL;
		}
	} else {
		r->res = ACL_TOPIC;
		if (!strncmp(w[3], "topic:", 6))
			pat = w[3] + 6;
	}
	if (r->res != ACL_CLUSTER && !*pat) {
		snprintf(why, whylen, "empty resource pattern");
		return -EINVAL;
	}
	r->principal = strdup(w[1]);
	r->pattern = strdup(pat);
	if (!r->principal || !r->pattern) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int acl_parse(const char *name, const char *text, size_t len, struct acl **out, char *err, size_t errlen)
{
	struct acl *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	size_t cap = 0;
	int line = 0;
	for (size_t pos = 0; pos < len;) {
		line++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char buf[1024];
		char why[200];
		int rc = 0;
		if (ll >= sizeof(buf)) {
			snprintf(why, sizeof(why), "line longer than %zu bytes", sizeof(buf) - 1);
			rc = -EINVAL;
		} else if (memchr(text + pos, 0, ll)) {
			snprintf(why, sizeof(why), "NUL byte in line");
			rc = -EINVAL;
		} else {
			memcpy(buf, text + pos, ll);
			buf[ll] = 0;
			if (ll && buf[ll - 1] == '\r')
				buf[ll - 1] = 0;
		}
		pos += ll + 1;
		if (rc == 0) {
			char *p = buf + strspn(buf, " \t");
			if (!*p || *p == '#')
				continue;
			if (a->n >= ACL_RULES_MAX) {
				snprintf(why, sizeof(why), "more than %d rules", ACL_RULES_MAX);
				rc = -EINVAL;
			} else if (a->n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct acl_rule *v = realloc(a->v, nc * sizeof(*v));
				if (!v) {
					snprintf(why, sizeof(why), "out of memory");
					rc = -ENOMEM;
				} else {
					a->v = v;
					cap = nc;
				}
			}
			if (rc == 0) {
				rc = parse_rule(p, &a->v[a->n], why, sizeof(why));
				if (rc == 0)
					a->v[a->n++].line = line;
				else {
					free(a->v[a->n].principal);
					free(a->v[a->n].pattern);
				}
			}
		}
		if (rc < 0) {
			snprintf(err, errlen, "%s:%d: %s", name, line, why);
			acl_free(a);
			return rc;
		}
	}
	*out = a;
	return 0;
}

int acl_load(const char *path, struct acl **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	char *buf = malloc(ACL_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, ACL_FILE_MAX + 1, f) : 0;
	int bad = ferror(f);
	fclose(f);
	if (!buf || bad || n > ACL_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, !buf ? "out of memory" : bad ? "read error" : "larger than 4 MiB");
		free(buf);
		return !buf ? -ENOMEM : bad ? -EIO : -EFBIG;
	}
	int rc = acl_parse(path, buf, n, out, err, errlen);
	free(buf);
	return rc;
}

static int principal_match(const char *pat, const char *principal)
{
	if (!strcmp(principal, ACL_ANONYMOUS))
		return !strcmp(pat, ACL_ANONYMOUS);
	return acl_glob(pat, principal, strlen(principal));
}

int acl_allowed(const struct acl *a, const char *principal, enum acl_op op, enum acl_res res, const char *name,
		size_t len)
{
	if (!a)
		return 1;
	int allowed = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct acl_rule *r = &a->v[i];
		if (r->res != res || !principal_match(r->principal, principal))
			continue;
		if (res != ACL_CLUSTER && !acl_glob(r->pattern, name, len))
			continue;
		if (!r->allow) {
			if (r->op == op)
				return 0;  /* deny wins */
		} else if (r->op == op || op == ACL_DESCRIBE) {
			allowed = 1;   /* produce/consume/admin imply describe */
		}
	}
	return allowed;
}
