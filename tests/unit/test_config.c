/* The config layer: a table of bad inputs, each with the exact one-line
 * error it must give (file:line:column included), from YAML syntax through
 * aliases, ${VAR}, merging and every schema type; then what must work: each
 * type with and without defaults, the value parsers, positions, aliases,
 * conf.d merging in name order, ${VAR} with defaults and the $${ escape, a
 * cfg_dump round trip and cfg_doc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"
#include "tests/unit/testutil.h"

/* ---- a small schema of every type ----------------------------------------- */

struct tconf {
	char *data_dir, *name, *listen;
	int64_t workers, flush;
	int verbose, mode;
	uint64_t max_bytes;
	struct cfg_strlist paths;
	const struct cfg_node *extra;
	uint64_t buf_max;
	int64_t buf_interval;
	int buf_when_full, buf_fsync;
};

#define OFF(f) offsetof(struct tconf, f)
static const char *const modes[] = { "block", "drop_oldest", NULL };
static const char *const ignore[] = { "type", NULL };

static const struct cfg_key buffer_keys[] = {
	{ .name = "max_bytes", .type = CFG_T_SIZE, .offset = OFF(buf_max), .def = "1GiB",
	  .min = 1 << 20, .max = 1LL << 40, .doc = "ring size" },
	{ .name = "interval", .type = CFG_T_DURATION, .offset = OFF(buf_interval), .def = "5s",
	  .doc = "fsync interval" },
	{ .name = "when_full", .type = CFG_T_ENUM, .offset = OFF(buf_when_full), .def = "block",
	  .choices = modes, .doc = "block | drop_oldest" },
	{ .name = "fsync", .type = CFG_T_BOOL, .offset = OFF(buf_fsync), .def = "true",
	  .doc = "fsync at all" },
	{ .name = NULL },
};

static const struct cfg_key keys[] = {
	{ .name = "data_dir", .type = CFG_T_STRING, .offset = OFF(data_dir),
	  .flags = CFG_REQUIRED, .doc = "where data lives" },
	{ .name = "name", .type = CFG_T_STRING, .offset = OFF(name),
	  .def = "${LOGSHIP_TEST_NAME:-agent}", .doc = "agent name" },
	{ .name = "workers", .type = CFG_T_INT, .offset = OFF(workers), .def = "4",
	  .min = 1, .max = 64, .doc = "threads" },
	{ .name = "verbose", .type = CFG_T_BOOL, .offset = OFF(verbose), .def = "off",
	  .doc = "chatty" },
	{ .name = "max_bytes", .type = CFG_T_SIZE, .offset = OFF(max_bytes), .def = "64MiB",
	  .doc = "a size" },
	{ .name = "flush", .type = CFG_T_DURATION, .offset = OFF(flush), .def = "1s",
	  .min = 10, .max = 3600000, .doc = "a duration" },
	{ .name = "mode", .type = CFG_T_ENUM, .offset = OFF(mode), .def = "block",
	  .choices = modes, .doc = "an enum" },
	{ .name = "paths", .type = CFG_T_STRLIST, .offset = OFF(paths),
	  .def = "[/var/log/*.log]", .doc = "globs" },
	{ .name = "listen", .type = CFG_T_HOSTPORT, .offset = OFF(listen),
	  .def = "127.0.0.1:2020", .doc = "status endpoint" },
	{ .name = "extra", .type = CFG_T_NODE, .offset = OFF(extra), .doc = "raw YAML" },
	{ .name = "buffer", .type = CFG_T_SECTION, .section = buffer_keys, .doc = "the ring" },
	{ .name = NULL },
};

