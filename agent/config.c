/* The agent's config schema and its loading: core keys, then every input and
 * output item bound against the agent's common keys and its module's keys,
 * names made unique, routes (match) checked against the inputs that exist.
 * Every error is at a position; see config.h. */
#include "agent/config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buffer/log.h"

static const char *const level_choices[] = { "error", "warn", "info", "debug", NULL };
static const char *const fsync_choices[] = { "interval", "always", "never", NULL };
static const char *const full_choices[] = { "block", "drop_oldest", NULL };

#define K(f) offsetof(struct agent_config, f)
static const struct cfg_key buffer_keys[] = {
	{ "max_bytes", CFG_T_SIZE, K(max_bytes), "1GiB", 0, NULL, 1 << 20, 1LL << 50, NULL,
	  "Capacity of the ring on disk; when it is full, when_full decides." },
	{ "segment_bytes", CFG_T_SIZE, K(segment_bytes), "64MiB", 0, NULL, 1 << 16, 1LL << 40, NULL,
	  "The ring's segment size: space is freed a whole segment at a time." },
	{ "fsync", CFG_T_ENUM, K(fsync), "interval", 0, fsync_choices, 0, 0, NULL,
	  "When appended batches are made durable: every fsync_interval, after every batch, or never (the OS decides)." },
	{ "fsync_interval", CFG_T_DURATION, K(fsync_interval_ms), "1s", 0, NULL, 1, 3600000, NULL,
	  "Longest time a batch waits to be made durable under fsync: interval." },
	{ "when_full", CFG_T_ENUM, K(when_full), "block", 0, full_choices, 0, 0, NULL,
	  "block: inputs that can wait are paused until outputs free space (UDP drops, counted); drop_oldest: the oldest segment is deleted, counted and logged." },
	{ "batch_max_bytes", CFG_T_SIZE, K(batch_max_bytes), "512KiB", 0, NULL, 4096, 64 << 20, NULL,
	  "A batch of events is written to the ring when it reaches this size..." },
	{ "batch_timeout", CFG_T_DURATION, K(batch_timeout_ms), "200ms", 0, NULL, 1, 60000, NULL,
	  "...or when its first event has waited this long." },
	{ .name = NULL },
};
static const struct cfg_key http_tls_keys[] = {
	TLS_SERVER_KEYS(struct agent_config, http_tls),
	{ .name = NULL },
};
static const struct cfg_key http_keys[] = {
	{ "listen", CFG_T_HOSTPORT, K(http_listen), NULL, 0, NULL, 0, 0, NULL,
	  "host:port of the status endpoint (/health /ready /metrics /status); absent: no endpoint." },
	{ "tls", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, http_tls_keys,
	  "HTTPS for the status endpoint: with cert_file and key_file set it speaks only TLS (optional client certificates)." },
	{ .name = NULL },
};
static const struct cfg_key core_keys[] = {
	{ "data_dir", CFG_T_STRING, K(data_dir), "/var/lib/logship", 0, NULL, 0, 0, NULL,
	  "Where the ring (data_dir/ring), input checkpoints (data_dir/checkpoints) and output cursors live." },
	{ "log_level", CFG_T_ENUM, K(log_level), "info", 0, level_choices, 0, 0, NULL,
	  "The agent's own log lines on stderr: error, warn, info or debug." },
	{ "shutdown_timeout", CFG_T_DURATION, K(shutdown_timeout_ms), "10s", 0, NULL, 0, 3600000, NULL,
	  "On SIGTERM, how long outputs may keep shipping what the ring holds before the agent exits." },
	{ "user", CFG_T_STRING, K(user), NULL, 0, NULL, 0, 0, NULL,
	  "When started as root: the user to run as once the ring is open and the inputs have bound their "
	  "sockets (privileged ports work), with that user's groups (e.g. adm, systemd-journal); data_dir is "
	  "handed to it first. Read at start only. Absent: no change (the packaged unit starts as logship)." },
	{ "filter_thread", CFG_T_BOOL, K(filter_thread), "true", 0, NULL, 0, 0, NULL,
	  "Run the filter chains on a thread of their own, so the event loop goes on reading while a second "
	  "core filters (events keep their order; positions are checkpointed only once their events are in "
	  "the ring). Not with a filter that may make inputs wait (kubernetes): then, and with false, the "
	  "chains run on the event loop." },
	{ "buffer", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, buffer_keys,
	  "The on-disk ring every event goes through." },
	{ "http", CFG_T_SECTION, 0, NULL, 0, NULL, 0, 0, http_keys,
	  "The status endpoint." },
	{ .name = NULL },
};
#undef K

