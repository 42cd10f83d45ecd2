/* A growable byte buffer for building text: JSON events, NDJSON lines,
 * Prometheus metrics, --check output. Allocation failure is sticky (err set,
 * further appends ignored) so that builders check once at the end. */
#ifndef LOGSHIP_COMMON_SBUF_H
#define LOGSHIP_COMMON_SBUF_H
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct sbuf {
	char *p;
	size_t len, cap;
	int err;            /* -ENOMEM once an allocation failed */
};

/* Makes room for n more bytes; 0 or -ENOMEM. */
int sbuf_reserve(struct sbuf *b, size_t n);
void sbuf_put(struct sbuf *b, const void *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap);
/* NUL-terminates (not counted in len) and returns p ("" when empty). */
const char *sbuf_cstr(struct sbuf *b);
void sbuf_reset(struct sbuf *b);    /* keeps the memory, clears err */
void sbuf_free(struct sbuf *b);

static inline void sbuf_putc(struct sbuf *b, char c)
{
	if (b->len + 1 > b->cap && sbuf_reserve(b, 1) < 0)
		return;
	b->p[b->len++] = c;
}

#endif