static void env_setup(void)
{
	setenv("LOGSHIP_TEST_SET", "from-env", 1);
	setenv("LOGSHIP_TEST_EMPTY", "", 1);
	unsetenv("LOGSHIP_TEST_UNSET");
	unsetenv("LOGSHIP_TEST_NAME");
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* msg with every "dir/" removed, so expectations need no temp paths. */
static void strip_dir(char *msg, const char *dir)
{
	char pre[4200];
	snprintf(pre, sizeof(pre), "%s/", dir);
	size_t n = strlen(pre);
	for (char *p; (p = strstr(msg, pre));)
		memmove(p, p + n, strlen(p + n) + 1);
}

/* ---- bad inputs ----------------------------------------------------------- */

#define L8 "[[[[[[[["
#define R8 "]]]]]]]]"
#define L64 L8 L8 L8 L8 L8 L8 L8 L8
#define R64 R8 R8 R8 R8 R8 R8 R8 R8
#define ALIAS10(x) "[" x ", " x ", " x ", " x ", " x ", " x ", " x ", " x ", " x ", " x "]\n"

/* main is t.yaml; conf, if any, is conf.d/10-more.yaml; both are cfg_load'ed
 * and the result bound to keys. want is the whole message. */
struct bad { const char *main, *conf, *want; };

static const struct bad bads[] = {
	/* YAML syntax, reported where libyaml found the problem */
	{ "data_dir: /d\nworkers: [1, 2\n", NULL,
	  "t.yaml:3:1: did not find expected ',' or ']'" },
	{ "data_dir: /d\nbuffer:\n\tfsync: true\n", NULL,
	  "t.yaml:3:1: found character that cannot start any token" },
	{ "data_dir: \"/d\nname: x\n", NULL,
	  "t.yaml:3:1: found unexpected end of stream" },
	{ "data_dir: '/d\n", NULL,
	  "t.yaml:2:1: found unexpected end of stream" },
	{ "data_dir: /d\n  name: x\n", NULL,
	  "t.yaml:2:7: mapping values are not allowed in this context" },
	{ "data_dir: a\x01z\n", NULL,
	  "t.yaml:1:12: control characters are not allowed" },
	{ "data_dir: \xff\n", NULL,
	  "t.yaml:1:11: invalid leading UTF-8 octet" },
	{ "data_dir: /d\n", "paths: [\n",
	  "conf.d/10-more.yaml:2:1: did not find expected node content" },
	/* structure */
	{ "data_dir: /a\nname: x\ndata_dir: /b\n", NULL,
	  "t.yaml:3:1: duplicate key \"data_dir\" (first at line 1, column 1)" },
	{ "data_dir: /d\nbuffer:\n  fsync: true\n  fsync: false\n", NULL,
	  "t.yaml:4:3: duplicate key \"fsync\" (first at line 3, column 3)" },
	{ "data_dir: /d\n? [a, b]\n: 1\n", NULL,
	  "t.yaml:2:3: a map key must be a scalar, not a sequence" },
	{ "base: &b {x: 1}\n*b : 2\n", NULL,
	  "t.yaml:2:1: a map key must be a scalar, not a map" },
	{ "data_dir: /d\n---\nname: x\n", NULL,
	  "t.yaml:2:1: a second YAML document (a config file holds one)" },
	{ "data_dir: \"a\\0b\"\n", NULL,
	  "t.yaml:1:11: a NUL character is not allowed in a string" },
	{ "- a\n- b\n", NULL,
	  "t.yaml:1:1: expected a map of keys, got a sequence" },
	/* aliases and limits */
	{ "data_dir: *nowhere\n", NULL,
	  "t.yaml:1:11: unknown alias *nowhere (no complete &nowhere before it)" },
	{ "data_dir: /d\nextra: &a [1, *a]\n", NULL,
	  "t.yaml:2:15: unknown alias *a (no complete &a before it)" },
	{ "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	  "b: &b " ALIAS10("*a") "c: &c " ALIAS10("*b") "d: &d " ALIAS10("*c")
	  "e: &e " ALIAS10("*d") "f: &f " ALIAS10("*e") "g: &g " ALIAS10("*f"), NULL,
	  "t.yaml:6:36: alias *e expands the document past 1000000 nodes" },
	{ "data_dir: /d\nextra: " L64 R64 "\n", NULL,
	  "t.yaml:2:71: nested deeper than 64 levels" },
	{ "deep: &d " L8 L8 L8 L8 L8 L8 L8 "[[[[[[[]]]]]]]" R8 R8 R8 R8 R8 R8 R8 "\n"
	  "data_dir: /d\nextra: [[*d]]\n", NULL,
	  "t.yaml:3:10: alias *d nests deeper than 64 levels" },
	/* ${VAR} */
	{ "data_dir: ${LOGSHIP_TEST_UNSET}\n", NULL,
	  "t.yaml:1:11: environment variable LOGSHIP_TEST_UNSET is not set "
	  "(use ${LOGSHIP_TEST_UNSET:-default})" },
	{ "data_dir: /d\nname: \"x ${HOME\"\n", NULL,
	  "t.yaml:2:7: unterminated ${ (write $${ for a literal ${)" },
	{ "data_dir: ${1X}\n", NULL,
	  "t.yaml:1:11: bad variable reference \"${1X}\" (expected ${NAME} or ${NAME:-default})" },
	{ "data_dir: /d\nname: a${X-y}\n", NULL,
	  "t.yaml:2:7: bad variable reference \"${X-y}\" (expected ${NAME} or ${NAME:-default})" },
	/* merging across files */
	{ "data_dir: /d\npaths: [/a]\n", "paths: {x: 1}\n",
	  "conf.d/10-more.yaml:1:8: paths: a map here cannot merge with the sequence at t.yaml:2:8" },
	{ "data_dir: /d\nbuffer:\n  fsync: true\n", "buffer: [1]\n",
	  "conf.d/10-more.yaml:1:9: buffer: a sequence here cannot merge with the map at t.yaml:3:3" },
	{ "data_dir: /d\nbuffer:\n  fsync: true\n", "buffer:\n  fsync: {a: b}\n",
	  "conf.d/10-more.yaml:2:10: buffer.fsync: a map here cannot merge with the scalar at t.yaml:3:10" },
	{ "data_dir: /d\n", "- 1\n",
	  "conf.d/10-more.yaml:1:1: top level: a sequence here cannot merge with the map at t.yaml:1:1" },
	/* keys */
	{ "data_dir: /d\nworkrs: 3\n", NULL,
	  "t.yaml:2:1: unknown key \"workrs\" (did you mean \"workers\"?)" },
	{ "data_dir: /d\ntyep: tail\n", NULL,
	  "t.yaml:2:1: unknown key \"tyep\" (did you mean \"type\"?)" },
	{ "data_dir: /d\nzzz: 1\n", NULL,
	  "t.yaml:2:1: unknown key \"zzz\"; valid keys: data_dir, name, workers, verbose, "
	  "max_bytes, flush, mode, paths, listen, extra, buffer, type" },
	{ "data_dir: /d\nbuffer:\n  max_byte: 1GiB\n", NULL,
	  "t.yaml:3:3: unknown key \"buffer.max_byte\" (did you mean \"buffer.max_bytes\"?)" },
	{ "data_dir: /d\nbuffer:\n  colour: red\n", NULL,
	  "t.yaml:3:3: unknown key \"buffer.colour\"; valid keys in buffer: max_bytes, interval, "
	  "when_full, fsync" },
	{ "name: x\n", NULL,
	  "t.yaml:1:1: data_dir: required key is missing" },
	{ "data_dir:\nname: x\n", NULL,
	  "t.yaml:1:10: data_dir: required key has no value" },
	/* every type */
	{ "data_dir: {a: 1}\n", NULL,
	  "t.yaml:1:11: data_dir: expected a string, got a map" },
	{ "data_dir: /d\nname: [a]\n", NULL,
	  "t.yaml:2:7: name: expected a string, got a sequence" },
	{ "data_dir: /d\nworkers: many\n", NULL,
	  "t.yaml:2:10: workers: expected an integer, got \"many\"" },
	{ "data_dir: /d\nworkers: 65\n", NULL,
	  "t.yaml:2:10: workers: must be between 1 and 64, got \"65\"" },
	{ "data_dir: /d\nworkers: 0\n", NULL,
	  "t.yaml:2:10: workers: must be between 1 and 64, got \"0\"" },
	{ "data_dir: /d\nworkers: 99999999999999999999\n", NULL,
	  "t.yaml:2:10: workers: integer too large, got \"99999999999999999999\"" },
	{ "data_dir: /d\nworkers: 1.5\n", NULL,
	  "t.yaml:2:10: workers: expected an integer, got \"1.5\"" },
	{ "data_dir: /d\nverbose: maybe\n", NULL,
	  "t.yaml:2:10: verbose: expected true or false, got \"maybe\"" },
	{ "data_dir: /d\nverbose: [true]\n", NULL,
	  "t.yaml:2:10: verbose: expected true or false, got a sequence" },
	{ "data_dir: /d\nname: x\nbuffer:\n  max_bytes: lots\n", NULL,
	  "t.yaml:4:14: buffer.max_bytes: expected a size like 512MiB or 1GiB, got \"lots\"" },
	{ "data_dir: /d\nmax_bytes: 10 XB\n", NULL,
	  "t.yaml:2:12: max_bytes: expected a size like 512MiB or 1GiB, got \"10 XB\"" },
	{ "data_dir: /d\nmax_bytes: -1\n", NULL,
	  "t.yaml:2:12: max_bytes: expected a size like 512MiB or 1GiB, got \"-1\"" },
	{ "data_dir: /d\nmax_bytes: 99999999TiB\n", NULL,
	  "t.yaml:2:12: max_bytes: size too large, got \"99999999TiB\"" },
	{ "data_dir: /d\nbuffer: {max_bytes: 2TiB}\n", NULL,
	  "t.yaml:2:21: buffer.max_bytes: must be between 1MiB and 1TiB, got \"2TiB\"" },
	{ "data_dir: /d\nflush: soon\n", NULL,
	  "t.yaml:2:8: flush: expected a duration like 250ms, 30s or 5m, got \"soon\"" },
	{ "data_dir: /d\nflush: 5sec\n", NULL,
	  "t.yaml:2:8: flush: expected a duration like 250ms, 30s or 5m, got \"5sec\"" },
	{ "data_dir: /d\nflush: -5s\n", NULL,
	  "t.yaml:2:8: flush: a duration cannot be negative, got \"-5s\"" },
	{ "data_dir: /d\nflush: 2h\n", NULL,
	  "t.yaml:2:8: flush: must be between 10ms and 1h, got \"2h\"" },
	{ "data_dir: /d\nbuffer:\n  interval: 9999999999999999d\n", NULL,
	  "t.yaml:3:13: buffer.interval: duration too long, got \"9999999999999999d\"" },
	{ "data_dir: /d\nmode: fast\n", NULL,
	  "t.yaml:2:7: mode: expected one of block, drop_oldest, got \"fast\"" },
	{ "data_dir: /d\nbuffer:\n  when_full: {x: 1}\n", NULL,
	  "t.yaml:3:14: buffer.when_full: expected one of block, drop_oldest, got a map" },
	{ "data_dir: /d\npaths:\n  - /a\n  - {b: 1}\n", NULL,
	  "t.yaml:4:5: paths[1]: expected a string, got a map" },
	{ "data_dir: /d\npaths: [/a, ~]\n", NULL,
	  "t.yaml:2:13: paths[1]: expected a string, got null" },
	{ "data_dir: /d\npaths: {a: 1}\n", NULL,
	  "t.yaml:2:8: paths: expected a list of strings, got a map" },
	{ "data_dir: /d\nlisten: localhost\n", NULL,
	  "t.yaml:2:9: listen: expected host:port like 127.0.0.1:2020 or [::1]:2020, "
	  "got \"localhost\"" },
	{ "data_dir: /d\nlisten: \"h:70000\"\n", NULL,
	  "t.yaml:2:9: listen: port must be 0..65535, got \"h:70000\"" },
	{ "data_dir: /d\nlisten: \"[::1:80\"\n", NULL,
	  "t.yaml:2:9: listen: expected host:port like 127.0.0.1:2020 or [::1]:2020, "
	  "got \"[::1:80\"" },
	{ "data_dir: /d\nlisten: \"::1:80\"\n", NULL,
	  "t.yaml:2:9: listen: expected host:port like 127.0.0.1:2020 or [::1]:2020, "
	  "got \"::1:80\"" },
	{ "data_dir: /d\nlisten: \"host:\"\n", NULL,
	  "t.yaml:2:9: listen: expected host:port like 127.0.0.1:2020 or [::1]:2020, "
	  "got \"host:\"" },
	{ "data_dir: /d\nbuffer: big\n", NULL,
	  "t.yaml:2:9: buffer: expected a map of keys, got \"big\"" },
	{ "data_dir: /d\nname: \"a\\tb\"\nworkers: \"\\\"x\\\"\"\n", NULL,
	  "t.yaml:3:10: workers: expected an integer, got \"\\\"x\\\"\"" },
};

static void run_bad(const struct bad *b, size_t i)
{
	char *dir = tu_tmpdir(), path[4200];
	write_text(dir, "t.yaml", b->main);
	if (b->conf) {
		snprintf(path, sizeof(path), "%s/conf.d", dir);
		assert_int_equal(mkdir(path, 0755), 0);
		write_text(dir, "conf.d/10-more.yaml", b->conf);
	}
	snprintf(path, sizeof(path), "%s/t.yaml", dir);
	struct cfg_error err = { "" };
	struct tconf c;
	struct cfg_node *root = cfg_load(path, NULL, &err);
	if (root) {
		assert_int_equal(cfg_bind(root, keys, &c, ignore, &err), -EINVAL);
		assert_null(c.data_dir);      /* a failed bind leaves nothing allocated */
		assert_null(c.paths.v);
		cfg_free(root);
	}
	strip_dir(err.msg, dir);
	if (strcmp(err.msg, b->want) != 0)
		print_error("bads[%zu]:\n  got  %s\n  want %s\n", i, err.msg, b->want);
	assert_string_equal(err.msg, b->want);
	tu_rmrf(dir);
}

static void test_bad_inputs(void **state)
{
	(void)state;
	env_setup();
	assert_true(sizeof(bads) / sizeof(bads[0]) >= 35);
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		run_bad(&bads[i], i);
}

static void test_file_errors(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), path[4200];
	struct cfg_error err;
	snprintf(path, sizeof(path), "%s/none.yaml", dir);
	assert_null(cfg_load(path, NULL, &err));
	strip_dir(err.msg, dir);
	assert_string_equal(err.msg, "none.yaml: cannot open: No such file or directory");
	assert_null(cfg_parse_file(path, &err));

	/* One byte over the cap, as a file and as a string. */
	size_t big = CFG_MAX_FILE_BYTES + 1;
	char *text = malloc(big + 1);
	memset(text, '#', big);
	text[big] = '\0';
	write_text(dir, "big.yaml", text);
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	assert_null(cfg_parse_file(path, &err));
	strip_dir(err.msg, dir);
	assert_string_equal(err.msg, "big.yaml: larger than the 16 MiB limit for config files");
	assert_null(cfg_parse_string("s.yaml", text, &err));
	assert_string_equal(err.msg, "s.yaml: larger than the 16 MiB limit for config files");
	text[big - 1] = '\0';   /* exactly at the cap: a comment, so an empty map */
	struct cfg_node *root = cfg_parse_string("s.yaml", text, &err);
	assert_non_null(root);
	assert_int_equal(root->kind, CFG_MAP);
	cfg_free(root);
	free(text);

	/* A conf.d entry that cannot be read. */
	write_text(dir, "main.yaml", "data_dir: /d\n");
	snprintf(path, sizeof(path), "%s/conf.d", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/conf.d/x.yaml", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/main.yaml", dir);
	assert_null(cfg_load(path, NULL, &err));
	strip_dir(err.msg, dir);
	assert_string_equal(err.msg, "conf.d/x.yaml: cannot read: Is a directory");
	/* An explicit conf_dir that is a file. */
	assert_null(cfg_load(path, path, &err));
	strip_dir(err.msg, dir);
	assert_string_equal(err.msg, "main.yaml: cannot open: Not a directory");
	tu_rmrf(dir);
}

