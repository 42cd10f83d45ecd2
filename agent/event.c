/* See event.h. Fields are found by one bounded forward scan of the text
 * (the same path rules as common/json_path.c) and changed by splicing: the
 * new text is built in ev->tmp from the old one and the buffers swap. The
 * scanner trusts nothing: it never reads past the end, gives up deeper than
 * EVENT_MAX_DEPTH, and treats malformed text as "field absent" (-ENOENT) or
 * -EINVAL for a write. A root string holding an escaped JSON object (parse
 * json's `message`) is decoded, checked and its members collected in one
 * pass (fuse_decode) when the root is first indexed. */
#include "agent/event.h"
#include "agent/event_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/json_scan.h"

#define EVENT_MAX_DEPTH 64
#define KEY_MAX 256

void event_begin(struct event *ev, const char *input, const char *tag, int64_t ts_ms,
		 const char *json, size_t len)
{
	ev->input = input;
	ev->tag = tag;
	ev->ts_ms = ts_ms;
	ev->json = json;
	ev->len = len;
	ev->buf.err = ev->tmp.err = 0;
	ev->ridx_state = 0;
	ev->fz_obj = NULL;
	ev->ln_lazy = 0;
	sbuf_reset(&ev->scratch);
}

void event_begin_line(struct event *ev, const char *input, const char *tag, int64_t ts_ms, const char *head,
		      size_t hlen, const char *msg, size_t mlen, const char *tail, size_t tlen)
{
	event_begin(ev, input, tag, ts_ms, NULL, 0);
	ev->ln_head = head;
	ev->ln_hlen = hlen;
	ev->ln_msg = msg;
	ev->ln_mlen = mlen;
	ev->ln_tail = tail;
	ev->ln_tlen = tlen;
	ev->ln_lazy = 1;
}

/* The text of a line event: head, the escaped line, tail. Out of memory,
 * the message is lost (as an input loses a line it cannot hold), and
 * without even that much memory the event becomes {}. */
void ev_write_line(struct event *ev)
{
	struct sbuf *b = &ev->buf;
	ev->ln_lazy = 0;
	b->len = 0;
	b->err = 0;
	json_put_line(b, ev->ln_head, ev->ln_hlen, ev->ln_msg, ev->ln_mlen, ev->ln_tail, ev->ln_tlen);
	if (b->err) {
		b->len = 0;
		b->err = 0;
		json_put_line(b, ev->ln_head, ev->ln_hlen, "", 0, ev->ln_tail, ev->ln_tlen);
	}
	ev->json = b->err || !b->p ? "{}" : b->p;
	ev->len = b->err || !b->p ? 2 : b->len;
	ev->ridx_state = 0;
	ev->fz_obj = NULL;
}

static int merge_checked(struct event *ev, const char *path, const char *obj, size_t len, const char *remove,
			 int ctl);

int event_parse_line(struct event *ev, const char *field, const char *target)
{
	static const char key[] = "\"message\":";
	size_t kl = sizeof(key) - 1, hl = ev->ln_hlen, tn = ev->ln_tlen;
	int ctl;
	if (!ev->ln_lazy || strcmp(field, "message") || hl < kl + 1 || memcmp(ev->ln_head + hl - kl, key, kl) ||
	    !json_utf8_check(ev->ln_msg, ev->ln_mlen, &ctl))
		return 1;
	/* the text without the message: the member and one comma beside it
	 * go, as event_remove takes it out of a compact root */
	const char *h = ev->ln_head, *tl = ev->ln_tail;
	hl -= kl;
	if (tn && tl[0] == ',') {
		tl++;
		tn--;
	} else if (h[hl - 1] == ',') {
		hl--;
	}
	struct sbuf *b = &ev->buf;
	b->len = 0;
	b->err = 0;
	if (sbuf_reserve(b, hl + tn) < 0)
		return -ENOMEM;   /* still the line */
	ev_put(b, h, hl);
	ev_put(b, tl, tn);
	ev->ln_lazy = 0;
	ev->json = b->p;
	ev->len = b->len;
	ev->ridx_state = 0;
	ev->fz_obj = NULL;
	int rc = merge_checked(ev, target, ev->ln_msg, ev->ln_mlen, NULL, ctl);
	if (rc == -EBADMSG || rc == -EDOM || rc == -ENOMEM) {
		ev->ln_lazy = 1;    /* back to the line, message and all */
		ev->json = NULL;
		ev->len = 0;
		ev->ridx_state = 0;
	}
	return rc;
}

void event_free(struct event *ev)
{
	sbuf_free(&ev->buf);
	sbuf_free(&ev->tmp);
	sbuf_free(&ev->scratch);
	sbuf_free(&ev->val);
	free(ev->madd);
	free(ev->mhave);
	free(ev->ridx);
	ev->ridx = NULL;
	ev->nridx = ev->ridx_cap = 0;
	ev->ridx_state = 0;
	ev->madd = ev->mhave = NULL;
	ev->madd_cap = ev->mhave_cap = 0;
	ev->fz_obj = NULL;   /* its members were in madd */
	ev->ln_lazy = 0;
	ev->json = NULL;
	ev->len = 0;
}

const char *event_input(const struct event *ev) { return ev->input; }
const char *event_tag(const struct event *ev) { return ev->tag; }
int64_t event_time(const struct event *ev) { return ev->ts_ms; }
void event_set_time(struct event *ev, int64_t ts_ms) { ev->ts_ms = ts_ms; }

const char *event_json(const struct event *ev, size_t *len)
{
	ev_ready(ev);
	*len = ev->len;
	return ev->json;
}

/* --- scanning --------------------------------------------------------------------- */

/* (blanks and strings: common/json_scan.h, shared with common/json_path.c) */

/* p at an opening quote: the position after the closing one, or NULL if
 * the string is not valid JSON (a raw control byte, a bad escape). *esc
 * (if not NULL) is set when it holds a backslash. */
static inline __attribute__((always_inline)) const char *valid_str_esc(const char *p, const char *end, int *esc)
{
	for (p++;;) {
		p = next_special(p, end, 1);
		if (p >= end)
			return NULL;
		if (*p == '"')
			return p + 1;
		if (*p != '\\')
			return NULL;   /* a raw control character */
		if (esc)
			*esc = 1;
		if (++p >= end)
			return NULL;
		if (*p == 'u') {
			for (int i = 1; i <= 4; i++) {
				char h = p + i < end ? p[i] : 0;
				if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
					return NULL;
			}
			p += 5;
		} else if (!esc_char(*p)) {
			return NULL;
		} else {
			p++;
		}
	}
}

static const char *valid_str(const char *p, const char *end)
{
	return valid_str_esc(p, end, NULL);
}

static const char *skip(const char *p, const char *end, int depth);
static const char *valid(const char *p, const char *end, int depth);

/* The object or array at p ('{' or '['): the position after it, or NULL.
 * One walk for skip (strict 0: strings by str_end, scalars unchecked) and
 * valid (strict 1: RFC 8259); always inlined with a constant strict, so
 * each gets its own loop with no test of the flag. */
static inline __attribute__((always_inline)) const char *container(const char *p, const char *end, int depth,
								   int strict)
{
	char close = *p == '{' ? '}' : ']';
	p = ws(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			p = ws(p, end);
			if (p >= end || *p != '"' || !(p = strict ? valid_str(p, end) : str_end(p, end, NULL)))
				return NULL;
			p = ws(p, end);
			if (p >= end || *p != ':')
				return NULL;
			p++;
		}
		if (!(p = strict ? valid(p, end, depth + 1) : skip(p, end, depth + 1)))
			return NULL;
		p = ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		return p < end && *p == close ? p + 1 : NULL;
	}
}

/* Skips one value; NULL if malformed (loosely: scalars are not checked). */
static const char *skip(const char *p, const char *end, int depth)
{
	p = ws(p, end);
	if (p >= end || depth > EVENT_MAX_DEPTH)
		return NULL;
	if (*p == '"')
		return str_end(p, end, NULL);
	if (*p == '{' || *p == '[')
		return container(p, end, depth, 0);
	const char *s = p;
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
	       *p != '\r' && *p != '\t')
		p++;
	return p > s ? p : NULL;
}


