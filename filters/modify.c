/* Filter `modify`: sets, adds, removes, renames and copies fields.
 * The operations run in a fixed order, each list in config order:
 *   rename -> copy -> set -> add -> remove
 * so a field can be renamed and then get a new value under its old name.
 * Values are YAML scalars turned into JSON (unquoted numbers and booleans
 * stay numbers and booleans; `"42"` is a string). ${VAR} is the environment
 * (replaced when the config loads); ${a.b} (a dotted name) is a field of the
 * event being processed, so `set: { service: "${kubernetes.labels.app}" }`
 * copies a label into a string. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/event.h"
#include "agent/module.h"
#include "common/json.h"
#include "common/json_path.h"
#include "filters/filter_util.h"

struct modify_conf {
	const struct cfg_node *set, *add, *rename, *copy;
	struct cfg_strlist remove;
};

#define KM(f) offsetof(struct modify_conf, f)
static const struct cfg_key modify_keys[] = {
	{ "rename", CFG_T_NODE, KM(rename), NULL, 0, NULL, 0, 0, NULL,
	  "Map of from: to field paths; the value moves (absent: nothing happens; an existing `to` is replaced)." },
	{ "copy", CFG_T_NODE, KM(copy), NULL, 0, NULL, 0, 0, NULL,
	  "Map of from: to field paths; the value is copied (absent: nothing happens)." },
	{ "set", CFG_T_NODE, KM(set), NULL, 0, NULL, 0, 0, NULL,
	  "Map of field: value, set whether or not the field exists. ${VAR} is the environment, ${a.b} an event field." },
	{ "add", CFG_T_NODE, KM(add), NULL, 0, NULL, 0, 0, NULL,
	  "Map of field: value, set only where the field is absent." },
	{ "remove", CFG_T_STRLIST, KM(remove), NULL, 0, NULL, 0, 0, NULL,
	  "Field paths to remove." },
	{ .name = NULL },
};
#undef KM

struct mod_op {
	char *path;       /* target */
	char *from;       /* rename/copy: source */
	char *json;       /* set/add: the value as JSON, when not a template */
	size_t json_len;
	char *tmpl;       /* set/add: a "${field}" template, expanded per event */
};

/* Consecutive `set` ops of plain values under one parent, "p.a", "p.b"
 * (one dot each, distinct keys): when the event has no root key p nor any
 * "p.*", the ops, one after the other, would build "p":{"a":..,"b":..} at
 * the end of the root; the group writes that object in one go instead
 * (ECS fields like service.name + service.environment are the common case). */
struct mod_group {
	size_t first, n;              /* set[first .. first+n) */
	char *parent;
	struct sbuf obj;
};

struct modify {
	struct mod_op *rename, *copy, *set, *add;
	size_t nrename, ncopy, nset, nadd;
	struct mod_group *groups;
	size_t ngroups;
	/* The ops as one event_batch when they touch distinct root names (no
	 * copy, no template): empty when they do not. */
	struct event_plan plan;
	const struct cfg_strlist *remove;
	_Atomic uint64_t *failed;
	struct sbuf val;
};

static int modify_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct modify_conf *c = conf;
	int rc;
	if ((rc = fcheck_map(c->set, "set", 1, err)) < 0 || (rc = fcheck_map(c->add, "add", 1, err)) < 0 ||
	    (rc = fcheck_map(c->rename, "rename", 0, err)) < 0 || (rc = fcheck_map(c->copy, "copy", 0, err)) < 0)
		return rc;
	const struct cfg_node *pairs[2] = { c->rename, c->copy };
	const char *names[2] = { "rename", "copy" };
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; pairs[l] && pairs[l]->kind == CFG_MAP && i < pairs[l]->n; i++) {
			const struct cfg_node *v = pairs[l]->pairs[i].value;
			if ((rc = fcheck_path(v, v->value, names[l], err)) < 0)
				return rc;
		}
	const struct cfg_node *rm = cfg_get(map, "remove");
	for (size_t i = 0; i < c->remove.n; i++) {
		const struct cfg_node *at = rm && rm->kind == CFG_SEQ && i < rm->n ? rm->items[i] : rm;
		if ((rc = fcheck_path(at, c->remove.v[i], "remove", err)) < 0)
			return rc;
	}
	if (!c->set && !c->add && !c->rename && !c->copy && !c->remove.n)
		return cfg_fail(err, map, "modify needs at least one of rename, copy, set, add, remove");
	return 0;
}

static void ops_free(struct mod_op *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].from);
		free(v[i].json);
		free(v[i].tmpl);
	}
	free(v);
}

