/* libFuzzer target: the tail input's checkpoint (position blob) decoder over
 * arbitrary bytes, and the encoder on entries drawn from them. A corrupt or
 * foreign checkpoint must be refused whole (-EINVAL), never read or written
 * out of bounds. Invariants: a decoded blob holds at most max entries, each
 * within the limits the decoder promises; decode(encode(x)) == x (as a set:
 * the encoder sorts) for decoded blobs and for arbitrary valid entries; and
 * an encoding that fits the agent's 4096 bytes decodes in full. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inputs/tail/tail_parse.h"

#define POS_MAX 4096            /* INPUT_POSITION_MAX (agent/module.h) */
#define MAXE    (POS_MAX / 8)   /* as tail.c and tail_rotate.c decode */

static int cmp_full(const void *a, const void *b)
{
	const struct tail_pos_entry *x = a, *y = b;
	if (x->id.dev != y->id.dev)
		return x->id.dev < y->id.dev ? -1 : 1;
	if (x->id.ino != y->id.ino)
		return x->id.ino < y->id.ino ? -1 : 1;
	if (x->id.fp_len != y->id.fp_len)
		return x->id.fp_len < y->id.fp_len ? -1 : 1;
	if (x->id.fp_hash != y->id.fp_hash)
		return x->id.fp_hash < y->id.fp_hash ? -1 : 1;
	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->flags < y->flags ? -1 : x->flags > y->flags;
}

static int same(const struct tail_pos_entry *a, const struct tail_pos_entry *b)
{
	return a->id.dev == b->id.dev && a->id.ino == b->id.ino && a->id.fp_len == b->id.fp_len &&
	       a->id.fp_hash == b->id.fp_hash && a->off == b->off && a->flags == b->flags;
}

/* x[0..n) valid entries (clobbered: sorted): encode, decode, compare. */
static void roundtrip(struct tail_pos_entry *x, size_t n)
{
	/* At most 10+10+2+4+10+3 bytes an entry, the header and count. */
	size_t cap = 2 + 10 + n * 39;
	uint8_t *blob = malloc(cap);
	struct tail_pos_entry *y = malloc((n ? n : 1) * sizeof(*y));
	if (!blob || !y)
		abort();
	int len = tail_pos_encode(x, n, blob, cap);
	if (len < 3 || (size_t)len > cap)
		abort();
	for (size_t i = 1; i < n; i++)
		if (x[i - 1].id.dev > x[i].id.dev ||
		    (x[i - 1].id.dev == x[i].id.dev && x[i - 1].id.ino > x[i].id.ino))
			abort();  /* sorted in place */
	if (tail_pos_decode(blob, (size_t)len, y, n) != (int)n)
		abort();
	if (n && tail_pos_decode(blob, (size_t)len, y, n - 1) != -EINVAL)
		abort();  /* more entries than room: refused */
	qsort(x, n, sizeof(*x), cmp_full);
	qsort(y, n, sizeof(*y), cmp_full);
	for (size_t i = 0; i < n; i++)
		if (!same(&x[i], &y[i]))
			abort();
	/* The agent's own limit: either it fits, the same size (duplicate
	 * identities may come out in another order), or -ENOBUFS. */
	uint8_t small[POS_MAX];
	int l2 = tail_pos_encode(x, n, small, sizeof(small));
	if (l2 >= 0) {
		if (l2 != len || tail_pos_decode(small, (size_t)l2, y, n) != (int)n)
			abort();
		qsort(x, n, sizeof(*x), cmp_full);
		qsort(y, n, sizeof(*y), cmp_full);
		for (size_t i = 0; i < n; i++)
			if (!same(&x[i], &y[i]))
				abort();
	} else if (l2 != -ENOBUFS || (size_t)len <= POS_MAX) {
		abort();
	}
	free(blob);
	free(y);
}

static uint64_t take(const uint8_t **p, const uint8_t *end, int k)
{
	uint64_t v = 0;
	for (int i = 0; i < k && *p < end; i++)
		v |= (uint64_t)*(*p)++ << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 1. The bytes as a checkpoint, in a copy of exactly their size, into an
	 *    array of exactly max entries (ASan sees any overrun either way). */
	uint8_t *b = malloc(size ? size : 1);
	struct tail_pos_entry *e = malloc(MAXE * sizeof(*e));
	if (!b || !e)
		abort();
	memcpy(b, data, size);
	int n = tail_pos_decode(b, size, e, MAXE);
	if (n != -EINVAL && (n < 0 || n > MAXE))
		abort();
	if (n >= 0) {
		for (int i = 0; i < n; i++)
			if (e[i].id.fp_len > TAIL_FP_MAX || e[i].off > (uint64_t)INT64_MAX || e[i].flags > 0xffff)
				abort();
		/* Every entry costs at least 9 bytes. */
		if (size < 3 + (size_t)n * 9)
			abort();
		roundtrip(e, (size_t)n);
		struct tail_pos_entry few[2];
		int k = tail_pos_decode(b, size, few, 2);
		if (n <= 2 ? k != n : k != -EINVAL)
			abort();
	}
	free(b);
	free(e);

	/* 2. The bytes as entries (28 bytes each), brought within the limits
	 *    the decoder holds to, then encoded and decoded back. */
	size_t ne = size / 28;
	if (ne > MAXE)
		ne = MAXE;
	struct tail_pos_entry *x = malloc((ne ? ne : 1) * sizeof(*x));
	if (!x)
		abort();
	const uint8_t *p = data, *end = data + size;
	for (size_t i = 0; i < ne; i++) {
		/* Small deltas are the common case: let one byte choose widths. */
		uint8_t w = (uint8_t)take(&p, end, 1);
		x[i].id.dev = take(&p, end, 1 + (w & 7));
		x[i].id.ino = take(&p, end, 1 + ((w >> 3) & 7));
		x[i].id.fp_len = (uint32_t)(take(&p, end, 2) % (TAIL_FP_MAX + 1));
		x[i].id.fp_hash = (uint32_t)take(&p, end, 4);
		x[i].off = take(&p, end, 8) & (uint64_t)INT64_MAX;
		x[i].flags = (unsigned)(take(&p, end, 2) & 0xffff);
		if (w & 0x40 && i)
			x[i].id.dev = x[i - 1].id.dev;  /* same device: ino deltas */
		if (w & 0x80 && i)
			x[i].id.ino = x[i - 1].id.ino;  /* duplicate identity */
	}
	roundtrip(x, ne);
	free(x);
	return 0;
}