/* Whether the key string at q (its opening quote), ending at qe (after the
 * closing quote), equals s[0..n). */
static int key_eq(const char *q, const char *qe, int esc, const char *s, size_t n)
{
	if (!esc)
		return (size_t)(qe - q - 2) == n && memcmp(q + 1, s, n) == 0;
	char buf[KEY_MAX];
	ssize_t k = unescape(q + 1, qe, buf, sizeof(buf));
	return k >= 0 && (size_t)k == n && n <= sizeof(buf) && memcmp(buf, s, n) == 0;
}

/* Whether the key is a proper prefix of s[0..n) followed by '.': its length. */
static size_t key_prefix(const char *q, const char *qe, int esc, const char *s, size_t n)
{
	if (esc) {
		char buf[KEY_MAX];
		ssize_t k = unescape(q + 1, qe, buf, sizeof(buf));
		if (k > 0 && (size_t)k < n && (size_t)k <= sizeof(buf) && s[k] == '.' && !memcmp(buf, s, (size_t)k))
			return (size_t)k;
		return 0;
	}
	size_t k = (size_t)(qe - q - 2);
	return k > 0 && k < n && s[k] == '.' && memcmp(q + 1, s, k) == 0 ? k : 0;
}

/* One member found: where its key starts and its value's span. */
struct member {
	const char *key, *val, *vend;
};

/* Finds path[0..plen) in the object starting at p ('{' after ws). */
static int find(const char *p, const char *end, const char *path, size_t plen, struct member *m, int depth)
{
	p = ws(p, end);
	if (p >= end || *p != '{' || depth > EVENT_MAX_DEPTH)
		return 0;
	p = ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	while (p < end) {
		if (*p != '"')
			return 0;
		int esc;
		const char *k = p, *ke = str_end(p, end, &esc);
		if (!ke)
			return 0;
		p = ws(ke, end);
		if (p >= end || *p != ':')
			return 0;
		const char *v = ws(p + 1, end);
		const char *ve = skip(v, end, depth + 1);
		if (!ve)
			return 0;
		if (key_eq(k, ke, esc, path, plen)) {
			*m = (struct member){ k, v, ve };
			return 1;
		}
		size_t kl = key_prefix(k, ke, esc, path, plen);
		if (kl && *v == '{' && find(v, ve, path + kl + 1, plen - kl - 1, m, depth + 1))
			return 1;
		p = ws(ve, end);
		if (p >= end || *p != ',')
			return 0;
		p = ws(p + 1, end);
	}
	return 0;
}

/* A root string field decoded while the index is built, so that its text
 * (often most of the event) is scanned once, not once to index it and
 * again to decode it (event_get_decoded). */
struct idx_hook {
	const char *key;      /* a root key without escapes */
	size_t klen;
	struct sbuf *out;     /* its decoded value is appended here */
	int done;             /* 1 decoded, -1 found but not a valid string */
	size_t kpos;          /* the member's key offset */
};

/* --- decoding a string and checking it as a JSON object, in one pass ------------------ */

/* A member of an object being merged (event_merge) or checked. */
struct mspan {
	const char *k, *ke, *v, *ve;
	int esc;     /* the key holds a backslash */
	int act;     /* merge: -2 skipped (repeated later), 0 appended, 1 + j replaces have[j];
		      * for have[]: 1 + the add[] index replacing it, 0 none */
	size_t at;   /* merge: where an appended member starts in the new text */
};

/* Stores m as member n of the growable array *vp (capacity *cap). 0, or
 * -1 out of memory. */
static inline int mspan_push(void **vp, size_t *cap, size_t n, const struct mspan *m)
{
	if (n == *cap) {
		size_t nc = *cap ? *cap * 2 : 32;
		void *nv = realloc(*vp, nc * sizeof(struct mspan));
		if (!nv)
			return -1;
		*vp = nv;
		*cap = nc;
	}
	((struct mspan *)*vp)[n] = *m;
	return 0;
}


/* The usual `message` of a JSON log line is a JSON object escaped into a
 * string: {\"level\":\"info\",...}. fuse_*() decode it exactly as
 * unescape_end does while checking the decoded text as valid() would and
 * collecting the object's members as valid_members() would, reading the
 * escaped text once. They handle the plain cases only and give up (-1) on
 * anything else: a blank other than a space (the text would need squeezing),
 * an escape that decodes to a structural byte, text that is not valid; the
 * caller then decodes the usual way and event_merge_checked checks it.
 * Invariant: f->n <= f->p - f->s (decoded is never longer than what it
 * decodes), so out, with end - s bytes of room, never overflows, not even
 * by the eight-byte stores. */
struct fuse {
	const char *s, *p, *end;   /* the escaped text: start, cursor, end */
	char *restrict out;
	size_t n;                  /* decoded bytes in out */
	struct event *ev;          /* members collected into ev->madd */
	size_t na;
};

static const char *valid_num(const char *p, const char *end);

/* The next decoded byte outside strings, spaces copied and passed: '"' for
 * an escaped quote (two bytes), a plain byte, 1 at the escaped text's
 * closing quote, 0 for anything else (another escape, a control byte, the
 * end). */
static inline __attribute__((always_inline)) int fuse_peek(struct fuse *f)
{
	while (f->p < f->end && *f->p == ' ') {
		f->out[f->n++] = ' ';
		f->p++;
	}
	if (f->p >= f->end)
		return 0;
	unsigned char c = (unsigned char)*f->p;
	if (c == '"')
		return 1;
	if (c == '\\')
		return f->end - f->p >= 2 && f->p[1] == '"' ? '"' : 0;
	return c < 0x20 ? 0 : c;
}

/* Takes the byte fuse_peek gave. */
static inline __attribute__((always_inline)) void fuse_take(struct fuse *f, int c)
{
	f->p += c == '"' ? 2 : 1;
	f->out[f->n++] = (char)c;
}

/* After a decoded string's opening quote: the rest of it, to its closing
 * quote. *esc is set if it holds a (decoded) backslash. 0 or -1. */
static inline __attribute__((always_inline)) int fuse_str(struct fuse *f, int *esc)
{
	const char *p = f->p, *end = f->end;
	char *out = f->out;
	size_t n = f->n;
	for (;;) {
#if SWAR_POS
		while (end - p >= 8) {
			uint64_t x = load8(p);
			uint64_t m = special_ctl_mask(x);
			memcpy(out + n, &x, 8);
			if (m) {
				size_t k = first_flag(m);
				p += k;
				n += k;
				goto special;
			}
			p += 8;
			n += 8;
		}
#endif
		while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			out[n++] = *p++;
#if SWAR_POS
special:
#endif
		if (end - p < 2 || *p != '\\')
			return -1;   /* the end, a control byte, or the escaped text's end */
		char c = p[1];
		p += 2;
		if (c == '"')
			break;
		if (c == '/') {
			out[n++] = '/';
			continue;
		}
		if (c == 'u') {
			char u[4];
			size_t used;
			int r = json_decode_u(p, end, u, &used);
			if (r < 0)
				return -1;
			for (int i = 0; i < r; i++)
				if ((unsigned char)u[i] < 0x20 || u[i] == '"' || u[i] == '\\')
					return -1;
			memcpy(out + n, u, (size_t)r);
			n += (size_t)r;
			p += used;
			continue;
		}
		if (c != '\\')
			return -1;   /* \n \t...: a raw control byte once decoded */
		/* a decoded backslash: the decoded escape's letter follows */
		out[n++] = '\\';
		*esc = 1;
		if (p >= end)
			return -1;
		c = *p;
		if (c == '\\' && end - p >= 2 && (p[1] == '"' || p[1] == '\\' || p[1] == '/')) {
			out[n++] = p[1];
			p += 2;
		} else if (c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
			out[n++] = c;
			p++;
		} else if (c == 'u' && end - p >= 5) {
			for (int i = 1; i <= 4; i++) {
				char h = p[i];
				if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
					return -1;
			}
			memcpy(out + n, p, 5);
			n += 5;
			p += 5;
		} else {
			return -1;
		}
	}
	out[n++] = '"';
	f->p = p;
	f->n = n;
	return 0;
}