#define KI(f) offsetof(struct agent_input_conf, f)
static const struct cfg_key input_common_keys[] = {
	{ "name", CFG_T_STRING, KI(name), NULL, 0, NULL, 0, 0, NULL,
	  "Instance name (letters, digits, '.', '_', '-'); default: the type, made unique. It is the events' record key and names the checkpoint." },
	{ "tag", CFG_T_STRING, KI(tag), NULL, 0, NULL, 0, 0, NULL,
	  "A tag outputs can match on besides the name." },
	{ .name = NULL },
};
#undef KI
#define KO(f) offsetof(struct agent_output_conf, f)
static const struct cfg_key output_common_keys[] = {
	{ "name", CFG_T_STRING, KO(name), NULL, 0, NULL, 0, 0, NULL,
	  "Instance name (letters, digits, '.', '_', '-'); default: the type, made unique. It names the output's cursor in the ring." },
	{ "match", CFG_T_STRLIST, KO(match), "[\"*\"]", 0, NULL, 0, 0, NULL,
	  "Input names or tags whose events this output takes; shell wildcards (*, ?, [...])." },
	{ "retry_initial", CFG_T_DURATION, KO(retry_initial_ms), "250ms", 0, NULL, 1, 3600000, NULL,
	  "First delay before a failed send is retried; it doubles per failure (with jitter)..." },
	{ "retry_max", CFG_T_DURATION, KO(retry_max_ms), "30s", 0, NULL, 1, 86400000, NULL,
	  "...up to this cap. Retries never end: a dead destination holds the ring (backpressure)." },
	{ "commit_interval", CFG_T_DURATION, KO(commit_interval_ms), "1s", 0, NULL, 0, 3600000, NULL,
	  "How often the output's cursor is made durable while it ships (also when it catches up and at stop)." },
	{ "read_bytes", CFG_T_SIZE, KO(read_bytes), "4MiB", 0, NULL, 4096, 64 << 20, NULL,
	  "Ring bytes read and handed to the module per send (an asynchronous output reads at most a quarter of in_flight_bytes)." },
	{ "in_flight_bytes", CFG_T_SIZE, KO(in_flight_bytes), "8MiB", 0, NULL, 4096, (int64_t)1 << 30, NULL,
	  "For outputs that ship asynchronously (kafka): ring bytes sent and not yet acknowledged, at most; several runs are in flight at once, the ring holds the rest." },
	{ .name = NULL },
};
#undef KO
#define KF(f) offsetof(struct agent_filter_conf, f)
static const struct cfg_key filter_common_keys[] = {
	{ "name", CFG_T_STRING, KF(name), NULL, 0, NULL, 0, 0, NULL,
	  "Instance name (letters, digits, '.', '_', '-'); default: the type, made unique. It labels the filter's metrics." },
	{ "match", CFG_T_STRLIST, KF(match), "[\"*\"]", 0, NULL, 0, 0, NULL,
	  "Input names or tags whose events this filter processes; shell wildcards (*, ?, [...])." },
	{ .name = NULL },
};
#undef KF

/* --- helpers ------------------------------------------------------------------ */

