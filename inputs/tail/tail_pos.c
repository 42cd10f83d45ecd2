/* The tail input's position blob: every tracked file's identity and the
 * offset up to which its events are handed over, in one compact binary form
 * (see tail_parse.h). The agent stores it as the input's checkpoint once the
 * ring holds those events durably (invariant 1), so what is decoded at start
 * is always a position we may resume from without losing anything. A blob
 * that does not decode is refused whole: starting from nothing re-reads, a
 * half-decoded blob could skip. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inputs/tail/tail_parse.h"

static int put_uv(uint8_t *out, size_t cap, size_t *at, uint64_t v)
{
	do {
		if (*at >= cap)
			return -ENOBUFS;
		uint8_t b = v & 0x7f;
		v >>= 7;
		out[(*at)++] = (uint8_t)(b | (v ? 0x80 : 0));
	} while (v);
	return 0;
}

static int get_uv(const uint8_t *p, size_t len, size_t *at, uint64_t *v)
{
	uint64_t r = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*at >= len)
			return -EINVAL;
		uint8_t b = p[(*at)++];
		if (shift == 63 && b > 1)
			return -EINVAL;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -EINVAL;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct tail_pos_entry *x = a, *y = b;
	if (x->id.dev != y->id.dev)
		return x->id.dev < y->id.dev ? -1 : 1;
	if (x->id.ino != y->id.ino)
		return x->id.ino < y->id.ino ? -1 : 1;
	return 0;
}

int tail_pos_encode(struct tail_pos_entry *e, size_t n, uint8_t *out, size_t cap)
{
	size_t at = 0;
	if (cap < 2)
		return -ENOBUFS;
	out[at++] = 'T';
	out[at++] = '1';
	if (n > 1)
		qsort(e, n, sizeof(*e), cmp_entry);
	if (put_uv(out, cap, &at, n) < 0)
		return -ENOBUFS;
	uint64_t dev = 0, ino = 0;
	for (size_t i = 0; i < n; i++) {
		/* Sorted: dev never goes down, ino goes up while dev stays. */
		uint64_t ddev = e[i].id.dev - dev;
		uint64_t vino = ddev ? e[i].id.ino : e[i].id.ino - ino;
		dev = e[i].id.dev;
		ino = e[i].id.ino;
		if (put_uv(out, cap, &at, ddev) < 0 || put_uv(out, cap, &at, vino) < 0 ||
		    put_uv(out, cap, &at, e[i].id.fp_len) < 0)
			return -ENOBUFS;
		if (at + 4 > cap)
			return -ENOBUFS;
		uint32_t h = e[i].id.fp_hash;
		for (int k = 0; k < 4; k++)
			out[at++] = (uint8_t)(h >> (8 * k));
		if (put_uv(out, cap, &at, e[i].off) < 0 || put_uv(out, cap, &at, e[i].flags) < 0)
			return -ENOBUFS;
	}
	return (int)at;
}

int tail_pos_decode(const uint8_t *p, size_t len, struct tail_pos_entry *e, size_t max)
{
	size_t at = 2;
	uint64_t n;
	if (len < 3 || p[0] != 'T' || p[1] != '1' || get_uv(p, len, &at, &n) < 0 || n > max)
		return -EINVAL;
	uint64_t dev = 0, ino = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t ddev, vino, fpl, off, flags;
		if (get_uv(p, len, &at, &ddev) < 0 || get_uv(p, len, &at, &vino) < 0 ||
		    get_uv(p, len, &at, &fpl) < 0 || fpl > TAIL_FP_MAX || at + 4 > len)
			return -EINVAL;
		uint32_t h = 0;
		for (int k = 0; k < 4; k++)
			h |= (uint32_t)p[at++] << (8 * k);
		if (get_uv(p, len, &at, &off) < 0 || get_uv(p, len, &at, &flags) < 0 ||
		    off > INT64_MAX || flags > 0xffff)
			return -EINVAL;
		dev += ddev;
		ino = ddev ? vino : ino + vino;
		e[i] = (struct tail_pos_entry){ .id = { dev, ino, (uint32_t)fpl, h }, .off = off,
						.flags = (unsigned)flags };
	}
	if (at != len)
		return -EINVAL;
	return (int)n;
}