/* pairs: from/to (rename, copy) or field/value (set, add). */
static int ops_make(const struct cfg_node *m, int pairs, struct mod_op **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!m || m->kind != CFG_MAP || !m->n)
		return 0;
	struct mod_op *v = calloc(m->n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		const struct cfg_node *k = m->pairs[i].key, *val = m->pairs[i].value;
		struct mod_op *o = &v[i];
		if (pairs) {
			o->from = strdup(k->value);
			o->path = strdup(val->value);
		} else {
			o->path = strdup(k->value);
			if (val->kind == CFG_SCALAR && val->value && json_path_is_template(val->value)) {
				o->tmpl = strdup(val->value);
			} else {
				struct sbuf b = { 0 };
				fval_json(val, &b);
				o->json = b.err ? NULL : b.p;
				o->json_len = b.len;
				if (b.err)
					sbuf_free(&b);
			}
		}
		if (!o->path || (pairs && !o->from) || (!pairs && !o->json && !o->tmpl)) {
			ops_free(v, i + 1);
			return -ENOMEM;
		}
	}
	*out = v;
	*n = m->n;
	return 0;
}

/* The parent of a path "p.k" with exactly one dot, its length; 0 if none. */
static size_t one_dot_parent(const char *path)
{
	const char *d = strchr(path, '.');
	return d && d > path && d[1] && !strchr(d + 1, '.') ? (size_t)(d - path) : 0;
}