static int name_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 100 && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int has_wildcard(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* ignore list: "type" plus the top-level names of keys. */
static const char **ignore_list(const struct cfg_key *keys)
{
	size_t n = 0;
	while (keys && keys[n].name)
		n++;
	const char **v = calloc(n + 2, sizeof(*v));
	if (!v)
		return NULL;
	v[0] = "type";
	for (size_t i = 0; i < n; i++)
		v[i + 1] = keys[i].name;
	return v;
}

/* The files a module reads (keys named *_file: certificates, keys,
 * passwords, tokens) join its fingerprint by identity and change time, so
 * that a SIGHUP after a certificate renewal restarts the module and it reads
 * them again, though its config text is the same. */
static void file_stamps(FILE *f, const struct cfg_key *keys, const void *obj)
{
	for (const struct cfg_key *k = keys; k && k->name; k++) {
		if (k->type == CFG_T_SECTION) {
			file_stamps(f, k->section, obj);
			continue;
		}
		size_t l = strlen(k->name);
		if (k->type != CFG_T_STRING || l < 5 || strcmp(k->name + l - 5, "_file") != 0)
			continue;
		const char *path = *(char *const *)((const char *)obj + k->offset);
		struct stat st;
		if (path && stat(path, &st) == 0)
			fprintf(f, "# %s: inode %ju, %jd bytes, changed %jd.%09ld\n", k->name, (uintmax_t)st.st_ino,
				(intmax_t)st.st_size, (intmax_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	}
}

static char *fingerprint(const char *type, const struct cfg_key *common, const void *cobj,
			 const struct cfg_key *keys, const void *obj)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	if (!f)
		return NULL;
	fprintf(f, "type: %s\n", type);
	cfg_dump(f, common, cobj, 0);
	if (keys) {
		cfg_dump(f, keys, obj, 0);
		file_stamps(f, keys, obj);
	}
	fclose(f);
	return s;
}

/* kind: 0 inputs, 1 outputs, 2 filters */
static const char *module_type(int kind, size_t i)
{
	if (kind == 2)
		return registry_filters[i] ? registry_filters[i]->type : NULL;
	if (kind == 1)
		return registry_outputs[i] ? registry_outputs[i]->type : NULL;
	return registry_inputs[i] ? registry_inputs[i]->type : NULL;
}

static void module_names(char *buf, size_t cap, int outputs)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0;; i++) {
		const char *t = module_type(outputs, i);
		if (!t)
			break;
		int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", t);
		if (w < 0 || (size_t)w >= cap - len)
			break;
		len += (size_t)w;
	}
}

/* The item's type: 0 with *type set, or an error at a position. */
static int item_type(const struct cfg_node *item, const char *what, int outputs, const char **type,
		     struct cfg_error *err)
{
	char known[256];
	module_names(known, sizeof(known), outputs);
	if (item->kind != CFG_MAP)
		return cfg_fail(err, item, "an %s must be a map with a 'type' (one of: %s)", what, known);
	const struct cfg_node *t = cfg_get(item, "type");
	if (!t)
		return cfg_fail(err, item, "%s has no 'type' (one of: %s)", what, known);
	if (t->kind != CFG_SCALAR || !t->value || !*t->value)
		return cfg_fail(err, t, "'type' must be a module name (one of: %s)", known);
	if (outputs == 2 ? !registry_filter(t->value)
	    : outputs ? !registry_output(t->value) : !registry_input(t->value))
		return cfg_fail(err, t, "unknown %s type '%s' (known: %s)", what, t->value, known);
	*type = t->value;
	return 0;
}

static int bind_module(const struct cfg_node *item, const struct cfg_key *common, void *cobj,
		       const struct cfg_key *keys, size_t conf_size, void **conf,
		       struct cfg_error *err)
{
	const char **ign_mod = ignore_list(keys), **ign_common = ignore_list(common);
	int rc = -ENOMEM;
	if (!ign_mod || !ign_common)
		goto out;
	if ((rc = cfg_bind(item, common, cobj, ign_mod, err)) < 0)
		goto out;
	*conf = calloc(1, conf_size ? conf_size : 1);
	if (!*conf) {
		rc = -ENOMEM;
		goto out;
	}
	if (keys && (rc = cfg_bind(item, keys, *conf, ign_common, err)) < 0)
		goto out;
	rc = 0;
out:
	free(ign_mod);
	free(ign_common);
	return rc;
}