static int fuse_value(struct fuse *f, int depth);

/* The object or array whose opening byte c fuse_peek gave; its members
 * collected when collect (the top object). 0 or -1. */
static int fuse_container(struct fuse *f, int c, int depth, int collect)
{
	int close = c == '{' ? '}' : ']';
	fuse_take(f, c);
	if ((c = fuse_peek(f)) == close) {
		fuse_take(f, c);
		return 0;
	}
	for (;;) {
		struct mspan m;
		m.k = m.ke = NULL;
		m.esc = m.act = 0;
		m.at = 0;
		if (close == '}') {
			if (fuse_peek(f) != '"')
				return -1;
			m.k = f->out + f->n;
			fuse_take(f, '"');
			if (fuse_str(f, &m.esc) < 0)
				return -1;
			m.ke = f->out + f->n;
			if ((c = fuse_peek(f)) != ':')
				return -1;
			fuse_take(f, c);
		}
		fuse_peek(f);   /* the blanks before the value */
		m.v = f->out + f->n;
		if (fuse_value(f, depth + 1) < 0)
			return -1;
		m.ve = f->out + f->n;
		if (collect) {
			if (mspan_push(&f->ev->madd, &f->ev->madd_cap, f->na, &m) < 0)
				return -1;
			f->na++;
		}
		c = fuse_peek(f);
		if (c == ',') {
			fuse_take(f, c);
			continue;
		}
		if (c != close)
			return -1;
		fuse_take(f, c);
		return 0;
	}
}

/* One value, as valid() checks it. 0 or -1. */
static int fuse_value(struct fuse *f, int depth)
{
	int c = fuse_peek(f);
	if (depth > EVENT_MAX_DEPTH)
		return -1;
	if (c == '"') {
		int esc = 0;
		fuse_take(f, c);
		return fuse_str(f, &esc);
	}
	if (c == '{' || c == '[')
		return fuse_container(f, c, depth, 0);
	const char *q;
	if (c == 't' || c == 'n' || c == 'f') {
		const char *lit = c == 't' ? "true" : c == 'n' ? "null" : "false";
		size_t l = strlen(lit);
		if ((size_t)(f->end - f->p) < l || memcmp(f->p, lit, l))
			return -1;
		q = f->p + l;
	} else if (c > 1) {
		if (!(q = valid_num(f->p, f->end)))
			return -1;
	} else {
		return -1;
	}
	memcpy(f->out + f->n, f->p, (size_t)(q - f->p));
	f->n += (size_t)(q - f->p);
	f->p = q;
	return 0;
}

/* Decodes the escaped text at s (after a string's opening quote) into out
 * (end - s bytes of room) as unescape_end does, checking that it is a JSON
 * object and collecting its members into ev->madd: the decoded length and
 * the string's end (*qend) if so, the object's span in *o, *oe and its
 * member count in *na; -1 if not (or not a case handled here: out and
 * ev->madd then hold nothing of use). */
static ssize_t fuse_decode(struct event *ev, const char *s, const char *end, char *out, const char **qend,
			   const char **o, const char **oe, size_t *na)
{
	struct fuse f = { s, s, end, out, 0, ev, 0 };
	int c = fuse_peek(&f);
	if (c != '{')
		return -1;
	*o = out + f.n;
	if (fuse_container(&f, c, 0, 1) < 0)
		return -1;
	*oe = out + f.n;
	if (fuse_peek(&f) != 1)
		return -1;
	*qend = f.p + 1;
	*na = f.na;
	return (ssize_t)f.n;
}

static int root_index_build(struct event *ev, struct idx_hook *h);

/* The root's member index: built by one scan on first use, then kept up to
 * date by idx_update as the text changes (or dropped, to be rebuilt). It
 * is a cache, so it is built through a const event. */
int ev_root_index(const struct event *cev)
{
	ev_ready(cev);
	struct event *ev = (struct event *)cev;
	if (ev->ridx_state)
		return ev->ridx_state > 0;
	return root_index_build(ev, NULL);
}

static int root_index_build(struct event *ev, struct idx_hook *h)
{
	ev->ridx_state = -1;
	ev->nridx = 0;
	const char *base = ev->json, *end = ev->json + ev->len;
	const char *p = ws(base, end);
	if (p >= end || *p != '{')
		return 0;
	p = ws(p + 1, end);
	if (p < end && *p == '}') {
		ev->ridx_state = 1;
		return 1;
	}
	while (p < end) {
		int esc;
		const char *k = p, *ke = *p == '"' ? str_end(p, end, &esc) : NULL;
		if (!ke)
			return 0;
		p = ws(ke, end);
		if (p >= end || *p != ':')
			return 0;
		const char *v = ws(p + 1, end), *ve = NULL;
		if (h && !h->done && !esc && v < end && *v == '"' && (size_t)(ke - k - 2) == h->klen &&
		    !memcmp(k + 1, h->key, h->klen)) {
			h->done = -1;    /* the first member of that key only, as locate finds it */
			size_t room = (size_t)(end - v);   /* decoded is never longer */
			if (sbuf_reserve(h->out, room) == 0) {
				char *out = h->out->p + h->out->len;
				ssize_t n = fuse_decode(ev, v + 1, end, out, &ve, &ev->fz_o, &ev->fz_oe, &ev->fz_na);
				if (n >= 0) {
					ev->fz_obj = out;
					ev->fz_len = (size_t)n;
				} else {
					n = unescape_end(v + 1, end, out, room, &ve);
				}
				if (n >= 0) {
					h->out->len += (size_t)n;
					h->done = 1;
					h->kpos = (size_t)(k - base);
				} else {
					ve = NULL;
				}
			}
		}
		if (!ve)
			ve = v < end && *v == '"' ? str_end(v, end, NULL) : skip(v, end, 1);
		if (!ve)
			return 0;
		if (ev->nridx == ev->ridx_cap) {
			size_t cap = ev->ridx_cap ? ev->ridx_cap * 2 : 32;
			struct event_member *nv = realloc(ev->ridx, cap * sizeof(*nv));
			if (!nv)
				return 0;
			ev->ridx = nv;
			ev->ridx_cap = cap;
		}
		ev->ridx[ev->nridx++] = (struct event_member){ (size_t)(k - base), (size_t)(ke - base),
							       (size_t)(v - base), (size_t)(ve - base), esc };
		p = ws(ve, end);
		if (p < end && *p == '}') {
			ev->ridx_state = 1;
			return 1;
		}
		if (p >= end || *p != ',')
			return 0;
		p = ws(p + 1, end);
	}
	return 0;
}

static void idx_shift(struct event *ev, size_t from, size_t a, size_t b, size_t n)
{
	for (size_t j = from; j < ev->nridx; j++) {
		struct event_member *f = &ev->ridx[j];
		f->k = f->k - (b - a) + n;
		f->ke = f->ke - (b - a) + n;
		f->v = f->v - (b - a) + n;
		f->ve = f->ve - (b - a) + n;
	}
}

/* Appends the member written at text[a..a+n) (",\"k\":v" or "\"k\":v"). */
static int idx_append(struct event *ev, size_t a, size_t n)
{
	const char *base = ev->json, *end = ev->json + a + n;
	const char *p = ws(base + a, end);
	if (p < end && *p == ',')
		p = ws(p + 1, end);
	int esc;
	const char *ke = p < end && *p == '"' ? str_end(p, end, &esc) : NULL;
	if (!ke)
		return 0;
	const char *c = ws(ke, end);
	if (c >= end || *c != ':')
		return 0;
	const char *v = ws(c + 1, end);
	if (ev->nridx == ev->ridx_cap) {
		size_t cap = ev->ridx_cap ? ev->ridx_cap * 2 : 32;
		struct event_member *nv = realloc(ev->ridx, cap * sizeof(*nv));
		if (!nv)
			return 0;
		ev->ridx = nv;
		ev->ridx_cap = cap;
	}
	ev->ridx[ev->nridx++] = (struct event_member){ (size_t)(p - base), (size_t)(ke - base), (size_t)(v - base),
						       a + n, esc };
	return 1;
}