/* ---- what must work ------------------------------------------------------- */

static struct cfg_node *parse(const char *text)
{
	struct cfg_error err = { "" };
	struct cfg_node *root = cfg_parse_string("p.yaml", text, &err);
	if (!root)
		print_error("%s\n", err.msg);
	assert_non_null(root);
	return root;
}

static void bind_ok(const struct cfg_node *root, struct tconf *c)
{
	struct cfg_error err = { "" };
	int rc = cfg_bind(root, keys, c, ignore, &err);
	if (rc)
		print_error("%s\n", err.msg);
	assert_int_equal(rc, 0);
}

static void test_defaults(void **state)
{
	(void)state;
	env_setup();
	struct tconf c;
	struct cfg_error err;
	assert_int_equal(cfg_bind(NULL, keys, &c, ignore, &err), -EINVAL);
	assert_string_equal(err.msg, "data_dir: required key is missing");

	/* Null (~, null, empty) means absent: defaults apply. */
	struct cfg_node *root = parse("data_dir: /d\nname: ~\nworkers: null\nbuffer:\ntype: tail\n");
	bind_ok(root, &c);
	assert_string_equal(c.data_dir, "/d");
	assert_string_equal(c.name, "agent");
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.verbose, 0);
	assert_int_equal(c.max_bytes, 64ull << 20);
	assert_int_equal(c.flush, 1000);
	assert_int_equal(c.mode, 0);
	assert_int_equal(c.paths.n, 1);
	assert_string_equal(c.paths.v[0], "/var/log/*.log");
	assert_string_equal(c.listen, "127.0.0.1:2020");
	assert_null(c.extra);
	assert_int_equal(c.buf_max, 1ull << 30);
	assert_int_equal(c.buf_interval, 5000);
	assert_int_equal(c.buf_when_full, 0);
	assert_int_equal(c.buf_fsync, 1);
	cfg_unbind(keys, &c);
	assert_null(c.name);
	cfg_unbind(keys, &c);   /* twice is harmless */
	cfg_free(root);

	/* Defaults are YAML text with ${VAR} like any file. */
	setenv("LOGSHIP_TEST_NAME", "from-env", 1);
	root = parse("data_dir: /d\n");
	bind_ok(root, &c);
	assert_string_equal(c.name, "from-env");
	cfg_unbind(keys, &c);
	cfg_free(root);
	unsetenv("LOGSHIP_TEST_NAME");
}