/* Makes default names unique: "type", then "type-2", "type-3", ... skipping
 * names given explicitly anywhere in the list. */
static char *unique_name(const char *type, char *const *given, size_t n)
{
	char buf[160];
	for (int k = 1;; k++) {
		if (k == 1)
			snprintf(buf, sizeof(buf), "%s", type);
		else
			snprintf(buf, sizeof(buf), "%s-%d", type, k);
		size_t i;
		for (i = 0; i < n; i++)
			if (given[i] && strcmp(given[i], buf) == 0)
				break;
		if (i == n)
			return strdup(buf);
	}
}

static const struct cfg_node *name_node(const struct cfg_node *item)
{
	const struct cfg_node *n = cfg_get(item, "name");
	return n ? n : item;
}

static int check_list_node(const struct cfg_node *n, const char *key, struct cfg_error *err)
{
	if (n && n->kind != CFG_SEQ && !(n->kind == CFG_SCALAR && (!n->value || !*n->value)))
		return cfg_fail(err, n, "'%s' must be a list (\"- type: ...\" items)", key);
	return 0;
}

static size_t list_len(const struct cfg_node *n)
{
	return n && n->kind == CFG_SEQ ? n->n : 0;
}

/* --- loading ---------------------------------------------------------------------- */

static int load_inputs(struct agent_config *c, const struct cfg_node *list, struct cfg_error *err)
{
	size_t n = list_len(list);
	c->inputs = calloc(n ? n : 1, sizeof(*c->inputs));
	if (!c->inputs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_node *item = list->items[i];
		struct agent_input_conf *ic = &c->inputs[i];
		const char *type;
		int rc = item_type(item, "input", 0, &type, err);
		if (rc < 0)
			return rc;
		ic->mod = registry_input(type);
		ic->node = item;
		c->ninputs = i + 1;
		rc = bind_module(item, input_common_keys, ic, ic->mod->keys, ic->mod->conf_size,
				 &ic->conf, err);
		if (rc < 0)
			return rc;
		if (ic->name && !name_ok(ic->name))
			return cfg_fail(err, name_node(item),
					"input name '%s' may only hold letters, digits, '.', '_' and '-'",
					ic->name);
		for (size_t j = 0; ic->name && j < i; j++)
			if (c->inputs[j].name && strcmp(c->inputs[j].name, ic->name) == 0)
				return cfg_fail(err, name_node(item), "duplicate input name '%s'", ic->name);
		if (ic->mod->check && (rc = ic->mod->check(ic->conf, item, err)) < 0)
			return rc;
	}
	char **given = calloc(n ? n : 1, sizeof(char *));
	if (!given)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		given[i] = c->inputs[i].name;
	for (size_t i = 0; i < n; i++) {
		struct agent_input_conf *ic = &c->inputs[i];
		if (!ic->name) {
			ic->name = unique_name(ic->mod->type, given, n);
			given[i] = ic->name;
		}
	}
	free(given);
	for (size_t i = 0; i < n; i++) {
		struct agent_input_conf *ic = &c->inputs[i];
		if (!ic->name)
			return -ENOMEM;
		ic->fingerprint = fingerprint(ic->mod->type, input_common_keys, ic, ic->mod->keys, ic->conf);
		if (!ic->fingerprint)
			return -ENOMEM;
	}
	return 0;
}

