/* The agent's configuration: the core keys (data_dir, buffer, http, ...) and
 * the inputs and outputs lists, each item bound against its module's declared
 * keys (agent/module.h). Loading is all-or-nothing: the first error comes
 * back as "file:line:column: message" and nothing is half-applied, which is
 * what lets SIGHUP keep the old config when the new one is bad. */
#ifndef LOGSHIP_AGENT_CONFIG_H
#define LOGSHIP_AGENT_CONFIG_H
#include <stdint.h>
#include <stdio.h>

#include "agent/module.h"
#include "common/config.h"
#include "common/tls_server.h"

struct agent_input_conf {
	const struct input_module *mod;
	char *name;                    /* given, or the type made unique */
	char *tag;                     /* NULL: none */
	void *conf;                    /* mod->conf_size bytes, bound from the item */
	char *fingerprint;             /* effective config as text: equal = unchanged */
	const struct cfg_node *node;   /* the item's map (positions) */
};

struct agent_output_conf {
	const struct output_module *mod;
	char *name;
	struct cfg_strlist match;      /* input names or tags, fnmatch wildcards */
	int64_t retry_initial_ms, retry_max_ms, commit_interval_ms;
	uint64_t read_bytes;           /* ring bytes read per send */
	uint64_t in_flight_bytes;      /* asynchronous outputs: ring bytes sent, not yet acknowledged */
	void *conf;
	char *fingerprint;
	const struct cfg_node *node;
};

/* One item of `filters:`; applied in list order to the events of the
 * inputs its match selects (agent/filter.c). */
struct agent_filter_conf {
	const struct filter_module *mod;
	char *name;
	struct cfg_strlist match;      /* input names or tags, fnmatch wildcards */
	void *conf;
	char *fingerprint;
	const struct cfg_node *node;
};

struct agent_config {
	/* core keys (bound by core_keys) */
	char *data_dir;
	int log_level;                 /* enum log_level */
	int64_t shutdown_timeout_ms;
	char *user;                    /* drop to this user at start (agent/privdrop.c); NULL: stay */
	int filter_thread;             /* filter chains on a thread of their own (agent/filter_thread.c) */
	uint64_t max_bytes, segment_bytes;
	int fsync;                     /* enum log_fsync */
	int64_t fsync_interval_ms;
	int when_full;                 /* enum log_when_full */
	uint64_t batch_max_bytes;
	int64_t batch_timeout_ms;
	char *http_listen;             /* NULL: no status endpoint */
	struct tls_server_conf http_tls;  /* cert_file set: HTTPS */
	/* resolved lists */
	struct agent_input_conf *inputs;
	size_t ninputs;
	struct agent_output_conf *outputs;
	size_t noutputs;
	struct agent_filter_conf *filters;
	size_t nfilters;
	struct cfg_node *root;
};

/* Loads main_file plus conf_dir (NULL: conf.d/ beside it), validates
 * everything. 0 and *out, or -EINVAL with err set ("file:line:col: ..."). */
int agent_config_load(const char *main_file, const char *conf_dir, struct agent_config **out,
		      struct cfg_error *err);
/* The same from YAML text (tests); name is the file name used in errors. */
int agent_config_parse(const char *name, const char *text, struct agent_config **out,
		       struct cfg_error *err);
void agent_config_free(struct agent_config *c);

/* The effective config as YAML (logship --check). */
void agent_config_dump(FILE *f, const struct agent_config *c);
/* docs/configuration.md, generated from the declarations. */
void agent_config_doc(FILE *f);
/* Whether the ring would have to be reopened to go from a to b. */
int agent_config_ring_changed(const struct agent_config *a, const struct agent_config *b);

/* Whether input name/tag is selected by output o's match list. */
int agent_output_matches(const struct agent_output_conf *o, const char *input_name,
			 const char *input_tag);

/* Whether input name/tag is selected by filter f's match list. */
int agent_filter_matches(const struct agent_filter_conf *f, const char *input_name,
			 const char *input_tag);

#endif
