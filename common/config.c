/* YAML configuration (see config.h): libyaml events into a position-carrying
 * tree, conf.d merging, ${ENV} substitution, and schema-driven binding.
 *
 * Memory: every node and string of a tree lives in one arena owned by the
 * root, so an error anywhere frees one thing, copies may share the (never
 * modified) scalar strings, and merging a conf.d file into the main tree only
 * moves the file's arena blocks over.
 *
 * Parsing keeps a stack of the open maps and sequences, never deeper than
 * CFG_MAX_DEPTH. An alias is deep-copied (so merging into one use never
 * changes another); before copying, the anchor's recorded size and height are
 * checked against CFG_MAX_NODES and CFG_MAX_DEPTH, so an alias bomb fails
 * before it allocates. Duplicate keys are found with a hash of each open
 * map's keys, so a huge map costs linear time.
 *
 * Binding walks a cfg_key table; cfg_dump and cfg_doc walk the same table,
 * so what is validated, printed by --check and documented cannot drift. */
#include "common/config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

/* ---- arena ---------------------------------------------------------------- */

#define ARENA_BLOCK 65536

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};
struct arena { struct arena_block *head; };

static void *arena_alloc(struct arena *a, size_t size)
{
	const size_t align = sizeof(max_align_t);
	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + align - 1) / align * align;
	struct arena_block *b = a->head;
	if (!b || b->cap - b->used < size) {
		size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	return p;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* Moves all of src's blocks into dst; src is left empty. */
static void arena_splice(struct arena *dst, struct arena *src)
{
	struct arena_block **tail = &src->head;
	while (*tail)
		tail = &(*tail)->next;
	*tail = dst->head;
	dst->head = src->head;
	src->head = NULL;
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct arena_block *next = a->head->next;
		free(a->head);
		a->head = next;
	}
}

/* ---- string -> index hash (map keys, anchors) ----------------------------- */

/* Open addressing with linear probing; at most half full. Keys are borrowed:
 * they must outlive the map. */
struct strmap_slot { const char *key; size_t val; };
struct strmap { struct strmap_slot *slot; size_t cap, n; };