static void test_every_type(void **state)
{
	(void)state;
	env_setup();
	struct tconf c;
	struct cfg_node *root = parse(
		"type: ignored\n"
		"data_dir: \"\"\n"            /* quoted empty is a string, not null */
		"name: 'it''s'\n"
		"workers: 64\n"
		"verbose: YES\n"
		"max_bytes: 1.5GiB\n"
		"flush: 1h\n"
		"mode: drop_oldest\n"
		"paths: /one/path\n"          /* one string is a list of one */
		"listen: \"[::1]:9092\"\n"
		"extra: {a: [1, 2], b: x}\n"
		"buffer:\n"
		"  max_bytes: 1MiB\n"
		"  interval: 250ms\n"
		"  when_full: drop_oldest\n"
		"  fsync: off\n");
	bind_ok(root, &c);
	assert_string_equal(c.data_dir, "");
	assert_string_equal(c.name, "it's");
	assert_int_equal(c.workers, 64);
	assert_int_equal(c.verbose, 1);
	assert_int_equal(c.max_bytes, 3ull << 29);
	assert_int_equal(c.flush, 3600000);
	assert_int_equal(c.mode, 1);
	assert_int_equal(c.paths.n, 1);
	assert_string_equal(c.paths.v[0], "/one/path");
	assert_string_equal(c.listen, "[::1]:9092");
	assert_non_null(c.extra);
	assert_int_equal(c.extra->kind, CFG_MAP);
	assert_int_equal(cfg_get(c.extra, "a")->n, 2);
	assert_string_equal(cfg_get(c.extra, "b")->value, "x");
	assert_int_equal(c.buf_max, 1u << 20);
	assert_int_equal(c.buf_interval, 250);
	assert_int_equal(c.buf_when_full, 1);
	assert_int_equal(c.buf_fsync, 0);
	cfg_unbind(keys, &c);
	cfg_free(root);

	root = parse("data_dir: /d\nlisten: \":8080\"\npaths: []\nworkers: 1\n");
	bind_ok(root, &c);
	assert_string_equal(c.listen, ":8080");
	assert_int_equal(c.paths.n, 0);
	assert_int_equal(c.workers, 1);
	cfg_unbind(keys, &c);
	cfg_free(root);
}

