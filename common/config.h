/* YAML configuration: a position-carrying tree, file merging, ${ENV}
 * substitution, and schema-driven binding so that every module declares its
 * keys once and validation, defaults, `--check` output and
 * docs/configuration.md all come from that one declaration.
 *
 * Every error is one line "file:line:column: what is wrong" (1-based, as
 * editors count), written into struct cfg_error.
 *
 * Details the declarations below rely on:
 * - ${NAME} is the variable's value (set but empty is fine); ${NAME:-text} is
 *   text when NAME is unset or empty (text is literal, up to the first "}").
 *   "$${" is a literal "${". A dotted name, ${kubernetes.namespace}, is an
 *   event field for a module's template (no environment variable has a dot)
 *   and is left as written. Substitution applies to every scalar value,
 *   quoted or not, never to map keys.
 * - A plain ~, null, Null, NULL or empty scalar is null, which means "absent"
 *   everywhere: cfg_bind applies the default, and in cfg_load's merge a null
 *   on either side yields the other side (a later file cannot erase a value
 *   by leaving it empty). An empty file is an empty map.
 * - conf_dir entries whose names start with "." are skipped.
 * - Trees own all their memory in one arena: cfg_free takes a root (what
 *   cfg_parse_* or cfg_load returned), never an inner node. */
#ifndef LOGSHIP_COMMON_CONFIG_H
#define LOGSHIP_COMMON_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cfg_error { char msg[1024]; };

enum cfg_kind { CFG_SCALAR, CFG_SEQ, CFG_MAP };
struct cfg_pair;
struct cfg_node {
	enum cfg_kind kind;
	const char *file;              /* interned path, owned by the root */
	int line, col;
	char *value;                   /* CFG_SCALAR, after ${VAR} substitution */
	int plain;                     /* scalar was unquoted (so "~"/"null" mean null) */
	struct cfg_node **items;       /* CFG_SEQ */
	struct cfg_pair *pairs;        /* CFG_MAP, in document order, keys unique */
	size_t n;                      /* items or pairs */
};
struct cfg_pair { struct cfg_node *key, *value; };

/* Limits, each an error with its own message: bytes in one file or text,
 * nested maps/sequences, nodes in a tree (aliases count as expanded, so an
 * alias bomb fails before it allocates), files in conf_dir. */
#define CFG_MAX_FILE_BYTES (16u << 20)
#define CFG_MAX_DEPTH      64
#define CFG_MAX_NODES      1000000
#define CFG_MAX_CONF_FILES 1000

/* Parses one YAML file (one document; anchors/aliases resolved; duplicate keys
 * are an error). ${VAR} and ${VAR:-default} are substituted in scalars; an
 * unset VAR without default is an error at its position. NULL on error. */
struct cfg_node *cfg_parse_file(const char *path, struct cfg_error *err);
struct cfg_node *cfg_parse_string(const char *name, const char *text, struct cfg_error *err);

/* The main file plus conf_dir/ *.yaml (and *.yml) merged in name order: maps
 * merge key by key (later scalars win), sequences concatenate. conf_dir NULL
 * means "conf.d/ beside the main file"; a missing conf_dir is not an error. */
struct cfg_node *cfg_load(const char *main_file, const char *conf_dir, struct cfg_error *err);
void cfg_free(struct cfg_node *root);

/* The value under key in map (NULL when map is NULL, not a map, or lacks key). */
const struct cfg_node *cfg_get(const struct cfg_node *map, const char *key);
/* The node of key in map, or map itself when key is absent: where an error
 * about key is reported. */
