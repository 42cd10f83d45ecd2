/* See es_json.h. Skipping is iterative (a depth counter, no recursion), so
 * a response of a million nested brackets costs a bounded stack and fails at
 * ESJ_MAX_DEPTH. */
#include "outputs/elasticsearch/es_json.h"

#include <string.h>

#include "common/json.h"

static int fail(struct esj *j)
{
	j->err = 1;
	return -1;
}

static void blanks(struct esj *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

char esj_peek(struct esj *j)
{
	if (j->err)
		return 0;
	blanks(j);
	return j->p < j->end ? *j->p : 0;
}

int esj_expect(struct esj *j, char c)
{
	if (esj_peek(j) != c || !c)
		return fail(j);
	j->p++;
	return 0;
}

int esj_accept(struct esj *j, char c)
{
	if (esj_peek(j) != c || !c)
		return 0;
	j->p++;
	return 1;
}

static void put(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (!out || cap == 0)
		return;
	size_t room = cap - 1 - *n;
	if (len > room)
		len = room;
	memcpy(out + *n, s, len);
	*n += len;
}

/* \uXXXX as UTF-8 (a lone surrogate becomes U+FFFD; pairs are joined). */
static int unicode(struct esj *j, char *out, size_t cap, size_t *n)
{
	char u[4];
	size_t used;
	int ul = json_decode_u(j->p, j->end, u, &used);
	if (ul < 0)
		return fail(j);
	j->p += used;
	put(out, cap, n, u, (size_t)ul);
	return 0;
}

int esj_string(struct esj *j, char *out, size_t cap)
{
	size_t n = 0;
	if (esj_expect(j, '"') < 0)
		return -1;
	while (j->p < j->end) {
		const char *run = j->p;
		while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20)
			j->p++;
		put(out, cap, &n, run, (size_t)(j->p - run));
		if (j->p >= j->end)
			break;
		char c = *j->p++;
		if (c == '"') {
			if (out && cap)
				out[n] = '\0';
			return 0;
		}
		if (c != '\\' || j->p >= j->end)
			return fail(j);     /* a raw control character, or a cut escape */
		c = *j->p++;
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\""; break;
		case '\\': esc = "\\"; break;
		case '/': esc = "/"; break;
		case 'b': esc = "\b"; break;
		case 'f': esc = "\f"; break;
		case 'n': esc = "\n"; break;
		case 'r': esc = "\r"; break;
		case 't': esc = "\t"; break;
		case 'u':
			if (unicode(j, out, cap, &n) < 0)
				return -1;
			continue;
		default:
			return fail(j);
		}
		put(out, cap, &n, esc, 1);
	}
	return fail(j);
}

int esj_int(struct esj *j, int64_t *v)
{
	if (j->err)
		return -1;
	blanks(j);
	int neg = 0;
	if (j->p < j->end && *j->p == '-') {
		neg = 1;
		j->p++;
	}
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return fail(j);
	int64_t x = 0;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		if (x > (INT64_MAX - 9) / 10)
			return fail(j);
		x = x * 10 + (*j->p++ - '0');
	}
	if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
		return fail(j);
	if (j->p >= j->end)
		return fail(j);     /* a number cannot end a valid document here */
	*v = neg ? -x : x;
	return 0;
}

static int word(struct esj *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return fail(j);
	j->p += n;
	return 0;
}

int esj_bool(struct esj *j, int *v)
{
	char c = esj_peek(j);
	if (c == 't' && word(j, "true") == 0) {
		*v = 1;
		return 0;
	}
	if (c == 'f' && word(j, "false") == 0) {
		*v = 0;
		return 0;
	}
	return fail(j);
}

/* One scalar (string, number, literal); 0 or -1. */
static int scalar(struct esj *j)
{
	char c = esj_peek(j);
	if (c == '"')
		return esj_string(j, NULL, 0);
	if (c == 't')
		return word(j, "true");
	if (c == 'f')
		return word(j, "false");
	if (c == 'n')
		return word(j, "null");
	if (c == '-' || (c >= '0' && c <= '9')) {
		const char *s = j->p;
		while (j->p < j->end && strchr("+-0123456789.eE", *j->p))
			j->p++;
		if (j->p == s || j->p >= j->end)
			return fail(j);
		return 0;
	}
	return fail(j);
}

int esj_skip(struct esj *j)
{
	int depth = 0;
	/* expecting: 0 = a value, 1 = ',' or a close after a value */
	int after = 0;
	char stack[ESJ_MAX_DEPTH];
	for (;;) {
		char c = esj_peek(j);
		if (j->err || !c)
			return fail(j);
		if (!after) {
			if (c == '{' || c == '[') {
				if (depth == ESJ_MAX_DEPTH)
					return fail(j);
				stack[depth++] = c;
				j->p++;
				if (esj_accept(j, c == '{' ? '}' : ']')) {
					depth--;
					after = 1;
				} else if (c == '{' && (esj_string(j, NULL, 0) < 0 || esj_expect(j, ':') < 0)) {
					return -1;
				}
				if (after && depth == 0)
					return 0;
				continue;
			}
			if (scalar(j) < 0)
				return -1;
			if (depth == 0)
				return 0;
			after = 1;
			continue;
		}
		char open = stack[depth - 1];
		if (c == ',') {
			j->p++;
			if (open == '{' && (esj_string(j, NULL, 0) < 0 || esj_expect(j, ':') < 0))
				return -1;
			after = 0;
			continue;
		}
		if (c != (open == '{' ? '}' : ']'))
			return fail(j);
		j->p++;
		if (--depth == 0)
			return 0;
	}
}

int esj_next_key(struct esj *j, int *first, char *key, size_t cap)
{
	if (j->err)
		return -1;
	if (esj_accept(j, '}'))
		return 0;
	if (!*first && esj_expect(j, ',') < 0)
		return -1;
	*first = 0;
	if (esj_string(j, key, cap) < 0 || esj_expect(j, ':') < 0)
		return -1;
	return 1;
}

int esj_next_elem(struct esj *j, int *first)
{
	if (j->err)
		return -1;
	if (esj_accept(j, ']'))
		return 0;
	if (!*first && esj_expect(j, ',') < 0)
		return -1;
	*first = 0;
	return 1;
}
