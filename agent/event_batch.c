/* See event.h (event_batch). One walk of the root index decides whether
 * the batch applies and which members go; one write builds the new text:
 * "{", the kept members in order (runs of them copied whole), each op's new
 * member in op order, "}". Why that is the text the ops give one by one:
 * on a compact root, a REMOVE or MOVE cuts its member and one comma beside
 * it (event.c's removal_span), leaving the others joined by single commas;
 * a MOVE or PUT has no root key on its way, so event_set_json builds it at
 * the root's end, nested as the path says; and since no two ops share a
 * first segment, no op ever sees what another one wrote or took. */
#include <errno.h>
#include <stdint.h>

#include "agent/event_internal.h"

static size_t seg_len(const char *s)
{
	return strcspn(s, ".");
}

/* by_first for a name of op j: j's alone, or several ops' */
static void note_first(struct event_plan *pl, const char *name, size_t j)
{
	uint8_t *f = &pl->by_first[(unsigned char)name[0]];
	*f = *f == 0 || *f == j + 1 ? (uint8_t)(j + 1) : 255;
}

/* Whether name[0..sl) is the first segment of a name the plan has. */
static int seg_taken(const struct event_plan *pl, const char *name, size_t sl)
{
	for (size_t j = 0; j < pl->n; j++) {
		const struct event_op *o = &pl->op[j];
		if ((o->pseg == sl && !memcmp(o->path, name, sl)) || (o->to && o->tseg == sl && !memcmp(o->to, name, sl)))
			return 1;
	}
	return 0;
}

int event_plan_add(struct event_plan *pl, enum event_op_kind kind, const char *path, const char *to,
		   const char *json, size_t jlen)
{
	if (pl->n == EVENT_OPS_MAX)
		return -E2BIG;
	size_t pseg = seg_len(path), tseg = to ? seg_len(to) : 0;
	/* the batch's premise: no two names share a first segment */
	if (seg_taken(pl, path, pseg) || (to && (seg_taken(pl, to, tseg) || (tseg == pseg && !memcmp(to, path, pseg)))))
		return -EEXIST;
	struct event_op *op = &pl->op[pl->n];
	*op = (struct event_op){ .kind = kind, .path = path, .to = to, .plen = strlen(path), .pseg = pseg, .tseg = tseg };
	if (kind == EVENT_OP_PUT) {
		ev_put_path(&op->text, path, op->plen, json, jlen);
	} else if (kind == EVENT_OP_MOVE) {
		ev_put_path(&op->text, to, strlen(to), "", 0);
		for (const char *d = to; (d = strchr(d, '.')); d++)
			op->close++;
		op->text.len -= op->close;   /* the braces go after the value */
	}
	if (op->text.err) {
		sbuf_free(&op->text);
		return -ENOMEM;
	}
	size_t j = pl->n++;
	note_first(pl, path, j);
	if (to)
		note_first(pl, to, j);
	pl->room += op->text.len + op->close + 1;
	pl->puts += kind == EVENT_OP_PUT;
	return 0;
}

void event_plan_free(struct event_plan *pl)
{
	for (size_t j = 0; j < pl->n; j++)
		sbuf_free(&pl->op[j].text);
	*pl = (struct event_plan){ 0 };
}

/* a[0..n) == b[0..n), for the short keys here (a libc call costs more) */
static inline int same(const char *a, const char *b, size_t n)
{
	for (; n >= 8; a += 8, b += 8, n -= 8) {
		uint64_t x, y;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return 0;
	}
	for (; n; a++, b++, n--)
		if (*a != *b)
			return 0;
	return 1;
}

/* Whether the plain key k[0..kl) is seg[0..sl) or starts with "seg.". */
static inline int seg_of(const char *seg, size_t sl, const char *k, size_t kl)
{
	return k[0] == seg[0] && kl >= sl && (kl == sl || k[sl] == '.') && same(k, seg, sl);
}

/* What the root key k[0..kl) is to op o: 1 its REMOVE or MOVE path's own
 * key, 0 nothing, -1 a name the batch cannot take (it shares a first
 * segment with something the op writes, or is under its path). */
