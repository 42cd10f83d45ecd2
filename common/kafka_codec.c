/* See kafka_codec.h. Big-endian, bounds-checked, sticky errors. */
#include "common/kafka_codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int need(struct kreader *r, size_t n)
{
	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = -EPROTO;
		return 0;
	}
	return 1;
}

int8_t kr_i8(struct kreader *r)
{
	if (!need(r, 1))
		return 0;
	return (int8_t)*r->p++;
}

int16_t kr_i16(struct kreader *r)
{
	if (!need(r, 2))
		return 0;
	int16_t v = (int16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	return v;
}

int32_t kr_i32(struct kreader *r)
{
	if (!need(r, 4))
		return 0;
	uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	return (int32_t)v;
}

int64_t kr_i64(struct kreader *r)
{
	uint64_t hi = (uint32_t)kr_i32(r), lo = (uint32_t)kr_i32(r);
	return (int64_t)(hi << 32 | lo);
}

struct kstr kr_string(struct kreader *r)
{
	struct kstr s = { NULL, -1 };
	int16_t n = kr_i16(r);
	if (r->err || n < 0) {
		if (n < -1)
			r->err = -EPROTO;
		return s;
	}
	if (!need(r, (size_t)n))
		return s;
	s.p = (const char *)r->p;
	s.len = n;
	r->p += n;
	return s;
}

struct kstr kr_bytes(struct kreader *r)
{
	struct kstr s = { NULL, -1 };
	int32_t n = kr_i32(r);
	if (r->err || n < 0) {
		if (n < -1)
			r->err = -EPROTO;
		return s;
	}
	if (!need(r, (size_t)n))
		return s;
	s.p = (const char *)r->p;
	s.len = n;
	r->p += n;
	return s;
}

int32_t kr_array(struct kreader *r, size_t min_elem, int *is_null)
{
	int32_t n = kr_i32(r);
	if (is_null)
		*is_null = 0;
	if (r->err)
		return 0;
	if (n == -1) {
		if (is_null)
			*is_null = 1;
		return 0;
	}
	if (n < 0 || (min_elem && (size_t)n > kr_left(r) / min_elem)) {
		r->err = -EPROTO;
		return 0;
	}
	return n;
}

size_t kr_left(const struct kreader *r)
{
	return r->err ? 0 : (size_t)(r->end - r->p);
}

int kr_kstr_eq(struct kstr s, const char *c)
{
	size_t n = strlen(c);
	return s.len >= 0 && (size_t)s.len == n && memcmp(s.p, c, n) == 0;
}

char *kr_strdup(struct kstr s)
{
	if (s.len < 0)
		return NULL;
	char *d = malloc((size_t)s.len + 1);
	if (d) {
		memcpy(d, s.p, (size_t)s.len);
		d[s.len] = 0;
	}
	return d;
}

void kw_init(struct kwriter *w)
{
	memset(w, 0, sizeof(*w));
}

void kw_free(struct kwriter *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void kw_reset(struct kwriter *w)
{
	w->len = 0;
	w->err = 0;
}

uint8_t *kw_reserve(struct kwriter *w, size_t n)
{
	if (w->err)
		return NULL;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 1024;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *p = realloc(w->buf, cap);
		if (!p) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->buf = p;
		w->cap = cap;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

void kw_i8(struct kwriter *w, int8_t v)
{
	uint8_t *p = kw_reserve(w, 1);
	if (p)
		p[0] = (uint8_t)v;
}

void kw_i16(struct kwriter *w, int16_t v)
{
	uint8_t *p = kw_reserve(w, 2);
	if (p) {
		p[0] = (uint8_t)((uint16_t)v >> 8);
		p[1] = (uint8_t)v;
	}
}

void kw_put_i32_at(struct kwriter *w, size_t pos, int32_t v)
{
	if (w->err || pos + 4 > w->len)
		return;
	uint32_t u = (uint32_t)v;
	w->buf[pos] = (uint8_t)(u >> 24);
	w->buf[pos + 1] = (uint8_t)(u >> 16);
	w->buf[pos + 2] = (uint8_t)(u >> 8);
	w->buf[pos + 3] = (uint8_t)u;
}

void kw_i32(struct kwriter *w, int32_t v)
{
	if (kw_reserve(w, 4))
		kw_put_i32_at(w, w->len - 4, v);
}

void kw_i64(struct kwriter *w, int64_t v)
{
	kw_i32(w, (int32_t)((uint64_t)v >> 32));
	kw_i32(w, (int32_t)(uint32_t)v);
}

void kw_string(struct kwriter *w, const char *s, int32_t len)
{
	if (!s || len < 0) {
		kw_i16(w, -1);
		return;
	}
	if (len > INT16_MAX)
		len = INT16_MAX;
	kw_i16(w, (int16_t)len);
	uint8_t *p = kw_reserve(w, (size_t)len);
	if (p && len)
		memcpy(p, s, (size_t)len);
}

void kw_cstring(struct kwriter *w, const char *s)
{
	kw_string(w, s, s ? (int32_t)strlen(s) : -1);
}

void kw_bytes(struct kwriter *w, const void *data, int32_t len)
{
	kw_i32(w, len < 0 ? -1 : len);
	if (len <= 0)
		return;
	uint8_t *p = kw_reserve(w, (size_t)len);
	if (p)
		memcpy(p, data, (size_t)len);
}