/* The text's bytes [a, b) became n bytes (ev->json is the new text): the
 * index follows a change inside one member's value, the removal of whole
 * members, and a member added at the end of the root; anything else drops
 * it, to be rebuilt by one scan when next needed. */
static void idx_update(struct event *ev, size_t a, size_t b, size_t n)
{
	if (ev->ridx_state != 1)
		return;
	size_t i = 0;
	if (ev->nridx && ev->ridx[ev->nridx - 1].ve < a + (a == b))
		i = ev->nridx;   /* after the last member: no need to look */
	while (i < ev->nridx && ev->ridx[i].ve < a + (a == b))
		i++;   /* members wholly before the change */
	if (i == ev->nridx) {
		/* after every member: a member added at the end of the root */
		if (a == b && n && idx_append(ev, a, n))
			return;
		ev->ridx_state = 0;
		return;
	}
	struct event_member *e = &ev->ridx[i];
	/* inside: a replacement within [v, ve], an insertion strictly
	 * between (at v or ve it lands beside the value, not in it) */
	if (a < b ? (e->v <= a && b <= e->ve) : (e->v < a && a < e->ve)) {
		e->ve = e->ve - (b - a) + n;
		idx_shift(ev, i + 1, a, b, n);
		return;
	}
	/* whole members removed */
	size_t j = i;
	while (j < ev->nridx && ev->ridx[j].k >= a && ev->ridx[j].ve <= b)
		j++;
	if (j > i && n == 0 && (j == ev->nridx || ev->ridx[j].k >= b) && (i == 0 || ev->ridx[i - 1].ve <= a)) {
		memmove(&ev->ridx[i], &ev->ridx[j], (ev->nridx - j) * sizeof(*ev->ridx));
		ev->nridx -= j - i;
		idx_shift(ev, i, a, b, n);
		return;
	}
	ev->ridx_state = 0;
}

/* Finds path[0..plen) (the root index walked, nested objects scanned).
 * When not found, *pre (if not NULL) tells whether some root key is the
 * path's dotted prefix (a flat or nested way in that a shorter prefix of
 * the path could still reach): if not, no prefix of the path is there.
 * And *first (if not NULL, when not found) is the first root member
 * whose key is a dotted prefix of the path, or has a NULL key if none is;
 * unknown (not indexed): *pre is 1 and *first not set. */
static int locate_first(const struct event *ev, const char *path, size_t plen, struct member *m, int *pre,
			struct member *first)
{
	int seen = 0;
	const struct event_member *fe = NULL;
	if (!plen)
		return 0;
	if (!ev_root_index(ev)) {
		if (pre)
			*pre = 1;
		return find(ev->json, ev->json + ev->len, path, plen, m, 0);
	}
	const char *base = ev->json;
	const struct event_member *idx = ev->ridx;
	size_t n = ev->nridx;
	for (size_t i = 0; i < n; i++) {
		const struct event_member *e = &idx[i];
		if (!e->esc) {
			/* the common case, inline: a plain key is its bytes, so
			 * its length alone rules out most members (and the
			 * value's span is read only for a match) */
			size_t kl = e->ke - e->k - 2;
			if (kl == plen) {
				if (!memcmp(base + e->k + 1, path, plen)) {
					*m = (struct member){ base + e->k, base + e->v, base + e->ve };
					return 1;
				}
			} else if (kl && kl < plen && path[kl] == '.' && !memcmp(base + e->k + 1, path, kl)) {
				seen = 1;
				if (!fe)
					fe = e;
				if (base[e->v] == '{' && find(base + e->v, base + e->ve, path + kl + 1, plen - kl - 1, m, 1))
					return 1;
			}
			continue;
		}
		seen = 1;   /* an escaped key: not worth deciding */
		const char *k = base + e->k, *ke = base + e->ke, *v = base + e->v, *ve = base + e->ve;
		if (key_eq(k, ke, e->esc, path, plen)) {
			*m = (struct member){ k, v, ve };
			return 1;
		}
		size_t kl = key_prefix(k, ke, e->esc, path, plen);
		if (kl && !fe)
			fe = e;
		if (kl && *v == '{' && find(v, ve, path + kl + 1, plen - kl - 1, m, 1))
			return 1;
	}
	if (pre)
		*pre = seen;
	if (first)
		*first = fe ? (struct member){ base + fe->k, base + fe->v, base + fe->ve } : (struct member){ 0 };
	return 0;
}

static int locate_pre(const struct event *ev, const char *path, size_t plen, struct member *m, int *pre)
{
	return locate_first(ev, path, plen, m, pre, NULL);
}

static int locate(const struct event *ev, const char *path, size_t plen, struct member *m)
{
	return locate_pre(ev, path, plen, m, NULL);
}

int event_get_raw(const struct event *ev, const char *path, const char **val, size_t *len)
{
	ev_ready(ev);
	struct member m;
	if (!locate(ev, path, strlen(path), &m))
		return -ENOENT;
	*val = m.val;
	*len = (size_t)(m.vend - m.val);
	return 0;
}

int event_get_decoded(struct event *ev, const char *path, const char **val, size_t *len, struct sbuf *out,
		      int *decoded)
{
	ev_ready(ev);
	size_t plen = strlen(path), start = out->len;
	struct idx_hook h = { path, plen, out, 0, 0 };
	*decoded = 0;
	ev->fz_obj = NULL;
	if (!ev->ridx_state && plen && !memchr(path, '.', plen)) {
		/* a dotless path matches the first root key equal to it, the
		 * member the hook decodes */
		root_index_build(ev, &h);
		if (ev->ridx_state != 1)
			h.done = 0;
	}
	struct member m;
	if (!locate(ev, path, plen, &m)) {
		ev->fz_obj = NULL;
		out->len = start;
		return -ENOENT;
	}
	*val = m.val;
	*len = (size_t)(m.vend - m.val);
	if (h.done == 1 && m.key == ev->json + h.kpos) {
		*decoded = 1;
		return 0;
	}
	ev->fz_obj = NULL;   /* the hook decoded another member: out is rewritten */
	out->len = start;
	if (*m.val == '"' && event_decode_str(m.val, *len, out))
		*decoded = 1;
	return 0;
}

int event_has(const struct event *ev, const char *path)
{
	ev_ready(ev);
	struct member m;
	return locate(ev, path, strlen(path), &m);
}

int event_root_lacks(const struct event *ev, const char *prefix)
{
	ev_ready(ev);
	size_t n = strlen(prefix);
	if (!n || !ev_root_index(ev))
		return 0;
	const char *base = ev->json;
	for (size_t i = 0; i < ev->nridx; i++) {
		const struct event_member *e = &ev->ridx[i];
		const char *k = base + e->k + 1;
		size_t kl = e->ke - e->k - 2;
		if (e->esc)
			return 0;
		if (kl >= n && !memcmp(k, prefix, n) && (kl == n || k[n] == '.'))
			return 0;
	}
	return 1;
}

ssize_t event_get_str(const struct event *ev, const char *path, char *buf, size_t cap)
{
	ev_ready(ev);
	struct member m;
	if (!cap || !locate(ev, path, strlen(path), &m))
		return -ENOENT;
	const char *v = m.val;
	size_t vl = (size_t)(m.vend - v);
	if (*v == '{' || *v == '[' || (vl == 4 && !memcmp(v, "null", 4)))
		return -ENOENT;
	ssize_t n;
	if (*v == '"') {
		n = unescape(v + 1, m.vend, buf, cap - 1);
		if (n < 0)
			return -ENOENT;
	} else {
		n = (ssize_t)vl;
		memcpy(buf, v, vl < cap - 1 ? vl : cap - 1);
	}
	if ((size_t)n > cap - 1)
		return -ENOSPC;
	buf[n] = 0;
	return n;
}