static inline int concern(const struct event_op *o, const char *k, size_t kl)
{
	if (o->kind == EVENT_OP_MOVE && seg_of(o->to, o->tseg, k, kl))
		return -1;
	if (!seg_of(o->path, o->pseg, k, kl))
		return 0;
	if (o->kind == EVENT_OP_PUT || kl != o->plen || (o->pseg != o->plen && !same(k, o->path, kl)))
		return -1;
	return 1;
}

int event_batch(struct event *ev, const struct event_plan *pl)
{
	size_t nops = pl->n;
	const struct event_op *ops = pl->op;
	if (!ev_root_index(ev))
		return 0;
	const char *base = ev->json;
	const struct event_member *idx = ev->ridx;
	size_t n = ev->nridx;
	if (ev->len < 2 || base[0] != '{' || base[ev->len - 1] != '}')
		return 0;
	size_t hit[EVENT_OPS_MAX];   /* REMOVE, MOVE: 1 + its member's index; 0 absent */
	memset(hit, 0, nops * sizeof(*hit));
	size_t next = 1;                     /* where a compact root's next key starts */
	for (size_t i = 0; i < n; i++) {
		const struct event_member *e = &idx[i];
		if (e->esc || e->k != next || base[e->ve] != (i + 1 < n ? ',' : '}'))
			return 0;
		next = e->ve + 1;
		const char *k = base + e->k + 1;
		size_t kl = e->ke - e->k - 2;
		unsigned w = pl->by_first[(unsigned char)k[0]];
		if (!kl || !w)
			continue;   /* no op's name starts so ("" none): most keys */
		for (size_t j = w == 255 ? 0 : w - 1, j1 = w == 255 ? nops : w; j < j1; j++) {
			int c = concern(&ops[j], k, kl);
			if (c < 0 || (c && hit[j]))
				return 0;
			if (c)
				hit[j] = i + 1;
		}
	}
	if (n ? next != ev->len : ev->len != 2)
		return 0;
	/* the members that go, in text order */
	size_t gone[EVENT_OPS_MAX], ng = 0;
	int writes = pl->puts > 0;
	for (size_t j = 0; j < nops; j++) {
		if (!hit[j])
			continue;
		size_t g = ng++;
		for (; g > 0 && gone[g - 1] > hit[j] - 1; g--)
			gone[g] = gone[g - 1];
		gone[g] = hit[j] - 1;
		writes |= ops[j].kind == EVENT_OP_MOVE;
	}
	if (!ng && !writes)
		return 1;   /* nothing to remove, nothing to write */
	struct sbuf *t = &ev->tmp;
	t->len = 0;
	t->err = 0;
	if (sbuf_reserve(t, ev->len + 2 + pl->room) < 0)
		return -ENOMEM;
	ev_put(t, "{", 1);
	int any = 0;
	for (size_t g = 0, from = 0; g <= ng; g++) {
		size_t upto = g < ng ? gone[g] : n;   /* members [from, upto) stay */
		if (upto > from) {
			if (any)
				ev_put(t, ",", 1);
			ev_put(t, base + idx[from].k, idx[upto - 1].ve - idx[from].k);
			any = 1;
		}
		from = upto + 1;
	}
	for (size_t j = 0; j < nops; j++) {
		const struct event_op *o = &ops[j];
		if (o->kind == EVENT_OP_REMOVE || (o->kind == EVENT_OP_MOVE && !hit[j]))
			continue;
		if (any)
			ev_put(t, ",", 1);
		ev_put(t, o->text.p, o->text.len);
		if (o->kind == EVENT_OP_MOVE) {
			const struct event_member *e = &idx[hit[j] - 1];
			ev_put(t, base + e->v, e->ve - e->v);
			for (size_t c = 0; c < o->close; c++)
				ev_put(t, "}", 1);
		}
		any = 1;
	}
	ev_put(t, "}", 1);
	int rc = ev_take_tmp(ev);
	if (rc < 0)
		return rc;
	ev->ridx_state = 0;   /* rebuilt by one scan if a later filter needs it */
	return 1;
}