static void test_value_parsers(void **state)
{
	(void)state;
	static const struct { const char *s; uint64_t v; } sizes[] = {
		{ "0", 0 }, { "123", 123 }, { "512B", 512 }, { "64KiB", 65536 }, { "1K", 1024 },
		{ "1MiB", 1 << 20 }, { "1 MiB", 1 << 20 }, { "1m", 1 << 20 }, { "10MB", 10000000 },
		{ "1kb", 1000 }, { "1GiB", 1ull << 30 }, { "1.5GiB", 3ull << 29 }, { "2TB", 2000000000000ull },
		{ "1TiB", 1ull << 40 }, { "0.5KiB", 512 }, { "1.0000009K", 1024 }, { "1.7", 1 },
		{ "18446744073709551615", UINT64_MAX },
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t v = 1;
		assert_int_equal(cfg_parse_size(sizes[i].s, &v), 0);
		assert_int_equal(v, sizes[i].v);
	}
	static const char *const bad_sizes[] = {
		"", "x", "-1", "1.", ".5", "1 XB", "1GiBs", "1e3", "18446744073709551616",
		"16777216TiB", " 1", "1..5K", "0x10",
	};
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		uint64_t v = 7;
		assert_int_equal(cfg_parse_size(bad_sizes[i], &v), -EINVAL);
		assert_int_equal(v, 7);
	}

	static const struct { const char *s; int64_t ms; } durs[] = {
		{ "0", 0 }, { "5", 5000 }, { "250ms", 250 }, { "1s", 1000 }, { "1.5s", 1500 },
		{ "5m", 300000 }, { "2h", 7200000 }, { "7d", 604800000 }, { "1h30m", 5400000 },
		{ "1m 30s", 90000 }, { "0.5ms", 0 }, { "1.5", 1500 }, { "10 s", 10000 },
		{ "106751991167d", 9223372036828800000LL },
	};
	for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		int64_t ms = -1;
		assert_int_equal(cfg_parse_duration(durs[i].s, &ms), 0);
		assert_int_equal(ms, durs[i].ms);
	}
	static const char *const bad_durs[] = {
		"", "s", "-1s", "-5", "5x", "5S", "1h30", "5sec", "1.s", "9999999999999999d",
		"106751991168d",
	};
	for (size_t i = 0; i < sizeof(bad_durs) / sizeof(bad_durs[0]); i++) {
		int64_t ms = 7;
		assert_int_equal(cfg_parse_duration(bad_durs[i], &ms), -EINVAL);
		assert_int_equal(ms, 7);
	}

	static const struct { const char *s; int v; } bools[] = {
		{ "true", 1 }, { "True", 1 }, { "yes", 1 }, { "ON", 1 }, { "1", 1 },
		{ "false", 0 }, { "FALSE", 0 }, { "no", 0 }, { "off", 0 }, { "0", 0 },
	};
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		int v = -1;
		assert_int_equal(cfg_parse_bool(bools[i].s, &v), 0);
		assert_int_equal(v, bools[i].v);
	}
	int b;
	assert_int_equal(cfg_parse_bool("y", &b), -EINVAL);
	assert_int_equal(cfg_parse_bool("2", &b), -EINVAL);
	assert_int_equal(cfg_parse_bool("", &b), -EINVAL);

	static const struct { const char *s; const char *host; int port; int rc; } hps[] = {
		{ "127.0.0.1:2020", "127.0.0.1", 2020, 0 }, { "[::1]:9092", "::1", 9092, 0 },
		{ ":9092", "", 9092, 0 }, { "broker-1.example.com:0", "broker-1.example.com", 0, 0 },
		{ "[fe80::1%eth0]:65535", "fe80::1%eth0", 65535, 0 }, { "h:65536", NULL, 0, -ERANGE },
		{ "h:123456", NULL, 0, -ERANGE }, { "h", NULL, 0, -EINVAL }, { "h:", NULL, 0, -EINVAL },
		{ "h:x", NULL, 0, -EINVAL }, { "::1:80", NULL, 0, -EINVAL }, { "[::1]80", NULL, 0, -EINVAL },
		{ "[]:80", NULL, 0, -EINVAL }, { "[x]:80", NULL, 0, -EINVAL }, { "a b:80", NULL, 0, -EINVAL },
		{ "h:-1", NULL, 0, -EINVAL }, { "", NULL, 0, -EINVAL },
	};
	for (size_t i = 0; i < sizeof(hps) / sizeof(hps[0]); i++) {
		char host[256] = "unset";
		uint16_t port = 1;
		assert_int_equal(cfg_parse_hostport(hps[i].s, host, sizeof(host), &port), hps[i].rc);
		if (hps[i].rc == 0) {
			assert_string_equal(host, hps[i].host);
			assert_int_equal(port, hps[i].port);
		}
	}
	char tiny[4];
	assert_int_equal(cfg_parse_hostport("long:1", tiny, sizeof(tiny), NULL), -EINVAL);
}

