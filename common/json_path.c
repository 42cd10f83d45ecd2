/* See json_path.h. A single forward scan per lookup; nothing is allocated
 * but what is appended to the caller's sbuf. Strings are scanned and
 * decoded by common/json_scan.h, as agent/event.c scans them. */
#include "common/json_path.h"

#include <string.h>

#include "common/json.h"
#include "common/json_scan.h"

#define MAX_DEPTH 64
#define MAX_KEY 256

/* p at the opening quote. Returns the position after the closing quote, or
 * NULL; appends the decoded text to out if out is not NULL (NULL then if
 * an escape is bad). A string only skipped is not decoded, so its escapes
 * are not checked: as agent/event.c skips values. */
static const char *string(const char *p, const char *end, struct sbuf *out)
{
	int esc;
	const char *qe = str_end(p, end, &esc);
	if (!qe)
		return NULL;
	size_t raw = (size_t)(qe - p - 2);
	if (!out)
		return qe;
	if (sbuf_reserve(out, raw) < 0)
		return NULL;
	ssize_t n = (ssize_t)raw;
	if (esc)
		n = unescape(p + 1, qe, out->p + out->len, raw);
	else
		memcpy(out->p + out->len, p + 1, raw);
	if (n < 0)
		return NULL;
	out->len += (size_t)n;
	return qe;
}

/* Skips one value of any kind; NULL if malformed. */
static const char *skip(const char *p, const char *end, int depth)
{
	p = ws(p, end);
	if (p >= end || depth > MAX_DEPTH)
		return NULL;
	if (*p == '"')
		return string(p, end, NULL);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = ws(p + 1, end);
		if (p < end && *p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				p = ws(p, end);
				if (p >= end || *p != '"' || !(p = string(p, end, NULL)))
					return NULL;
				p = ws(p, end);
				if (p >= end || *p != ':')
					return NULL;
				p++;
			}
			if (!(p = skip(p, end, depth + 1)))
				return NULL;
			p = ws(p, end);
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			return p < end && *p == close ? p + 1 : NULL;
		}
	}
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
		p++;
	return p;
}

/* Appends a scalar value at p; 1 if it was one. */
static int scalar(const char *p, const char *end, struct sbuf *out)
{
	p = ws(p, end);
	if (p >= end || *p == '{' || *p == '[' || (end - p >= 4 && !memcmp(p, "null", 4)))
		return 0;
	if (*p == '"') {
		size_t mark = out->len;
		if (string(p, end, out))
			return 1;
		out->len = mark;
		return 0;
	}
	const char *e = skip(p, end, 0);
	if (!e || e == p)
		return 0;
	sbuf_put(out, p, (size_t)(e - p));
	return 1;
}

/* Looks up path[0..plen) in the object at p. */
static int lookup(const char *p, const char *end, const char *path, size_t plen, struct sbuf *out, int depth)
{
	p = ws(p, end);
	if (p >= end || *p != '{' || depth > MAX_DEPTH)
		return 0;
	p = ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	char keybuf[MAX_KEY];
	while (p < end) {
		p = ws(p, end);
		int esc;
		const char *after = p < end && *p == '"' ? str_end(p, end, &esc) : NULL;
		if (!after)
			return 0;
		/* the key as it is, or decoded (up to MAX_KEY bytes) */
		const char *keyp = p + 1;
		size_t kl = (size_t)(after - p - 2);
		if (esc) {
			ssize_t n = unescape(p + 1, after, keybuf, MAX_KEY);
			if (n < 0)
				return 0;
			keyp = keybuf;
			kl = (size_t)n;
		}
		int whole = kl <= MAX_KEY;
		p = ws(after, end);
		if (p >= end || *p != ':')
			return 0;
		p++;
		if (whole && kl == plen && !memcmp(keyp, path, plen)) {
			if (scalar(p, end, out))
				return 1;
		} else if (whole && kl < plen && path[kl] == '.' && !memcmp(keyp, path, kl)) {
			if (lookup(p, end, path + kl + 1, plen - kl - 1, out, depth + 1))
				return 1;
		}
		if (!(p = skip(p, end, depth + 1)))
			return 0;
		p = ws(p, end);
		if (p >= end || *p != ',')
			return 0;
		p++;
	}
	return 0;
}

int json_path_get(const char *json, size_t len, const char *path, struct sbuf *out)
{
	return lookup(json, json + len, path, strlen(path), out, 0);
}

int json_path_is_template(const char *tmpl)
{
	for (const char *p = tmpl; (p = strstr(p, "${")); p += 2)
		if (p == tmpl || p[-1] != '$')
			return 1;
	return 0;
}

void json_path_expand(const char *tmpl, const char *json, size_t len, const char *missing, struct sbuf *out)
{
	const char *p = tmpl;
	while (*p) {
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			sbuf_put(out, "${", 2);
			p += 3;
			continue;
		}
		const char *close;
		if (p[0] == '$' && p[1] == '{' && (close = strchr(p + 2, '}'))) {
			char path[MAX_KEY];
			size_t n = (size_t)(close - p - 2);
			if (n < sizeof(path)) {
				memcpy(path, p + 2, n);
				path[n] = 0;
				if (!json_path_get(json, len, path, out) && missing)
					sbuf_puts(out, missing);
			}
			p = close + 1;
			continue;
		}
		sbuf_putc(out, *p++);
	}
}