int agent_output_matches(const struct agent_output_conf *o, const char *input_name,
			 const char *input_tag)
{
	for (size_t i = 0; i < o->match.n; i++) {
		const char *p = o->match.v[i];
		if (fnmatch(p, input_name, 0) == 0 || (input_tag && fnmatch(p, input_tag, 0) == 0))
			return 1;
	}
	return 0;
}

static const struct cfg_node *match_item(const struct cfg_node *item, size_t i)
{
	const struct cfg_node *m = cfg_get(item, "match");
	if (m && m->kind == CFG_SEQ && i < m->n)
		return m->items[i];
	return m ? m : item;
}

/* A route (an output's or a filter's match:) must lead somewhere: every
 * literal pattern names or tags an input; wildcards may match none yet. */
static int check_match(const struct agent_config *c, const struct cfg_strlist *match, const struct cfg_node *item,
		       struct cfg_error *err)
{
	for (size_t k = 0; k < match->n; k++) {
		const char *p = match->v[k];
		if (!*p)
			return cfg_fail(err, match_item(item, k), "match: an empty pattern matches nothing");
		if (has_wildcard(p))
			continue;
		size_t j;
		for (j = 0; j < c->ninputs; j++)
			if (strcmp(c->inputs[j].name, p) == 0 || (c->inputs[j].tag && strcmp(c->inputs[j].tag, p) == 0))
				break;
		if (j == c->ninputs)
			return cfg_fail(err, match_item(item, k), "match: no input is named or tagged '%s'", p);
	}
	return 0;
}

static int load_outputs(struct agent_config *c, const struct cfg_node *list, struct cfg_error *err)
{
	size_t n = list_len(list);
	c->outputs = calloc(n ? n : 1, sizeof(*c->outputs));
	if (!c->outputs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_node *item = list->items[i];
		struct agent_output_conf *oc = &c->outputs[i];
		const char *type;
		int rc = item_type(item, "output", 1, &type, err);
		if (rc < 0)
			return rc;
		oc->mod = registry_output(type);
		oc->node = item;
		c->noutputs = i + 1;
		rc = bind_module(item, output_common_keys, oc, oc->mod->keys, oc->mod->conf_size,
				 &oc->conf, err);
		if (rc < 0)
			return rc;
		if (oc->name && !name_ok(oc->name))
			return cfg_fail(err, name_node(item),
					"output name '%s' may only hold letters, digits, '.', '_' and '-'",
					oc->name);
		for (size_t j = 0; oc->name && j < i; j++)
			if (c->outputs[j].name && strcmp(c->outputs[j].name, oc->name) == 0)
				return cfg_fail(err, name_node(item), "duplicate output name '%s'", oc->name);
		if (oc->retry_max_ms < oc->retry_initial_ms)
			return cfg_fail(err, cfg_get(item, "retry_max") ? cfg_get(item, "retry_max") : item,
					"retry_max (%lldms) is below retry_initial (%lldms)",
					(long long)oc->retry_max_ms, (long long)oc->retry_initial_ms);
		if ((rc = check_match(c, &oc->match, item, err)) < 0)
			return rc;
		if (oc->mod->check && (rc = oc->mod->check(oc->conf, item, err)) < 0)
			return rc;
	}
	char **given = calloc(n ? n : 1, sizeof(char *));
	if (!given)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		given[i] = c->outputs[i].name;
	for (size_t i = 0; i < n; i++) {
		struct agent_output_conf *oc = &c->outputs[i];
		if (!oc->name) {
			oc->name = unique_name(oc->mod->type, given, n);
			given[i] = oc->name;
		}
	}
	free(given);
	for (size_t i = 0; i < n; i++) {
		struct agent_output_conf *oc = &c->outputs[i];
		if (!oc->name)
			return -ENOMEM;
		oc->fingerprint = fingerprint(oc->mod->type, output_common_keys, oc, oc->mod->keys, oc->conf);
		if (!oc->fingerprint)
			return -ENOMEM;
	}
	return 0;
}