static void test_positions_and_get(void **state)
{
	(void)state;
	struct cfg_node *root = parse("# comment\na: 1\nb:\n  - x\n  - {c: \"q\"}\nd: [e,  f]\n");
	assert_int_equal(root->kind, CFG_MAP);
	assert_int_equal(root->n, 3);
	assert_string_equal(root->file, "p.yaml");
	const struct cfg_node *a = cfg_get(root, "a"), *b = cfg_get(root, "b"), *d = cfg_get(root, "d");
	assert_int_equal(a->line, 2);
	assert_int_equal(a->col, 4);
	assert_int_equal(a->plain, 1);
	assert_int_equal(root->pairs[1].key->line, 3);
	assert_int_equal(root->pairs[1].key->col, 1);
	assert_int_equal(b->kind, CFG_SEQ);
	assert_int_equal(b->line, 4);
	assert_int_equal(b->col, 3);
	const struct cfg_node *c = cfg_get(b->items[1], "c");
	assert_string_equal(c->value, "q");
	assert_int_equal(c->plain, 0);
	assert_int_equal(c->line, 5);
	assert_int_equal(c->col, 9);
	assert_int_equal(d->items[1]->col, 9);
	assert_null(cfg_get(root, "zz"));
	assert_null(cfg_get(b, "a"));
	assert_null(cfg_get(NULL, "a"));

	struct cfg_error err;
	assert_int_equal(cfg_fail(&err, c, "bad %s %d", "thing", 7), -EINVAL);
	assert_string_equal(err.msg, "p.yaml:5:9: bad thing 7");
	assert_int_equal(cfg_fail(&err, NULL, "no place"), -EINVAL);
	assert_string_equal(err.msg, "no place");

	assert_true(cfg_is_null(NULL));
	cfg_free(root);
	root = parse("a: ~\nb: null\nc:\nd: \"\"\ne: '~'\nf: NULL\n");
	assert_true(cfg_is_null(cfg_get(root, "a")));
	assert_true(cfg_is_null(cfg_get(root, "b")));
	assert_true(cfg_is_null(cfg_get(root, "c")));
	assert_false(cfg_is_null(cfg_get(root, "d")));
	assert_false(cfg_is_null(cfg_get(root, "e")));
	assert_true(cfg_is_null(cfg_get(root, "f")));
	cfg_free(root);

	/* Empty text, a comment, a bare null, a lone "---": an empty map. */
	static const char *const empties[] = { "", "# nothing\n", "~\n", "---\n", "---\n...\n" };
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		root = parse(empties[i]);
		assert_int_equal(root->kind, CFG_MAP);
		assert_int_equal(root->n, 0);
		if (i < 3)   /* after "---", libyaml places the empty node on the next line */
			assert_int_equal(root->line, 1);
		cfg_free(root);
	}
	cfg_free(NULL);

	/* Exactly CFG_MAX_DEPTH levels is fine. */
	root = parse("x: " L8 L8 L8 L8 L8 L8 L8 "[[[[[[[]]]]]]]" R8 R8 R8 R8 R8 R8 R8 "\n");
	cfg_free(root);
}

static void test_aliases(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), path[4200];
	write_text(dir, "main.yaml",
		   "base: &b {x: 1, l: [a]}\n"
		   "one: *b\n"
		   "two: *b\n"
		   "s: &s text\n"
		   "t: *s\n"
		   "s2: &s other\n"          /* a redefined anchor: later aliases see the new one */
		   "t2: *s\n");
	snprintf(path, sizeof(path), "%s/conf.d", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	write_text(dir, "conf.d/1.yaml", "one: {x: 2, l: [b]}\n");
	snprintf(path, sizeof(path), "%s/main.yaml", dir);
	struct cfg_error err = { "" };
	struct cfg_node *root = cfg_load(path, NULL, &err);
	assert_non_null(root);
	const struct cfg_node *one = cfg_get(root, "one"), *two = cfg_get(root, "two");
	assert_string_equal(cfg_get(one, "x")->value, "2");
	assert_int_equal(cfg_get(one, "l")->n, 2);
	/* The merge into one changed neither the anchor nor the other alias. */
	assert_string_equal(cfg_get(two, "x")->value, "1");
	assert_int_equal(cfg_get(two, "l")->n, 1);
	assert_string_equal(cfg_get(cfg_get(root, "base"), "x")->value, "1");
	assert_string_equal(cfg_get(root, "t")->value, "text");
	assert_string_equal(cfg_get(root, "t2")->value, "other");
	/* The copy's top sits where the alias is; inside, where the anchor is. */
	assert_int_equal(two->line, 3);
	assert_int_equal(two->col, 6);
	assert_int_equal(cfg_get(two, "x")->line, 1);
	cfg_free(root);
	tu_rmrf(dir);
}

