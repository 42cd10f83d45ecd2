/* See sbuf.h. Grows by doubling; never shrinks until sbuf_free. */
#include "common/sbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int sbuf_reserve(struct sbuf *b, size_t n)
{
	if (b->err)
		return b->err;
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void sbuf_put(struct sbuf *b, const void *s, size_t n)
{
	if (!n || sbuf_reserve(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_put(b, s, strlen(s));
}

void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char tmp[256];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		sbuf_put(b, tmp, (size_t)n);
	} else if (sbuf_reserve(b, (size_t)n) == 0) {
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap2);
		b->len += (size_t)n;
	}
	va_end(ap2);
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

const char *sbuf_cstr(struct sbuf *b)
{
	if (sbuf_reserve(b, 0) < 0 || !b->p)
		return "";
	b->p[b->len] = '\0';
	return b->p;
}

void sbuf_reset(struct sbuf *b)
{
	b->len = 0;
	b->err = 0;  /* a fresh start: a failed append before does not stick to reuses */
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}