int agent_filter_matches(const struct agent_filter_conf *f, const char *input_name,
			 const char *input_tag)
{
	for (size_t i = 0; i < f->match.n; i++) {
		const char *p = f->match.v[i];
		if (fnmatch(p, input_name, 0) == 0 || (input_tag && fnmatch(p, input_tag, 0) == 0))
			return 1;
	}
	return 0;
}

static int load_filters(struct agent_config *c, const struct cfg_node *list, struct cfg_error *err)
{
	size_t n = list_len(list);
	c->filters = calloc(n ? n : 1, sizeof(*c->filters));
	if (!c->filters)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_node *item = list->items[i];
		struct agent_filter_conf *fc = &c->filters[i];
		const char *type;
		int rc = item_type(item, "filter", 2, &type, err);
		if (rc < 0)
			return rc;
		fc->mod = registry_filter(type);
		fc->node = item;
		c->nfilters = i + 1;
		rc = bind_module(item, filter_common_keys, fc, fc->mod->keys, fc->mod->conf_size,
				 &fc->conf, err);
		if (rc < 0)
			return rc;
		if (fc->name && !name_ok(fc->name))
			return cfg_fail(err, name_node(item),
					"filter name '%s' may only hold letters, digits, '.', '_' and '-'",
					fc->name);
		for (size_t j = 0; fc->name && j < i; j++)
			if (c->filters[j].name && strcmp(c->filters[j].name, fc->name) == 0)
				return cfg_fail(err, name_node(item), "duplicate filter name '%s'", fc->name);
		if ((rc = check_match(c, &fc->match, item, err)) < 0)
			return rc;
		if (fc->mod->check && (rc = fc->mod->check(fc->conf, item, err)) < 0)
			return rc;
	}
	char **given = calloc(n ? n : 1, sizeof(char *));
	if (!given)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		given[i] = c->filters[i].name;
	for (size_t i = 0; i < n; i++) {
		struct agent_filter_conf *fc = &c->filters[i];
		if (!fc->name) {
			fc->name = unique_name(fc->mod->type, given, n);
			given[i] = fc->name;
		}
	}
	free(given);
	for (size_t i = 0; i < n; i++) {
		struct agent_filter_conf *fc = &c->filters[i];
		if (!fc->name)
			return -ENOMEM;
		fc->fingerprint = fingerprint(fc->mod->type, filter_common_keys, fc, fc->mod->keys, fc->conf);
		if (!fc->fingerprint)
			return -ENOMEM;
	}
	return 0;
}