int event_get_sbuf(const struct event *ev, const char *path, struct sbuf *out)
{
	ev_ready(ev);
	struct member m;
	if (!locate(ev, path, strlen(path), &m))
		return 0;
	const char *v = m.val;
	size_t vl = (size_t)(m.vend - v);
	if (*v == '{' || *v == '[' || (vl == 4 && !memcmp(v, "null", 4)))
		return 0;
	if (sbuf_reserve(out, vl) < 0)
		return 0;
	if (*v == '"') {
		ssize_t n = unescape(v + 1, m.vend, out->p + out->len, vl);
		if (n < 0)
			return 0;
		out->len += (size_t)n;
	} else {
		memcpy(out->p + out->len, v, vl);
		out->len += vl;
	}
	return 1;
}

int event_decode_str(const char *val, size_t len, struct sbuf *out)
{
	if (len < 2 || val[0] != '"' || val[len - 1] != '"' || sbuf_reserve(out, len) < 0)
		return 0;
	ssize_t n = unescape(val + 1, val + len, out->p + out->len, len);
	if (n < 0)
		return 0;
	out->len += (size_t)n;
	return 1;
}

/* --- changing ---------------------------------------------------------------------- */

/* The root object's span, or -EINVAL. Taken from its first and last
 * bytes, not scanned: the text comes from an input that wrote it as one
 * object, and a write only inserts before the closing brace, so even a
 * malformed middle is never read past its bounds. */