static void test_conf_d_merge(void **state)
{
	(void)state;
	env_setup();
	char *dir = tu_tmpdir(), path[4200], confd[4200];
	write_text(dir, "main.yaml",
		   "data_dir: /main\nname: main\nworkers: 2\npaths: [/m]\n"
		   "buffer:\n  max_bytes: 2GiB\n  fsync: false\n"
		   "extra: {keep: 1, over: main, list: [m]}\n");
	snprintf(confd, sizeof(confd), "%s/conf.d", dir);
	assert_int_equal(mkdir(confd, 0755), 0);
	write_text(dir, "conf.d/20-b.yaml", "name: b\npaths: [/b]\nbuffer: {interval: 2s}\n"
		   "extra: {over: b, list: [b]}\n");
	write_text(dir, "conf.d/10-a.yml", "name: a\npaths: [/a1, /a2]\nworkers: 3\n"
		   "extra: {list: [a], new: a}\n");
	write_text(dir, "conf.d/30-c.yaml", "paths: [/c]\nbuffer:\n  fsync: ~\nworkers:\n");
	write_text(dir, "conf.d/.hidden.yaml", "name: hidden\n");
	write_text(dir, "conf.d/README", "not yaml: [\n");
	write_text(dir, "conf.d/40-d.yaml.bak", "name: bak\n");
	write_text(dir, "conf.d/50-empty.yaml", "");
	snprintf(path, sizeof(path), "%s/main.yaml", dir);
	struct cfg_error err = { "" };
	struct cfg_node *root = cfg_load(path, NULL, &err);
	if (!root)
		print_error("%s\n", err.msg);
	assert_non_null(root);
	struct tconf c;
	bind_ok(root, &c);
	assert_string_equal(c.data_dir, "/main");
	assert_string_equal(c.name, "b");                 /* later wins: 10-a, then 20-b */
	assert_int_equal(c.workers, 3);                     /* a later null does not erase */
	assert_int_equal(c.paths.n, 5);                     /* main, 10-a, 20-b, 30-c */
	const char *want[] = { "/m", "/a1", "/a2", "/b", "/c" };
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(c.paths.v[i], want[i]);
	assert_int_equal(c.buf_max, 2ull << 30);           /* nested maps merge key by key */
	assert_int_equal(c.buf_interval, 2000);
	assert_int_equal(c.buf_fsync, 0);
	const struct cfg_node *x = c.extra;
	assert_string_equal(cfg_get(x, "keep")->value, "1");
	assert_string_equal(cfg_get(x, "over")->value, "b");
	assert_string_equal(cfg_get(x, "new")->value, "a");
	assert_int_equal(cfg_get(x, "list")->n, 3);
	assert_string_equal(cfg_get(x, "list")->items[2]->value, "b");
	/* Positions name the file each value came from. */
	snprintf(path, sizeof(path), "%s/conf.d/20-b.yaml", dir);
	assert_string_equal(cfg_get(x, "over")->file, path);
	assert_int_equal(cfg_get(x, "over")->line, 4);
	cfg_unbind(keys, &c);
	cfg_free(root);

	/* An explicit conf_dir; a missing one is no error. */
	snprintf(path, sizeof(path), "%s/other", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	write_text(dir, "other/x.yaml", "name: other\n");
	snprintf(path, sizeof(path), "%s/main.yaml", dir);
	snprintf(confd, sizeof(confd), "%s/other", dir);
	root = cfg_load(path, confd, &err);
	assert_non_null(root);
	assert_string_equal(cfg_get(root, "name")->value, "other");
	cfg_free(root);
	snprintf(confd, sizeof(confd), "%s/missing", dir);
	root = cfg_load(path, confd, &err);
	assert_non_null(root);
	assert_string_equal(cfg_get(root, "name")->value, "main");
	cfg_free(root);
	tu_rmrf(dir);
}

static void test_env(void **state)
{
	(void)state;
	env_setup();
	struct cfg_node *root = parse(
		"a: ${LOGSHIP_TEST_SET}\n"
		"b: x-${LOGSHIP_TEST_UNSET:-dflt}-${LOGSHIP_TEST_SET}-y\n"
		"c: ${LOGSHIP_TEST_EMPTY:-used}\n"
		"d: \"[${LOGSHIP_TEST_EMPTY}]\"\n"
		"e: $${LOGSHIP_TEST_SET}\n"
		"f: 'a$$b $5 $ ${LOGSHIP_TEST_UNSET:-}'\n"
		"g: \"${LOGSHIP_TEST_UNSET:-with spaces: and $ signs}\"\n"
		"${LOGSHIP_TEST_SET}: key\n"
		"h: $$${LOGSHIP_TEST_SET}\n"
		"i: logs-${kubernetes.namespace}-${LOGSHIP_TEST_SET}\n");
	assert_string_equal(cfg_get(root, "a")->value, "from-env");
	assert_string_equal(cfg_get(root, "b")->value, "x-dflt-from-env-y");
	assert_string_equal(cfg_get(root, "c")->value, "used");
	assert_string_equal(cfg_get(root, "d")->value, "[]");
	assert_string_equal(cfg_get(root, "e")->value, "${LOGSHIP_TEST_SET}");
	assert_string_equal(cfg_get(root, "f")->value, "a$$b $5 $ ");
	assert_string_equal(cfg_get(root, "g")->value, "with spaces: and $ signs");
	assert_string_equal(cfg_get(root, "${LOGSHIP_TEST_SET}")->value, "key");
	assert_string_equal(cfg_get(root, "h")->value, "$${LOGSHIP_TEST_SET}");
	/* Dotted names are event fields for module templates: left as written. */
	assert_string_equal(cfg_get(root, "i")->value, "logs-${kubernetes.namespace}-from-env");
	/* ${VAR:-} of an unset VAR in a plain scalar is empty, so null: absent. */
	cfg_free(root);
	root = parse("data_dir: /d\nname: ${LOGSHIP_TEST_UNSET:-}\n");
	assert_true(cfg_is_null(cfg_get(root, "name")));
	cfg_free(root);
}

/* Same shape, values and quoting. */
static void assert_same_tree(const struct cfg_node *a, const struct cfg_node *b)
{
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->n, b->n);
	if (a->kind == CFG_SCALAR) {
		assert_string_equal(a->value, b->value);
		assert_int_equal(cfg_is_null(a), cfg_is_null(b));
		return;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (a->kind == CFG_SEQ) {
			assert_same_tree(a->items[i], b->items[i]);
			continue;
		}
		assert_string_equal(a->pairs[i].key->value, b->pairs[i].key->value);
		assert_same_tree(a->pairs[i].value, b->pairs[i].value);
	}
}

static void assert_same_conf(const struct tconf *a, const struct tconf *b)
{
	assert_string_equal(a->data_dir, b->data_dir);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->listen, b->listen);
	assert_int_equal(a->workers, b->workers);
	assert_int_equal(a->flush, b->flush);
	assert_int_equal(a->verbose, b->verbose);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->max_bytes, b->max_bytes);
	assert_int_equal(a->paths.n, b->paths.n);
	for (size_t i = 0; i < a->paths.n; i++)
		assert_string_equal(a->paths.v[i], b->paths.v[i]);
	if (a->extra || b->extra)
		assert_same_tree(a->extra, b->extra);
	assert_int_equal(a->buf_max, b->buf_max);
	assert_int_equal(a->buf_interval, b->buf_interval);
	assert_int_equal(a->buf_when_full, b->buf_when_full);
	assert_int_equal(a->buf_fsync, b->buf_fsync);
}