const struct cfg_node *cfg_at(const struct cfg_node *map, const char *key);
/* 1 when n is NULL or a null scalar (see above), else 0. */
int cfg_is_null(const struct cfg_node *n);
/* Formats "file:line:column: fmt..." for node n into err; returns -EINVAL. */
int cfg_fail(struct cfg_error *err, const struct cfg_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Schema. Each key names where its value is stored in the target struct. */
enum cfg_type {
	CFG_T_STRING,    /* char *  (malloc'd; NULL when absent without default) */
	CFG_T_INT,       /* int64_t */
	CFG_T_BOOL,      /* int: true/false/yes/no/on/off */
	CFG_T_SIZE,      /* uint64_t bytes: 123, 64KiB, 1MiB, 1GiB, 10MB, 1.5GiB */
	CFG_T_DURATION,  /* int64_t milliseconds: 250ms, 1s, 5m, 2h, 7d, plain = s */
	CFG_T_ENUM,      /* int: index into choices */
	CFG_T_STRLIST,   /* struct cfg_strlist: a sequence of strings (or one string) */
	CFG_T_HOSTPORT,  /* char * "host:port"; checked: port 0..65535, [v6]:port,
			  * ":port" (empty host: every interface) */
	CFG_T_NODE,      /* const struct cfg_node *: kept raw for the module
			  * (points into the tree; NULL when absent; no def) */
	CFG_T_SECTION,   /* a nested map bound with `section` into the same struct */
};
#define CFG_REQUIRED 1u

struct cfg_strlist { char **v; size_t n; };

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;                 /* offsetof(target, field) */
	const char *def;               /* default, as YAML text; NULL = none */
	unsigned flags;
	const char *const *choices;    /* CFG_T_ENUM: NULL-terminated */
	int64_t min, max;              /* bounds for INT/SIZE/DURATION when min < max */
	const struct cfg_key *section; /* CFG_T_SECTION: its keys (terminated by name NULL) */
	const char *doc;               /* one line for --check, --help and the docs */
};
/* Tables end with an entry whose name is NULL. */

/* Binds map (may be NULL: all defaults) onto obj through keys: unknown keys,
 * wrong types, bad values, out-of-range numbers and missing required keys are
 * errors at their position. `ignore` lists keys handled elsewhere (e.g. "type",
 * "name", "match" for modules); NULL-terminated, may be NULL.
 * Every field named in keys is overwritten (zero when absent without default),
 * so obj needs no preparation. Messages name keys by dotted path
 * ("buffer.max_bytes"). On error, what was allocated is freed again (as by
 * cfg_unbind); cfg_unbind is safe after any return. */
int cfg_bind(const struct cfg_node *map, const struct cfg_key *keys, void *obj,
	     const char *const *ignore, struct cfg_error *err);
/* Frees what cfg_bind allocated in obj. */
void cfg_unbind(const struct cfg_key *keys, void *obj);
/* Writes obj's effective values as YAML at the given indent (for --check). */
void cfg_dump(FILE *f, const struct cfg_key *keys, const void *obj, int indent);
/* Writes a Markdown table of keys (name, type, default, doc) for the docs. */
void cfg_doc(FILE *f, const struct cfg_key *keys);

/* The value parsers cfg_bind uses, for modules that parse values themselves.
 * Return 0 or -EINVAL.
 * Sizes: a number (decimals allowed, rounded down to whole bytes) with an
 * optional unit, any case: B; K, M, G, T and KiB..TiB are 1024-based; KB..TB
 * are 1000-based. Durations: one or more number+unit parts ("1h30m") with
 * units ms, s, m, h, d (lower case); a lone number is seconds; decimals are
 * fine ("1.5s"), rounded down to milliseconds; negative is an error. Both
 * allow blanks between number and unit and reject overflow. Bools: true,
 * false, yes, no, on, off in any case, 1, 0. */
int cfg_parse_size(const char *s, uint64_t *out);
int cfg_parse_duration(const char *s, int64_t *ms);
int cfg_parse_bool(const char *s, int *out);
/* Splits "host:port", "[v6]:port" or ":port"; host (may be NULL) receives the
 * host without brackets. 0, -EINVAL for a bad form or a host longer than
 * hostsz - 1, -ERANGE for a port beyond 65535. */
int cfg_parse_hostport(const char *s, char *host, size_t hostsz, uint16_t *port);

#endif