static uint64_t str_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct strmap_slot *strmap_slot(const struct strmap *m, const char *key)
{
	size_t i = (size_t)str_hash(key) & (m->cap - 1);
	while (m->slot[i].key && strcmp(m->slot[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->slot[i];
}

static int strmap_get(const struct strmap *m, const char *key, size_t *val)
{
	if (!m->cap)
		return 0;
	const struct strmap_slot *s = strmap_slot(m, key);
	if (!s->key)
		return 0;
	*val = s->val;
	return 1;
}

static int strmap_grow(struct strmap *m)
{
	struct strmap old = *m;
	m->cap = old.cap ? old.cap * 2 : 16;
	m->slot = calloc(m->cap, sizeof(*m->slot));
	if (!m->slot) {
		*m = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.slot[i].key)
			*strmap_slot(m, old.slot[i].key) = old.slot[i];
	free(old.slot);
	return 0;
}

/* Sets key to val (replacing an earlier value). 0 or -ENOMEM. */
static int strmap_put(struct strmap *m, const char *key, size_t val)
{
	if ((m->n + 1) * 2 > m->cap && strmap_grow(m) < 0)
		return -ENOMEM;
	struct strmap_slot *s = strmap_slot(m, key);
	if (!s->key) {
		s->key = key;
		m->n++;
	}
	s->val = val;
	return 0;
}

static void strmap_free(struct strmap *m)
{
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

/* ---- growable string ------------------------------------------------------ */

struct strbuf { char *p; size_t n, cap; bool oom; };

static void strbuf_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

/* ---- roots, errors, lookups ----------------------------------------------- */

/* What cfg_parse_* and cfg_load return: the top node, first, so that
 * cfg_free can find the arena from it. */
struct cfg_root {
	struct cfg_node node;
	struct arena arena;
};

static struct cfg_root *root_of(struct cfg_node *n)
{
	return (struct cfg_root *)((char *)n - offsetof(struct cfg_root, node));
}

void cfg_free(struct cfg_node *root)
{
	if (!root)
		return;
	struct cfg_root *r = root_of(root);
	arena_free(&r->arena);
	free(r);
}

static int vfail(struct cfg_error *err, const char *file, int line, int col,
		 const char *fmt, va_list ap)
{
	if (!err)
		return -EINVAL;
	int n = 0;
	if (file)
		n = snprintf(err->msg, sizeof(err->msg), "%s:%d:%d: ", file, line, col);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		n = 0;
	vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
	return -EINVAL;
}

int cfg_fail(struct cfg_error *err, const struct cfg_node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, n ? n->file : NULL, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const struct cfg_node *cfg_get(const struct cfg_node *map, const char *key)
{
	if (!map || map->kind != CFG_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->pairs[i].key->value, key) == 0)
			return map->pairs[i].value;
	return NULL;
}

const struct cfg_node *cfg_at(const struct cfg_node *map, const char *key)
{
	const struct cfg_node *n = cfg_get(map, key);
	return n ? n : map;
}

int cfg_is_null(const struct cfg_node *n)
{
	if (!n)
		return 1;
	if (n->kind != CFG_SCALAR || !n->plain)
		return 0;
	const char *v = n->value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static const char *kind_name(const struct cfg_node *n)
{
	if (cfg_is_null(n))
		return "null";
	return n->kind == CFG_MAP ? "map" : n->kind == CFG_SEQ ? "sequence" : "scalar";
}

/* ---- reading files -------------------------------------------------------- */

/* The whole file, NUL-terminated, at most CFG_MAX_FILE_BYTES. */
static int read_file(const char *path, char **out, size_t *len, struct cfg_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cfg_fail(err, NULL, "%s: cannot open: %s", path, strerror(errno));
	size_t n = 0, cap = 0;
	char *buf = NULL;
	int rc = 0;
	for (;;) {
		if (n == cap) {
			if (cap > CFG_MAX_FILE_BYTES) {
				rc = cfg_fail(err, NULL, "%s: larger than the %u MiB limit for config files",
					      path, CFG_MAX_FILE_BYTES >> 20);
				break;
			}
			cap = cap ? cap * 2 : 4096;
			if (cap > CFG_MAX_FILE_BYTES + 1)
				cap = CFG_MAX_FILE_BYTES + 1;
			char *p = realloc(buf, cap + 1);
			if (!p) {
				rc = cfg_fail(err, NULL, "%s: out of memory", path);
				break;
			}
			buf = p;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = cfg_fail(err, NULL, "%s: cannot read: %s", path, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	if (!buf && !(buf = malloc(1)))
		return cfg_fail(err, NULL, "%s: out of memory", path);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* ---- ${VAR} substitution -------------------------------------------------- */

#define VAR_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

/* Appends the value of the reference at s (just after "${", ending at end,
 * the first "}") to b. Errors are reported at n. */
static int expand_ref(const struct cfg_node *n, const char *s, const char *end,
		      struct strbuf *b, struct cfg_error *err)
{
	size_t len = strspn(s, VAR_CHARS);
	bool has_def = s[len] == ':' && s[len + 1] == '-' && s + len + 2 <= end;
	if (len == 0 || len > 255 || (*s >= '0' && *s <= '9') || (s + len != end && !has_def))
		return cfg_fail(err, n, "bad variable reference \"${%.*s}\" (expected ${NAME} "
				"or ${NAME:-default})", (int)(end - s > 64 ? 64 : end - s), s);
	char name[256];
	memcpy(name, s, len);
	name[len] = '\0';
	const char *v = getenv(name);
	if (has_def && (!v || !*v)) {
		strbuf_add(b, s + len + 2, (size_t)(end - (s + len + 2)));
		return 0;
	}
	if (!v)
		return cfg_fail(err, n, "environment variable %s is not set (use ${%s:-default})",
				name, name);
	strbuf_add(b, v, strlen(v));
	return 0;
}

/* "a.b", "@timestamp.x": a dotted event-field path, as modules' templates
 * use them (topic: logs-${kubernetes.namespace}). */
static bool is_field_ref(const char *s, const char *end)
{
	size_t len = (size_t)(end - s);
	return len > 0 && len <= 255 && memchr(s, '.', len) && s[0] != '.' && end[-1] != '.' &&
	       strspn(s, VAR_CHARS ".@") >= len;
}

/* Writes s with every reference replaced into b (b->p stays NULL for ""). */
static int expand_env(const struct cfg_node *n, const char *s, struct strbuf *b,
		      struct cfg_error *err)
{
	while (*s) {
		if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
			strbuf_add(b, "${", 2);
			s += 3;
			continue;
		}
		if (s[0] != '$' || s[1] != '{') {
			size_t run = strcspn(s + 1, "$") + 1;
			strbuf_add(b, s, run);
			s += run;
			continue;
		}
		const char *end = strchr(s + 2, '}');
		if (!end)
			return cfg_fail(err, n, "unterminated ${ (write $${ for a literal ${)");
		if (is_field_ref(s + 2, end)) {
			/* ${kubernetes.namespace}: an event field for the module's
			 * template, never an environment variable (names of those
			 * have no dots), so it stays as written. */
			strbuf_add(b, s, (size_t)(end + 1 - s));
			s = end + 1;
			continue;
		}
		int rc = expand_ref(n, s + 2, end, b, err);
		if (rc)
			return rc;
		s = end + 1;
	}
	return b->oom ? cfg_fail(err, n, "out of memory") : 0;
}

/* ---- parsing: libyaml events to a tree ------------------------------------ */

/* An open map or sequence. A map's kids alternate key, value; an odd count
 * means the next node is a value. */
struct frame {
	struct cfg_node *node;
	struct cfg_node **kids;
	size_t n, cap;
	struct strmap keys;            /* a map's keys -> index of the key in kids */
	const char *anchor;            /* arena copy, or NULL */
	size_t nodes0;                 /* parse.nodes before this node was made */
	int height;                    /* collection levels, this one included */
};

/* A completed anchored node: what an alias to it would add to the tree. */
struct anchor {
	const struct cfg_node *node;
	size_t size;
	int height;
};

struct parse {
	yaml_parser_t yp;
	struct cfg_root *root;
	const char *file;
	struct cfg_error *err;
	struct frame stack[CFG_MAX_DEPTH];
	int depth;
	struct anchor *anchors;
	size_t nanchors, capanchors;
	struct strmap anchor_index;    /* name (arena) -> latest definition */
	size_t nodes;                  /* made so far, copies included */
	int docs;
	struct cfg_node *top;
	int top_height;
};

static int fail_mark(struct parse *p, yaml_mark_t m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_mark(struct parse *p, yaml_mark_t m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(p->err, p->file, (int)m.line + 1, (int)m.column + 1, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static struct cfg_node *new_node(struct parse *p, enum cfg_kind kind, yaml_mark_t m)
{
	if (p->nodes >= CFG_MAX_NODES) {
		fail_mark(p, m, "more than %d nodes in one file", CFG_MAX_NODES);
		return NULL;
	}
	struct cfg_node *n = arena_alloc(&p->root->arena, sizeof(*n));
	if (!n) {
		fail_mark(p, m, "out of memory");
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->file = p->file;
	n->line = (int)m.line + 1;
	n->col = (int)m.column + 1;
	p->nodes++;
	return n;
}

/* Is the next node of the innermost open collection a map key? */
static bool at_key(const struct parse *p)
{
	const struct frame *f = p->depth ? &p->stack[p->depth - 1] : NULL;
	return f && f->node->kind == CFG_MAP && f->n % 2 == 0;
}

static int remember_anchor(struct parse *p, const char *name, const struct cfg_node *n,
			   size_t nodes0, int height)
{
	if (p->nanchors == p->capanchors) {
		size_t cap = p->capanchors ? p->capanchors * 2 : 8;
		struct anchor *a = realloc(p->anchors, cap * sizeof(*a));
		if (!a)
			return cfg_fail(p->err, n, "out of memory");
		p->anchors = a;
		p->capanchors = cap;
	}
	p->anchors[p->nanchors] = (struct anchor){ n, p->nodes - nodes0, height };
	if (strmap_put(&p->anchor_index, name, p->nanchors++) < 0)
		return cfg_fail(p->err, n, "out of memory");
	return 0;
}

/* Hangs a completed node (of the given height) into the innermost open
 * collection, or makes it the document's top node. */
static int attach(struct parse *p, struct cfg_node *n, int height)
{
	if (!p->depth) {
		p->top = n;
		p->top_height = height;
		return 0;
	}
	struct frame *f = &p->stack[p->depth - 1];
	if (at_key(p)) {
		size_t first;
		if (n->kind != CFG_SCALAR)
			return cfg_fail(p->err, n, "a map key must be a scalar, not a %s",
					kind_name(n));
		if (strmap_get(&f->keys, n->value, &first))
			return cfg_fail(p->err, n, "duplicate key \"%s\" (first at line %d, column %d)",
					n->value, f->kids[first]->line, f->kids[first]->col);
		if (strmap_put(&f->keys, n->value, f->n) < 0)
			return cfg_fail(p->err, n, "out of memory");
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct cfg_node **k = realloc(f->kids, cap * sizeof(*k));
		if (!k)
			return cfg_fail(p->err, n, "out of memory");
		f->kids = k;
		f->cap = cap;
	}
	f->kids[f->n++] = n;
	if (height + 1 > f->height)
		f->height = height + 1;
	return 0;
}

static int on_scalar(struct parse *p, const yaml_event_t *ev)
{
	const char *raw = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	size_t nodes0 = p->nodes;
	struct cfg_node *n = new_node(p, CFG_SCALAR, ev->start_mark);
	if (!n)
		return -EINVAL;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (memchr(raw, '\0', len))
		return cfg_fail(p->err, n, "a NUL character is not allowed in a string");
	if (at_key(p) || !strstr(raw, "${")) {
		n->value = arena_strndup(&p->root->arena, raw, len);
	} else {
		struct strbuf b = { 0 };
		int rc = expand_env(n, raw, &b, p->err);
		if (!rc)
			n->value = arena_strndup(&p->root->arena, b.p ? b.p : "", b.n);
		free(b.p);
		if (rc)
			return rc;
	}
	if (!n->value)
		return cfg_fail(p->err, n, "out of memory");
	const char *anchor = (const char *)ev->data.scalar.anchor;
	if (anchor) {
		const char *name = arena_strndup(&p->root->arena, anchor, strlen(anchor));
		if (!name || remember_anchor(p, name, n, nodes0, 0) < 0)
			return cfg_fail(p->err, n, "out of memory");
	}
	return attach(p, n, 0);
}

static int on_open(struct parse *p, const yaml_event_t *ev, enum cfg_kind kind,
		   const yaml_char_t *anchor)
{
	if (p->depth == CFG_MAX_DEPTH)
		return fail_mark(p, ev->start_mark, "nested deeper than %d levels", CFG_MAX_DEPTH);
	size_t nodes0 = p->nodes;
	struct cfg_node *n = new_node(p, kind, ev->start_mark);
	if (!n)
		return -EINVAL;
	struct frame *f = &p->stack[p->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	f->nodes0 = nodes0;
	f->height = 1;
	if (anchor) {
		f->anchor = arena_strndup(&p->root->arena, (const char *)anchor,
					  strlen((const char *)anchor));
		if (!f->anchor)
			return cfg_fail(p->err, n, "out of memory");
	}
	return 0;
}

static void frame_release(struct frame *f)
{
	free(f->kids);
	strmap_free(&f->keys);
	f->kids = NULL;
	f->n = f->cap = 0;
}

/* Closes the innermost collection: its children move into the arena. */
static int on_close(struct parse *p)
{
	struct frame *f = &p->stack[--p->depth];
	struct cfg_node *n = f->node;
	struct arena *a = &p->root->arena;
	if (n->kind == CFG_MAP) {
		n->n = f->n / 2;
		n->pairs = n->n ? arena_alloc(a, n->n * sizeof(*n->pairs)) : NULL;
		for (size_t i = 0; n->pairs && i < n->n; i++)
			n->pairs[i] = (struct cfg_pair){ f->kids[2 * i], f->kids[2 * i + 1] };
	} else {
		n->n = f->n;
		n->items = n->n ? arena_alloc(a, n->n * sizeof(*n->items)) : NULL;
		if (n->items)
			memcpy(n->items, f->kids, n->n * sizeof(*n->items));
	}
	frame_release(f);
	if (n->n && !n->pairs && !n->items)
		return cfg_fail(p->err, n, "out of memory");
	if (f->anchor && remember_anchor(p, f->anchor, n, f->nodes0, f->height) < 0)
		return -EINVAL;
	return attach(p, n, f->height);
}

/* A deep copy of src (scalar strings shared); counts the nodes it makes. */
static struct cfg_node *copy_tree(struct parse *p, const struct cfg_node *src)
{
	struct arena *a = &p->root->arena;
	struct cfg_node *n = arena_alloc(a, sizeof(*n));
	if (!n)
		return NULL;
	*n = *src;
	p->nodes++;
	if (!src->n || src->kind == CFG_SCALAR)
		return n;
	if (src->kind == CFG_MAP) {
		if (!(n->pairs = arena_alloc(a, n->n * sizeof(*n->pairs))))
			return NULL;
		for (size_t i = 0; i < n->n; i++) {
			n->pairs[i].key = copy_tree(p, src->pairs[i].key);
			n->pairs[i].value = copy_tree(p, src->pairs[i].value);
			if (!n->pairs[i].key || !n->pairs[i].value)
				return NULL;
		}
	} else {
		if (!(n->items = arena_alloc(a, n->n * sizeof(*n->items))))
			return NULL;
		for (size_t i = 0; i < n->n; i++)
			if (!(n->items[i] = copy_tree(p, src->items[i])))
				return NULL;
	}
	return n;
}

static int on_alias(struct parse *p, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t i;
	if (!strmap_get(&p->anchor_index, name, &i))
		return fail_mark(p, ev->start_mark, "unknown alias *%s (no complete &%s before it)",
				 name, name);
	const struct anchor *a = &p->anchors[i];
	if (p->nodes + a->size > CFG_MAX_NODES)
		return fail_mark(p, ev->start_mark, "alias *%s expands the document past %d nodes",
				 name, CFG_MAX_NODES);
	if (p->depth + a->height > CFG_MAX_DEPTH)
		return fail_mark(p, ev->start_mark, "alias *%s nests deeper than %d levels",
				 name, CFG_MAX_DEPTH);
	struct cfg_node *n = copy_tree(p, a->node);
	if (!n)
		return fail_mark(p, ev->start_mark, "out of memory");
	n->line = (int)ev->start_mark.line + 1;    /* the copy's top is where it is used */
	n->col = (int)ev->start_mark.column + 1;
	return attach(p, n, a->height);
}

static int on_event(struct parse *p, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (p->docs++)
			return fail_mark(p, ev->start_mark,
					 "a second YAML document (a config file holds one)");
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(p, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_open(p, ev, CFG_SEQ, ev->data.sequence_start.anchor);
	case YAML_MAPPING_START_EVENT:
		return on_open(p, ev, CFG_MAP, ev->data.mapping_start.anchor);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_close(p);
	case YAML_ALIAS_EVENT:
		return on_alias(p, ev);
	default:
		return 0;
	}
}

/* 1-based line and column of byte offset off in text (columns count
 * characters, as libyaml's marks do). */
static void offset_position(const char *text, size_t len, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static int syntax_error(struct parse *p, const char *text, size_t len)
{
	const yaml_parser_t *yp = &p->yp;
	const char *problem = yp->problem ? yp->problem : "YAML syntax error";
	if (yp->error == YAML_MEMORY_ERROR)
		problem = "out of memory";
	if (yp->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a mark. */
		struct cfg_node at = { .file = p->file };
		offset_position(text, len, yp->problem_offset, &at.line, &at.col);
		return cfg_fail(p->err, &at, "%s", problem);
	}
	return fail_mark(p, yp->problem_mark, "%s", problem);
}

/* The document's top node goes into the root. An absent document or (unless
 * keep_null) a null top becomes an empty map. */
static int finish_top(struct parse *p, bool keep_null)
{
	yaml_mark_t start = { 0, 0, 0 };
	struct cfg_node *top = p->top;
	if (!top || (!keep_null && cfg_is_null(top))) {
		if (top) {
			start.line = (size_t)top->line - 1;
			start.column = (size_t)top->col - 1;
		}
		top = new_node(p, keep_null ? CFG_SCALAR : CFG_MAP, start);
		if (!top)
			return -EINVAL;
		top->plain = 1;
		top->value = keep_null ? (char *)"" : NULL;
	}
	p->root->node = *top;
	return 0;
}

static void parse_release(struct parse *p)
{
	for (int i = 0; i < p->depth; i++)
		frame_release(&p->stack[i]);
	free(p->anchors);
	strmap_free(&p->anchor_index);
	yaml_parser_delete(&p->yp);
}

/* Parses len bytes of text (named name in positions) into a new root. */
static struct cfg_node *parse_text(const char *name, const char *text, size_t len,
				   bool keep_null, struct cfg_error *err)
{
	if (len > CFG_MAX_FILE_BYTES) {
		cfg_fail(err, NULL, "%s: larger than the %u MiB limit for config files",
			 name, CFG_MAX_FILE_BYTES >> 20);
		return NULL;
	}
	struct parse *p = calloc(1, sizeof(*p));
	struct cfg_root *root = calloc(1, sizeof(*root));
	if (!p || !root || !yaml_parser_initialize(&p->yp)) {
		cfg_fail(err, NULL, "%s: out of memory", name);
		free(p);
		free(root);
		return NULL;
	}
	p->root = root;
	p->err = err;
	p->file = arena_strndup(&root->arena, name, strlen(name));
	int rc = p->file ? 0 : cfg_fail(err, NULL, "%s: out of memory", name);
	yaml_parser_set_input_string(&p->yp, (const unsigned char *)text, len);
	for (bool done = false; !done && !rc;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p->yp, &ev)) {
			rc = syntax_error(p, text, len);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(p, &ev);
		yaml_event_delete(&ev);
	}
	if (!rc)
		rc = finish_top(p, keep_null);
	parse_release(p);
	free(p);
	if (rc) {
		cfg_free(&root->node);
		return NULL;
	}
	return &root->node;
}

struct cfg_node *cfg_parse_string(const char *name, const char *text, struct cfg_error *err)
{
	return parse_text(name, text, strnlen(text, CFG_MAX_FILE_BYTES + 1), false, err);
}

struct cfg_node *cfg_parse_file(const char *path, struct cfg_error *err)
{
	char *text = NULL;
	size_t len = 0;
	if (read_file(path, &text, &len, err) < 0)
		return NULL;
	struct cfg_node *root = parse_text(path, text, len, false, err);
	free(text);
	return root;
}

/* ---- cfg_load: merging conf.d --------------------------------------------- */

static int merge(struct cfg_node *dst, const struct cfg_node *src, char *path,
		 size_t pathsz, struct arena *a, struct cfg_error *err);

static int merge_seqs(struct cfg_node *dst, const struct cfg_node *src, struct arena *a,
		      struct cfg_error *err)
{
	struct cfg_node **items = arena_alloc(a, (dst->n + src->n) * sizeof(*items));
	if (!items)
		return cfg_fail(err, src, "out of memory");
	memcpy(items, dst->items, dst->n * sizeof(*items));
	memcpy(items + dst->n, src->items, src->n * sizeof(*items));
	dst->items = items;
	dst->n += src->n;
	return 0;
}

/* Adds src's keys to dst: a key dst has is merged, a new one appended. */
static int merge_maps(struct cfg_node *dst, const struct cfg_node *src, char *path,
		      size_t pathsz, struct arena *a, struct cfg_error *err)
{
	struct strmap idx = { 0 };
	size_t j, fresh = 0, n = dst->n, plen = strlen(path);
	int rc = 0;
	for (size_t i = 0; i < dst->n && !rc; i++)
		rc = strmap_put(&idx, dst->pairs[i].key->value, i);
	for (size_t i = 0; i < src->n && !rc; i++)
		fresh += !strmap_get(&idx, src->pairs[i].key->value, &j);
	struct cfg_pair *out = dst->pairs;
	if (!rc && fresh && (out = arena_alloc(a, (n + fresh) * sizeof(*out))) && n)
		memcpy(out, dst->pairs, n * sizeof(*out));
	if (rc || (fresh && !out)) {
		strmap_free(&idx);
		return cfg_fail(err, src, "out of memory");
	}
	for (size_t i = 0; i < src->n && !rc; i++) {
		const struct cfg_pair *s = &src->pairs[i];
		if (!strmap_get(&idx, s->key->value, &j)) {
			out[n++] = *s;
			continue;
		}
		snprintf(path + plen, pathsz - plen, "%s%s", plen ? "." : "", s->key->value);
		rc = merge(out[j].value, s->value, path, pathsz, a, err);
		path[plen] = '\0';
	}
	strmap_free(&idx);
	dst->pairs = out;
	dst->n = n;
	return rc;
}

/* Merges src (a later file) into dst: maps key by key, sequences
 * concatenated, scalars replaced; null yields to the other side. path names
 * dst for messages ("" at the top). */
static int merge(struct cfg_node *dst, const struct cfg_node *src, char *path,
		 size_t pathsz, struct arena *a, struct cfg_error *err)
{
	if (cfg_is_null(src))
		return 0;
	if (cfg_is_null(dst) || (dst->kind == CFG_SCALAR && src->kind == CFG_SCALAR)) {
		*dst = *src;
		return 0;
	}
	if (dst->kind != src->kind)
		return cfg_fail(err, src, "%s: a %s here cannot merge with the %s at %s:%d:%d",
				*path ? path : "top level", kind_name(src), kind_name(dst),
				dst->file, dst->line, dst->col);
	if (src->kind == CFG_SEQ)
		return merge_seqs(dst, src, a, err);
	return merge_maps(dst, src, path, pathsz, a, err);
}

static int cmp_names(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static bool conf_name(const char *name)
{
	size_t n = strlen(name);
	if (name[0] == '.')
		return false;
	return (n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The *.yaml and *.yml names in dir, sorted; a missing dir has none. */
static int list_conf_dir(const char *dir, char ***out, size_t *count, struct cfg_error *err)
{
	*out = NULL;
	*count = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : cfg_fail(err, NULL, "%s: cannot open: %s", dir,
						       strerror(errno));
	char **names = calloc(CFG_MAX_CONF_FILES, sizeof(*names));
	size_t n = 0;
	int rc = names ? 0 : cfg_fail(err, NULL, "%s: out of memory", dir);
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		if (!conf_name(e->d_name))
			continue;
		if (n == CFG_MAX_CONF_FILES)
			rc = cfg_fail(err, NULL, "%s: more than %d config files", dir,
				      CFG_MAX_CONF_FILES);
		else if (!(names[n++] = strdup(e->d_name)))
			rc = cfg_fail(err, NULL, "%s: out of memory", dir);
	}
	closedir(d);
	if (rc) {
		free_names(names, n);
		return rc;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*count = n;
	return 0;
}

static int merge_file(struct cfg_node *root, const char *path, struct cfg_error *err)
{
	struct cfg_node *part = cfg_parse_file(path, err);
	if (!part)
		return -EINVAL;
	char keypath[512] = "";
	int rc = merge(root, part, keypath, sizeof(keypath), &root_of(root)->arena, err);
	/* root may now point into part's arena: it moves over even on error. */
	arena_splice(&root_of(root)->arena, &root_of(part)->arena);
	cfg_free(part);
	return rc;
}

/* "conf.d" in the directory of main_file. */
static char *conf_dir_beside(const char *main_file)
{
	const char *slash = strrchr(main_file, '/');
	size_t dirlen = slash ? (size_t)(slash - main_file) + 1 : 0;
	char *dir = malloc(dirlen + sizeof("conf.d"));
	if (dir) {
		memcpy(dir, main_file, dirlen);
		memcpy(dir + dirlen, "conf.d", sizeof("conf.d"));
	}
	return dir;
}

struct cfg_node *cfg_load(const char *main_file, const char *conf_dir, struct cfg_error *err)
{
	struct cfg_node *root = cfg_parse_file(main_file, err);
	if (!root)
		return NULL;
	char *dir = conf_dir ? strdup(conf_dir) : conf_dir_beside(main_file);
	char **names = NULL;
	size_t n = 0;
	int rc = dir ? list_conf_dir(dir, &names, &n, err) : cfg_fail(err, NULL, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		char *path = malloc(len);
		if (!path) {
			rc = cfg_fail(err, NULL, "out of memory");
			break;
		}
		snprintf(path, len, "%s/%s", dir, names[i]);
		rc = merge_file(root, path, err);
		free(path);
	}
	free_names(names, n);
	free(dir);
	if (rc) {
		cfg_free(root);
		return NULL;
	}
	return root;
}

/* ---- value parsers -------------------------------------------------------- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static const char *skip_blanks(const char *s) { return s + strspn(s, " \t"); }

/* "digits[.digits]" at *s: the whole part and the fraction in millionths
 * (further digits are dropped). -EINVAL, -ERANGE. */
static int parse_decimal(const char **s, uint64_t *whole, uint64_t *micro)
{
	const char *p = *s;
	uint64_t w = 0, f = 0;
	if (!is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (w > (UINT64_MAX - d) / 10)
			return -ERANGE;
		w = w * 10 + d;
	}
	if (*p == '.') {
		if (!is_digit(*++p))
			return -EINVAL;
		/* place: millionths per unit of this digit; 0 from the 7th on */
		for (uint64_t place = 100000; is_digit(*p); p++, place /= 10)
			f += (uint64_t)(*p - '0') * place;
	}
	*whole = w;
	*micro = f;
	*s = p;
	return 0;
}

/* (whole + micro / 10^6) * unit, rounded down. unit <= 2^40 keeps
 * micro * unit within 64 bits. */
static int scale(uint64_t whole, uint64_t micro, uint64_t unit, uint64_t *out)
{
	uint64_t v;
	if (__builtin_mul_overflow(whole, unit, &v) ||
	    __builtin_add_overflow(v, micro * unit / 1000000, &v))
		return -ERANGE;
	*out = v;
	return 0;
}

struct unit { const char *name; uint64_t mult; };

static const struct unit size_units[] = {
	{ "", 1 }, { "b", 1 },
	{ "k", 1ull << 10 }, { "kib", 1ull << 10 }, { "kb", 1000ull },
	{ "m", 1ull << 20 }, { "mib", 1ull << 20 }, { "mb", 1000000ull },
	{ "g", 1ull << 30 }, { "gib", 1ull << 30 }, { "gb", 1000000000ull },
	{ "t", 1ull << 40 }, { "tib", 1ull << 40 }, { "tb", 1000000000000ull },
	{ NULL, 0 },
};

/* -EINVAL for a bad form, -ERANGE for overflow. */
static int parse_size(const char *s, uint64_t *out)
{
	uint64_t w, f;
	int rc = parse_decimal(&s, &w, &f);
	if (rc)
		return rc;
	s = skip_blanks(s);
	for (const struct unit *u = size_units; u->name; u++)
		if (!strcasecmp(s, u->name))
			return scale(w, f, u->mult, out);
	return -EINVAL;
}

int cfg_parse_size(const char *s, uint64_t *out)
{
	return parse_size(s, out) ? -EINVAL : 0;
}

static const struct unit duration_units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
	{ NULL, 0 },
};

/* One or more number+unit parts; a lone number is seconds. -EINVAL, -ERANGE. */
static int parse_duration(const char *s, int64_t *ms)
{
	uint64_t total = 0;
	for (int parts = 0; *s || !parts; parts++) {
		uint64_t w, f, v, mult = 0;
		int rc = parse_decimal(&s, &w, &f);
		if (rc)
			return rc;
		s = skip_blanks(s);
		size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyz");
		for (const struct unit *u = duration_units; u->name && len; u++)
			if (strlen(u->name) == len && !strncmp(s, u->name, len))
				mult = u->mult;
		if (!len && !parts && !*s)
			mult = 1000;
		if (!mult)
			return -EINVAL;
		if (scale(w, f, mult, &v) || __builtin_add_overflow(total, v, &total) ||
		    total > INT64_MAX)
			return -ERANGE;
		s = skip_blanks(s + len);
	}
	*ms = (int64_t)total;
	return 0;
}

int cfg_parse_duration(const char *s, int64_t *ms)
{
	return parse_duration(s, ms) ? -EINVAL : 0;
}

int cfg_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1", NULL };
	static const char *const no[] = { "false", "no", "off", "0", NULL };
	for (int i = 0; yes[i]; i++) {
		if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
			*out = !strcasecmp(s, yes[i]);
			return 0;
		}
	}
	return -EINVAL;
}

/* A decimal int64 with an optional sign. -EINVAL, -ERANGE. */
static int parse_int(const char *s, int64_t *out)
{
	bool neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	if (!is_digit(*s))
		return -EINVAL;
	uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; is_digit(*s); s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (lim - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (*s)
		return -EINVAL;
	*out = neg ? (v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	return 0;
}

#define HOST_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_"

/* Is [h, h+len) an IPv6 literal as written in brackets (with an optional
 * %zone)? Only the alphabet is checked; the resolver judges the rest. */
static bool v6_literal(const char *h, size_t len)
{
	const char *pct = memchr(h, '%', len);
	size_t addr = pct ? (size_t)(pct - h) : len;
	size_t ok = strspn(h, "0123456789abcdefABCDEF:.");
	if (ok < addr || !memchr(h, ':', addr))
		return false;
	if (!pct)
		return true;
	return len - addr > 1 && strspn(pct + 1, HOST_CHARS) >= len - addr - 1;
}

int cfg_parse_hostport(const char *s, char *host, size_t hostsz, uint16_t *port)
{
	const char *h = s, *colon;
	size_t hlen;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || !v6_literal(s + 1, (size_t)(close - s - 1)))
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
		if (strspn(s, HOST_CHARS) != hlen)
			return -EINVAL;
	}
	const char *p = colon + 1;
	size_t digits = strspn(p, "0123456789");
	if (!digits || p[digits] || hlen > 253)
		return -EINVAL;
	if (digits > 5 || atol(p) > 65535)
		return -ERANGE;
	if (host) {
		if (hlen >= hostsz)
			return -EINVAL;
		memcpy(host, h, hlen);
		host[hlen] = '\0';
	}
	if (port)
		*port = (uint16_t)atol(p);
	return 0;
}

/* ---- formatting values ---------------------------------------------------- */

/* The exact value in the largest unit that divides it: "1GiB", "1500". */
static void format_size(uint64_t v, char *buf, size_t sz)
{
	static const char *const names[] = { "TiB", "GiB", "MiB", "KiB" };
	for (int i = 0; i < 4 && v; i++) {
		uint64_t mult = 1ull << (10 * (4 - i));
		if (v % mult == 0) {
			snprintf(buf, sz, "%llu%s", (unsigned long long)(v / mult), names[i]);
			return;
		}
	}
	snprintf(buf, sz, "%llu", (unsigned long long)v);
}

/* The exact value in the largest unit that divides it: "5m", "1500ms". */
static void format_duration(int64_t ms, char *buf, size_t sz)
{
	for (int i = 4; i > 0 && ms; i--) {
		const struct unit *u = &duration_units[i];
		if (ms % (int64_t)u->mult == 0) {
			snprintf(buf, sz, "%lld%s", (long long)(ms / (int64_t)u->mult), u->name);
			return;
		}
	}
	snprintf(buf, sz, "%lld%s", (long long)ms, ms ? "ms" : "s");
}

/* What a message says was found: "a map", "null", or the quoted text
 * (escaped, cut at 64 characters). */
static const char *got(const struct cfg_node *v, char *buf, size_t sz)
{
	if (cfg_is_null(v) || v->kind != CFG_SCALAR) {
		snprintf(buf, sz, "%s", cfg_is_null(v) ? "null" :
			 v->kind == CFG_MAP ? "a map" : "a sequence");
		return buf;
	}
	size_t o = 0;
	buf[o++] = '"';
	for (const char *s = v->value; *s && o + 8 < sz; s++) {
		if (s - v->value == 64) {
			o += (size_t)snprintf(buf + o, sz - o, "...");
			break;
		}
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, sz - o, c == '"' || c == '\\' ? "\\%c" :
					      "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* ---- binding -------------------------------------------------------------- */

#define FIELD(obj, k, type) ((type *)((char *)(obj) + (k)->offset))
#define CFIELD(obj, k, type) ((type const *)((const char *)(obj) + (k)->offset))

struct bind {
	void *obj;
	struct cfg_error *err;
};

static int bind_map(struct bind *b, const struct cfg_node *map, const struct cfg_node *where,
		    const struct cfg_key *keys, const char *section, const char *const *ignore);

/* Zeroes every field the table names, so that a failed bind can be undone. */
static void bind_init(const struct cfg_key *keys, void *obj)
{
	for (const struct cfg_key *k = keys; k->name; k++) {
		switch (k->type) {
		case CFG_T_STRING:
		case CFG_T_HOSTPORT: *FIELD(obj, k, char *) = NULL; break;
		case CFG_T_INT:
		case CFG_T_DURATION: *FIELD(obj, k, int64_t) = 0; break;
		case CFG_T_BOOL:
		case CFG_T_ENUM: *FIELD(obj, k, int) = 0; break;
		case CFG_T_SIZE: *FIELD(obj, k, uint64_t) = 0; break;
		case CFG_T_STRLIST: *FIELD(obj, k, struct cfg_strlist) = (struct cfg_strlist){ 0 }; break;
		case CFG_T_NODE: *FIELD(obj, k, const struct cfg_node *) = NULL; break;
		case CFG_T_SECTION: bind_init(k->section, obj); break;
		}
	}
}

void cfg_unbind(const struct cfg_key *keys, void *obj)
{
	for (const struct cfg_key *k = keys; k->name; k++) {
		if (k->type == CFG_T_STRING || k->type == CFG_T_HOSTPORT) {
			free(*FIELD(obj, k, char *));
			*FIELD(obj, k, char *) = NULL;
		} else if (k->type == CFG_T_STRLIST) {
			struct cfg_strlist *l = FIELD(obj, k, struct cfg_strlist);
			for (size_t i = 0; i < l->n; i++)
				free(l->v[i]);
			free(l->v);
			*l = (struct cfg_strlist){ 0 };
		} else if (k->type == CFG_T_SECTION) {
			cfg_unbind(k->section, obj);
		}
	}
}

static int expected(struct bind *b, const struct cfg_node *v, const char *path, const char *what)
{
	char g[96];
	return cfg_fail(b->err, v, "%s: expected %s, got %s", path, what, got(v, g, sizeof(g)));
}

static int out_of_range(struct bind *b, const struct cfg_node *v, const char *path,
			const char *lo, const char *hi)
{
	char g[96];
	return cfg_fail(b->err, v, "%s: must be between %s and %s, got %s", path, lo, hi,
			got(v, g, sizeof(g)));
}

static bool has_bounds(const struct cfg_key *k) { return k->min < k->max; }

static int bind_int(struct bind *b, const struct cfg_key *k, const struct cfg_node *v,
		    const char *path)
{
	int64_t x;
	char lo[32], hi[32], g[96];
	int rc = parse_int(v->value, &x);
	if (rc == -ERANGE)
		return cfg_fail(b->err, v, "%s: integer too large, got %s", path, got(v, g, sizeof(g)));
	if (rc)
		return expected(b, v, path, "an integer");
	if (has_bounds(k) && (x < k->min || x > k->max)) {
		snprintf(lo, sizeof(lo), "%lld", (long long)k->min);
		snprintf(hi, sizeof(hi), "%lld", (long long)k->max);
		return out_of_range(b, v, path, lo, hi);
	}
	*FIELD(b->obj, k, int64_t) = x;
	return 0;
}

static int bind_size(struct bind *b, const struct cfg_key *k, const struct cfg_node *v,
		     const char *path)
{
	uint64_t x;
	char lo[32], hi[32], g[96];
	int rc = parse_size(v->value, &x);
	if (rc == -ERANGE)
		return cfg_fail(b->err, v, "%s: size too large, got %s", path, got(v, g, sizeof(g)));
	if (rc)
		return expected(b, v, path, "a size like 512MiB or 1GiB");
	if (has_bounds(k) && ((k->min > 0 && x < (uint64_t)k->min) ||
			      (k->max < 0 || x > (uint64_t)k->max))) {
		format_size(k->min > 0 ? (uint64_t)k->min : 0, lo, sizeof(lo));
		format_size(k->max > 0 ? (uint64_t)k->max : 0, hi, sizeof(hi));
		return out_of_range(b, v, path, lo, hi);
	}
	*FIELD(b->obj, k, uint64_t) = x;
	return 0;
}

static int bind_duration(struct bind *b, const struct cfg_key *k, const struct cfg_node *v,
			 const char *path)
{
	int64_t x;
	char lo[32], hi[32], g[96];
	int rc = parse_duration(v->value, &x);
	if (rc == -EINVAL && v->value[0] == '-' && parse_duration(v->value + 1, &x) != -EINVAL)
		return cfg_fail(b->err, v, "%s: a duration cannot be negative, got %s", path,
				got(v, g, sizeof(g)));
	if (rc == -ERANGE)
		return cfg_fail(b->err, v, "%s: duration too long, got %s", path, got(v, g, sizeof(g)));
	if (rc)
		return expected(b, v, path, "a duration like 250ms, 30s or 5m");
	if (has_bounds(k) && (x < k->min || x > k->max)) {
		format_duration(k->min, lo, sizeof(lo));
		format_duration(k->max, hi, sizeof(hi));
		return out_of_range(b, v, path, lo, hi);
	}
	*FIELD(b->obj, k, int64_t) = x;
	return 0;
}

/* Any node: a map or sequence gets the same message, listing the choices. */
static int bind_enum(struct bind *b, const struct cfg_key *k, const struct cfg_node *v,
		     const char *path)
{
	char what[512] = "one of ";
	for (int i = 0; k->choices && k->choices[i]; i++) {
		if (v->kind == CFG_SCALAR && !strcmp(v->value, k->choices[i])) {
			*FIELD(b->obj, k, int) = i;
			return 0;
		}
		size_t o = strlen(what);
		snprintf(what + o, sizeof(what) - o, "%s%s", i ? ", " : "", k->choices[i]);
	}
	return expected(b, v, path, what);
}

static int bind_strlist(struct bind *b, const struct cfg_key *k, const struct cfg_node *v,
			const char *path)
{
	struct cfg_strlist *l = FIELD(b->obj, k, struct cfg_strlist);
	if (v->kind == CFG_MAP)
		return expected(b, v, path, "a list of strings");
	size_t n = v->kind == CFG_SEQ ? v->n : 1;
	const struct cfg_node *const *items = v->kind == CFG_SEQ ?
		(const struct cfg_node *const *)v->items : &v;
	for (size_t i = 0; i < n; i++) {
		if (items[i]->kind != CFG_SCALAR || cfg_is_null(items[i])) {
			char p[300];
			snprintf(p, sizeof(p), "%s[%zu]", path, i);
			return expected(b, items[i], p, "a string");
		}
	}
	l->v = calloc(n ? n : 1, sizeof(*l->v));
	if (!l->v)
		return cfg_fail(b->err, v, "out of memory");
	for (l->n = 0; l->n < n; l->n++)
		if (!(l->v[l->n] = strdup(items[l->n]->value)))
			return cfg_fail(b->err, v, "out of memory");
	return 0;
}

static int bind_string(struct bind *b, const struct cfg_key *k, const struct cfg_node *v,
		       const char *path)
{
	char g[96];
	if (k->type == CFG_T_HOSTPORT) {
		int rc = cfg_parse_hostport(v->value, NULL, 0, NULL);
		if (rc == -ERANGE)
			return cfg_fail(b->err, v, "%s: port must be 0..65535, got %s", path,
					got(v, g, sizeof(g)));
		if (rc)
			return expected(b, v, path, "host:port like 127.0.0.1:2020 or [::1]:2020");
	}
	char **field = FIELD(b->obj, k, char *);
	free(*field);
	if (!(*field = strdup(v->value)))
		return cfg_fail(b->err, v, "out of memory");
	return 0;
}

/* Binds the non-null value v of key k. */
static int bind_value(struct bind *b, const struct cfg_key *k, const struct cfg_node *v,
		      const char *path)
{
	static const char *const what[] = {
		[CFG_T_STRING] = "a string", [CFG_T_INT] = "an integer",
		[CFG_T_BOOL] = "true or false", [CFG_T_SIZE] = "a size like 512MiB or 1GiB",
		[CFG_T_DURATION] = "a duration like 250ms, 30s or 5m",
		[CFG_T_HOSTPORT] = "host:port like 127.0.0.1:2020 or [::1]:2020",
	};
	if (k->type == CFG_T_NODE) {
		*FIELD(b->obj, k, const struct cfg_node *) = v;
		return 0;
	}
	if (k->type == CFG_T_STRLIST)
		return bind_strlist(b, k, v, path);
	if (k->type == CFG_T_ENUM)
		return bind_enum(b, k, v, path);
	if (v->kind != CFG_SCALAR)
		return expected(b, v, path, what[k->type]);
	switch (k->type) {
	case CFG_T_INT: return bind_int(b, k, v, path);
	case CFG_T_SIZE: return bind_size(b, k, v, path);
	case CFG_T_DURATION: return bind_duration(b, k, v, path);
	case CFG_T_BOOL:
		if (cfg_parse_bool(v->value, FIELD(b->obj, k, int)))
			return expected(b, v, path, what[k->type]);
		return 0;
	default:
		return bind_string(b, k, v, path);
	}
}

/* Binds k's default (YAML text, parsed like a file, ${VAR} included). */
static int bind_default(struct bind *b, const struct cfg_key *k, const char *path)
{
	char name[300];
	snprintf(name, sizeof(name), "default of %s", path);
	struct cfg_node *def = parse_text(name, k->def, strlen(k->def), true, b->err);
	if (!def)
		return -EINVAL;
	int rc = cfg_is_null(def) ? 0 : bind_value(b, k, def, path);
	cfg_free(def);
	return rc;
}

/* Binds key k from v: NULL when the map lacks it (where is then the map, or
 * whatever encloses it, for messages). */
static int bind_key(struct bind *b, const struct cfg_key *k, const struct cfg_node *v,
		    const struct cfg_node *where, const char *prefix)
{
	char path[256];
	snprintf(path, sizeof(path), "%s%s", prefix, k->name);
	if (k->type == CFG_T_SECTION) {
		if (!cfg_is_null(v) && v->kind != CFG_MAP)
			return expected(b, v, path, "a map of keys");
		return bind_map(b, cfg_is_null(v) ? NULL : v, v ? v : where, k->section, path, NULL);
	}
	if (!cfg_is_null(v))
		return bind_value(b, k, v, path);
	if (k->flags & CFG_REQUIRED)
		return v ? cfg_fail(b->err, v, "%s: required key has no value", path) :
			   cfg_fail(b->err, where, "%s: required key is missing", path);
	if (!k->def || k->type == CFG_T_NODE)
		return 0;
	return bind_default(b, k, path);
}

/* Optimal string alignment distance (edits and transpositions), for names
 * of at most 63 characters; larger otherwise. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[64][64];
	if (la > 63 || lb > 63)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* The valid name closest to s, if close enough to be a typo: at most two
 * edits, and at most a third of the longer name. */
static const char *suggest(const char *s, const struct cfg_key *keys, const char *const *ignore)
{
	const char *best = NULL;
	size_t bestd = 3;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0;; i++) {
			const char *name = pass ? (ignore ? ignore[i] : NULL) : keys[i].name;
			if (!name)
				break;
			size_t d = edit_distance(s, name), len = strlen(name);
			if (strlen(s) > len)
				len = strlen(s);
			if (d < bestd && d * 3 <= len) {
				best = name;
				bestd = d;
			}
		}
	}
	return best;
}

static int unknown_key(struct bind *b, const struct cfg_node *key, const struct cfg_key *keys,
		       const char *section, const char *const *ignore)
{
	const char *dot = *section ? "." : "";
	const char *best = suggest(key->value, keys, ignore);
	if (best)
		return cfg_fail(b->err, key, "unknown key \"%s%s%s\" (did you mean \"%s%s%s\"?)",
				section, dot, key->value, section, dot, best);
	char list[768] = "";
	size_t o = 0;
	for (size_t i = 0; keys[i].name && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", keys[i].name);
	for (size_t i = 0; ignore && ignore[i] && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, ", %s", ignore[i]);
	return cfg_fail(b->err, key, "unknown key \"%s%s%s\"; valid keys%s%s: %s", section, dot,
			key->value, *section ? " in " : "", section, list);
}

static const struct cfg_key *find_key(const struct cfg_key *keys, const char *name)
{
	for (; keys->name; keys++)
		if (!strcmp(keys->name, name))
			return keys;
	return NULL;
}

static bool ignored(const char *const *ignore, const char *name)
{
	for (; ignore && *ignore; ignore++)
		if (!strcmp(*ignore, name))
			return true;
	return false;
}

/* Binds the keys of map (NULL: none given) in document order, so the first
 * error in the file is the one reported; then what the map lacks. section
 * is the dotted path of map ("" at the top). */
static int bind_map(struct bind *b, const struct cfg_node *map, const struct cfg_node *where,
		    const struct cfg_key *keys, const char *section, const char *const *ignore)
{
	char prefix[260];
	snprintf(prefix, sizeof(prefix), "%s%s", section, *section ? "." : "");
	for (size_t i = 0; map && i < map->n; i++) {
		const struct cfg_pair *pr = &map->pairs[i];
		if (ignored(ignore, pr->key->value))
			continue;
		const struct cfg_key *k = find_key(keys, pr->key->value);
		if (!k)
			return unknown_key(b, pr->key, keys, section, ignore);
		int rc = bind_key(b, k, pr->value, where, prefix);
		if (rc)
			return rc;
	}
	for (const struct cfg_key *k = keys; k->name; k++) {
		if (map && cfg_get(map, k->name))
			continue;
		int rc = bind_key(b, k, NULL, where, prefix);
		if (rc)
			return rc;
	}
	return 0;
}

int cfg_bind(const struct cfg_node *map, const struct cfg_key *keys, void *obj,
	     const char *const *ignore, struct cfg_error *err)
{
	struct bind b = { obj, err };
	char g[96];
	int rc;
	bind_init(keys, obj);
	if (!cfg_is_null(map) && map->kind != CFG_MAP)
		rc = cfg_fail(err, map, "expected a map of keys, got %s", got(map, g, sizeof(g)));
	else
		rc = bind_map(&b, cfg_is_null(map) ? NULL : map, map, keys, "", ignore);
	if (rc)
		cfg_unbind(keys, obj);
	return rc;
}

/* ---- cfg_dump: effective values as YAML ----------------------------------- */

static bool is_null_word(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* Can s be written plain and read back as the same string? Deliberately
 * conservative: anything unusual is quoted. */
static bool plain_ok(const char *s)
{
	static const char first[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./";
	if (is_null_word(s) || !strchr(first, *s))
		return false;
	size_t n = strlen(s);
	return strspn(s, HOST_CHARS "/+:@*=") == n && s[n - 1] != ':';
}

/* The code point of the UTF-8 sequence at s and its length; 0 when the
 * bytes are not valid UTF-8 (overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n = s[0] >= 0xf0 && s[0] < 0xf5 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (s[0] >= 0xf5 || !n)
		return 0;
	uint32_t c = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Writes the non-ASCII character at s inside double quotes; returns the
 * bytes used. Printable characters go as they are; line breaks (NEL, LS,
 * PS), the BOM and non-printables as escapes. Bytes that are not UTF-8
 * (an environment variable can hold any) cannot be said in YAML: each is
 * written as the character of the same number, which reads back changed. */
static size_t write_utf8(FILE *f, const unsigned char *s)
{
	uint32_t c;
	size_t n = utf8_decode(s, &c);
	if (!n) {
		fprintf(f, "\\x%02x", s[0]);
		return 1;
	}
	bool printable = (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
	if (printable && c != 0x2028 && c != 0x2029 && c != 0xfeff)
		fwrite(s, 1, n, f);
	else
		fprintf(f, c > 0xffff ? "\\U%08x" : "\\u%04x", (unsigned)c);
	return n;
}

/* Writes s as a YAML scalar: plain when safe (and allowed), else double
 * quoted. A value's "${" is written "$${" so that reading it back does not
 * substitute; keys are never substituted, so is_key skips that. */
static void write_scalar(FILE *f, const char *s, bool may_plain, bool is_key)
{
	if (may_plain && plain_ok(s)) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	while (*s) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x80) {
			s += write_utf8(f, (const unsigned char *)s);
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else if (c == '$' && s[1] == '{' && !is_key)
			fputs("$$", f);
		else
			fputc(c, f);
		s++;
	}
	fputc('"', f);
}

/* Writes n as the value after "key:" or "-" on the current line; what it
 * holds goes on the following lines at indent + 2. */
static void dump_node(FILE *f, const struct cfg_node *n, int indent)
{
	if (cfg_is_null(n)) {
		fputs(" ~\n", f);
		return;
	}
	if (n->kind == CFG_SCALAR) {
		fputc(' ', f);
		write_scalar(f, n->value, n->plain, false);
		fputc('\n', f);
		return;
	}
	if (!n->n) {
		fputs(n->kind == CFG_MAP ? " {}\n" : " []\n", f);
		return;
	}
	fputc('\n', f);
	for (size_t i = 0; i < n->n; i++) {
		fprintf(f, "%*s", indent + 2, "");
		if (n->kind == CFG_SEQ) {
			fputc('-', f);
			dump_node(f, n->items[i], indent + 2);
			continue;
		}
		write_scalar(f, n->pairs[i].key->value, true, true);
		fputc(':', f);
		dump_node(f, n->pairs[i].value, indent + 2);
	}
}

static void dump_strlist(FILE *f, const struct cfg_strlist *l, int indent)
{
	if (!l->n) {
		fputs(" []\n", f);
		return;
	}
	fputc('\n', f);
	for (size_t i = 0; i < l->n; i++) {
		fprintf(f, "%*s- ", indent + 2, "");
		write_scalar(f, l->v[i], true, false);
		fputc('\n', f);
	}
}

/* The name of choice i, or NULL when i is not one (obj not from cfg_bind). */
static const char *choice(const struct cfg_key *k, int i)
{
	for (int j = 0; k->choices && k->choices[j]; j++)
		if (j == i)
			return k->choices[j];
	return NULL;
}

static void dump_key(FILE *f, const struct cfg_key *k, const void *o, int indent)
{
	char buf[48];
	switch (k->type) {
	case CFG_T_STRING:
	case CFG_T_HOSTPORT: {
		const char *s = *CFIELD(o, k, char *);
		if (!s) {
			fputs(" ~\n", f);
			return;
		}
		fputc(' ', f);
		write_scalar(f, s, true, false);
		break;
	}
	case CFG_T_INT: fprintf(f, " %lld", (long long)*CFIELD(o, k, int64_t)); break;
	case CFG_T_BOOL: fputs(*CFIELD(o, k, int) ? " true" : " false", f); break;
	case CFG_T_SIZE:
		format_size(*CFIELD(o, k, uint64_t), buf, sizeof(buf));
		fprintf(f, " %s", buf);
		break;
	case CFG_T_DURATION:
		format_duration(*CFIELD(o, k, int64_t), buf, sizeof(buf));
		fprintf(f, " %s", buf);
		break;
	case CFG_T_ENUM:
		if (choice(k, *CFIELD(o, k, int))) {
			fputc(' ', f);
			write_scalar(f, choice(k, *CFIELD(o, k, int)), true, false);
		} else {
			fprintf(f, " %d", *CFIELD(o, k, int));
		}
		break;
	case CFG_T_STRLIST: dump_strlist(f, CFIELD(o, k, struct cfg_strlist), indent); return;
	case CFG_T_NODE: dump_node(f, *CFIELD(o, k, const struct cfg_node *), indent); return;
	case CFG_T_SECTION:
		fputc('\n', f);
		cfg_dump(f, k->section, o, indent + 2);
		return;
	}
	fputc('\n', f);
}

void cfg_dump(FILE *f, const struct cfg_key *keys, const void *obj, int indent)
{
	for (const struct cfg_key *k = keys; k->name; k++) {
		fprintf(f, "%*s", indent, "");
		write_scalar(f, k->name, true, true);
		fputc(':', f);
		dump_key(f, k, obj, indent);
	}
}

/* ---- cfg_doc: the Markdown table ------------------------------------------ */

/* Table cells: "|" escaped, line breaks as blanks. */
static void md_text(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else
			fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
	}
}

static void doc_type(FILE *f, const struct cfg_key *k)
{
	static const char *const names[] = {
		[CFG_T_STRING] = "string", [CFG_T_INT] = "integer", [CFG_T_BOOL] = "bool",
		[CFG_T_SIZE] = "size", [CFG_T_DURATION] = "duration", [CFG_T_ENUM] = "one of",
		[CFG_T_STRLIST] = "list of strings", [CFG_T_HOSTPORT] = "host:port",
		[CFG_T_NODE] = "YAML", [CFG_T_SECTION] = "section",
	};
	char lo[32], hi[32];
	fputs(names[k->type], f);
	for (int i = 0; k->type == CFG_T_ENUM && k->choices && k->choices[i]; i++) {
		fprintf(f, "%s`", i ? ", " : " ");
		md_text(f, k->choices[i]);
		fputc('`', f);
	}
	if (!has_bounds(k))
		return;
	if (k->type == CFG_T_INT) {
		snprintf(lo, sizeof(lo), "%lld", (long long)k->min);
		snprintf(hi, sizeof(hi), "%lld", (long long)k->max);
	} else if (k->type == CFG_T_SIZE) {
		format_size(k->min > 0 ? (uint64_t)k->min : 0, lo, sizeof(lo));
		format_size(k->max > 0 ? (uint64_t)k->max : 0, hi, sizeof(hi));
	} else if (k->type == CFG_T_DURATION) {
		format_duration(k->min, lo, sizeof(lo));
		format_duration(k->max, hi, sizeof(hi));
	} else {
		return;
	}
	fprintf(f, " (%s to %s)", lo, hi);
}

static void doc_rows(FILE *f, const struct cfg_key *keys, const char *prefix)
{
	for (const struct cfg_key *k = keys; k->name; k++) {
		fprintf(f, "| `%s%s` | ", prefix, k->name);
		doc_type(f, k);
		fputs(" | ", f);
		if (k->flags & CFG_REQUIRED) {
			fputs("required", f);
		} else if (k->def) {
			fputc('`', f);
			md_text(f, k->def);
			fputc('`', f);
		}
		fputs(" | ", f);
		md_text(f, k->doc);
		fputs(" |\n", f);
		if (k->type == CFG_T_SECTION) {
			char sub[256];
			snprintf(sub, sizeof(sub), "%s%s.", prefix, k->name);
			doc_rows(f, k->section, sub);
		}
	}
}

void cfg_doc(FILE *f, const struct cfg_key *keys)
{
	fputs("| Key | Type | Default | Description |\n", f);
	fputs("|-----|------|---------|-------------|\n", f);
	doc_rows(f, keys, "");
}