static int groups_make(struct modify *m)
{
	for (size_t i = 0; i < m->nset;) {
		size_t pl = m->set[i].tmpl ? 0 : one_dot_parent(m->set[i].path), j = i + 1;
		while (pl && j < m->nset && !m->set[j].tmpl && one_dot_parent(m->set[j].path) == pl &&
		       !memcmp(m->set[j].path, m->set[i].path, pl + 1)) {
			int dup = 0;
			for (size_t k = i; k < j && !dup; k++)
				dup = !strcmp(m->set[k].path, m->set[j].path);
			if (dup)
				break;
			j++;
		}
		if (j - i < 2) {
			i = j;
			continue;
		}
		struct mod_group *v = realloc(m->groups, (m->ngroups + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->groups = v;
		struct mod_group *g = &v[m->ngroups++];
		*g = (struct mod_group){ i, j - i, strndup(m->set[i].path, pl), { 0 } };
		sbuf_putc(&g->obj, '{');
		for (size_t k = i; k < j; k++) {
			const char *key = m->set[k].path + pl + 1;
			if (k > i)
				sbuf_putc(&g->obj, ',');
			json_put_string(&g->obj, key, strlen(key));
			sbuf_putc(&g->obj, ':');
			sbuf_put(&g->obj, m->set[k].json, m->set[k].json_len);
		}
		sbuf_putc(&g->obj, '}');
		if (!g->parent || g->obj.err)
			return -ENOMEM;
		i = j;
	}
	return 0;
}

/* Fills m->plan when event_batch can run the whole modify: no copy (its
 * source stays, and may share a name with anything), no template (it reads
 * the event between ops), and no two ops' names with the same first segment
 * (event_plan_add says; a grouped set counts once, by its parent). Else the
 * plan stays empty. 0, or -ENOMEM. */
static int plan_make(struct modify *m)
{
	struct event_plan *pl = &m->plan;
	int rc = m->ncopy ? -EINVAL : 0;
	for (size_t i = 0; i < m->nrename && !rc; i++)
		rc = event_plan_add(pl, EVENT_OP_MOVE, m->rename[i].from, m->rename[i].path, NULL, 0);
	const struct mod_op *lists[2] = { m->set, m->add };
	size_t counts[2] = { m->nset, m->nadd };
	for (int l = 0; l < 2; l++)
		for (size_t i = 0, g = 0; i < counts[l] && !rc; i++) {
			const struct mod_op *o = &lists[l][i];
			if (o->tmpl) {
				rc = -EINVAL;
			} else if (l == 0 && g < m->ngroups && m->groups[g].first == i) {
				const struct mod_group *gr = &m->groups[g++];
				rc = event_plan_add(pl, EVENT_OP_PUT, gr->parent, NULL, gr->obj.p, gr->obj.len);
				i += gr->n - 1;
			} else {
				/* an add lands only where the field is absent: where
				 * the batch applies, nothing shares its first
				 * segment, so it is */
				rc = event_plan_add(pl, EVENT_OP_PUT, o->path, NULL, o->json, o->json_len);
			}
		}
	for (size_t i = 0; i < m->remove->n && !rc; i++)
		rc = event_plan_add(pl, EVENT_OP_REMOVE, m->remove->v[i], NULL, NULL, 0);
	if (rc == -ENOMEM)
		return rc;   /* freed with the rest */
	if (rc)
		event_plan_free(pl);   /* not one batch: the ops run one by one */
	return 0;
}

static void modify_destroy(void *state)
{
	struct modify *m = state;
	if (!m)
		return;
	event_plan_free(&m->plan);
	for (size_t i = 0; i < m->ngroups; i++) {
		free(m->groups[i].parent);
		sbuf_free(&m->groups[i].obj);
	}
	free(m->groups);
	ops_free(m->rename, m->nrename);
	ops_free(m->copy, m->ncopy);
	ops_free(m->set, m->nset);
	ops_free(m->add, m->nadd);
	sbuf_free(&m->val);
	free(m);
}

static int modify_init(struct filter *f, const void *conf, void **state)
{
	const struct modify_conf *c = conf;
	struct modify *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	int rc = ops_make(c->rename, 1, &m->rename, &m->nrename);
	if (!rc)
		rc = ops_make(c->copy, 1, &m->copy, &m->ncopy);
	if (!rc)
		rc = ops_make(c->set, 0, &m->set, &m->nset);
	if (!rc)
		rc = ops_make(c->add, 0, &m->add, &m->nadd);
	if (!rc)
		rc = groups_make(m);
	m->remove = &c->remove;
	if (!rc)
		rc = plan_make(m);
	if (rc < 0) {
		modify_destroy(m);
		return rc;
	}
	/* A write that cannot happen (a scalar where an object is needed). */
	m->failed = filter_counter(f, "modify_failed");
	*state = m;
	return 0;
}

static void failed(struct modify *m, int rc)
{
	if (rc < 0 && m->failed)
		atomic_fetch_add_explicit(m->failed, 1, memory_order_relaxed);
}

/* Moves or copies the value at o->from to o->path. */
static void move(struct modify *m, struct event *ev, const struct mod_op *o, int keep)
{
	if (!keep) {
		int rc = event_move(ev, o->from, o->path);   /* a rename: one pass */
		if (rc != -ENOENT)
			failed(m, rc);
		return;
	}
	const char *v;
	size_t n;
	if (event_get_raw(ev, o->from, &v, &n) < 0)
		return;
	m->val.len = 0;
	m->val.err = 0;
	sbuf_put(&m->val, v, n);    /* the text changes under v */
	if (m->val.err) {
		failed(m, -ENOMEM);
		return;
	}
	if (!keep)
		event_remove(ev, o->from);
	failed(m, event_set_json(ev, o->path, m->val.p, m->val.len));
}

static void put(struct modify *m, struct event *ev, const struct mod_op *o)
{
	if (!o->tmpl) {
		failed(m, event_set_json(ev, o->path, o->json, o->json_len));
		return;
	}
	size_t len;
	const char *json = event_json(ev, &len);
	m->val.len = 0;
	m->val.err = 0;
	json_path_expand(o->tmpl, json, len, "", &m->val);
	failed(m, m->val.err ? -ENOMEM : event_set_str(ev, o->path, m->val.p ? m->val.p : "", m->val.len));
}

static int modify_apply(void *state, struct event *ev)
{
	struct modify *m = state;
	if (m->plan.n && event_batch(ev, &m->plan) == 1)
		return FILTER_KEEP;
	for (size_t i = 0; i < m->nrename; i++)
		move(m, ev, &m->rename[i], 0);
	for (size_t i = 0; i < m->ncopy; i++)
		move(m, ev, &m->copy[i], 1);
	for (size_t i = 0, g = 0; i < m->nset; i++) {
		if (g < m->ngroups && m->groups[g].first == i) {
			const struct mod_group *gr = &m->groups[g++];
			if (event_root_lacks(ev, gr->parent)) {
				failed(m, event_set_json(ev, gr->parent, gr->obj.p, gr->obj.len));
				i += gr->n - 1;
				continue;
			}
		}
		put(m, ev, &m->set[i]);
	}
	for (size_t i = 0; i < m->nadd; i++)
		if (!event_has(ev, m->add[i].path))
			put(m, ev, &m->add[i]);
	for (size_t i = 0; i < m->remove->n; i++)
		event_remove(ev, m->remove->v[i]);
	return FILTER_KEEP;
}

const struct filter_module filter_modify = {
	.type = "modify",
	.doc = "Changes fields: `rename`, `copy`, `set`, `add` (only where absent) and `remove`, applied "
	       "in that order. Values may hold `${VAR}` (environment, at load) and `${a.b}` (a field of "
	       "the event). A write that cannot happen (an object needed where a value is) is counted "
	       "in `logship_filter_modify_failed_total`.",
	.keys = modify_keys,
	.conf_size = sizeof(struct modify_conf),
	.check = modify_check,
	.init = modify_init,
	.apply = modify_apply,
	.destroy = modify_destroy,
};