static int root(const struct event *ev, const char **o, const char **oe)
{
	const char *end = ev->json + ev->len;
	const char *p = ws(ev->json, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (end - p < 2 || *p != '{' || end[-1] != '}')
		return -EINVAL;
	*o = p;
	*oe = end;
	return 0;
}

/* Makes tmp the text: text[0..a) + ins + text[b..len), then swaps. */
static int splice(struct event *ev, size_t a, size_t b, const char *ins, size_t n)
{
	struct sbuf *t = &ev->tmp;
	t->len = 0;
	t->err = 0;
	if (sbuf_reserve(t, ev->len - (b - a) + n) < 0)
		return -ENOMEM;
	memcpy(t->p, ev->json, a);
	if (n)
		memcpy(t->p + a, ins, n);   /* ins may be NULL when n is 0 */
	memcpy(t->p + a + n, ev->json + b, ev->len - b);
	t->len = ev->len - (b - a) + n;
	struct sbuf x = ev->buf;
	ev->buf = *t;
	*t = x;
	ev->fz_obj = NULL;
	ev->json = ev->buf.p;
	ev->len = ev->buf.len;
	idx_update(ev, a, b, n);
	return 0;
}

int event_set_text(struct event *ev, const char *json, size_t len)
{
	ev_ready(ev);
	return splice(ev, 0, ev->len, json, len);
}

/* Whether the object [o, oe) has no member. */
static int obj_empty(const char *o, const char *oe)
{
	return ws(o + 1, oe) == oe - 1;
}

/* Swaps tmp in as the text. */
int ev_take_tmp(struct event *ev)
{
	if (ev->tmp.err)
		return -ENOMEM;
	struct sbuf x = ev->buf;
	ev->buf = ev->tmp;
	ev->tmp = x;
	ev->fz_obj = NULL;
	ev->json = ev->buf.p;
	ev->len = ev->buf.len;
	return 0;
}

/* Appends "s": (a key and its colon). Config paths are plain ASCII: those
 * bytes go as they are; anything else through json_put_string. */
static int plain_ascii(const char *s, size_t n)
{
	size_t i = 0;
#if SWAR_POS
	for (; i + 8 <= n; i += 8) {
		uint64_t x = load8(s + i);
		if (special_ctl_mask(x) | (x & HIGHS))
			return 0;
	}
#endif
	for (; i < n; i++)
		if ((unsigned char)(s[i] - 0x20) >= 0x60 || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

static void put_key(struct sbuf *t, const char *s, size_t n)
{
	if (!plain_ascii(s, n)) {
		json_put_string(t, s, n);
		sbuf_putc(t, ':');
		return;
	}
	if (sbuf_reserve(t, n + 3) < 0)
		return;
	char *w = t->p + t->len;
	w[0] = '"';
	memcpy(w + 1, s, n);
	w[n + 1] = '"';
	w[n + 2] = ':';
	t->len += n + 3;
}

/* Whether path[0..plen) can be written: not empty, no empty segment. */
static int path_ok(const char *path, size_t plen)
{
	if (!plen || path[0] == '.' || path[plen - 1] == '.')
		return 0;
	for (size_t i = 1; i < plen; i++)
		if (path[i] == '.' && path[i - 1] == '.')
			return 0;
	return 1;
}

/* Writes path[0..plen) (not in the text: the caller checked) as nested
 * objects holding json[0..len), before the closing brace at `at` of the
 * object [o, oe), the rest of the text after it: tmp becomes the new text.
 * Returns the bytes added. */
static size_t put_nested(struct event *ev, const char *o, const char *oe, const char *path, size_t plen,
			 const char *json, size_t len);

int event_set_json(struct event *ev, const char *path, const char *json, size_t len)
{
	ev_ready(ev);
	size_t plen = strlen(path);
	if (!path_ok(path, plen))
		return -EINVAL;
	struct member m, first = { (const char *)1, NULL, NULL };   /* unknown */
	int pre;
	if (locate_first(ev, path, plen, &m, &pre, &first))
		return splice(ev, (size_t)(m.val - ev->json), (size_t)(m.vend - ev->json), json, len);
	/* Not there: the longest prefix that is an object takes the rest of
	 * the path, built as nested objects; none (and no root key is even a
	 * prefix of it: pre == 0): the root takes it all. */
	const char *o = NULL, *oe = NULL;
	size_t cut = pre ? plen : 0;   /* path[cut..) is what gets built */
	while (cut > 0) {
		size_t i = cut - 1;
		while (i > 0 && path[i] != '.')
			i--;
		if (i == 0)
			break;
		/* one dot ("a.b"): the only prefix is a root key, the first
		 * one locate_first saw (m.key NULL: none), no need to look again */
		int one = first.key != (const char *)1 && !memchr(path, '.', i);
		if (one ? (m = first).key != NULL : locate(ev, path, i, &m)) {
			if (*m.val != '{')
				return -EEXIST;  /* a scalar is in the way */
			o = m.val;
			oe = m.vend;
			cut = i + 1;
			break;
		}
		cut = i;
	}
	if (!o) {
		if (root(ev, &o, &oe) < 0)
			return -EINVAL;
		cut = 0;
	}
	size_t at = (size_t)(oe - 1 - ev->json);
	struct sbuf *t = &ev->tmp;
	t->len = 0;
	t->err = 0;
	if (sbuf_reserve(t, ev->len + len + 2 * (plen - cut) + 16) < 0)
		return -ENOMEM;
	ev_put(t, ev->json, at);
	size_t grown = put_nested(ev, o, oe, path + cut, plen - cut, json, len);
	ev_put(t, ev->json + at, ev->len - at);
	int rc = ev_take_tmp(ev);
	if (rc == 0)
		idx_update(ev, at, at, grown);
	return rc;
}

static size_t put_nested(struct event *ev, const char *o, const char *oe, const char *path, size_t plen,
			 const char *json, size_t len)
{
	/* "a.b.c" -> ,"a":{"b":{"c": value }} */
	struct sbuf *t = &ev->tmp;
	size_t start = t->len;
	if (!obj_empty(o, oe))
		ev_put(t, ",", 1);
	ev_put_path(t, path, plen, json, len);
	return t->len - start;
}

void ev_put_path(struct sbuf *t, const char *path, size_t plen, const char *json, size_t len)
{
	size_t depth = 0;
	const char *seg = path, *pend = path + plen;
	for (;;) {
		const char *dot = memchr(seg, '.', (size_t)(pend - seg));
		size_t n = dot ? (size_t)(dot - seg) : (size_t)(pend - seg);
		put_key(t, seg, n);
		if (!dot)
			break;
		ev_put(t, "{", 1);
		depth++;
		seg = dot + 1;
	}
	ev_put(t, json, len);
	while (depth--)
		ev_put(t, "}", 1);
}


int event_set_str(struct event *ev, const char *path, const char *s, size_t n)
{
	struct sbuf *v = &ev->val;   /* its own buffer: s may point into scratch */
	v->len = 0;
	v->err = 0;
	json_put_string(v, s, n);
	return v->err ? -ENOMEM : event_set_json(ev, path, v->p, v->len);
}

/* What removing the member m takes out of the text: [*ra, *rb), the member
 * and one comma beside it, with the blanks around that comma. */
static void removal_span(const struct event *ev, const struct member *m, size_t *ra, size_t *rb)
{
	const char *base = ev->json, *end = ev->json + ev->len;
	const char *a = m->key, *b = m->vend;
	const char *after = ws(b, end);
	if (after < end && *after == ',') {
		b = ws(after + 1, end);        /* "k":v, next -> next */
	} else {
		const char *q = a;             /* prev, "k":v -> prev */
		while (q > base && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\n' || q[-1] == '\r'))
			q--;
		if (q > base && q[-1] == ',') {
			a = q - 1;
			while (a > base && (a[-1] == ' ' || a[-1] == '\t' || a[-1] == '\n' || a[-1] == '\r'))
				a--;
		}
	}
	*ra = (size_t)(a - base);
	*rb = (size_t)(b - base);
}

int event_remove(struct event *ev, const char *path)
{
	ev_ready(ev);
	struct member m;
	if (!locate(ev, path, strlen(path), &m))
		return -ENOENT;
	size_t a, b;
	removal_span(ev, &m, &a, &b);
	return splice(ev, a, b, NULL, 0);
}

/* Moving a root member to a path absent from the event, with no root key
 * on its way (it then lands at the end of the root, as event_set_json puts
 * it once event_remove took the member out): one new text, not two. The
 * member is ridx[j], m its span; to[0..tlen) a path path_ok accepts. */
static int move_to_end(struct event *ev, const struct member *m, const char *to, size_t tlen)
{
	size_t ra, rb;
	removal_span(ev, m, &ra, &rb);
	const char *o, *oe;
	if (root(ev, &o, &oe) < 0)
		return -EINVAL;
	size_t close = (size_t)(oe - 1 - ev->json), vlen = (size_t)(m->vend - m->val);
	struct sbuf *t = &ev->tmp;
	t->len = 0;
	t->err = 0;
	if (sbuf_reserve(t, ev->len + vlen + 2 * tlen + 16) < 0)
		return -ENOMEM;
	ev_put(t, ev->json, ra);
	ev_put(t, ev->json + rb, close - rb);
	/* the root after the removal: empty when the member was its only one */
	const char *empty = "{}";
	size_t grown = put_nested(ev, ev->nridx == 1 ? empty : o, ev->nridx == 1 ? empty + 2 : oe, to, tlen, m->val,
				  vlen);
	ev_put(t, ev->json + close, ev->len - close);
	int rc = ev_take_tmp(ev);
	if (rc == 0) {
		/* as the two changes would have: the removal, then the append */
		idx_update(ev, ra, rb, 0);
		idx_update(ev, close - (rb - ra), close - (rb - ra), grown);
	}
	return rc;
}

int event_move(struct event *ev, const char *from, const char *to)
{
	ev_ready(ev);
	struct member m;
	if (!locate(ev, from, strlen(from), &m))
		return -ENOENT;
	size_t tlen = strlen(to);
	struct member tm;
	int pre = 1;
	if (ev->ridx_state == 1 && path_ok(to, tlen) && !locate_pre(ev, to, tlen, &tm, &pre) && !pre) {
		for (size_t j = 0; j < ev->nridx; j++)
			if (ev->json + ev->ridx[j].k == m.key)
				return move_to_end(ev, &m, to, tlen);
	}
	/* the steps: the value copied (the text changes under it), removed,
	 * written at to */
	struct sbuf *v = &ev->val;
	v->len = 0;
	v->err = 0;
	sbuf_put(v, m.val, (size_t)(m.vend - m.val));
	if (v->err)
		return -ENOMEM;
	event_remove(ev, from);
	return event_set_json(ev, to, v->p, v->len);
}

/* --- merging ------------------------------------------------------------------------ */


/* Collects the members of the object at p into the growable *v. Returns
 * their count, -1 if malformed, -2 out of memory. */
static ssize_t members(const char *p, const char *end, void **vp, size_t *cap)
{
	p = ws(p, end);
	if (p >= end || *p != '{')
		return -1;
	p = ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	size_t n = 0;
	while (p < end) {
		struct mspan s;
		if (*p != '"' || !(s.ke = str_end(p, end, &s.esc)))
			return -1;
		s.k = p;
		p = ws(s.ke, end);
		if (p >= end || *p != ':')
			return -1;
		s.v = ws(p + 1, end);
		if (!(s.ve = skip(s.v, end, 1)))
			return -1;
		if (mspan_push(vp, cap, n, &s) < 0)
			return -2;
		n++;
		p = ws(s.ve, end);
		if (p < end && *p == '}')
			return (ssize_t)n;
		if (p >= end || *p != ',')
			return -1;
		p = ws(p + 1, end);
	}
	return -1;
}

static int span_key_eq(const struct mspan *a, const struct mspan *b)
{
	if (!a->esc && !b->esc)
		return a->ke - a->k == b->ke - b->k && memcmp(a->k, b->k, (size_t)(a->ke - a->k)) == 0;
	char buf[KEY_MAX];
	ssize_t n = unescape(b->k + 1, b->ke, buf, sizeof(buf));
	return n >= 0 && (size_t)n <= sizeof(buf) && key_eq(a->k, a->ke, a->esc, buf, (size_t)n);
}

/* The root's index after a root merge, from the spans the merge used
 * (old text: have[], obj: add[]), so the next lookup needs no scan. */
static void merge_index(struct event *ev, const struct mspan *have, size_t nh, const struct mspan *add, size_t na,
			size_t cut_a, size_t cut_b)
{
	size_t need = nh + na;
	if (need > ev->ridx_cap) {
		struct event_member *nv = realloc(ev->ridx, need * sizeof(*nv));
		if (!nv) {
			ev->ridx_state = 0;
			return;
		}
		ev->ridx = nv;
		ev->ridx_cap = need;
	}
	const char *base = ev->json;
	size_t n = 0, shift_up = 0, shift_down = 0;   /* new = old + up - down */
	for (size_t j = 0; j < nh; j++) {
		const struct mspan *h = &have[j];
		if (cut_b > cut_a && (size_t)(h->k - base) >= cut_b) {
			shift_down += cut_b - cut_a;   /* the removed member was before this one */
			cut_a = cut_b = 0;
		}
		struct event_member e = { (size_t)(h->k - base) + shift_up - shift_down,
					  (size_t)(h->ke - base) + shift_up - shift_down,
					  (size_t)(h->v - base) + shift_up - shift_down, 0, h->esc };
		size_t oldv = (size_t)(h->ve - h->v), newv = oldv;
		if (h->act > 0)
			newv = (size_t)(add[h->act - 1].ve - add[h->act - 1].v);
		e.ve = e.v + newv;
		if (newv > oldv)
			shift_up += newv - oldv;
		else
			shift_down += oldv - newv;
		ev->ridx[n++] = e;
	}
	for (size_t i = 0; i < na; i++) {
		const struct mspan *a = &add[i];
		if (a->act != 0)
			continue;
		ev->ridx[n++] = (struct event_member){ a->at, a->at + (size_t)(a->ke - a->k), a->at + (size_t)(a->v - a->k),
						       a->at + (size_t)(a->ve - a->k), a->esc };
	}
	ev->nridx = n;
	ev->ridx_state = 1;
}

/* One pass: every member of obj replaces the value of the same key in the
 * target object or is appended to it. Keys are taken literally (a dotted key
 * from obj stays one key); of equal keys in obj the last wins. */
static int merge_spans(struct event *ev, const char *path, const char *obj, size_t len, ssize_t na, ssize_t skip);

int event_merge(struct event *ev, const char *path, const char *obj, size_t len)
{
	ev_ready(ev);
	ev->fz_obj = NULL;   /* madd is about to change */
	ssize_t na = members(obj, obj + len, &ev->madd, &ev->madd_cap);
	if (na < 0)
		return na == -2 ? -ENOMEM : -EINVAL;
	return merge_spans(ev, path, obj, len, na, -1);
}

/* A bit of a 64-bit set for the raw key [k, ke) (quotes included): its
 * length, second and next-to-last bytes. Equal keys without escapes get
 * the same bit. */
static inline uint64_t key_bit(const char *k, const char *ke)
{
	size_t kl = (size_t)(ke - k);
	return 1ULL << ((kl * 7 + (unsigned char)k[1] * 3 + (unsigned char)ke[-2]) & 63);
}

/* merge_spans' usual case in one tight pass: the root as target with its
 * index valid, no escaped key on either side, and no key of obj that may
 * equal another one or a root key (key_bit: a false alarm only sends the
 * merge the general way, which gives the same text). The root's text up
 * to its closing brace stays as it is (so do its index entries), obj's
 * members follow. 1 done, 0 not that case (nothing changed), -ENOMEM. */
static int merge_plain(struct event *ev, const char *o, const char *oe, size_t len, size_t na)
{
	const struct mspan *add = ev->madd;
	uint64_t seen = 0;
	for (size_t j = 0; j < ev->nridx; j++) {
		const struct event_member *e = &ev->ridx[j];
		if (e->esc)
			return 0;
		seen |= key_bit(ev->json + e->k, ev->json + e->ke);
	}
	for (size_t i = 0; i < na; i++) {
		uint64_t b = key_bit(add[i].k, add[i].ke);
		if (add[i].esc || (seen & b))
			return 0;
		seen |= b;
	}
	if (ev->nridx + na > ev->ridx_cap) {
		struct event_member *nv = realloc(ev->ridx, (ev->nridx + na) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		ev->ridx = nv;
		ev->ridx_cap = ev->nridx + na;
	}
	struct sbuf *t = &ev->tmp;
	t->len = 0;
	t->err = 0;
	if (sbuf_reserve(t, ev->len + len + na + 16) < 0)
		return -ENOMEM;
	size_t close = (size_t)(oe - 1 - ev->json), n = ev->nridx;
	char *w = t->p;
	memcpy(w, ev->json, close);
	w += close;
	if (!obj_empty(o, oe))
		*w++ = ',';
	/* runs of members one byte apart (that byte is their comma: obj is
	 * valid) are copied whole: a compact obj is one run */
	for (size_t i = 0, r; i < na; i = r) {
		if (i)
			*w++ = ',';
		for (r = i + 1; r < na && add[r].k == add[r - 1].ve + 1; r++)
			;
		const char *from = add[i].k;
		size_t at = (size_t)(w - t->p), rl = (size_t)(add[r - 1].ve - from);
		memcpy(w, from, rl);
		w += rl;
		for (size_t x = i; x < r; x++)
			ev->ridx[n++] = (struct event_member){ at + (size_t)(add[x].k - from), at + (size_t)(add[x].ke - from),
							       at + (size_t)(add[x].v - from), at + (size_t)(add[x].ve - from), 0 };
	}
	memcpy(w, ev->json + close, ev->len - close);
	w += ev->len - close;
	t->len = (size_t)(w - t->p);
	ev->nridx = n;
	ev_take_tmp(ev);   /* cannot fail: tmp's build did not */
	return 1;
}

/* event_merge once obj's na members are in ev->madd. skip >= 0 (root
 * target, index valid): the root member ev->ridx[skip] is removed in the
 * same pass, as event_remove would have before the merge. */
static int merge_spans(struct event *ev, const char *path, const char *obj, size_t len, ssize_t na, ssize_t skip)
{
	const char *o, *oe;
	if (path && *path) {
		struct member m;
		if (!locate(ev, path, strlen(path), &m) || *m.val != '{')
			return event_set_json(ev, path, obj, len);  /* the whole object is the value */
		o = m.val;
		oe = m.vend;
	} else if (root(ev, &o, &oe) < 0) {
		return -EINVAL;
	}
	size_t cut_a = 0, cut_b = 0;   /* the removed member's span, when skip >= 0 */
	if (skip >= 0) {
		const struct event_member *e = &ev->ridx[skip];
		struct member m = { ev->json + e->k, ev->json + e->v, ev->json + e->ve };
		removal_span(ev, &m, &cut_a, &cut_b);
		if (na == 0)
			return splice(ev, cut_a, cut_b, NULL, 0);
	}
	if (na == 0)
		return 0;
	if (!(path && *path) && skip < 0 && ev_root_index(ev)) {
		int rc = merge_plain(ev, o, oe, len, (size_t)na);
		if (rc)
			return rc < 0 ? rc : 0;
	}
	ssize_t nh;
	if (!(path && *path) && ev_root_index(ev)) {
		/* the root's members are indexed already: no scan */
		if (ev->nridx > ev->mhave_cap) {
			void *nv = realloc(ev->mhave, ev->nridx * sizeof(struct mspan));
			if (!nv)
				return -ENOMEM;
			ev->mhave = nv;
			ev->mhave_cap = ev->nridx;
		}
		struct mspan *hv = ev->mhave;
		nh = 0;
		for (size_t j = 0; j < ev->nridx; j++) {
			const struct event_member *e = &ev->ridx[j];
			if ((ssize_t)j != skip)
				hv[nh++] = (struct mspan){ ev->json + e->k, ev->json + e->ke, ev->json + e->v,
							   ev->json + e->ve, e->esc, 0, 0 };
		}
	} else {
		nh = members(o, oe, &ev->mhave, &ev->mhave_cap);
	}
	if (nh < 0)
		return nh == -2 ? -ENOMEM : -EINVAL;
	struct mspan *add = ev->madd, *have = ev->mhave;
	/* Which member replaces which, and which are repeated later (the last
	 * wins). Repeats are looked for only where a small hash of the raw
	 * key (length, first and last byte) was seen among the later members:
	 * a key written with escapes may equal another written without, so
	 * any escape makes every member look. */
	int anyesc = 0;
	for (ssize_t i = 0; i < na; i++)
		anyesc |= add[i].esc;
	uint64_t later = 0;
	size_t nrep = 0;   /* members of obj replacing an existing one */
	for (ssize_t i = na - 1; i >= 0; i--) {
		int r = -1;
		for (ssize_t j = 0; j < nh && r < 0; j++)
			if (have[j].ke - have[j].k == add[i].ke - add[i].k || have[j].esc || add[i].esc)
				if (span_key_eq(&have[j], &add[i]))
					r = (int)j;
		uint64_t hb = anyesc ? ~0ULL : key_bit(add[i].k, add[i].ke);
		if (later & hb)
			for (ssize_t k = i + 1; k < na; k++)
				if ((add[k].ke - add[k].k == add[i].ke - add[i].k || add[k].esc || add[i].esc) &&
				    span_key_eq(&add[k], &add[i])) {
					r = -3;
					break;
				}
		later |= hb;
		add[i].act = r + 1;
		nrep += r >= 0;
	}
	struct sbuf *t = &ev->tmp;
	t->len = 0;
	t->err = 0;
	if (sbuf_reserve(t, ev->len + len + 16) < 0)
		return -ENOMEM;
	const char *cur = ev->json;
	const char *cut = skip >= 0 ? ev->json + cut_a : NULL;
	/* replacements, in text order (have[] is in text order, and each
	 * existing key is replaced by at most one surviving member), and the
	 * removed member's span in its place among them */
	for (ssize_t j = 0; j < nh; j++) {
		ssize_t w = -1;
		for (ssize_t i = 0; i < na && w < 0 && nrep; i++)
			if (add[i].act == (int)j + 1)
				w = i;
		have[j].act = (int)(w + 1);
		if (w < 0)
			continue;
		if (cut && have[j].v > cut) {
			ev_put(t, cur, (size_t)(cut - cur));
			cur = ev->json + cut_b;
			cut = NULL;
		}
		ev_put(t, cur, (size_t)(have[j].v - cur));
		ev_put(t, add[w].v, (size_t)(add[w].ve - add[w].v));
		cur = have[j].ve;
	}
	if (cut) {
		ev_put(t, cur, (size_t)(cut - cur));
		cur = ev->json + cut_b;
	}
	const char *close = oe - 1;
	ev_put(t, cur, (size_t)(close - cur));
	int first = skip >= 0 ? nh == 0 : obj_empty(o, oe);
	for (ssize_t i = 0; i < na; i++) {
		if (add[i].act != 0)
			continue;
		if (!first)
			sbuf_putc(t, ',');
		first = 0;
		add[i].at = t->len;
		ev_put(t, add[i].k, (size_t)(add[i].ve - add[i].k));
	}
	ev_put(t, close, (size_t)(ev->json + ev->len - close));
	if (t->err)
		return -ENOMEM;
	size_t o_off = (size_t)(o - ev->json), oe_off = (size_t)(oe - ev->json), grown = t->len - ev->len;
	if (path && *path) {
		ev_take_tmp(ev);
		idx_update(ev, o_off, oe_off, oe_off - o_off + grown);   /* inside one root member */
		return 0;
	}
	merge_index(ev, have, (size_t)nh, add, (size_t)na, cut_a, cut_b);
	return ev_take_tmp(ev);
}

/* --- validating ---------------------------------------------------------------------- */

static const char *digits(const char *p, const char *end)
{
	const char *s = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p > s ? p : NULL;
}

static const char *valid_num(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (!(p = digits(p, end)))
		return NULL;
	if (p < end && *p == '.' && !(p = digits(p + 1, end)))
		return NULL;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!(p = digits(p, end)))
			return NULL;
	}
	return p;
}

static const char *valid(const char *p, const char *end, int depth)
{
	p = ws(p, end);
	if (p >= end || depth > EVENT_MAX_DEPTH)
		return NULL;
	switch (*p) {
	case '"':
		return valid_str(p, end);
	case '{':
	case '[':
		return container(p, end, depth, 1);
	case 't':
		return end - p >= 4 && !memcmp(p, "true", 4) ? p + 4 : NULL;
	case 'f':
		return end - p >= 5 && !memcmp(p, "false", 5) ? p + 5 : NULL;
	case 'n':
		return end - p >= 4 && !memcmp(p, "null", 4) ? p + 4 : NULL;
	default:
		return valid_num(p, end);
	}
}

int event_json_valid(const char *json, size_t len)
{
	const char *end = json + len;
	const char *p = valid(json, end, 0);
	return p && ws(p, end) == end;
}

int event_json_compact(const char *json, size_t len, struct sbuf *out)
{
	if (!event_json_valid(json, len))
		return 0;
	const char *p = ws(json, json + len), *end = json + len;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (sbuf_reserve(out, (size_t)(end - p)) < 0)
		return 0;
	/* Fast path: nothing to squeeze (no raw line break or tab; spaces
	 * are kept, being legal inside one NDJSON line). */
	if (!memchr(p, '\n', (size_t)(end - p)) && !memchr(p, '\r', (size_t)(end - p)) &&
	    !memchr(p, '\t', (size_t)(end - p))) {
		sbuf_put(out, p, (size_t)(end - p));
		return 1;
	}
	int in_str = 0;
	for (; p < end; p++) {
		char c = *p;
		if (in_str) {
			if (c == '\\' && p + 1 < end) {
				sbuf_putc(out, c);
				c = *++p;
			} else if (c == '"') {
				in_str = 0;
			}
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			continue;
		} else if (c == '"') {
			in_str = 1;
		}
		sbuf_putc(out, c);
	}
	return !out->err;
}

/* --- validating and merging in one pass ----------------------------------------------- */

/* Whether s[0..n) holds a byte below 0x20 (a line break or tab to squeeze,
 * or a raw control byte that makes the text invalid either way): one pass,
 * eight bytes a step, where three memchr calls were. */
static int any_ctl(const char *s, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x = load8(s + i);
		if ((x - ONES * 0x20) & ~x & HIGHS)
			return 1;
	}
	for (; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return 1;
	return 0;
}

/* valid() and members() at once, for text expected to be an object: its
 * members into *vp, each value validated as it is passed. The count; -1 not
 * valid JSON, -3 valid but not an object, -2 out of memory. *o, *oe: the
 * object's span without the blanks around it. */
static ssize_t valid_members(const char *p, const char *end, void **vp, size_t *cap, const char **o,
			     const char **oe)
{
	const char *s = ws(p, end);
	if (s >= end || *s != '{')
		return event_json_valid(p, (size_t)(end - p)) ? -3 : -1;
	*o = s;
	p = ws(s + 1, end);
	size_t n = 0;
	if (p < end && *p == '}') {
		p++;
	} else {
		for (;;) {
			struct mspan m;
			m.esc = 0;
			if (p >= end || *p != '"' || !(m.ke = valid_str_esc(p, end, &m.esc)))
				return -1;
			m.k = p;
			p = ws(m.ke, end);
			if (p >= end || *p != ':')
				return -1;
			m.v = ws(p + 1, end);
			/* a string, the usual value, without valid()'s call */
			if (!(m.ve = m.v < end && *m.v == '"' ? valid_str_esc(m.v, end, NULL) : valid(m.v, end, 1)))
				return -1;
			m.act = 0;
			m.at = 0;
			if (mspan_push(vp, cap, n, &m) < 0)
				return -2;
			n++;
			p = ws(m.ve, end);
			if (p < end && *p == ',') {
				p = ws(p + 1, end);
				continue;
			}
			if (p < end && *p == '}') {
				p++;
				break;
			}
			return -1;
		}
	}
	*oe = p;
	return ws(p, end) == end ? (ssize_t)n : -1;
}

/* event_merge_checked; ctl 0: obj is known to hold no byte below 0x20 */
static int merge_checked(struct event *ev, const char *path, const char *obj, size_t len, const char *remove,
			 int ctl)
{
	ev_ready(ev);
	/* Blanks that span lines (outside strings: inside they are invalid)
	 * are squeezed first, as event_json_compact does; then the plain
	 * scan below finds them no more. The rare case: two passes. */
	int fused = ev->fz_obj && ev->fz_obj == obj && ev->fz_len == len;
	if (!fused && ctl && any_ctl(obj, len)) {
		struct sbuf *v = &ev->val;
		v->len = 0;
		v->err = 0;
		if (!event_json_compact(obj, len, v))
			return v->err ? -ENOMEM : -EBADMSG;
		if (v->p[0] != '{')
			return -EDOM;
		obj = v->p;
		len = v->len;
	}
	const char *o = obj, *oe = obj + len;
	ssize_t na;
	if (fused) {
		/* checked and collected as event_get_decoded decoded it */
		o = ev->fz_o;
		oe = ev->fz_oe;
		na = (ssize_t)ev->fz_na;
	} else {
		na = valid_members(obj, obj + len, &ev->madd, &ev->madd_cap, &o, &oe);
	}
	ev->fz_obj = NULL;
	if (na < 0)
		return na == -2 ? -ENOMEM : na == -3 ? -EDOM : -EBADMSG;
	/* The removal joins the merge's one pass when it takes a whole root
	 * member the index knows (the usual `message`); else it goes first. */
	ssize_t skip = -1;
	if (remove) {
		struct member m;
		if (!(path && *path) && locate(ev, remove, strlen(remove), &m) && ev->ridx_state == 1) {
			for (size_t j = 0; j < ev->nridx && skip < 0; j++)
				if (ev->json + ev->ridx[j].k == m.key)
					skip = (ssize_t)j;
		}
		if (skip < 0)
			event_remove(ev, remove);
	}
	return merge_spans(ev, path, o, (size_t)(oe - o), na, skip);
}

int event_merge_checked(struct event *ev, const char *path, const char *obj, size_t len, const char *remove)
{
	return merge_checked(ev, path, obj, len, remove, 1);
}
