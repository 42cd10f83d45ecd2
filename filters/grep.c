/* Filter `grep`: keeps or drops events by regular expressions on fields.
 *   include: { field: regex, ... }   every one must match, else dropped
 *   exclude: { field: regex, ... }   any one matching drops the event
 * A field is matched as its decoded string (numbers and booleans as
 * written); an absent field (or an object/array/null) matches nothing, so an
 * include on it drops and an exclude on it keeps. Drops are counted by the
 * agent (logship_filter_dropped_total). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/event.h"
#include "agent/module.h"
#include "filters/filter_util.h"

struct grep_conf {
	const struct cfg_node *include, *exclude;
};

static const struct cfg_key grep_keys[] = {
	{ "include", CFG_T_NODE, offsetof(struct grep_conf, include), NULL, 0, NULL, 0, 0, NULL,
	  "Map of field: regex (PCRE2). An event is kept only if every listed field is present and matches." },
	{ "exclude", CFG_T_NODE, offsetof(struct grep_conf, exclude), NULL, 0, NULL, 0, 0, NULL,
	  "Map of field: regex (PCRE2). An event is dropped if any listed field matches." },
	{ .name = NULL },
};

struct grep_rule {
	char *field;
	struct fre re;
};

struct grep {
	struct grep_rule *inc, *exc;
	size_t ninc, nexc;
	struct sbuf val;               /* the decoded value of field `have` in this event */
	const char *have;
	int found;
};

static int grep_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct grep_conf *c = conf;
	char why[256];
	if (!c->include && !c->exclude)
		return cfg_fail(err, map, "grep needs 'include' or 'exclude' (a map of field: regex)");
	const struct cfg_node *lists[2] = { c->include, c->exclude };
	const char *names[2] = { "include", "exclude" };
	for (int l = 0; l < 2; l++) {
		int rc = fcheck_map(lists[l], names[l], 0, err);
		if (rc < 0)
			return rc;
		for (size_t i = 0; lists[l] && lists[l]->kind == CFG_MAP && i < lists[l]->n; i++)
			if ((rc = fre_check(lists[l]->pairs[i].value, why, sizeof(why), err)) < 0)
				return rc;
	}
	return 0;
}

static void rules_free(struct grep_rule *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].field);
		fre_free(&v[i].re);
	}
	free(v);
}

static int rules_make(const struct cfg_node *m, struct grep_rule **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!m || m->kind != CFG_MAP || !m->n)
		return 0;
	struct grep_rule *v = calloc(m->n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		char why[256];
		v[i].field = strdup(m->pairs[i].key->value);
		int rc = v[i].field ? fre_compile(&v[i].re, m->pairs[i].value->value, why, sizeof(why)) : -ENOMEM;
		if (rc < 0) {
			rules_free(v, i + 1);
			return rc;
		}
	}
	*out = v;
	*n = m->n;
	return 0;
}

static void grep_destroy(void *state)
{
	struct grep *g = state;
	if (!g)
		return;
	rules_free(g->inc, g->ninc);
	rules_free(g->exc, g->nexc);
	sbuf_free(&g->val);
	free(g);
}

static int grep_init(struct filter *f, const void *conf, void **state)
{
	const struct grep_conf *c = conf;
	struct grep *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	int rc = rules_make(c->include, &g->inc, &g->ninc);
	if (rc == 0)
		rc = rules_make(c->exclude, &g->exc, &g->nexc);
	if (rc < 0) {
		grep_destroy(g);
		return rc;
	}
	*state = g;
	return 0;
}

/* 1 if the rule's field is there and matches. The decoded value is kept
 * for the next rule on the same field (grep never changes the event). */
static int rule_matches(struct grep *g, struct grep_rule *r, const struct event *ev)
{
	if (g->have != r->field && !(g->have && strcmp(g->have, r->field) == 0)) {
		g->val.len = 0;
		g->val.err = 0;
		g->found = event_get_sbuf(ev, r->field, &g->val) && !g->val.err;
		g->have = r->field;
	}
	if (!g->found)
		return 0;
	return fre_match(&r->re, g->val.p ? g->val.p : "", g->val.len) == 1;
}

static int grep_apply(void *state, struct event *ev)
{
	struct grep *g = state;
	g->have = NULL;
	for (size_t i = 0; i < g->ninc; i++)
		if (!rule_matches(g, &g->inc[i], ev))
			return FILTER_DROP;
	for (size_t i = 0; i < g->nexc; i++)
		if (rule_matches(g, &g->exc[i], ev))
			return FILTER_DROP;
	return FILTER_KEEP;
}

const struct filter_module filter_grep = {
	.type = "grep",
	.doc = "Keeps or drops events by PCRE2 regular expressions on their fields: `include` (every "
	       "listed field must be present and match) and `exclude` (any match drops). Drops are "
	       "counted in `logship_filter_dropped_total`.",
	.keys = grep_keys,
	.conf_size = sizeof(struct grep_conf),
	.check = grep_check,
	.init = grep_init,
	.apply = grep_apply,
	.destroy = grep_destroy,
};