static int load_tree(struct cfg_node *root, struct agent_config **out, struct cfg_error *err)
{
	static const char *const core_ignore[] = { "inputs", "outputs", "filters", NULL };
	struct agent_config *c = calloc(1, sizeof(*c));
	if (!c) {
		cfg_free(root);
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	c->root = root;
	int rc;
	if (root->kind != CFG_MAP) {
		rc = cfg_fail(err, root, "the config must be a map of keys (data_dir, buffer, inputs, outputs, ...)");
		goto fail;
	}
	if ((rc = cfg_bind(root, core_keys, c, core_ignore, err)) < 0)
		goto fail;
	const struct cfg_node *in = cfg_get(root, "inputs"), *outs = cfg_get(root, "outputs");
	const struct cfg_node *fl = cfg_get(root, "filters");
	if ((rc = check_list_node(in, "inputs", err)) < 0 ||
	    (rc = check_list_node(fl, "filters", err)) < 0 ||
	    (rc = check_list_node(outs, "outputs", err)) < 0)
		goto fail;
	if ((rc = load_inputs(c, in, err)) < 0 || (rc = load_filters(c, fl, err)) < 0 ||
	    (rc = load_outputs(c, outs, err)) < 0)
		goto fail;
	if (c->batch_max_bytes > c->segment_bytes) {
		const struct cfg_node *b = cfg_get(root, "buffer");
		const struct cfg_node *k = b ? cfg_get(b, "batch_max_bytes") : NULL;
		rc = cfg_fail(err, k ? k : (b ? b : root), "buffer.batch_max_bytes is larger than buffer.segment_bytes");
		goto fail;
	}
	if (!c->http_tls.cert_file != !c->http_tls.key_file) {
		const struct cfg_node *h = cfg_get(root, "http"), *t = h ? cfg_get(h, "tls") : NULL;
		rc = cfg_fail(err, t ? t : (h ? h : root), "http.tls needs both cert_file and key_file");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (rc == -ENOMEM && !err->msg[0])
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	agent_config_free(c);
	return rc;
}

int agent_config_load(const char *main_file, const char *conf_dir, struct agent_config **out,
		      struct cfg_error *err)
{
	err->msg[0] = '\0';
	struct cfg_node *root = cfg_load(main_file, conf_dir, err);
	if (!root)
		return -EINVAL;
	return load_tree(root, out, err);
}

int agent_config_parse(const char *name, const char *text, struct agent_config **out,
		       struct cfg_error *err)
{
	err->msg[0] = '\0';
	struct cfg_node *root = cfg_parse_string(name, text, err);
	if (!root)
		return -EINVAL;
	return load_tree(root, out, err);
}

void agent_config_free(struct agent_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ninputs; i++) {
		struct agent_input_conf *ic = &c->inputs[i];
		if (ic->conf && ic->mod->keys)
			cfg_unbind(ic->mod->keys, ic->conf);
		free(ic->conf);
		cfg_unbind(input_common_keys, ic);
		free(ic->fingerprint);
	}
	for (size_t i = 0; i < c->noutputs; i++) {
		struct agent_output_conf *oc = &c->outputs[i];
		if (oc->conf && oc->mod->keys)
			cfg_unbind(oc->mod->keys, oc->conf);
		free(oc->conf);
		cfg_unbind(output_common_keys, oc);
		free(oc->fingerprint);
	}
	for (size_t i = 0; i < c->nfilters; i++) {
		struct agent_filter_conf *fc = &c->filters[i];
		if (fc->conf && fc->mod->keys)
			cfg_unbind(fc->mod->keys, fc->conf);
		free(fc->conf);
		cfg_unbind(filter_common_keys, fc);
		free(fc->fingerprint);
	}
	free(c->inputs);
	free(c->outputs);
	free(c->filters);
	cfg_unbind(core_keys, c);
	cfg_free(c->root);
	free(c);
}

int agent_config_ring_changed(const struct agent_config *a, const struct agent_config *b)
{
	return strcmp(a->data_dir, b->data_dir) != 0 || a->max_bytes != b->max_bytes ||
	       a->segment_bytes != b->segment_bytes || a->fsync != b->fsync ||
	       a->fsync_interval_ms != b->fsync_interval_ms || a->when_full != b->when_full;
}

/* --- --check and the docs ---------------------------------------------------------- */

void agent_config_dump(FILE *f, const struct agent_config *c)
{
	cfg_dump(f, core_keys, c, 0);
	fprintf(f, "inputs:%s\n", c->ninputs ? "" : " []");
	for (size_t i = 0; i < c->ninputs; i++) {
		const struct agent_input_conf *ic = &c->inputs[i];
		fprintf(f, "  - type: %s\n", ic->mod->type);
		cfg_dump(f, input_common_keys, ic, 4);
		if (ic->mod->keys)
			cfg_dump(f, ic->mod->keys, ic->conf, 4);
	}
	if (c->nfilters)
		fprintf(f, "filters:\n");
	for (size_t i = 0; i < c->nfilters; i++) {
		const struct agent_filter_conf *fc = &c->filters[i];
		fprintf(f, "  - type: %s\n", fc->mod->type);
		cfg_dump(f, filter_common_keys, fc, 4);
		if (fc->mod->keys)
			cfg_dump(f, fc->mod->keys, fc->conf, 4);
	}
	fprintf(f, "outputs:%s\n", c->noutputs ? "" : " []");
	for (size_t i = 0; i < c->noutputs; i++) {
		const struct agent_output_conf *oc = &c->outputs[i];
		fprintf(f, "  - type: %s\n", oc->mod->type);
		cfg_dump(f, output_common_keys, oc, 4);
		if (oc->mod->keys)
			cfg_dump(f, oc->mod->keys, oc->conf, 4);
	}
}

void agent_config_doc(FILE *f)
{
	fputs("# logship agent configuration reference\n\n"
	      "<!-- Generated by `build/logship --doc-config` from the key declarations in\n"
	      "     agent/config.c and each module; do not edit by hand. tests/integration/\n"
	      "     agent_docs.sh fails when this file and the generated text differ. -->\n\n"
	      "The agent reads one YAML file (`logship -c FILE`, default\n"
	      "`/etc/logship/logship.yaml`) plus every `*.yaml` / `*.yml` in `conf.d/` beside it\n"
	      "(or `-d DIR`), merged in name order: maps merge key by key, later scalars win,\n"
	      "lists (`inputs`, `filters`, `outputs`) concatenate. `${VAR}` and `${VAR:-default}` are\n"
	      "replaced from the environment; an unset variable without a default is an error.\n"
	      "Every error is reported as `file:line:column: message` and the agent refuses to\n"
	      "start (on SIGHUP, it keeps the config it runs). `logship --check -c FILE` validates\n"
	      "and prints the effective config.\n\n"
	      "Sizes: `123`, `64KiB`, `1MiB`, `1GiB`, `10MB`. Durations: `250ms`, `1s`, `5m`,\n"
	      "`2h`, `7d` (a plain number is seconds).\n\n"
	      "## Core keys\n\n", f);
	cfg_doc(f, core_keys);
	fputs("\n## Inputs\n\n"
	      "`inputs:` is a list; each item has a `type` (the module) and these keys, then the\n"
	      "module's own. Several instances of one module run side by side under different names.\n\n", f);
	cfg_doc(f, input_common_keys);
	for (size_t i = 0; registry_inputs[i]; i++) {
		const struct input_module *m = registry_inputs[i];
		fprintf(f, "\n### `type: %s`\n\n%s\n\n", m->type, m->doc);
		if (m->keys && m->keys[0].name)
			cfg_doc(f, m->keys);
		else
			fputs("No keys of its own.\n", f);
	}
	fputs("\n## Filters\n\n"
	      "`filters:` is a list; each item has a `type` and these keys, then the module's own.\n"
	      "Filters run in list order between the inputs and the ring, on the events of the\n"
	      "inputs their `match` selects, so the ring holds processed events and every output\n"
	      "sees the same thing. An input no filter matches pays nothing. See [filters.md](filters.md)\n"
	      "for examples, paths and metrics.\n\n", f);
	cfg_doc(f, filter_common_keys);
	for (size_t i = 0; registry_filters[i]; i++) {
		const struct filter_module *m = registry_filters[i];
		fprintf(f, "\n### `type: %s`\n\n%s\n\n", m->type, m->doc);
		if (m->keys && m->keys[0].name)
			cfg_doc(f, m->keys);
		else
			fputs("No keys of its own.\n", f);
	}
	fputs("\n## Outputs\n\n"
	      "`outputs:` is a list; each item has a `type` and these keys, then the module's own.\n"
	      "Every output reads the ring through its own durable cursor (data_dir/ring/NAME.cursor)\n"
	      "and commits it only past what the destination acknowledged.\n\n", f);
	cfg_doc(f, output_common_keys);
	for (size_t i = 0; registry_outputs[i]; i++) {
		const struct output_module *m = registry_outputs[i];
		fprintf(f, "\n### `type: %s`\n\n%s\n\n", m->type, m->doc);
		if (m->keys && m->keys[0].name)
			cfg_doc(f, m->keys);
		else
			fputs("No keys of its own.\n", f);
	}
}