static char *dump(const struct tconf *c, int indent)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	cfg_dump(f, keys, c, indent);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void round_trip(const char *yaml)
{
	struct tconf a, b;
	struct cfg_node *root = parse(yaml);
	bind_ok(root, &a);
	char *text = dump(&a, 0);
	struct cfg_error err = { "" };
	struct cfg_node *again = cfg_parse_string("dump.yaml", text, &err);
	if (!again)
		print_error("%s\n---\n%s", err.msg, text);
	assert_non_null(again);
	if (cfg_bind(again, keys, &b, NULL, &err))
		print_error("%s\n---\n%s", err.msg, text);
	assert_same_conf(&a, &b);
	cfg_unbind(keys, &b);
	cfg_free(again);
	free(text);

	/* Indented, every line carries the indent. */
	text = dump(&a, 4);
	for (char *line = text; *line; line = strchr(line, '\n') + 1)
		assert_memory_equal(line, "    ", 4);
	free(text);
	cfg_unbind(keys, &a);
	cfg_free(root);
}

static void test_dump_round_trip(void **state)
{
	(void)state;
	env_setup();
	round_trip("data_dir: /d\n");
	round_trip("data_dir: \"\"\n"
		   "name: \"tab\\there \\\"q\\\" back\\\\slash ${LOGSHIP_TEST_UNSET:-x} $${lit} $$${z} \\x01\"\n"
		   "workers: 17\nverbose: true\nmax_bytes: 1500\nflush: 1500ms\nmode: drop_oldest\n"
		   "paths: ['', 'null', '~', 'a: b', '#c', '- d', '*e', '&f', 'yes', '123', "
		   "'trailing:', ' lead', '/var/log/*.log', \"line\\nbreak\", 'ünï', "
		   "\"nel\\N ls\\L ps\\P bom\\uFEFF c1\\x80 del\\x7f cr\\r astral\\U0001F600\"]\n"
		   "listen: \":9\"\n"
		   "extra:\n"
		   "  plain: 1\n"
		   "  quoted: '1'\n"
		   "  empty: ''\n"
		   "  nothing: ~\n"
		   "  list: [a, [b, c], {d: e}, [], {}]\n"
		   "  map: {'key with space': v, k2: {deep: [x]}}\n"
		   "  \"${not_substituted}\": key\n"
		   "buffer: {max_bytes: 3MiB, interval: 7d, when_full: drop_oldest, fsync: no}\n");
	round_trip("data_dir: x\nextra: [1, 2]\nflush: 10\nbuffer: {interval: 90s}\n");
	round_trip("data_dir: x\nextra: scalar\n");

	/* The shape of the output, for --check. */
	struct tconf c;
	struct cfg_node *root = parse("data_dir: /d\nname: \"a b\"\nlisten: \"[::1]:80\"\n");
	bind_ok(root, &c);
	char *text = dump(&c, 0);
	assert_non_null(strstr(text, "data_dir: /d\n"));
	assert_non_null(strstr(text, "name: \"a b\"\n"));
	assert_non_null(strstr(text, "listen: \"[::1]:80\"\n"));
	assert_non_null(strstr(text, "max_bytes: 64MiB\n"));
	assert_non_null(strstr(text, "flush: 1s\n"));
	assert_non_null(strstr(text, "paths:\n  - /var/log/*.log\n"));
	assert_non_null(strstr(text, "extra: ~\n"));
	assert_non_null(strstr(text, "buffer:\n  max_bytes: 1GiB\n  interval: 5s\n"
			       "  when_full: block\n  fsync: true\n"));
	free(text);
	cfg_unbind(keys, &c);
	cfg_free(root);
}

static void test_doc(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cfg_doc(f, keys);
	assert_int_equal(fclose(f), 0);
	assert_true(strncmp(text, "| Key | Type | Default | Description |\n|--", 42) == 0);
	static const char *const rows[] = {
		"| `data_dir` | string | required | where data lives |\n",
		"| `name` | string | `${LOGSHIP_TEST_NAME:-agent}` | agent name |\n",
		"| `workers` | integer (1 to 64) | `4` | threads |\n",
		"| `verbose` | bool | `off` | chatty |\n",
		"| `max_bytes` | size | `64MiB` | a size |\n",
		"| `flush` | duration (10ms to 1h) | `1s` | a duration |\n",
		"| `mode` | one of `block`, `drop_oldest` | `block` | an enum |\n",
		"| `paths` | list of strings | `[/var/log/*.log]` | globs |\n",
		"| `listen` | host:port | `127.0.0.1:2020` | status endpoint |\n",
		"| `extra` | YAML |  | raw YAML |\n",
		"| `buffer` | section |  | the ring |\n",
		"| `buffer.max_bytes` | size (1MiB to 1TiB) | `1GiB` | ring size |\n",
		"| `buffer.interval` | duration | `5s` | fsync interval |\n",
		"| `buffer.when_full` | one of `block`, `drop_oldest` | `block` | block \\| drop_oldest |\n",
		"| `buffer.fsync` | bool | `true` | fsync at all |\n",
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!strstr(text, rows[i]))
			print_error("missing row %s in\n%s", rows[i], text);
		assert_non_null(strstr(text, rows[i]));
	}
	free(text);
}

/* Large but legal input stays linear: many keys, many aliases. */
static void test_large(void **state)
{
	(void)state;
	size_t n = 100000, cap = n * 24 + 64, o = 0;
	char *text = malloc(cap);
	o += (size_t)snprintf(text + o, cap - o, "anchor: &a v\n");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(text + o, cap - o, "k%zu: *a\n", i);
	struct cfg_node *root = parse(text);
	assert_int_equal(root->n, n + 1);
	assert_string_equal(cfg_get(root, "k99999")->value, "v");
	cfg_free(root);
	o += (size_t)snprintf(text + o, cap - o, "k5: dup\n");
	struct cfg_error err;
	assert_null(cfg_parse_string("big.yaml", text, &err));
	assert_string_equal(err.msg, "big.yaml:100002:1: duplicate key \"k5\" (first at line 7, column 1)");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_value_parsers),
		cmocka_unit_test(test_positions_and_get),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_conf_d_merge),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_dump_round_trip),
		cmocka_unit_test(test_doc),
		cmocka_unit_test(test_large),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
